"""Cell styles and the SGR (Select Graphic Rendition) parser.

A :class:`Style` is an immutable, hashable tuple shared by every cell drawn with it, so a row
of styles costs one pointer per cell and comparing two styles is a C-level tuple compare.
"""

from __future__ import annotations

from typing import NamedTuple

#: A colour: ``None`` (the terminal default), a palette index 0-255, or an ``(r, g, b)`` triple.
Color = int | tuple[int, int, int] | None


class Style(NamedTuple):
    """How a cell is drawn. ``underline`` is 0 (none) or a style 1-5 (single, double, curly,
    dotted, dashed)."""

    fg: Color = None
    bg: Color = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: int = 0
    blink: bool = False
    reverse: bool = False
    strikethrough: bool = False


DEFAULT_STYLE = Style()

# Field positions, for building styles from a list without keyword overhead.
_FG, _BG, _BOLD, _DIM, _ITALIC, _UNDERLINE, _BLINK, _REVERSE, _STRIKE = range(9)

# Simple SGR codes: code -> (field, value).
_SIMPLE: dict[int, tuple[int, object]] = {
    1: (_BOLD, True),
    2: (_DIM, True),
    3: (_ITALIC, True),
    4: (_UNDERLINE, 1),
    5: (_BLINK, True),
    6: (_BLINK, True),
    7: (_REVERSE, True),
    9: (_STRIKE, True),
    21: (_UNDERLINE, 2),
    23: (_ITALIC, False),
    24: (_UNDERLINE, 0),
    25: (_BLINK, False),
    27: (_REVERSE, False),
    29: (_STRIKE, False),
    39: (_FG, None),
    49: (_BG, None),
}
for _i in range(8):
    _SIMPLE[30 + _i] = (_FG, _i)
    _SIMPLE[40 + _i] = (_BG, _i)
    _SIMPLE[90 + _i] = (_FG, 8 + _i)
    _SIMPLE[100 + _i] = (_BG, 8 + _i)
del _i

_MAX_PARAMS = 64


def _int(text: str) -> int:
    """A parameter as a bounded integer; empty or malformed counts as 0."""
    if text.isdigit() and len(text) <= 5:
        return int(text)
    return 0


def _extended_color(args: list[int]) -> tuple[Color, bool]:
    """Decode the arguments after 38/48/58: ``5;n`` or ``2;r;g;b``.

    Returns the colour and whether it was valid.
    """
    if not args:
        return None, False
    if args[0] == 5 and len(args) >= 2:
        n = args[1]
        return (n, True) if 0 <= n <= 255 else (None, False)
    if args[0] == 2 and len(args) >= 4:
        r, g, b = args[-3], args[-2], args[-1]
        if max(r, g, b) <= 255:
            return (r, g, b), True
    return None, False


def apply_sgr(style: Style, params: str) -> Style:
    """Return ``style`` changed by the SGR parameter string ``params`` (without ``CSI`` and ``m``).

    Handles ``;`` and ``:`` separated forms, including ``38:2::r:g:b``, ``38;5;n``, ``4:3``
    (curly underline), dim and the bright colours. Unknown codes are ignored.
    """
    fields: list[object] = list(style)
    groups = params.split(";", _MAX_PARAMS)[:_MAX_PARAMS] if params else [""]
    i = 0
    n = len(groups)
    while i < n:
        group = groups[i]
        i += 1
        if ":" in group:
            parts = group.split(":", 8)
            code = _int(parts[0])
            if code == 4:
                sub = _int(parts[1]) if len(parts) > 1 else 1
                fields[_UNDERLINE] = sub if 0 <= sub <= 5 else 1
            elif code in (38, 48, 58):
                # Colon form: 38:2:[colourspace]:r:g:b or 38:5:n; all in this one group.
                sub_args = [_int(p) for p in parts[1:]]
                if sub_args and sub_args[0] == 2 and len(sub_args) > 4:
                    sub_args = [2, *sub_args[-3:]]
                color, ok = _extended_color(sub_args)
                if ok and code != 58:
                    fields[_FG if code == 38 else _BG] = color
            continue
        code = _int(group)
        simple = _SIMPLE.get(code)
        if simple is not None:
            fields[simple[0]] = simple[1]
        elif code == 0:
            fields = list(DEFAULT_STYLE)
        elif code == 22:
            fields[_BOLD] = False
            fields[_DIM] = False
        elif code in (38, 48, 58) and i < n:
            # Semicolon form: the colour takes the following groups.
            kind = _int(groups[i])
            take = 2 if kind == 5 else 4 if kind == 2 else 1
            args = [_int(g) for g in groups[i : i + take]]
            i += take
            color, ok = _extended_color(args)
            if ok and code != 58:
                fields[_FG if code == 38 else _BG] = color
    return Style(*fields)  # type: ignore[arg-type]


#: Interned styles, shared by every model in the process: equal styles are one object, so a
#: renderer can key caches by ``id(style)`` across sessions. Bounded: when it fills up it starts
#: over (styles made before then stay valid, they just stop being shared with newer equal ones).
INTERN_LIMIT = 8192
_intern: dict[Style, Style] = {DEFAULT_STYLE: DEFAULT_STYLE}


def intern_style(style: Style) -> Style:
    """The shared object equal to ``style``."""
    got = _intern.get(style)
    if got is not None:
        return got
    if len(_intern) >= INTERN_LIMIT:
        _intern.clear()
        _intern[DEFAULT_STYLE] = DEFAULT_STYLE
    _intern[style] = style
    return style


_blank: dict[int, tuple[Style, Style]] = {}


def blank_style(style: Style) -> Style:
    """The style erased cells take: the current background only (xterm's behaviour), interned."""
    bg = style.bg
    if bg is None:
        return DEFAULT_STYLE
    hit = _blank.get(id(style))
    if hit is not None and hit[0] is style:
        return hit[1]
    if len(_blank) >= 1024:
        _blank.clear()
    out = intern_style(Style(bg=bg))
    _blank[id(style)] = (style, out)
    return out
