"""Why a queued session waits, and removing a worker that still has queued sessions."""

from __future__ import annotations

import pytest

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import workers as wrk
from c3desk.core.waiting import wait_reason, wait_reasons
from c3desk.errors import InvalidInput, Refused
from c3desk.store.models import Session, SessionEvent, Worker


def _connect_local() -> None:
    Worker.update(status="connected").where(Worker.type == "local").execute()


def test_a_session_bound_to_a_disconnected_worker_says_so(db: Paths) -> None:
    _connect_local()
    wrk.add_worker("vps", host="127.0.0.1")
    bound = sess.create_session(title="b", working_directory="/srv", worker="vps")
    free = sess.create_session(title="f", working_directory="/srv")
    reasons = wait_reasons()
    assert reasons[bound.id] == "worker 'vps' is disconnected"
    assert reasons[free.id] == "starting"
    assert wait_reason(bound.id) == "worker 'vps' is disconnected"


def test_limits_and_pause_are_named(db: Paths) -> None:
    _connect_local()
    cfg.set_setting("max_concurrent_sessions", "1")
    running = sess.create_session(title="r", working_directory="/srv")
    sess.transition(running.id, "active", worker=wrk.local_worker().id)
    waiting = sess.create_session(title="w", working_directory="/srv")
    assert wait_reason(waiting.id) == ("all 1 session slots are in use (max_concurrent_sessions)")
    cfg.set_setting("max_concurrent_sessions", "4")
    wrk.update_worker(wrk.local_worker().name, max_sessions=1)
    assert wait_reason(waiting.id) == "every connected worker is running as many sessions as it may"
    cfg.set_setting("queue_paused", "true")
    assert wait_reason(waiting.id) == "the queue is paused"
    assert wait_reason(running.id) is None  # not queued


def test_free_slots_go_to_the_head_of_the_queue(db: Paths) -> None:
    _connect_local()
    cfg.set_setting("max_concurrent_sessions", "1")
    first = sess.create_session(title="1", working_directory="/srv")
    second = sess.create_session(title="2", working_directory="/srv")
    reasons = wait_reasons()
    assert reasons[first.id] == "starting"
    assert "ahead of it" in reasons[second.id]


def test_removing_a_worker_with_queued_sessions_asks_where_they_go(db: Paths) -> None:
    wrk.add_worker("vps", host="127.0.0.1")
    wrk.add_worker("other", host="127.0.0.1")
    s = sess.create_session(title="q", working_directory="/srv", worker="vps")
    with pytest.raises(Refused, match=r"1 queued session.*--reassign-to"):
        wrk.remove_worker("vps")
    assert Session.get_by_id(s.id).worker_id is not None  # nothing changed
    with pytest.raises(InvalidInput, match="not both"):
        wrk.remove_worker("vps", reassign_to="any", drop=True)
    with pytest.raises(InvalidInput, match="ghost"):
        wrk.remove_worker("vps", reassign_to="ghost")
    wrk.remove_worker("vps", reassign_to="other")
    moved = Session.get_by_id(s.id)
    assert moved.worker_id == Worker.get(Worker.name == "other").id
    assert moved.status == "queued"
    kinds = [e.kind for e in SessionEvent.select().where(SessionEvent.session == s.id)]
    assert "worker_removed" in kinds


def test_removing_a_worker_can_drop_or_unbind_its_queue(db: Paths) -> None:
    wrk.add_worker("a", host="127.0.0.1")
    wrk.add_worker("b", host="127.0.0.1")
    dropped = sess.create_session(title="d", working_directory="/srv", worker="a")
    kept = sess.create_session(title="k", working_directory="/srv")
    anywhere = sess.create_session(title="n", working_directory="/srv", worker="b")
    wrk.remove_worker("a", drop=True)
    assert Session.get_or_none(Session.id == dropped.id) is None
    assert Session.get_by_id(kept.id).position == 1  # the queue stays gapless
    wrk.remove_worker("b", reassign_to="any")
    assert Session.get_by_id(anywhere.id).worker_id is None
    assert Session.get_by_id(anywhere.id).position == 2
