"""Time the token-usage reader on a large Claude Code transcript, and how long it holds the loop.

Usage: python benchmarks/usage_read.py [--messages N] [--dir PATH] [--json-only]

Writes a transcript of N API messages (default 40,000), each two lines sharing its id (text
then a tool call, as Claude Code writes them, with a realistic usage block and some content),
in a temporary data folder with a real SQLite database. Then, on an asyncio loop with a probe
task that measures how late a 1 ms sleep wakes (the loop's longest stall):

- the first read of the whole file by :class:`~c3desk.core.usage_watch.UsageWatcher` (4 MB
  steps, each parsed in a worker thread, each step's sums and offset recorded on the loop),
- a read after 100 more messages were appended (a running session's periodic look),
- a read with nothing new,
- a new watcher (a restart) reading on from the saved offset.

Full garbage collections are paced as the engine paces them (:class:`GcPacer`), unless
``--no-pacer``: parsing creates many objects, and CPython's own full collections, run by
whichever thread allocates, then stall the loop for tens of milliseconds.

Prints a table and the same figures as JSON on the last line. A benchmark: it never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.transcripts import TranscriptWriter, usage_block  # noqa: E402

from c3desk.config import Paths  # noqa: E402
from c3desk.core import sessions as sess  # noqa: E402
from c3desk.core import usage  # noqa: E402
from c3desk.core.gcpacer import GcPacer  # noqa: E402
from c3desk.core.launch import encode_project_dir  # noqa: E402
from c3desk.core.prices import DEFAULT_PRICES  # noqa: E402
from c3desk.core.usage_watch import UsageWatcher  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session  # noqa: E402

MODELS = ("claude-opus-5-5-20260921", "claude-sonnet-5-5", "claude-haiku-5-5")


def write(writer: TranscriptWriter, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        writer.user("x" * 300, f"2026-12-{1 + n % 7:02d}T10:{n % 60:02d}:00.000Z")
        writer.assistant(
            f"2026-12-{1 + n % 7:02d}T10:{n % 60:02d}:01.000Z",
            MODELS[n % 3],
            usage_block(3 + n % 50, 200 + n % 900, 1200, 40_000 + n, one_hour=1200),
            blocks=2,
        )
        if len(writer.lines) > 2000:
            writer.flush()
    writer.flush()


async def measure(watcher: UsageWatcher, sid: str) -> dict[str, float]:
    stalls: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - before - 0.001)

    task = asyncio.create_task(probe())
    start = time.perf_counter()
    new = await watcher.read(sid)
    took = time.perf_counter() - start
    done.set()
    await task
    stalls.sort()
    p99 = stalls[int(len(stalls) * 0.99)] if stalls else 0.0
    return {
        "seconds": took,
        "messages": new,
        "loop_stall_max_ms": (stalls[-1] if stalls else 0.0) * 1000,
        "loop_stall_p99_ms": p99 * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--json-only", action="store_true")
    parser.add_argument(
        "--no-pacer",
        action="store_true",
        help="leave CPython's full collections as they are (the engine paces them)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        home = Path(tmp) / "home"
        paths = Paths(home)
        paths.ensure()
        database.connect(paths.db)
        work = Path(tmp) / "work"
        work.mkdir()
        config = Path(tmp) / "claude"
        conversation = str(uuid.uuid4())
        sid = sess.create_session(title="bench", working_directory=str(work)).id
        Session.update(claude_session_id=conversation).where(Session.id == sid).execute()
        path = config / "projects" / encode_project_dir(str(work)) / f"{conversation}.jsonl"
        writer = TranscriptWriter(path, conversation, cwd=str(work))
        write(writer, args.messages)
        size = path.stat().st_size

        async def run() -> dict[str, Any]:
            figures: dict[str, Any] = {"messages": args.messages, "bytes": size}
            figures["load_average"] = os.getloadavg()[0]
            figures["gc_paced"] = not args.no_pacer
            pacer = GcPacer(lambda: False, longest=30.0)  # as the engine runs it
            if not args.no_pacer:
                pacer.start()
            watcher = UsageWatcher(lambda _agent: DEFAULT_PRICES)
            watcher.start(sid, str(work), config_dir=str(config))
            figures["first_read"] = await measure(watcher, sid)
            write(writer, 100, args.messages)
            figures["append_100"] = await measure(watcher, sid)
            figures["nothing_new"] = await measure(watcher, sid)
            await watcher.close()
            again = UsageWatcher(lambda _agent: DEFAULT_PRICES)
            again.start(sid, str(work), config_dir=str(config))
            write(writer, 100, args.messages + 100)
            figures["restart_append_100"] = await measure(again, sid)
            await again.close()
            totals = usage.totals_of([sid])[sid]
            figures["counted_messages"] = totals.messages
            figures["cost_usd"] = round(totals.cost, 2)
            if not args.no_pacer:
                pacer.stop()
            return figures

        figures = asyncio.run(run())
        database.close()
    if not args.json_only:
        paced = "paced" if figures["gc_paced"] else "not paced"
        print(
            f"transcript: {figures['messages']:,} messages, {figures['bytes'] / 1e6:.1f} MB "
            f"(full collections {paced})"
        )
        print(f"{'read':<22}{'seconds':>10}{'messages':>10}{'loop stall p99 / max':>24}")
        for key in ("first_read", "append_100", "nothing_new", "restart_append_100"):
            f = figures[key]
            print(
                f"{key:<22}{f['seconds']:>10.3f}{f['messages']:>10}"
                f"{f['loop_stall_p99_ms']:>13.1f} / {f['loop_stall_max_ms']:.1f} ms"
            )
        print(f"counted {figures['counted_messages']:,} messages, ${figures['cost_usd']:,}")
        print(f"load average at the start: {figures['load_average']:.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
