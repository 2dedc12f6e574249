"""The window shows a usage-limit pause: the status bar and the tray's tooltip name the account
and the reset; resuming the queue lifts it and the words go."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import FAKE
from helpers.qtloop import until
from PySide6.QtCore import QSettings

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import usage_limits as limits
from c3desk.core.limit_screen import LimitSighting
from c3desk.runtime import Instance
from c3desk.store.models import Worker
from c3desk.ui.main_window import MainWindow


def test_status_bar_and_tray_show_the_pause_until_a_resume_lifts_it(
    db: Paths,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # c3desk's one clock at noon: the reset "3pm" is today whenever the test runs (after 3pm by
    # the wall clock it would be tomorrow's, shown with its date).
    monkeypatch.setattr(limits, "utcnow", lambda: datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    cfg.set_setting("claude_command", str(FAKE))
    cfg.set_setting("queue_paused", "true")
    local = Worker.get(Worker.type == "local")
    s = sess.create_session(title="limited", working_directory=str(tmp_path), prompt="say hi")
    seen = LimitSighting("3pm (UTC)", "usage-limit", 1, "⎿  You've hit your limit")
    limits.record(s.id, "claude", str(local.id), seen, limits.utcnow(), UTC)
    want = f"Usage limit: claude on {local.name} until 15:00 (UTC)"

    async def scenario() -> None:
        instance = Instance(db)
        await instance.start()
        settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
        window = MainWindow(db, instance.engine, settings=settings, on_quit=lambda: None)
        qtbot.addWidget(window)
        try:
            window.show()
            await until(lambda: want in window._status.text())
            assert want in window.tray.tray.toolTip()
            assert window.tray.tray.toolTip().startswith("c3desk: no session needs input")
            window.set_paused(False)  # the user resumes: the pause is lifted now
            await until(lambda: "Usage limit" not in window._status.text())
            assert "Usage limit" not in window.tray.tray.toolTip()
            assert limits.open_holds() == []
        finally:
            await instance.stop()
            window.close()

    loop.run_until_complete(scenario())
