"""Time the artifact scan over a 100,000-file tree against a plain os.walk + stat baseline,
and the reading of a large Claude Code transcript.

Usage: python benchmarks/artifact_scan.py [--files N] [--repeat N] [--dir PATH] [--json-only]

Builds the tree in a temporary directory (under --dir when given: a tmpfs such as /dev/shm
builds much faster than a busy disk), then times, in the same run and on the same warm cache:

- ``scan`` with a few recent files (the usual periodic pass),
- ``scan`` with every file already in ``seen`` (no stat at all for known paths),
- ``os.walk`` + ``os.stat`` of every file with the same mtime/ctime test (the baseline),
- ``scan`` with the watcher's bounds (file count, depth, time), as a session without a
  transcript gets it: on a tree larger than the bound it stops, and says so.
- the same scan through the watcher's file seam: :class:`LocalFiles` (this machine: the whole
  ``os.scandir`` walk in one worker thread) and :class:`ConnectionFiles` over the local
  machine's connection (what a worker that only offers ``list_dir`` costs: one listing per
  folder, each in a thread, every entry stat-ed).

Then a transcript of 20,000 lines (10,000 Write calls with 2 KB of content each, and their
results) is read whole by :class:`TranscriptTail` + :class:`ReportedWrites`, and again after 100
more lines were appended (the periodic look at a running session reads only those); the
appended lines are also read through :class:`LocalFiles` (``read_from`` + ``feed``).

The tree holds only files the scan does not ignore, so both sides do the same work. Prints a
table and the same figures as JSON on the last line. A benchmark: it never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from c3desk.core.artifact_watch import MAX_DEPTH, MAX_FILES, SCAN_BUDGET  # noqa: E402
from c3desk.core.artifacts import ReportedWrites, ScanResult, TranscriptTail, scan  # noqa: E402
from c3desk.core.worker_files import LOCAL, ConnectionFiles, WorkerFiles  # noqa: E402
from c3desk.transports.connection import WorkerInfo  # noqa: E402
from c3desk.transports.local_connection import LocalConnection  # noqa: E402

RECENT = 10


def build(root: Path, files: int) -> tuple[float, float]:
    """A tree of ``files`` distinct files, 500 to a directory, two levels deep; (since, seconds)."""
    start = time.perf_counter()
    flags = os.O_CREAT | os.O_WRONLY
    per_dir = 500
    suffixes = (".py", ".txt", ".png", ".json", ".pdf")
    for n in range(files):
        if n % per_dir == 0:
            directory = root / f"pkg{n // (per_dir * 20):03}" / f"mod{(n // per_dir) % 20:02}"
            directory.mkdir(parents=True, exist_ok=True)
            base = str(directory)
        os.close(os.open(os.path.join(base, f"f{n:06}{suffixes[n % 5]}"), flags, 0o644))
    since = time.time() + 100  # after every ctime: only files touched below are recent
    step = max(1, files // RECENT)
    for n in range(0, files, step)[:RECENT]:
        directory = root / f"pkg{n // (per_dir * 20):03}" / f"mod{(n // per_dir) % 20:02}"
        os.utime(directory / f"f{n:06}{suffixes[n % 5]}", (since + 1, since + 1))
    return since, time.perf_counter() - start


def baseline(root: Path, since: float) -> tuple[int, int]:
    """os.walk + os.stat of each file: (files, recent)."""
    files = recent = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                st = os.stat(os.path.join(dirpath, name), follow_symlinks=False)
            except OSError:
                continue
            files += 1
            if st.st_mtime >= since or st.st_ctime >= since:
                recent += 1
    return files, recent


def timed(fn: Callable[[], tuple[int, int]], repeat: int) -> dict[str, Any]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        files, recent = fn()
        times.append(time.perf_counter() - start)
    best, median = min(times), statistics.median(times)
    return {
        "files": files,
        "found": recent,
        "median_s": round(median, 4),
        "best_s": round(best, 4),
        "files_per_s": round(files / median) if median else None,
    }


def run(files: int, repeat: int, parent: str | None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="c3desk-scanbench-", dir=parent))
    try:
        since, build_s = build(tmp, files)
        seen = {path for path, _ in scan(tmp, 0.0, max_files=files + 1).found}

        def ours() -> tuple[int, int]:
            result = scan(tmp, since, max_files=files + 1)
            return result.scanned, len(result.found)

        def ours_seen() -> tuple[int, int]:
            result = scan(tmp, 0.0, seen=seen, max_files=files + 1)
            return result.scanned, len(result.found)

        limits: list[str | None] = []

        def bounded() -> tuple[int, int]:
            deadline = time.monotonic() + SCAN_BUDGET
            result = scan(tmp, since, max_files=MAX_FILES, max_depth=MAX_DEPTH, deadline=deadline)
            limits.append(result.limit)
            return result.scanned, len(result.found)

        loop = asyncio.new_event_loop()
        connection = ConnectionFiles(LocalConnection(WorkerInfo("w", "here", "local")))

        def seam(provider: WorkerFiles) -> Callable[[], tuple[int, int]]:
            def run_scan() -> tuple[int, int]:
                result: ScanResult = loop.run_until_complete(
                    provider.scan(
                        str(tmp), since, seen=frozenset(), max_files=files + 1,
                        max_depth=None, deadline=None, exclude=(),
                    )
                )  # fmt: skip
                return result.scanned, len(result.found)

            return run_scan

        try:
            rows = {
                "scan": timed(ours, repeat),
                "scan, all seen": timed(ours_seen, repeat),
                "os.walk + stat": timed(lambda: baseline(tmp, since), repeat),
                "scan, bounded": timed(bounded, repeat),
                "LocalFiles.scan": timed(seam(LOCAL), repeat),
                "connection scan": timed(seam(connection), repeat),
            }
            rows["scan, bounded"]["limit"] = limits[-1]
            transcript = transcript_timing(tmp / "t.jsonl", repeat, loop)
        finally:
            loop.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows["os.walk + stat"]["median_s"]
    for row in rows.values():
        row["vs_baseline"] = round(row["median_s"] / base, 2) if base else None
    return {
        "files": files,
        "repeat": repeat,
        "tree_dir": str(Path(parent or tempfile.gettempdir()).resolve()),
        "build_s": round(build_s, 2),
        "python": sys.version.split()[0],
        "results": rows,
        "transcript": transcript,
    }


def transcript_lines(start: int, count: int, cwd: str) -> str:
    """``count`` lines as Claude Code writes them: Write calls and their results, in turn."""
    out = []
    for n in range(start, start + count, 2):
        args = {"file_path": f"{cwd}/out/f{n}.txt", "content": "x" * 2048}
        call = {"type": "tool_use", "id": f"t{n}", "name": "Write", "input": args}
        result = {"type": "tool_result", "tool_use_id": f"t{n}", "content": "File created"}
        for kind, block in (("assistant", call), ("user", result)):
            entry = {"type": kind, "cwd": cwd, "message": {"role": kind, "content": [block]}}
            out.append(json.dumps(entry) + "\n")
    return "".join(out)


def transcript_timing(path: Path, repeat: int, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """Seconds to read a 20,000-line transcript whole, then 100 appended lines (directly, and
    through the watcher's file seam)."""
    whole, tail_s, seam_s = [], [], []
    for _ in range(repeat):
        path.write_text(transcript_lines(0, 20_000, "/work/proj"))
        tail, writes = TranscriptTail(path), ReportedWrites("/work/proj")
        start = time.perf_counter()
        for entry in tail.read():
            writes.feed(entry)
        whole.append(time.perf_counter() - start)
        with path.open("a") as out:
            out.write(transcript_lines(20_000, 100, "/work/proj"))
        start = time.perf_counter()
        for entry in tail.read():
            writes.feed(entry)
        tail_s.append(time.perf_counter() - start)
        files = len(writes.take())
        with path.open("a") as out:
            out.write(transcript_lines(20_100, 100, "/work/proj"))
        start = time.perf_counter()
        got = loop.run_until_complete(LOCAL.read_from(tail.path, tail.offset))
        for entry in tail.feed(*got) if got is not None else []:
            writes.feed(entry)
        seam_s.append(time.perf_counter() - start)
        assert len(writes.take()) == 50
    return {
        "bytes": path.stat().st_size,
        "files": files,
        "whole_median_s": round(statistics.median(whole), 4),
        "append_median_s": round(statistics.median(tail_s), 5),
        "append_seam_median_s": round(statistics.median(seam_s), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="parent of the temporary tree")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    report = run(args.files, args.repeat, args.dir)
    if not args.json_only:
        print(
            f"{report['files']:,} files in {report['tree_dir']} (built in {report['build_s']} s), "
            f"median of {report['repeat']}, Python {report['python']}"
        )
        print(
            f"{'method':<16} {'files':>8} {'found':>6} {'median s':>9} {'best s':>8} "
            f"{'files/s':>10} {'vs base':>8}"
        )
        for name, row in report["results"].items():
            print(
                f"{name:<16} {row['files']:>8,} {row['found']:>6} {row['median_s']:>9.3f} "
                f"{row['best_s']:>8.3f} {row['files_per_s']:>10,} {row['vs_baseline']:>8.2f}"
                + (f"  (stopped: {row['limit']})" if row.get("limit") else "")
            )
        t = report["transcript"]
        print(
            f"transcript {t['bytes'] / 1e6:.1f} MB, {t['files']:,} files: read whole in "
            f"{t['whole_median_s']:.3f} s, 100 appended lines in {t['append_median_s']:.4f} s "
            f"({t['append_seam_median_s']:.4f} s through LocalFiles)"
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
