"""The command line fed malformed input (hypothesis): random argv to the main parser and its
subcommands, random ``settings set KEY VALUE``. Every run ends with exit 0, 1 or 2; a refusal
is one line on stderr (never a traceback, never an internal error) and writes nothing: the
database dumps the same before and after. Most runs call the CLI's main function in-process
(fast); a few go through the real entry point in a subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from c3desk import cli
from c3desk.config import Paths
from c3desk.core import settings as cfg

SUBCOMMANDS = [
    "add", "list", "show", "move", "rm", "lock", "unlock", "events", "artifacts", "settings",
    "worker", "send", "screen", "kill", "continue", "retry", "detect", "pause", "resume",
    "usage",
]  # fmt: skip
# "run" starts an engine, "hook" reads the agent's stdin, "worker check/trust" reach out over
# SSH: each has tests of its own.
WORDS = [
    "set", "list", "add", "remove", "rm", "--title", "--prompt", "--worker", "--agent", "--lock",
    "--json", "--status", "--host", "--port", "--user", "--key", "--max-sessions", "--rename",
    "--no-enter", "--cols", "--rows", "--session", "--help", "-h", "--version", "--", "-", "-x",
    "--since", "7d", "2026-12-01",
    "--bogus", "--title=", "--json=1", "queued", "active", "local", "claude", "shell",
    *cfg.SPECS,
]  # fmt: skip
NUMBERS = [
    "0",
    "-1",
    "1",
    "64",
    "65",
    "99999999999999999999",
    "1e3",
    "0x10",
    "١٢",
    "1_0",
    " 7 ",
    "",
]
# No "/" (a path outside the test's folder) and no NUL (argv cannot carry one).
TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"), max_size=20
)
TOKENS = st.one_of(st.sampled_from(WORDS), st.sampled_from(NUMBERS), TEXT)
ARGV = st.builds(
    lambda cmd, rest: ([cmd] if cmd else []) + rest,
    st.sampled_from(["", *SUBCOMMANDS]),
    st.lists(TOKENS, max_size=6),
)


def harmless(argv: list[str]) -> bool:
    """No --home (it could name a real folder: "~"), no --verbose (it mirrors the log on
    stderr), no subcommand left out above (an abbreviation such as "--ho" counts)."""
    for word in argv:
        name = word.split("=", 1)[0]
        if len(name) >= 3 and ("--home".startswith(name) or "--verbose".startswith(name)):
            return False
        if word in ("-v", "run", "hook", "check", "trust"):
            return False
    return True


def dump(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return list(conn.iterdump())


def run(argv: list[str]) -> tuple[int, str, str]:
    """``c3desk ARGV`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers = list(root.handlers)
    level = root.level
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse's --help and --version
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder (C3DESK_HOME) with its database made; the working directory is the test's
    own, where a relative path given lands."""
    where = tmp_path / "home"
    monkeypatch.setenv("C3DESK_HOME", str(where))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run(["list"])[0] == 0
    yield where


def check(argv: list[str], db: Path) -> tuple[int, str, str]:
    before = dump(db)
    code, out, err = run(argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code != 0:
        lines = err.strip().splitlines()
        assert len(lines) == 1, (argv, err)
        assert dump(db) == before, argv  # a refusal writes nothing
    return code, out, err


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(FUZZ, max_examples=120)
@given(argv=ARGV.filter(harmless))
@example(argv=["settings", "set"])
@example(argv=["move", "x", "0"])
@example(argv=["worker", "add", "w", "--host", "h", "--port", "0"])
@example(argv=["worker", "set", "nobody", "--max-sessions", "99999999999999999999"])
@example(argv=["detect", "--cols", "١٢", "."])
@example(argv=["add", "--title", "\u202e", "--prompt", "$(touch pwned)"])
def test_random_argv_exits_cleanly_and_a_refusal_writes_nothing(
    home: Path, argv: list[str]
) -> None:
    check(argv, Paths(home).db)
    assert not list(Path.cwd().rglob("pwned"))


KEYS = st.one_of(st.sampled_from(list(cfg.SPECS)), TEXT)
VALUES = st.one_of(st.sampled_from(NUMBERS), TEXT, st.sampled_from(["true", "NO", " on ", "auto"]))


@settings(FUZZ, max_examples=80)
@given(key=KEYS, value=VALUES)
@example(key="max_concurrent_sessions", value="١٢")
@example(key="scrollback_limit_mb", value="1_000")
@example(key="claude_command", value="  ")
@example(key="claude_command", value="claude\n--dangerously-skip-permissions")
@example(key="theme", value="DARK")
def test_settings_set_stores_a_valid_value_or_refuses_in_one_line(
    home: Path, key: str, value: str
) -> None:
    db = Paths(home).db
    code, out, err = check(["settings", "set", key, value], db)
    if code == 0:
        stored = run(["settings", "--json"])
        assert stored[0] == 0
        assert out.startswith(f"{key} = ")
        assert json.loads(stored[1])[key] == json.loads(out.split(" = ", 1)[1].splitlines()[0])
    else:
        assert code == 2, (key, value, err)


def test_whole_numbers_are_ascii_digits_only(home: Path) -> None:
    """What a setting stores is what was written: no other scripts' digits, no underscores."""
    db = Paths(home).db
    for value in ("١٢", "1_0", "٣", "+5", "0x10", "1e3", "²"):
        code, _, err = check(["settings", "set", "max_concurrent_sessions", value], db)
        assert code == 2 and "whole number" in err, (value, err)
    assert check(["settings", "set", "max_concurrent_sessions", " 7 "], db)[0] == 0


def test_the_real_entry_point_refuses_in_one_line(home: Path) -> None:
    """A few runs through ``python -m c3desk``: the same one-line refusals, nothing written."""
    db = Paths(home).db
    before = dump(db)
    env = dict(os.environ, C3DESK_HOME=str(home))
    for argv in (
        ["settings", "set", "max_concurrent_sessions", "١٢"],
        ["settings", "set", "no_such_key", "1"],
        ["move", "$(touch pwned)", "0"],
        ["--bogus"],
        ["worker", "add", "-", "--host", ""],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "c3desk", *argv],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert done.returncode == 2, (argv, done.returncode, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, (argv, done.stderr)
    assert dump(db) == before
    assert not list(Path.cwd().rglob("pwned"))
