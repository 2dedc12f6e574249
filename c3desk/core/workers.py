"""Workers: the local machine (always present) and remote SSH machines."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from c3desk import clock
from c3desk.core.sessions import find_worker, record_event, remove_session
from c3desk.errors import InvalidInput, Refused
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
    values = _validated(
        name, host=host, port=port, user=user, key_path=key_path, max_sessions=max_sessions
    )
    name = values["name"]
    with db.atomic():
        if Worker.select().where(Worker.name == name).exists():
            raise Refused(f"a worker named {name!r} already exists")
        return Worker.create(
            id=str(uuid.uuid4()),
            type="remote",
            status="disconnected",
            created_at=clock.now(),
            **values,
        )


def _validated(
    name: str,
    *,
    host: str,
    port: int,
    user: str | None,
    key_path: str | None,
    max_sessions: int,
) -> dict[str, Any]:
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
    return {
        "name": name,
        "ssh_host": host,
        "ssh_port": port,
        "ssh_user": user,
        "ssh_key_path": key_path,
        "max_sessions": max_sessions,
    }


def remove_worker(name: str, *, reassign_to: str | None = None, drop: bool = False) -> None:
    """Remove a remote worker.

    Queued sessions bound to it are never re-homed silently: the caller says where they go,
    ``reassign_to`` another worker's name (or ``"any"``: whichever worker is free), or ``drop``
    them from the queue. Finished sessions keep their history and lose only the worker link.
    """
    if reassign_to is not None and drop:
        raise InvalidInput("reassign the queued sessions or drop them, not both")
    with db.atomic():
        worker = find_worker(name)
        if worker.type == "local":
            raise Refused("the local worker cannot be removed")
        active = Session.select().where(
            (Session.worker == worker.id) & (Session.status == "active")
        )
        if active.exists():
            raise Refused(f"worker {name!r} is running {active.count()} session(s)")
        queued = [
            s.id
            for s in Session.select(Session.id).where(
                (Session.worker == worker.id) & (Session.status == "queued")
            )
        ]
        target: Worker | None = None
        if queued and reassign_to is None and not drop:
            raise Refused(
                f"worker {name!r} has {len(queued)} queued session(s); say where they go "
                "(--reassign-to WORKER, --reassign-to any) or --drop them"
            )
        if reassign_to is not None and reassign_to.strip().lower() != "any":
            target = find_worker(reassign_to)
            if target.id == worker.id:
                raise InvalidInput(f"cannot reassign the sessions of {name!r} to itself")
        if drop:
            for sid in queued:
                remove_session(sid)
        else:
            for sid in queued:
                record_event(
                    sid, "worker_removed", {"worker": name, "now": target.name if target else None}
                )
            Session.update(worker=target.id if target else None, updated_at=clock.now()).where(
                Session.id.in_(queued)
            ).execute()
        for session in Session.select(Session.id).where(Session.worker == worker.id):
            record_event(session.id, "worker_removed", {"worker": name})
        Session.update(worker=None, updated_at=clock.now()).where(
            Session.worker == worker.id
        ).execute()
        worker.delete_instance()


def update_worker(
    name: str,
    *,
    new_name: str | None = None,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    key_path: str | None = None,
    max_sessions: int | None = None,
) -> Worker:
    """Change a worker's details (validated like :func:`add_worker`); the local one keeps its
    name and address, only its session limit changes."""
    with db.atomic():
        worker = find_worker(name)
        if max_sessions is not None and not 1 <= max_sessions <= 64:
            raise InvalidInput(f"max sessions {max_sessions} is out of range 1..64")
        if worker.type == "local":
            if any(v is not None for v in (new_name, host, port, user, key_path)):
                raise Refused("only the session limit of the local worker can change")
            if max_sessions is not None:
                worker.max_sessions = max_sessions
                worker.save()
            return worker
        target = (new_name or worker.name).strip()
        if target != worker.name and Worker.select().where(Worker.name == target).exists():
            raise Refused(f"a worker named {target!r} already exists")
        # Reuse add_worker's validation on the merged values without writing a row.
        probe = _validated(
            target,
            host=host if host is not None else (worker.ssh_host or ""),
            port=port if port is not None else (worker.ssh_port or 22),
            user=user if user is not None else worker.ssh_user,
            key_path=key_path if key_path is not None else worker.ssh_key_path,
            max_sessions=max_sessions if max_sessions is not None else worker.max_sessions,
        )
        Worker.update(**probe).where(Worker.id == worker.id).execute()
        return Worker.get_by_id(worker.id)
