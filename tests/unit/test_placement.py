"""Placing queued sessions on workers: limits, binding, order, choice of worker."""

from __future__ import annotations

from c3desk.core.placement import Queued, WorkerSlot, pick_worker, place

LOCAL = WorkerSlot("l", "here", "local", 2)
FAR = WorkerSlot("f", "far", "remote", 1)
ALSO = WorkerSlot("a", "also", "remote", 3)


def test_free_slots_cap_the_starts_in_queue_order() -> None:
    queue = [Queued(f"s{i}", None) for i in range(5)]
    assert place(queue, {"l": LOCAL}, {"l": 0}, free_slots=1) == [("s0", "l")]
    assert place(queue, {"l": LOCAL}, {"l": 0}, free_slots=4) == [("s0", "l"), ("s1", "l")]
    assert place(queue, {"l": LOCAL}, {"l": 0}, free_slots=0) == []


def test_a_worker_takes_no_more_than_its_maximum() -> None:
    queue = [Queued(f"s{i}", None) for i in range(4)]
    workers = {"l": LOCAL, "f": FAR}
    assert place(queue, workers, {"l": 1, "f": 0}, free_slots=9) == [("s0", "l"), ("s1", "f")]
    assert place(queue, workers, {"l": 2, "f": 1}, free_slots=9) == []


def test_a_bound_session_waits_for_its_worker_without_blocking_the_rest() -> None:
    queue = [Queued("bound", "f"), Queued("free", None), Queued("absent", "gone")]
    workers = {"l": LOCAL, "f": FAR}
    assert place(queue, workers, {"l": 0, "f": 1}, free_slots=9) == [("free", "l")]
    assert place(queue, workers, {"l": 0, "f": 0}, free_slots=9) == [
        ("bound", "f"),
        ("free", "l"),
    ]


def test_unbound_sessions_go_where_most_slots_are_free_ties_to_the_local_machine() -> None:
    workers = {"l": LOCAL, "f": FAR, "a": ALSO}
    # also: 3 free, here: 2, far: 1
    assert pick_worker(None, workers, {"l": 0, "f": 0, "a": 0}) == ALSO
    # here 2 free, also 2 free: the local machine wins the tie
    assert pick_worker(None, workers, {"l": 0, "f": 0, "a": 1}) == LOCAL
    # far 1 free, also 1 free, here full: by name
    assert pick_worker(None, workers, {"l": 2, "f": 0, "a": 2}) == ALSO
    assert pick_worker(None, workers, {"l": 2, "f": 0, "a": 3}) == FAR
    assert pick_worker(None, {}, {}) is None


def test_a_queue_spreads_over_the_workers_by_free_slots() -> None:
    queue = [Queued(f"s{i}", None) for i in range(6)]
    workers = {"l": LOCAL, "f": FAR, "a": ALSO}
    placed = place(queue, workers, {"l": 0, "f": 0, "a": 0}, free_slots=9)
    # also(3) → also(2) ties here(2) → here → also(1), here(1), far(1) tie: here, also, far
    assert placed == [
        ("s0", "a"),
        ("s1", "l"),
        ("s2", "a"),
        ("s3", "l"),
        ("s4", "a"),
        ("s5", "f"),
    ]


def test_the_callers_load_is_not_changed() -> None:
    load = {"l": 0}
    place([Queued("s", None)], {"l": LOCAL}, load, free_slots=1)
    assert load == {"l": 0}
