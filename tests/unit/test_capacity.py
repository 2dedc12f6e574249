"""Issue 15, capacity that tells the truth: the effective capacity (min of the global limit and
the connected workers' limits), its warning, and the local worker's limit at first start."""

from __future__ import annotations

import os
import sqlite3

import pytest

from c3desk.config import Paths
from c3desk.core import capacity as cap
from c3desk.core import settings as core_settings
from c3desk.core import workers as core_workers
from c3desk.store import database
from c3desk.store.models import Worker


def test_effective_is_the_global_limit_when_the_workers_allow_more() -> None:
    c = cap.of(4, [cap.WorkerLimit("laptop", 4, True), cap.WorkerLimit("vps", 3, True)])
    assert (c.workers_allow, c.effective, c.limited_by_workers) == (7, 4, False)
    assert c.warning() is None and c.status_note() is None


def test_workers_limits_cap_the_global_limit_and_the_warning_names_them() -> None:
    c = cap.of(9, [cap.WorkerLimit("laptop", 2, True)])
    assert (c.workers_allow, c.effective) == (2, 2)
    assert c.warning() == (
        "only 2 sessions can run at once, not 9: worker 'laptop' allows 2 "
        "(c3desk worker set laptop --max-sessions N)"
    )
    assert c.status_note() == "limit 9; workers allow 2"


def test_disconnected_workers_are_not_counted_but_named() -> None:
    c = cap.of(
        9,
        [
            cap.WorkerLimit("laptop", 2, True),
            cap.WorkerLimit("vps", 5, False),
            cap.WorkerLimit("box", 1, True),
        ],
    )
    assert (c.workers_allow, c.effective) == (3, 3)
    assert c.warning() == (
        "only 3 sessions can run at once, not 9: worker 'laptop' allows 2, worker 'box' allows 1 "
        "(c3desk worker set NAME --max-sessions N); not counted while disconnected: 'vps' (5)"
    )


def test_no_connected_worker_means_nothing_runs() -> None:
    c = cap.of(4, [cap.WorkerLimit("vps", 2, False)])
    assert (c.workers_allow, c.effective) == (0, 0)
    assert c.warning() == (
        "no session can run now, not 4: no worker is connected; "
        "not counted while disconnected: 'vps' (2)"
    )
    assert c.status_note() == "limit 4; workers allow 0"


def test_the_hint_quotes_a_worker_name_for_the_shell() -> None:
    warning = cap.of(3, [cap.WorkerLimit("my box", 1, True)]).warning()
    assert warning is not None and "(c3desk worker set 'my box' --max-sessions N)" in warning


def test_a_single_session_is_said_in_the_singular() -> None:
    warning = cap.of(2, [cap.WorkerLimit("one", 1, True)]).warning()
    assert warning is not None and warning.startswith("only 1 session can run at once, not 2")


@pytest.mark.parametrize(
    ("global_limit", "cpus", "expected"),
    [(4, 2, 4), (4, 16, 16), (4, None, 4), (4, 500, 64), (9, 2, 9)],
)
def test_local_worker_limit_is_the_global_limit_or_the_cpu_count(
    global_limit: int, cpus: int | None, expected: int
) -> None:
    assert database.local_worker_limit(global_limit, cpus) == expected


def test_a_fresh_database_reaches_the_global_default(db: Paths) -> None:
    local = core_workers.local_worker()
    assert local.max_sessions == max(4, os.cpu_count() or 1)
    current = cap.current()
    assert current.global_limit == 4
    assert current.effective == 4 and current.warning() is None


def test_current_reads_statuses_and_limits_from_the_database(db: Paths) -> None:
    local = core_workers.local_worker()
    core_workers.update_worker(local.name, max_sessions=2)
    core_workers.add_worker("vps", host="127.0.0.1", max_sessions=3)
    core_settings.set_setting("max_concurrent_sessions", "9")
    assert cap.current().effective == 2  # the remote one has never connected
    Worker.update(status="connected").where(Worker.name == "vps").execute()
    assert (cap.current().effective, cap.current().workers_allow) == (5, 5)
    core_settings.set_setting("max_concurrent_sessions", "3")
    assert (cap.current().effective, cap.current().warning()) == (3, None)


def test_an_existing_local_worker_keeps_its_limit(db: Paths) -> None:
    # A database from before this change (its local worker at the old default 2) or one whose
    # user chose 2: opening it again changes nothing.
    local = core_workers.local_worker()
    core_workers.update_worker(local.name, max_sessions=2)
    database.close()
    database.connect(db.db)
    assert core_workers.local_worker().max_sessions == 2
    with sqlite3.connect(db.db) as conn:
        assert conn.execute("SELECT max_sessions FROM workers").fetchall() == [(2,)]


def test_a_restart_keeps_a_limit_the_user_set(db: Paths) -> None:
    core_workers.update_worker(core_workers.local_worker().name, max_sessions=7)
    database.close()
    database.connect(db.db)
    assert core_workers.local_worker().max_sessions == 7
