"""Timestamps in the form SQLite's ``datetime('now')`` writes: UTC, ``YYYY-MM-DD HH:MM:SS``;
and this machine's time zone."""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse(value: str) -> datetime:
    return datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def local_zone() -> tzinfo:
    """This machine's time zone with its rules (``TZ``, else /etc/localtime): a wall time days
    away, across a daylight-saving change, gets that day's offset, not today's. Without either,
    the offset in force now."""
    name = os.environ.get("TZ", "").removeprefix(":")
    try:
        if name:
            return ZoneInfo(name)
        with Path("/etc/localtime").open("rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError, KeyError):  # no such file, a bad name, no such zone
        pass
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC
