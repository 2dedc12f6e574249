"""Sessions' worktrees: made at activation (the engine's hook), and the user's diff, merge and
remove (the CLI's ``c3desk worktree`` and the GUI's queue-dock actions).

The git work itself is :mod:`c3desk.core.worktrees`; this module finds the session's worktree
record and the runner for the worker it ran on: this machine's (argv, no shell) or an SSH
worker's connection (each word shlex-quoted). The engine's and the GUI's operations use the
engine's connection; the CLI opens its own SSH connection for a remote session and closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from c3desk import clock
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import worktrees as wt
from c3desk.errors import InvalidInput, Refused
from c3desk.store.models import Session, Worker, db
from c3desk.transports.base import SpawnError
from c3desk.transports.connection import WorkerConnection
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_trust import TrustStore

T = TypeVar("T")
CONNECT_TIMEOUT = 15.0


def recorded(s: Session) -> wt.Worktree | None:
    """The session's worktree, once made (None: it has none, or not yet)."""
    if s.worktree_branch and s.worktree_base and s.worktree_repo and s.worktree_path:
        return wt.Worktree(s.worktree_branch, s.worktree_base, s.worktree_repo, s.worktree_path)
    return None


def runner_for(conn: WorkerConnection) -> wt.Runner:
    """How git runs on the connection's machine."""
    if conn.worker.type == "local":
        return wt.local_runner
    if isinstance(conn, SSHConnection):
        return wt.remote_runner(conn.runner())
    raise SpawnError(f"c3desk cannot run git on the worker {conn.worker.name}")


# -- at activation (the engine, on its loop) --------------------------------------------------


async def place(conn: WorkerConnection, session_id: str, folder: str) -> str:
    """The folder a session starts in: ``folder`` itself, or its worktree (made now on its
    first activation, reused after). Raises SpawnError with a one-line reason."""
    s = Session.get_or_none(Session.id == session_id)
    if s is None or not s.worktree_branch:
        return folder
    run = runner_for(conn)
    tree = recorded(s)
    try:
        if tree is not None:
            return await wt.in_thread(lambda: wt.reuse(run, tree, folder))
        root = str(cfg.get_settings()["worktree_root"])
        branch = str(s.worktree_branch)
        made, cwd = await wt.in_thread(lambda: wt.create(run, folder, branch, root))
    except wt.GitError as exc:
        raise SpawnError(f"worktree: {exc}") from None
    with db.atomic():
        Session.update(
            worktree_base=made.base,
            worktree_repo=made.repo,
            worktree_path=made.path,
            updated_at=clock.now(),
        ).where(Session.id == session_id).execute()
        sess.record_event(
            session_id,
            "worktree",
            {"action": "created", "branch": made.branch, "base": made.base, "path": made.path},
        )
    return cwd


# -- the user's operations --------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A finished session's worktree and where it lives."""

    session_id: str
    title: str
    tree: wt.Worktree
    worker: Worker | None


def _no_worktree(s: Session) -> str:
    """Why a session that runs in a worktree has none (it was never made), as is true."""
    reason = str(s.failure_reason or "")
    cause = reason.removeprefix("worktree: ")
    if s.status == "queued" and s.started_at is None:
        return f"session {s.id} has not started yet: its worktree is made when it starts"
    if s.status == "queued":
        failed = f" (its last start failed: {reason})" if reason else ""
        return f"session {s.id} has no worktree yet{failed}: it is made when the session starts"
    if reason.startswith("worktree: "):
        return f"session {s.id} has no worktree: its creation failed ({cause})"
    ended = f"it {s.status} before one was made" + (f" ({reason})" if reason else "")
    return f"session {s.id} has no worktree: {ended}"


def target(ref: str, action: str = "") -> Target:
    """The session's worktree, for an operation the user asked for (``action``: named in the
    refusal); Refused while the session runs or when it has no worktree."""
    s = sess.find_session(ref)
    if not s.worktree_branch:
        raise Refused(f"session {s.id} does not run in a worktree")
    if s.status == "active":
        raise Refused(f"session {s.id} is running; wait for it to end (or kill it) first")
    tree = recorded(s)
    if tree is None and s.worktree_base:
        raise Refused(f"session {s.id}'s worktree was removed (continuing it makes a new one)")
    if tree is None:
        nothing = f"; nothing to {action}" if action and s.status != "queued" else ""
        raise Refused(_no_worktree(s) + nothing)
    worker = Worker.get_or_none(Worker.id == s.worker_id) if s.worker_id else None
    return Target(str(s.id), str(s.title), tree, worker)


def after_remove(session_id: str) -> None:
    """Forget the removed worktree's folder (the branch, base and repository stay on record): a
    continued session then gets a new worktree, never the repository itself."""
    with db.atomic():
        Session.update(worktree_path=None, updated_at=clock.now()).where(
            Session.id == session_id
        ).execute()
        sess.record_event(session_id, "worktree", {"action": "removed"})


def is_remote(t: Target) -> bool:
    return t.worker is not None and t.worker.type == "remote"


async def run_with(conn: WorkerConnection | None, fn: Callable[[wt.Runner], T]) -> T:
    """``fn(runner)`` in a thread, on the machine ``conn`` reaches (None: this one)."""
    run = wt.local_runner if conn is None else runner_for(conn)
    return await wt.in_thread(lambda: fn(run))


def run_from_cli(t: Target, home: Path, fn: Callable[[wt.Runner], T]) -> T:
    """``fn(runner)`` for the command line: here, or over a connection of its own to the
    session's SSH worker (trusted through c3desk's known-hosts file, as ``worker check``)."""
    if not is_remote(t):
        return fn(wt.local_runner)
    assert t.worker is not None
    from c3desk.core.engine import worker_info

    name = str(t.worker.name)
    conn = SSHConnection(
        worker_info(t.worker), TrustStore(home / "known_hosts"), connect_timeout=CONNECT_TIMEOUT
    )

    async def go() -> T:
        try:
            await asyncio.wait_for(conn.connect(), CONNECT_TIMEOUT * 4)
            if conn.status != "connected":
                raise Refused(f"cannot reach the worker {name}: {conn.reason}")
            return await run_with(conn, fn)
        except TimeoutError:
            raise Refused(f"cannot reach the worker {name}: no answer") from None
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    return asyncio.run(go())


def describe_diff(d: wt.Diff) -> str:
    """The diff, and a note of untracked files it cannot show."""
    note = ""
    if d.untracked:
        shown = ", ".join(d.untracked[:10]) + (" and more" if len(d.untracked) > 10 else "")
        note = f"# {len(d.untracked)} untracked files not in the diff: {shown}\n"
    return note + d.text


def merge_mode(ff_only: bool, no_ff: bool) -> str:
    if ff_only and no_ff:
        raise InvalidInput("--ff-only and --no-ff exclude each other")
    return "ff-only" if ff_only else "no-ff" if no_ff else "auto"


def cli_command(
    action: str, ref: str, home: Path, *, mode: str = "auto", force: bool = False
) -> str:
    """``c3desk worktree ACTION ID``: what to print (the diff, or what was done)."""
    t = target(ref, action)
    if action == "diff":
        return run_from_cli(t, home, lambda run: describe_diff(wt.diff(run, t.tree)))
    if action == "merge":
        done = run_from_cli(t, home, lambda run: wt.merge(run, t.tree, mode, t.title))
        sess.record_event(t.session_id, "worktree", {"action": "merged", "mode": mode})
        return done
    if action == "remove":
        done = run_from_cli(t, home, lambda run: wt.remove(run, t.tree, force))
        after_remove(t.session_id)
        return done
    raise InvalidInput(f"unknown worktree action {action!r}")


# -- the window's operations (on the engine's loop, through its connections) ----------------

ConnectionOf = Callable[[str], "WorkerConnection | None"]


def _connection(t: Target, connection_of: ConnectionOf) -> WorkerConnection | None:
    if not is_remote(t):
        return None
    assert t.worker is not None
    conn = connection_of(str(t.worker.id))
    if conn is None or conn.status != "connected":
        raise Refused(f"the worker {t.worker.name} is not connected; try again once it is")
    return conn


async def lost_work(ref: str, connection_of: ConnectionOf) -> wt.State:
    """What removing the session's worktree would lose (the window asks before it removes)."""
    t = target(ref, "remove")
    conn = _connection(t, connection_of)
    return await run_with(conn, lambda run: wt.state(run, t.tree))


async def perform(
    action: str, ref: str, connection_of: ConnectionOf, *, mode: str = "auto", force: bool = False
) -> str:
    """The window's diff, merge or remove: the diff's text, or what was done."""
    t = target(ref, action)
    conn = _connection(t, connection_of)
    if action == "diff":
        return await run_with(conn, lambda run: describe_diff(wt.diff(run, t.tree)))
    if action == "merge":
        done = await run_with(conn, lambda run: wt.merge(run, t.tree, mode, t.title))
        sess.record_event(t.session_id, "worktree", {"action": "merged", "mode": mode})
        return done
    if action == "remove":
        done = await run_with(conn, lambda run: wt.remove(run, t.tree, force))
        after_remove(t.session_id)
        return done
    raise InvalidInput(f"unknown worktree action {action!r}")
