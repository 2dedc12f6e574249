"""Time the artifact scan over a 100,000-file tree against a plain os.walk + stat baseline.

Usage: python benchmarks/artifact_scan.py [--files N] [--repeat N] [--dir PATH] [--json-only]

Builds the tree in a temporary directory (under --dir when given: a tmpfs such as /dev/shm
builds much faster than a busy disk), then times, in the same run and on the same warm cache:

- ``scan`` with a few recent files (the usual periodic pass),
- ``scan`` with every file already in ``seen`` (no stat at all for known paths),
- ``os.walk`` + ``os.stat`` of every file with the same mtime/ctime test (the baseline).

The tree holds only files the scan does not ignore, so both sides do the same work. Prints a
table and the same figures as JSON on the last line. A benchmark: it never fails.
"""

from __future__ import annotations

import argparse
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

from c3desk.core.artifacts import scan  # noqa: E402

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

        rows = {
            "scan": timed(ours, repeat),
            "scan, all seen": timed(ours_seen, repeat),
            "os.walk + stat": timed(lambda: baseline(tmp, since), repeat),
        }
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
            )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
