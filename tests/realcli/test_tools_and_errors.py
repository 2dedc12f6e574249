"""More of the real CLI through c3desk: the Write and Edit permission boxes, and turns that end
in an API error or a rate-limit answer (the session comes back to its prompt, not stuck busy)."""

from __future__ import annotations

import asyncio

from helpers.engine import add

from c3desk.config import Paths
from c3desk.core.agents import CLAUDE
from c3desk.core.detector import NeedsInputTracker, classify
from realcli.conftest import RealCli
from realcli.flows import START, Run, agent_events, needs_input, tool_results


def test_write_and_edit_boxes_need_input_and_approving_them_changes_the_file(
    db: Paths, real_cli: RealCli
) -> None:
    notes = real_cli.work / "notes.txt"
    api = real_cli.start(
        [
            {"tool_use": {"name": "Write", "input": {"file_path": str(notes), "content": "one\n"}}},
            {"tool_use": {"name": "Read", "input": {"file_path": str(notes)}}},
            {
                "tool_use": {
                    "name": "Edit",
                    "input": {"file_path": str(notes), "old_string": "one", "new_string": "two"},
                }
            },
            {"text": "Edited notes.txt."},
        ]
    )
    sid = add("edit", real_cli.work, prompt="write then edit notes.txt")
    reasons: list[str] = []

    async def approve(run: Run, question: str) -> None:
        await run.until_screen(sid, question, timeout=START)
        await run.until(lambda: needs_input(sid))
        reasons.append([e for e in agent_events(sid) if e["state"] == "waiting"][-1]["reason"])
        await run.engine.send_text(sid, "1", enter=False)
        await run.until(lambda: question not in run.screen(sid))

    async def scenario() -> None:
        async with Run(db) as run:
            await approve(run, "Do you want to create notes.txt?")
            await approve(run, "Do you want to make this edit to notes.txt?")
            await run.until_screen(sid, "Edited notes.txt.")

    asyncio.run(scenario())
    assert notes.read_text() == "two\n"
    results = tool_results(api.main_requests()[-1])  # the last request carries them all
    assert [r.get("is_error", False) for r in results] == [False, False, False], results
    print("waiting reasons for Write, Edit:", reasons)
    assert all(reason for reason in reasons), reasons


def test_api_error_and_rate_limit_turns_come_back_to_the_prompt(
    db: Paths, real_cli: RealCli
) -> None:
    api = real_cli.start(
        [
            # A second of spinner before each failure: the engine sees the CLI busy after the
            # typed prompt. Without it, see test_a_failed_turn_right_after_a_typed_prompt_...
            {"error": {"status": 500, "message": "Internal boom"}, "retry": False, "delay": 1},
            {"rate_limit": {"retry_after": 3600}, "retry": False, "delay": 1},
            {"text": "Recovered."},
        ]
    )
    sid = add("errors", real_cli.work, prompt="hello")

    async def scenario() -> list[str]:
        async with Run(db) as run:
            await run.until_screen(sid, "API Error: 500 Internal boom", timeout=START)
            await run.until(lambda: needs_input(sid))
            await run.engine.send_text(sid, "again")
            await run.until_screen(sid, "Request rejected (429)")
            await run.until(lambda: needs_input(sid))
            await run.engine.send_text(sid, "once more")
            await run.until_screen(sid, "Recovered.")
            await run.until(lambda: needs_input(sid))
            return [p.get("hook_event_name", n) for _, n, p in run.timeline.hooks]

    hooks = asyncio.run(scenario())
    assert [r["turn"] for r in api.main_requests()] == [0, 1, 2]
    print("hooks over two failed turns and one good one:", hooks)
    # Claude Code fires Stop only for the turn that succeeded; each failed turn fires
    # StopFailure, which c3desk installs (it reports the session idle).
    assert hooks.count("Stop") == 1, hooks
    assert hooks.count("StopFailure") == 2, hooks


RULE = "─" * 100
# Screens of the real CLI (2.1.197, 100 columns): the prompt after a failed turn, then after a
# second one. Nothing but the conversation above the prompt differs; no Stop hook fires.
AFTER_500 = f"""❯ hello

● API Error: 500 Internal boom. This is a server-side issue, usually temporary — try again
  in a moment. If it persists, check your inference gateway (127.0.0.1:46797).

✻ Sautéed for 0s

{RULE}
❯ again
{RULE}
  ? for shortcuts · ← for agents""".split("\n")
AFTER_429 = f"""❯ again

● API Error: Request rejected (429) · Number of request tokens has exceeded your rate limit

✻ Cooked for 0s

{RULE}
❯
{RULE}
  ? for shortcuts · ← for agents""".split("\n")


def test_a_failed_turn_right_after_a_typed_prompt_comes_back_to_needs_input() -> None:
    """A fast API error or 429 brings the real CLI back to its prompt between two looks at the
    screen: the engine sees no spinner, only the UserPromptSubmit hook, and Claude Code fires no
    Stop hook for a failed turn. The prompt after the error is new; the session needs input
    again (it stayed busy for good in about 1 run in 3 here)."""
    tracker = NeedsInputTracker(0.0)
    tracker.on_screen(classify(AFTER_500, None, CLAUDE), 0.0)
    assert tracker.tick(2.0)[-1].state == "idle"
    tracker.on_input(3.0)  # "again" and Enter
    tracker.on_hook("busy", 3.2, "prompt submitted")  # UserPromptSubmit
    tracker.on_output(3.4)
    tracker.on_screen(classify(AFTER_429, None, CLAUDE), 3.4)
    tracker.tick(10.0)
    assert tracker.state == "idle" and tracker.needs_input
