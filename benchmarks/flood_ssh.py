"""The flood over SSH: nine sessions all local, then the same nine with five on an SSH worker.

Both runs go through the real instance (engine and control socket, as ``c3desk run`` builds
it). The SSH worker is a real OpenSSH server on 127.0.0.1 that this script starts in a temp dir
with keys of its own (tests/helpers/sshd.py); its host key is trusted through a known_hosts file
of the run's own, never ~/.ssh. Each session's agent is the fake Claude Code running
``flood 1.5M 150K`` (Claude-like redraws for 10 s), wrapped so it also counts and hashes every
byte it writes and notes when it wrote its last flood frame (the server is this machine, so the
agent's monotonic clock is the engine's). Local and remote sessions alternate in the queue.

Measured per run:

* flood time: the agent's first flood frame to the engine's read of the last one (the slowest
  session's; backpressure or a slow transport stretch it past 10 s), and the agent's own
  writing time (what backpressure alone stretches);
* loop lag p50/p99/max: a ticker task sleeping 10 ms at a time, over the whole run (start-up
  of nine agents included), and p99 while the floods stream ("flood p99");
* idle-detect lag: from the agent writing its last flood frame to the engine marking the
  session needs-input (the agent's Stop hook, or its idle screen), the slowest session's;
* bytes lost: what each agent wrote against what its scrollback file holds (and both hashes);
* CPU: this process's ("cpu s", and by thread: the loop, paramiko's transport threads, the
  executors), and how long the loop's thread sat runnable without a CPU ("no-cpu s", from the
  kernel's schedstat): on a shared machine that, not our code, is most of the lag.

The agents end with Ctrl-D once seen idle, so every byte they write reaches the scrollback.
``--stalls`` prints where the loop's thread was whenever the loop ran 30 ms late; ``--only``
runs one of the two (for a profiler).

    python benchmarks/flood_ssh.py [--sessions 9] [--remote 5] [--bytes 1.5M] [--rate 150K]
                                   [--quick] [--json out.json] [--stalls] [--only local|ssh]

Required (issue 15): the remote floods end within 1.2x of the local run; loop lag p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import os
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the loopback sshd and the SSH worker helpers

from helpers.remote import add_ssh_worker, ssh_factory  # noqa: E402
from helpers.sshd import Sshd, running_sshd  # noqa: E402

from c3desk.config import Paths  # noqa: E402
from c3desk.core import sessions as sess  # noqa: E402
from c3desk.core import settings as cfg  # noqa: E402
from c3desk.core.agent_watch import AgentWatch  # noqa: E402
from c3desk.core.detector import StateChange  # noqa: E402
from c3desk.core.live import LiveSession  # noqa: E402
from c3desk.core.scrollback import read_chunks  # noqa: E402
from c3desk.runtime import build_instance  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, Worker  # noqa: E402
from c3desk.transports.ssh_connection import SESSIONS_DIR  # noqa: E402

FAKES = ROOT / "tests" / "fakes"
PER_RUN_LIMIT = 300.0  # seconds; a run past this is reported as broken, not waited for

# The agent each session runs: the fake Claude Code, with its terminal writes counted and hashed.
# It writes <stats dir>/<session id>.json when it exits (Ctrl-D at its prompt: sys.exit).
AGENT = """\
import atexit, hashlib, json, os, sys, time
sys.path.insert(0, {fakes!r})
import fake_claude as fc

digest = hashlib.sha256()
stats = {{"bytes": 0, "flood_start": None, "flood_end": None, "flood_end_offset": None,
          "flood_bytes": 0, "pid": os.getpid()}}
frame_due = [False]
plain_write = fc.Terminal.write
plain_frame = fc.FakeClaude.flood_frame

def frame(self, *args):
    data = plain_frame(self, *args)
    if stats["flood_start"] is None:
        stats["flood_start"] = time.monotonic()
    frame_due[0] = True
    return data

def write(self, text):
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    plain_write(self, data)
    digest.update(data)
    stats["bytes"] += len(data)
    if frame_due[0]:
        frame_due[0] = False
        stats["flood_end"] = time.monotonic()
        stats["flood_end_offset"] = stats["bytes"]
        stats["flood_bytes"] += len(data)

def save():
    stats["sha256"] = digest.hexdigest()
    path = os.path.join(os.environ["BENCH_STATS"], os.environ["C3DESK_SESSION"] + ".json")
    with open(path, "w") as f:
        json.dump(stats, f)

fc.Terminal.write = write
fc.FakeClaude.flood_frame = frame
atexit.register(save)
sys.exit(fc.main())
"""


def parse_size(text: str) -> int:
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1].upper(), 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def write_agent(where: Path, stats: Path) -> Path:
    """The command the sessions run (locally and on the server alike): a shell script that sets
    the agent's environment (nothing of ours reaches it over SSH) and starts the wrapper."""
    wrapper = where / "bench_agent.py"
    wrapper.write_text(AGENT.format(fakes=str(FAKES)))
    script = where / "bench-claude"
    exports = {
        "FAKE_CLAUDE_SPEED": "1",
        "CLAUDE_CONFIG_DIR": str(where / "claude-config"),
        "BENCH_STATS": str(stats),
    }
    lines = ["#!/bin/sh"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
    lines.append(f'exec {shlex.quote(sys.executable)} {shlex.quote(str(wrapper))} "$@"')
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


class StallSampler:
    """Where the loop's thread is while the loop is late: a thread looks every 5 ms and, when
    the ticker has not run for ``late`` seconds, notes the loop thread's innermost frames.
    Each note stands for about 5 ms of stall (``--stalls``)."""

    def __init__(self, late: float = 0.03, depth: int = 3) -> None:
        self.late = late
        self.depth = depth
        self.last_tick = time.monotonic()
        self.samples: collections.Counter[str] = collections.Counter()
        self._loop_thread = threading.get_ident()
        self._wchan = Path(f"/proc/self/task/{threading.get_native_id()}/wchan")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            if time.monotonic() - self.last_tick < self.late:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)
            # The innermost frame, then the innermost of ours (c3desk, this script) that led
            # there: a library call (SQLite, paramiko) is named with whoever made it.
            ours = [f for f in stack if f.filename.startswith(str(ROOT))][-self.depth :]
            where = [_short(stack[-1])] + [_short(f) for f in reversed(ours) if f is not stack[-1]]
            # Where the kernel has the thread asleep, if it is (futex_wait*: the GIL, most
            # likely; 0: running or runnable).
            with contextlib.suppress(OSError):
                where[0] += f" [{self._wchan.read_text().strip() or '0'}]"
            self.samples[" < ".join(where)] += 1

    def report(self, top: int = 15) -> list[str]:
        total = sum(self.samples.values())
        late = f"{self.late * 1000:.0f} ms"
        lines = [f"{total} samples (~{total * 5} ms) with the loop late by >= {late}"]
        areas: collections.Counter[str] = collections.Counter()
        for stack, n in self.samples.items():
            areas[_area(stack)] += n
        lines.append("by area: " + ", ".join(f"{a} {n}" for a, n in areas.most_common()))
        for stack, n in self.samples.most_common(top):
            lines.append(f"{n:6d}  {stack}")
        return lines


def _area(stack: str) -> str:
    """What part of the program a sampled stack belongs to (the first rule that matches)."""
    for needle, area in (
        ("ssh_", "ssh transport"),
        ("paramiko", "ssh transport"),
        ("transports/local", "local pty reads"),
        ("c3desk/terminal/", "terminal model"),
        ("peewee", "database"),
        ("selectors.py", "select"),
    ):
        if needle in stack:
            return area
    return "other"


def _short(frame: traceback.FrameSummary) -> str:
    path = Path(frame.filename)
    try:
        name = str(path.relative_to(ROOT))
    except ValueError:
        name = path.name
    return f"{name}:{frame.lineno}({frame.name})"


class Probe:
    """What the run records from inside the engine: each session's reads (time, bytes so far)
    and its needs-input flips. Installed on the classes before the engine starts."""

    def __init__(self) -> None:
        self.reads: dict[str, list[tuple[float, int]]] = {}
        self.flips: dict[str, list[tuple[float, bool, str]]] = {}
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        reads, flips = self.reads, self.flips
        plain_output = LiveSession.on_output
        plain_apply = AgentWatch.apply_changes

        def on_output(live: LiveSession, data: bytes) -> None:
            plain_output(live, data)
            reads.setdefault(live.id, []).append((time.monotonic(), live.bytes_in))

        def apply_changes(watch: AgentWatch, live: LiveSession, changes: list[StateChange]) -> None:
            before = live.needs_input
            plain_apply(watch, live, changes)
            if live.needs_input != before:
                source = changes[-1].source if changes else ""
                flips.setdefault(live.id, []).append((time.monotonic(), live.needs_input, source))

        LiveSession.on_output = on_output  # type: ignore[method-assign, assignment]
        AgentWatch.apply_changes = apply_changes  # type: ignore[method-assign, assignment]

        def undo() -> None:
            LiveSession.on_output = plain_output  # type: ignore[method-assign]
            AgentWatch.apply_changes = plain_apply  # type: ignore[method-assign]

        self._undo.append(undo)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def read_time_of(self, sid: str, offset: int) -> float | None:
        """When the engine had read the session's first ``offset`` bytes."""
        for t, total in self.reads.get(sid, []):
            if total >= offset:
                return t
        return None

    def idle_after(self, sid: str, since: float) -> tuple[float, str] | None:
        """The first flip to needs-input after ``since``: its time and source."""
        for t, needs, source in self.flips.get(sid, []):
            if needs and t >= since:
                return t, source
        return None


def server_folder(session_id: str) -> Path:
    """A remote session's folder on the server, which is this machine and this user."""
    return Path.home() / SESSIONS_DIR / session_id


def prepare(label: str, args: argparse.Namespace, server: Sshd | None) -> dict[str, Any]:
    """A fresh data directory: the agent script, the workers, and the queue of floods.
    Remote and local sessions alternate in the queue, so neither group starts later."""
    home = Path(tempfile.mkdtemp(prefix=f"c3desk-floodssh-{label}-"))
    paths = Paths(home)
    database.connect(paths.db)
    stats = home / "agent-stats"
    stats.mkdir()
    cfg.set_setting("claude_command", str(write_agent(home, stats)))
    cfg.set_setting("max_concurrent_sessions", str(args.sessions))
    # Bare sessions in both runs: this compares transports (and counts the agents' own bytes);
    # what tmux hosting costs is benchmarks/hosting.py's.
    cfg.set_setting("persistent_sessions", "never")
    local = Worker.get(Worker.type == "local")
    Worker.update(max_sessions=args.sessions).where(Worker.id == local.id).execute()
    remote = args.remote if server is not None else 0
    box = add_ssh_worker(server, "box", max_sessions=remote) if server is not None else None
    work = home / "work"
    work.mkdir()
    on_box = set(range(0, 2 * remote, 2)) if remote * 2 <= args.sessions else set(range(remote))
    ids: list[str] = []
    where: dict[str, str] = {}
    for i in range(args.sessions):
        worker = box.name if box is not None and i in on_box else local.name
        s = sess.create_session(
            title=f"flood {i}",
            working_directory=str(work),
            prompt=f"flood {args.bytes} {args.rate}",
            worker=worker,
        )
        ids.append(str(s.id))
        where[str(s.id)] = "ssh" if worker != local.name else "local"
    return {"home": home, "paths": paths, "stats": stats, "ids": ids, "where": where}


async def run_once(label: str, args: argparse.Namespace, server: Sshd | None) -> dict[str, Any]:
    run = prepare(label, args, server)
    ids: list[str] = run["ids"]
    paths: Paths = run["paths"]
    factory = ssh_factory(server, run["home"])[0] if server is not None else None
    probe = Probe()
    probe.install()
    instance = build_instance(paths, connections=factory)
    engine = instance.engine
    lags: list[tuple[float, float]] = []  # (when, how late)
    done = False
    sampler = StallSampler() if args.stalls else None

    async def ticker() -> None:
        while not done:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            now = time.monotonic()
            lags.append((now, now - t - 0.01))
            if sampler is not None:
                sampler.last_tick = now

    ticking = asyncio.create_task(ticker())
    if sampler is not None:
        sampler.start()
    started = time.monotonic()
    cpu_before, waited_before, threads_before = _cpu(), _waited(), _thread_seconds()
    children_before = _cpu(resource.RUSAGE_CHILDREN)
    server_before = _server_cpu(server)
    ended_with: set[str] = set()
    await instance.start()
    try:
        unfinished = Session.select().where(
            Session.id.in_(ids) & Session.status.in_(("queued", "active"))
        )
        seen: set[str] = set()
        polls = 0

        def running() -> bool:
            # Asked of the engine's memory; the database only every 2 s (a session that never
            # started) and once all have come and gone, so the probe does not stall the loop.
            seen.update(sid for sid in ids if sid in engine.live)
            if polls % 40 and (len(seen) < len(ids) or any(s in engine.live for s in ids)):
                return True
            return unfinished.exists()

        while running():
            if time.monotonic() - started > PER_RUN_LIMIT:
                raise RuntimeError(f"{label}: the run did not finish in {PER_RUN_LIMIT:.0f} s")
            for sid in ids:
                live = engine.live.get(sid)
                if live is None or sid in ended_with or not live.needs_input:
                    continue
                if any("Flooded" in line for line in engine.screen(sid)):
                    engine.write(sid, b"\x04")  # Ctrl-D at the empty prompt: it exits 0
                    ended_with.add(sid)
            polls += 1
            await asyncio.sleep(0.05)
    finally:
        done = True
        cpu = _cpu() - cpu_before  # this process, its threads included, until the agents ended
        waited = _waited() - waited_before
        threads = _threads_cpu(threads_before)  # before stop() ends the transports
        wall = time.monotonic() - started
        await ticking
        if sampler is not None:
            sampler.stop()
            print(f"--- where the loop stalled, run {label}:")
            print("\n".join(sampler.report()))
        # The connection removes each ended session's folder on the server (this machine, the
        # same user) in the background: let it finish before stopping, at most 10 s (after the
        # figures, so this quiet wait does not dilute them).
        folders = [server_folder(sid) for sid in ids if run["where"][sid] == "ssh"]
        for _ in range(200):
            if not any(f.exists() for f in folders):
                break
            await asyncio.sleep(0.05)
        await instance.stop()
        probe.uninstall()
    # The connection's sshd ends once the transport closes; its CPU (and its agents') counts
    # once the listener has reaped it.
    for _ in range(100):
        if server is None or not server.connection_pids():
            break
        await asyncio.sleep(0.05)
    children = _cpu(resource.RUSAGE_CHILDREN) - children_before
    server_cpu = _server_cpu(server) - server_before
    # Folders the connection did not get to remove: counted, then removed (they are this run's).
    left = [f for sid in ids if run["where"][sid] == "ssh" and (f := server_folder(sid)).exists()]
    for folder in left:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        return {
            **summarise(label, run, probe, lags),
            "server_folders_left": len(left),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            # Local agents and hook commands; the server side: sshd, its shells and agents.
            "children_cpu_s": round(children, 2),
            "server_cpu_s": round(server_cpu, 2),
            "all_cpu_s": round(cpu + children + server_cpu, 2),
            "loop_thread_waited_for_cpu_s": round(waited, 2),
            "threads_cpu_s": threads,
        }
    finally:
        database.close()


async def idle_loop(seconds: float) -> dict[str, Any]:
    """The same ticker on an empty loop: the lag this machine gives any process right now."""
    lags: list[float] = []
    waited_before = _waited()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - t - 0.01)
    lag = percentiles(lags)
    return {
        "loop_lag_p50_ms": lag["p50"],
        "loop_lag_p99_ms": lag["p99"],
        "loop_lag_max_ms": lag["max"],
        "loop_thread_waited_for_cpu_s": round(_waited() - waited_before, 2),
        "seconds": seconds,
        "load_average": round(os.getloadavg()[0], 2),
    }


def _server_cpu(server: Sshd | None) -> float:
    """CPU seconds of the sshd's ended children and theirs (connections, shells, agents)."""
    if server is None:
        return 0.0
    try:
        fields = Path(f"/proc/{server.pid()}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _waited() -> float:
    """Seconds the loop's thread has spent runnable but waiting for a CPU (the kernel's
    schedstat): how much of the loop's lag other processes on the machine caused."""
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text()
    except OSError:
        return 0.0
    return int(fields.split()[1]) / 1e9


def _thread_seconds() -> dict[int, tuple[str, float]]:
    """CPU seconds of each live thread of this process, with its kind: the loop's, paramiko's
    transport threads (they decrypt and packetise every SSH byte), the executors' or other."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    main = threading.main_thread()
    for t in threading.enumerate():
        if t.native_id is None:
            continue
        try:
            stat = Path(f"/proc/self/task/{t.native_id}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if t is main:
            kind = "loop"
        elif isinstance(t, paramiko.Transport):
            kind = "paramiko"
        elif t.name.startswith(("asyncio_", "ThreadPoolExecutor", "c3desk-")):
            kind = "executors"
        else:
            kind = "other"
        out[t.native_id] = (kind, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _threads_cpu(before: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds by kind of thread since ``before`` (threads that ended are not counted)."""
    out: dict[str, float] = collections.defaultdict(float)
    for tid, (kind, seconds) in _thread_seconds().items():
        out[kind] += seconds - before.get(tid, (kind, 0.0))[1]
    return {k: round(v, 2) for k, v in sorted(out.items())}


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def percentiles(values: list[float]) -> dict[str, float | None]:
    values = sorted(values)
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(values[len(values) // 2] * 1000, 1),
        "p99": round(values[int(len(values) * 0.99)] * 1000, 1),
        "max": round(values[-1] * 1000, 1),
    }


def summarise(
    label: str,
    run: dict[str, Any],
    probe: Probe,
    lags: list[tuple[float, float]],
) -> dict[str, Any]:
    per: list[dict[str, Any]] = []
    for sid in run["ids"]:
        row = Session.get_by_id(sid)
        entry: dict[str, Any] = {"id": sid, "where": run["where"][sid], "status": row.status}
        stats_file = run["stats"] / f"{sid}.json"
        if not stats_file.exists():
            entry["problem"] = f"the agent left no stats ({row.status}: {row.failure_reason})"
            per.append(entry)
            continue
        stats = json.loads(stats_file.read_text())
        held = b"".join(_scrollback(row.terminal_scrollback))
        entry["sent_bytes"] = stats["bytes"]
        entry["held_bytes"] = len(held)
        entry["lost_bytes"] = max(stats["bytes"] - len(held), 0)
        entry["same_bytes"] = hashlib.sha256(held).hexdigest() == stats["sha256"]
        start, end = stats["flood_start"], stats["flood_end"]
        entry["agent_flood_s"] = end - start
        read_end = probe.read_time_of(sid, stats["flood_end_offset"])
        entry["flood_s"] = (read_end - start) if read_end is not None else None
        entry["window"] = (start, read_end if read_end is not None else end)
        idle = probe.idle_after(sid, end)
        if idle is not None:
            entry["idle_lag_s"] = idle[0] - end
            entry["idle_source"] = idle[1]
        per.append(entry)
    windows = [e["window"] for e in per if "window" in e]
    whole = percentiles([lag for _t, lag in lags])
    during = (
        percentiles(
            [
                lag
                for t, lag in lags
                if min(w[0] for w in windows) <= t <= max(w[1] for w in windows)
            ]
        )
        if windows
        else percentiles([])
    )
    for e in per:
        e.pop("window", None)

    def worst(key: str, group: str | None = None) -> float | None:
        values = [
            e[key] for e in per if e.get(key) is not None and (group is None or e["where"] == group)
        ]
        return round(max(values), 3) if values else None

    problems = [e for e in per if "problem" in e or "flood_s" not in e or e["flood_s"] is None]
    return {
        "run": label,
        "home": str(run["home"]),
        "sessions": len(per),
        "remote_sessions": sum(e["where"] == "ssh" for e in per),
        "flood_max_s": worst("flood_s"),
        "flood_max_local_s": worst("flood_s", "local"),
        "flood_max_ssh_s": worst("flood_s", "ssh"),
        "flood_mean_s": round(statistics.mean(e["flood_s"] for e in per if e.get("flood_s")), 3)
        if any(e.get("flood_s") for e in per)
        else None,
        "agent_write_max_s": worst("agent_flood_s"),
        "idle_lag_max_s": worst("idle_lag_s"),
        "idle_lag_max_local_s": worst("idle_lag_s", "local"),
        "idle_lag_max_ssh_s": worst("idle_lag_s", "ssh"),
        "idle_sources": sorted({e["idle_source"] for e in per if "idle_source" in e}),
        "bytes_sent": sum(e.get("sent_bytes", 0) for e in per),
        "bytes_lost": sum(e.get("lost_bytes", 0) for e in per),
        "all_bytes_identical": all(e.get("same_bytes") for e in per),
        "loop_lag_p50_ms": whole["p50"],
        "loop_lag_p99_ms": whole["p99"],
        "loop_lag_max_ms": whole["max"],
        "flood_lag_p50_ms": during["p50"],
        "flood_lag_p99_ms": during["p99"],
        "flood_lag_max_ms": during["max"],
        "load_average_after": round(os.getloadavg()[0], 2),
        "statuses": sorted({e["status"] for e in per}),
        "problems": [e.get("problem", f"{e['id']}: incomplete") for e in problems],
        "per_session": per,
    }


def _scrollback(path: str | None) -> Iterator[bytes]:
    if not path:
        return iter(())
    return read_chunks(Path(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--remote", type=int, default=5, help="sessions on the SSH worker")
    parser.add_argument("--bytes", default="1.5M")
    parser.add_argument("--rate", default="150K")
    parser.add_argument("--quick", action="store_true", help="300K per agent (2 s of output)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=("local", "ssh"), help="one run alone (profiling)")
    parser.add_argument(
        "--stalls", action="store_true", help="sample where the loop is when it runs late"
    )
    parser.add_argument("--keep", action="store_true", help="keep the runs' data directories")
    args = parser.parse_args()
    if args.quick:
        args.bytes = "300K"
    for flag, value in (("--bytes", args.bytes), ("--rate", args.rate)):
        try:
            if parse_size(value) <= 0:
                raise ValueError
        except (ValueError, IndexError):
            parser.error(f"{flag} must be a size like 1.5M or 150K, not {value!r}")
    if args.sessions < 1:
        parser.error(f"--sessions must be at least 1, not {args.sessions}")
    if not 0 <= args.remote <= args.sessions:
        parser.error(f"--remote must be between 0 and --sessions, not {args.remote}")
    seconds = parse_size(args.bytes) / parse_size(args.rate)
    load_before = round(os.getloadavg()[0], 2)
    empty = asyncio.run(idle_loop(2.0 if args.quick else 5.0))
    with (
        tempfile.TemporaryDirectory(prefix="c3desk-floodssh-sshd-") as tmp,
        running_sshd(Path(tmp) / "sshd") as server,
    ):
        local = asyncio.run(run_once("local", args, None)) if args.only != "ssh" else None
        mixed = asyncio.run(run_once("ssh", args, server)) if args.only != "local" else None
    runs = [r for r in (local, mixed) if r is not None]
    if local is None or mixed is None:
        print(json.dumps({"runs": runs}, default=str))  # one run alone: for profiling
        return
    ratio = (
        round(mixed["flood_max_ssh_s"] / local["flood_max_s"], 3)
        if mixed["flood_max_ssh_s"] and local["flood_max_s"]
        else None
    )
    print(
        f"{args.sessions} sessions x {args.bytes} at {args.rate}/s ({seconds:.1f} s of output); "
        f"run 'ssh' has {args.remote} on a loopback sshd worker"
    )
    cols = [
        ("run", "run", 6),
        ("flood max s", "flood_max_s", 12),
        ("local max s", "flood_max_local_s", 12),
        ("ssh max s", "flood_max_ssh_s", 10),
        ("writing max s", "agent_write_max_s", 14),
        ("idle lag s", "idle_lag_max_s", 11),
        ("lag p50 ms", "loop_lag_p50_ms", 11),
        ("lag p99 ms", "loop_lag_p99_ms", 11),
        ("lag max ms", "loop_lag_max_ms", 11),
        ("flood p99", "flood_lag_p99_ms", 10),
        ("lost B", "bytes_lost", 8),
        ("cpu s", "cpu_s", 7),
        ("no-cpu s", "loop_thread_waited_for_cpu_s", 10),
    ]
    print("".join(f"{title:>{width}}" for title, _key, width in cols))
    for r in runs:
        print("".join(f"{r[key]!s:>{width}}" for _title, key, width in cols))
    print(
        f"run ssh, idle lag by worker: local {mixed['idle_lag_max_local_s']} s, "
        f"ssh {mixed['idle_lag_max_ssh_s']} s (sources {', '.join(mixed['idle_sources'])})"
    )
    verdict = {
        "remote_within_1.2x_of_local": ratio is not None and ratio <= 1.2,
        "loop_lag_p99_ok (<= 50 ms)": all((r["loop_lag_p99_ms"] or 0) <= 50 for r in runs),
        "nothing_lost": all(r["bytes_lost"] == 0 and r["all_bytes_identical"] for r in runs),
    }
    for r in runs:
        print(
            f"run {r['run']}: {r['wall_s']} s; CPU s: all {r['all_cpu_s']} (this process"
            f" {r['cpu_s']}, by thread {r['threads_cpu_s']}; local agents and hooks"
            f" {r['children_cpu_s']}; sshd side {r['server_cpu_s']}); load average"
            f" {r['load_average_after']}"
        )
    print(
        f"an empty loop on this machine just before: lag p50/p99/max {empty['loop_lag_p50_ms']}/"
        f"{empty['loop_lag_p99_ms']}/{empty['loop_lag_max_ms']} ms, load average {load_before}"
    )
    print(f"remote/local flood time: {ratio}")
    print("required:", ", ".join(f"{k}: {v}" for k, v in verdict.items()))
    for r in runs:
        for problem in r["problems"]:
            print(f"problem in run {r['run']}: {problem}")
    out = {
        "output_seconds": seconds,
        "bytes_per_agent": parse_size(args.bytes),
        "rate": parse_size(args.rate),
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "empty_loop": empty,
        "remote_over_local_flood": ratio,
        "runs": [
            {k: v for k, v in r.items() if k != "per_session" and (args.keep or k != "home")}
            for r in runs
        ],
        "required": verdict,
    }
    if args.json:
        args.json.write_text(json.dumps({**out, "runs": runs}, indent=2))
    print(json.dumps(out))
    if not args.keep:
        for r in runs:
            with contextlib.suppress(OSError):
                shutil.rmtree(r["home"])


if __name__ == "__main__":
    main()
