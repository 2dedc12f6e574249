"""Crash consistency (issue 18): a headless instance killed with SIGKILL at random moments while
it starts, completes and reorders sessions, checked after every kill by ``benchmarks/crash.py``
(which runs 200 kills; here 5, half of the rounds with hosted sessions).

After each kill: ``PRAGMA integrity_check`` is ok, every change the command line acknowledged is
in the database (the queue in the order acknowledged moves made), statuses agree with their
recorded transitions, no agent or tmux client outlives its instance but hosted ones; the next
start reconciles every session the kill left active (reattached with a live process, or failed
as lost); at the end no process of the run is left.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _benchmark() -> ModuleType:
    path = ROOT / "benchmarks" / "crash.py"
    spec = importlib.util.spec_from_file_location("crash_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_five_sigkills_leave_a_consistent_database_and_no_process() -> None:
    crash = _benchmark()
    seed = random.randrange(10**6)
    run = crash.Run(5, seed, hosted_share=0.5)
    figures = run.run()
    data = crash.report(figures)
    summary = f"seed {seed}\n{crash.table(data)}"
    assert not figures.failures, summary + "\n" + "\n".join(figures.failures)
    assert figures.kills == 5
    # Every start that was not killed during its start-up reconciled what it found, and the
    # last start (no kill) did too.
    assert figures.reconciled_starts >= 5 - figures.early_kills + 1, summary
    assert data["checks"]["integrity"] == 6
    assert sum(data["ops"]["add"].values()) > 0
    assert not run.root.exists()
