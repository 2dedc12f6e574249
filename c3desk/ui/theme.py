"""The application's dark and light themes: a Fusion palette, a small stylesheet and named colours.

Other widgets take their colours from :func:`theme_colors` (hex strings, usable both in
stylesheets and as ``QColor(value)``) rather than hard-coding them, so both themes stay readable.
Object names styled here: ``tileHeader`` (a grid tile's header), ``stateChip`` (a session's state,
with a dynamic ``state`` property: queued/active/completed/failed), ``needsInputChip`` and
``fieldError`` (an inline error label in a dialog).
"""

from __future__ import annotations

from typing import Final

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from c3desk.ui.palette import PALETTES

THEMES: Final = ("dark", "light")
DEFAULT_THEME: Final = "dark"
#: The QApplication property holding the name of the applied theme.
THEME_PROPERTY: Final = "c3deskTheme"


def _terminal(name: str) -> dict[str, str]:
    pal = PALETTES[name]
    return {
        "terminal_background": "#{:02x}{:02x}{:02x}".format(*pal.background),
        "terminal_foreground": "#{:02x}{:02x}{:02x}".format(*pal.foreground),
    }


_COLORS: Final[dict[str, dict[str, str]]] = {
    "dark": {
        "window": "#272a2f",
        "window_text": "#dcdee1",
        "base": "#17191c",
        "alternate_base": "#1d2024",
        "text": "#dcdee1",
        "dim_text": "#8b9097",
        "button": "#33373d",
        "button_text": "#dcdee1",
        "border": "#444951",
        "header": "#30343a",
        "highlight": "#2f5f9e",
        "highlighted_text": "#ffffff",
        "link": "#6cb0ff",
        "tooltip": "#33373d",
        "accent": "#4c9aff",
        "needs_input": "#f0a030",
        "needs_input_background": "#4a3510",
        "queued": "#8b9097",
        "active": "#4c9aff",
        "completed": "#3fb950",
        "failed": "#f0605a",
        "error": "#ff6b63",
        "diff_added": "#56d364",
        "diff_added_background": "#1b3224",
        "diff_removed": "#f47067",
        "diff_removed_background": "#3c1f22",
        "diff_hunk": "#6cb6ff",
        "diff_header": "#d2a8ff",
        **_terminal("dark"),
    },
    "light": {
        "window": "#eff0f2",
        "window_text": "#1f2328",
        "base": "#ffffff",
        "alternate_base": "#f6f7f9",
        "text": "#1f2328",
        "dim_text": "#656d76",
        "button": "#e6e8eb",
        "button_text": "#1f2328",
        "border": "#c8ccd1",
        "header": "#e2e5e9",
        "highlight": "#3b78d8",
        "highlighted_text": "#ffffff",
        "link": "#0969da",
        "tooltip": "#ffffe8",
        "accent": "#0969da",
        "needs_input": "#b35900",
        "needs_input_background": "#ffe7c2",
        "queued": "#656d76",
        "active": "#0969da",
        "completed": "#1a7f37",
        "failed": "#cf222e",
        "error": "#cf222e",
        "diff_added": "#116329",
        "diff_added_background": "#dafbe1",
        "diff_removed": "#a40e26",
        "diff_removed_background": "#ffebe9",
        "diff_hunk": "#0550ae",
        "diff_header": "#8250df",
        **_terminal("light"),
    },
}


def _check(name: str) -> str:
    if name not in _COLORS:
        raise ValueError(f"unknown theme {name!r}; expected one of {', '.join(THEMES)}")
    return name


def theme_colors(name: str = DEFAULT_THEME) -> dict[str, str]:
    """The named colours of theme ``name`` as ``#rrggbb`` strings (a copy: change it freely).

    Keys: window, window_text, base, alternate_base, text, dim_text, button, button_text,
    border, header, highlight, highlighted_text, link, tooltip, accent, needs_input,
    needs_input_background, queued, active, completed, failed, error, diff_added(_background),
    diff_removed(_background), diff_hunk, diff_header, terminal_background, terminal_foreground.
    """
    return dict(_COLORS[_check(name)])


def state_color(name: str, state: str) -> str:
    """The colour of a session state (queued/active/completed/failed) in theme ``name``."""
    colors = _COLORS[_check(name)]
    return colors.get(state, colors["dim_text"])


def build_palette(name: str) -> QPalette:
    """The QPalette of theme ``name``, with muted colours for disabled widgets."""
    c = _COLORS[_check(name)]
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    pal = QPalette()
    pairs = {
        role.Window: c["window"],
        role.WindowText: c["window_text"],
        role.Base: c["base"],
        role.AlternateBase: c["alternate_base"],
        role.Text: c["text"],
        role.Button: c["button"],
        role.ButtonText: c["button_text"],
        role.BrightText: c["error"],
        role.Highlight: c["highlight"],
        role.HighlightedText: c["highlighted_text"],
        role.Link: c["link"],
        role.LinkVisited: c["link"],
        role.ToolTipBase: c["tooltip"],
        role.ToolTipText: c["text"],
        role.PlaceholderText: c["dim_text"],
        role.Accent: c["accent"],
    }
    for r, value in pairs.items():
        pal.setColor(r, QColor(value))
    dark = name == "dark"
    pal.setColor(role.Light, QColor(c["button"]).lighter(150 if dark else 110))
    pal.setColor(role.Midlight, QColor(c["button"]).lighter(125 if dark else 105))
    pal.setColor(role.Mid, QColor(c["border"]))
    pal.setColor(role.Dark, QColor(c["border"]).darker(150))
    pal.setColor(role.Shadow, QColor("#000000" if dark else "#80868c"))
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(group.Disabled, r, QColor(c["dim_text"]))
    pal.setColor(group.Disabled, role.Highlight, QColor(c["border"]))
    return pal


def build_stylesheet(name: str) -> str:
    """The small application stylesheet of theme ``name``: docks, tile headers, chips, status."""
    c = _COLORS[_check(name)]
    chips = "\n".join(
        f'QLabel#stateChip[state="{s}"] {{ background: {c[s]}; }}'
        for s in ("queued", "active", "completed", "failed")
    )
    return f"""
QDockWidget::title {{
    background: {c["header"]};
    padding: 4px 6px;
    border-bottom: 1px solid {c["border"]};
}}
QWidget#tileHeader {{
    background: {c["header"]};
    border-bottom: 1px solid {c["border"]};
}}
QWidget#tileHeader[needsInput="true"] {{
    background: {c["needs_input_background"]};
    border-bottom: 2px solid {c["needs_input"]};
}}
QWidget#tileHeader[focused="true"] {{
    border-bottom: 2px solid {c["accent"]};
}}
QLabel#stateChip, QLabel#needsInputChip {{
    border-radius: 7px;
    padding: 1px 7px;
    color: #ffffff;
    font-weight: 600;
}}
QLabel#stateChip {{ background: {c["queued"]}; }}
{chips}
QLabel#needsInputChip {{ background: {c["needs_input"]}; color: #ffffff; }}
QLabel#fieldError {{ color: {c["error"]}; }}
QStatusBar {{
    background: {c["header"]};
    border-top: 1px solid {c["border"]};
}}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QToolTip {{
    color: {c["text"]};
    background: {c["tooltip"]};
    border: 1px solid {c["border"]};
}}
"""


def apply_theme(app: QApplication, name: str = DEFAULT_THEME) -> None:
    """Apply theme ``name`` ("dark" or "light") to the whole application (Fusion style)."""
    _check(name)
    # With a stylesheet set, app.style() is Qt's stylesheet proxy, whose name() is empty; a
    # theme applied before means Fusion is already underneath it.
    if app.style().name().lower() != "fusion" and app.property(THEME_PROPERTY) is None:
        app.setStyle("Fusion")
    app.setPalette(build_palette(name))
    app.setStyleSheet(build_stylesheet(name))
    app.setProperty(THEME_PROPERTY, name)


def current_theme(app: QApplication | None = None) -> str:
    """The name of the theme applied to ``app`` (the running one by default); dark if none."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    value = app.property(THEME_PROPERTY) if app is not None else None
    if isinstance(value, str) and value in _COLORS:
        return value
    if app is not None and app.palette().color(QPalette.ColorRole.Window).lightness() > 128:
        return "light"
    return DEFAULT_THEME
