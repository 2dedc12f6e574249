"""Issue 15: `settings set max_concurrent_sessions N` says when the workers' limits hold N back,
on stderr and with exit status 0; `worker list` says it too."""

from __future__ import annotations

import os
from typing import Any


def local_name(cli: Any) -> str:
    workers = cli("worker", "list", "--json", check=True).json()
    return str(next(w["name"] for w in workers if w["type"] == "local"))


def test_a_fresh_home_runs_the_default_global_limit_without_a_warning(cli: Any) -> None:
    workers = cli("worker", "list", "--json", check=True).json()
    assert [w["max_sessions"] for w in workers] == [max(4, os.cpu_count() or 1)]
    result = cli("settings", "set", "max_concurrent_sessions", "4", check=True)
    assert (result.stdout, result.stderr) == ("max_concurrent_sessions = 4\n", "")


def test_setting_the_global_limit_above_the_workers_warns(cli: Any) -> None:
    name = local_name(cli)
    cli("worker", "set", name, "--max-sessions", "2", check=True)
    result = cli("settings", "set", "max_concurrent_sessions", "9")
    assert result.returncode == 0
    assert result.stdout == "max_concurrent_sessions = 9\n"
    assert result.stderr == (
        f"c3desk: warning: only 2 sessions can run at once, not 9: worker {name!r} allows 2 "
        f"(c3desk worker set {name} --max-sessions N)\n"
    )
    assert cli("settings", "--json", check=True).json()["max_concurrent_sessions"] == 9

    listed = cli("worker", "list", check=True)
    assert "only 2 sessions can run at once, not 9" in listed.stderr
    assert "2 sessions can run" not in listed.stdout


def test_a_disconnected_worker_is_named_and_not_counted(cli: Any) -> None:
    name = local_name(cli)
    cli("worker", "set", name, "--max-sessions", "2", check=True)
    cli("worker", "add", "vps", "--host", "127.0.0.1", "--max-sessions", "5", check=True)
    stderr = cli("settings", "set", "max_concurrent_sessions", "6", check=True).stderr
    assert "only 2 sessions can run at once, not 6" in stderr
    assert "not counted while disconnected: 'vps' (5)" in stderr


def test_no_warning_once_the_worker_allows_enough(cli: Any) -> None:
    name = local_name(cli)
    cli("worker", "set", name, "--max-sessions", "9", check=True)
    result = cli("settings", "set", "max_concurrent_sessions", "9", check=True)
    assert result.stderr == ""
    assert cli("settings", "set", "queue_paused", "true", check=True).stderr == ""
