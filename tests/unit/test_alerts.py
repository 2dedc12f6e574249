"""The alert policy: one notification per transition into needs input, bursts summarised."""

from __future__ import annotations

from c3desk.core.alerts import AlertPolicy, Notification


def _policy() -> AlertPolicy:
    return AlertPolicy(min_interval=5.0)


def test_one_notification_per_transition() -> None:
    p = _policy()
    first = p.on_change("s1", True, "Fix tests", "Permission: Bash(pytest)", now=100.0)
    assert isinstance(first, Notification)
    assert first.session_id == "s1"
    assert "Fix tests" in first.title
    assert "Fix tests" in first.text and "Bash(pytest)" in first.text
    # The same state reported again (every screen look) is no new transition.
    for t in (101.0, 200.0, 300.0):
        assert p.on_change("s1", True, "Fix tests", "Permission: Bash(pytest)", now=t) is None
    assert p.count == 1
    # Answered, then asking again later: a new transition, a new notification.
    assert p.on_change("s1", False, "Fix tests", "", now=301.0) is None
    assert p.count == 0
    again = p.on_change("s1", True, "Fix tests", "Question", now=400.0)
    assert again is not None and again.session_id == "s1"
    assert p.count == 1


def test_no_notification_for_the_session_typed_in_while_window_active() -> None:
    p = _policy()
    p.set_context(window_active=True, typing_session="s1")
    assert p.on_change("s1", True, "Typed in", "prompt", now=10.0) is None
    assert p.count == 1  # still counted
    # Another session does notify.
    other = p.on_change("s2", True, "Other", "prompt", now=11.0)
    assert other is not None and other.session_id == "s2"


def test_typing_session_notifies_when_window_inactive() -> None:
    p = _policy()
    p.set_context(window_active=False, typing_session="s1")
    note = p.on_change("s1", True, "Typed in", "prompt", now=10.0)
    assert note is not None and note.session_id == "s1"


def test_burst_becomes_one_summary() -> None:
    p = _policy()
    first = p.on_change("a", True, "Alpha", "q", now=0.0)
    assert first is not None
    assert p.next_deadline() is None
    assert p.on_change("b", True, "Beta", "q", now=0.5) is None
    assert p.on_change("c", True, "Gamma", "q", now=0.6) is None
    assert p.on_change("d", True, "Delta", "q", now=0.7) is None
    assert p.on_change("e", True, "Epsilon", "q", now=0.8) is None
    assert p.next_deadline() == 5.0
    assert p.tick(now=4.9) is None
    summary = p.tick(now=5.0)
    assert summary is not None
    assert summary.title == "4 sessions need input"
    assert summary.session_ids == ("b", "c", "d", "e")
    assert summary.session_id == "e"  # the newest: where a click goes
    assert "“Beta”" in summary.text and "and 1 more" in summary.text
    assert p.tick(now=100.0) is None
    assert p.count == 5


def test_held_single_comes_out_as_a_normal_notification() -> None:
    p = _policy()
    assert p.on_change("a", True, "Alpha", "q", now=0.0) is not None
    assert p.on_change("b", True, "Beta", "Allow edit?", now=1.0) is None
    note = p.tick(now=6.0)
    assert note is not None and note.session_id == "b" and "Allow edit?" in note.text
    assert note.session_ids == ("b",)


def test_held_session_answered_meanwhile_is_dropped() -> None:
    p = _policy()
    p.on_change("a", True, "Alpha", "q", now=0.0)
    p.on_change("b", True, "Beta", "q", now=1.0)
    p.on_change("b", False, "Beta", "", now=2.0)
    assert p.next_deadline() is None
    assert p.tick(now=10.0) is None


def test_held_session_the_user_starts_typing_in_is_dropped() -> None:
    p = _policy()
    p.on_change("a", True, "Alpha", "q", now=0.0)
    p.on_change("b", True, "Beta", "q", now=1.0)
    p.on_change("c", True, "Gamma", "q", now=1.0)
    p.set_context(window_active=True, typing_session="b")
    note = p.tick(now=5.0)
    assert note is not None and note.session_ids == ("c",)


def test_spaced_transitions_each_notify() -> None:
    p = _policy()
    assert p.on_change("a", True, "Alpha", "q", now=0.0) is not None
    assert p.on_change("b", True, "Beta", "q", now=5.0) is not None
    assert p.on_change("c", True, "Gamma", "q", now=10.5) is not None


def test_seed_counts_without_announcing() -> None:
    p = _policy()
    p.seed(["x", "y"])
    assert p.count == 2
    assert p.on_change("x", True, "X", "q", now=0.0) is None
    p.forget("y")
    assert p.count == 1
    assert p.needing == frozenset({"x"})


def test_texts_are_short_and_name_the_session() -> None:
    p = _policy()
    note = p.on_change("a", True, "T" * 300, "line one\n\n  line two " + "x" * 500, now=0.0)
    assert note is not None
    assert len(note.text) < 320
    assert "line one line two" in note.text
    blank = _policy().on_change("b", True, "Build", "", now=0.0)
    assert blank is not None and blank.text == "“Build” is waiting for your answer."
