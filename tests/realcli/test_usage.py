"""The real CLI's token usage through c3desk: the fake Messages API reports input, output and
cache tokens for each answer (as the real service does, in message_start and message_delta);
Claude Code writes them into its transcript, one line per content block; c3desk counts each
message once and prices it by the model the CLI asked for."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers.engine import add, status

from c3desk.config import Paths
from c3desk.core import usage
from c3desk.core.prices import DEFAULT_PRICES, price_for
from c3desk.store.models import SessionUsage
from realcli.conftest import RealCli
from realcli.flows import START, Run, needs_input

FIRST = {
    "input_tokens": 1500,
    "output_tokens": 120,
    "cache_creation_input_tokens": 3000,
    "cache_read_input_tokens": 20000,
}
SECOND = {"input_tokens": 40, "output_tokens": 60, "cache_read_input_tokens": 23000}


def test_a_real_sessions_tokens_and_cost(db: Paths, real_cli: RealCli) -> None:
    api = real_cli.start(
        [
            {"text": "Two parts: first this.", "usage": FIRST, "chunks": 3},
            {"text": "And the rest.", "usage": SECOND},
        ]
    )
    sid = add("tokens", real_cli.work, prompt="count my tokens")

    async def scenario() -> None:
        async with Run(db) as run:
            await run.until_screen(sid, "Two parts: first this.", timeout=START)
            await run.until(lambda: needs_input(sid))
            await run.engine.send_text(sid, "and more")
            await run.until_screen(sid, "And the rest.", timeout=START)
            # Read while the session runs: at the end of each turn (its Stop hook).
            await run.until(
                lambda: (
                    SessionUsage.select().where(SessionUsage.session == sid).exists()
                    and usage.totals_of([sid])[sid].messages == 2
                )
            )
            assert status(sid) == "active"
            await run.engine.kill(sid)
            await run.until(lambda: status(sid) != "active")

    asyncio.run(scenario())
    model = str(api.main_requests()[0]["body"]["model"])
    (row,) = SessionUsage.select().where(SessionUsage.session == sid)
    assert row.model == model
    assert (row.input_tokens, row.output_tokens) == (1540, 180)
    assert (row.cache_creation_tokens, row.cache_read_tokens) == (3000, 43000)
    price = price_for(DEFAULT_PRICES, model)
    assert price is not None, f"no default price for the CLI's model {model}"
    # The fake reports no cache lifetime split: all cache writes are 5-minute ones.
    expected = price.cost(1540, 180, 3000, 43000)
    assert row.cost == pytest.approx(expected)
    transcript = next(iter(usage.read_states(sid)))
    lines = [json.loads(line) for line in Path(transcript).read_text().splitlines()]
    assistant = [e for e in lines if e.get("type") == "assistant"]
    assert len({e["message"]["id"] for e in assistant}) == 2
