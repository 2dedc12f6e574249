"""Crash consistency: SIGKILL a headless instance at random moments while it activates, completes
and reorders sessions, and check what every kill leaves behind (issue 18).

Each round sets ``persistent_sessions`` (``never``: agents in c3desk's own PTYs; ``auto``: hosted
in tmux), starts ``c3desk run --headless`` on a private data folder with the fake agent
(``tests/fakes/claude``, short scripts: most complete within seconds, some fail), drives the
command line (``add``, ``move``, ``rm``, ``retry``, ``kill``, ``lock``/``unlock``,
``settings set``) and kills the instance with SIGKILL at a random moment: mostly a random time
after it has reconciled what the previous kill left, sometimes during its start-up. After each
kill, with no instance running:

- ``PRAGMA integrity_check`` is ``ok`` and ``PRAGMA foreign_key_check`` finds nothing;
- every change the command line acknowledged (exit 0) is there: added sessions with their
  title and prompt, removed ones gone, settings and pins as last set, the queue in the order
  the acknowledged moves and adds made (the engine only takes sessions off its head), a killed
  session failed, each acknowledged retry a failed→queued/active transition in its events;
- the queue holds positions 1..n without gaps, every other session none; each session's status
  is the last state transition its events record, and every recorded transition is one the
  data model allows;
- no agent or tmux client is left without a live owner: within 5 s of the kill the only
  processes of the run still alive are tmux servers and what runs in them (hosted sessions).

When the next instance starts, every session recorded active must be reconciled: a reattach
event from the new instance with a live pid, or a transition to failed/completed; and every
active session must have a live process (or be starting). A session left active with a dead
process is a stuck state, reported after 20 s. At the end a last instance is started and checked
the same way, stopped with SIGTERM, every tmux server of the run is ended, and no process of the
run may remain.

The command line runs in forked children of one process that imported ``c3desk.cli`` once
(``cli.main(argv)`` in a fresh process per command, with its exit code), because starting
Python for each command would cost a second of CPU on a 2-core machine.

    python benchmarks/crash.py [--kills 200] [--seed N] [--json out.json] [--keep]

Exit status 0 when every check held; otherwise 1, naming each failure on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fakes" / "claude"
sys.path.insert(0, str(ROOT))

from c3desk.core.states import allowed  # noqa: E402

# What the fake agent is asked to do (FAKE_CLAUDE_SPEED=1: the times are seconds).
SCRIPTS = (
    ("say quick; exit 0", 2.0),
    ("think 1; say done; exit 0", 3.0),
    ("think 3; say long; exit 0", 2.0),
    ("think 1; exit 3", 1.0),
    ("think 0.5; signal KILL", 0.5),
)
MAX_QUEUED = 8  # no more adds while this many are queued
ORPHAN_GRACE = 5.0  # seconds a dead instance's agents and tmux clients get to end
STUCK_AFTER = 20.0  # seconds after a start by which every recorded active session is settled
EARLY_KILLS = 0.2  # share of kills at a random moment of the start-up itself

ZYGOTE = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    from c3desk import cli

    src = os.fdopen(0, "rb", buffering=0)
    out = os.fdopen(int(sys.argv[2]), "wb", buffering=0)
    buf = b""
    while True:
        chunk = src.read(65536)
        if not chunk:
            break
        buf += chunk
        while b"\\n" in buf:
            line, buf = buf.split(b"\\n", 1)
            req = json.loads(line)
            pid = os.fork()
            if pid == 0:
                code = 99
                try:
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    for fd, name in ((1, req["out"]), (2, req["err"])):
                        f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                        os.dup2(f, fd)
                        os.close(f)
                    code = cli.main(req["argv"])
                except BaseException:
                    import traceback
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            out.write((json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\\n").encode())
    """
)


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


@dataclass
class Model:
    """What the acknowledged commands say the database holds."""

    added: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (title, prompt)
    removed: set[str] = field(default_factory=set)
    queue: list[str] = field(default_factory=list)  # the order acknowledged commands made
    queue_uncertain: bool = False  # a command that may or may not have landed touched it
    settings: dict[str, set[str]] = field(default_factory=dict)  # key → values it may hold
    locks: dict[str, set[bool]] = field(default_factory=dict)
    must_fail: set[str] = field(default_factory=set)  # killed by the user, not retried since
    retries: Counter[str] = field(default_factory=Counter)  # acknowledged retries


@dataclass
class Figures:
    kills: int = 0
    early_kills: int = 0
    hosted_rounds: int = 0
    reconciled_starts: int = 0
    recovered: Counter[str] = field(default_factory=Counter)  # how stale active rows ended
    left_active: Counter[str] = field(default_factory=Counter)  # active rows after the kills
    ops: dict[str, Counter[str]] = field(default_factory=dict)
    checks: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Cli:
    """``c3desk ARGS`` in a fresh forked process of a pre-imported command line."""

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.scratch = scratch
        self._reply_r, reply_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(ROOT), str(reply_w)],
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(reply_w,),
        )
        os.close(reply_w)
        self._buf = b""

    def start(self, argv: list[str]) -> None:
        assert self.proc.stdin is not None
        req = {"argv": argv, "out": str(self.scratch / "out"), "err": str(self.scratch / "err")}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()

    def wait(self, timeout: float | None) -> Result | None:
        """The answer, or None if ``timeout`` passed first."""
        end = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = None if end is None else max(0.0, end - time.monotonic())
            ready, _, _ = select.select([self._reply_r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._reply_r, 4096)
            if not chunk:
                raise RuntimeError("the command-line process ended")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        rc = int(json.loads(line)["rc"])
        return Result(
            rc,
            (self.scratch / "out").read_text(errors="replace"),
            (self.scratch / "err").read_text(errors="replace"),
        )

    def __call__(self, *argv: str) -> Result:
        self.start(list(argv))
        result = self.wait(120)
        if result is None:
            raise RuntimeError(f"c3desk {' '.join(argv)} did not answer in 120 s")
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._reply_r)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not a live process
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _end(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL what is left 2 s later (a shell killed outright leaves its lock
    files behind: pyenv's rehash lock stalled every login shell on the machine once)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + 2
    while any(_alive(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _ago(seconds: float) -> str:
    """A time ``seconds`` ago as c3desk records times (UTC, whole seconds)."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def _comm(pid: int) -> str:
    """The process's name (tmux renames its server "tmux: server"; its argv stays)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _describe(pid: int) -> str:
    """State, parent and what it waits in, for a report."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return "gone"
    return f"state {stat[0]}, parent {stat[1]}, waits in {wchan or '-'}"


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


class Run:
    def __init__(
        self,
        kills: int,
        seed: int,
        keep: bool = False,
        verbose: bool = False,
        hosted_share: float = 0.5,
    ) -> None:
        self.kills = kills
        self.hosted_share = hosted_share
        self.rng = random.Random(seed)
        self.seed = seed
        self.keep = keep
        self.verbose = verbose
        self.root = Path(tempfile.mkdtemp(prefix="c3crash-", dir="/tmp"))
        self.home = self.root / "home"
        self.work = self.root / "work"
        self.tmux_dir = self.root / "t"
        for folder in (self.home, self.work, self.tmux_dir, self.root / "cli"):
            folder.mkdir()
        self.mark = f"c3crash-{os.getpid()}-{seed}"
        self.env = dict(os.environ)
        for key in ("C3DESK_SESSION", "TMUX", "TMUX_PANE"):
            self.env.pop(key, None)
        # A HOME of its own: the instance asks the login shell for PATH (``bash -l``), and a
        # user's profile (pyenv's rehash, say) would run, and be orphaned, at every kill.
        (self.root / "user").mkdir()
        self.env.update(
            HOME=str(self.root / "user"),
            C3DESK_HOME=str(self.home),
            CLAUDE_CONFIG_DIR=str(self.root / "claude"),
            FAKE_CLAUDE_SPEED="1",
            TMUX_TMPDIR=str(self.tmux_dir),
        )
        self.cli = Cli(self.env, self.root / "cli")
        self.model = Model()
        self.fig = Figures()
        self.instance: subprocess.Popen[bytes] | None = None
        self.instance_log = self.root / "instance.log"
        self._log_offset = 0

    # -- helpers ---------------------------------------------------------------------------

    def fail(self, what: str) -> None:
        self.fig.failures.append(what)
        if self.verbose:
            print(f"FAIL {what}", file=sys.stderr, flush=True)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.home / "c3desk.db", timeout=30)
        try:
            return list(conn.execute(sql, args))
        finally:
            conn.close()

    def rows(self) -> dict[str, dict[str, Any]]:
        conn = sqlite3.connect(self.home / "c3desk.db", timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            return {r["id"]: dict(r) for r in conn.execute("SELECT * FROM sessions")}
        finally:
            conn.close()

    def our_processes(self) -> list[int]:
        needle = f"C3DESK_CRASH_MARK={self.mark}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if needle in environ.split(b"\0"):
                found.append(int(entry.name))
        return found

    def orphans(self) -> list[int]:
        """Processes of the run that are neither a tmux server nor under one."""
        left = []
        for pid in self.our_processes():
            chain, seen = pid, 0
            hosted = False
            while chain > 1 and seen < 64:
                if _comm(chain).startswith("tmux: server"):
                    hosted = True
                    break
                chain, seen = _ppid(chain), seen + 1
            if not hosted and _alive(pid):
                left.append(pid)
        return left

    def tmux_sockets(self) -> list[Path]:
        return sorted((self.tmux_dir / f"tmux-{os.getuid()}").glob("*"))

    def tmux_has(self, handle: str) -> bool:
        name = handle.removeprefix("tmux:")
        for sock in self.tmux_sockets():
            ok = subprocess.run(
                ["tmux", "-S", str(sock), "has-session", "-t", f"={name}"],
                capture_output=True,
                check=False,
            )
            if ok.returncode == 0:
                return True
        return False

    # -- the instance ----------------------------------------------------------------------

    def start_instance(self) -> subprocess.Popen[bytes]:
        env = dict(self.env, C3DESK_CRASH_MARK=self.mark)
        log = open(self.instance_log, "ab")  # noqa: SIM115 (the child holds it)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "c3desk", "run", "--headless"],
                env=env,
                cwd=str(ROOT),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        self.instance = proc
        return proc

    def kill_instance(self) -> None:
        proc = self.instance
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        rc = proc.wait(30)
        if rc != -signal.SIGKILL:
            self.fail(f"kill {self.fig.kills + 1}: the instance had already ended (exit {rc})")
        self.instance = None

    def answering(self) -> bool:
        """Whether the instance's control socket takes connections (its engine starts next)."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.home / "control.sock"))
        except OSError:
            return False
        finally:
            probe.close()
        return True

    def instance_output(self) -> str:
        with open(self.instance_log, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        self._log_offset += len(data)
        return data.decode(errors="replace")

    # -- the commands ----------------------------------------------------------------------

    def op(self, name: str, argv: list[str], kill_at: float | None) -> tuple[Result, bool]:
        """Run one command; kill the instance if ``kill_at`` passes meanwhile."""
        self.cli.start(argv)
        killed = False
        result = None
        if kill_at is not None:
            result = self.cli.wait(max(0.0, kill_at - time.monotonic()))
            if result is None:
                self.kill_instance()
                killed = True
        if result is None:
            result = self.cli.wait(120)
        if result is None:
            raise RuntimeError(f"c3desk {' '.join(argv)} did not answer in 120 s")
        counts = self.fig.ops.setdefault(name, Counter())
        counts["ok" if result.rc == 0 else f"exit {result.rc}"] += 1
        if self.verbose and result.rc != 0:
            print(f"  c3desk {argv[0]}: {result.stderr.strip()}", file=sys.stderr)
        if "Traceback" in result.stderr or "internal error" in result.stderr:
            self.fail(f"c3desk {' '.join(argv)}: {result.stderr.strip()[-300:]}")
        elif result.rc != 0 and len(result.stderr.strip().splitlines()) != 1:
            self.fail(f"c3desk {' '.join(argv)} exit {result.rc}, not one line: {result.stderr!r}")
        return result, killed

    def pick(self, status: str | None = None, *, sql: str = "", limit_age: float = 0) -> str | None:
        where = "1=1" if status is None else "status = ?"
        args: tuple[Any, ...] = () if status is None else (status,)
        ids = [r[0] for r in self.query(f"SELECT id FROM sessions WHERE {where} {sql}", args)]
        ids = [i for i in ids if i not in self.model.removed]
        return self.rng.choice(ids) if ids else None

    def one_op(self, kill_at: float | None, settled: bool) -> bool:
        """A random command; returns whether the instance was killed during it. ``settled``:
        the instance has taken over what the last one left (sessions can be killed)."""
        m = self.model
        sid: str | None
        queued = self.query("SELECT id FROM sessions WHERE status='queued' ORDER BY position")
        kinds = ["add"] * 4 + ["move"] * 2 + ["rm", "retry", "retry", "kill", "settings", "lock"]
        kind = self.rng.choice(kinds)
        if kind == "add" and len(queued) >= MAX_QUEUED:
            kind = "move"
        if kind == "move" and len(queued) < 2:
            kind = "settings"
        if kind == "add":
            prompt = self.rng.choices([s for s, _ in SCRIPTS], [w for _, w in SCRIPTS])[0]
            title = f"s{len(m.added) + len(m.removed)}-{self.rng.randrange(10**6)}"
            res, killed = self.op(
                "add", ["add", "--title", title, "--dir", str(self.work), "--prompt", prompt],
                kill_at,
            )  # fmt: skip
            if res.rc == 0:
                sid = res.stdout.strip()
                m.added[sid] = (title, prompt)
                m.queue.append(sid)
            else:
                m.queue_uncertain = True
            return killed
        if kind == "move":
            sid = self.rng.choice([q[0] for q in queued[1:]])
            res, killed = self.op("move", ["move", sid, "1"], kill_at)
            if res.rc == 0:
                if sid in m.queue:
                    m.queue.remove(sid)
                m.queue.insert(0, sid)
            elif "no queue position" not in res.stderr and "out of range" not in res.stderr:
                m.queue_uncertain = True
            return killed
        if kind == "rm":
            sid = self.pick(sql="AND status != 'active'")
            if sid is None:
                return False
            res, killed = self.op("rm", ["rm", sid], kill_at)
            if res.rc == 0:
                m.removed.add(sid)
                m.added.pop(sid, None)
                if sid in m.queue:
                    m.queue.remove(sid)
                m.must_fail.discard(sid)
            elif "is active" not in res.stderr:
                # Not acknowledged, yet it may have landed: neither kept nor gone is wrong.
                m.added.pop(sid, None)
                m.queue_uncertain = True
            return killed
        if kind == "retry":
            sid = self.pick("failed")
            if sid is None:
                return False
            res, killed = self.op("retry", ["retry", sid], kill_at)
            m.must_fail.discard(sid)  # acknowledged or not, it may have happened
            if res.rc == 0:
                m.retries[sid] += 1
                if sid in m.queue:  # taken off the queue's head since the last check
                    m.queue.remove(sid)
                if res.stdout.strip().endswith("queued"):
                    m.queue.append(sid)
            else:
                m.queue_uncertain = True
            return killed
        if kind == "kill":
            if not settled:
                return False
            sid = self.pick("active", sql=f"AND pid IS NOT NULL AND activated_at < '{_ago(2)}'")
            if sid is None:
                return False
            res, killed = self.op("kill", ["kill", sid], kill_at)
            if res.rc == 0:
                m.must_fail.add(sid)
            return killed
        if kind == "settings":
            key, value = self.rng.choice(
                [("theme", "dark"), ("theme", "light"), ("max_concurrent_sessions", "2"),
                 ("max_concurrent_sessions", "3"), ("max_concurrent_sessions", "4")]
            )  # fmt: skip
            return self.set_setting(key, value, kill_at)
        sid = self.pick()
        if sid is None:
            return False
        lock = self.rng.random() < 0.5
        res, killed = self.op("lock", ["lock" if lock else "unlock", sid], kill_at)
        if res.rc == 0:
            m.locks[sid] = {lock}
        else:
            m.locks.setdefault(sid, set()).add(lock)
        return killed

    def set_setting(self, key: str, value: str, kill_at: float | None) -> bool:
        res, killed = self.op("settings set", ["settings", "set", key, value], kill_at)
        if res.rc == 0:
            self.model.settings[key] = {value}
        else:
            self.model.settings.setdefault(key, set()).add(value)
        return killed

    # -- the checks ------------------------------------------------------------------------

    def check_database(self, when: str) -> None:
        f = self.fail
        integrity = self.query("PRAGMA integrity_check")
        self.fig.checks["integrity"] += 1
        if integrity != [("ok",)]:
            f(f"{when}: integrity_check: {integrity[:5]}")
            return
        fk = self.query("PRAGMA foreign_key_check")
        if fk:
            f(f"{when}: foreign_key_check: {fk[:5]}")
        rows = self.rows()
        m = self.model
        for sid, (title, prompt) in m.added.items():
            self.fig.checks["added"] += 1
            row = rows.get(sid)
            if row is None:
                f(f"{when}: session {sid[:8]} ({title}), added (exit 0), is gone")
            elif (row["title"], row["prompt"]) != (title, prompt):
                f(f"{when}: session {sid[:8]} holds {row['title']!r}/{row['prompt']!r}")
        for sid in m.removed:
            self.fig.checks["removed"] += 1
            if sid in rows:
                f(f"{when}: session {sid[:8]}, removed (exit 0), is back")
        for sid, values in m.locks.items():
            if sid in rows and bool(rows[sid]["lock"]) not in values:
                f(f"{when}: session {sid[:8]} lock is {bool(rows[sid]['lock'])}, set {values}")
            self.fig.checks["lock"] += 1
        for sid in m.must_fail:
            self.fig.checks["killed"] += 1
            if sid in rows and rows[sid]["status"] != "failed":
                f(f"{when}: session {sid[:8]}, killed (exit 0), is {rows[sid]['status']}")
        settings = json.loads(self.cli("settings", "--json").stdout)
        for key, wanted in m.settings.items():
            self.fig.checks["settings"] += 1
            if str(settings.get(key)).lower() not in {v.lower() for v in wanted}:
                f(f"{when}: setting {key} is {settings.get(key)!r}, set to {sorted(wanted)}")
        # The queue: gapless positions, in the order acknowledged commands made.
        queued = sorted(
            (r["position"] or 0, sid) for sid, r in rows.items() if r["status"] == "queued"
        )
        self.fig.checks["queue"] += 1
        if [p for p, _ in queued] != list(range(1, len(queued) + 1)):
            f(f"{when}: queue positions {[p for p, _ in queued]}")
        stray = [sid[:8] for sid, r in rows.items() if r["status"] != "queued" and r["position"]]
        if stray:
            f(f"{when}: sessions not queued hold positions: {stray}")
        actual = [sid for _, sid in queued]
        if not m.queue_uncertain:
            expected = [sid for sid in m.queue if sid in set(actual)]
            extra = [sid[:8] for sid in actual if sid not in m.queue]
            if actual != expected or extra:
                f(
                    f"{when}: queue order {[s[:8] for s in actual]}, acknowledged commands "
                    f"made {[s[:8] for s in m.queue]} (not from them: {extra})"
                )
        m.queue, m.queue_uncertain = actual, False
        # Each status is its last recorded transition; each transition is allowed.
        events: dict[str, list[dict[str, Any]]] = {}
        for sid, detail in self.query(
            "SELECT session_id, detail FROM session_events WHERE kind='state' ORDER BY id"
        ):
            events.setdefault(sid, []).append(json.loads(detail))
        for sid, row in rows.items():
            self.fig.checks["transitions"] += 1
            moves = events.get(sid, [])
            last = moves[-1]["to"] if moves else "queued"
            if last != row["status"]:
                f(f"{when}: session {sid[:8]} is {row['status']}, its last transition to {last}")
            for a, b in zip([{"to": "queued"}, *moves], moves, strict=False):
                if a["to"] != b["from"] or not allowed(b["from"], b["to"]):
                    f(f"{when}: session {sid[:8]} transition {b} after {a['to']}")
            retried = sum(1 for e in moves if e["from"] == "failed")
            if retried < m.retries[sid]:
                f(
                    f"{when}: session {sid[:8]} retried {m.retries[sid]}× (exit 0), "
                    f"{retried} retries in its events"
                )

    def check_processes_after_kill(self, when: str) -> None:
        end = time.monotonic() + ORPHAN_GRACE
        left = self.orphans()
        while left and time.monotonic() < end:
            time.sleep(0.1)
            left = self.orphans()
        self.fig.checks["orphans"] += 1
        if left:
            names = [f"{pid} ({_describe(pid)}): {_cmdline(pid)[:160]}" for pid in left]
            self.fail(f"{when}: processes left without their instance: {names}")
            _end(left)
        for sid, row in self.rows().items():
            if row["status"] != "active":
                continue
            handle = row["host_handle"] or ""
            if not handle.startswith("tmux:"):
                self.fig.left_active["in c3desk's PTY (process gone)"] += 1
                if _alive(row["pid"]):
                    self.fail(f"{when}: session {sid[:8]} (not hosted) has process {row['pid']}")
            elif self.tmux_has(handle):
                self.fig.left_active["hosted, tmux session there"] += 1
            else:
                self.fig.left_active["hosted, tmux session gone"] += 1

    def reconciled(self, stale: set[str], mark: int) -> tuple[bool, str]:
        """Whether the running instance has settled every session the last one left active;
        and what is not (yet) right."""
        if not self.answering():
            return False, "the instance does not answer yet"
        rows = self.rows()
        reattached = {
            sid for (sid,) in self.query(
                "SELECT session_id FROM session_events WHERE id > ? AND kind IN ('reattached', "
                "'state')", (mark,),
            )
        }  # fmt: skip
        for sid in stale:
            row = rows.get(sid)
            if row is None or row["status"] != "active":
                continue
            if sid not in reattached:
                return False, f"session {sid[:8]} still active from before, not reattached"
        for sid, row in rows.items():
            if row["status"] != "active":
                continue
            if row["pid"] is None:
                # Starting (its process is being spawned): fine, unless for long.
                if (row["activated_at"] or "") < _ago(STUCK_AFTER) and sid not in stale:
                    return False, f"session {sid[:8]} active without a process"
                continue
            if not _alive(row["pid"]):
                return False, f"session {sid[:8]} active, its process {row['pid']} is gone"
            handle = row["host_handle"] or ""
            if handle.startswith("tmux:") and not self.tmux_has(handle):
                return False, f"session {sid[:8]} active, its tmux session {handle} is gone"
        return True, ""

    # -- the rounds ------------------------------------------------------------------------

    def prepare(self) -> None:
        for key, value in (
            ("claude_command", str(FAKE)),
            ("max_concurrent_sessions", "3"),
            ("reconnect_grace_seconds", "30"),
        ):
            res = self.cli("settings", "set", key, value)
            if res.rc != 0:
                raise RuntimeError(f"settings set {key}: {res.stderr}")
            self.model.settings[key] = {value}

    def one_round(self, n: int) -> None:
        hosted = self.rng.random() < self.hosted_share
        self.fig.hosted_rounds += hosted
        self.set_setting("persistent_sessions", "auto" if hosted else "never", None)
        stale = {sid for sid, r in self.rows().items() if r["status"] == "active"}
        mark = self.query("SELECT coalesce(max(id), 0) FROM session_events")[0][0]
        early = self.rng.random() < EARLY_KILLS
        started = time.monotonic()
        self.start_instance()
        kill_at: float | None = started + self.rng.uniform(0.05, 2.0) if early else None
        settled = False
        while self.instance is not None:
            now = time.monotonic()
            if not settled and not early:
                ok, why = self.reconciled(stale, mark)
                if ok:
                    settled = True
                    self.fig.reconciled_starts += 1
                    self.note_recovery(stale, mark)
                    kill_at = now + self.rng.uniform(0.0, 3.0)
                elif now - started > STUCK_AFTER:
                    self.fail(f"start {n}: not settled {STUCK_AFTER:.0f} s after the start: {why}")
                    settled = True
                    kill_at = now
            if kill_at is not None and time.monotonic() >= kill_at:
                self.kill_instance()
                break
            if self.instance.poll() is not None:
                self.fail(f"start {n}: the instance ended by itself ({self.instance.returncode})")
                self.instance = None
                break
            self.one_op(kill_at, settled)
        self.fig.kills += 1
        self.fig.early_kills += early
        when = f"kill {n} ({'hosted' if hosted else 'pty'}{', early' if early else ''})"
        out = self.instance_output()
        if "Traceback" in out or "Logging error" in out:
            self.fail(f"{when}: the instance printed a traceback: {out.strip()[-400:]}")
        self.check_processes_after_kill(when)
        self.check_database(when)

    def note_recovery(self, stale: set[str], mark: int) -> None:
        """How the sessions the previous kill left active ended up (figures)."""
        rows = self.rows()
        reattached = {
            sid for (sid,) in self.query(
                "SELECT session_id FROM session_events WHERE id > ? AND kind='reattached'", (mark,)
            )
        }  # fmt: skip
        for sid in stale:
            row = rows.get(sid)
            if row is None:
                continue
            if sid in reattached:
                self.fig.recovered["reattached"] += 1
            elif row["status"] == "failed":
                self.fig.recovered[f"failed: {row['failure_reason']}"[:40]] += 1
            else:
                self.fig.recovered[row["status"]] += 1

    def finish(self) -> None:
        """A last start that must settle everything, a clean stop, nothing left running."""
        stale = {sid for sid, r in self.rows().items() if r["status"] == "active"}
        mark = self.query("SELECT coalesce(max(id), 0) FROM session_events")[0][0]
        started = time.monotonic()
        proc = self.start_instance()
        why = ""
        while time.monotonic() - started < STUCK_AFTER:
            ok, why = self.reconciled(stale, mark)
            if ok:
                self.fig.reconciled_starts += 1
                break
            time.sleep(0.2)
        else:
            self.fail(f"last start: not settled after {STUCK_AFTER:.0f} s: {why}")
        self.note_recovery(stale, mark)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        self.instance = None
        if rc != 0:
            self.fail(f"last start: SIGTERM ended the instance with {rc}")
        out = self.instance_output()
        if "Traceback" in out:
            self.fail(f"last start: traceback: {out.strip()[-400:]}")
        self.check_database("after the last stop")

    def cleanup(self) -> None:
        if self.instance is not None and self.instance.poll() is None:
            self.instance.kill()
            self.instance.wait()
        self.instance = None
        self.cli.close()
        for sock in self.tmux_sockets():
            subprocess.run(
                ["tmux", "-S", str(sock), "kill-server"], capture_output=True, check=False
            )
        end = time.monotonic() + ORPHAN_GRACE
        left = self.our_processes()
        while left and time.monotonic() < end:
            time.sleep(0.1)
            left = [p for p in self.our_processes() if _alive(p)]
        if left:
            self.fail(f"processes left at the end: {[_cmdline(p)[:80] for p in left]}")
            _end(left)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def run(self) -> Figures:
        begun = time.monotonic()
        try:
            self.prepare()
            for n in range(1, self.kills + 1):
                self.one_round(n)
                if self.verbose:
                    print(f"kill {n}: {len(self.fig.failures)} failures", file=sys.stderr)
            self.finish()
        finally:
            self.cleanup()
            self.fig.seconds = time.monotonic() - begun
        return self.fig


def report(fig: Figures) -> dict[str, Any]:
    return {
        "kills": fig.kills,
        "early_kills": fig.early_kills,
        "hosted_rounds": fig.hosted_rounds,
        "reconciled_starts": fig.reconciled_starts,
        "recovered": dict(fig.recovered),
        "left_active": dict(fig.left_active),
        "ops": {k: dict(v) for k, v in sorted(fig.ops.items())},
        "checks": dict(fig.checks),
        "seconds": round(fig.seconds, 1),
        "failures": fig.failures,
    }


def table(data: dict[str, Any]) -> str:
    lines = [
        f"kills                 {data['kills']} ({data['early_kills']} during start-up, "
        f"{data['hosted_rounds']} with hosted sessions)",
        f"starts reconciled     {data['reconciled_starts']}",
        f"time                  {data['seconds']} s",
        "left active by kills  " + ", ".join(f"{k}: {v}" for k, v in data["left_active"].items()),
        "next start made them  " + ", ".join(f"{k}: {v}" for k, v in data["recovered"].items()),
        "commands              "
        + "; ".join(
            f"{k} " + " ".join(f"{r}={c}" for r, c in v.items()) for k, v in data["ops"].items()
        ),
        "checks                " + ", ".join(f"{k} {v}" for k, v in data["checks"].items()),
        f"failures              {len(data['failures'])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON ('-': stdout)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument(
        "--hosted", type=float, default=0.5, help="share of rounds with hosted sessions (0..1)"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    fig = Run(
        args.kills, seed, keep=args.keep, verbose=args.verbose, hosted_share=args.hosted
    ).run()
    data = report(fig)
    data["seed"] = seed
    print(table(data))
    if args.json == "-":
        print(json.dumps(data, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    for line in fig.failures:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if fig.failures else 0


if __name__ == "__main__":
    sys.exit(main())
