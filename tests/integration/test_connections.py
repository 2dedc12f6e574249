"""Worker connections: the engine reaches every worker through one, and finds sessions again
through it after a restart."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from helpers.engine import add, row, screen_has, started_engine, status, use_fake_agent

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import workers as wrk
from c3desk.core.engine import EngineEvent
from c3desk.store.models import SessionEvent, Worker
from c3desk.transports.base import (
    LOST,
    ExitCallback,
    ExitStatus,
    OutputCallback,
    Process,
    SpawnError,
    SpawnRequest,
)
from c3desk.transports.connection import DirEntry, FileStat, WorkerConnection, WorkerInfo
from c3desk.transports.factory import default_connections
from c3desk.transports.local_connection import LocalConnection


class ScriptedProcess(Process):
    """A process the test drives: what it prints is what the test says; input is kept."""

    def __init__(self, pid: int, handle: str) -> None:
        self.pid = pid
        self.handle = handle
        self.written = bytearray()
        self.on_output: OutputCallback | None = None
        self.on_exit: ExitCallback | None = None
        self._status: ExitStatus | None = None

    def attach(self, on_output: OutputCallback, on_exit: ExitCallback) -> None:
        self.on_output, self.on_exit = on_output, on_exit

    def print(self, data: bytes) -> None:
        assert self.on_output is not None
        self.on_output(data)

    def write(self, data: bytes) -> None:
        self.written += data

    def resize(self, cols: int, rows: int) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def end(self, status: ExitStatus) -> None:
        if self._status is None:
            self._status = status
            assert self.on_exit is not None
            self.on_exit(status)

    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        self.end(ExitStatus(None, signal.SIGHUP))
        assert self._status is not None
        return self._status

    @property
    def exited(self) -> bool:
        return self._status is not None


class FakeConnection(WorkerConnection):
    """A worker whose machine kept some processes running while c3desk was away."""

    def __init__(self, worker: WorkerInfo, running: dict[str, ScriptedProcess]) -> None:
        super().__init__(worker)
        self.running = running
        self.ending: set[str] = set()
        self.asked: list[str] = []

    async def connect(self) -> None:
        self._set_status("connected")

    async def close(self) -> None:
        self._set_status("disconnected", "closed")

    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        raise SpawnError("this fake starts nothing")

    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        self.asked.append(handle)
        process = self.running.get(handle)
        if process is not None:
            process.attach(on_output, on_exit)
            if handle in self.ending:
                process.end(ExitStatus(0))  # it finished while c3desk looked for it
        return process

    async def read_file(self, path: str, limit: int) -> bytes:
        raise OSError("no files here")

    async def list_dir(self, path: str) -> list[DirEntry]:
        return []

    async def stat(self, path: str) -> FileStat | None:
        return None

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        return None

    def report(self, session_id: str, event: str, payload: dict[str, str]) -> None:
        """A hook report arriving over this worker's channel."""
        self._report_hook(session_id, event, payload)


def _left_active(title: str, cwd: Path, handle: str, pid: int) -> str:
    """A session the previous c3desk left running on the local worker."""
    sid = add(title, cwd)
    sess.transition(sid, "active", worker=wrk.local_worker().id, pid=pid, host_handle=handle)
    return sid


def test_restart_reattaches_the_alive_session_and_fails_the_gone_one(
    db: Paths, tmp_path: Path
) -> None:
    alive = _left_active("alive", tmp_path, "fake:alive", 4242)
    gone = _left_active("gone", tmp_path, "fake:gone", 4343)
    # What the alive one printed before the restart is on its screen again.
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    (db.scrollback_dir / f"{alive}.log").write_bytes(b"printed before the restart\r\n")
    process = ScriptedProcess(4242, "fake:alive")
    made: list[FakeConnection] = []

    def factory(info: WorkerInfo) -> WorkerConnection:
        made.append(FakeConnection(info, {"fake:alive": process}))
        return made[-1]

    async def scenario() -> None:
        engine, watch = await started_engine(db, connections=factory)
        try:
            assert sorted(made[0].asked) == ["fake:alive", "fake:gone"]
            assert status(alive) == "active" and row(alive).pid == 4242
            assert row(alive).host_handle == "fake:alive"
            assert status(gone) == "failed" and row(gone).failure_reason == LOST
            assert row(gone).host_handle is None
            assert engine.running_count() == 1
            # Its output flows again, into its terminal model, below what it printed before.
            process.print(b"hello after the restart\r\n")
            await watch.until(screen_has(engine, alive, "hello after the restart"))
            assert any("printed before the restart" in line for line in engine.screen(alive))
            # ... and input reaches it.
            engine.write(alive, b"y")
            assert bytes(process.written) == b"y"
            kinds = [e.kind for e in SessionEvent.select().where(SessionEvent.session == alive)]
            assert "reattached" in kinds
            # Hook reports the worker's connection receives reach the session.
            conversation = "0b4d6a4e-2f55-4c0e-9a53-5f8f1d0e7c11"
            made[0].report(alive, "session-start", {"session_id": conversation})
            assert row(alive).claude_session_id == conversation
        finally:
            await engine.stop()
        # Quitting ends it as any live session.
        assert status(alive) == "failed"
        assert row(alive).failure_reason == "stopped when c3desk quit"

    asyncio.run(scenario())


def test_local_connection_status_lifecycle(db: Paths, tmp_path: Path) -> None:
    local = wrk.local_worker()
    Worker.update(status="disconnected", last_heartbeat=None).where(Worker.id == local.id).execute()
    far = wrk.add_worker("far", host="127.0.0.1")

    async def scenario() -> None:
        engine, watch = await started_engine(db, connections=default_connections)
        try:
            worker_events = [e for e in watch.events if e.kind == "worker"]
            assert EngineEvent("worker", None, local.id) in worker_events
            assert engine.worker_status(local.id) == ("connected", None)
            stored = Worker.get_by_id(local.id)
            assert stored.status == "connected" and stored.last_heartbeat is not None
            # A type this build cannot reach stays disconnected, and says why.
            state, reason = engine.worker_status(far.id)
            assert state == "disconnected" and reason is not None and "remote" in reason
            assert Worker.get_by_id(far.id).status == "disconnected"
            conn = engine.connections[local.id]
            assert isinstance(conn, LocalConnection)
        finally:
            await engine.stop()
        assert conn.status == "disconnected"

    asyncio.run(scenario())


def test_a_worker_added_while_running_gets_a_connection(db: Paths, tmp_path: Path) -> None:
    async def scenario() -> None:
        engine, watch = await started_engine(db, connections=default_connections)
        try:
            far = wrk.add_worker("late", host="127.0.0.1")
            engine.wake()
            await watch.until(lambda: far.id in engine.connections)
            assert engine.worker_status(far.id)[0] == "disconnected"
            wrk.remove_worker("late")
            engine.wake()
            await watch.until(lambda: far.id not in engine.connections)
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_a_started_session_records_its_handle_until_it_ends(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    sid = add("handle", tmp_path, prompt="say hi")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            pid = await watch.until(lambda: row(sid).pid)
            assert row(sid).host_handle == f"pty:{pid}"
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            assert row(sid).host_handle is None
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_local_connection_files_and_reattach(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"0123456789")
    (tmp_path / "sub").mkdir()
    conn = LocalConnection(WorkerInfo(id="w", name="here", type="local"))
    seen: list[WorkerConnection] = []
    conn.on_status(seen.append)

    async def scenario() -> None:
        await conn.connect()
        assert conn.status == "connected" and conn.reason is None and seen == [conn]
        assert await conn.read_file(str(tmp_path / "notes.txt"), 4) == b"0123"
        entries = {e.name: e for e in await conn.list_dir(str(tmp_path))}
        assert entries["sub"].is_dir and not entries["notes.txt"].is_dir
        assert entries["notes.txt"].size == 10
        found = await conn.stat(str(tmp_path / "notes.txt"))
        assert found is not None and found.size == 10 and not found.is_dir
        assert await conn.stat(str(tmp_path / "missing")) is None
        # A PTY's child cannot be handed to a new c3desk.
        assert await conn.reattach("pty:1", lambda _: None, lambda _: None) is None
        command = conn.hook_command(tmp_path, "s1")
        assert command is not None and command[-3:] == ["hook", "--session", "s1"]
        await conn.close()
        assert conn.status == "disconnected" and len(seen) == 2

    asyncio.run(scenario())


def test_a_session_that_ends_while_it_is_found_again_is_recorded_as_ended(
    db: Paths, tmp_path: Path
) -> None:
    sid = _left_active("ending", tmp_path, "fake:ending", 4444)
    process = ScriptedProcess(4444, "fake:ending")

    def factory(info: WorkerInfo) -> WorkerConnection:
        conn = FakeConnection(info, {"fake:ending": process})
        conn.ending.add("fake:ending")
        return conn

    async def scenario() -> None:
        engine, _ = await started_engine(db, connections=factory)
        try:
            assert status(sid) == "completed" and row(sid).host_handle is None
            assert engine.running_count() == 0
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_the_heartbeat_setting_reaches_every_connection_live(db: Paths) -> None:
    async def main() -> None:
        engine, watch = await started_engine(db, connections=default_connections)
        try:
            conn = next(iter(engine.connections.values()))
            assert conn.heartbeat == 10.0
            cfg.set_setting("worker_heartbeat_seconds", "3")
            await watch.until(lambda: conn.heartbeat == 3.0, 10)
        finally:
            await engine.stop()

    asyncio.run(main())
