"""The command line. Every subcommand works without a display; no subcommand starts the GUI.

Errors a user can cause print one line on stderr and exit 2 (bad input) or 1 (refused).
Output into a pipe whose reader has gone (`c3desk list | head -1`) ends the command quietly
with 141, the status of a program killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import select
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import peewee as pw
from wcwidth import wcwidth

from c3desk import __version__, cli_usage, logs
from c3desk.config import Paths, resolve_home
from c3desk.control import client as control
from c3desk.core import capacity
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import workers as wrk
from c3desk.core.keys import KEYS
from c3desk.core.worker_files import RemoteCopies
from c3desk.errors import C3Error, InvalidInput, Refused
from c3desk.store import database
from c3desk.store.models import Artifact, Session, Worker

if TYPE_CHECKING:
    from c3desk.core.agents import AgentProfile

log = logging.getLogger(__name__)

GuiLauncher = Callable[[Paths, argparse.Namespace], int]


class UsageError(InvalidInput):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem, exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _path(text: str) -> str:
    """A path option's value. An empty one (an unset variable in a script) is refused, never
    taken as the current folder or as the option left out."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty: give a path")
    return text


def _position(text: str) -> int:
    value = _positive_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: queue positions start at 1")
    return value


def _screen_size(text: str) -> int:
    value = _positive_int(text)
    if not 1 <= value <= MAX_SCREEN_SIDE:
        raise argparse.ArgumentTypeError(f"{value} is out of range 1..{MAX_SCREEN_SIDE}")
    return value


# A terminal bigger than this is a typo; the model would allocate it all.
MAX_SCREEN_SIDE = 1000

# The type of each setting's value, for `settings --help` (tests check these against the
# parsers in c3desk.core.settings, so the two cannot drift apart).
SETTING_TYPES: dict[str, str] = {
    "max_concurrent_sessions": "whole number 1..64",
    "max_visible_sessions": "whole number 1..9",
    "auto_approve": "true or false",
    "grid_layout": "auto, 1x1, 2x2 or 3x3",
    "theme": "dark or light",
    "claude_command": "command line, not empty",
    "scrollback_limit_mb": "whole number 1..10000",
    "queue_paused": "true or false",
    "worker_heartbeat_seconds": "whole number 1..600",
    "persistent_sessions": "auto, always or never",
    "reconnect_grace_seconds": "whole number 0..86400",
    "worktree_root": "absolute path, or empty",
}


def _settings_epilog() -> str:
    rows = [
        (key, SETTING_TYPES.get(key, "text"), re.sub(r"\s*\(\d+-\d+\)$", "", spec.help))
        for key, spec in cfg.SPECS.items()
    ]
    key_width = max(len(r[0]) for r in rows)
    type_width = max(len(r[1]) for r in rows)
    lines = [f"  {k.ljust(key_width)}  {t.ljust(type_width)}  {h}" for k, t, h in rows]
    return "settings (KEY, its values, what it does):\n" + "\n".join(lines)


def build_parser() -> Parser:
    p = Parser(prog="c3desk", description="Queue, run and watch many Claude Code sessions.")
    p.add_argument("--version", action="version", version=f"c3desk {__version__}")
    p.add_argument(
        "--home", metavar="DIR", type=_path, help="data directory (default: $C3DESK_HOME)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        type=_path,
        help="(GUI) save the window to PNG once it has drawn, quit",
    )
    # Handled by c3desk.__main__ before this parser (each alone on the command line); listed
    # here so --help shows them.
    setup = p.add_argument_group("install and check (each alone on the command line)")
    setup.add_argument(
        "--self-test",
        action="store_true",
        help="check this install end to end: offscreen, a temporary data folder, a shell "
        "session and the window; exit 0 when it works",
    )
    setup.add_argument(
        "--check-system",
        action="store_true",
        help="check that Qt can open the window here; names missing libraries",
    )
    setup.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add c3desk to the desktop menu (under $XDG_DATA_HOME)",
    )
    setup.add_argument(
        "--uninstall-desktop-entry", action="store_true", help="remove what that wrote"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    a = sub.add_parser("add", help="queue a new session")
    a.add_argument("--title", required=True, help="the session's name, shown on its tile")
    a.add_argument(
        "--dir",
        required=True,
        dest="directory",
        type=_path,
        help="working directory (a relative one is taken from the current directory)",
    )
    a.add_argument(
        "--prompt", help="initial prompt (one starting with '-' is written --prompt=-TEXT)"
    )
    a.add_argument("--worker", help="worker name (default: any)")
    a.add_argument("--agent", default="claude", help="agent profile (default: claude)")
    a.add_argument("--lock", action="store_true", help="pin the session")
    a.add_argument(
        "--worktree",
        nargs="?",
        const="",
        metavar="BRANCH",
        help="run it in a new git worktree of the folder's repository, on BRANCH "
        "(default c3/<title>-<id>)",
    )

    ls = sub.add_parser("list", help="list sessions")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--status", choices=["queued", "active", "completed", "failed"])

    sh = sub.add_parser("show", help="show one session")
    sh.add_argument("id")
    sh.add_argument("--json", action="store_true")

    mv = sub.add_parser("move", help="move a queued session to a queue position (1 is first)")
    mv.add_argument("id")
    mv.add_argument("position", type=_position, help="queue position; positions start at 1")

    for name, text in (
        ("rm", "remove a session"),
        ("lock", "pin a session"),
        ("unlock", "unpin a session"),
    ):
        sub.add_parser(name, help=text).add_argument("id")

    ev = sub.add_parser("events", help="list a session's events")
    ev.add_argument("id")
    ev.add_argument("--json", action="store_true")

    ar = sub.add_parser("artifacts", help="list the files a session produced")
    ar.add_argument("id")
    ar.add_argument("--json", action="store_true")

    st = sub.add_parser(
        "settings",
        help="show or change settings",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument("--json", action="store_true")
    st_sub = st.add_subparsers(dest="settings_command", metavar="set", parser_class=Parser)
    st_set = st_sub.add_parser(
        "set",
        help="change one setting",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st_set.add_argument("key", choices=list(cfg.SPECS), metavar="KEY", help="see the list below")
    st_set.add_argument("value")

    w = sub.add_parser("worker", help="manage workers")
    w_sub = w.add_subparsers(dest="worker_command", metavar="SUBCOMMAND", parser_class=Parser)
    w_sub.required = True
    w_list = w_sub.add_parser("list", help="list workers")
    w_list.add_argument("--json", action="store_true")
    w_add = w_sub.add_parser("add", help="add an SSH worker")
    w_add.add_argument("name")
    w_add.add_argument("--host", required=True)
    w_add.add_argument("--port", type=_positive_int, default=22)
    w_add.add_argument("--user")
    w_add.add_argument("--key", help="private key file")
    w_add.add_argument("--max-sessions", type=_positive_int, default=2)
    w_set = w_sub.add_parser("set", help="change a worker (the local one: its session limit)")
    w_set.add_argument("name")
    w_set.add_argument("--max-sessions", type=_positive_int)
    w_set.add_argument("--rename", metavar="NEW_NAME")
    w_set.add_argument("--host")
    w_set.add_argument("--port", type=_positive_int)
    w_set.add_argument("--user")
    w_set.add_argument("--key", help="private key file")
    w_check = w_sub.add_parser(
        "check",
        help="connect to a worker once and say whether it works",
        description="Connect to an SSH worker (host key, then login) and close again; never "
        "asks anything: an untrusted host key fails at once, printing its fingerprint.",
    )
    w_check.add_argument("name")
    w_trust = w_sub.add_parser(
        "trust",
        help="trust an SSH worker's host key after checking its fingerprint",
        description="Fetch the worker's host key and trust it: with --fingerprint only if it "
        "matches; otherwise show the fingerprint and ask (on a terminal only).",
    )
    w_trust.add_argument("name")
    w_trust.add_argument(
        "--fingerprint", metavar="SHA256:...", help="the fingerprint the key must have"
    )
    w_rm = w_sub.add_parser(
        "rm",
        help="remove a worker",
        description="Remove a remote worker. Sessions queued for it are never moved silently: "
        "with queued sessions, say where they go (--reassign-to) or --drop them.",
    )
    w_rm.add_argument("name")
    w_rm_where = w_rm.add_mutually_exclusive_group()
    w_rm_where.add_argument(
        "--reassign-to",
        metavar="WORKER",
        help="queue its sessions for WORKER instead (`any`: whichever worker is free)",
    )
    w_rm_where.add_argument(
        "--drop", action="store_true", help="remove its queued sessions from the queue"
    )

    run = sub.add_parser("run", help="run the engine (the window, or --headless)")
    run.add_argument("--headless", action="store_true", help="no window")
    run.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once no session has work left: a session idle at its prompt is done; once "
        "none is busy or waiting, the done ones are ended with /exit (they complete, their "
        "slots go to the queue). A session waiting for an answer (a permission box, a "
        "question) keeps the run going, as do queued ones that cannot start; stderr says which",
    )
    run.add_argument(
        "--exit-idle",
        action="store_true",
        help="like --until-idle, but end each session with /exit as soon as it is idle at "
        "its prompt, without waiting for the others",
    )

    sd = sub.add_parser("send", help="type into a running session")
    sd.add_argument("id")
    sd.add_argument(
        "text",
        nargs="?",
        default="",
        help="what to type (not empty), then Enter; a text of several lines goes as one paste",
    )
    sd.add_argument("--no-enter", action="store_true", help="do not press Enter after TEXT")
    sd.add_argument(
        "--key", help="send one key instead (--key enter: Enter alone): " + ", ".join(KEYS)
    )

    sc = sub.add_parser("screen", help="print a running session's current screen")
    sc.add_argument("id")
    sc.add_argument(
        "--all", action="store_true", help="keep the blank rows at the bottom of the screen"
    )
    for name, text in (
        ("kill", "end a running session"),
        ("continue", "continue a completed session"),
        ("retry", "queue a failed session again"),
    ):
        sub.add_parser(name, help=text).add_argument("id")
    hk = sub.add_parser(
        "hook",
        help="(used by Claude Code hooks) report a session's state",
        description="Run by the hooks c3desk gives Claude Code: forwards the hook's JSON "
        "(on stdin) to the running instance. Always exits 0 and prints nothing.",
    )
    hk.add_argument("--session", required=True, help="the c3desk session id")
    hk.add_argument(
        "event",
        choices=["busy", "idle", "waiting", "session-start"],
        help="what the agent is doing: busy, idle, waiting (needs input) or session-start",
    )

    dt = sub.add_parser("detect", help="classify a saved screen as busy, waiting or idle")
    dt.add_argument("--agent", default="claude", help="agent profile (default: claude)")
    dt.add_argument("file", help="screen as text, or raw terminal bytes")
    dt.add_argument("--cols", type=_screen_size, default=120, help="screen width, 1..1000")
    dt.add_argument("--rows", type=_screen_size, default=40, help="screen height, 1..1000")
    dt.add_argument("--json", action="store_true")

    wt = sub.add_parser("worktree", help="a finished session's git worktree: diff, merge, remove")
    wt_sub = wt.add_subparsers(dest="worktree_command", metavar="SUBCOMMAND", parser_class=Parser)
    wt_sub.required = True
    wt_sub.add_parser("diff", help="print its changes against the base branch").add_argument("id")
    wt_merge = wt_sub.add_parser("merge", help="merge its branch into the base branch")
    wt_merge.add_argument("id")
    wt_merge.add_argument("--ff-only", action="store_true", help="fast-forward or refuse")
    wt_merge.add_argument("--no-ff", action="store_true", help="always a merge commit")
    wt_rm = wt_sub.add_parser("remove", help="remove the worktree and its branch")
    wt_rm.add_argument("id")
    wt_rm.add_argument(
        "--force", action="store_true", help="even with uncommitted changes or unmerged commits"
    )
    cli_usage.add_parser(sub)
    sub.add_parser("pause", help="start no new sessions")
    sub.add_parser("resume", help="start queued sessions again")

    se = sub.add_parser("search", help="find sessions by title, folder, prompt and output")
    se.add_argument(
        "query",
        nargs="+",
        help='words to find (all of them; "a phrase" in quotes inside the query); no search syntax',
    )
    se.add_argument("--limit", type=_positive_int, default=20, help="matches at most, 1..1000")
    se.add_argument("--json", action="store_true")
    return p


# --- output helpers -------------------------------------------------------------------------


def _write(text: str) -> None:
    """``text`` to stdout in pieces. With stdout unbuffered (PYTHONUNBUFFERED), a write that a
    closed pipe cuts short is taken as done, without an error: a reader that went away
    (`| head -1`) would go unnoticed if all the text were that one write; the next piece
    meets the closed pipe."""
    for start in range(0, len(text), WRITE_PIECE):
        sys.stdout.write(text[start : start + WRITE_PIECE])


WRITE_PIECE = 2048  # characters: at most 8 KiB of UTF-8, the size of stdout's buffer


def _print_json(value: Any) -> None:
    _write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# Tables are measured in terminal cells, not characters: a wide character (CJK, most emoji)
# takes two cells, a combining mark none (the widths the terminal model uses, from wcwidth).


def _cells(char: str) -> int:
    return max(wcwidth(char), 0)  # a control character (-1) moves nothing we can count


def text_width(text: str) -> int:
    """How many terminal cells ``text`` takes."""
    return sum(_cells(c) for c in text)


def clip(text: str | None, width: int) -> str:
    """``text`` on one line in at most ``width`` cells; a cut one ends with "…"."""
    text = (text or "").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    if text_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        cells = _cells(char)
        if used + cells > width - 1:  # the "…" takes the last cell
            break
        kept.append(char)
        used += cells
    return "".join(kept) + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: int | None = None) -> str:
    """Columns padded to a common width in cells; columns from ``right`` on are aligned right
    (numbers)."""
    widths = [text_width(h) for h in headers]
    for row in rows:
        widths = [max(w, text_width(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            gap = " " * (width - text_width(cell))
            padded.append(gap + cell if right is not None and i >= right else cell + gap)
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _worker_names() -> dict[str, str]:
    return {w.id: w.name for w in Worker.select(Worker.id, Worker.name)}


def _session_rows(items: Sequence[Session]) -> list[list[str]]:
    names = _worker_names()
    rows = []
    for s in items:
        rows.append(
            [
                str(s.position or ""),
                s.id[:8],
                s.status,
                "yes" if s.needs_input else "",
                "pin" if s.lock else "",
                clip(s.title, 40),
                names.get(s.worker_id, "any") if s.worker_id else "any",
                clip(s.working_directory, 40),
            ]
        )
    return rows


# --- commands -------------------------------------------------------------------------------


def _local_folder(args: argparse.Namespace) -> str:
    """``--dir`` as an absolute folder: a relative one is taken from the current directory.

    A remote worker's folder is left as given (it names a path on that machine).
    """
    given: str = args.directory
    if args.worker and sess.find_worker(args.worker).type != "local":
        return given
    path = Path(given).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    path = path.resolve()
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"working directory {str(path)!r} is a file, not a folder")
    if not path.is_dir():
        raise InvalidInput(f"working directory {str(path)!r} does not exist")
    return str(path)


def cmd_add(args: argparse.Namespace) -> int:
    folder = _local_folder(args)
    session = sess.create_session(
        title=args.title,
        working_directory=folder,
        prompt=args.prompt,
        worker=args.worker,
        agent=args.agent,
        lock=args.lock,
        known_agents=_known_agents(args),
        worktree=args.worktree,
    )
    print(session.id)
    if session.working_directory != args.directory:
        # stdout stays the id alone (scripts capture it); the resolved folder is a note.
        print(f"c3desk: folder {session.working_directory}", file=sys.stderr)
    return 0


def _profiles(args: argparse.Namespace) -> dict[str, AgentProfile]:
    # Imported here: compiling every profile's patterns costs commands that never need them.
    from c3desk.core.agents import AgentsFileError, load_profiles

    try:
        return load_profiles(args.paths.agents_file)
    except AgentsFileError as exc:
        raise InvalidInput(str(exc)) from None


def _known_agents(args: argparse.Namespace) -> list[str]:
    return list(_profiles(args))


def cmd_list(args: argparse.Namespace) -> int:
    items = sess.list_sessions(args.status)
    if args.json:
        _print_json([sess.as_dict(s) for s in items])
    elif items:
        headers = ["POS", "ID", "STATUS", "INPUT", "PIN", "TITLE", "WORKER", "FOLDER"]
        rows = _session_rows(items)
        if any(s.worktree_branch for s in items):  # isolated sessions: their branches too
            headers.append("BRANCH")
            rows = [[*r, clip(s.worktree_branch, 40)] for r, s in zip(rows, items, strict=True)]
        print(table(headers, rows))
    else:
        print("no sessions")
    if not args.json:
        from c3desk.core import usage_limits as limits

        for line in limits.cli_lines(limits.utcnow()):
            print(f"usage limit: {line}")
    return 0


def _waiting(args: argparse.Namespace, session: Session) -> str | None:
    """Why a queued session is not starting (None for the others)."""
    from c3desk.core.waiting import wait_reason

    reason = wait_reason(session.id)
    if reason is None or control.is_running(args.paths):
        return reason
    # Without a running instance nothing starts at all, whatever the queue says.
    if reason == "starting":
        return "no c3desk instance is running to start it"
    return f"{reason}; and no c3desk instance is running"


def cmd_show(args: argparse.Namespace) -> int:
    session = sess.find_session(args.id)
    data = sess.as_dict(session)
    data["waiting"] = _waiting(args, session)
    from c3desk.core import usage_limits as limits

    data.update(limits.show_fields(session.id, limits.utcnow()))
    data.update(cli_usage.show_fields(session.id, text=not args.json))
    if args.json:
        _print_json(data)
    else:
        if data["waiting"] is None:
            del data["waiting"]  # said only of queued sessions
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key.ljust(width)}  {'' if value is None else value}")
    return 0


def cmd_move(args: argparse.Namespace) -> int:
    s = sess.move_session(args.id, args.position)
    print(f"{s.id} is now at position {s.position}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    removed = sess.remove_session(args.id)
    # Copies of its remote files made for previews go with it.
    RemoteCopies(args.paths.home, lambda _worker: None).forget(removed)
    print(f"removed {removed}")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    locked = args.command == "lock"
    s = sess.set_lock(args.id, locked)
    print(f"{s.id} {'pinned' if locked else 'unpinned'}")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    items = sess.events(args.id)
    if args.json:
        _print_json([{"at": e.at, "kind": e.kind, "detail": e.detail} for e in items])
    else:
        for e in items:
            print(f"{e.at}  {e.kind:<14} {e.detail or ''}".rstrip())
    return 0


def cmd_artifacts(args: argparse.Namespace) -> int:
    s = sess.find_session(args.id)
    items = list(
        Artifact.select().where(Artifact.session == s.id).order_by(Artifact.type, Artifact.path)
    )
    if args.json:
        _print_json([{"type": a.type, "path": a.path, "detected_at": a.detected_at} for a in items])
    elif items:
        print(table(["TYPE", "DETECTED", "PATH"], [[a.type, a.detected_at, a.path] for a in items]))
    else:
        print("no artifacts")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    if args.settings_command == "set":
        value = cfg.set_setting(args.key, args.value)
        print(f"{args.key} = {json.dumps(value)}")
        if args.key == "max_concurrent_sessions":
            _warn_capacity()
        return 0
    values = cfg.get_settings()
    if args.json:
        _print_json(values)
    else:
        width = max(len(k) for k in values)
        for key, value in values.items():
            print(f"{key.ljust(width)}  {json.dumps(value) if isinstance(value, bool) else value}")
    return 0


def _warn_capacity() -> None:
    """Say on stderr when the workers' limits hold the global limit back (not an error)."""
    warning = capacity.current().warning()
    if warning:
        print(f"c3desk: warning: {warning}", file=sys.stderr)


def _worker_dict(w: Worker) -> dict[str, Any]:
    data = dict(w.__data__)
    data["active_sessions"] = (
        Session.select().where((Session.worker == w.id) & (Session.status == "active")).count()
    )
    return data


def _worker_check(args: argparse.Namespace) -> int:
    from c3desk.core import worker_check as wcheck  # paramiko and the engine: only here

    row = sess.find_worker(args.name)
    if row.type != "remote":
        command = str(cfg.get_settings()["claude_command"])
        found = wcheck.local_claude(command)
        where = f"`{command}` is {found}" if found else wcheck.local_not_found(command)
        print(f"{row.name}: this machine; {where}")
        persistence = str(cfg.get_settings()["persistent_sessions"])
        print(f"  tmux: {wcheck.hosting_note(wcheck.local_tmux(), persistence, remote=False)}")
        return 0
    result = wcheck.attempt(row, args.paths.home)
    where = f"{result.host}:{result.port}"
    if result.status == "connected":
        print(f"{row.name}: connected to {where}")
        command = result.command or "claude"
        if result.claude is None:
            print(f"  {command}: not found on the PATH of the login shell there")
            print(f"    ({result.login_path or 'the PATH could not be learned'})")
        else:
            print(f"  {command}: {result.claude} ({result.claude_version or 'version unknown'})")
        persistence = str(cfg.get_settings()["persistent_sessions"])
        print(f"  tmux: {wcheck.hosting_note(result.tmux, persistence, remote=True)}")
        print(
            "  hooks: reported back through ~/.cache/c3desk/sessions/<session>/ on the server "
            "(needs only /bin/sh)"
        )
        if result.claude is None:
            raise Refused(
                f"{row.name}: sessions there would fail: `{command}` is not installed or not "
                "on the login shell's PATH (set claude_command to its full path)"
            )
        return 0
    if result.unknown:
        raise Refused(
            f"{row.name}: the host key of {where} is not trusted yet; its fingerprint is "
            f"{result.fingerprint}; if that is right: c3desk worker trust {row.name} "
            f"--fingerprint {result.fingerprint}"
        )
    raise Refused(f"{row.name}: {result.reason or result.status}")


def _worker_trust(args: argparse.Namespace) -> int:
    from c3desk.core import worker_check as wcheck

    row = sess.find_worker(args.name)
    result = wcheck.attempt(row, args.paths.home)
    where = f"{result.host}:{result.port}"
    if result.offered is None:  # the key exchange did not get that far
        raise Refused(f"{row.name}: {result.reason or result.status}")
    if result.problem is None:
        # The check passed (authentication may still fail: `worker check` says so).
        print(f"{row.name}: the host key of {where} is already trusted")
        return 0
    if not result.unknown:
        raise Refused(f"{row.name}: {result.problem}")  # changed or revoked: never prompted
    print_ = result.fingerprint
    if args.fingerprint is None:
        if not sys.stdin.isatty():
            raise Refused(
                f"{row.name}: the host key of {where} is {print_}; no terminal to ask on: "
                f"pass --fingerprint {print_} if that is the right key"
            )
        print(f"The host key of {where} ({row.name}) has the fingerprint {print_}")
        try:
            answer = input("Trust this key? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("y", "yes"):
            raise Refused(f"{row.name}: the key was not trusted")
    wcheck.trust(row, args.paths.home, result.offered, args.fingerprint, (result.host, result.port))
    print(f"{row.name}: trusted the host key {print_} of {where}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.worker_command == "add":
        w = wrk.add_worker(
            args.name,
            host=args.host,
            port=args.port,
            user=args.user,
            key_path=args.key,
            max_sessions=args.max_sessions,
        )
        print(w.id)
    elif args.worker_command == "set":
        w = wrk.update_worker(
            args.name,
            new_name=args.rename,
            host=args.host,
            port=args.port,
            user=args.user,
            key_path=args.key,
            max_sessions=args.max_sessions,
        )
        print(f"{w.name}: {w.max_sessions} sessions at most")
    elif args.worker_command == "check":
        return _worker_check(args)
    elif args.worker_command == "trust":
        return _worker_trust(args)
    elif args.worker_command == "rm":
        worker = sess.find_worker(args.name)
        queued = (
            Session.select()
            .where((Session.worker == worker.id) & (Session.status == "queued"))
            .count()
        )
        wrk.remove_worker(args.name, reassign_to=args.reassign_to, drop=args.drop)
        note = ""
        if queued and args.drop:
            note = f"; dropped its {queued} queued session(s)"
        elif queued:
            where = "any worker" if args.reassign_to.lower() == "any" else args.reassign_to
            note = f"; its {queued} queued session(s) now wait for {where}"
        print(f"removed worker {args.name}{note}")
    else:
        items = [_worker_dict(w) for w in wrk.list_workers()]
        if args.json:
            _print_json(items)
        else:
            rows = [
                [
                    w["name"],
                    w["type"],
                    w["status"],
                    f"{w['active_sessions']}/{w['max_sessions']}",
                    f"{w['ssh_user'] + '@' if w['ssh_user'] else ''}{w['ssh_host'] or ''}"
                    + (f":{w['ssh_port']}" if w["ssh_host"] else ""),
                    w["last_heartbeat"] or "",
                ]
                for w in items
            ]
            headers = ["NAME", "TYPE", "STATUS", "ACTIVE", "ADDRESS", "LAST HEARTBEAT"]
            print(table(headers, rows))
            _warn_capacity()
    return 0


def _notify_instance(args: argparse.Namespace) -> None:
    """Tell a running instance to look at the queue now (it would within a second anyway)."""
    with contextlib.suppress(C3Error):
        control.request(args.paths, {"cmd": "wake"}, timeout=2.0)


def cmd_run(args: argparse.Namespace) -> int:
    if not args.headless:
        raise UsageError("c3desk run: the window is started by `c3desk` alone; use --headless")
    if control.is_running(args.paths):
        raise Refused(f"another c3desk instance is running on {args.paths.home}")
    import asyncio

    from c3desk import runtime  # the engine loads only for the commands that run it

    return asyncio.run(
        runtime.run_headless(args.paths, args.until_idle or args.exit_idle, args.exit_idle)
    )


def cmd_send(args: argparse.Namespace) -> int:
    if args.key is not None:
        if args.text:
            raise UsageError("c3desk send: give TEXT or --key, not both")
        control.request(args.paths, {"cmd": "key", "id": args.id, "key": args.key})
    elif not args.text:
        # Enter alone answers a box with its default (an unset variable in a script would):
        # only when asked for by name.
        raise UsageError(
            f"c3desk send: nothing to type (TEXT is {args.text!r}); Enter alone is --key enter"
        )
    else:
        payload = {"cmd": "send", "id": args.id, "text": args.text, "enter": not args.no_enter}
        control.request(args.paths, payload)
    return 0


def cmd_screen(args: argparse.Namespace) -> int:
    rows: list[str] = control.request(args.paths, {"cmd": "screen", "id": args.id})
    if not args.all:
        while rows and not rows[-1].strip():
            rows.pop()
    _write("".join(f"{row}\n" for row in rows))
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    control.request(args.paths, {"cmd": "kill", "id": args.id}, timeout=60)
    print(f"killed {sess.find_session(args.id).id}")
    return 0


def cmd_continue_retry(args: argparse.Namespace) -> int:
    try:
        status = control.request(args.paths, {"cmd": args.command, "id": args.id})
    except control.NoInstance:
        # Without a running instance the session joins the queue; it starts with the engine.
        s = sess.find_session(args.id)
        wanted = "completed" if args.command == "continue" else "failed"
        if s.status != wanted:
            raise Refused(
                f"session {s.id} is {s.status}; only {wanted} sessions can {args.command}"
            ) from None
        if args.command == "continue":
            Session.update(continuation_count=Session.continuation_count + 1).where(
                Session.id == s.id
            ).execute()
        status = sess.transition(s.id, "queued").status
    print(f"{sess.find_session(args.id).id} is {status}")
    return 0


def cmd_worktree(args: argparse.Namespace) -> int:
    from c3desk.core import worktree_ops

    mode = "auto"
    if args.worktree_command == "merge":
        mode = worktree_ops.merge_mode(args.ff_only, args.no_ff)
    text = worktree_ops.cli_command(
        args.worktree_command,
        args.id,
        args.paths.home,
        mode=mode,
        force=bool(getattr(args, "force", False)),
    )
    _write(text if text.endswith("\n") or not text else text + "\n")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    from c3desk.core import usage_limits as limits

    paused = args.command == "pause"
    now = limits.utcnow()
    holds = limits.cli_lines(now)
    try:
        control.request(args.paths, {"cmd": args.command})
    except control.NoInstance:
        cfg.set_setting("queue_paused", str(paused))
        if not paused:
            limits.lift_all("user", now)  # the next start continues their sessions
    print("queue paused" if paused else "queue resumed")
    for line in holds:
        print(f"usage limit: {line}" if paused else f"usage-limit pause lifted: {line}")
    return 0


def cmd_hook(args: argparse.Namespace) -> int:
    """Reached only through ``cli.main`` directly; ``c3desk hook`` normally takes the fast path
    in :mod:`c3desk.control.hook` before the command line is even imported."""
    from c3desk.control import hook

    return hook.main(str(args.paths.home), ["--session", args.session, args.event])


def cmd_search(args: argparse.Namespace) -> int:
    from c3desk.core import search

    return search.command(" ".join(args.query), as_json=args.json, limit=args.limit)


def cmd_detect(args: argparse.Namespace) -> int:
    from c3desk.core.detector import classify

    profiles = _profiles(args)
    profile = profiles.get(args.agent)
    if profile is None:
        raise InvalidInput(f"unknown agent profile {args.agent!r}")
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {args.file!r}: {exc.strerror}") from None
    cursor: int | None = None
    if b"\x1b" in data:
        from c3desk.terminal import TerminalModel

        model = TerminalModel(args.cols, args.rows, history=0)
        model.feed(data)
        lines = [row.rstrip() for row in model.display]
        cursor = model.cursor.y
    else:
        lines = data.decode("utf-8", "replace").splitlines()
        while lines and lines[0].startswith("#: "):  # labels of saved fixture screens
            lines.pop(0)
    result = classify(lines, cursor, profile)
    if args.json:
        _print_json(
            {
                "state": result.state,
                "reason": result.reason,
                "kind": result.kind,
                "approvable": result.approvable,
            }
        )
    else:
        print(f"{result.state}\t{result.reason}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add": cmd_add,
    "list": cmd_list,
    "show": cmd_show,
    "move": cmd_move,
    "rm": cmd_rm,
    "lock": cmd_lock,
    "unlock": cmd_lock,
    "events": cmd_events,
    "artifacts": cmd_artifacts,
    "settings": cmd_settings,
    "worker": cmd_worker,
    "run": cmd_run,
    "send": cmd_send,
    "screen": cmd_screen,
    "kill": cmd_kill,
    "continue": cmd_continue_retry,
    "retry": cmd_continue_retry,
    "hook": cmd_hook,
    "detect": cmd_detect,
    "pause": cmd_pause,
    "resume": cmd_pause,
    "worktree": cmd_worktree,
    "usage": cli_usage.cmd_usage,
    "search": cmd_search,
}

# Commands that change the queue or settings: a running instance is told at once.
WAKES = frozenset({"add", "move", "rm", "lock", "unlock", "settings", "worker"})

# Commands that do not need the database opened up front.
NO_DATABASE: frozenset[str] = frozenset({"hook", "detect"})


# Commands that only read the database: on a read-only data folder they open it read-only.
# (continue, retry, pause and resume write only without a running instance; then the write
# itself is refused with the same one line as the writing commands get.)
READING = frozenset(
    {"list", "show", "events", "artifacts", "screen", "send", "kill", "usage", "search"}
    | {"continue", "retry", "pause", "resume"}
)


def _only_reads(args: argparse.Namespace) -> bool:
    if args.command == "settings":
        return bool(args.settings_command != "set")
    if args.command == "worker":
        return args.worker_command in ("list", "check")
    if args.command == "worktree":
        return bool(args.worktree_command == "diff")
    return bool(args.command in READING)


def _open_database(args: argparse.Namespace) -> None:
    paths: Paths = args.paths
    try:
        paths.ensure()
    except OSError as exc:
        raise InvalidInput(_home_problem(paths.home, exc)) from None
    problem = database.write_problem(paths.db)
    if problem is None:
        database.connect(paths.db)
    elif _only_reads(args):
        database.connect(paths.db, read_only=True)
    else:
        raise database.cannot_write(paths.db, problem)


def _home_problem(home: Path, exc: OSError) -> str:
    """Why the data directory cannot be made, naming it: a file in its place (or in place of
    a folder above it) says so, not "File exists"."""
    for place in (home, *home.parents):
        if place.exists() and not place.is_dir():
            if place == home:
                return f"data directory {str(home)!r} is a file, not a folder"
            return f"data directory {str(home)!r}: {str(place)!r} is a file, not a folder"
    return f"data directory {str(home)!r}: {exc.strerror}"


def _setup_logging(paths: Paths, verbose: bool) -> None:
    logs.setup(paths.log_dir if paths.home.exists() else None, verbose)
    root = logging.getLogger()
    if not root.handlers:
        # No log file (a read-only data folder): log nowhere. Without a handler, logging's
        # last resort would print tracebacks on stderr above the one line the user gets.
        root.addHandler(logging.NullHandler())


def main(
    argv: Sequence[str] | None = None,
    gui: GuiLauncher | None = None,
    show_error: Callable[[str], None] | None = None,
) -> int:
    """Run the command line; return the exit code. ``gui`` starts the window (no subcommand);
    ``show_error`` also shows the window's start-up errors (a dialog when started from a menu).
    """
    args: argparse.Namespace | None = None
    paths: Paths | None = None
    line, code = "", 0
    try:
        try:
            args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        finally:
            _flush_stdout()  # --help and --version print, then exit: a closed pipe shows here
        paths = Paths(resolve_home(args.home))
        args.paths = paths
        _setup_logging(paths, args.verbose)
        if args.command is None:
            if gui is None:
                raise UsageError("c3desk: no command given (the GUI is not available here)")
            _open_database(args)
            return gui(paths, args)
        if args.command not in NO_DATABASE:
            _open_database(args)
        code = COMMANDS[args.command](args)
        _flush_stdout()  # what is still buffered meets a closed pipe here, not at exit
        if code == 0 and args.command in WAKES:
            _notify_instance(args)
        return code
    except BrokenPipeError as exc:
        if not _stdout_closed():
            line, code = _internal_error(exc)
        else:
            # Whoever read stdout has gone (`c3desk list | head -1`): end quietly, as a
            # program killed by SIGPIPE does (Python ignores SIGPIPE, so it is an exception).
            _stdout_to_devnull()
            return SIGPIPE_EXIT
    except C3Error as exc:
        text = _one_line(str(exc))
        line, code = (text if isinstance(exc, UsageError) else f"c3desk: {text}"), exc.exit_code
    except KeyboardInterrupt:
        return 130
    except (sqlite3.DatabaseError, pw.DatabaseError) as exc:
        log.exception("database error")
        explained = database.explain(exc, paths.db) if paths is not None else None
        text = str(explained) if explained is not None else f"database error: {exc}"
        line, code = f"c3desk: {_one_line(text)}", 1
    except Exception as exc:  # a bug: log the traceback, show one line
        line, code = _internal_error(exc)
    finally:
        database.close()
    print(line, file=sys.stderr)
    # Not for a scripted window (--screenshot): a dialog there waits for a click nobody gives.
    scripted = args is not None and getattr(args, "screenshot", None) is not None
    if show_error is not None and args is not None and args.command is None and not scripted:
        show_error(line)
    return code


def _internal_error(exc: Exception) -> tuple[str, int]:
    """A bug: the traceback goes to the log, one line to the user."""
    log.exception("unexpected error")
    return f"c3desk: internal error: {_one_line(repr(exc))} (see the log)", 1


# The status a shell reports for a program killed by SIGPIPE (128 + 13): `set -o pipefail`
# sees `c3desk list | head -1` as it sees `yes | head -1`.
SIGPIPE_EXIT = 128 + signal.SIGPIPE


def _flush_stdout() -> None:
    if sys.stdout is not None:
        sys.stdout.flush()


def _stdout_closed() -> bool:
    """Whether stdout is a pipe (or socket, terminal) nobody reads any more: it polls as an
    error or hang-up. A broken pipe elsewhere (a connection) is not this."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null: what is still buffered goes there when Python flushes it at
    exit, instead of failing again (see the note on SIGPIPE in the signal module's docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _one_line(text: str) -> str:
    return " ".join(text.split())
