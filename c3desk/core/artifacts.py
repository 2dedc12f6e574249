"""Artifact detection: which files a session produced, and its git diff.

Blocking, Qt-free and loop-free: the engine calls these from a worker thread and hands the
results back to the loop. Nothing here writes the database.

- :class:`ReportedWrites` reads what the agent says it wrote: the Write/Edit/MultiEdit/
  NotebookEdit tool calls in a Claude Code transcript, confirmed by their tool results. This is
  the preferred source: a folder scan cannot tell the session's files from other programs'.
- :func:`scan` is the fallback: it walks a session's working directory and returns the files
  created or modified since the session started, bounded by depth, file count and a deadline
  (:attr:`ScanResult.limit` says which bound cut it), never entering the ``exclude`` folders.
- :func:`git_snapshot` records the working tree at session start (untracked files included, in a
  throw-away index); :func:`git_changes` gives what changed since then (of the session's own
  files, when known), :func:`diff_report` heads it with what it holds and :func:`save_diff`
  stores it as ``changes.diff``.

What is ignored lives in one place, the "Ignore rules" block below; :func:`is_ignored` applies
the same rules to a single path (for a file-system watcher).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol

log = logging.getLogger(__name__)

# A diff whatever the user's settings (colour, external diff tools, textconv filters, prefixes).
PLAIN_DIFF: Final = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)

ArtifactType = Literal["image", "pdf", "file"]

IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"})

# ---------------------------------------------------------------------------------------------
# Ignore rules: everything the scan leaves out, and why. The root itself is never ignored (the
# user chose it), only what lies below it.
# ---------------------------------------------------------------------------------------------

#: Directories never entered, by name.
IGNORED_DIRS: Final = frozenset(
    {
        # version control metadata
        ".git",
        ".hg",
        ".svn",
        # dependencies
        "node_modules",
        # caches and tool environments
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".cache",
        ".tox",
        ".nox",
        ".gradle",
        # the agents' own state (CLAUDE.md, AGENTS.md etc. are ordinary files: not ignored)
        ".claude",
        ".codex",
        ".gemini",
        # IDE state, rewritten while an editor has the folder open
        ".idea",
    }
)
#: A directory holding this file is a virtualenv (PEP 405) and is skipped whatever its name.
VENV_MARKER: Final = "pyvenv.cfg"
#: Conventional virtualenv names, skipped also when they hold only an activate script
#: (virtualenv < 20 and conda-style layouts have no pyvenv.cfg).
VENV_NAMES: Final = frozenset({".venv", "venv", "env"})
VENV_ACTIVATE: Final = (os.path.join("bin", "activate"), os.path.join("Scripts", "activate"))
#: ``target`` is Cargo's build directory only beside a Cargo.toml; elsewhere it is user data.
CARGO_TARGET: Final = ("target", "Cargo.toml")
#: Files (and, for the prefixes, directories) ignored by name: aider's history and tag cache
#: (``.aider.chat.history.md``, ``.aider.tags.cache.v4/``), Claude Code's state file and its
#: backups in the home folder (``.claude.json``, ``.claude.json.backup.<n>``: rewritten by every
#: running CLI), Emacs lock files (``.#name``), Vim swap files, backup files (``name~``) and
#: macOS Finder metadata.
IGNORED_PREFIXES: Final = (".aider", ".claude.json", ".#")
IGNORED_SUFFIXES: Final = (".swp", ".swo", ".swx", "~")
IGNORED_FILES: Final = frozenset({".DS_Store"})


def _ignored_name(name: str) -> bool:
    """True for names ignored whether file or directory."""
    return name.startswith(IGNORED_PREFIXES)


def _ignored_file(name: str) -> bool:
    return name in IGNORED_FILES or name.endswith(IGNORED_SUFFIXES) or _ignored_name(name)


def _ignored_dir(
    name: str, path: str, cargo_beside: bool, exists: Callable[[str], bool] = os.path.exists
) -> bool:
    """True when the directory ``name`` at ``path`` must not be entered.

    ``pyvenv.cfg`` inside it is checked by the caller once the directory is listed (no extra
    system call); only the conventional venv names cost a lookup here.
    """
    if name in IGNORED_DIRS or _ignored_name(name):
        return True
    if cargo_beside and name == CARGO_TARGET[0]:
        return True
    if name in VENV_NAMES:
        return any(exists(os.path.join(path, script)) for script in VENV_ACTIVATE)
    return False


def is_ignored(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    exists: Callable[[str], bool] = os.path.exists,
) -> bool:
    """Whether :func:`scan` would leave out ``path`` (a file under ``root``), by the same rules.

    For a file-system watcher, which sees single paths rather than listings. Paths outside
    ``root`` count as ignored. ``exists`` answers for the marker files the rules look for (a
    worker's file service answers for another machine).
    """
    top = os.path.abspath(root)
    target = os.path.abspath(path)
    rel = os.path.relpath(target, top)
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return True
    parts = rel.split(os.sep)
    current = top
    for name in parts[:-1]:
        cargo = exists(os.path.join(current, CARGO_TARGET[1]))
        current = os.path.join(current, name)
        if _ignored_dir(name, current, cargo, exists) or exists(os.path.join(current, VENV_MARKER)):
            return True
    return _ignored_file(parts[-1])


def classify_path(path: str | os.PathLike[str]) -> ArtifactType:
    """The artifact type of a file, by its extension (case-insensitive)."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix == ".pdf":
        return "pdf"
    return "file"


# ---------------------------------------------------------------------------------------------
# Scan
# ---------------------------------------------------------------------------------------------


ScanLimit = Literal["files", "time", "depth"]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one :func:`scan` found.

    ``found``: (absolute path, type) of each new or changed file, sorted by path.
    ``scanned``: regular files examined (not counting ignored ones).
    ``limit``: the bound that cut the scan, None when it covered the whole tree. ``"files"`` and
    ``"time"`` stopped it; ``"depth"`` means folders deeper than ``max_depth`` were left out.
    ``found`` is partial whenever ``limit`` is set.
    """

    found: list[tuple[str, ArtifactType]] = field(default_factory=list)
    scanned: int = 0
    limit: ScanLimit | None = None

    @property
    def truncated(self) -> bool:
        return self.limit is not None


# How many files between two looks at the clock: monotonic() is cheap, but not free at 100k.
_DEADLINE_STRIDE: Final = 512


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.normpath(os.path.abspath(path))


def _under(path: str, roots: Iterable[str]) -> bool:
    """Whether the normalised ``path`` is one of ``roots`` or lies below one."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def exclusion_set(
    top: str,
    exclude: Iterable[str | os.PathLike[str]],
    realpath: Callable[[str], str] = os.path.realpath,
) -> frozenset[str]:
    """``exclude`` as the paths a walk from ``top`` meets: each as given and resolved, and,
    when ``top`` is reached through a symbolic link, also as spelled under ``top``.
    ``realpath`` resolves links on the machine the files are on."""
    real_top = realpath(top)
    out: set[str] = set()
    for item in exclude:
        for form in {_norm(item), realpath(os.fspath(item))}:
            out.add(form)
            if real_top != top and _under(form, [real_top]):
                out.add(top + form[len(real_top) :])
    return frozenset(out)


class ScanEntry(Protocol):
    """What the walk needs of a directory entry: :class:`os.DirEntry` has it all (a listing
    from another machine is wrapped to look the same)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    def is_dir(self, *, follow_symlinks: bool = ...) -> bool: ...
    def is_file(self, *, follow_symlinks: bool = ...) -> bool: ...
    def stat(self, *, follow_symlinks: bool = ...) -> Any: ...  # has st_mtime and st_ctime


#: A step of :func:`scan_steps`: a folder to list (answer: its entries, :class:`ScanEntry`), or
#: a tuple of paths (answer: whether any of them exists).
ScanRequest = str | tuple[str, ...]
ScanSteps = Generator[ScanRequest, Any, ScanResult]


def scan(
    root: str | os.PathLike[str],
    since: float,
    *,
    seen: Set[str] | None = None,
    max_files: int = 200_000,
    max_depth: int | None = None,
    deadline: float | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> ScanResult:
    """Regular files under ``root`` changed at or after ``since`` and not in ``seen``.

    ``since`` is a wall-clock time (``time.time()``); a file counts when its mtime or its ctime
    (which catches files moved in with an old mtime) is ``>= since``. File timestamps come from
    a coarse kernel clock that can lag ``time.time()`` by some milliseconds, so a caller should
    take ``since`` slightly before the session starts (a second is plenty).

    ``seen`` holds paths (as returned in ``found``) already recorded; it is only read, never
    changed. ``deadline`` is a ``time.monotonic()`` value. ``max_depth`` counts folders below
    ``root`` (1: ``root``'s own subfolders are entered, theirs are not). Folders in ``exclude``
    (c3desk's own data, the agent's configuration) are never entered, nor is anything reported
    when ``root`` lies inside one. The walk is iterative, never follows symbolic links
    (symlinked files are not reported either, so nothing outside ``root`` is), skips what the
    ignore rules name, and passes over directories it cannot read and entries that vanish while
    it runs.
    """
    top = _norm(root)
    excluded = exclusion_set(top, exclude)
    if root_excluded(top, excluded):
        return ScanResult()
    steps = scan_steps(
        top, since, excluded, seen=seen, max_files=max_files, max_depth=max_depth, deadline=deadline
    )
    # The walk asks, this file system answers (os.scandir: the fast path; a worker's file
    # service answers the same questions for another machine, asynchronously).
    try:
        request = next(steps)
        while True:
            if isinstance(request, str):
                request = steps.send(_list_dir(request))
            else:
                request = steps.send(any(os.path.exists(p) for p in request))
    except StopIteration as done:
        result: ScanResult = done.value
        return result


def root_excluded(
    top: str, excluded: frozenset[str], realpath: Callable[[str], str] = os.path.realpath
) -> bool:
    """Whether the folder ``top`` (normalised) lies in an excluded folder, as spelled or
    resolved: then a scan reports nothing."""
    return _under(top, excluded) or _under(realpath(top), excluded)


def scan_steps(
    top: str,
    since: float,
    excluded: frozenset[str],
    *,
    seen: Set[str] | None = None,
    max_files: int = 200_000,
    max_depth: int | None = None,
    deadline: float | None = None,
) -> ScanSteps:
    """:func:`scan`'s walk without its file system: it yields what it needs to know (see
    :data:`ScanRequest`) and returns the :class:`ScanResult`. ``top`` is normalised and
    ``excluded`` is :func:`exclusion_set`'s answer; the caller has checked ``top`` itself."""
    known: Set[str] = seen if seen is not None else frozenset()
    found: list[tuple[str, ArtifactType]] = []
    scanned = 0
    depth_cut = False
    stack = [(top, 0)]
    # The loop below runs once per file: ignore checks are inlined and names bound locally
    # (about a quarter of the Python overhead on top of the unavoidable lstat per file).
    ignored_files, suffixes, prefixes = IGNORED_FILES, IGNORED_SUFFIXES, IGNORED_PREFIXES
    venv_names = VENV_NAMES
    stride = _DEADLINE_STRIDE
    while stack:
        if deadline is not None and time.monotonic() >= deadline:
            return _result(found, scanned, "time")
        directory, depth = stack.pop()
        entries: list[ScanEntry] = yield directory
        names = {entry.name for entry in entries}
        if VENV_MARKER in names and directory != top:
            continue
        cargo = CARGO_TARGET[1] in names
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    path = entry.path
                    # Only the conventional venv names cost a look for an activate script.
                    if _ignored_dir(name, path, cargo, _never) or path in excluded:
                        continue
                    if name in venv_names and (
                        yield tuple(os.path.join(path, script) for script in VENV_ACTIVATE)
                    ):
                        continue
                    if max_depth is not None and depth >= max_depth:
                        depth_cut = True
                    else:
                        stack.append((path, depth + 1))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # symlink, fifo, socket, device
            except OSError:
                continue
            if name in ignored_files or name.endswith(suffixes) or name.startswith(prefixes):
                continue
            if scanned >= max_files:
                return _result(found, scanned, "files")
            scanned += 1
            if deadline is not None and scanned % stride == 0 and time.monotonic() >= deadline:
                return _result(found, scanned, "time")
            path = entry.path
            if path in known:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished (or became unreadable) since the listing
            if st.st_mtime >= since or st.st_ctime >= since:
                found.append((path, classify_path(path)))
    return _result(found, scanned, "depth" if depth_cut else None)


def _never(_path: str) -> bool:
    return False


def _list_dir(directory: str) -> list[os.DirEntry[str]]:
    """The entries of a directory; what could be read of it when reading fails part way."""
    entries: list[os.DirEntry[str]] = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                entries.append(entry)
    except OSError:
        pass  # unreadable, removed, or replaced by a file: keep what was read
    return entries


def _result(
    found: list[tuple[str, ArtifactType]], scanned: int, limit: ScanLimit | None
) -> ScanResult:
    found.sort()
    return ScanResult(found=found, scanned=scanned, limit=limit)


# ---------------------------------------------------------------------------------------------
# What the agent reports it wrote
# ---------------------------------------------------------------------------------------------

#: Claude Code's tools that write a file, and the key of their input that names it.
WRITE_TOOLS: Final = {
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}


class TranscriptTail:
    """The JSON lines appended to a growing file since the last :meth:`read`.

    A line still being written (no newline yet) waits for the next read; lines that are not
    JSON are skipped. A file that shrank (replaced) is read again from its start. :meth:`read`
    reads this file system; :meth:`feed` takes what a worker's file service read elsewhere.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.offset = 0
        self._partial = b""

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def read(self) -> list[object]:
        try:
            with open(self.path, "rb") as handle:
                start = 0 if os.fstat(handle.fileno()).st_size < self.offset else self.offset
                handle.seek(start)
                data = handle.read()
        except OSError:
            return []  # not there (yet), or unreadable: nothing new
        return self.feed(start, data)

    def feed(self, start: int, data: bytes) -> list[object]:
        """The complete lines in ``data``, the file's bytes from ``start`` on: :attr:`offset`,
        or 0 when the file was replaced by a shorter one."""
        if start != self.offset:
            self.offset, self._partial = start, b""
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        out: list[object] = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


@dataclass
class ReportedWrites:
    """Files an agent wrote, by its own account: Claude Code transcript entries, fed in order.

    An assistant message's ``tool_use`` block of a :data:`WRITE_TOOLS` tool names a file; the
    ``tool_result`` with the same id (in the next user message) says whether the write happened:
    a refused or failed write has ``is_error``. Paths are made absolute against the entry's
    ``cwd`` (else ``cwd``) and normalised (the CLI keeps ``a/../b`` as given); a leading ``~``
    is ``home`` (by default this machine's: another machine's agent gives its own).
    """

    cwd: str
    pending: dict[str, str] = field(default_factory=dict)  # tool_use id -> path
    confirmed: list[str] = field(default_factory=list)
    home: str | None = None

    def feed(self, entry: object) -> None:
        if not isinstance(entry, dict):
            return
        message = entry.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            return
        where = entry.get("cwd")
        base = where if isinstance(where, str) and os.path.isabs(where) else self.cwd
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "tool_use":
                key = WRITE_TOOLS.get(str(block.get("name")))
                args = block.get("input")
                named = args.get(key) if key and isinstance(args, dict) else None
                if isinstance(named, str) and named:
                    path = os.path.normpath(os.path.join(base, self._expand(named)))
                    self.pending[str(block.get("id") or path)] = path
            elif kind == "tool_result":
                done = self.pending.pop(str(block.get("tool_use_id")), None)
                if done is not None and not block.get("is_error"):
                    self.confirmed.append(done)

    def _expand(self, named: str) -> str:
        if self.home is None:
            return os.path.expanduser(named)
        if named == "~" or named.startswith("~/"):
            return self.home + named[1:]
        return named  # "~user/x": not this user's; left as the agent wrote it

    def take(self) -> list[str]:
        """The confirmed paths since the last call."""
        out, self.confirmed = self.confirmed, []
        return out


def reportable(
    path: str,
    root: str | os.PathLike[str],
    excluded: frozenset[str],
    *,
    is_file: bool | None = None,
    exists: Callable[[str], bool] = os.path.exists,
    realpath: Callable[[str], str] = os.path.realpath,
) -> bool:
    """Whether a file the agent reports writing is listed: it is a file now, lies in no
    ``excluded`` folder, and the ignore rules do not name it (under ``root`` exactly as
    :func:`scan` would; elsewhere by the names of its folders and its own name).

    This file system is asked unless a worker's file service gave the answers: ``is_file``
    (whether ``path`` is a file), ``exists`` and ``realpath``."""
    if _under(path, excluded) or _under(realpath(path), excluded):
        return False
    if not (os.path.isfile(path) if is_file is None else is_file):
        return False
    top = _norm(root)
    if path != top and _under(path, [top]):
        return not is_ignored(path, top, exists=exists)
    *folders, name = path.split(os.sep)
    if any(part in IGNORED_DIRS or _ignored_name(part) for part in folders):
        return False
    return not _ignored_file(name)


# ---------------------------------------------------------------------------------------------
# Git
# ---------------------------------------------------------------------------------------------

#: The id of git's empty tree: the snapshot of a repository with nothing in it.
EMPTY_TREE: Final = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
DIFF_FILENAME: Final = "changes.diff"
_OBJECT_ID: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256
#: An untracked file larger than this is left out of the snapshots (never hashed into the
#: repository's object store): a new file that big is not in the diff.
MAX_UNTRACKED_BYTES: Final = 4 * 1024 * 1024
#: With more untracked files than this (a home folder kept in git, say) none is snapshotted.
MAX_UNTRACKED_FILES: Final = 5_000
#: Bytes of untracked files a snapshot takes at most (else none of them).
MAX_UNTRACKED_TOTAL: Final = 64 * 1024 * 1024
#: Files named on one ``git diff`` command line at most (more are diffed in batches).
_PATHS_PER_CALL: Final = 500

# Variables that would point git at another repository or index than the session's own
# (set, say, when c3desk itself runs from a git hook).
_GIT_REDIRECTS: Final = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


# The user's pathspec modes would conflict with the literal ones c3desk asks for (git dies).
_PATHSPEC_MODES = frozenset({"GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS"})


def _git(
    root: str | os.PathLike[str],
    args: Iterable[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> str | None:
    """Stdout of ``git ARGS`` run in ``root``, or None on any failure. Pathspecs are literal
    (a file named ``*`` or ``:(top)`` is only that file)."""
    full_env = {
        k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS and k not in _PATHSPEC_MODES
    }
    full_env.update(
        GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", GIT_LITERAL_PATHSPECS="1", LC_ALL="C"
    )
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            # No hooks of the user's run for c3desk's own look (post-index-change and kin).
            ["git", "-c", "core.quotepath=off", "-c", "core.hooksPath=/dev/null", *args],
            cwd=root,
            env=full_env,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None  # git missing, root gone, timeout
    if proc.returncode != 0:
        return None
    # Diffs of non-UTF-8 files round-trip byte for byte through save_diff.
    return proc.stdout.decode("utf-8", "surrogateescape")


def _fs(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class _Repo:
    top: str  # the work tree's top folder, symbolic links resolved
    index: str  # the real index file (only ever read)


def _repo(root: str | os.PathLike[str], timeout: float) -> _Repo | None:
    """The work tree ``root`` lies in, or None outside one (or inside a ``.git`` folder)."""
    out = _git(
        root,
        ["rev-parse", "--is-inside-work-tree", "--show-toplevel", "--git-path", "index"],
        timeout=timeout,
    )
    lines = out.splitlines() if out is not None else []
    if len(lines) != 3 or lines[0] != "true":
        return None
    top = os.path.realpath(lines[1])
    return _Repo(top, os.path.join(root, lines[2]))  # relative to root unless absolute


def _untracked(
    repo: _Repo,
    env: dict[str, str],
    timeout: float,
    exclude: Iterable[str],
    since: float | None = None,
) -> list[str] | None:
    """The untracked, not ignored files a snapshot holds (top-relative), or None on failure.

    Left out: files larger than :data:`MAX_UNTRACKED_BYTES`, files in the folders the scan
    never enters (:data:`IGNORED_DIRS`, for a repository that does not ignore its
    ``node_modules``) or in an ``exclude`` folder (c3desk's data in a home folder kept in git),
    nested repositories, files this process cannot read (another user's), and all of them
    beyond :data:`MAX_UNTRACKED_FILES` files or :data:`MAX_UNTRACKED_TOTAL` bytes or where
    ``status.showUntrackedFiles`` is ``no``. With ``since``, only files changed since then
    (a file already there that the first snapshot left out is not taken for a new one)."""
    skipped: list[str] = []
    for folder in map(os.path.realpath, exclude):
        rel = _relative(folder, repo.top)
        if rel is None and _under(repo.top, [folder]):
            return []  # the whole work tree is in an excluded folder
        if rel is not None:
            skipped.append(rel + "/")
    shown = _git(repo.top, ["config", "--get", "status.showUntrackedFiles"], timeout=timeout)
    if shown is not None and shown.strip().lower() in ("no", "false", "off", "0"):
        return []
    out = _git(
        repo.top,
        ["ls-files", "-z", "--others", "--exclude-standard"],
        timeout=timeout,
        env=env,
    )
    if out is None:
        return None
    names: list[str] = []
    total = 0
    exists = functools.cache(os.path.exists)  # the scan's marker files, asked once a folder
    for name in out.split("\0"):
        if not name or name.endswith("/") or name.startswith(tuple(skipped)):
            continue  # a nested repository, an excluded folder
        path = os.path.join(repo.top, name)
        # The scan's rules: dependency folders, virtual environments, build output, caches.
        if is_ignored(path, repo.top, exists=exists):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue  # gone meanwhile
        if info.st_size > MAX_UNTRACKED_BYTES or (since is not None and info.st_mtime < since):
            continue
        if stat.S_ISREG(info.st_mode) and not os.access(path, os.R_OK):
            continue  # git could not hash it: the whole snapshot would fail
        names.append(name)
        total += info.st_size
        if len(names) > MAX_UNTRACKED_FILES or total > MAX_UNTRACKED_TOTAL:
            return []
    return names


def _tree_now(
    repo: _Repo,
    *,
    timeout: float,
    exclude: Iterable[str] = (),
    base: str | None = None,
    since: float | None = None,
) -> str | None:
    """A tree object of the working tree now (tracked files and :func:`_untracked` ones),
    written from a throw-away copy of the index: the real index, the stash list and the
    working tree are untouched (only objects are added to the repository's store).

    With ``base`` (an earlier such tree), untracked files it holds are in the tree whatever
    their size, so that a file is never shown deleted only because it grew."""
    with tempfile.TemporaryDirectory(prefix="c3desk-snapshot-") as tmp:
        scratch = os.path.join(tmp, "index")
        try:
            # A copy, not an empty index: its stat data spares hashing unchanged files.
            shutil.copyfile(repo.index, scratch)
        except FileNotFoundError:
            pass  # nothing was ever added: every file is untracked
        except OSError:
            return None
        env = {"GIT_INDEX_FILE": scratch}
        # A split index would write its shared part into the repository: keep it whole.
        whole = ["-c", "core.splitIndex=false"]
        if _git(repo.top, [*whole, "add", "--update"], timeout=timeout, env=env) is None:
            return None
        extra = _untracked(repo, env, timeout, exclude, since if base is not None else None)
        if extra is None:
            return None
        if base is not None:
            gone = _git(
                repo.top,
                ["diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=D", base],
                timeout=timeout,
                env=env,
            )
            if gone is None:
                return None
            known = set(extra)
            extra += [
                n
                for n in gone.split("\0")
                if n and n not in known and os.path.lexists(os.path.join(repo.top, n))
            ]
        if extra:
            listed = b"".join(_fs(n) + b"\0" for n in extra)
            # Literal paths, no ignore rules; one that vanished meanwhile is left out.
            args = [*whole, "update-index", "--add", "--remove", "-z", "--stdin"]
            if _git(repo.top, args, timeout=timeout, env=env, stdin=listed) is None:
                # One it could not read after all: the tracked files' tree, not none at all.
                log.info("untracked files left out of the snapshot of %s", repo.top)
                try:
                    shutil.copyfile(repo.index, scratch)
                except FileNotFoundError:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(scratch)
                except OSError:
                    return None
                if _git(repo.top, [*whole, "add", "--update"], timeout=timeout, env=env) is None:
                    return None
        tree = _git(repo.top, ["write-tree"], timeout=timeout, env=env)
    tree = tree.strip() if tree else ""
    return tree if _OBJECT_ID.fullmatch(tree) else None


def is_object_id(text: str) -> bool:
    """A git object id (SHA-1 or SHA-256), never a ref or an option."""
    return bool(_OBJECT_ID.fullmatch(text))


def git_snapshot(
    root: str | os.PathLike[str], *, exclude: Iterable[str] = (), timeout: float = 15.0
) -> str | None:
    """The id of a tree object standing for the working tree of ``root``'s repository now,
    untracked files included (within :func:`_untracked`'s bounds, none in an ``exclude``
    folder), or None outside git.

    Nothing the user sees changes: the tree is written from a throw-away copy of the index
    (``GIT_INDEX_FILE``), never the real index, the stash list or the working tree. A
    repository with nothing in it gives :data:`EMPTY_TREE`. None also when git is missing.
    """
    repo = _repo(root, timeout)
    return _tree_now(repo, timeout=timeout, exclude=exclude) if repo is not None else None


@dataclass(frozen=True, slots=True)
class GitChanges:
    """What changed in a repository between a snapshot and now (see :func:`git_changes`)."""

    diff: str = ""  # the unified diff (only of the files asked about, when some were named)
    others: tuple[str, ...] = ()  # the other changed files (repository-relative)
    others_diff: str = ""  # their diff


def _relative(path: str, top: str) -> str | None:
    """``path`` relative to the work tree's top folder, or None outside it. The folder is
    resolved, the name is not (a symbolic link is itself the file git tracks)."""
    folder, name = os.path.split(os.path.abspath(path))
    rel = os.path.relpath(os.path.join(os.path.realpath(folder), name), top)
    if rel == "." or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel.replace(os.sep, "/")


def git_changes(
    root: str | os.PathLike[str],
    base: str,
    *,
    paths: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    timeout: float = 60.0,
    since: float | None = None,
) -> GitChanges:
    """Changes in ``root``'s repository since the snapshot ``base`` (as :func:`git_snapshot`
    gave it), untracked new files included; an empty answer on any failure.

    ``paths``: only these files (absolute, or relative to ``root``) are diffed; the other
    changed files are named in :attr:`GitChanges.others`. ``exclude``: as given to the
    snapshot (untracked files there are not compared). ``since``: when the snapshot was
    taken; an untracked file older than that which the snapshot left out (over its bounds
    then) is not shown as new. ``base`` must be an object id,
    never a ref or an option. Output does not depend on the user's diff settings (colour,
    external diff tools, textconv filters, prefixes, ``diff.relative``).
    """
    if not _OBJECT_ID.fullmatch(base):
        return GitChanges()
    repo = _repo(root, min(timeout, 15.0))
    if repo is None:
        return GitChanges()
    now = _tree_now(repo, timeout=timeout, exclude=exclude, base=base, since=since)
    if now is None:
        return GitChanges()
    show = ["diff", *PLAIN_DIFF, base, now, "--"]
    if paths is None:
        return GitChanges(_git(repo.top, show, timeout=timeout) or "")
    names = _git(
        repo.top, ["diff", "--name-only", "-z", "--no-renames", base, now], timeout=timeout
    )
    if names is None:
        return GitChanges()
    changed = [n for n in names.split("\0") if n]
    wanted = {rel for p in paths if (rel := _relative(os.path.join(root, p), repo.top))}
    own = [n for n in changed if n in wanted]
    others = [n for n in changed if n not in wanted]
    diffs: list[str] = []
    for names_of in (own, others):
        parts: list[str] = []
        for at in range(0, len(names_of), _PATHS_PER_CALL):
            part = _git(repo.top, [*show, *names_of[at : at + _PATHS_PER_CALL]], timeout=timeout)
            if part is None:
                return GitChanges()
            parts.append(part)
        diffs.append("".join(parts))
    return GitChanges(diffs[0], tuple(others), diffs[1])


def git_diff(root: str | os.PathLike[str], base: str, *, timeout: float = 60.0) -> str:
    """The diff of :func:`git_changes` of the whole repository; "" on any failure."""
    return git_changes(root, base, timeout=timeout).diff


#: Changed files a scoped diff's header names at most.
_OTHERS_NAMED: Final = 20


def diff_report(changes: GitChanges, *, scoped: bool) -> str:
    """``changes.diff``'s text: a header of ``#`` lines saying what the diff holds (git and
    patch skip text before the first ``diff --git``), then the diff; "" without a diff.

    ``scoped``: first the files the session's agent reported writing, then, under a header of
    their own, the other files changed meanwhile (its shell commands' work is among them, so
    it is shown, not only named); else the whole repository in one, with a header saying
    that edits by anyone else in it during the session are included."""
    if not changes.diff and not changes.others_diff:
        return ""
    if scoped:
        lines = [
            "# Changes since the session started to the files its agent wrote with its file",
            "# tools (Write, Edit, MultiEdit, NotebookEdit), as they are now.",
        ]
        if not changes.diff:
            lines.append("# (none: it changed no file with them)")
        text = "\n".join(lines) + "\n" + changes.diff
        if changes.others_diff:
            named = ", ".join(n.replace("\n", "\\n") for n in changes.others[:_OTHERS_NAMED])
            more = len(changes.others) - _OTHERS_NAMED
            named += f" and {more} more" if more > 0 else ""
            text += (
                "#\n# Also changed in the repository while the session ran, not with those\n"
                "# tools: by its shell commands, another session, another program or you (git\n"
                "# cannot tell which):\n"
                f"#   {named}\n" + changes.others_diff
            )
        return text
    lines = [
        "# Changes in the repository since the session started, untracked new files",
        "# included. Edits made meanwhile by others in the same folder (another session,",
        "# another program, you) are included too: git cannot tell them apart. An",
        "# isolated session (--worktree) has a folder of its own.",
    ]
    return "\n".join(lines) + "\n" + changes.diff


def save_diff(text: str, dest_dir: Path) -> Path | None:
    """Write ``text`` to ``dest_dir/changes.diff`` (creating the directory); None when empty.

    The file is replaced atomically, so a reader never sees half a diff. An empty ``text``
    leaves any earlier file alone.
    """
    if not text:
        return None
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / DIFF_FILENAME
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".changes-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8", "surrogateescape"))
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
