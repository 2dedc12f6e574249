"""Git worktree isolation: a session runs in a worktree of its folder's repository.

When it is created: at the session's first activation, through its worker's connection, so a
local and an SSH worker behave alike (a failure fails the session with a one-line reason). For a
local folder, ``c3desk add --worktree`` also checks at once that the folder is in a repository
with a commit. The branch name is chosen (and validated) when the session is added; the base
(the repository's branch, or its commit when detached), the repository and the worktree's path
are recorded when the worktree is made. A continued or retried session reuses it.

Git commands are built here as argv lists (pure functions, unit-tested) and run by a
:data:`Runner`: :func:`local_runner` runs the argv itself (no shell); an SSH worker's runner
(:meth:`SSHConnection.runner`) quotes each word with ``shlex`` into one command line. Every path
given to git is absolute (so it never reads as an option) and user-given branch names are checked
as ``git check-ref-format --branch`` would, and never start with "-".

Runners block: the engine and the GUI call the operations in a thread (:func:`in_thread`).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from c3desk.core.artifacts import PLAIN_DIFF
from c3desk.errors import InvalidInput, Refused
from c3desk.transports import tmux

Runner = Callable[[Sequence[str]], tuple[int, bytes, bytes]]
T = TypeVar("T")

GIT_TIMEOUT = 120.0
# The environment every git command runs with: no prompt for credentials, messages in English
# (parsed here), no optional locks; set by the local runner and put before git over SSH.
GIT_ENV: tuple[tuple[str, str], ...] = (
    ("LC_ALL", "C"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("GIT_OPTIONAL_LOCKS", "0"),
)
# Variables that would point git at another repository than the one named with -C.
_GIT_REDIRECTS = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"}
)
_HEX = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
# What git says on stderr while it works (not why it failed): never quoted as a reason.
_PROGRESS = re.compile(
    r"(Preparing worktree|HEAD is now at|Updating files:|Checking out files:|Already up to date"
    r"|Updating [0-9a-f]+\.\.[0-9a-f]+$)|.*\(\d+/\d+\)(, done\.)?$"
)


class GitError(Refused):
    """A git command failed or a worktree operation is refused; the message says why."""


# -- names ----------------------------------------------------------------------------------


def validate_branch(name: str) -> str:
    """``name`` if git would take it as a new branch (``git check-ref-format --branch``
    rules), else InvalidInput naming it."""

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"branch name {name!r} is not usable: {why}")

    if not name:
        raise bad("it is empty")
    if len(name) > 200:
        raise bad("it is longer than 200 characters")
    if name.startswith("-"):
        raise bad('it starts with "-"')
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise bad("it contains control characters")
    if any(c.isspace() for c in name):
        raise bad("it contains white space")
    for c in "~^:?*[\\":
        if c in name:
            raise bad(f"it contains {c!r}")
    if ".." in name:
        raise bad('it contains ".."')
    if "@{" in name:
        raise bad('it contains "@{"')
    if name in ("@", "HEAD"):
        raise bad("it is reserved")
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise bad('it has an empty part between "/"')
    if name.endswith("."):
        raise bad('it ends with "."')
    for part in name.split("/"):
        if part.startswith("."):
            raise bad('a part starts with "."')
        if part.endswith(".lock"):
            raise bad('a part ends with ".lock"')
    return name


def slug(text: str, limit: int = 24) -> str:
    """ASCII letters, digits and "-" only (lower case), at most ``limit`` characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].strip("-") or "session"


OWN_PREFIX: Final = "c3/"  # the branches c3desk names (a leftover one it may take over)


def default_branch(title: str, session_id: str) -> str:
    """``c3/<short title slug>-<short id>``: safe by construction."""
    short = re.sub(r"[^a-z0-9]", "", session_id.lower())[:8] or "0"
    return f"{OWN_PREFIX}{slug(title)}-{short}"


def branch_slug(branch: str) -> str:
    """The worktree folder's name for ``branch``: its parts joined by "-", made safe."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", branch).strip("-.") or "worktree"


def worktree_path(repo: str, branch: str, root: str = "") -> str:
    """Where the worktree of ``branch`` goes: ``<repo parent>/<repo name>.worktrees/<branch
    slug>``, or ``<root>/<repo name>/<branch slug>`` when the ``worktree_root`` setting is set."""
    repo = posixpath.normpath(repo)
    name = posixpath.basename(repo) or "repository"
    if root:
        return posixpath.join(posixpath.normpath(root), name, branch_slug(branch))
    return posixpath.join(posixpath.dirname(repo), f"{name}.worktrees", branch_slug(branch))


def validate_root(key: str, text: str) -> str:
    """The ``worktree_root`` setting: empty (beside each repository) or an absolute path."""
    value = text.strip()
    if value in ("", "default"):
        return ""
    if not value.startswith("/"):
        raise InvalidInput(f"{key}: {text!r} is not an absolute path (or empty for the default)")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"{key}: {text!r} contains control characters")
    return posixpath.normpath(value)


# -- commands (pure) ------------------------------------------------------------------------


def git(where: str, *args: str) -> list[str]:
    """``git -C WHERE ARGS``; ``where`` must be absolute (never read as an option)."""
    if not where.startswith("/"):
        raise InvalidInput(f"folder {where!r} is not an absolute path")
    if "\x00" in where:
        raise InvalidInput(f"folder {where!r} contains a NUL character")
    return ["git", "-C", where, "-c", "core.quotepath=off", "-c", "color.ui=false", *args]


def head_ref(branch: str) -> str:
    """The full ref of a branch (a full ref never reads as an option)."""
    return f"refs/heads/{validate_branch(branch)}"


def base_ref(base: str) -> str:
    """The base as git should read it: a commit id, or the branch's full ref."""
    return base if _HEX.fullmatch(base) else head_ref(base)


def cmd_toplevel(folder: str) -> list[str]:
    return git(folder, "rev-parse", "--show-toplevel", "--show-prefix")


def cmd_current_branch(repo: str) -> list[str]:
    return git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")


def cmd_head(repo: str) -> list[str]:
    return git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")


def cmd_branch_exists(repo: str, branch: str) -> list[str]:
    return git(repo, "show-ref", "--verify", "--quiet", head_ref(branch))


def cmd_branch_tip(repo: str, branch: str) -> list[str]:
    return git(repo, "rev-parse", "--verify", "--quiet", f"{head_ref(branch)}^{{commit}}")


def cmd_worktree_add(repo: str, path: str, branch: str, commit: str) -> list[str]:
    if not posixpath.isabs(path):
        raise InvalidInput(f"worktree path {path!r} is not absolute")
    return git(repo, "worktree", "add", "-b", validate_branch(branch), "--", path, commit)


def cmd_worktree_add_existing(repo: str, path: str, branch: str) -> list[str]:
    """Check out the existing ``branch`` in a new worktree (its short name: a full ref would
    make git detach HEAD; after "--", a name never reads as an option)."""
    if not posixpath.isabs(path):
        raise InvalidInput(f"worktree path {path!r} is not absolute")
    return git(repo, "worktree", "add", "--", path, validate_branch(branch))


def cmd_worktree_list(repo: str) -> list[str]:
    return git(repo, "worktree", "list", "--porcelain")


def cmd_branch_delete_at(repo: str, branch: str, commit: str) -> list[str]:
    """Delete ``branch`` only while it still points at ``commit`` (git checks, atomically)."""
    if not _HEX.fullmatch(commit):
        raise InvalidInput(f"not a commit id: {commit!r}")
    return git(repo, "update-ref", "-d", head_ref(branch), commit)


def cmd_status(where: str) -> list[str]:
    return git(where, "status", "--porcelain", "--untracked-files=all")


def cmd_tracked_changes(where: str) -> list[str]:
    return git(where, "status", "--porcelain", "--untracked-files=no")


def cmd_merge_base(where: str, base: str) -> list[str]:
    return git(where, "merge-base", base_ref(base), "HEAD")


def cmd_diff(where: str, commit: str) -> list[str]:
    if not _HEX.fullmatch(commit):
        raise InvalidInput(f"not a commit id: {commit!r}")
    return git(where, "diff", *PLAIN_DIFF, commit, "--")


def cmd_untracked(where: str) -> list[str]:
    return git(where, "ls-files", "--others", "--exclude-standard")


def cmd_ahead(repo: str, base: str, branch: str) -> list[str]:
    """How many commits of ``branch`` are not in ``base``."""
    return git(repo, "rev-list", "--count", f"{base_ref(base)}..{head_ref(branch)}")


def cmd_merge(repo: str, branch: str, mode: str, message: str) -> list[str]:
    flag = {"ff-only": "--ff-only", "no-ff": "--no-ff", "auto": "--ff"}[mode]
    return git(repo, "merge", flag, "--no-edit", "-m", message, head_ref(branch))


def cmd_conflicts(repo: str) -> list[str]:
    return git(repo, "diff", "--name-only", "--diff-filter=U")


def cmd_merge_abort(repo: str) -> list[str]:
    return git(repo, "merge", "--abort")


def cmd_merging(repo: str) -> list[str]:
    return git(repo, "rev-parse", "--verify", "--quiet", "MERGE_HEAD")


def cmd_worktree_remove(repo: str, path: str, force: bool) -> list[str]:
    return git(repo, "worktree", "remove", *(["--force"] if force else []), "--", path)


def cmd_worktree_prune(repo: str) -> list[str]:
    return git(repo, "worktree", "prune")


def cmd_branch_delete(repo: str, branch: str) -> list[str]:
    return git(repo, "branch", "-D", validate_branch(branch))


# -- runners --------------------------------------------------------------------------------


def local_runner(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
    """Run ``argv`` on this machine (no shell) with git's environment; a missing program is
    127, as a shell says."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
    env.update(GIT_ENV)
    return tmux.local_runner(argv, env=env, timeout=GIT_TIMEOUT)


def remote_runner(run_argv: Runner) -> Runner:
    """A runner over SSH (``run_argv`` quotes every word): git's environment put before it
    with ``env``, as the local runner sets it."""

    def run(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        return run_argv(["env", *(f"{k}={v}" for k, v in GIT_ENV), *argv])

    return run


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _why(code: int, err: bytes, out: bytes = b"") -> str:
    """Why git failed, in one line: its ``fatal:``/``error:`` lines, else the last line that is
    not progress (``Preparing worktree ...``) nor a hint (an SSH error is the last line)."""
    if code == 127:
        return "git is not installed there"
    lines = [
        line.strip()
        for line in _text(err or out).splitlines()
        if line.strip() and not line.startswith("hint:")
    ]
    errors = list(dict.fromkeys(line for line in lines if line.startswith(("fatal:", "error:"))))
    if errors:
        return "; ".join(errors[:3])
    said = [line for line in lines if not _PROGRESS.match(line)] or lines
    return said[-1] if said else f"git exited with status {code}"


def _ok(run: Runner, argv: list[str], what: str) -> str:
    code, out, err = run(argv)
    if code != 0:
        raise GitError(f"{what}: {_why(code, err, out)}")
    return _text(out)


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worktree:
    """A session's worktree as recorded: its branch, the base it was made from (a branch, or a
    commit id when the repository's HEAD was detached), the repository and the worktree."""

    branch: str
    base: str
    repo: str
    path: str


@dataclass(frozen=True)
class RepoInfo:
    toplevel: str
    prefix: str  # the folder's path inside the repository ("" at its top, else ending in "/")
    branch: str | None  # None: detached HEAD
    head: str


def inspect(run: Runner, folder: str) -> RepoInfo:
    """The repository ``folder`` is in; GitError naming the folder when it is in none (or has
    no commit yet)."""
    if "\n" in folder or "\r" in folder:
        raise GitError(f"folder {folder!r} has a line break in its name: no worktree there")
    code, out, err = run(cmd_toplevel(folder))
    if code != 0:
        if code in (127, 255, 124):
            raise GitError(f"cannot run git in {folder!r}: {_why(code, err)}")
        raise GitError(f"folder {folder!r} is not in a git repository")
    # Not stripped: a folder's name may end in spaces. (One with a newline in it cannot be
    # told apart here: refused below, as git would find no such folder.)
    lines = _text(out).split("\n")
    toplevel, prefix = lines[0], (lines[1] if len(lines) > 2 else "")
    code, out, _err = run(cmd_head(toplevel))
    head = _text(out).strip()
    if code != 0 or not _HEX.fullmatch(head):
        raise GitError(f"the repository {toplevel!r} has no commit yet to branch from")
    code, out, _err = run(cmd_current_branch(toplevel))
    branch = _text(out).strip() if code == 0 and _text(out).strip() else None
    return RepoInfo(toplevel, prefix, branch, head)


def branch_tip(run: Runner, repo: str, branch: str) -> str | None:
    """The commit ``branch`` points at; None when there is no such branch."""
    code, out, _err = run(cmd_branch_tip(repo, branch))
    tip = _text(out).strip()
    return tip if code == 0 and _HEX.fullmatch(tip) else None


def checked_out_at(run: Runner, repo: str, branch: str) -> str | None:
    """The worktree (the repository itself included) that has ``branch`` checked out, if any."""
    listing = _ok(run, cmd_worktree_list(repo), f"cannot list the worktrees of {repo!r}")
    where = ""
    for line in listing.splitlines():
        if line.startswith("worktree "):
            where = line[len("worktree ") :]
        elif line == f"branch {head_ref(branch)}":
            return where
    return None


def _reusable(run: Runner, repo: str, branch: str, tip: str, head: str) -> None:
    """Accept an existing ``branch`` (a failed start's, by an older c3desk) for a new worktree
    only when it is where the worktree would start (``head``) and checked out nowhere; else
    GitError naming it: its commits or its worktree are never taken over, nor deleted. Only
    a name of c3desk's own (``c3/...``) is taken: a branch of the user's, even one at HEAD,
    would later be deleted with the worktree."""
    taken = f"branch {branch!r} already exists in {repo!r}"
    if not branch.startswith(OWN_PREFIX):
        raise GitError(f"{taken}; c3desk takes over only its own {OWN_PREFIX}... branches")
    where = checked_out_at(run, repo, branch)
    if where is not None:
        raise GitError(f"{taken} and is checked out at {where!r}; c3desk will not take it over")
    if tip == head:
        return
    code, out, _err = run(cmd_ahead(repo, head, branch))
    ahead = _text(out).strip()
    if code == 0 and ahead.isdigit() and int(ahead) > 0:
        raise GitError(
            f"{taken} with {ahead} commit{'' if ahead == '1' else 's'} of its own; c3desk will "
            "not reuse or delete it"
        )
    raise GitError(
        f"{taken} at another commit ({tip[:12]}) than the repository's HEAD ({head[:12]}); "
        "c3desk will not move it (delete it to retry)"
    )


def _forget_branch(run: Runner, repo: str, branch: str, head: str) -> None:
    """Delete the branch a failed ``git worktree add -b`` created: only while it still points
    at ``head`` (none of its own commits) and no worktree has it checked out."""
    if branch_tip(run, repo, branch) != head:
        return
    try:
        if checked_out_at(run, repo, branch) is None:
            run(cmd_branch_delete_at(repo, branch, head))
    except GitError:
        pass


def create(run: Runner, folder: str, branch: str, root: str = "") -> tuple[Worktree, str]:
    """Make the worktree of ``folder``'s repository on the new ``branch``; return it and the
    folder to run the session in (the same place inside the worktree as ``folder`` in the
    repository).

    A failure leaves nothing behind (the branch git made for it is deleted again). An existing
    ``branch`` (left by an older c3desk's failed start) is reused when it points at the commit
    the worktree starts from and has no worktree; any other is refused, naming it."""
    validate_branch(branch)
    info = inspect(run, folder)
    repo = info.toplevel
    path = worktree_path(repo, branch, root)
    tip = branch_tip(run, repo, branch)
    if tip is None:
        code, out, err = run(cmd_worktree_add(repo, path, branch, info.head))
        if code != 0:
            _forget_branch(run, repo, branch, info.head)
            raise GitError(f"cannot create the worktree {path!r}: {_why(code, err, out)}")
    else:
        _reusable(run, repo, branch, tip, info.head)
        _ok(
            run,
            cmd_worktree_add_existing(repo, path, branch),
            f"cannot create the worktree {path!r}",
        )
    tree = Worktree(branch, info.branch or info.head, repo, path)
    return tree, posixpath.join(path, info.prefix).rstrip("/") or "/"


def reuse(run: Runner, tree: Worktree, folder: str) -> str:
    """The folder to run a continued or retried session in: its existing worktree; GitError
    when that is gone."""
    code, _out, _err = run(cmd_toplevel(tree.path))
    if code != 0:
        raise GitError(f"the session's worktree {tree.path!r} is gone (removed?)")
    # The same place inside the worktree as the folder in the repository (asked of git: the
    # folder as given may not be the resolved path git knows the repository by).
    code, out, _err = run(cmd_toplevel(folder))
    lines = _text(out).split("\n") if code == 0 else []
    prefix = lines[1] if len(lines) > 2 else ""
    return posixpath.join(tree.path, prefix).rstrip("/") or "/"


@dataclass(frozen=True)
class State:
    """What is in a worktree that removing it would lose."""

    changes: list[str]  # `git status --porcelain` lines (untracked files included)
    ahead: int  # commits on the branch not in the base
    exists: bool


def state(run: Runner, tree: Worktree) -> State:
    code, out, _err = run(cmd_status(tree.path))
    exists = code == 0
    changes = [line for line in _text(out).splitlines() if line.strip()] if exists else []
    code, out, _err = run(cmd_ahead(tree.repo, tree.base, tree.branch))
    ahead = int(_text(out).strip() or 0) if code == 0 else 0
    return State(changes, ahead, exists)


@dataclass(frozen=True)
class Diff:
    text: str
    untracked: list[str]


def diff(run: Runner, tree: Worktree) -> Diff:
    """The worktree (its commits and its uncommitted tracked changes) against where it left
    the base: the merge base of the base and the branch."""
    code, _out, _err = run(cmd_toplevel(tree.path))
    if code != 0:
        raise GitError(f"the session's worktree {tree.path!r} is gone")
    base = _ok(run, cmd_merge_base(tree.path, tree.base), "cannot find the base").strip()
    text = _ok(run, cmd_diff(tree.path, base), "cannot diff the worktree")
    untracked = _ok(run, cmd_untracked(tree.path), "cannot list untracked files").splitlines()
    return Diff(text, [u for u in untracked if u])


def merge(run: Runner, tree: Worktree, mode: str = "auto", title: str = "") -> str:
    """Merge the branch into the base in the original repository; a message saying what was
    done. Refused (nothing changed) when the worktree has uncommitted changes, the repository
    has uncommitted changes or is not on the base branch, or when the merge conflicts (the
    merge is aborted: the repository is left as it was)."""
    if mode not in ("auto", "ff-only", "no-ff"):
        raise InvalidInput(f"merge mode {mode!r} is not one of auto, ff-only, no-ff")
    if _HEX.fullmatch(tree.base):
        raise GitError(
            f"the worktree was made from a detached commit of {tree.repo!r}: no base branch "
            "to merge into"
        )
    now = state(run, tree)
    if now.exists and now.changes:
        raise GitError(
            f"the worktree {tree.path!r} has uncommitted changes ({len(now.changes)} files); "
            "commit them first"
        )
    dirty = _ok(run, cmd_tracked_changes(tree.repo), f"cannot read the state of {tree.repo!r}")
    if dirty.strip():
        raise GitError(f"the repository {tree.repo!r} has uncommitted changes; commit or stash")
    code, out, _err = run(cmd_current_branch(tree.repo))
    current = _text(out).strip() if code == 0 else ""
    if current != tree.base:
        raise GitError(
            f"the repository {tree.repo!r} is on {current or 'a detached HEAD'!s}, not on the "
            f"base branch {tree.base!r}; check it out first"
        )
    if now.ahead == 0:
        return f"nothing to merge: {tree.branch} has no commits beyond {tree.base}"
    message = f"Merge branch '{tree.branch}'" + (f" ({title})" if title else "")
    code, out, err = run(cmd_merge(tree.repo, tree.branch, mode, message))
    if code == 0:
        return f"merged {tree.branch} into {tree.base} in {tree.repo}"
    conflicts = [
        line for line in _text(run(cmd_conflicts(tree.repo))[1]).splitlines() if line.strip()
    ]
    if run(cmd_merging(tree.repo))[0] == 0:
        run(cmd_merge_abort(tree.repo))
    if conflicts:
        raise GitError(
            f"merging {tree.branch} into {tree.base} conflicts in {', '.join(conflicts[:5])}"
            f"{' and more' if len(conflicts) > 5 else ''}; nothing was merged (the repository "
            "is as it was)"
        )
    if mode == "ff-only":
        raise GitError(
            f"{tree.base} cannot be fast-forwarded to {tree.branch} (it has moved on); merge "
            "without --ff-only"
        )
    raise GitError(f"cannot merge {tree.branch} into {tree.base}: {_why(code, err, out)}")


def remove(run: Runner, tree: Worktree, force: bool = False) -> str:
    """Remove the worktree and its branch. Refused without ``force`` when the worktree has
    uncommitted changes or its branch has commits not merged into the base."""
    now = state(run, tree)
    if not force:
        problems = []
        if now.changes:
            problems.append(f"{len(now.changes)} uncommitted changes")
        if now.ahead:
            problems.append(f"{now.ahead} commits not merged into {tree.base}")
        if problems:
            raise GitError(
                f"the worktree {tree.path!r} has {' and '.join(problems)}; removing it loses "
                "them (confirm with --force)"
            )
    if now.exists:
        _ok(
            run,
            cmd_worktree_remove(tree.repo, tree.path, force=True),
            f"cannot remove the worktree {tree.path!r}",
        )
    else:
        run(cmd_worktree_prune(tree.repo))
    code, _out, _err = run(cmd_branch_exists(tree.repo, tree.branch))
    if code == 0:
        _ok(run, cmd_branch_delete(tree.repo, tree.branch), f"cannot delete {tree.branch!r}")
    return f"removed the worktree {tree.path} and the branch {tree.branch}"


# -- sessions' choices (before any worker is asked) ------------------------------------------


def branch_for(given: str, title: str, session_id: str) -> str:
    """The branch a new session's worktree gets: ``given`` (validated) or the default."""
    return validate_branch(given) if given else default_branch(title, session_id)


def check_local_folder(folder: str) -> None:
    """Refuse at once (InvalidInput naming the folder) a local folder outside any repository."""
    try:
        inspect(local_runner, folder)
    except GitError as exc:
        raise InvalidInput(f"cannot isolate the session in a worktree: {exc}") from None
