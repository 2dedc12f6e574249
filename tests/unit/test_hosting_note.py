"""What `c3desk worker check` says a worker's tmux means for its sessions."""

from __future__ import annotations

import pytest

from c3desk.core.worker_check import hosting_note


@pytest.mark.parametrize(
    ("tmux", "persistence", "remote", "said"),
    [
        ("tmux 3.3a", "auto", False, "tmux 3.3a (sessions outlive c3desk)"),
        ("tmux 3.3a", "auto", True, "tmux 3.3a (sessions outlive c3desk and a dropped connection)"),
        ("tmux next-3.4", "always", False, "tmux next-3.4 (sessions outlive c3desk)"),
        ("tmux 2.9", "auto", False, "tmux 2.9, older than 3.0 (sessions end with c3desk)"),
        (None, "auto", True, "not installed (sessions end if the connection drops)"),
        (None, "always", False, "not installed: sessions fail there (persistent_sessions is "
         "always; tmux 3.0+ needed)"),
        ("tmux 3.3a", "never", False, "tmux 3.3a (persistent_sessions is never: sessions end "
         "with c3desk)"),
    ],
)  # fmt: skip
def test_hosting_note(tmux: str | None, persistence: str, remote: bool, said: str) -> None:
    assert hosting_note(tmux, persistence, remote) == said
