"""Sessions hosted in c3desk's tmux server outlive the engine that started them: a new engine
finds them again with the same process and its screen (real tmux, the fake agent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.engine import (
    Watcher,
    add,
    ended_with_their_exits,
    row,
    screen_has,
    started_engine,
    status,
    use_fake_agent,
)
from helpers.polling import alive
from helpers.tmuxhost import hosted

from c3desk.config import Paths
from c3desk.core import settings as cfg
from c3desk.core.engine import Engine
from c3desk.core.sessions import events as sess_events
from c3desk.errors import Refused
from c3desk.store.models import Session
from c3desk.transports.base import LOST, ExitCallback, OutputCallback, Process
from c3desk.transports.connection import ConnectionFactory, WorkerConnection, WorkerInfo
from c3desk.transports.local_connection import LocalConnection
from c3desk.transports.tmux import TmuxHost, local_runner


async def one_saying(
    db: Paths, tmp_path: Path, word: str, connections: ConnectionFactory
) -> tuple[str, Engine, Watcher]:
    """An engine whose one session (the fake agent, in ``tmp_path/work``) has said ``word`` and
    thinks on."""
    use_fake_agent(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    sid = add(word.lower(), work, prompt=f"say {word}; think 300")
    engine, watch = await started_engine(db, connections=connections)
    await watch.until(screen_has(engine, sid, word), 20)
    return sid, engine, watch


def test_a_hosted_session_outlives_its_engine_and_is_reattached_with_its_process_and_screen(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        sid, first, watch = await one_saying(db, tmp_path, "BEFORE-THE-RESTART", hosted(tmux))
        pid = row(sid).pid
        assert pid is not None and row(sid).host_handle.startswith("tmux:")
        # The agent is the pane's own process, running in the session's folder.
        assert Path(f"/proc/{pid}/cwd").resolve() == (tmp_path / "work").resolve()
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


@pytest.mark.parametrize("when", ["while c3desk is away", "while it runs"])
def test_a_hosted_session_tmux_lost_behind_c3desks_back_fails_as_lost(
    db: Paths, tmp_path: Path, tmux: TmuxHost, when: str
) -> None:
    async def main() -> None:
        sid, engine, watch = await one_saying(db, tmp_path, "HERE", hosted(tmux))
        pid = row(sid).pid
        if when == "while c3desk is away":
            await engine.stop()
            await tmux.kill_server()  # tmux kill-server behind c3desk's back
            engine, watch = await started_engine(db, connections=hosted(tmux))
        else:
            code, _out, err = await tmux._tmux_cmd("kill-server")
            assert code == 0, err
        try:
            await watch.until(lambda: status(sid) == "failed", 20)
            assert row(sid).failure_reason == LOST
            assert pid is not None and not alive(pid)
        finally:
            await engine.stop()

    asyncio.run(main())


def test_agents_that_ended_while_c3desk_was_away_end_with_their_exit_status(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    """Reconciliation of a dead pane: the next start records what the agent's exit said
    (completed for 0, failed with the status otherwise), never lost, never active."""

    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        ok = add("ends well", work, prompt="say READY-OK")
        bad = add("ends badly", work, prompt="say READY-BAD")
        first, watch = await started_engine(db, connections=hosted(tmux))
        for sid, text in ((ok, "READY-OK"), (bad, "READY-BAD")):
            await watch.until(screen_has(first, sid, text), 20)
        pids = {sid: row(sid).pid for sid in (ok, bad)}
        names = {sid: row(sid).host_handle.removeprefix("tmux:") for sid in (ok, bad)}
        await first.stop()  # both keep running in tmux
        # Behind c3desk's back, each agent is told to end (a turn typed into its pane).
        for sid, line in ((ok, "exit 0"), (bad, "exit 3")):
            code, _out, err = await tmux._tmux_cmd(
                "send-keys", "-t", f"={names[sid]}:", line, "Enter"
            )
            assert code == 0, err
        for sid in (ok, bad):
            pid = pids[sid]
            assert pid is not None
            await watch.until(lambda pid=pid: not alive(pid), 20)
        second, watch = await started_engine(db, connections=hosted(tmux))
        try:
            ended_with_their_exits(second, ok, bad)
        finally:
            await second.stop()
        # Their tmux sessions went with the ends that were read from them.
        assert await tmux.sessions() == []

    asyncio.run(main())


def test_without_a_tmux_host_quitting_still_ends_sessions(db: Paths, tmp_path: Path) -> None:
    async def main() -> None:
        sid, engine, _ = await one_saying(db, tmp_path, "BARE", lambda w: LocalConnection(w))
        await engine.stop()
        assert status(sid) == "failed"

    asyncio.run(main())


class Flaky(LocalConnection):
    """This machine's connection, made to drop and come back on cue: what an SSH worker's
    connection does when the network goes (the engine sees only its status)."""

    reachable = True

    async def connect(self) -> None:
        if Flaky.reachable:
            self._set_status("connected")
        else:
            self._set_status("disconnected", "no route to the test worker")

    def drop(self) -> None:
        Flaky.reachable = False
        self._set_status("disconnected", "the connection closed")

    def restore(self) -> None:
        Flaky.reachable = True
        self._set_status("connected")


def flaky(tmux: TmuxHost) -> ConnectionFactory:
    Flaky.reachable = True

    def make(worker: WorkerInfo) -> WorkerConnection:
        return Flaky(worker, hosting=tmux)

    return make


def test_a_dropped_worker_keeps_its_hosted_sessions_reconnecting_until_it_returns(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("away", work, prompt="say BEFORE-THE-DROP; think 300")
        engine, watch = await started_engine(db, connections=flaky(tmux))
        try:
            await watch.until(screen_has(engine, sid, "BEFORE-THE-DROP"), 20)
            pid = row(sid).pid
            conn = engine.connections[row(sid).worker_id]
            assert isinstance(conn, Flaky)
            conn.drop()
            await watch.until(lambda: engine.live[sid].process is None, 10)
            assert engine.reconnecting(sid) and engine.live_status()[sid]["reconnecting"]
            assert status(sid) == "active" and alive(pid)
            with pytest.raises(Refused, match="reconnecting"):
                engine.write(sid, b"typed while away")  # it would be lost: said, not kept
            conn.restore()
            await watch.until(lambda: not engine.reconnecting(sid), 20)
            assert status(sid) == "active" and row(sid).pid == pid
            await watch.until(screen_has(engine, sid, "BEFORE-THE-DROP"), 20)
            engine.write(sid, b"typed after the return")
            await watch.until(screen_has(engine, sid, "typed after the return"), 20)
            kinds = [e.kind for e in sess_events(sid)]
            assert kinds.index("reconnecting") < len(kinds) - 1 - kinds[::-1].index("reattached")
        finally:
            await engine.stop(keep_hosted=False)
        assert status(sid) == "failed" and not alive(pid)
        assert await tmux.sessions() == []

    asyncio.run(main())


def test_a_session_attached_again_after_a_drop_keeps_the_size_it_is_shown_at(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    """Nothing resizes a tile when its worker comes back: the new tmux client must be made at
    the size the session is shown at, or tmux redraws a 120x40 window into a smaller view (seen
    under Xvfb as a prompt box wrapped across the tile)."""

    async def client_sizes(name: str) -> list[str]:
        code, out, err = await tmux._tmux_cmd(
            "list-clients", "-t", f"={name}", "-F", "#{client_width}x#{client_height}"
        )
        assert code == 0, err
        return out.decode().split()

    async def one_client(name: str) -> str:
        """The size of the session's only client, once the one before it has gone (polled:
        tmux decides)."""
        deadline = asyncio.get_running_loop().time() + 10
        while len(sizes := await client_sizes(name)) != 1:
            assert asyncio.get_running_loop().time() < deadline, sizes
            await asyncio.sleep(0.05)
        return sizes[0]

    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("sized", work, prompt="say SIZED; think 300")
        engine, watch = await started_engine(db, connections=flaky(tmux))
        try:
            await watch.until(screen_has(engine, sid, "SIZED"), 20)
            name = row(sid).host_handle.removeprefix("tmux:")
            engine.resize(sid, 93, 31)  # the tile's size
            conn = engine.connections[row(sid).worker_id]
            assert isinstance(conn, Flaky)
            conn.drop()
            await watch.until(lambda: engine.live[sid].process is None, 10)
            conn.restore()
            await watch.until(lambda: not engine.reconnecting(sid), 20)
            assert (engine.model_of(sid).cols, engine.model_of(sid).rows) == (93, 31)
            assert await one_client(name) == "93x31"
        finally:
            await engine.stop(keep_hosted=False)

    asyncio.run(main())


def test_a_session_found_again_at_a_restart_keeps_the_size_its_terminal_has(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    """At a restart no view has a size yet: the session is attached at the size tmux kept (its
    tile's, last time), not at a default the agent would redraw for before its tile resizes it
    back."""

    async def main() -> None:
        sid, first, watch = await one_saying(db, tmp_path, "SIZED", hosted(tmux))
        first.resize(sid, 93, 31)  # its tile's size
        name = row(sid).host_handle.removeprefix("tmux:")
        await first.stop()  # kept running

        second, watch = await started_engine(db, connections=hosted(tmux))
        try:
            assert (second.model_of(sid).cols, second.model_of(sid).rows) == (93, 31)
            await watch.until(screen_has(second, sid, "SIZED"), 20)
            code, out, err = await tmux._tmux_cmd(
                "display-message", "-p", "-t", f"={name}:", "#{window_width}x#{window_height}"
            )
            assert (code, out.decode().strip()) == (0, "93x31"), err
        finally:
            await second.stop(keep_hosted=False)

    asyncio.run(main())


def test_a_worker_away_longer_than_the_grace_period_loses_its_sessions(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        cfg.set_setting("reconnect_grace_seconds", "1")
        work = tmp_path / "work"
        work.mkdir()
        sid = add("too long", work, prompt="say HERE; think 300")
        engine, watch = await started_engine(db, connections=flaky(tmux))
        try:
            await watch.until(screen_has(engine, sid, "HERE"), 20)
            conn = engine.connections[row(sid).worker_id]
            assert isinstance(conn, Flaky)
            conn.drop()
            await watch.until(lambda: status(sid) == "failed", 20)
            assert row(sid).failure_reason == LOST and not engine.reconnecting(sid)
        finally:
            await engine.stop()

    asyncio.run(main())


def test_a_restart_while_the_worker_is_away_waits_for_it_then_reattaches(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        sid, first, watch = await one_saying(db, tmp_path, "BEFORE-THE-RESTART", flaky(tmux))
        pid = row(sid).pid
        await first.stop()
        Flaky.reachable = False
        second, watch = await started_engine(db, connections=lambda w: Flaky(w, hosting=tmux))
        try:
            assert second.reconnecting(sid) and status(sid) == "active"
            # Its last screen is shown meanwhile, from its scrollback.
            assert screen_has(second, sid, "BEFORE-THE-RESTART")()
            conn = second.connections[row(sid).worker_id]
            assert isinstance(conn, Flaky)
            conn.restore()
            await watch.until(lambda: not second.reconnecting(sid), 20)
            assert status(sid) == "active" and row(sid).pid == pid
            second.write(sid, b"typed after the wait")
            await watch.until(screen_has(second, sid, "typed after the wait"), 20)
        finally:
            await second.stop(keep_hosted=False)
        assert not alive(pid)

    asyncio.run(main())


def test_persistent_sessions_never_runs_bare_and_always_without_tmux_says_why(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        cfg.set_setting("persistent_sessions", "never")
        bare = add("bare", work, prompt="say BARE; think 300")
        engine, watch = await started_engine(db, connections=hosted(tmux))
        try:
            await watch.until(screen_has(engine, bare, "BARE"), 20)
            assert not row(bare).host_handle.startswith("tmux:")
            assert await tmux.sessions() == []
        finally:
            await engine.stop()
        assert status(bare) == "failed"  # it ended with c3desk, as before issue 17

        cfg.set_setting("persistent_sessions", "always")
        missing = TmuxHost(local_runner, conf_path=str(tmp_path / "none.conf"), tmux="no-tmux-here")
        refused = add("refused", work, prompt="say NEVER")
        engine, watch = await started_engine(db, connections=hosted(missing))
        try:
            await watch.until(lambda: status(refused) == "failed", 20)
            reason = row(refused).failure_reason
            assert "persistent_sessions is 'always'" in reason and "no tmux" in reason
        finally:
            await engine.stop()

    asyncio.run(main())


def test_hostile_folder_and_title_names_through_tmux_run_nothing(
    db: Paths, tmp_path: Path, tmux: TmuxHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folder and title names that a shell or tmux would expand reach the agent as they are."""
    names = [
        "x#(touch pwned)",
        "$(touch pwned)",
        'it\'s "quoted"',
        "a b;touch pwned #{pane_pid}",
    ]

    async def main() -> None:
        use_fake_agent(tmp_path)
        trap = tmp_path / "trap"
        trap.mkdir()
        monkeypatch.chdir(trap)  # where a relative "touch pwned" would land
        ids = {}
        for name in names:
            work = tmp_path / name
            work.mkdir()
            ids[name] = add(name, work, prompt="say IN-HOSTILE; think 300")
        cfg.set_setting("max_concurrent_sessions", str(len(names)))
        engine, watch = await started_engine(db, connections=hosted(tmux))
        try:
            for name, sid in ids.items():
                await watch.until(screen_has(engine, sid, "IN-HOSTILE"), 30)
                pid = row(sid).pid
                assert row(sid).host_handle.startswith("tmux:")
                assert Path(f"/proc/{pid}/cwd").resolve() == (tmp_path / name).resolve()
        finally:
            await engine.stop(keep_hosted=False)
        assert not list(tmp_path.rglob("pwned")) and not Path("pwned").exists()
        assert await tmux.sessions() == []

    asyncio.run(main())


class Moody(LocalConnection):
    """This machine's connection whose first reattach cannot ask tmux (as an SSH worker's
    can fail when the server refuses one more channel): that is no answer, not "gone"."""

    refusals = 1

    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        if Moody.refusals > 0:
            Moody.refusals -= 1
            raise OSError("the worker refused a channel")
        return await super().reattach(handle, on_output, on_exit, size)


def test_a_worker_that_cannot_be_asked_at_the_restart_is_asked_again_not_taken_as_lost(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    async def main() -> None:
        use_fake_agent(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        sid = add("asks", work, prompt="say ASKED-BEFORE; ask make moody")
        first, watch = await started_engine(db, connections=hosted(tmux))
        await watch.until(lambda: row(sid).needs_input, 20)
        pid = row(sid).pid
        await first.stop()
        Moody.refusals = 1
        second, watch = await started_engine(db, connections=lambda w: Moody(w, hosting=tmux))
        try:
            assert second.reconnecting(sid) and status(sid) == "active"
            await watch.until(lambda: not second.reconnecting(sid), 20)  # asked again
            assert status(sid) == "active" and row(sid).pid == pid and Moody.refusals == 0
            # Watched as any session: the box it waits at is seen again.
            Session.update(needs_input=False).where(Session.id == sid).execute()
            await watch.until(lambda: row(sid).needs_input, 20)
            second.write(sid, b"1")
            await watch.until(screen_has(second, sid, "Ran make moody"), 20)
        finally:
            await second.stop(keep_hosted=False)

    asyncio.run(main())
