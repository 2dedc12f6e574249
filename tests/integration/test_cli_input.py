"""Help texts and input checks a newcomer meets first (issue 13, defect 8)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import one_line_error

from c3desk.cli import SETTING_TYPES
from c3desk.core import settings as cfg
from c3desk.errors import InvalidInput


def test_settings_help_lists_every_key_with_its_values(cli: Any) -> None:
    for args in (["settings", "--help"], ["settings", "set", "--help"]):
        text = cli(*args, check=True).stdout
        for key in cfg.SPECS:
            line = next((ln for ln in text.splitlines() if ln.split()[:1] == [key]), None)
            assert line is not None, (key, text)
            assert SETTING_TYPES[key] in line, line


@pytest.mark.parametrize("key", list(cfg.SPECS))
def test_documented_values_are_what_the_setting_accepts(key: str) -> None:
    """The help's ranges and choices come from a table: hold it to the real parsers."""
    parse = cfg.SPECS[key].parse
    described = SETTING_TYPES[key]
    if match := re.fullmatch(r"whole number (\d+)\.\.(\d+)", described):
        low, high = int(match[1]), int(match[2])
        assert parse(key, str(low)) == low and parse(key, str(high)) == high
        for outside in (low - 1, high + 1):
            with pytest.raises(InvalidInput):
                parse(key, str(outside))
    elif described == "true or false":
        assert parse(key, "true") is True and parse(key, "false") is False
    elif described == "absolute path, or empty":
        assert parse(key, "/srv/trees") == "/srv/trees" and parse(key, "") == ""
        with pytest.raises(InvalidInput):
            parse(key, "relative/trees")
    elif described == "command line, not empty":
        assert parse(key, "claude --verbose") == "claude --verbose"
        with pytest.raises(InvalidInput):
            parse(key, "  ")
    else:
        choices = re.split(r", | or ", described)
        assert [parse(key, c) for c in choices] == choices
        with pytest.raises(InvalidInput):
            parse(key, "none-of-these")


def test_add_title_and_hook_have_help(cli: Any) -> None:
    add = cli("add", "--help", check=True).stdout
    assert re.search(r"--title TITLE\s+\S", add), add
    hook = cli("hook", "--help")
    assert hook.returncode == 0, hook.stderr
    assert "--session" in hook.stdout and "waiting" in hook.stdout


def test_move_says_positions_start_at_1(cli: Any, tmp_path: Path) -> None:
    assert "start at 1" in cli("move", "--help", check=True).stdout
    sid = cli("add", "--title", "x", "--dir", str(tmp_path), check=True).stdout.strip()
    one_line_error(cli("move", sid, "0"), 2, "start at 1")
    one_line_error(cli("move", sid, "-3"), 2, "-3", "start at 1")


def test_add_resolves_a_relative_folder(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "proj"
    (work / "sub").mkdir(parents=True)

    def add(title: str, folder: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "c3desk", "add", "--title", title, "--dir", folder],
            cwd=work,
            env=dict(os.environ, C3DESK_HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    for title, folder, expected in (
        ("dot", ".", work),
        ("sub", "sub", work / "sub"),
        ("up", "sub/..", work),
    ):
        result = add(title, folder)
        assert len(result.stdout.split()) == 1  # stdout is the id alone, for scripts
        assert str(expected) in result.stderr  # the folder it resolved to is shown
    listed = subprocess.run(
        [sys.executable, "-m", "c3desk", "list", "--json"],
        env=dict(os.environ, C3DESK_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    folders = {s["title"]: s["working_directory"] for s in json.loads(listed)}
    assert folders == {"dot": str(work), "sub": str(work / "sub"), "up": str(work)}


def test_add_dir_that_is_a_file(cli: Any, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("x")
    one_line_error(cli("add", "--title", "x", "--dir", str(file)), 2, str(file), "is a file")
    assert cli("list", "--json", check=True).json() == []


@pytest.mark.parametrize(
    "flag,value", [("--cols", "0"), ("--cols", "1001"), ("--rows", "0"), ("--rows", "100000")]
)
def test_detect_refuses_screen_sizes_outside_1_to_1000(
    cli: Any, tmp_path: Path, flag: str, value: str
) -> None:
    screen = tmp_path / "screen.raw"
    screen.write_bytes(b"\x1b[2J\x1b[H? for shortcuts")
    one_line_error(cli("detect", flag, value, str(screen)), 2, flag, value, "1..1000")


def test_detect_accepts_the_largest_screen(cli: Any, tmp_path: Path) -> None:
    screen = tmp_path / "screen.raw"
    screen.write_bytes(b"\x1b[2J\x1b[Hhello")
    cli("detect", "--cols", "1000", "--rows", "1000", str(screen), check=True)
