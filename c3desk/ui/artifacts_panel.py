"""A session's artifacts (images, PDFs, diffs, other files) with a preview, and its events.

The panel reads the database on the GUI thread, which under qasync is the loop that owns it.
Previews read at most a bounded part of each file (image size capped, PDF first page only, a diff
truncated, the first KB of other files), and a missing or unreadable file is shown as such.
A line under the heading says where the files came from (the agent's transcript, or a folder scan
and whether that scan was cut short), from the session's latest ``artifacts`` event.

A session on a remote worker has its files on that machine: the panel says so (``worker:path``)
and previews a local copy, downloaded when the artifact is selected by the ``fetcher`` (a
:class:`~c3desk.core.worker_files.RemoteCopies`) on the loop, so the panel stays responsive.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QEvent, QMimeDatabase, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFontDatabase,
    QHelpEvent,
    QImage,
    QImageReader,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from c3desk.core.views import artifacts as view
from c3desk.core.views.artifacts import ArtifactRow, SessionArtifacts
from c3desk.core.worker_files import FetchError, RemoteCopies
from c3desk.ui.diff_highlighter import DiffHighlighter
from c3desk.ui.theme import current_theme, theme_colors

TYPES: Final = ("image", "pdf", "diff", "file")
TYPE_LABELS: Final = {"image": "Images", "pdf": "PDFs", "diff": "Diffs", "file": "Files"}
#: Diffs larger than this are shown truncated, with a note.
MAX_DIFF_BYTES: Final = 512 * 1024
#: Other files: this much is shown when it is text.
TEXT_PREVIEW_BYTES: Final = 1024
#: Images are decoded at most this large (a 20000 px screenshot is scaled while reading).
MAX_IMAGE_SIDE: Final = 4096
#: The PDF page is rendered this wide (pixels), whatever its size in points.
PDF_RENDER_WIDTH: Final = 900
#: Events shown (the newest).
MAX_EVENTS: Final = 500

PATH_ROLE: Final = Qt.ItemDataRole.UserRole
ID_ROLE: Final = Qt.ItemDataRole.UserRole + 1
TYPE_ROLE: Final = Qt.ItemDataRole.UserRole + 2

UrlOpener = Callable[[QUrl], Any]


def _top_items(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    items = (tree.topLevelItem(i) for i in range(tree.topLevelItemCount()))
    return [item for item in items if item is not None]


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    children = (item.child(j) for j in range(item.childCount()))
    return [child for child in children if child is not None]


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # unreachable; keeps type checkers content


# --- previews (pure functions of a path: easy to test, no widgets) -----------------------------


@dataclass(frozen=True)
class Preview:
    """What to show for one file: an image, text (maybe a diff), or only a message."""

    kind: str  # "image" | "text" | "diff" | "message"
    message: str = ""  # a one-line description under the preview (size, truncation, error)
    image: QImage | None = None
    text: str = ""


def image_preview(path: Path) -> Preview:
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > MAX_IMAGE_SIDE:
        reader.setScaledSize(
            size.scaled(MAX_IMAGE_SIDE, MAX_IMAGE_SIDE, Qt.AspectRatioMode.KeepAspectRatio)
        )
    image = reader.read()
    if image.isNull():
        return Preview("message", f"Cannot show this image: {reader.errorString()}")
    w, h = (size.width(), size.height()) if size.isValid() else (image.width(), image.height())
    return Preview("image", f"{w} × {h} px · {_size_text(path.stat().st_size)}", image=image)


def pdf_preview(path: Path, width: int = PDF_RENDER_WIDTH) -> Preview:
    """The first page of a PDF, rendered with pdfium ``width`` pixels wide."""
    try:
        # Imported on first use: start-up does not pay for it. By name, because pypdfium2 ships
        # no type hints (its calls are typed Any here).
        pdfium = importlib.import_module("pypdfium2")
    except ImportError:
        return Preview("message", "PDF previews need the pypdfium2 package")

    try:
        document = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as exc:
        return Preview("message", f"Cannot read this PDF: {exc}")
    try:
        pages = len(document)
        if pages == 0:
            return Preview("message", "This PDF has no pages")
        page = document[0]
        try:
            page_width, _ = page.get_size()
            scale = width / page_width if page_width > 0 else 1.0
            bitmap = page.render(scale=scale, rev_byteorder=True, prefer_bgrx=True)
            try:
                # RGBX bytes straight into a QImage; copy() detaches it from pdfium's buffer.
                image = QImage(
                    bytes(bitmap.buffer),
                    bitmap.width,
                    bitmap.height,
                    bitmap.stride,
                    QImage.Format.Format_RGBX8888,
                ).copy()
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        return Preview("message", f"Cannot render this PDF: {exc}")
    finally:
        document.close()
    plural = "page" if pages == 1 else "pages"
    return Preview(
        "image",
        f"Page 1 of {pages} {plural} · {_size_text(path.stat().st_size)}",
        image=image,
    )


def _read_head(path: Path, limit: int) -> tuple[bytes, int]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        return handle.read(limit), size


def diff_preview(path: Path, limit: int = MAX_DIFF_BYTES) -> Preview:
    data, size = _read_head(path, limit)
    text = data.decode("utf-8", "replace")
    if size > limit:
        text = text[: text.rfind("\n") + 1] if "\n" in text else text
        shown = text.count("\n")
        note = f"Truncated: the first {shown} lines ({_size_text(limit)} of {_size_text(size)})"
    else:
        note = f"{text.count(chr(10))} lines · {_size_text(size)}"
    return Preview("diff", note, text=text)


def _looks_like_text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        # final=False: a multi-byte character cut at the end of the head is not an error.
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return None


def file_preview(path: Path, limit: int = TEXT_PREVIEW_BYTES) -> Preview:
    data, size = _read_head(path, limit)
    mime = QMimeDatabase().mimeTypeForFile(str(path))
    text = _looks_like_text(data)
    if text is not None:
        more = f" · showing the first {_size_text(limit)}" if size > limit else ""
        return Preview("text", f"{mime.name()} · {_size_text(size)}{more}", text=text)
    return Preview(
        "message", f"{mime.comment() or mime.name()} ({mime.name()})\n{_size_text(size)}"
    )


def preview_for(kind: str, path: Path) -> Preview:
    """The preview of artifact ``path`` of type ``kind``; a message when it cannot be shown."""
    try:
        if not path.exists():
            return Preview("message", f"Missing: {path} no longer exists")
        if path.is_dir():
            return Preview("message", f"{path} is a folder")
        if kind == "image":
            return image_preview(path)
        if kind == "pdf":
            return pdf_preview(path)
        if kind == "diff":
            return diff_preview(path)
        return file_preview(path)
    except OSError as exc:
        return Preview("message", f"Cannot read {path}: {exc.strerror or exc}")


# --- events ------------------------------------------------------------------------------------


def describe_event(kind: str, detail: str | None) -> tuple[str, str]:
    """A one-line summary of a session event, and its full text (for a tooltip)."""
    try:
        data: Any = json.loads(detail) if detail else {}
    except json.JSONDecodeError:
        data = detail
    if not isinstance(data, dict):
        text = f"{kind}: {data}" if data else kind
        return text, text
    summary = kind.replace("_", " ")
    full = ""
    if kind == "state":
        summary = f"{data.get('from', '?')} → {data.get('to', '?')}"
        extras = []
        if data.get("exit_code") is not None:
            extras.append(f"exit code {data['exit_code']}")
        if data.get("failure_reason"):
            extras.append(str(data["failure_reason"]))
        if data.get("pid") is not None:
            extras.append(f"pid {data['pid']}")
        if extras:
            summary += f" ({'; '.join(extras)})"
    elif kind == "auto_approved":
        prompt = str(data.get("prompt", "")).strip()
        lines = [row.strip() for row in prompt.splitlines() if row.strip()]
        first = lines[0] if lines else ""
        summary = f"auto-approved ({data.get('reason', '?')}): {first[:120]}"
        full = prompt
    elif kind == "agent":
        summary = f"agent {data.get('state', '?')}"
        if data.get("reason"):
            summary += f" ({data['reason']})"
        if data.get("needs_input"):
            summary += " · needs input"
    elif kind == "created":
        summary = f"created at queue position {data.get('position', '?')}"
    elif kind == "moved":
        summary = f"moved from position {data.get('from', '?')} to {data.get('to', '?')}"
    elif kind == "launch":
        argv = data.get("argv")
        command = shlex.join(str(a) for a in argv) if isinstance(argv, list) else "?"
        summary = f"launched ({data.get('mode', 'new')}): {command}"
    elif kind == "conversation":
        summary = f"conversation id {data.get('id', '?')}"
    elif kind in ("locked", "unlocked"):
        summary = "pinned" if kind == "locked" else "unpinned"
    elif kind == "artifacts":
        note, _ = source_note(json.dumps(data))
        summary = note or summary
    elif kind == "worker_removed":
        summary = f"worker {data.get('worker', '?')} removed; runs on any worker"
    elif data:
        summary += ": " + ", ".join(f"{k}={v}" for k, v in sorted(data.items()))
    return summary, full or summary


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def source_note(detail: str | None) -> tuple[str, bool]:
    """What an ``artifacts`` event says about the listed files, and whether it is a warning
    (a folder scan that was cut, so files may be missing). ("", False) when it says nothing."""
    try:
        data: Any = json.loads(detail) if detail else {}
    except json.JSONDecodeError:
        return "", False
    if not isinstance(data, dict):
        return "", False
    if data.get("source") == "transcript":
        return "Files the agent reported writing (its transcript's tool calls).", False
    if data.get("source") != "scan":
        return "", False
    text = (
        "Found by scanning the session's folder (the agent left no transcript): files other "
        "programs changed there meanwhile are listed too."
    )
    limit = data.get("limit")
    if limit == "files":
        cut = f"The scan stopped after {_count(data.get('max_files'))} files"
    elif limit == "time":
        cut = (
            f"The scan stopped after {data.get('budget_s', '?')} s "
            f"({_count(data.get('scanned'))} files)"
        )
    elif limit == "depth":
        cut = f"The scan went no deeper than {data.get('max_depth', '?')} folders"
    else:
        return text, False
    return f"{cut}: some files may be missing. {text}", True


def _event_severity(kind: str, detail: str | None) -> str:
    if kind == "auto_approved":
        return "accent"
    if kind == "agent" and detail and '"needs_input": true' in detail:
        return "needs_input"
    if kind == "artifacts" and source_note(detail)[1]:
        return "needs_input"
    if kind in ("error", "failed") or (kind == "state" and detail and '"to": "failed"' in detail):
        return "failed"
    return ""


# --- the panel ---------------------------------------------------------------------------------


class _ElidedLabel(QLabel):
    """One line of plain text, shortened in the middle to the width it is given
    ("/home/…/changes.diff"): a long path or title never widens the panel, and the window with
    it, past the screen. ``text()`` stays the whole text."""

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def is_shortened(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def event(self, event: QEvent) -> bool:
        # Shortened and without a tooltip of its own: the whole text is its tooltip.
        if event.type() == QEvent.Type.ToolTip and not self.toolTip() and self.is_shortened():
            assert isinstance(event, QHelpEvent)
            QToolTip.showText(event.globalPos(), self.text(), self)
            return True
        return super().event(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideMiddle, rect.width()
        )
        painter = QPainter(self)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        self.style().drawItemText(
            painter, rect, align, self.palette(), self.isEnabled(), shown, self.foregroundRole()
        )


class _ImageView(QLabel):
    """An image scaled to fit (never enlarged), rescaled as the panel resizes."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(80, 80)
        self._image = QImage()

    def set_image(self, image: QImage) -> None:
        self._image = image
        self._rescale()

    def image(self) -> QImage:
        return self._image

    def _rescale(self) -> None:
        if self._image.isNull():
            self.clear()
            return
        dpr = self.devicePixelRatioF()
        box = QSize(max(self.width(), 1), max(self.height(), 1)) * dpr
        size = self._image.size()
        if size.width() > box.width() or size.height() > box.height():
            size = size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio)
        pixmap = QPixmap.fromImage(
            self._image.scaled(
                size,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            if size != self._image.size()
            else self._image
        )
        pixmap.setDevicePixelRatio(dpr)
        self.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()


class ArtifactsPanel(QWidget):
    """The artifacts of one session, grouped by type, with a preview; the session's events.

    ``show_session(id)`` chooses the session (None: none); ``refresh()`` reloads both lists.
    ``open_url`` opens files and folders (QDesktopServices.openUrl: the system's application,
    never a shell); tests pass a recorder. ``fetcher`` copies a remote session's files for
    their previews (without one they are listed, not previewed).
    """

    artifactSelected = Signal(str)  # the selected artifact's path ("" when none)
    remotePreviewDone = Signal(str)  # a remote artifact's copy was shown, or why not (its path)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        open_url: UrlOpener | None = None,
        fetcher: RemoteCopies | None = None,
    ) -> None:
        super().__init__(parent)
        self.session_id: str | None = None
        self._open_url: UrlOpener = open_url or QDesktopServices.openUrl
        self.fetcher = fetcher
        self._session: SessionArtifacts | None = None
        self._copies: dict[str, Path] = {}  # remote path -> its local copy, once downloaded
        self._shown_remote: str | None = None  # the remote artifact shown or being fetched
        self._fetches: set[asyncio.Task[None]] = set()
        self._theme = current_theme()
        colors = theme_colors(self._theme)

        self.heading = _ElidedLabel()
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.type_filter = QComboBox()
        self.type_filter.addItem("All types", None)
        for kind in TYPES:
            self.type_filter.addItem(TYPE_LABELS[kind], kind)
        self.type_filter.setToolTip("Show only artifacts of this type")
        self.refresh_button = QPushButton("Refresh")
        header = QHBoxLayout()
        header.addWidget(self.heading, 1)
        header.addWidget(self.type_filter)
        header.addWidget(self.refresh_button)
        self.source_label = QLabel()
        self.source_label.setTextFormat(Qt.TextFormat.PlainText)
        self.source_label.setWordWrap(True)
        self.source_label.setVisible(False)

        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setMinimumWidth(180)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        self.image_view = _ImageView()
        self.image_scroll = QScrollArea()
        self.image_scroll.setWidget(self.image_view)
        self.image_scroll.setWidgetResizable(True)
        self.image_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.diff_view = QPlainTextEdit()
        self.diff_view.setReadOnly(True)
        self.diff_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diff_view.setFont(mono)
        self.highlighter = DiffHighlighter(self.diff_view.document(), self._theme)
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setFont(mono)
        self.stack = QStackedWidget()
        for page in (self.placeholder, self.image_scroll, self.diff_view, self.text_view):
            self.stack.addWidget(page)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label = _ElidedLabel()
        self.path_label.setStyleSheet(f"color: {colors['dim_text']};")
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open with the system's application")
        self.reveal_button = QPushButton("Reveal in folder")
        self.reveal_button.setToolTip("Open the folder that holds this file")
        # The note on a line of its own: beside the buttons it had a word's width per line.
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        preview = QWidget()
        preview_layout = QVBoxLayout(preview)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(self.stack, 1)
        preview_layout.addWidget(self.path_label)
        preview_layout.addWidget(self.info)
        preview_layout.addLayout(buttons)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.tree)
        top.addWidget(preview)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 3)
        top.setChildrenCollapsible(False)

        self.events = QTreeWidget()
        self.events.setColumnCount(3)
        self.events.setHeaderLabels(["Time", "Event", "Detail"])
        self.events.setRootIsDecorated(False)
        self.events.setUniformRowHeights(True)
        self.events.setAlternatingRowColors(True)
        self.events.setWordWrap(False)
        self.events.header().setStretchLastSection(True)
        events_box = QWidget()
        events_layout = QVBoxLayout(events_box)
        events_layout.setContentsMargins(0, 0, 0, 0)
        events_title = QLabel("Events (newest first)")
        events_title.setFont(font)
        events_layout.addWidget(events_title)
        events_layout.addWidget(self.events)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(events_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.source_label)
        layout.addWidget(self.splitter, 1)

        self.tree.currentItemChanged.connect(lambda _c, _p: self._show_current())
        self.type_filter.currentIndexChanged.connect(lambda _i: self._fill_tree())
        self.refresh_button.clicked.connect(self._refresh_clicked)
        self.open_button.clicked.connect(self.open_current)
        self.reveal_button.clicked.connect(self.reveal_current)
        self._artifacts: tuple[ArtifactRow, ...] = ()
        self.show_session(None)

    # --- public API ------------------------------------------------------------------------

    def show_session(self, session_id: str | None) -> None:
        """Show the artifacts and events of session ``session_id`` (None: nothing)."""
        if session_id != self.session_id:
            self._copies.clear()
            self._shown_remote = None
        self.session_id = session_id
        self.refresh()

    def refresh(self) -> None:
        """Reload the session's artifacts and events; keep the selected artifact selected (a
        remote one's preview is kept as it is: :meth:`_refresh_clicked` copies it again)."""
        session = view.session_artifacts(self.session_id) if self.session_id else None
        self._session = session
        if session is None:
            self._artifacts = ()
            self.heading.setText(
                "No session selected" if self.session_id is None else "Session not found"
            )
        else:
            self.heading.setText(f"Artifacts of “{session.title or session.session_id}”")
            self._artifacts = session.artifacts
        self._fill_tree()
        self._fill_events(session.session_id if session is not None else None)
        self._fill_source(session.session_id if session is not None else None)

    @property
    def theme(self) -> str:
        """The theme the panel's own colours (diff, events) are drawn in."""
        return self._theme

    def set_theme(self, name: str) -> None:
        """Recolour the diff view and events for theme ``name``."""
        self._theme = name
        self.highlighter.set_theme(name)
        self.path_label.setStyleSheet(f"color: {theme_colors(name)['dim_text']};")
        self._fill_events(self.session_id)
        self._fill_source(self.session_id)

    def artifact_items(self) -> dict[str, list[str]]:
        """The listed paths by type, in display order (for tests and accessibility)."""
        out: dict[str, list[str]] = {}
        for group in _top_items(self.tree):
            kind = group.data(0, TYPE_ROLE)
            out[kind] = [item.data(0, PATH_ROLE) for item in _children(group)]
        return out

    def select_path(self, path: str) -> bool:
        """Select the artifact at ``path``; False when it is not listed."""
        for group in _top_items(self.tree):
            for item in _children(group):
                if item.data(0, PATH_ROLE) == path:
                    self.tree.setCurrentItem(item)
                    return True
        return False

    def current_path(self) -> str | None:
        item = self.tree.currentItem()
        path = item.data(0, PATH_ROLE) if item is not None else None
        return path if isinstance(path, str) else None

    def open_current(self) -> None:
        """Open the selected file (a remote one's local copy) with the system's application."""
        path = self._local_path(self.current_path())
        if path and Path(path).exists():
            self._open_url(QUrl.fromLocalFile(path))

    def reveal_current(self) -> None:
        """Open the folder holding the selected file (a remote one's local copy)."""
        path = self._local_path(self.current_path())
        if path and Path(path).parent.is_dir():
            self._open_url(QUrl.fromLocalFile(str(Path(path).parent)))

    def is_remote(self, path: str) -> bool:
        """Whether the listed artifact ``path`` is a file on the session's remote worker."""
        session = self._session
        return session is not None and any(
            a.path == path and session.on_worker(a) for a in session.artifacts
        )

    def local_copy(self, path: str) -> Path | None:
        """The local copy of the remote artifact ``path`` the preview shows, once downloaded."""
        return self._copies.get(path)

    def _local_path(self, path: str | None) -> str | None:
        if path is None or not self.is_remote(path):
            return path
        copy = self._copies.get(path)
        return str(copy) if copy is not None else None

    def _where(self, path: str) -> str:
        """``worker:path``, the way a remote file is named to the user."""
        name = self._session.worker_name if self._session is not None else None
        return f"{name or 'remote worker'}:{path}"

    def _refresh_clicked(self) -> None:
        self._shown_remote = None  # copy the selected remote file again (if it changed)
        self.refresh()

    # --- internals -------------------------------------------------------------------------

    def _fill_tree(self) -> None:
        selected = self.current_path()
        wanted = self.type_filter.currentData()
        dim = QColor(theme_colors(self._theme)["dim_text"])
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for kind in TYPES:
                if wanted is not None and kind != wanted:
                    continue
                rows = [a for a in self._artifacts if a.type == kind]
                if not rows:
                    continue
                group = QTreeWidgetItem([f"{TYPE_LABELS[kind]} ({len(rows)})"])
                group.setData(0, TYPE_ROLE, kind)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                bold = group.font(0)
                bold.setBold(True)
                group.setFont(0, bold)
                for artifact in rows:
                    path = Path(artifact.path)
                    remote = self._session is not None and self._session.on_worker(artifact)
                    # A remote file is looked at when selected, not for every row.
                    missing = not remote and not path.exists()
                    item = QTreeWidgetItem([path.name + (" (missing)" if missing else "")])
                    item.setData(0, PATH_ROLE, artifact.path)
                    item.setData(0, ID_ROLE, artifact.id)
                    item.setData(0, TYPE_ROLE, kind)
                    where = self._where(artifact.path) if remote else artifact.path
                    item.setToolTip(0, f"{where}\ndetected {artifact.detected_at}")
                    if missing:
                        item.setForeground(0, dim)
                        italic = item.font(0)
                        italic.setItalic(True)
                        item.setFont(0, italic)
                    group.addChild(item)
                self.tree.addTopLevelItem(group)
                group.setExpanded(True)
        finally:
            self.tree.blockSignals(False)
        if not (selected and self.select_path(selected)):
            first = self.tree.topLevelItem(0)
            child = first.child(0) if first is not None else None
            if child is not None:
                self.tree.setCurrentItem(child)
            else:
                self._show_current()

    def _show_current(self) -> None:
        item = self.tree.currentItem()
        path = item.data(0, PATH_ROLE) if item is not None else None
        if item is None or not isinstance(path, str):
            if self.session_id is None:
                text = "Choose a session to see its artifacts"
            elif self._artifacts:
                text = "Select an artifact to preview it"
            else:
                text = "This session has no artifacts yet"
            self._show_message(text)
            self.path_label.clear()
            self.path_label.setToolTip("")
            self.open_button.setEnabled(False)
            self.reveal_button.setEnabled(False)
            self._shown_remote = None
            self.artifactSelected.emit("")
            return
        kind = str(item.data(0, TYPE_ROLE))
        if self.is_remote(path):
            self._show_remote(kind, path)
            return
        self._shown_remote = None
        preview = preview_for(kind, Path(path))
        self.path_label.setText(path)
        self.path_label.setToolTip("")
        exists = Path(path).exists()
        self.open_button.setEnabled(exists)
        self.reveal_button.setEnabled(Path(path).parent.is_dir())
        self._display(preview, path)

    def _display(self, preview: Preview, path: str, note: str = "") -> None:
        if preview.kind == "image" and preview.image is not None:
            self.image_view.set_image(preview.image)
            self.stack.setCurrentWidget(self.image_scroll)
        elif preview.kind == "diff":
            self.diff_view.setPlainText(preview.text)
            self.stack.setCurrentWidget(self.diff_view)
        elif preview.kind == "text":
            self.text_view.setPlainText(preview.text)
            self.stack.setCurrentWidget(self.text_view)
        else:
            self._show_message(preview.message)
            self.info.setText(note)
            self.artifactSelected.emit(path)
            return
        self.info.setText(" · ".join(part for part in (preview.message, note) if part))
        self.artifactSelected.emit(path)

    # --- remote files ----------------------------------------------------------------------

    def _show_remote(self, kind: str, path: str) -> None:
        """Preview a remote artifact from its local copy, downloading that first (on the loop;
        the panel shows that it is copying meanwhile)."""
        if path == self._shown_remote:
            return  # a refresh: what is shown (or being copied) stays
        self._shown_remote = path
        where = self._where(path)
        session = self._session
        self.path_label.setText(f"{where} (a file on the remote worker)")
        self.open_button.setEnabled(False)
        self.reveal_button.setEnabled(False)
        if self.fetcher is None or session is None or session.worker_id is None:
            self.path_label.setToolTip("")
            self._show_message(f"{where} is on a remote worker: no preview here")
            self.artifactSelected.emit(path)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # only outside the app (its loop runs whenever the panel does)
            self._show_message(f"{where} is on a remote worker: it cannot be copied now")
            self.artifactSelected.emit(path)
            return
        self.path_label.setToolTip(
            f"Previewed from a local copy in {self.fetcher.cache_dir / session.session_id}"
        )
        self._show_message(f"Copying {where} for its preview…")
        self.artifactSelected.emit(path)
        name = session.worker_name or "remote worker"
        task = loop.create_task(
            self._fetch(session.session_id, session.worker_id, name, kind, path)
        )
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _fetch(
        self, session_id: str, worker_id: str, worker: str, kind: str, path: str
    ) -> None:
        fetcher = self.fetcher
        assert fetcher is not None
        try:
            copy = await fetcher.fetch(session_id, worker_id, worker, path)
        except FetchError as exc:
            failed: str | None = str(exc)
        else:
            failed = None
        if not (self.session_id == session_id and self._shown_remote == path):
            return  # another artifact was chosen meanwhile
        try:
            if failed is not None:
                self._show_message(failed)
            else:
                self._copies[path] = copy.path
                self.open_button.setEnabled(True)
                self.reveal_button.setEnabled(True)
                preview = preview_for(kind, copy.path)
                self._display(preview, path, note=f"copy of {worker}:{path}")
            self.remotePreviewDone.emit(path)
        except RuntimeError:  # the panel was deleted while copying
            return

    def _show_message(self, text: str) -> None:
        self.image_view.set_image(QImage())
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)
        self.info.clear()

    def _fill_events(self, session_id: str | None) -> None:
        self.events.clear()
        if session_id is None:
            return
        colors = theme_colors(self._theme)
        items = []
        for event in view.events(session_id, MAX_EVENTS):
            summary, full = describe_event(event.kind, event.detail)
            at = event.at
            item = QTreeWidgetItem([at[11:19] if len(at) >= 19 else at, event.kind, summary])
            item.setToolTip(0, at)
            item.setToolTip(2, full)
            severity = _event_severity(event.kind, event.detail)
            if severity:
                for column in range(3):
                    item.setForeground(column, QColor(colors[severity]))
            items.append(item)
        self.events.addTopLevelItems(items)
        self.events.resizeColumnToContents(0)
        self.events.resizeColumnToContents(1)

    def _fill_source(self, session_id: str | None) -> None:
        """Say where the listed files came from, and warn when a folder scan was cut."""
        detail = view.last_scan(session_id) if session_id is not None else None
        text, warning = source_note(detail)
        session = self._session
        if session is not None and session.remote and session.session_id == session_id:
            name = session.worker_name or "a remote worker"
            remote = f"The files are on the worker {name}: a preview copies the file here first."
            text = f"{text} {remote}" if text else remote
        colors = theme_colors(self._theme)
        self.source_label.setText(text)
        self.source_label.setStyleSheet(
            f"color: {colors['needs_input' if warning else 'dim_text']};"
        )
        self.source_label.setVisible(bool(text))

    def source_text(self) -> str:
        """The note on where the files came from ("" when none is shown)."""
        return self.source_label.text() if self.source_label.isVisibleTo(self) else ""

    def event_rows(self) -> list[tuple[str, str]]:
        """The listed events as (kind, summary), newest first."""
        return [(item.text(1), item.text(2)) for item in _top_items(self.events)]
