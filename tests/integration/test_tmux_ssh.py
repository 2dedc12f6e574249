"""c3desk's tmux server on an SSH worker: the same TmuxHost, its commands run over the loopback
sshd (the server is this machine, so /proc shows what runs there)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from helpers.remote import trust_store
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.tmux import TmuxHost, session_name

HOSTILE = "it's $(touch CANARY) `touch CANARY` ; x#(touch CANARY) -rf"


def test_a_session_is_hosted_read_and_removed_over_ssh_and_hostile_words_run_nothing(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    work = tmp_path / HOSTILE
    work.mkdir()
    script = tmp_path / "agent.sh"
    script.write_text('echo "argument: $1"; echo REMOTE-READY; exec sleep 300\n')

    async def main() -> None:
        info = WorkerInfo("w", "box", "remote", sshd.host, sshd.port, sshd.user, str(sshd.user_key))
        conn = SSHConnection(info, trust_store(sshd, tmp_path), connect_timeout=5.0)
        await conn.connect()
        assert conn.status == "connected", conn.reason
        host = TmuxHost(
            conn.runner(),
            socket_name=f"c3desk-test-{secrets.token_hex(4)}",
            conf_path=str(tmp_path / "remote" / "tmux.conf"),
        )
        name = session_name("remote1")
        try:
            assert await host.usable()
            pid = await host.new_session(
                name, str(work), ["/bin/sh", str(script), HOSTILE], {"A": "$(touch CANARY)"},
                100, 30,
            )  # fmt: skip
            for _ in range(200):
                if b"REMOTE-READY" in await host.capture(name):
                    break
                await asyncio.sleep(0.02)
            text = (await host.capture(name)).decode()
            assert f"argument: {HOSTILE}" in text
            # Once it ran (c3desk's script changes to the folder itself, after tmux starts it).
            assert Path(f"/proc/{pid}/cwd").resolve() == work.resolve()
            pane = await host.pane(name)
            assert pane is not None and not pane.dead and pane.pid == pid
            await host.kill(name)
            assert await host.pane(name) is None
        finally:
            await host.kill_server()
            await conn.close()

    asyncio.run(main())
    for where in (tmp_path, work, Path.home()):
        assert not (where / "CANARY").exists()
