"""Token usage recorded by the real engine from sessions of the fake agent, which writes its
transcript as Claude Code does (``usage`` directive: one API message in two lines sharing its
id); ``c3desk usage`` and ``c3desk show`` print it; a session on an SSH worker has its
transcript read over SFTP."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import add, screen_has, started_engine, status, use_fake_agent
from helpers.remote import add_ssh_worker, ssh_factory, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)
from helpers.tmuxhost import hosted
from helpers.transcripts import TranscriptWriter, usage_block

from c3desk.config import Paths
from c3desk.core import engine as engine_module
from c3desk.core import usage
from c3desk.store.models import Session, SessionUsage
from c3desk.transports.tmux import TmuxHost

SONNET, OPUS, HAIKU = "claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5"
# Default prices (c3desk.core.prices), dollars per million tokens; the fake's cache writes
# are 1-hour ones.
SONNET_COST = (1000 * 2 + 200 * 10 + 300 * 4 + 4000 * 0.10) / 1e6
OPUS_COST = (10 * 4 + 5 * 20 + 100 * 0.20) / 1e6
HAIKU_COST = (7 * 0.10 + 3 * 0.50) / 1e6


def rows(sid: str) -> dict[str, tuple[int, int, int, int, int]]:
    return {
        r.model: (
            r.input_tokens,
            r.output_tokens,
            r.cache_creation_tokens,
            r.cache_read_tokens,
            r.messages,
        )
        for r in SessionUsage.select().where(SessionUsage.session == sid)
    }


def messages(sid: str) -> int:
    return sum(r[4] for r in rows(sid).values())


def test_a_sessions_usage_is_recorded_at_its_end_and_continue_adds_only_the_new(
    db: Paths, tmp_path: Path, cli: Any
) -> None:
    use_fake_agent(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    sid = add("tokens", work, prompt=f"usage 1000 200 300 4000; usage 10 5 0 100 {OPUS}; exit 0")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "completed")
            await watch.until(lambda: messages(sid) == 2)
            assert rows(sid) == {SONNET: (1000, 200, 300, 4000, 1), OPUS: (10, 5, 0, 100, 1)}
            # Continued: the conversation goes on in the same transcript; only what the new
            # run adds is counted.
            assert engine.continue_session(sid) == "active"
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(sid, f"usage 7 3 0 0 {HAIKU}")
            await watch.until(screen_has(engine, sid, "Used 10 tokens"))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            await watch.until(lambda: messages(sid) == 3)
        finally:
            await engine.stop()

    asyncio.run(scenario())
    assert rows(sid) == {
        SONNET: (1000, 200, 300, 4000, 1),
        OPUS: (10, 5, 0, 100, 1),
        HAIKU: (7, 3, 0, 0, 1),
    }
    totals = usage.totals_of([sid])[sid]
    assert totals.cost == pytest.approx(SONNET_COST + OPUS_COST + HAIKU_COST)
    assert totals.unpriced == ()
    conversation = Session.get_by_id(sid).claude_session_id
    (read,) = usage.read_states(sid).items()
    assert read[0].endswith(f"/{conversation}.jsonl")
    assert read[1].offset == Path(read[0]).stat().st_size

    today = date.today()
    data = cli("usage", "--json", check=True).json()
    assert {d["day"] for d in data["days"]} <= {today.isoformat(), str(today - timedelta(1))}
    assert data["total"]["total_tokens"] == 1000 + 200 + 300 + 4000 + 10 + 5 + 100 + 7 + 3
    cost = SONNET_COST + OPUS_COST + HAIKU_COST
    assert data["total"]["cost_usd"] == pytest.approx(cost, abs=1e-6)
    (session,) = data["sessions"]
    assert (session["id"], session["title"], session["status"]) == (sid, "tokens", "completed")
    assert session["cache_read_tokens"] == 4100 and session["messages"] == 3
    assert [m["model"] for m in data["models"]] == [SONNET, OPUS, HAIKU]

    text = cli("usage", check=True).stdout
    assert "DAY" in text and "SESSION" in text and sid[:8] in text
    assert "total: 5,625 tokens, $0.0058" in text
    tomorrow = (today + timedelta(days=1)).isoformat()
    later = cli("usage", "--since", tomorrow, check=True)
    assert later.stdout.strip() == f"no token usage recorded since {tomorrow}"
    assert cli("usage", "--since", tomorrow, "--json", check=True).json()["days"] == []

    shown = cli("show", sid, "--json", check=True).json()
    assert shown["usage"]["total_tokens"] == 5625
    assert re.search(r"^tokens +5,625 \(input 1,017, output 208", cli("show", sid).stdout, re.M)


def test_a_hosted_session_read_on_after_a_restart_counts_each_message_once(
    db: Paths, tmp_path: Path, tmux: TmuxHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine quits while a hosted session runs; the next one reattaches it and reads its
    transcript on from the saved offset: the first turn's tokens once, the next turn's too.
    (No control socket here, so no Stop hook: the periodic reads, made frequent.)"""
    monkeypatch.setattr(engine_module, "USAGE_PERIOD", 0.3)
    use_fake_agent(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    sid = add("restarted", work, prompt="usage 1000 200 300 4000")

    async def main() -> None:
        first, watch = await started_engine(db, connections=hosted(tmux))
        await watch.until(screen_has(first, sid, "Used 5500 tokens"), 20)
        await watch.until(lambda: messages(sid) == 1, 20)
        await first.stop()  # the hosted session runs on
        second, watch = await started_engine(db, connections=hosted(tmux))
        try:
            assert status(sid) == "active"
            await watch.until(screen_has(second, sid, "? for shortcuts"), 20)
            await second.send_text(sid, f"usage 7 3 0 0 {HAIKU}")
            await watch.until(lambda: messages(sid) == 2, 20)
            await second.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed", 20)
        finally:
            await second.stop()

    asyncio.run(main())
    assert rows(sid) == {SONNET: (1000, 200, 300, 4000, 1), HAIKU: (7, 3, 0, 0, 1)}


@pytest.mark.parametrize("value", ["2026-13-01", "last week", "-3d", "20261201"])
def test_a_bad_date_is_refused_in_one_line(db: Paths, cli: Any, value: str) -> None:
    result = cli("usage", f"--since={value}")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert repr(value) in line and "not a date" in line


def test_no_usage_yet(db: Paths, cli: Any) -> None:
    assert cli("usage", check=True).stdout.strip() == "no token usage recorded"
    data = cli("usage", "--json", check=True).json()
    assert data["days"] == [] and data["total"]["total_tokens"] == 0


def test_a_session_on_an_ssh_worker_has_its_transcript_read_over_sftp(
    sshd: Sshd,  # noqa: F811
    db: Paths,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fake agent runs on the server and keeps its transcript in the remote user's
    ~/.claude (the connection reports a home in tmp_path); c3desk reads it over SFTP. This
    machine's CLAUDE_CONFIG_DIR holds a decoy transcript with other figures."""
    remote_home = tmp_path / "remote-home"
    work = tmp_path / "work"
    work.mkdir()
    decoy = tmp_path / "local-claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(decoy))

    async def main() -> str:
        use_remote_agent(tmp_path, CLAUDE_CONFIG_DIR=str(remote_home / ".claude"))
        box = add_ssh_worker(sshd)
        factory, made = ssh_factory(sshd, tmp_path, home=remote_home)
        sid = add("remote tokens", work, prompt="usage 1000 200 300 4000", worker=box.name)
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: made["box"].status == "connected", 20)
            await watch.until(lambda: status(sid) == "active", 20)
            await watch.until(screen_has(engine, sid, "Used 5500 tokens"), 30)
            conversation = Session.get_by_id(sid).claude_session_id
            project = re.sub(r"[^a-zA-Z0-9-]", "-", str(work))
            fake = TranscriptWriter(
                decoy / "projects" / project / f"{conversation}.jsonl", str(conversation)
            )
            fake.assistant("2026-12-01T10:00:00Z", OPUS, usage_block(99, 99))
            fake.flush()
            engine.write(sid, b"\x04")  # Ctrl-D at the empty prompt: the agent exits 0
            await watch.until(lambda: status(sid) == "completed", 20)
            await watch.until(lambda: messages(sid) == 1, 30)
        finally:
            await engine.stop()
        return sid

    sid = asyncio.run(main())
    assert rows(sid) == {SONNET: (1000, 200, 300, 4000, 1)}
    (path,) = usage.read_states(sid)
    assert path.startswith(str(remote_home / ".claude" / "projects") + "/")
    assert json.loads(Path(path).read_text().splitlines()[-1])["message"]["model"] == SONNET
