"""The output feeder: queued output reaches the models, the focused session first, in slices."""

from __future__ import annotations

import asyncio
from pathlib import Path

from c3desk.core.feeder import Feeder
from c3desk.core.live import LiveSession
from c3desk.core.scrollback import ScrollbackLog
from c3desk.terminal import TerminalModel


def _live(tmp_path: Path, sid: str) -> LiveSession:
    return LiveSession(
        sid, "w", TerminalModel(80, 24, history=1000), ScrollbackLog(tmp_path / sid, 1 << 20)
    )


def _text(live: LiveSession) -> str:
    return "\n".join(live.model.display)


def test_output_reaches_each_model_and_observers_hear_of_it(tmp_path: Path) -> None:
    sessions = {sid: _live(tmp_path, sid) for sid in ("a", "b")}
    fed: list[str] = []
    feeder = Feeder(sessions.get, fed.append, lambda: None)

    async def scenario() -> None:
        for sid, live in sessions.items():
            live.on_backlog = feeder.queue
            live.on_output(f"hello from {sid}\r\n".encode())
        assert feeder.waiting == {"a", "b"}
        await asyncio.sleep(0)  # one loop turn: the feeder's step
        assert sorted(fed) == ["a", "b"]
        assert "hello from a" in _text(sessions["a"]) and "hello from b" in _text(sessions["b"])
        assert feeder.waiting == frozenset()

    asyncio.run(scenario())


def test_the_focused_session_is_fed_first(tmp_path: Path) -> None:
    sessions = {sid: _live(tmp_path, sid) for sid in ("a", "b", "c")}
    fed: list[str] = []
    feeder = Feeder(sessions.get, fed.append, lambda: "c")

    async def scenario() -> None:
        for live in sessions.values():
            feeder.queue(live)
            live.on_output(b"x")
        await asyncio.sleep(0)
        assert fed[0] == "c"

    asyncio.run(scenario())


def test_a_flood_is_parsed_over_several_turns_and_an_ended_session_is_dropped(
    tmp_path: Path,
) -> None:
    live = _live(tmp_path, "a")
    sessions: dict[str, LiveSession] = {"a": live}
    fed: list[str] = []
    feeder = Feeder(sessions.get, fed.append, lambda: None)

    async def scenario() -> None:
        # 2 MB of lines: far more than one turn's budget of parsing on any machine.
        line = b"0123456789" * 7 + b"\r\n"
        live.on_output(line * (2_000_000 // len(line)))
        feeder.queue(live)
        await asyncio.sleep(0)
        assert fed == ["a"] and live.pending_bytes > 0 and feeder.waiting == {"a"}
        del sessions["a"]  # it ended
        await asyncio.sleep(0)
        assert fed == ["a"] and feeder.waiting == frozenset()

    asyncio.run(scenario())
