"""The selection gestures of the terminal view on their own, over a real terminal model's
scrollback and screen: click, drag, double click (words), triple click (lines), scrollback
dropping lines under a selection."""

from __future__ import annotations

from c3desk.terminal import TerminalModel
from c3desk.ui.selection import MouseSelection, SelectionMode, line_cells, line_wrapped

DOUBLE = 0.4  # the double-click interval these tests use


def selection_over(model: TerminalModel) -> MouseSelection:
    return MouseSelection(lambda n: line_cells(model, n), lambda n: line_wrapped(model, n))


def test_lines_are_scrollback_then_screen() -> None:
    model = TerminalModel(10, 3, 100)
    model.feed(b"one\r\ntwo\r\nthree\r\nfour\r\n0123456789ab")
    assert model.scrollback_len == 3
    assert "".join(line_cells(model, 0)).rstrip() == "one"
    assert "".join(line_cells(model, 3)).rstrip() == "four"  # the screen's first row
    assert line_cells(model, -1) == [] and line_cells(model, 6) == []
    assert line_wrapped(model, 4)  # "0123456789" runs on into "ab"
    assert not line_wrapped(model, 2) and not line_wrapped(model, 9)


def test_click_selects_nothing_and_drag_selects_text() -> None:
    model = TerminalModel(20, 3, 100)
    model.feed(b"hello world")
    sel = selection_over(model)
    sel.press((0, 2), now=10.0, double_interval=DOUBLE)
    assert sel.range is None and sel.release() == ""
    sel.press((0, 2), now=11.0, double_interval=DOUBLE)
    sel.drag((0, 7))
    assert sel.range == ((0, 2), (0, 7))
    assert sel.release() == "llo wo"
    assert not sel.selecting
    assert sel.text() == "llo wo"  # it stays selected after the release


def test_double_click_selects_a_word_and_a_third_click_the_line() -> None:
    model = TerminalModel(30, 3, 100)
    model.feed(b"cat /tmp/a-b.txt now")
    sel = selection_over(model)
    sel.double_press((0, 8), now=10.0)
    assert sel.selection is not None and sel.selection.mode is SelectionMode.WORD
    assert sel.text() == "/tmp/a-b.txt"
    sel.press((0, 8), now=10.1, double_interval=DOUBLE)  # soon after: lines
    assert sel.text() == "cat /tmp/a-b.txt now"
    sel.press((0, 8), now=10.2, double_interval=DOUBLE)  # a fourth: a plain click again
    assert sel.range is None


def test_selection_follows_its_text_and_clears() -> None:
    model = TerminalModel(10, 2, 100)
    model.feed(b"aaa\r\nbbb\r\nccc")
    sel = selection_over(model)
    sel.select((1, 0), (1, 2), SelectionMode.CHAR)
    assert sel.text() == "bbb"
    sel.shift(-1)  # scrollback dropped its oldest line
    assert sel.range == ((0, 0), (0, 2))
    assert sel.clear()
    assert sel.range is None and sel.text() == ""
    assert not sel.clear()  # nothing was selected
