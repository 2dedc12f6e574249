"""Tokens and cost in the window: the usage dialog (per-day chart, per-session table), the tile
header, the queue dock's tooltip and the Tools menu, offscreen; the last test runs the real
engine with the fake agent."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import FAKE
from helpers.qtloop import running_window, until
from PySide6.QtCore import Qt

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import usage
from c3desk.store.models import Session
from c3desk.ui.grid import TileHeader, TileInfo
from c3desk.ui.queue_model import TOOLTIP
from c3desk.ui.usage_view import UsageDialog, header_text

TODAY = date(2026, 12, 7)
OPUS, SONNET = "claude-opus-5-5-20260921", "claude-sonnet-5-5"
SHOT = Path(os.environ.get("C3DESK_USAGE_SCREENSHOT", "/tmp/readme-notes/usage.png"))


def _session(title: str, status: str = "completed") -> str:
    sid = str(sess.create_session(title=title, working_directory="/tmp", prompt="x").id)
    Session.update(status=status, position=None).where(Session.id == sid).execute()
    return sid


def _fill() -> dict[str, str]:
    """Three sessions' usage over two weeks (costs in dollars, tokens as Claude Code reports)."""
    ids = {
        "refactor": _session("Refactor the parser"),
        "docs": _session("Write the docs", "active"),
        "old": _session("Old spike", "failed"),
    }
    plan = [
        ("refactor", "2026-12-01", OPUS, 12_000, 48_000, 90_000, 1_400_000, 1.92),
        ("refactor", "2026-12-02", OPUS, 8_000, 30_500, 40_000, 900_000, 1.09),
        ("refactor", "2026-12-04", SONNET, 4_000, 9_000, 20_000, 300_000, 0.23),
        ("docs", "2026-12-05", SONNET, 2_500, 12_000, 30_000, 500_000, 0.30),
        ("docs", "2026-12-07", OPUS, 6_000, 21_000, 35_000, 700_000, 0.87),
        ("old", "2026-11-24", "claude-experimental", 1_000, 2_000, 0, 0, None),
    ]
    for key, day, model, i, o, w, r, cost in plan:
        usage.record(ids[key], {(day, model): usage.Sums(i, o, w, r, 3, cost)}, {})
    return ids


def test_the_dialog_charts_days_and_lists_sessions(db: Paths, qtbot: Any) -> None:
    ids = _fill()
    dialog = UsageDialog(today=TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    # Last 30 days (the default): a bar per day, the 30th today.
    bars = dialog.chart.bars
    assert len(bars) == 30 and bars[-1].day == "2026-12-07" and bars[0].day == "2026-11-08"
    by_day = {b.day: b.value for b in bars}
    assert by_day["2026-12-01"] == pytest.approx(1.92)
    assert by_day["2026-12-03"] == 0
    assert by_day["2026-11-24"] == 0  # no price: no cost
    assert dialog.summary.text().endswith("$4.41+")  # + : a model without a price
    table = dialog.table
    assert table.rowCount() == 3
    titles = {table.item(r, 1).text(): r for r in range(3)}
    row = titles["Refactor the parser"]
    assert table.item(row, 0).data(Qt.ItemDataRole.UserRole) == ids["refactor"]
    assert table.item(row, 8).text() == "$3.24"
    assert table.item(row, 3).text() == "24,000"
    assert "No price for claude-experimental" in table.item(titles["Old spike"], 8).toolTip()
    # Sorting by cost sorts by the number, not the text.
    table.sortItems(8, Qt.SortOrder.DescendingOrder)
    assert [table.item(r, 1).text() for r in range(3)] == [
        "Refactor the parser",
        "Write the docs",
        "Old spike",
    ]
    # Tokens instead of cost; the last 7 days only.
    dialog.measure.setCurrentIndex(1)
    assert {b.day: b.value for b in dialog.chart.bars}["2026-11-24"] == 3000
    dialog.period.setCurrentIndex(0)
    assert len(dialog.chart.bars) == 7 and table.rowCount() == 2
    assert dialog.chart.bar_at(dialog.chart.rect().center()) is not None
    dialog.period.setCurrentIndex(1)
    dialog.measure.setCurrentIndex(0)
    dialog.resize(900, 600)
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOT))


def test_the_dialog_without_usage(db: Paths, qtbot: Any) -> None:
    dialog = UsageDialog(today=TODAY)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 0
    assert dialog.summary.text() == "0 tokens · $0.00"
    assert all(b.value == 0 for b in dialog.chart.bars)
    dialog.period.setCurrentIndex(3)  # all: just today
    assert [b.day for b in dialog.chart.bars] == ["2026-12-07"]


def test_the_tile_header_shows_tokens_and_cost(qtbot: Any) -> None:
    header = TileHeader()
    qtbot.addWidget(header)
    header.resize(700, 30)
    header.show()
    label, tip = header_text(usage.Totals(1_000, 234, 5_000, 40_000, 2, 0.4567))
    assert label == "46.2k tok · $0.46"
    assert "cache read 40,000" in tip and "Estimated cost: $0.46" in tip
    header.show_info(TileInfo("s", "t", "local", "active", False, usage=label, usage_tip=tip))
    assert header.usage.isVisible() and header.usage.text() == label
    assert header.usage.toolTip() == tip
    header.show_info(TileInfo("s", "t", "local", "active", False))
    assert not header.usage.isVisible()
    assert header_text(None) == ("", "")


def test_a_narrow_tile_header_keeps_room_for_the_title(qtbot: Any) -> None:
    """Seen at 390 px a tile: "Continue" and the usage left one letter of the title. A narrow
    header drops Continue's word, then moves the usage into the title's tooltip."""
    header = TileHeader()
    qtbot.addWidget(header)
    header.setFixedWidth(900)
    header.show()
    label, _ = header_text(usage.Totals(1_000, 234, 5_000, 40_000, 2, 0.4567))
    done = TileInfo("s", "Refactor the parser", "local", "completed", False, usage=label)
    header.show_info(done)
    qtbot.waitUntil(lambda: header.title.width() > 300)
    assert header.cont.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    assert header.usage.isVisible()
    header.setFixedWidth(390)  # as a tile of a 3x3 grid gives it
    qtbot.waitUntil(lambda: header.width() == 390)
    assert header.cont.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    assert not header.usage.isVisible() and label in header.title.toolTip()
    qtbot.waitUntil(lambda: header.title.width() >= 100)  # laid out: the title has its room
    header.setFixedWidth(900)
    qtbot.waitUntil(lambda: header.usage.isVisible())
    assert header.title.toolTip() == "Refactor the parser"


# -- the window, with the real engine ----------------------------------------------------------


def test_a_running_sessions_tokens_show_in_its_tile_the_queue_and_the_dialog(
    db: Paths,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    cfg.set_setting("claude_command", str(FAKE))
    sid = str(
        sess.create_session(
            title="Spends", working_directory=str(tmp_path), prompt="usage 1000 200 300 4000"
        ).id
    )

    async def scenario() -> None:
        async with running_window(db, tmp_path, qtbot) as window:
            window.show()
            tile = await until(lambda: window.grid.tile_of(sid))
            # Read while it runs (the engine's first look), not only at its end.
            await until(lambda: tile.info is not None and tile.info.usage, 20)
            assert tile.info is not None
            assert tile.info.usage == "5.5k tok · $0.0056"
            assert tile.header.usage.isVisible()
            assert Session.get_by_id(sid).status == "active"
            model = window.queue.model
            tip = model.data(model.index_of(sid), TOOLTIP)
            assert "tokens: 5,500 · cost $0.0056" in tip
            action = next(
                a for a in window.findChildren(type(window.pause_action)) if "Tokens" in a.text()
            )
            action.trigger()
            dialog = await until(lambda: window.findChild(UsageDialog, "usageDialog"))
            assert dialog.isVisible()
            assert dialog.table.rowCount() == 1 and dialog.table.item(0, 1).text() == "Spends"
            dialog.close()

    loop.run_until_complete(scenario())
