"""Terminal colour palettes for the app's dark and light themes, and the xterm 256-colour cube."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from c3desk.terminal import Style

RGB = tuple[int, int, int]


def _hex(value: str) -> RGB:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@dataclass(frozen=True)
class TerminalPalette:
    """The 16 ANSI colours plus the terminal's own colours, as RGB triples."""

    name: str
    ansi: tuple[RGB, ...]  # 16 entries: 0-7 normal, 8-15 bright
    foreground: RGB
    background: RGB
    cursor: RGB
    cursor_text: RGB
    selection: RGB  # drawn translucently over the cells
    marker: RGB  # the "scrolled back" badge
    marker_text: RGB

    def color(self, index: int) -> RGB:
        """Palette index 0-255 as RGB: the theme's 16, then the xterm cube and grey ramp."""
        if index < 16:
            return self.ansi[index]
        return XTERM_256[index]


def _xterm_256() -> tuple[RGB, ...]:
    table: list[RGB] = [(0, 0, 0)] * 16
    steps = (0, 95, 135, 175, 215, 255)
    for r in steps:
        for g in steps:
            for b in steps:
                table.append((r, g, b))
    for i in range(24):
        v = 8 + 10 * i
        table.append((v, v, v))
    return tuple(table)


XTERM_256: tuple[RGB, ...] = _xterm_256()

DARK = TerminalPalette(
    name="dark",
    ansi=tuple(
        _hex(c)
        for c in (
            "#1d1f21",
            "#e0605b",
            "#8fc067",
            "#e6c36b",
            "#6aa2e0",
            "#c586c0",
            "#5fc2c4",
            "#c5c8c6",
            "#5c6370",
            "#ff7b72",
            "#a8d98a",
            "#f5d98b",
            "#8cbcf5",
            "#e0a8dc",
            "#87dede",
            "#f2f2f2",
        )
    ),
    foreground=_hex("#d8dadc"),
    background=_hex("#17191c"),
    cursor=_hex("#e8e8e8"),
    cursor_text=_hex("#17191c"),
    selection=_hex("#4f7bc4"),
    marker=_hex("#d9a441"),
    marker_text=_hex("#17191c"),
)

LIGHT = TerminalPalette(
    name="light",
    ansi=tuple(
        _hex(c)
        for c in (
            "#24292f",
            "#c4302b",
            "#2e7d32",
            "#9a6700",
            "#0b5cad",
            "#8e3ea8",
            "#0e7c86",
            "#d0d4d8",
            "#57606a",
            "#e0443e",
            "#3f9c43",
            "#b88700",
            "#2f7fd6",
            "#a855c4",
            "#1597a1",
            "#f6f8fa",
        )
    ),
    foreground=_hex("#24292f"),
    background=_hex("#fbfbfa"),
    cursor=_hex("#24292f"),
    cursor_text=_hex("#fbfbfa"),
    selection=_hex("#7aa7e6"),
    marker=_hex("#b7791f"),
    marker_text=_hex("#ffffff"),
)

PALETTES: dict[str, TerminalPalette] = {"dark": DARK, "light": LIGHT}


def palette_for(theme: str) -> TerminalPalette:
    """The palette of an app theme ("dark" or "light")."""
    try:
        return PALETTES[theme]
    except KeyError:
        raise ValueError(f"unknown terminal theme {theme!r}; choose dark or light") from None


class CellLook(NamedTuple):
    """A style resolved against a palette: what a cell is drawn with."""

    fg: RGB
    bg: RGB
    font: int  # index into the fonts: bold | italic << 1
    underline: int
    strike: bool


def _rgb(color: object, palette: TerminalPalette, default: RGB) -> RGB:
    if color is None:
        return default
    if isinstance(color, int):
        return palette.color(color)
    return color  # type: ignore[return-value]


def resolve_style(style: Style, palette: TerminalPalette) -> CellLook:
    fg = _rgb(style.fg, palette, palette.foreground)
    bg = _rgb(style.bg, palette, palette.background)
    if style.reverse:
        fg, bg = bg, fg
    if style.dim:
        fg = ((fg[0] + bg[0]) // 2, (fg[1] + bg[1]) // 2, (fg[2] + bg[2]) // 2)
    return CellLook(
        fg,
        bg,
        int(style.bold) | int(style.italic) << 1,
        style.underline,
        style.strikethrough,
    )
