#!/usr/bin/env bash
# Builds c3desk's Linux installers from a clean clone: the PyInstaller bundle dist/c3desk/, the
# Debian package dist/c3desk_<version>_<arch>.deb and the portable
# dist/c3desk-<version>-linux-<machine>.tar.gz. Needs Python 3.11+ with c3desk's dependencies and
# PyInstaller (python3 -m pip install -e . -r packaging/requirements.txt), and dpkg-deb.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" packaging/build.py "$@"
