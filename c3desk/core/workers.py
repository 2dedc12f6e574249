"""Workers: the local machine (always present) and remote SSH machines."""

from __future__ import annotations

import uuid
from pathlib import Path

from c3desk.core import clock
from c3desk.core.errors import InvalidInput, Refused
from c3desk.core.sessions import find_worker, record_event
from c3desk.store.models import Session, Worker, db


def list_workers() -> list[Worker]:
    return list(Worker.select().order_by(Worker.type, Worker.name))


def local_worker() -> Worker:
    return Worker.get(Worker.type == "local")


def add_worker(
    name: str,
    *,
    host: str,
    port: int = 22,
    user: str | None = None,
    key_path: str | None = None,
    max_sessions: int = 2,
) -> Worker:
    name = name.strip()
    if not name or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"worker name {name!r} is empty or contains control characters")
    host = host.strip()
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise InvalidInput(f"host {host!r} is not a valid host name or address")
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port {port} is out of range 1..65535")
    if not 1 <= max_sessions <= 64:
        raise InvalidInput(f"max sessions {max_sessions} is out of range 1..64")
    if user is not None and (not user or user.startswith("-") or any(c.isspace() for c in user)):
        raise InvalidInput(f"user {user!r} is not a valid user name")
    if key_path is not None:
        key = Path(key_path).expanduser()
        if not key.is_file():
            raise InvalidInput(f"key file {key_path!r} does not exist")
        key_path = str(key.resolve())
    with db.atomic():
        if Worker.select().where(Worker.name == name).exists():
            raise Refused(f"a worker named {name!r} already exists")
        return Worker.create(
            id=str(uuid.uuid4()),
            name=name,
            type="remote",
            ssh_host=host,
            ssh_port=port,
            ssh_user=user,
            ssh_key_path=key_path,
            status="disconnected",
            max_sessions=max_sessions,
            created_at=clock.now(),
        )


def remove_worker(name: str) -> None:
    """Remove a remote worker; sessions that named it fall back to any worker."""
    with db.atomic():
        worker = find_worker(name)
        if worker.type == "local":
            raise Refused("the local worker cannot be removed")
        active = Session.select().where(
            (Session.worker == worker.id) & (Session.status == "active")
        )
        if active.exists():
            raise Refused(f"worker {name!r} is running {active.count()} session(s)")
        for session in Session.select(Session.id).where(Session.worker == worker.id):
            record_event(session.id, "worker_removed", {"worker": name})
        Session.update(worker=None, updated_at=clock.now()).where(
            Session.worker == worker.id
        ).execute()
        worker.delete_instance()
