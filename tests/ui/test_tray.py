"""The tray controller (offscreen, where no tray exists) and a real tray under Xvfb + trayer."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import configparser
import json
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from c3desk.ui import icons
from c3desk.ui.tray import TrayController, tooltip_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tray(qtbot: QtBot) -> Iterator[TrayController]:
    controller = TrayController()
    yield controller
    controller.dispose()
    controller.deleteLater()


def icon_image(controller: TrayController, size: int = 32) -> QImage:
    return controller.icon.pixmap(size, size).toImage()


# -- offscreen: no tray, everything else works -------------------------------------------------


def test_offscreen_has_no_tray_and_degrades(tray: TrayController) -> None:
    assert tray.available is False
    assert tray.supports_messages is False
    assert not tray.tray.isVisible()
    assert tray.notify("s1", "Title", "Text") is False
    assert tray.last_notified == "s1"


def test_count_badge_changes_the_icon_only_when_the_count_changes(tray: TrayController) -> None:
    plain = icon_image(tray)
    assert tray.count == 0
    generations = tray.icon_generations
    tray.update_count(0)
    assert tray.icon_generations == generations
    tray.update_count(3)
    three = icon_image(tray)
    assert three != plain
    assert tray.icon_generations == generations + 1
    tray.update_count(3)
    assert tray.icon_generations == generations + 1
    tray.update_count(4)
    assert icon_image(tray) != three
    tray.update_count(0)
    assert icon_image(tray) == plain
    assert tray.tray.toolTip() == tooltip_for(0)


def test_badge_is_drawn_in_the_top_right_corner(qtbot: QtBot) -> None:
    plain = icons.render_badged_image(64, 0)
    badged = icons.render_badged_image(64, 5)
    assert plain.size() == badged.size()
    # The badge's red in the corner; the rest of the icon untouched.
    corner = badged.pixelColor(52, 12)
    assert corner.red() > 200 and corner.green() < 100
    assert badged.pixelColor(10, 54) == plain.pixelColor(10, 54)
    assert icons.badge_text(7) == "7"
    assert icons.badge_text(150) == "99+"


def test_tooltips() -> None:
    assert tooltip_for(0) == "c3desk: no session needs input"
    assert tooltip_for(1) == "c3desk: 1 session needs input"
    assert tooltip_for(12) == "c3desk: 12 sessions need input"


def test_menu_actions_emit_signals(tray: TrayController, qtbot: QtBot) -> None:
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Hide window", "New session…", "Pause queue", "Quit c3desk"]
    with qtbot.waitSignal(tray.showHideRequested, timeout=1000):
        tray.show_hide_action.trigger()
    with qtbot.waitSignal(tray.newSessionRequested, timeout=1000):
        tray.new_session_action.trigger()
    with qtbot.waitSignal(tray.quitRequested, timeout=1000):
        tray.quit_action.trigger()
    with qtbot.waitSignal(tray.pauseToggled, timeout=1000) as blocker:
        tray.pause_action.trigger()
    assert blocker.args == [True]
    assert tray.pause_action.isChecked()
    assert tray.pause_action.text() == "Resume queue"
    with qtbot.waitSignal(tray.pauseToggled, timeout=1000) as blocker:
        tray.pause_action.trigger()
    assert blocker.args == [False]
    assert tray.pause_action.text() == "Pause queue"


def test_state_from_the_app_does_not_echo(tray: TrayController, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(tray.pauseToggled):
        tray.set_paused(True)
    assert tray.pause_action.isChecked()
    assert tray.pause_action.text() == "Resume queue"
    tray.set_window_visible(False)
    assert tray.show_hide_action.text() == "Show window"
    tray.set_window_visible(True)
    assert tray.show_hide_action.text() == "Hide window"


def test_clicking_the_icon_toggles_the_window(tray: TrayController, qtbot: QtBot) -> None:
    with qtbot.waitSignal(tray.showHideRequested, timeout=1000):
        tray.tray.activated.emit(tray.tray.ActivationReason.Trigger)
    with qtbot.assertNotEmitted(tray.showHideRequested):
        tray.tray.activated.emit(tray.tray.ActivationReason.Context)


def test_message_click_names_the_last_notified_session(tray: TrayController, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(tray.notificationClicked):
        tray.tray.messageClicked.emit()  # nothing notified yet
    tray.notify("first", "A", "a")
    tray.notify("second", "B", "b")
    with qtbot.waitSignal(tray.notificationClicked, timeout=1000) as blocker:
        tray.tray.messageClicked.emit()
    assert blocker.args == ["second"]


def test_fallback_alert_flashes_the_window(
    tray: TrayController, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    TrayController.fallback_alert(window)  # the real call works offscreen
    alerted: list[tuple[QWidget, int]] = []
    monkeypatch.setattr(QApplication, "alert", lambda w, ms=0: alerted.append((w, ms)))
    tray.alert(window, "s1", "Title", "Text")  # no tray: falls back
    assert alerted == [(window, 0)]


# -- icons and desktop files -------------------------------------------------------------------


def test_app_icon_has_every_size(qtbot: QtBot) -> None:
    icon = icons.app_icon()
    assert not icon.isNull()
    sizes = {s.width() for s in icon.availableSizes()}
    assert {16, 32, 48, 64, 128, 256} <= sizes
    image = icons.render_app_image(64)
    assert image.pixelColor(32, 32).alpha() == 255  # opaque in the middle
    assert image.pixelColor(0, 0).alpha() == 0  # rounded, transparent corner


def test_packaged_svg_matches_the_resource() -> None:
    assert icons.APP_SVG.read_bytes() == (ROOT / "resources/icons/c3desk.svg").read_bytes()


@pytest.mark.parametrize("size", icons.PNG_SIZES)
def test_hicolor_pngs_are_rendered_from_the_svg(size: int, qtbot: QtBot) -> None:
    path = ROOT / f"resources/icons/hicolor/{size}x{size}/apps/c3desk.png"
    image = QImage(str(path))
    assert image.width() == image.height() == size
    rendered = icons.render_app_image(size).convertToFormat(image.format())
    # Within a few levels per channel: another Qt version may antialias edges a little apart.
    worst = max(
        max(
            abs(a - b)
            for a, b in zip(
                image.pixelColor(x, y).getRgb(), rendered.pixelColor(x, y).getRgb(), strict=True
            )
        )
        for y in range(0, size, max(1, size // 64))
        for x in range(0, size, max(1, size // 64))
    )
    assert worst <= 24, f"{path} is stale: run python -m c3desk.ui.icons"


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "resources/c3desk.desktop")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "c3desk"
    assert entry["Icon"] == "c3desk"
    assert entry["Categories"] == "Development;"


def test_appstream_metainfo() -> None:
    root = ET.parse(ROOT / "resources/io.github.c3desk.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.c3desk"
    assert root.findtext("launchable") == "c3desk.desktop"
    assert root.findtext("name") == "c3desk"


# -- a real tray: Xvfb + trayer -----------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys
    from PySide6.QtCore import QDeadlineTimer, QEventLoop, QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    app = QApplication(sys.argv[:1])
    from c3desk.ui.tray import TrayController

    def wait(condition, ms):
        deadline = QDeadlineTimer(ms)
        while not condition() and not deadline.hasExpired():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return bool(condition())

    def balloon():
        tips = [w for w in app.topLevelWidgets()
                if w.metaObject().className() == "QBalloonTip" and w.isVisible()]
        return tips[0] if tips else None

    report = {"available": wait(QSystemTrayIcon.isSystemTrayAvailable, 15000)}
    tray = TrayController()
    report["controller_available"] = tray.available
    report["supportsMessages"] = QSystemTrayIcon.supportsMessages()
    report["embedded"] = wait(
        lambda: tray.tray.isVisible() and not tray.tray.geometry().isEmpty(), 15000
    )
    tray.update_count(3)
    report["tooltip"] = tray.tray.toolTip()
    clicked = []
    tray.notificationClicked.connect(clicked.append)
    report["notified"] = tray.notify("s-42", "Fix tests needs input", "Allow Bash(pytest)?")
    report["balloon"] = wait(lambda: balloon() is not None, 10000)
    tip = balloon()
    if tip is not None:
        QTest.mouseClick(tip, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    report["clicked"] = clicked if wait(lambda: bool(clicked), 5000) else []
    tray.dispose()
    print(json.dumps(report))
    """
)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A private Xvfb (display number chosen by Xvfb itself) with trayer as its system tray."""
    for tool in ("Xvfb", "trayer"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install -y xvfb trayer"
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    trayer: subprocess.Popen[bytes] | None = None
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip().decode()  # written once the server accepts clients
        assert number.isdigit(), "Xvfb did not report a display"
        display = f":{number}"
        env = dict(os.environ, DISPLAY=display)
        env.pop("WAYLAND_DISPLAY", None)
        with (tmp_path / "trayer.log").open("wb") as log:  # the child keeps its own copy
            trayer = subprocess.Popen(
                [
                    "trayer",
                    "--edge",
                    "top",
                    "--align",
                    "right",
                    "--height",
                    "24",
                    "--SetDockType",
                    "true",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        yield display
    finally:
        if trayer is not None:
            _stop(trayer)
        _stop(xvfb)


def test_real_tray_under_xvfb_and_trayer(x_display: str, tmp_path: Path) -> None:
    env = dict(os.environ, DISPLAY=x_display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
    env.pop("WAYLAND_DISPLAY", None)
    # No session bus here: Qt uses the XEmbed tray and its own balloon for messages.
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["available"] is True, proc.stderr
    assert report["controller_available"] is True
    assert report["supportsMessages"] is True
    assert report["embedded"] is True, proc.stderr
    assert report["tooltip"] == "c3desk: 3 sessions need input"
    assert report["notified"] is True
    assert report["balloon"] is True, proc.stderr
    assert report["clicked"] == ["s-42"]
    assert "Could not load the Qt platform plugin" not in proc.stderr
