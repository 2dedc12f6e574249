"""The session states and the transitions the data model allows: nothing else is possible."""

from __future__ import annotations

from typing import Final, Literal

Status = Literal["queued", "active", "completed", "failed"]

STATUSES: Final[tuple[Status, ...]] = ("queued", "active", "completed", "failed")

TRANSITIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("queued", "active"),  # a slot is free: the agent process is spawned
        ("active", "completed"),  # the agent exited cleanly
        ("active", "failed"),  # the agent exited with an error, or its worker was lost
        ("completed", "queued"),  # Continue, no free slot
        ("completed", "active"),  # Continue, slot free
        ("failed", "queued"),  # Retry
    }
)


def allowed(old: str, new: str) -> bool:
    return (old, new) in TRANSITIONS
