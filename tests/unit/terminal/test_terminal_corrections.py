"""One test per correction TerminalModel makes beyond stock pyte."""

from __future__ import annotations

import pytest

from c3desk.terminal import DEFAULT_STYLE, Style, TerminalModel

CSI = "\x1b["
ESC = "\x1b"


def model(cols: int = 10, rows: int = 3, history: int = 100) -> TerminalModel:
    return TerminalModel(cols, rows, history)


def feed(m: TerminalModel, text: str) -> TerminalModel:
    m.feed(text.encode())
    return m


# -- alternate screen ------------------------------------------------------------------------


def test_alternate_screen_1049_keeps_main_screen_scrollback_and_cursor() -> None:
    m = feed(model(), "one\r\ntwo\r\nthree\r\nfour\r\nmain")
    before_display, before_scrollback = m.display, m.scrollback_len
    feed(m, f"{CSI}?1049h")
    assert m.alternate_screen
    assert m.display == [" " * 10] * 3
    feed(m, "alt text\r\n\r\n\r\n\r\nscrolled in alt")
    assert m.scrollback_len == before_scrollback
    feed(m, f"{CSI}?1049l")
    assert not m.alternate_screen
    assert m.display == before_display
    assert m.scrollback_len == before_scrollback
    assert m.cursor[:2] == (4, 2)


def test_alternate_screen_1047_clears_on_leave_and_47_keeps() -> None:
    m = feed(model(), f"main{CSI}?1047hALT")
    assert m.display[0] == "    ALT   "
    feed(m, f"{CSI}?1047l")
    assert m.display[0] == "main      "
    feed(m, f"{CSI}?1047h")
    assert m.display[0] == " " * 10  # cleared when left
    feed(m, f"{CSI}?1047l{CSI}?47h{CSI}Hkeep{CSI}?47l{CSI}?47h")
    assert m.display[0] == "keep      "
    feed(m, f"{CSI}?47l")
    assert m.display[0].startswith("main")


# -- private-parameter CSI forms -------------------------------------------------------------


@pytest.mark.parametrize(
    "seq",
    [">4;2m", "?u", ">1u", "<u", "=1;1u", "?2026$p", ">4m", "?1u", "=5u"],
)
def test_private_csi_forms_are_consumed_whole_and_harmless(seq: str) -> None:
    m = feed(model(), f"ab{CSI}{seq}cd")
    assert m.display[0] == "abcd      "
    assert m.cursor_style == DEFAULT_STYLE
    assert all(style == DEFAULT_STYLE for _, style in m.row_cells(0))


def test_modify_other_keys_does_not_underline() -> None:
    m = feed(model(), f"{CSI}>4;2mtext")
    assert m.cell(0, 0)[1].underline == 0


# -- SGR -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("38:2::10:20:30", Style(fg=(10, 20, 30))),
        ("38:2:10:20:30", Style(fg=(10, 20, 30))),
        ("48:5:200", Style(bg=200)),
        ("38;2;1;2;3", Style(fg=(1, 2, 3))),
        ("38;5;17;1", Style(fg=17, bold=True)),
        ("58:2::1:2:3;4:3", Style(underline=3)),
        ("58;5;9;2", Style(dim=True)),
        ("2", Style(dim=True)),
        ("4:3", Style(underline=3)),
        ("4:5", Style(underline=5)),
        ("21", Style(underline=2)),
        ("4;4:0", Style()),
        ("1;2;22", Style()),
        ("3;7;9", Style(italic=True, reverse=True, strikethrough=True)),
        ("91;104", Style(fg=9, bg=12)),
        ("31;0", Style()),
        ("48;2;4;5;6", Style(bg=(4, 5, 6))),
        ("38;2;256;0;0", Style()),
        ("38;2;1;2", Style()),
        ("38;5;300", Style()),
    ],
)
def test_sgr_colon_forms_dim_and_underline_styles(params: str, expected: Style) -> None:
    m = feed(model(), f"{CSI}{params}mX")
    assert m.cell(0, 0) == ("X", expected)


def test_sgr_applies_on_top_of_current_style() -> None:
    m = feed(model(), f"{CSI}1;4:3m{CSI}38;2;9;8;7mA{CSI}48;2;1;1;1mB{CSI}22;24mC")
    assert m.cell(0, 0)[1] == Style(fg=(9, 8, 7), bold=True, underline=3)
    assert m.cell(1, 0)[1] == Style(fg=(9, 8, 7), bg=(1, 1, 1), bold=True, underline=3)
    assert m.cell(2, 0)[1] == Style(fg=(9, 8, 7), bg=(1, 1, 1))


# -- strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seq",
    [
        f"{ESC}P1$r0m{ESC}\\",
        f"{ESC}Pq#0;2;0;0;0#1!14@{ESC}\\",
        f"{ESC}_Gf=100;AAAA{ESC}\\",
        f"{ESC}^privacy message{ESC}\\",
        f"{ESC}Xstart of string{ESC}\\",
        "\x90dcs 8-bit\x9c",
    ],
)
def test_dcs_apc_pm_sos_are_dropped(seq: str) -> None:
    m = feed(model(20), f"a{seq}b")
    assert m.display[0] == "ab" + " " * 18


@pytest.mark.parametrize("number", ["0", "1", "2", "4", "7", "8", "10", "11", "52", "133", "1337"])
def test_osc_of_any_number_is_consumed(number: str) -> None:
    m = feed(model(30), f"a{ESC}]{number};some;payload=x\x07b{ESC}]{number};st form{ESC}\\c")
    assert m.display[0] == "abc" + " " * 27


def test_osc_title_sets_title_without_controls_and_bounded() -> None:
    m = feed(model(), f"{ESC}]0;hello\x01\x7f\u0085 world\x07")
    assert m.title == "hello world"
    feed(m, f"{ESC}]2;{'x' * 1000}{ESC}\\")
    assert m.title == "x" * 256


def test_osc_title_split_across_feeds() -> None:
    m = model()
    for part in (f"{ESC}]0;spl", "it title", ESC, "\\after"):
        m.feed(part.encode())
    assert m.title == "split title"
    assert m.display[0] == "after     "


def test_osc8_hyperlink_is_not_drawn() -> None:
    m = feed(model(40), f"{ESC}]8;id=1;https://example.com/x\x07link{ESC}]8;;\x07 after")
    assert m.display[0] == "link after" + " " * 30


# -- characters ------------------------------------------------------------------------------


@pytest.mark.parametrize("joiner", ["\u200d", "\ufe0f"])
def test_zwj_and_vs16_do_not_drop_the_rest(joiner: str) -> None:
    m = feed(model(20), f"a\u2764{joiner}bc{joiner}def")
    assert m.display[0].replace(joiner, "").startswith("a\u2764bcdef")


def test_zwj_emoji_sequence_keeps_following_text() -> None:
    m = feed(model(20), "\U0001f468\u200d\U0001f469 ok")
    assert "ok" in m.display[0]


def test_wide_character_in_last_column_wraps() -> None:
    m = feed(model(5, 3), "abcd中")
    assert m.display[0] == "abcd "
    assert m.display[1] == "中   "  # the wide char plus its stub occupy two cells
    assert m.row_cells(1)[:2] == [("中", DEFAULT_STYLE), ("", DEFAULT_STYLE)]


def test_scroll_up_and_down() -> None:
    m = feed(model(3, 4), f"a\r\nb\r\nc\r\nd{CSI}2S")
    assert m.display == ["c  ", "d  ", "   ", "   "]
    feed(m, f"{CSI}T")
    assert m.display == ["   ", "c  ", "d  ", "   "]
    assert [m.scrollback_text(i) for i in range(m.scrollback_len)] == ["a  ", "b  "]


def test_rep_repeats_previous_character() -> None:
    m = feed(model(), f"{CSI}31mx{CSI}3b")
    assert m.display[0] == "xxxx      "
    assert m.cell(3, 0)[1].fg == 1


def test_hpa_moves_to_column() -> None:
    m = feed(model(), f"abc{CSI}7`Z")
    assert m.display[0] == "abc   Z   "


def test_ed3_clears_scrollback() -> None:
    m = feed(model(), "1\r\n2\r\n3\r\n4\r\n5")
    assert m.scrollback_len == 2
    feed(m, f"{CSI}3J")
    assert m.scrollback_len == 0


def test_cursor_forward_moves_without_erasing() -> None:
    m = feed(model(), f"abcdefgh\r{CSI}3CX")
    assert m.display[0] == "abcXefgh  "


# -- scrollback ------------------------------------------------------------------------------


def test_scrollback_is_bounded_by_history() -> None:
    m = model(history=5)
    feed(m, "".join(f"{i}\r\n" for i in range(20)))
    assert m.scrollback_len == 5
    assert [m.scrollback_text(i).strip() for i in range(5)] == ["13", "14", "15", "16", "17"]


def test_scrollback_inside_margins_at_the_top() -> None:
    m = feed(model(5, 4), f"{CSI}1;3r{CSI}1;1Ha\r\nb\r\nc\r\nd\r\ne")
    assert [m.scrollback_text(i).strip() for i in range(m.scrollback_len)] == ["a", "b"]
    assert m.display == ["c    ", "d    ", "e    ", "     "]


def test_no_scrollback_from_a_region_below_the_top() -> None:
    m = feed(model(5, 4), f"{CSI}2;4r{CSI}2;1Ha\r\nb\r\nc\r\nd\r\ne")
    assert m.scrollback_len == 0
