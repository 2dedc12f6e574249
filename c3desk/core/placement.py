"""Placing queued sessions on workers under the limits: a pure function of the rows.

The engine reads the rows (the workers it can start sessions on, how many sessions each runs,
the queue in order) and asks :func:`place` which sessions start where; it then starts them in
that order, stopping early when sessions must not start too close together. Nothing here reads
the database or the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerSlot:
    """A worker that can take sessions now (connected, its type served)."""

    id: str
    name: str
    type: str
    max_sessions: int


@dataclass(frozen=True)
class Queued:
    """A queued session: its id, the worker it is bound to (if any) and its agent."""

    id: str
    worker_id: str | None
    agent: str = ""


def pick_worker(
    worker_id: str | None, workers: Mapping[str, WorkerSlot], load: Mapping[str, int]
) -> WorkerSlot | None:
    """The worker a session goes to now, or None when it must wait.

    A session bound to a worker goes there or waits. Others go to the worker with the most
    free slots; on a tie the local machine first, then by name (so the choice is stable).
    """
    if worker_id is not None:
        w = workers.get(worker_id)
        return w if w is not None and load.get(w.id, 0) < w.max_sessions else None
    free = [w for w in workers.values() if load.get(w.id, 0) < w.max_sessions]
    if not free:
        return None
    return min(
        free, key=lambda w: (-(w.max_sessions - load.get(w.id, 0)), w.type != "local", w.name)
    )


def place(
    queue: Iterable[Queued],
    workers: Mapping[str, WorkerSlot],
    load: Mapping[str, int],
    free_slots: int,
    held: Collection[tuple[str, str]] = frozenset(),
) -> list[tuple[str, str]]:
    """(session id, worker id) for each queued session that starts now, in queue order.

    ``free_slots`` is what the global limit leaves; ``load`` the active sessions per worker. A
    session that cannot start (its worker is full or absent) does not hold back the ones
    behind it. ``held``: (agent, worker id) pairs at their usage limit, which take none of
    that agent's sessions.
    """
    load = dict(load)
    placed: list[tuple[str, str]] = []
    for s in queue:
        if len(placed) >= free_slots:
            break
        usable = workers
        if held:
            usable = {k: w for k, w in workers.items() if (s.agent, k) not in held}
        w = pick_worker(s.worker_id, usable, load)
        if w is None:
            continue
        load[w.id] = load.get(w.id, 0) + 1
        placed.append((s.id, w.id))
    return placed
