"""Artifacts of sessions on an SSH worker, found and copied over SFTP from a real loopback sshd.

The sshd runs on this machine as the same user, so the "remote" files are folders of
``tmp_path`` reached over SFTP: every listing, stat, read and download below goes through
the SSH connection, none through this file system. Where Claude Code keeps its transcripts on
the server is the remote user's home; to keep this machine's real ``~/.claude`` out of the
tests, the connection here reports a home folder in ``tmp_path`` (its one overridden call).
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers.engine import add, screen_has, started_engine, status
from helpers.remote import add_ssh_worker, ssh_factory, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.core import artifacts
from c3desk.core import sessions as sess
from c3desk.core.artifact_watch import ArtifactWatcher
from c3desk.core.worker_files import (
    LOCAL,
    ConnectionFiles,
    FetchError,
    RemoteCopies,
    WorkerFiles,
    files_for,
)
from c3desk.store.models import Artifact, Session, SessionEvent, Worker
from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_trust import TrustStore

T = TypeVar("T")


def worker_info(server: Sshd) -> WorkerInfo:
    return WorkerInfo(
        id="w-ssh",
        name="box",
        type="remote",
        host=server.host,
        port=server.port,
        user=server.user,
        key_path=str(server.user_key),
    )


def trusted(server: Sshd, tmp_path: Path) -> TrustStore:
    trust = TrustStore(tmp_path / "c3desk_known_hosts", tmp_path / "user_known_hosts")
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    trust.own.write_text(f"[{server.host}]:{server.port} {kind} {blob}\n")
    return trust


class HomeInTmp(SSHConnection):
    """The real SSH connection, reporting ``fake_home`` as the remote user's home."""

    fake_home = ""

    async def home(self) -> str:
        return self.fake_home


@asynccontextmanager
async def connected(
    server: Sshd, tmp_path: Path, home: Path | None = None
) -> AsyncIterator[SSHConnection]:
    conn: SSHConnection
    if home is None:
        conn = SSHConnection(worker_info(server), trusted(server, tmp_path))
    else:
        conn = HomeInTmp(worker_info(server), trusted(server, tmp_path))
        conn.fake_home = str(home)
    await conn.connect()
    assert conn.status == "connected", conn.reason
    try:
        yield conn
    finally:
        await conn.close()


def over_ssh(server: Sshd, tmp_path: Path, work: Callable[[SSHConnection], Awaitable[T]]) -> T:
    async def scenario() -> T:
        async with connected(server, tmp_path) as conn:
            return await work(conn)

    return asyncio.run(scenario())


def touch(path: Path, data: str = "x\n", at: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    if at is not None:
        os.utime(path, (at, at))
    return path


def remote_worker(server: Sshd) -> str:
    """The worker row of the sshd (its name)."""
    info = worker_info(server)
    Worker.create(
        id=info.id,
        name=info.name,
        type="remote",
        ssh_host=info.host,
        ssh_port=info.port,
        ssh_user=info.user,
        status="connected",
    )
    return info.name


def artifacts_of(sid: str) -> set[tuple[str, str]]:
    return {(str(a.type), str(a.path)) for a in Artifact.select().where(Artifact.session == sid)}


def events_of(sid: str) -> list[dict[str, Any]]:
    rows = SessionEvent.select().where(
        (SessionEvent.session == sid) & (SessionEvent.kind == "artifacts")
    )
    return [json.loads(str(e.detail)) for e in rows.order_by(SessionEvent.id)]


# --- the files service over SFTP ---------------------------------------------------------------


def test_an_ssh_connections_files_know_the_remote_home_and_resolve_links_there(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")

    async def work(conn: SSHConnection) -> tuple[WorkerFiles, str, str, str]:
        files = files_for(conn)
        return (
            files,
            await files.home(),
            await files.resolve(str(tmp_path / "link")),
            (files.realpath(str(tmp_path / "link"))),
        )

    files, home, resolved, remembered = over_ssh(sshd, tmp_path, work)
    assert isinstance(files, ConnectionFiles) and files.remote
    # Where OpenSSH starts an SFTP session: the account's home, as the server knows it.
    assert home == pwd.getpwnam(sshd.user).pw_dir
    assert resolved == remembered == str(tmp_path / "real")
    assert files_for(None) is LOCAL and not LOCAL.remote


def tree(root: Path, before: float, after: float) -> None:
    """Files older than the session, newer ones, and what the ignore rules name."""
    for rel in ("old.txt", "src/old.py", "node_modules/old.js"):
        touch(root / rel, at=before)
    for rel in (
        "src/app.py",
        "src/deep/a/b/c/d.txt",
        "out/chart.png",
        "report.pdf",
        "node_modules/x.js",
        ".git/config",
        ".claude/settings.local.json",
        "venv/bin/activate",
        "venv/lib/site.py",
        "tool/pyvenv.cfg",
        "tool/lib/x.py",
        "rust/Cargo.toml",
        "rust/target/debug/bin",
        "notes.md.swp",
        ".aider.chat.history.md",
        "excluded/secret.txt",
    ):
        touch(root / rel, at=after)


@pytest.mark.parametrize(
    ("limits", "cut"),
    [({}, None), ({"max_files": 3}, "files"), ({"max_depth": 1}, "depth")],
    ids=["whole", "files", "depth"],
)
def test_a_scan_over_sftp_finds_what_this_machines_scan_finds(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    limits: dict[str, Any],
    cut: str | None,
) -> None:
    root = tmp_path / "proj"
    since = time.time() + 100  # file times set around it: SFTP has no ctime to disagree
    tree(root, since - 10, since + 1)
    options: dict[str, Any] = {
        "seen": frozenset(),
        "max_files": 1000,
        "max_depth": None,
        "deadline": None,
        "exclude": [str(root / "excluded")],
        **limits,
    }

    async def work(conn: SSHConnection) -> artifacts.ScanResult:
        return await files_for(conn).scan(str(root), since, **options)

    remote = over_ssh(sshd, tmp_path, work)
    local = artifacts.scan(root, since, **options)
    assert remote == local
    assert remote.limit == cut
    if not limits:
        assert {os.path.relpath(p, root) for p, _ in remote.found} == {
            "src/app.py",
            "src/deep/a/b/c/d.txt",
            "out/chart.png",
            "report.pdf",
            "rust/Cargo.toml",
        }
        assert ("image", str(root / "out" / "chart.png")) in [(k, p) for p, k in remote.found]


def test_a_scan_over_sftp_does_not_list_links(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "proj"
    touch(root / "real.txt")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    touch(tmp_path / "outside.txt")

    async def work(conn: SSHConnection) -> artifacts.ScanResult:
        return await files_for(conn).scan(
            str(root), 0.0, seen=frozenset(), max_files=100, max_depth=None, deadline=None,
            exclude=[],
        )  # fmt: skip

    assert over_ssh(sshd, tmp_path, work).found == [(str(root / "real.txt"), "file")]


# --- a session's artifacts over SSH ------------------------------------------------------------


def test_a_session_on_an_ssh_worker_lists_files_changed_since_it_started(
    sshd: Sshd,  # noqa: F811
    db: Paths,
    tmp_path: Path,
) -> None:
    """An agent without a transcript: its folder is scanned over SFTP. Whole-second SFTP
    times still count a file written in the session's first second; an untouched old file,
    ignored folders and the remote ~/.claude are never listed."""
    root = tmp_path / "proj"
    touch(root / "old.txt", at=time.time() - 3600)
    remote_home = tmp_path / "remote-home"
    sid = str(
        sess.create_session(
            title="remote", working_directory=str(root), agent="shell", worker=remote_worker(sshd)
        ).id
    )

    async def scenario() -> None:
        async with connected(sshd, tmp_path, home=remote_home) as conn:
            watcher = ArtifactWatcher(db.artifacts_dir, max_files=1000)
            watcher.start(sid, str(root), files=conn)
            touch(root / "out" / "chart.png")
            touch(root / "node_modules" / "dep.js")
            touch(root / "notes.txt.swp")
            await watcher.scan(sid)
            touch(root / "report.pdf")
            await watcher.finish(sid)
            await watcher.close()

    asyncio.run(scenario())
    assert artifacts_of(sid) == {
        ("image", str(root / "out" / "chart.png")),
        ("pdf", str(root / "report.pdf")),
    }
    assert [(e["source"], e["root"], e["limit"]) for e in events_of(sid)] == [
        ("scan", str(root), None)
    ]
    assert not (db.artifacts_dir / sid).exists()  # no git over SFTP: no diff


def test_a_session_whose_folder_is_the_remote_home_never_lists_its_claude_folder(
    sshd: Sshd,  # noqa: F811
    db: Paths,
    tmp_path: Path,
) -> None:
    remote_home = tmp_path / "remote-home"
    sid = str(
        sess.create_session(
            title="home",
            working_directory=str(remote_home),
            agent="shell",
            worker=remote_worker(sshd),
        ).id
    )

    async def scenario() -> None:
        async with connected(sshd, tmp_path, home=remote_home) as conn:
            # A scan from inside the remote ~/.claude reports nothing at all.
            inner = str(remote_home / ".claude" / "projects")
            watcher = ArtifactWatcher(db.artifacts_dir)
            watcher.start(sid, inner, files=conn)
            touch(remote_home / ".claude" / "projects" / "x" / "y.jsonl")
            await watcher.finish(sid)
            assert artifacts_of(sid) == set()
            watcher.start(sid, str(remote_home), files=conn)
            touch(remote_home / "made.txt")
            touch(remote_home / ".claude" / "settings.json")
            await watcher.finish(sid)
            await watcher.close()

    asyncio.run(scenario())
    assert artifacts_of(sid) == {("file", str(remote_home / "made.txt"))}


def test_a_claude_sessions_transcript_is_read_under_the_remote_home(
    sshd: Sshd,  # noqa: F811
    db: Paths,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claude Code on the server keeps its transcript in the remote user's ~/.claude, in a
    project folder named after the working directory resolved *there* (here: through a
    symbolic link). This machine's CLAUDE_CONFIG_DIR holds a decoy that must not be read."""
    real = tmp_path / "proj"
    real.mkdir()
    cwd = tmp_path / "proj-link"
    cwd.symlink_to(real)
    remote_home = tmp_path / "remote-home"
    project = remote_home / ".claude" / "projects" / re.sub(r"[^a-zA-Z0-9-]", "-", str(real))
    decoy = tmp_path / "local-claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(decoy))
    worker = remote_worker(sshd)
    sid = str(
        sess.create_session(title="claude remote", working_directory=str(cwd), worker=worker).id
    )
    Session.update(claude_session_id="conv").where(Session.id == sid).execute()

    def wrote(transcript: Path, name: str, tool_id: str, *, done: bool = True) -> None:
        block = {"type": "tool_use", "id": tool_id, "name": "Write", "input": {"file_path": name}}
        lines: list[dict[str, Any]] = [
            {"type": "assistant", "cwd": str(cwd), "message": {"content": [block]}}
        ]
        if done:
            result = {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}
            lines.append({"type": "user", "cwd": str(cwd), "message": {"content": [result]}})
        transcript.parent.mkdir(parents=True, exist_ok=True)
        with transcript.open("a") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)

    wrote(decoy / "projects" / project.name / "conv.jsonl", "decoy.txt", "d1")
    touch(cwd / "decoy.txt")

    async def scenario() -> list[set[str]]:
        seen: list[set[str]] = []
        async with connected(sshd, tmp_path, home=remote_home) as conn:
            watcher = ArtifactWatcher(db.artifacts_dir)
            watcher.start(sid, str(cwd), files=conn)
            touch(cwd / "foreign.txt")  # another program's: not the session's
            await watcher.scan(sid)  # no transcript yet: nothing, and no scan either
            seen.append({p for _, p in artifacts_of(sid)})
            touch(cwd / "plot.png")
            wrote(project / "conv.jsonl", "plot.png", "t1")
            touch(cwd / "node_modules" / "x.js")
            wrote(project / "conv.jsonl", "node_modules/x.js", "t2")  # ignored
            touch(remote_home / "notes" / "todo.md")
            wrote(project / "conv.jsonl", "~/notes/todo.md", "t3")  # the remote user's ~
            await watcher.scan(sid)
            seen.append({p for _, p in artifacts_of(sid)})
            touch(cwd / "sub" / "notes.md")
            wrote(project / "conv" / "subagents" / "agent-1.jsonl", "sub/notes.md", "s1")
            await watcher.finish(sid)
            seen.append({p for _, p in artifacts_of(sid)})
            await watcher.close()
        return seen

    first = {str(cwd / "plot.png"), str(remote_home / "notes" / "todo.md")}
    assert asyncio.run(scenario()) == [set(), first, first | {str(cwd / "sub" / "notes.md")}]
    assert events_of(sid) == [{"source": "transcript", "transcript": str(project / "conv.jsonl")}]


# --- previews: copies downloaded on demand -----------------------------------------------------


def test_a_preview_copy_lands_in_the_cache_with_the_same_bytes(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    remote = tmp_path / "proj" / "out" / "big.bin"
    remote.parent.mkdir(parents=True)
    data = os.urandom(3 * 1024 * 1024 + 123)  # several SFTP blocks and write chunks
    remote.write_bytes(data)
    os.utime(remote, (1_700_000_000, 1_700_000_000))
    home = tmp_path / "data"
    sid = str(uuid.uuid4())
    expected = home / "cache" / "remote" / sid / str(remote).lstrip("/")

    async def scenario() -> list[Any]:
        async with connected(sshd, tmp_path) as conn:
            copies = RemoteCopies(home, {"w-ssh": conn}.get)
            first = await copies.fetch(sid, "w-ssh", "box", str(remote))
            assert expected.read_bytes() == data and expected.stat().st_mtime == 1_700_000_000
            assert [p.name for p in expected.parent.iterdir()] == ["big.bin"]  # no temporary
            again = await copies.fetch(sid, "w-ssh", "box", str(remote))
            remote.write_bytes(b"changed")
            changed = await copies.fetch(sid, "w-ssh", "box", str(remote))
            assert expected.read_bytes() == b"changed"
            copies.forget(sid)  # the session was removed: its copies go with it
            assert not (home / "cache" / "remote" / sid).exists()
            return [first, again, changed]

    first, again, changed = asyncio.run(scenario())
    assert first.path == again.path == changed.path == expected
    assert (first.reused, again.reused, changed.reused) == (False, True, False)
    assert first.size == len(data)


def test_copies_are_refused_with_a_clear_message(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "big.png").write_bytes(b"\0" * (3 * 1024 * 1024))
    os.mkfifo(folder / "pipe")
    home = tmp_path / "data"
    sid = str(uuid.uuid4())

    async def scenario() -> dict[str, str]:
        out: dict[str, str] = {}
        async with connected(sshd, tmp_path) as conn:
            copies = RemoteCopies(home, {"w-ssh": conn}.get, limit=2 * 1024 * 1024)
            for name, path, worker in (
                ("large", str(folder / "big.png"), "w-ssh"),
                ("missing", str(folder / "gone.txt"), "w-ssh"),
                ("folder", str(folder), "w-ssh"),
                ("fifo", str(folder / "pipe"), "w-ssh"),
                ("no connection", str(folder / "big.png"), "w-other"),
            ):
                with pytest.raises(FetchError) as refused:
                    await copies.fetch(sid, worker, "box", path)
                out[name] = str(refused.value)
        with pytest.raises(FetchError) as offline:
            await copies.fetch(sid, "w-ssh", "box", str(folder / "big.png"))
        out["disconnected"] = str(offline.value)
        return out

    said = asyncio.run(scenario())
    assert said["large"] == (
        f"box:{folder}/big.png is 3.0 MB: previews copy remote files of at most 2.0 MB"
    )
    assert said["missing"] == f"Missing: box:{folder}/gone.txt no longer exists"
    assert said["folder"] == f"box:{folder} is a folder"
    assert said["fifo"] == f"box:{folder}/pipe is not a regular file"
    assert "box" in said["no connection"] and "no connection" in said["no connection"]
    assert said["disconnected"].startswith(f"Cannot reach box:{folder}/big.png")
    assert "not connected" in said["disconnected"]
    assert not (home / "cache" / "remote" / sid / str(folder).lstrip("/") / "big.png").exists()


def test_a_copy_path_never_leaves_the_sessions_cache_folder(tmp_path: Path) -> None:
    copies = RemoteCopies(tmp_path, lambda _w: None)
    assert copies.copy_path("s1", "/a/./b/../c.txt") == tmp_path / "cache/remote/s1/a/c.txt"
    for sid, path in (("s1", "relative.txt"), ("s1", "/"), ("../x", "/a"), ("s1", "/a\0b")):
        with pytest.raises(ValueError, match="not a"):
            copies.copy_path(sid, path)


def test_long_reads_from_an_offset_and_a_broken_sftp_session(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "transcript.jsonl"
    data = os.urandom(700 * 1024)
    path.write_bytes(data)

    async def work(conn: SSHConnection) -> None:
        # Long reads ask for all their blocks at once; what they return is the same.
        assert await conn.read_file(str(path), 500 * 1024, 100) == data[100 : 100 + 500 * 1024]
        assert await conn.read_file(str(path), 10 << 20, 650 * 1024) == data[650 * 1024 :]
        assert await conn.read_file(str(path), 10 << 20, len(data)) == b""
        # The SFTP channel closes under the session (the server ended its sftp subsystem):
        # the call fails as a file call does, and the next one opens a new session.
        sftp = await conn.files.run(lambda client: client)
        sftp.get_channel().close()
        with pytest.raises(OSError, match="SFTP session with box broke"):
            await conn.stat(str(path))
        info = await conn.stat(str(path))
        assert info is not None and info.size == len(data) and info.is_file

    over_ssh(sshd, tmp_path, work)


def test_nothing_is_concluded_while_the_worker_is_disconnected(
    sshd: Sshd,  # noqa: F811
    db: Paths,
    tmp_path: Path,
) -> None:
    """A look while the connection is down records nothing (no empty folder scan in place of
    the transcript); once it is back, the transcript under the remote home is read."""
    cwd = tmp_path / "proj"
    remote_home = tmp_path / "remote-home"
    project = remote_home / ".claude" / "projects" / re.sub(r"[^a-zA-Z0-9-]", "-", str(cwd))
    worker = remote_worker(sshd)
    sid = str(sess.create_session(title="c", working_directory=str(tmp_path), worker=worker).id)
    Session.update(claude_session_id="conv").where(Session.id == sid).execute()
    cwd.mkdir()

    async def scenario() -> None:
        async with connected(sshd, tmp_path, home=remote_home) as conn:
            watcher = ArtifactWatcher(db.artifacts_dir)
            watcher.start(sid, str(cwd), files=conn)
            await conn.close()
            touch(cwd / "made.txt")
            block = {"type": "tool_use", "id": "t1", "name": "Write"}
            block["input"] = {"file_path": str(cwd / "made.txt")}
            result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
            touch(
                project / "conv.jsonl",
                json.dumps({"type": "assistant", "message": {"content": [block]}})
                + "\n"
                + json.dumps({"type": "user", "message": {"content": [result]}})
                + "\n",
            )
            assert await watcher.scan(sid, final=True) == 0
            assert events_of(sid) == [] and artifacts_of(sid) == set()
            await conn.connect()
            assert conn.status == "connected", conn.reason
            await watcher.finish(sid)
            await watcher.close()

    asyncio.run(scenario())
    assert artifacts_of(sid) == {("file", str(cwd / "made.txt"))}
    assert events_of(sid) == [{"source": "transcript", "transcript": str(project / "conv.jsonl")}]


# --- end to end: the engine, an SSH worker, the fake agent on the server --------------------------


def test_a_session_on_an_ssh_worker_lists_what_its_transcript_on_the_server_names(
    sshd: Sshd,  # noqa: F811
    db: Paths,
    tmp_path: Path,
) -> None:
    """The engine runs the fake Claude Code on the server; it keeps its transcript in the
    remote user's ~/.claude (the connection reports a home in tmp_path), which c3desk reads
    over SFTP: the files it wrote are listed, another program's file in the folder is not."""
    remote_home = tmp_path / "remote-home"
    work = tmp_path / "work"
    work.mkdir()
    project = remote_home / ".claude" / "projects" / re.sub(r"[^a-zA-Z0-9-]", "-", str(work))

    async def main() -> None:
        use_remote_agent(tmp_path, CLAUDE_CONFIG_DIR=str(remote_home / ".claude"))
        box = add_ssh_worker(sshd)
        factory, made = ssh_factory(sshd, tmp_path, home=remote_home)
        sid = add(
            "remote files", work, prompt="write out/chart.png; write report.pdf; say made them",
            worker=box.name,
        )  # fmt: skip
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: made["box"].status == "connected", 20)
            await watch.until(lambda: status(sid) == "active", 20)
            await watch.until(screen_has(engine, sid, "made them"), 30)
            touch(work / "foreign.txt")  # not the agent's
            engine.write(sid, b"\x04")  # Ctrl-D at the empty prompt: the agent exits 0
            await watch.until(lambda: status(sid) == "completed", 20)
            await watch.until(lambda: len(artifacts_of(sid)) == 2, 30)
        finally:
            await engine.stop()
        conversation = Session.get_by_id(sid).claude_session_id
        assert events_of(sid) == [
            {"source": "transcript", "transcript": f"{project}/{conversation}.jsonl"}
        ]

    asyncio.run(main())
    sid = str(Session.get().id)
    assert artifacts_of(sid) == {
        ("image", str(work / "out" / "chart.png")),
        ("pdf", str(work / "report.pdf")),
    }
