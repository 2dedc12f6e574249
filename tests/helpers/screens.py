"""Labelled screen fixtures (tests/fixtures/screens, see its README): header and rows."""

from __future__ import annotations

from pathlib import Path


def read_fixture(path: Path) -> tuple[dict[str, str], list[str]]:
    """The ``#: key=value`` header pairs and the screen rows of one fixture file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header: dict[str, str] = {}
    while lines and lines[0].startswith("#: "):
        header.update(item.split("=", 1) for item in lines.pop(0)[3:].split())
    return header, lines
