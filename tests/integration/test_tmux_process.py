"""A tmux-hosted session as one Process: real tmux, its client in a real PTY, a shell agent."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from c3desk.terminal import TerminalModel
from c3desk.transports.base import ExitStatus, SpawnRequest
from c3desk.transports.tmux import TmuxHost, local_runner, session_name
from c3desk.transports.tmux_process import attach, start

# Prints its pid and a line, echoes what is typed back in upper case, exits with what "exit N"
# asks for.
AGENT = r"""
echo "agent pid $$"
echo "READY"
while IFS= read -r line; do
  case "$line" in
    exit*) exit "${line#exit }" ;;
    *) printf 'got %s\n' "$(printf %s "$line" | tr a-z A-Z)" ;;
  esac
done
"""


@pytest.fixture
def host(tmp_path: Path) -> Iterator[TmuxHost]:
    tmux = TmuxHost(
        local_runner,
        socket_name=f"c3desk-test-{secrets.token_hex(4)}",
        conf_path=str(tmp_path / "tmux.conf"),
    )
    try:
        yield tmux
    finally:
        asyncio.run(tmux.kill_server())


class Screen:
    def __init__(self) -> None:
        self.data = bytearray()
        self.exits: list[ExitStatus] = []
        self.changed = asyncio.Event()

    def output(self, chunk: bytes) -> None:
        self.data += chunk
        self.changed.set()

    def exited(self, status: ExitStatus) -> None:
        self.exits.append(status)
        self.changed.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        async def wait() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


def request(tmp_path: Path) -> SpawnRequest:
    script = tmp_path / "agent.sh"
    script.write_text(AGENT)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return SpawnRequest(["/bin/sh", str(script)], str(tmp_path), env, 100, 30)


def test_the_agent_runs_hosted_its_pid_is_the_agents_and_its_exit_status_is_reported(
    host: TmuxHost, tmp_path: Path
) -> None:
    async def main() -> None:
        screen = Screen()
        name = session_name("abc123")
        process = await start(host, name, request(tmp_path), screen.output, screen.exited)
        await screen.until(lambda: b"READY" in screen.data)
        # The pid is the agent's own (the shell running the script), not the tmux client's.
        assert process.pid is not None
        assert f"agent pid {process.pid}".encode() in screen.data
        assert process.handle == f"tmux:{name}"
        process.write(b"hello\r")
        await screen.until(lambda: b"got HELLO" in screen.data)
        process.write(b"exit 3\r")
        await screen.until(lambda: bool(screen.exits))
        assert screen.exits == [ExitStatus(3)]
        assert await process.wait() == ExitStatus(3)
        # Nothing is left: the tmux session and the client go right after the end.
        await process.settled()
        assert name not in await host.sessions()

    asyncio.run(main())


def test_attaching_again_replays_what_it_printed_and_keeps_the_same_process(
    host: TmuxHost, tmp_path: Path
) -> None:
    async def main() -> None:
        first, second = Screen(), Screen()
        name = session_name("again")
        process = await start(host, name, request(tmp_path), first.output, first.exited)
        await first.until(lambda: b"READY" in first.data)
        process.write(b"before\r")
        await first.until(lambda: b"got BEFORE" in first.data)
        # The client goes (as when c3desk quits or crashes); the agent stays.
        await process._client.terminate(0.5)
        assert name in await host.sessions()
        again = await attach(host, name, {"PATH": os.environ["PATH"]}, 100, 30,
                             second.output, second.exited)  # fmt: skip
        assert again is not None and again.pid == process.pid
        await second.until(lambda: b"got BEFORE" in second.data)
        again.write(b"after\r")
        await second.until(lambda: b"got AFTER" in second.data)
        status = await again.terminate(1.0)
        assert status.code is None  # ended by its hang-up, not an exit of its own
        assert name not in await host.sessions()
        assert await attach(host, name, {}, 100, 30, second.output, second.exited) is None
        process._watch.cancel()

    asyncio.run(main())


def test_a_quickly_ending_agents_last_screen_is_its_own_not_tmuxs_dead_pane_line(
    host: TmuxHost, tmp_path: Path
) -> None:
    """tmux writes "Pane is dead (status 0, ...)" on a new bottom row of the dead pane, which
    scrolls the screen up by one; the client usually draws that before the agent's end reaches
    c3desk. The last screen is then the dead pane's own rows: first row first, no banner."""

    async def main() -> None:
        screen = Screen()
        model = TerminalModel(100, 30, history=100)

        def shown(chunk: bytes) -> None:
            model.feed(chunk)
            screen.output(chunk)

        agent = "sleep 0.3; printf 'FIRST-ROW\\n\\033[31mSECOND-ROW\\033[0m\\n'; exit 0"
        spawn = SpawnRequest(["/bin/sh", "-c", agent], str(tmp_path), dict(os.environ), 100, 30)
        process = await start(host, session_name("quick"), spawn, shown, screen.exited)
        await screen.until(lambda: bool(screen.exits))
        await process.settled()
        rows = [row.rstrip() for row in model.display]
        assert rows[:3] == ["FIRST-ROW", "SECOND-ROW", ""], rows[:3]
        assert not any("Pane is dead" in row for row in rows), rows
        assert model.cell(0, 1)[1].fg not in (None, "default")  # its colours kept

    asyncio.run(main())
