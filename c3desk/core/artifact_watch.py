"""Recording what sessions produce, without blocking the loop.

Scans and git run in a worker thread; only their results come back to the loop, which alone
writes the database. While a session is active its folder is scanned every :data:`PERIOD`
seconds (and once more when it ends) for files created or changed since it started; in a git
working tree the tracked changes since the start are saved as ``artifacts/<id>/changes.diff``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c3desk.core import artifacts
from c3desk.store.models import Artifact

log = logging.getLogger(__name__)

PERIOD = 5.0
SCAN_BUDGET = 10.0  # seconds one scan may take before it stops (truncated)


@dataclass
class _Watch:
    session_id: str
    root: str
    since: float
    base: str | None = None
    seen: set[str] = field(default_factory=set)
    busy: bool = False


class ArtifactWatcher:
    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir
        self._watches: dict[str, _Watch] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, session_id: str, root: str) -> None:
        """Begin watching a session that was just activated on this machine."""
        # A second of slack: a file written in the instant of the spawn still counts.
        watch = _Watch(session_id, root, time.time() - 1.0)
        watch.seen = {
            a.path for a in Artifact.select(Artifact.path).where(Artifact.session == session_id)
        }
        self._watches[session_id] = watch
        self._spawn(self._begin(watch))

    async def _begin(self, watch: _Watch) -> None:
        loop = asyncio.get_running_loop()
        watch.base = await loop.run_in_executor(None, artifacts.git_snapshot, watch.root)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def tick(self) -> None:
        """Start a scan of each watched session that is not being scanned already."""
        for watch in list(self._watches.values()):
            if not watch.busy:
                self._spawn(self.scan(watch.session_id))

    async def scan(self, session_id: str) -> int:
        """Scan one session now; return how many artifacts were recorded."""
        watch = self._watches.get(session_id)
        if watch is None or watch.busy:
            return 0
        watch.busy = True
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                None,
                lambda: artifacts.scan(
                    watch.root,
                    watch.since,
                    seen=frozenset(watch.seen),
                    deadline=time.monotonic() + SCAN_BUDGET,
                ),
            )
            return self._record(watch, result.found)
        except Exception:
            log.exception("artifact scan of %s failed", session_id)
            return 0
        finally:
            watch.busy = False

    def _record(self, watch: _Watch, found: Sequence[tuple[str, str]]) -> int:
        new = [(path, kind) for path, kind in found if path not in watch.seen]
        for path, kind in new:
            watch.seen.add(path)
            Artifact.insert(
                id=str(uuid.uuid4()), session=watch.session_id, type=kind, path=path
            ).execute()
        return len(new)

    async def finish(self, session_id: str) -> None:
        """The session ended: one last scan, then its diff; stop watching it."""
        watch = self._watches.get(session_id)
        if watch is None:
            return
        while watch.busy:
            await asyncio.sleep(0.05)
        await self.scan(session_id)
        self._watches.pop(session_id, None)
        if watch.base is None:
            return
        loop = asyncio.get_running_loop()
        dest = self.artifacts_dir / session_id
        base = watch.base
        saved = await loop.run_in_executor(
            None, lambda: artifacts.save_diff(artifacts.git_diff(watch.root, base), dest)
        )
        if saved is not None and str(saved) not in watch.seen:
            exists = (
                Artifact.select()
                .where((Artifact.session == session_id) & (Artifact.path == str(saved)))
                .exists()
            )
            if not exists:
                Artifact.insert(
                    id=str(uuid.uuid4()), session=session_id, type="diff", path=str(saved)
                ).execute()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
