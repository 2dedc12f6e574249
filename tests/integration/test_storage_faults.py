"""A data folder that stops taking writes while an instance runs sessions (issue 18): its disk
fills up, or it turns read-only.

Real parts: the data folder is a small tmpfs (``mount -t tmpfs -o size=...``) or a read-only
bind mount, made in a private mount namespace (``unshare --mount``, as root, as CI runs the
tests) held by one process; the headless instance and every CLI command enter it with
``nsenter``, so nothing outside them sees the mount, and it goes when the holder ends.

Checked: the command line refuses a change in one line naming the problem (exit 1, no
traceback) while reading commands keep working; the instance says it in one line on stderr,
keeps its sessions running and their screens live, and records how they end once it can write
again (none stays active without a process); afterwards ``PRAGMA integrity_check`` is ok and
what was saved before is intact. A data folder read-only from the start: the instance refuses
in one line (the command line's side is tests/integration/test_cli_readonly.py).

A folder cannot turn read-only under a running instance here: Linux refuses to remount a mount
read-only while files on it are open for writing (EBUSY), and c3desk holds its database, log and
scrollback files open; only a file system error can force it (ext4 ``errors=remount-ro``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import one_line_error
from helpers.polling import alive, wait_for

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"
REPO = str(Path(__file__).resolve().parents[2])


class Namespace:
    """A mount namespace with ``mount_script`` applied to ``target``; commands run inside it."""

    def __init__(self, target: Path, mount_script: str, env: dict[str, str]) -> None:
        self.env = env
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'{mount_script} && echo ready && exec sleep 600', str(target)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.holder.stdout is not None
        if self.holder.stdout.readline() != "ready\n":
            self.holder.kill()
            self.holder.wait()
            self.holder.stdout.close()
            raise AssertionError(f"could not mount on {target}")
        ns = f"--mount=/proc/{self.holder.pid}/ns/mnt"
        # nsenter starts in the target's working directory (/): this checkout's c3desk is run.
        self.prefix = ["nsenter", ns, f"--wd={REPO}", "--"]
        self.procs: list[subprocess.Popen[bytes]] = []

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        result = self.run(sys.executable, "-m", "c3desk", *args)
        if check:
            assert result.returncode == 0, (args, result.stderr)
        return result

    def sql(self, db: Path, query: str) -> Any:
        script = "import json,sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
        script += "print(json.dumps(c.execute(sys.argv[2]).fetchall()))"
        result = self.run(sys.executable, "-c", script, str(db), query)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def start(self, *argv: str, stderr: Path) -> subprocess.Popen[bytes]:
        with stderr.open("ab") as err:
            proc = subprocess.Popen(
                [*self.prefix, *argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=REPO,
            )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.holder.kill()
        self.holder.wait()
        if self.holder.stdout is not None:
            self.holder.stdout.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return dict(
        os.environ,
        C3DESK_HOME=str(home),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
        FAKE_CLAUDE_SPEED="1",
    )


@pytest.fixture
def small_disk(tmp_path: Path, env: dict[str, str]) -> Iterator[Namespace]:
    """The data folder on an 8 MiB tmpfs of its own."""
    ns = Namespace(tmp_path / "home", 'mount -t tmpfs -o size=8m tmpfs "$0"', env)
    yield ns
    ns.close()


def _sessions(ns: Namespace) -> dict[str, dict[str, Any]]:
    return {s["title"]: s for s in json.loads(ns.cli("list", "--json", check=True).stdout)}


def _fill(ns: Namespace, home: Path) -> None:
    """Fill the data folder's disk to the last byte."""
    result = ns.run("sh", "-c", f'cat /dev/zero > "{home}/filler"; df -k "{home}"')
    assert "No space left" in result.stderr, result.stderr
    assert result.stdout.split()[-3] == "0", result.stdout  # Available


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def test_a_full_disk_is_one_line_and_nothing_saved_is_lost(
    small_disk: Namespace, tmp_path: Path
) -> None:
    ns, home = small_disk, tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    ns.cli("settings", "set", "claude_command", str(FAKE), check=True)
    ns.cli("settings", "set", "persistent_sessions", "never", check=True)
    ns.cli("settings", "set", "theme", "light", check=True)
    kept = ns.cli(
        "add", "--title", "kept", "--dir", str(work), "--prompt", "say saved before; exit 0",
        check=True,
    ).stdout.strip()  # fmt: skip
    stderr = tmp_path / "instance.err"
    instance = ns.start(sys.executable, "-m", "c3desk", "run", "--headless", stderr=stderr)
    wait_for(lambda: _sessions(ns)["kept"]["status"] == "completed", what="the first session")
    before = {k: v for k, v in _sessions(ns)["kept"].items() if k != "updated_at"}
    events_before = ns.cli("events", kept, "--json", check=True).stdout

    # A session that outlasts the full disk: it waits at a permission box until answered.
    long = ns.cli(
        "add", "--title", "long", "--dir", str(work),
        "--prompt", "say started; ask make it; think 1; say finished; exit 0", check=True,
    ).stdout.strip()  # fmt: skip
    pid = wait_for(lambda: _sessions(ns)["long"]["pid"], what="the long session's process")
    wait_for(lambda: "Do you want to proceed?" in ns.cli("screen", long).stdout, what="its box")

    _fill(ns, home)
    db = home / "c3desk.db"
    # The command line: a change is refused in one line naming the problem; reading works.
    for args in (
        ["add", "--title", "refused", "--dir", str(work), "--prompt", "say no"],
        ["settings", "set", "theme", "dark"],
        ["lock", kept],
    ):
        one_line_error(ns.cli(*args), 1, f"cannot write {db}", "no space left")
    assert set(_sessions(ns)) == {"kept", "long"}
    # The instance goes on: the session runs on, its screen is live, it takes input (which
    # does not need the disk), and its end, which cannot be recorded yet, is said in one line.
    assert instance.poll() is None and alive(pid)
    assert "Do you want to proceed?" in ns.cli("screen", long, check=True).stdout
    ns.cli("send", long, "1", check=True)
    wait_for(lambda: not alive(pid), what="its process to end (answered: it goes on and exits)")
    wait_for(
        lambda: any("no space left" in line for line in _lines(stderr)), what="the instance's line"
    )
    assert instance.poll() is None
    assert _sessions(ns)["long"]["status"] == "active"  # not recorded while the disk is full

    # Space returns: the end of the session is recorded, and new work runs.
    assert ns.run("rm", str(home / "filler")).returncode == 0
    wait_for(lambda: _sessions(ns)["long"]["status"] == "completed", what="its end recorded")
    ns.cli(
        "add", "--title", "after", "--dir", str(work), "--prompt", "say after; exit 0", check=True
    )
    wait_for(lambda: _sessions(ns)["after"]["status"] == "completed", what="a session after")
    instance.send_signal(signal.SIGTERM)
    assert instance.wait(30) == 0

    assert ns.sql(db, "PRAGMA integrity_check") == [["ok"]]
    rows = _sessions(ns)
    assert {k: v for k, v in rows["kept"].items() if k != "updated_at"} == before
    assert ns.cli("events", kept, "--json", check=True).stdout == events_before
    assert json.loads(ns.cli("settings", "--json", check=True).stdout)["theme"] == "light"
    assert all(s["status"] == "completed" for s in rows.values())
    # The log says each problem, but stderr had no traceback for it.
    text = stderr.read_text(errors="replace")
    assert "Traceback" not in text and "Logging error" not in text, text
    problem = [line for line in text.splitlines() if "no space left" in line]
    assert len(problem) == 1, text
    assert problem[0].startswith(f"c3desk: cannot write {db}: no space left"), problem


READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"'


def test_an_instance_on_a_read_only_data_folder_is_one_line(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Read-only at start: the instance refuses to run (it must write), in one line, and the
    folder is left as it was."""
    home = tmp_path / "home"
    subprocess.run(
        [sys.executable, "-m", "c3desk", "settings", "set", "theme", "light"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    files = sorted(p.name for p in home.rglob("*"))
    ns = Namespace(home, READ_ONLY, env)
    try:
        result = ns.cli("run", "--headless")
        one_line_error(result, 1, f"cannot write {home / 'c3desk.db'}", "read-only")
        assert json.loads(ns.cli("settings", "--json", check=True).stdout)["theme"] == "light"
    finally:
        ns.close()
    assert sorted(p.name for p in home.rglob("*")) == files
