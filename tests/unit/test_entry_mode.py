"""How a queued session entered the queue, read from its typed last transition."""

from __future__ import annotations

from pathlib import Path

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core.engine import Engine, StateRecord
from c3desk.store.models import Session


def test_a_state_event_parses_into_a_record() -> None:
    assert StateRecord.parse('{"from": "completed", "to": "queued"}') == StateRecord(
        "completed", "queued"
    )
    # Other keys and their order do not matter; text that merely mentions a state does not count.
    assert StateRecord.parse('{"to": "failed", "failure_reason": "from: completed"}') == (
        StateRecord(None, "failed")
    )
    assert StateRecord.parse(None) is None
    assert StateRecord.parse("not json") is None
    assert StateRecord.parse('["from", "completed"]') is None


def _mode(sid: str) -> str:
    return Engine._entry_mode(Session.get_by_id(sid))


def test_entry_mode_follows_the_last_transition(db: Paths, tmp_path: Path) -> None:
    sid = str(sess.create_session(title="t", working_directory=str(tmp_path)).id)
    assert _mode(sid) == "fresh"
    sess.transition(sid, "active")
    # A failure reason that quotes a state is not the state it came from.
    sess.transition(sid, "failed", failure_reason='agent said "from": "completed"')
    sess.transition(sid, "queued")
    assert StateRecord.last_of(sid) == StateRecord("failed", "queued")
    assert _mode(sid) == "retry"
    sess.transition(sid, "active")
    sess.transition(sid, "completed")
    sess.transition(sid, "queued")
    assert _mode(sid) == "continue"
