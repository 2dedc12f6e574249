"""Usage-limit pauses in the database: one per account (agent on worker), held until the reset
(an injected clock jumps there), then their sessions continued; lifted early by a user; what
`c3desk list/show/pause/resume`, the queue's wait reasons and the window show of them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from c3desk.cli import main
from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import usage_limits as limits
from c3desk.core import workers as wrk
from c3desk.core.agents import BUILTIN_PROFILES, AgentProfile
from c3desk.core.limit_screen import LimitSighting
from c3desk.core.placement import Queued, WorkerSlot, place
from c3desk.core.waiting import wait_reasons
from c3desk.store import database
from c3desk.store.models import Session, SessionEvent, Worker

CLAUDE = BUILTIN_PROFILES["claude"]
DETECTED = datetime(2026, 12, 7, 8, 15, tzinfo=UTC)
RESET = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
RULE = "─" * 60
MENU = [
    "❯ refactor",
    "  ⎿  You've hit your session limit · resets 3pm (UTC)",
    "",
    "✻ Worked for 0s",
    "",
    "> /rate-limit-options",
    RULE,
    "  What do you want to do?",
    "  ❯ 1. Stop and wait for limit to reset",
    "    2. Upgrade your plan",
    "  Enter to confirm · Esc to cancel",
]
AFTER_MENU = [*MENU[:4], "", RULE, "❯", RULE, "  ? for shortcuts"]


def sighting(text: str = "3pm (UTC)", reason: str = "usage-limit") -> LimitSighting:
    return LimitSighting(text, reason, 1, f"⎿  You've hit your session limit · resets {text}")


def local_id() -> str:
    return str(Worker.get(Worker.type == "local").id)


def local_name() -> str:
    return str(Worker.get(Worker.type == "local").name)


def add(title: str, agent: str = "claude", worker: str | None = None) -> Session:
    return sess.create_session(title=title, working_directory="/tmp", agent=agent, worker=worker)


@dataclass
class FakeProcess:
    pid: int = 4242


@dataclass
class FakeLive:
    """What the watch reads of a live session."""

    id: str
    worker_id: str
    screen: list[str]
    process: FakeProcess | None = field(default_factory=FakeProcess)
    exit_status: Any = None

    def screen_lines(self) -> list[str]:
        return list(self.screen)


@dataclass
class FakeEngine:
    """The engine's side, recording what the watch asked of it."""

    live: dict[str, Any] = field(default_factory=dict)
    written: list[tuple[str, bytes]] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)
    continued: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    wakes: int = 0

    def profiles(self) -> dict[str, AgentProfile]:
        return dict(BUILTIN_PROFILES)

    def continue_session(self, ref: str) -> str:
        self.continued.append(ref)
        return "queued"

    def retry_session(self, ref: str) -> str:
        self.retried.append(ref)
        return "queued"

    def write(self, ref: str, data: bytes) -> None:
        self.written.append((ref, data))
        live = self.live[ref]
        live.screen = list(AFTER_MENU)  # the CLI closes its menu

    async def send_text(self, ref: str, text: str, enter: bool = True) -> None:
        self.sent.append((ref, text))

    def wake(self) -> None:
        self.wakes += 1


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def watch(engine: FakeEngine, clock: Clock) -> tuple[limits.UsageLimitWatch, list[str | None]]:
    told: list[str | None] = []
    return limits.UsageLimitWatch(engine, told.append, now=clock, local=UTC), told


def test_a_pause_holds_its_account_only_until_the_reset_and_margin(db: Paths) -> None:
    s = add("a")
    hold = limits.record(s.id, "claude", local_id(), sighting(), DETECTED, UTC)
    assert hold.reset_at == RESET and hold.zone == "UTC" and hold.sessions == 1
    held = {("claude", local_id())}
    assert limits.held_accounts(DETECTED) == held
    assert limits.held_accounts(RESET + limits.MARGIN - timedelta(seconds=1)) == held
    assert limits.held_accounts(RESET + limits.MARGIN) == frozenset()
    [event] = SessionEvent.select().where(SessionEvent.kind == "usage_limit")
    assert '"reset_text": "3pm (UTC)"' in str(event.detail)
    assert hold.describe(DETECTED, UTC) == "paused until 15:00 (usage limit, UTC)"


def test_sessions_of_one_account_share_a_pause_and_a_later_reset_wins(db: Paths) -> None:
    a, b = add("a"), add("b")
    limits.record(a.id, "claude", local_id(), sighting("3pm"), DETECTED, UTC)
    hold = limits.record(b.id, "claude", local_id(), sighting("Dec 9, 5pm"), DETECTED, UTC)
    assert len(limits.open_holds()) == 1
    assert hold.sessions == 2 and hold.reset_at == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)
    assert (
        hold.describe(DETECTED, UTC) == "paused until Wed 09 Dec 17:00 (usage limit, worker local)"
    )


def test_an_unreadable_reset_still_pauses_for_a_while(db: Paths) -> None:
    s = add("a")
    hold = limits.record(s.id, "claude", local_id(), sighting("after lunch"), DETECTED, UTC)
    assert hold.reset_at == DETECTED + limits.UNREADABLE_WAIT


def test_placement_skips_held_accounts_only(db: Paths) -> None:
    workers = {
        "w1": WorkerSlot("w1", "local", "local", 4),
        "w2": WorkerSlot("w2", "box", "remote", 4),
    }
    queue = [
        Queued("bound", "w1", "claude"),
        Queued("free", None, "claude"),
        Queued("other-agent", "w1", "codex"),
    ]
    placed = place(queue, workers, {}, 10, held={("claude", "w1")})
    assert placed == [("free", "w2"), ("other-agent", "w1")]
    assert place(queue, workers, {}, 10) == [
        ("bound", "w1"),
        ("free", "w2"),
        ("other-agent", "w1"),
    ]


def test_the_screen_pauses_once_and_the_reset_answers_the_menu_and_types(db: Paths) -> None:
    s = add("a")
    sess.transition(s.id, "active", worker=local_id())
    engine, clock = FakeEngine(), Clock(DETECTED)
    live = FakeLive(s.id, local_id(), list(MENU))
    engine.live[s.id] = live
    w, told = watch(engine, clock)
    w.saw(live, CLAUDE, live.screen)  # type: ignore[arg-type]
    w.saw(live, CLAUDE, list(MENU))  # type: ignore[arg-type]  # read again: no second pause
    assert len(limits.open_holds()) == 1 and told == [s.id, None]
    assert w.held() == {("claude", local_id())}

    async def at(moment: datetime) -> None:
        clock.at = moment
        w.tick()
        await w.settled()

    asyncio.run(at(RESET))  # not yet: the margin
    assert engine.sent == [] and w.held()
    asyncio.run(at(RESET + limits.MARGIN))
    assert engine.written == [(s.id, b"1")]
    assert engine.sent == [(s.id, CLAUDE.usage_limit_prompt)]
    assert w.held() == frozenset() and limits.open_holds() == []
    [event] = SessionEvent.select().where(SessionEvent.kind == "usage_limit_over")
    assert '"how": "typed"' in str(event.detail)
    # The old message stays on screen above the prompt typed: not a new limit.
    live.screen = [*AFTER_MENU[:4], f"❯ {CLAUDE.usage_limit_prompt}", "", "● On it.", *IDLE]
    w.saw(live, CLAUDE, live.screen)  # type: ignore[arg-type]
    assert limits.open_holds() == []
    # A new message under it is a new limit.
    typed = f"❯ {CLAUDE.usage_limit_prompt}"
    new = "  ⎿  You've hit your session limit · resets 9pm (UTC)"
    live.screen = [*AFTER_MENU[:4], typed, new, *IDLE]
    w.saw(live, CLAUDE, live.screen)  # type: ignore[arg-type]
    [hold] = limits.open_holds()
    assert hold.reset_text == "9pm (UTC)"


IDLE = ["", RULE, "❯", RULE, "  ? for shortcuts"]


def test_an_agent_that_continues_by_itself_is_not_typed_into(db: Paths) -> None:
    s = add("a")
    sess.transition(s.id, "active", worker=local_id())
    engine, clock = FakeEngine(), Clock(DETECTED)
    screen = [
        "● Done.",
        "",
        RULE,
        "❯",
        RULE,
        "  Usage limit reached · continuing automatically at 3pm",
    ]
    live = FakeLive(s.id, local_id(), screen)
    engine.live[s.id] = live
    w, _ = watch(engine, clock)
    w.saw(live, CLAUDE, screen)  # type: ignore[arg-type]
    assert w.held()
    clock.at = RESET + limits.MARGIN
    w.tick()
    assert engine.written == [] and engine.sent == [] and not w.held()
    [event] = SessionEvent.select().where(SessionEvent.kind == "usage_limit_over")
    assert "continues by itself" in str(event.detail)


def test_ended_sessions_are_continued_or_retried_and_a_user_kill_is_left(db: Paths) -> None:
    done, failed, killed = add("done"), add("failed"), add("killed")
    for s, end in ((done, "completed"), (failed, "failed"), (killed, "failed")):
        sess.transition(s.id, "active", worker=local_id())
        limits.record(s.id, "claude", local_id(), sighting(), DETECTED, UTC)
        reason = limits.KILLED if s is killed else ("api error" if end == "failed" else None)
        sess.transition(s.id, end, failure_reason=reason)
    engine, clock = FakeEngine(), Clock(RESET + limits.MARGIN)
    w, _ = watch(engine, clock)
    w.tick()
    assert engine.continued == [done.id] and engine.retried == [failed.id]
    assert engine.wakes == 1


def test_a_user_resume_lifts_the_pause_now_and_its_sessions_continue(db: Paths) -> None:
    s = add("done")
    sess.transition(s.id, "active", worker=local_id())
    limits.record(s.id, "claude", local_id(), sighting(), DETECTED, UTC)
    sess.transition(s.id, "completed")
    engine, clock = FakeEngine(), Clock(DETECTED + timedelta(minutes=5))
    w, _ = watch(engine, clock)
    lifted = w.lift()
    assert [h.sessions for h in lifted] == [1] and not w.held()
    w.tick()
    assert engine.continued == [s.id]


def test_pauses_survive_a_restart(db: Paths) -> None:
    s = add("a")
    limits.record(s.id, "claude", local_id(), sighting(), DETECTED, UTC)
    database.close()
    database.connect(db.db)
    assert limits.held_accounts(DETECTED) == {("claude", local_id())}
    assert limits.hold_of_session(s.id) is not None


def test_queued_sessions_say_they_wait_for_the_reset(db: Paths) -> None:
    Worker.update(status="connected").execute()
    runner = add("runner")
    sess.transition(runner.id, "active", worker=local_id())
    limits.record(runner.id, "claude", local_id(), sighting(), limits.utcnow(), UTC)
    bound, free = add("bound", worker=local_name()), add("free")
    shell = add("shell", agent="shell")
    reasons = wait_reasons()
    assert reasons[bound.id].startswith("paused until ")
    assert reasons[bound.id].endswith(f"(usage limit, UTC): claude on {local_name()}")
    assert reasons[free.id] == reasons[bound.id]  # the only worker is paused for claude
    assert reasons[shell.id] == "starting"


def run_cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["--home", str(home), *args]) == 0
    return capsys.readouterr().out


def test_cli_list_show_pause_and_resume_show_the_pause(
    db: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    s = add("limited")
    sess.transition(s.id, "active", worker=local_id())
    limits.record(s.id, "claude", local_id(), sighting(), limits.utcnow(), UTC)
    home = db.home
    listed = run_cli(capsys, home, "list")
    assert f"usage limit: claude on {local_name()}: paused until " in listed
    assert "(usage limit, UTC); resets '3pm (UTC)'; 1 session to continue then" in listed
    shown = run_cli(capsys, home, "show", s.id)
    assert "usage_limit" in shown and "paused until " in shown
    assert f"usage limit: claude on {local_name()}: paused" in run_cli(capsys, home, "pause")
    resumed = run_cli(capsys, home, "resume")
    assert (
        f"queue resumed\nusage-limit pause lifted: claude on {local_name()}: paused until"
        in resumed
    )
    assert limits.open_holds() == []
    assert "usage limit" not in run_cli(capsys, home, "list")


def test_the_window_is_told_of_each_new_pause_once(db: Paths) -> None:
    notices = limits.HoldNotices(lambda: DETECTED)
    assert notices.update() == (None, None)
    a = add("a")
    limits.record(a.id, "claude", local_id(), sighting(), DETECTED, UTC)
    line, note = notices.update()
    assert line is not None and line.startswith(f"Usage limit: claude on {local_name()} until ")
    assert note is not None and note[0] == a.id and note[1] == "Usage limit reached"
    assert notices.update() == (line, None)
    wrk.add_worker("box", host="127.0.0.1")
    box = str(Worker.get(Worker.name == "box").id)
    b = add("b", worker="box")
    limits.record(b.id, "claude", box, sighting("5pm (UTC)"), DETECTED, UTC)
    line, note = notices.update()
    assert line is not None and line.endswith("(+1 more)")
    assert note is not None and note[0] == b.id


def test_a_footer_saying_it_continues_by_itself_after_the_limit_line_stops_the_typing(
    db: Paths,
) -> None:
    s = add("a")
    sess.transition(s.id, "active", worker=local_id())
    engine, clock = FakeEngine(), Clock(DETECTED)
    first = ["❯ hi", "  ⎿  You've hit your session limit · resets 3pm (UTC)", *IDLE]
    live = FakeLive(s.id, local_id(), first)
    engine.live[s.id] = live
    w, _ = watch(engine, clock)
    w.saw(live, CLAUDE, first)  # type: ignore[arg-type]
    later = [*first[:-1], "  Usage limit reached · continuing automatically at 3pm"]
    w.saw(live, CLAUDE, later)  # type: ignore[arg-type]
    assert len(limits.open_holds()) == 1
    clock.at = RESET + limits.MARGIN
    w.tick()
    assert engine.written == [] and engine.sent == []


BASH_BOX = [
    "● Bash(rm -rf build)",
    "",
    "╭──────────────────────────────────────────╮",
    "│ Bash command                             │",
    "│   rm -rf build                           │",
    "│ Do you want to proceed?                  │",
    "│ ❯ 1. Yes                                 │",
    "│   2. No                                  │",
    "╰──────────────────────────────────────────╯",
]
BUSY = ["❯ go on", "", "✻ Pondering… (3s · esc to interrupt)", *IDLE]


@pytest.mark.parametrize(
    ("screen", "why"),
    [(BASH_BOX, "another prompt is open"), (BUSY, "it is busy again")],
)
def test_nothing_is_typed_into_another_prompt_or_a_busy_agent_at_the_reset(
    db: Paths, screen: list[str], why: str
) -> None:
    s = add("a")
    sess.transition(s.id, "active", worker=local_id())
    limits.record(s.id, "claude", local_id(), sighting(), DETECTED, UTC)
    engine, clock = FakeEngine(), Clock(RESET + limits.MARGIN)
    live = FakeLive(s.id, local_id(), screen)
    engine.live[s.id] = live
    w, _ = watch(engine, clock)

    async def reset() -> None:
        w.tick()
        await w.settled()

    asyncio.run(reset())
    assert engine.written == [] and engine.sent == []
    hows = [
        str(e.detail) for e in SessionEvent.select().where(SessionEvent.kind == "usage_limit_over")
    ]
    assert hows[-1] == '{"how": "not typed: ' + why + '"}'
