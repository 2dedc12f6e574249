"""The dark and light themes apply to the whole application and differ."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from c3desk.ui.theme import (
    THEMES,
    apply_theme,
    build_palette,
    current_theme,
    state_color,
    theme_colors,
)

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

NAMED = {
    "accent",
    "needs_input",
    "queued",
    "active",
    "completed",
    "failed",
    "error",
    "terminal_background",
    "terminal_foreground",
}


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    """The application, restored after the test: themes are global state."""
    style = qapp.style().name()
    palette = QPalette(qapp.palette())
    sheet = qapp.styleSheet()
    theme = qapp.property("c3deskTheme")
    yield qapp
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    if style:
        qapp.setStyle(style)
    qapp.setProperty("c3deskTheme", theme)
    qapp.processEvents()  # deliver the posted palette changes before the next test


def base_style(app: QApplication) -> str:
    """The style under the stylesheet proxy that an app stylesheet puts on top."""
    sheet = app.styleSheet()
    app.setStyleSheet("")
    name = app.style().name().lower()
    app.setStyleSheet(sheet)
    return name


def test_both_themes_apply_and_differ(app: QApplication) -> None:
    apply_theme(app, "dark")
    assert base_style(app) == "fusion"
    assert current_theme(app) == "dark"
    dark_window = app.palette().color(QPalette.ColorRole.Window)
    dark_text = app.palette().color(QPalette.ColorRole.WindowText)
    dark_sheet = app.styleSheet()
    assert dark_window.lightness() < 80 < dark_text.lightness()

    apply_theme(app, "light")
    assert base_style(app) == "fusion"
    assert current_theme(app) == "light"
    light_window = app.palette().color(QPalette.ColorRole.Window)
    light_text = app.palette().color(QPalette.ColorRole.WindowText)
    assert light_window.lightness() > 180 > light_text.lightness()
    assert light_window != dark_window
    assert app.styleSheet() != dark_sheet
    for name in ("tileHeader", "needsInputChip", "stateChip", "QStatusBar", "QDockWidget"):
        assert name in app.styleSheet()


def test_widgets_take_the_theme(app: QApplication, qtbot: QtBot) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    dark = QColor(theme_colors("dark")["window"])
    light = QColor(theme_colors("light")["window"])
    apply_theme(app, "dark")
    # Qt posts the palette change to existing widgets.
    qtbot.waitUntil(lambda: widget.palette().color(QPalette.ColorRole.Window) == dark)
    apply_theme(app, "light")
    qtbot.waitUntil(lambda: widget.palette().color(QPalette.ColorRole.Window) == light)

    chip = QLabel("failed", widget)
    chip.setObjectName("stateChip")
    chip.setProperty("state", "failed")
    widget.show()
    image = chip.grab().toImage()
    center = image.pixelColor(image.width() // 2, 1)
    assert center == QColor(theme_colors("light")["failed"])


def test_theme_colors_are_named_and_distinct() -> None:
    dark, light = theme_colors("dark"), theme_colors("light")
    assert set(dark) >= NAMED
    assert set(dark) == set(light)
    assert dark != light
    for colors in (dark, light):
        assert all(QColor(value).isValid() for value in colors.values())
        states = [colors[s] for s in ("queued", "active", "completed", "failed")]
        assert len(set(states)) == 4
    assert state_color("dark", "failed") == dark["failed"]
    assert state_color("dark", "weird") == dark["dim_text"]
    dark["accent"] = "#000000"  # a copy: the theme itself is unchanged
    assert theme_colors("dark")["accent"] != "#000000"


def test_palettes_differ_for_every_theme() -> None:
    windows = {build_palette(t).color(QPalette.ColorRole.Window).name() for t in THEMES}
    assert len(windows) == len(THEMES)


def test_unknown_theme_is_refused(app: QApplication) -> None:
    with pytest.raises(ValueError, match="unknown theme"):
        apply_theme(app, "solarized")
    with pytest.raises(ValueError, match="unknown theme"):
        theme_colors("solarized")
