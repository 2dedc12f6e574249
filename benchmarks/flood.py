"""Nine sessions of the fake agent stream Claude-like redraws through the real engine, headless.

Each session runs ``flood 1.5M 150K`` (line-redraw runs and full clears inside synchronized-output
blocks, 150 KB/s for 10 s). Measured per session: how long the agent took to emit its output
(backpressure would stretch it past 10 s), and how long after the last byte was read the model
held the final screen. The event loop's lag is probed every 10 ms throughout. The same run is
made with our TerminalModel and, as the reference, stock pyte's HistoryScreen behind the same
engine.

    python benchmarks/flood.py [--sessions 9] [--bytes 1.5M] [--rate 150K] [--json out.json]

Required (issue 4): agent time ≤ 12 s for 10 s of output; final screen ≤ 2.5 s after the last byte.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyte

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from c3desk.config import Paths  # noqa: E402
from c3desk.core import sessions as sess  # noqa: E402
from c3desk.core import settings as cfg  # noqa: E402
from c3desk.core.engine import Engine  # noqa: E402
from c3desk.core.live import LiveSession  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, Worker  # noqa: E402
from c3desk.transports.factory import default_connections  # noqa: E402

FAKE = ROOT / "tests" / "fakes" / "claude"


class StockPyteModel:
    """The reference: stock pyte with scrollback, behind the engine's model interface."""

    class _Modes:
        app_cursor = False

    def __init__(self, cols: int, rows: int, history: int) -> None:
        self.screen = pyte.HistoryScreen(cols, rows, history=history)
        self.stream = pyte.ByteStream(self.screen)
        self.modes = self._Modes()

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    def take_answers(self) -> bytes:
        return b""

    @property
    def display(self) -> list[str]:
        return list(self.screen.display)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)


def parse_size(text: str) -> int:
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1].upper(), 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def prepare_flood(label: str, sessions: int, size: str, rate: str) -> tuple[Paths, list[str]]:
    """A fresh data directory whose queue holds ``sessions`` fake agents that each stream
    ``size`` bytes of Claude-like redraws at ``rate`` bytes/s, all allowed to run at once."""
    home = Path(tempfile.mkdtemp(prefix=f"c3desk-{label}-"))
    paths = Paths(home)
    database.connect(paths.db)
    os.environ["CLAUDE_CONFIG_DIR"] = str(home / "claude")
    os.environ["FAKE_CLAUDE_SPEED"] = "1"
    cfg.set_setting("claude_command", str(FAKE))
    cfg.set_setting("max_concurrent_sessions", str(sessions))
    Worker.update(max_sessions=sessions).where(Worker.type == "local").execute()
    work = home / "work"
    work.mkdir()
    ids = [
        sess.create_session(
            title=f"flood {i}",
            working_directory=str(work),
            prompt=f"flood {size} {rate}; exit 0",
        ).id
        for i in range(sessions)
    ]
    return paths, ids


async def until_finished(ids: list[str], started: float, limit: float = 300.0) -> None:
    """Return once no session of ``ids`` is queued or active (at most ``limit`` s after start)."""
    while any(Session.get_by_id(i).status in ("queued", "active") for i in ids):
        await asyncio.sleep(0.1)
        if time.monotonic() - started > limit:
            raise RuntimeError(f"flood run did not finish in {limit:.0f} s")


async def run_once(label: str, factory: Any, args: argparse.Namespace) -> dict[str, Any]:
    paths, ids = prepare_flood(f"flood-{label}", args.sessions, args.bytes, args.rate)
    first_read: dict[str, float] = {}
    last_read: dict[str, float] = {}
    caught_up: dict[str, float] = {}
    original_on_output = LiveSession.on_output
    original_feed = LiveSession.feed_some

    def on_output(self: LiveSession, data: bytes) -> None:
        now = time.monotonic()
        first_read.setdefault(self.id, now)
        last_read[self.id] = now
        original_on_output(self, data)

    def feed_some(self: LiveSession, deadline: float) -> bool:
        more = original_feed(self, deadline)
        if not self.pending:
            caught_up[self.id] = time.monotonic()
        return more

    LiveSession.on_output = on_output  # type: ignore[method-assign]
    LiveSession.feed_some = feed_some  # type: ignore[method-assign]
    engine = Engine(paths, connections=default_connections, model_factory=factory, history=10_000)
    lags: list[float] = []
    done = False

    async def probe() -> None:
        while not done:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)

    probe_task = asyncio.create_task(probe())
    started = time.monotonic()
    await engine.start()
    try:
        await until_finished(ids, started)
    finally:
        done = True
        await probe_task
        await engine.stop()
        LiveSession.on_output = original_on_output  # type: ignore[method-assign]
        LiveSession.feed_some = original_feed  # type: ignore[method-assign]
        database.close()
    agent = [last_read[i] - first_read[i] for i in ids]
    catch = [max(caught_up.get(i, last_read[i]) - last_read[i], 0.0) for i in ids]
    lags.sort()
    return {
        "model": label,
        "sessions": args.sessions,
        "agent_time_max_s": round(max(agent), 2),
        "agent_time_mean_s": round(statistics.mean(agent), 2),
        "final_screen_after_last_byte_max_s": round(max(catch), 3),
        "loop_lag_p50_ms": round(lags[len(lags) // 2] * 1000, 1),
        "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1),
        "loop_lag_max_ms": round(lags[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--bytes", default="1.5M")
    parser.add_argument("--rate", default="150K")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    from c3desk.terminal import TerminalModel

    runs = [asyncio.run(run_once("c3desk", lambda c, r, h: TerminalModel(c, r, history=h), args))]
    if not args.skip_reference:
        runs.append(asyncio.run(run_once("stock pyte", StockPyteModel, args)))
    seconds = parse_size(args.bytes) / parse_size(args.rate)
    header = (
        f"{'model':<12}{'agent max s':>12}{'agent mean s':>14}{'screen lag s':>14}"
        f"{'lag p50 ms':>12}{'lag p99 ms':>12}{'lag max ms':>12}"
    )
    print(f"{args.sessions} sessions x {args.bytes} at {args.rate}/s ({seconds:.1f} s of output)")
    print(header)
    for r in runs:
        print(
            f"{r['model']:<12}{r['agent_time_max_s']:>12}{r['agent_time_mean_s']:>14}"
            f"{r['final_screen_after_last_byte_max_s']:>14}{r['loop_lag_p50_ms']:>12}"
            f"{r['loop_lag_p99_ms']:>12}{r['loop_lag_max_ms']:>12}"
        )
    ours = runs[0]
    verdict = {
        "agent_time_ok (<= 12 s)": ours["agent_time_max_s"] <= 12.0,
        "final_screen_ok (<= 2.5 s)": ours["final_screen_after_last_byte_max_s"] <= 2.5,
    }
    print("required:", ", ".join(f"{k}: {v}" for k, v in verdict.items()))
    out = {"output_seconds": seconds, "runs": runs, "required": verdict}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
