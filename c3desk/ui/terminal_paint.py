"""How a terminal view paints: its fonts, the frame image and what is drawn over it.

The frame image holds the model's rows as the cell atlas composed them (:class:`FrameImage`);
only the rows that changed since the last frame are composed again. Over it, at each paint, go
the selection, the cursor, the input method's composition and the scrollback badge, drawn
with QPainter from the state the view captured at its last frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QRegion
from wcwidth import wcwidth

from c3desk.terminal import Style, TerminalModel
from c3desk.ui.palette import RGB, TerminalPalette

if TYPE_CHECKING:
    import numpy as np

    from c3desk.ui.cell_atlas import CellAtlas, Cells, Styles

PADDING = 4

FALLBACK_FAMILIES = (
    "DejaVu Sans Mono",
    "Noto Sans Mono",
    "Liberation Mono",
    "Noto Sans Mono CJK SC",
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei Mono",
    # Text-style symbols (Claude Code's ⏺ ⏸ without U+FE0F) from a text font, in the cell's
    # colour, before the emoji font; real emoji still come from Noto Color Emoji.
    "Symbola",
    "Noto Sans Symbols 2",
    "Noto Sans Symbols",
    "Noto Color Emoji",
    "DejaVu Sans",
)

CursorShape = int  # 0 block, 1 underline, 2 bar
BLOCK, UNDERLINE, BAR = 0, 1, 2
_DECSCUSR_SHAPE = {0: BLOCK, 1: BLOCK, 2: BLOCK, 3: UNDERLINE, 4: UNDERLINE, 5: BAR, 6: BAR}


class CursorSnap(NamedTuple):
    """The cursor as the last frame saw it (painted until the next frame)."""

    x: int
    y: int
    visible: bool
    shape: CursorShape
    text: str
    style: Style
    wide: bool


def snap_cursor(model: TerminalModel) -> CursorSnap:
    c = model.cursor
    shape = _DECSCUSR_SHAPE.get(model.modes.cursor_shape, BLOCK)
    y = min(c.y, model.rows - 1)
    text, style = model.cell(c.x, y)
    wide = c.x + 1 < model.cols and model.cell(c.x + 1, y)[0] == ""
    return CursorSnap(c.x, y, c.visible, shape, text or " ", style, wide)


# -- fonts and colours --------------------------------------------------------------------------


@dataclass(frozen=True)
class CellFont:
    """A font set to a grid of whole-pixel cells."""

    fonts: list[QFont]  # regular, bold, italic, bold italic
    cw: int  # cell width and height, device-independent pixels
    ch: int
    ascent: int  # baseline from the cell's top


def cell_font(family: str, size: float) -> CellFont:
    fonts: list[QFont] = []
    metrics = None
    for variant in range(4):
        font = QFont()
        font.setFamilies([family, *[f for f in FALLBACK_FAMILIES if f != family]])
        font.setPointSizeF(size)
        font.setStyleHint(QFont.StyleHint.TypeWriter)
        font.setFixedPitch(True)
        font.setKerning(False)
        font.setBold(bool(variant & 1))
        font.setItalic(bool(variant & 2))
        fonts.append(font)
        if variant == 0:
            metrics = QFontMetricsF(font)
    assert metrics is not None
    advance = metrics.horizontalAdvance("M")
    cw = max(1, round(advance))
    ch = max(1, math.ceil(metrics.height()))
    # Centre the glyphs vertically in a cell of whole pixels.
    ascent = round(metrics.ascent() + (ch - metrics.height()) / 2)
    for font in fonts:
        # Letter spacing makes every advance exactly one cell, so a run is one draw call.
        adv = QFontMetricsF(font).horizontalAdvance("M")
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, cw - adv)
    return CellFont(fonts, cw, ch, ascent)


class Colors:
    """QColors made once per (rgb, alpha)."""

    def __init__(self) -> None:
        self._colors: dict[tuple[int, int, int, int], QColor] = {}

    def __call__(self, rgb: RGB, alpha: int = 255) -> QColor:
        key = (*rgb, alpha)
        color = self._colors.get(key)
        if color is None:
            color = self._colors[key] = QColor(rgb[0], rgb[1], rgb[2], alpha)
        return color


# -- the frame image ----------------------------------------------------------------------------


_atlases: dict[tuple[object, ...], CellAtlas] = {}


def _atlas_for(key: tuple[object, ...], make: Callable[[], CellAtlas]) -> CellAtlas:
    """The cell atlas of one way of drawing (font, palette, cell size, pixel ratio): views that
    draw alike share their cells (nine tiles of one agent draw the same ones). A few are kept."""
    atlas = _atlases.get(key)
    if atlas is None:
        if len(_atlases) >= 4:
            _atlases.pop(next(iter(_atlases)))
        atlas = _atlases[key] = make()
    return atlas


class FrameImage:
    """The model's rows composed from the cell atlas into an image, and what each row shows."""

    def __init__(self) -> None:
        self.image = QImage()
        self.atlas: CellAtlas | None = None
        self.cols = self.rows = 0
        # The image's pixels (it is a view on them), and by row: (row, y, col, x).
        self._px: np.ndarray | None = None
        self._rows4: np.ndarray | None = None
        # What each row of the image shows (its text and styles).
        self._shown: list[tuple[str, object] | None] = []
        self.rows_painted = 0  # rows composed from the cell atlas
        self.rows_unchanged = 0  # dirty rows whose content was already in the image

    def ensure(
        self, font: CellFont, palette: TerminalPalette, dpr: float, cols: int, rows: int
    ) -> bool:
        """The atlas for how the view draws now, and an image of ``cols`` x ``rows`` cells;
        True when the image is new (every row is to be drawn)."""
        # Imported with the first frame: numpy is a tenth of a second of start-up.
        from c3desk.ui import cell_atlas

        key = (font.fonts[0].key(), palette.name, font.cw, font.ch, font.ascent, dpr)
        atlas = _atlas_for(
            key,
            lambda: cell_atlas.CellAtlas(
                cell_atlas.GlyphRaster(font.fonts, font.cw, font.ch, font.ascent, dpr), palette
            ),
        )
        if (
            atlas is self.atlas
            and cols == self.cols
            and rows == self.rows
            and not self.image.isNull()
        ):
            return False
        self.atlas = atlas
        cwp, chp = atlas.cell_size
        px = cell_atlas.frame_array(cols, rows, cwp, chp, palette.background)
        image = QImage(px.data, cols * cwp, rows * chp, cols * cwp * 4, QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(dpr)
        self._px = px
        self._rows4 = px.reshape(rows, chp, cols, cwp)
        self.image = image
        self.cols, self.rows = cols, rows
        self._shown = [None] * rows
        return True

    def draw_rows(self, model: TerminalModel, scroll: int, draw: range | list[int]) -> list[int]:
        """Bring rows ``draw`` of the image up to date with the model scrolled back ``scroll``
        lines; returns the rows that changed.

        A row that shows what it showed at the last frame (a full-clear redraw of an unchanged
        screen) is left alone: compared text to text and style to style by identity, in C.
        The others are composed from the cell atlas in one batch.
        """
        atlas = self.atlas
        assert atlas is not None
        shown = self._shown
        changed: list[int] = []
        compose: list[tuple[int, Cells, Styles]] = []
        hist_len = model.scrollback_len
        top_line = hist_len - scroll
        row_of = model.row
        join = "".join
        for row in draw:
            line = top_line + row
            cells: Cells
            styles: Styles
            if line < hist_len:
                cells, styles = model.scrollback_cells(line)
                now: tuple[str, object] = (
                    cells if type(cells) is str else join(cells),
                    styles if isinstance(styles, Style) else tuple(styles),
                )
            else:
                cells, styles = row_of(line - hist_len)
                now = (join(cells), tuple(styles))
            seen = shown[row]
            if seen is not None and seen[0] == now[0] and seen[1] == now[1]:
                self.rows_unchanged += 1
                continue
            shown[row] = now
            changed.append(row)
            compose.append((row, cells, styles))
        if compose:
            assert self._rows4 is not None
            atlas.compose(self._rows4, compose)
            self.rows_painted += len(compose)
        return changed


def rows_region(rows: list[int], width: int, ch: int) -> QRegion:
    """The widget area of ``rows`` (ascending), one rectangle per consecutive span."""
    region = QRegion()
    start = prev = -2
    for row in [*rows, -2]:
        if row != prev + 1:
            if start >= 0:
                region += QRect(0, PADDING + start * ch, width, (prev - start + 1) * ch)
            start = row
        prev = row
    return region


def cursor_rect(cur: CursorSnap, scroll: int, font: CellFont) -> QRect:
    """The widget area of the cursor's cell (two for a wide character)."""
    row = cur.y + scroll
    cells = 2 if cur.wide else 1
    return QRect(PADDING + cur.x * font.cw, PADDING + row * font.ch, cells * font.cw, font.ch)


def scaled(rect: QRect, dpr: float) -> QRect:
    """``rect`` in device pixels."""
    if dpr == 1.0:
        return rect
    return QRect(
        round(rect.x() * dpr),
        round(rect.y() * dpr),
        round(rect.width() * dpr),
        round(rect.height() * dpr),
    )


# -- what is drawn over the frame (painter translated to the first cell) --------------------------


def paint_selection(
    p: QPainter,
    sel_range: tuple[tuple[int, int], tuple[int, int]],
    top_line: int,
    frame: FrameImage,
    font: CellFont,
    color: QColor,
) -> None:
    """The selected cells of the rows shown; ``top_line`` is the line in the first row."""
    (l0, c0), (l1, c1) = sel_range
    cols = frame.cols
    cw, ch = font.cw, font.ch
    for row in range(frame.rows):
        line = top_line + row
        if line < l0 or line > l1:
            continue
        start = c0 if line == l0 else 0
        end = min(c1 if line == l1 else cols - 1, cols - 1)
        if end >= start:
            p.fillRect(start * cw, row * ch, (end - start + 1) * cw, ch, color)


def paint_cursor(
    p: QPainter,
    cur: CursorSnap,
    row: int,
    font: CellFont,
    color: QColor,
    text_color: QColor,
    focused: bool,
    atlas: CellAtlas | None,
    style_font: Callable[[Style], int],
) -> None:
    """The cursor in ``row``: a hollow box without the focus, else its shape; a block shows
    its cell's text in ``text_color`` (in that text's font variant, ``style_font``)."""
    cw, ch = font.cw, font.ch
    x, y = cur.x * cw, row * ch
    w = cw * (2 if cur.wide else 1)
    if not focused:
        p.setPen(QPen(color, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(x, y, w - 1, ch - 1)
        return
    if cur.shape == BAR:
        p.fillRect(x, y, max(2, cw // 6), ch, color)
    elif cur.shape == UNDERLINE:
        t = max(2, ch // 8)
        p.fillRect(x, y + ch - t, w, t, color)
    else:
        p.fillRect(x, y, w, ch, color)
        if cur.text.strip():
            variant = style_font(cur.style)
            if atlas is not None:
                # As the cell draws it: geometry where no font has the glyph (⎿, ⏺...).
                atlas.raster.draw_glyph(p, x, y, cur.text, variant, text_color)
            else:
                p.setFont(font.fonts[variant])
                p.setPen(text_color)
                p.drawText(x, y + font.ascent, cur.text)


def paint_preedit(
    p: QPainter, text: str, col: int, row: int, font: CellFont, bg: QColor, fg: QColor
) -> None:
    """The input method's composition at (``col``, ``row``), underlined, over what is there."""
    cw, ch = font.cw, font.ch
    x, y = col * cw, row * ch
    cells = sum(2 if wcwidth(c) == 2 else 1 for c in text)
    p.fillRect(x, y, cells * cw, ch, bg)
    p.setFont(font.fonts[0])
    p.setPen(fg)
    p.drawText(QPointF(x, y + font.ascent), text)
    p.fillRect(x, y + ch - 2, cells * cw, 1, fg)


def paint_marker(
    p: QPainter,
    lines_back: int,
    width: int,
    height: int,
    font: CellFont,
    palette: TerminalPalette,
    colors: Colors,
) -> None:
    """The badge that says the view is scrolled back, and a bar down the right edge."""
    text = f"↑ {lines_back} lines back · Shift+PgDn"
    qfont = QFont(font.fonts[0])
    qfont.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0)
    qfont.setPointSizeF(max(7.0, qfont.pointSizeF() * 0.9))
    p.setFont(qfont)
    m = QFontMetricsF(qfont)
    w = m.horizontalAdvance(text) + 16
    h = m.height() + 6
    box = QRectF(width - w - 8, 6, w, h)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colors(palette.marker, 235))
    p.drawRoundedRect(box, 5, 5)
    p.setPen(colors(palette.marker_text))
    p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
    # A bar down the right edge says "history" even where the badge is not looked at.
    p.fillRect(width - 3, 0, 3, height, colors(palette.marker))


__all__ = [
    "FALLBACK_FAMILIES",
    "PADDING",
    "CellFont",
    "Colors",
    "CursorSnap",
    "FrameImage",
    "cell_font",
    "cursor_rect",
    "paint_cursor",
    "paint_marker",
    "paint_preedit",
    "paint_selection",
    "rows_region",
    "scaled",
    "snap_cursor",
]
