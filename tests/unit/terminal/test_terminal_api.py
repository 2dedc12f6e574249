"""The renderer-facing API of TerminalModel."""

from __future__ import annotations

from c3desk.terminal import DEFAULT_STYLE, CursorState, Notification, Run, Style, TerminalModel

CSI = "\x1b["
ESC = "\x1b"


def feed(m: TerminalModel, text: str) -> TerminalModel:
    m.feed(text.encode())
    return m


def test_row_runs_group_cells_by_style() -> None:
    m = feed(TerminalModel(10, 2), f"ab{CSI}1;38;2;1;2;3mcd{CSI}0m中e")
    red = Style(fg=(1, 2, 3), bold=True)
    assert m.row_runs(0) == [
        Run(0, 2, "ab", DEFAULT_STYLE),
        Run(2, 2, "cd", red),
        Run(4, 6, "中e   ", DEFAULT_STYLE),
    ]
    assert m.row_runs(1) == [Run(0, 10, " " * 10, DEFAULT_STYLE)]


def test_styles_are_shared_and_hashable() -> None:
    m = feed(TerminalModel(10, 2), f"{CSI}31mab{CSI}0m {CSI}31mc")
    a, c = m.cell(0, 0)[1], m.cell(3, 0)[1]
    assert a is c
    assert {a: 1}[Style(fg=1)] == 1


def test_cursor_position_and_visibility() -> None:
    m = feed(TerminalModel(10, 3), f"{CSI}2;4H")
    assert m.cursor == CursorState(3, 1, True)
    feed(m, f"{CSI}?25l")
    assert m.cursor.visible is False
    feed(m, f"{CSI}?25h{CSI}1;1H{'x' * 10}")
    assert m.cursor == CursorState(9, 0, True)  # pending wrap is shown in the last column


def test_take_dirty_reports_changed_rows_once() -> None:
    m = TerminalModel(10, 4)
    m.take_dirty()
    feed(m, f"{CSI}3;1Hx")
    assert m.take_dirty() == {2}
    assert m.take_dirty() == set()
    feed(m, f"{CSI}4;1H\n")
    assert m.take_dirty() == {0, 1, 2, 3}


def test_modes() -> None:
    m = TerminalModel(10, 3)
    assert m.modes.mouse_tracking == 0
    feed(m, f"{CSI}?2004h{CSI}?1002h{CSI}?1006h{CSI}?1004h{CSI}?1h{CSI}?2026h{ESC}=")
    modes = m.modes
    assert modes.bracketed_paste and modes.mouse_sgr and modes.focus_events
    assert modes.app_cursor and modes.synchronized_output and modes.app_keypad
    assert modes.mouse_tracking == 1002
    feed(m, f"{CSI}?1003h")
    assert m.modes.mouse_tracking == 1003
    feed(m, f"{CSI}?1003l{CSI}?2004l{CSI}?1006l{CSI}?1004l{CSI}?1l{CSI}?2026l{ESC}>")
    modes = m.modes
    assert modes.mouse_tracking == 0
    assert not (modes.bracketed_paste or modes.mouse_sgr or modes.focus_events)
    assert not (modes.app_cursor or modes.synchronized_output or modes.app_keypad)
    feed(m, f"{CSI}5 q")
    assert m.modes.cursor_shape == 5


def test_title_and_version() -> None:
    m = feed(TerminalModel(10, 3), f"{ESC}]0;one\x07")
    v = m.title_version
    feed(m, f"{ESC}]2;two{ESC}\\")
    assert (m.title, m.title_version) == ("two", v + 1)


def test_bell_counts() -> None:
    m = feed(TerminalModel(10, 3), "a\x07b\x07")
    assert m.bell_count == 2
    assert m.display[0].startswith("ab")


def test_notifications_are_captured_sanitized() -> None:
    m = feed(
        TerminalModel(10, 3),
        f"{ESC}]9;Build done\x01\x07{ESC}]777;notify;Claude;needs input\x07"
        f"{ESC}]99;i=1:d=0;hello{ESC}\\{ESC}]9;4;1;50\x07",
    )
    assert m.take_notifications() == [
        Notification("osc9", "", "Build done"),
        Notification("osc777", "Claude", "needs input"),
        Notification("osc99", "", "hello"),
    ]
    assert m.take_notifications() == []
    assert m.display[0] == " " * 10


def test_scrollback_runs_keep_styles() -> None:
    m = feed(TerminalModel(6, 2), f"{CSI}32mgreen{CSI}0m\r\nplain\r\nlast")
    assert m.scrollback_len == 1
    assert m.scrollback_runs(0) == [
        Run(0, 5, "green", Style(fg=2)),
        Run(5, 1, " ", DEFAULT_STYLE),
    ]
    feed(m, "\r\n")
    assert m.scrollback_text(1) == "plain "
    assert m.scrollback_runs(1) == [Run(0, 6, "plain ", DEFAULT_STYLE)]
    assert len(list(m.iter_scrollback())) == 2
    m.clear_scrollback()
    assert m.scrollback_len == 0


def test_resize_keeps_cursor_row_and_pushes_top_rows_to_scrollback() -> None:
    m = feed(TerminalModel(10, 4), "1\r\n2\r\n3\r\n4 wide 中")
    m.take_dirty()
    m.resize(8, 2)
    assert (m.cols, m.rows) == (8, 2)
    assert m.display == ["3       ", "4 wide  "]  # the wide char cut at the edge is blanked
    assert [m.scrollback_text(i).strip() for i in range(m.scrollback_len)] == ["1", "2"]
    assert m.cursor.y == 1
    assert m.take_dirty() == {0, 1}
    m.resize(12, 3)
    assert m.display == ["3           ", "4 wide      ", " " * 12]
    feed(m, "\tX")
    assert m.display[1] == "4 wide  X   "


def test_resize_with_alternate_screen() -> None:
    m = feed(TerminalModel(6, 3), f"main{CSI}?1049halt")
    m.resize(4, 2)
    feed(m, f"{CSI}?1049l")
    assert m.display == ["main", "    "]


def test_feed_split_inside_utf8_and_escapes() -> None:
    data = f"a中{CSI}31mb{ESC}]0;t\x07c".encode()
    m = TerminalModel(10, 2)
    for i in range(len(data)):
        m.feed(data[i : i + 1])
    assert m.display[0] == "a中bc     "
    assert m.cell(4, 0)[1] == Style(fg=1)
    assert m.title == "t"


def test_dec_line_drawing_charset() -> None:
    m = feed(TerminalModel(10, 2), f"{ESC}(0lqk{ESC}(Bq")
    assert m.display[0] == "┌─┐q      "


def test_insert_mode_shifts_text() -> None:
    m = feed(TerminalModel(10, 2), f"world\r{CSI}4hhello {CSI}4l")
    assert m.display[0] == "hello worl"


def test_autowrap_off_overwrites_last_column() -> None:
    m = feed(TerminalModel(5, 2), f"{CSI}?7labcdefg")
    assert m.display == ["abcdg", "     "]


def test_combining_characters_join_the_previous_cell() -> None:
    m = feed(TerminalModel(6, 2), "e\u0301a\u0308!")
    assert m.display[0] == "éä!   "


def test_restoring_the_cursor_keeps_its_current_visibility() -> None:
    m = feed(TerminalModel(10, 3), f"{CSI}?25l{CSI}?1049h{CSI}?25h{CSI}?1049l")
    assert m.cursor.visible is True
    feed(m, f"{ESC}7{CSI}?25l{ESC}8")
    assert m.cursor.visible is False


def test_resetting_any_mouse_mode_turns_reporting_off() -> None:
    m = feed(TerminalModel(10, 3), f"{CSI}?1002h{CSI}?1000l")
    assert m.modes.mouse_tracking == 0


def test_dirty_rows_stay_within_the_screen_after_shrinking() -> None:
    m = feed(TerminalModel(5, 6), "x")
    m.resize(5, 3)
    assert m.take_dirty() == {0, 1, 2}
    feed(m, "\r\n\r\n\r\n")
    assert m.take_dirty() == {0, 1, 2}


def test_lines_pushed_counts_every_line_ever_pushed() -> None:
    m = TerminalModel(10, 3, history=5)
    feed(m, "\r\n".join(f"l{i}" for i in range(12)))
    assert m.lines_pushed == 9  # twelve lines on a three-row screen
    assert m.scrollback_len == 5  # bounded; the count is not
    feed(m, f"{CSI}3J")
    assert m.scrollback_len == 0
    assert m.lines_pushed == 9
    feed(m, "\r\nx")
    assert m.lines_pushed == 10


def test_styles_are_interned_across_models() -> None:
    a = feed(TerminalModel(10, 1), f"{CSI}38;2;1;2;3;1mab")
    b = feed(TerminalModel(10, 1), f"{CSI}1m{CSI}38;2;1;2;3mab")
    assert a.cell(0, 0)[1] is b.cell(0, 0)[1]
    # Erased cells take an interned background-only style too.
    c = feed(TerminalModel(10, 1), f"{CSI}44m{CSI}K")
    d = feed(TerminalModel(10, 1), f"{CSI}1;44m{CSI}K")
    assert c.cell(5, 0)[1] is d.cell(5, 0)[1]


def test_row_runs_merge_equal_styles_held_by_distinct_objects() -> None:
    m = TerminalModel(6, 1)
    chars, styles = m.screen.row(0)
    chars[:] = list("abcdef")
    styles[:] = [Style(fg=1)] * 2 + [Style(fg=1)] * 2 + [Style(fg=2)] * 2
    assert styles[0] is not styles[2]
    assert m.row_runs(0) == [Run(0, 4, "abcd", Style(fg=1)), Run(4, 2, "ef", Style(fg=2))]


def test_row_runs_match_cells() -> None:
    m = feed(
        TerminalModel(12, 1),
        f"{CSI}31ma{CSI}32m中b{CSI}0m {CSI}7mcd{CSI}0m{CSI}44m  {CSI}0mx",
    )
    runs = m.row_runs(0)
    assert [r.col for r in runs] == [0, 1, 4, 5, 7, 9]
    assert sum(r.width for r in runs) == 12
    assert "".join(r.text for r in runs) == "a中b cd  x  "
    cells = m.row_cells(0)
    for r in runs:
        assert all(cells[x][1] == r.style for x in range(r.col, r.col + r.width))
        assert r.text == "".join(c for c, _ in cells[r.col : r.col + r.width])


def test_soft_wrap_flags_follow_rows_into_scrollback() -> None:
    m = feed(TerminalModel(5, 3, history=10), "abcdefgh\r\nxy")
    assert [m.row_wrapped(y) for y in range(3)] == [True, False, False]
    feed(m, "\r\n1\r\n2")  # two lines scroll off: "abcde" (wrapped) then "fgh"
    assert m.scrollback_len == 2
    assert [m.scrollback_wrapped(i) for i in range(2)] == [True, False]
    assert [m.row_wrapped(y) for y in range(3)] == [False, False, False]


def test_soft_wrap_flag_cleared_when_the_row_is_erased_or_replaced() -> None:
    m = feed(TerminalModel(4, 3), "abcdef")
    assert m.row_wrapped(0)
    feed(m, f"{CSI}1;1H{CSI}2K")
    assert not m.row_wrapped(0)
    feed(m, f"{CSI}1;1Habcdef")
    assert m.row_wrapped(0)
    feed(m, f"{CSI}2J")
    assert not m.row_wrapped(0)
    # A wide character that does not fit moves to the next line: the row wraps.
    w = feed(TerminalModel(4, 2), "abc中")
    assert w.row_wrapped(0) and w.display[1].startswith("中")
    feed(w, f"{CSI}3J")
    assert w.scrollback_len == 0


def test_release_caches_empties_them_and_the_model_still_works() -> None:
    """A finished session's model lets go of its parsing caches (the engine keeps such models
    for their last screen: each held a few MB of them in benchmarks/soak.py)."""
    model = TerminalModel(40, 5, history=100)
    for n in range(50):
        model.feed(f"\x1b[3{n % 8}m─── line {n} ───\x1b[0m │ ✓\r\n".encode())
    screen_before = model.display
    assert model.screen._layout_cache and model.screen._sgr_cache
    model.release_caches()
    assert not model.screen._layout_cache and not model.screen._sgr_cache
    assert model.display == screen_before
    model.feed("\x1b[32m─── after ───\x1b[0m".encode())
    assert "─── after ───" in model.display[-1]


def test_a_dropped_terminal_is_freed_at_once_not_at_the_next_full_collection() -> None:
    """No reference cycle inside a model: its screen (rows and scrollback, the bulk of it) goes
    when the last reference does. pyte's unused parser generator once held the stream, and
    through it the screen, until a full garbage collection: 14 dropped terminals at a time in
    the 10-minute soak."""
    import gc
    import weakref

    m = TerminalModel(80, 24, history=100)
    m.feed(b"hi \x1b[31mred\x1b[0m\r\n" * 50)
    m.feed(b"\x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\x1b[?1049h\x1b[2J\x1b[?1049l")
    m.feed("\x1b[5n wide 世界 e\u0301\r\n".encode())
    m.take_answers()
    m.release_caches()
    screen, stream = weakref.ref(m.screen), weakref.ref(m.stream)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del m
        assert screen() is None
        assert stream() is None
    finally:
        if enabled:
            gc.enable()
