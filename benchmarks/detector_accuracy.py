"""Classify every labelled screen under tests/fixtures/screens; print accuracy and timing.

Usage: python benchmarks/detector_accuracy.py [--json-only] [--repeat N]

Prints a table per profile (screens, correct state+reason, correct approvable, classify()
time per screen) and the same figures as JSON on the last line. A benchmark: it never fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from c3desk.core.agents import BUILTIN_PROFILES  # noqa: E402
from c3desk.core.detector import classify  # noqa: E402

SCREENS = ROOT / "tests" / "fixtures" / "screens"


def load(path: Path) -> tuple[str, str, bool, int | None, list[str]]:
    """(state, reason, approvable, cursor row, lines) of one fixture (see its README)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header: dict[str, str] = {}
    while lines and lines[0].startswith("#: "):
        header.update(item.split("=", 1) for item in lines.pop(0)[3:].split())
    state, reason, _name = path.stem.split("__")
    cursor = int(header["cursor"]) if "cursor" in header else None
    return state, reason, header.get("approvable") == "yes", cursor, lines


def run(repeat: int) -> dict[str, Any]:
    per_profile: dict[str, dict[str, Any]] = {}
    misses: list[dict[str, str]] = []
    for path in sorted(SCREENS.glob("*/*.txt")):
        profile_name = path.parent.name
        profile = BUILTIN_PROFILES[profile_name]
        state, reason, approvable, cursor, lines = load(path)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = classify(lines, cursor, profile)
            times.append(time.perf_counter() - start)
        row = per_profile.setdefault(
            profile_name, {"screens": 0, "correct": 0, "approvable_correct": 0, "times": []}
        )
        row["screens"] += 1
        row["times"].append(statistics.median(times))
        if (result.state, result.reason) == (state, reason):
            row["correct"] += 1
        else:
            misses.append(
                {
                    "screen": f"{profile_name}/{path.name}",
                    "expected": f"{state}/{reason}",
                    "got": f"{result.state}/{result.reason}",
                }
            )
        if result.approvable == approvable:
            row["approvable_correct"] += 1
    report: dict[str, Any] = {"profiles": {}, "misses": misses, "repeat": repeat}
    for name, row in sorted(per_profile.items()):
        times_us = [t * 1e6 for t in row["times"]]
        report["profiles"][name] = {
            "screens": row["screens"],
            "accuracy": row["correct"] / row["screens"],
            "approvable_accuracy": row["approvable_correct"] / row["screens"],
            "classify_us_median": statistics.median(times_us),
            "classify_us_max": max(times_us),
        }
    total = sum(r["screens"] for r in per_profile.values())
    report["total"] = {
        "screens": total,
        "accuracy": sum(r["correct"] for r in per_profile.values()) / max(total, 1),
        "approvable_accuracy": sum(r["approvable_correct"] for r in per_profile.values())
        / max(total, 1),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per screen")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    report = run(max(1, args.repeat))
    if not args.json_only:
        print(
            f"{'profile':<8} {'screens':>7} {'state+reason':>12} {'approvable':>10} "
            f"{'median µs':>10} {'max µs':>8}"
        )
        for name, row in report["profiles"].items():
            print(
                f"{name:<8} {row['screens']:>7} {row['accuracy']:>12.1%} "
                f"{row['approvable_accuracy']:>10.1%} {row['classify_us_median']:>10.1f} "
                f"{row['classify_us_max']:>8.1f}"
            )
        total = report["total"]
        print(
            f"{'total':<8} {total['screens']:>7} {total['accuracy']:>12.1%} "
            f"{total['approvable_accuracy']:>10.1%}"
        )
        for miss in report["misses"]:
            print(f"MISS {miss['screen']}: expected {miss['expected']}, got {miss['got']}")
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
