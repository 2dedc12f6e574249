"""A session's worktree as the window shows it."""

from __future__ import annotations

from dataclasses import dataclass

from c3desk.store.models import Session


@dataclass(frozen=True)
class WorktreeRow:
    branch: str
    base: str | None  # None until the worktree is made (at the session's first start)
    path: str | None
    status: str

    @property
    def made(self) -> bool:
        return self.path is not None

    @property
    def actionable(self) -> bool:
        """Diff, merge and remove are offered: the worktree exists and the session is not
        running."""
        return self.made and self.status != "active"


def worktree(session_id: str) -> WorktreeRow | None:
    """The session's worktree, or None when it runs in its folder itself."""
    row = (
        Session.select(
            Session.worktree_branch, Session.worktree_base, Session.worktree_path, Session.status
        )
        .where(Session.id == session_id)
        .tuples()
        .first()
    )
    if row is None or not row[0]:
        return None
    return WorktreeRow(str(row[0]), row[1], row[2], str(row[3]))
