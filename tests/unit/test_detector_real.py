"""The real Claude Code CLI's screens, captured by tests/fixtures/screens/capture_real.py, go
through ``c3desk detect`` as their labels say: as saved text and as the CLI's raw bytes.

The last test captures the screens afresh from the installed CLI (the pinned version, or
``C3DESK_REAL_CLAUDE``), so a release that changes its screens fails here, not in a tray.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures.screens import capture_real
from helpers.screens import read_fixture
from realcli import harness

from c3desk.cli import main
from c3desk.core.agents import BUILTIN_PROFILES
from c3desk.core.detector import NeedsInputTracker, classify
from c3desk.terminal import TerminalModel

SCREENS = Path(capture_real.__file__).resolve().parent
TEXTS = sorted((SCREENS / "claude").glob("*__real-*.txt"))
CLAUDE = BUILTIN_PROFILES["claude"]
SCENES = {
    "fresh-start",
    "spinner",
    "after-turn",
    "bash-box",
    "write-box",
    "edit-box",
    "question-menu",
    "api-error",
    "imitation-streaming",
    "imitation-reply",
    "typed-text",
    "sensitive-write-box",
    "rate-limit-retrying",
    "interrupted-prompt-restored",
    "rate-limit-error",
    "plan-mode-idle",
    "exit-plan-mode",
    "plan-approval",
    "folder-trust",
    "mcp-server",
    "usage-limit-menu",
    "usage-limit-waiting",
}
_NAME = re.compile(r"^(\w+)__([\w-]+)__real-([\w-]+)-(dark|light)-(\d+)$")


@dataclass(frozen=True)
class RealScreen:
    path: Path
    state: str
    reason: str
    scene: str
    theme: str
    header: dict[str, str]
    lines: list[str]

    @property
    def ansi(self) -> Path:
        return SCREENS / "claude-real" / f"{self.path.stem}.ans"

    @property
    def size(self) -> tuple[int, int]:
        cols, rows = self.header["size"].split("x")
        return int(cols), int(rows)


def load(path: Path) -> RealScreen:
    found = _NAME.match(path.stem)
    assert found, f"{path.name} is not <state>__<reason>__real-<scene>-<theme>-<cols>.txt"
    state, reason, scene, theme, _cols = found.groups()
    header, lines = read_fixture(path)
    return RealScreen(path, state, reason, scene, theme, header, lines)


def detect(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> dict[str, object]:
    """`c3desk detect --json ...`, run in this process, as its JSON answer."""
    capsys.readouterr()
    assert main(["--home", str(home), "detect", "--json", *args]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def expected(screen: RealScreen) -> dict[str, object]:
    return {
        "state": screen.state,
        "reason": screen.reason,
        "kind": screen.header.get("kind"),
        "approvable": screen.header.get("approvable") == "yes",
    }


def test_every_scene_is_captured_in_both_themes_at_80_and_120_columns() -> None:
    have = {(s.scene, s.theme, s.size[0]) for s in map(load, TEXTS)}
    want = {
        (scene, theme, cols)
        for scene in SCENES
        for theme in ("dark", "light")
        for cols in (80, 120)
    }
    assert want <= have, f"missing: {sorted(want - have)}"
    for screen in map(load, TEXTS):
        assert screen.ansi.is_file(), f"{screen.ansi} is missing"


def test_the_fixtures_come_from_the_pinned_claude_code_version() -> None:
    # The pin itself, not C3DESK_CLAUDE_CODE_VERSION: trying another version leaves these
    # screens valid (the live capture below checks that version); bumping the pin does not.
    pinned = (Path(harness.__file__).parent / "CLAUDE_CODE_VERSION").read_text().strip()
    sources = {load(p).header["source"] for p in TEXTS}
    assert sources == {f"claude-code-{pinned}"}, (
        "the real screens were captured from another Claude Code version: run "
        "python3 tests/fixtures/screens/capture_real.py"
    )


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: p.stem)
def test_detect_classifies_the_saved_screen_as_labelled(
    path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    screen = load(path)
    result = detect(capsys, tmp_path, str(path))
    want = expected(screen)
    if want["kind"] is None:
        result.pop("kind")
        want.pop("kind")
    assert result == want


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: p.stem)
def test_detect_classifies_the_raw_bytes_as_labelled_and_they_draw_the_saved_screen(
    path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    screen = load(path)
    cols, rows = screen.size
    result = detect(capsys, tmp_path, "--cols", str(cols), "--rows", str(rows), str(screen.ansi))
    want = expected(screen)
    if want["kind"] is None:
        result.pop("kind")
        want.pop("kind")
    assert result == want
    model = TerminalModel(cols, rows, history=0)
    model.feed(screen.ansi.read_bytes())
    assert [row.rstrip() for row in model.display] == screen.lines


def test_typed_text_under_a_reply_that_imitates_a_permission_box_is_idle() -> None:
    """Typing hides "? for shortcuts": the input row itself must say idle, or the imitation
    above it reads as an approvable Bash box."""
    screen = load(SCREENS / "claude" / "idle__prompt__real-typed-text-dark-80.txt")
    result = classify(screen.lines, None, CLAUDE)
    assert (result.state, result.approvable) == ("idle", False)


def test_the_input_row_marker_is_not_a_menu_row_or_an_echoed_prompt() -> None:
    rows = ["❯ make the notes file", "", "● Done.", "", "❯ 1. Yes", "  2. No"]
    assert classify(rows, None, CLAUDE).state == "unknown"
    assert classify([*rows, "", "❯\u00a0typed"], None, CLAUDE).state == "idle"


def test_a_new_box_right_after_typing_settles_like_any_box_but_is_not_auto_approved() -> None:
    """A fast turn (seen in benchmarks/real_cli.py): the user sends a prompt at the idle
    screen and the real CLI's next frame the engine reads is already the permission box, with
    no busy screen in between. The box is a new prompt: it settles in `settle` seconds, not
    the debounce kept for the prompt the user just answered, and is still never auto-approved
    (the user typed since a busy screen)."""
    idle = load(SCREENS / "claude" / "idle__prompt__real-after-turn-dark-120.txt")
    box = load(SCREENS / "claude" / "waiting__bash__real-bash-box-dark-120.txt")
    tracker = NeedsInputTracker(0.0)
    tracker.on_output(0.0)
    tracker.on_screen(classify(idle.lines, None, CLAUDE), 0.0)
    tracker.tick(tracker.debounce)
    assert tracker.state == "idle"
    tracker.on_input(10.0)
    tracker.on_output(10.5)
    tracker.on_screen(classify(box.lines, None, CLAUDE), 10.5)
    assert tracker.next_deadline() == pytest.approx(10.5 + tracker.settle)
    [change] = tracker.tick(10.5 + tracker.settle)
    assert (change.state, change.reason, change.needs_input) == ("waiting", "bash", True)
    assert tracker.claim_approval(11.0) is None
    # The box the user answers stays on screen a moment: that needs the debounce.
    tracker.on_input(12.0)
    tracker.on_output(12.1)
    tracker.on_screen(classify(idle.lines, None, CLAUDE), 12.1)
    tracker.on_output(12.2)
    tracker.on_screen(classify(box.lines, None, CLAUDE), 12.2)
    assert tracker.next_deadline() == pytest.approx(12.2 + tracker.debounce)


@pytest.mark.slow
def test_screens_captured_now_from_the_installed_cli_are_classified_as_labelled(
    tmp_path: Path,
) -> None:
    captures = capture_real.capture_all(tmp_path, sizes=((80, 24),), themes=("dark",))
    assert {c.scene for c in captures} == SCENES
    wrong = []
    for cap in captures:
        got = classify(cap.lines, cap.cursor, CLAUDE)
        label = cap.label
        if (got.state, got.reason, got.approvable) != (
            label.state,
            label.reason,
            label.approvable,
        ) or (label.kind is not None and got.kind != label.kind):
            wrong.append(f"{cap.scene}: {got.state}/{got.reason}\n" + "\n".join(cap.lines))
    assert not wrong, "\n\n".join(wrong)
