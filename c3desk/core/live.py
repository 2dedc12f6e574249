"""A running (or just finished) session in memory: its process, terminal model and output path.

Output takes this path: the transport's reader hands each read (≤ 64 KiB) to
:meth:`LiveSession.on_output`, which appends it to the scrollback log at once and queues it for
the terminal model. The engine's feeder parses queued output in slices under a time budget, so
one flooding session cannot stall the loop. When more than :data:`BACKLOG_LIMIT` bytes wait
unparsed, reading pauses (the program blocks on a full terminal, nothing is lost) and resumes
when the backlog is half drained.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from c3desk.core.awareness import Awareness
from c3desk.core.scrollback import ScrollbackLog
from c3desk.terminal import TerminalModel
from c3desk.transports.base import ExitStatus, Process

BACKLOG_LIMIT = 4 * 1024 * 1024
FEED_SLICE = 16 * 1024


@dataclass
class LiveSession:
    id: str
    worker_id: str
    model: TerminalModel
    log: ScrollbackLog
    process: Process | None = None
    pending: deque[bytes] = field(default_factory=deque)
    pending_bytes: int = 0
    paused: bool = False
    last_output: float = field(default_factory=time.monotonic)
    exit_status: ExitStatus | None = None
    end_reason: str | None = None  # set when we ended it (kill, quit)
    on_backlog: Callable[[LiveSession], None] | None = None
    bytes_in: int = 0
    awareness: Awareness | None = None
    needs_input: bool = False
    conversation_found: bool = False
    peak_backlog: int = 0

    def on_output(self, data: bytes) -> None:
        self.log.append(data)
        self.pending.append(data)
        self.pending_bytes += len(data)
        self.bytes_in += len(data)
        self.last_output = time.monotonic()
        if self.pending_bytes > self.peak_backlog:
            self.peak_backlog = self.pending_bytes
        if self.pending_bytes > BACKLOG_LIMIT and not self.paused and self.process is not None:
            self.process.pause_reading()
            self.paused = True
        if self.on_backlog is not None:
            self.on_backlog(self)

    def feed_some(self, deadline: float) -> bool:
        """Parse queued output until ``deadline`` (monotonic); True when some remains."""
        model = self.model
        pending = self.pending
        while pending:
            chunk = pending.popleft()
            if len(chunk) > FEED_SLICE:
                pending.appendleft(chunk[FEED_SLICE:])
                chunk = chunk[:FEED_SLICE]
            self.pending_bytes -= len(chunk)
            model.feed(chunk)
            if time.monotonic() >= deadline:
                break
        answers = model.take_answers()
        if answers and self.process is not None and self.exit_status is None:
            self.process.write(answers)
        if self.paused and self.pending_bytes <= BACKLOG_LIMIT // 2 and self.process is not None:
            self.paused = False
            self.process.resume_reading()
        return bool(pending)

    def feed_all(self) -> None:
        while self.feed_some(float("inf")):
            pass

    def screen_lines(self) -> list[str]:
        return [row.rstrip() for row in self.model.display]
