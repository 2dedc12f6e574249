"""Search across history: sessions by title, folder, prompt, and the text of their output.

The text is kept in an SQLite FTS5 index (the migration "search across history"):
``search_docs`` is one row per indexed text of a session (its scrollback, its transcript) with
how far its file has been read; ``search_chunks`` holds small groups of consecutive lines with
the number of the first, and ``search_fts`` indexes them (external content, kept in step by
triggers). A removed session's docs go with it (``ON DELETE CASCADE``) and searches no longer
see its rows; the indexer then unindexes them in short batches (``search_removed``).

Scrollback files hold raw terminal bytes (:mod:`c3desk.core.scrollback`): their text is indexed
with escape sequences removed, as lines numbered from the session's first output, so a result
can point at its line. A line equal to one of the few hundred before it is not indexed again:
full-screen programs redraw the same lines over and over, and one hit for them is enough.
:class:`SearchIndexer` reads what the engine wrote (every :data:`PERIOD`, in a worker thread)
and writes the rows in short transactions from a thread of its own (on its own connection: FTS5
merges can hold a write for a large part of a second, the loop runs on meanwhile); at start it
catches up with files not read to their end (a crash, sessions from before the index). A
session's transcript (the conversation's user and assistant text) is indexed when the session
ends.

A user's query is never FTS syntax: its words become quoted terms (``"``-pairs become phrases),
so nothing a user types can make the query fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import os
import posixpath
import re
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import peewee as pw

from c3desk.core.launch import encode_remote_dir, transcript_path
from c3desk.core.worker_files import files_for
from c3desk.errors import InvalidInput
from c3desk.store.models import SearchChunk, SearchDoc, SearchRemoved, Session, db
from c3desk.transports.connection import WorkerConnection

log = logging.getLogger(__name__)

PERIOD = 1.0  # seconds between looks at running sessions' scrollback
READ_LIMIT = 32 * 1024  # bytes read (and written as one transaction) per step
CHUNK_LINES = 16  # lines per indexed row at most
CHUNK_CHARS = 2000  # characters per indexed row at most (longer lines are cut)
RECENT_LINES = 256  # a line equal to one of these is not indexed again
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

Where = Literal["title", "folder", "prompt", "scrollback", "transcript"]

# -- text from terminal bytes ----------------------------------------------------------------

# A move to another row ends a line (programs draw boxes and prompts by moving the cursor);
# other moves and erasing stand for blank space (words either side stay apart).
_ROW_MOVES = re.compile(rb"\x1b\[[0-9;?]*[ABEFHfd]")
_MOVES = re.compile(rb"\x1b\[[0-9;?]*[CDGJKST]")
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, modes, the rest)
    # OSC (titles, links), BEL or ST ended; DCS, SOS, PM, APC. An unended one stops at the
    # line's end: it must not swallow the lines after it.
    rb"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    rb"|\x1b[PX^_][^\x1b\n]*(?:\x1b\\)?"
    rb"|\x1b[ -/]*[0-~]"  # two- and three-byte escapes (charsets, ESC 7, ESC =)
    rb"|\x1b"  # a lone ESC cut off at the end
)
_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


def extract_lines(data: bytes) -> list[str]:
    """The text of terminal output, one string per line (``\\n``), escape sequences removed.

    Within a line, parts a carriage return wrote over are kept, once each, after one another
    (a progress line rewritten in place yields its distinct states). Runs of blank space become
    one space; a trailing partial line counts as a line.
    """
    data = _ROW_MOVES.sub(b"\n", data)
    data = _MOVES.sub(b" ", data)
    data = _ESCAPES.sub(b"", data)
    data = _CONTROLS.sub(b"", data.replace(b"\t", b" "))
    text = data.decode("utf-8", "replace")
    if text.endswith("\n"):
        text = text[:-1]
    out: list[str] = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [p for p in (_SPACES.sub(" ", s).strip() for s in line.split("\r")) if p]
            out.append(" ".join(dict.fromkeys(parts)))
        else:
            out.append(_SPACES.sub(" ", line).strip())
    return out


class Recent:
    """The last :data:`RECENT_LINES` distinct lines indexed for a session."""

    def __init__(self, size: int = RECENT_LINES) -> None:
        self._order: deque[str] = deque()
        self._seen: set[str] = set()
        self.size = size

    def add(self, line: str) -> bool:
        """Whether ``line`` is new (and so worth indexing); remembers it."""
        if line in self._seen:
            return False
        self._seen.add(line)
        self._order.append(line)
        if len(self._order) > self.size:
            self._seen.discard(self._order.popleft())
        return True


def chunk_lines(
    lines: Sequence[str], first: int, recent: Recent | None = None
) -> list[tuple[int, str]]:
    """Group lines numbered from ``first`` into (first line number, text) rows: consecutive
    lines only, at most :data:`CHUNK_LINES` and :data:`CHUNK_CHARS` each; blank lines and
    lines ``recent`` has seen are left out."""
    chunks: list[tuple[int, str]] = []
    start, group, size = 0, list[str](), 0
    for i, line in enumerate(lines):
        number = first + i
        if not line or (recent is not None and not recent.add(line)):
            continue
        line = line[:CHUNK_CHARS]
        if group and (
            number != start + len(group)
            or len(group) >= CHUNK_LINES
            or size + len(line) > CHUNK_CHARS
        ):
            chunks.append((start, "\n".join(group)))
            group, size = [], 0
        if not group:
            start = number
        group.append(line)
        size += len(line) + 1
    if group:
        chunks.append((start, "\n".join(group)))
    return chunks


# -- transcripts -------------------------------------------------------------------------------


def transcript_lines(data: bytes) -> list[tuple[int, str]]:
    """The user and assistant text of a Claude Code transcript (JSON lines), as (record number,
    ``role: line``) pairs; tool calls, results and other records are left out."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line being written, or not JSON
        if not isinstance(record, dict) or record.get("type") not in ("user", "assistant"):
            continue
        message = record.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts = [content]
        elif isinstance(content, list):
            texts = [
                c["text"]
                for c in content
                if isinstance(c, dict)
                and c.get("type") == "text"
                and isinstance(c.get("text"), str)
            ]
        else:
            continue
        role = record["type"]
        for text in texts:
            for line in text.splitlines():
                line = _SPACES.sub(" ", line).strip()
                if line:
                    out.append((number, f"{role}: {line}"))
    return out


def transcript_chunks(lines: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """Rows of one record's lines each (a record's number is the rows' line)."""
    chunks: list[tuple[int, str]] = []
    for number, line in lines:
        line = line[:CHUNK_CHARS]
        if chunks and chunks[-1][0] == number:
            text = chunks[-1][1]
            if text.count("\n") + 1 < CHUNK_LINES and len(text) + len(line) < CHUNK_CHARS:
                chunks[-1] = (number, text + "\n" + line)
                continue
        chunks.append((number, line))
    return chunks


# -- queries -----------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_PAIRED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Query:
    text: str
    phrases: tuple[tuple[str, ...], ...]  # each a run of words that must follow one another

    @property
    def words(self) -> list[str]:
        return list(dict.fromkeys(w for p in self.phrases for w in p))

    @property
    def fts(self) -> str:
        """The FTS5 MATCH expression: every phrase quoted (no operator can slip in)."""
        return " ".join('"' + " ".join(p).replace('"', '""') + '"' for p in self.phrases)


def parse_query(text: str) -> Query:
    """A user's search text as quoted terms; words are letters and digits, the rest separates
    them. Text between a pair of double quotes is a phrase; an unpaired quote is ignored."""
    pieces: list[str] = []
    rest = text
    if text.count('"') >= 2:
        pieces += [f'"{m}' for m in _PAIRED.findall(text)]
        rest = _PAIRED.sub(" ", text)
    pieces += rest.split()
    phrases: list[tuple[str, ...]] = []
    for piece in pieces:
        words = tuple(w.lower() for w in _WORD.findall(piece))
        if not words:
            continue
        if piece.startswith('"'):
            phrases.append(words)
        else:
            phrases.extend((w,) for w in words)
    if not phrases:
        if not text.strip():
            raise InvalidInput("the search query is empty: give at least one word")
        raise InvalidInput(f"nothing to search for in {text!r}: give at least one word")
    return Query(text, tuple(dict.fromkeys(phrases)))


def parse_limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"--limit {value} is out of range 1..{MAX_LIMIT}")
    return value


@dataclass
class Match:
    session_id: str
    title: str
    status: str
    where: Where
    line: int | None  # scrollback: the line's number in the session's output; transcript:
    # the record's number in the file
    text: str  # the matching line
    spans: list[tuple[int, int]] = field(default_factory=list)  # the words found in ``text``

    @property
    def place(self) -> str:
        if self.where in ("scrollback", "transcript") and self.line is not None:
            return f"{self.where} line {self.line}"
        return self.where

    def marked(self, before: str = "»", after: str = "«") -> str:
        out, last = [], 0
        for start, end in self.spans:
            out += [self.text[last:start], before, self.text[start:end], after]
            last = end
        out.append(self.text[last:])
        return "".join(out)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spans"] = [list(s) for s in self.spans]
        data["place"] = self.place
        return data


def spans_of(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Where the words are whole words in ``text`` (case-insensitive), merged, in order."""
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    found: list[tuple[int, int]] = []
    for word in words:
        for m in re.finditer(r"(?<![^\W_])" + re.escape(word) + r"(?![^\W_])", lowered):
            found.append((m.start(), m.end()))
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _best_line(text: str, first: int, words: list[str]) -> tuple[int, str, list[tuple[int, int]]]:
    """The line of a row that holds the most of the words: its number, text and spans."""
    best: tuple[int, int, str, list[tuple[int, int]]] | None = None
    for i, line in enumerate(text.split("\n")):
        spans = spans_of(line, words)
        hits = len({line[s:e].lower() for s, e in spans})
        if best is None or hits > best[0]:
            best = (hits, first + i, line, spans)
    assert best is not None
    return best[1], best[2], best[3]


def _clip(
    text: str, spans: list[tuple[int, int]], width: int = 200
) -> tuple[str, list[tuple[int, int]]]:
    """At most ``width`` characters of a long line, around its first match."""
    if len(text) <= width:
        return text, spans
    start = max(0, (spans[0][0] - width // 3) if spans else 0)
    end = min(len(text), start + width)
    pre, post = ("…" if start else ""), ("…" if end < len(text) else "")
    shift = len(pre) - start
    kept = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return pre + text[start:end] + post, kept


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _field_matches(query: Query, limit: int) -> list[Match]:
    """Sessions whose title, folder or prompt holds every word of the query."""
    fields: list[tuple[Where, Any]] = [
        ("title", Session.title),
        ("folder", Session.working_directory),
        ("prompt", Session.prompt),
    ]
    out: list[Match] = []
    for where, column in fields:
        words = query.words
        sql = " AND ".join([f"{column.column_name} LIKE ? ESCAPE '\\'"] * len(words))
        cond = pw.SQL(sql, [_like(w) for w in words])
        rows = Session.select(Session.id, Session.title, Session.status, column).where(cond)
        for s in rows.order_by(Session.created_at.desc()).limit(limit * 4):
            value = str(getattr(s, column.name) or "")
            if not all(spans_of(value, [w]) for w in words):
                continue  # LIKE found the letters inside a longer word
            line = next(
                (ln for ln in value.splitlines() if spans_of(ln, query.words)),
                value.splitlines()[0] if value else "",
            )
            text, spans = _clip(line, spans_of(line, query.words))
            out.append(Match(s.id, s.title, s.status, where, None, text, spans))
    return out


_TEXT_QUERY = """
SELECT c.line, c.text, d.kind, d.session_id, s.title, s.status
FROM (SELECT rowid AS id FROM search_fts WHERE search_fts MATCH ?
      ORDER BY rowid DESC LIMIT ?) AS hit
JOIN search_chunks c ON c.id = hit.id
JOIN search_docs d ON d.id = c.doc_id
JOIN sessions s ON s.id = d.session_id
ORDER BY c.id DESC
"""


def search(text: str, limit: int = DEFAULT_LIMIT) -> list[Match]:
    """The matches of a user's query, at most ``limit``: sessions whose title, folder or prompt
    holds its words first (newest sessions first), then lines of output (newest first)."""
    query = parse_query(text)
    limit = parse_limit(limit)
    found = _field_matches(query, limit)
    if len(found) >= limit:
        return found[:limit]
    conn: sqlite3.Connection = db.connection()
    words = query.words
    for line, chunk, kind, sid, title, status in conn.execute(
        _TEXT_QUERY, (query.fts, limit - len(found))
    ):
        number, shown, spans = _best_line(chunk, int(line), words)
        shown, spans = _clip(shown, spans)
        found.append(Match(sid, title, status, kind, number, shown, spans))
    return found


def format_matches(matches: Sequence[Match], query: str) -> str:
    if not matches:
        return f"no matches for {query!r}"
    lines = []
    for m in matches:
        lines.append(f"{m.session_id[:8]}  {m.status:<9}  {m.place:<22}  {m.title}".rstrip())
        lines.append(f"    {m.marked()}")
    return "\n".join(lines)


def command(text: str, *, as_json: bool, limit: int) -> int:
    """``c3desk search``: print the matches (a table, or JSON)."""
    matches = search(text, limit)
    if as_json:
        print(json.dumps([m.as_dict() for m in matches], indent=2, ensure_ascii=False))
    else:
        print(format_matches(matches, text))
    return 0


# -- writing the index -------------------------------------------------------------------------


def doc_of(session_id: str, kind: str) -> SearchDoc | None:
    """The session's indexed text of this kind (created on first use); None when the session
    is not (or no longer) there."""
    try:
        SearchDoc.insert(session=session_id, kind=kind).on_conflict_ignore().execute()
    except pw.IntegrityError:
        return None
    return SearchDoc.get_or_none((SearchDoc.session == session_id) & (SearchDoc.kind == kind))


def add_chunks(doc_id: int, chunks: Sequence[tuple[int, str]], **progress: Any) -> bool:
    """Write rows and the doc's progress in one transaction; False when its session is gone."""
    try:
        with db.atomic():
            updated = SearchDoc.update(**progress).where(SearchDoc.id == doc_id).execute()
            if not updated:
                return False
            if chunks:
                conn: sqlite3.Connection = db.connection()
                conn.executemany(
                    "INSERT INTO search_chunks (doc_id, line, text) VALUES (?, ?, ?)",
                    [(doc_id, line, text) for line, text in chunks],
                )
    except pw.IntegrityError:
        return False
    return True


def replace_transcript(session_id: str, chunks: Sequence[tuple[int, str]], size: int) -> bool:
    """The session's transcript rows become ``chunks`` (a continued session's transcript grew)."""
    doc = doc_of(session_id, "transcript")
    if doc is None:
        return False
    with db.atomic():
        SearchChunk.delete().where(SearchChunk.doc_id == doc.id).execute()
        return add_chunks(doc.id, chunks, offset=size, lines=len(chunks))


PURGE_BATCH = 1000  # rows of a removed session unindexed per transaction


def purge_removed(batch: int = PURGE_BATCH) -> bool:
    """Unindex up to ``batch`` rows of removed sessions; True when some may be left."""
    doc = SearchRemoved.select().limit(1).first()
    if doc is None:
        return False
    with db.atomic():
        conn: sqlite3.Connection = db.connection()
        gone = conn.execute(
            "DELETE FROM search_chunks WHERE id IN "
            "(SELECT id FROM search_chunks WHERE doc_id = ? LIMIT ?)",
            (doc.doc_id, batch),
        ).rowcount
        if gone < batch:
            SearchRemoved.delete().where(SearchRemoved.doc_id == doc.doc_id).execute()
    return True


def index_size() -> int:
    """Rows in the index (for status and tests)."""
    return int(SearchChunk.select().count())


# -- reading scrollback --------------------------------------------------------------------------


@dataclass
class _Step:
    inode: int | None
    offset: int
    lines: int
    chunks: list[tuple[int, str]]
    more: bool  # there is more to read now


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _head_line(path: Path, limit: int) -> bytes:
    """The file's bytes up to its first line end (included), or none when it has none yet."""
    try:
        with path.open("rb") as fh:
            head = fh.read(limit)
    except OSError:
        return b""
    cut = head.find(b"\n") + 1
    return head[:cut]


def read_step(
    path: Path,
    inode: int | None,
    offset: int,
    lines: int,
    recent: Recent,
    *,
    final: bool,
    limit: int = READ_LIMIT,
) -> _Step | None:
    """Read and parse the next part of a scrollback log (``<id>.log`` and the ``.log.1`` it
    rotates into) after (``inode``, ``offset``); None when there is nothing new.

    A partial last line is left for later unless ``final`` (the session has ended) or the file
    is one that rotation finished. Runs in a worker thread: no database access.
    """
    previous = path.with_name(path.name + ".1")
    live, old = _stat(path), _stat(previous)
    if live is not None and live.st_ino == inode:
        target, info, done = path, live, final
    elif old is not None and old.st_ino == inode:
        target, info, done = previous, old, True  # rotation finished it: nothing more comes
    elif old is not None:
        # Not begun, or what was followed is gone (rotated twice): the older file first.
        target, info, done, offset = previous, old, True, 0
    elif live is not None:
        target, info, done, offset = path, live, final, 0
    else:
        return None
    if info.st_size < offset:
        offset = 0  # the file was replaced by a shorter one
    data = b""
    if info.st_size > offset:
        try:
            with target.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(limit)
        except OSError:
            return None
    full = len(data) >= limit
    if data and not data.endswith(b"\n") and not (done and not full):
        cut = data.rfind(b"\n") + 1
        if cut == 0 and not full:
            data = b""
        elif cut:
            data = data[:cut]
    end = offset + len(data)
    finished_old = target is previous and end >= info.st_size and live is not None
    if not data and not finished_old:
        return None
    resume = 0  # where the live file is to be read from after the older one
    if finished_old and data and not data.endswith(b"\n"):
        # Rotation cuts where a write happened to cross the limit, often inside a line: the
        # line's start ends the older file and its rest begins the live one.
        head = _head_line(path, limit)
        data += head
        resume = len(head)
    parsed = extract_lines(data) if data else []
    chunks = chunk_lines(parsed, lines + 1, recent)
    if finished_old:
        assert live is not None
        return _Step(live.st_ino, resume, lines + len(parsed), chunks, True)
    more = end < info.st_size and (full or target is previous)
    return _Step(info.st_ino, end, lines + len(parsed), chunks, more)


# How to read a session's transcript: (session id, its worker's id) → its bytes, or None.
TranscriptReader = Callable[[str, str | None], Awaitable[bytes | None]]
TRANSCRIPT_TIMEOUT = 30.0  # seconds a transcript read may take (a worker that stopped answering)


class SearchIndexer:
    """Keeps the index up with running sessions' output (see the module docstring).

    ``live_ids`` names the sessions running now; the engine calls :meth:`ended` when one ends;
    ``transcripts`` reads a session's transcript (None: transcripts are not indexed). One pass
    looks at every running session, reads what was added in a worker thread and writes it from
    the indexer's writer thread, :data:`READ_LIMIT` bytes per transaction; ``write_seconds``
    keeps the longest such write. At start, it catches up with scrollback not read to its end
    and with ended sessions' transcripts never read.
    """

    def __init__(
        self,
        scrollback_dir: Path,
        live_ids: Callable[[], Iterable[str]],
        *,
        transcripts: TranscriptReader | None = None,
        period: float = PERIOD,
        read_limit: int = READ_LIMIT,
    ) -> None:
        self.transcripts = transcripts
        self.scrollback_dir = scrollback_dir
        self.live_ids = live_ids
        self.period = period
        self.read_limit = read_limit
        self._recent: dict[str, Recent] = {}
        # scrollback progress: doc id, inode, offset, lines (as written to search_docs)
        self._docs: dict[str, tuple[int, int | None, int, int]] = {}
        self._pending: set[str] = set()  # to read to the end once: caught up or ended
        self._final: set[str] = set()  # ended: their partial last line counts too
        self._transcripts: dict[str, str | None] = {}  # to read once its output is: worker id
        self._wake = asyncio.Event()
        self._stopping = False
        self.caught_up = asyncio.Event()
        self.write_seconds = 0.0  # the longest one write took (in the writer thread)
        self._owed = 0.0  # time the writes took since the last pause
        self.passes = 0
        # Rows are written by one thread of the indexer's own, on a connection of its own:
        # SQLite lets go of the interpreter while it tokenizes and merges (FTS5's merges hold
        # a write for 0.1-0.8 s now and then), so the loop runs on meanwhile.
        self._writer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="c3desk-search-writer"
        )

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def ended(self, session_id: str, worker_id: str | None = None) -> None:
        """The session's process ended: read its output to the end, then its transcript (on
        the machine of this worker)."""
        self._pending.add(session_id)
        self._final.add(session_id)
        self._transcripts[session_id] = worker_id
        self._wake.set()

    def forget(self, session_id: str) -> None:
        self._recent.pop(session_id, None)
        self._docs.pop(session_id, None)
        self._pending.discard(session_id)
        self._final.discard(session_id)
        self._transcripts.pop(session_id, None)

    async def _write(self, write: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run ``write`` (a transaction) in the writer thread; its time is paid back by a
        pause of the indexer (see :meth:`run`)."""
        began = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._writer, functools.partial(write, *args, **kw)
            )
        finally:
            took = time.perf_counter() - began
            self.write_seconds = max(self.write_seconds, took)
            self._owed += took

    async def run(self) -> None:
        """Catch up, then follow running sessions until :meth:`stop`."""
        try:
            await self._follow()
        finally:
            # The writer's connection is closed by its own thread (after a write still under
            # way), then the thread ends: both happen even if this wait is cancelled.
            closing = asyncio.get_running_loop().run_in_executor(self._writer, _close_connection)
            self._writer.shutdown(wait=False)
            with contextlib.suppress(Exception):
                await closing

    async def _follow(self) -> None:
        try:
            self._pending |= self._behind()
            unread = self._transcripts_behind()
            self._pending |= set(unread)
            self._transcripts.update(unread)
        except Exception:
            log.exception("search index: looking for sessions to catch up with failed")
        first, failing = True, False
        while not self._stopping:
            busy = False
            try:
                busy = await self.run_pass()
                if failing:
                    failing = False
                    log.info("search index: writing again")
            except Exception:
                # A full disk, a read-only folder: said once, tried again every period.
                if not failing:
                    failing = True
                    log.exception("search index: a pass failed; trying again")
            if first and not self._pending:
                first = False
                self.caught_up.set()
            if busy:
                # A backlog (catching up, a flood): as long a pause as the writes held the loop,
                # so that the index takes at most about half of it and the window stays live.
                owed, self._owed = self._owed, 0.0
                await asyncio.sleep(min(owed, 0.5))
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.period)

    def _behind(self) -> set[str]:
        """Sessions whose scrollback has more than the index has read (by size alone: a cheap
        look, one stat per session that ran)."""
        read = {
            d.session_id: (d.inode, d.offset)
            for d in SearchDoc.select().where(SearchDoc.kind == "scrollback")
        }
        behind: set[str] = set()
        for s in Session.select(Session.id).where(Session.status != "queued"):
            path = self.scrollback_dir / f"{s.id}.log"
            info = _stat(path)
            old = _stat(path.with_name(path.name + ".1"))
            if info is None and old is None:
                continue
            known = read.get(s.id)
            if (
                known is None
                or info is None
                or known != (info.st_ino, info.st_size)
                or (old is not None and known[0] == old.st_ino)
            ):
                behind.add(s.id)
        return behind

    async def run_pass(self) -> bool:
        """Index what is new in every session that needs it; True when more is waiting."""
        self.passes += 1
        busy = False
        live = list(self.live_ids())
        for sid in list(dict.fromkeys([*live, *sorted(self._pending)])):
            if self._stopping:
                break
            # A session not running (ended, or caught up with) writes no more: its partial
            # last line is complete.
            more = await self.step(sid, final=sid in self._final or sid not in live)
            if more:
                busy = True
            elif sid in self._pending:
                self._pending.discard(sid)
                self._final.discard(sid)
                if sid in self._transcripts:
                    await self._index_transcript(sid, self._transcripts.pop(sid))
                if sid not in live:
                    self._recent.pop(sid, None)
                    self._docs.pop(sid, None)
        if not self._stopping and await self._write(purge_removed):
            busy = True
        return busy

    async def step(self, session_id: str, *, final: bool = False) -> bool:
        """Index the next part of one session's scrollback; True when more is waiting."""
        state = self._docs.get(session_id)
        if state is None:
            # Read once, then kept here: only this indexer writes a scrollback's progress, and
            # a look at a quiet session costs a stat in a thread, no database access.
            doc = doc_of(session_id, "scrollback")
            if doc is None:
                self.forget(session_id)
                return False
            state = self._docs[session_id] = (doc.id, doc.inode, int(doc.offset), int(doc.lines))
        doc_id, inode, offset, lines = state
        recent = self._recent.setdefault(session_id, Recent())
        path = self.scrollback_dir / f"{session_id}.log"
        result = await asyncio.to_thread(
            read_step, path, inode, offset, lines, recent, final=final, limit=self.read_limit
        )
        if result is None:
            return False
        kept = await self._write(
            add_chunks,
            doc_id,
            result.chunks,
            inode=result.inode,
            offset=result.offset,
            lines=result.lines,
        )
        if not kept or session_id not in self._docs:  # gone, or forgotten meanwhile
            self.forget(session_id)
            return False
        self._docs[session_id] = (doc_id, result.inode, result.offset, result.lines)
        return result.more

    def _transcripts_behind(self) -> dict[str, str | None]:
        """Ended sessions whose transcript was never read (c3desk quit as they ended, or they
        are from before the index): session id → worker id."""
        if self.transcripts is None:
            return {}
        read = SearchDoc.select(SearchDoc.session).where(SearchDoc.kind == "transcript")
        rows = Session.select(Session.id, Session.worker).where(
            Session.status.in_(("completed", "failed"))
            & Session.claude_session_id.is_null(False)
            & Session.id.not_in(read)
        )
        return {s.id: s.worker_id for s in rows}

    async def _index_transcript(self, session_id: str, worker_id: str | None) -> None:
        if self.transcripts is None:
            return
        try:
            data = await asyncio.wait_for(
                self.transcripts(session_id, worker_id), TRANSCRIPT_TIMEOUT
            )
        except Exception:
            log.warning(
                "search index: the transcript of %s was not read", session_id, exc_info=True
            )
            return
        # None: it has none (a conversation that never had a turn); recorded as read and empty
        # so that the next start does not ask again (a continuation reads it again).
        chunks = await asyncio.to_thread(
            lambda: transcript_chunks(transcript_lines(data)) if data else []
        )
        try:
            await self._write(replace_transcript, session_id, chunks, len(data or b""))
        except pw.DatabaseError:
            log.warning(
                "search index: the transcript of %s was not indexed", session_id, exc_info=True
            )


def _close_connection() -> None:
    """Close this thread's connection to the database (the writer's), if it has one."""
    if db.obj is not None and not db.is_closed():
        db.close()


async def read_transcript(
    session_id: str, conn: WorkerConnection | None, env: Mapping[str, str]
) -> bytes | None:
    """The bytes of a session's transcript, on its own machine (this one, or an SSH worker's
    through its connection, SFTP); None when it has none (yet) or it cannot be read."""
    s = Session.get_or_none(Session.id == session_id)
    if s is None or not s.claude_session_id:
        return None
    files = files_for(conn)
    if conn is None or not files.remote:
        path = str(transcript_path(s.working_directory, s.claude_session_id, env))
    else:
        config = await conn.claude_config_dir() or posixpath.join(await conn.home(), ".claude")
        real = await conn.realpath(s.working_directory)
        name = f"{s.claude_session_id}.jsonl"
        path = posixpath.join(config, "projects", encode_remote_dir(real), name)
    got = await files.read_from(path, 0)
    return None if got is None else got[1]
