"""Sessions on an SSH worker, end to end: the real engine, a real sshd on 127.0.0.1, the fake
agent on the server side."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import signal
from pathlib import Path

import pytest
from helpers.engine import add, row, screen_has, started_engine, status
from helpers.remote import add_ssh_worker, ssh_factory, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.store.models import SessionEvent
from c3desk.transports.ssh_process import remote_command


def _session_folder(server: Sshd, sid: str) -> Path:
    return Path(pwd.getpwnam(server.user).pw_dir) / ".cache/c3desk/sessions" / sid


def _events(sid: str, kind: str) -> list[str]:
    return [
        e.detail
        for e in SessionEvent.select().where(
            (SessionEvent.session == sid) & (SessionEvent.kind == kind)
        )
    ]


def test_a_remote_session_runs_reports_through_its_hooks_and_completes(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        work = tmp_path / "work"
        work.mkdir()
        factory, made = ssh_factory(sshd, tmp_path)
        sid = add("remote", work, prompt="edit notes.txt remote was here", worker=box.name)
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: made["box"].status == "connected", 20)
            await watch.until(lambda: status(sid) == "active", 20)
            # The edit's permission box: the PermissionRequest hook (run on the server)
            # reports it back through the session's folder there.
            await watch.until(lambda: row(sid).needs_input, 30)
            await watch.until(screen_has(engine, sid, "Do you want to make this edit"), 10)
            engine.write(sid, b"1")
            await watch.until(lambda: (work / "notes.txt").exists(), 20)
            assert "remote was here" in (work / "notes.txt").read_text()
            # The pid is the agent's on the server (the same machine here): its cwd is work.
            pid = row(sid).pid
            assert pid is not None
            assert Path(f"/proc/{pid}/cwd").resolve() == work.resolve()
            launch = _events(sid, "launch")[0]
            # The hook settings were put on the server, not passed as a local path.
            assert ".cache/c3desk/sessions/" in launch
            assert str(db.run_dir) not in launch
            hook_events = [e for e in _events(sid, "agent") if json.loads(e)["source"] == "hook"]
            assert hook_events, "no hook report came back from the server"
            await watch.until(lambda: not row(sid).needs_input, 20)
            engine.write(sid, b"\x04")  # Ctrl-D at the empty prompt: the agent exits 0
            await watch.until(lambda: status(sid) == "completed", 20)
        finally:
            await engine.stop()
        # What c3desk put on the server for the session is gone with it.
        assert not _session_folder(sshd, sid).exists()

    asyncio.run(main())


@pytest.mark.parametrize(
    "name",
    [
        "it's",
        'say "hi"',
        "$(touch CANARY)",
        "`touch CANARY`",
        "a; touch CANARY",
        "x#(touch CANARY)",
        "-rf",
        "with  spaces ",
        "$HOME",
    ],
)
def test_hostile_working_directories_run_nothing_and_still_work(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    name: str,
) -> None:
    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        parent = tmp_path / "p"
        parent.mkdir()
        work = parent / name
        work.mkdir()
        factory, _made = ssh_factory(sshd, tmp_path)
        sid = add("hostile", work, prompt="think 0.1; exit 0", worker=box.name)
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: status(sid) in ("completed", "failed"), 30)
            assert status(sid) == "completed", row(sid).failure_reason
        finally:
            await engine.stop()
        for where in (parent, tmp_path, Path.home(), work):
            assert not (where / "CANARY").exists()

    asyncio.run(main())


def test_a_missing_folder_or_command_fails_with_a_reason_naming_it(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    from c3desk.core import settings as cfg

    async def main() -> None:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        factory, _made = ssh_factory(sshd, tmp_path)
        gone = add("gone", tmp_path / "nowhere", worker=box.name)
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: status(gone) == "failed", 30)
            reason = row(gone).failure_reason
            assert str(tmp_path / "nowhere") in reason and "does not exist on box" in reason
            cfg.set_setting("claude_command", "no-such-claude-anywhere")
            work = tmp_path / "w"
            work.mkdir()
            missing = add("nocmd", work, worker=box.name)
            await watch.until(lambda: status(missing) == "failed", 30)
            reason = row(missing).failure_reason
            assert "command not found on box: no-such-claude-anywhere" in reason
        finally:
            await engine.stop()
        # The hook settings put there before the start failed are removed too.
        assert not _session_folder(sshd, gone).exists()
        assert not _session_folder(sshd, missing).exists()

    asyncio.run(main())


def test_the_remote_command_line_quotes_every_part() -> None:
    line = remote_command("/tmp/$(x)", ["/bin/claude", "a'b", "line1\nline2"], {"A": "1"}, "/p")
    assert line.startswith("exec /bin/sh -c ")
    assert "'/tmp/$(x)'" in line
    with pytest.raises(Exception, match="line break"):
        remote_command("/tmp/a\nb", ["claude"], {}, "/p")
    with pytest.raises(Exception, match="NUL"):
        remote_command("/tmp/a", ["clau\0de"], {}, "/p")


def test_a_connection_closed_under_an_idle_worker_is_noticed_before_the_next_heartbeat(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    """No session runs there and the next heartbeat is a minute away: the closed connection is
    still seen at once (paramiko's thread marks the transport inactive), and it comes back."""

    async def main() -> None:
        add_ssh_worker(sshd)
        factory, made = ssh_factory(sshd, tmp_path, heartbeat=60.0)
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: "box" in made and made["box"].status == "connected", 20)
            for pid in sshd.connection_pids():
                os.kill(pid, signal.SIGKILL)
            # A bound for a hang, far below the 60 s heartbeat.
            await watch.until(lambda: made["box"].status == "disconnected", 10)
            assert "the connection closed" in (made["box"].reason or "")
            await watch.until(lambda: made["box"].status == "connected", 15)
        finally:
            await engine.stop()

    asyncio.run(main())
