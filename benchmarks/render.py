"""Paint time of the terminal view, and key-to-glyph latency through a real PTY running ``cat``.

Offscreen. Paint time covers rendering the changed rows into the view's frame image and the
widget's paint (blit, cursor) into a QImage:

- one dirty row of a 120x40 tile;
- a full 120x40 tile (every row changed);
- a 3x3 grid of 120x40 tiles, every row of every tile changed;

all with truecolor content (syntax-highlight-like runs of 24-bit foregrounds and backgrounds,
box drawing). Key-to-glyph: QTest presses a key in a view whose PTY runs ``cat``; the time
until the glyph is in the painted image.

    python benchmarks/render.py [--frames 200] [--keys 40] [--json out.json]

Required (issue 6): p50 one row ≤ 2 ms, full tile ≤ 8 ms, 3x3 grid ≤ 16 ms; key-to-glyph
median ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ptyprocess import PtyProcess  # noqa: E402
from PySide6.QtCore import QPoint, QSocketNotifier, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from c3desk.terminal import TerminalModel  # noqa: E402
from c3desk.ui.terminal_view import TerminalView  # noqa: E402

COLS, ROWS = 120, 40
WORDS = [
    "def",
    "class",
    "return",
    "self",
    "import",
    "from",
    "if",
    "else",
    "for",
    "while",
    "async",
    "await",
    "yield",
    "lambda",
]
REQUIRED = {"one_row": 2.0, "full_tile": 8.0, "grid_3x3": 16.0, "key_to_glyph": 20.0}


def truecolor_line(rng: random.Random, width: int) -> bytes:
    """One line of highlighted code: runs of 24-bit colours, a box rule now and then."""
    parts: list[str] = []
    used = 0
    if rng.random() < 0.1:
        r, g, b = rng.randrange(256), rng.randrange(256), rng.randrange(256)
        return f"\x1b[38;2;{r};{g};{b}m{'─' * (width - 1)}\x1b[0m".encode()
    while used < width - 12:
        word = rng.choice(WORDS) + rng.choice(" ():.,=")
        r, g, b = rng.randrange(256), rng.randrange(256), rng.randrange(256)
        bg = rng.random() < 0.3
        style = f"38;2;{r};{g};{b}"
        if bg:
            style += f";48;2;{rng.randrange(60)};{rng.randrange(60)};{rng.randrange(60)}"
        if rng.random() < 0.15:
            style += ";1"
        parts.append(f"\x1b[{style}m{word}")
        used += len(word)
    return ("".join(parts) + "\x1b[0m").encode()


def screen_bytes(rng: random.Random) -> bytes:
    lines = [b"\x1b[%d;1H" % (y + 1) + truecolor_line(rng, COLS) for y in range(ROWS)]
    return b"\x1b[H" + b"".join(lines)


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)

    def pick(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))]

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(s)}


def make_view() -> tuple[TerminalView, TerminalModel]:
    model = TerminalModel(COLS, ROWS, 1000)
    view = TerminalView(model, lambda data: None)
    view.resize(*view.size_for_grid(COLS, ROWS))
    view.show()
    view.flush()
    return view, model


def paint(view: TerminalView, target: QImage, offset: QPoint) -> None:
    """Render the changed rows, then the widget's paint into ``target`` at ``offset``."""
    view.flush()
    view.render(target, offset)


def bench_tiles(n_tiles: int, frames: int, one_row: bool) -> list[float]:
    rng = random.Random(6)
    views = [make_view() for _ in range(n_tiles)]
    w, h = views[0][0].width(), views[0][0].height()
    target = QImage(w * 3, h * 3, QImage.Format.Format_RGB32)
    screens = [screen_bytes(rng) for _ in range(8)]
    samples: list[float] = []
    for i in range(frames):
        for k, (_view, model) in enumerate(views):
            if one_row:
                y = i % ROWS
                model.feed(b"\x1b[%d;1H" % (y + 1) + truecolor_line(rng, COLS))
            else:
                model.feed(screens[(i + k) % len(screens)])
        QApplication.processEvents()  # let nothing else run inside the measurement
        t0 = time.perf_counter()
        for k, (view, _model) in enumerate(views):
            paint(view, target, QPoint((k % 3) * w, (k // 3) * h))
        samples.append((time.perf_counter() - t0) * 1000)
    for view, _ in views:
        view.close()
        view.deleteLater()
    QApplication.processEvents()
    return samples


def bench_key_to_glyph(keys: int) -> list[float]:
    """Press a key in a view running ``cat``; time until its glyph is in the painted image."""
    model = TerminalModel(80, 24, 1000)
    proc = PtyProcess.spawn(["cat"], dimensions=(24, 80))
    view = TerminalView(model, proc.write)
    view.resize(*view.size_for_grid(80, 24))
    view.show()
    view.activateWindow()
    view.setFocus()

    def on_readable() -> None:
        try:
            data = os.read(proc.fd, 65536)
        except OSError:
            notifier.setEnabled(False)
            return
        model.feed(data)
        view.model_changed()

    notifier = QSocketNotifier(proc.fd, QSocketNotifier.Type.Read)
    notifier.activated.connect(on_readable)
    samples: list[float] = []
    cw, ch = view.cell_size
    letters = "abcdefghijklmnopqrstuvwxyz"
    try:
        for i in range(keys):
            if i and i % 60 == 0:
                QTest.keyClick(view, Qt.Key.Key_Return)
                wait_until(lambda: model.cursor.x == 0, 2.0)
            x, y = model.cursor.x, model.cursor.y
            letter = letters[i % 26]
            frames_before = view.frames
            t0 = time.perf_counter()
            QTest.keyClick(view, letter)

            def painted(
                x: int = x, y: int = y, before: int = frames_before, letter: str = letter
            ) -> bool:
                if view.frames == before or model.cell(x, y)[0] != letter:
                    return False
                image = view.grab().toImage()
                # The glyph's cell now holds foreground pixels.
                return _cell_has_ink(image, view, x, y, cw, ch)

            if wait_until(painted, 2.0):
                samples.append((time.perf_counter() - t0) * 1000)
    finally:
        notifier.setEnabled(False)
        proc.terminate(force=True)
        proc.close()
        view.close()
        view.deleteLater()
        QApplication.processEvents()
    return samples


def _cell_has_ink(image: QImage, view: TerminalView, x: int, y: int, cw: int, ch: int) -> bool:
    from c3desk.ui.terminal_view import PADDING

    bg = view.palette_colors.background
    for py in range(PADDING + y * ch, PADDING + (y + 1) * ch):
        for px in range(PADDING + x * cw, PADDING + (x + 1) * cw):
            c = image.pixelColor(px, py)
            if abs(c.red() - bg[0]) + abs(c.green() - bg[1]) + abs(c.blue() - bg[2]) > 200:
                return True
    return False


def wait_until(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        QApplication.processEvents()
    return bool(predicate())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert app is not None
    results: dict[str, Any] = {
        "one_row": percentiles(bench_tiles(1, args.frames, one_row=True)),
        "full_tile": percentiles(bench_tiles(1, args.frames, one_row=False)),
        "grid_3x3": percentiles(bench_tiles(9, max(20, args.frames // 4), one_row=False)),
    }
    keys = bench_key_to_glyph(args.keys)
    results["key_to_glyph"] = {
        "median": statistics.median(keys) if keys else float("nan"),
        "p95": percentiles(keys)["p95"] if keys else float("nan"),
        "n": len(keys),
    }
    print(f"{'measure':<16}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'required':>10}  ok")
    for name in ("one_row", "full_tile", "grid_3x3"):
        r = results[name]
        ok = r["p50"] <= REQUIRED[name]
        r["ok"] = ok
        print(
            f"{name:<16}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['p99']:>9.2f}"
            f"{'≤ ' + str(REQUIRED[name]):>10}  {'yes' if ok else 'NO'}"
        )
    k = results["key_to_glyph"]
    k["ok"] = k["median"] <= REQUIRED["key_to_glyph"]
    print(
        f"{'key_to_glyph':<16}{k['median']:>9.2f}{k['p95']:>9.2f}{'':>9}"
        f"{'≤ 20.0':>10}  {'yes' if k['ok'] else 'NO'}   (median, n={k['n']})"
    )
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
