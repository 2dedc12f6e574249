"""A session's output on disk: ``scrollback/<id>.log``, bounded, flushed at least once a second.

Appends go to a memory buffer that :meth:`ScrollbackLog.flush` writes out; the engine flushes every
half second, so a crash loses at most that much. The bound is kept by rotation: when the live file
passes half the limit it becomes ``<id>.log.1`` (replacing the older one), so the two together never
exceed the limit and the oldest output is the part dropped. Rotation is a rename: no copying.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class ScrollbackLog:
    def __init__(self, path: Path, limit_bytes: int) -> None:
        self.path = path
        self.limit = max(limit_bytes, 64 * 1024)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._buffer: list[bytes] = []
        self._buffered = 0
        self.total_written = 0
        self.dropped = 0  # bytes a full disk or a read-only folder did not take

    @property
    def previous(self) -> Path:
        return self.path.with_name(self.path.name + ".1")

    def append(self, data: bytes) -> None:
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        if not self._buffer or self._fd < 0:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        half = self.limit // 2
        view = memoryview(data)
        while view:
            room = max(half - self._size, 0)
            if room == 0:
                self._rotate()
                room = half
            part = view[:room]
            try:
                written = os.write(self._fd, part)
            except OSError:
                # A full disk, a read-only folder: this output is not kept on disk (the screen
                # still shows it); said once, until a write succeeds again.
                if not self.dropped:
                    log.warning("scrollback %s: output not saved", self.path, exc_info=True)
                self.dropped += len(view)
                return
            self._size += written
            self.total_written += written
            view = view[written:]

    def _rotate(self) -> None:
        os.close(self._fd)
        os.replace(self.path, self.previous)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
        self._size = 0

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = -1


def read_chunks(path: Path, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """The saved output of a session, oldest first, in chunks (for replay into a fresh model)."""
    for part in (path.with_name(path.name + ".1"), path):
        try:
            with part.open("rb") as fh:
                while block := fh.read(chunk):
                    yield block
        except FileNotFoundError:
            continue
