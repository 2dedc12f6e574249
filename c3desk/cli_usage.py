"""``c3desk usage [--json] [--since DATE]``: tokens and estimated cost per day and per session.

The figures are what c3desk has read from the sessions' transcripts (while they ran, and when
they ended; see :mod:`c3desk.core.usage_watch`), summed in the database.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date, timedelta
from typing import Any

from c3desk.core import usage

_AGO = re.compile(r"^(\d{1,5})d$")


def parse_since(text: str, today: date | None = None) -> date:
    """``YYYY-MM-DD``, ``today``, ``yesterday`` or ``Nd`` (N days ago), local dates."""
    value = text.strip().lower()
    today = today or date.today()
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    ago = _AGO.match(value)
    if ago:
        return today - timedelta(days=int(ago.group(1)))
    try:
        return date.fromisoformat(value) if len(value) == 10 else _not_a_date(text)
    except ValueError:
        return _not_a_date(text)


def _not_a_date(text: str) -> date:
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a date (YYYY-MM-DD, today, yesterday, or 7d for 7 days ago)"
    )


def add_parser(sub: Any) -> None:
    """Register the ``usage`` subcommand on the CLI's subparsers."""
    u = sub.add_parser(
        "usage", help="tokens and estimated cost per day and per session (from transcripts)"
    )
    u.add_argument("--json", action="store_true")
    u.add_argument(
        "--since",
        type=parse_since,
        metavar="DATE",
        help="only days from DATE on (YYYY-MM-DD, today, yesterday, 7d)",
    )


def _figures(t: usage.Totals) -> list[str]:
    return [
        f"{t.input:,}",
        f"{t.output:,}",
        f"{t.cache_write:,}",
        f"{t.cache_read:,}",
        f"{t.total:,}",
        usage.cost_text(t.cost, t.unpriced),
    ]


FIGURES = ["INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "TOTAL", "COST"]


def report(since: date | None) -> dict[str, Any]:
    """Everything ``usage --json`` prints."""
    days = usage.by_day(since)
    sessions = usage.by_session(since)
    models = usage.by_model(since)
    everything = usage.Totals(
        sum(t.input for _, t in days),
        sum(t.output for _, t in days),
        sum(t.cache_write for _, t in days),
        sum(t.cache_read for _, t in days),
        sum(t.messages for _, t in days),
        sum(t.cost for _, t in days),
        tuple(sorted({m for _, t in days for m in t.unpriced})),
    )
    return {
        "since": since.isoformat() if since else None,
        "total": everything.as_dict(),
        "days": [{"day": day, **t.as_dict()} for day, t in days],
        "sessions": [
            {
                "id": s.session_id,
                "title": s.title,
                "status": s.status,
                "first_day": s.first_day,
                "last_day": s.last_day,
                **s.totals.as_dict(),
            }
            for s in sessions
        ],
        "models": [{"model": m, **t.as_dict()} for m, t in models],
    }


def cmd_usage(args: argparse.Namespace) -> int:
    from c3desk.cli import clip, table  # the command line's tables (it imports this module)

    since: date | None = args.since
    data = report(since)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if not data["days"]:
        print("no token usage recorded" + (f" since {since.isoformat()}" if since else ""))
        return 0
    days = usage.by_day(since)
    print(table(["DAY", *FIGURES], [[day, *_figures(t)] for day, t in days], right=1))
    total = data["total"]
    print(
        f"\ntotal: {total['total_tokens']:,} tokens, "
        f"{usage.cost_text(total['cost_usd'], total['unpriced_models'])}"
    )
    print()
    rows = [
        [s.session_id[:8], s.status, clip(s.title, 40), *_figures(s.totals)]
        for s in usage.by_session(since)
    ]
    print(table(["SESSION", "STATUS", "TITLE", *FIGURES], rows, right=3))
    models = usage.by_model(since)
    if models:
        print()
        print(table(["MODEL", *FIGURES], [[m, *_figures(t)] for m, t in models], right=1))
    if total["unpriced_models"]:
        names = ", ".join(total["unpriced_models"])
        print(
            f"\nno price for {names}: not in the cost (add [[claude.prices]] to agents.toml)",
        )
    return 0


def show_fields(session_id: str, *, text: bool) -> dict[str, Any]:
    """What ``c3desk show`` adds: the session's tokens and estimated cost, as a dict for
    ``--json`` (``usage``, None before any was read) or as lines of text (none before)."""
    totals = usage.totals_of([session_id]).get(session_id)
    if not text:
        return {"usage": None if totals is None else totals.as_dict()}
    if totals is None:
        return {}  # nothing read (yet, or an agent without transcripts): no line
    parts = (
        f"input {totals.input:,}, output {totals.output:,}, cache write "
        f"{totals.cache_write:,}, cache read {totals.cache_read:,}"
    )
    cost = usage.cost_text(totals.cost, totals.unpriced)
    if totals.unpriced:
        cost += f" (no price for {', '.join(totals.unpriced)})"
    return {"tokens": f"{totals.total:,} ({parts})", "cost": cost}
