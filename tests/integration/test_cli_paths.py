"""Path options given an empty value or a file: one line naming it, exit 2, nothing changed.

An empty path is what a script passes when its variable is unset (`--dir "$DIR"`); it must not
stand for the current folder (`add`) nor for the option left out (`--home`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from helpers.cli import one_line_error


def test_an_empty_dir_is_refused_not_taken_as_the_current_folder(
    cli: Any, home: Path, tmp_path: Path
) -> None:
    kept = cli("add", "--title", "kept", "--dir", str(tmp_path), check=True).stdout.strip()
    before = cli("list", "--json", check=True).json()
    for args in (["--dir", ""], ["--dir="], ["--dir", "  "]):
        result = cli("add", "--title", "x", *args)
        needle = "is empty" if args[-1] == "  " else "--dir: '' is empty"
        one_line_error(result, 2, "c3desk add: argument --dir", needle)
        assert result.stdout == ""  # no id: nothing was queued
    assert cli("list", "--json", check=True).json() == before
    assert [s["id"] for s in before] == [kept]


def test_an_empty_home_is_refused_not_taken_as_the_default(
    cli: Any, home: Path, tmp_path: Path
) -> None:
    cli("add", "--title", "kept", "--dir", str(tmp_path), check=True)
    # The default data folder would be under $HOME: it must not be made, nor C3DESK_HOME used.
    os.environ["HOME"] = str(tmp_path / "user")
    for args in (["--home", ""], ["--home="]):
        result = cli(*args, "list")
        one_line_error(result, 2, "--home", "'' is empty")
        assert result.stdout == ""
        result = cli(*args, "add", "--title", "y", "--dir", str(tmp_path))
        one_line_error(result, 2, "--home", "'' is empty")
    assert not (tmp_path / "user").exists()
    assert [s["title"] for s in cli("list", "--json", check=True).json()] == ["kept"]


def test_an_empty_screenshot_path_is_refused(cli: Any) -> None:
    one_line_error(cli("--screenshot", ""), 2, "--screenshot", "'' is empty")


def test_a_home_that_is_a_file_is_said_to_be_a_file(cli: Any, tmp_path: Path) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("mine\n")
    line = one_line_error(cli("--home", str(afile), "list"), 2)
    assert line == f"c3desk: data directory {str(afile)!r} is a file, not a folder"
    below = afile / "c3desk"
    line = one_line_error(cli("--home", str(below), "settings"), 2)
    assert line == f"c3desk: data directory {str(below)!r}: {str(afile)!r} is a file, not a folder"
    assert afile.read_text() == "mine\n"
