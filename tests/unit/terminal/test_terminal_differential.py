"""Differential tests: on streams stock pyte handles correctly, TerminalModel.display equals
pyte.Screen.display exactly, whatever the split points."""

from __future__ import annotations

import re

import pyte
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyte.screens import wcwidth

from c3desk.terminal import TerminalModel

CSI = "\x1b["
_PIECES = re.compile(r"\x1b\[[^@-~]*[@-~]|\x1b.|.", re.DOTALL)
WIDE = "中文あ한"


def _pairs_intact(screen: pyte.Screen) -> bool:
    """pyte mishandles wide characters cut in half (it keeps orphan halves and clips a wide
    character in the last column); such streams are outside the comparison."""
    cols = screen.columns
    for y in range(screen.lines):
        line = screen.buffer[y]
        for x in range(cols):
            data = line[x].data
            if data == "":
                if x == 0 or wcwidth(line[x - 1].data[:1] or " ") != 2:
                    return False
            elif wcwidth(data[0]) == 2 and (x + 1 >= cols or line[x + 1].data != ""):
                return False
    return True


def _text(draw: st.DrawFn) -> str:
    alphabet = st.sampled_from("abcdefghij XYZ0123456789.,-" + WIDE)
    return "".join(draw(st.lists(alphabet, min_size=1, max_size=30)))


@st.composite
def _op(draw: st.DrawFn, rows: int, cols: int) -> str:
    n = st.integers(0, 6)
    kind = draw(st.integers(0, 15))
    if kind <= 4:
        return _text(draw)
    if kind == 5:
        return draw(st.sampled_from(["\r\n", "\n", "\r", "\b", "\t", "\x0b", "\x0c"]))
    if kind == 6:
        return f"{CSI}{draw(st.integers(0, rows + 2))};{draw(st.integers(0, cols + 2))}H"
    if kind == 7:
        return f"{CSI}{draw(n)}{draw(st.sampled_from('ABCDEFGd'))}"
    if kind == 8:
        return f"{CSI}{draw(st.sampled_from(['', '0', '1', '2']))}{draw(st.sampled_from('JK'))}"
    if kind == 9:
        return f"{CSI}{draw(n)}{draw(st.sampled_from('XP@LM'))}"
    if kind == 10:
        top = draw(st.integers(0, rows))
        return f"{CSI}{top};{draw(st.integers(top, rows + 1))}r"
    if kind == 11:
        return draw(st.sampled_from(["\x1bD", "\x1bM", f"{CSI}r"]))
    if kind == 12:
        sgr = st.sampled_from([0, 1, 3, 4, 7, 9, 22, 31, 42, 39, 49, 93])
        codes = draw(st.lists(sgr, max_size=4))
        return f"{CSI}{';'.join(map(str, codes))}m"
    if kind == 13:
        return f"{CSI}38;2;{draw(st.integers(0, 255))};1;2m{_text(draw)}{CSI}0m"
    if kind == 14:
        return f"{CSI}{draw(st.integers(1, cols + 1))}G"
    return f"{CSI}?7{draw(st.sampled_from('hl'))}"


@st.composite
def _case(draw: st.DrawFn) -> tuple[int, int, list[str], list[int]]:
    cols = draw(st.integers(3, 20))
    rows = draw(st.integers(1, 8))
    ops = draw(st.lists(_op(rows, cols), min_size=1, max_size=40))
    size = len("".join(ops).encode())
    cuts = draw(st.lists(st.integers(0, size), max_size=8))
    return cols, rows, ops, sorted(set(cuts))


def _stock(cols: int, rows: int, ops: list[str]) -> pyte.Screen:
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    for op in ops:
        for piece in _PIECES.findall(op):
            stream.feed(piece.encode())
            # pyte's IL/DL skip rows its sparse buffer never created; make every row exist so
            # the reference behaves as pyte means it to.
            for y in range(rows):
                screen.buffer[y]
            assume(_pairs_intact(screen))
    return screen


def _ours(cols: int, rows: int, data: bytes, cuts: list[int]) -> TerminalModel:
    model = TerminalModel(cols, rows, history=50)
    start = 0
    for cut in [*cuts, len(data)]:
        model.feed(data[start:cut])
        start = cut
    return model


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(_case())
def test_display_and_cursor_match_stock_pyte(case: tuple[int, int, list[str], list[int]]) -> None:
    cols, rows, ops, cuts = case
    stock = _stock(cols, rows, ops)
    ours = _ours(cols, rows, "".join(ops).encode(), cuts)
    assert ours.display == stock.display
    assert (ours.screen.cursor.x, ours.screen.cursor.y) == (stock.cursor.x, stock.cursor.y)


_PRINTABLE = st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cc", "Cs"))


@settings(max_examples=100, deadline=None)
@given(st.text(_PRINTABLE, max_size=200))
def test_printable_text_matches_stock_pyte(text: str) -> None:
    assume(all(wcwidth(c) == 1 for c in text))  # widths 0/2 are covered above and elsewhere
    stock = _stock(17, 5, [text]) if text else pyte.Screen(17, 5)
    ours = TerminalModel(17, 5)
    ours.feed(text.encode())
    assert ours.display == stock.display


def test_fixed_stream_matches_stock_pyte() -> None:
    data = (
        "hello world, a line that wraps past twenty columns\r\n"
        f"{CSI}1;31mred{CSI}0m and {CSI}4mplain{CSI}24m\r\n"
        f"{CSI}2;4r{CSI}4;1Ha\nb\nc\nd{CSI}M{CSI}L\x1bM\x1bM\x1bM\x1bD{CSI}r"
        f"{CSI}5;3H中文{CSI}4D{CSI}2P{CSI}1@{CSI}K{CSI}1;1H{CSI}1J"
    )
    stock = pyte.Screen(20, 6)
    stream = pyte.ByteStream(stock)
    for y in range(6):
        stock.buffer[y]
    stream.feed(data.encode())
    ours = TerminalModel(20, 6)
    ours.feed(data.encode())
    assert ours.display == stock.display
