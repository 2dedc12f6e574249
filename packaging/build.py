"""Build c3desk's Linux installers from a clean clone: ``packaging/build.sh`` runs this.

    python3 packaging/build.py [--skip-bundle]

Writes, under ``dist/``:

- ``dist/c3desk/``: the PyInstaller one-folder bundle (``packaging/c3desk.spec``);
- ``dist/c3desk_<version>_<arch>.deb``: the bundle under ``/opt/c3desk``, ``/usr/bin/c3desk``,
  the menu entry, hicolor icons and AppStream metainfo; its Depends are the system libraries
  the bundle's ELF files load (found with ``ldd``, named with ``dpkg -S``), plus a font;
- ``dist/c3desk-<version>-linux-<machine>.tar.gz``: the bundle, portable.

The version is c3desk's own (``c3desk.__version__``, which pyproject.toml reads). Exits non-zero
with one line naming what is missing when a tool is absent or a step fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
WORK = ROOT / "build" / "packaging"
BUNDLE = DIST / "c3desk"
RESOURCES = ROOT / "resources"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

#: Always declared: a monospace font for the terminal (c3desk draws box drawing itself).
EXTRA_DEPENDS = ("fonts-dejavu-core",)
#: What sessions use (tmux, ssh) and the fonts for CJK, emoji and symbols.
RECOMMENDS = (
    "tmux",
    "openssh-client",
    "fonts-noto-cjk",
    "fonts-noto-color-emoji",
    "fonts-symbola",
)
#: Libraries of plugins that may be absent on the build machine, by the package that has them.
KNOWN_PACKAGES = {
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libwayland-client.so.0": "libwayland-client0",
}


class BuildError(Exception):
    pass


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    shown = cmd if len(cmd) <= 12 else [*cmd[:3], f"... ({len(cmd) - 3} files)"]
    print("+", " ".join(shown), flush=True)
    try:
        return subprocess.run(cmd, check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]
    except FileNotFoundError as exc:
        raise BuildError(f"{cmd[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{' '.join(cmd[:3])} failed (exit {exc.returncode})") from exc


def version() -> str:
    sys.path.insert(0, str(ROOT))
    import c3desk

    return c3desk.__version__


def build_bundle() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError as exc:
        raise BuildError(
            "PyInstaller is not installed: python3 -m pip install -r packaging/requirements.txt"
        ) from exc
    shutil.rmtree(BUNDLE, ignore_errors=True)
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(DIST),
            "--workpath",
            str(ROOT / "build" / "pyinstaller"),
            str(ROOT / "packaging" / "c3desk.spec"),
        ]
    )
    strip_python(BUNDLE / "_internal")
    out = run([str(BUNDLE / "c3desk"), "--version"], capture_output=True).stdout.strip()
    print(f"bundle says: {out}")
    if out != f"c3desk {version()}":
        raise BuildError(f"the bundle's --version says {out!r}, not 'c3desk {version()}'")


def strip_python(internal: Path) -> None:
    """Drop the debug sections of the Python runtime (a pyenv build keeps ~20 MB of them).
    Only Python's own files: the wheels' libraries may be patched in ways strip would break."""
    if shutil.which("strip") is None:
        print("note: strip not installed (binutils): the Python runtime keeps its debug info")
        return
    files = [*internal.glob("libpython3*.so*"), *internal.glob("python3*/lib-dynload/*.so")]
    files = [f for f in files if f.is_file() and not f.is_symlink()]
    if files:
        run(["strip", "--strip-debug", *map(str, files)])


def tree_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (symlinks not followed nor counted)."""
    return sum(f.lstat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def soname_package(soname: str) -> str:
    """The Debian package that conventionally ships ``soname`` (libfoo-bar.so.3 → libfoo-bar3)."""
    if soname in KNOWN_PACKAGES:
        return KNOWN_PACKAGES[soname]
    match = re.fullmatch(r"(lib[\w+.-]+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if match is None:
        raise BuildError(f"cannot tell which package has {soname}")
    name, major = match.groups()
    sep = "-" if name[-1].isdigit() else ""
    return f"{name}{sep}{major}".lower().replace("_", "-")


def system_depends(bundle: Path) -> list[str]:
    """Packages of the libraries the bundle's ELF files load from the system (as ldd sees)."""
    internal = bundle / "_internal"
    env = dict(os.environ, LD_LIBRARY_PATH=f"{internal}:{internal / 'PySide6' / 'Qt' / 'lib'}")
    paths: set[str] = set()
    missing: set[str] = set()
    for elf in elf_files(bundle):
        out = subprocess.run(["ldd", str(elf)], env=env, capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+) => (not found|(/\S+))", line)
            if m is None:
                continue
            soname, target = m.group(1), m.group(3)
            if target is None:
                missing.add(soname)
            elif not Path(target).resolve().is_relative_to(bundle.resolve()):
                paths.add(str(Path(target).resolve()))
    packages: set[str] = set()
    for path in sorted(paths):
        # dpkg -S knows the path the package installed (/lib or /usr/lib: merged /usr).
        candidates = [path]
        if path.startswith("/usr/lib/"):
            candidates.append(path.removeprefix("/usr"))
        elif path.startswith("/lib/"):
            candidates.append("/usr" + path)
        for candidate in candidates:
            res = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if res.returncode == 0:
                packages.add(res.stdout.split(":", 1)[0].split(",")[0].strip())
                break
        else:
            raise BuildError(f"no Debian package owns {path}, which the bundle loads")
    for soname in sorted(missing):
        package = soname_package(soname)
        print(f"note: {soname} is not on this machine; declared as {package}")
        packages.add(package)
    return sorted(packages)


def libc_version() -> str:
    res = run(["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True)
    return res.stdout.split("-")[0]


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)


def build_deb(ver: str) -> Path:
    arch = run(["dpkg", "--print-architecture"], capture_output=True).stdout.strip()
    stage = WORK / "deb"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "DEBIAN").mkdir(parents=True)
    copy_tree(BUNDLE, stage / "opt" / "c3desk")
    (stage / "usr" / "bin").mkdir(parents=True)
    (stage / "usr" / "bin" / "c3desk").symlink_to("/opt/c3desk/c3desk")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy(RESOURCES / "c3desk.desktop", apps / "c3desk.desktop")
    hicolor = stage / "usr" / "share" / "icons" / "hicolor"
    for size in ICON_SIZES:
        src = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "c3desk.png"
        if not src.is_file():
            raise BuildError(f"{src.relative_to(ROOT)} is missing (python3 packaging/icons.py)")
        dst = hicolor / f"{size}x{size}" / "apps" / "c3desk.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copy(RESOURCES / "icons" / "c3desk.svg", hicolor / "scalable" / "apps" / "c3desk.svg")
    meta = stage / "usr" / "share" / "metainfo"
    meta.mkdir(parents=True)
    shutil.copy(RESOURCES / "io.github.c3desk.metainfo.xml", meta / "io.github.c3desk.metainfo.xml")
    doc = stage / "usr" / "share" / "doc" / "c3desk"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: c3desk\n\nFiles: *\nLicense: MIT\n"
        "Comment: /opt/c3desk bundles Python, Qt (LGPL-3.0) through PySide6 and the Python\n"
        " packages c3desk depends on, each under its own license.\n",
        encoding="utf-8",
    )
    if (ROOT / "CHANGELOG.md").is_file():
        shutil.copy(ROOT / "CHANGELOG.md", doc / "CHANGELOG.md")

    depends = [f"libc6 (>= {libc_version()})"]
    depends += [p for p in system_depends(BUNDLE) if p != "libc6"]
    depends += [p for p in EXTRA_DEPENDS if p not in depends]
    size_kib = tree_size(stage) // 1024
    control = "\n".join(
        [
            "Package: c3desk",
            f"Version: {ver}",
            f"Architecture: {arch}",
            "Maintainer: c3desk maintainers <c3desk@users.noreply.github.com>",
            f"Installed-Size: {size_kib}",
            f"Depends: {', '.join(depends)}",
            f"Recommends: {', '.join(RECOMMENDS)}",
            "Section: devel",
            "Priority: optional",
            "Homepage: https://github.com/c3desk/c3desk",
            "Description: queue, run and watch many Claude Code sessions",
            " c3desk is a desktop dashboard for Claude Code CLI sessions: a queue of",
            " sessions, run locally or on workers over SSH, with their live terminals",
            " side by side. This package bundles its own Python and Qt under /opt/c3desk.",
            "",
        ]
    )
    (stage / "DEBIAN" / "control").write_text(control, encoding="utf-8")
    print(control)
    for path in [stage, *stage.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    validate(stage)
    deb = DIST / f"c3desk_{ver}_{arch}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build", str(stage), str(deb)])
    return deb


def validate(stage: Path) -> None:
    desktop = stage / "usr" / "share" / "applications" / "c3desk.desktop"
    meta = stage / "usr" / "share" / "metainfo" / "io.github.c3desk.metainfo.xml"
    if shutil.which("desktop-file-validate"):
        run(["desktop-file-validate", str(desktop)])
    else:
        print("note: desktop-file-validate not installed (desktop-file-utils): not validated")
    if shutil.which("appstreamcli"):
        run(["appstreamcli", "validate", "--no-net", "--pedantic", str(meta)])
    else:
        print("note: appstreamcli not installed (appstream): metainfo not validated")


def build_tarball(ver: str) -> Path:
    machine = os.uname().machine
    out = DIST / f"c3desk-{ver}-linux-{machine}.tar.gz"
    print(f"+ tar czf {out.relative_to(ROOT)} -C dist c3desk", flush=True)

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname=f"c3desk-{ver}", filter=owned_by_root)
    return out


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build c3desk's bundle, .deb and tarball.")
    parser.add_argument(
        "--skip-bundle", action="store_true", help="reuse dist/c3desk (only the packages)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        ver = version()
        DIST.mkdir(exist_ok=True)
        if not args.skip_bundle or not BUNDLE.is_dir():
            build_bundle()
        deb = build_deb(ver)
        tarball = build_tarball(ver)
    except BuildError as exc:
        print(f"packaging/build.py: {exc}", file=sys.stderr)
        return 1
    bundle_size = tree_size(BUNDLE)
    print(f"== built c3desk {ver} in {time.monotonic() - started:.0f} s")
    print(f"   {BUNDLE.relative_to(ROOT)}/  {human(bundle_size)}")
    print(f"   {deb.relative_to(ROOT)}  {human(deb.stat().st_size)}")
    print(f"   {tarball.relative_to(ROOT)}  {human(tarball.stat().st_size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
