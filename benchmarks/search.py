"""Time search across history: query latency over an FTS5 index of synthetic Claude-like
scrollback, side by side with a plain scan of the same files (grep), and the index's build.

Usage: python benchmarks/search.py [--size 1G] [--sessions N] [--repeat N] [--dir PATH]
                                   [--keep] [--json-only]

Writes ``--size`` bytes of scrollback (default 1 GB; ``50M`` for a quick run) spread over
``--sessions`` sessions into a temporary c3desk home: terminal bytes as Claude Code draws them
(colours, spinner redraws with erase-line and cursor-up, boxes, ``●`` replies and ``⎿`` tool
lines of Zipf-distributed words). Then:

- builds the index with the code the engine runs (:class:`c3desk.core.search.SearchIndexer`:
  reads in a worker thread, writes in a thread of its own), and reports its time, throughput,
  each write's time, how late a 10 ms timer on the loop fires meanwhile (loop lag), how long
  the loop's own small writes wait meanwhile (one every 50 ms, as the engine's), and the
  index's size on disk; side by side, the reference: the same build with the writes on the
  loop, as before (``--no-reference`` leaves it out);
- times :func:`c3desk.core.search.search` (``--limit 20``, what the CLI and the GUI ask) for a
  common word, a rare word, a phrase, two words, and a word that is nowhere: p50, p99, max over
  ``--repeat`` runs each;
- times the reference, a plain scan of every scrollback file for the same text
  (``grep -r -i -F -c``, the page cache warm), a few runs each.

Prints a table and the same figures as JSON on the last line. A benchmark: it never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import random
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
from c3desk.core import search  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, Worker, db  # noqa: E402

RARE = "quetzalcoatl"  # a handful of times in the whole history
PHRASE = "connection refused"  # about once a megabyte
ABSENT = "xylophonist"  # nowhere
QUERIES = {
    "common word": "the",
    "rare word": RARE,
    "phrase": f'"{PHRASE}"',
    "two words": "parser error",
    "no match": ABSENT,
}
GREP = {"common word": "the", "rare word": RARE, "phrase": PHRASE, "two words": "parser error"}
GREP["no match"] = ABSENT

SYLLABLES = "ka lo mi ne ru sa ti vo be da fe gi ho ju pe qu ra so tu wy xe zo an el in on"
COMMON = (
    "the of and to a in is it that for on with as this be are was at by file test "
    "function error parser value return line code run build session output data "
    "import class def self none true false path config check update fix add remove"
)


def size_of(text: str) -> int:
    units = {"K": 1000, "M": 1000**2, "G": 1000**3}
    text = text.strip().upper()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def vocabulary(rng: random.Random, n: int = 30_000) -> tuple[list[str], list[float]]:
    words = COMMON.split()
    seen = set(words)
    while len(words) < n:
        w = "".join(rng.choices(SYLLABLES.split(), k=rng.randint(2, 4)))
        if w not in seen and w != RARE and w != ABSENT:
            seen.add(w)
            words.append(w)
    weights = [1.0 / (i + 1) ** 1.05 for i in range(len(words))]  # Zipf
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return words, cum


class Writer:
    """Claude-like terminal output, one session at a time."""

    def __init__(self, rng: random.Random, words: list[str], cum: list[float]) -> None:
        self.rng, self.words, self.cum = rng, words, cum
        self.pool: list[str] = []
        self.at = 0

    def word_run(self, k: int) -> str:
        if self.at + k > len(self.pool):
            self.pool = self.rng.choices(self.words, cum_weights=self.cum, k=200_000)
            self.at = 0
        self.at += k
        return " ".join(self.pool[self.at - k : self.at])

    def turn(self, turn: int) -> bytes:
        rng = self.rng
        parts = [f"\x1b[1m>\x1b[0m fix the {self.word_run(6)} in turn {turn}\r\n"]
        for s in range(rng.randint(3, 12)):  # spinner: redrawn in place
            parts.append(
                f"\x1b[2K\x1b[1A\x1b[2K\r\x1b[38;5;174m✻\x1b[39m Pondering… ({s}s · ↑ "
                f"{s * 0.3:.1f}k tokens · esc to interrupt)\r\n"
            )
        for _ in range(rng.randint(4, 30)):
            r = rng.random()
            if r < 0.45:
                text = self.word_run(rng.randint(6, 16))
                if rng.random() < 0.02:
                    text += f" {PHRASE}"
                parts.append(f"\x1b[38;5;15m●\x1b[39m {text}\r\n")
            elif r < 0.75:
                parts.append(f"  \x1b[2m⎿\x1b[22m  {self.word_run(rng.randint(4, 12))}\r\n")
            else:
                code = self.word_run(rng.randint(3, 8)).replace(" ", "_", 1)
                parts.append(f"\x1b[32m+\x1b[0m     {code}({rng.randint(0, 999)})\r\n")
        parts.append(
            "\x1b[2m╭" + "─" * 78 + "╮\x1b[0m\r\n│ > " + " " * 75 + "│\r\n╰" + "─" * 78 + "╯\r\n"
        )
        return "".join(parts).encode()


def write_history(paths: Paths, size: int, sessions: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words, cum = vocabulary(rng)
    writer = Writer(rng, words, cum)
    worker = Worker.get(Worker.type == "local")
    per = max(1, size // sessions)
    ids: list[str] = []
    rare_at = sorted(rng.sample(range(sessions), min(sessions, 5)))
    paths.scrollback_dir.mkdir(parents=True, exist_ok=True)
    for n in range(sessions):
        sid = f"bench-{n:05d}"
        Session.insert(
            id=sid,
            worker=worker.id,
            status="completed",
            working_directory=f"/home/user/project-{n % 17}",
            title=f"session {n} {writer.word_run(3)}",
            prompt=f"please {writer.word_run(8)}",
        ).execute()
        ids.append(sid)
        with (paths.scrollback_dir / f"{sid}.log").open("wb") as fh:
            written, turn = 0, 0
            while written < per:
                block = writer.turn(turn)
                if n in rare_at and turn == 3:
                    block += f"● found the {RARE} at last\r\n".encode()
                fh.write(block)
                written += len(block)
                turn += 1
    return ids


class OnTheLoop(concurrent.futures.Executor):
    """The reference: every write run where it is asked for, on the loop (before the writer
    thread)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)
        return done


def build_index(paths: Paths, *, on_the_loop: bool = False) -> dict[str, Any]:
    lags: list[float] = []
    loop_writes: list[float] = []

    async def probe() -> None:
        # How late a 10 ms timer fires while the index is built: what a window would feel.
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(max(0.0, time.perf_counter() - began - 0.01))

    async def write_probe() -> None:
        # A small write on the loop every 50 ms, as the engine makes: how long it waits.
        while True:
            await asyncio.sleep(0.05)
            began = time.perf_counter()
            with db.atomic():
                db.execute_sql("UPDATE settings SET theme = theme WHERE id = 1")
            loop_writes.append(time.perf_counter() - began)

    async def run() -> search.SearchIndexer:
        ix = search.SearchIndexer(paths.scrollback_dir, lambda: [], period=0.01)
        if on_the_loop:
            ix._writer.shutdown()
            ix._writer = OnTheLoop()  # type: ignore[assignment]
        probes = [asyncio.create_task(probe()), asyncio.create_task(write_probe())]
        task = asyncio.create_task(ix.run())
        await ix.caught_up.wait()
        ix.stop()
        await task
        for p in probes:
            p.cancel()
        return ix

    holds: list[float] = []
    add = search.add_chunks

    def timed(*args: Any, **kw: Any) -> bool:
        began = time.perf_counter()
        try:
            return add(*args, **kw)
        finally:
            holds.append(time.perf_counter() - began)

    search.add_chunks = timed  # type: ignore[assignment]
    start = time.perf_counter()
    try:
        ix = asyncio.run(run())
    finally:
        search.add_chunks = add  # type: ignore[assignment]
    seconds = time.perf_counter() - start
    conn = db.connection()
    conn.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    optimized = time.perf_counter() - start - seconds
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = int(conn.execute("SELECT count(*) FROM search_chunks").fetchone()[0])
    return {
        "seconds": seconds,
        "optimize_seconds": optimized,
        "rows": rows,
        "longest_write_ms": ix.write_seconds * 1000,
        "writes": len(holds),
        "write_hold": percentiles(holds),
        "loop_lag": percentiles(lags or [0.0]),
        "loop_writes": percentiles(loop_writes or [0.0]),
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def time_queries(repeat: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, query in QUERIES.items():
        samples, found = [], 0
        search.search(query)  # warm the page cache once, like a second search would
        for _ in range(repeat):
            start = time.perf_counter()
            found = len(search.search(query, 20))
            samples.append(time.perf_counter() - start)
        out[name] = {"query": query, "results": found, **percentiles(samples)}
    return out


def time_grep(folder: Path, repeat: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, text in GREP.items():
        samples, lines = [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            done = subprocess.run(
                ["grep", "-r", "-i", "-F", "-c", "--", text, str(folder)],
                capture_output=True,
                text=True,
                check=False,
            )
            samples.append(time.perf_counter() - start)
            lines = sum(int(ln.rsplit(":", 1)[1]) for ln in done.stdout.splitlines() if ln)
        out[name] = {"text": text, "matching_lines": lines, **percentiles(samples)}
    return out


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="scrollback bytes: 1G, 200M, 50M ...")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=50, help="runs of each indexed query")
    parser.add_argument("--grep-repeat", type=int, default=3, help="runs of each scan")
    parser.add_argument("--dir", default=None, help="parent of the temporary home")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--json-only", action="store_true")
    parser.add_argument(
        "--no-reference", action="store_true", help="leave out the build with writes on the loop"
    )
    args = parser.parse_args()
    size = size_of(args.size)
    tmp = Path(tempfile.mkdtemp(prefix="c3desk-search-", dir=args.dir))
    try:
        paths = Paths(tmp / "home")
        paths.ensure()
        database.connect(paths.db)
        start = time.perf_counter()
        write_history(paths, size, args.sessions)
        written = time.perf_counter() - start
        scrollback = du(paths.scrollback_dir)
        reference = None
        if not args.no_reference:
            # The same build from the same start, with the writes on the loop; then the
            # database as it was before it, for the build measured.
            database.close()
            fresh = tmp / "fresh.db"
            shutil.copyfile(paths.db, fresh)
            database.connect(paths.db)
            reference = build_index(paths, on_the_loop=True)
            database.close()
            for leftover in paths.db.parent.glob(paths.db.name + "-*"):
                leftover.unlink()
            shutil.copyfile(fresh, paths.db)
            database.connect(paths.db)
        build = build_index(paths)
        index_bytes = sum(
            p.stat().st_size for p in paths.db.parent.glob(paths.db.name + "*") if p.is_file()
        )
        indexed = time_queries(args.repeat)
        grep = time_grep(paths.scrollback_dir, args.grep_repeat)
        database.close()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "benchmark": "search",
        "scrollback_bytes": scrollback,
        "sessions": args.sessions,
        "generate_seconds": written,
        "index": {
            **build,
            "mb_per_second": scrollback / 1e6 / build["seconds"],
            "database_bytes": index_bytes,
            "database_to_scrollback": index_bytes / scrollback,
        },
        "reference_writes_on_the_loop": reference,
        "queries": indexed,
        "grep": grep,
        "cpus": os.cpu_count(),
    }
    if not args.json_only:
        mb = scrollback / 1e6
        print(f"scrollback: {mb:,.0f} MB in {args.sessions} sessions (written in {written:.0f} s)")
        print(
            f"index: built in {build['seconds']:.1f} s ({mb / build['seconds']:.1f} MB/s), "
            f"optimize {build['optimize_seconds']:.1f} s, {build['rows']:,} rows, "
            f"database {index_bytes / 1e6:,.0f} MB ({index_bytes / scrollback:.2f}x), "
        )
        print()
        print(f"{'catching up, ms':<44} {'p50':>7} {'p99':>7} {'max':>7}   build")
        builds = [("writer thread (c3desk)", build)]
        if reference is not None:
            builds.append(("writes on the loop (reference)", reference))
        rows = (("each write (32 KB)", "write_hold"), ("loop lag (a 10 ms timer)", "loop_lag"),
                ("the loop's own writes (every 50 ms)", "loop_writes"))  # fmt: skip
        for label, b in builds:
            print(f"{label:<44} {'':>7} {'':>7} {'':>7}   {b['seconds']:.1f} s")
            for what, key in rows:
                f = b[key]
                print(f"  {what:<42} {f['p50_ms']:>7.1f} {f['p99_ms']:>7.1f} {f['max_ms']:>7.1f}")
        print()
        header = f"{'query':<13} {'results':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"
        print(header + f"   {'grep p50 ms':>11} {'grep max ms':>11} {'grep lines':>10}")
        for name, q in indexed.items():
            g = grep[name]
            print(
                f"{name:<13} {q['results']:>7} {q['p50_ms']:>9.2f} {q['p99_ms']:>9.2f} "
                f"{q['max_ms']:>9.2f}   {g['p50_ms']:>11.0f} {g['max_ms']:>11.0f} "
                f"{g['matching_lines']:>10,}"
            )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
