"""Start-up time of the desktop app: process spawn to the first paint of the main window.

A temporary data directory gets N sessions (default 1,000: a few active-looking ones made
completed, the rest queued, completed and failed) with the queue paused, so nothing runs; then a
child process runs the app's real start-up path (QApplication, database, engine and control
socket, main window, show) and reports when the window first painted. Repeated a few times.

    python benchmarks/startup.py [--sessions 1000] [--repeat 5]

Required (issue 7): ≤ 1.0 s with 1,000 sessions. Prints a table and JSON; never fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import asyncio, os, sys, time
    spawned = float(sys.argv[2])
    from pathlib import Path
    from PySide6.QtCore import QEvent, QObject, QSettings
    from PySide6.QtWidgets import QApplication
    import qasync
    from c3desk.config import Paths
    from c3desk.store import database
    from c3desk.runtime import Instance
    from c3desk.ui.main_window import MainWindow
    from c3desk.ui.theme import apply_theme

    paths = Paths(Path(sys.argv[1]))
    app = QApplication([])
    apply_theme(app, "dark")
    database.connect(paths.db)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    class FirstPaint(QObject):
        def __init__(self):
            super().__init__()
            self.at = None
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and self.at is None:
                self.at = time.time()
            return False

    async def main():
        instance = Instance(paths)
        await instance.start()
        settings = QSettings(str(paths.home / "ui.ini"), QSettings.Format.IniFormat)
        window = MainWindow(paths, instance.engine, settings=settings, on_quit=lambda: None)
        probe = FirstPaint()
        window.installEventFilter(probe)
        window.show()
        while probe.at is None:
            await asyncio.sleep(0.001)
        print(f"{probe.at - spawned:.4f}")
        await instance.stop()

    with loop:
        loop.run_until_complete(main())
    """
)


def populate(home: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    from c3desk.config import Paths
    from c3desk.core import settings as cfg
    from c3desk.store import database
    from c3desk.store.models import Session, db

    database.connect(Paths(home).db)
    cfg.set_setting("queue_paused", "true")
    rows = []
    queued = 0
    for i in range(n):
        status = ("queued", "completed", "failed", "completed")[i % 4]
        row = {
            "id": f"s-{i:06}",
            "title": f"Session {i} of the benchmark",
            "working_directory": f"/home/dev/src/p{i % 17}",
            "status": status,
        }
        if status == "queued":
            queued += 1
            row["position"] = queued
        else:
            row["started_at"] = row["completed_at"] = "2026-11-26 10:00:00"
        rows.append(row)
    with db.atomic():
        for start in range(0, n, 500):
            Session.insert_many(rows[start : start + 500]).execute()
    database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="c3desk-startup-"))
    populate(home, args.sessions)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env["PYTHONPATH"] = str(ROOT)
    times = []
    for _ in range(args.repeat):
        spawned = time.time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(home), repr(spawned)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
    median = statistics.median(times)
    print(f"start-up to first paint, {args.sessions} sessions, {args.repeat} runs")
    print(f"{'median s':>10}{'best s':>10}{'worst s':>10}{'required':>10}")
    print(f"{median:>10.3f}{min(times):>10.3f}{max(times):>10.3f}{'<= 1.0':>10}")
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "runs_s": times,
                "median_s": median,
                "required_s": 1.0,
                "ok": median <= 1.0,
            }
        )
    )


if __name__ == "__main__":
    main()
