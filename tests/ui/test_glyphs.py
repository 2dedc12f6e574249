"""Glyphs never drawn as empty boxes: the characters Claude Code prints, with only the DejaVu fonts
installed, and the app's own text (its buttons are icons, not emoji).

"Only DejaVu" is real: a child process runs with a fontconfig file that lists nothing but the
DejaVu font files, renders Claude's characters through a real :class:`TerminalView`, and compares
each cell with the cell of U+10FFFF (a code point no font has: the missing-glyph box).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QImage, QPainter
from PySide6.QtWidgets import QApplication, QToolButton
from pytestqt.qtbot import QtBot

from c3desk.ui.boxdraw import BoxGlyphs
from c3desk.ui.cell_atlas import GlyphRaster

# Claude Code's characters: result corner, status dot, spinner stars, prompt, mode arrows and
# pause, the logo's blocks, the braille spinner, the welcome box's corners and rules.
CLAUDE_CHARS = "⎿⏺✻✽✶✳✢❯⏵⏸·▐▛█▜▌▝▘⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏╭╮╰╯─│"
MISSING = "\U0010ffff"  # no font has it: drawn as the font's missing-glyph box
UI_DIR = Path(__file__).resolve().parents[2] / "c3desk" / "ui"
# Modules whose strings are terminal cell contents (glyph tables), not text the UI shows.
NOT_UI_TEXT = {"boxdraw.py", "cell_atlas.py"}
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


# -- the child process: only DejaVu -----------------------------------------------------------


def _ui_strings() -> dict[str, list[str]]:
    """Non-ASCII characters of the string literals in c3desk/ui (docstrings left out), with the
    files they occur in."""
    found: dict[str, list[str]] = {}
    for path in sorted(UI_DIR.glob("*.py")):
        if path.name in NOT_UI_TEXT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                for char in node.value:
                    if ord(char) > 127:
                        found.setdefault(char, []).append(path.name)
    return found


def _child() -> None:
    """Render Claude's characters in a real terminal view and report, as JSON on stdout, each
    cell's ink and whether it is the missing-glyph box; and which UI characters DejaVu lacks."""
    from PySide6.QtGui import QFontDatabase, QFontMetrics

    from c3desk.terminal import TerminalModel
    from c3desk.ui.terminal_view import PADDING, TerminalView

    app = QApplication(sys.argv[:1])
    chars = CLAUDE_CHARS
    model = TerminalModel(len(chars) + 2, 2, 10)
    model.feed(f"{chars}\r\n{MISSING}".encode())
    view = TerminalView(model, lambda _data: None, font_family="DejaVu Sans Mono")
    view.resize(*view.size_for_grid(len(chars) + 2, 2))
    view.show()
    app.processEvents()
    view.flush()
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    if os.environ.get("C3DESK_GLYPHS_PNG"):
        image.save(os.environ["C3DESK_GLYPHS_PNG"])
    cw, ch = view.cell_size
    w, h = image.width(), image.height()
    px = np.frombuffer(image.constBits(), dtype=np.uint32, count=h * image.bytesPerLine() // 4)
    px = px.reshape(h, image.bytesPerLine() // 4)[:, :w]
    background = int(px[PADDING + ch + ch // 2, PADDING + cw * (len(chars) + 1)])

    def cell(col: int, row: int) -> np.ndarray:
        x, y = PADDING + col * cw, PADDING + row * ch
        return px[y : y + ch, x : x + cw]

    missing = cell(0, 1)
    cells = {
        char: {
            "ink": int((cell(k, 0) != background).sum()),
            "missing_box": bool(np.array_equal(cell(k, 0), missing)),
        }
        for k, char in enumerate(chars)
    }
    ui_font = QFontMetrics(QFont("DejaVu Sans"))
    lacking = {c: files for c, files in _ui_strings().items() if not ui_font.inFontUcs4(ord(c))}
    report = {
        "families": QFontDatabase.families(),
        "missing_ink": int((missing != background).sum()),
        "cells": cells,
        "ui_lacking": lacking,
    }
    print(json.dumps(report))


def _dejavu_files() -> list[Path]:
    files: list[Path] = []
    for root in FONT_DIRS:
        if root.is_dir():
            files += root.rglob("DejaVuSans*.ttf")
    return sorted(files)


@pytest.fixture(scope="module")
def only_dejavu(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The child's report, run with a fontconfig that knows the DejaVu fonts and nothing else."""
    files = _dejavu_files()
    assert files, "the DejaVu fonts (fonts-dejavu-core) are not installed"
    base = tmp_path_factory.mktemp("only-dejavu")
    fonts = base / "fonts"
    fonts.mkdir()
    for f in files:
        (fonts / f.name).symlink_to(f)
    conf = base / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{fonts}</dir>\n  <cachedir>{base / 'cache'}</cachedir>\n</fontconfig>\n"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_child_sees_only_dejavu(only_dejavu: dict[str, Any]) -> None:
    # Generic aliases (Monospace, Sans Serif, Serif) resolve to DejaVu too.
    real = [f for f in only_dejavu["families"] if f not in ("Monospace", "Sans Serif", "Serif")]
    assert real and all(f.startswith("DejaVu") for f in real), real
    assert only_dejavu["missing_ink"] > 0  # U+10FFFF is drawn as a box: the reference is real


@pytest.mark.parametrize("char", list(CLAUDE_CHARS))
def test_claude_characters_are_not_empty_boxes_with_only_dejavu(
    only_dejavu: dict[str, Any], char: str
) -> None:
    got = only_dejavu["cells"][char]
    assert got["ink"] > 0, f"{char!r} (U+{ord(char):04X}) draws nothing"
    assert not got["missing_box"], f"{char!r} (U+{ord(char):04X}) is drawn as an empty box"


def test_ui_text_has_no_character_dejavu_lacks(only_dejavu: dict[str, Any]) -> None:
    """Buttons and labels use words and icons; any character in their text is in DejaVu Sans
    (an emoji such as the pin would be an empty box with only the required fonts)."""
    assert only_dejavu["ui_lacking"] == {}


# -- geometry: braille and painted symbols ----------------------------------------------------


def test_braille_is_drawn_as_dots_in_its_pattern() -> None:
    cw, ch = 8, 17
    box = BoxGlyphs(cw, ch)
    # Dots 1-8 by bit: (column, row) in a 2 x 4 grid.
    dots = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3))
    for bits in range(256):
        rects = box.rects(chr(0x2800 + bits))
        assert len(rects) == bin(bits).count("1")
        places = set()
        for x, y, w, h, alpha in rects:
            assert alpha == 255 and w > 0 and h > 0
            assert x >= 0 and x + w <= cw and y >= 0 and y + h <= ch
            places.add((int((x + w / 2) // (cw / 2)), int((y + h / 2) // (ch / 4))))
        assert places == {dots[k] for k in range(8) if bits >> k & 1}


def _painted(char: str, cw: int = 9, ch: int = 19) -> np.ndarray:
    image = QImage(cw, ch, QImage.Format.Format_RGB32)
    image.fill(QColor(0, 0, 0))
    p = QPainter(image)
    box = BoxGlyphs(cw, ch)
    rects = box.rects(char)
    for x, y, w, h, _alpha in rects:
        p.fillRect(x, y, w, h, QColor(255, 255, 255))
    drawn = bool(rects) or box.draw_path_glyph(p, char, 0, 0, QColor(255, 255, 255))
    p.end()
    assert drawn, f"{char!r} has no geometry"
    bits = np.frombuffer(image.constBits(), dtype=np.uint32, count=ch * image.bytesPerLine() // 4)
    return ((bits.reshape(ch, -1)[:, :cw] >> 8) & 255).astype(np.int32)


@pytest.mark.parametrize("char", list("⏴⏵⏶⏷⏸⏹⏺❯✢✳✶✻✽"))
def test_painted_symbols_have_ink_centred_in_the_cell(qtbot: QtBot, char: str) -> None:
    ink = _painted(char)
    ys, xs = np.nonzero(ink > 64)
    assert len(xs) >= 6, f"{char!r} is hardly drawn"
    # Centred across the cell (within a pixel) and kept off its edges: a glyph, not a block.
    assert abs((xs.min() + xs.max()) / 2 - (ink.shape[1] - 1) / 2) <= 1.0
    assert ys.min() > 0 and ys.max() < ink.shape[0] - 1


def test_painted_shapes_tell_the_symbols_apart(qtbot: QtBot) -> None:
    shapes = {char: _painted(char) > 64 for char in "⏵⏸⏹⏺❯✢✳✶✻"}
    chars = list(shapes)
    for i, a in enumerate(chars):
        for b in chars[i + 1 :]:
            assert not np.array_equal(shapes[a], shapes[b]), (a, b)
    for char, corners_filled in (("⏺", False), ("⏹", True)):  # a disc leaves the corners empty
        ys, xs = np.nonzero(shapes[char])
        corners = [shapes[char][y, x] for y in (ys.min(), ys.max()) for x in (xs.min(), xs.max())]
        assert all(corners) if corners_filled else not any(corners), char


def test_the_result_corner_is_an_l_shape(qtbot: QtBot) -> None:
    """⎿ drawn by geometry is └'s shape: an arm from the top, an arm to the right."""
    corner = _painted("⎿")
    assert np.array_equal(corner, _painted("└"))
    assert (corner[0] > 64).any() and (corner[:, -1] > 64).any() and not (corner[-1] > 64).any()


# -- which way a symbol is drawn, with the fonts installed here -------------------------------


def _raster() -> GlyphRaster:
    from c3desk.ui.terminal_view import FALLBACK_FAMILIES

    fonts = []
    for variant in range(4):
        font = QFont()
        font.setFamilies(list(FALLBACK_FAMILIES))
        font.setPointSizeF(10.5)
        font.setBold(bool(variant & 1))
        font.setItalic(bool(variant & 2))
        fonts.append(font)
    m = QFontMetricsF(fonts[0])
    return GlyphRaster(fonts, round(m.horizontalAdvance("M")), int(m.height() + 0.999), 13)


def test_symbols_take_the_cell_colour_even_where_an_emoji_font_has_them(qtbot: QtBot) -> None:
    """Claude colours ⏺ green, red or grey: an emoji font's own colours would lose that. With
    U+FE0F (emoji asked for) the emoji font's colours stay."""
    from PySide6.QtGui import QFontDatabase

    raster = _raster()
    for char in "⏺⏸⏵⎿":
        mask = raster.mask_id(char, 0, 0, False, 0)
        assert mask > 0, f"{char!r} is not drawn in the cell's colour"
        assert raster.bank[mask].max() > 128
    if "Noto Color Emoji" in QFontDatabase.families():
        assert raster.mask_id("⏺\ufe0f", 0, 0, False, 0) == -1


def test_a_symbol_a_font_has_comes_from_the_font(qtbot: QtBot) -> None:
    raster = _raster()
    assert not raster.is_geometric("❯", 0)  # DejaVu Sans Mono has it
    assert not raster.is_geometric("✻", 1)
    assert raster.is_geometric("⠋", 0)  # braille: always dots
    assert raster.is_geometric("╭", 0)
    assert raster.is_geometric("⎿", 0)  # a line corner: always box geometry
    assert not raster.is_geometric("a", 0)


# -- the tile's buttons are icons -------------------------------------------------------------


def _ink_colours(icon: QIcon, size: int = 24, on: bool = False) -> set[tuple[int, int, int]]:
    state = QIcon.State.On if on else QIcon.State.Off
    image = icon.pixmap(QSize(size, size), QIcon.Mode.Normal, state).toImage()
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    out = set()
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha() == 255:
                out.add((c.red(), c.green(), c.blue()))
    return out


def test_tile_buttons_are_icons_with_tooltips_and_names(qtbot: QtBot) -> None:
    from c3desk.ui.grid import TileHeader

    header = TileHeader()
    qtbot.addWidget(header)
    buttons = header.findChildren(QToolButton)
    assert {header.pin, header.cont, header.maximize, header.kill} <= set(buttons)
    for b in buttons:
        assert not b.icon().isNull(), b.toolTip()
        assert b.text().isascii(), f"button text {b.text()!r} is not plain text"
        assert b.toolTip() and b.accessibleName(), b.text()
        assert _ink_colours(b.icon()), f"the icon of {b.accessibleName()!r} is empty"
    assert header.pin.accessibleName() == "Pin"


def test_icons_follow_the_theme_and_the_pin_state(qtbot: QtBot) -> None:
    from c3desk.ui.grid import TileHeader
    from c3desk.ui.theme import apply_theme, theme_colors

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.property("c3deskTheme") or "dark"
    header = TileHeader()
    qtbot.addWidget(header)
    try:
        for theme in ("dark", "light"):
            apply_theme(app, theme)
            text = QColor(theme_colors(theme)["button_text"])
            want = (text.red(), text.green(), text.blue())

            def drawn_in_theme(want: tuple[int, int, int] = want) -> bool:
                return want in _ink_colours(header.pin.icon())

            # The new palette reaches the header when Qt polishes it (an event).
            qtbot.waitUntil(drawn_in_theme)
            accent = QColor(theme_colors(theme)["accent"])
            want_on = (accent.red(), accent.green(), accent.blue())
            assert want_on in _ink_colours(header.pin.icon(), on=True)
            assert want_on not in _ink_colours(header.pin.icon())
    finally:
        apply_theme(app, str(before))


def test_the_maximize_button_shows_restore_while_maximized(qtbot: QtBot) -> None:
    from c3desk.ui.grid import TileHeader

    header = TileHeader()
    qtbot.addWidget(header)
    image = header.maximize.icon().pixmap(24, 24).toImage()
    header.set_maximized(True)
    assert header.maximize.icon().pixmap(24, 24).toImage() != image
    assert "Restore" in header.maximize.toolTip()
    header.set_maximized(False)
    assert header.maximize.icon().pixmap(24, 24).toImage() == image


if __name__ == "__main__":
    _child()


def test_a_glyph_drawn_outside_the_atlas_matches_its_cell(qtbot: QtBot) -> None:
    """draw_glyph (for the glyph under a block cursor) draws what the atlas's cell shows: the
    geometry for ⎿ and ⏺, a scaled fallback glyph for ※ — not the font's box or overflow."""
    raster = _raster()
    for char in "⎿⏺⠋※a":
        image = QImage(raster.cwp, raster.chp, QImage.Format.Format_RGB32)
        image.fill(QColor(0, 0, 0))
        p = QPainter(image)
        raster.draw_glyph(p, 0, 0, char, 0, QColor(255, 255, 255))
        p.end()
        bits = np.frombuffer(image.constBits(), dtype=np.uint32, count=raster.cwp * raster.chp)
        drawn = ((bits.reshape(raster.chp, raster.cwp) >> 8) & 255).astype(np.int32)
        cell = raster.bank[raster.mask_id(char, 0, 0, False, 0)].astype(np.int32)
        assert np.abs(drawn - cell).max() <= 8, char
