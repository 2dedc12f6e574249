"""The worker connections this build has, by worker type (the composition root's default)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import platformdirs

from c3desk.config import APP_NAME
from c3desk.transports.connection import (
    ConnectionFactory,
    UnsupportedConnection,
    WorkerConnection,
    WorkerInfo,
)
from c3desk.transports.local_connection import LocalConnection
from c3desk.transports.tmux import TmuxHost, default_socket_name, local_runner


def default_connections(worker: WorkerInfo) -> WorkerConnection:
    """The local machine only (remote workers stay disconnected, saying why): what an engine
    gets when no data directory is known for SSH's trust file."""
    if worker.type == "local":
        return LocalConnection(worker)
    return UnsupportedConnection(worker)


def tmux_socket_name(home: Path) -> str:
    """c3desk's tmux server on this machine: ``c3desk-<user>`` for the default data folder;
    another data folder (``--home``) gets a server of its own, so that two instances never
    see each other's sessions (their session ids could meet)."""
    base = default_socket_name()
    default = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if home.absolute() == default.absolute():
        return base
    digest = hashlib.sha256(str(home.absolute()).encode()).hexdigest()[:10]
    return f"{base}-{digest}"


def local_hosting(home: Path) -> TmuxHost:
    """The tmux host of this machine's sessions, its configuration in the data folder."""
    return TmuxHost(
        local_runner, conf_path=str(home / "tmux.conf"), socket_name=tmux_socket_name(home)
    )


def connections_for(home: Path) -> ConnectionFactory:
    """The local machine and SSH workers, both hosting sessions in tmux as the
    ``persistent_sessions`` setting says; SSH trusts the user's ``~/.ssh/known_hosts`` and
    c3desk's own ``<home>/known_hosts``."""
    from c3desk.transports.ssh_connection import SSHConnection
    from c3desk.transports.ssh_trust import TrustStore

    def make(worker: WorkerInfo) -> WorkerConnection:
        if worker.type == "local":
            return LocalConnection(worker, hosting=local_hosting(home))
        if worker.type == "remote":
            return SSHConnection(worker, TrustStore(home / "known_hosts"), hosting=True)
        return UnsupportedConnection(worker)

    return make
