"""Tokens and cost: what Claude Code's transcripts say each API message used, summed once.

A transcript is JSON lines. An assistant line carries ``message.usage`` (``input_tokens``,
``output_tokens``, ``cache_creation_input_tokens`` with its ``cache_creation`` split into the
5-minute and 1-hour lifetimes, ``cache_read_input_tokens``), ``message.model``, ``message.id``
and a ``timestamp``. One API message is often written as several lines, one per content block
(text, then a tool call), sharing ``message.id`` and ``requestId`` and repeating the same usage
(a later line may carry the final, larger output count). :class:`Tally` counts each message once:
by its id, only what a line adds above what that message already counted. Lines that are not
JSON, not an assistant's, or without usage are skipped; so are Claude Code's synthetic
messages (model ``<synthetic>``: an error shown as a reply, no API call).

Sums are kept per session, per *local* day (the timestamp in this machine's time zone) and per
model, with the cost estimated from the session's agent profile prices
(:mod:`c3desk.core.prices`) at the time the lines are read; a model without a price has no cost
(``None``), never a guessed one. :func:`record` writes them to ``session_usage`` with the
transcripts' read offsets (``transcript_reads``) in one transaction; the queries below read
them for the CLI, ``c3desk show`` and the window.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import peewee as pw

from c3desk.core.prices import Price, price_for
from c3desk.store.models import Session, SessionUsage, TranscriptRead, db

SYNTHETIC = "<synthetic>"
RECENT = 32  # messages per transcript remembered across restarts (see Tally.recent)
MAX_SEEN = 50_000  # message ids one session's tally remembers (the oldest are forgotten)


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts of one message, or a sum. ``cache_write_1h`` is the part of
    ``cache_write`` written with the 1-hour lifetime (priced apart)."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    cache_write_1h: int = 0

    def above(self, before: Tokens) -> Tokens:
        """What this count adds to ``before`` (a later line of the same message)."""
        return Tokens(
            max(self.input - before.input, 0),
            max(self.output - before.output, 0),
            max(self.cache_write - before.cache_write, 0),
            max(self.cache_read - before.cache_read, 0),
            max(self.cache_write_1h - before.cache_write_1h, 0),
        )

    def most(self, other: Tokens) -> Tokens:
        return Tokens(
            max(self.input, other.input),
            max(self.output, other.output),
            max(self.cache_write, other.cache_write),
            max(self.cache_read, other.cache_read),
            max(self.cache_write_1h, other.cache_write_1h),
        )

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    def as_list(self) -> list[int]:
        return [self.input, self.output, self.cache_write, self.cache_read, self.cache_write_1h]


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One transcript line's usage."""

    message_id: str
    model: str
    when: datetime | None
    tokens: Tokens


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def usage_of(entry: object) -> UsageLine | None:
    """The usage an assistant transcript entry reports; None for any other entry."""
    if not isinstance(entry, dict) or entry.get("type") != "assistant":
        return None
    message = entry.get("message")
    if not isinstance(message, dict):
        return None
    usage = message.get("usage")
    model = message.get("model")
    if not isinstance(usage, dict) or not isinstance(model, str) or not model:
        return None
    if model == SYNTHETIC:
        return None
    ident = next(
        (
            v
            for v in (message.get("id"), entry.get("requestId"), entry.get("uuid"))
            if isinstance(v, str) and v
        ),
        None,
    )
    if ident is None:
        return None
    split = usage.get("cache_creation")
    one_hour = _count(split.get("ephemeral_1h_input_tokens")) if isinstance(split, dict) else 0
    tokens = Tokens(
        _count(usage.get("input_tokens")),
        _count(usage.get("output_tokens")),
        _count(usage.get("cache_creation_input_tokens")),
        _count(usage.get("cache_read_input_tokens")),
        one_hour,
    )
    return UsageLine(ident, model, _when(entry.get("timestamp")), tokens)


def parse_lines(data: bytes) -> tuple[list[UsageLine], int]:
    """The usage in the complete lines of ``data`` and how many bytes they take: a last line
    without its newline (still being written) is left for the next read."""
    end = data.rfind(b"\n") + 1
    out: list[UsageLine] = []
    for raw in data[:end].split(b"\n"):
        # Cheap test first: most lines of a transcript are not an assistant's usage.
        if b'"usage"' not in raw:
            continue
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a malformed line: skipped
        line = usage_of(entry)
        if line is not None:
            out.append(line)
    return out, end


@dataclass
class Sums:
    """Tokens, messages and cost of one (day, model)."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    messages: int = 0
    cost: float | None = None

    def add(self, tokens: Tokens, cost: float | None, new_message: bool) -> None:
        self.input += tokens.input
        self.output += tokens.output
        self.cache_write += tokens.cache_write
        self.cache_read += tokens.cache_read
        self.messages += int(new_message)
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read


def day_of(when: datetime | None, tz: tzinfo | None = None) -> str:
    """The local date (this machine's time zone, or ``tz``) of a timestamp, ``YYYY-MM-DD``."""
    moment = when or datetime.now(UTC)
    return moment.astimezone(tz).date().isoformat()


@dataclass
class Tally:
    """Counts each API message once, whatever number of lines (and reads) it comes in.

    ``seen`` holds, per message id, the most of each count already taken (the last
    :data:`MAX_SEEN` messages: a message's lines come together). ``recent`` (the last
    :data:`RECENT` ids) is what :func:`record` keeps per transcript, so that a restart reading
    on from the saved offset does not count again a message whose lines straddled it."""

    prices: Sequence[Price] = ()
    tz: tzinfo | None = None
    seen: dict[str, Tokens] = field(default_factory=dict)
    _price: dict[str, Price | None] = field(default_factory=dict)  # by model, looked up once

    def remember(self, recent: Mapping[str, Sequence[int]]) -> None:
        for ident, counts in recent.items():
            numbers = [_count(c) for c in counts][:5]
            self.seen[ident] = Tokens(*numbers)

    def add(self, lines: Iterable[UsageLine]) -> dict[tuple[str, str], Sums]:
        """The sums the new lines add, by (local day, model)."""
        out: dict[tuple[str, str], Sums] = {}
        for line in lines:
            before = self.seen.get(line.message_id)
            if before is None:
                delta, new = line.tokens, True
                self.seen[line.message_id] = line.tokens
            else:
                delta, new = line.tokens.above(before), False
                self.seen[line.message_id] = before.most(line.tokens)
            if not new and delta.total == 0:
                continue
            if new and len(self.seen) > MAX_SEEN + 1000:
                for old in list(itertools.islice(self.seen, len(self.seen) - MAX_SEEN)):
                    del self.seen[old]
            if line.model in self._price:
                price = self._price[line.model]
            else:
                price = self._price[line.model] = price_for(list(self.prices), line.model)
            cost = None if price is None else price.cost(*delta.as_list())
            key = (day_of(line.when, self.tz), line.model)
            out.setdefault(key, Sums()).add(delta, cost, new)
        return out

    def recent(self, ids: Iterable[str]) -> dict[str, list[int]]:
        """The counts of the last :data:`RECENT` of ``ids`` (in order), to save."""
        last = list(dict.fromkeys(ids))[-RECENT:]
        return {i: self.seen[i].as_list() for i in last if i in self.seen}


def merge(into: dict[tuple[str, str], Sums], more: Mapping[tuple[str, str], Sums]) -> None:
    for key, sums in more.items():
        target = into.setdefault(key, Sums())
        target.input += sums.input
        target.output += sums.output
        target.cache_write += sums.cache_write
        target.cache_read += sums.cache_read
        target.messages += sums.messages
        if sums.cost is not None:
            target.cost = (target.cost or 0.0) + sums.cost


# -- the database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadState:
    """Where one transcript's reading stopped, and its last messages' counts."""

    offset: int
    recent: dict[str, list[int]]


def read_states(session_id: str) -> dict[str, ReadState]:
    """The saved reading positions of a session's transcripts, by path."""
    out: dict[str, ReadState] = {}
    for row in TranscriptRead.select().where(TranscriptRead.session == session_id):
        try:
            recent = json.loads(row.recent) if row.recent else {}
        except ValueError:
            recent = {}
        if not isinstance(recent, dict):
            recent = {}
        out[str(row.path)] = ReadState(int(row.offset), recent)
    return out


# Plain SQL: peewee's query building cost more than the writes (ms per step).
_ADD_USAGE = """
INSERT INTO session_usage (session_id, day, model, input_tokens, output_tokens,
                           cache_creation_tokens, cache_read_tokens, messages, cost)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (session_id, day, model) DO UPDATE SET
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens,
  cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
  cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
  messages = messages + excluded.messages,
  cost = CASE WHEN cost IS NULL AND excluded.cost IS NULL THEN NULL
              ELSE COALESCE(cost, 0) + COALESCE(excluded.cost, 0) END
"""
_SAVE_READ = """
INSERT INTO transcript_reads (session_id, path, "offset", recent) VALUES (?, ?, ?, ?)
ON CONFLICT (session_id, path) DO UPDATE SET "offset" = excluded."offset",
  recent = excluded.recent
"""


def record(
    session_id: str,
    sums: Mapping[tuple[str, str], Sums],
    reads: Mapping[str, ReadState],
) -> bool:
    """Add ``sums`` to the session's usage rows and save the read positions, in one
    transaction. False when the session is gone (removed meanwhile): nothing is written."""
    with db.atomic("IMMEDIATE"):
        found = db.execute_sql("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if found is None:
            return False
        for (day, model), s in sums.items():
            db.execute_sql(
                _ADD_USAGE,
                (
                    session_id,
                    day,
                    model,
                    s.input,
                    s.output,
                    s.cache_write,
                    s.cache_read,
                    s.messages,
                    s.cost,
                ),
            )
        for path, state in reads.items():
            recent = json.dumps(state.recent, separators=(",", ":"))
            db.execute_sql(_SAVE_READ, (session_id, path, state.offset, recent))
    return True


@dataclass(frozen=True)
class Totals:
    """Tokens and cost of a group of usage rows. ``cost`` leaves out models without a price;
    ``unpriced`` names them."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    messages: int = 0
    cost: float = 0.0
    unpriced: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_creation_tokens": self.cache_write,
            "cache_read_tokens": self.cache_read,
            "total_tokens": self.total,
            "messages": self.messages,
            "cost_usd": round(self.cost, 6),
            "unpriced_models": list(self.unpriced),
        }


_SUMS = (
    pw.fn.SUM(SessionUsage.input_tokens).alias("i"),
    pw.fn.SUM(SessionUsage.output_tokens).alias("o"),
    pw.fn.SUM(SessionUsage.cache_creation_tokens).alias("w"),
    pw.fn.SUM(SessionUsage.cache_read_tokens).alias("r"),
    pw.fn.SUM(SessionUsage.messages).alias("m"),
    pw.fn.SUM(SessionUsage.cost).alias("c"),
    pw.fn.GROUP_CONCAT(
        pw.Case(None, [(SessionUsage.cost.is_null(), SessionUsage.model)], None)
    ).alias("u"),
)


def _totals(row: Any) -> Totals:
    unpriced = tuple(sorted(set(row.u.split(",")))) if row.u else ()
    return Totals(
        int(row.i or 0),
        int(row.o or 0),
        int(row.w or 0),
        int(row.r or 0),
        int(row.m or 0),
        float(row.c or 0.0),
        unpriced,
    )


def _since(query: pw.ModelSelect[SessionUsage], since: date | None) -> pw.ModelSelect[SessionUsage]:
    return query if since is None else query.where(SessionUsage.day >= since.isoformat())


def by_day(since: date | None = None) -> list[tuple[str, Totals]]:
    """Totals per local day, oldest first."""
    query = _since(SessionUsage.select(SessionUsage.day, *_SUMS), since)
    rows = query.group_by(SessionUsage.day).order_by(SessionUsage.day).objects()
    return [(str(r.day), _totals(r)) for r in rows]


def by_model(since: date | None = None) -> list[tuple[str, Totals]]:
    """Totals per model, the costliest first."""
    query = _since(SessionUsage.select(SessionUsage.model, *_SUMS), since)
    rows = [(str(r.model), _totals(r)) for r in query.group_by(SessionUsage.model).objects()]
    return sorted(rows, key=lambda item: (-item[1].cost, -item[1].total, item[0]))


@dataclass(frozen=True)
class SessionTotals:
    session_id: str
    title: str
    status: str
    first_day: str
    last_day: str
    totals: Totals


def by_session(since: date | None = None) -> list[SessionTotals]:
    """Totals per session (of the days since ``since``), the most recently used first."""
    query = _since(
        SessionUsage.select(
            SessionUsage.session,
            Session.title,
            Session.status,
            pw.fn.MIN(SessionUsage.day).alias("first"),
            pw.fn.MAX(SessionUsage.day).alias("last"),
            *_SUMS,
        ).join(Session),
        since,
    )
    rows: Iterable[Any] = query.group_by(SessionUsage.session).objects()
    out = [
        SessionTotals(
            str(r.session_id), str(r.title), str(r.status), str(r.first), str(r.last), _totals(r)
        )
        for r in rows
    ]
    return sorted(out, key=lambda s: (s.last_day, s.totals.total), reverse=True)


_ONE_SESSION = """
SELECT SUM(input_tokens), SUM(output_tokens), SUM(cache_creation_tokens),
       SUM(cache_read_tokens), SUM(messages), SUM(cost),
       GROUP_CONCAT(CASE WHEN cost IS NULL THEN model END)
FROM session_usage WHERE session_id = ?
"""


def session_totals(session_id: str) -> Totals | None:
    """One session's all-time totals (None before any usage was read). Plain SQL: tile
    headers ask for each shown session at every refresh."""
    row = db.execute_sql(_ONE_SESSION, (session_id,)).fetchone()
    if row is None or row[4] is None:
        return None
    i, o, w, r, m, c, u = row
    unpriced = tuple(sorted(set(str(u).split(",")))) if u else ()
    return Totals(int(i), int(o), int(w), int(r), int(m), float(c or 0.0), unpriced)


def totals_of(session_ids: Iterable[str] | None = None) -> dict[str, Totals]:
    """All-time totals of these sessions (None: of every session), by id."""
    query = SessionUsage.select(SessionUsage.session, *_SUMS)
    if session_ids is not None:
        query = query.where(SessionUsage.session.in_(list(session_ids)))
    return {str(r.session_id): _totals(r) for r in query.group_by(SessionUsage.session).objects()}


def session_models(session_id: str) -> list[tuple[str, Totals]]:
    """One session's totals per model, the costliest first."""
    query = SessionUsage.select(SessionUsage.model, *_SUMS).where(
        SessionUsage.session == session_id
    )
    rows = [(str(r.model), _totals(r)) for r in query.group_by(SessionUsage.model).objects()]
    return sorted(rows, key=lambda item: (-item[1].cost, -item[1].total, item[0]))


# -- how figures are written -------------------------------------------------------------------


def tokens_text(count: int) -> str:
    """``950``, ``12.3k``, ``4.56M``: a token count at a glance."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    if count < 1_000_000_000:
        return f"{count / 1_000_000:.2f}M"
    return f"{count / 1_000_000_000:.2f}G"


def cost_text(cost: float, unpriced: Sequence[str] = ()) -> str:
    """``$0.42``; ``$0.0031`` below a cent; a ``+`` when some models have no price (``no
    price`` when none has)."""
    if unpriced and cost == 0:
        return "no price"
    text = f"${cost:.4f}" if 0 < cost < 0.01 else f"${cost:.2f}"
    return text + ("+" if unpriced else "")


def summary(totals: Totals) -> str:
    """One short line: ``12.3k tokens · $0.42``."""
    return f"{tokens_text(totals.total)} tokens · {cost_text(totals.cost, totals.unpriced)}"
