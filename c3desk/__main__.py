"""Entry point: a subcommand runs the command line; no subcommand opens the window.

This module (with ``c3desk.ui``) is the only place allowed to reach Qt, and only lazily, so
that every subcommand works without a display.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from c3desk.config import Paths
from c3desk.control import hook


def _launch_gui(paths: Paths, args: argparse.Namespace) -> int:
    if not _has_display():
        print(
            "c3desk: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); "
            "run `c3desk run --headless` or set QT_QPA_PLATFORM",
            file=sys.stderr,
        )
        return 2
    from c3desk.ui.app import run_gui

    return run_gui(paths, args)


def _show_error(text: str) -> None:
    """A start-up error of the window, when nobody may see stderr: also in a dialog."""
    if sys.stderr is not None and sys.stderr.isatty():
        return  # started from a terminal: the line printed there is enough
    if not _has_display():
        return
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
    from c3desk import cli

    return cli.main(args, gui=_launch_gui, show_error=_show_error)


if __name__ == "__main__":
    sys.exit(main())
