"""The missing-xcb-library message, for real: Qt's xcb plugin libraries hidden in a mount
namespace (an overlay over the system library folder, the files deleted in it: the loader then
finds them nowhere, as on a system that lacks the package), a real X server, c3desk started as a
user starts it. Runs as root (as CI does): ``unshare --mount`` and ``mount -t overlay``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from c3desk import preflight

HIDDEN = ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")

REPO = str(Path(__file__).resolve().parents[2])


def _library_folder(soname: str) -> Path:
    """The real folder the loader finds ``soname`` in (after symlinks: /lib -> /usr/lib)."""
    plugin = preflight.find_xcb_plugin()
    assert plugin is not None, "PySide6's libqxcb.so not found"
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True).stdout
    match = re.search(rf"^\s*{re.escape(soname)} => (\S+)", out, re.MULTILINE)
    assert match, f"{soname} is not resolved by ldd on the plugin here:\n{out}"
    return Path(match.group(1)).resolve().parent


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A real X server; its display number comes back through -displayfd."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not report its display"
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def _hidden_run(command: list[str], display: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a mount namespace where the HIDDEN libraries do not exist."""
    folder = _library_folder(HIDDEN[0])
    layer = tmp / "layer"
    script = (
        "set -e\n"
        f'mkdir -p "{layer}"\n'
        f'mount -t tmpfs tmpfs "{layer}"\n'
        f'mkdir "{layer}/upper" "{layer}/work"\n'
        f'mount -t overlay overlay -o lowerdir="{folder}",upperdir="{layer}/upper",'
        f'workdir="{layer}/work" "{folder}"\n'
        + "".join(f'rm -f "{folder}/{name}"*\n' for name in HIDDEN)
        + 'exec "$@"\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=display, C3DESK_HOME=str(tmp / "home"), PYTHONPATH=REPO)
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_hidden_xcb_libraries_are_named_with_the_install_command(xvfb: str, tmp_path: Path) -> None:
    # Without the check, Qt itself aborts in that namespace: the hiding is real.
    qt = _hidden_run(
        [sys.executable, "-c", "from PySide6.QtWidgets import QApplication; QApplication([])"],
        xvfb,
        tmp_path,
    )
    assert qt.returncode == -6 or qt.returncode == 134, qt
    assert "xcb" in qt.stderr

    # c3desk, started as from a terminal or a menu (no subcommand: the window).
    result = _hidden_run([sys.executable, "-m", "c3desk"], xvfb, tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and "qt.qpa" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    for name in HIDDEN:
        assert name in lines[0]
    assert lines[1].strip() == "sudo apt-get install libxcb-icccm4 libxcb-keysyms1"

    # The same check on its own (what packaging/install.sh runs).
    check = _hidden_run([sys.executable, "-m", "c3desk", "--check-system"], xvfb, tmp_path)
    assert check.returncode == 1, check
    assert "libxcb-keysyms.so.1" in check.stderr and "Traceback" not in check.stderr


def test_with_every_library_the_check_passes(xvfb: str, tmp_path: Path) -> None:
    env = dict(os.environ, DISPLAY=xvfb, C3DESK_HOME=str(tmp_path / "home"))
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(
        [sys.executable, "-m", "c3desk", "--check-system"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result
    assert result.stdout.startswith("ok every library of Qt's xcb plugin loads")


def test_no_display_still_says_so(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["C3DESK_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, "-m", "c3desk"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("c3desk: no display to open the window on")
    assert "Traceback" not in result.stderr


def test_without_ldd_the_elf_reading_finds_the_same(xvfb: str, tmp_path: Path) -> None:
    """The fallback for systems without ``ldd``: DT_NEEDED read from the plugin and its Qt
    libraries, each system library loaded with ctypes in a child process."""
    code = "from c3desk import preflight as p; print(p._missing_by_elf(p.find_xcb_plugin()))"
    result = _hidden_run([sys.executable, "-c", code], xvfb, tmp_path)
    assert result.returncode == 0, result
    assert result.stdout.strip() == repr(list(HIDDEN))
