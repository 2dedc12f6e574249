"""Quiet time counts from the output, not from when the engine happened to look."""

from __future__ import annotations

from pathlib import Path

from c3desk.core.agents import BUILTIN_PROFILES
from c3desk.core.awareness import Awareness
from c3desk.terminal import TerminalModel

BOX = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "screens"
    / "claude"
    / "waiting__bash__real-bash-box-dark-80.txt"
)


def _box_model() -> TerminalModel:
    lines = [ln for ln in BOX.read_text(encoding="utf-8").splitlines() if not ln.startswith("#: ")]
    model = TerminalModel(80, 24)
    model.feed("\r\n".join(lines[:24]).encode())
    return model


def test_a_box_settles_counting_from_its_last_byte() -> None:
    aware = Awareness(BUILTIN_PROFILES["claude"], _box_model(), 0.0)
    settle = aware.tracker.settle
    # The box's last byte arrived at 1.0; the engine first looks at 1.0 + settle - 0.05.
    first = 1.0 + settle - 0.05
    assert aware.look(first, changed_at=1.0) == []
    deadline = aware.tracker.next_deadline()
    assert deadline is not None and abs(deadline - (1.0 + settle)) < 1e-9
    [change] = aware.look(deadline, changed_at=1.0)
    assert change.state == "waiting" and aware.tracker.needs_input


def test_without_the_output_time_the_look_is_the_start() -> None:
    aware = Awareness(BUILTIN_PROFILES["claude"], _box_model(), 0.0)
    settle = aware.tracker.settle
    first = 1.0 + settle - 0.05
    assert aware.look(first) == []
    assert aware.look(1.0 + settle) == []  # counted from the look: not settled yet
