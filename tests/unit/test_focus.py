"""Who the grid shows: ranking, stable tiles, swapping in sessions that need input."""

from __future__ import annotations

from c3desk.core.focus import Candidate, FocusPolicy, capacity, grid_shape


def active(sid: str, t: float, **kw: object) -> Candidate:
    return Candidate(sid, "active", last_activity=t, **kw)  # type: ignore[arg-type]


def test_ranking_pinned_then_needs_input_newest_then_recent() -> None:
    p = FocusPolicy()
    cands = [
        active("old", 1),
        active("recent", 5),
        active("asks-old", 2, needs_input=True, needs_input_since=3),
        active("asks-new", 3, needs_input=True, needs_input_since=9),
        active("pinned", 0, pinned=True),
        Candidate("done", "completed", last_activity=10),
    ]
    assert p.rank(cands) == ["pinned", "asks-new", "asks-old", "recent", "old", "done"]


def test_tiles_are_stable_and_fill_in_rank_order() -> None:
    p = FocusPolicy()
    assert p.update([active("a", 1), active("b", 2)], 2) == ["b", "a"]
    # c becomes more recent than both: tiles do not reshuffle just for ranking among shown ones
    assert p.update([active("a", 3), active("b", 2)], 2) == ["b", "a"]


def test_needing_input_swaps_out_the_least_recently_used_unprotected_tile() -> None:
    p = FocusPolicy()
    cands = [active("a", 3), active("b", 2), active("c", 1)]
    assert p.update(cands, 2) == ["a", "b"]
    p.touch("a", 10)  # the user looked at a more recently than b
    p.touch("b", 5)
    cands[2] = active("c", 1, needs_input=True, needs_input_since=20)
    assert p.update(cands, 2) == ["a", "c"]


def test_the_tile_being_typed_in_is_never_swapped() -> None:
    p = FocusPolicy()
    cands = [active("a", 3), active("b", 2)]
    assert p.update(cands, 1) == ["a"]
    p.typing = "a"
    cands = [active("a", 3), active("b", 2, needs_input=True, needs_input_since=9)]
    assert p.update(cands, 1) == ["a"]
    p.typing = None
    assert p.update(cands, 1) == ["b"]


def test_a_finished_session_with_the_focus_gives_its_tile_to_one_needing_input() -> None:
    """After a restart Qt focuses the first tile, here a finished session: a reattached session
    waiting at its permission box must still come into view (found under Xvfb)."""
    p = FocusPolicy()
    done = [
        Candidate("older", "completed", last_activity=1),
        Candidate("newer", "completed", last_activity=2),
    ]
    p.tiles = ["older", "newer"]
    p.typing = "older"
    asks = active("asks", 0, needs_input=True, needs_input_since=5)
    assert p.update([*done, asks], 2) == ["asks", "newer"]


def test_pinned_tiles_stay() -> None:
    p = FocusPolicy()
    cands = [active("pin", 0, pinned=True), active("x", 5)]
    assert p.update(cands, 1) == ["pin"]
    cands.append(active("y", 6, needs_input=True, needs_input_since=7))
    assert p.update(cands, 1) == ["pin"]


def test_request_brings_a_session_into_view() -> None:
    p = FocusPolicy()
    cands = [active("a", 3), active("b", 2), Candidate("old", "completed", last_activity=0)]
    assert p.update(cands, 2) == ["a", "b"]
    p.touch("a", 10)
    p.request("old", 11)
    assert p.update(cands, 2) == ["a", "old"]


def test_the_last_request_then_every_prompt_then_earlier_requests() -> None:
    """Sessions the user opened from the queue do not keep a permission prompt out of the
    grid: only the one asked for last ranks above the sessions that wait for the user (seen:
    three finished sessions clicked through held all three tiles, the one question hidden)."""
    p = FocusPolicy()
    done = [Candidate("x", "completed", last_activity=1), Candidate("y", "completed")]
    p.request("x", 10)
    p.request("y", 11)
    early = active("early", 0, needs_input=True, needs_input_since=5)
    assert p.update([*done, early], 2) == ["y", "early"]  # x was opened before y: it gives way
    assert p.update([*done, early], 3) == ["y", "early", "x"]
    late = active("late", 0, needs_input=True, needs_input_since=20)
    assert p.rank([*done, early, late]) == ["late", "y", "early", "x"]  # late came after y
    p.request("x", 30)  # the user wants x back
    assert p.rank([*done, early, late]) == ["x", "late", "early", "y"]
    # A prompt after the last request still takes a single tile (1x1).
    later = active("later", 0, needs_input=True, needs_input_since=40)
    assert p.update([*done, early, late, later], 1) == ["later"]


def test_capacity_changes_and_removed_sessions() -> None:
    p = FocusPolicy()
    cands = [active(s, t) for s, t in (("a", 4), ("b", 3), ("c", 2), ("d", 1))]
    assert p.update(cands, 4) == ["a", "b", "c", "d"]
    assert p.update(cands, 2) == ["a", "b"]
    assert p.update(cands[1:], 2) == ["c", "b"]  # b keeps its tile; c takes the freed one
    assert p.update(cands[1:], 3) == ["c", "b", "d"]
    assert p.update([], 3) == [None, None, None]


def test_grid_shapes() -> None:
    assert grid_shape("auto", 1, 9) == (1, 1)
    assert grid_shape("auto", 2, 9) == (1, 2)
    assert grid_shape("auto", 4, 9) == (2, 2)
    assert grid_shape("auto", 7, 9) == (3, 3)
    assert grid_shape("auto", 7, 2) == (1, 2)
    assert grid_shape("2x2", 1, 9) == (2, 2)
    assert capacity("1x1", 9) == 1 and capacity("3x3", 4) == 4 and capacity("auto", 2) == 2
