"""The search panel, offscreen: matches with their lines, errors in one line, and a match opens
its session in the grid with the terminal scrolled to the line (the real engine, fake agents)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import FAKE
from helpers.qtloop import running_window, until
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from c3desk.config import Paths
from c3desk.core import search
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.store.models import Session
from c3desk.terminal.model import TerminalModel
from c3desk.ui.search_panel import SearchPanel, scroll_to_text
from c3desk.ui.terminal_view import TerminalView

SCREENSHOT = Path("/tmp/readme-notes/search.png")


def _indexed(paths: Paths, title: str, output: bytes) -> str:
    paths.scrollback_dir.mkdir(parents=True, exist_ok=True)
    sid = str(sess.create_session(title=title, working_directory=str(paths.home)).id)
    Session.update(status="completed").where(Session.id == sid).execute()
    (paths.scrollback_dir / f"{sid}.log").write_bytes(output)

    async def index() -> None:
        ix = search.SearchIndexer(paths.scrollback_dir, lambda: [])
        ix.ended(sid)
        await ix.run_pass()

    asyncio.run(index())
    return sid


def test_panel_lists_matches_and_says_what_is_wrong(db: Paths, qtbot: Any) -> None:
    sid = _indexed(db, "Tidy the <b>loader</b>", b"\x1b[33mwarning:\x1b[0m loader & cache\r\n")
    panel = SearchPanel()
    qtbot.addWidget(panel)
    panel.show()
    QTest.keyClicks(panel.query, "loader")
    qtbot.waitUntil(lambda: panel.results.count() == 2)  # after the pause in typing
    assert panel.status.text() == "2 matches"
    first, second = panel.results.item(0).text(), panel.results.item(1).text()
    assert "Tidy the &lt;b&gt;<b><u>loader</u></b>&lt;/b&gt;" in first  # the title, escaped
    assert "warning: <b><u>loader</u></b> &amp; cache" in second and "scrollback line 1" in second
    with qtbot.waitSignal(panel.matchActivated) as got:
        panel.results.setCurrentRow(1)
        QTest.keyClick(panel.results, Qt.Key.Key_Return)
    assert got.args == [sid, "warning: loader & cache"]
    panel.query.setText("( - )")
    panel.run()
    assert panel.results.count() == 0 and "give at least one word" in panel.status.text()
    panel.query.setText('"unpaired AND(')
    panel.run()
    assert panel.status.text() == "no matches"


def test_scroll_to_text_finds_the_newest_line_in_history(qtbot: Any) -> None:
    model = TerminalModel(60, 10, history=1000)
    model.feed(b"".join(b"\x1b[32mline %d\x1b[0m of output\r\n" % i for i in range(200)))
    view = TerminalView(model, lambda _data: None)
    qtbot.addWidget(view)
    assert scroll_to_text(view, "line 50 of output")
    top = model.scrollback_len - view.scroll_offset
    assert [model.scrollback_text(i).strip() for i in (top, top + 2)] == [
        "line 48 of output",
        "line 50 of output",
    ]
    assert scroll_to_text(view, "line 199 of output") and view.scroll_offset == 0
    assert not scroll_to_text(view, "never printed")


# Opening a match brings the window to the front, which the offscreen platform cannot do.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_a_match_opens_its_session_at_the_line(
    db: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    cfg.set_setting("claude_command", str(FAKE))
    cfg.set_setting("max_visible_sessions", "2")
    work = tmp_path / "work"
    work.mkdir()
    target = sess.create_session(
        title="Migrate the database",
        working_directory=str(work),
        prompt="say the flux capacitor is charged",
    ).id
    others = [
        sess.create_session(
            title=f"Other work {n}", working_directory=str(work), prompt="say nothing to see"
        ).id
        for n in (1, 2)
    ]

    async def scenario() -> None:
        async with running_window(db, tmp_path, qtbot) as window:
            window.resize(1500, 900)
            window.show()
            engine = window.engine
            engine.search.period = 0.1
            await until(lambda: any("capacitor" in ln for ln in engine.screen(target)))
            # More turns push the line into the terminal's history.
            for n in range(8):
                steps = "; ".join(f"say table {n * 4 + k} migrated" for k in range(4))
                await engine.send_text(target, steps)
            await until(lambda: any("table 31 migrated" in ln for ln in engine.screen(target)))
            for other in others:
                await until(lambda o=other: any("nothing to see" in ln for ln in engine.screen(o)))
            # Two tiles: the other two sessions are shown (the user looked at them last).
            for other in others:
                window.focus_session(other)
            await until(lambda: window.grid.tile_of(target) is None)
            window.show_search()
            assert window.search_dock.isVisible()

            def indexed() -> bool:
                return any(m.where == "scrollback" for m in search.search("flux capacitor"))

            await until(indexed)
            QTest.keyClicks(window.search.query, "flux capacitor")
            panel = window.search
            await until(lambda: any(m.where == "scrollback" for m in panel.matches))
            row = next(i for i, m in enumerate(panel.matches) if m.where == "scrollback")
            assert panel.matches[row].session_id == target
            panel.results.setCurrentRow(row)
            panel.results.setFocus()
            QTest.keyClick(panel.results, Qt.Key.Key_Return)
            tile = await until(lambda: window.grid.tile_of(target))
            view = tile.view
            assert view is not None and view.scroll_offset > 0
            top = view.model.scrollback_len - view.scroll_offset
            shown = [view.model.scrollback_text(i) for i in range(top, top + 4)]
            assert any("the flux capacitor is charged" in ln for ln in shown), shown
            view.flush()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(SCREENSHOT))

    loop.run_until_complete(scenario())
