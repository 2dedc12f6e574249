"""Usage-limit-aware scheduling end to end: the fake agent hits the account's usage limit (the
real CLI's wording and menu), the engine pauses that account, holds its queued sessions while
another agent's session runs, and at the reset (an injected clock jumps there) answers the
menu and types the continue prompt into the waiting agent, resumes the one that ended
(``--resume``) and starts the queue again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.engine import add, row, screen_has, started_engine, status, use_fake_agent
from helpers.remote import add_ssh_worker, ssh_factory, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.core import settings as cfg
from c3desk.core import usage_limits as limits
from c3desk.core.waiting import wait_reason
from c3desk.store.models import SessionEvent, Worker

START = datetime(2026, 12, 7, 8, 15, tzinfo=UTC)
RESET = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # "3pm (UTC)"


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """c3desk's one clock (the engine's, the queue's wait reasons) at START, whatever the date."""
    at = Clock()
    monkeypatch.setattr(limits, "utcnow", at)
    return at


def launches(sid: str) -> list[dict[str, object]]:
    return [
        json.loads(str(e.detail))
        for e in SessionEvent.select().where(
            (SessionEvent.session == sid) & (SessionEvent.kind == "launch")
        )
    ]


def test_the_account_waits_for_the_reset_and_its_sessions_continue(
    db: Paths, tmp_path: Path, clock: Clock
) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("max_concurrent_sessions", "4")
    Worker.update(max_sessions=4).where(Worker.type == "local").execute()
    waiting = add("waits at the limit", tmp_path, prompt="limit 3pm (UTC)")
    ending = add("ends at the limit", tmp_path, prompt="limit 3pm (UTC)")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            for sid in (waiting, ending):
                await watch.until(screen_has(engine, sid, "Stop and wait for limit to reset"))
            await watch.until(lambda: [h.sessions for h in limits.open_holds()] == [2])
            [hold] = limits.open_holds()
            assert (hold.reset_at, hold.sessions) == (RESET, 2)
            # One of them ends while the account waits: the user picks "wait", then quits.
            engine.write(ending, b"1")
            await watch.until(screen_has(engine, ending, "? for shortcuts"))
            await engine.send_text(ending, "/exit")
            await watch.until(lambda: status(ending) == "completed")

            # Queued now: a session of the paused account and one of another agent.
            held = add("held back", tmp_path, prompt="say resumed")
            other = add("other agent", tmp_path, prompt="echo other agent ran", agent="shell")
            await watch.until(lambda: status(other) == "completed")
            assert status(held) == "queued"
            reason = wait_reason(held)
            assert reason is not None and reason.startswith("paused until 15:00 (usage limit, UTC)")

            clock.at = RESET + limits.MARGIN  # the reset has come
            engine.wake()
            typed = f"You said: {engine.profiles()['claude'].usage_limit_prompt}"
            await watch.until(screen_has(engine, waiting, typed))
            await watch.until(lambda: status(held) == "active")
            await watch.until(lambda: status(ending) == "active")
            assert limits.open_holds() == []
            last = launches(ending)[-1]
            assert last["mode"] == "continue"
            assert "--resume" in json.dumps(last["argv"])
            hows = sorted(
                json.loads(str(e.detail))["how"]
                for e in SessionEvent.select().where(SessionEvent.kind == "usage_limit_over")
            )
            assert hows == ["continued (active)", "typed"]
            # The old message is still on the waiting agent's screen: no new pause.
            engine.look_all()
            assert limits.open_holds() == []
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_a_pause_outlives_a_restart_and_its_session_is_resumed_at_the_reset(
    db: Paths, tmp_path: Path, clock: Clock
) -> None:
    use_fake_agent(tmp_path)
    limited = add("limited", tmp_path, prompt="limit 3pm (UTC)")

    async def before_restart() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(limits.open_holds)
        finally:
            await engine.stop(keep_hosted=False)  # the session ends with c3desk

    async def after_restart() -> None:
        engine, watch = await started_engine(db)
        try:
            assert engine.limits.held()  # read back from the database
            held = add("held back", tmp_path, prompt="say resumed")
            await watch.until(lambda: (wait_reason(held) or "").startswith("paused until"))
            assert status(held) == "queued"
            clock.at = RESET + limits.MARGIN
            engine.wake()
            await watch.until(lambda: status(held) == "active" and status(limited) == "active")
        finally:
            await engine.stop(keep_hosted=False)

    asyncio.run(before_restart())
    assert status(limited) == "failed"
    asyncio.run(after_restart())
    last = launches(limited)[-1]
    assert last["mode"] == "retry" and "--resume" in json.dumps(last["argv"])
    assert limits.open_holds() == []


def test_a_limit_on_an_ssh_worker_holds_that_account_only(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    clock: Clock,
) -> None:
    """The same agent on another worker is another login: it keeps running sessions."""
    use_remote_agent(tmp_path)
    box = add_ssh_worker(sshd, max_sessions=3)
    work = tmp_path / "work"
    work.mkdir()
    factory, made = ssh_factory(sshd, tmp_path)
    limited = add("remote limit", work, prompt="limit 3pm (UTC)", worker=box.name)

    async def scenario() -> None:
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: [h.worker_id for h in limits.open_holds()] == [box.id], 40)
            bound = add("bound to box", work, prompt="say hi", worker=box.name)
            anywhere = add("anywhere", work, prompt="say hi")
            await watch.until(lambda: status(anywhere) == "active", 20)
            assert row(anywhere).worker_id != box.id  # not the paused account's worker
            assert status(bound) == "queued"
            clock.at = RESET + limits.MARGIN
            engine.wake()
            typed = f"You said: {engine.profiles()['claude'].usage_limit_prompt}"
            await watch.until(screen_has(engine, limited, typed), 20)
            await watch.until(lambda: status(bound) == "active", 20)
            assert made["box"].status == "connected"
        finally:
            await engine.stop()

    asyncio.run(scenario())
