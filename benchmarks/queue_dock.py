"""Time the queue dock with many sessions: load, filter, row refresh, drop, scroll.

Usage: python benchmarks/queue_dock.py [--sessions N] [--repeat N] [--json-only]

Fills a temporary database with N sessions (default 10,000) in every state, then times, offscreen:

- ``refresh``: QueueModel.refresh() (one SELECT of tuples, grouping, sorting, model reset),
- ``refresh+view``: the same with the dock shown (the flat table view: fixed row heights, so
  its layout does not depend on the number of rows),
- ``filter``: typing a filter into the dock's box, model and view together (target: ≤ 50 ms),
  for a narrowing sequence of keystrokes and for clearing the filter,
- ``refresh_session``: one row re-read and updated after an engine event,
- ``collapse``: collapsing or expanding the Queued group (4,500 rows) by a click's model call,
- ``drop``: a simulated drop that moves a queued session (move_session + re-read of positions),
- ``scroll``: repainting the view at 50 scroll positions across all rows.

Prints a table and the same figures as JSON on the last line. A benchmark: it never fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from c3desk.config import Paths  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, Worker, db  # noqa: E402
from c3desk.ui.queue_dock import QueueDock  # noqa: E402
from c3desk.ui.queue_model import Group, QueueModel  # noqa: E402

FILTER_TARGET_MS = 50.0
WORDS = ("fix", "refactor", "review", "port", "test", "document", "benchmark", "deploy")


def ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def populate(n: int) -> None:
    """N sessions: 1% need input, 4% active, 45% queued, 40% completed, 10% failed."""
    workers = [w for (w,) in Worker.select(Worker.id).tuples()]
    now = time.time()
    rows: list[dict[str, Any]] = []
    position = 0
    for i in range(n):
        slot = i % 100
        status = (
            "active"
            if slot < 5
            else "queued"
            if slot < 50
            else "completed"
            if slot < 90
            else "failed"
        )
        row: dict[str, Any] = {
            "id": f"bench-{i:06}",
            "title": f"{WORDS[i % len(WORDS)]} module {i} of project {i % 37}",
            "status": status,
            "working_directory": f"/home/dev/src/project{i % 37}/pkg{i % 11}",
            "needs_input": slot == 0,
            "lock": i % 97 == 0,
            "continuation_count": i % 4,
            "created_at": ts(now - 100_000 + i),
            "updated_at": ts(now - 50_000 + i),
        }
        if status == "queued":
            position += 1
            row["position"] = position
        else:
            row["started_at"] = ts(now - 40_000 + i)
            row["worker"] = workers[0]
            row["claude_session_id"] = f"c-{i:06}"
        if status in ("completed", "failed"):
            row["completed_at"] = ts(now - 30_000 + i * 2)
        rows.append(row)
    with db.atomic():
        for start in range(0, n, 500):
            Session.insert_many(rows[start : start + 500]).execute()


MINIMA: dict[str, float] = {}


def timed(
    fn: Callable[[], object],
    repeat: int,
    setup: Callable[[], object] | None = None,
    name: str | None = None,
) -> float:
    """Median milliseconds of ``repeat`` runs of ``fn`` (``setup`` untimed before each).

    The fastest run is kept in MINIMA under ``name``: on a shared machine it is the cost of the
    work itself, the median includes the neighbours' load.
    """
    samples = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    if name is not None:
        MINIMA[name] = min(samples)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    results: dict[str, Any] = {"sessions": args.sessions, "filter_target_ms": FILTER_TARGET_MS}
    with tempfile.TemporaryDirectory() as tmp:
        database.connect(Paths(Path(tmp)).db)
        t0 = time.perf_counter()
        populate(args.sessions)
        results["populate_ms"] = (time.perf_counter() - t0) * 1000

        model = QueueModel()
        results["refresh_ms"] = timed(model.refresh, args.repeat)
        dock = QueueDock(model)
        dock.resize(700, 900)
        dock.show()
        app.processEvents()

        def refresh_shown() -> None:
            model.refresh()
            app.processEvents()

        results["refresh_with_view_ms"] = timed(refresh_shown, args.repeat)

        def type_filter(text: str) -> Callable[[], None]:
            def run() -> None:
                dock.filter_edit.setText(text)
                app.processEvents()

            return run

        def clear() -> None:
            dock.filter_edit.clear()
            app.processEvents()

        keystrokes = ["p", "pr", "pro", "proj", "project1", "project17"]
        per_key = {}
        for text in keystrokes:
            previous = text[:-1]
            per_key[text] = timed(
                type_filter(text),
                args.repeat,
                setup=type_filter(previous) if previous else clear,
                name=f"filter {text!r}",
            )
        results["filter_keystroke_ms"] = per_key
        results["filter_worst_keystroke_ms"] = max(per_key.values())
        results["filter_cold_ms"] = timed(
            type_filter("pkg3"), args.repeat, setup=clear, name="filter cold 'pkg3'"
        )
        results["filter_miss_ms"] = timed(type_filter("no such thing"), args.repeat, setup=clear)
        results["filter_clear_ms"] = timed(
            clear, args.repeat, setup=type_filter("project17"), name="filter clear"
        )
        results["filter_model_only_ms"] = timed(
            lambda: model.set_filter("pkg3"), args.repeat, setup=lambda: model.set_filter("")
        )
        model.set_filter("")
        app.processEvents()
        results["shown_after_filter_project17"] = None
        dock.filter_edit.setText("project17")
        results["shown_after_filter_project17"] = sum(model.group_count(g) for g in Group)
        clear()

        target = model.session_ids(Group.ACTIVE)[0]
        results["refresh_session_ms"] = timed(
            lambda: (model.refresh_session(target), model.flush()), args.repeat
        )

        def toggle_queued() -> None:
            model.toggle_group(Group.QUEUED)
            app.processEvents()

        results["collapse_ms"] = timed(toggle_queued, args.repeat * 2)
        model.set_collapsed(Group.QUEUED, False)
        app.processEvents()

        queued = model.group_index(Group.QUEUED)

        def drop_last_to_top() -> None:
            last = model.session_ids(Group.QUEUED)[-1]
            data = model.mimeData([model.index_of(last)])
            model.dropMimeData(data, Qt.DropAction.MoveAction, 0, 0, queued)

        results["drop_ms"] = timed(drop_last_to_top, args.repeat)

        bar = dock.view.verticalScrollBar()

        def scroll() -> None:
            for step in range(50):
                bar.setValue(bar.maximum() * step // 49)
                dock.view.viewport().repaint()

        results["scroll_50_repaints_ms"] = timed(scroll, 3)
        dock.close()
        database.close()

    results["filter_min_ms"] = dict(MINIMA)
    results["load_average"] = os.getloadavg()[0]
    results["filter_meets_target_best_run"] = max(MINIMA.values()) <= FILTER_TARGET_MS
    results["filter_meets_target"] = (
        max(
            results["filter_worst_keystroke_ms"],
            results["filter_cold_ms"],
            results["filter_clear_ms"],
        )
        <= FILTER_TARGET_MS
    )
    if not args.json_only:
        print(f"queue dock, {args.sessions:,} sessions (median of {args.repeat})")
        print(f"{'measure':<34}{'ms':>10}")
        print("-" * 44)
        for key, value in results.items():
            if key.endswith("_ms") and isinstance(value, float):
                print(f"{key[:-3]:<34}{value:>10.1f}")
        print()
        print(f"{'filter (dock: model + view + paint)':<38}{'median':>8}{'best':>8}")
        for name, best in MINIMA.items():
            key = name.removeprefix("filter ").strip("'")
            median = per_key.get(key)
            if median is None:
                median = results["filter_clear_ms" if "clear" in name else "filter_cold_ms"]
            print(f"{'  ' + name:<38}{median:>8.1f}{best:>8.1f}")
        print(f"load average: {results['load_average']:.2f} on {os.cpu_count()} CPUs")
        verdict = "yes" if results["filter_meets_target"] else "NO"
        best = "yes" if results["filter_meets_target_best_run"] else "NO"
        print(f"filter ≤ {FILTER_TARGET_MS:.0f} ms: median {verdict}, best run {best}")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
