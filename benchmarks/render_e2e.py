"""End to end: the GUI's 3x3 grid showing nine sessions of the engine's flood, on qasync.

Nine fake agents run ``flood 1.5M 150K`` (Claude-like line redraws and full clears inside
synchronized-output blocks, 150 KB/s each, 1.35 MB/s in all, for 10 s) through the real
engine; nine :class:`~c3desk.ui.terminal_view.TerminalView` in the app's
:class:`~c3desk.ui.grid.Grid` tiles (one focused) paint them, all on one thread with qasync's
``QEventLoop``, offscreen. Measured:

- agent time: first to last byte read per session (backpressure would stretch it past 10 s);
- event loop lag, probed every 10 ms (p50, p99, max), over the whole run (which includes
  starting nine agents, each spawn blocking the loop, and the first layout and paint of the
  window) and during the steady flood (from one second after the last agent's first byte to
  the first agent's last byte: all nine streaming);
- the focused tile's frame age: from the first output fed after its previous frame to the
  paint showing it (p50, p99, max), and the staleness of what it shows sampled every 10 ms
  (how long output has been waiting to be shown);
- frames painted per second, focused and unfocused tiles; the frame governor's caps over time.

A reference run of the same engine and agents without any view follows (skip it with
``--skip-reference``), to tell what painting costs from what the machine does anyway.

    QT_QPA_PLATFORM=offscreen python benchmarks/render_e2e.py [--sessions 9] [--json out.json]

Required (issue 6): agent time <= 12 s for 10 s of output; loop lag p99 <= 20 ms, max <= 50 ms;
focused tile shows no frame older than 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import qasync  # noqa: E402
from flood import prepare_flood, until_finished  # noqa: E402  (benchmarks/ is on sys.path: scripts run here)
from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from c3desk.core import engine as engine_mod  # noqa: E402
from c3desk.core.engine import Engine, EngineEvent  # noqa: E402
from c3desk.core.live import LiveSession  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.transports.factory import default_connections  # noqa: E402
from c3desk.ui.grid import Grid, Tile, TileInfo  # noqa: E402
from c3desk.ui.terminal_view import TerminalView, frame_governor  # noqa: E402

COLS, ROWS = 120, 40
WARMUP = 1.0  # the first second after the last agent started: tiles attached, first layouts
REQUIRED = {"agent_time_s": 12.0, "lag_p99_ms": 20.0, "lag_max_ms": 50.0, "frame_age_ms": 100.0}


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


class ViewStats(QObject):
    """Per view: frames painted; for the focused one, the age of what each frame shows."""

    def __init__(self, view: TerminalView) -> None:
        super().__init__(view)
        self.view = view
        self.paints = 0
        self.unshown_since: float | None = None  # first output fed since the last frame
        self.rendered: list[tuple[float, float]] = []  # (fed, rendered) of frames not painted
        self.ages: list[float] = []
        self.age_times: list[float] = []
        self.to_render: list[float] = []  # first feed -> frame rendered
        self.to_paint: list[float] = []  # frame rendered -> painted
        view.installEventFilter(self)

    def fed(self, now: float) -> None:
        if self.unshown_since is None:
            self.unshown_since = now

    def nothing_new(self) -> None:
        """The frame changed no pixel (the output redrew what was shown): nothing waits."""
        if self.rendered:
            self.rendered.pop()

    def frame_rendered(self) -> None:
        if self.unshown_since is not None:
            now = time.monotonic()
            self.rendered.append((self.unshown_since, now))
            self.to_render.append(now - self.unshown_since)
            self.unshown_since = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Paint:
            now = time.monotonic()
            self.paints += 1
            for fed, rendered in self.rendered:
                self.ages.append(now - fed)
                self.age_times.append(now)
                self.to_paint.append(now - rendered)
            self.rendered.clear()
        return False


async def run(args: argparse.Namespace, gui: bool = True) -> dict[str, Any]:
    paths, ids = prepare_flood("render-e2e", args.sessions, args.bytes, args.rate)

    grid = Grid()
    tiles = grid.ensure_tiles(args.sessions if gui else 0)
    if gui:
        grid.arrange((3, 3), args.sessions)
        grid.show()
        grid.activateWindow()

    first_read: dict[str, float] = {}
    last_read: dict[str, float] = {}
    original_on_output = LiveSession.on_output

    def on_output(self: LiveSession, data: bytes) -> None:
        now = time.monotonic()
        first_read.setdefault(self.id, now)
        last_read[self.id] = now
        original_on_output(self, data)

    stats: dict[int, ViewStats] = {}
    original_render = TerminalView._render_frame

    def render_frame(self: TerminalView, now: float) -> None:
        # The frame holds everything fed so far; it may be painted before this returns.
        st = stats.get(id(self))
        pending = False
        if st is not None:
            pending = st.unshown_since is not None
            st.frame_rendered()
        counted = hasattr(self, "rows_painted")  # views before the row counters: no check
        rows = getattr(self, "rows_painted", 0)
        cursor = self._cursor
        paints = st.paints if st is not None else 0
        t0 = time.perf_counter()
        original_render(self, now)
        took = time.perf_counter() - t0
        paint_max[0] = max(paint_max[0], took)
        paint_total[0] += took
        unchanged = counted and rows == getattr(self, "rows_painted", 0) and cursor == self._cursor
        if st is not None and pending and unchanged and st.paints == paints:
            st.nothing_new()

    original_tick = TerminalView._tick
    holds: list[float] = []  # focused view: how long frames were held for 2026 blocks

    def tick(self: TerminalView, force: bool = False) -> None:
        since = self._sync_since
        frames = self.frames
        original_tick(self, force)
        if since is not None and self.frames != frames and focused:
            st = stats.get(id(self))
            tile = attached.get(focused[0])
            if st is not None and tile is not None and tile.view is self:
                holds.append(time.monotonic() - since)

    LiveSession.on_output = on_output  # type: ignore[method-assign]
    TerminalView._render_frame = render_frame  # type: ignore[method-assign]
    TerminalView._tick = tick  # type: ignore[method-assign]
    engine = Engine(paths, connections=default_connections, history=10_000)
    attached: dict[str, Tile] = {}
    attach_times: list[tuple[float, float]] = []
    focused: list[str] = []

    def attach(sid: str) -> Tile | None:
        live = engine.live.get(sid)
        if live is None or len(attached) >= len(tiles):
            return None
        t0 = time.monotonic()
        tile = tiles[len(attached)]
        info = TileInfo(sid, f"flood {len(attached)}", "local", "active", False)
        tile.attach(info, live.model, lambda data: None, lambda c, r: None, "dark")
        view = tile.view
        assert view is not None
        view.setFixedSize(*view.size_for_grid(COLS, ROWS))
        attached[sid] = tile
        stats[id(view)] = ViewStats(view)
        if not focused:
            focused.append(sid)
            engine.focused = sid  # as the app's grid controller does on focus
            view.setFocus()
            view.set_priority(True)
        else:
            view.set_priority(False)
        attach_times.append((t0, time.monotonic() - t0))
        return tile

    def on_event(event: EngineEvent) -> None:
        if event.kind != "output" or event.session_id is None:
            return
        tile = attached.get(event.session_id) or attach(event.session_id)
        if tile is None or tile.view is None:
            return
        tile.view.model_changed()
        if focused and event.session_id == focused[0]:
            stats[id(tile.view)].fed(time.monotonic())

    engine.subscribe(on_event)
    gov = frame_governor()
    lags: list[float] = []
    lag_times: list[float] = []
    spikes: list[tuple[float, float]] = []  # (when, lag) of probes late by more than 50 ms
    paint_max: list[float] = [0.0]
    paint_total: list[float] = [0.0]
    staleness: list[float] = []
    stale_times: list[float] = []
    caps: list[tuple[float, float, float]] = []
    done = False

    async def probe() -> None:
        while not done:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            now = time.monotonic()
            lags.append(now - t - 0.01)
            lag_times.append(now)
            if now - t - 0.01 > 0.05:
                spikes.append((now, now - t - 0.01))
            caps.append((now, gov.cap_focused, gov.cap_unfocused))
            if focused and focused[0] in attached:
                tile = attached[focused[0]]
                st = stats[id(tile.view)]
                since = st.unshown_since
                staleness.append(now - since if since is not None else 0.0)
                stale_times.append(now)

    gc_runs: list[tuple[float, int, float]] = []  # (when, generation, seconds)
    gc_start = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start[0] = time.monotonic()
        else:
            now = time.monotonic()
            gc_runs.append((now, info["generation"], now - gc_start[0]))

    gc.callbacks.append(on_gc)
    probe_task = asyncio.create_task(probe())
    started = time.monotonic()
    await engine.start()
    try:
        await until_finished(ids, started)
    finally:
        done = True
        await probe_task
        gc.callbacks.remove(on_gc)
        await engine.stop()
        LiveSession.on_output = original_on_output  # type: ignore[method-assign]
        TerminalView._render_frame = original_render  # type: ignore[method-assign]
        TerminalView._tick = original_tick  # type: ignore[method-assign]
        database.close()
    agent = [last_read[i] - first_read[i] for i in ids if i in first_read]
    flood_start = min(first_read.values())
    flood_end = max(last_read.values())
    span = max(1e-9, flood_end - flood_start)
    # All nine flooding, warmed up: from a second after the last agent's first byte (its tile
    # attached, the window laid out and painted once) to the first agent's last byte.
    steady_start = max(first_read.values()) + WARMUP
    steady_end = min(last_read.values())
    flood_lags = sorted(
        lag for lag, when in zip(lags, lag_times, strict=True) if steady_start <= when <= steady_end
    ) or [float("nan")]
    if not gui:
        grid.deleteLater()
        lags.sort()
        return {
            "agent_time_max_s": round(max(agent), 2),
            "agent_time_mean_s": round(statistics.mean(agent), 2),
            "loop_lag_p99_ms": round(pct(lags, 0.99) * 1000, 1),
            "loop_lag_max_ms": round(lags[-1] * 1000, 1),
            "loop_lag_during_flood_p99_ms": round(pct(flood_lags, 0.99) * 1000, 1),
            "loop_lag_during_flood_max_ms": round(flood_lags[-1] * 1000, 1),
        }
    focus_view = attached[focused[0]].view
    focus_stats = stats[id(focus_view)]
    others = [st for key, st in stats.items() if key != id(focus_view)]
    in_flood = [c for c in caps if flood_start <= c[0] <= flood_end]
    throttled = [c for c in in_flood if c[2] < 60.0]
    grid.close()
    grid.deleteLater()
    ages_ms = [a * 1000 for a in focus_stats.ages]
    stale_ms = [s * 1000 for s in staleness]
    steady_ages = [
        a * 1000
        for a, t in zip(focus_stats.ages, focus_stats.age_times, strict=True)
        if steady_start <= t <= steady_end
    ]
    steady_stale = [
        x * 1000
        for x, t in zip(staleness, stale_times, strict=True)
        if steady_start <= t <= steady_end
    ]
    lags.sort()
    return {
        "sessions": args.sessions,
        "tile_grid": f"{COLS}x{ROWS}",
        "agent_time_max_s": round(max(agent), 2),
        "agent_time_mean_s": round(statistics.mean(agent), 2),
        "loop_lag_p50_ms": round(pct(lags, 0.5) * 1000, 1),
        "loop_lag_p99_ms": round(pct(lags, 0.99) * 1000, 1),
        "loop_lag_max_ms": round(lags[-1] * 1000, 1),
        "steady_flood_s": round(steady_end - steady_start, 2),
        "loop_lag_during_flood_p99_ms": round(pct(flood_lags, 0.99) * 1000, 1),
        "loop_lag_during_flood_max_ms": round(flood_lags[-1] * 1000, 1),
        "focused_frame_age_p50_ms": round(pct(ages_ms, 0.5), 1),
        "focused_frame_age_p99_ms": round(pct(ages_ms, 0.99), 1),
        "focused_frame_age_max_ms": round(max(ages_ms, default=float("nan")), 1),
        "focused_staleness_max_ms": round(max(stale_ms, default=float("nan")), 1),
        "steady_focused_frame_age_p99_ms": round(pct(steady_ages, 0.99), 1),
        "steady_focused_frame_age_max_ms": round(max(steady_ages, default=float("nan")), 1),
        "steady_focused_staleness_max_ms": round(max(steady_stale, default=float("nan")), 1),
        "focused_feed_to_frame_p99_ms": round(pct(focus_stats.to_render, 0.99) * 1000, 1),
        "focused_feed_to_frame_max_ms": round(max(focus_stats.to_render, default=0) * 1000, 1),
        "focused_frame_to_paint_p99_ms": round(pct(focus_stats.to_paint, 0.99) * 1000, 1),
        "focused_frame_to_paint_max_ms": round(max(focus_stats.to_paint, default=0) * 1000, 1),
        "focused_sync_holds": len(holds),
        "focused_sync_hold_max_ms": round(max(holds, default=0.0) * 1000, 1),
        "focused_fps": round(focus_stats.paints / span, 1),
        "unfocused_fps_mean": round(statistics.mean(st.paints for st in others) / span, 1)
        if others
        else float("nan"),
        "governor_min_cap_focused": min((c[1] for c in in_flood), default=60.0),
        "governor_min_cap_unfocused": min((c[2] for c in in_flood), default=60.0),
        "governor_throttled_share": round(len(throttled) / max(1, len(in_flood)), 2),
        "feed_budget_s": engine_mod.FEED_BUDGET,
        "render_frame_max_ms": round(paint_max[0] * 1000, 1),
        "render_share_of_flood": round(paint_total[0] / span, 3),
        "rows_painted": sum(getattr(st.view, "rows_painted", 0) for st in stats.values()),
        "cells_drawn": max(
            (getattr(st.view, "cells_drawn", 0) for st in stats.values()), default=0
        ),
        "rows_unchanged": sum(getattr(st.view, "rows_unchanged", 0) for st in stats.values()),
        "gc_max_ms": round(max((g[2] for g in gc_runs), default=0.0) * 1000, 1),
        "gc_gen2": [
            (round(when - flood_start, 2), round(took * 1000))
            for when, gen, took in gc_runs
            if gen == 2
        ],
        "tile_attach_ms": [
            (round(when - flood_start, 2), round(took * 1000)) for when, took in attach_times
        ],
        "lag_spikes_over_50ms": [
            (round(when - flood_start, 2), round(lag * 1000)) for when, lag in spikes
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--bytes", default="1.5M")
    parser.add_argument("--rate", default="150K")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--skip-reference",
        action="store_true",
        help="skip the reference run of the same engine without any view",
    )
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        r = loop.run_until_complete(run(args))
        ref = None if args.skip_reference else loop.run_until_complete(run(args, gui=False))
    checks = {
        "agent_time": (r["agent_time_max_s"], REQUIRED["agent_time_s"], "s"),
        "loop_lag_p99": (r["loop_lag_p99_ms"], REQUIRED["lag_p99_ms"], "ms"),
        "loop_lag_max": (r["loop_lag_max_ms"], REQUIRED["lag_max_ms"], "ms"),
        "loop_lag_p99_steady": (
            r["loop_lag_during_flood_p99_ms"],
            REQUIRED["lag_p99_ms"],
            "ms",
        ),
        "loop_lag_max_steady": (
            r["loop_lag_during_flood_max_ms"],
            REQUIRED["lag_max_ms"],
            "ms",
        ),
        "focused_frame_age_max": (r["focused_frame_age_max_ms"], REQUIRED["frame_age_ms"], "ms"),
        "focused_staleness_max": (r["focused_staleness_max_ms"], REQUIRED["frame_age_ms"], "ms"),
        "frame_age_max_steady": (
            r["steady_focused_frame_age_max_ms"],
            REQUIRED["frame_age_ms"],
            "ms",
        ),
        "staleness_max_steady": (
            r["steady_focused_staleness_max_ms"],
            REQUIRED["frame_age_ms"],
            "ms",
        ),
    }
    print(f"{r['sessions']} sessions x {args.bytes} at {args.rate}/s, 3x3 grid of {COLS}x{ROWS}")
    print(f"{'measure':<26}{'value':>10}{'required':>12}  ok")
    verdict: dict[str, bool] = {}
    for name, (value, limit, unit) in checks.items():
        ok = value <= limit
        verdict[name] = ok
        print(f"{name:<26}{value:>8} {unit:<2}{'≤ ' + str(limit):>11}  {'yes' if ok else 'NO'}")
    print(
        f"loop lag p50 {r['loop_lag_p50_ms']} ms; focused frame age p50 "
        f"{r['focused_frame_age_p50_ms']} ms, p99 {r['focused_frame_age_p99_ms']} ms; "
        f"fps focused {r['focused_fps']}, unfocused {r['unfocused_fps_mean']}; governor caps "
        f"min focused {r['governor_min_cap_focused']:.0f}, unfocused "
        f"{r['governor_min_cap_unfocused']:.0f}, throttled {r['governor_throttled_share']:.0%} "
        f"of the flood; FEED_BUDGET {r['feed_budget_s'] * 1000:.0f} ms"
    )
    print(
        f"frames rendered in {r['render_share_of_flood']:.0%} of the flood's time; rows composed "
        f"{r['rows_painted']}, unchanged {r['rows_unchanged']}; cells drawn {r['cells_drawn']}"
    )
    if ref is not None:
        print(
            f"reference, same engine and agents without any view: agent max "
            f"{ref['agent_time_max_s']} s, loop lag p99 {ref['loop_lag_p99_ms']} ms, "
            f"max {ref['loop_lag_max_ms']} ms; steady flood p99 "
            f"{ref['loop_lag_during_flood_p99_ms']} ms, max "
            f"{ref['loop_lag_during_flood_max_ms']} ms"
        )
    out = {"result": r, "required": verdict, "reference_without_views": ref}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
