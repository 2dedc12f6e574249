"""The dialogs' read models (core.views.dialogs) against a real SQLite file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as core_settings
from c3desk.core import workers as core_workers
from c3desk.core.views import dialogs as views
from c3desk.store import database
from c3desk.store.models import Worker


def test_workers_start_with_the_local_worker_as_plain_rows(db: Paths) -> None:
    rows = views.workers()
    assert len(rows) == 1
    (local,) = rows
    assert type(local) is views.WorkerRow
    assert local.local
    assert local.name == core_workers.local_worker().name
    assert local.max_sessions >= 4  # the global default can be reached
    with pytest.raises(dataclasses.FrozenInstanceError):
        local.name = "renamed"  # type: ignore[misc]


def test_workers_carry_the_ssh_details_in_the_cli_order(db: Paths, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    core_workers.add_worker("zeta", host="z.example.org")
    core_workers.add_worker(
        "alpha", host="a.example.org", port=2222, user="ci", key_path=str(key), max_sessions=5
    )
    rows = views.workers()
    assert [r.name for r in rows] == [w.name for w in core_workers.list_workers()]
    assert [r.name for r in rows][1:] == ["alpha", "zeta"]
    assert rows[0].local and not rows[1].local
    alpha = rows[1]
    assert alpha == views.WorkerRow(
        name="alpha",
        type="remote",
        status="disconnected",
        host="a.example.org",
        port=2222,
        user="ci",
        key_path=str(key.resolve()),
        max_sessions=5,
        last_heartbeat=None,
        id=str(Worker.get(Worker.name == "alpha").id),
        active=0,
    )
    assert (rows[2].user, rows[2].key_path, rows[2].port) == (None, None, 22)


def test_worker_by_name_follows_changes(db: Paths) -> None:
    assert views.worker("build-box") is None
    core_workers.add_worker("build-box", host="a.example.org")
    before = views.worker("build-box")
    assert before is not None and before.host == "a.example.org"

    core_workers.update_worker("build-box", new_name="builder", max_sessions=3)
    Worker.update(status="connected", last_heartbeat="2026-12-06T21:00:00Z").where(
        Worker.name == "builder"
    ).execute()
    assert views.worker("build-box") is None
    after = views.worker("builder")
    assert after is not None
    assert (after.max_sessions, after.status) == (3, "connected")
    assert after.last_heartbeat == "2026-12-06T21:00:00Z"
    assert before.name == "build-box"  # a row read earlier is a snapshot, not a live object


def test_workers_count_their_running_sessions(db: Paths) -> None:
    core_workers.add_worker("build-box", host="a.example.org", max_sessions=3)
    for title in ("one", "two", "three"):
        s = sess.create_session(title=title, working_directory="/srv/x", worker="build-box")
        if title != "three":
            sess.transition(s.id, "active", pid=1)
    row = views.worker("build-box")
    assert row is not None and (row.active, row.max_sessions) == (2, 3)
    assert {r.name: r.active for r in views.workers()}["build-box"] == 2
    assert views.workers()[0].active == 0  # the local worker runs nothing


def test_settings_follow_the_specs_with_their_help(db: Paths) -> None:
    rows = views.settings()
    assert [s.key for s in rows] == list(core_settings.SPECS)
    stored = core_settings.get_settings()
    for row in rows:
        assert row.value == stored[row.key]
        assert row.help == core_settings.SPECS[row.key].help
    by_key = {s.key: s.value for s in rows}
    assert by_key["queue_paused"] is False  # a boolean, not SQLite's 0

    core_settings.set_setting("queue_paused", "true")
    core_settings.set_setting("max_visible_sessions", "5")
    assert views.setting("queue_paused") is True
    assert views.setting("max_visible_sessions") == 5
    assert views.setting("theme") == stored["theme"]
    assert views.setting("no_such_setting") is None


def test_storage_errors_cover_a_write_the_database_refuses(db: Paths) -> None:
    database.close()
    database.connect(db.db, read_only=True)
    assert views.workers()[0].local  # reading still works
    with pytest.raises(views.STORAGE_ERRORS):
        sess.create_session(title="t", working_directory=str(db.home))
    with pytest.raises(views.STORAGE_ERRORS):
        core_settings.set_setting("theme", "light")
