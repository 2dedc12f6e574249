"""Why a queued session is not starting: one sentence a user understands.

The scheduler (:meth:`c3desk.core.engine.Engine.schedule`) starts the first queued sessions that
fit; this module answers the question it leaves open for the others ("why is mine still
queued?"), for ``c3desk show``, the queue dock's tooltip and the status bar. It reads the same
rows the scheduler reads, so the answer matches what the scheduler will do on its next pass.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from c3desk.core import settings as cfg
from c3desk.core import usage_limits as limits
from c3desk.store.models import Session, Worker

# The worker types the engine can start sessions on (the local machine, SSH workers).
RUNNABLE_TYPES: frozenset[str] = frozenset({"local", "remote"})


@dataclass(frozen=True)
class _Snapshot:
    paused: bool
    limit: int
    active: int
    workers: Mapping[str, Worker]
    load: Mapping[str, int]
    runnable: Collection[str]


def _snapshot(runnable: Collection[str]) -> _Snapshot:
    settings = cfg.get_settings()
    workers = {w.id: w for w in Worker.select()}
    load = dict.fromkeys(workers, 0)
    active = 0
    for s in Session.select(Session.worker).where(Session.status == "active"):
        active += 1
        if s.worker_id in load:
            load[s.worker_id] += 1
    return _Snapshot(
        bool(settings["queue_paused"]),
        int(settings["max_concurrent_sessions"]),
        active,
        workers,
        load,
        runnable,
    )


def worker_problem(worker: Worker, runnable: Collection[str] = RUNNABLE_TYPES) -> str | None:
    """Why no session can start on ``worker`` at all, or None when it can take sessions."""
    if worker.status == "error":
        return f"worker {worker.name!r} cannot be reached (an error: see `c3desk worker check`)"
    if worker.status != "connected":
        return f"worker {worker.name!r} is {worker.status}"
    if worker.type not in runnable:
        return f"worker {worker.name!r} cannot run sessions in this version of c3desk"
    return None


def _reason(s: Session, snap: _Snapshot) -> str | None:
    """The blocker that keeps ``s`` queued, or None when a free slot would take it."""
    if s.worker_id is not None:
        worker = snap.workers.get(s.worker_id)
        if worker is not None:
            problem = worker_problem(worker, snap.runnable)
            if problem is not None:
                return problem
    if snap.paused:
        return "the queue is paused"
    if snap.active >= snap.limit:
        return f"all {snap.limit} session slots are in use (max_concurrent_sessions)"
    if s.worker_id is not None:
        worker = snap.workers[s.worker_id]
        if snap.load[worker.id] >= worker.max_sessions:
            return (
                f"worker {worker.name!r} is running {snap.load[worker.id]} of its "
                f"{worker.max_sessions} sessions"
            )
    else:
        usable = [w for w in snap.workers.values() if worker_problem(w, snap.runnable) is None]
        if not usable:
            return "no worker is connected"
        if all(snap.load[w.id] >= w.max_sessions for w in usable):
            return "every connected worker is running as many sessions as it may"
    return None


def wait_reasons(runnable: Collection[str] = RUNNABLE_TYPES) -> dict[str, str]:
    """Every queued session's reason for waiting, by id (one pass over the queue)."""
    snap = _snapshot(runnable)
    out: dict[str, str] = {}
    free = max(0, snap.limit - snap.active)
    now, holds = limits.utcnow(), limits.open_holds()
    usable = [w.id for w in snap.workers.values() if worker_problem(w, snap.runnable) is None]
    for s in Session.select().where(Session.status == "queued").order_by(Session.position):
        reason = _reason(s, snap)
        if reason is None and holds:
            reason = limits.wait_reason(str(s.agent), s.worker_id, usable, now, holds)
        if reason is None:
            if free > 0:
                free -= 1
                reason = "starting"
            else:
                reason = "the free slots go to sessions ahead of it in the queue"
        out[s.id] = reason
    return out


def wait_reason(session_id: str, runnable: Collection[str] = RUNNABLE_TYPES) -> str | None:
    """Why the queued session ``session_id`` is not starting; None when it is not queued."""
    s = Session.get_or_none(Session.id == session_id)
    if s is None or s.status != "queued":
        return None
    return wait_reasons(runnable).get(session_id)
