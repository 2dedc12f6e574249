"""The files of the machine a session runs on, as the artifact watcher reads them.

:class:`WorkerFiles` is the seam: the watcher reads transcripts, scans folders and takes the git
diff only through the one given for its session. Two exist:

- :class:`LocalFiles`, this file system: each call runs the blocking code of
  :mod:`c3desk.core.artifacts` in a worker thread, the scan included (``os.scandir``: the fast
  path, one thread hop per scan).
- :class:`ConnectionFiles`, any worker's connection (its ``read_file``, ``list_dir``,
  ``stat``, ``home``, ``realpath`` and ``download``; an SSH worker's go over SFTP): the scan
  walks by the same rules (:func:`c3desk.core.artifacts.scan_steps`), one listing per folder,
  the walk itself in a thread of its own. A connection cannot run git, so there is no diff.

:func:`files_for` picks one for what the engine has: nothing (this machine), a connection (the
local machine's gets :class:`LocalFiles`), or a :class:`WorkerFiles` already.

:class:`RemoteCopies` downloads a remote session's artifact on demand, for its preview, into
``<data dir>/cache/remote/<session id>/`` (at most :data:`MAX_PREVIEW_BYTES`).

Threads: every method is a coroutine called on the loop; none blocks it.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import functools
import os
import posixpath
import re
import shutil
import stat as st
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol, TypeVar

from c3desk.core import artifacts
from c3desk.transports.connection import DirEntry, FileStat, TooLarge
from c3desk.transports.local_connection import LocalConnection

T = TypeVar("T")
Kind = Literal["dir", "file", "other"]  # "other": a symbolic link, fifo, socket or device

#: A preview downloads at most this much of a remote file.
MAX_PREVIEW_BYTES: Final = 50 * 1024 * 1024
#: A transcript is read at most this much per look (the rest at the next look).
MAX_READ: Final = 8 * 1024 * 1024


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

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes: ...
    async def list_dir(self, path: str) -> list[DirEntry]: ...
    async def stat(self, path: str) -> FileStat | None: ...
    async def home(self) -> str: ...
    async def realpath(self, path: str) -> str: ...
    async def download(self, path: str, dest: Path, limit: int) -> FileStat: ...


class WorkerFiles(abc.ABC):
    """One machine's files. The primitives are abstract; the composite calls (a scan, which
    reported writes count) have defaults built on them, which a faster machine overrides."""

    #: Another machine's files: c3desk's own folders and this machine's environment say
    #: nothing about them (see :class:`c3desk.core.artifact_watch.ArtifactWatcher`).
    remote: bool = True

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

    async def resolve(self, path: str) -> str:
        """``path`` with symbolic links resolved there (asking the machine); as given when it
        cannot be resolved. Later :meth:`realpath` calls know the answer."""
        return self.realpath(path)

    async def reachable(self, path: str) -> bool:
        """Whether the machine answers about ``path`` now (that it exists or not, or refuses
        it): False while a worker is disconnected, when silence says nothing."""
        return True

    @abc.abstractmethod
    async def home(self) -> str:
        """The home folder of the user sessions run as there; raise OSError when unknown."""

    @abc.abstractmethod
    async def download(self, path: str, dest: Path, limit: int) -> FileStat:
        """Copy ``path`` to the local ``dest`` (see :meth:`~c3desk.transports.connection.
        WorkerConnection.download`)."""

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

    remote = False

    async def home(self) -> str:
        return os.path.expanduser("~")

    async def resolve(self, path: str) -> str:
        return await self._run(lambda: os.path.realpath(path))

    async def download(self, path: str, dest: Path, limit: int) -> FileStat:
        def copy() -> FileStat:
            info = os.stat(path)
            if st.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "a folder", path)
            if info.st_size > limit:
                raise TooLarge(path, info.st_size, limit)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
            return FileStat(False, info.st_size, info.st_mtime, info.st_ctime, True)

        return await self._run(copy)

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


def _entry_kind(is_dir: bool, is_file: bool | None) -> Kind:
    return "dir" if is_dir else "other" if is_file is False else "file"


class _Stopped(Exception):
    """The scan's task ended (cancelled): its walk stops at its next question."""


#: Threads the walks of :meth:`ConnectionFiles.scan` run in. Not the loop's default executor:
#: a walk waits there for answers that need a thread of that executor.
_WALKERS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="c3desk-walk")


class ConnectionFiles(WorkerFiles):
    """A worker's files through its connection.

    The connection may say less than this file system: without a ctime the mtime stands in
    (SFTP has none, and gives whole seconds: the watcher gives another machine's files an
    extra second);
    without ``is_file`` a listed link or fifo counts as a file. Reads of a growing file start
    where the last one ended, :data:`MAX_READ` at most at a time."""

    def __init__(self, service: FileService) -> None:
        self.service = service
        self._resolved: dict[str, str] = {}

    async def read_from(self, path: str, offset: int) -> tuple[int, bytes] | None:
        try:
            info = await self.service.stat(path)
            if info is None or info.is_dir:
                return None
            start = 0 if info.size < offset else offset
            data = await self.service.read_file(path, min(info.size - start, MAX_READ), start)
        except OSError:
            return None
        return start, data

    async def stat(self, path: str) -> FileInfo | None:
        try:
            info = await self.service.stat(path)
        except OSError:
            return None
        if info is None:
            return None
        ctime = info.mtime if info.ctime is None else info.ctime
        return FileInfo(_entry_kind(info.is_dir, info.is_file), info.size, info.mtime, ctime)

    async def list_dir(self, path: str) -> list[Entry]:
        return [_to_entry(e) for e in await self.service.list_dir(path)]

    async def reachable(self, path: str) -> bool:
        try:
            await self.service.stat(path)
        except OSError as exc:
            # A file's own trouble carries an errno (ENOENT, EACCES...); the connection's
            # (not connected, a broken session) does not.
            return exc.errno is not None
        return True

    async def home(self) -> str:
        return await self.service.home()

    def realpath(self, path: str) -> str:
        normal = posixpath.normpath(path)
        return self._resolved.get(normal, normal)

    async def resolve(self, path: str) -> str:
        normal = posixpath.normpath(path)
        try:
            real = await self.service.realpath(normal)
        except OSError:
            return self.realpath(normal)
        self._resolved[normal] = real
        return real

    async def download(self, path: str, dest: Path, limit: int) -> FileStat:
        return await self.service.download(path, dest, limit)

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
        """The walk runs in a thread of its own and asks the connection (on the loop) for each
        listing: a folder of many thousand entries is gone through off the loop."""
        top = posixpath.normpath(root)
        excluded = artifacts.exclusion_set(top, exclude, self.realpath)
        if artifacts.root_excluded(top, excluded, self.realpath):
            return artifacts.ScanResult()
        loop = asyncio.get_running_loop()
        stopped = threading.Event()
        late: list[bool] = []  # a question went unanswered past the deadline

        def ask(question: Callable[[], Awaitable[T]], unanswered: T) -> T:
            if stopped.is_set():
                raise _Stopped
            future = asyncio.run_coroutine_threadsafe(_call(question), loop)
            while True:
                try:
                    return future.result(timeout=0.5)
                except concurrent.futures.TimeoutError:
                    if stopped.is_set():  # the loop may be gone: do not wait for it
                        future.cancel()
                        raise _Stopped from None
                    if deadline is not None and time.monotonic() >= deadline:
                        # A server that stopped answering: the scan ends in its time, without
                        # this answer, and holds no walker thread past it.
                        future.cancel()
                        late.append(True)
                        return unanswered

        def walk() -> artifacts.ScanResult:
            steps = artifacts.scan_steps(
                top, since, excluded, seen=seen, max_files=max_files, max_depth=max_depth,
                deadline=deadline,
            )  # fmt: skip
            try:
                request = next(steps)
                while True:
                    if isinstance(request, str):
                        where = request
                        listed: list[DirEntry] = []
                        # Unreadable, removed, or replaced by a file: nothing in it.
                        with contextlib.suppress(OSError):
                            listed = ask(functools.partial(self.service.list_dir, where), [])
                        request = steps.send([_Listed(where, _to_entry(e)) for e in listed])
                    else:
                        paths = request
                        none: dict[str, FileInfo | None] = {}
                        infos = ask(functools.partial(self.stat_many, paths), none)
                        request = steps.send(any(info is not None for info in infos.values()))
            except StopIteration as done:
                result: artifacts.ScanResult = done.value
            if late and result.limit is None:
                result = dataclasses.replace(result, limit="time")
            return result

        try:
            return await loop.run_in_executor(_WALKERS, walk)
        finally:
            stopped.set()


async def _call(question: Callable[[], Awaitable[T]]) -> T:
    return await question()


def _to_entry(e: DirEntry) -> Entry:
    return Entry(
        e.name, _entry_kind(e.is_dir, e.is_file), e.mtime, e.mtime if e.ctime is None else e.ctime
    )


LOCAL: WorkerFiles = LocalFiles()


def files_for(source: WorkerFiles | FileService | None) -> WorkerFiles:
    """The files a session's artifacts are looked for in: this machine's without a source."""
    if source is None or isinstance(source, LocalConnection):
        return LOCAL  # the local machine's connection serves this very file system
    if isinstance(source, WorkerFiles):
        return source
    return ConnectionFiles(source)


# -- previews of remote files ------------------------------------------------------------------


class FetchError(Exception):
    """A remote file could not be copied for its preview; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class RemoteCopy:
    """A local copy of a remote file: where it is, and whether it was already there."""

    path: Path
    size: int
    reused: bool


_SAFE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class RemoteCopies:
    """Local copies of remote sessions' artifacts, for previews: ``<home>/cache/remote/<session
    id>/<the remote path>``, downloaded on demand through the worker's connection, at most
    ``limit`` bytes each. A copy whose remote file has not changed (same size and modification
    time) is used again without downloading.

    ``connection(worker_id)`` gives the worker's connection (the engine's), None when it has
    none. Every call is made on the loop; the copying runs in threads."""

    def __init__(
        self,
        home: Path,
        connection: Callable[[str], WorkerFiles | FileService | None],
        *,
        limit: int = MAX_PREVIEW_BYTES,
    ) -> None:
        self.cache_dir = home / "cache" / "remote"
        self._connection = connection
        self.limit = limit
        self._pending: dict[Path, asyncio.Future[RemoteCopy]] = {}

    def forget(self, session_id: str) -> None:
        """Delete the session's copies (blocking; for when the session is removed)."""
        if _SAFE_ID.fullmatch(session_id):
            shutil.rmtree(self.cache_dir / session_id, ignore_errors=True)

    def copy_path(self, session_id: str, path: str) -> Path:
        """Where the copy of the remote ``path`` of session ``session_id`` goes; ValueError for
        a session id or path that would lead outside the session's cache folder."""
        if not _SAFE_ID.fullmatch(session_id):
            raise ValueError(f"not a session id: {session_id!r}")
        if "\0" in path or not posixpath.isabs(path):
            raise ValueError(f"not an absolute path: {path!r}")
        parts = [p for p in posixpath.normpath(path).split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ValueError(f"not a file's path: {path!r}")
        return self.cache_dir.joinpath(session_id, *parts)

    async def fetch(self, session_id: str, worker_id: str, worker: str, path: str) -> RemoteCopy:
        """The local copy of ``path`` on the worker ``worker_id`` (named ``worker`` in
        messages), downloading it when needed; raise :class:`FetchError` saying why not."""
        try:
            dest = self.copy_path(session_id, path)
        except ValueError as exc:
            raise FetchError(str(exc)) from None
        pending = self._pending.get(dest)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(dest, worker_id, worker, path))
            self._pending[dest] = pending
            pending.add_done_callback(lambda done: self._settled(dest, done))
        # Shielded: one viewer giving up does not stop the download another waits for.
        return await asyncio.shield(pending)

    def _settled(self, dest: Path, done: asyncio.Future[RemoteCopy]) -> None:
        self._pending.pop(dest, None)
        if not done.cancelled():
            done.exception()  # seen here too: nobody may be waiting any more

    async def _fetch(self, dest: Path, worker_id: str, worker: str, path: str) -> RemoteCopy:
        where = f"{worker}:{path}"
        source = self._connection(worker_id)
        if source is None:
            raise FetchError(f"Cannot copy {where}: c3desk has no connection to {worker}")
        files = files_for(source)
        try:
            info = await _service_stat(files, path)
        except OSError as exc:
            raise FetchError(f"Cannot reach {where}: {_why(exc)}") from None
        if info is None:
            raise FetchError(f"Missing: {where} no longer exists")
        if info.is_dir:
            raise FetchError(f"{where} is a folder")
        if info.is_file is False:
            raise FetchError(f"{where} is not a regular file")  # a fifo would never end
        if info.size > self.limit:
            raise FetchError(self._too_large(where, info.size))
        local = await asyncio.get_running_loop().run_in_executor(None, _local_stat, str(dest))
        if local is not None and local.size == info.size and int(local.mtime) == int(info.mtime):
            return RemoteCopy(dest, info.size, reused=True)
        try:
            copied = await files.download(path, dest, self.limit)
        except TooLarge as exc:
            raise FetchError(self._too_large(where, exc.size)) from None
        except FileNotFoundError:
            raise FetchError(f"Missing: {where} no longer exists") from None
        except OSError as exc:
            raise FetchError(f"Cannot copy {where}: {_why(exc)}") from None
        return RemoteCopy(dest, copied.size, reused=False)

    def _too_large(self, where: str, size: int) -> str:
        return (
            f"{where} is {_megabytes(size)}: previews copy remote files of at most "
            f"{_megabytes(self.limit)}"
        )


async def _service_stat(files: WorkerFiles, path: str) -> FileStat | None:
    """The file's stat, raising OSError when the machine cannot be asked (unlike
    :meth:`WorkerFiles.stat`, which says None then)."""
    if isinstance(files, ConnectionFiles):
        return await files.service.stat(path)
    info = await files.stat(path)
    if info is None:
        return None
    return FileStat(info.kind == "dir", info.size, info.mtime, info.ctime, info.kind == "file")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
