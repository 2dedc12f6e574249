"""The data folder holds what agents printed (scrollback, logs): it is made for its user only."""

from __future__ import annotations

import stat
from pathlib import Path

from c3desk.config import Paths


def test_a_new_data_folder_is_mode_0700_and_an_existing_one_is_left_as_it_is(
    tmp_path: Path,
) -> None:
    made = Paths(tmp_path / "a" / "home").ensure().home
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o750)
    mine.chmod(0o750)
    Paths(mine).ensure()
    assert stat.S_IMODE(mine.stat().st_mode) == 0o750  # the user's own choice stays
