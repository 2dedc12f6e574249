"""Which sessions the grid shows, tile by tile. Qt-free, so the rules are tested on their own.

Ranking: pinned sessions first, then the one the user asked for last together with the prompts
that came after it (newest first), then the other sessions needing input (newest prompt first),
then the others the user asked for (newest first), then the most recently active, then recently
finished ones. Tiles are
stable: a shown session keeps its tile while it still ranks within the capacity. When a hidden
session ranks in (it started needing input, or the user asked for it) it takes the tile of the
least recently used session that is neither pinned nor the running one the user is typing in;
that tile is never swapped away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    id: str
    status: str  # active | completed | failed (queued sessions have no terminal)
    pinned: bool = False
    needs_input: bool = False
    needs_input_since: float = 0.0  # when needs_input last turned true
    last_activity: float = 0.0  # last output, start or end


def grid_shape(layout: str, count: int, max_visible: int) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles under a layout setting."""
    fixed = {"1x1": (1, 1), "2x2": (2, 2), "3x3": (3, 3)}
    if layout in fixed:
        return fixed[layout]
    n = max(1, min(count, max_visible, 9))
    return {1: (1, 1), 2: (1, 2), 3: (2, 2), 4: (2, 2), 5: (2, 3), 6: (2, 3)}.get(n, (3, 3))


def capacity(layout: str, max_visible: int) -> int:
    rows, cols = {"1x1": (1, 1), "2x2": (2, 2), "3x3": (3, 3)}.get(layout, (3, 3))
    return max(1, min(max_visible, rows * cols))


@dataclass
class FocusPolicy:
    tiles: list[str | None] = field(default_factory=list)
    typing: str | None = None  # the session the user types in (its tile is never swapped)
    _used: dict[str, float] = field(default_factory=dict)
    _requested: dict[str, float] = field(default_factory=dict)

    @property
    def requested(self) -> set[str]:
        return set(self._requested)

    def touch(self, session_id: str, now: float) -> None:
        """The user looked at or typed into this session."""
        self._used[session_id] = now

    def request(self, session_id: str, now: float) -> None:
        """Bring a session into view (the user selected it in the queue)."""
        self._requested[session_id] = now
        self.touch(session_id, now)

    def rank(self, candidates: Iterable[Candidate]) -> list[str]:
        # The session the user asked for last is what they look at now: it ranks with the
        # prompts that came after it (newest first), before the prompts that were there when
        # they asked, and those before the sessions they opened earlier: clicking through
        # finished sessions in the queue must not keep a permission prompt out of the grid,
        # and a prompt that comes later still takes a single tile.
        latest = max(self._requested, key=self._requested.__getitem__, default=None)
        asked_at = self._requested[latest] if latest is not None else float("-inf")

        def key(c: Candidate) -> tuple[int, float]:
            if c.pinned:
                return (0, -c.last_activity)
            if c.id == latest:
                return (1, -asked_at)
            if c.needs_input and c.status == "active":
                return (1 if c.needs_input_since > asked_at else 2, -c.needs_input_since)
            if c.id in self._requested:
                return (3, -self._requested[c.id])
            if c.status == "active":
                return (4, -c.last_activity)
            return (5, -c.last_activity)

        return [c.id for c in sorted(candidates, key=key)]

    def update(self, candidates: Sequence[Candidate], slots: int) -> list[str | None]:
        """Recompute the tiles for ``slots`` tiles; returns them (None: an empty tile)."""
        by_id = {c.id: c for c in candidates}
        for gone in [s for s in self._requested if s not in by_id]:
            del self._requested[gone]
        ranked = self.rank(candidates)
        wanted = ranked[:slots]
        tiles: list[str | None] = [t if t in by_id else None for t in self.tiles]
        # Grow or shrink to the slot count, dropping the lowest-ranked tiles first.
        tiles = (tiles + [None] * slots)[: max(slots, len(tiles))]
        while len(tiles) > slots:
            drop = self._drop_candidate(tiles, ranked)
            tiles.pop(drop)
        shown = {t for t in tiles if t}
        for sid in wanted:
            if sid in shown:
                continue
            slot = self._free_slot(tiles, wanted, by_id)
            if slot is None:
                break
            tiles[slot] = sid
            shown.add(sid)
        self.tiles = tiles
        return list(tiles)

    def _protected(self, sid: str | None, by_id: dict[str, Candidate]) -> bool:
        c = by_id.get(sid) if sid is not None else None
        if c is None:
            return False
        # Only a running session takes what is typed: a finished one that merely has the
        # keyboard focus (Qt gives it to the first tile at start) holds no one's work.
        return c.pinned or (sid == self.typing and c.status == "active")

    def _free_slot(
        self, tiles: list[str | None], wanted: list[str], by_id: dict[str, Candidate]
    ) -> int | None:
        for i, t in enumerate(tiles):
            if t is None:
                return i
        # Swap out the least recently used shown session that ranks out and is not protected.
        victims = [
            i for i, t in enumerate(tiles) if t not in wanted and not self._protected(t, by_id)
        ]
        if not victims:
            return None
        return min(victims, key=lambda i: self._used.get(tiles[i] or "", 0.0))

    def _drop_candidate(self, tiles: list[str | None], ranked: list[str]) -> int:
        order = {sid: n for n, sid in enumerate(ranked)}

        def badness(i: int) -> tuple[int, int]:
            t = tiles[i]
            if t is None:
                return (2, 0)
            if t == self.typing:
                return (-1, 0)
            return (1, order.get(t, len(order)))

        return max(range(len(tiles)), key=badness)
