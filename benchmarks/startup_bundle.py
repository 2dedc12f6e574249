"""Start-up time to the painted window: the PyInstaller bundle beside the pip install, one run.

Each command is started as a person would start it (``dist/c3desk/c3desk`` and
``python3 -m c3desk``) on its own Xvfb server, with an empty data folder; the time is from the
process's spawn until its main window is on the screen and painted (its top-left corner, the menu
bar, is no longer the blank of a window Qt has not drawn yet). The window is watched from outside
through libX11 (ctypes), so the app runs its real start-up path, unchanged. Each command runs once
untimed (first start: the database is created, the page cache warms) and then ``--repeat`` times,
alternating. Then SIGTERM, which c3desk answers by quitting.

    python3 benchmarks/startup_bundle.py [--bundle dist/c3desk/c3desk] [--repeat 5]

Needs Xvfb (package ``xvfb``) and libX11. Prints a table and JSON; never fails on a figure.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.005
TIMEOUT_S = 60.0
ZPIXMAP = 2
IS_VIEWABLE = 2


class XWindowAttributes(ctypes.Structure):
    _fields_ = [  # ctypes layout
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", ctypes.c_ulong),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


class XImage(ctypes.Structure):
    _fields_ = [  # ctypes layout: the leading fields only
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


class X11:
    """The few libX11 calls that tell whether a window named c3desk is mapped and drawn."""

    def __init__(self, display: str) -> None:
        name = ctypes.util.find_library("X11")
        if name is None:
            raise SystemExit("startup_bundle: libX11 is not installed (package libx11-6)")
        x = ctypes.CDLL(name)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XQueryTree.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
            ctypes.POINTER(ctypes.c_uint),
        ]
        x.XFetchName.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_char_p),
        ]
        x.XGetWindowAttributes.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(XWindowAttributes),
        ]
        x.XGetImage.restype = ctypes.POINTER(XImage)
        x.XGetImage.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_ulong,
            ctypes.c_int,
        ]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
        self.x = x
        # A window can vanish between two calls: ignore X errors instead of exiting.
        self._handler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(
            lambda _d, _e: 0
        )
        x.XSetErrorHandler(ctypes.cast(self._handler, ctypes.c_void_p))
        self.dpy = x.XOpenDisplay(display.encode())
        if not self.dpy:
            raise SystemExit(f"startup_bundle: cannot open display {display}")
        self.root = x.XDefaultRootWindow(self.dpy)

    def children(self, window: int) -> list[int]:
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        kids = ctypes.POINTER(ctypes.c_ulong)()
        n = ctypes.c_uint()
        if not self.x.XQueryTree(
            self.dpy, window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(kids), n
        ):
            return []
        found = [kids[i] for i in range(n.value)]
        if kids:
            self.x.XFree(kids)
        return found

    def name(self, window: int) -> str:
        out = ctypes.c_char_p()
        if not self.x.XFetchName(self.dpy, window, ctypes.byref(out)) or not out.value:
            return ""
        text = out.value.decode(errors="replace")
        self.x.XFree(out)
        return text

    def painted_window(self) -> bool:
        """A viewable top-level window named c3desk whose menu-bar corner has been drawn."""
        for window in self.children(self.root):
            if not self.name(window).startswith("c3desk"):
                continue
            attrs = XWindowAttributes()
            if not self.x.XGetWindowAttributes(self.dpy, window, ctypes.byref(attrs)):
                continue
            if attrs.map_state != IS_VIEWABLE or attrs.width < 64 or attrs.height < 32:
                continue
            w, h = min(attrs.width, 200), min(attrs.height, 40)
            image = self.x.XGetImage(self.dpy, window, 0, 0, w, h, ~0 & 0xFFFFFFFF, ZPIXMAP)
            if not image:
                continue
            img = image.contents
            data = ctypes.string_at(img.data, img.bytes_per_line * img.height)
            self.x.XFree(img.data)
            self.x.XFree(image)
            step = max(1, img.bits_per_pixel // 8)
            if len({data[i : i + step] for i in range(0, len(data), step)}) > 2:
                return True
        return False


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("Xvfb") is None:
        raise SystemExit("startup_bundle: Xvfb is not installed (package xvfb)")
    read, write = os.pipe()
    # -br: a black root, so a window Qt has not painted yet reads as one flat colour.
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write),
            "-screen",
            "0",
            "1600x1000x24",
            "-br",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        server.kill()
        raise SystemExit("startup_bundle: Xvfb did not start")
    return server, f":{number}"


def time_to_window(cmd: list[str], home: Path, display: str, x11: X11) -> float:
    env = dict(os.environ, DISPLAY=display, C3DESK_HOME=str(home))
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("WAYLAND_DISPLAY", None)
    spawned = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not x11.painted_window():
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise SystemExit(f"startup_bundle: {cmd[0]} exited {proc.returncode}: {err}")
            if time.perf_counter() - spawned > TIMEOUT_S:
                raise SystemExit(f"startup_bundle: no window from {cmd[0]} in {TIMEOUT_S} s")
            time.sleep(POLL_S)
        return time.perf_counter() - spawned
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=str(ROOT / "dist" / "c3desk" / "c3desk"))
    parser.add_argument("--python", default=sys.executable, help="the pip install's Python")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bundle = Path(args.bundle)
    if not bundle.is_file():
        raise SystemExit(f"startup_bundle: no bundle at {bundle} (run packaging/build.sh)")
    commands = {"bundle": [str(bundle)], "pip": [args.python, "-m", "c3desk"]}
    server, display = start_xvfb()
    homes = {k: Path(tempfile.mkdtemp(prefix=f"c3desk-startup-{k}-")) for k in commands}
    times: dict[str, list[float]] = {k: [] for k in commands}
    try:
        x11 = X11(display)
        for key, cmd in commands.items():
            time_to_window(cmd, homes[key], display, x11)  # first start: untimed
        for _ in range(args.repeat):
            for key, cmd in commands.items():
                times[key].append(time_to_window(cmd, homes[key], display, x11))
    finally:
        server.terminate()
        server.wait()
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    print(f"start-up to the painted window (Xvfb), {args.repeat} runs each after one untimed")
    print(f"{'':>8}{'median s':>10}{'best s':>10}{'worst s':>10}")
    for key, runs in times.items():
        print(f"{key:>8}{statistics.median(runs):>10.3f}{min(runs):>10.3f}{max(runs):>10.3f}")
    print(
        json.dumps(
            {
                key: {"runs_s": runs, "median_s": statistics.median(runs)}
                for key, runs in times.items()
            }
        )
    )


if __name__ == "__main__":
    main()
