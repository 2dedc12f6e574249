"""benchmarks/soak.py's report maths and requirement checks (no run, no timing)."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak_benchmark"] = module
    spec.loader.exec_module(module)
    return module


def passing() -> dict[str, Any]:
    return {
        "sessions": 50,
        "sessions_completed": 50,
        "bytes": {"sessions_mismatched": 0, "sessions_checked": 50},
        "lag_ms": {"p50": 1.0, "p99": 30.0, "max": 120.0},
        "rss": {"growth_pct": 3.5},
        "fds": {"before": 11, "after": 11},
        "children_left": [],
        "cli_sends": {"ok": 40, "failed": 0},
    }


def test_a_clean_run_meets_every_requirement(soak: ModuleType) -> None:
    assert all(soak.requirements(passing()).values())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r.update(sessions_completed=49), "no session lost or stuck"),
        (lambda r: r["bytes"].update(sessions_mismatched=1), "every byte"),
        (lambda r: r["bytes"].update(sessions_checked=49), "every byte"),
        (lambda r: r["lag_ms"].update(p99=50.1), "lag p99"),
        (lambda r: r["lag_ms"].update(p99=None), "lag p99"),
        (lambda r: r["rss"].update(growth_pct=10.5), "RSS growth"),
        (lambda r: r["rss"].update(growth_pct=None), "RSS growth"),
        (lambda r: r["fds"].update(after=12), "open fds"),
        (lambda r: r.update(children_left=["123 sshd"]), "no child process"),
        (lambda r: r["cli_sends"].update(failed=1), "every c3desk send"),
        (lambda r: r["cli_sends"].update(ok=0), "every c3desk send"),
    ],
)
def test_each_failure_is_named(soak: ModuleType, change: Any, named: str) -> None:
    report = copy.deepcopy(passing())
    change(report)
    failed = [name for name, ok in soak.requirements(report).items() if not ok]
    assert len(failed) == 1 and failed[0].startswith(named), failed


def test_lag_at_the_limit_holds(soak: ModuleType) -> None:
    report = passing()
    report["lag_ms"]["p99"] = 50.0
    report["rss"]["growth_pct"] = 10.0
    assert all(soak.requirements(report).values())


def test_rss_growth_is_measured_from_the_first_minute(soak: ModuleType) -> None:
    # Start-up growth (before 60 s) does not count; a later peak does, even if RSS falls after.
    samples = [(0.0, 50_000), (30.0, 90_000), (60.0, 100_000), (90.0, 108_000), (119.0, 101_000)]
    growth = soak.rss_growth(samples, wall=120.0)
    assert growth["baseline_at_s"] == 60.0
    assert growth["baseline_kb"] == 100_000
    assert growth["max_after_kb"] == 108_000
    assert growth["pct"] == 8.0


def test_rss_growth_of_a_short_run_is_from_its_middle(soak: ModuleType) -> None:
    samples = [(0.0, 50_000), (10.0, 80_000), (20.0, 80_000), (28.0, 84_000)]
    growth = soak.rss_growth(samples, wall=30.0)
    assert growth["baseline_at_s"] == 20.0
    assert growth["pct"] == 5.0
    assert soak.rss_growth([], wall=30.0)["pct"] is None


def test_percentiles(soak: ModuleType) -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert soak.percentiles(values) == {"p50": 51.0, "p99": 100.0, "max": 100.0}
    assert soak.percentiles([0.002]) == {"p50": 2.0, "p99": 2.0, "max": 2.0}
    assert soak.percentiles([])["p99"] is None


def test_compare_finds_the_first_difference(soak: ModuleType, tmp_path: Path) -> None:
    sent = tmp_path / "sent"
    held = tmp_path / "held.log"
    data = bytes(range(256)) * 1000
    sent.write_bytes(data)
    held.write_bytes(data)
    assert soak.compare(sent, held) == {
        "sent": 256_000,
        "held": 256_000,
        "first_difference_at": None,
    }
    held.write_bytes(data[:100_000] + b"X" + data[100_001:])
    assert soak.compare(sent, held)["first_difference_at"] == 100_000
    held.write_bytes(data[:-5])
    assert soak.compare(sent, held) == {
        "sent": 256_000,
        "held": 255_995,
        "first_difference_at": 255_995,
    }
    assert soak.compare(sent, None)["first_difference_at"] == 0


def test_compare_reads_a_rotated_scrollback_in_order(soak: ModuleType, tmp_path: Path) -> None:
    sent = tmp_path / "sent"
    sent.write_bytes(b"older part|newer part")
    held = tmp_path / "s.log"
    held.with_name("s.log.1").write_bytes(b"older part|")
    held.write_bytes(b"newer part")
    assert soak.compare(sent, held)["first_difference_at"] is None


def test_rounds_fill_the_planned_time(soak: ModuleType) -> None:
    # 50 sessions, 9 at a time, 10 minutes: each session about 108 s.
    rounds = soak.rounds_for(10, 50, 9)
    assert 15 <= rounds <= 25
    assert soak.rounds_for(0.1, 50, 9) == 1
    prompt = soak.agent_prompt(3, 2, 120_000, 40_000)
    assert prompt.count("flood 120000 40000") == 2
    assert prompt.count("ask make check-3-") == 2
    assert prompt.endswith("; exit 0")


def test_bytes_printed_before_the_agent_are_reported_not_lost(
    soak: ModuleType, tmp_path: Path
) -> None:
    sent = tmp_path / "sent"
    sent.write_bytes(b"the agent's screen")
    held = tmp_path / "s.log"
    held.write_bytes(b"pyenv: cannot rehash\r\nthe agent's screen")
    found = soak.compare_session(sent, held)
    assert found["first_difference_at"] is None
    assert found["before_agent"] == "pyenv: cannot rehash\r\n"
    held.write_bytes(b"pyenv: cannot rehash\r\nthe agent's scree")
    assert soak.compare_session(sent, held)["first_difference_at"] == 0


def test_the_lag_histogram_agrees_with_sorting_the_samples(soak: ModuleType) -> None:
    """The lag recorder keeps a fixed histogram instead of every sample; its percentiles are
    the sorted samples' to within a bin (0.05 ms), its maximum exact, late lags in the last bin."""
    import random

    rng = random.Random(18)
    values = [rng.expovariate(1 / 0.002) for _ in range(20_000)] + [7.5, 0.0]
    recorder = soak.LagRecorder()
    for v in values:
        recorder.add(v)
    got = recorder.percentiles()
    want = soak.percentiles(values)
    assert got["max"] == want["max"] == 7500.0
    for key in ("p50", "p99"):
        assert abs(got[key] - want[key]) <= 0.1, (key, got, want)
    assert soak.LagRecorder().percentiles() == {"p50": None, "p99": None, "max": None}
