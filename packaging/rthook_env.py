"""PyInstaller run-time hook: give child processes the environment the user started us with.

On Linux the bootloader of a one-folder bundle puts the bundle's own library folder first on
``LD_LIBRARY_PATH`` (keeping the caller's value, if any, in ``LD_LIBRARY_PATH_ORIG``). This
process has already read it at start-up, so restoring it here changes only what c3desk's children
inherit: ``claude`` (node), tmux, ssh and the login shell that ``shellpath`` asks must load the
system's libraries, never the bundle's OpenSSL or libstdc++.
"""

import os
import sys

if getattr(sys, "frozen", False):
    _bundle = getattr(sys, "_MEIPASS", "")
    _orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if _orig is not None:
        os.environ["LD_LIBRARY_PATH"] = _orig
    elif _bundle and os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)[0] == _bundle:
        del os.environ["LD_LIBRARY_PATH"]
