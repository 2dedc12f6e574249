"""The screen classifier on labelled screens; the needs-input tracker with explicit times."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.screens import read_fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from c3desk.core.agents import BUILTIN_PROFILES, AgentProfile
from c3desk.core.detector import (
    Classification,
    NeedsInputTracker,
    classify,
)

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
CLAUDE = BUILTIN_PROFILES["claude"]


@dataclass(frozen=True)
class Screen:
    path: Path
    profile: str
    state: str
    reason: str
    kind: str | None
    approvable: bool
    cursor: int | None
    lines: list[str]


def load_screen(path: Path) -> Screen:
    """A fixture: `<state>__<reason>__<name>.txt`, optional `#: key=value` header lines."""
    header, lines = read_fixture(path)
    state, reason, _name = path.stem.split("__")
    return Screen(
        path=path,
        profile=path.parent.name,
        state=state,
        reason=reason,
        kind=header.get("kind"),
        approvable=header.get("approvable") == "yes",
        cursor=int(header["cursor"]) if "cursor" in header else None,
        lines=lines,
    )


FIXTURES = sorted(SCREENS.glob("*/*.txt"))


def test_fixture_set_covers_every_profile_and_state() -> None:
    screens = [load_screen(p) for p in FIXTURES]
    assert len(screens) >= 40
    for profile in ("claude", "codex", "gemini", "aider"):
        states = {s.state for s in screens if s.profile == profile}
        assert {"busy", "waiting", "idle"} <= states, profile
    assert {s.profile for s in screens} <= set(BUILTIN_PROFILES)
    claude_reasons = {s.reason for s in screens if s.profile == "claude" and s.state == "waiting"}
    for reason in ("edit", "write", "bash", "web-fetch", "mcp-tool", "folder-trust", "mcp-server"):
        assert reason in claude_reasons
    assert {"plan", "ask-user"} <= claude_reasons


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_is_classified_as_labelled(path: Path) -> None:
    screen = load_screen(path)
    result = classify(screen.lines, screen.cursor, BUILTIN_PROFILES[screen.profile])
    assert (result.state, result.reason) == (screen.state, screen.reason), result
    if screen.kind is not None:
        assert result.kind == screen.kind
    assert result.approvable is screen.approvable
    if result.state == "waiting":
        assert result.prompt_text


def test_prompt_text_holds_the_question_and_menu_without_box_drawing() -> None:
    screen = load_screen(SCREENS / "claude" / "waiting__bash__bash-box.txt")
    text = classify(screen.lines, None, CLAUDE).prompt_text
    assert "uv run pytest tests/test_retry.py -q" in text
    assert "Do you want to proceed?" in text
    assert "❯ 1. Yes" in text
    assert "│" not in text and "╰" not in text


# --- classify rules on small screens -------------------------------------------------------------

BOX = [
    "╭──────────────────────────────╮",
    "│ >                            │",
    "╰──────────────────────────────╯",
    "  ? for shortcuts",
]
PERMISSION = [
    "╭──────────────────────────────╮",
    "│ Bash command                 │",
    "│   make deploy                │",
    "│ Do you want to proceed?      │",
    "│ ❯ 1. Yes                     │",
    "│   2. No (esc)                │",
    "╰──────────────────────────────╯",
]


def test_permission_box_at_the_bottom_is_waiting_and_approvable() -> None:
    result = classify(["⏺ Bash(make deploy)", *PERMISSION, "", ""], None, CLAUDE)
    assert result == Classification("waiting", "bash", "tool-permission", True, result.prompt_text)


def test_permission_text_above_a_spinner_is_busy() -> None:
    lines = [*PERMISSION, "", "✻ Deploying… (3s · esc to interrupt)", "", *BOX]
    result = classify(lines, None, CLAUDE)
    assert result.state == "busy" and not result.approvable


def test_spinner_without_interrupt_hint_still_counts() -> None:
    lines = ["output", "", "✢ Spelunking… (4s · ↑ 1.1k tokens)", "", *BOX]
    assert classify(lines, None, CLAUDE).state == "busy"


def test_spinner_above_a_prompt_at_the_bottom_does_not_hide_it() -> None:
    lines = ["✻ Thinking… (esc to interrupt)", "", "⏺ Bash(make deploy)", *PERMISSION]
    assert classify(lines, None, CLAUDE).state == "waiting"


def test_permission_text_above_the_idle_box_is_idle() -> None:
    assert classify([*PERMISSION, "", *BOX], None, CLAUDE).state == "idle"


def test_menu_pattern_without_a_selected_menu_row_is_not_waiting() -> None:
    lines = ["⏺ I can ask: Do you want to proceed?", "  1. Yes", "  2. No"]
    assert classify(lines, None, CLAUDE).state == "unknown"


def test_prompt_far_above_the_bottom_is_not_waiting() -> None:
    lines = [*PERMISSION, *[f"line {i}" for i in range(20)]]
    assert classify(lines, None, CLAUDE).state == "unknown"


def test_old_spinner_text_far_above_the_status_area_is_ignored() -> None:
    lines = ["✻ Pondering… (esc to interrupt)", *[f"line {i}" for i in range(20)], *BOX]
    assert classify(lines, None, CLAUDE).state == "idle"


def test_blank_screen_is_unknown() -> None:
    assert classify([], None, CLAUDE).state == "unknown"
    assert classify(["", "   "], 1, CLAUDE).reason == "blank"


@pytest.mark.parametrize(
    ("line", "state", "reason"),
    [
        ("Continue? [Y/n]", "waiting", "yes-no"),
        ("Really? (y/N) ", "waiting", "yes-no"),
        ("Overwrite? [Yes/No]", "waiting", "yes-no"),
        ("? Pick a framework ›", "waiting", "question"),
        ("Is that all?", "waiting", "question"),
        ("dev@box:~$ ", "idle", "prompt"),
        ("> ", "idle", "prompt"),
        ("box %", "idle", "prompt"),
        ("progress 12%", "unknown", "no-match"),
        ("building...", "unknown", "no-match"),
    ],
)
def test_generic_patterns_on_the_cursor_row(line: str, state: str, reason: str) -> None:
    result = classify(["some output", line, "", ""], 1, BUILTIN_PROFILES["shell"])
    assert (result.state, result.reason) == (state, reason)
    assert result.kind == ("generic" if state != "unknown" else None)
    assert not result.approvable


def test_generic_patterns_use_the_cursor_row_not_the_last_row() -> None:
    shell = BUILTIN_PROFILES["shell"]
    assert classify(["Proceed? [Y/n]", "downloading"], 0, shell).state == "waiting"
    assert classify(["Proceed? [Y/n]", "downloading"], 1, shell).state == "unknown"
    assert classify(["Proceed? [Y/n]", "", ""], 2, shell).state == "waiting"


def test_profile_without_patterns_uses_generic_patterns() -> None:
    bare = AgentProfile(name="bare")
    assert classify(["Delete it? [y/N]"], 0, bare).kind == "generic"


def test_generic_fallback_applies_only_when_nothing_else_matched() -> None:
    codex = BUILTIN_PROFILES["codex"]
    assert classify(["• Working (1s • esc to interrupt)", "ok?"], 1, codex).state == "busy"
    assert classify(["some text", "continue? [y/N]"], 1, codex).reason == "yes-no"


printable_rows = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60), max_size=30
)


@settings(max_examples=150, deadline=None)
@given(printable_rows)
def test_anything_printed_above_a_running_spinner_is_busy(rows: list[str]) -> None:
    lines = [*rows, *PERMISSION, "", "✻ Working… (2s · esc to interrupt)", "", *BOX]
    result = classify(lines, None, CLAUDE)
    assert result.state == "busy"
    assert not result.approvable


@settings(max_examples=150, deadline=None)
@given(printable_rows)
def test_nothing_printed_above_the_idle_box_is_approvable(rows: list[str]) -> None:
    for profile in BUILTIN_PROFILES.values():
        result = classify([*rows, *PERMISSION, "", *BOX], None, profile)
        assert not result.approvable


# --- the tracker ---------------------------------------------------------------------------------

BUSY = Classification("busy", "spinner")
IDLE = Classification("idle", "prompt")
BASH = Classification("waiting", "bash", "tool-permission", True, "Bash command\nmake\n❯ 1. Yes")
BASH2 = Classification("waiting", "bash", "tool-permission", True, "Bash command\nls\n❯ 1. Yes")
TRUST = Classification("waiting", "folder-trust", "trust", False, "Do you trust…\n❯ 1. Yes")
GENERIC = Classification("waiting", "yes-no", "generic", False, "Continue? [Y/n]")
UNKNOWN = Classification("unknown", "no-match")


def show(tracker: NeedsInputTracker, screen: Classification, now: float) -> list[str]:
    """New output at `now` that renders as `screen`; the states it changed to."""
    changes = tracker.on_output(now) + tracker.on_screen(screen, now)
    return [c.state for c in changes]


def test_tracker_starts_busy() -> None:
    tracker = NeedsInputTracker(0.0)
    assert (tracker.state, tracker.reason, tracker.needs_input) == ("busy", "starting", False)
    assert tracker.next_deadline() is None
    assert tracker.tick(100.0) == []


def test_waiting_prompt_is_reported_after_the_settle_time() -> None:
    tracker = NeedsInputTracker(0.0)
    assert show(tracker, BASH, 10.0) == []
    assert tracker.next_deadline() == pytest.approx(10.3)
    assert tracker.tick(10.2) == []
    [change] = tracker.tick(10.3)
    assert (change.state, change.previous, change.reason, change.kind) == (
        "waiting",
        "busy",
        "bash",
        "tool-permission",
    )
    assert change.needs_input and change.source == "screen" and change.appearance == 1
    assert change.prompt_text == BASH.prompt_text
    assert tracker.needs_input and tracker.next_deadline() is None


def test_idle_is_debounced_and_output_restarts_the_debounce() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, IDLE, 1.0)
    assert tracker.tick(2.4) == []
    show(tracker, IDLE, 2.4)  # the screen changed again (still idle)
    assert tracker.tick(3.8) == []
    assert tracker.next_deadline() == pytest.approx(3.9)
    assert [c.state for c in tracker.tick(3.9)] == ["idle"]


def test_generic_matches_wait_for_the_full_debounce() -> None:
    tracker = NeedsInputTracker(0.0, debounce=2.0)
    show(tracker, GENERIC, 1.0)
    assert tracker.tick(1.5) == []
    assert [c.reason for c in tracker.tick(3.0)] == ["yes-no"]


def test_busy_screen_applies_at_once() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 1.0)
    tracker.tick(1.3)
    assert show(tracker, BUSY, 1.35) == ["busy"]
    assert not tracker.needs_input


def test_typing_clears_needs_input_until_a_new_prompt_appears() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, IDLE, 0.0)
    tracker.tick(1.5)
    [change] = tracker.on_input(5.0)
    assert (change.state, change.reason, change.source) == ("busy", "user-input", "input")
    assert not change.needs_input
    # The echo of the typed text redraws the same idle prompt: still no input needed.
    assert show(tracker, IDLE, 5.1) == []
    assert tracker.tick(60.0) == [] and not tracker.needs_input
    # The agent works, then shows its prompt again: a new appearance.
    assert show(tracker, BUSY, 61.0) == []
    show(tracker, IDLE, 70.0)
    [change] = tracker.tick(71.5)
    assert change.state == "idle" and change.appearance == 2


def test_prompt_changed_by_the_user_needs_the_full_debounce_before_it_counts() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    tracker.on_input(1.0)  # e.g. Esc: Claude shows its idle prompt (no hook fires)
    show(tracker, IDLE, 1.1)
    assert tracker.tick(1.5) == []
    assert [c.state for c in tracker.tick(2.6)] == ["idle"]


def test_menu_cursor_moves_are_the_same_prompt() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, TRUST, 0.0)
    tracker.tick(0.3)
    tracker.on_input(1.0)  # arrow down
    moved = Classification("waiting", "folder-trust", "trust", False, "Do you trust…\n  1. Yes")
    show(tracker, moved, 1.1)
    assert tracker.tick(10.0) == [] and tracker.state == "busy"


def test_unknown_screens_change_nothing() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    assert show(tracker, UNKNOWN, 1.0) == []
    assert tracker.tick(9.0) == [] and tracker.state == "waiting"


def test_a_different_prompt_is_a_new_appearance() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    show(tracker, TRUST, 1.0)
    [change] = tracker.tick(1.3)
    assert (change.previous, change.state, change.appearance) == ("waiting", "waiting", 2)


def test_auto_approval_is_claimed_once_per_appearance() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    assert tracker.claim_approval(0.1) is None  # not settled yet
    tracker.tick(0.3)
    approval = tracker.claim_approval(0.3)
    assert approval is not None
    assert (approval.appearance, approval.reason, approval.prompt_text) == (
        1,
        "bash",
        BASH.prompt_text,
    )
    assert approval.change is not None and approval.change.source == "auto-approve"
    assert tracker.state == "busy" and not tracker.needs_input
    assert tracker.claim_approval(0.4) is None
    # The box is still drawn until the agent redraws: no second approval.
    assert show(tracker, BASH, 0.35) == []
    assert tracker.claim_approval(0.7) is None
    # The agent runs the command and asks the same question again: a new appearance.
    show(tracker, BUSY, 0.5)
    show(tracker, BASH, 2.0)
    tracker.tick(2.3)
    again = tracker.claim_approval(2.3)
    assert again is not None and again.appearance == 2


def test_a_prompt_the_approval_did_not_remove_is_reported_but_never_approved_again() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    assert tracker.claim_approval(0.3) is not None
    assert tracker.next_deadline() == pytest.approx(1.8)
    assert tracker.tick(1.0) == []
    [change] = tracker.tick(1.8)
    assert change.state == "waiting" and change.appearance == 2
    assert tracker.claim_approval(2.0) is None


def test_next_prompt_right_after_an_approval_can_be_approved() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    assert tracker.claim_approval(0.3) is not None
    show(tracker, BASH2, 0.5)  # a second tool call, no spinner drawn in between
    tracker.tick(0.8)
    assert tracker.claim_approval(0.8) is not None


def test_no_approval_for_prompts_that_are_not_approvable_or_were_touched() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, TRUST, 0.0)
    tracker.tick(0.3)
    assert tracker.state == "waiting" and tracker.claim_approval(1.0) is None
    show(tracker, BASH, 2.0)
    tracker.tick(2.3)
    tracker.on_input(2.4)  # the user moves the menu cursor
    show(tracker, BASH2, 2.5)
    tracker.tick(4.0)
    assert tracker.state == "waiting" and tracker.claim_approval(4.0) is None


def test_hooks_are_the_fast_path_and_a_stale_screen_does_not_override_them() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, IDLE, 0.0)
    tracker.tick(1.5)
    [change] = tracker.on_hook("busy", 2.0, "prompt-submitted")  # UserPromptSubmit
    assert (change.state, change.source, change.reason) == ("busy", "hook", "prompt-submitted")
    assert tracker.tick(5.0) == []  # the idle box is still drawn: the hook wins
    show(tracker, BUSY, 5.5)
    [change] = tracker.on_hook("idle", 9.0)  # Stop, while the spinner is still drawn
    assert change.state == "idle" and change.appearance == 2
    assert tracker.tick(9.1) == [] and tracker.state == "idle"
    show(tracker, IDLE, 9.2)
    assert tracker.tick(20.0) == [] and tracker.appearance == 2  # the same appearance


def test_screen_refines_a_waiting_hook_without_a_new_appearance() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BUSY, 0.0)
    [change] = tracker.on_hook("waiting", 1.0)  # Notification permission_prompt
    assert (change.state, change.reason, change.appearance) == ("waiting", "hook", 1)
    show(tracker, BASH, 1.05)
    [change] = tracker.tick(1.35)
    assert (change.state, change.reason, change.appearance) == ("waiting", "bash", 1)
    assert tracker.claim_approval(1.4) is not None


def test_screen_catches_what_no_hook_reports() -> None:
    tracker = NeedsInputTracker(0.0)
    tracker.on_hook("busy", 0.0)
    show(tracker, BUSY, 0.1)
    tracker.on_input(3.0)  # Esc
    show(tracker, IDLE, 3.1)
    assert [c.state for c in tracker.tick(4.6)] == ["idle"]


def test_hook_waiting_while_the_screen_already_reports_it_changes_nothing() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    assert tracker.on_hook("waiting", 0.5) == [] and tracker.appearance == 1


def test_unknown_hook_event_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown hook event"):
        NeedsInputTracker(0.0).on_hook("stopped", 1.0)  # type: ignore[arg-type]


def test_exit_is_final() -> None:
    tracker = NeedsInputTracker(0.0)
    show(tracker, BASH, 0.0)
    tracker.tick(0.3)
    [change] = tracker.on_exit(1.0, "exit code 0")
    assert (change.state, change.previous, change.needs_input) == ("exited", "waiting", False)
    assert tracker.on_exit(2.0) == []
    assert show(tracker, IDLE, 3.0) == [] and tracker.tick(9.0) == []
    assert tracker.on_input(9.0) == [] and tracker.on_hook("idle", 9.0) == []
    assert tracker.claim_approval(9.0) is None and tracker.next_deadline() is None


def test_needs_input_true_within_two_seconds_and_false_within_half_a_second() -> None:
    """The issue's timing promise, with the engine ticking at next_deadline()."""
    tracker = NeedsInputTracker(0.0)
    for screen, appears in ((BASH, 10.0), (IDLE, 30.0), (GENERIC, 50.0)):
        show(tracker, screen, appears)
        deadline = tracker.next_deadline()
        assert deadline is not None and deadline - appears <= 2.0
        tracker.tick(deadline)
        assert tracker.needs_input
        tracker.on_input(deadline + 1.0)
        assert not tracker.needs_input
        show(tracker, BUSY, deadline + 2.0)
