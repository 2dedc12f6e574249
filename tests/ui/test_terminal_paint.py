"""The terminal view's painting parts on their own: the cell font, the frame image that
composes only rows whose content changed, the regions repainted and the cursor's snapshot."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRect
from PySide6.QtGui import QColor, QFontMetricsF

from c3desk.terminal import TerminalModel
from c3desk.ui.palette import palette_for
from c3desk.ui.terminal_paint import (
    BAR,
    BLOCK,
    PADDING,
    UNDERLINE,
    FrameImage,
    cell_font,
    cursor_rect,
    rows_region,
    snap_cursor,
)


def test_cell_font_advances_exactly_one_cell_per_character(qapp: QObject) -> None:
    font = cell_font("DejaVu Sans Mono", 10.5)
    assert len(font.fonts) == 4
    assert [(f.bold(), f.italic()) for f in font.fonts] == [
        (False, False),
        (True, False),
        (False, True),
        (True, True),
    ]
    for f in font.fonts:
        # Letter spacing rounds every advance to the whole-pixel cell: a run is one draw.
        assert QFontMetricsF(f).horizontalAdvance("M" * 10) == 10 * font.cw
    assert 0 < font.ascent <= font.ch


def test_frame_image_composes_only_rows_whose_content_changed(qapp: QObject) -> None:
    model = TerminalModel(20, 4, 100)
    font = cell_font("DejaVu Sans Mono", 10.5)
    palette = palette_for("dark")
    frame = FrameImage()
    assert frame.ensure(font, palette, 1.0, model.cols, model.rows)  # new: draw every row
    assert not frame.image.isNull()
    assert frame.draw_rows(model, 0, range(4)) == [0, 1, 2, 3]
    assert frame.rows_painted == 4

    assert not frame.ensure(font, palette, 1.0, model.cols, model.rows)
    model.feed(b"\x1b[2;1Hhello")
    assert frame.draw_rows(model, 0, range(4)) == [1]  # the others show what they showed
    assert (frame.rows_painted, frame.rows_unchanged) == (5, 3)
    cw, ch = frame.atlas.cell_size if frame.atlas is not None else (0, 0)
    ink = {frame.image.pixel(x, ch + y) for x in range(5 * cw) for y in range(ch)}
    assert len(ink) > 1  # the text is in the image
    background = QColor(*palette.background).rgb()
    assert {frame.image.pixel(x, 0) for x in range(20 * cw)} == {background}

    model.resize(30, 4)
    assert frame.ensure(font, palette, 1.0, model.cols, model.rows)  # a new size: a new image
    assert frame.cols == 30
    assert frame.ensure(font, palette_for("light"), 1.0, model.cols, model.rows)


def test_rows_region_is_one_rectangle_per_span() -> None:
    region = rows_region([0, 1, 2, 5, 7, 8], 100, 10)
    assert list(region) == [  # type: ignore[call-overload]
        QRect(0, PADDING, 100, 30),
        QRect(0, PADDING + 50, 100, 10),
        QRect(0, PADDING + 70, 100, 20),
    ]
    assert rows_region([], 100, 10).isEmpty()


def test_cursor_snapshot_and_its_cell(qapp: QObject) -> None:
    model = TerminalModel(20, 4, 100)
    font = cell_font("DejaVu Sans Mono", 10.5)
    model.feed("ab中".encode())
    model.feed(b"\x1b[1;3H")  # on the wide character
    cur = snap_cursor(model)
    assert (cur.x, cur.y, cur.text, cur.wide, cur.shape) == (2, 0, "中", True, BLOCK)
    assert cursor_rect(cur, 0, font) == QRect(PADDING + 2 * font.cw, PADDING, 2 * font.cw, font.ch)
    # Scrolled back two lines, the cursor's row is two rows further down.
    assert cursor_rect(cur, 2, font).y() == PADDING + 2 * font.ch
    model.feed(b"\x1b[5 q")
    assert snap_cursor(model).shape == BAR
    model.feed(b"\x1b[4 q")
    assert snap_cursor(model).shape == UNDERLINE
    model.feed(b"\x1b[?25l")
    assert not snap_cursor(model).visible
