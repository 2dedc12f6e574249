"""The artifact watcher's file seam: this machine's files, and a worker connection's.

A :class:`ConnectionFiles` here wraps the real local machine's connection, so both sides read
the same real folders: the connection's walk (one listing per folder, by the rules of
:func:`c3desk.core.artifacts.scan_steps`) must find what the local ``os.scandir`` scan finds.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from c3desk.core import artifacts, worker_files
from c3desk.core.worker_files import (
    LOCAL,
    ConnectionFiles,
    Entry,
    LocalFiles,
    WorkerFiles,
    files_for,
)
from c3desk.transports.connection import DirEntry, TooLarge, UnsupportedConnection, WorkerInfo
from c3desk.transports.local_connection import LocalConnection


def touch(path: Path, data: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def through_connection() -> ConnectionFiles:
    return ConnectionFiles(LocalConnection(WorkerInfo("w", "here", "local")))


def tree(root: Path) -> None:
    """Something of every kind the ignore rules name, and their near misses."""
    for rel in (
        "src/app.py",
        "src/deep/a/b/c/d.txt",
        "out/chart.png",
        "report.pdf",
        "node_modules/x.js",
        ".git/config",
        "venv/bin/activate",
        "venv/lib/site.py",
        "env/data.csv",  # a folder named env without an activate script: user data
        "tool/pyvenv.cfg",
        "tool/lib/x.py",
        "rust/Cargo.toml",
        "rust/target/debug/bin",
        "target/keep.txt",  # no Cargo.toml beside it: user data
        "notes.md.swp",
        ".aider.chat.history.md",
        "excluded/secret.txt",
    ):
        touch(root / rel)


def run_scan(files: WorkerFiles, root: Path, since: float = 0.0, **kw: object) -> object:
    options: dict[str, object] = {
        "seen": frozenset(),
        "max_files": 1000,
        "max_depth": None,
        "deadline": None,
        "exclude": [str(root / "excluded")],
    }
    options.update(kw)
    return asyncio.run(files.scan(str(root), since, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limits", "cut"),
    [({}, None), ({"max_files": 3}, "files"), ({"max_depth": 1}, "depth"), ({"seen": ""}, None)],
    ids=["whole", "files", "depth", "seen"],
)
def test_the_connections_walk_finds_what_the_local_scan_finds(
    tmp_path: Path, limits: dict[str, Any], cut: str | None
) -> None:
    tree(tmp_path)
    if "seen" in limits:
        limits = {"seen": frozenset({str(tmp_path / "src" / "app.py")})}
    local = run_scan(LOCAL, tmp_path, **limits)
    remote = run_scan(through_connection(), tmp_path, **limits)
    assert isinstance(local, artifacts.ScanResult)
    assert remote == local
    names = {os.path.relpath(p, tmp_path) for p, _ in local.found}
    if not limits:
        assert names == {
            "src/app.py",
            "src/deep/a/b/c/d.txt",
            "out/chart.png",
            "report.pdf",
            "env/data.csv",
            "rust/Cargo.toml",
            "target/keep.txt",
        }
    elif "seen" in limits:
        assert os.path.join("src", "app.py") not in names and len(names) == 6
    assert local.limit == cut


def test_the_connections_walk_goes_by_modification_time(tmp_path: Path) -> None:
    old, new = touch(tmp_path / "old.txt"), touch(tmp_path / "sub" / "new.txt")
    since = time.time() + 100
    os.utime(old, (since - 10, since - 10))
    os.utime(new, (since + 1, since + 1))
    result = run_scan(through_connection(), tmp_path, since)
    assert isinstance(result, artifacts.ScanResult)
    assert result.found == [(str(new), "file")] and result.scanned == 2


def test_a_root_in_an_excluded_folder_gives_nothing_through_a_connection(tmp_path: Path) -> None:
    touch(tmp_path / "data" / "x.txt")
    result = run_scan(through_connection(), tmp_path / "data", exclude=[str(tmp_path)])
    assert result == artifacts.ScanResult()


def test_a_missing_root_gives_nothing_through_a_connection(tmp_path: Path) -> None:
    assert run_scan(through_connection(), tmp_path / "gone") == artifacts.ScanResult()


@pytest.mark.parametrize("files", [LocalFiles(), through_connection()], ids=["local", "conn"])
def test_read_from_an_offset_and_a_replaced_file(tmp_path: Path, files: WorkerFiles) -> None:
    path = tmp_path / "t.jsonl"
    assert asyncio.run(files.read_from(str(path), 0)) is None
    path.write_bytes(b"0123456789")
    assert asyncio.run(files.read_from(str(path), 4)) == (4, b"456789")
    assert asyncio.run(files.read_from(str(path), 10)) == (10, b"")
    path.write_bytes(b"abc")  # replaced by a shorter file: from its start
    assert asyncio.run(files.read_from(str(path), 10)) == (0, b"abc")


def test_a_tail_fed_from_a_worker_reads_as_one_read_locally(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    local, fed = artifacts.TranscriptTail(path), artifacts.TranscriptTail(path)
    files = through_connection()

    def both() -> tuple[list[object], list[object]]:
        got = asyncio.run(files.read_from(str(path), fed.offset))
        assert got is not None
        return local.read(), fed.feed(*got)

    path.write_text('{"n": 1}\nnot json\n{"n": ')
    assert both() == ([{"n": 1}], [{"n": 1}])
    with path.open("a") as out:
        out.write("2}\n")
    assert both() == ([{"n": 2}], [{"n": 2}])
    path.write_text('{"n": 9}\n')
    assert both() == ([{"n": 9}], [{"n": 9}])


def test_which_reported_writes_count_is_the_same_through_a_connection(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    tree(root)
    touch(tmp_path / "elsewhere" / "chart.png")
    touch(tmp_path / "o" / ".git" / "x")
    paths = [
        str(root / "src" / "app.py"),
        str(tmp_path / "elsewhere" / "chart.png"),  # the agent wrote it: listed
        str(root / "gone.txt"),
        str(root / "src"),  # a folder
        str(root / "node_modules" / "x.js"),
        str(root / "venv" / "lib" / "site.py"),
        str(root / "tool" / "lib" / "x.py"),
        str(root / "rust" / "target" / "debug" / "bin"),
        str(root / "target" / "keep.txt"),
        str(root / "excluded" / "secret.txt"),
        str(tmp_path / "o" / ".git" / "x"),
    ]
    exclude = [str(root / "excluded")]
    local = asyncio.run(LOCAL.reportable(paths, str(root), exclude))
    remote = asyncio.run(through_connection().reportable(paths, str(root), exclude))
    assert remote == local == [paths[0], paths[1], paths[8]]


@pytest.mark.parametrize("files", [LocalFiles(), through_connection()], ids=["local", "conn"])
def test_changed_since(tmp_path: Path, files: WorkerFiles) -> None:
    old, new = touch(tmp_path / "old.txt"), touch(tmp_path / "new.txt")
    since = time.time() + 100
    os.utime(new, (since, since))
    paths = [str(old), str(new), str(tmp_path / "gone")]
    assert asyncio.run(files.changed_since(paths, since)) == [str(new)]


def test_local_listing_tells_links_from_files(tmp_path: Path) -> None:
    touch(tmp_path / "f.txt")
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "f.txt")
    listed = sorted(asyncio.run(LOCAL.list_dir(str(tmp_path))), key=lambda e: e.name)
    assert [(e.name, e.kind) for e in listed] == [
        ("d", "dir"),
        ("f.txt", "file"),
        ("link", "other"),
    ]
    assert all(isinstance(e, Entry) for e in listed)


def test_a_connection_runs_no_git(tmp_path: Path) -> None:
    files = through_connection()
    assert asyncio.run(files.git_snapshot(str(tmp_path))) is None
    assert asyncio.run(files.git_diff(str(tmp_path), "0" * 40)) == ""


def test_files_for_each_source() -> None:
    here = LocalConnection(WorkerInfo("w", "here", "local"))
    other = UnsupportedConnection(WorkerInfo("r", "there", "remote"))
    assert files_for(None) is LOCAL
    assert files_for(here) is LOCAL  # this machine's connection: the os.scandir fast path
    mine = LocalFiles()
    assert files_for(mine) is mine
    wrapped = files_for(other)
    assert isinstance(wrapped, ConnectionFiles) and wrapped.service is other
    # A connection that cannot reach its machine has no files: nothing there, nothing read.
    assert asyncio.run(wrapped.stat("/etc/hostname")) is None
    assert asyncio.run(wrapped.read_from("/etc/hostname", 0)) is None


def test_a_connection_reports_ctime_so_a_file_moved_in_counts(tmp_path: Path) -> None:
    """A file moved in keeps its old mtime; its ctime (the local connection gives it) is new."""
    moved = touch(tmp_path / "moved.txt")
    os.utime(moved, (1_000_000, 1_000_000))
    since = time.time() - 60
    result = run_scan(through_connection(), tmp_path, since)
    assert isinstance(result, artifacts.ScanResult)
    assert result.found == [(str(moved), "file")]


def test_a_transcript_is_read_a_bounded_piece_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_files, "MAX_READ", 4)
    path = touch(tmp_path / "t.jsonl", "0123456789")
    files = through_connection()
    assert asyncio.run(files.read_from(str(path), 0)) == (0, b"0123")
    assert asyncio.run(files.read_from(str(path), 4)) == (4, b"4567")
    assert asyncio.run(files.read_from(str(path), 8)) == (8, b"89")


def test_a_connections_download_copies_the_file_with_its_time(tmp_path: Path) -> None:
    """The download every connection has (read whole, written atomically), here the local
    machine's; an SSH connection's own goes over SFTP (tests/integration/test_artifacts_ssh.py)."""
    source = tmp_path / "remote" / "plot.png"
    source.parent.mkdir()
    source.write_bytes(b"\x89PNG" + bytes(range(256)) * 40)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    dest = tmp_path / "copy" / "deep" / "plot.png"
    files = through_connection()
    info = asyncio.run(files.download(str(source), dest, 1 << 20))
    assert dest.read_bytes() == source.read_bytes()
    assert info.size == source.stat().st_size and dest.stat().st_mtime == 1_600_000_000
    with pytest.raises(TooLarge) as refused:
        asyncio.run(files.download(str(source), tmp_path / "other.png", 100))
    assert refused.value.size == source.stat().st_size and refused.value.limit == 100
    assert not (tmp_path / "other.png").exists()
    with pytest.raises(FileNotFoundError):
        asyncio.run(files.download(str(tmp_path / "gone"), tmp_path / "gone-copy", 100))
    with pytest.raises(IsADirectoryError):
        asyncio.run(files.download(str(tmp_path), tmp_path / "dir-copy", 100))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["plot.png"]  # no temporary left


def test_home_and_resolve_through_a_connection(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    files = through_connection()
    link = str(tmp_path / "link")
    assert files.realpath(link) == link  # nothing asked yet: as spelled
    assert asyncio.run(files.resolve(link)) == str(tmp_path / "real")
    assert files.realpath(link) == str(tmp_path / "real")  # remembered
    assert asyncio.run(files.home()) == str(Path.home())
    unreachable = files_for(UnsupportedConnection(WorkerInfo("r", "there", "remote")))
    with pytest.raises(OSError, match="there"):
        asyncio.run(unreachable.home())


class _Stuck:
    """A file service whose listings never answer (a server that stopped responding)."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.given_up = asyncio.Event()

    async def list_dir(self, path: str) -> list[DirEntry]:
        self.asked.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.given_up.set()
            raise
        return []


def test_a_cancelled_walk_stops_and_lets_go_of_its_question(tmp_path: Path) -> None:
    stuck = _Stuck()
    files = ConnectionFiles(stuck)  # type: ignore[arg-type]  # only list_dir is asked

    async def scenario() -> None:
        scan = asyncio.ensure_future(
            files.scan(
                str(tmp_path),
                0.0,
                seen=frozenset(),
                max_files=10,
                max_depth=None,
                deadline=None,
                exclude=[],
            )
        )
        await asyncio.wait_for(stuck.asked.wait(), 10)
        scan.cancel()
        with pytest.raises(asyncio.CancelledError):
            await scan
        # The walk's thread gives up on the unanswered listing (it cancels it) and ends.
        await asyncio.wait_for(stuck.given_up.wait(), 10)

    asyncio.run(scenario())


def test_reachable_tells_a_files_trouble_from_the_connections(tmp_path: Path) -> None:
    here = through_connection()
    assert asyncio.run(here.reachable(str(tmp_path)))
    assert asyncio.run(here.reachable(str(tmp_path / "gone")))  # an answer: it is not there
    down = files_for(UnsupportedConnection(WorkerInfo("r", "there", "remote")))
    assert not asyncio.run(down.reachable(str(tmp_path)))
    assert asyncio.run(LOCAL.reachable(str(tmp_path / "gone")))


def test_a_walk_ends_at_its_deadline_when_the_machine_stops_answering(tmp_path: Path) -> None:
    stuck = _Stuck()
    files = ConnectionFiles(stuck)  # type: ignore[arg-type]  # only list_dir is asked

    async def scenario() -> artifacts.ScanResult:
        result = await files.scan(
            str(tmp_path), 0.0, seen=frozenset(), max_files=10, max_depth=None,
            deadline=time.monotonic() + 0.2, exclude=[],
        )  # fmt: skip
        await asyncio.wait_for(stuck.given_up.wait(), 10)  # the listing was let go of
        return result

    assert asyncio.run(scenario()) == artifacts.ScanResult(limit="time")
