"""Search across history with the real engine: the fake agent's output is found while its session
runs and after it ended (with its transcript), a removed session's rows go, a restart catches up
with output the index never saw; and `c3desk search` over that index."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

from helpers.engine import add, started_engine, status, use_fake_agent
from helpers.remote import add_ssh_worker, ssh_factory, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.core import search
from c3desk.core import sessions as sess
from c3desk.core.launch import transcript_path
from c3desk.store.models import SearchChunk, SearchDoc, Session


def places(query: str) -> set[tuple[str, str]]:
    return {(m.session_id, m.where) for m in search.search(query, 50)}


def test_output_is_found_while_running_after_the_end_and_not_after_removal(
    db: Paths, tmp_path: Path
) -> None:
    use_fake_agent(tmp_path)
    sid = add("searchable", tmp_path, prompt="say zebrafish marmalade")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            engine.search.period = 0.1
            # Running: the reply is in the index from its scrollback.
            await watch.until(lambda: (sid, "scrollback") in places("zebrafish marmalade"))
            assert status(sid) == "active"
            match = next(m for m in search.search("marmalade") if m.where == "scrollback")
            assert "»marmalade«" in match.marked() and match.line is not None
            assert match.title == "searchable"
            await engine.send_text(sid, "say pelican umbrella")
            await watch.until(lambda: (sid, "scrollback") in places("pelican"))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            # Ended: the conversation's text comes from its transcript too.
            await watch.until(lambda: (sid, "transcript") in places("pelican umbrella"))
            said = {m.text for m in search.search("umbrella") if m.where == "transcript"}
            assert said >= {"user: say pelican umbrella", "assistant: pelican umbrella"}
        finally:
            await engine.stop()

    asyncio.run(scenario())
    assert (sid, "prompt") in places("zebrafish")
    sess.remove_session(sid)
    assert places("zebrafish") == set() and places("pelican") == set()
    assert SearchDoc.select().count() == 0 and SearchChunk.select().count() > 0

    async def purge() -> None:  # what a running indexer does in its next passes
        indexer = search.SearchIndexer(db.scrollback_dir, lambda: [])
        while await indexer.run_pass():
            pass

    asyncio.run(purge())
    assert SearchChunk.select().count() == 0


def test_a_restart_catches_up_with_output_the_index_never_saw(db: Paths, tmp_path: Path) -> None:
    """A crash after output was written but before it was indexed, and a session from before
    the index (with a transcript): the next start reads them."""
    use_fake_agent(tmp_path)
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    old = add("from before the index", tmp_path, prompt=None)
    cut = add("cut short", tmp_path, prompt=None)
    for sid, text in ((old, b"\x1b[1mwombat\x1b[0m tales\r\n"), (cut, b"first kiwi\r\n")):
        Session.update(status="failed").where(Session.id == sid).execute()
        (db.scrollback_dir / f"{sid}.log").write_bytes(text)
    Session.update(claude_session_id="conv-old").where(Session.id == old).execute()
    transcript = transcript_path(str(tmp_path), "conv-old", os.environ)
    transcript.parent.mkdir(parents=True)
    record = {"type": "assistant", "message": {"content": [{"type": "text", "text": "a numbat"}]}}
    transcript.write_text(json.dumps(record) + "\n")

    async def index_then_crash() -> None:
        ix = search.SearchIndexer(db.scrollback_dir, lambda: [cut])
        await ix.run_pass()

    asyncio.run(index_then_crash())
    assert places("kiwi") == {(cut, "scrollback")} and places("wombat") == set()
    with (db.scrollback_dir / f"{cut}.log").open("ab") as fh:
        fh.write(b"second kiwi, never indexed\r\n")

    async def restart() -> None:
        engine, _watch = await started_engine(db)
        try:
            await asyncio.wait_for(engine.search.caught_up.wait(), 30)
        finally:
            await engine.stop()

    asyncio.run(restart())
    assert places("wombat") == {(old, "scrollback")}
    assert [(m.session_id, m.place, m.text) for m in search.search("numbat")] == [
        (old, "transcript line 1", "assistant: a numbat")
    ]
    assert sorted(m.line for m in search.search("kiwi")) == [1, 2]


def test_the_index_writes_without_holding_the_loop(
    db: Paths, tmp_path: Path, monkeypatch: Any
) -> None:
    """Rows are written by the indexer's own thread (FTS5 merges hold a write for up to a
    second): here a write waits for the loop to run, which it could never do if the write
    held the loop. Its connection is closed when the indexer stops."""
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    sid = add("writes elsewhere", tmp_path, prompt=None)
    Session.update(status="failed").where(Session.id == sid).execute()
    (db.scrollback_dir / f"{sid}.log").write_bytes(b"platypus lines\r\n")
    writing, loop_ran = threading.Event(), threading.Event()
    writers: list[str] = []
    write = search.add_chunks

    def waits_for_the_loop(*args: Any, **kw: Any) -> bool:
        writers.append(threading.current_thread().name)
        writing.set()
        assert loop_ran.wait(10), "the loop did not run while a write was in progress"
        return write(*args, **kw)

    monkeypatch.setattr(search, "add_chunks", waits_for_the_loop)

    async def main() -> None:
        ix = search.SearchIndexer(db.scrollback_dir, lambda: [])
        task = asyncio.create_task(ix.run())
        # The loop hears that a write began, and answers, while that write goes on.
        assert await asyncio.to_thread(writing.wait, 10)
        loop_ran.set()
        await asyncio.wait_for(ix.caught_up.wait(), 20)
        ix.stop()
        await task

    asyncio.run(main())
    assert writers and all(name.startswith("c3desk-search-writer") for name in writers)
    assert places("platypus") == {(sid, "scrollback")}
    assert not [t for t in threading.enumerate() if t.name.startswith("c3desk-search-writer")]


def test_cli_search(db: Paths, tmp_path: Path, cli: Any) -> None:
    use_fake_agent(tmp_path)
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    sid = add("Fix the gasket", tmp_path, prompt="replace the gasket")
    Session.update(status="completed").where(Session.id == sid).execute()
    (db.scrollback_dir / f"{sid}.log").write_bytes(b"\x1b[31merror:\x1b[0m gasket leaks\r\nok\r\n")

    async def index() -> None:
        ix = search.SearchIndexer(db.scrollback_dir, lambda: [])
        ix.ended(sid)
        await ix.run_pass()

    asyncio.run(index())
    result = cli("search", "gasket", "--json", check=True)
    found = json.loads(result.stdout)
    assert [(m["session_id"], m["place"]) for m in found] == [
        (sid, "title"),
        (sid, "prompt"),
        (sid, "scrollback line 1"),
    ]
    assert found[2]["text"] == "error: gasket leaks" and found[2]["spans"] == [[7, 13]]
    text = cli("search", "leaks", check=True).stdout
    assert text.splitlines() == [
        f"{sid[:8]}  completed  scrollback line 1       Fix the gasket",
        "    error: gasket »leaks«",
    ]
    assert (
        cli("search", "--limit", "1", "gasket", "--json", check=True).json()[0]["where"] == "title"
    )
    # Words typed without quotes are one query: every word must be there, in any order.
    two = cli("search", "leaks", "error", "--json", check=True).json()
    assert [m["place"] for m in two] == ["scrollback line 1"]
    assert (
        cli("search", "gasket", "nowhere", check=True).stdout == "no matches for 'gasket nowhere'\n"
    )
    # Search syntax is only words: none of these can fail.
    for query in ('"gasket', "gasket*", "(gasket)", "gasket:^", "{gasket}", "^gasket'"):
        assert cli("search", query, check=True).stdout.startswith(sid[:8]), query
    for query in ("-x", "AND(", "a OR b", "NEAR(gasket)"):
        assert cli("search", "--", query, check=True).stdout == f"no matches for {query!r}\n"
    for bad in ("", "  ", "()"):
        empty = cli("search", bad)
        assert empty.returncode == 2 and empty.stdout == ""
        assert len(empty.stderr.strip().splitlines()) == 1, empty.stderr
        assert "give at least one word" in empty.stderr
    over = cli("search", "gasket", "--limit", "5000")
    assert over.returncode == 2 and "--limit 5000" in over.stderr


def test_a_remote_sessions_transcript_is_read_over_sftp(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An SSH worker's session: its scrollback is local (the engine writes it), its transcript
    is on the server, where Claude Code keeps it there, read through the worker's connection."""
    home = tmp_path / "remote-home"
    home.mkdir()
    use_remote_agent(tmp_path, CLAUDE_CONFIG_DIR=str(home / ".claude"))
    box = add_ssh_worker(sshd)
    work = tmp_path / "work"
    work.mkdir()
    factory, made = ssh_factory(sshd, tmp_path, home=home)
    sid = add("remote", work, prompt="say walrus on the server", worker=box.name)

    async def scenario() -> None:
        engine, watch = await started_engine(db, connections=factory)
        try:
            engine.search.period = 0.1
            await watch.until(lambda: made["box"].status == "connected", 20)
            await watch.until(lambda: (sid, "scrollback") in places("walrus"), 30)
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed", 20)
            await watch.until(lambda: (sid, "transcript") in places("walrus"), 20)
        finally:
            await engine.stop()

    asyncio.run(scenario())
    said = {m.text for m in search.search("walrus") if m.where == "transcript"}
    assert said == {"user: say walrus on the server", "assistant: walrus on the server"}
