"""The session engine with real PTYs and the fake agent: limits, order, failures, kill, output."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from helpers.engine import add, pid_gone, row, screen_has, started_engine, status, use_fake_agent

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import workers as wrk
from c3desk.core.engine import EngineEvent
from c3desk.store.models import Session, SessionEvent, Worker


def active_count() -> int:
    return int(Session.select().where(Session.status == "active").count())


def activation_order() -> list[str]:
    return [
        e.session_id
        for e in SessionEvent.select()
        .where((SessionEvent.kind == "state") & SessionEvent.detail.contains('"to": "active"'))
        .order_by(SessionEvent.id)
    ]


def test_global_limit_and_reorder_while_running(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("max_concurrent_sessions", "2")
    ids = [add(f"s{i}", tmp_path) for i in range(5)]

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        peak = 0

        def check(_: EngineEvent) -> None:
            nonlocal peak
            peak = max(peak, active_count())
            assert active_count() <= 2

        watch.checks.append(check)
        try:
            await watch.until(lambda: active_count() == 2)
            assert [status(i) for i in ids] == ["active", "active", "queued", "queued", "queued"]
            # Reorder while running: the last one goes first.
            sess.move_session(ids[4], 1)
            for sid in ids[:2]:
                await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(ids[0], "/exit")
            await watch.until(lambda: status(ids[4]) == "active")
            assert status(ids[2]) == "queued"
            # Finish everything, one exit at a time.
            for _ in range(10):
                # Between two starts (the start gap) nothing may be active: wait for one.
                await watch.until(
                    lambda: (
                        any(status(i) == "active" for i in ids)
                        or all(status(i) == "completed" for i in ids)
                    )
                )
                running = [i for i in ids if status(i) == "active"]
                if not running:
                    break
                for sid in running:
                    await watch.until(screen_has(engine, sid, "? for shortcuts"))
                    await engine.send_text(sid, "/exit")
                await watch.until(lambda r=running: all(status(i) != "active" for i in r))
            assert [status(i) for i in ids] == ["completed"] * 5
            assert peak == 2
            assert activation_order() == [ids[0], ids[1], ids[4], ids[2], ids[3]]
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_per_worker_limit_and_bound_sessions_do_not_block(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    Worker.update(max_sessions=1).where(Worker.type == "local").execute()
    wrk.add_worker("far", host="127.0.0.1")  # never connected in this test
    bound = add("bound", tmp_path, prompt="say hi", worker="far")
    free = [add(f"free{i}", tmp_path, prompt="say hi; exit 0") for i in range(3)]

    async def scenario() -> None:
        engine, watch = await started_engine(db)

        def check(_: EngineEvent) -> None:
            assert active_count() <= 1

        watch.checks.append(check)
        try:
            await watch.until(lambda: all(status(i) == "completed" for i in free), timeout=60)
            assert status(bound) == "queued" and row(bound).position == 1
            assert activation_order() == free
            # The bound session says why it waits, once, not on every scheduling pass.
            waits = [
                e.detail
                for e in SessionEvent.select().where(
                    (SessionEvent.session == bound) & (SessionEvent.kind == "waiting")
                )
            ]
            assert waits == ['{"reason": "worker \'far\' is disconnected"}']
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_limit_change_takes_effect_while_running(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("max_concurrent_sessions", "1")
    Worker.update(max_sessions=4).where(Worker.type == "local").execute()
    ids = [add(f"s{i}", tmp_path) for i in range(3)]

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: active_count() == 1)
            cfg.set_setting("max_concurrent_sessions", "3")  # as another process would
            await watch.until(lambda: active_count() == 3, timeout=5)
        finally:
            await engine.stop()
        assert all(status(i) == "failed" for i in ids)
        assert {row(i).failure_reason for i in ids} == {"stopped when c3desk quit"}

    asyncio.run(scenario())


def test_pause_stops_new_activations_only(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("max_concurrent_sessions", "1")
    first, second = add("a", tmp_path), add("b", tmp_path)

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(first) == "active")
            engine.set_paused(True)
            await watch.until(screen_has(engine, first, "? for shortcuts"))
            await engine.send_text(first, "/exit")
            await watch.until(lambda: status(first) == "completed")
            for _ in range(3):  # several scheduling passes
                engine.wake()
                await asyncio.sleep(0)
                engine.schedule()
            assert status(second) == "queued"
            engine.set_paused(False)
            await watch.until(lambda: status(second) == "active")
        finally:
            await engine.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "setup,reason,exit_code",
    [
        ("missing_command", "command not found: /nonexistent/claude", None),
        ("missing_dir", "does not exist", None),
        ("exit_3", "exited with status 3", 3),
        ("signal", "ended by SIGKILL", None),
    ],
)
def test_failure_paths(
    db: Paths, tmp_path: Path, setup: str, reason: str, exit_code: int | None
) -> None:
    use_fake_agent(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    prompt = {"exit_3": "say bye; exit 3", "signal": "signal KILL"}.get(setup, "say hi")
    sid = add("x", work, prompt=prompt)
    after = add("after", work, prompt="exit 0")
    if setup == "missing_command":
        cfg.set_setting("claude_command", "/nonexistent/claude --flag")
    if setup == "missing_dir":
        work.rename(tmp_path / "moved")
        Session.update(working_directory=str(tmp_path / "moved")).where(
            Session.id == after
        ).execute()

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "failed")
            s = row(sid)
            assert reason in (s.failure_reason or ""), s.failure_reason
            assert s.exit_code == exit_code
            if setup in ("exit_3", "signal"):
                # What happened, not a line of the screen ("...: ? for shortcuts").
                assert s.failure_reason == reason
            assert s.pid is None and s.completed_at is not None
            # The queue goes on.
            await watch.until(lambda: status(after) in ("completed", "failed"))
            if setup != "missing_command":
                assert status(after) == "completed"
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_kill_leaves_no_process(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    sid = add("k", tmp_path, prompt="think 600")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            pid = await watch.until(lambda: row(sid).pid)
            await watch.until(screen_has(engine, sid, "esc to interrupt"))
            await engine.kill(sid)
            await watch.until(lambda: status(sid) == "failed")
            assert row(sid).failure_reason == "killed by the user"
            assert pid_gone(pid)
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_agent_ignoring_hangup_is_terminated_then_killed(db: Paths, tmp_path: Path) -> None:
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap '' HUP TERM\necho stubborn\nwhile :; do sleep 1; done\n")
    script.chmod(0o755)
    cfg.set_setting("claude_command", str(script))
    sid = add("s", tmp_path, prompt=None)

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            pid = await watch.until(lambda: row(sid).pid)
            await watch.until(screen_has(engine, sid, "stubborn"))
            await engine.kill(sid)
            assert status(sid) == "failed" and pid_gone(pid)
            assert row(sid).exit_code is None
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_spawn_environment_and_size(db: Paths, tmp_path: Path) -> None:
    script = tmp_path / "env.sh"
    script.write_text('#!/bin/sh\necho "T=$TERM C=$COLORTERM S=$(stty size) D=$(pwd)"\n')
    script.chmod(0o755)
    cfg.set_setting("claude_command", str(script))
    sid = add("e", tmp_path, prompt=None)

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "completed")
            text = "\n".join(engine.screen(sid))
            assert f"T=xterm-256color C=truecolor S=40 120 D={tmp_path}" in text
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_resize_reaches_the_pty(db: Paths, tmp_path: Path) -> None:
    script = tmp_path / "size.sh"
    script.write_text("#!/bin/sh\nwhile read line; do stty size; done\n")
    script.chmod(0o755)
    cfg.set_setting("claude_command", str(script))
    sid = add("r", tmp_path, prompt=None)

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: row(sid).pid)
            engine.resize(sid, 100, 30)
            engine.write(sid, b"\r")
            await watch.until(screen_has(engine, sid, "30 100"))
            assert engine.model_of(sid).display and len(engine.model_of(sid).display) == 30
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_scrollback_on_disk_and_replayed(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    sid = add("log", tmp_path, prompt="say remember the walrus")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "remember the walrus"))
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            path = Path(row(sid).terminal_scrollback)
            assert path == db.scrollback_dir / f"{sid}.log"
            assert b"walrus" in path.read_bytes()
            # A fresh engine rebuilds the screen from the file alone.
            engine.finished.clear()
            assert any("remember the walrus" in ln for ln in engine.screen(sid))
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_scrollback_is_bounded(tmp_path: Path) -> None:
    from c3desk.core.scrollback import ScrollbackLog, read_chunks

    log = ScrollbackLog(tmp_path / "s.log", 1024 * 1024)
    for i in range(3000):
        log.append(f"{i:08d}".encode() * 128)  # 1 KiB each, 3 MiB in all
    log.close()
    data = b"".join(read_chunks(tmp_path / "s.log"))
    assert len(data) <= 1024 * 1024
    assert data.endswith(b"00002999" * 128)  # the newest output is kept
    assert log.total_written == 3000 * 1024


def test_backpressure_bounds_memory_and_keeps_every_byte(db: Paths, tmp_path: Path) -> None:
    """An agent writing as fast as the kernel allows: what waits to be drawn stays bounded and
    the scrollback gets every byte. (The loop's lag under floods is measured by
    benchmarks/flood.py and benchmarks/soak.py, not asserted here.)"""
    total = 50_000_000
    # 37.5 MB of random bytes as base64 lines: 50 MB of output.
    cfg.set_setting(
        "claude_command",
        f'sh -c \'head -c {total * 3 // 4} /dev/urandom | base64 -w 100 | tr -d "\\n" '
        "| fold -w 100' sh",
    )
    cfg.set_setting("scrollback_limit_mb", "1000")
    sid = add("flood", tmp_path, prompt=None)

    async def scenario() -> None:
        engine, watch = await started_engine(db, history=1000)
        peak_backlog = 0
        done = False

        async def probe() -> None:
            nonlocal peak_backlog
            while not done:
                await asyncio.sleep(0.01)
                live = engine.live.get(sid)
                if live is not None:
                    peak_backlog = max(peak_backlog, live.pending_bytes)

        task = asyncio.create_task(probe())
        try:
            await watch.until(lambda: status(sid) != "active" and status(sid) != "queued", 300)
        finally:
            done = True
            await task
            await engine.stop()
        assert status(sid) == "completed"
        assert peak_backlog > 0  # the probe saw the flood
        assert peak_backlog <= 4 * 1024 * 1024 + 64 * 1024
        log = db.scrollback_dir / f"{sid}.log"
        sizes = log.stat().st_size + (
            log.with_name(log.name + ".1").stat().st_size
            if log.with_name(log.name + ".1").exists()
            else 0
        )
        # fold ends every 100 columns but the last with \n; the PTY turns \n into \r\n.
        assert sizes == total + 2 * (total // 100 - 1)

    asyncio.run(scenario())


def test_orphaned_active_sessions_are_failed_on_start(db: Paths, tmp_path: Path) -> None:
    sid = add("orphan", tmp_path)
    sess.transition(sid, "active", pid=999_999)

    async def scenario() -> None:
        engine, _ = await started_engine(db)
        await engine.stop()

    asyncio.run(scenario())
    # A bare PTY's child cannot be found again by a new c3desk: every such session is lost.
    assert status(sid) == "failed"
    assert row(sid).failure_reason == "lost"


def test_no_stray_children(db: Paths, tmp_path: Path) -> None:
    """After stop(), every session process is gone (checked through /proc)."""
    use_fake_agent(tmp_path)
    cfg.set_setting("max_concurrent_sessions", "3")
    Worker.update(max_sessions=3).where(Worker.type == "local").execute()
    ids = [add(f"s{i}", tmp_path, prompt="think 600") for i in range(3)]

    async def scenario() -> list[int]:
        engine, watch = await started_engine(db)
        pids = await watch.until(
            lambda: [row(i).pid for i in ids] if all(row(i).pid for i in ids) else None
        )
        await engine.stop()
        return list(pids)

    pids = asyncio.run(scenario())
    assert all(pid_gone(p) for p in pids)
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    assert not set(map(int, children)) & set(pids)


def test_conversation_id_captured_from_output_for_other_agents(db: Paths, tmp_path: Path) -> None:
    script = tmp_path / "agent.sh"
    script.write_text(
        "#!/bin/sh\necho 'session: 0b4e7c1a-93d2-4f0e-8a55-2c6f1d9e3b77'\nsleep 600\n"
    )
    script.chmod(0o755)
    db.agents_file.write_text(
        "[printer]\n"
        f'command = ["{script}"]\n'
        'id_source = "output"\n'
        "id_pattern = 'session: (?P<id>[0-9a-f-]{36})'\n"
    )
    sid = add("p", tmp_path, prompt=None, agent="printer")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(
                lambda: row(sid).claude_session_id == "0b4e7c1a-93d2-4f0e-8a55-2c6f1d9e3b77"
            )
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_continue_without_a_conversation_fails_with_the_agents_words(
    db: Paths, tmp_path: Path
) -> None:
    use_fake_agent(tmp_path)
    sid = add("c", tmp_path, prompt="say hi")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            # The conversation is gone (deleted by the user, another machine...).
            for transcript in (tmp_path / "claude-config").rglob("*.jsonl"):
                transcript.unlink()
            assert engine.continue_session(sid) == "active"
            await watch.until(lambda: status(sid) == "failed")
        finally:
            await engine.stop()
        s = row(sid)
        assert s.failure_reason == "exited with status 1"
        assert s.continuation_count == 1 and s.exit_code == 1
        # The agent's own words are kept in the events, beside the reason.
        last = [
            json.loads(e.detail)["lines"]
            for e in SessionEvent.select().where(
                (SessionEvent.session == sid) & (SessionEvent.kind == "last_lines")
            )
        ]
        assert len(last) == 1
        assert any("No conversation found to continue" in line for line in last[0])
        assert not any("for shortcuts" in line for line in last[0])

    asyncio.run(scenario())


def test_retry_resumes_the_conversation_without_redoing_its_work(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting(
        "claude_command", f"{cfg.get_settings()['claude_command']} --permission-mode acceptEdits"
    )
    argv_log = tmp_path / "argv.jsonl"
    os.environ["FAKE_CLAUDE_ARGV_LOG"] = str(argv_log)
    work = tmp_path / "work"
    work.mkdir()
    sid = add("r", work, prompt="edit out.txt one line; say edited; exit 3")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "failed")
            assert (work / "out.txt").read_text().count("one line") == 1
            failed_at = row(sid).completed_at
            assert failed_at is not None
            engine.retry_session(sid)
            await watch.until(lambda: status(sid) == "active")
            assert row(sid).completed_at is None  # active again: not finished
            await watch.until(screen_has(engine, sid, "accept edits on"))
            model = engine.model_of(sid)
            history = [model.scrollback_text(i) for i in range(model.scrollback_len)]
            # The earlier run sits in the scrollback under a marker; the screen is the new run's.
            assert any("earlier run above" in line for line in history)
            assert not any("edited" in line for line in engine.screen(sid))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
        finally:
            await engine.stop()

    asyncio.run(scenario())
    # The task ran once: the retry resumed the conversation instead of sending the prompt again.
    assert (work / "out.txt").read_text().count("one line") == 1
    starts = [json.loads(line)["argv"] for line in argv_log.read_text().splitlines()]
    assert len(starts) == 2
    assert starts[0][-1] == "edit out.txt one line; say edited; exit 3"
    assert "--resume" in starts[1]
    assert "edit out.txt one line; say edited; exit 3" not in starts[1]
    assert row(sid).completed_at is not None


def test_ended_sessions_leave_memory_without_a_full_collection(
    db: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session the engine no longer keeps (beyond the last KEEP_FINISHED ended ones) is
    freed as soon as it is dropped, terminal and all: no reference cycle waits for the next
    full garbage collection (the 10-minute soak held 14 such terminals at a time)."""
    import gc
    import weakref

    from c3desk.core import engine as engine_module

    use_fake_agent(tmp_path)
    monkeypatch.setattr(engine_module, "KEEP_FINISHED", 1)
    cfg.set_setting("max_concurrent_sessions", "1")
    ids = [add(f"s{i}", tmp_path, prompt="say done; exit 0") for i in range(3)]

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        refs: dict[str, weakref.ref[object]] = {}

        def remember(event: EngineEvent) -> None:
            live = engine.live.get(event.session_id)
            if live is not None and event.session_id not in refs:
                refs[event.session_id] = weakref.ref(live.model.screen)

        watch.checks.append(remember)
        enabled = gc.isenabled()
        gc.disable()
        try:
            await watch.until(lambda: all(status(i) == "completed" for i in ids))
            assert set(refs) == set(ids)
            assert list(engine.finished) == [ids[2]]
            # What the end's tidying still holds goes within moments; a cycle never would.
            await watch.until(lambda: refs[ids[0]]() is None and refs[ids[1]]() is None, 10)
            assert refs[ids[2]]() is not None  # the one kept
        finally:
            if enabled:
                gc.enable()
            await engine.stop()

    asyncio.run(scenario())
