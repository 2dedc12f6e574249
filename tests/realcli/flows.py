"""Driving real-CLI sessions through c3desk's engine: the instance (engine and control socket,
so the hooks c3desk installs can report), waits on engine events, and what happened."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.engine import Watcher, row, screen_has

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core.engine import Engine, EngineEvent
from c3desk.runtime import Instance

# Set C3DESK_REALCLI_FIGURES=FILE to keep the measured figures (JSON) for the README.
FIGURES_ENV = "C3DESK_REALCLI_FIGURES"

# The real CLI starts in about two seconds here, slower under load: generous waits.
START = 40.0
STEP = 30.0


def agent_events(sid: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == "agent"]


def approvals(sid: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == "auto_approved"]


def launches(sid: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == "launch"]


def needs_input(sid: str) -> bool:
    return bool(row(sid).needs_input)


@dataclass
class Timeline:
    """When things happened (monotonic seconds), recorded from engine events and hook calls."""

    hooks: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)
    first_seen_wall: dict[str, float] = field(default_factory=dict)  # time.time(), same moment
    needs_input_at: list[float] = field(default_factory=list)  # the first time it was set

    def hook_names(self) -> list[str]:
        return [name for _, name, _ in self.hooks]

    def hook_at(self, name: str, after: float = 0.0) -> float | None:
        return next((t for t, n, _ in self.hooks if n == name and t >= after), None)


class Run:
    """An Instance (engine + control socket) with a watcher and a timeline."""

    def __init__(self, paths: Paths) -> None:
        self.instance = Instance(paths, Engine(paths, kill_grace=0.5))
        self.engine = self.instance.engine
        self.watch = Watcher(self.engine)
        self.timeline = Timeline()
        self._texts: dict[str, tuple[str, ...]] = {}
        self.watch.checks.append(self._on_event)
        original = self.engine.handle_hook

        def recording_hook(session_id: str, event: str, payload: Mapping[str, Any]) -> None:
            self.timeline.hooks.append((time.monotonic(), event, dict(payload)))
            original(session_id, event, payload)

        # The control socket looks the method up on each report, so this sees every real hook.
        self.engine.handle_hook = recording_hook  # type: ignore[method-assign]

    async def __aenter__(self) -> Run:
        await self.instance.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.instance.stop()

    def watch_text(self, sid: str, *texts: str) -> None:
        """Record when each of ``texts`` first shows on ``sid``'s screen."""
        self._texts[sid] = self._texts.get(sid, ()) + texts

    def _on_event(self, event: EngineEvent) -> None:
        sid = event.session_id
        if sid is None or sid not in self.engine.live:
            return
        now = time.monotonic()
        live = self.engine.live[sid]
        if live.needs_input and not self.timeline.needs_input_at:
            self.timeline.needs_input_at.append(now)
        wanted = [t for t in self._texts.get(sid, ()) if t not in self.timeline.first_seen]
        if wanted:
            screen = "\n".join(live.model.display)
            for text in wanted:
                if text in screen:
                    self.timeline.first_seen[text] = now
                    self.timeline.first_seen_wall[text] = time.time()

    async def until(self, predicate: Callable[[], Any], timeout: float = STEP) -> Any:
        return await self.watch.until(predicate, timeout)

    async def until_screen(self, sid: str, text: str, timeout: float = STEP) -> None:
        try:
            await self.watch.until(screen_has(self.engine, sid, text), timeout)
        except AssertionError:
            raise AssertionError(
                f"{text!r} never showed; the screen:\n" + "\n".join(self.engine.screen(sid))
            ) from None

    async def send_via_cli(self, home: str, sid: str, *args: str) -> None:
        """``c3desk send SID ARGS...`` in a subprocess: the control socket, as a user would."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "c3desk",
            "--home",
            home,
            "send",
            sid,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, f"c3desk send failed: {err.decode()}"

    def screen(self, sid: str) -> str:
        return "\n".join(self.engine.screen(sid))


def texts_of(request: Mapping[str, Any]) -> list[str]:
    """Every text and tool_result string in a logged request's messages, in order."""
    out: list[str] = []
    for message in request["body"].get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
            continue
        for block in content or []:
            if block.get("type") == "text":
                out.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                body = block.get("content")
                out.append(body if isinstance(body, str) else json.dumps(body))
    return out


def tool_results(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        block
        for message in request["body"].get("messages", [])
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Keep the measured figures for the README note (no test asserts on timing)."""
    named = os.environ.get(FIGURES_ENV)
    if not named:
        return
    path = Path(named)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(name, []).append({**figures, "at": time.strftime("%Y-%m-%d %H:%M:%S")})
    path.write_text(json.dumps(data, indent=2))
