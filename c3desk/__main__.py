"""Entry point: a subcommand runs the command line; no subcommand opens the window.

This module (with ``c3desk.ui``) is the only place allowed to reach Qt, and only lazily, so
that every subcommand works without a display.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from c3desk import cli
from c3desk.config import Paths


def _launch_gui(paths: Paths, args: argparse.Namespace) -> int:
    from c3desk.ui.app import run_gui

    return run_gui(paths, args)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, gui=_launch_gui)


if __name__ == "__main__":
    sys.exit(main())
