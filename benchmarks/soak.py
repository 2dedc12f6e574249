"""The soak: a queue of 50 agents, 9 at a time, local and on an SSH worker, for 10 minutes.

The real instance runs in this process (engine and control socket, as ``c3desk run`` builds
it; ``persistent_sessions = never``), with a lag probe on its loop. The SSH worker is a real
OpenSSH server on 127.0.0.1 that the script starts with keys of its own (tests/helpers/sshd.py);
one session in three runs there. Each session's agent is the fake Claude Code running rounds of
``think; flood (Claude-like redraws and full clears); ask (a permission box); say``, then
``exit 0``. Half the sessions are approved by c3desk's auto-approve (the global setting); the
other half have auto-approve turned off for them, and the script approves each of their boxes
by running ``c3desk send ID 1 --no-enter``, a separate process talking to this instance's
control socket. The agents log every byte they write (``FAKE_CLAUDE_OUTPUT_LOG``), which is
compared with the session's scrollback file at the end.

    python benchmarks/soak.py [--minutes 10] [--sessions 50] [--active 9] [--remote-every 3]
                              [--rate 40K] [--json out.json] [--keep]

CI runs ``--minutes 2`` as a gate. The rounds per session are sized so the queue takes about
``--minutes`` (each session ~ minutes x active / sessions); the run ends when every session has
ended, or is declared stuck at 1.5 x the planned time + 60 s.

Reported: sessions completed, bytes processed, event-loop lag p50/p99/max (a ticker sleeping
10 ms), RSS every 2 s, open fds (/proc/self/fd) before the database opens and after the instance
stopped and the database closed,
child processes left (descendants of this process other than the sshd listener: the remote
agents and sshd's per-connection processes count), database size, ``c3desk send`` figures.

Required (issue 18), exit 1 naming each that fails: every session completed (none lost or
stuck); every byte each agent wrote is in its scrollback file, in order; lag p99 <= 50 ms; RSS
growth after the first minute <= 10 % (the max after it over the sample at 1 minute; for runs
shorter than 90 s, at half the run); fds after == before; no child process left; every
``c3desk send`` succeeded.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import ctypes
import hashlib
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the loopback sshd and the SSH worker helpers

from helpers.remote import add_ssh_worker, ssh_factory  # noqa: E402
from helpers.sshd import Sshd, running_sshd  # noqa: E402

from c3desk.config import Paths  # noqa: E402
from c3desk.core import sessions as sess  # noqa: E402
from c3desk.core import settings as cfg  # noqa: E402
from c3desk.core.scrollback import read_chunks  # noqa: E402
from c3desk.runtime import build_instance  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, SessionEvent, Worker  # noqa: E402
from c3desk.transports.ssh_connection import SESSIONS_DIR  # noqa: E402

FAKE = ROOT / "tests" / "fakes" / "fake_claude.py"
FLOOD_SECONDS = 3.0  # each round's flood
THINK_SECONDS = 1.0
ROUND_SECONDS = 4.8  # think + flood + the approval + say, as measured on a quiet machine
START_SECONDS = 2.0  # an agent's start-up and exit
PERMISSION_BOX = "Do you want to proceed?"
LIMITS = {"lag_p99_ms": 50.0, "rss_growth_pct": 10.0}


def parse_size(text: str) -> int:
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1].upper(), 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def rounds_for(minutes: float, sessions: int, active: int) -> int:
    """Rounds per session so the whole queue takes about ``minutes``."""
    per_session = minutes * 60 * min(active, sessions) / sessions
    return max(1, round((per_session - START_SECONDS) / ROUND_SECONDS))


def agent_prompt(index: int, rounds: int, flood_bytes: int, rate: int) -> str:
    steps = []
    for k in range(1, rounds + 1):
        steps += [
            f"think {THINK_SECONDS:g}",
            f"flood {flood_bytes} {rate}",
            f"ask make check-{index}-{k}",
            f"say round {k} of {rounds} done",
        ]
    return "; ".join([*steps, "exit 0"])


def write_agent(home: Path, logs: Path) -> Path:
    """The command every session runs (locally and on the server alike): a shell script that
    sets the agent's environment (nothing of ours reaches it over SSH) and starts the fake,
    which logs what it writes to ``logs/<session id>.out``."""
    script = home / "soak-claude"
    exports = {"FAKE_CLAUDE_SPEED": "1", "CLAUDE_CONFIG_DIR": str(home / "claude-config")}
    lines = ["#!/bin/sh"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
    lines.append(f'export FAKE_CLAUDE_OUTPUT_LOG={shlex.quote(str(logs))}/"$C3DESK_SESSION".out')
    lines.append(f'exec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE))} "$@"')
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def prepare(args: argparse.Namespace, server: Sshd) -> dict[str, Any]:
    """A fresh data directory, the workers and the queue. One session in ``remote_every`` goes
    to the SSH worker; every other one has auto-approve off (approved by ``c3desk send``)."""
    home = Path(tempfile.mkdtemp(prefix="c3desk-soak-"))
    paths = Paths(home)
    fds_before = open_fds()  # before the database opens: compared once it is closed again
    database.connect(paths.db)
    logs = home / "agent-output"
    logs.mkdir()
    cfg.set_setting("claude_command", str(write_agent(home, logs)))
    cfg.set_setting("max_concurrent_sessions", str(args.active))
    cfg.set_setting("persistent_sessions", "never")
    cfg.set_setting("auto_approve", "true")
    cfg.set_setting("scrollback_limit_mb", "1000")  # every byte kept: nothing rotated away
    Worker.update(max_sessions=args.active).where(Worker.type == "local").execute()
    remote = args.sessions // args.remote_every if args.remote_every else 0
    box = add_ssh_worker(server, "box", max_sessions=max(1, args.active // 3)) if remote else None
    rounds = rounds_for(args.minutes, args.sessions, args.active)
    rate = parse_size(args.rate)
    flood = int(rate * FLOOD_SECONDS)
    work = home / "work"
    work.mkdir()
    sessions: dict[str, dict[str, Any]] = {}
    for i in range(args.sessions):
        on_box = box is not None and i % args.remote_every == args.remote_every - 1
        s = sess.create_session(
            title=f"soak {i}",
            working_directory=str(work),
            prompt=agent_prompt(i, rounds, flood, rate),
            worker=box.name if on_box and box is not None else None,
        )
        by_cli = i % 2 == 1
        if by_cli:
            Session.update(auto_approve=False).where(Session.id == s.id).execute()
        sessions[str(s.id)] = {
            "index": i,
            "where": "ssh" if on_box else "local",
            "approve": "cli" if by_cli else "auto",
        }
    return {
        "fds_before": fds_before,
        "home": home,
        "paths": paths,
        "logs": logs,
        "sessions": sessions,
        "rounds": rounds,
        "flood_bytes": flood,
    }


# -- what the process holds --------------------------------------------------------------------


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


MALLINFO_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO_FIELDS.split()]


def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo
        return libc
    except (OSError, AttributeError):
        return None  # not glibc: no heap figures


LIBC = _libc()


def heap_kb() -> dict[str, int]:
    """What C's malloc holds (all arenas): in use, and free but kept from the system; and
    Python's allocated blocks. RSS that grows while "in use" stays flat is the allocator
    keeping freed memory, not a leak."""
    out = {"py_blocks": sys.getallocatedblocks()}
    if LIBC is not None:
        m = LIBC.mallinfo2()
        out["malloc_used_kb"] = (m.uordblks + m.hblkhd) // 1024
        out["malloc_free_kb"] = m.fordblks // 1024
    return out


def cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def loop_waited_s() -> float:
    """Seconds this thread (the loop's) has spent runnable but waiting for a CPU (the kernel's
    schedstat): the part of the loop's lag that other processes on the machine caused."""
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text()
    except OSError:
        return 0.0
    return int(fields.split()[1]) / 1e9


class LagRecorder:
    """The lag probe's samples in memory fixed before the run: a histogram of 0.05 ms bins up
    to 5 s (the last bin takes the rest) and the exact maximum. A list of floats grew ~6 KB a
    second in this process, 3.5 MB over the 10-minute mode: the benchmark's own memory counted
    as the instance's RSS growth."""

    BIN_S = 0.00005
    BINS = 100_000

    def __init__(self) -> None:
        self.counts = array.array("I", bytes(4 * self.BINS))
        self.n = 0
        self.most = 0.0

    def add(self, lag: float) -> None:
        self.counts[min(max(int(lag / self.BIN_S), 0), self.BINS - 1)] += 1
        self.n += 1
        self.most = max(self.most, lag)

    def _at(self, rank: int) -> float:
        """The value of the sample at ``rank`` in sorted order (its bin's middle)."""
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen > rank:
                return min((i + 0.5) * self.BIN_S, self.most)
        return self.most

    def percentiles(self) -> dict[str, float | None]:
        if not self.n:
            return {"p50": None, "p99": None, "max": None}
        return {
            "p50": round(self._at(self.n // 2) * 1000, 1),
            "p99": round(self._at(int(self.n * 0.99)) * 1000, 1),
            "max": round(self.most * 1000, 1),
        }


def memory_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[str]:
    """Where Python's allocations grew between two snapshots (``--trace-memory``)."""
    diff = after.compare_to(before, "lineno")
    return [str(d) for d in sorted(diff, key=lambda d: -d.size_diff)[:25]]


async def empty_loop_lag(seconds: float) -> dict[str, float | None]:
    """The lag probe on an empty loop: what this machine gives any process right now."""
    lags: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - t - 0.01)
    return percentiles(lags)


def open_fds() -> list[str]:
    """This process's open file descriptors, each with what it points at."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            out.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    return sorted(out, key=lambda s: int(s.split()[0]))


def descendants(root: int, skip: set[int]) -> list[tuple[int, str]]:
    """Every process below ``root`` (not below those in ``skip``, which are not listed either,
    but their children are), with its command line."""
    out: list[tuple[int, str]] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            children = [
                int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            ]
        except OSError:
            continue
        for child in children:
            todo.append(child)
            if child in skip:
                continue
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = "?"
            out.append((child, cmd.strip()[:160]))
    return out


def percentiles(values: list[float]) -> dict[str, float | None]:
    values = sorted(values)
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(values[len(values) // 2] * 1000, 1),
        "p99": round(values[min(int(len(values) * 0.99), len(values) - 1)] * 1000, 1),
        "max": round(values[-1] * 1000, 1),
    }


def rss_growth(samples: list[tuple[float, int]], wall: float) -> dict[str, Any]:
    """RSS at the first minute (half the run when it is shorter than 90 s: the short runs made
    while developing) and the most it reached after: the growth in percent of the first."""
    if not samples:
        return {"baseline_at_s": None, "baseline_kb": None, "max_after_kb": None, "pct": None}
    at = 60.0 if wall >= 90.0 else wall / 2
    base = next(((t, kb) for t, kb in samples if t >= at), samples[-1])
    after = [kb for t, kb in samples if t >= base[0]]
    most = max(after)
    return {
        "baseline_at_s": round(base[0], 1),
        "baseline_kb": base[1],
        "max_after_kb": most,
        "pct": round((most - base[1]) * 100 / base[1], 2) if base[1] else None,
    }


def requirements(r: dict[str, Any]) -> dict[str, bool]:
    """Issue 18's requirements, each true when it holds."""
    growth = r["rss"]["growth_pct"]
    return {
        "no session lost or stuck (all completed)": r["sessions_completed"] == r["sessions"],
        "every byte in its scrollback file": r["bytes"]["sessions_mismatched"] == 0
        and r["bytes"]["sessions_checked"] == r["sessions"],
        f"lag p99 <= {LIMITS['lag_p99_ms']:g} ms": r["lag_ms"]["p99"] is not None
        and r["lag_ms"]["p99"] <= LIMITS["lag_p99_ms"],
        f"RSS growth after the first minute <= {LIMITS['rss_growth_pct']:g} %": growth is not None
        and growth <= LIMITS["rss_growth_pct"],
        "open fds after == before": r["fds"]["after"] == r["fds"]["before"],
        "no child process left": not r["children_left"],
        "every c3desk send succeeded": r["cli_sends"]["failed"] == 0 and r["cli_sends"]["ok"] > 0,
    }


# -- the run -----------------------------------------------------------------------------------


class CliApprover:
    """Answers the permission boxes of the sessions approved by hand: ``c3desk send ID 1
    --no-enter`` in its own process, once per box (again if the box is still there 5 s after
    the answer)."""

    def __init__(self, home: Path, ids: set[str]) -> None:
        self.home = home
        self.ids = ids
        self.busy: dict[str, asyncio.Task[None]] = {}
        self.answered_at: dict[str, float] = {}
        self.ok = 0
        self.failed: list[str] = []
        self.resent = 0
        self.seconds: list[float] = []

    def look(self, engine: Any) -> None:
        now = time.monotonic()
        for sid in self.ids:
            live = engine.live.get(sid)
            if live is None or not live.needs_input or sid in self.busy:
                continue
            if not any(PERMISSION_BOX in row for row in live.model.display):
                continue
            last = self.answered_at.pop(sid, None)
            if last is not None and now - last < 5.0:
                self.answered_at[sid] = last
                continue
            if last is not None:
                self.resent += 1  # the box was answered but is still waiting 5 s later
            self.busy[sid] = asyncio.create_task(self._send(sid))

    def seen_busy(self, engine: Any) -> None:
        """A session that no longer waits took its answer: its next box is a new one."""
        for sid in list(self.answered_at):
            live = engine.live.get(sid)
            if live is None or not live.needs_input:
                del self.answered_at[sid]

    async def _send(self, sid: str) -> None:
        started = time.monotonic()
        env = dict(os.environ, C3DESK_HOME=str(self.home))
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "c3desk", "send", sid, "1", "--no-enter",
                cwd=str(ROOT), env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _out, err = await proc.communicate()
            if proc.returncode == 0:
                self.ok += 1
            else:
                self.failed.append(f"{sid[:8]}: exit {proc.returncode}: {err.decode().strip()}")
        finally:
            self.seconds.append(time.monotonic() - started)
            self.answered_at[sid] = time.monotonic()
            self.busy.pop(sid, None)

    async def drain(self) -> None:
        await asyncio.gather(*self.busy.values(), return_exceptions=True)


async def soak(args: argparse.Namespace, server: Sshd) -> dict[str, Any]:
    run = prepare(args, server)
    ids = list(run["sessions"])
    paths: Paths = run["paths"]
    planned = args.minutes * 60
    limit = planned * 1.5 + 60
    factory = ssh_factory(server, run["home"])[0]
    instance = build_instance(paths, connections=factory)
    engine = instance.engine
    skip = {os.getpid(), server.pid()}
    children_before = descendants(os.getpid(), skip)
    lags = LagRecorder()
    own_lags = LagRecorder()  # each lag less the time the loop's thread waited for a CPU
    samples: list[dict[str, Any]] = []
    snapshots: list[tracemalloc.Snapshot] = []
    done = False
    started = time.monotonic()

    async def ticker() -> None:
        waited = loop_waited_s()
        while not done:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lag = time.monotonic() - t - 0.01
            now_waited = loop_waited_s()
            lags.add(lag)
            own_lags.add(max(lag - (now_waited - waited), 0.0))
            waited = now_waited

    statuses: dict[str, str] = {}

    async def sampler() -> None:
        while not done:
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "rss_kb": rss_kb(),
                    **heap_kb(),
                    "fds": len(os.listdir("/proc/self/fd")),
                    "live": len(engine.live),
                    # ended sessions whose final model the engine keeps (KEEP_FINISHED)
                    "finished_kept": len(engine.finished),
                    "history_lines": sum(
                        len(x.model.screen.history)
                        for x in [*engine.live.values(), *engine.finished.values()]
                    ),
                    "completed": sum(s == "completed" for s in statuses.values()),
                }
            )
            if args.trace_memory and not snapshots and time.monotonic() - started >= 60.0:
                snapshots.append(tracemalloc.take_snapshot())
            await asyncio.sleep(2.0)

    approver = CliApprover(
        run["home"], {s for s, m in run["sessions"].items() if m["approve"] == "cli"}
    )
    empty = await empty_loop_lag(3.0)
    load_before = round(os.getloadavg()[0], 2)
    cpu_before, children_cpu_before, waited_before = (
        cpu_s(),
        cpu_s(resource.RUSAGE_CHILDREN),
        loop_waited_s(),
    )
    if args.trace_memory:
        tracemalloc.start(args.trace_memory)
    ticking = asyncio.create_task(ticker())
    await instance.start()
    sampling = asyncio.create_task(sampler())
    timed_out = False
    try:
        polls = 0
        while True:
            approver.seen_busy(engine)
            approver.look(engine)
            if polls % 5 == 0:
                statuses = dict(
                    Session.select(Session.id, Session.status).where(Session.id.in_(ids)).tuples()
                )
                if all(s in ("completed", "failed") for s in statuses.values()):
                    break
            if time.monotonic() - started > limit:
                timed_out = True
                break
            polls += 1
            await asyncio.sleep(0.2)
        wall = time.monotonic() - started
        cpu = {
            "this_process_s": round(cpu_s() - cpu_before, 1),
            "loop_thread_waited_for_cpu_s": round(loop_waited_s() - waited_before, 1),
        }
        await approver.drain()
        # The connection removes each ended session's folder on the server (this machine, the
        # same user) in the background: let it finish before stopping, at most 10 s.
        remote = [
            Path.home() / SESSIONS_DIR / s
            for s, m in run["sessions"].items()
            if m["where"] == "ssh"
        ]
        for _ in range(200):
            if not any(f.exists() for f in remote):
                break
            await asyncio.sleep(0.05)
    finally:
        done = True
        await asyncio.gather(ticking, sampling)
        if args.trace_memory:
            snapshots.append(tracemalloc.take_snapshot())
            tracemalloc.stop()
        await instance.stop(keep_hosted=False)
    # The sshd per-connection processes end once the transport has closed: give them 10 s.
    for _ in range(200):
        if not descendants(os.getpid(), skip):
            break
        await asyncio.sleep(0.05)
    children_left = descendants(os.getpid(), skip)
    rss_stopped = rss_kb()
    heap_stopped = heap_kb()
    if LIBC is not None:
        LIBC.malloc_trim(0)
    rss_trimmed = rss_kb()
    rows = {str(s.id): s for s in Session.select().where(Session.id.in_(ids))}
    auto_approved = SessionEvent.select().where(SessionEvent.kind == "auto_approved").count()
    db_bytes = sum(
        p.stat().st_size for p in paths.db.parent.glob(paths.db.name + "*") if p.is_file()
    )
    remote_left = [
        f
        for s, m in run["sessions"].items()
        if m["where"] == "ssh" and (f := Path.home() / SESSIONS_DIR / s).exists()
    ]
    for folder in remote_left:
        shutil.rmtree(folder, ignore_errors=True)
    compared = await asyncio.to_thread(compare_all, run, rows)
    database.close()
    # Counted with the database closed: SQLite keeps the file of a connection closed while
    # another one to the same file is open (the search index writer's) for its locks, and
    # closes it with the last one.
    fds_before, fds_after = run["fds_before"], open_fds()
    db_closed_bytes = paths.db.stat().st_size  # the WAL checkpointed into it
    rss = rss_growth([(s["t"], s["rss_kb"]) for s in samples], wall)
    completed = sum(r.status == "completed" for r in rows.values())
    not_done = [
        {"id": sid[:8], **run["sessions"][sid], "status": r.status, "reason": r.failure_reason}
        for sid, r in rows.items()
        if r.status != "completed"
    ]
    result: dict[str, Any] = {
        "minutes_planned": args.minutes,
        "wall_s": round(wall, 1),
        "timed_out": timed_out,
        "sessions": len(ids),
        "active": args.active,
        "remote_sessions": sum(m["where"] == "ssh" for m in run["sessions"].values()),
        "rounds_per_session": run["rounds"],
        "flood_bytes_per_round": run["flood_bytes"],
        "sessions_completed": completed,
        "not_completed": not_done,
        "bytes": compared,
        "lag_ms": lags.percentiles(),
        # Not a requirement: what of the lag remains once the loop's waits for a CPU (other
        # processes, the agents and hooks of this run included) are taken out.
        "lag_without_cpu_waits_ms": own_lags.percentiles(),
        # --trace-memory: where Python's allocations grew from the first minute to the end
        "memory_growth": memory_growth(*snapshots) if len(snapshots) == 2 else [],
        "rss": {
            "first_kb": samples[0]["rss_kb"] if samples else None,
            "last_kb": samples[-1]["rss_kb"] if samples else None,
            "baseline_at_s": rss["baseline_at_s"],
            "baseline_kb": rss["baseline_kb"],
            "max_after_kb": rss["max_after_kb"],
            "growth_pct": rss["pct"],
            "after_stop_kb": rss_stopped,
            "after_stop_and_malloc_trim_kb": rss_trimmed,
            "heap_after_stop": heap_stopped,
        },
        "fds": {
            "before": len(fds_before),
            "after": len(fds_after),
            "gained": sorted(set(fds_after) - set(fds_before)),
            "lost": sorted(set(fds_before) - set(fds_after)),
        },
        "children_before": [f"{pid} {cmd}" for pid, cmd in children_before],
        "children_left": [f"{pid} {cmd}" for pid, cmd in children_left],
        "server_folders_left": len(remote_left),
        "db_bytes": db_bytes,
        "db_closed_bytes": db_closed_bytes,
        "auto_approved": auto_approved,
        "cli_sends": {
            "ok": approver.ok,
            "failed": len(approver.failed),
            "failures": approver.failed[:10],
            "resent": approver.resent,
            "seconds": percentiles(approver.seconds),
        },
        "load_average_before": load_before,
        "load_average_after": round(os.getloadavg()[0], 2),
        "empty_loop_lag_ms_before": empty,
        "cpu": {
            **cpu,
            # ended children: local agents, their hooks, the c3desk send processes
            "children_s": round(cpu_s(resource.RUSAGE_CHILDREN) - children_cpu_before, 1),
        },
        "cores": os.cpu_count(),
        "samples": samples,
        "home": str(run["home"]),
    }
    result["required"] = requirements(result)
    return result


# -- bytes: what each agent wrote against its scrollback file ----------------------------------


def _stream(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                yield block


def _skipping(chunks: Iterator[bytes], skip: int, skipped: bytearray) -> Iterator[bytes]:
    """``chunks`` without their first ``skip`` bytes, which go to ``skipped``."""
    for chunk in chunks:
        if len(skipped) < skip:
            take = skip - len(skipped)
            skipped += chunk[:take]
            chunk = chunk[take:]
        if chunk:
            yield chunk


def compare(sent: Path, held: Path | None, skip: int = 0) -> dict[str, Any]:
    """Sizes, and where the two first differ (None when identical); ``skip``: bytes at the
    start of ``held`` left out of the comparison (returned as ``skipped``)."""
    a = _stream([sent]) if sent.exists() else iter(())
    skipped = bytearray()
    b = _skipping(read_chunks(held), skip, skipped) if held is not None else iter(())
    size_a = size_b = 0
    first_diff: int | None = None
    buf_a = buf_b = b""
    ha, hb = hashlib.sha256(), hashlib.sha256()
    while True:
        if len(buf_a) < (1 << 16):
            more = next(a, b"")
            buf_a += more
            size_a += len(more)
            ha.update(more)
        if len(buf_b) < (1 << 16):
            more = next(b, b"")
            buf_b += more
            size_b += len(more)
            hb.update(more)
        n = min(len(buf_a), len(buf_b))
        if n == 0:
            break
        if first_diff is None and buf_a[:n] != buf_b[:n]:
            i = next(k for k in range(n) if buf_a[k] != buf_b[k])
            first_diff = size_a - len(buf_a) + i
        buf_a, buf_b = buf_a[n:], buf_b[n:]
    for rest in a:
        size_a += len(rest)
        ha.update(rest)
    for rest in b:
        size_b += len(rest)
        hb.update(rest)
    if first_diff is None and size_a != size_b:
        first_diff = min(size_a, size_b)
    out: dict[str, Any] = {"sent": size_a, "held": size_b + len(skipped)}
    out["first_difference_at"] = first_diff
    if skip:
        out["before_agent"] = bytes(skipped).decode("utf-8", "replace")[:400]
    return out


def compare_session(sent: Path, held: Path | None) -> dict[str, Any]:
    """What the agent wrote against the scrollback. Over SSH the remote login shell may print
    before it starts the agent (a warning from the user's ~/.bashrc, as pyenv's rehash lock
    does on this machine): the scrollback then holds those bytes and then every byte of the
    agent's. Those are compared after the extra bytes, which are reported, not counted lost."""
    plain = compare(sent, held)
    extra = plain["held"] - plain["sent"]
    if plain["first_difference_at"] is not None and extra > 0 and plain["sent"] > 0:
        shifted = compare(sent, held, skip=extra)
        if shifted["first_difference_at"] is None:
            return shifted
    return plain


def compare_all(run: dict[str, Any], rows: dict[str, Any]) -> dict[str, Any]:
    per: list[dict[str, Any]] = []
    for sid, meta in run["sessions"].items():
        row = rows.get(sid)
        held = (
            Path(row.terminal_scrollback) if row is not None and row.terminal_scrollback else None
        )
        found = compare_session(run["logs"] / f"{sid}.out", held)
        per.append({"id": sid[:8], "where": meta["where"], **found})
    bad = [e for e in per if e["first_difference_at"] is not None or e["sent"] == 0]
    before = [e for e in per if "before_agent" in e]
    return {
        "sent": sum(e["sent"] for e in per),
        "held": sum(e["held"] for e in per),
        "sessions_checked": len(per),
        "sessions_mismatched": len(bad),
        "mismatches": bad[:20],
        "sessions_with_bytes_before_the_agent": len(before),
        "before_the_agent": sorted({e["before_agent"] for e in before})[:5],
    }


# -- output ------------------------------------------------------------------------------------


def table(r: dict[str, Any]) -> str:
    mb = 1_000_000
    b, rss, lag, cli = r["bytes"], r["rss"], r["lag_ms"], r["cli_sends"]
    empty, own = r["empty_loop_lag_ms_before"], r["lag_without_cpu_waits_ms"]
    rows = [
        ("wall time", f"{r['wall_s']} s (planned {r['minutes_planned'] * 60:g} s)"),
        (
            "sessions",
            f"{r['sessions']} ({r['remote_sessions']} on the SSH worker), {r['active']} at a"
            f" time, {r['rounds_per_session']} rounds each",
        ),
        ("completed", f"{r['sessions_completed']} of {r['sessions']}"),
        (
            "bytes written / in scrollback",
            f"{b['sent'] / mb:.1f} MB / {b['held'] / mb:.1f} MB,"
            f" {b['sessions_mismatched']} sessions differ"
            + (
                f" ({b['sessions_with_bytes_before_the_agent']} hold the remote shell's output"
                " before the agent's: see below)"
                if b["sessions_with_bytes_before_the_agent"]
                else ""
            ),
        ),
        ("loop lag p50/p99/max", f"{lag['p50']} / {lag['p99']} / {lag['max']} ms"),
        (
            "  less waits for a CPU",
            f"{own['p50']} / {own['p99']} / {own['max']} ms (not a requirement: the load's share)",
        ),
        (
            "RSS first/baseline/max after/last",
            f"{_mb(rss['first_kb'])} / {_mb(rss['baseline_kb'])} (at {rss['baseline_at_s']} s)"
            f" / {_mb(rss['max_after_kb'])} / {_mb(rss['last_kb'])} MB:"
            f" growth {rss['growth_pct']} %",
        ),
        ("open fds before/after", f"{r['fds']['before']} / {r['fds']['after']}"),
        ("child processes left", str(len(r["children_left"]))),
        (
            "database size",
            f"{r['db_bytes'] / mb:.2f} MB with its WAL at the end,"
            f" {r['db_closed_bytes'] / mb:.2f} MB closed",
        ),
        (
            "approvals",
            f"auto {r['auto_approved']}, c3desk send {cli['ok']} ok / {cli['failed']} failed"
            f" ({cli['resent']} resent; p50/max {cli['seconds']['p50']} /"
            f" {cli['seconds']['max']} ms each)",
        ),
        (
            "CPU",
            f"this process {r['cpu']['this_process_s']} s (its loop waited"
            f" {r['cpu']['loop_thread_waited_for_cpu_s']} s for a CPU), local children"
            f" {r['cpu']['children_s']} s",
        ),
        (
            "machine",
            f"{r['cores']} cores, load average {r['load_average_before']} before,"
            f" {r['load_average_after']} after; an empty loop's lag p50/p99/max before:"
            f" {empty['p50']} / {empty['p99']} / {empty['max']} ms",
        ),
    ]
    width = max(len(k) for k, _v in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    step = max(1, len(r["samples"]) // 12)
    over_time = ", ".join(f"{s['t']:g}: {_mb(s['rss_kb'])}" for s in r["samples"][::step])
    lines.append(f"RSS over time (s: MB): {over_time}")
    return "\n".join(lines)


def _mb(kb: int | None) -> str:
    return "?" if kb is None else f"{kb / 1024:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--active", type=int, default=9, help="sessions at a time")
    parser.add_argument(
        "--remote-every", type=int, default=3, help="one session in N on SSH (0: none)"
    )
    parser.add_argument("--rate", default="40K", help="each agent's flood rate (bytes/s)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument(
        "--trace-memory",
        type=int,
        default=0,
        metavar="FRAMES",
        help="diagnosis: trace allocations (slow) and print where they grew after minute 1",
    )
    args = parser.parse_args()
    if args.minutes <= 0 or args.sessions < 1 or args.active < 1 or args.remote_every < 0:
        parser.error("--minutes, --sessions and --active must be positive, --remote-every >= 0")
    with (
        tempfile.TemporaryDirectory(prefix="c3desk-soak-sshd-") as tmp,
        running_sshd(Path(tmp) / "sshd") as server,
    ):
        result = asyncio.run(soak(args, server))
    print(table(result))
    failed = [name for name, ok in result["required"].items() if not ok]
    for name, ok in result["required"].items():
        print(f"required: {name}: {'holds' if ok else 'FAILS'}")
    for e in result["not_completed"]:
        print(f"not completed: {e}")
    for e in result["bytes"]["mismatches"]:
        print(f"bytes differ: {e}")
    for text in result["bytes"]["before_the_agent"]:
        print(f"before the agent's bytes (the remote login shell): {text!r}")
    for line in result["fds"]["gained"] + result["fds"]["lost"]:
        print(f"fd changed: {line}")
    for line in result["children_left"]:
        print(f"child left: {line}")
    for line in result["cli_sends"]["failures"]:
        print(f"c3desk send failed: {line}")
    for line in result["memory_growth"]:
        print(f"memory grew: {line}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    if not args.keep:
        shutil.rmtree(result["home"], ignore_errors=True)
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
