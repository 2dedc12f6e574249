"""Timestamps in the form SQLite's ``datetime('now')`` writes: UTC, ``YYYY-MM-DD HH:MM:SS``;
and this machine's time zone."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse(value: str) -> datetime:
    return datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


LOCALTIME = "/etc/localtime"


def local_zone() -> tzinfo:
    """This machine's time zone with its rules (``TZ``, else /etc/localtime): a wall time days
    away, across a daylight-saving change, gets that day's offset, not today's. Without either,
    the offset in force now. Read once per setting of either (a stat per call: the queue's wait
    reasons ask for it for each queued session)."""
    name = os.environ.get("TZ", "").removeprefix(":")
    try:
        info = os.stat(LOCALTIME)
        stamp: tuple[int, int] | None = (info.st_ino, info.st_mtime_ns)
    except OSError:
        stamp = None
    zone = _zone(name, stamp)
    return zone if zone is not None else _offset_now()


@functools.lru_cache(maxsize=8)
def _zone(name: str, localtime: tuple[int, int] | None) -> tzinfo | None:
    try:
        if name:
            return ZoneInfo(name)
        if localtime is not None:
            with Path(LOCALTIME).open("rb") as f:
                return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError, KeyError):  # no such file, a bad name, no such zone
        pass
    return None  # the offset in force, asked each time (it changes with the season)


def _offset_now() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC
