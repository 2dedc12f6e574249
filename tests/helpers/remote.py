"""An SSH worker on the loopback sshd for engine tests: its row, a trusted connection factory,
and an agent wrapper the server runs (the server is this machine, so it runs our fake agent with
the environment the test chose; nothing of the test's environment reaches it over SSH)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from c3desk.core import settings as cfg
from c3desk.core import workers
from c3desk.store.models import Worker
from c3desk.transports.connection import ConnectionFactory, WorkerConnection, WorkerInfo
from c3desk.transports.local_connection import LocalConnection
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_trust import TrustStore
from helpers.engine import FAKE
from helpers.sshd import Sshd


def trust_store(server: Sshd, where: Path) -> TrustStore:
    """A trust store that knows the server's host key (and nothing of ~/.ssh)."""
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    own = where / "known_hosts"
    own.write_text(f"[{server.host}]:{server.port} {kind} {blob}\n")
    return TrustStore(own, where / "no_user_known_hosts")


def add_ssh_worker(server: Sshd, name: str = "box", max_sessions: int = 2) -> Worker:
    return workers.add_worker(
        name,
        host=server.host,
        port=server.port,
        user=server.user,
        key_path=str(server.user_key),
        max_sessions=max_sessions,
    )


class HomeElsewhere(SSHConnection):
    """The real SSH connection, reporting ``reported_home`` as the remote user's home: where
    the engine looks for Claude Code's transcripts on the server (``<home>/.claude``), kept out
    of this machine's real home. Everything else (the session folder on the server too) is as
    the server says."""

    reported_home = ""

    async def home(self) -> str:
        return self.reported_home


def ssh_factory(
    server: Sshd,
    where: Path,
    *,
    heartbeat: float = 10.0,
    misses: int = 3,
    home: Path | None = None,
    tmux_socket: str | None = None,
) -> tuple[ConnectionFactory, dict[str, SSHConnection]]:
    """Local and SSH connections; the SSH ones are kept in the returned dict by worker name.
    ``home``: the folder the SSH connections report as the remote user's home. ``tmux_socket``:
    the SSH connections host sessions in tmux on the server, in the tmux server of that name
    (unique per test: the loopback server's tmux is this machine's, and the test's
    TMUX_TMPDIR does not reach it)."""
    store = trust_store(server, where)
    made: dict[str, SSHConnection] = {}

    def make(worker: WorkerInfo) -> WorkerConnection:
        if worker.type == "local":
            return LocalConnection(worker)
        kind = SSHConnection if home is None else HomeElsewhere
        conn = kind(
            worker, store, connect_timeout=5.0, heartbeat=heartbeat, misses=misses,
            hosting=tmux_socket is not None, tmux_socket=tmux_socket,
        )  # fmt: skip
        if isinstance(conn, HomeElsewhere):
            conn.reported_home = str(home)
        made[worker.name] = conn
        return conn

    return make, made


def remote_agent(where: Path, speed: str = "10", **env: str) -> Path:
    """A script that runs the fake agent with its environment set, for ``claude_command``."""
    script = where / "remote-claude"
    exports = {
        "FAKE_CLAUDE_SPEED": speed,
        "CLAUDE_CONFIG_DIR": str(where / "remote-claude-config"),
        **env,
    }
    lines = ["#!/bin/sh"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
    lines.append(f'exec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE))} "$@"')
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def use_remote_agent(where: Path, **env: str) -> Path:
    script = remote_agent(where, **env)
    cfg.set_setting("claude_command", str(script))
    return script
