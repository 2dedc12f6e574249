"""The real CLI at the account's usage limit: the fake Messages API answers a 429 with the
headers the service sends for the unified rate limit (``anthropic-ratelimit-unified-status:
rejected``, ``-reset``, ``-representative-claim``, ``retry-after``); the CLI, logged in as a
claude.ai subscriber (it reads those headers only then), says "You've hit your session limit ·
resets 3pm (UTC)" and offers its /rate-limit-options menu. c3desk pauses the account, holds its
queue, and at the reset (an injected clock) answers the menu and types the continue prompt,
which reaches the API."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fixtures.screens.capture_real import clock12, next_reset
from helpers.engine import add, status

from c3desk.config import Paths
from c3desk.core import usage_limits as limits
from c3desk.core.agents import CLAUDE
from c3desk.core.waiting import wait_reason
from realcli.conftest import RealCli
from realcli.flows import START, Run, texts_of


def test_the_real_cli_at_its_usage_limit_pauses_the_account_until_the_reset(
    db: Paths, real_cli: RealCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset = next_reset()
    limit = {"retry_after": 3600, "reset": reset, "claim": "five_hour"}
    api = real_cli.start(
        [{"rate_limit": limit, "retry": False}, {"text": "Back after the reset."}], oauth=True
    )
    sid = add("at the limit", real_cli.work, prompt="hello")

    async def scenario() -> None:
        async with Run(db) as run:
            # c3desk's clock two hours before the reset, on its day: "paused until 15:00".
            now = datetime.fromtimestamp(reset - 7200, UTC)
            monkeypatch.setattr(limits, "utcnow", lambda: now)  # reads `now` as reassigned below
            await run.until_screen(sid, "Stop and wait for limit to reset", timeout=START)
            await run.until(limits.open_holds)
            [hold] = limits.open_holds()
            assert hold.reset_at == datetime.fromtimestamp(reset, UTC)
            assert (hold.reset_text, hold.zone) == (f"{clock12(reset)} (UTC)", "UTC")
            # The account's next session waits (no prompt: it would ask the API nothing).
            queued = add("queued", real_cli.work, prompt=None)
            until = f"paused until {hold.reset_at:%H:%M} (usage limit, UTC): {hold.account()}"
            await run.until(lambda: wait_reason(queued) == until)
            assert status(queued) == "queued"

            now = hold.reset_at + limits.MARGIN
            run.engine.wake()
            await run.until_screen(sid, "Back after the reset.")
            await run.until(lambda: status(queued) == "active")
            assert limits.open_holds() == []

    asyncio.run(scenario())
    main = api.main_requests()
    assert [r["turn"] for r in main] == [0, 1]
    assert any(CLAUDE.usage_limit_prompt in t for t in texts_of(main[-1]))
    assert main[0]["headers"].get("authorization", "").startswith("Bearer sk-ant-oat01-")


def test_a_weekly_limit_days_away_in_the_users_zone_is_read_with_its_date(
    db: Paths, real_cli: RealCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's own default (retries allowed): a subscriber's rejected limit is shown at
    once, no retry. Days away, the CLI names the date, in the zone of its TZ."""
    monkeypatch.setenv("TZ", "America/New_York")
    now = time.time()
    reset = int(now - now % 3600) + 2 * 86400 + 3600  # on the hour, two days and more away
    limit = {"retry_after": 3600, "reset": reset, "claim": "seven_day"}
    api = real_cli.start([{"rate_limit": limit, "times": 3}], oauth=True)
    sid = add("weekly", real_cli.work, prompt="hello")

    async def scenario() -> None:
        async with Run(db) as run:
            await run.until_screen(sid, "You've hit your weekly limit", timeout=START)
            await run.until(limits.open_holds)
            [hold] = limits.open_holds()
            assert hold.reset_at == datetime.fromtimestamp(reset, UTC)
            assert hold.zone == "America/New_York"
            month = datetime.fromtimestamp(reset, ZoneInfo("America/New_York")).strftime("%b")
            assert hold.reset_text.startswith(month)

    asyncio.run(scenario())
    assert len(api.main_requests()) == 1  # shown at once, not retried
