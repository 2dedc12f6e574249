"""Artifact detection: which files a session produced, and its git diff.

Blocking, Qt-free and loop-free: the engine calls these from a worker thread and hands the
results back to the loop. Nothing here writes the database.

- :class:`ReportedWrites` reads what the agent says it wrote: the Write/Edit/MultiEdit/
  NotebookEdit tool calls in a Claude Code transcript, confirmed by their tool results. This is
  the preferred source: a folder scan cannot tell the session's files from other programs'.
- :func:`scan` is the fallback: it walks a session's working directory and returns the files
  created or modified since the session started, bounded by depth, file count and a deadline
  (:attr:`ScanResult.limit` says which bound cut it), never entering the ``exclude`` folders.
- :func:`git_snapshot` records the working-tree state at session start; :func:`git_diff` gives
  the tracked changes since then and :func:`save_diff` stores them as ``changes.diff``.

What is ignored lives in one place, the "Ignore rules" block below; :func:`is_ignored` applies
the same rules to a single path (for a file-system watcher).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol

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

#: The id of git's empty tree: the base for a repository that has no commit yet.
EMPTY_TREE: Final = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
DIFF_FILENAME: Final = "changes.diff"
_OBJECT_ID: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256

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


def _git(
    root: str | os.PathLike[str],
    args: Iterable[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
) -> str | None:
    """Stdout of ``git ARGS`` run in ``root``, or None on any failure."""
    full_env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
    full_env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=root,
            env=full_env,
            stdin=subprocess.DEVNULL,
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


def git_snapshot(root: str | os.PathLike[str], *, timeout: float = 15.0) -> str | None:
    """An object id standing for the working tree's tracked state now, or None outside git.

    With uncommitted changes this is a dangling commit from ``git stash create`` (nothing is
    stashed; the working tree and index are untouched), on a clean tree it is ``HEAD``. In a
    repository without commits it is the tree of the tracked files as they are now, built in a
    throw-away index, or failing that :data:`EMPTY_TREE`. None also when git is missing.
    """
    inside = _git(root, ["rev-parse", "--is-inside-work-tree"], timeout=timeout)
    if inside is None or inside.strip() != "true":
        return None
    head = _git(root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], timeout=timeout)
    if head is None:
        return _unborn_snapshot(root, timeout=timeout) or EMPTY_TREE
    stash = _git(root, ["stash", "create"], timeout=timeout)
    if stash is None:
        return None
    return stash.strip() or head.strip() or None


def _unborn_snapshot(root: str | os.PathLike[str], *, timeout: float) -> str | None:
    """Tree of the tracked files' current content when HEAD is unborn; the real index is kept."""
    index = _git(root, ["rev-parse", "--git-path", "index"], timeout=timeout)
    if index is None:
        return None
    index_path = os.path.join(root, index.strip())  # relative to root unless absolute
    with tempfile.TemporaryDirectory(prefix="c3desk-snapshot-") as tmp:
        scratch = os.path.join(tmp, "index")
        try:
            with open(index_path, "rb") as src, open(scratch, "wb") as dst:
                dst.write(src.read())
        except FileNotFoundError:
            return EMPTY_TREE  # nothing was ever added
        except OSError:
            return None
        env = {"GIT_INDEX_FILE": scratch}
        if _git(root, ["add", "--update"], timeout=timeout, env=env) is None:
            return None
        tree = _git(root, ["write-tree"], timeout=timeout, env=env)
    return tree.strip() if tree else None


def git_diff(root: str | os.PathLike[str], base: str, *, timeout: float = 60.0) -> str:
    """Tracked changes in ``root``'s working tree relative to ``base``; "" on any failure.

    ``base`` must be an object id (as :func:`git_snapshot` gives), never a ref or an option.
    Untracked files are not in it (the scan reports those). Output does not depend on the
    user's diff settings (colour, external diff tools, textconv filters, prefixes).
    """
    if not _OBJECT_ID.fullmatch(base):
        return ""
    text = _git(
        root,
        [
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            base,
            "--",
        ],
        timeout=timeout,
    )
    return text or ""


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
