"""The frozen bundle's entry point: the same ``main`` as ``python -m c3desk``.

PyInstaller runs this file as ``__main__``; subcommands (``hook``, ``list``, ``--self-test``...)
reach ``c3desk.__main__.main`` exactly as from the command line.

In a bundle ``sys.executable`` is the bundle's own program, so a command built as
``[sys.executable, "-m", "c3desk", ...]`` (the agent's hook command, written into Claude Code's
settings) arrives here as ``c3desk -m c3desk ...``: that leading ``-m c3desk`` is dropped, so the
hooks reach the running app from a bundle too.
"""

import os
import sys

from c3desk.__main__ import main

#: Set by PyInstaller's run-time hooks for this process only; sessions (``claude``, a shell, a Qt
#: program the user runs in one) must not inherit them: another Qt would load this bundle's
#: plugins. This Qt finds its plugins without them (the PySide6 wheel's Qt is relocatable).
BUNDLE_ONLY = ("QT_PLUGIN_PATH", "QML2_IMPORT_PATH")

if __name__ == "__main__":
    if getattr(sys, "frozen", False):
        for name in BUNDLE_ONLY:
            os.environ.pop(name, None)
        for name in [n for n in os.environ if n.startswith("_PYI_")]:
            del os.environ[name]
    argv = sys.argv[1:]
    if argv[:2] == ["-m", "c3desk"]:
        argv = argv[2:]
    sys.exit(main(argv))
