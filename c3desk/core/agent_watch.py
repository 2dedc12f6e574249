"""Watching live agents: their screens, their hook reports, guarded auto-approve.

One :class:`AgentWatch` serves every live session of an engine. :meth:`AgentWatch.run` reads
each live screen every :data:`LOOK` seconds (and once more the moment a prompt on it settles);
hook reports arrive through :meth:`AgentWatch.handle_hook`; the user's keystrokes and the
process's exit through :meth:`typed` and :meth:`exited`. Each session's
:class:`~c3desk.core.awareness.Awareness` turns these into needs-input changes, which are
stored here (``sessions.needs_input`` and ``agent`` session events) and announced through the
``changed`` callback. A settled tool-permission prompt is approved here too, when the session
(or the settings) allow it. Everything runs on the engine's loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from c3desk import clock
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core.agents import AgentProfile
from c3desk.core.awareness import Awareness
from c3desk.core.detector import StateChange
from c3desk.core.live import LiveSession
from c3desk.store.models import Session

log = logging.getLogger(__name__)

LOOK = 0.2  # how often live screens are read for needs-input detection
_UUIDISH = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{7,127}")
ScreenWatcher = Callable[[LiveSession, AgentProfile, "list[str] | None"], None]
# What each hook event says when no payload field says better.
_HOOK_REASONS = {"busy": "prompt submitted", "idle": "turn finished"}


class AgentWatch:
    def __init__(self, live: Mapping[str, LiveSession], changed: Callable[[str], None]) -> None:
        """``live`` holds the running sessions by id (the engine's own map, read as it
        changes); ``changed`` is told each session whose stored state this part changed."""
        self._live = live
        self._changed = changed
        self._stopped = False
        self._settle_timers: dict[str, asyncio.TimerHandle] = {}  # looks due when prompts settle
        # Also told each screen read (and the last one at exit): the usage-limit watch.
        self.screen_watchers: list[ScreenWatcher] = []

    def attach(self, live: LiveSession, profile: AgentProfile) -> None:
        """Start watching a session that runs ``profile``'s agent."""
        live.awareness = Awareness(profile, live.model, time.monotonic())

    # -- reading screens ---------------------------------------------------------------------

    async def run(self) -> None:
        """Look at each live screen every LOOK seconds, one session per slice of that period,
        so nine busy screens never cost the loop one long stall. Ends after :meth:`stop`."""
        while not self._stopped:
            ids = list(self._live)
            if not ids:
                await asyncio.sleep(LOOK)
                continue
            settings = cfg.get_settings()
            for sid in ids:
                try:
                    self.look(sid, settings)
                except Exception:
                    log.exception("needs-input pass failed for %s", sid)
                await asyncio.sleep(LOOK / len(ids))

    def stop(self) -> None:
        """Look no more: the run loop ends at its next round; pending settle looks are dropped."""
        self._stopped = True
        for handle in self._settle_timers.values():
            handle.cancel()
        self._settle_timers.clear()

    def look_all(self) -> None:
        """Read every live screen now (tests and callers that need an immediate answer)."""
        settings = cfg.get_settings()
        for sid in list(self._live):
            self.look(sid, settings)

    def look(self, sid: str, settings: Mapping[str, Any]) -> None:
        """Read one live screen; store needs-input changes; send a guarded auto-approval."""
        live = self._live.get(sid)
        if live is None or live.awareness is None or live.exit_status is not None:
            return
        aware = live.awareness
        now = time.monotonic()
        # Everything parsed: the screen last changed no later than the last byte arrived.
        changed_at = now if live.pending_bytes else live.last_output
        self.apply_changes(live, aware.look(now, changed_at))
        self._tell_watchers(live, aware.profile, aware.screen)
        self._look_again_at(sid, aware.tracker.next_deadline(), now)
        if aware.profile.id_source == "output" and not live.conversation_found:
            self._capture_conversation_id(live, aware.profile)
        if aware.tracker.state == "waiting" and live.process is not None:
            self._maybe_approve(live, settings, now)

    def _look_again_at(self, sid: str, deadline: float | None, now: float) -> None:
        """A prompt on screen settles at ``deadline``: look then, not at the next round."""
        if deadline is None or deadline <= now or deadline - now >= LOOK:
            return
        if sid in self._settle_timers or self._stopped:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a direct call without a loop: the next round looks

        def fire() -> None:
            self._settle_timers.pop(sid, None)
            if sid in self._live and not self._stopped:
                self.look(sid, cfg.get_settings())

        self._settle_timers[sid] = loop.call_later(deadline - now + 0.001, fire)

    def _capture_conversation_id(self, live: LiveSession, profile: AgentProfile) -> None:
        """Agents that print their conversation id (Codex) get it stored for continuing."""
        found = profile.find_session_id("\n".join(live.model.display))
        if found and _UUIDISH.fullmatch(found):
            live.conversation_found = True
            Session.update(claude_session_id=found).where(Session.id == live.id).execute()
            sess.record_event(live.id, "conversation", {"id": found})
            self._changed(live.id)

    def _maybe_approve(self, live: LiveSession, settings: Mapping[str, Any], now: float) -> None:
        # The session's own choice wins; without one, the global setting decides.
        override = Session.select(Session.auto_approve).where(Session.id == live.id).scalar()
        enabled = bool(settings["auto_approve"]) if override is None else bool(override)
        if not enabled or live.awareness is None or live.process is None:
            return
        approval = live.awareness.approval(now)
        if approval is None:
            return
        live.process.write(live.awareness.profile.approve_key)
        sess.record_event(
            live.id,
            "auto_approved",
            {"reason": approval.reason, "prompt": approval.prompt_text[-2000:]},
        )
        if approval.change is not None:
            self.apply_changes(live, [approval.change])

    # -- other sources: keystrokes, exits, hooks ---------------------------------------------

    def typed(self, live: LiveSession) -> None:
        """The user typed into the session: it no longer needs input."""
        if live.awareness is not None:
            self.apply_changes(live, live.awareness.typed(time.monotonic()))

    def exited(self, live: LiveSession, reason: str) -> None:
        """The session's process ended. Its changes are not stored: the session's own
        transition (completed or failed) says it, and its needs-input no longer matters."""
        if live.awareness is not None:
            live.awareness.exited(time.monotonic(), reason)
            self._tell_watchers(live, live.awareness.profile, live.screen_lines())

    def _tell_watchers(
        self, live: LiveSession, profile: AgentProfile, screen: list[str] | None
    ) -> None:
        for watcher in self.screen_watchers:
            try:
                watcher(live, profile, screen)
            except Exception:  # theirs must not stop needs-input or auto-approve
                log.exception("a screen watcher failed on %s", live.id)

    def handle_hook(self, session_id: str, event: str, payload: Mapping[str, Any]) -> None:
        """A report from one of the agent's hooks (``c3desk hook``)."""
        live = self._live.get(session_id)
        if live is None or live.awareness is None:
            return
        if event == "session-start":
            self._conversation_started(session_id, payload.get("session_id"))
            return
        reason = _HOOK_REASONS.get(event, "")
        hook_name = payload.get("hook_event_name")
        if hook_name == "StopFailure":
            reason = "turn failed"
        elif hook_name == "PermissionRequest":
            reason = "permission_prompt"
        elif event == "waiting":
            reason = str(payload.get("notification_type") or payload.get("tool_name") or "")
        self.apply_changes(live, live.awareness.hook(event, time.monotonic(), reason))

    def _conversation_started(self, session_id: str, new_id: object) -> None:
        """Claude Code (re)started a conversation: store its id when it is a new one."""
        if not isinstance(new_id, str) or not _UUIDISH.fullmatch(new_id):
            return
        current = Session.select(Session.claude_session_id).where(Session.id == session_id).scalar()
        if new_id != current:
            Session.update(claude_session_id=new_id).where(Session.id == session_id).execute()
            sess.record_event(session_id, "conversation", {"id": new_id})
            self._changed(session_id)

    # -- storing -----------------------------------------------------------------------------

    def apply_changes(self, live: LiveSession, changes: list[StateChange]) -> None:
        """Record each change as an ``agent`` event; store needs-input when it flips."""
        for change in changes:
            sess.record_event(
                live.id,
                "agent",
                {
                    "state": change.state,
                    "reason": change.reason,
                    "source": change.source,
                    "needs_input": change.needs_input,
                },
            )
            if change.needs_input != live.needs_input and change.state != "exited":
                live.needs_input = change.needs_input
                # An ended session keeps the flag it ended with.
                Session.update(needs_input=change.needs_input, updated_at=clock.now()).where(
                    (Session.id == live.id) & (Session.status == "active")
                ).execute()
            self._changed(live.id)
