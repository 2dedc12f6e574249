"""Reading a usage-limit message off an agent's screen, and the reset time it names.

When the account's usage limit is reached, Claude Code prints its own line naming the reset
("You've hit your session limit · resets 3pm (America/New_York)", "5-hour limit reached ∙
resets 18:00", ...) and, in recent releases, a menu "What do you want to do? ❯ 1. Stop and wait
for limit to reset". The words change between releases, so the patterns are the agent profile's
(``usage_limit`` in :mod:`c3desk.core.agents`, each with a ``(?P<reset>...)`` group), and the
reset text is read loosely by :func:`parse_reset`.

The same words can appear inside a reply ("● You've hit your limit · resets 3pm" in a story the
agent writes), in a tool's output, or in what the user types. Such text must never pause
anything, so :func:`find_limit` accepts a match only where the CLI itself writes:

* among the bottom ``dialog_tail`` rows of text (like a waiting prompt), and
* on a row that is the CLI's own: a result line under the user's prompt (``⎿`` first, and the
  row above it is not a tool call, whose output also starts with ``⎿``), a status line (a
  spinner glyph first, as "✻ Session limit reached · Retrying ..."), or a row below the input
  box's last rule (the footer, where replies and typed text never go);
* never the input row or an echoed prompt (``❯``/``>`` first).

Pure: no clock of its own (:func:`parse_reset` takes the moment of detection), no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from c3desk import clock
from c3desk.core.agents import AgentProfile

__all__ = ["AUTO_CONTINUE", "LimitSighting", "Reset", "find_limit", "find_menu_key", "parse_reset"]

#: The reason of a pattern whose message says the agent continues by itself at the reset.
AUTO_CONTINUE = "auto-continue"

_RULE = re.compile(r"^\s*[─━═]{10,}\s*$")
_BOX_TOP = re.compile(r"^\s*╭─{10,}╮\s*$")
_BOX_BOTTOM = re.compile(r"^\s*╰─{10,}╯\s*$")
# The input row: "❯" and a no-break space (2.1.x), an empty ">", or "│ >" inside the older
# rounded box.
_INPUT = re.compile("^(?:[❯>](?:\u00a0|$)|│\\s*>)")
_PROMPT_FIRST = re.compile(r"^[\s│]*[❯>›]")
# A prompt the user sent, as echoed in the conversation: at the left edge (a reply's lines are
# indented, so a quoted "> text" in a reply is not one).
_ECHO = re.compile(r"^[❯>](?:\s|$)")
# The CLI indents its result lines by two; a tool's output continues five deep.
_RESULT_FIRST = re.compile(r"^ {0,3}⎿")
# Status lines start with a spinner glyph at the left edge; a reply's own lines never do ("●"
# starts it, the rest is indented), so a markdown "* item" in a reply is not one.
_STATUS_FIRST = re.compile(r"^[✻✽✶✳✢·*⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s")
_REPLY_FIRST = re.compile(r"^\s*[●⏺]")
_DIGIT = re.compile(r"\d")
_TOOL_CALL = re.compile(r"^[●⏺]\s*[A-Za-z][\w.:-]*\(")


@dataclass(frozen=True)
class LimitSighting:
    """A usage-limit message the CLI shows: the reset as written, and what it means."""

    reset_text: str
    reason: str  # the pattern's reason; AUTO_CONTINUE: the agent continues by itself
    row: int
    line: str

    @property
    def auto_continue(self) -> bool:
        return self.reason == AUTO_CONTINUE


def _has_text(row: str) -> bool:
    return bool(row.strip())


def _footer_start(rows: Sequence[str], text_rows: list[int]) -> int | None:
    """The first row under the input box (the rule below its input row, or the bottom edge of
    the older rounded box), when that box is near the bottom. Rows under any other rule belong
    to a dialog, whose text (a command, a question) the agent may have written."""
    recent = text_rows[-10:]
    for n in range(len(recent) - 1, -1, -1):
        i = recent[n]
        if not (_RULE.match(rows[i]) or _BOX_BOTTOM.match(rows[i])):
            continue
        for j in reversed(recent[:n]):
            if _RULE.match(rows[j]) or _BOX_TOP.match(rows[j]):
                break
            if _INPUT.match(rows[j].lstrip(" ")):
                return i + 1
        return None
    return None


def _cli_owned(rows: Sequence[str], i: int, footer: int | None) -> bool:
    row = rows[i]
    if _PROMPT_FIRST.match(row):
        return False  # the input row, or a prompt the user sent
    if footer is not None and i >= footer:
        return True
    if _STATUS_FIRST.match(row):
        return True
    if _RESULT_FIRST.match(row):
        return _answers_a_prompt(rows, i)
    return False


def _answers_a_prompt(rows: Sequence[str], i: int) -> bool:
    """Whether the result line at ``i`` is the CLI's answer to a prompt the user sent, or
    follows a tool's result in the middle of a turn; not a tool's first output row (a file or
    a command can hold any text) nor a line of a reply. Walks up over blank rows, wrapped text
    and earlier result lines to the first marked row."""
    after_result = False
    for j in range(i - 1, -1, -1):
        above = rows[j]
        if not _has_text(above):
            continue
        if _ECHO.match(above) or _STATUS_FIRST.match(above):
            return True
        if _RESULT_FIRST.match(above):
            after_result = True
        elif _TOOL_CALL.match(above):
            return after_result
        elif _REPLY_FIRST.match(above):
            return False
    return False


def find_limit(lines: Sequence[str], profile: AgentProfile) -> LimitSighting | None:
    """The usage-limit message the CLI shows at the bottom of this screen, if any (the lowest
    one; patterns in the profile's order decide between several on one row)."""
    if not profile.usage_limit:
        return None
    rows = [row.rstrip() for row in lines]
    text_rows = [i for i, row in enumerate(rows) if _has_text(row)]
    if not text_rows:
        return None
    footer = _footer_start(rows, text_rows)
    for i in reversed(text_rows[-profile.dialog_tail :]):
        if _DIGIT.search(rows[i]) is None:
            continue  # a reset time has digits; most rows have none, and this test is cheap
        for pattern in profile.usage_limit:
            found = pattern.regex.search(rows[i])
            if found is None:
                continue
            if not _cli_owned(rows, i, footer):
                break
            reset = (found.groupdict().get("reset") or "").strip()
            if reset:
                return LimitSighting(reset, pattern.reason, i, rows[i].strip())
    return None


def find_menu_key(lines: Sequence[str], profile: AgentProfile) -> str | None:
    """The key that picks the "wait for the limit to reset" row of a menu at the bottom."""
    menu = profile.usage_limit_menu
    if menu is None:
        return None
    rows = [row.rstrip() for row in lines]
    text_rows = [i for i, row in enumerate(rows) if _has_text(row)]
    for i in reversed(text_rows[-profile.dialog_tail :]):
        found = menu.search(rows[i])
        if found is not None and not _REPLY_FIRST.match(rows[i]):
            return found.group("key")
    return None


# --- the reset time --------------------------------------------------------------------------

_MONTHS = {
    m: n
    for n, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_RESET = re.compile(
    r"""^\s*(?:at\s+)?
    (?:(?:on\s+)?(?:[A-Za-z]{3,9},?\s+)??(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?:at\s+)?)?
    (?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?
    \s*(?:\((?P<zone>[A-Za-z0-9_+\-/]+)\)|(?P<bare>UTC|GMT|Z))?
    \s*\.?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Reset:
    """When a limit resets: ``at`` (aware, UTC) and the zone the text named (None: the worker's
    local time was meant)."""

    at: datetime
    zone: str | None


def _zone(name: str | None, local: tzinfo) -> tuple[tzinfo, str | None]:
    if name is None:
        return local, None
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC, "UTC"
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_reset(text: str, detected: datetime, local: tzinfo | None = None) -> Reset:
    """The first moment after ``detected`` that ``text`` names ("3pm", "8:30pm (Asia/Tokyo)",
    "18:00", "Nov 10, 5pm", "11:10am (UTC)"). Without a zone it is ``local``'s time (the
    worker's; default this machine's). Raises ValueError for text that names no time."""
    if detected.tzinfo is None:
        raise ValueError("the moment of detection must carry its time zone")
    found = _RESET.match(text)
    if found is None:
        raise ValueError(f"no reset time in {text!r}")
    hour = int(found["hour"])
    minute = int(found["minute"] or 0)
    ampm = (found["ampm"] or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError(f"no such hour in {text!r}")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif found["minute"] is None:
        raise ValueError(f"a bare number is not a time: {text!r}")
    if hour > 23 or minute > 59:
        raise ValueError(f"no such time in {text!r}")
    zone, zone_name = _zone(found["zone"] or found["bare"], local or clock.local_zone())
    now = detected.astimezone(zone)
    clock_time = time(hour, minute)
    if found["month"]:
        month = _MONTHS.get(found["month"].lower())
        if month is None:
            raise ValueError(f"no such month in {text!r}")
        day = int(found["day"])
        for year in (now.year, now.year + 1):
            try:
                candidate = _at(date(year, month, day), clock_time, zone)
            except ValueError as exc:
                raise ValueError(f"no such day in {text!r}") from exc
            if candidate > detected:
                return Reset(candidate.astimezone(UTC), zone_name)
        raise ValueError(f"{text!r} is not after {detected.isoformat()}")
    for days in range(3):
        candidate = _at(now.date() + timedelta(days=days), clock_time, zone)
        if candidate > detected:
            return Reset(candidate.astimezone(UTC), zone_name)
    raise ValueError(f"{text!r} is not after {detected.isoformat()}")  # pragma: no cover


def _at(day: date, clock_time: time, zone: tzinfo) -> datetime:
    """That wall-clock time in that zone (a time skipped by a DST change moves forward)."""
    naive = datetime.combine(day, clock_time)
    aware = naive.replace(tzinfo=zone)
    # A wall time that does not exist (spring forward) does not survive the round trip.
    back = aware.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != naive:
        aware = back
    return aware
