"""Needs-input detection, guarded auto-approve and hooks, with the real engine and fake agent."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import add, row, screen_has, started_engine, use_fake_agent

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core.engine import EngineEvent
from c3desk.store.models import Session

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"


def agent_events(sid: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == "agent"]


def approvals(sid: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == "auto_approved"]


def needs_input(sid: str) -> bool:
    return bool(row(sid).needs_input)


def test_permission_prompt_needs_input_and_typing_1_approves(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    sid = add("perm", tmp_path, prompt="ask make test")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "Do you want to proceed?"))
            shown = time.monotonic()
            await watch.until(lambda: needs_input(sid), timeout=2.0)
            assert time.monotonic() - shown <= 2.0
            waiting = [e for e in agent_events(sid) if e["state"] == "waiting"]
            assert waiting and waiting[-1]["reason"] == "bash"
            await engine.send_text(sid, "1", enter=False)
            # Typing clears needs_input at once, before the agent has even answered.
            assert not needs_input(sid)
            await watch.until(screen_has(engine, sid, "Ran make test"))
            assert approvals(sid) == []  # the user approved, not the app
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_idle_prompt_after_a_turn_needs_input(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    sid = add("idle", tmp_path, prompt="say done")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: needs_input(sid))
            assert agent_events(sid)[-1]["state"] == "idle"
            await engine.send_text(sid, "think 2")
            assert not needs_input(sid)
            await watch.until(screen_has(engine, sid, "esc to interrupt"))
            await watch.until(lambda: needs_input(sid))  # idle again after the turn
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_fake_prompt_under_a_spinner_is_never_waiting_nor_approved(
    db: Paths, tmp_path: Path
) -> None:
    use_fake_agent(tmp_path)
    os.environ["FAKE_CLAUDE_SPEED"] = "1"  # the spinner must run long enough to be watched
    cfg.set_setting("auto_approve", "true")
    sid = add("dump", tmp_path, prompt="fakeprompt 3")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        seen_spinner_with_box = False

        def check(event: EngineEvent) -> None:
            nonlocal seen_spinner_with_box
            if event.session_id != sid or sid not in engine.live:
                return
            text = "\n".join(engine.live[sid].model.display)
            if "Do you want to proceed?" in text and "esc to interrupt" in text:
                seen_spinner_with_box = True
                assert not needs_input(sid)

        watch.checks.append(check)
        try:
            await watch.until(lambda: seen_spinner_with_box)
            await watch.until(lambda: needs_input(sid), timeout=20)  # the idle prompt after
        finally:
            await engine.stop()
        assert approvals(sid) == []
        assert all(e["state"] != "waiting" for e in agent_events(sid))

    asyncio.run(scenario())


def test_auto_approve_sends_yes_once_and_records_it(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("auto_approve", "true")
    sid = add("auto", tmp_path, prompt="ask rm -rf build")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "Ran rm -rf build"))
            await watch.until(lambda: needs_input(sid))  # idle at its prompt afterwards
        finally:
            await engine.stop()
        done = approvals(sid)
        assert len(done) == 1
        assert done[0]["reason"] == "bash" and "rm -rf build" in done[0]["prompt"]

    asyncio.run(scenario())


def test_per_session_override_beats_the_global_setting(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("auto_approve", "true")
    sid = add("manual", tmp_path, prompt="ask make deploy")
    Session.update(auto_approve=False).where(Session.id == sid).execute()

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: needs_input(sid))
            for _ in range(3):  # several more looks at the waiting prompt
                engine.look_all()
            assert approvals(sid) == [] and needs_input(sid)
        finally:
            await engine.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("script,reason", [("trust", "folder-trust"), ("plan", "plan")])
def test_sensitive_dialogs_are_never_auto_approved(
    db: Paths, tmp_path: Path, script: str, reason: str
) -> None:
    use_fake_agent(tmp_path)
    cfg.set_setting("auto_approve", "true")
    sid = add("sensitive", tmp_path, prompt=script)

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: needs_input(sid))
            for _ in range(3):
                engine.look_all()
            assert needs_input(sid)
            assert [e for e in agent_events(sid) if e["state"] == "waiting"][-1]["reason"] == (
                reason
            )
        finally:
            await engine.stop()
        assert approvals(sid) == []

    asyncio.run(scenario())


def test_hooks_report_state_and_new_conversation_ids(db: Paths, tmp_path: Path) -> None:
    use_fake_agent(tmp_path)
    sid = add("hooks", tmp_path, prompt="say hello")

    async def scenario() -> None:
        from c3desk.runtime import Instance

        instance = Instance(db)  # the control socket is where hooks report
        await instance.start()
        engine = instance.engine
        from helpers.engine import Watcher

        watch = Watcher(engine)
        try:
            await watch.until(lambda: any(e["source"] == "hook" for e in agent_events(sid)))
            first = row(sid).claude_session_id
            launch = next(
                json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == "launch"
            )
            assert "--settings" in launch["argv"]
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(sid, "/clear")
            await watch.until(lambda: row(sid).claude_session_id != first, timeout=20)
            kinds = [e.kind for e in sess.events(sid)]
            assert "conversation" in kinds
        finally:
            await instance.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (SCREENS / "claude").glob("*.txt"))[::4],
)
def test_detect_command_on_saved_screens(cli: Any, name: str) -> None:
    expected_state, expected_reason = name.split("__")[:2]
    result = cli("detect", "--agent", "claude", str(SCREENS / "claude" / name), check=True)
    assert result.stdout.strip().split("\t") == [expected_state, expected_reason]


def test_detect_replays_raw_terminal_bytes(cli: Any, tmp_path: Path) -> None:
    box = (SCREENS / "claude" / "waiting__bash__bash-box.txt").read_text().splitlines()
    box = [ln for ln in box if not ln.startswith("#: ")]
    raw = "\x1b[2J\x1b[H\x1b[?2026h" + "".join(
        f"\x1b[{i + 1};1H\x1b[38;2;177;185;249m{line}\x1b[0m" for i, line in enumerate(box)
    )
    path = tmp_path / "capture.bin"
    path.write_bytes(raw.encode() + b"\x1b[?2026l")
    result = cli("detect", "--agent", "claude", "--json", str(path), check=True)
    assert result.json()["state"] == "waiting" and result.json()["approvable"] is True
    bad = cli("detect", "--agent", "nobody", str(path))
    assert bad.returncode == 2 and "nobody" in bad.stderr
