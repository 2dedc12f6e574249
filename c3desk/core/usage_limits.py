"""Usage-limit-aware scheduling: an account at its usage limit starts nothing until the reset.

An *account* is an agent profile on a worker: the sessions of one agent on one worker share one
login (``~/.claude`` there), so they share its limit; other workers and other agents keep
running. When a session's screen shows the CLI's own limit message
(:func:`c3desk.core.limit_screen.find_limit`), :class:`UsageLimitWatch`:

1. records a *pause* of the account (``usage_limit_pauses``: the reset time in UTC, the text as
   written, the zone it named) and links the session to it (``usage_limit_sessions``), with a
   ``usage_limit`` session event. Nothing else changes: the session's status follows the data
   model as before (it stays ``active`` while its agent waits at the limit);
2. while the pause holds, the engine's scheduling pass (:meth:`held`) places none of that
   agent's queued sessions on that worker (a session bound to the worker waits; an unbound one
   may go elsewhere);
3. at the reset plus :data:`MARGIN` (or when a user's ``c3desk resume`` lifts it early) the
   sessions it stopped are continued: a running agent gets its menu answered ("Stop and wait
   for limit to reset") and the profile's continue prompt typed, unless it said it continues
   by itself ("continuing automatically at 7pm"); an ended one is continued (``--resume``) or
   retried as the user would; the account's queue starts again.

Pauses live in the database, so they survive a restart; the clock is injected (``now``), so
tests jump to the reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from c3desk import clock
from c3desk.core import sessions as sess
from c3desk.core.agents import AgentProfile
from c3desk.core.detector import classify
from c3desk.core.limit_screen import LimitSighting, find_limit, find_menu_key, parse_reset
from c3desk.store.models import Session, UsageLimitPause, UsageLimitSession, Worker, db

if TYPE_CHECKING:
    from c3desk.core.live import LiveSession

log = logging.getLogger(__name__)

#: Continue this long after the reset: the service's clock and ours differ by seconds.
MARGIN = timedelta(seconds=60)
#: A reset text seen again on the same session this soon after it was handled is the old
#: message still on screen, not a new limit.
SAME_MESSAGE = timedelta(hours=20)
#: Without a reset time that can be read, the account waits this long.
UNREADABLE_WAIT = timedelta(hours=1)
MENU_WAIT = 5.0  # seconds for a menu to go once its row was picked
MENU_SETTLE = 0.2  # seconds for the prompt to be drawn again after the menu went
KILLED = "killed by the user"  # a failure the user chose: not retried at the reset


def utcnow() -> datetime:
    return datetime.now(UTC)


def _clock() -> datetime:
    """``utcnow`` looked up when called: the one clock every reader here shares by default."""
    return utcnow()


def _db_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Hold:
    """An open pause: an account that starts no session until ``reset_at``."""

    id: int
    agent: str
    worker_id: str
    worker_name: str
    reset_at: datetime  # aware, UTC
    reset_text: str
    zone: str | None
    sessions: int

    def until(self, now: datetime, local: tzinfo | None = None) -> str:
        """ "15:00", or "Tue 15:00" when that is not today, in the zone the agent named (else
        the worker's local time)."""
        from zoneinfo import ZoneInfo

        zone: tzinfo = local or clock.local_zone()
        if self.zone == "UTC":
            zone = UTC
        elif self.zone:
            zone = ZoneInfo(self.zone)
        at = self.reset_at.astimezone(zone)
        text = at.strftime("%H:%M")
        if at.date() != now.astimezone(zone).date():
            text = at.strftime("%a %d %b ") + text
        return text

    def describe(self, now: datetime, local: tzinfo | None = None) -> str:
        """ "paused until 15:00 (usage limit, worker local)"."""
        where = self.zone or "worker local"
        return f"paused until {self.until(now, local)} (usage limit, {where})"

    def account(self) -> str:
        return f"{self.agent} on {self.worker_name}"


def _holds(rows: Iterable[UsageLimitPause]) -> list[Hold]:
    out = []
    for p in rows:
        count = (
            UsageLimitSession.select()
            .where((UsageLimitSession.pause == p.id) & UsageLimitSession.continued_at.is_null())
            .count()
        )
        worker = Worker.get_or_none(Worker.id == p.worker_id)
        out.append(
            Hold(
                int(p.id),
                str(p.agent),
                str(p.worker_id),
                worker.name if worker is not None else str(p.worker_id),
                clock.parse(p.reset_at),
                str(p.reset_text),
                p.zone,
                count,
            )
        )
    return out


def open_holds() -> list[Hold]:
    """Every pause neither lifted nor continued yet, soonest reset first."""
    rows = (
        UsageLimitPause.select()
        .where(UsageLimitPause.continued_at.is_null() & UsageLimitPause.lifted_at.is_null())
        .order_by(UsageLimitPause.reset_at)
    )
    return _holds(rows)


def held_accounts(now: datetime, margin: timedelta = MARGIN) -> frozenset[tuple[str, str]]:
    """(agent, worker id) of every account that must start nothing now."""
    return frozenset((h.agent, h.worker_id) for h in open_holds() if now < h.reset_at + margin)


def hold_of_session(session_id: str) -> Hold | None:
    """The open pause that stopped this session, if any."""
    link = (
        UsageLimitSession.select()
        .join(UsageLimitPause)
        .where(
            (UsageLimitSession.session == session_id)
            & UsageLimitSession.continued_at.is_null()
            & UsageLimitPause.lifted_at.is_null()
        )
        .first()
    )
    if link is None:
        return None
    found = _holds([UsageLimitPause.get_by_id(link.pause_id)])
    return found[0] if found else None


def hold_for(agent: str, worker_id: str) -> Hold | None:
    return next((h for h in open_holds() if h.agent == agent and h.worker_id == worker_id), None)


def wait_reason(
    agent: str,
    worker_id: str | None,
    usable: Sequence[str],
    now: datetime,
    open_now: Sequence[Hold],
    local: tzinfo | None = None,
) -> str | None:
    """Why a queued session of ``agent`` waits for a usage limit (``open_now``: the open
    holds, read once per pass): bound to a paused worker, or free to go anywhere but every
    ``usable`` worker is paused for its agent."""
    # Open until the engine continues them (at its first pass after the reset): no clock here.
    holds = {(h.agent, h.worker_id): h for h in open_now}
    if not holds:
        return None
    if worker_id is not None:
        hold = holds.get((agent, worker_id))
    elif usable and all((agent, w) in holds for w in usable):
        hold = min((holds[(agent, w)] for w in usable), key=lambda h: h.reset_at)
    else:
        hold = None
    if hold is None:
        return None
    return f"{hold.describe(now, local)}: {hold.account()}"


def status_line(now: datetime, local: tzinfo | None = None) -> str | None:
    """The status bar's and tray's words for the open pauses, or None."""
    holds = open_holds()
    if not holds:
        return None
    first = holds[0]
    text = f"Usage limit: {first.account()} until {first.until(now, local)}"
    text += f" ({first.zone or 'worker local'})"
    if len(holds) > 1:
        text += f" (+{len(holds) - 1} more)"
    return text


def lift_all(by: str, now: datetime) -> list[Hold]:
    """End every open pause now (a user's ``c3desk resume``); the engine continues their
    sessions at its next pass. Returns what was lifted."""
    with db.atomic():
        lifted = open_holds()
        if lifted:
            UsageLimitPause.update(lifted_at=_db_time(now), lifted_by=by).where(
                UsageLimitPause.id.in_([h.id for h in lifted])
            ).execute()
    return lifted


def record(
    session_id: str,
    agent: str,
    worker_id: str,
    sighting: LimitSighting,
    now: datetime,
    local: tzinfo | None = None,
) -> Hold:
    """Pause the account (or join its open pause) and mark the session; a ``usage_limit``
    session event says so."""
    try:
        reset = parse_reset(sighting.reset_text, now, local or clock.local_zone())
        reset_at, zone, readable = reset.at, reset.zone, True
    except ValueError as exc:
        log.warning("usage limit on %s: %s; waiting %s", session_id, exc, UNREADABLE_WAIT)
        reset_at, zone, readable = now + UNREADABLE_WAIT, None, False
    with db.atomic():
        pause = (
            UsageLimitPause.select()
            .where(
                (UsageLimitPause.agent == agent)
                & (UsageLimitPause.worker == worker_id)
                & UsageLimitPause.continued_at.is_null()
                & UsageLimitPause.lifted_at.is_null()
            )
            .first()
        )
        if pause is None:
            pause = UsageLimitPause.create(
                agent=agent,
                worker=worker_id,
                reset_at=_db_time(reset_at),
                reset_text=sighting.reset_text,
                zone=zone,
                detected_at=_db_time(now),
            )
        elif clock.parse(pause.reset_at) < reset_at:
            # Another session saw a later reset (a weekly limit behind a session one).
            UsageLimitPause.update(
                reset_at=_db_time(reset_at), reset_text=sighting.reset_text, zone=zone
            ).where(UsageLimitPause.id == pause.id).execute()
        UsageLimitSession.insert(
            pause=pause.id, session=session_id, auto_continue=sighting.auto_continue
        ).on_conflict_ignore().execute()
        sess.record_event(
            session_id,
            "usage_limit",
            {
                "pause": int(pause.id),
                "reset_at": _db_time(reset_at),
                "reset_text": sighting.reset_text,
                "zone": zone,
                "readable": readable,
                "auto_continue": sighting.auto_continue,
                "line": sighting.line[:300],
            },
        )
    hold = hold_of_session(session_id)
    assert hold is not None
    return hold


def _seen_before(session_id: str, reset_text: str, now: datetime) -> bool:
    """The session was already stopped by a message with this reset text, recently: open, or
    continued (its old message may still be on screen after a restart)."""
    since = _db_time(now - SAME_MESSAGE)
    return (
        UsageLimitSession.select()
        .join(UsageLimitPause)
        .where(
            (UsageLimitSession.session == session_id)
            & (UsageLimitPause.reset_text == reset_text)
            & (UsageLimitPause.detected_at >= since)
        )
        .exists()
    )


def _open_link(session_id: str) -> UsageLimitSession | None:
    """The session's link to a pause not continued yet."""
    link: UsageLimitSession | None = (
        UsageLimitSession.select()
        .join(UsageLimitPause)
        .where(
            (UsageLimitSession.session == session_id)
            & UsageLimitSession.continued_at.is_null()
            & UsageLimitPause.continued_at.is_null()
        )
        .first()
    )
    return link


class EngineSide(Protocol):
    """What the watch needs of the engine (c3desk.core.engine.Engine)."""

    live: dict[str, LiveSession]

    def profiles(self) -> dict[str, AgentProfile]: ...
    def continue_session(self, ref: str) -> str: ...
    def retry_session(self, ref: str) -> str: ...
    def write(self, ref: str, data: bytes) -> None: ...
    async def send_text(self, ref: str, text: str, enter: bool = True) -> None: ...
    def wake(self) -> None: ...


class UsageLimitWatch:
    """The engine's part: sees limits on screens, holds accounts, continues at the reset."""

    def __init__(
        self,
        engine: EngineSide,
        emit: Callable[[str | None], None],
        *,
        now: Callable[[], datetime] | None = None,
        local: tzinfo | None = None,
        margin: timedelta = MARGIN,
        track: Callable[[asyncio.Task[Any]], None] | None = None,
    ) -> None:
        """``emit(session_id)`` tells observers a session (None: the queue) changed; ``track``
        is given the tasks that type continue prompts (the engine awaits them at stop)."""
        self._engine = engine
        self._emit = emit
        self.now = now or _clock  # injectable: tests jump to the reset
        self.local = local
        self.margin = margin
        self._checked: dict[str, object] = {}  # the screen last read, by session
        self._typed: dict[str, str] = {}  # continue prompts typed, by session
        self._tasks: set[asyncio.Task[None]] = set()
        self._track = track

    # -- seeing ------------------------------------------------------------------------------

    def saw(self, live: LiveSession, profile: AgentProfile, screen: Sequence[str] | None) -> None:
        """A live session's screen (as the agent watch just read it): a new limit on it pauses
        its account. Cheap when the screen did not change."""
        if screen is None or not profile.usage_limit:
            return
        if self._checked.get(live.id) is screen:
            return
        self._checked[live.id] = screen
        sighting = find_limit(screen, profile)
        if sighting is None:
            return
        typed = self._typed.get(live.id)
        if typed is not None and not _below(screen, sighting.row, typed):
            return  # the message the continue prompt answered: still on screen above it
        now = self.now()
        link = _open_link(live.id)
        if link is not None:
            if sighting.auto_continue and not link.auto_continue:
                # It now says it goes on by itself at the reset: c3desk must not type too.
                UsageLimitSession.update(auto_continue=True).where(
                    UsageLimitSession.id == link.id
                ).execute()
            return
        if typed is None and _seen_before(live.id, sighting.reset_text, now):
            return
        row = Session.get_or_none(Session.id == live.id)
        if row is None:
            return
        self._typed.pop(live.id, None)
        hold = record(live.id, str(row.agent), str(live.worker_id), sighting, now, self.local)
        log.info(
            "usage limit on %s: %s %s", live.id, hold.account(), hold.describe(now, self.local)
        )
        self._emit(live.id)
        self._emit(None)

    def forget(self, session_id: str) -> None:
        self._checked.pop(session_id, None)

    # -- holding -----------------------------------------------------------------------------

    def held(self) -> frozenset[tuple[str, str]]:
        """(agent, worker id) of the accounts that start nothing now."""
        return held_accounts(self.now(), self.margin)

    def lift(self, by: str = "user") -> list[Hold]:
        lifted = lift_all(by, self.now())
        if lifted:
            self._emit(None)
            self._engine.wake()
        return lifted

    # -- continuing --------------------------------------------------------------------------

    def tick(self) -> None:
        """Continue the sessions of every pause whose reset (plus the margin) has come, or that
        a user lifted; their accounts' queues start again at this pass."""
        now = self.now()
        for sid in [sid for sid in self._checked if sid not in self._engine.live]:
            del self._checked[sid]  # ended: a resumed run draws a new screen
            self._typed.pop(sid, None)
        due = [
            p
            for p in UsageLimitPause.select().where(UsageLimitPause.continued_at.is_null())
            if p.lifted_at is not None or now >= clock.parse(p.reset_at) + self.margin
        ]
        for pause in due:
            try:
                self._continue_pause(pause, now)
            except Exception:
                log.exception("continuing after the usage limit of pause %s", pause.id)
                UsageLimitPause.update(continued_at=_db_time(now)).where(
                    UsageLimitPause.id == pause.id
                ).execute()
        if due:
            self._emit(None)
            self._engine.wake()

    def _continue_pause(self, pause: UsageLimitPause, now: datetime) -> None:
        stamp = _db_time(now)
        if pause.lifted_at is None:
            UsageLimitPause.update(lifted_at=stamp, lifted_by="reset").where(
                UsageLimitPause.id == pause.id
            ).execute()
        links = list(
            UsageLimitSession.select().where(
                (UsageLimitSession.pause == pause.id) & UsageLimitSession.continued_at.is_null()
            )
        )
        for link in links:
            how = self._continue_one(str(link.session_id), bool(link.auto_continue))
            UsageLimitSession.update(continued_at=stamp, how=how).where(
                UsageLimitSession.id == link.id
            ).execute()
            sess.record_event(
                str(link.session_id), "usage_limit_over", {"pause": int(pause.id), "how": how}
            )
            self._emit(str(link.session_id))
        UsageLimitPause.update(continued_at=stamp).where(UsageLimitPause.id == pause.id).execute()

    def _continue_one(self, sid: str, auto_continue: bool) -> str:
        """Continue one session the limit stopped; returns how."""
        s = Session.get_or_none(Session.id == sid)
        if s is None:
            return "removed"
        live = self._engine.live.get(sid)
        if live is not None and s.status == "active":
            if live.process is None or live.exit_status is not None:
                return "not reachable"
            if auto_continue:
                return "continues by itself"
            profile = self._engine.profiles().get(str(s.agent))
            if profile is None:
                return "no profile"
            self._typed[sid] = profile.usage_limit_prompt
            task = asyncio.ensure_future(self._type_continue(live, profile))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if self._track is not None:
                self._track(task)
            return "typed"
        if s.status == "completed":
            return f"continued ({self._engine.continue_session(sid)})"
        if s.status == "failed" and s.failure_reason != KILLED:
            return f"retried ({self._engine.retry_session(sid)})"
        return f"left {s.status}"

    async def _type_continue(self, live: LiveSession, profile: AgentProfile) -> None:
        """Answer the limit's menu (the row that waits for the reset), then type the prompt.
        Nothing is typed into an agent that is busy again, or that shows another prompt (a
        permission box would take the text as its answer)."""
        try:
            state, key = self._menu_state(live, profile)
            if state == "waiting" and key is not None:
                self._engine.write(live.id, key.encode())
                loop = asyncio.get_running_loop()
                deadline = loop.time() + MENU_WAIT
                while loop.time() < deadline and live.exit_status is None:
                    await asyncio.sleep(0.05)
                    if self._menu_state(live, profile)[0] != "waiting":
                        break
                await asyncio.sleep(MENU_SETTLE)  # the prompt box comes back after the menu
                state, key = self._menu_state(live, profile)
            if live.exit_status is not None:
                return
            if state in ("waiting", "busy"):
                why = "another prompt is open" if state == "waiting" else "it is busy again"
                log.info("not typing the continue prompt into %s: %s", live.id, why)
                sess.record_event(live.id, "usage_limit_over", {"how": f"not typed: {why}"})
                return
            await self._engine.send_text(live.id, profile.usage_limit_prompt)
        except Exception:
            log.exception("typing the continue prompt into %s", live.id)

    @staticmethod
    def _menu_state(live: LiveSession, profile: AgentProfile) -> tuple[str, str | None]:
        """What the screen shows (the detector's state) and the key of the limit menu's
        waiting row when that menu is the prompt at the bottom."""
        lines = live.screen_lines()
        state = classify(lines, None, profile).state
        return state, find_menu_key(lines, profile) if state == "waiting" else None

    async def settled(self) -> None:
        """Wait for the continue prompts being typed (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _below(screen: Sequence[str], row: int, prompt: str) -> bool:
    """Whether the continue prompt shows above ``row``: the message came after it."""
    needle = " ".join(prompt.split())[:40]
    return any(needle in " ".join(line.split()) for line in screen[:row])


def show_fields(session_id: str, now: datetime) -> Mapping[str, Any]:
    """What ``c3desk show`` adds for a session an open usage limit stopped."""
    hold = hold_of_session(session_id)
    if hold is None:
        return {}
    return {"usage_limit": f"{hold.describe(now)}; resets {hold.reset_text!r}"}


def cli_lines(now: datetime, local: tzinfo | None = None) -> list[str]:
    """One line per open pause, for ``c3desk list``, ``pause`` and ``resume``."""
    return [
        f"{h.account()}: {h.describe(now, local)}; resets {h.reset_text!r}; "
        f"{h.sessions} session{'s' if h.sessions != 1 else ''} to continue then"
        for h in open_holds()
    ]


class HoldNotices:
    """What the window shows of the open pauses: the status bar's line, and a notification
    for each pause it has not told of yet (pauses open at start are shown, not announced)."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or _clock
        self._told: set[int] | None = None

    def update(self) -> tuple[str | None, tuple[str, str, str] | None]:
        """(status line or None, (session id, title, text) of a notification due, or None)."""
        now = self.now()
        holds = open_holds()
        line = status_line(now)
        ids = {h.id for h in holds}
        new = [h for h in holds if self._told is not None and h.id not in self._told]
        self._told = ids
        if not new:
            return line, None
        hold = new[0]
        first = (
            UsageLimitSession.select(UsageLimitSession.session)
            .where(UsageLimitSession.pause == hold.id)
            .order_by(UsageLimitSession.id)
            .first()
        )
        sid = str(first.session_id) if first is not None else ""
        text = (
            f"{hold.account()}: {hold.describe(now)}. Its sessions continue then; "
            "`c3desk resume` continues them now."
        )
        return line, (sid, "Usage limit reached", text)
