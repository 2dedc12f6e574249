"""Cells drawn once, composed many times: the terminal view's glyph atlas.

A terminal frame is a grid of cells, and a cell's pixels depend only on its text and its style
(for one font, palette and cell size). :class:`CellAtlas` keeps each (text, style) cell it has
met as one slot of a numpy array. Texts and styles get small codes (a C-level pass over a
row's cells, styles looked up once per run), a dense (style, text) table maps a frame's codes
to slots in one gather, and each frame row is one ``np.take`` of its slots straight into the
frame image's memory: no Python work per cell or per run on the hot path.

The cells a frame meets for the first time are made in one numpy batch: each from its glyph's
coverage mask, blended between its foreground and background. :class:`GlyphRaster` draws the
masks with QPainter (white on black, grayscale antialiasing, many glyphs in one image); box
drawing, blocks and braille from geometry (:mod:`c3desk.ui.boxdraw`), and Claude Code's symbols
too when no font draws them in one colour (never an empty box); a glyph whose ink leaves its cells
(a fallback font's symbol) is scaled into them, and one that comes out in colour (an emoji font)
is drawn in its colours per style instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, compress, islice, repeat
from operator import is_not, sub

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QTextLayout,
    QTransform,
)
from wcwidth import wcwidth

from c3desk.terminal import Style
from c3desk.terminal.style import DEFAULT_STYLE
from c3desk.ui.boxdraw import BOX_TWINS, BoxGlyphs, can_paint, is_box_char
from c3desk.ui.palette import RGB, CellLook, TerminalPalette, resolve_style

#: Bytes of cell pixels an atlas holds before it starts over (an 8x17 cell is 544 bytes).
ATLAS_BYTES = 32 * 1024 * 1024
MASK_CACHE = 8192
MASK_BATCH = 256  # glyphs drawn in one image
_BLANK_KEY_TEXT = " "
# Glyph variants: font (bold | italic << 1) | underline style (0-5) << 2, and strikethrough.
_STRIKE = 24
_VARIANTS = 48
_NO_MASK = -2  # in the (variant, text) mask table: not drawn yet
_PRESENTATION = "\ufe0e\ufe0f"  # variation selectors: text or emoji presentation

Cells = str | tuple[str, ...] | list[str]
Styles = Style | tuple[Style, ...] | list[Style]


def _pixels_of(image: QImage) -> np.ndarray:
    """An RGB32 image's pixels as a (height, width) uint32 array (a copy)."""
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint32, count=h * image.bytesPerLine() // 4)
    return data.reshape(h, image.bytesPerLine() // 4)[:, :w].copy()


def draw_decoration(
    p: QPainter,
    x: float,
    top: float,
    width: float,
    cell: tuple[int, int, int, int],
    color: QColor,
    underline: int,
    strike: bool,
) -> None:
    """Strikethrough and the five underline styles over ``width`` pixels of one line.

    ``cell`` is (cell width, cell height, baseline offset, line thickness).
    """
    cw, ch, ascent, t = cell
    if strike:
        p.fillRect(int(x), int(top + ch // 2), int(width), t, color)
    if not underline:
        return
    y = min(top + ch - t, top + ascent + max(1, ch // 12))
    if underline == 1:
        p.fillRect(int(x), int(y), int(width), t, color)
    elif underline == 2:
        p.fillRect(int(x), int(y - t - 1), int(width), t, color)
        p.fillRect(int(x), int(y + 1), int(width), t, color)
    else:
        p.save()
        pen = QPen(color, t)
        if underline == 3:
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            path = QPainterPath()
            amp = max(1.0, ch / 10)
            step = max(2.0, cw / 2)
            path.moveTo(x, y)
            k = 0
            xx = float(x)
            while xx < x + width:
                xx += step
                path.quadTo(xx - step / 2, y + (amp if k % 2 else -amp), xx, y)
                k += 1
            p.setPen(pen)
            p.drawPath(path)
        else:
            pen.setStyle(Qt.PenStyle.DotLine if underline == 4 else Qt.PenStyle.DashLine)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            p.setPen(pen)
            p.drawLine(QPointF(x, y + t / 2), QPointF(x + width, y + t / 2))
        p.restore()


class GlyphRaster:
    """Draws single cells with QPainter at one font and cell size: coverage masks, or colour.

    Masks live in :attr:`bank`, a ``(n, cell height, cell width)`` uint8 array, so a batch of
    cells gathers its masks in one step. Index 0 is a blank cell.
    """

    def __init__(
        self, fonts: Sequence[QFont], cw: int, ch: int, ascent: int, dpr: float = 1.0
    ) -> None:
        self.cw, self.ch, self.ascent, self.dpr = cw, ch, ascent, dpr
        self.cwp = max(1, round(cw * dpr))
        self.chp = max(1, round(ch * dpr))
        self.box = BoxGlyphs(cw, ch)
        self._fonts = [QFont(font) for font in fonts]
        for font in self._fonts:  # coverage must be grey: one alpha for the three channels
            font.setStyleStrategy(QFont.StyleStrategy.NoSubpixelAntialias)
        self.bank = np.zeros((256, self.chp, self.cwp), dtype=np.uint8)
        self._bank_count = 1
        self._mask_ids: dict[tuple[str, int, int, bool, int], int] = {}
        self._widths: dict[str, int] = {}
        # (text, font) -> how a glyph too big for its cells is scaled into them.
        self._fits: dict[tuple[str, int], QTransform] = {}
        # (text, font) -> whether a symbol is drawn from geometry (no font draws it in one colour)
        self._painted: dict[tuple[str, int], bool] = {}
        self._white = QColor(255, 255, 255)

    def cells_of(self, text: str) -> int:
        """How many cells ``text`` (a character and its combining marks) covers: 1 or 2."""
        width = self._widths.get(text)
        if width is None:
            width = self._widths[text] = 2 if text and wcwidth(text[0]) == 2 else 1
        return width

    def mask_id(self, text: str, font: int, underline: int, strike: bool, half: int) -> int:
        """The :attr:`bank` index of the coverage of one cell of ``text`` (``half`` 1: the
        right cell of a wide character), or -1 when the glyph has colours of its own (an
        emoji: drawn by :meth:`colour_cell`)."""
        return self.mask_ids([(text, font, underline, strike, half)])[0]

    def mask_ids(self, cells: Sequence[tuple[str, int, int, bool, int]]) -> list[int]:
        """:meth:`mask_id` of many cells; the glyphs not drawn yet are drawn together, in
        one image with one painter (a screenful of new glyphs costs one image, not one each).
        """
        get = self._mask_ids.get
        todo = list(dict.fromkeys(cell[:4] for cell in cells if get(cell) is None))
        for start in range(0, len(todo), MASK_BATCH):
            self._make_masks(todo[start : start + MASK_BATCH])
        return [self._mask_ids[cell] for cell in cells]

    def colour_cell(self, text: str, look: CellLook, half: int) -> np.ndarray:
        """One cell of ``text`` drawn in its own colours over the style's background."""
        image = self._image(self.cells_of(text), QColor(*look.bg))
        p = QPainter(image)
        self._draw(p, text, look.font, look.underline, look.strike, QColor(*look.fg))
        p.end()
        cwp = self.cwp
        return _pixels_of(image)[:, half * cwp : (half + 1) * cwp]

    def draw_glyph(
        self, p: QPainter, x: float, y: float, text: str, font: int, color: QColor
    ) -> None:
        """Draw ``text`` at cell position (x, y) with ``p`` as the atlas does: geometry for box
        drawing and symbols no font has, fallback glyphs scaled into the cell (for a glyph
        drawn outside the atlas, such as the one under a block cursor)."""
        if not self.mask_ids([(text, font, 0, False, 0)])[0]:
            return  # blank
        p.save()
        p.translate(x, y)
        self._draw(p, text, font, 0, False, color)
        p.restore()

    def _make_masks(self, glyphs: list[tuple[str, int, int, bool]]) -> None:
        """Draw ``glyphs`` (text, font, underline, strike) white on black in one strip, each
        in a slot with a margin around its cells, and store their coverage by cell.

        A glyph whose ink leaves its cells (a fallback font's symbol such as ``⎿``, an
        emoji a font draws two cells wide in one) is drawn again, scaled down to fit them."""
        dpr, cwp, chp = self.dpr, self.cwp, self.chp
        # Slots in whole device pixels: a cell of margin each side of at most two cells, and
        # half a cell above and below; the glyph's cell starts at (x0, y0) in its slot.
        slotp, x0, y0 = 4 * cwp, cwp, chp // 2
        image = QImage(slotp * len(glyphs), 2 * chp, QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(dpr)
        image.fill(QColor(0, 0, 0))
        p = QPainter(image)
        for k, (text, font, underline, strike) in enumerate(glyphs):
            if text.strip() or underline or strike:
                p.save()
                p.translate((k * slotp + x0) / dpr, y0 / dpr)
                p.setClipRect(QRectF(-x0 / dpr, -y0 / dpr, slotp / dpr, 2 * chp / dpr))
                self._draw(p, text, font, underline, strike, self._white)
                p.restore()
        p.end()
        px = _pixels_of(image)
        for k, (text, font, underline, strike) in enumerate(glyphs):
            cells = self.cells_of(text)
            area = px[:, k * slotp : (k + 1) * slotp]
            ink = ((area >> 8) & 255) > 48
            inside = ink[y0 - 1 : y0 + chp + 1, x0 - 1 : x0 + cells * cwp + 1]
            if inside.sum() < ink.sum() and not self.is_geometric(text, font):
                fit = self._fit_of(ink, x0, y0, cells)
                self._fits[(text, font)] = fit
                one = self._image(cells, QColor(0, 0, 0))
                q = QPainter(one)
                self._draw(q, text, font, underline, strike, self._white)
                q.end()
                cell_px = _pixels_of(one)
            else:
                cell_px = area[y0 : y0 + chp, x0 : x0 + cells * cwp]
            self._store_glyph((text, font, underline, strike), cell_px, cells)

    def _fit_of(self, ink: np.ndarray, x0: int, y0: int, cells: int) -> QTransform:
        """The transform that brings a glyph's ink (found at an origin of ``x0, y0``) into its
        cells: scaled down, centred across and within the cell's height."""
        dpr = self.dpr
        ys, xs = np.nonzero(ink)
        left, right = (xs.min() - x0) / dpr, (xs.max() + 1 - x0) / dpr
        top, bottom = (ys.min() - y0) / dpr, (ys.max() + 1 - y0) / dpr
        width, height = cells * self.cw, self.ch
        scale = min(
            1.0, (width - 1) / max(right - left, 1e-3), (height - 1) / max(bottom - top, 1e-3)
        )
        dx = (width - (right - left) * scale) / 2 - left * scale
        dy = (height - (bottom - top) * scale) / 2 - top * scale
        return QTransform(scale, 0, 0, scale, dx, dy)

    def _store_glyph(
        self, key: tuple[str, int, int, bool], cell_px: np.ndarray, cells: int
    ) -> None:
        text, font, underline, strike = key
        g = ((cell_px >> 8) & 255).astype(np.int16)
        if not g.any():
            ids = [0] * cells  # blank
        else:
            r = ((cell_px >> 16) & 255).astype(np.int16)
            b = (cell_px & 255).astype(np.int16)
            if (np.abs(r - g) > 24).any() or (np.abs(g - b) > 24).any():
                ids = [-1] * cells  # colours of its own
            else:
                ids = self._store(g.astype(np.uint8), cells)
        for half, mid in enumerate(ids):
            self._mask_ids[(text, font, underline, strike, half)] = mid

    def _store(self, coverage: np.ndarray, cells: int) -> list[int]:
        if len(self._mask_ids) + cells >= MASK_CACHE:
            self._mask_ids.clear()  # cells made from old masks keep their pixels
            self._bank_count = 1
        start = self._bank_count
        if start + cells > len(self.bank):
            bigger = np.zeros((len(self.bank) * 2, self.chp, self.cwp), dtype=np.uint8)
            bigger[:start] = self.bank[:start]
            self.bank = bigger
        cwp = self.cwp
        for half in range(cells):
            self.bank[start + half] = coverage[:, half * cwp : (half + 1) * cwp]
        self._bank_count = start + cells
        return list(range(start, start + cells))

    def _image(self, cells: int, fill: QColor) -> QImage:
        image = QImage(self.cwp * cells, self.chp, QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(self.dpr)
        image.fill(fill)
        return image

    def is_geometric(self, text: str, font: int) -> bool:
        """Whether ``text`` is drawn from geometry rather than a font: box drawing, blocks,
        braille and the bracket pieces Claude uses as box corners (``⎿``) always; Claude
        Code's other symbols when no font draws them in the cell's colour (with U+FE0F, asking
        for an emoji: when no font draws them at all)."""
        if len(text) != 1 and (len(text) != 2 or text[1] not in _PRESENTATION):
            return False
        if is_box_char(text[0]) or text[0] in BOX_TWINS:
            return len(text) == 1
        if not can_paint(text[0]):
            return False
        painted = self._painted.get((text, font))
        if painted is None:
            found = self._font_glyph(text, font)
            painted = found == "none" or (found == "colour" and not text.endswith("\ufe0f"))
            self._painted[(text, font)] = painted
        return painted

    def _font_glyph(self, text: str, font: int) -> str:
        """How the font chain (with the fonts Qt falls back to) draws ``text``: "none" (the
        missing-glyph box, glyph 0), "colour" (an emoji font's own colours) or "mono"."""
        layout = QTextLayout(text, self._fonts[font])
        layout.beginLayout()
        layout.createLine()
        layout.endLayout()
        runs = layout.glyphRuns()
        if not runs or any(0 in run.glyphIndexes() for run in runs):
            return "none"
        image = self._image(2, QColor(0, 0, 0))
        p = QPainter(image)
        p.setFont(self._fonts[font])
        p.setPen(self._white)
        p.drawText(QPointF(0, self.ascent), text)
        p.end()
        px = _pixels_of(image).astype(np.int32)
        r, g, b = (px >> 16) & 255, (px >> 8) & 255, px & 255
        return "colour" if (np.abs(r - g) > 24).any() or (np.abs(g - b) > 24).any() else "mono"

    def _draw(
        self, p: QPainter, text: str, font: int, underline: int, strike: bool, color: QColor
    ) -> None:
        if self.is_geometric(text, font):
            rects = self.box.rects(text[0])
            for rx, ry, rw, rh, alpha in rects:
                fill = (
                    color
                    if alpha == 255
                    else QColor(color.red(), color.green(), color.blue(), alpha)
                )
                p.fillRect(rx, ry, rw, rh, fill)
            if not rects:
                self.box.draw_path_glyph(p, text[0], 0, 0, color)
        elif text.strip():
            p.setFont(self._fonts[font])
            p.setPen(color)
            fit = self._fits.get((text, font))
            if fit is not None:
                p.save()
                p.setTransform(fit, combine=True)
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                p.drawText(QPointF(0, self.ascent), text)
                p.restore()
            else:
                p.drawText(QPointF(0, self.ascent), text)
        if underline or strike:
            cell = (self.cw, self.ch, self.ascent, self.box.light)
            width = self.cells_of(text) * self.cw
            draw_decoration(p, 0, 0, width, cell, color, underline, strike)


#: A cell's text key: its text, or (text, 1) for the right cell of a wide character.
TextKey = str | tuple[str, int]


class CellAtlas:
    """Every (text, style) cell met lately, as pixels, for views that draw alike.

    Slots are columns of one ``(cell height, capacity, cell width)`` uint32 array, so that
    ``np.take(pixels, slots, axis=1)`` yields a row of the frame in the frame's own layout.

    Texts and styles get small codes (two small dicts, one C-level pass each over a frame's
    cells); a dense ``(style code, text code)`` table holds each pair's slot, so the slots
    of a whole frame are one numpy gather. A frame's new cells are made in one numpy batch:
    their coverage masks gathered from the raster's bank and blended between their colours.
    When the atlas or its table is full, it starts over (frames keep their pixels).
    """

    # Codes before the atlas starts over; the slot table spans at most their product.
    MAX_STYLES = 4096
    MAX_TEXTS = 1024

    def __init__(self, raster: GlyphRaster, palette: TerminalPalette) -> None:
        self.raster = raster
        self.palette = palette
        cwp, chp = raster.cwp, raster.chp
        self.capacity = max(4096, ATLAS_BYTES // (cwp * chp * 4))
        self._pixels = np.empty((chp, min(2048, self.capacity), cwp), dtype=np.uint32)
        self._count = 0
        self._table = np.full((64, 256), -1, dtype=np.int32)
        self._text_codes: dict[TextKey, int] = {}
        self._texts: list[TextKey] = []
        # id(style) -> code; the style is held in _styles, so no id is reused meanwhile.
        self._style_codes: dict[int, int] = {}
        self._styles: list[Style] = []
        self._looks: list[CellLook] = []
        # By style code: glyph variant (font | underline << 2 | strike) and (fg, bg).
        self._variants = np.zeros(64, dtype=np.intp)
        self._colours = np.zeros((64, 2, 3), dtype=np.int32)
        # By (variant, text code): the mask's index in the raster's bank (-1: colour glyph).
        self._masks = np.full((_VARIANTS, self.MAX_TEXTS), _NO_MASK, dtype=np.intp)
        self.cells_drawn = 0  # cells made (atlas misses), for tests and benchmarks
        self.resets = 0

    @property
    def cell_size(self) -> tuple[int, int]:
        """A cell's size in device pixels."""
        return self.raster.cwp, self.raster.chp

    def look(self, style: Style) -> CellLook:
        code = self._style_codes.get(id(style))
        if code is None:
            return resolve_style(style, self.palette)
        return self._looks[code]

    def compose(self, frame: np.ndarray, rows: Sequence[tuple[int, Cells, Styles]]) -> None:
        """Write ``rows`` (frame row, cell texts, styles) into ``frame``, an array of shape
        (rows, cell height, columns, cell width) over the frame image's pixels.

        A row's cells are a string or a sequence of one text per cell ("" for the second
        cell of a wide character); its styles a sequence of one style per cell, or one style
        for the whole row. Rows longer than the frame are cut, shorter ones filled with blanks.
        """
        if not rows:
            return
        cols = frame.shape[2]
        # dict.get is overloaded; map() needs the one signature used here.
        tget: Callable[[TextKey, int], int] = self._text_codes.get
        sget: Callable[[int, int], int] = self._style_codes.get
        tflat: list[int] = []
        sflat: list[int] = []
        for _row, cells, styles in rows:
            if len(cells) != cols or (not isinstance(styles, Style) and len(styles) != cols):
                cells, styles = _fit(cells, styles, cols)
            keys: Cells | list[TextKey] = cells
            if not isinstance(cells, str) and "" in cells:
                keys = self._halves(cells)
            codes = list(map(tget, keys, repeat(-1)))
            if -1 in codes:
                if not self._add_texts(keys):
                    self._start_over_with(frame, rows)
                    return
                codes = list(map(tget, keys, repeat(-1)))
            tflat += codes
            if isinstance(styles, Style):
                code = sget(id(styles), -1)
                if code < 0:
                    if not self._add_styles({id(styles): styles}):
                        self._start_over_with(frame, rows)
                        return
                    code = self._style_codes[id(styles)]
                sflat += repeat(code, cols)
                continue
            # Styles come in runs (interned: equal styles are one object); look up a code per
            # run, found by identity in C, and repeat it over the run.
            starts = [0, *compress(range(1, cols), map(is_not, islice(styles, 1, None), styles))]
            run_ids = list(map(id, map(styles.__getitem__, starts)))
            codes = list(map(sget, run_ids, repeat(-1)))
            if -1 in codes:
                run_styles = map(styles.__getitem__, starts)
                if not self._add_styles(dict(zip(run_ids, run_styles, strict=True))):
                    self._start_over_with(frame, rows)
                    return
                codes = list(map(sget, run_ids, repeat(-1)))
            starts.append(cols)
            sflat += chain.from_iterable(
                map(repeat, codes, map(sub, islice(starts, 1, None), starts))
            )
        self._fit_table()
        t = np.array(tflat, dtype=np.intp)
        s = np.array(sflat, dtype=np.intp)
        slots = self._table[s, t]
        missing = slots < 0
        if missing.any():
            if not self._make(s, t, missing, alone=len(rows) == 1):
                self._start_over_with(frame, rows)
                return
            slots = self._table[s, t]
        pixels = self._pixels
        take = np.take
        for k, (row, _cells, _styles) in enumerate(rows):
            # mode="clip": no bounds check, so numpy writes straight into the frame.
            take(pixels, slots[k * cols : (k + 1) * cols], axis=1, out=frame[row], mode="clip")

    def _start_over_with(
        self, frame: np.ndarray, rows: Sequence[tuple[int, Cells, Styles]]
    ) -> None:
        """The atlas is full: start over, and write the rows one at a time (a row always
        fits an empty atlas; a later one may start it over again)."""
        self._start_over()
        for row in rows:
            self.compose(frame, [row])

    def _halves(self, cells: tuple[str, ...] | list[str]) -> list[TextKey]:
        """Cells with wide characters: the cell after one ("") shows its right half."""
        out: list[TextKey] = []
        prev = ""
        cells_of = self.raster.cells_of
        for text in cells:
            if text:
                out.append(text)
                prev = text if cells_of(text) == 2 else ""
            else:
                out.append((prev, 1) if prev else _BLANK_KEY_TEXT)
                prev = ""
        return out

    def _add_texts(self, cells: Cells | list[TextKey]) -> bool:
        """Codes for the texts of ``cells`` met for the first time; False (nothing changed)
        when there would be too many."""
        codes = self._text_codes
        new = [text for text in dict.fromkeys(cells) if text not in codes]
        if len(self._texts) + len(new) > self.MAX_TEXTS and self._texts:
            return False
        for text in new:
            codes[text] = len(self._texts)
            self._texts.append(text)
        return True

    def _add_styles(self, styles: dict[int, Style]) -> bool:
        """Codes for the styles (by id) met for the first time; False (nothing changed) when
        there would be too many."""
        codes = self._style_codes
        new = [(sid, style) for sid, style in styles.items() if sid not in codes]
        if len(self._styles) + len(new) > self.MAX_STYLES and self._styles:
            return False
        palette = self.palette
        first = len(self._styles)
        if first + len(new) > len(self._variants):
            size = max(first + len(new), 2 * len(self._variants))
            self._variants = np.resize(self._variants, size)
            self._colours = np.resize(self._colours, (size, 2, 3))
        for n, (sid, style) in enumerate(new, first):
            codes[sid] = n
            look = resolve_style(style, palette)
            self._styles.append(style)
            self._looks.append(look)
            self._variants[n] = look.font | look.underline << 2 | (_STRIKE if look.strike else 0)
            self._colours[n] = (look.fg, look.bg)
        return True

    def _fit_table(self) -> None:
        """Grow the slot table (doubling) to every style and text coded so far."""
        table = self._table
        rows, cols = table.shape
        n_styles, n_texts = len(self._styles), len(self._texts)
        if n_styles <= rows and n_texts <= cols:
            return
        while rows < n_styles:
            rows *= 2
        while cols < n_texts:
            cols *= 2
        bigger = np.full((rows, cols), -1, dtype=np.int32)
        bigger[: table.shape[0], : table.shape[1]] = table
        self._table = bigger

    def _make(self, s: np.ndarray, t: np.ndarray, missing: np.ndarray, alone: bool) -> bool:
        """Make the cells of the (style, text) pairs at ``missing`` in one batch and enter
        them in the table; False (nothing changed) when they do not fit.

        Every step is a numpy gather over the batch: the pairs' colours and glyph variants
        by style code, their masks by (variant, text code); only a glyph never drawn in its
        variant goes to the raster (and emoji, drawn in colour)."""
        width = self._table.shape[1]
        pairs = np.unique(s[missing] * width + t[missing])
        n = len(pairs)
        start = self._count
        if start + n > self.capacity:
            if start or not alone:
                return False
            self.capacity = n  # one row with more cells than the atlas holds: grow to it
        self._grow(start + n)
        pair_styles = pairs // width
        pair_texts = pairs % width
        variants = self._variants[pair_styles]
        mids = self._masks[variants, pair_texts]
        unknown = np.flatnonzero(mids == _NO_MASK)
        if len(unknown):
            mids[unknown] = self._new_masks(variants[unknown], pair_texts[unknown])
        direct = np.flatnonzero(mids < 0)
        mids[direct] = 0
        cov = self.raster.bank[mids].astype(np.int32)[:, None]  # n, 1, h, w
        rgb = self._colours[pair_styles][..., None, None]  # n, 2, 3, 1, 1
        fg, bg = rgb[:, 0], rgb[:, 1]
        # bg + (fg - bg) * coverage / 255, rounded, per channel; packed as 0xffRRGGBB.
        mixed = ((bg * 255 + (fg - bg) * cov + 127) // 255).astype(np.uint32)  # n,3,h,w
        packed = (mixed[:, 0] << 16) | (mixed[:, 1] << 8) | mixed[:, 2] | np.uint32(0xFF000000)
        for k in direct.tolist():
            text, half = self._text_and_half(int(pair_texts[k]))
            packed[k] = self.raster.colour_cell(text, self._looks[pair_styles[k]], half)
        self._pixels[:, start : start + n, :] = packed.transpose(1, 0, 2)
        self._table[pair_styles, pair_texts] = np.arange(start, start + n, dtype=np.int32)
        self._count = start + n
        self.cells_drawn += n
        return True

    def _text_and_half(self, code: int) -> tuple[str, int]:
        key = self._texts[code]
        return (key, 0) if type(key) is str else key  # type: ignore[return-value]

    def _new_masks(self, variants: np.ndarray, texts: np.ndarray) -> list[int]:
        """Masks of glyphs not drawn yet in their variant: from the raster (drawn together),
        then in the table."""
        cells: list[tuple[str, int, int, bool, int]] = []
        for variant, code in zip(variants.tolist(), texts.tolist(), strict=True):
            text, half = self._text_and_half(code)
            cells.append((text, variant & 3, (variant >> 2) % 6, variant >= _STRIKE, half))
        out = self.raster.mask_ids(cells)
        self._masks[variants, texts] = out
        return out

    def _grow(self, needed: int) -> None:
        size = self._pixels.shape[1]
        if needed <= size:
            return
        while size < needed:
            size = min(self.capacity, size * 2)
        bigger = np.empty((self.raster.chp, size, self.raster.cwp), dtype=np.uint32)
        bigger[:, : self._count, :] = self._pixels[:, : self._count, :]
        self._pixels = bigger

    def _start_over(self) -> None:
        self._text_codes.clear()
        self._texts.clear()
        self._style_codes.clear()
        self._styles.clear()
        self._looks.clear()
        self._table = np.full((64, 256), -1, dtype=np.int32)
        self._masks.fill(_NO_MASK)
        self._count = 0
        self.resets += 1


def _fit(cells: Cells, styles: Styles, cols: int) -> tuple[list[str], Styles]:
    """A row cut or filled with blanks to ``cols`` cells (scrollback lines keep the width
    they had)."""
    out = list(cells)[:cols]
    out += [_BLANK_KEY_TEXT] * (cols - len(out))
    if isinstance(styles, Style):
        return out, styles
    fitted = list(styles)[:cols]
    fitted += [DEFAULT_STYLE] * (cols - len(fitted))
    return out, fitted


def frame_array(cols: int, rows: int, cwp: int, chp: int, fill: RGB) -> np.ndarray:
    """A frame's pixels: (rows * cell height, cols * cell width) uint32, filled with ``fill``."""
    value = 0xFF000000 | fill[0] << 16 | fill[1] << 8 | fill[2]
    return np.full((rows * chp, cols * cwp), value, dtype=np.uint32)


__all__ = ["CellAtlas", "Cells", "GlyphRaster", "Styles", "draw_decoration", "frame_array"]
