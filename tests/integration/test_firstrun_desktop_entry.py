"""`c3desk --install-desktop-entry` / `--uninstall-desktop-entry` in a temporary HOME, run as a
pip or pipx user runs them (a subprocess), validated with desktop-file-validate."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from c3desk import desktop_entry

SIZES = desktop_entry.ICON_SIZES

REPO = str(Path(__file__).resolve().parents[2])


def _run(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"}
    env.update(HOME=str(home), **extra)
    env["PYTHONPATH"] = REPO  # this checkout, whichever one is pip-installed
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=110)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _exec_line(desktop: Path) -> str:
    return next(
        line.split("=", 1)[1]
        for line in desktop.read_text().splitlines()
        if line.startswith("Exec=")
    )


def test_install_validate_and_remove_exactly_what_was_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tmp_path / "xdg data"  # a space: quoting counts
    (data / "applications").mkdir(parents=True)
    other = data / "applications" / "someone-else.desktop"
    other.write_text("[Desktop Entry]\nType=Application\nName=x\nExec=x\n")
    result = _run(
        [sys.executable, "-m", "c3desk", "--install-desktop-entry"],
        home,
        XDG_DATA_HOME=str(data),
    )
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    desktop = data / "applications" / "c3desk.desktop"
    assert _exec_line(desktop) == f"{sys.executable} -m c3desk"
    assert f"the menu entry starts: {sys.executable} -m c3desk" in result.stdout
    for size in SIZES:
        png = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "c3desk.png"
        assert _png_size(png) == (size, size)
    svg = data / "icons" / "hicolor" / "scalable" / "apps" / "c3desk.svg"
    assert svg.read_bytes().lstrip().startswith(b"<")
    assert not (home / ".local").exists()  # XDG_DATA_HOME is respected

    validate = shutil.which("desktop-file-validate")
    assert validate, "desktop-file-validate (desktop-file-utils) is part of the test setup"
    checked = subprocess.run([validate, str(desktop)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout == "", checked

    # Installing again changes nothing else; removal takes exactly what was written.
    again = _run(
        [sys.executable, "-m", "c3desk", "--install-desktop-entry"],
        home,
        XDG_DATA_HOME=str(data),
    )
    assert again.returncode == 0, again
    before = {p for p in data.rglob("*") if p.is_file()}
    removed = _run(
        [sys.executable, "-m", "c3desk", "--uninstall-desktop-entry"],
        home,
        XDG_DATA_HOME=str(data),
    )
    assert removed.returncode == 0, removed
    left = {p for p in data.rglob("*") if p.is_file()}
    gone = before - left
    assert desktop in gone and svg in gone
    assert len([p for p in gone if p.suffix == ".png"]) == len(SIZES)
    assert other in left
    # What is left was made by the cache tools, never by c3desk.
    assert all(p.name in ("mimeinfo.cache", "icon-theme.cache") for p in left - {other})
    assert removed.stdout.count("removed ") == len(SIZES) + 2
    hicolor = data / "icons" / "hicolor"
    assert not [d for d in hicolor.rglob("*") if d.is_dir() and not any(d.iterdir())]

    nothing = _run(
        [sys.executable, "-m", "c3desk", "--uninstall-desktop-entry"],
        home,
        XDG_DATA_HOME=str(data),
    )
    assert nothing.returncode == 0
    assert "no c3desk desktop entry was installed" in nothing.stdout


def test_the_console_script_is_the_menu_command_under_home(tmp_path: Path) -> None:
    script = shutil.which("c3desk")
    assert script, "the c3desk console script of the editable install"
    home = tmp_path / "home"
    result = _run([script, "--install-desktop-entry"], home)
    assert result.returncode == 0, result
    desktop = home / ".local" / "share" / "applications" / "c3desk.desktop"
    assert _exec_line(desktop) == os.path.abspath(script)


def test_an_unwritable_data_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _run(
        [sys.executable, "-m", "c3desk", "--install-desktop-entry"],
        tmp_path,
        XDG_DATA_HOME=str(blocker),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("c3desk: cannot write the desktop entry:")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("arg", "written"),
    [
        ("/usr/bin/c3desk", "/usr/bin/c3desk"),
        ("/opt/my apps/c3desk", '"/opt/my apps/c3desk"'),
        ('/a"b/c3desk', '"/a\\\\"b/c3desk"'),
        ("/a$b/c3desk", '"/a\\\\$b/c3desk"'),
        ("/50%/c3desk", "/50%%/c3desk"),
    ],
)
def test_exec_quoting_follows_the_spec(arg: str, written: str) -> None:
    assert desktop_entry.quote_exec_arg(arg) == written
