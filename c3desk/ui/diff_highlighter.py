"""Colours a unified diff: added lines green, removed lines red, hunk and file headers apart."""

from __future__ import annotations

from typing import Final

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from c3desk.ui.theme import DEFAULT_THEME, theme_colors

#: The kinds of line a unified diff has, as :func:`line_kind` names them.
KINDS: Final = ("added", "removed", "hunk", "header", "note", "context")

_HEADER_PREFIXES: Final = (
    "diff ",
    "index ",
    "--- ",
    "+++ ",
    "new file mode",
    "deleted file mode",
    "old mode",
    "new mode",
    "similarity index",
    "rename from",
    "rename to",
    "copy from",
    "copy to",
    "Binary files",
)


def line_kind(line: str) -> str:
    """What a line of a unified diff is: added, removed, hunk, header, note or context."""
    if line.startswith(_HEADER_PREFIXES) or line in ("---", "+++"):
        return "header"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "added"
    if line.startswith("-"):
        return "removed"
    if line.startswith("\\"):  # "\ No newline at end of file"
        return "note"
    return "context"


class DiffHighlighter(QSyntaxHighlighter):
    """Highlights a QTextDocument holding a unified diff, in the colours of a theme."""

    def __init__(self, document: QTextDocument, theme: str = DEFAULT_THEME) -> None:
        super().__init__(document)
        self._formats: dict[str, QTextCharFormat] = {}
        self.set_theme(theme)

    def set_theme(self, theme: str) -> None:
        """Use the colours of ``theme`` and highlight the document again."""
        c = theme_colors(theme)
        added = QTextCharFormat()
        added.setForeground(QColor(c["diff_added"]))
        added.setBackground(QColor(c["diff_added_background"]))
        removed = QTextCharFormat()
        removed.setForeground(QColor(c["diff_removed"]))
        removed.setBackground(QColor(c["diff_removed_background"]))
        hunk = QTextCharFormat()
        hunk.setForeground(QColor(c["diff_hunk"]))
        header = QTextCharFormat()
        header.setForeground(QColor(c["diff_header"]))
        header.setFontWeight(QFont.Weight.Bold)
        note = QTextCharFormat()
        note.setForeground(QColor(c["dim_text"]))
        note.setFontItalic(True)
        self._formats = {
            "added": added,
            "removed": removed,
            "hunk": hunk,
            "header": header,
            "note": note,
        }
        self.rehighlight()

    def format_for(self, kind: str) -> QTextCharFormat | None:
        """The format used for lines of ``kind`` (None for context lines: left as they are)."""
        return self._formats.get(kind)

    def highlightBlock(self, text: str) -> None:
        fmt = self._formats.get(line_kind(text))
        if fmt is not None and text:
            self.setFormat(0, len(text), fmt)
