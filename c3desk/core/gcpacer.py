"""Full garbage collections at quiet moments, not in the middle of nine streams.

CPython's cyclic collector runs a full (generation 2) collection when enough objects have
survived younger collections; it scans every tracked object, which with nine sessions'
scrollback and the GUI's wrappers takes 50 ms on a small machine: a visible stall while
output streams. :class:`GcPacer` keeps the young collections as they are, freezes what start-up
built (modules, classes: never garbage), and runs the full collections itself: when every
session has been quiet for a moment, or at the latest every few minutes.

After each full collection it hands the C allocator's free pages back to the system
(``malloc_trim``, glibc only): freed terminal rows and buffers otherwise stay in the process's
resident memory as fragmented free space (the 10-minute soak kept ~10 MB that way, 13 % of
its RSS, growing as sessions came and went).

It changes process-wide collector settings, so one pacer runs at a time, and :meth:`stop`
puts everything back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Callable

NEVER = 1 << 30  # a generation-2 threshold that is never reached


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None where there is none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


TRIM = _malloc_trim()


class GcPacer:
    """Runs full collections when ``quiet()`` says so (checked every ``period`` seconds), and
    at the latest every ``longest`` seconds."""

    _active: GcPacer | None = None

    def __init__(
        self, quiet: Callable[[], bool], period: float = 5.0, longest: float = 300.0
    ) -> None:
        self.quiet = quiet
        self.period = period
        self.longest = longest
        self.collections = 0  # full collections run by the pacer
        self.trim = TRIM  # after each: free pages back to the system (None: not glibc)
        self._saved: tuple[int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Take over full collections (on the running loop); does nothing when another pacer
        already has them."""
        if GcPacer._active is not None:
            return
        GcPacer._active = self
        self._saved = gc.get_threshold()
        gc.freeze()  # not collected first: that would be the very stall this avoids
        young, middle, _full = self._saved
        gc.set_threshold(young, middle, NEVER)
        self._last = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="c3desk-gc")

    def stop(self) -> None:
        """Give full collections back to the interpreter."""
        if GcPacer._active is not self:
            return
        if self._task is not None:
            self._task.cancel()
            self._task = None
        gc.unfreeze()
        if self._saved is not None:
            gc.set_threshold(*self._saved)
        GcPacer._active = None

    def tick(self) -> bool:
        """Collect now if the interpreter would have by now (as many younger collections
        since the last full one as its own threshold) and the sessions are quiet, or the
        last full collection is ``longest`` ago; True when one ran."""
        now = time.monotonic()
        assert self._saved is not None
        due = gc.get_count()[2] >= self._saved[2]
        if not due or (not self.quiet() and now - self._last < self.longest):
            return False
        gc.collect()
        if self.trim is not None:
            self.trim()
        self._last = time.monotonic()
        self.collections += 1
        return True

    async def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.period)
                self.tick()
