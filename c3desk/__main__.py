"""Entry point: a subcommand runs the command line; no subcommand opens the window.

This module (with ``c3desk.ui``) is the only place allowed to reach Qt, and only lazily, so
that every subcommand works without a display. Before Qt is imported for the window,
:mod:`c3desk.preflight` checks that Qt's xcb plugin can load (Qt would abort the process).

Install-time options, handled here before the command line: ``--self-test``,
``--install-desktop-entry``, ``--uninstall-desktop-entry`` and ``--check-system``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from c3desk import preflight
from c3desk.config import Paths
from c3desk.control import hook

#: Options of their own, each alone on the command line: what they do.
INSTALL_OPTIONS = {
    "--self-test": "check this install end to end (offscreen, a temporary data folder)",
    "--install-desktop-entry": "add c3desk to the desktop menu (under $XDG_DATA_HOME)",
    "--uninstall-desktop-entry": "remove what --install-desktop-entry wrote",
    "--check-system": "check that the window can open here (Qt's system libraries)",
}


def _launch_gui(paths: Paths, args: argparse.Namespace) -> int:
    if not _has_display():
        print(
            "c3desk: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); "
            "run `c3desk run --headless` or set QT_QPA_PLATFORM",
            file=sys.stderr,
        )
        return 2
    problem = preflight.check_gui()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    from c3desk.ui.app import run_gui

    return run_gui(paths, args)


def _show_error(text: str) -> None:
    """A start-up error of the window, when nobody may see stderr: also in a dialog."""
    if sys.stderr is not None and sys.stderr.isatty():
        return  # started from a terminal: the line printed there is enough
    if not _has_display() or preflight.check_gui() is not None:
        return  # Qt could not show a dialog (it would abort)
    from c3desk.ui.app import show_error_dialog

    show_error_dialog(text.removeprefix("c3desk: "))


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    home, rest = hook.split_global(args)
    asks_help = any(a in ("-h", "--help") for a in rest[1:])
    if rest[:1] == ["hook"] and not asks_help:  # run by the agent's hooks: start fast
        return hook.main(home, rest[1:])
    if rest[:1] and rest[0] in INSTALL_OPTIONS:
        if len(rest) > 1:
            print(f"c3desk: {rest[0]} takes no other arguments (got {rest[1]!r})", file=sys.stderr)
            return 2
        return _install_option(rest[0])
    from c3desk import cli

    return cli.main(args, gui=_launch_gui, show_error=_show_error)


def _install_option(option: str) -> int:
    if option == "--self-test":
        if preflight.xcb_will_be_used() and not os.environ.get("QT_QPA_PLATFORM"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from c3desk.ui.selftest import run_self_test

        return run_self_test()
    if option == "--check-system":
        return _check_system()
    from c3desk import desktop_entry

    try:
        if option == "--uninstall-desktop-entry":
            desktop_entry.uninstall()
            return 0
        try:
            from c3desk.ui.icons import app_svg_path
        except ImportError as exc:  # Qt's own libraries (libGL, libEGL...) cannot load
            print(f"c3desk: cannot render the icons: Qt does not load here: {exc}", file=sys.stderr)
            return 1
        desktop_entry.install(app_svg_path(), _render_png)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"c3desk: cannot write the desktop entry:{where}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def _render_png(size: int) -> bytes:
    """The app icon as PNG bytes, rendered from the package's SVG (no display needed)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    from c3desk.ui.icons import render_app_image

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 wants the format as str at run time (its stubs say bytes).
    if not render_app_image(size).save(buffer, "PNG"):  # type: ignore[call-overload,unused-ignore]
        raise OSError(f"cannot render the {size}px icon")
    return bytes(data.data())


def _check_system() -> int:
    plugin = preflight.find_xcb_plugin()
    if plugin is None:
        if sys.platform.startswith("linux"):
            print("c3desk: Qt's xcb platform plugin (libqxcb.so) is not in this install")
            return 1
        print("ok no xcb plugin to check on this platform")
        return 0
    missing = preflight.missing_xcb_libraries(plugin)
    if missing:
        print(preflight.xcb_problem(missing), file=sys.stderr)
        return 1
    print(f"ok every library of Qt's xcb plugin loads ({plugin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
