"""The usage-limit message on a screen (fixture screens: every wording seen, and look-alikes that
must never pause anything) and the reset time it names (12/24-hour, zones, the day after)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers.screens import read_fixture

from c3desk import clock
from c3desk.core.agents import BUILTIN_PROFILES, AgentsFileError, parse_profiles
from c3desk.core.limit_screen import AUTO_CONTINUE, find_limit, find_menu_key, parse_reset

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
CLAUDE = BUILTIN_PROFILES["claude"]
FIXTURES = sorted(SCREENS.glob("*/*.txt"))
LIMIT_FIXTURES = [p for p in FIXTURES if "usage-limit" in p.stem]


def _expected(path: Path) -> tuple[str | None, bool, str | None]:
    """(reset text without spaces, auto-continue, menu key) the fixture says it shows."""
    header, _ = read_fixture(path)
    if "__real-usage-limit-" in path.stem:
        # capture_real.py writes the reset its fake API sent, as the CLI names it.
        return header["limit"], False, "1" if "-menu-" in path.stem else None
    limit = header.get("limit", "none")
    return (
        None if limit == "none" else limit,
        header.get("limit-auto") == "yes",
        header.get("menu-key"),
    )


def test_every_wording_seen_in_the_wild_has_a_fixture_screen() -> None:
    texts = "\n".join(p.read_text(encoding="utf-8") for p in LIMIT_FIXTURES)
    for words in (
        "Claude usage limit reached. Your limit will reset at 3pm (America/Santiago).",
        "5-hour limit reached ∙ resets 18:00",
        "You've hit your limit · resets 10pm (America/New_York)",
        "You've hit your session limit · resets 8:30pm (Asia/Tokyo)",
        "You've hit your weekly limit · resets 3am (Europe/London)",
        "You're out of extra usage · resets 5pm (America/Los_Angeles)",
        "1. Stop and wait for limit to reset",
        "Usage limit reached · continuing automatically at 7pm · esc or type to cancel",
    ):
        assert words in texts, words
    lookalikes = [p for p in LIMIT_FIXTURES if "lookalike" in p.stem]
    assert len(lookalikes) >= 5


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_shows_a_usage_limit_only_where_labelled(path: Path) -> None:
    _, lines = read_fixture(path)
    profile = BUILTIN_PROFILES[path.parent.name]
    want, auto, key = _expected(path)
    found = find_limit(lines, profile)
    if want is None:
        assert found is None, found
    else:
        assert found is not None
        assert found.reset_text.replace(" ", "") == want
        assert found.auto_continue is auto
        parse_reset(found.reset_text, datetime(2026, 12, 7, 8, 0, tzinfo=UTC))  # readable
    assert find_menu_key(lines, profile) == key


RULE = "─" * 60
IDLE = ["", RULE, "❯", RULE, "  ? for shortcuts"]


@pytest.mark.parametrize(
    "rows",
    [
        # the agent's reply, first row and wrapped rows
        ["❯ hi", "", "● You've hit your limit · resets 3pm", *IDLE],
        ["❯ hi", "", "● Sure:", "  You've hit your session limit · resets 3pm (UTC)", *IDLE],
        ["❯ hi", "", "● Sure:", "", "  ⎿  You've hit your limit · resets 3pm", *IDLE],
        # a tool's output, first and later rows
        ["❯ hi", "", "● Bash(cat x)", "  ⎿  You've hit your limit · resets 3pm", *IDLE],
        ["● Bash(cat x)", "  ⎿  a", "     ⎿  You've hit your limit · resets 3pm", *IDLE],
        # the user typing it, or having sent it
        ["❯ hi", "", RULE, "❯\u00a0You've hit your limit · resets 3pm", RULE, "  ? for shortcuts"],
        ["❯ You've hit your limit · resets 3pm", "", "● OK.", *IDLE],
        ["> 5-hour limit reached ∙ resets 18:00", "", "● OK.", *IDLE],
        # a reply's markdown: a bullet, a quote, a result-like row under its bullet
        ["❯ hi", "", "● Two forms:", "  * You've hit your limit · resets 3pm", *IDLE],
        ["● Sure:", "  > hi", "  ⎿  You've hit your limit · resets 3pm", *IDLE],
        ["● Sure:", "  ⎿  a", "  ⎿  You've hit your limit · resets 3pm", *IDLE],
        # a dialog under a rule holds text the agent wrote: a command, a question
        [
            "● Bash(echo)",
            RULE,
            " Bash command",
            "   echo 'You've hit your limit · resets 3pm'",
            " Do you want to proceed?",
            " ❯ 1. Yes",
            "   2. No",
        ],
        [
            RULE,
            " ☐ Limit",
            " You've hit your limit · resets 3pm · what now?",
            " ❯ 1. Wait",
            "   2. Stop",
            " Enter to select · ↑/↓ to navigate · Esc to cancel",
        ],
    ],
)
def test_the_words_outside_the_clis_own_lines_are_refused(rows: list[str]) -> None:
    assert find_limit(rows, CLAUDE) is None


def test_the_clis_own_lines_are_found() -> None:
    result = ["❯ hi", "  ⎿  You've hit your limit · resets 3pm", *IDLE]
    assert find_limit(result, CLAUDE) is not None
    status = ["❯ hi", "", "✻ 5-hour limit reached ∙ resets 18:00", *IDLE]
    assert find_limit(status, CLAUDE) is not None
    footer = [
        "● Done.",
        "",
        RULE,
        "❯",
        RULE,
        "  Usage limit reached · continuing automatically at 7pm",
    ]
    found = find_limit(footer, CLAUDE)
    assert found is not None and found.reason == AUTO_CONTINUE and found.reset_text == "7pm"
    box = ["╭" + "─" * 40 + "╮", "│ > " + " " * 37 + "│", "╰" + "─" * 40 + "╯"]
    old_footer = ["● Done.", "", *box, "  ? for shortcuts      5-hour limit reached ∙ resets 18:00"]
    found = find_limit(old_footer, CLAUDE)
    assert found is not None and found.reset_text == "18:00"


def test_a_message_scrolled_far_above_the_bottom_is_not_read() -> None:
    rows = ["❯ hi", "  ⎿  You've hit your limit · resets 3pm"]
    rows += [f"● line {n}" for n in range(CLAUDE.dialog_tail)] + IDLE
    assert find_limit(rows, CLAUDE) is None
    assert find_limit(rows[:2] + IDLE, CLAUDE) is not None


# --- reset times -------------------------------------------------------------------------------

MORNING = datetime(2026, 12, 7, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "local", "want"),
    [
        ("3pm", UTC, datetime(2026, 12, 7, 15, 0, tzinfo=UTC)),
        ("3PM", UTC, datetime(2026, 12, 7, 15, 0, tzinfo=UTC)),
        ("7 p.m.", UTC, datetime(2026, 12, 7, 19, 0, tzinfo=UTC)),
        ("18:00", UTC, datetime(2026, 12, 7, 18, 0, tzinfo=UTC)),
        ("8:30pm (Asia/Tokyo)", UTC, datetime(2026, 12, 7, 11, 30, tzinfo=UTC)),
        ("10pm (America/New_York)", UTC, datetime(2026, 12, 8, 3, 0, tzinfo=UTC)),
        ("3pm (America/Santiago)", UTC, datetime(2026, 12, 7, 18, 0, tzinfo=UTC)),
        ("3am (Europe/London)", UTC, datetime(2026, 12, 8, 3, 0, tzinfo=UTC)),
        ("11:10am (UTC)", ZoneInfo("Asia/Tokyo"), datetime(2026, 12, 7, 11, 10, tzinfo=UTC)),
        ("12am", UTC, datetime(2026, 12, 8, 0, 0, tzinfo=UTC)),
        ("12pm", UTC, datetime(2026, 12, 7, 12, 0, tzinfo=UTC)),
        # without a zone: the worker's local time
        ("5pm", ZoneInfo("America/Los_Angeles"), datetime(2026, 12, 8, 1, 0, tzinfo=UTC)),
        ("18:00", timezone(timedelta(hours=2)), datetime(2026, 12, 7, 16, 0, tzinfo=UTC)),
        # a date: the next such day
        ("Dec 9, 5pm (UTC)", UTC, datetime(2026, 12, 9, 17, 0, tzinfo=UTC)),
        ("Nov 10, 5pm", UTC, datetime(2027, 11, 10, 17, 0, tzinfo=UTC)),
        ("at 3pm.", UTC, datetime(2026, 12, 7, 15, 0, tzinfo=UTC)),
    ],
)
def test_the_reset_is_the_next_such_time_after_detection(
    text: str, local: timezone, want: datetime
) -> None:
    reset = parse_reset(text, MORNING, local)
    assert reset.at == want
    assert reset.at.tzinfo == UTC


def test_a_time_already_past_today_is_tomorrow_and_the_zone_is_kept() -> None:
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert parse_reset("3pm", late, UTC).at == datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
    assert parse_reset("23:30", late, UTC).at == datetime(2026, 12, 8, 23, 30, tzinfo=UTC)
    tokyo = parse_reset("8:30pm (Asia/Tokyo)", late, UTC)
    assert tokyo.zone == "Asia/Tokyo"
    assert tokyo.at == datetime(2026, 12, 8, 11, 30, tzinfo=UTC)
    assert parse_reset("3pm", late, UTC).zone is None


def test_a_wall_time_skipped_by_daylight_saving_moves_forward() -> None:
    before = datetime(2027, 3, 14, 5, 0, tzinfo=UTC)  # New York, the night clocks spring forward
    reset = parse_reset("2:30am (America/New_York)", before)
    assert reset.at == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 3:30 EDT


def test_a_reset_without_a_zone_days_away_takes_that_days_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """This machine's zone is read with its rules, not as today's offset: in New York on
    Friday 2027-03-12 (EST, -5), "Mar 15, 3pm" is after the clocks sprang forward (EDT, -4)."""
    monkeypatch.setenv("TZ", "America/New_York")
    friday = datetime(2027, 3, 12, 17, 0, tzinfo=UTC)
    reset = parse_reset("Mar 15, 3pm", friday)
    assert (reset.at, reset.zone) == (datetime(2027, 3, 15, 19, 0, tzinfo=UTC), None)


def test_a_zone_name_c3desk_cannot_read_falls_back_to_the_offset_in_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Not/A_Zone")  # no such zone: no exception, the offset now
    assert clock.local_zone().utcoffset(None) == datetime.now().astimezone().utcoffset()


@pytest.mark.parametrize(
    "text", ["soon", "3", "25:00", "13pm", "0am", "3pm (Mars/Olympus)", "Foo 3, 5pm", "Feb 30, 5pm"]
)
def test_text_that_names_no_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_reset(text, MORNING, UTC)


def test_the_moment_of_detection_must_carry_its_zone() -> None:
    with pytest.raises(ValueError):
        parse_reset("3pm", datetime(2026, 12, 7, 8, 0), UTC)


# --- agents.toml -------------------------------------------------------------------------------


def test_agents_toml_overrides_and_extends_the_patterns() -> None:
    profiles = parse_profiles(
        "[claude]\n"
        "extra_usage_limit = ['^quota gone, back at (?P<reset>.+)$']\n"
        "usage_limit_prompt = 'go on'\n"
        "[mycli]\n"
        "usage_limit = [{ reason = 'auto-continue', pattern = '^  resuming at (?P<reset>.+)$' }]\n"
        "usage_limit_menu = '(?P<key>\\d)\\. Wait'\n"
    )
    claude = profiles["claude"]
    assert len(claude.usage_limit) == len(CLAUDE.usage_limit) + 1
    assert claude.usage_limit_prompt == "go on"
    assert claude.usage_limit_menu is CLAUDE.usage_limit_menu
    # Only where the CLI writes: the footer under the input box, not the conversation above.
    assert find_limit(["quota gone, back at 4pm", "", RULE, "❯", RULE, "  hints"], claude) is None
    found = find_limit(["● Done.", "", RULE, "❯", RULE, "quota gone, back at 4pm"], claude)
    assert found is not None and found.reset_text == "4pm"
    mine = profiles["mycli"]
    found = find_limit(["", RULE, "> ", RULE, "  resuming at 18:30"], mine)
    assert found is not None and found.auto_continue
    assert find_menu_key(["  2. Wait for it"], mine) == "2"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("[claude]\n\nusage_limit = ['limit hit']\n", "(?P<reset>", 3),
        ("[claude]\nextra_usage_limit = 'x'\n", "must be a list", 2),
        ("[claude]\nusage_limit = ['(?P<reset>(']\n", "bad regular expression", 2),
        ("[claude]\nusage_limit_menu = 'Wait'\n", "(?P<key>", 2),
        ("[claude]\nusage_limit_menu = 3\n", "must be a string", 2),
        ("[claude]\nusage_limit_prompt = '  '\n", "non-empty", 2),
    ],
)
def test_agents_toml_mistakes_name_the_line(text: str, message: str, line: int) -> None:
    with pytest.raises(AgentsFileError) as caught:
        parse_profiles(text)
    assert message in str(caught.value)
    assert caught.value.line == line


def test_profiles_without_patterns_never_see_a_limit() -> None:
    rows = ["❯ hi", "  ⎿  You've hit your limit · resets 3pm", *IDLE]
    for name in ("codex", "gemini", "aider", "shell"):
        assert find_limit(rows, BUILTIN_PROFILES[name]) is None


@pytest.mark.parametrize(
    ("row", "key"),
    [
        ("  ❯ 1. Stop and wait for limit to reset", "1"),
        ("    3. Stop and wait for limit to reset", "3"),
        ("    2. Stop", "2"),
        ("    2. Stop the build", None),
        ("● 1. Stop and wait for limit to reset", None),
    ],
)
def test_the_menu_row_that_waits_for_the_reset(row: str, key: str | None) -> None:
    assert find_menu_key(["  What do you want to do?", "", row], CLAUDE) == key
