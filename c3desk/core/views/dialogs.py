"""What the New session, Settings and Workers dialogs read: workers and settings as plain rows.

The rows are frozen dataclasses, not peewee objects: a dialog may keep one while it is open
without holding a database row, and the UI never learns the store's types. Changes do not go
through here but through the operations the command line uses (``core.sessions``,
``core.settings``, ``core.workers``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, cast

import peewee as pw

from c3desk.core import settings as core_settings
from c3desk.core import workers as core_workers
from c3desk.core.views.workers import CheckResult  # the host-key dialog shows one
from c3desk.store.models import Session, Worker

# What a write raises when the database stays locked past the busy timeout or has gone away:
# not a user's mistake (no C3Error), but a dialog says so and stays open rather than crash.
STORAGE_ERRORS: Final[tuple[type[Exception], ...]] = (pw.OperationalError,)

SettingValue = int | bool | str


@dataclass(frozen=True)
class WorkerRow:
    """A worker as the dialogs show it (the SSH fields are None for the local worker)."""

    name: str
    type: str
    status: str
    host: str | None
    port: int | None
    user: str | None
    key_path: str | None
    max_sessions: int
    last_heartbeat: str | None
    id: str = ""
    active: int = 0  # its sessions running now

    @property
    def local(self) -> bool:
        """The machine c3desk runs on: it cannot be removed, only its limit changes."""
        return self.type == "local"


@dataclass(frozen=True)
class Setting:
    """One stored setting with the help text its editor shows."""

    key: str
    value: SettingValue
    help: str


def _worker_row(worker: Worker, active: int = 0) -> WorkerRow:
    return WorkerRow(
        name=str(worker.name),
        type=str(worker.type),
        status=str(worker.status),
        host=_text_or_none(worker.ssh_host),
        port=int(worker.ssh_port) if worker.ssh_port is not None else None,
        user=_text_or_none(worker.ssh_user),
        key_path=_text_or_none(worker.ssh_key_path),
        max_sessions=int(worker.max_sessions),
        last_heartbeat=_text_or_none(worker.last_heartbeat),
        id=str(worker.id),
        active=active,
    )


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def workers() -> tuple[WorkerRow, ...]:
    """Every worker, the local one first, then the remote ones by name (as ``c3desk workers``)."""
    running = _active_counts()
    return tuple(_worker_row(w, running.get(str(w.id), 0)) for w in core_workers.list_workers())


def worker(name: str) -> WorkerRow | None:
    """The worker called ``name``, or None when there is none (removed meanwhile)."""
    row = Worker.get_or_none(Worker.name == name)
    return _worker_row(row, _active_counts().get(str(row.id), 0)) if row is not None else None


def _active_counts() -> dict[str, int]:
    """How many sessions run on each worker, by worker id (one grouped count)."""
    query = (
        Session.select(Session.worker, pw.fn.COUNT(Session.id))
        .where((Session.status == "active") & Session.worker.is_null(False))
        .group_by(Session.worker)
        .tuples()
    )
    return {str(wid): int(n) for wid, n in cast("Iterable[tuple[str, int]]", query)}


def settings() -> tuple[Setting, ...]:
    """Every setting as stored, in the order ``c3desk settings`` lists them."""
    values = core_settings.get_settings()
    return tuple(
        Setting(key=key, value=values[key], help=spec.help)
        for key, spec in core_settings.SPECS.items()
    )


def setting(key: str) -> SettingValue | None:
    """The stored value of setting ``key``, or None for a key that is not a setting."""
    value = core_settings.get_settings().get(key)
    return value if isinstance(value, int | str) else None


__all__ = [
    "STORAGE_ERRORS",
    "CheckResult",
    "Setting",
    "SettingValue",
    "WorkerRow",
    "setting",
    "settings",
    "worker",
    "workers",
]
