"""The real CLI's permission box through c3desk: needs input, approved with ``c3desk send``,
busy, idle, ``/exit``, completed; which of c3desk's hooks fire, and how soon."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from helpers.engine import add, row, status

from c3desk.config import Paths
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

BOX = "Do you want to proceed?"


def test_permission_box_needs_input_send_approves_busy_idle_exit_completed(
    db: Paths, real_cli: RealCli
) -> None:
    api = real_cli.start(
        [
            {
                "text": "I'll write the file.",
                "tool_use": {
                    "name": "Bash",
                    "input": {"command": "echo hello > out.txt", "description": "Write out.txt"},
                },
            },
            # A slow turn after the approval, so the busy state is there to be seen.
            {"text": "Wrote out.txt for you.", "delay": 2.0, "chunks": 4, "chunk_delay": 0.1},
        ]
    )
    # Not one of c3desk's hooks: a probe of how soon PermissionRequest fires, for comparison.
    probe = real_cli.tmp / "permission-request.times"
    (real_cli.config_dir / "settings.json").write_text(
        json.dumps(
            {
                "hooks": {
                    "PermissionRequest": [
                        {"hooks": [{"type": "command", "command": f"date +%s.%N >> {probe}"}]}
                    ]
                }
            }
        )
    )
    sid = add("perm", real_cli.work, prompt="write hello to out.txt")

    async def scenario() -> dict[str, Any]:
        async with Run(db) as run:
            run.watch_text(sid, BOX, "Wrote out.txt for you.")
            await run.until_screen(sid, BOX, timeout=START)
            await run.until(lambda: needs_input(sid), timeout=10)
            box_at = run.timeline.first_seen[BOX]
            box_wall = run.timeline.first_seen_wall[BOX]
            needs_at = run.timeline.needs_input_at[0]
            waiting = [e for e in agent_events(sid) if e["state"] == "waiting"]
            assert waiting, agent_events(sid)
            # The hook reports too (Notification permission_prompt); give it its moment.
            await run.until(lambda: run.timeline.hook_at("waiting") is not None, timeout=25)
            hook_at = run.timeline.hook_at("waiting")
            await run.until(probe.exists, timeout=25)
            permission_request = float(probe.read_text().split()[0])

            await run.send_via_cli(str(db.home), sid, "1", "--no-enter")
            assert not needs_input(sid)  # typing clears it at once
            await run.until(lambda: any(e["state"] == "busy" for e in after_box(sid)))
            # The slow turn's spinner: the detector reads the real busy screen as busy.
            await run.until_screen(sid, "esc to interrupt")
            spinner = classify(run.engine.screen(sid), None, CLAUDE)
            assert spinner.state == "busy", (spinner, run.screen(sid))
            await run.until_screen(sid, "Wrote out.txt for you.")
            await run.until(lambda: needs_input(sid))
            assert [e for e in agent_events(sid)][-1]["state"] == "idle"
            stop_at = run.timeline.hook_at("idle", after=run.timeline.first_seen[BOX])
            await run.until(lambda: stop_at is not None or run.timeline.hook_at("idle"))

            await run.send_via_cli(str(db.home), sid, "/exit")
            await run.until(lambda: status(sid) == "completed")
            names = run.timeline.hook_names()
            fired = [p.get("hook_event_name") for _, n, p in run.timeline.hooks]
            hooks_seen = ", ".join(
                f"{name}@{t - box_at:+.2f}s" for t, name, _ in run.timeline.hooks
            )
        assert (real_cli.work / "out.txt").read_text() == "hello\n"
        assert approvals(sid) == []  # the user approved, not the app
        # The approval reached the CLI: its next request carries the command's result.
        second = api.main_requests()[1]
        assert [r["is_error"] for r in tool_results(second)] == [False]
        assert row(sid).completed_at is not None
        # The hooks c3desk installs, fired by the real CLI.
        for expected in ("session-start", "busy", "waiting", "idle"):
            assert expected in names, names
        # The box's fast hook: PermissionRequest, as it is drawn (Notification waits ~6 s).
        assert "PermissionRequest" in fired, fired
        screen_waiting = next(
            (e for e in agent_events(sid) if e["state"] == "waiting" and e["source"] == "screen"),
            None,
        )
        return {
            "box_to_needs_input_s": needs_at - box_at,
            "box_to_waiting_hook_s": (hook_at - box_at) if hook_at is not None else None,
            "box_to_permission_request_hook_s": permission_request - box_wall,
            "screen_path_reported_waiting": screen_waiting is not None,
            "hooks_from_box": hooks_seen,
        }

    def after_box(sid: str) -> list[dict[str, object]]:
        events = agent_events(sid)
        last_wait = max(i for i, e in enumerate(events) if e["state"] == "waiting")
        return events[last_wait + 1 :]

    figures = asyncio.run(scenario())

    print("real CLI permission box:", figures)
    record_figures("permission_box", figures)
