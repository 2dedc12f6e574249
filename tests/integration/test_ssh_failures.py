"""SSH workers when things go wrong, and what must hold across workers: the real engine, a real
sshd on 127.0.0.1 (the "server" is this machine, reached only over SSH), the fake agent on the
server side.

A hung peer is made by stopping (SIGSTOP) every per-connection sshd process, a dropped
connection by killing them (SIGKILL); the listening sshd stays, so the worker can reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import sys
import termios
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import helpers.sshd as sshd_helper
import pytest
from helpers.engine import FAKE, Watcher, add, row, screen_has, started_engine, status
from helpers.remote import add_ssh_worker, ssh_factory, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.core import settings as cfg
from c3desk.core import workers
from c3desk.core.engine import Engine, EngineEvent
from c3desk.core.launch import encode_project_dir
from c3desk.store.models import Session, SessionEvent, Worker
from c3desk.transports.ssh_connection import SESSIONS_DIR, SSHConnection

HEARTBEAT, MISSES = 0.3, 3
# A stopped peer must be noticed within the watchdog's bound plus one beat of slack.
DETECT_BOUND = HEARTBEAT * MISSES + HEARTBEAT
# Longest the loop may wake late while a peer hangs: far below the 5 s connect timeout or a
# blocking paramiko call, the stalls this guards against.
LAG_BOUND = 1.0


class LoopLag:
    """Wakes every 20 ms and records how late it woke: a stalled loop shows as a long lag."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.02)
            self.lags.append(time.monotonic() - before - 0.02)

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return max(self.lags, default=0.0)


class WorkerTimeline:
    """Every status the worker is given, with when (recorded on the engine's events): the
    connection's as the engine reports it, and its row's (what the UI and the CLI read)."""

    def __init__(self, engine: Engine, watch: Watcher, worker_id: str) -> None:
        self.seen: list[tuple[float, str, str | None]] = []
        self.rows: list[str] = []
        self._engine = engine
        self._id = worker_id
        watch.checks.append(self._on_event)

    def _on_event(self, event: EngineEvent) -> None:
        if event.kind == "worker" and event.worker_id == self._id:
            state, reason = self._engine.worker_status(self._id)
            self.seen.append((time.monotonic(), state, reason))
            self.rows.append(Worker.get_by_id(self._id).status)

    def first(self, state: str, after: float) -> tuple[float, str | None] | None:
        return next(((t, r) for t, s, r in self.seen if s == state and t >= after), None)


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@asynccontextmanager
async def remote_engine(
    db: Paths, server: Sshd, tmp_path: Path, home: Path | None = None
) -> AsyncIterator[tuple[Engine, Watcher, dict[str, SSHConnection]]]:
    """The engine with the local worker and the SSH worker ``box`` (fast heartbeats);
    ``home``: the remote user's home as the connection reports it."""
    factory, made = ssh_factory(server, tmp_path, heartbeat=HEARTBEAT, misses=MISSES, home=home)
    engine, watch = await started_engine(db, connections=factory)
    try:
        await watch.until(lambda: "box" in made and made["box"].status == "connected", 20)
        yield engine, watch, made
    finally:
        await engine.stop()


def test_a_stopped_peer_is_disconnected_within_the_bound_and_the_loop_never_stalls(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        work = tmp_path / "work"
        work.mkdir()
        # A long turn: its spinner redraws ten times a second until the peer stops.
        sid = add("hung", work, prompt="think 300", worker=box.name)
        lag = LoopLag()
        lag.start()
        stopped: list[int] = []
        try:
            async with remote_engine(db, sshd, tmp_path) as (engine, watch, _made):
                timeline = WorkerTimeline(engine, watch, str(box.id))
                await watch.until(screen_has(engine, sid, "esc to interrupt"), 20)
                stopped = sshd.connection_pids()
                assert stopped
                signal_all(stopped, signal.SIGSTOP)
                at = time.monotonic()
                # Typing into the hung session (more than the channel's 2 MiB window, so a
                # send must wait for the peer) and resizing it go out from the session's
                # own thread: the loop never waits for them.
                engine.write(sid, b"x" * (3 << 20))
                engine.resize(sid, 100, 30)
                await watch.until(lambda: timeline.first("disconnected", at), 10)
                seen = timeline.first("disconnected", at)
                assert seen is not None
                when, reason = seen
                assert when - at <= DETECT_BOUND, (when - at, timeline.seen)
                assert reason is not None and "no answer to 3 heartbeats" in reason
                await watch.until(lambda: status(sid) == "failed", 10)
                assert row(sid).failure_reason == "worker disconnected"
                assert "disconnected" in timeline.rows
                # The session's end and the attempts to reconnect must not stall the loop
                # either: keep measuring through a backoff.
                await watch.until(lambda: timeline.first("connected", at), 10)
        finally:
            signal_all(stopped, signal.SIGCONT)
            worst = await lag.stop()
        assert worst < LAG_BOUND, f"the loop stalled for {worst:.2f} s"
        assert Worker.get_by_id(box.id).status == "connected"

    asyncio.run(main())


def sshd_pids(server: Sshd) -> list[int]:
    """The connection's sshd processes only (not the agent and shells they started)."""
    out = []
    for pid in server.connection_pids():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("sshd"):
                out.append(pid)
    return out


def test_a_dropped_connection_fails_the_session_keeps_its_scrollback_and_reconnects(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("dropped", work, prompt="say BEFORE-THE-DROP; think 300", worker=box.name)
        async with remote_engine(db, sshd, tmp_path) as (engine, watch, made):
            timeline = WorkerTimeline(engine, watch, str(box.id))
            # Mid-output: the line is printed and the spinner redraws ten times a second.
            await watch.until(screen_has(engine, sid, "BEFORE-THE-DROP"), 20)
            await watch.until(screen_has(engine, sid, "esc to interrupt"), 10)
            killed = sshd_pids(sshd)
            assert killed
            at = time.monotonic()
            signal_all(killed, signal.SIGKILL)
            await watch.until(lambda: status(sid) == "failed", 10)
            assert row(sid).failure_reason == "worker disconnected"
            # The next heartbeat finds the transport closed.
            await watch.until(lambda: timeline.first("disconnected", at), 10)
            # What was printed before the drop is kept: on disk and on the screen.
            scrollback = row(sid).terminal_scrollback
            assert scrollback
            assert b"BEFORE-THE-DROP" in Path(scrollback).read_bytes()
            assert screen_has(engine, sid, "BEFORE-THE-DROP")()
            # The worker comes back by itself (backoff), and a session bound to it runs.
            await watch.until(lambda: timeline.first("connected", at), 15)
            assert made["box"].status == "connected"
            after = add("after", work, prompt="say AFTER-THE-DROP; exit 0", worker=box.name)
            await watch.until(lambda: status(after) in ("completed", "failed"), 20)
            assert status(after) == "completed", row(after).failure_reason
            assert screen_has(engine, after, "AFTER-THE-DROP")()
        # Rebuilt from its scrollback file alone (no engine, nothing in memory), the
        # failed session's screen still shows what it printed.
        fresh, _watch = await started_engine(db, connections=ssh_factory(sshd, tmp_path)[0])
        try:
            assert screen_has(fresh, sid, "BEFORE-THE-DROP")()
        finally:
            await fresh.stop()

    asyncio.run(main())


def test_an_agent_killed_by_a_signal_is_not_a_disconnected_worker(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("killed", work, prompt="say KILLED-SOON; signal KILL", worker=box.name)
        async with remote_engine(db, sshd, tmp_path) as (_engine, watch, made):
            await watch.until(lambda: status(sid) == "failed", 20)
            # The channel closed without an exit status (paramiko does not read OpenSSH's
            # exit-signal) while the connection stayed up.
            reason = row(sid).failure_reason
            assert reason == "ended without an exit status (killed by a signal?)"
            assert made["box"].status == "connected"

    asyncio.run(main())


def window_size(pid: int) -> tuple[int, int]:
    """(cols, rows) of the terminal the process ``pid`` reads (the server's PTY: the server is
    this machine), asked of the terminal itself."""
    fd = os.open(os.readlink(f"/proc/{pid}/fd/0"), os.O_RDONLY | os.O_NOCTTY)
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    finally:
        os.close(fd)
    return cols, rows


def box_top(cols: int) -> str:
    """The top edge of the fake agent's prompt box, drawn across the width it was told."""
    return "╭" + "─" * (cols - 2) + "╮"


def test_a_resize_reaches_the_remote_pty_and_the_agent_redraws_at_the_new_size(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("sized", work, prompt="say SIZED", worker=box.name)
        async with remote_engine(db, sshd, tmp_path) as (engine, watch, _made):
            cols, rows = engine.cols, engine.rows
            await watch.until(lambda: box_top(cols) in engine.screen(sid), 20)
            pid = row(sid).pid
            assert pid is not None
            assert window_size(pid) == (cols, rows)
            engine.resize(sid, 90, 30)
            # The window-change reached the PTY on the server, and the agent (SIGWINCH)
            # drew its screen again at the new width.
            await watch.until(lambda: window_size(pid) == (90, 30), 10)
            await watch.until(lambda: box_top(90) in engine.screen(sid), 10)
            engine.resize(sid, 140, 50)
            await watch.until(lambda: window_size(pid) == (140, 50), 10)
            await watch.until(lambda: box_top(140) in engine.screen(sid), 10)
            engine.write(sid, b"\x04")
            await watch.until(lambda: status(sid) == "completed", 20)

    asyncio.run(main())


def active_per_worker() -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in Session.select(Session.worker).where(Session.status == "active"):
        counts[str(s.worker_id)] = counts.get(str(s.worker_id), 0) + 1
    return counts


def test_each_workers_limit_holds_across_local_and_remote_sessions(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)  # the same script runs the fake agent here and there
        cfg.set_setting("max_concurrent_sessions", "4")
        local = workers.update_worker(workers.local_worker().name, max_sessions=1)
        box = add_ssh_worker(sshd, max_sessions=1)
        workers.update_worker(box.name, max_sessions=2)
        work = tmp_path / "work"
        work.mkdir()
        # The queue waits until the worker is connected, so that both take sessions.
        cfg.set_setting("queue_paused", "true")
        sids = [add(f"s{i}", work, prompt="think 10; exit 0") for i in range(6)]
        most: dict[str, int] = {}
        where: dict[str, str] = {}

        def sample(_event: EngineEvent) -> None:
            for wid, n in active_per_worker().items():
                most[wid] = max(most.get(wid, 0), n)
            for sid in sids:
                worker = row(sid).worker_id
                if worker is not None:
                    where[sid] = str(worker)

        async with remote_engine(db, sshd, tmp_path) as (engine, watch, _made):
            watch.checks.append(sample)
            engine.set_paused(False)
            await watch.until(lambda: all(status(s) in ("completed", "failed") for s in sids), 30)
            assert [status(s) for s in sids] == ["completed"] * 6, [
                row(s).failure_reason for s in sids
            ]
        # Each worker reached its own limit and never went past it (the global 4 would have
        # let more run).
        assert most.get(str(local.id)) == 1, most
        assert most.get(str(box.id)) == 2, most
        # Both workers ran sessions: the queue was spread, not run on one of them.
        assert set(where.values()) == {str(local.id), str(box.id)}, where

    asyncio.run(main())


def launches(sid: str) -> list[list[str]]:
    return [
        json.loads(e.detail)["argv"]
        for e in SessionEvent.select()
        .where((SessionEvent.session == sid) & (SessionEvent.kind == "launch"))
        .order_by(SessionEvent.id)
    ]


def hooks_since_launch(sid: str) -> list[str]:
    """The states the session's hooks reported since its latest launch."""
    events = list(
        SessionEvent.select()
        .where((SessionEvent.session == sid) & SessionEvent.kind.in_(["launch", "agent"]))
        .order_by(SessionEvent.id)
    )
    states: list[str] = []
    for e in events:
        if e.kind == "launch":
            states = []
        elif (detail := json.loads(e.detail)).get("source") == "hook":
            states.append(str(detail.get("state")))
    return states


def session_folder(sid: str) -> Path:
    """The session's folder on the server (this machine, the same user)."""
    return Path.home() / SESSIONS_DIR / sid


async def continue_remote_session(db: Paths, server: Sshd, tmp_path: Path, wait: bool) -> None:
    """A remote session runs a turn and ends; continued (once the connection cleaned up its
    folder on the server when ``wait``, else at once), it resumes the same conversation."""
    home = tmp_path / "remote-home"
    home.mkdir()
    use_remote_agent(tmp_path, CLAUDE_CONFIG_DIR=str(home / ".claude"))
    box = add_ssh_worker(server)
    work = tmp_path / "work"
    work.mkdir()
    sid = add("cont", work, prompt="say FIRST-RUN", worker=box.name)
    async with remote_engine(db, server, tmp_path, home=home) as (engine, watch, _made):
        continued: list[str] = []

        def continue_at_once(_event: EngineEvent) -> None:
            # As a script watching the engine would: on the event that says it completed.
            if not wait and not continued and status(sid) == "completed":
                continued.append("")
                asyncio.get_running_loop().call_soon(
                    lambda: continued.append(engine.continue_session(sid))
                )

        watch.checks.append(continue_at_once)
        await watch.until(screen_has(engine, sid, "FIRST-RUN"), 20)
        await watch.until(screen_has(engine, sid, "? for shortcuts"), 10)
        engine.write(sid, b"\x04")
        await watch.until(lambda: len(launches(sid)) == 2 or status(sid) == "completed", 20)
        cid = row(sid).claude_session_id
        assert cid
        transcript = home / ".claude" / "projects" / encode_project_dir(str(work))
        transcript = transcript / f"{cid}.jsonl"
        assert transcript.is_file()
        turns = len(transcript.read_text().splitlines())
        if wait:
            await watch.until(lambda: not session_folder(sid).exists(), 20)
            assert engine.continue_session(sid) in ("active", "queued")
        await watch.until(lambda: len(launches(sid)) == 2 and row(sid).pid, 20)
        argv = launches(sid)[1]
        assert argv[argv.index("--resume") + 1] == cid, argv
        await watch.until(
            lambda: status(sid) != "active" or screen_has(engine, sid, "? for shortcuts")(), 20
        )
        assert status(sid) == "active", (row(sid).failure_reason, engine.screen(sid))
        await engine.send_text(sid, "say SECOND-RUN")
        await watch.until(screen_has(engine, sid, "SECOND-RUN"), 20)
        # The new run's hooks report back too (its Stop hook, through its folder there).
        await watch.until(lambda: "idle" in hooks_since_launch(sid), 10)
        engine.write(sid, b"\x04")
        await watch.until(lambda: status(sid) == "completed", 20)
    # The same conversation went on: the new turn is in the same transcript.
    lines = transcript.read_text().splitlines()
    assert len(lines) > turns and "SECOND-RUN" in lines[-1]
    assert row(sid).claude_session_id == cid


def test_continue_of_a_finished_remote_session_resumes_its_conversation(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The transcript is where Claude Code keeps it without CLAUDE_CONFIG_DIR: ``.claude`` in
    the remote user's home (reported in tmp_path, to keep this machine's home out)."""
    asyncio.run(continue_remote_session(db, sshd, tmp_path, wait=True))


def test_a_remote_session_continued_as_soon_as_it_ends_starts_again(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Continued while the connection still cleans up the first run's folder on the server
    (the hook settings, the pid file), the new run must find its own files there."""
    asyncio.run(continue_remote_session(db, sshd, tmp_path, wait=False))


def test_continue_finds_the_transcript_where_the_servers_environment_keeps_it(
    db: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server whose environment for SSH commands sets CLAUDE_CONFIG_DIR (a user's
    ~/.bashrc or ~/.zshenv; here sshd's SetEnv): Claude Code keeps its transcripts there, and a
    continue must still resume the session's own conversation, not the folder's newest."""
    config = tmp_path / "server-claude-config"
    plain = sshd_helper.server_env
    monkeypatch.setattr(
        sshd_helper, "server_env", lambda: {**plain(), "CLAUDE_CONFIG_DIR": str(config)}
    )
    # The agent as installed on the server: nothing of the test's choosing but its speed.
    agent = tmp_path / "server-claude"
    agent.write_text(f'#!/bin/sh\nexport FAKE_CLAUDE_SPEED=10\nexec {sys.executable} {FAKE} "$@"\n')
    agent.chmod(0o755)
    cfg.set_setting("claude_command", str(agent))

    async def main(server: Sshd) -> None:
        box = add_ssh_worker(server)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("env", work, prompt="say FIRST-RUN", worker=box.name)
        async with remote_engine(db, server, tmp_path) as (engine, watch, _made):
            await watch.until(screen_has(engine, sid, "? for shortcuts"), 20)
            engine.write(sid, b"\x04")
            await watch.until(lambda: status(sid) == "completed", 20)
            cid = row(sid).claude_session_id
            assert cid
            # Where the agent on the server put it.
            assert list(config.glob(f"projects/*/{cid}.jsonl"))
            await watch.until(lambda: not session_folder(sid).exists(), 20)
            engine.continue_session(sid)
            await watch.until(lambda: len(launches(sid)) == 2, 20)
            argv = launches(sid)[1]
            assert "--resume" in argv and argv[argv.index("--resume") + 1] == cid, argv
            await watch.until(
                lambda: status(sid) != "active" or screen_has(engine, sid, "? for shortcuts")(), 20
            )
            assert status(sid) == "active", (row(sid).failure_reason, engine.screen(sid))
            engine.write(sid, b"\x04")
            await watch.until(lambda: status(sid) != "active", 20)
            assert status(sid) == "completed", row(sid).failure_reason

    with sshd_helper.running_sshd(tmp_path / "sshd") as server:
        asyncio.run(main(server))


def test_a_session_for_any_worker_goes_where_most_slots_are_free_ties_to_local(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        cfg.set_setting("max_concurrent_sessions", "9")
        local = workers.update_worker(workers.local_worker().name, max_sessions=2)
        box = add_ssh_worker(sshd, max_sessions=3)
        work = tmp_path / "work"
        work.mkdir()
        names = {str(local.id): "local", str(box.id): "box"}
        placed: list[str] = []
        async with remote_engine(db, sshd, tmp_path) as (_engine, watch, _made):
            # One at a time, each after the one before is running: free slots (local, box)
            # 2,3 → box; 2,2 → local (tie); 1,2 → box; 1,1 → local (tie); 0,1 → box.
            for n in range(5):
                sid = add(f"p{n}", work, prompt="think 300")
                await watch.until(lambda: status(sid) == "active" and row(sid).pid, 20)  # noqa: B023
                placed.append(names[str(row(sid).worker_id)])
        assert placed == ["box", "local", "box", "local", "box"]

    asyncio.run(main())


def test_quitting_while_a_peer_hangs_ends_its_session_and_never_stalls_the_loop(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("quit", work, prompt="think 300", worker=box.name)
        # Heartbeats far apart: the quit comes before the watchdog could notice the hang.
        factory, made = ssh_factory(sshd, tmp_path, heartbeat=60.0)
        engine, watch = await started_engine(db, connections=factory)
        lag = LoopLag()
        stopped: list[int] = []
        try:
            await watch.until(screen_has(engine, sid, "esc to interrupt"), 20)
            stopped = sshd.connection_pids()
            signal_all(stopped, signal.SIGSTOP)
            lag.start()
            # Hang-up, terminate and kill cannot reach the server; the quit still ends, and
            # does not wait out the transcript read stuck on the silent server (a bound for a
            # hang, far above the ~4 s it takes: the reads' own timeout is 15 s).
            await asyncio.wait_for(engine.stop(), 12)
        finally:
            signal_all(stopped, signal.SIGCONT)
            worst = await lag.stop()
        assert status(sid) == "failed"
        assert row(sid).failure_reason == "stopped when c3desk quit"
        assert made["box"].status == "disconnected"
        assert worst < LAG_BOUND, f"the loop stalled for {worst:.2f} s"

    asyncio.run(main())
