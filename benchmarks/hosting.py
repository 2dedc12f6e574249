"""What hosting sessions in tmux costs: the same sessions bare (a PTY of c3desk's) and hosted
(c3desk's tmux server, the default where tmux is), side by side in one run, through the engine
with this build's connections (``connections_for``: ``persistent_sessions`` never, then auto).

Measured per mode:

* start: from the engine's start to each of N sessions showing its first line (p50, max);
* reattach (hosted only): a second engine started after the first quit (keeping the sessions),
  to every session's screen showing its line again, with the same pid;
* flood: N sessions each streaming ``flood SIZE RATE`` (Claude-like redraws), from the engine's
  start to the last one ending; the event loop's lag p50/p99/max (a 10 ms ticker); bytes the
  engine read (hosted: tmux's rendering of the agent's output, usually fewer bytes, since tmux
  redraws only what changed); CPU seconds of this process and, hosted, of the tmux server.

    python benchmarks/hosting.py [--sessions 4] [--bytes 1.5M] [--rate 150K] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from c3desk.config import Paths  # noqa: E402
from c3desk.core import sessions as sess  # noqa: E402
from c3desk.core import settings as cfg  # noqa: E402
from c3desk.core.engine import Engine  # noqa: E402
from c3desk.core.live import LiveSession  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, Worker  # noqa: E402
from c3desk.transports.factory import connections_for, tmux_socket_name  # noqa: E402

FAKE = ROOT / "tests" / "fakes" / "claude"


def prepare(label: str, mode: str, sessions: int, prompt: str) -> tuple[Paths, list[str]]:
    home = Path(tempfile.mkdtemp(prefix=f"c3desk-hosting-{label}-"))
    paths = Paths(home)
    database.connect(paths.db)
    os.environ["CLAUDE_CONFIG_DIR"] = str(home / "claude")
    os.environ["FAKE_CLAUDE_SPEED"] = "1"
    cfg.set_setting("claude_command", str(FAKE))
    cfg.set_setting("max_concurrent_sessions", str(sessions))
    cfg.set_setting("persistent_sessions", mode)
    Worker.update(max_sessions=sessions).where(Worker.type == "local").execute()
    work = home / "work"
    work.mkdir()
    where = str(work)
    ids = [
        str(sess.create_session(title=f"{label} {i}", working_directory=where, prompt=prompt).id)
        for i in range(sessions)
    ]
    return paths, ids


def tmux_server_cpu(home: Path) -> float:
    """CPU seconds (user + system) of c3desk's tmux server for ``home``, 0 without one."""
    found = subprocess.run(
        ["tmux", "-L", tmux_socket_name(home), "display-message", "-p", "#{pid}"],
        capture_output=True,
        text=True,
        check=False,
    )
    pid = found.stdout.strip()
    if found.returncode != 0 or not pid.isdigit():
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def end_tmux(home: Path) -> None:
    subprocess.run(
        ["tmux", "-L", tmux_socket_name(home), "kill-server"], capture_output=True, check=False
    )


async def until(check: Any, limit: float = 120.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > limit:
            raise RuntimeError(f"not done within {limit:.0f} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def shows(engine: Engine, sid: str, text: str) -> bool:
    live = engine.live.get(sid)
    if live is None or live.process is None:
        return False
    return any(text in row for row in engine.screen(sid))


async def start_and_reattach(mode: str, sessions: int) -> dict[str, Any]:
    paths, ids = prepare(f"start-{mode}", mode, sessions, "say FIRST-LINE; think 600")
    seen: dict[str, float] = {}
    engine = Engine(paths, connections=connections_for(paths.home))
    started = time.monotonic()
    await engine.start()

    def all_seen() -> bool:
        for sid in ids:
            if sid not in seen and shows(engine, sid, "FIRST-LINE"):
                seen[sid] = time.monotonic() - started
        return len(seen) == len(ids)

    await until(all_seen)
    out: dict[str, Any] = {
        "start_p50_ms": round(statistics.median(seen.values()) * 1000),
        "start_max_ms": round(max(seen.values()) * 1000),
    }
    pids = {sid: Session.get_by_id(sid).pid for sid in ids}
    if mode != "never":
        await engine.stop()  # hosted sessions keep running
        again = Engine(paths, connections=connections_for(paths.home))
        t0 = time.monotonic()
        await again.start()
        await until(lambda: all(shows(again, sid, "FIRST-LINE") for sid in ids))
        out["reattach_all_ms"] = round((time.monotonic() - t0) * 1000)
        out["same_pids"] = all(Session.get_by_id(sid).pid == pids[sid] for sid in ids)
        engine = again
    await engine.stop(keep_hosted=False)
    end_tmux(paths.home)
    database.close()
    shutil.rmtree(paths.home, ignore_errors=True)
    return out


async def flood(mode: str, sessions: int, size: str, rate: str) -> dict[str, Any]:
    paths, ids = prepare(f"flood-{mode}", mode, sessions, f"flood {size} {rate}; exit 0")
    read = {"bytes": 0}
    original = LiveSession.on_output

    def on_output(self: LiveSession, data: bytes) -> None:
        read["bytes"] += len(data)
        original(self, data)

    LiveSession.on_output = on_output  # type: ignore[method-assign]
    lags: list[float] = []
    done = False

    async def probe() -> None:
        while not done:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)

    engine = Engine(paths, connections=connections_for(paths.home))
    ticker = asyncio.create_task(probe())
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    tmux_cpu = 0.0
    started = time.monotonic()
    await engine.start()
    try:
        while any(Session.get_by_id(i).status in ("queued", "active") for i in ids):
            tmux_cpu = max(tmux_cpu, tmux_server_cpu(paths.home))
            await asyncio.sleep(0.2)
            if time.monotonic() - started > 300:
                raise RuntimeError("the flood did not end in 300 s")
        elapsed = time.monotonic() - started
    finally:
        done = True
        await ticker
        await engine.stop(keep_hosted=False)
        LiveSession.on_output = original  # type: ignore[method-assign]
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    completed = sum(Session.get_by_id(i).status == "completed" for i in ids)
    end_tmux(paths.home)
    database.close()
    shutil.rmtree(paths.home, ignore_errors=True)
    lags.sort()
    return {
        "flood_s": round(elapsed, 2),
        "completed": f"{completed}/{len(ids)}",
        "bytes_read_mb": round(read["bytes"] / 1e6, 2),
        "lag_p50_ms": round(lags[len(lags) // 2] * 1000, 1),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1),
        "lag_max_ms": round(lags[-1] * 1000, 1),
        "c3desk_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2),
        "tmux_cpu_s": round(tmux_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--bytes", default="1.5M")
    parser.add_argument("--rate", default="150K")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("hosting.py: tmux is not installed: nothing to compare")
    folder = tempfile.mkdtemp(prefix="c3h-", dir="/tmp")  # this run's tmux sockets
    os.environ["TMUX_TMPDIR"] = folder
    runs: list[dict[str, Any]] = []
    try:
        # Warm-up (imports, the login shell's PATH, page cache), so neither mode pays it.
        asyncio.run(start_and_reattach("never", 1))
        for mode, label in (("never", "bare PTY"), ("always", "tmux-hosted")):
            row = {"mode": label}
            row.update(asyncio.run(start_and_reattach(mode, args.sessions)))
            row.update(asyncio.run(flood(mode, args.sessions, args.bytes, args.rate)))
            runs.append(row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    columns = [
        ("mode", 12), ("start_p50_ms", 13), ("start_max_ms", 13), ("reattach_all_ms", 16),
        ("flood_s", 9), ("completed", 10), ("bytes_read_mb", 14), ("lag_p99_ms", 11),
        ("lag_max_ms", 11), ("c3desk_cpu_s", 13), ("tmux_cpu_s", 11),
    ]  # fmt: skip
    print(f"{args.sessions} sessions; flood {args.bytes} at {args.rate}/s each ({tmux_version()})")
    print("".join(f"{name:>{width}}" for name, width in columns))
    for r in runs:
        print("".join(f"{r.get(name, '-')!s:>{width}}" for name, width in columns))
    out = {"sessions": args.sessions, "bytes": args.bytes, "rate": args.rate, "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


def tmux_version() -> str:
    return subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
