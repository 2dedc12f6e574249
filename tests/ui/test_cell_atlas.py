"""The cell atlas the terminal view composes frames from: every way of filling it (new cells,
starting over when full, wide characters, colour glyphs, rows of other widths) must give the
same pixels as drawing each cell on its own."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QFont, QFontMetricsF
from pytestqt.qtbot import QtBot

from c3desk.terminal import TerminalModel
from c3desk.terminal.style import DEFAULT_STYLE, Style
from c3desk.ui.cell_atlas import CellAtlas, GlyphRaster, frame_array
from c3desk.ui.palette import palette_for

COLS, ROWS = 24, 6


@pytest.fixture
def raster(qtbot: QtBot) -> GlyphRaster:
    fonts = []
    for variant in range(4):
        font = QFont()
        font.setFamilies(["DejaVu Sans Mono", "Noto Sans CJK SC", "Noto Color Emoji"])
        font.setPointSizeF(10.5)
        font.setBold(bool(variant & 1))
        font.setItalic(bool(variant & 2))
        fonts.append(font)
    m = QFontMetricsF(fonts[0])
    cw, ch = round(m.horizontalAdvance("M")), int(m.height() + 0.999)
    return GlyphRaster(fonts, cw, ch, round(m.ascent()))


def screen_rows(
    data: bytes, cols: int = COLS, rows: int = ROWS
) -> list[tuple[int, object, object]]:
    model = TerminalModel(cols, rows, 100)
    model.feed(data)
    return [(y, *model.row(y)) for y in range(rows)]


def compose(
    atlas: CellAtlas, rows: list[tuple[int, object, object]], cols: int = COLS
) -> np.ndarray:
    cwp, chp = atlas.cell_size
    frame = frame_array(cols, ROWS, cwp, chp, (0, 0, 0))
    atlas.compose(frame.reshape(ROWS, chp, cols, cwp), rows)  # type: ignore[arg-type]
    return frame


def cell(frame: np.ndarray, atlas: CellAtlas, x: int, y: int) -> np.ndarray:
    cwp, chp = atlas.cell_size
    return frame[y * chp : (y + 1) * chp, x * cwp : (x + 1) * cwp]


def colourful(data: bytes) -> bytes:
    """Rows of words, each word its own 24-bit colour (many styles) and some backgrounds."""
    out = b""
    for y in range(ROWS):
        out += b"\x1b[%d;1H" % (y + 1)
        for x in range(0, COLS, 4):
            out += b"\x1b[38;2;%d;%d;%dm" % (x * 10 % 256, y * 40, 255 - x * 9)
            if (x + y) % 3 == 0:
                out += b"\x1b[48;2;%d;30;30m" % (y * 30)
            out += data[(x + y) % len(data) :][:4].ljust(4, b".")
    return out


def test_a_full_atlas_starts_over_and_draws_the_same_pixels(raster: GlyphRaster) -> None:
    palette = palette_for("dark")
    rows = screen_rows(colourful(b"atlas cells start over when full"))
    expected = compose(CellAtlas(raster, palette), rows)

    small = CellAtlas(raster, palette)
    small.capacity = COLS + 4  # a row fits; a screen does not
    got = compose(small, rows)
    assert small.resets >= 2
    assert np.array_equal(got, expected)

    few_styles = CellAtlas(raster, palette)
    few_styles.MAX_STYLES = 8
    assert np.array_equal(compose(few_styles, rows), expected)
    assert few_styles.resets >= 1


def test_cells_are_made_once_and_shared(raster: GlyphRaster) -> None:
    atlas = CellAtlas(raster, palette_for("dark"))
    rows = screen_rows(b"\x1b[31mab\x1b[0mab")
    compose(atlas, rows)
    assert atlas.cells_drawn == 5  # red a and b, default a and b, and one blank for the rest
    compose(atlas, screen_rows(b"\x1b[31mba\x1b[0mbac"))
    assert atlas.cells_drawn == 6  # only the default "c" is new


def test_a_cell_blends_its_glyph_between_its_colours(raster: GlyphRaster) -> None:
    atlas = CellAtlas(raster, palette_for("dark"))
    frame = compose(atlas, screen_rows(b"\x1b[38;2;255;0;0;48;2;0;0;255mW \x1b[0m"))
    w = cell(frame, atlas, 0, 0)
    red = (w >> 16) & 255
    blue = w & 255
    assert (red + blue <= 256).all() and (red + blue >= 254).all()  # every pixel between the two
    assert red.max() == 255 and blue.max() == 255  # full glyph and full background both occur
    space = cell(frame, atlas, 1, 0)
    assert (space == 0xFF0000FF).all()  # a blank is all background


def blend(
    raster: GlyphRaster, mask_id: int, fg: tuple[int, int, int], bg: tuple[int, int, int]
) -> np.ndarray:
    """One cell as the atlas should make it, pixel by pixel (a reference, written plainly)."""
    coverage = raster.bank[mask_id]
    out = np.zeros(coverage.shape, dtype=np.uint32)
    for y in range(coverage.shape[0]):
        for x in range(coverage.shape[1]):
            a = int(coverage[y, x])
            r, g, b = (round(bg[i] + (fg[i] - bg[i]) * a / 255) for i in range(3))
            out[y, x] = 0xFF000000 | r << 16 | g << 8 | b
    return out


def test_wide_characters_span_two_cells(raster: GlyphRaster) -> None:
    palette = palette_for("light")
    atlas = CellAtlas(raster, palette)
    frame = compose(atlas, screen_rows("中x".encode()))
    left, right = cell(frame, atlas, 0, 0), cell(frame, atlas, 1, 0)
    fg, bg = palette.foreground, palette.background
    left_mask = raster.mask_id("中", 0, 0, False, 0)
    right_mask = raster.mask_id("中", 0, 0, False, 1)
    assert left_mask > 0 and right_mask > 0 and left_mask != right_mask
    assert raster.bank[right_mask].max() > 128  # the glyph reaches well into its second cell
    assert np.abs(left.astype(np.int64) - blend(raster, left_mask, fg, bg)).max() <= 0x010101
    assert np.abs(right.astype(np.int64) - blend(raster, right_mask, fg, bg)).max() <= 0x010101


def test_emoji_keep_their_colours(raster: GlyphRaster) -> None:
    atlas = CellAtlas(raster, palette_for("dark"))
    frame = compose(atlas, screen_rows("\U0001f600".encode()))
    px = np.concatenate([cell(frame, atlas, 0, 0), cell(frame, atlas, 1, 0)], axis=1)
    r, b = (px >> 16) & 255, px & 255
    assert ((r.astype(int) - b) > 80).any()  # yellow: not a grey mask tinted with the text colour
    assert raster.mask_id("\U0001f600", 0, 0, False, 0) == -1


def test_rows_of_other_widths_are_cut_or_filled(raster: GlyphRaster) -> None:
    atlas = CellAtlas(raster, palette_for("dark"))
    red = Style(fg=1)
    rows = [(0, "short", red), (1, "x" * (COLS + 10), (DEFAULT_STYLE,) * (COLS + 10))]
    frame = compose(atlas, rows)  # type: ignore[arg-type]
    reference = compose(
        CellAtlas(raster, palette_for("dark")),
        [
            (0, "short".ljust(COLS), (red,) * 5 + (DEFAULT_STYLE,) * (COLS - 5)),
            (1, "x" * COLS, DEFAULT_STYLE),
        ],
    )
    assert np.array_equal(frame, reference)


def test_a_glyph_bigger_than_its_cell_is_scaled_into_it(raster: GlyphRaster) -> None:
    # "※" (one cell wide) comes from a CJK fallback font, drawn a full em wide: clipped, only its
    # left part would show. Scaled into the cell it keeps its square shape.
    atlas = CellAtlas(raster, palette_for("dark"))
    compose(atlas, screen_rows("  \u203b  note".encode()))
    mask = raster.bank[raster.mask_id("\u203b", 0, 0, False, 0)]
    columns = np.flatnonzero((mask > 96).any(axis=0))
    rows = np.flatnonzero((mask > 96).any(axis=1))
    width, height = columns.max() - columns.min() + 1, rows.max() - rows.min() + 1
    assert width >= 0.6 * raster.cwp  # all of it across the cell
    assert height <= width + 2  # scaled as a whole: as tall as wide, not a clipped em
