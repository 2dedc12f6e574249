"""Search across history, the pure parts: query escaping, text from terminal bytes, rows, reading
a rotating scrollback log, transcripts; and queries on a real SQLite index."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.core import search
from c3desk.core import sessions as sess
from c3desk.core.scrollback import ScrollbackLog
from c3desk.errors import InvalidInput
from c3desk.store.models import SearchChunk, SearchDoc, Session

# -- queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fts"),
    [
        ("foo", '"foo"'),
        ('"foo', '"foo"'),
        ("AND(", '"and"'),
        ("-x", '"x"'),
        ("a OR b NOT c", '"a" "or" "b" "not" "c"'),
        ("col:val^2*", '"col" "val" "2"'),
        ('"hello world" again', '"hello world" "again"'),
        ('say "it\'s" NEAR(a b)', '"it s" "say" "near" "a" "b"'),
        ("Ünïcödé 日本語", '"ünïcödé" "日本語"'),
        ("foo foo", '"foo"'),
    ],
)
def test_queries_become_quoted_terms(text: str, fts: str) -> None:
    assert search.parse_query(text).fts == fts


@pytest.mark.parametrize("text", ['"foo', "AND(", "-x", "a OR", '"""a', "NEAR(", "x*", "^a"])
def test_no_query_makes_fts5_fail(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    conn.execute("INSERT INTO t VALUES ('a foo x near and')")
    conn.execute("SELECT * FROM t WHERE t MATCH ?", (search.parse_query(text).fts,)).fetchall()


@pytest.mark.parametrize("text", ["", "   ", '""', "- ( ) *", "___"])
def test_a_query_without_words_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        search.parse_query(text)
    assert "\n" not in str(info.value)
    assert "give at least one word" in str(info.value)


def test_limit_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInput, match="--limit 0"):
        search.parse_limit(0)
    assert search.parse_limit(5) == 5


# -- text from terminal bytes ------------------------------------------------------------------


def test_escape_sequences_are_removed() -> None:
    data = (
        b"\x1b[1;38;2;255;0;0mred\x1b[0m plain\r\n"  # SGR
        b"\x1b]0;window title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n"  # OSC
        b"\x1b[?2026h\x1b[2K\x1b[1Aredrawn\x1b[?2026l\r\n"  # modes, erase; up: a new row
        b"box\x1b[3;5H\xe2\x94\x82 drawn\x1b[K\r\n"  # a move to a row ends a line
        b"\x1bPtmux;stuff\x1b\\dcs\x1b(B\x1b7\x1b8 after\r\n"  # DCS, charset, save/restore
        b"a\x1b[5Cb\ttab\x07\x08\r\n"  # cursor forward stands for space
    )
    assert search.extract_lines(data) == [
        "red plain",
        "link",
        "",
        "redrawn",
        "box",
        "│ drawn",
        "dcs after",
        "a b tab",
    ]


def test_an_unended_sequence_does_not_swallow_the_next_lines() -> None:
    assert search.extract_lines(b"a\x1b]0;never ended\r\nnext line\r\n\x1bPdcs\nlast\n") == [
        "a",
        "next line",
        "",
        "last",
    ]


def test_carriage_returns_keep_each_state_once() -> None:
    assert search.extract_lines(b"step 1\rstep 2\rstep 2\r\n") == ["step 1 step 2"]


def test_wide_characters_and_bad_utf8() -> None:
    lines = search.extract_lines("日本語のテキスト 🎉 ok\r\n".encode() + b"bad \xff\xfe end\n")
    assert lines == ["日本語のテキスト 🎉 ok", "bad \ufffd\ufffd end"]


def test_partial_last_line_counts() -> None:
    assert search.extract_lines(b"one\r\ntwo") == ["one", "two"]
    assert search.extract_lines(b"one\n\n") == ["one", ""]


def test_rows_are_consecutive_lines_without_repeats() -> None:
    recent = search.Recent()
    lines = ["a", "b", "", "c", "a", "d"] + [f"n{i}" for i in range(20)]
    chunks = search.chunk_lines(lines, 10, recent)
    # blank line 12 and the repeat of "a" (14) split the rows; 16 lines at most per row
    assert chunks[0] == (10, "a\nb")
    assert chunks[1] == (13, "c")
    assert chunks[2][0] == 15
    assert chunks[2][1].split("\n")[:2] == ["d", "n0"]
    assert len(chunks[2][1].split("\n")) == search.CHUNK_LINES
    # the same screen redrawn later is not indexed again
    assert search.chunk_lines(["c", "d"], 100, recent) == []


def test_spans_and_marks_whole_words() -> None:
    m = search.Match("s", "t", "completed", "scrollback", 3, "Parse the parser; PARSE", [])
    m.spans = search.spans_of(m.text, ["parse"])
    assert m.marked() == "»Parse« the parser; »PARSE«"


# -- reading a rotating scrollback log -----------------------------------------------------------


def test_rotation_loses_no_line_and_repeats_none(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    log = ScrollbackLog(path, 64 * 1024)  # rotates at 32 KiB
    state: tuple[int | None, int, int] = (None, 0, 0)
    recent = search.Recent(size=0)
    recent.add = lambda line: True  # type: ignore[method-assign]
    seen: list[str] = []
    for i in range(3000):
        log.append(f"line {i:05d} of the output\r\n".encode())
        if i % 500 == 499:  # the indexer reads now and then: rotations happen in between
            log.flush()
            while (
                step := search.read_step(path, *state, recent, final=False, limit=8192)
            ) is not None:
                seen += [t for _, c in step.chunks for t in c.split("\n")]
                state = (step.inode, step.offset, step.lines)
    log.close()
    assert path.with_name("s.log.1").exists()
    assert seen == [f"line {i:05d} of the output" for i in range(3000)]
    assert state[2] == 3000


def test_partial_line_waits_until_the_end(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    path.write_bytes(b"done\r\nhalf a li")
    recent = search.Recent()
    step = search.read_step(path, None, 0, 0, recent, final=False)
    assert step is not None and step.chunks == [(1, "done")] and step.offset == 6
    assert search.read_step(path, step.inode, step.offset, step.lines, recent, final=False) is None
    last = search.read_step(path, step.inode, step.offset, step.lines, recent, final=True)
    assert last is not None and last.chunks == [(2, "half a li")]


# -- transcripts -------------------------------------------------------------------------------


def test_transcript_text_of_user_and_assistant() -> None:
    records = [
        {"type": "summary", "summary": "not this"},
        {"type": "user", "message": {"role": "user", "content": "find the zebra\nplease"}},
        {
            "type": "assistant",
            "message": {
                "content": [
                    {"type": "text", "text": "Found it."},
                    {"type": "tool_use", "name": "Bash", "input": {"command": "not this"}},
                ]
            },
        },
        {"type": "user", "message": {"content": [{"type": "tool_result", "content": "no"}]}},
    ]
    data = "\n".join(json.dumps(r) for r in records).encode() + b"\n{broken"
    lines = search.transcript_lines(data)
    assert lines == [(2, "user: find the zebra"), (2, "user: please"), (3, "assistant: Found it.")]
    assert search.transcript_chunks(lines) == [
        (2, "user: find the zebra\nuser: please"),
        (3, "assistant: Found it."),
    ]


# -- the index in a real SQLite file ---------------------------------------------------------------


def _session(paths: Paths, title: str, output: bytes, **kw: object) -> str:
    s = sess.create_session(title=title, working_directory=str(paths.home), **kw)  # type: ignore[arg-type]
    Session.update(status="completed").where(Session.id == s.id).execute()
    (paths.scrollback_dir / f"{s.id}.log").write_bytes(output)
    return str(s.id)


def _index(paths: Paths, ids: list[str]) -> search.SearchIndexer:
    async def run() -> search.SearchIndexer:
        ix = search.SearchIndexer(paths.scrollback_dir, lambda: [])
        for sid in ids:
            ix.ended(sid)
        while await ix.run_pass():
            pass
        await ix.run_pass()
        return ix

    return asyncio.run(run())


def test_index_finds_lines_fields_and_forgets_removed_sessions(db: Paths) -> None:
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    a = _session(db, "Fix parser", b"\x1b[32mcompiling\x1b[0m\r\nerror: zebra undefined\r\n")
    b = _session(db, "Other", b"all fine\r\nthe zebra crossing\r\n", prompt="count zebras")
    _index(db, [a])
    _index(db, [b])  # indexed later: its rows are newer
    found = search.search("zebra")
    assert [(m.session_id, m.place) for m in found] == [
        (b, "scrollback line 2"),
        (a, "scrollback line 2"),
    ]
    assert found[1].marked() == "error: »zebra« undefined"
    assert [m.where for m in search.search("zebras")] == ["prompt"]
    assert [(m.where, m.session_id) for m in search.search("parser")] == [("title", a)]
    assert {m.where for m in search.search(db.home.name)} == {"folder"}
    assert search.search('"zebra undefined"')[0].session_id == a
    assert search.search('"undefined zebra"') == []
    assert search.search("nothing-like-this") == []
    sess.remove_session(a)
    assert [m.session_id for m in search.search("zebra")] == [b]
    assert not SearchDoc.select().where(SearchDoc.session == a).exists()
    # its rows are unindexed in batches, after the removal
    assert SearchChunk.select().count() == 2  # a row of two lines each
    while search.purge_removed(batch=1):
        pass
    assert SearchChunk.select().count() == 1
    conn = sqlite3.connect(db.db)
    # the full-text index forgot the rows too (its integrity check compares it to them)
    conn.execute("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')")
    assert (
        conn.execute(
            "SELECT count(*) FROM search_fts WHERE search_fts MATCH 'undefined'"
        ).fetchone()[0]
        == 0
    )


def test_catch_up_reads_only_what_is_new(db: Paths) -> None:
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    sid = _session(db, "t", b"first words\r\n")
    _index(db, [sid])
    with (db.scrollback_dir / f"{sid}.log").open("ab") as fh:
        fh.write(b"second words\r\n")

    async def catch_up() -> None:
        ix = search.SearchIndexer(db.scrollback_dir, lambda: [], period=0.01)
        task = asyncio.create_task(ix.run())
        await asyncio.wait_for(ix.caught_up.wait(), 10)
        ix.stop()
        await task

    asyncio.run(catch_up())
    assert [m.line for m in search.search("words")] == [2, 1]
    assert SearchChunk.select().count() == 2
    doc = SearchDoc.get(SearchDoc.session == sid)
    assert doc.offset == os.path.getsize(db.scrollback_dir / f"{sid}.log")
