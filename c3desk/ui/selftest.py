"""``c3desk --self-test``: check an install end to end, without a display or the user's data.

Starts the app offscreen (unless QT_QPA_PLATFORM says otherwise) on a temporary data folder,
opens the main window, runs one session of the ``shell`` profile (the user's ``$SHELL``) through
queued -> active -> completed, types ``echo c3desk-self-test-ok; exit`` into it and checks that the
shell's answer reached the session's terminal model, closes the window and stops the engine.
Each check prints one ``ok ...`` line; the first failure prints ``FAILED ...`` and the exit code is
1. It needs nothing from the source tree, so a PyInstaller bundle can run it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

MARK = "c3desk-self-test-ok"
COMMAND = f"echo {MARK}; exit"
START_TIMEOUT = 30.0
RUN_TIMEOUT = 30.0


class CheckFailed(Exception):
    pass


def run_self_test(out: Callable[[str], None] = print) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="c3desk-self-test-"))
    # The test's command must not land in the user's shell history.
    os.environ["HISTFILE"] = str(tmp / "shell-history")
    try:
        return _run(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, out: Callable[[str], None]) -> int:
    try:
        import qasync  # type: ignore[import-untyped,unused-ignore]
        from PySide6 import __version__ as pyside_version
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        out(f"FAILED importing Qt: {exc}")
        return 1
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def quiet(kind: QtMsgType, _context: object, text: str) -> None:
        # The offscreen platform cannot size native windows: not a problem of the install.
        if "propagateSizeHints" not in text:
            print(f"Qt: {text}", file=sys.stderr)

    qInstallMessageHandler(quiet)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "c3desk"])
    assert isinstance(app, QApplication)
    app.setApplicationName("c3desk")
    app.setQuitOnLastWindowClosed(False)
    out(f"ok Qt {pyside_version} started on the {app.platformName()} platform")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            code: int = loop.run_until_complete(_checks(tmp, out))
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            return code
    finally:
        asyncio.set_event_loop(None)


async def _checks(tmp: Path, out: Callable[[str], None]) -> int:
    from PySide6.QtCore import QSettings

    from c3desk import logs
    from c3desk.config import Paths
    from c3desk.core import sessions as sess
    from c3desk.core import settings as cfg
    from c3desk.core.engine import EngineEvent
    from c3desk.runtime import build_instance
    from c3desk.ui.main_window import MainWindow

    paths = Paths(tmp / "home").ensure()
    logs.setup(paths.log_dir, False)
    work = tmp / "work"
    work.mkdir()
    instance = build_instance(paths)
    changed = asyncio.Event()

    def on_event(_: EngineEvent) -> None:
        changed.set()

    async def until(test: Callable[[], bool], timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not test():
            left = deadline - loop.time()
            if left <= 0:
                raise CheckFailed(f"{what} (waited {timeout:.0f} s)")
            changed.clear()
            # Engine events wake this at once; the short timeout re-reads the database too.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(left, 0.1))

    unsubscribe = instance.engine.subscribe(on_event)
    window: MainWindow | None = None
    started = False
    try:
        await instance.start()
        started = True
        out(f"ok engine and control socket started on a temporary data folder ({paths.home})")
        window = MainWindow(
            paths,
            instance.engine,
            settings=QSettings(str(paths.home / "ui.ini"), QSettings.Format.IniFormat),
            on_quit=lambda: None,
        )
        window.show()
        await until(window.isVisible, START_TIMEOUT, "the main window did not show")
        out("ok main window opened")

        shell = os.environ.get("SHELL") or "/bin/sh"
        # The check's session runs in a pseudo-terminal of c3desk's own, as on a machine
        # without tmux: the part every install has (hosting is tested by the test suite).
        cfg.set_setting("persistent_sessions", "never")
        session = sess.create_session(title="self-test", working_directory=str(work), agent="shell")
        sid = session.id
        instance.engine.wake()

        def status() -> str:
            return str(sess.find_session(sid).status)

        if status() != "queued" and status() not in ("active", "completed"):
            raise CheckFailed(f"the new session is {status()}, not queued")
        out(f"ok session queued (shell profile: {shell})")

        def running() -> bool:
            if status() == "failed":
                raise CheckFailed(f"the session failed: {sess.find_session(sid).failure_reason}")
            live = instance.engine.live.get(sid)
            return (live is not None and live.process is not None) or status() == "completed"

        await until(running, START_TIMEOUT, "the session did not become active")
        out("ok session active: the shell started in a pseudo-terminal")
        if sid in instance.engine.live:
            await instance.engine.send_text(sid, COMMAND)

        def ended() -> bool:
            return status() in ("completed", "failed")

        await until(ended, RUN_TIMEOUT, f"the shell did not exit after {COMMAND!r}")
        record = sess.find_session(sid)
        if record.status != "completed":
            raise CheckFailed(f"the session failed: {record.failure_reason}")
        out(f"ok session completed (exit code {record.exit_code})")

        live = instance.engine.finished.get(sid)
        if live is None:
            raise CheckFailed("the finished session's terminal model is gone")
        lines = [line.strip() for line in live.screen_lines()]
        if MARK not in lines:
            shown = " | ".join(line for line in lines if line)[-300:]
            raise CheckFailed(f"the terminal model lacks the line {MARK!r}; it shows: {shown}")
        out(f"ok the shell's output reached the terminal model ({MARK!r})")

        window.save_state()
        window.hide()
        window.close()
        if window.isVisible():
            raise CheckFailed("the main window did not close")
        out("ok main window closed")
    except CheckFailed as exc:
        out(f"FAILED {exc}")
        return 1
    except Exception as exc:  # an install problem to report, never a traceback
        out(f"FAILED {type(exc).__name__}: {' '.join(str(exc).split())}")
        return 1
    finally:
        unsubscribe()
        if window is not None:
            window.hide()
            window.deleteLater()
        if started:
            await instance.stop(keep_hosted=False)  # a check leaves nothing running
    out("ok engine stopped; self-test passed")
    return 0
