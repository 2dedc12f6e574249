"""The command line's tables line up in a terminal when names hold wide characters (CJK, emoji:
two cells each) or combining marks (none): `list`, `worker list` and `usage` pad and cut by
cells, not characters. Measured here with unicodedata, apart from the code under test."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import usage

WIDE = "quote \" and ' 日本語 🚀 e\u0301"  # e + a combining acute: one cell
LONG = "日本語のとても長いセッションの題名です、四十セルに収まりません"  # cut at 40 cells
OPUS = "claude-opus-5-5-20260921"


def cells(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def column(line: str, start: int) -> int:
    """The cell at which the text at character ``start`` of ``line`` is shown."""
    return cells(line[:start])


def test_list_lines_up_wide_titles(cli: Any, db: Paths, tmp_path: Path) -> None:
    for title in (WIDE, LONG, "plain"):
        sess.create_session(title=title, working_directory=str(tmp_path))
    header, *rows = cli("list", check=True).stdout.splitlines()
    assert len(rows) == 3
    at = column(header, header.index("WORKER"))
    for row in rows:
        assert column(row, row.index("  any  ") + 2) == at, row
    long_row = next(r for r in rows if "日本語の" in r)
    shown = long_row[long_row.index("日本語の") :].split("  ")[0]
    assert shown.endswith("…") and cells(shown) <= 40 and LONG.startswith(shown[:-1])
    assert WIDE in "\n".join(rows)  # short enough: whole


def test_worker_list_lines_up_wide_names(cli: Any, db: Paths) -> None:
    cli("worker", "add", "東京のビルド機", "--host", "tokyo.example.org", check=True)
    cli("worker", "add", "plain", "--host", "plain.example.org", check=True)
    header, *rows = cli("worker", "list", check=True).stdout.splitlines()
    at = column(header, header.index("TYPE"))
    assert len(rows) == 3
    for row in rows:
        kind = "remote" if "example.org" in row else "local"
        assert column(row, row.index(f" {kind} ") + 1) == at, row


def test_usage_lines_up_wide_titles(cli: Any, db: Paths, tmp_path: Path) -> None:
    for n, title in enumerate((WIDE, LONG, "plain")):
        sid = sess.create_session(title=title, working_directory=str(tmp_path)).id
        usage.record(sid, {("2026-12-01", OPUS): usage.Sums(10**n, 2, 3, 4, 1, 0.5)}, {})
    text = cli("usage", check=True).stdout
    table = text[text.index("SESSION") :].split("\n\n")[0].splitlines()
    assert len(table) == 4
    # COST, the last column, is aligned right: every line of the table ends at the same cell.
    assert len({cells(line) for line in table}) == 1, table
    header = table[0]
    at = column(header, header.index("INPUT") + len("INPUT"))
    for row in table[1:]:
        # INPUT, aligned right, ends under its header (the five figures after it split off).
        assert cells(row.rsplit(None, 5)[0]) == at, row
    assert any(WIDE in row for row in table)
