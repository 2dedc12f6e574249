"""The frozen bundle's entry point: the same ``main`` as ``python -m c3desk``.

PyInstaller runs this file as ``__main__``; subcommands (``hook``, ``list``, ``--self-test``...)
reach ``c3desk.__main__.main`` exactly as from the command line.

In a bundle ``sys.executable`` is the bundle's own program, so a command built as
``[sys.executable, "-m", "c3desk", ...]`` (the agent's hook command, written into Claude Code's
settings) arrives here as ``c3desk -m c3desk ...``: that leading ``-m c3desk`` is dropped, so the
hooks reach the running app from a bundle too.
"""

import sys

from c3desk.__main__ import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:2] == ["-m", "c3desk"]:
        argv = argv[2:]
    sys.exit(main(argv))
