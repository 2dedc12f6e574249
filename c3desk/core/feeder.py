"""Feeding live sessions' output to their terminal models within a time budget per loop turn.

Output arrives faster than it can be parsed when nine sessions stream. Each session's reader
queues its bytes (:meth:`c3desk.core.live.LiveSession.on_output`) and calls :meth:`Feeder.queue`;
the feeder then parses, one loop turn at a time, for at most :data:`FEED_BUDGET` seconds a turn,
round robin, the focused session first, so the loop stays free for input and painting. After
each session's slice, observers hear which session's model changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from c3desk.core.live import LiveSession

FEED_BUDGET = 0.004  # seconds of parsing per loop turn before yielding to other callbacks
SYNC_FINISH = 0.012  # most spent finishing the focused session's synchronized frame in a turn


class Feeder:
    def __init__(
        self,
        lookup: Callable[[str], LiveSession | None],
        fed: Callable[[str], None],
        focused: Callable[[], str | None],
    ) -> None:
        """``lookup`` finds a live session by id (None once it ended); ``fed`` is told each
        session whose model took output; ``focused`` names the session the user looks at."""
        self._lookup = lookup
        self._fed = fed
        self._focused = focused
        self._feeding: set[str] = set()
        self._handle: asyncio.Handle | None = None

    def queue(self, live: LiveSession) -> None:
        """``live`` has output waiting: parse it on the coming loop turns."""
        self._feeding.add(live.id)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self._step)

    def discard(self, session_id: str) -> None:
        """Stop feeding a session (it ended and was fed whole)."""
        self._feeding.discard(session_id)

    @property
    def waiting(self) -> frozenset[str]:
        """The sessions with output not parsed yet."""
        return frozenset(self._feeding)

    def _step(self) -> None:
        """Parse queued output of every session, round robin, within a time budget."""
        self._handle = None
        focused = self._focused()
        deadline = time.monotonic() + FEED_BUDGET
        ids = list(self._feeding)
        share = FEED_BUDGET / max(len(ids), 1)
        if focused in self._feeding:
            # The session the user is looking at is parsed first, with half the budget, so
            # its frames stay fresh while eight others stream.
            ids.remove(focused)
            ids.insert(0, focused)
        for n, sid in enumerate(ids):
            live = self._lookup(sid)
            if live is None:
                self._feeding.discard(sid)
                continue
            if n == 0 and sid == focused:
                # Half the budget; and a synchronized-output block (a frame the program
                # draws whole) is parsed to its end, up to SYNC_FINISH: half a frame cannot
                # be shown, and the view would hold the last one meanwhile.
                more = live.feed_some(time.monotonic() + FEED_BUDGET / 2)
                finish = time.monotonic() + SYNC_FINISH
                while more and live.model.modes.synchronized_output:
                    more = live.feed_some(finish)
                    if time.monotonic() >= finish:
                        break
            else:
                more = live.feed_some(min(deadline, time.monotonic() + share))
            if not more:
                self._feeding.discard(sid)
            self._fed(sid)
        if self._feeding:
            self._handle = asyncio.get_running_loop().call_soon(self._step)
