"""Queue positions, state transitions, events and validation of the session operations."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import workers as wrk
from c3desk.core.states import STATUSES, TRANSITIONS
from c3desk.errors import InvalidInput, NotFound, Refused
from c3desk.store.models import Session


def add(title: str, tmp: Path, **kw: object) -> Session:
    return sess.create_session(title=title, working_directory=str(tmp), **kw)  # type: ignore[arg-type]


def positions() -> list[tuple[str, int]]:
    return [(s.title, s.position) for s in sess.list_sessions("queued")]


def test_new_sessions_queue_at_the_end(db: Paths, tmp_path: Path) -> None:
    for name in "abc":
        add(name, tmp_path)
    assert positions() == [("a", 1), ("b", 2), ("c", 3)]


def test_move_shifts_the_others(db: Paths, tmp_path: Path) -> None:
    ids = {name: add(name, tmp_path).id for name in "abcde"}
    sess.move_session(ids["e"], 1)
    assert positions() == [("e", 1), ("a", 2), ("b", 3), ("c", 4), ("d", 5)]
    sess.move_session(ids["a"], 5)
    assert positions() == [("e", 1), ("b", 2), ("c", 3), ("d", 4), ("a", 5)]
    sess.move_session(ids["c"][:8], 2)
    assert positions() == [("e", 1), ("c", 2), ("b", 3), ("d", 4), ("a", 5)]
    with pytest.raises(InvalidInput, match="6"):
        sess.move_session(ids["c"], 6)
    with pytest.raises(InvalidInput, match="0"):
        sess.move_session(ids["c"], 0)


def test_leaving_the_queue_closes_the_gap(db: Paths, tmp_path: Path) -> None:
    ids = {name: add(name, tmp_path).id for name in "abcd"}
    sess.transition(ids["b"], "active", pid=123)
    assert positions() == [("a", 1), ("c", 2), ("d", 3)]
    b = Session.get_by_id(ids["b"])
    assert b.position is None and b.started_at is not None and b.pid == 123
    sess.remove_session(ids["a"])
    assert positions() == [("c", 1), ("d", 2)]
    sess.transition(ids["b"], "completed", exit_code=0)
    sess.transition(ids["b"], "queued")
    assert positions() == [("c", 1), ("d", 2), ("b", 3)]
    b = Session.get_by_id(ids["b"])
    # Continued: no longer finished, so no completed_at ("active" with a completed_at froze
    # the Elapsed column); started_at stays the first activation, as the data model says.
    assert b.pid is None and b.completed_at is None
    first_start = b.started_at
    sess.transition(ids["b"], "active")
    b = Session.get_by_id(ids["b"])
    assert b.started_at == first_start and b.activated_at is not None
    assert b.completed_at is None


def test_a_retried_run_is_timed_from_its_own_start(db: Paths, tmp_path: Path) -> None:
    s = add("r", tmp_path)
    Session.update(started_at="2020-01-01 00:00:00").where(Session.id == s.id).execute()
    sess.transition(s.id, "active")
    sess.transition(s.id, "failed", exit_code=1)
    assert Session.get_by_id(s.id).completed_at is not None
    sess.transition(s.id, "queued")
    assert Session.get_by_id(s.id).completed_at is None
    sess.transition(s.id, "active")
    row = Session.get_by_id(s.id)
    assert row.started_at == "2020-01-01 00:00:00"
    assert row.activated_at > "2020-01-02"


@pytest.mark.parametrize("old,new", list(itertools.product(STATUSES, STATUSES)))
def test_only_the_data_model_transitions_are_allowed(
    db: Paths, tmp_path: Path, old: str, new: str
) -> None:
    s = add("x", tmp_path)
    Session.update(status=old, position=1 if old == "queued" else None).where(
        Session.id == s.id
    ).execute()
    before = Session.get_by_id(s.id)
    if (old, new) in TRANSITIONS:
        after = sess.transition(s.id, new)
        assert after.status == new
        assert (after.position is None) == (new != "queued")
        last = sess.events(s.id)[-1]
        assert last.kind == "state" and f'"to": "{new}"' in (last.detail or "")
    else:
        with pytest.raises(Refused):
            sess.transition(s.id, new)
        after = Session.get_by_id(s.id)
        assert after.__data__ == before.__data__


def test_started_at_is_set_on_first_activation_only(db: Paths, tmp_path: Path) -> None:
    s = add("x", tmp_path)
    first = sess.transition(s.id, "active").started_at
    Session.update(started_at="2000-01-01 00:00:00").where(Session.id == s.id).execute()
    sess.transition(s.id, "failed", exit_code=3, failure_reason="boom")
    sess.transition(s.id, "queued")
    again = sess.transition(s.id, "active")
    assert first is not None and again.started_at == "2000-01-01 00:00:00"
    failed = [e for e in sess.events(s.id) if '"to": "failed"' in (e.detail or "")]
    assert "boom" in (failed[0].detail or "")


def test_every_change_is_an_event_and_bumps_updated_at(db: Paths, tmp_path: Path) -> None:
    s = add("x", tmp_path)
    add("y", tmp_path)
    for op in (
        lambda: sess.set_lock(s.id, True),
        lambda: sess.move_session(s.id, 2),
        lambda: sess.set_lock(s.id, False),
    ):
        Session.update(updated_at="2000-01-01 00:00:00").where(Session.id == s.id).execute()
        count = len(sess.events(s.id))
        op()
        assert Session.get_by_id(s.id).updated_at != "2000-01-01 00:00:00"
        assert len(sess.events(s.id)) == count + 1
    assert [e.kind for e in sess.events(s.id)] == ["created", "locked", "moved", "unlocked"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"title": ""}, "title is empty"),
        ({"title": "   "}, "title is empty"),
        ({"title": "x" * 201}, "201"),
        ({"title": "a\x1bb"}, "control"),
        ({"working_directory": "relative/dir"}, "relative/dir"),
        ({"working_directory": "/does/not/exist"}, "/does/not/exist"),
        ({"worker": "ghost"}, "ghost"),
        ({"agent": "nobody", "known_agents": ["claude"]}, "nobody"),
        ({"working_directory": "/tmp/a\x00b"}, "NUL"),
        ({"prompt": "fix it\x00; rm -rf"}, "NUL"),
    ],
)
def test_create_validates(
    db: Paths, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"title": "ok", "working_directory": str(tmp_path), **kwargs}
    with pytest.raises(InvalidInput, match=message):
        sess.create_session(**args)  # type: ignore[arg-type]
    assert Session.select().count() == 0


def test_remote_worker_folder_is_not_checked_locally(db: Paths, tmp_path: Path) -> None:
    wrk.add_worker("vps", host="127.0.0.1")
    s = sess.create_session(title="r", working_directory="/srv/remote/only", worker="vps")
    assert s.working_directory == "/srv/remote/only"


def test_remove_refuses_active_and_unknown(db: Paths, tmp_path: Path) -> None:
    s = add("x", tmp_path)
    sess.transition(s.id, "active")
    with pytest.raises(Refused, match="active"):
        sess.remove_session(s.id)
    with pytest.raises(NotFound, match="zzz"):
        sess.remove_session("zzz")


def test_prefix_lookup(db: Paths, tmp_path: Path) -> None:
    for sid in ("abc1", "abc2", "abd3"):
        Session.create(id=sid, working_directory=str(tmp_path), title=sid)
    assert sess.find_session("abd").id == "abd3"
    assert sess.find_session("abc1").id == "abc1"
    with pytest.raises(InvalidInput, match="more than one"):
        sess.find_session("abc")
    # LIKE wildcards in user input are literal characters, not patterns.
    with pytest.raises(NotFound, match="%"):
        sess.find_session("%")
    with pytest.raises(NotFound, match="ab_"):
        sess.find_session("ab_")


def test_settings_validation(db: Paths) -> None:
    assert cfg.set_setting("max_concurrent_sessions", "64") == 64
    assert cfg.set_setting("auto_approve", "yes") is True
    assert cfg.set_setting("grid_layout", "3x3") == "3x3"
    for key, value in [
        ("max_concurrent_sessions", "0"),
        ("max_concurrent_sessions", "65"),
        ("max_concurrent_sessions", "four"),
        ("max_visible_sessions", "10"),
        ("grid_layout", "4x4"),
        ("theme", "blue"),
        ("auto_approve", "maybe"),
        ("claude_command", "  "),
        ("nonsense", "1"),
    ]:
        with pytest.raises(InvalidInput, match=key):
            cfg.set_setting(key, value)
    assert cfg.get_settings()["max_concurrent_sessions"] == 64


def test_worker_add_and_remove(db: Paths, tmp_path: Path) -> None:
    wrk.add_worker("vps", host="127.0.0.1", port=2222, user="me", max_sessions=3)
    with pytest.raises(Refused, match="vps"):
        wrk.add_worker("vps", host="127.0.0.1")
    with pytest.raises(InvalidInput, match="70000"):
        wrk.add_worker("x", host="h", port=70000)
    with pytest.raises(InvalidInput, match="nokey"):
        wrk.add_worker("x", host="h", key_path=str(tmp_path / "nokey"))
    s = sess.create_session(title="r", working_directory="/srv", worker="vps")
    sess.transition(s.id, "active")
    with pytest.raises(Refused, match="running"):
        wrk.remove_worker("vps")
    sess.transition(s.id, "completed")
    wrk.remove_worker("vps")
    assert Session.get_by_id(s.id).worker_id is None
    with pytest.raises(Refused, match="local"):
        wrk.remove_worker(wrk.local_worker().name)


def test_worker_update(db: Paths, tmp_path: Path) -> None:
    wrk.add_worker("vps", host="127.0.0.1", port=2222)
    wrk.add_worker("other", host="127.0.0.1")
    w = wrk.update_worker("vps", new_name="vps-2", port=2200, max_sessions=5)
    assert (w.name, w.ssh_port, w.ssh_host, w.max_sessions) == ("vps-2", 2200, "127.0.0.1", 5)
    with pytest.raises(Refused, match="other"):
        wrk.update_worker("vps-2", new_name="other")
    with pytest.raises(InvalidInput, match="0"):
        wrk.update_worker("vps-2", port=0)
    local = wrk.local_worker().name
    assert wrk.update_worker(local, max_sessions=6).max_sessions == 6
    with pytest.raises(Refused, match="local"):
        wrk.update_worker(local, host="example")
