"""The GC pacer takes full collections over while it runs, does them at quiet moments (or when
overdue), and gives the collector back as it found it."""

from __future__ import annotations

import asyncio
import gc
import weakref

from c3desk.core.gcpacer import NEVER, TRIM, GcPacer


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def old_cycle() -> weakref.ref[Node]:
    """Cyclic garbage in the oldest generation, which only a full collection frees; also
    makes a full collection due (the interpreter's usual number of younger ones ran). The
    weak reference tells when it went."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    for _ in range(20):  # alive meanwhile: promoted to the oldest generation
        gc.collect(1)
    ref = weakref.ref(a)
    del a, b
    gc.collect(1)
    assert ref() is not None  # younger collections leave it
    return ref


def test_takes_full_collections_over_and_gives_them_back() -> None:
    before = gc.get_threshold()

    async def main() -> None:
        pacer = GcPacer(lambda: False)
        pacer.start()
        try:
            assert pacer.running
            assert gc.get_threshold()[:2] == before[:2]
            assert gc.get_threshold()[2] == NEVER
            assert gc.get_freeze_count() > 0
            second = GcPacer(lambda: True)
            second.start()  # one pacer at a time: the second leaves everything alone
            assert not second.running
            second.stop()
            assert gc.get_threshold()[2] == NEVER
        finally:
            pacer.stop()

    asyncio.run(main())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_collects_when_quiet_and_not_while_busy() -> None:
    quiet = [False]

    async def main() -> None:
        pacer = GcPacer(lambda: quiet[0], longest=3600)
        pacer.start()
        try:
            cycle = old_cycle()
            assert not pacer.tick()  # busy and not overdue: no full collection
            assert pacer.collections == 0
            assert cycle() is not None
            quiet[0] = True
            assert pacer.tick()
            assert pacer.collections == 1
            assert cycle() is None
            assert not pacer.tick()  # collected just now: not due again yet
        finally:
            pacer.stop()

    asyncio.run(main())


def test_an_overdue_collection_runs_even_while_busy() -> None:
    async def main() -> None:
        pacer = GcPacer(lambda: False, longest=0.0)
        pacer.start()
        try:
            cycle = old_cycle()
            assert pacer.tick()
            assert cycle() is None
        finally:
            pacer.stop()

    asyncio.run(main())


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_a_full_collection_gives_freed_memory_back_to_the_system() -> None:
    """Freed C-heap memory between blocks still in use stays resident until malloc_trim: the
    pacer trims after each full collection, so RSS falls once garbage is collected."""
    assert TRIM is not None  # Linux with glibc: the machines this suite runs on

    async def main() -> None:
        pacer = GcPacer(lambda: True, longest=3600)
        pacer.start()
        try:
            # 48 MB in 2 KiB blocks (each its own malloc, above pymalloc's 512 bytes), one
            # in 64 kept: the rest is free space inside the heap that cannot shrink from the top.
            blocks = [bytes(2048) for _ in range(24_000)]
            kept = blocks[::64]
            del blocks
            cycle = old_cycle()  # makes a full collection due
            before = rss_kib()
            assert pacer.tick()
            after = rss_kib()
            assert cycle() is None
            assert before - after > 20_000, (before, after)
            assert len(kept) == 375
        finally:
            pacer.stop()

    asyncio.run(main())
