"""The files of the machine a session runs on, as the artifact watcher reads them.

:class:`WorkerFiles` is the seam: the watcher reads transcripts, scans folders and takes the git
diff only through the one given for its session. Two exist:

- :class:`LocalFiles`, this file system: each call runs the blocking code of
  :mod:`c3desk.core.artifacts` in a worker thread, the scan included (``os.scandir``: the fast
  path, one thread hop per scan).
- :class:`ConnectionFiles`, any worker's connection (its ``read_file``, ``list_dir`` and
  ``stat``): the scan walks by the same rules (:func:`c3desk.core.artifacts.scan_steps`), one
  listing per folder. A connection cannot run git, so there is no diff.

:func:`files_for` picks one for what the engine has: nothing (this machine), a connection (the
local machine's gets :class:`LocalFiles`), or a :class:`WorkerFiles` already.

Threads: every method is a coroutine called on the loop; none blocks it.
"""

from __future__ import annotations

import abc
import asyncio
import os
import stat as st
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from c3desk.core import artifacts
from c3desk.transports.connection import DirEntry, FileStat
from c3desk.transports.local_connection import LocalConnection

T = TypeVar("T")
Kind = Literal["dir", "file", "other"]  # "other": a symbolic link, fifo, socket or device


@dataclass(frozen=True, slots=True)
class FileInfo:
    kind: Kind
    size: int
    mtime: float
    ctime: float


@dataclass(frozen=True, slots=True)
class Entry:
    """A folder's entry, not following a symbolic link."""

    name: str
    kind: Kind
    mtime: float
    ctime: float


class FileService(Protocol):
    """The file calls of a worker's connection (:class:`~c3desk.transports.connection.
    WorkerConnection`), which are all a :class:`ConnectionFiles` needs."""

    async def read_file(self, path: str, limit: int) -> bytes: ...
    async def list_dir(self, path: str) -> list[DirEntry]: ...
    async def stat(self, path: str) -> FileStat | None: ...


class WorkerFiles(abc.ABC):
    """One machine's files. The primitives are abstract; the composite calls (a scan, which
    reported writes count) have defaults built on them, which a faster machine overrides."""

    # -- primitives ----------------------------------------------------------------------------

    @abc.abstractmethod
    async def read_from(self, path: str, offset: int) -> tuple[int, bytes] | None:
        """The file's bytes from ``offset`` to its end, and where they start: ``offset``, or 0
        when the file is now shorter (it was replaced). None when it cannot be read."""

    @abc.abstractmethod
    async def stat(self, path: str) -> FileInfo | None:
        """Following symbolic links; None when there is nothing there (or it cannot be read)."""

    @abc.abstractmethod
    async def list_dir(self, path: str) -> list[Entry]:
        """The folder's entries; raise OSError when it cannot be listed."""

    def realpath(self, path: str) -> str:
        """``path`` with symbolic links resolved, as far as this machine is known without a
        round trip (by default: not at all)."""
        return os.path.normpath(path)

    # -- composites ----------------------------------------------------------------------------

    async def stat_many(self, paths: Iterable[str]) -> dict[str, FileInfo | None]:
        unique = list(dict.fromkeys(paths))
        infos = await asyncio.gather(*(self.stat(p) for p in unique))
        return dict(zip(unique, infos, strict=True))

    async def scan(
        self,
        root: str,
        since: float,
        *,
        seen: Set[str],
        max_files: int,
        max_depth: int | None,
        deadline: float | None,
        exclude: Iterable[str],
    ) -> artifacts.ScanResult:
        """:func:`c3desk.core.artifacts.scan` on this machine."""
        top = os.path.normpath(root)
        excluded = artifacts.exclusion_set(top, exclude, self.realpath)
        if artifacts.root_excluded(top, excluded, self.realpath):
            return artifacts.ScanResult()
        steps = artifacts.scan_steps(
            top, since, excluded, seen=seen, max_files=max_files, max_depth=max_depth,
            deadline=deadline,
        )  # fmt: skip
        try:
            request = next(steps)
            while True:
                if isinstance(request, str):
                    request = steps.send(await self._listing(request))
                else:
                    infos = await self.stat_many(request)
                    request = steps.send(any(info is not None for info in infos.values()))
        except StopIteration as done:
            result: artifacts.ScanResult = done.value
            return result

    async def _listing(self, directory: str) -> list[_Listed]:
        try:
            entries = await self.list_dir(directory)
        except OSError:
            return []  # unreadable, removed, or replaced by a file
        return [_Listed(directory, e) for e in entries]

    async def reportable(self, paths: list[str], root: str, exclude: Iterable[str]) -> list[str]:
        """Those of ``paths`` (files an agent reports writing) that are listed, by
        :func:`c3desk.core.artifacts.reportable`'s rules, asking this machine."""
        top = os.path.normpath(root)
        excluded = artifacts.exclusion_set(top, exclude, self.realpath)
        # The ignore rules look for marker files: learn which they would ask about (all of
        # them when none exists), ask this machine in one go, then apply the rules.
        asked: set[str] = set()

        def note(path: str) -> bool:
            asked.add(path)
            return False

        for path in paths:
            artifacts.reportable(path, top, excluded, is_file=True, exists=note, realpath=str)
        infos = await self.stat_many([*paths, *asked])
        there = {p for p, info in infos.items() if info is not None}
        return [
            p
            for p in paths
            if artifacts.reportable(
                p,
                top,
                excluded,
                is_file=(info := infos.get(p)) is not None and info.kind == "file",
                exists=there.__contains__,
                realpath=self.realpath,
            )
        ]

    async def changed_since(self, paths: list[str], since: float) -> list[str]:
        """Those of ``paths`` whose mtime or ctime is at or after ``since``."""
        infos = await self.stat_many(paths)
        return [
            p
            for p in paths
            if (info := infos.get(p)) is not None and (info.mtime >= since or info.ctime >= since)
        ]

    async def git_snapshot(self, root: str) -> str | None:
        """:func:`c3desk.core.artifacts.git_snapshot` there; None where git cannot be run."""
        return None

    async def git_diff(self, root: str, base: str) -> str:
        """:func:`c3desk.core.artifacts.git_diff` there; "" where git cannot be run."""
        return ""


class _Listed:
    """An :class:`Entry` as the walk sees an :class:`os.DirEntry`."""

    __slots__ = ("_entry", "name", "path")

    def __init__(self, directory: str, entry: Entry) -> None:
        self.name = entry.name
        self.path = os.path.join(directory, entry.name)
        self._entry = entry

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.kind == "dir"

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.kind == "file"

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        e = self._entry
        return os.stat_result((0, 0, 0, 0, 0, 0, 0, 0, e.mtime, e.ctime))


def _kind(mode: int) -> Kind:
    return "dir" if st.S_ISDIR(mode) else "file" if st.S_ISREG(mode) else "other"


class LocalFiles(WorkerFiles):
    """This file system; the blocking work runs in the loop's default executor."""

    @staticmethod
    async def _run(fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def read_from(self, path: str, offset: int) -> tuple[int, bytes] | None:
        def read() -> tuple[int, bytes] | None:
            try:
                with open(path, "rb") as handle:
                    start = 0 if os.fstat(handle.fileno()).st_size < offset else offset
                    handle.seek(start)
                    return start, handle.read()
            except OSError:
                return None

        return await self._run(read)

    async def stat(self, path: str) -> FileInfo | None:
        return await self._run(lambda: _local_stat(path))

    async def stat_many(self, paths: Iterable[str]) -> dict[str, FileInfo | None]:
        unique = list(dict.fromkeys(paths))
        return await self._run(lambda: {p: _local_stat(p) for p in unique})

    async def list_dir(self, path: str) -> list[Entry]:
        def scan() -> list[Entry]:
            out: list[Entry] = []
            with os.scandir(path) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed meanwhile
                    out.append(Entry(entry.name, _kind(info.st_mode), info.st_mtime, info.st_ctime))
            return out

        return await self._run(scan)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    async def scan(
        self,
        root: str,
        since: float,
        *,
        seen: Set[str],
        max_files: int,
        max_depth: int | None,
        deadline: float | None,
        exclude: Iterable[str],
    ) -> artifacts.ScanResult:
        # The fast path: the whole walk in one thread, on os.scandir's entries.
        return await self._run(
            lambda: artifacts.scan(
                root, since, seen=seen, max_files=max_files, max_depth=max_depth,
                deadline=deadline, exclude=exclude,
            )
        )  # fmt: skip

    async def reportable(self, paths: list[str], root: str, exclude: Iterable[str]) -> list[str]:
        def check() -> list[str]:
            excluded = artifacts.exclusion_set(os.path.abspath(root), exclude)
            return [p for p in paths if artifacts.reportable(p, root, excluded)]

        return await self._run(check)

    async def git_snapshot(self, root: str) -> str | None:
        return await self._run(lambda: artifacts.git_snapshot(root))

    async def git_diff(self, root: str, base: str) -> str:
        return await self._run(lambda: artifacts.git_diff(root, base))


def _local_stat(path: str) -> FileInfo | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return FileInfo(_kind(info.st_mode), info.st_size, info.st_mtime, info.st_ctime)


class ConnectionFiles(WorkerFiles):
    """A worker's files through its connection.

    The connection says less than this file system: no ctime (the mtime stands in), a listing
    tells folders from the rest only (a symbolic link or fifo counts as a file), a read starts
    at the file's beginning (a transcript is read whole each time, its new part kept)."""

    def __init__(self, service: FileService) -> None:
        self.service = service

    async def read_from(self, path: str, offset: int) -> tuple[int, bytes] | None:
        try:
            info = await self.service.stat(path)
            if info is None or info.is_dir:
                return None
            start = 0 if info.size < offset else offset
            data = await self.service.read_file(path, info.size)
        except OSError:
            return None
        return start, data[start:]

    async def stat(self, path: str) -> FileInfo | None:
        try:
            info = await self.service.stat(path)
        except OSError:
            return None
        if info is None:
            return None
        return FileInfo("dir" if info.is_dir else "file", info.size, info.mtime, info.mtime)

    async def list_dir(self, path: str) -> list[Entry]:
        return [
            Entry(e.name, "dir" if e.is_dir else "file", e.mtime, e.mtime)
            for e in await self.service.list_dir(path)
        ]


LOCAL: WorkerFiles = LocalFiles()


def files_for(source: WorkerFiles | FileService | None) -> WorkerFiles:
    """The files a session's artifacts are looked for in: this machine's without a source."""
    if source is None or isinstance(source, LocalConnection):
        return LOCAL  # the local machine's connection serves this very file system
    if isinstance(source, WorkerFiles):
        return source
    return ConnectionFiles(source)
