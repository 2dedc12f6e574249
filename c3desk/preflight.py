"""Before Qt starts: can its xcb platform plugin load? (Qt-free: importing Qt is what aborts.)

When a shared library of Qt's xcb plugin is missing, Qt aborts the process (exit 134, "could not
load the Qt platform plugin xcb") and names ``libxcb-cursor0`` whatever is really missing. So
before Qt is imported, :func:`missing_xcb_libraries` finds the plugin in the PySide6 package
folder (without importing PySide6) and resolves its libraries as the dynamic loader would:
``ldd`` when it exists (it runs the loader itself, so every transitive library counts), else the
plugin's ELF ``DT_NEEDED`` entries, each found next to Qt or loaded with :func:`ctypes.CDLL` in a
child process. :func:`xcb_problem` turns what is missing into one message with the command that
installs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

#: soname -> Debian/Ubuntu package
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libICE.so.6": "libice6",
    "libSM.so.6": "libsm6",
}

#: soname -> Fedora package
FEDORA_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "xcb-util-cursor",
    "libxcb-icccm.so.4": "xcb-util-wm",
    "libxcb-keysyms.so.1": "xcb-util-keysyms",
    "libxcb-render-util.so.0": "xcb-util-renderutil",
    "libxcb-image.so.0": "xcb-util-image",
    "libxcb-util.so.1": "xcb-util",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11",
    "libxkbcommon.so.0": "libxkbcommon",
    "libX11-xcb.so.1": "libX11-xcb",
    "libX11.so.6": "libX11",
    "libEGL.so.1": "libglvnd-egl",
    "libGL.so.1": "libglvnd-glx",
    "libOpenGL.so.0": "libglvnd-opengl",
    "libGLX.so.0": "libglvnd-glx",
    "libfontconfig.so.1": "fontconfig",
    "libfreetype.so.6": "freetype",
    "libdbus-1.so.3": "dbus-libs",
    "libglib-2.0.so.0": "glib2",
    "libICE.so.6": "libICE",
    "libSM.so.6": "libSM",
}
_FEDORA_LIBXCB = re.compile(r"libxcb(-(shape|randr|render|xkb|xfixes|shm|sync|xinput|glx))?\.so")

PLUGIN = Path("Qt") / "plugins" / "platforms" / "libqxcb.so"


def xcb_will_be_used(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Will Qt load its xcb plugin? (QT_QPA_PLATFORM unset or xcb, a DISPLAY, no Wayland.)"""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if chosen:
        return chosen == "xcb" and bool(env.get("DISPLAY"))
    # Without a choice, Qt prefers Wayland in a Wayland session and falls back to xcb.
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def find_xcb_plugin() -> Path | None:
    """PySide6's ``libqxcb.so``, found without importing PySide6 (in a PyInstaller bundle, under
    its ``_internal`` folder; ``QT_PLUGIN_PATH`` first, as Qt reads it)."""
    roots: list[Path] = []
    for entry in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep):
        if entry:
            roots.append(Path(entry) / "platforms" / "libqxcb.so")
    spec = None
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        for location in spec.submodule_search_locations or []:
            roots.append(Path(location) / PLUGIN)
        if spec.origin:
            roots.append(Path(spec.origin).parent / PLUGIN)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        roots.append(Path(bundle) / "PySide6" / PLUGIN)
        roots.append(Path(bundle) / "PySide6" / "Qt6" / "plugins" / "platforms" / "libqxcb.so")
    for candidate in roots:
        if candidate.is_file():
            return candidate
    return None


def missing_xcb_libraries(plugin: Path | None = None) -> list[str]:
    """The sonames the xcb plugin needs and the loader cannot find (``[]``: all there, or no
    plugin to check)."""
    plugin = plugin or find_xcb_plugin()
    if plugin is None:
        return []
    ldd = shutil.which("ldd")
    if ldd:
        try:
            out = subprocess.run(
                [ldd, str(plugin)],
                capture_output=True,
                text=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
                env=_loader_env(),
            )
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and (out.returncode == 0 or "=>" in out.stdout):
            return parse_ldd(out.stdout + "\n" + out.stderr)
    return _missing_by_elf(plugin)


def _loader_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_LOAD_ERROR = re.compile(r"error while loading shared libraries: ([^:\s]+):")


def parse_ldd(text: str) -> list[str]:
    """The libraries ``ldd`` could not resolve: ``X => not found`` lines, or the one that made
    the loader stop (``error while loading shared libraries: X: ...``), in order, once each."""
    names = [m.group(1) for m in _NOT_FOUND.finditer(text)]
    names += [os.path.basename(m.group(1)) for m in _LOAD_ERROR.finditer(text)]
    return list(dict.fromkeys(names))


# -- without ldd: the ELF's own list, resolved one by one ------------------------------------


def elf_needed(path: Path) -> tuple[list[str], list[str]]:
    """A 64/32-bit little/big-endian ELF's ``DT_NEEDED`` sonames and its RUNPATH/RPATH entries
    (``$ORIGIN`` expanded)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, shentsize, shnum = (
            struct.unpack_from(end + "Q", data, 0x28)[0],
            *struct.unpack_from(end + "HH", data, 0x3A),
        )
    else:
        shoff, shentsize, shnum = (
            struct.unpack_from(end + "I", data, 0x20)[0],
            *struct.unpack_from(end + "HH", data, 0x2E),
        )
    sections = []
    for i in range(shnum):
        base = shoff + i * shentsize
        if is64:
            _, kind, _, _, offset, size, link = struct.unpack_from(end + "IIQQQQI", data, base)
        else:
            _, kind, _, _, offset, size, link = struct.unpack_from(end + "IIIIIII", data, base)
        sections.append((kind, offset, size, link))
    needed: list[str] = []
    paths: list[str] = []
    for kind, offset, size, link in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        _, str_off, _, _ = sections[link]
        entry = struct.Struct(end + ("qQ" if is64 else "iI"))
        for pos in range(offset, offset + size, entry.size):
            tag, value = entry.unpack_from(data, pos)
            if tag == 0:
                break
            if tag in (1, 15, 29):  # DT_NEEDED, DT_RPATH, DT_RUNPATH
                raw = data[str_off + value : data.index(b"\0", str_off + value)].decode()
                if tag == 1:
                    needed.append(raw)
                else:
                    origin = str(path.resolve().parent)
                    for item in raw.split(":"):
                        item = item.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
                        paths.append(item)
    return needed, paths


def _missing_by_elf(plugin: Path) -> list[str]:
    """The plugin's and its Qt libraries' needed sonames that neither lie next to Qt nor load
    with ``ctypes.CDLL`` (tried in a child process: loading runs a library's constructors)."""
    try:
        needed, dirs = elf_needed(plugin)
    except (OSError, ValueError, struct.error, IndexError):
        return []
    system: list[str] = []
    seen: set[str] = set()
    queue = list(needed)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        local = next((Path(d) / name for d in dirs if (Path(d) / name).is_file()), None)
        if local is None:
            system.append(name)
            continue
        if name.startswith("libQt6"):
            try:
                more, _ = elf_needed(local)
            except (OSError, ValueError, struct.error, IndexError):
                continue
            queue.extend(more)
    return _unloadable(system)


_CHECK = (
    "import ctypes, sys\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        ctypes.CDLL(name)\n"
    "    except OSError:\n"
    "        print(name)\n"
)


def _unloadable(names: Iterable[str]) -> list[str]:
    names = list(names)
    if not names:
        return []
    python = sys.executable if not getattr(sys, "frozen", False) else None
    if python is None:  # a bundle has no separate interpreter: load here, as Qt would anyway
        import ctypes

        missing = []
        for name in names:
            try:
                ctypes.CDLL(name)
            except OSError:
                missing.append(name)
        return missing
    try:
        out = subprocess.run(
            [python, "-I", "-c", _CHECK, *names],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split()


# -- the message --------------------------------------------------------------------------------


def distro_family(os_release: Path = Path("/etc/os-release")) -> str:
    """'debian', 'fedora' or '' (from ID and ID_LIKE)."""
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    words: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            words.update(value.strip().strip("\"'").lower().split())
    if words & {"debian", "ubuntu"}:
        return "debian"
    if words & {"fedora", "rhel", "centos"}:
        return "fedora"
    return ""


def install_command(missing: Iterable[str], family: str) -> str | None:
    """The command that installs the packages providing ``missing``, or None when unknown."""
    missing = list(missing)
    if family == "debian":
        packages = [DEBIAN_PACKAGES.get(n) for n in missing]
        tool = "sudo apt-get install"
    elif family == "fedora":
        packages = [
            FEDORA_PACKAGES.get(n) or ("libxcb" if _FEDORA_LIBXCB.match(n) else None)
            for n in missing
        ]
        tool = "sudo dnf install"
    else:
        return None
    if not packages or any(p is None for p in packages):
        return None
    return f"{tool} {' '.join(dict.fromkeys(p for p in packages if p))}"


def xcb_problem(missing: list[str], family: str | None = None) -> str:
    """The message for a plugin that cannot load: the missing libraries and how to install."""
    family = distro_family() if family is None else family
    command = install_command(missing, family)
    head = (
        "c3desk: cannot open the window: Qt's xcb platform plugin needs "
        f"{', '.join(missing)}, not installed"
    )
    if command:
        return f"{head}; install with:\n  {command}"
    known = [DEBIAN_PACKAGES[n] for n in missing if n in DEBIAN_PACKAGES]
    hint = f" (on Debian/Ubuntu: {' '.join(known)})" if known else ""
    return f"{head}; install the packages that provide them{hint}"


def check_gui(env: Mapping[str, str] | None = None) -> str | None:
    """None when Qt can start on this display as far as can be told; else the message."""
    if not xcb_will_be_used(env):
        return None
    missing = missing_xcb_libraries()
    return xcb_problem(missing) if missing else None
