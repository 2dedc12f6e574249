"""Artifact detection: which files a session produced, and its git diff.

Blocking, Qt-free and loop-free: the engine calls these from a worker thread and hands the
results back to the loop. Nothing here writes the database.

- :func:`scan` walks a session's working directory and returns the files created or modified
  since the session started (bounded by ``max_files`` and ``deadline``).
- :func:`git_snapshot` records the working-tree state at session start; :func:`git_diff` gives
  the tracked changes since then and :func:`save_diff` stores them as ``changes.diff``.

What is ignored lives in one place, the "Ignore rules" block below; :func:`is_ignored` applies
the same rules to a single path (for a file-system watcher).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

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
#: (``.aider.chat.history.md``, ``.aider.tags.cache.v4/``), Emacs lock files (``.#name``),
#: Vim swap files, backup files (``name~``) and macOS Finder metadata.
IGNORED_PREFIXES: Final = (".aider", ".#")
IGNORED_SUFFIXES: Final = (".swp", ".swo", ".swx", "~")
IGNORED_FILES: Final = frozenset({".DS_Store"})


def _ignored_name(name: str) -> bool:
    """True for names ignored whether file or directory."""
    return name.startswith(IGNORED_PREFIXES)


def _ignored_file(name: str) -> bool:
    return name in IGNORED_FILES or name.endswith(IGNORED_SUFFIXES) or _ignored_name(name)


def _ignored_dir(name: str, path: str, cargo_beside: bool) -> bool:
    """True when the directory ``name`` at ``path`` must not be entered.

    ``pyvenv.cfg`` inside it is checked by the caller once the directory is listed (no extra
    system call); only the conventional venv names cost a lookup here.
    """
    if name in IGNORED_DIRS or _ignored_name(name):
        return True
    if cargo_beside and name == CARGO_TARGET[0]:
        return True
    if name in VENV_NAMES:
        return any(os.path.exists(os.path.join(path, script)) for script in VENV_ACTIVATE)
    return False


def is_ignored(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether :func:`scan` would leave out ``path`` (a file under ``root``), by the same rules.

    For a file-system watcher, which sees single paths rather than listings. Paths outside
    ``root`` count as ignored.
    """
    top = os.path.abspath(root)
    target = os.path.abspath(path)
    rel = os.path.relpath(target, top)
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return True
    parts = rel.split(os.sep)
    current = top
    for name in parts[:-1]:
        cargo = os.path.exists(os.path.join(current, CARGO_TARGET[1]))
        current = os.path.join(current, name)
        if _ignored_dir(name, current, cargo) or os.path.exists(os.path.join(current, VENV_MARKER)):
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


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one :func:`scan` found.

    ``found``: (absolute path, type) of each new or changed file, sorted by path.
    ``scanned``: regular files examined (not counting ignored ones).
    ``truncated``: the scan stopped at ``max_files`` or the deadline; ``found`` is partial.
    """

    found: list[tuple[str, ArtifactType]] = field(default_factory=list)
    scanned: int = 0
    truncated: bool = False


# How many files between two looks at the clock: monotonic() is cheap, but not free at 100k.
_DEADLINE_STRIDE: Final = 512


def scan(
    root: str | os.PathLike[str],
    since: float,
    *,
    seen: Set[str] | None = None,
    max_files: int = 200_000,
    deadline: float | None = None,
) -> ScanResult:
    """Regular files under ``root`` changed at or after ``since`` and not in ``seen``.

    ``since`` is a wall-clock time (``time.time()``); a file counts when its mtime or its ctime
    (which catches files moved in with an old mtime) is ``>= since``. File timestamps come from
    a coarse kernel clock that can lag ``time.time()`` by some milliseconds, so a caller should
    take ``since`` slightly before the session starts (a second is plenty).

    ``seen`` holds paths (as returned in ``found``) already recorded; it is only read, never
    changed. ``deadline`` is a ``time.monotonic()`` value. The walk is iterative, never follows
    symbolic links (symlinked files are not reported either, so nothing outside ``root`` is),
    skips what the ignore rules name, and passes over directories it cannot read and entries
    that vanish while it runs.
    """
    top = os.path.abspath(root)
    known: Set[str] = seen if seen is not None else frozenset()
    found: list[tuple[str, ArtifactType]] = []
    scanned = 0
    stack = [top]
    # The loop below runs once per file: ignore checks are inlined and names bound locally
    # (about a quarter of the Python overhead on top of the unavoidable lstat per file).
    ignored_files, suffixes, prefixes = IGNORED_FILES, IGNORED_SUFFIXES, IGNORED_PREFIXES
    stride = _DEADLINE_STRIDE
    while stack:
        if deadline is not None and time.monotonic() >= deadline:
            return _result(found, scanned, truncated=True)
        directory = stack.pop()
        entries = _list_dir(directory)
        names = {entry.name for entry in entries}
        if VENV_MARKER in names and directory != top:
            continue
        cargo = CARGO_TARGET[1] in names
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _ignored_dir(name, entry.path, cargo):
                        stack.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # symlink, fifo, socket, device
            except OSError:
                continue
            if name in ignored_files or name.endswith(suffixes) or name.startswith(prefixes):
                continue
            if scanned >= max_files:
                return _result(found, scanned, truncated=True)
            scanned += 1
            if deadline is not None and scanned % stride == 0 and time.monotonic() >= deadline:
                return _result(found, scanned, truncated=True)
            path = entry.path
            if path in known:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished (or became unreadable) since the listing
            if st.st_mtime >= since or st.st_ctime >= since:
                found.append((path, classify_path(path)))
    return _result(found, scanned, truncated=False)


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


def _result(found: list[tuple[str, ArtifactType]], scanned: int, *, truncated: bool) -> ScanResult:
    found.sort()
    return ScanResult(found=found, scanned=scanned, truncated=truncated)


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
