"""The worker connections this build has, by worker type (the composition root's default)."""

from __future__ import annotations

from pathlib import Path

from c3desk.transports.connection import (
    ConnectionFactory,
    UnsupportedConnection,
    WorkerConnection,
    WorkerInfo,
)
from c3desk.transports.local_connection import LocalConnection


def default_connections(worker: WorkerInfo) -> WorkerConnection:
    """The local machine only (remote workers stay disconnected, saying why): what an engine
    gets when no data directory is known for SSH's trust file."""
    if worker.type == "local":
        return LocalConnection(worker)
    return UnsupportedConnection(worker)


def connections_for(home: Path) -> ConnectionFactory:
    """The local machine and SSH workers, SSH trusting the user's ``~/.ssh/known_hosts`` and
    c3desk's own ``<home>/known_hosts``."""
    from c3desk.transports.ssh_connection import SSHConnection
    from c3desk.transports.ssh_trust import TrustStore

    def make(worker: WorkerInfo) -> WorkerConnection:
        if worker.type == "local":
            return LocalConnection(worker)
        if worker.type == "remote":
            return SSHConnection(worker, TrustStore(home / "known_hosts"))
        return UnsupportedConnection(worker)

    return make
