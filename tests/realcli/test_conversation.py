"""The real CLI's conversation through c3desk: the pre-assigned ``--session-id`` is the one its
transcript carries, and continuing a completed session resumes that same conversation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from helpers.engine import add, row, status

from c3desk.config import Paths
from c3desk.core.launch import encode_project_dir
from realcli.conftest import RealCli
from realcli.flows import START, Run, launches, needs_input, texts_of


def running_id(path: Path) -> str | None:
    """The conversation id in the CLI's sessions/<pid>.json (None while absent or rewritten)."""
    try:
        return str(json.loads(path.read_text())["sessionId"])
    except (OSError, ValueError, KeyError):
        return None


def test_session_id_is_the_transcripts_and_continue_resumes_it(
    db: Paths, real_cli: RealCli
) -> None:
    api = real_cli.start(
        [{"text": "Noted: the word is kiwi."}, {"text": "The word was kiwi."}],
    )
    sid = add("memory", real_cli.work, prompt="remember the word kiwi")

    async def finish_turn(run: Run, text: str) -> None:
        await run.until_screen(sid, text, timeout=START)
        await run.until(lambda: needs_input(sid))
        await run.engine.send_text(sid, "/exit")
        await run.until(lambda: status(sid) == "completed")

    async def scenario() -> None:
        async with Run(db) as run:
            await run.until_screen(sid, "Noted: the word is kiwi.", timeout=START)
            # The wrapper execs: the process c3desk started is the CLI itself, which keeps
            # sessions/<pid>.json with the conversation id while it runs.
            process = run.engine.live[sid].process
            assert process is not None and process.pid is not None
            assert Path(f"/proc/{process.pid}/exe").resolve() == real_cli.binary
            running = real_cli.config_dir / "sessions" / f"{process.pid}.json"
            await run.until(lambda: running_id(running) == row(sid).claude_session_id)
            await finish_turn(run, "Noted: the word is kiwi.")
            conversation = row(sid).claude_session_id
            assert conversation
            first_argv = launches(sid)[0]["argv"]
            assert first_argv[first_argv.index("--session-id") + 1] == conversation
            transcripts = sorted((real_cli.config_dir / "projects").glob(f"*/{conversation}.jsonl"))
            assert [t.parent.name for t in transcripts] == [
                encode_project_dir(str(real_cli.work.resolve()))
            ]
            ids = {
                json.loads(line).get("sessionId")
                for line in transcripts[0].read_text().splitlines()
                if line.strip()
            }
            assert ids - {None} == {conversation}

            run.engine.continue_session(sid)
            await run.until(lambda: status(sid) == "active")
            await run.until(lambda: len(launches(sid)) == 2)
            resumed_argv = launches(sid)[1]["argv"]
            assert resumed_argv[resumed_argv.index("--resume") + 1] == conversation
            # The resumed CLI shows the earlier turn, then takes a new prompt.
            await run.until_screen(sid, "Noted: the word is kiwi.", timeout=START)
            await run.until(lambda: needs_input(sid))
            await run.engine.send_text(sid, "what was the word?")
            await finish_turn(run, "The word was kiwi.")
            assert row(sid).claude_session_id == conversation

    asyncio.run(scenario())
    second = api.main_requests()[1]
    texts = texts_of(second)
    # The fake API sees the earlier turns in the resumed conversation's request.
    assert any("remember the word kiwi" in t for t in texts), texts
    assert any("Noted: the word is kiwi." in t for t in texts), texts
    assert any("what was the word?" in t for t in texts), texts


def test_clear_starts_a_new_conversation_and_the_hook_reports_its_id(
    db: Paths, real_cli: RealCli
) -> None:
    real_cli.start([{"text": "First conversation."}])
    sid = add("clear", real_cli.work, prompt="hello")

    async def scenario() -> None:
        async with Run(db) as run:
            await run.until_screen(sid, "First conversation.", timeout=START)
            await run.until(lambda: needs_input(sid))
            first = row(sid).claude_session_id
            await run.engine.send_text(sid, "/clear")
            await run.until(lambda: row(sid).claude_session_id != first)
            process = run.engine.live[sid].process
            assert process is not None
            running = real_cli.config_dir / "sessions" / f"{process.pid}.json"
            await run.until(lambda: running_id(running) == row(sid).claude_session_id)
            starts = [p for _, name, p in run.timeline.hooks if name == "session-start"]
            assert [p.get("source") for p in starts] == ["startup", "clear"], starts

    asyncio.run(scenario())
