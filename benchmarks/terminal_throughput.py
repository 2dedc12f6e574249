"""Throughput of c3desk's terminal model against stock pyte, on streams generated here.

Feeds each stream in 64 KiB chunks at 120x40 (history 10,000) to TerminalModel, pyte.Screen and
pyte.HistoryScreen in the same run; prints MB/s and ratios as a table, then JSON. Also measures
one ~94.5 KB full redraw and the memory of 10,000 scrollback lines of 120 columns.

    python benchmarks/terminal_throughput.py [--mb 1.0] [--json-only]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pyte

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from c3desk.terminal import TerminalModel

COLS, ROWS, HISTORY = 120, 40, 10_000
CHUNK = 64 * 1024
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "that",
    "with",
    "as",
    "this",
    "file",
    "def",
    "return",
    "import",
    "class",
    "self",
    "value",
    "error",
    "test",
    "config",
    "path",
    "async",
    "await",
    "result",
    "data",
    "function",
    "const",
    "let",
    "string",
    "number",
    "true",
    "false",
    "none",
    "print",
    "update",
    "build",
    "run",
    "check",
    "model",
    "token",
    "stream",
    "screen",
    "render",
]
CSI = "\x1b["


def _palette(rng: random.Random, n: int = 36) -> list[tuple[int, int, int]]:
    return [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(n)]


def _words(rng: random.Random, width: int) -> list[str]:
    out: list[str] = []
    used = 0
    while True:
        w = rng.choice(WORDS)
        if used + len(w) + 1 > width:
            return out
        out.append(w)
        used += len(w) + 1


def plain_stream(rng: random.Random, size: int) -> bytes:
    parts: list[str] = []
    total = 0
    while total < size:
        line = " ".join(_words(rng, rng.randrange(20, 118))) + "\r\n"
        parts.append(line)
        total += len(line)
    return "".join(parts).encode()


def _colour_line(rng: random.Random, palette: list[tuple[int, int, int]], width: int) -> str:
    out = []
    for w in _words(rng, width):
        r, g, b = rng.choice(palette)
        bold = "1;" if rng.random() < 0.1 else ""
        out.append(f"{CSI}{bold}38;2;{r};{g};{b}m{w}{CSI}0m ")
    return "".join(out)


def palette_stream(rng: random.Random, size: int) -> bytes:
    palette = _palette(rng)
    parts: list[str] = []
    total = 0
    while total < size:
        line = _colour_line(rng, palette, rng.randrange(20, 118)) + "\r\n"
        parts.append(line)
        total += len(line)
    return "".join(parts).encode()


def stress_stream(rng: random.Random, size: int) -> bytes:
    parts: list[str] = []
    total = 0
    while total < size:
        words = _words(rng, rng.randrange(20, 118))
        line = (
            "".join(
                f"{CSI}38;2;{rng.randrange(256)};{rng.randrange(256)};{rng.randrange(256)}m{w} "
                for w in words
            )
            + f"{CSI}0m\r\n"
        )
        parts.append(line)
        total += len(line)
    return "".join(parts).encode()


def cjk_stream(rng: random.Random, size: int) -> bytes:
    cjk = "中文字符测试终端模型渲染速度日本語のテキスト한국어텍스트"
    emoji = "😀🚀✨🎉🔥👍🏽"
    parts: list[str] = []
    total = 0
    while total < size:
        cells = 0
        line = []
        while cells < rng.randrange(20, 110):
            kind = rng.random()
            if kind < 0.6:
                ch = rng.choice(cjk)
                cells += 2
            elif kind < 0.7:
                ch = rng.choice(emoji)
                cells += 2
            else:
                ch = rng.choice("abcdefg ")
                cells += 1
            line.append(ch)
        text = "".join(line) + "\r\n"
        parts.append(text)
        total += len(text.encode())
    return "".join(parts).encode()


def _ink_lines(rng: random.Random, palette: list[tuple[int, int, int]], n: int) -> list[str]:
    lines = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.15:
            lines.append(f"{CSI}38;2;215;119;87m╭{'─' * 116}╮{CSI}39m")
        elif kind < 0.3:
            body = " ".join(_words(rng, 100))
            lines.append(f"{CSI}38;2;215;119;87m│{CSI}39m > {body}{CSI}{114 - len(body)}C│")
        elif kind < 0.4:
            lines.append(
                f"{CSI}38;2;215;119;87m✻{CSI}39m Pondering… ({i}s · ↑ 1.2k tokens · "
                f"{CSI}2mesc to interrupt{CSI}22m)"
            )
        else:
            lines.append("  " + _colour_line(rng, palette, rng.randrange(30, 116)))
    return lines


def ink_frames(rng: random.Random, size: int) -> list[bytes]:
    """Ink-style redraws: 55% line-clear redraws (~2.7 KB), 45% full clears (~94.5 KB)."""
    palette = _palette(rng)
    frames: list[bytes] = []
    total = 0
    prev = 12
    while total < size:
        if rng.random() < 0.55:
            body = (f"{CSI}2K{CSI}1A" * prev) + f"{CSI}2K{CSI}G"
            new = rng.randrange(8, 20)
            body += "\r\n".join(_ink_lines(rng, palette, new))
            prev = new
        else:
            body = f"{CSI}2J{CSI}3J{CSI}H" + "\r\n".join(full_redraw_lines(rng, palette))
            prev = 12
        frame = f"{CSI}?2026h{body}{CSI}?2026l".encode()
        frames.append(frame)
        total += len(frame)
    return frames


def full_redraw_lines(rng: random.Random, palette: list[tuple[int, int, int]]) -> list[str]:
    lines: list[str] = []
    size = 0
    while size < 94_500:
        line = _ink_lines(rng, palette, 1)[0]
        lines.append(line)
        size += len(line.encode()) + 2
    return lines


def full_redraw(rng: random.Random) -> bytes:
    body = "\r\n".join(full_redraw_lines(rng, _palette(rng)))
    return f"{CSI}?2026h{CSI}2J{CSI}3J{CSI}H{body}{CSI}?2026l".encode()


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def make_ours() -> Callable[[bytes], None]:
    return TerminalModel(COLS, ROWS, HISTORY).feed


def make_pyte() -> Callable[[bytes], None]:
    return pyte.ByteStream(pyte.Screen(COLS, ROWS)).feed  # type: ignore[no-any-return]


def make_pyte_history() -> Callable[[bytes], None]:
    screen = pyte.HistoryScreen(COLS, ROWS, history=HISTORY)
    return pyte.ByteStream(screen).feed  # type: ignore[no-any-return]


def throughput(factory: Callable[[], Callable[[bytes], None]], data: list[bytes]) -> float:
    feed = factory()
    nbytes = sum(len(c) for c in data)
    gc.collect()
    start = time.perf_counter()
    for c in data:
        feed(c)
    elapsed = time.perf_counter() - start
    return nbytes / 1e6 / elapsed


def redraw_ms(repeats: int = 15) -> dict[str, float]:
    rng = random.Random(7)
    frame = full_redraw(rng)
    model = TerminalModel(COLS, ROWS, HISTORY)
    model.feed(plain_stream(rng, 2_000_000))  # a model already holding scrollback
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.feed(frame)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "bytes": len(frame),
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
    }


def scrollback_memory() -> dict[str, float]:
    rng = random.Random(11)
    palette = _palette(rng)
    out: dict[str, float] = {}
    for name, line_of in (
        ("plain", lambda: " ".join(_words(rng, 120)).ljust(120)[:120]),
        ("palette", lambda: _colour_line(rng, palette, 120)),
    ):
        lines = "".join(line_of() + "\r\n" for _ in range(HISTORY + ROWS)).encode()
        gc.collect()
        tracemalloc.start()
        model = TerminalModel(COLS, ROWS, HISTORY)
        for c in chunks(lines):
            model.feed(c)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert model.scrollback_len == HISTORY
        out[f"{name}_held_mb"] = round(current / 1e6, 2)
        out[f"{name}_peak_mb"] = round(peak / 1e6, 2)
        del model
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=1.0, help="size of each stream in MB")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    size = int(args.mb * 1e6)
    rng = random.Random(1)
    streams = {
        "plain": chunks(plain_stream(rng, size)),
        "palette": chunks(palette_stream(rng, size)),
        "ink": ink_frames(rng, size),
        "cjk": chunks(cjk_stream(rng, size)),
        "stress-rgb": chunks(stress_stream(rng, size)),
    }
    results: dict[str, dict[str, float]] = {}
    for name, data in streams.items():
        ours = throughput(make_ours, data)
        stock = throughput(make_pyte, data)
        hist = throughput(make_pyte_history, data)
        results[name] = {
            "ours_mbps": round(ours, 2),
            "pyte_screen_mbps": round(stock, 3),
            "pyte_history_mbps": round(hist, 3),
            "ratio_vs_screen": round(ours / stock, 1),
            "ratio_vs_history": round(ours / hist, 1),
        }
        if not args.json_only:
            print(f"measured {name}", file=sys.stderr)
    required = [results[k]["ratio_vs_screen"] for k in ("plain", "palette", "ink")]
    geomean = math.exp(sum(math.log(r) for r in required) / len(required))
    redraw = redraw_ms()
    memory = scrollback_memory()
    report = {
        "geometry": f"{COLS}x{ROWS}",
        "history": HISTORY,
        "chunk_bytes": CHUNK,
        "streams": results,
        "geomean_ratio_vs_screen_plain_palette_ink": round(geomean, 1),
        "min_ratio_plain_palette_ink": min(required),
        "full_redraw": redraw,
        "scrollback_10k_lines_120_cols": memory,
    }
    if not args.json_only:
        header = (
            f"{'stream':<11}{'ours MB/s':>10}{'Screen':>9}{'History':>9}"
            f"{'x Screen':>10}{'x Hist':>8}"
        )
        print(header)
        print("-" * len(header))
        for name, r in results.items():
            print(
                f"{name:<11}{r['ours_mbps']:>10.2f}{r['pyte_screen_mbps']:>9.3f}"
                f"{r['pyte_history_mbps']:>9.3f}{r['ratio_vs_screen']:>10.1f}"
                f"{r['ratio_vs_history']:>8.1f}"
            )
        print(f"geometric mean vs pyte.Screen (plain, palette, ink): {geomean:.1f}x")
        print(
            f"full redraw {redraw['bytes']} B: median {redraw['median_ms']} ms "
            f"(min {redraw['min_ms']}, max {redraw['max_ms']})"
        )
        print(f"10,000 scrollback lines x 120 cols: {memory}")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
