"""``c3desk --install-desktop-entry`` / ``--uninstall-desktop-entry``: the menu entry and icons
for pip and pipx installs, under ``$XDG_DATA_HOME`` (default ``~/.local/share``).

Qt-free: the PNG icons come from a ``render(size) -> PNG bytes`` function the caller gives
(``c3desk.__main__`` renders the package's SVG, ``c3desk/ui/assets/c3desk.svg``, with
:mod:`c3desk.ui.icons`), so the one SVG in the package is the only source and no PNGs need to be
package data. What was written is listed in ``$XDG_DATA_HOME/c3desk/desktop-entry.files``;
removal deletes exactly those files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
MANIFEST = Path("c3desk") / "desktop-entry.files"
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def data_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    value = env.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def launcher_argv() -> list[str]:
    """The command that starts this c3desk: the bundle's executable, the ``c3desk`` script that
    is running (its absolute path, symlinks kept so a pipx upgrade keeps it valid), else this
    Python with ``-m c3desk``."""
    if getattr(sys, "frozen", False):
        return [os.path.abspath(sys.executable)]
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "c3desk":
        found = script if os.sep in script else (shutil.which(script) or "")
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "c3desk"]


def quote_exec_arg(arg: str) -> str:
    """One Exec argument quoted per the Desktop Entry spec (then escaped as a string value)."""
    if arg and not (_RESERVED & set(arg)):
        quoted = arg
    else:
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        quoted = f'"{inner}"'
    # The value is a string: a backslash is written twice; a literal % is %%.
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def desktop_file(argv: Sequence[str]) -> str:
    exec_line = " ".join(quote_exec_arg(a) for a in argv)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"  # 1.5 is unknown to desktop-file-validate 0.26 (Debian 12)
        "Name=c3desk\n"
        "GenericName=Claude Code session desk\n"
        "Comment=Queue, run and watch many Claude Code sessions, locally and over SSH\n"
        f"Exec={exec_line}\n"
        f"TryExec={quote_exec_arg(argv[0])}\n"
        "Icon=c3desk\n"
        "Terminal=false\n"
        "Categories=Development;\n"
        "Keywords=claude;agent;terminal;queue;ssh;\n"
        "StartupNotify=true\n"
        "StartupWMClass=c3desk\n"
    )


def _refresh(base: Path, out: Callable[[str], None]) -> None:
    """Tell the desktop about the change, with whichever tools are installed (none needed)."""
    steps = (
        ("update-desktop-database", [str(base / "applications")]),
        ("gtk-update-icon-cache", ["-f", "-t", "-q", str(base / "icons" / "hicolor")]),
    )
    for tool, args in steps:
        path = shutil.which(tool)
        if path is None:
            continue
        try:
            done = subprocess.run(
                [path, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.SubprocessError) as exc:
            out(f"note: {tool} did not run: {exc}")
            continue
        if done.returncode == 0:
            out(f"ran {tool}")
        else:
            out(f"note: {tool} exited {done.returncode}: {' '.join(done.stderr.split())[:200]}")


def install(
    svg: Path,
    render: Callable[[int], bytes],
    *,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: Callable[[str], None] = print,
) -> list[Path]:
    """Write the .desktop file, the PNG sizes and the scalable SVG; return the files written."""
    base = data_home(env)
    argv = list(argv or launcher_argv())
    files: dict[Path, bytes] = {
        base / "applications" / "c3desk.desktop": desktop_file(argv).encode(),
        base / "icons" / "hicolor" / "scalable" / "apps" / "c3desk.svg": svg.read_bytes(),
    }
    for size in ICON_SIZES:
        files[base / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "c3desk.png"] = render(size)
    manifest = base / MANIFEST
    previous = _read_manifest(manifest)
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        out(f"wrote {path}")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    listed = list(dict.fromkeys([*previous, *files]))
    manifest.write_text("".join(f"{p}\n" for p in listed), encoding="utf-8")
    _refresh(base, out)
    out(f"the menu entry starts: {' '.join(argv)}")
    return list(files)


def _read_manifest(manifest: Path) -> list[Path]:
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [Path(line) for line in lines if line.strip()]


def uninstall(
    *, env: Mapping[str, str] | None = None, out: Callable[[str], None] = print
) -> list[Path]:
    """Delete the files the install listed (and the folders it left empty); return them."""
    base = data_home(env)
    manifest = base / MANIFEST
    removed: list[Path] = []
    for path in _read_manifest(manifest):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        out(f"removed {path}")
    manifest.unlink(missing_ok=True)
    # Folders the files were in, when now empty (icons/hicolor/NxN/apps, then NxN), up to the
    # shared ones, which stay.
    keep = {base, base / "applications", base / "icons", base / "icons" / "hicolor"}
    for start in (manifest.parent, *(p.parent for p in removed)):
        folder = start
        while folder not in keep and base in folder.parents and folder.is_dir():
            if any(folder.iterdir()):
                break
            folder.rmdir()
            folder = folder.parent
    if not removed:
        out(f"no c3desk desktop entry was installed under {base}")
    else:
        _refresh(base, out)
    return removed
