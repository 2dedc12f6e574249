"""Six real Claude Code sessions at once through c3desk's engine, five permission boxes each.

Every session runs the real ``claude`` (the pinned version, see tests/realcli/harness.py) in a
loopback-only network namespace against its own fake Messages API. Each of its five turns asks
for a Bash command; c3desk must flag the permission box as needing input; the benchmark then
approves it (``1``, as ``c3desk send`` would), waits for the turn's end, and sends the next
prompt; after the fifth, ``/exit``. The engine runs with its control socket, so the hooks c3desk
installs (``PermissionRequest``, ``Notification``, ...) report to it as in real use.

Measured, per box, from the moment its bytes reach c3desk ("Do you want to proceed?" in the
CLI's output, i.e. when a terminal would show it):

* screen read: until a look at the screen first classifies it as waiting (before the settle);
* screen path: until the detector's screen reading turns the session ``waiting``;
* hook path: until the ``waiting`` hook reaches the engine;
* needs_input: until the session first shows as needing input (whichever came first).

Also the event loop's lag (probed every 10 ms), the peak RSS of this process (c3desk's engine,
headless) and of each CLI. Goal (issue 13): needs-input p95 <= 0.5 s. A benchmark: it prints
a table and JSON, it never fails.

    sudo python3 benchmarks/real_cli.py [--sessions 6] [--turns 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):
    sys.path.insert(0, str(folder))

from realcli import harness  # noqa: E402

from c3desk.config import Paths  # noqa: E402
from c3desk.core import awareness  # noqa: E402
from c3desk.core import sessions as sess  # noqa: E402
from c3desk.core import settings as cfg  # noqa: E402
from c3desk.core.agent_watch import AgentWatch  # noqa: E402
from c3desk.core.detector import StateChange  # noqa: E402
from c3desk.core.engine import Engine  # noqa: E402
from c3desk.core.live import LiveSession  # noqa: E402
from c3desk.runtime import Instance  # noqa: E402
from c3desk.store import database  # noqa: E402
from c3desk.store.models import Session, Worker  # noqa: E402
from c3desk.transports.factory import default_connections  # noqa: E402

BOX_BYTES = b"proceed?"  # one word: the CLI may draw the spaces of its question as cursor moves
IDLE_HINT = "? for shortcuts"
STEP_TIMEOUT = 60.0
# How long after the screen path the benchmark waits for a waiting hook before approving. (Claude
# Code 2.1.197 sends its permission_prompt Notification only once a box has waited 6 s without
# a keypress; PermissionRequest comes with the box.)
HOOK_GRACE = 8.0


@dataclass
class Box:
    """One permission box's timeline (time.monotonic())."""

    opened: float  # window start: the session's start, or the previous approval
    shown: float | None = None  # its bytes reached c3desk
    read: float | None = None  # a look at the screen first classified it as waiting
    screen: float | None = None  # the screen path reported waiting
    hook: float | None = None  # the waiting hook arrived
    needs_input: float | None = None  # the session first needed input


@dataclass
class Tracked:
    sid: str
    boxes: list[Box] = field(default_factory=list)

    @property
    def current(self) -> Box | None:
        return self.boxes[-1] if self.boxes else None


def script(turns: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(1, turns + 1):
        command = {"command": f"touch step{i}.txt", "description": f"Create step{i}.txt"}
        out.append({"text": f"Step {i}.", "tool_use": {"name": "Bash", "input": command}})
        out.append({"text": f"Step {i} done."})
    return out


def write_wrapper(folder: Path, netns: harness.Netns) -> Path:
    """A ``claude_command`` that gives each session its own fake API and config folder: the
    engine passes C3DESK_SESSION, and ``<folder>/<session>.env`` holds that session's values."""
    path = folder / "claude-per-session"
    inner = harness.wrapper_command(netns)
    path.write_text(
        f'#!/bin/sh\n. {shlex.quote(str(folder))}/"$C3DESK_SESSION.env"\nexec {inner} "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(percentile(values, 95), 3),
        "max_s": round(max(values), 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="c3desk-realcli-bench-"))
    paths = Paths(tmp / "home")
    database.connect(paths.db)
    netns = harness.Netns()
    apis: list[harness.FakeApiHandle] = []
    tracked: dict[str, Tracked] = {}
    lags: list[float] = []
    rss_self: list[int] = []
    rss_cli: dict[str, int] = {}
    hook_events: dict[str, int] = {}
    done = False

    original_output = LiveSession.on_output
    original_look = awareness.Awareness.look
    owners: dict[int, str] = {}  # id(Awareness) -> session id
    original_apply = AgentWatch.apply_changes
    original_hook = Engine.handle_hook

    def on_output(self: LiveSession, data: bytes) -> None:
        if self.awareness is not None:
            owners[id(self.awareness)] = self.id
        t = tracked.get(self.id)
        box = t.current if t else None
        if box is not None and box.shown is None and BOX_BYTES in data:
            box.shown = time.monotonic()
        original_output(self, data)

    def look(self: awareness.Awareness, now: float, *args: Any) -> list[StateChange]:
        changes = original_look(self, now, *args)
        screen = self.tracker._screen  # what the last look classified
        if screen is not None and screen.state == "waiting":
            sid = owners.get(id(self))
            t = tracked.get(sid) if sid else None
            box = t.current if t else None
            if box is not None and box.shown is not None and box.read is None:
                box.read = time.monotonic()
        return changes

    def apply_changes(self: AgentWatch, live: LiveSession, changes: list[StateChange]) -> None:
        now = time.monotonic()
        t = tracked.get(live.id)
        box = t.current if t else None
        if box is not None:
            for change in changes:
                if change.state == "waiting" and change.source == "screen" and box.screen is None:
                    box.screen = now
                if change.needs_input and box.needs_input is None and change.state == "waiting":
                    box.needs_input = now
        original_apply(self, live, changes)

    def handle_hook(self: Engine, session_id: str, event: str, payload: Any) -> None:
        kind = str(payload.get("notification_type") or payload.get("hook_event_name") or "")
        hook_events[f"{event}:{kind}"] = hook_events.get(f"{event}:{kind}", 0) + 1
        t = tracked.get(session_id)
        box = t.current if t else None
        if event == "waiting" and box is not None and box.hook is None:
            box.hook = time.monotonic()
        original_hook(self, session_id, event, payload)

    LiveSession.on_output = on_output  # type: ignore[method-assign]
    awareness.Awareness.look = look  # type: ignore[method-assign]
    AgentWatch.apply_changes = apply_changes  # type: ignore[method-assign]
    Engine.handle_hook = handle_hook  # type: ignore[method-assign]
    instance: Instance | None = None
    try:
        env_dir = tmp / "sessions"
        env_dir.mkdir()
        harness.apply_env(harness.claude_env(tmp / "claude-config", "http://127.0.0.1:9"))
        cfg.set_setting("claude_command", str(write_wrapper(env_dir, netns)))
        cfg.set_setting("max_concurrent_sessions", str(args.sessions))
        cfg.set_setting("auto_approve", "false")
        Worker.update(max_sessions=args.sessions).where(Worker.type == "local").execute()
        for i in range(args.sessions):
            work = tmp / f"work{i}"
            work.mkdir()
            config = tmp / f"claude-config{i}"
            harness.write_claude_config(
                config, api_key=harness.TEST_API_KEY, trusted_dirs=[work], theme="dark"
            )
            api = harness.start_fake_api(netns, script(args.turns), tmp / f"api{i}.jsonl")
            apis.append(api)
            sid = str(
                sess.create_session(
                    title=f"real {i}", working_directory=str(work), prompt="do step 1"
                ).id
            )
            (env_dir / f"{sid}.env").write_text(
                f"export ANTHROPIC_BASE_URL={shlex.quote(api.url)}\n"
                f"export CLAUDE_CONFIG_DIR={shlex.quote(str(config))}\n",
                encoding="utf-8",
            )
            tracked[sid] = Tracked(sid)

        engine = Engine(paths, connections=default_connections, kill_grace=2.0)
        instance = Instance(paths, engine)
        changed = asyncio.Event()
        engine.subscribe(lambda _event: changed.set())

        async def until(predicate: Any, what: str, timeout: float = STEP_TIMEOUT) -> None:
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out: {what}")
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 0.05)

        async def probe() -> None:
            while not done:
                t = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append(time.monotonic() - t - 0.01)

        async def sample() -> None:
            while not done:
                rss_self.append(rss_kib(os.getpid()))
                for sid, live in list(engine.live.items()):
                    if live.process is not None:
                        rss_cli[sid] = max(rss_cli.get(sid, 0), rss_kib(live.process.pid))
                await asyncio.sleep(0.25)

        def screen_has(sid: str, text: str) -> bool:
            return sid in engine.live and any(text in row for row in engine.screen(sid))

        async def drive(t: Tracked) -> None:
            sid = t.sid
            t.boxes.append(Box(opened=time.monotonic()))
            for turn in range(1, args.turns + 1):
                box = t.boxes[-1]
                await until(
                    lambda box=box: box.shown is not None and box.screen is not None,
                    f"{sid} box {turn} flagged by the screen",
                )
                assert box.screen is not None
                if box.hook is None:
                    # A hook that never comes is counted as missing, not an error.
                    with contextlib.suppress(RuntimeError):
                        await until(
                            lambda box=box: box.hook is not None,
                            f"{sid} box {turn} hook",
                            timeout=box.screen + HOOK_GRACE - time.monotonic(),
                        )
                engine.write(sid, b"1")
                t.boxes.append(Box(opened=time.monotonic()))
                done_text = f"Step {turn} done."
                await until(
                    lambda text=done_text: screen_has(sid, text) and screen_has(sid, IDLE_HINT),
                    f"{sid} turn {turn} end",
                )
                if turn < args.turns:
                    await engine.send_text(sid, f"do step {turn + 1}")
            t.boxes.pop()  # the window opened by the last approval holds no box
            await engine.send_text(sid, "/exit")
            await until(
                lambda: Session.get_by_id(sid).status in ("completed", "failed"),
                f"{sid} exit",
            )

        probe_task = asyncio.create_task(probe())
        sample_task = asyncio.create_task(sample())
        started = time.monotonic()
        await instance.start()
        try:
            results = await asyncio.gather(
                *(drive(t) for t in tracked.values()), return_exceptions=True
            )
        finally:
            done = True
            await probe_task
            await sample_task
        wall = time.monotonic() - started
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        statuses = {sid: str(Session.get_by_id(sid).status) for sid in tracked}
    finally:
        if instance is not None:
            await instance.stop()
        LiveSession.on_output = original_output  # type: ignore[method-assign]
        awareness.Awareness.look = original_look  # type: ignore[method-assign]
        AgentWatch.apply_changes = original_apply  # type: ignore[method-assign]
        Engine.handle_hook = original_hook  # type: ignore[method-assign]
        for api in apis:
            api.stop()
        netns.close()
        database.close()

    boxes = [b for t in tracked.values() for b in t.boxes if b.shown is not None]
    screen = [b.screen - b.shown for b in boxes if b.screen is not None and b.shown is not None]
    hook = [b.hook - b.shown for b in boxes if b.hook is not None and b.shown is not None]
    read = [b.read - b.shown for b in boxes if b.read is not None and b.shown is not None]
    first = [b.needs_input - b.shown for b in boxes if b.needs_input and b.shown is not None]
    lags.sort()
    cli = list(rss_cli.values())
    return {
        "claude_code": harness.claude_version().split()[0],
        "sessions": args.sessions,
        "turns": args.turns,
        "boxes": len(boxes),
        "boxes_expected": args.sessions * args.turns,
        "hooks_missing": sum(1 for b in boxes if b.hook is None),
        "hook_events": hook_events,
        "screen_read": summary(read),
        "screen_path": summary(screen),
        "hook_path": summary(hook),
        "needs_input": summary(first),
        "loop_lag_p50_ms": round(lags[len(lags) // 2] * 1000, 1) if lags else None,
        "loop_lag_p99_ms": round(percentile(lags, 99) * 1000, 1) if lags else None,
        "loop_lag_max_ms": round(lags[-1] * 1000, 1) if lags else None,
        "rss_c3desk_peak_mib": round(max(rss_self, default=0) / 1024, 1),
        "rss_cli_peak_mib_max": round(max(cli, default=0) / 1024, 1),
        "rss_cli_peak_mib_mean": round(statistics.mean(cli) / 1024, 1) if cli else None,
        "rss_cli_peak_mib_total": round(sum(cli) / 1024, 1),
        "wall_s": round(wall, 1),
        "statuses": sorted(statuses.values()),
        "errors": errors,
        "cpus": os.cpu_count(),
    }


def table(r: dict[str, Any]) -> str:
    lines = [
        f"Claude Code {r['claude_code']}: {r['sessions']} sessions x {r['turns']} permission "
        f"boxes ({r['boxes']}/{r['boxes_expected']} seen), {r['wall_s']} s, {r['cpus']} CPUs",
        "",
        "| box shown -> | n | p50 s | p95 s | max s |",
        "|---|---|---|---|---|",
    ]
    for label, key in (
        ("screen read as waiting (before settle)", "screen_read"),
        ("screen path waiting", "screen_path"),
        ("hook path waiting", "hook_path"),
        ("needs_input (first)", "needs_input"),
    ):
        s = r[key]
        if s["n"]:
            lines.append(f"| {label} | {s['n']} | {s['p50_s']} | {s['p95_s']} | {s['max_s']} |")
        else:
            lines.append(f"| {label} | 0 | - | - | - |")
    lines += [
        "",
        f"loop lag p50 / p99 / max: {r['loop_lag_p50_ms']} / {r['loop_lag_p99_ms']} / "
        f"{r['loop_lag_max_ms']} ms",
        f"RSS peak: c3desk (engine, headless) {r['rss_c3desk_peak_mib']} MiB; each CLI "
        f"{r['rss_cli_peak_mib_mean']} MiB mean, {r['rss_cli_peak_mib_max']} MiB max, "
        f"{r['rss_cli_peak_mib_total']} MiB for all",
        f"sessions ended: {', '.join(r['statuses'])}"
        + (f"; errors: {'; '.join(r['errors'])}" if r["errors"] else ""),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
