"""Sessions hosted in c3desk's tmux server outlive the engine that started them: a new engine
finds them again with the same process and its screen (real tmux, the fake agent)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.engine import add, row, screen_has, started_engine, status, use_fake_agent

from c3desk.config import Paths
from c3desk.core.engine import LOST
from c3desk.transports.connection import ConnectionFactory, WorkerConnection, WorkerInfo
from c3desk.transports.local_connection import LocalConnection
from c3desk.transports.tmux import TmuxHost, local_runner


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[TmuxHost]:
    host = TmuxHost(
        local_runner,
        socket_name=f"c3desk-test-{secrets.token_hex(4)}",
        conf_path=str(tmp_path / "tmux.conf"),
    )
    try:
        yield host
    finally:
        asyncio.run(host.kill_server())


def hosted(tmux: TmuxHost) -> ConnectionFactory:
    def make(worker: WorkerInfo) -> WorkerConnection:
        return LocalConnection(worker, hosting=tmux)

    return make


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_a_hosted_session_outlives_its_engine_and_is_reattached_with_its_process_and_screen(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("hosted", work, prompt="say BEFORE-THE-RESTART; think 300")
        first, watch = await started_engine(db, connections=hosted(tmux))
        await watch.until(screen_has(first, sid, "BEFORE-THE-RESTART"), 20)
        pid = row(sid).pid
        assert pid is not None and row(sid).host_handle.startswith("tmux:")
        # The agent is the pane's own process, running in the session's folder.
        assert Path(f"/proc/{pid}/cwd").resolve() == work.resolve()
        await first.stop()  # quitting keeps hosted sessions running
        assert status(sid) == "active" and alive(pid)

        second, watch = await started_engine(db, connections=hosted(tmux))
        try:
            assert status(sid) == "active" and row(sid).pid == pid
            await watch.until(screen_has(second, sid, "BEFORE-THE-RESTART"), 20)
            second.write(sid, b"typed after the restart")
            await watch.until(screen_has(second, sid, "typed after the restart"), 20)
        finally:
            await second.stop(keep_hosted=False)
        assert status(sid) == "failed"
        assert not alive(pid)
        assert await tmux.sessions() == []

    asyncio.run(main())


def test_a_hosted_session_tmux_lost_behind_c3desks_back_fails_as_lost(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("gone", work, prompt="say HERE; think 300")
        first, watch = await started_engine(db, connections=hosted(tmux))
        await watch.until(screen_has(first, sid, "HERE"), 20)
        pid = row(sid).pid
        await first.stop()
        await tmux.kill_server()  # tmux kill-server behind c3desk's back
        second, _watch = await started_engine(db, connections=hosted(tmux))
        try:
            assert status(sid) == "failed"
            assert row(sid).failure_reason == LOST
            assert pid is not None and not alive(pid)
        finally:
            await second.stop()

    asyncio.run(main())


def test_without_a_tmux_host_quitting_still_ends_sessions(db: Paths, tmp_path: Path) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("bare", work, prompt="say BARE; think 300")
        engine, watch = await started_engine(db, connections=lambda w: LocalConnection(w))
        await watch.until(screen_has(engine, sid, "BARE"), 20)
        await engine.stop()
        assert status(sid) == "failed"

    asyncio.run(main())
