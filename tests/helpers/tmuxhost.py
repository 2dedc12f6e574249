"""A tmux server of a test's own, and worker connections that host sessions in it."""

from __future__ import annotations

import secrets
from pathlib import Path

from c3desk.transports.connection import ConnectionFactory, WorkerConnection, WorkerInfo
from c3desk.transports.local_connection import LocalConnection
from c3desk.transports.tmux import TmuxHost, local_runner


def private_tmux(folder: Path) -> TmuxHost:
    """c3desk's tmux host on a socket no other test uses (its conf written in ``folder``)."""
    return TmuxHost(
        local_runner,
        socket_name=f"c3desk-test-{secrets.token_hex(4)}",
        conf_path=str(folder / "tmux.conf"),
    )


def hosted(tmux: TmuxHost) -> ConnectionFactory:
    """Connections for this machine whose sessions are hosted in ``tmux``."""

    def make(worker: WorkerInfo) -> WorkerConnection:
        return LocalConnection(worker, hosting=tmux)

    return make
