"""How many sessions can really run at once, and why that is below the global limit.

The global limit (``max_concurrent_sessions``) is only an upper bound: a session runs on a
worker, and each worker takes at most its own ``max_sessions``. So the effective capacity is
min(global limit, sum of the connected workers' limits). Setting the global limit above that sum
changes nothing, and a user must be told so rather than left waiting for sessions that never
start.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from c3desk.store.models import Settings, Worker


@dataclass(frozen=True, slots=True)
class WorkerLimit:
    name: str
    max_sessions: int
    connected: bool


@dataclass(frozen=True, slots=True)
class Capacity:
    global_limit: int
    workers: tuple[WorkerLimit, ...]

    @property
    def workers_allow(self) -> int:
        """The sum of the connected workers' limits (a disconnected one runs nothing)."""
        return sum(w.max_sessions for w in self.workers if w.connected)

    @property
    def effective(self) -> int:
        return min(self.global_limit, self.workers_allow)

    @property
    def limited_by_workers(self) -> bool:
        return self.global_limit > self.workers_allow

    def warning(self) -> str | None:
        """A sentence naming the workers and their limits when they cap the global limit."""
        if not self.limited_by_workers:
            return None
        connected = [w for w in self.workers if w.connected]
        absent = [w for w in self.workers if not w.connected]
        if connected:
            allow = ", ".join(f"worker {w.name!r} allows {w.max_sessions}" for w in connected)
            name = shlex.quote(connected[0].name) if len(connected) == 1 else "NAME"
            text = (
                f"only {self.effective} session{'s' if self.effective != 1 else ''} can run "
                f"at once, not {self.global_limit}: {allow} "
                f"(c3desk worker set {name} --max-sessions N)"
            )
        else:
            text = f"no session can run now, not {self.global_limit}: no worker is connected"
        if absent:
            listed = ", ".join(f"{w.name!r} ({w.max_sessions})" for w in absent)
            text += f"; not counted while disconnected: {listed}"
        return text

    def status_note(self) -> str | None:
        """The status bar's short reason, e.g. "limit 9; workers allow 2"."""
        if not self.limited_by_workers:
            return None
        return f"limit {self.global_limit}; workers allow {self.workers_allow}"


def of(global_limit: int, workers: Iterable[WorkerLimit]) -> Capacity:
    return Capacity(global_limit, tuple(workers))


def current() -> Capacity:
    """The capacity from the database: the settings row and every worker's status and limit."""
    limit = int(Settings.get_by_id(1).max_concurrent_sessions)
    rows = Worker.select(Worker.name, Worker.max_sessions, Worker.status).order_by(
        Worker.type, Worker.name
    )
    return of(
        limit,
        (WorkerLimit(str(w.name), int(w.max_sessions), w.status == "connected") for w in rows),
    )
