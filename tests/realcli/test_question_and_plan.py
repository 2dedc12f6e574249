"""The real CLI's AskUserQuestion and plan-approval (ExitPlanMode) screens need input, and
auto-approve answers neither."""

from __future__ import annotations

import asyncio

from helpers.engine import add

from c3desk.config import Paths
from c3desk.core import settings as cfg
from c3desk.core.agents import CLAUDE
from c3desk.core.detector import classify
from realcli.conftest import RealCli
from realcli.flows import (
    START,
    Run,
    agent_events,
    approvals,
    needs_input,
    record_figures,
    tool_results,
)

QUESTION = "Which colour should the button be?"


def test_question_and_plan_screens_need_input(db: Paths, real_cli: RealCli) -> None:
    api = real_cli.start(
        [
            {"ask": QUESTION},
            {"tool_use": {"name": "EnterPlanMode", "input": {}}},
            {"plan": "# Plan\n1. Paint the button red\n2. Ship it"},
            {"text": "Plan approved, painting."},
        ]
    )
    cfg.set_setting("auto_approve", "true")
    sid = add("ask", real_cli.work, prompt="paint the button")
    screens: dict[str, list[str]] = {}

    async def answer(run: Run, shown: str, name: str) -> None:
        await run.until_screen(sid, shown, timeout=START)
        await run.until(lambda: needs_input(sid))
        for _ in range(5):  # auto-approve gets its chances and must not take them
            run.engine.look_all()
            await asyncio.sleep(0)
        assert needs_input(sid)
        screens[name] = run.engine.screen(sid)
        run.engine.send_key(sid, "enter")  # the first option: Red; then Yes to the plan
        await run.until(lambda: not needs_input(sid))

    async def scenario() -> None:
        async with Run(db) as run:
            run.watch_text(sid, "Enter to select", "Exit plan mode?")
            await answer(run, "Enter to select", "question")
            await answer(run, "Exit plan mode?", "plan")
            await run.until_screen(sid, "Plan approved, painting.")
            names = run.timeline.hook_names()
            shown = run.timeline.first_seen
            waits = [t for t, name, _ in run.timeline.hooks if name == "waiting"]
        assert names.count("waiting") >= 2, names  # PreToolUse AskUserQuestion, ExitPlanMode
        figures = {
            "question_screen_to_hook_s": waits[0] - shown["Enter to select"],
            "plan_screen_to_hook_s": waits[1] - shown["Exit plan mode?"],
        }
        print("real CLI question and plan:", figures)
        record_figures("question_and_plan", figures)

    asyncio.run(scenario())
    assert approvals(sid) == []
    waiting = [e for e in agent_events(sid) if e["state"] == "waiting"]
    assert len(waiting) >= 2, agent_events(sid)
    # The answers reached the CLI: the question's result names the chosen option.
    answered = [r for req in api.main_requests() for r in tool_results(req)]
    assert any("Red" in str(r.get("content")) for r in answered), answered
    question = classify(screens["question"], None, CLAUDE)
    assert (question.state, question.kind) == ("waiting", "question")


# The plan-approval screen of Claude Code 2.1.197 (after EnterPlanMode, 100 columns).
PLAN_SCREEN = [
    "❯ make a plan",
    "",
    "● Entered plan mode",
    "  Claude is now exploring and designing an implementation approach.",
    "",
    "────────────────────────────────────────────────────────────────────────────────────────────────────",
    " Exit plan mode?",
    "",
    "  Claude wants to exit plan mode",
    "",
    "  ❯ 1. Yes",
    "    2. No",
    "",
]


def test_the_real_plan_approval_screen_classifies_as_waiting_for_a_plan() -> None:
    """Without this the screen path misses the plan dialog; only the PreToolUse hook sees it."""
    result = classify(PLAN_SCREEN, None, CLAUDE)
    assert (result.state, result.kind, result.approvable) == ("waiting", "plan", False)
