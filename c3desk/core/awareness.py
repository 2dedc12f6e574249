"""What each live agent is doing: needs-input state, hook reports, guarded auto-approve.

One :class:`Awareness` per live session. :class:`c3desk.core.agent_watch.AgentWatch` calls
:meth:`Awareness.look` a few times a second; it classifies the rendered screen only when the
screen's text changed (Claude Code rewrites its title continuously, which must not count as
output). Keystrokes, hook reports and the process's exit go straight to the tracker. Each method
returns the tracker's changes; the watch stores them (``sessions.needs_input`` and
``session_events``). The hook settings given to Claude Code run the command the worker's
connection names (:meth:`c3desk.transports.connection.WorkerConnection.hook_command`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from c3desk.core.agents import AgentProfile
from c3desk.core.detector import Approval, NeedsInputTracker, StateChange, classify
from c3desk.terminal import TerminalModel

HOOK_EVENTS = ("busy", "idle", "waiting", "session-start")


class Awareness:
    def __init__(self, profile: AgentProfile, model: TerminalModel, now: float) -> None:
        self.profile = profile
        self.model = model
        self.tracker = NeedsInputTracker(now)
        self._last_screen: list[str] | None = None

    @property
    def screen(self) -> list[str] | None:
        """The screen as last read (the same list object until its text changes)."""
        return self._last_screen

    def set_model(self, model: TerminalModel) -> None:
        self.model = model
        self._last_screen = None

    def look(self, now: float, changed_at: float | None = None) -> list[StateChange]:
        """Classify the screen if its text changed; let debounces expire.

        ``changed_at``: no later than the moment the screen last changed (the last byte's
        arrival, when everything has been parsed), so quiet time counts from the output, not
        from this look."""
        screen = self.model.display
        changes: list[StateChange] = []
        if screen != self._last_screen:
            self._last_screen = screen
            changes += self.tracker.on_output(now if changed_at is None else min(now, changed_at))
            cursor = self.model.cursor
            changes += self.tracker.on_screen(classify(screen, cursor.y, self.profile), now)
        changes += self.tracker.tick(now)
        return changes

    def typed(self, now: float) -> list[StateChange]:
        return self.tracker.on_input(now)

    def hook(self, event: str, now: float, reason: str = "") -> list[StateChange]:
        if event in ("busy", "idle", "waiting"):
            return self.tracker.on_hook(event, now, reason)  # type: ignore[arg-type]
        return []

    def exited(self, now: float, reason: str) -> list[StateChange]:
        return self.tracker.on_exit(now, reason)

    def approval(self, now: float) -> Approval | None:
        """An approval to send now, if the prompt on screen may be approved automatically."""
        if self.tracker.state != "waiting":
            return None
        return self.tracker.claim_approval(now)


def hook_settings(report: Sequence[str]) -> dict[str, Any]:
    """Claude Code settings whose hooks report the session's state: each runs ``report`` (the
    worker connection's hook command) with the event's name appended."""

    def command(event: str) -> list[dict[str, Any]]:
        return [{"type": "command", "command": shlex.join([*report, event]), "timeout": 10}]

    return {
        "hooks": {
            "SessionStart": [
                {"matcher": "startup|resume|clear|compact", "hooks": command("session-start")}
            ],
            "UserPromptSubmit": [{"hooks": command("busy")}],
            "Stop": [{"hooks": command("idle")}],
            # A turn ended by an API error fires StopFailure, never Stop.
            "StopFailure": [{"hooks": command("idle")}],
            # Fires as a permission box is drawn (the permission_prompt Notification comes
            # only after the box has waited ~6 s); it prints nothing, so Claude Code asks.
            "PermissionRequest": [{"hooks": command("waiting")}],
            "Notification": [{"matcher": "permission_prompt", "hooks": command("waiting")}],
            "PreToolUse": [
                {"matcher": "AskUserQuestion|ExitPlanMode", "hooks": command("waiting")}
            ],
        }
    }


def write_hook_settings(run_dir: Path, session_id: str, report: Sequence[str]) -> Path:
    """The session's hook settings file (readable by its owner only), for ``--settings``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"{session_id}.settings.json"
    path.write_text(json.dumps(hook_settings(report), indent=2))
    path.chmod(0o600)
    return path
