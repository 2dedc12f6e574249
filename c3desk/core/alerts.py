"""When to tell the user that sessions need input: one alert per transition, bursts summarised.

Pure and clock-free: callers pass ``now`` (monotonic seconds). The policy never shows anything
itself; it answers with the :class:`Notification` to show, or ``None``. Held alerts (a burst) come
out of :meth:`AlertPolicy.tick`, due at :meth:`AlertPolicy.next_deadline`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_MIN_INTERVAL = 5.0  # seconds between two notifications; what arrives meanwhile waits
MAX_TEXT = 240  # notification daemons cut long bodies anyway; keep the useful start
MAX_NAMED = 3  # titles named in a summary before "and N more"


@dataclass(frozen=True)
class Notification:
    """What to show: ``session_id`` is the session a click should bring into view."""

    session_id: str
    title: str
    text: str
    session_ids: tuple[str, ...] = field(default=())


@dataclass
class _Waiting:
    session_id: str
    title: str
    reason: str


def _shorten(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _name(title: str) -> str:
    return f"“{_shorten(title, 60) or 'untitled'}”"


def _names(titles: list[str]) -> str:
    named = [_name(t) for t in titles[:MAX_NAMED]]
    rest = len(titles) - len(named)
    if rest:
        return f"{', '.join(named)} and {rest} more"
    if len(named) == 1:
        return named[0]
    return f"{', '.join(named[:-1])} and {named[-1]}"


class AlertPolicy:
    """Decides which needs-input transitions become notifications."""

    def __init__(self, min_interval: float = DEFAULT_MIN_INTERVAL) -> None:
        self.min_interval = min_interval
        self._needing: set[str] = set()
        self._pending: dict[str, _Waiting] = {}  # held during the quiet interval, oldest first
        self._last_shown: float | None = None
        self._window_active = False
        self._typing: str | None = None

    @property
    def count(self) -> int:
        """How many sessions need input now."""
        return len(self._needing)

    @property
    def needing(self) -> frozenset[str]:
        return frozenset(self._needing)

    def seed(self, session_ids: Iterable[str]) -> None:
        """Sessions that already needed input at start: counted, never announced."""
        self._needing = set(session_ids)
        self._pending.clear()

    def set_context(self, window_active: bool, typing_session: str | None) -> None:
        """Whether the window has focus and which session's tile the user is typing in."""
        self._window_active = window_active
        self._typing = typing_session
        if self._suppressed(typing_session):
            assert typing_session is not None
            self._pending.pop(typing_session, None)

    def _suppressed(self, session_id: str | None) -> bool:
        return session_id is not None and self._window_active and session_id == self._typing

    def on_change(
        self, session_id: str, needs_input: bool, title: str, reason: str, now: float
    ) -> Notification | None:
        """A session's needs-input flag as last seen; a notification when one is due now."""
        if not needs_input:
            self.forget(session_id)
            return None
        if session_id in self._needing:
            if session_id in self._pending:  # still waiting to be announced: keep it current
                self._pending[session_id] = _Waiting(session_id, title, reason)
            return None
        self._needing.add(session_id)
        if self._suppressed(session_id):
            return None
        waiting = _Waiting(session_id, title, reason)
        if self._last_shown is not None and now - self._last_shown < self.min_interval:
            self._pending[session_id] = waiting
            return None
        self._last_shown = now
        return self._single(waiting)

    def forget(self, session_id: str) -> None:
        """The session no longer needs input (answered, ended or removed)."""
        self._needing.discard(session_id)
        self._pending.pop(session_id, None)

    def next_deadline(self) -> float | None:
        """When :meth:`tick` will have a held notification to give, if any is held."""
        if not self._pending:
            return None
        return (self._last_shown or 0.0) + self.min_interval

    def tick(self, now: float) -> Notification | None:
        """The held transitions as one notification once the quiet interval has passed."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return None
        waiting = list(self._pending.values())
        self._pending.clear()
        self._last_shown = now
        if len(waiting) == 1:
            return self._single(waiting[0])
        newest = waiting[-1]
        return Notification(
            session_id=newest.session_id,
            title=f"{len(waiting)} sessions need input",
            text=f"{_names([w.title for w in waiting])} are waiting for you.",
            session_ids=tuple(w.session_id for w in waiting),
        )

    @staticmethod
    def _single(waiting: _Waiting) -> Notification:
        name = _name(waiting.title)
        reason = _shorten(waiting.reason)
        text = f"{name} is waiting: {reason}" if reason else f"{name} is waiting for your answer."
        return Notification(
            session_id=waiting.session_id,
            title=f"{_shorten(waiting.title, 60) or 'A session'} needs input",
            text=text,
            session_ids=(waiting.session_id,),
        )
