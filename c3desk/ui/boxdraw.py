"""Glyphs drawn from geometry: box drawing, blocks, braille, and the symbols Claude Code prints.

Fonts draw box-drawing and block characters (U+2500-U+259F) at their own sizes and positions,
which leaves gaps or overlaps between cells; a terminal draws them from the cell size instead:
rectangles for lines, blocks and shades, an antialiased pen for arcs and diagonals. Braille
(U+2800-U+28FF, Claude Code's spinner) is drawn as dots the same way, so a spinner neither
jitters between fonts nor depends on one having braille.

Claude's result corner ``⎿`` (and ``⎾ ⎯``) is drawn as its box-drawing twin. Its other symbols
(``⏺ ⏵ ⏸ ❯`` and the spinner's stars ``✢ ✳ ✶ ✻ ✽``) are drawn here only when no font draws them
in the cell's colour (:func:`can_paint`): with DejaVu alone ``⎿ ⏺ ⏵ ⏸`` would be empty boxes,
and an emoji font's ``⏺`` ignores the colour Claude gives it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF

# -- box drawing and block elements -------------------------------------------------------------

# Arms of U+2500-U+257F: up, right, down, left; 0 none, 1 light, 2 heavy, 3 double.
_ARMS_TABLE = (
    (0x2500, "0101 0202 1010 2020"),  # ─ ━ │ ┃
    (
        0x250C,  # ┌ .. ╋
        "0110 0210 0120 0220 0011 0012 0021 0022 1100 1200 2100 2200 1001 1002 2001 2002 "
        "1110 1210 2110 1120 2120 2210 1220 2220 1011 1012 2011 1021 2021 2012 1022 2022 "
        "0111 0112 0211 0212 0121 0122 0221 0222 1101 1102 1201 1202 2101 2102 2201 2202 "
        "1111 1112 1211 1212 2111 1121 2121 2112 2211 1122 1221 2212 1222 2122 2221 2222",
    ),
    (
        0x2550,  # ═ .. ╬
        "0303 3030 0310 0130 0330 0013 0031 0033 1300 3100 3300 1003 3001 3003 "
        "1310 3130 3330 1013 3031 3033 0313 0131 0333 1303 3101 3303 1313 3131 3333",
    ),
    (0x2574, "0001 1000 0100 0010 0002 2000 0200 0020 0201 1020 0102 2010"),  # ╴ .. ╿
)
_BOX_ARMS: dict[int, str] = {
    first + i: arms for first, table in _ARMS_TABLE for i, arms in enumerate(table.split())
}
# Dashed lines: code -> (horizontal, heavy, dashes).
_BOX_DASHED: dict[int, tuple[bool, bool, int]] = {
    0x2504: (True, False, 3),
    0x2505: (True, True, 3),
    0x2506: (False, False, 3),
    0x2507: (False, True, 3),
    0x2508: (True, False, 4),
    0x2509: (True, True, 4),
    0x250A: (False, False, 4),
    0x250B: (False, True, 4),
    0x254C: (True, False, 2),
    0x254D: (True, True, 2),
    0x254E: (False, False, 2),
    0x254F: (False, True, 2),
}
# Block elements U+2580-U+259F as eighths (x0, y0, x1, y1) rectangles, or shades.
_QUADS = {"ul": (0, 0, 4, 4), "ur": (4, 0, 8, 4), "ll": (0, 4, 4, 8), "lr": (4, 4, 8, 8)}
_BLOCKS: dict[int, tuple[tuple[int, int, int, int], ...]] = {
    0x2580: ((0, 0, 8, 4),),
    **{0x2580 + i: ((0, 8 - i, 8, 8),) for i in range(1, 9)},  # ▁..█
    **{0x2588 + i: ((0, 0, 8 - i, 8),) for i in range(1, 8)},  # ▉..▏
    0x2590: ((4, 0, 8, 8),),
    0x2594: ((0, 0, 8, 1),),
    0x2595: ((7, 0, 8, 8),),
    0x2596: (_QUADS["ll"],),
    0x2597: (_QUADS["lr"],),
    0x2598: (_QUADS["ul"],),
    0x2599: (_QUADS["ul"], _QUADS["ll"], _QUADS["lr"]),
    0x259A: (_QUADS["ul"], _QUADS["lr"]),
    0x259B: (_QUADS["ul"], _QUADS["ur"], _QUADS["ll"]),
    0x259C: (_QUADS["ul"], _QUADS["ur"], _QUADS["lr"]),
    0x259D: (_QUADS["ur"],),
    0x259E: (_QUADS["ur"], _QUADS["ll"]),
    0x259F: (_QUADS["ur"], _QUADS["ll"], _QUADS["lr"]),
}
_SHADES = {0x2591: 64, 0x2592: 128, 0x2593: 192}
_ARCS = {0x256D: "dr", 0x256E: "dl", 0x256F: "ul", 0x2570: "ur"}
_DIAGONALS = {0x2571: (True, False), 0x2572: (False, True), 0x2573: (True, True)}


def _merge_rows_of_rects(
    rects: list[tuple[int, int, int, int, int]],
) -> list[tuple[int, int, int, int, int]]:
    """Opaque rectangles on the same rows whose spans touch or overlap become one (the same
    pixels): a light horizontal line is one full-width rectangle, so a run of them is one
    fill instead of two per cell."""
    out: list[tuple[int, int, int, int, int]] = []
    for x, y, w, h, alpha in sorted(rects, key=lambda r: (r[1], r[3], r[4], r[0])):
        if out:
            px, py, pw, ph, pa = out[-1]
            if alpha == 255 and pa == 255 and (py, ph) == (y, h) and x <= px + pw:
                out[-1] = (px, py, max(px + pw, x + w) - px, ph, pa)
                continue
        out.append((x, y, w, h, alpha))
    return out


# Braille dots by bit: (column, row) of dots 1-8.
_BRAILLE_DOTS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3))
# Bracket pieces drawn as their box-drawing twins, always: Claude's ⎿ is a line corner, and a
# fallback font's (scaled into the cell) would be thinner than the lines around it.
BOX_TWINS = {"\u23be": "\u250c", "\u23bf": "\u2514", "\u23af": "\u2500"}  # ⎾ ┌, ⎿ └, ⎯ ─
# Painted symbols: triangles (direction), media symbols, the prompt's chevron and the stars.
_TRIANGLES = {"\u23f4": (-1, 0), "\u23f5": (1, 0), "\u23f6": (0, -1), "\u23f7": (0, 1)}
_SYMBOLS = frozenset("\u23f8\u23f9\u23fa\u276f\u2722\u2733\u2736\u273b\u273d") | set(_TRIANGLES)


def is_box_char(ch: str) -> bool:
    """Always drawn by geometry (box drawing, blocks, braille), never by the font."""
    return "\u2500" <= ch <= "\u259f" or "\u2800" <= ch <= "\u28ff"


def can_paint(ch: str) -> bool:
    """A symbol drawn here when no font has it (or only a colour emoji font does)."""
    return ch in _SYMBOLS


class BoxGlyphs:
    """Geometry for box-drawing and block characters at one cell size, cached per character."""

    def __init__(self, cw: int, ch: int) -> None:
        self.cw, self.ch = cw, ch
        self.light = max(1, round(min(cw, ch) / 9))
        self.heavy = max(self.light + 1, self.light * 2)
        self.gap = max(1, self.light)  # half distance between the lines of a double line
        self._rects: dict[str, list[tuple[int, int, int, int, int]]] = {}

    def _thick(self, weight: int) -> int:
        return self.heavy if weight == 2 else self.light

    def rects(self, char: str) -> list[tuple[int, int, int, int, int]]:
        """Rectangles (x, y, w, h, alpha) relative to the cell; empty for path-drawn glyphs."""
        cached = self._rects.get(char)
        if cached is None:
            cached = self._rects[char] = self._build(ord(BOX_TWINS.get(char, char)))
        return cached

    def _braille(self, bits: int) -> list[tuple[int, int, int, int, int]]:
        """Square dots centred in a 2 x 4 grid of the cell, the same size in every row."""
        cw, ch = self.cw, self.ch
        d = max(1, round(min(cw / 2, ch / 4) * 0.5))
        out = []
        for bit, (col, row) in enumerate(_BRAILLE_DOTS):
            if bits >> bit & 1:
                x = round(col * cw / 2 + (cw / 2 - d) / 2)
                y = round(row * ch / 4 + (ch / 4 - d) / 2)
                out.append((x, y, d, d, 255))
        return out

    def _media(self, code: int) -> list[tuple[int, int, int, int, int]]:
        """⏸ (two bars) or ⏹ (a square), centred on the line box lines run through."""
        cw, ch, lt = self.cw, self.ch, self.light
        s = min(cw, ch)
        h = max(3, round(s * (0.72 if code == 0x23F8 else 0.66)))
        top = (ch - lt) // 2 + lt // 2 - h // 2
        if code == 0x23F9:
            return [((cw - h) // 2, top, h, h, 255)]
        w = max(1, round(s * 0.22))
        gap = max(1, round(s * 0.18))
        left = (cw - 2 * w - gap) // 2
        return [(left, top, w, h, 255), (left + w + gap, top, w, h, 255)]

    def _build(self, code: int) -> list[tuple[int, int, int, int, int]]:
        cw, ch = self.cw, self.ch
        out: list[tuple[int, int, int, int, int]] = []
        if 0x2800 <= code <= 0x28FF:
            return self._braille(code - 0x2800)
        if code in (0x23F8, 0x23F9):  # ⏸ ⏹: whole pixels, so the bars stay crisp
            return self._media(code)
        if code in _BLOCKS:
            for x0, y0, x1, y1 in _BLOCKS[code]:
                ax, ay = round(cw * x0 / 8), round(ch * y0 / 8)
                bx, by = round(cw * x1 / 8), round(ch * y1 / 8)
                out.append((ax, ay, bx - ax, by - ay, 255))
            return out
        if code in _SHADES:
            return [(0, 0, cw, ch, _SHADES[code])]
        if code in _BOX_DASHED:
            horizontal, heavy, dashes = _BOX_DASHED[code]
            t = self.heavy if heavy else self.light
            length = cw if horizontal else ch
            seg = length / dashes
            for i in range(dashes):
                a = round(i * seg)
                b = round(i * seg + seg * 0.6)
                if horizontal:
                    out.append((a, (ch - t) // 2, max(1, b - a), t, 255))
                else:
                    out.append(((cw - t) // 2, a, t, max(1, b - a), 255))
            return out
        arms = _BOX_ARMS.get(code)
        if arms is None:
            return out
        up, right, down, left = (int(c) for c in arms)
        g = self.gap
        # Centre lines, so that a light line sits at the same place in every glyph.
        lt = self.light
        cx = (cw - lt) // 2 + lt / 2
        cy = (ch - lt) // 2 + lt / 2

        def hline(x0: float, x1: float, yc: float, t: int) -> None:
            top = round(yc - t / 2)
            out.append((round(x0), top, max(1, round(x1) - round(x0)), t, 255))

        def vline(y0: float, y1: float, xc: float, t: int) -> None:
            left_ = round(xc - t / 2)
            out.append((left_, round(y0), t, max(1, round(y1) - round(y0)), 255))

        # Single (light/heavy) arms reach past the centre by half the widest crossing line.
        vmax = max(self._thick(w) if w != 3 else lt for w in (up, down))
        hmax = max(self._thick(w) if w != 3 else lt for w in (left, right))
        vreach = hmax / 2 if (left or right) else 0
        hreach = vmax / 2 if (up or down) else 0
        if up in (1, 2):
            vline(0, cy + (vreach if (left or right) else lt / 2), cx, self._thick(up))
        if down in (1, 2):
            vline(cy - (vreach if (left or right) else lt / 2), ch, cx, self._thick(down))
        if left in (1, 2):
            hline(0, cx + (hreach if (up or down) else lt / 2), cy, self._thick(left))
        if right in (1, 2):
            hline(cx - (hreach if (up or down) else lt / 2), cw, cy, self._thick(right))
        # Double arms: two lines; each stops at the outer or inner line of the crossing arm.
        if up == 3:
            vline(0, cy + (g if not left else -g) + lt / 2, cx - g, lt)
            vline(0, cy + (g if not right else -g) + lt / 2, cx + g, lt)
        if down == 3:
            vline(cy - (g if not left else -g) - lt / 2, ch, cx - g, lt)
            vline(cy - (g if not right else -g) - lt / 2, ch, cx + g, lt)
        if left == 3:
            hline(0, cx + (g if not up else -g) + lt / 2, cy - g, lt)
            hline(0, cx + (g if not down else -g) + lt / 2, cy + g, lt)
        if right == 3:
            hline(cx - (g if not up else -g) - lt / 2, cw, cy - g, lt)
            hline(cx - (g if not down else -g) - lt / 2, cw, cy + g, lt)
        return _merge_rows_of_rects(out)

    def draw_path_glyph(self, p: QPainter, char: str, x: int, y: int, color: QColor) -> bool:
        """Arcs and diagonals, drawn with an antialiased pen; False when not one of them."""
        code = ord(char)
        cw, ch, lt = self.cw, self.ch, self.light
        cx = x + (cw - lt) // 2 + lt / 2
        cy = y + (ch - lt) // 2 + lt / 2
        if code in _ARCS:
            corner = _ARCS[code]
            r = min(cw, ch) / 2
            path = QPainterPath()
            vy = y + ch if corner[0] == "d" else y
            hx = x + cw if corner[1] == "r" else x
            sy = 1 if corner[0] == "d" else -1
            sx = 1 if corner[1] == "r" else -1
            path.moveTo(cx, vy)
            path.lineTo(cx, cy + sy * r)
            path.quadTo(cx, cy, cx + sx * r, cy)
            path.lineTo(hx, cy)
            p.save()
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setBrush(Qt.BrushStyle.NoBrush)
            pen = QPen(color, lt)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            p.setPen(pen)
            p.drawPath(path)
            p.restore()
            return True
        if code in _DIAGONALS:
            rising, falling = _DIAGONALS[code]
            p.save()
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setPen(QPen(color, lt))
            if rising:
                p.drawLine(QPointF(x + cw, y), QPointF(x, y + ch))
            if falling:
                p.drawLine(QPointF(x, y), QPointF(x + cw, y + ch))
            p.restore()
            return True
        if char in _SYMBOLS:
            p.save()
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            self._draw_symbol(p, char, QPointF(cx, cy), color)
            p.restore()
            return True
        return False

    def _draw_symbol(self, p: QPainter, char: str, c: QPointF, color: QColor) -> None:
        """One of :data:`_SYMBOLS` centred on ``c``, on the line box lines run through, about
        as big as a lower-case letter."""
        s = min(self.cw, self.ch)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        if char in _TRIANGLES:
            dx, dy = _TRIANGLES[char]
            length, half = s * 0.62, s * 0.38  # along the direction, and half across it
            tip = c + QPointF(dx, dy) * (length / 2)
            back = c - QPointF(dx, dy) * (length / 2)
            across = QPointF(-dy, dx) * half
            p.drawPolygon(QPolygonF([tip, back + across, back - across]))
        elif char == "\u23fa":  # ⏺ a disc
            p.drawEllipse(c, s * 0.36, s * 0.36)
        elif char == "\u276f":  # ❯ a heavy chevron
            pen = QPen(color, max(1.2, s * 0.2))
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            w, h = s * 0.2, s * 0.38
            p.drawPolyline(QPolygonF([c + QPointF(-w, -h), c + QPointF(w, 0), c + QPointF(-w, h)]))
        elif char == "\u2733":  # ✳ eight spokes
            pen = QPen(color, max(1.0, s * 0.14))
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            p.setPen(pen)
            r = s * 0.4
            for k in range(4):
                d = _unit(k * 45) * r
                p.drawLine(c - d, c + d)
        elif char == "\u2736":  # ✶ six-pointed star
            r = s * 0.46
            points = [c + _unit(90 + k * 30) * (r if k % 2 == 0 else r * 0.5) for k in range(12)]
            p.drawPolygon(QPolygonF(points))
        else:  # ✢ four, ✻ eight thin, ✽ eight heavy teardrop spokes
            spokes, width = {"\u2722": (4, 0.2), "\u273b": (8, 0.085), "\u273d": (8, 0.13)}[char]
            p.drawPath(_teardrops(c, spokes, s * 0.46, s * width))


def _unit(degrees: float) -> QPointF:
    """A unit vector ``degrees`` clockwise from straight up (y grows downwards)."""
    a = math.radians(degrees)
    return QPointF(math.sin(a), -math.cos(a))


def _teardrops(c: QPointF, spokes: int, r: float, width: float) -> QPainterPath:
    """Spokes from ``c``, each narrow at the centre and round at its end, like ✻'s."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    for k in range(spokes):
        u = _unit(k * 360 / spokes)
        v = QPointF(-u.y(), u.x()) * width
        path.moveTo(c)
        path.cubicTo(c + u * (r * 0.45) + v, c + u * r + v, c + u * r)
        path.cubicTo(c + u * r - v, c + u * (r * 0.45) - v, c)
    return path
