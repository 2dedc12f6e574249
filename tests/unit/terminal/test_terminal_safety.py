"""Safety: only fixed numeric answers, bounded state under hostile output, random bytes."""

from __future__ import annotations

import logging

import pytest
from helpers.hostile import ANSWERED, CSI, ESC, UNANSWERED
from hypothesis import given, settings
from hypothesis import strategies as st

from c3desk.terminal import TerminalModel
from c3desk.terminal.screen import CELL_TEXT_MAX
from c3desk.terminal.stream import CSI_CAP, STRING_CAP


def feed(m: TerminalModel, text: str) -> TerminalModel:
    m.feed(text.encode())
    return m


def held(m: TerminalModel) -> int:
    """Characters the stream carries between feeds."""
    stream = m.stream
    string = stream._string
    return len(stream._pending) + (string.length if string and not string.overflow else 0)


@pytest.mark.parametrize("query", UNANSWERED)
def test_no_answer_is_taken_from_output(query: str) -> None:
    m = feed(TerminalModel(20, 4), f"{ESC}]0;secret title\x07" + query)
    assert m.take_answers() == b""


@pytest.mark.parametrize(("query", "answer"), ANSWERED)
def test_fixed_numeric_answers(query: str, answer: bytes) -> None:
    m = feed(TerminalModel(20, 4), query)
    assert m.take_answers() == answer
    assert m.take_answers() == b""


def test_a_million_combining_marks_cost_linear_time_and_a_small_cell() -> None:
    """Each mark used to be joined to its cell (and the cell normalised) one at a time: 10,000
    marks in one read took 11 s, a million would hang the session's terminal."""
    m = TerminalModel(20, 4)
    m.feed(b"a" + "\u0301".encode() * 1_000_000)
    m.feed("\u0301".encode() * 100_000 + b"b" + "\u0302".encode() * 50_000 + b"ok")
    cells = [c for row in m.screen._chars for c in row]
    assert max(len(c) for c in cells) <= CELL_TEXT_MAX
    assert m.display[0].startswith("\u00e1") and "ok" in m.display[0]


def test_answers_are_bounded_when_never_read() -> None:
    m = feed(TerminalModel(20, 4), f"{CSI}6n" * 20_000)
    assert len(m.take_answers()) <= 64 * 1024 + 16


def test_oversized_osc_is_dropped_and_memory_stays_flat() -> None:
    m = TerminalModel(20, 4)
    m.feed(f"{ESC}]0;".encode())
    for _ in range(16):  # 1 MB of title in 64 KiB chunks
        m.feed(b"A" * 65536)
        assert held(m) <= STRING_CAP
    m.feed(b"\x07after")
    assert m.title == ""
    assert m.display[0] == "after" + " " * 15


def test_oversized_osc_in_one_chunk_is_dropped() -> None:
    m = feed(TerminalModel(20, 4), f"{ESC}]2;{'B' * 1_000_000}\x07ok")
    assert m.title == ""
    assert m.display[0].startswith("ok")


def test_endless_csi_is_bounded_and_the_model_recovers() -> None:
    m = TerminalModel(20, 4)
    m.feed(b"\x1b[")
    for _ in range(64):
        m.feed(b"1;" * 8192)
        assert held(m) <= CSI_CAP
    m.feed(b"mafter")
    assert m.display[0] == "after" + " " * 15
    assert m.cursor_style.bold is False


def test_unterminated_dcs_is_bounded() -> None:
    m = TerminalModel(20, 4)
    m.feed(b"\x1bP")
    for _ in range(32):
        m.feed(b"q" * 65536)
        assert held(m) == 0
    m.feed(b"\x1b\\ok")
    assert m.display[0] == "ok" + " " * 18


def test_save_cursor_stack_is_bounded() -> None:
    m = feed(TerminalModel(20, 4), f"{ESC}7" * 10_000)
    assert len(m.screen.savepoints) <= 32


def test_huge_counts_are_clamped() -> None:
    m = feed(TerminalModel(20, 4), f"x{CSI}99999999999b{CSI}99999999L{CSI}999999S{CSI}99999@ok")
    assert len(m.display) == 4
    assert "ok" in "".join(m.display)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(1, 30), st.integers(1, 10))
def test_random_bytes_never_raise(chunks: list[bytes], cols: int, rows: int) -> None:
    m = TerminalModel(cols, rows, history=20)
    errors: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = errors.append  # type: ignore[method-assign]
    logger = logging.getLogger("c3desk.terminal.stream")
    logger.addHandler(handler)
    try:
        for chunk in chunks:
            m.feed(chunk)
            # Carried state is bounded, so each feed costs O(len(chunk) + cap): linear overall.
            assert held(m) <= max(CSI_CAP, STRING_CAP)
        m.resize(max(1, cols - 3), rows + 2)
        m.feed(b"still works")
    finally:
        logger.removeHandler(handler)
    assert errors == []
    assert len(m.display) == rows + 2
    assert all(len(row) >= 0 for row in m.display)
    for y in range(m.rows):
        assert sum(r.width for r in m.row_runs(y)) == m.cols


_ESCAPEY = st.lists(
    st.sampled_from(
        [
            b"\x1b",
            b"[",
            b"]",
            b"P",
            b"?",
            b";",
            b":",
            b"1",
            b"2",
            b"m",
            b"H",
            b"h",
            b"\x07",
            b"\\",
            b"\x9b",
            b"\x9d",
            b"\xc2",
            b"\xe4\xb8\xad",
            b"\x18",
            b"\n",
            b"\r",
            b"a",
            b"$",
            b" ",
            b">",
        ]
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(_ESCAPEY, st.integers(0, 200))
def test_escape_heavy_noise_never_raises(parts: list[bytes], cut: int) -> None:
    data = b"".join(parts)
    m = TerminalModel(12, 4, history=10)
    m.feed(data[:cut])
    m.feed(data[cut:])
    assert held(m) <= max(CSI_CAP, STRING_CAP)
    assert len(m.display) == 4


def test_bare_ansi_mode_numbers_cannot_resize_or_reverse() -> None:
    m = feed(TerminalModel(20, 4), f"{CSI}96h{CSI}160h{CSI}3h{CSI}?3h{CSI}?5hx")
    assert (m.cols, m.rows) == (20, 4)
    assert m.cell(0, 0)[1].reverse is False


def test_string_terminator_split_by_ignored_bytes() -> None:
    m = TerminalModel(10, 2)
    for part in (b"\x1b]0;abc\x1b", b"\x7f", b"\\x"):
        m.feed(part)
    assert m.title == "abc"
    assert m.display[0] == "x" + " " * 9


def test_oversized_parameters_clamp_like_pyte() -> None:
    m = feed(TerminalModel(20, 5), f"{CSI}99999999999999;99999999999H")
    assert m.cursor[:2] == (19, 4)
