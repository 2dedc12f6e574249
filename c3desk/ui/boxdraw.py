"""Box-drawing and block characters (U+2500-U+259F) as geometry, so that lines join without gaps.

Fonts draw these glyphs at their own sizes and positions, which leaves gaps or overlaps between
cells; a terminal draws them from the cell size instead: rectangles for lines, blocks and shades,
an antialiased pen for arcs and diagonals.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

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


def is_box_char(ch: str) -> bool:
    """Drawn by geometry (lines and rectangles), not by the font."""
    return "\u2500" <= ch <= "\u259f"


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
            cached = self._rects[char] = self._build(ord(char))
        return cached

    def _build(self, code: int) -> list[tuple[int, int, int, int, int]]:
        cw, ch = self.cw, self.ch
        out: list[tuple[int, int, int, int, int]] = []
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
        return False
