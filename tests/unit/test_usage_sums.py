"""Token usage from Claude Code transcripts: each message counted once, local days, prices,
malformed lines, incremental reads and what the database keeps."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, timedelta, timezone
from pathlib import Path

import pytest
from helpers.transcripts import TranscriptWriter, usage_block

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import usage
from c3desk.core.agents import AgentsFileError, parse_profiles
from c3desk.core.prices import DEFAULT_PRICES, Price, price_for
from c3desk.core.usage_watch import UsageWatcher
from c3desk.store.models import SessionUsage, TranscriptRead

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts" / "real-2.1.197.jsonl"
OPUS = "claude-opus-5-5-20260921"
SONNET = "claude-sonnet-5-5-20260929"


def tally(data: bytes, tz: timezone | None = UTC) -> dict[tuple[str, str], usage.Sums]:
    lines, used = usage.parse_lines(data)
    assert used == len(data)
    return usage.Tally(DEFAULT_PRICES, tz=tz).add(lines)


def test_a_real_transcript() -> None:
    """Claude Code 2.1.197 against the fake Messages API (12 input, 8 output tokens a message):
    two API messages in three assistant lines (the first one's text and tool call share an
    id); user, attachment, queue and last-prompt lines carry no usage."""
    sums = tally(REAL.read_bytes())
    assert list(sums) == [("2026-12-07", "claude-opus-4-8")]
    s = sums["2026-12-07", "claude-opus-4-8"]
    assert (s.input, s.output, s.cache_write, s.cache_read, s.messages) == (24, 16, 0, 0, 2)
    assert s.cost == pytest.approx((24 * 5 + 16 * 25) / 1e6)


def test_lines_of_one_message_count_once_and_later_lines_add_only_the_rest(tmp_path: Path) -> None:
    t = TranscriptWriter(tmp_path / "t.jsonl", "s")
    t.user("go", "2026-12-01T10:00:00.000Z")
    t.assistant("2026-12-01T10:00:01.000Z", OPUS, usage_block(10, 5, 1000, 2000), blocks=3)
    # The same message again with a larger final output count (as a last block may carry).
    t.assistant(
        "2026-12-01T10:00:02.000Z",
        OPUS,
        usage_block(10, 40, 1000, 2000),
        message_id=json.loads(t.lines[-1])["message"]["id"],
    )
    t.assistant("2026-12-01T10:00:03.000Z", OPUS, usage_block(3, 7, 0, 3000), blocks=2)
    t.flush()
    sums = tally(t.path.read_bytes())
    s = sums["2026-12-01", OPUS]
    assert (s.input, s.output, s.cache_write, s.cache_read, s.messages) == (13, 47, 1000, 5000, 2)


def test_days_split_by_local_date_and_models_apart(tmp_path: Path) -> None:
    t = TranscriptWriter(tmp_path / "t.jsonl", "s")
    # 23:30 UTC on the 1st is the 2nd in UTC+2 and still the 1st in UTC-5.
    t.assistant("2026-12-01T23:30:00.000Z", OPUS, usage_block(100, 10))
    t.assistant("2026-12-02T09:00:00.000Z", OPUS, usage_block(200, 20))
    t.assistant("2026-12-02T09:01:00.000Z", SONNET, usage_block(300, 30))
    t.flush()
    data = t.path.read_bytes()
    east = tally(data, timezone(timedelta(hours=2)))
    assert {k: v.input for k, v in east.items()} == {
        ("2026-12-02", OPUS): 300,
        ("2026-12-02", SONNET): 300,
    }
    west = tally(data, timezone(timedelta(hours=-5)))
    assert {k: v.input for k, v in west.items()} == {
        ("2026-12-01", OPUS): 100,
        ("2026-12-02", OPUS): 200,
        ("2026-12-02", SONNET): 300,
    }


def test_malformed_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    t = TranscriptWriter(tmp_path / "t.jsonl", "s")
    t.raw('{"type": "assistant", "message": {"usage": ')  # cut short
    t.raw('not json at all, but it mentions "usage"')
    t.raw(json.dumps({"type": "assistant", "message": "text", "usage": 3}))
    t.raw(json.dumps({"type": "assistant", "message": {"model": OPUS, "usage": [1, 2]}}))
    t.raw(json.dumps({"type": "user", "message": {"model": OPUS, "usage": {"input_tokens": 9}}}))
    synthetic = usage_block(0, 0)
    t.assistant("2025-12-01T10:00:00Z", "<synthetic>", synthetic)
    bad_counts = usage_block(5, 5)
    bad_counts.update(input_tokens=-4, output_tokens="7", cache_read_input_tokens=True)
    t.assistant("2025-12-01T10:00:01Z", OPUS, bad_counts)
    t.assistant("no date", OPUS, usage_block(1, 1))  # today: never the day above
    t.flush()
    sums = tally(t.path.read_bytes(), UTC)
    assert sum(s.messages for s in sums.values()) == 2
    assert sums["2025-12-01", OPUS].input == 0  # the negative count is taken as none
    assert sums["2025-12-01", OPUS].output == 0
    assert sum(s.input + s.output for s in sums.values()) == 2  # the undated line: today


def test_a_partial_last_line_waits_for_its_newline() -> None:
    data = REAL.read_bytes()
    cut = data.rindex(b'"type":"assistant"') + 40
    lines, used = usage.parse_lines(data[:cut])
    assert used < cut and data[used - 1 : used] == b"\n"
    first = usage.Tally(DEFAULT_PRICES, tz=UTC)
    a = first.add(lines)
    rest, used2 = usage.parse_lines(data[used:])
    assert used + used2 == len(data)
    b = first.add(rest)
    merged: dict[tuple[str, str], usage.Sums] = {}
    usage.merge(merged, a)
    usage.merge(merged, b)
    assert merged == tally(data)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-opus-4-8", 5.0),
        ("claude-opus-4-5-20251101", 5.0),
        ("claude-opus-4-1-20250805", 15.0),
        ("claude-opus-4-20250514", 15.0),
        ("claude-opus-5-5-20260921", 4.0),
        ("Claude-Opus-5-20260724", 5.0),
        ("claude-sonnet-5-5", 2.0),
        ("claude-sonnet-4-5-20250929", 3.0),
        ("claude-haiku-4-5-20251001", 1.0),
        ("claude-haiku-5-5", 0.10),
        ("claude-fable-5-1", 10.0),
        ("claude-fable-5-2", 8.0),
        ("gpt-5", None),
        ("claude-fake", None),
    ],
)
def test_default_prices_by_model(model: str, expected: float | None) -> None:
    price = price_for(DEFAULT_PRICES, model)
    assert (price.input if price else None) == expected


def test_cost_of_each_kind_of_token() -> None:
    price = Price("x*", input=4, output=20, cache_write=5, cache_read=0.2, cache_write_1h=8)
    # 1M of each; of the 3M cache writes, 1M with the 1-hour lifetime.
    million = 1_000_000
    assert price.cost(million, million, 3 * million, million, million) == pytest.approx(
        4 + 20 + 2 * 5 + 8 + 0.2
    )


def test_agents_toml_prices_come_first_and_defaults_fill_in() -> None:
    text = """
[claude]
[[claude.prices]]
model = "claude-opus-5-5*"
input = 1
output = 2

[cheap]
extends = "shell"
prices = [{model = "my-*", input = 0.5, output = 1.5, cache_read = 0}]
"""
    profiles = parse_profiles(text, "agents.toml")
    claude = profiles["claude"].prices
    assert claude[0] == Price("claude-opus-5-5*", 1.0, 2.0, 1.25, 0.1, 2.0)
    assert claude[1:] == DEFAULT_PRICES  # the rest still priced
    assert price_for(list(claude), "claude-opus-5-5-x") == claude[0]
    assert profiles["cheap"].prices == (Price("my-*", 0.5, 1.5, 0.625, 0.0, 1.0),)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[claude]\nprices = "cheap"\n', 2, "array of tables"),
        ('[claude]\n[[claude.prices]]\nmodel = "a*"\ninput = 1\nouput = 2\n', 5, "'ouput'"),
        ('[claude]\n[[claude.prices]]\nmodel = "a*"\ninput = 1\n', 2, "needs 'output'"),
        (
            '[claude]\n[[claude.prices]]\nmodel = "a*"\ninput = 1\noutput = 1\n'
            '[[claude.prices]]\nmodel = "b*"\ninput = -3\noutput = 1\n',
            8,
            "0 or more (not -3)",
        ),
        ("[claude]\n[[claude.prices]]\nmodel = 7\ninput = 1\noutput = 1\n", 3, "'model'"),
        ('[x]\n[[x.prices]]\nmodel = "a"\ninput = true\noutput = 1\n', 4, "'input'"),
    ],
)
def test_bad_prices_name_the_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(AgentsFileError) as caught:
        parse_profiles(text, "/home/me/agents.toml")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"/home/me/agents.toml:{line}: ")
    assert words in str(caught.value)


# -- the database and the watcher ------------------------------------------------------------


def _session(title: str = "usage") -> str:
    return sess.create_session(title=title, working_directory="/tmp", prompt=None).id


def test_record_adds_up_and_queries_group(db: Paths) -> None:
    a, b = _session("alpha"), _session("beta")
    sums_a = {
        ("2026-12-01", OPUS): usage.Sums(10, 20, 30, 40, 1, 0.5),
        ("2026-12-02", "custom-model"): usage.Sums(1, 1, 0, 0, 1, None),
    }
    assert usage.record(a, sums_a, {"/t/a.jsonl": usage.ReadState(120, {"m1": [1, 2, 3, 4, 0]})})
    assert usage.record(a, {("2026-12-01", OPUS): usage.Sums(1, 1, 1, 1, 1, 0.25)}, {})
    assert usage.record(b, {("2026-12-02", OPUS): usage.Sums(5, 5, 5, 5, 1, 1.0)}, {})
    assert not usage.record("nope", {("2026-12-02", OPUS): usage.Sums(1)}, {})

    days = dict(usage.by_day())
    assert days["2026-12-01"].total == 104 and days["2026-12-01"].cost == pytest.approx(0.75)
    assert days["2026-12-02"].total == 22 and days["2026-12-02"].unpriced == ("custom-model",)
    assert [d for d, _ in usage.by_day(date(2026, 12, 2))] == ["2026-12-02"]
    per = {s.title: s for s in usage.by_session()}
    assert per["alpha"].totals.messages == 3 and per["alpha"].totals.cost == pytest.approx(0.75)
    assert (per["alpha"].first_day, per["alpha"].last_day) == ("2026-12-01", "2026-12-02")
    assert usage.totals_of([b])[b].total == 20
    assert usage.read_states(a) == {"/t/a.jsonl": usage.ReadState(120, {"m1": [1, 2, 3, 4, 0]})}
    sess.remove_session(a)
    assert SessionUsage.select().where(SessionUsage.session == a).count() == 0
    assert TranscriptRead.select().count() == 0


def _watcher(changed: list[str] | None = None, chunk: int = 4096) -> UsageWatcher:
    return UsageWatcher(
        lambda agent: DEFAULT_PRICES if agent in ("claude", "claude-fast") else (),
        env={"CLAUDE_CONFIG_DIR": "unused"},
        changed=(changed.append if changed is not None else None),
        chunk=chunk,
    )


def _project(config: Path, cwd: Path) -> Path:
    from c3desk.core.launch import encode_project_dir

    return config / "projects" / encode_project_dir(str(cwd))


@pytest.mark.parametrize("chunk", [300, 2000])
def test_the_watcher_reads_on_from_its_offset_in_small_steps(
    db: Paths, tmp_path: Path, chunk: int
) -> None:
    """A transcript read in steps of 2000 bytes (or 300: each line is longer, a line longer
    than a step is read whole),
    then more lines appended, then a new watcher (a restart) that reads only what is new; a
    message whose second line comes after the restart is still counted once; subagent
    transcripts count; a missing transcript is no error."""
    config, cwd = tmp_path / "cfg", tmp_path / "work"
    cwd.mkdir()
    sid = _session()
    conversation = "0b6c4a1e-3f4d-4c57-9a55-1c2d3e4f5a6b"
    from c3desk.store.models import Session

    Session.update(claude_session_id=conversation).where(Session.id == sid).execute()
    main = TranscriptWriter(_project(config, cwd) / f"{conversation}.jsonl", conversation)
    changed: list[str] = []

    async def run() -> None:
        watcher = _watcher(changed, chunk=chunk)
        watcher.start(sid, str(cwd), config_dir=str(config))
        assert await watcher.read(sid) == 0  # no transcript yet
        for n in range(5):
            main.assistant(f"2026-12-01T10:00:0{n}Z", OPUS, usage_block(100, 10), blocks=2)
        main.flush()
        assert await watcher.read(sid) == 5
        # Several steps, each recorded (about 8 KB of lines).
        assert len(changed) >= (4 if chunk == 2000 else 1)
        assert await watcher.read(sid) == 0  # nothing new
        # A message's first line now, its second (same id, same usage) after the restart.
        mid = main.assistant("2026-12-01T11:00:00Z", OPUS, usage_block(7, 700))
        main.flush()
        assert await watcher.read(sid) == 1
        await watcher.close()

        again = _watcher(chunk=1 << 20)
        again.start(sid, str(cwd), config_dir=str(config))
        main.assistant("2026-12-01T11:00:00Z", OPUS, usage_block(7, 700), message_id=mid)
        sub = TranscriptWriter(
            _project(config, cwd) / conversation / "subagents" / "agent-a1.jsonl",
            conversation,
            sidechain=True,
        )
        sub.assistant("2026-12-01T11:05:00Z", SONNET, usage_block(50, 5, 0, 1000), blocks=2)
        main.flush()
        sub.flush()
        assert await again.read(sid) == 1  # only the subagent's message is new
        await again.finish(sid)
        assert not again.watching(sid)

    asyncio.run(run())
    totals = usage.totals_of([sid])[sid]
    assert (totals.input, totals.output, totals.cache_read, totals.messages) == (
        5 * 100 + 7 + 50,
        5 * 10 + 700 + 5,
        1000,
        7,
    )
    assert set(changed) == {sid}
    offsets = usage.read_states(sid)
    assert offsets[str(main.path)].offset == main.path.stat().st_size


def test_a_replaced_transcript_is_read_again_without_double_counting(
    db: Paths, tmp_path: Path
) -> None:
    config, cwd = tmp_path / "cfg", tmp_path / "work"
    cwd.mkdir()
    sid = _session()
    from c3desk.store.models import Session

    Session.update(claude_session_id="c1").where(Session.id == sid).execute()
    path = _project(config, cwd) / "c1.jsonl"
    t = TranscriptWriter(path, "c1")
    kept = t.assistant("2026-12-01T10:00:00Z", OPUS, usage_block(100, 10))
    t.assistant("2026-12-01T10:00:01Z", OPUS, usage_block(100, 10))
    t.flush()

    async def run() -> None:
        watcher = _watcher()
        watcher.start(sid, str(cwd), config_dir=str(config))
        assert await watcher.read(sid) == 2
        path.unlink()  # rewritten shorter: one old message and a new one
        t2 = TranscriptWriter(path, "c1")
        t2.assistant("2026-12-01T10:00:00Z", OPUS, usage_block(100, 10), message_id=kept)
        t2.assistant("2026-12-01T10:05:00Z", OPUS, usage_block(1, 1))
        t2.flush()
        assert await watcher.read(sid) == 1

    asyncio.run(run())
    assert usage.totals_of([sid])[sid].messages == 3


def test_agents_without_transcripts_or_prices_are_not_watched(db: Paths) -> None:
    """Claude Code is; a profile with prices too (one extending claude inherits them); the
    shell is not."""
    watcher = _watcher()
    for agent, watched in (("shell", False), ("claude", True), ("claude-fast", True)):
        sid = sess.create_session(
            title=agent, working_directory="/tmp", prompt="true", agent=agent
        ).id
        watcher.start(sid, "/tmp")
        assert watcher.watching(sid) == watched, agent


def test_figures_at_a_glance() -> None:
    assert usage.tokens_text(950) == "950"
    assert usage.tokens_text(12_345) == "12.3k"
    assert usage.tokens_text(4_560_000) == "4.56M"
    assert usage.cost_text(0.42) == "$0.42"
    assert usage.cost_text(0.0031) == "$0.0031"
    assert usage.cost_text(1.5, ["x"]) == "$1.50+"
    assert usage.summary(usage.Totals(1000, 234, cost=0.5)) == "1.2k tokens · $0.50"


def test_a_step_the_database_refused_is_counted_at_the_next_read(
    db: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, cwd = tmp_path / "cfg", tmp_path / "work"
    cwd.mkdir()
    sid = _session()
    from c3desk.store.models import Session

    Session.update(claude_session_id="c1").where(Session.id == sid).execute()
    t = TranscriptWriter(_project(config, cwd) / "c1.jsonl", "c1")
    for n in range(3):
        t.assistant(f"2026-12-01T10:00:0{n}Z", OPUS, usage_block(100, 10), blocks=2)
    t.flush()
    record = usage.record

    def refuse(*args: object, **kw: object) -> bool:
        raise OSError(28, "No space left on device")

    async def run() -> None:
        watcher = _watcher()
        watcher.start(sid, str(cwd), config_dir=str(config))
        monkeypatch.setattr(usage, "record", refuse)
        assert await watcher.read(sid) == 0
        monkeypatch.setattr(usage, "record", record)
        assert await watcher.read(sid) == 3
        assert await watcher.read(sid) == 0

    asyncio.run(run())
    totals = usage.totals_of([sid])[sid]
    assert (totals.messages, totals.input, totals.output) == (3, 300, 30)


def test_the_tally_forgets_the_oldest_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage, "MAX_SEEN", 100)
    tally = usage.Tally(DEFAULT_PRICES)
    lines = [usage.UsageLine(f"m{n}", OPUS, None, usage.Tokens(1, 1)) for n in range(3000)]
    sums = tally.add(lines)
    assert sum(s.messages for s in sums.values()) == 3000
    assert len(tally.seen) <= 100 + 1001
    assert "m2999" in tally.seen and "m0" not in tally.seen


def test_a_session_continued_while_its_last_read_runs_keeps_one_watch(
    db: Paths, tmp_path: Path
) -> None:
    """Continued at once after its end: the end's last read and the new run's reads are one
    watch's, so nothing is read (and counted) twice, and the watch stays."""
    config, cwd = tmp_path / "cfg", tmp_path / "work"
    cwd.mkdir()
    sid = _session()
    from c3desk.store.models import Session

    Session.update(claude_session_id="c1").where(Session.id == sid).execute()
    t = TranscriptWriter(_project(config, cwd) / "c1.jsonl", "c1")
    t.assistant("2026-12-01T10:00:00Z", OPUS, usage_block(100, 10), blocks=2)
    t.assistant("2026-12-01T10:00:01Z", OPUS, usage_block(100, 10), blocks=2)
    t.flush()

    async def run() -> None:
        watcher = _watcher()
        watcher.start(sid, str(cwd), config_dir=str(config))
        ending = asyncio.ensure_future(watcher.finish(sid))
        await asyncio.sleep(0)  # the last read is under way
        watcher.start(sid, str(cwd), config_dir=str(config))  # continued
        assert await watcher.read(sid) == 0  # busy: the last read counts them
        await ending
        assert watcher.watching(sid)
        t.assistant("2026-12-01T10:00:02Z", OPUS, usage_block(1, 1))
        t.flush()
        assert await watcher.read(sid) == 1
        await watcher.finish(sid)
        assert not watcher.watching(sid)

    asyncio.run(run())
    assert usage.totals_of([sid])[sid].messages == 3


def test_long_lines_and_a_line_being_written(db: Paths, tmp_path: Path) -> None:
    """A 600 KB tool result (longer than a parse slice) between two messages; a last line
    without its newline yet waits, and is counted once it is whole."""
    config, cwd = tmp_path / "cfg", tmp_path / "work"
    cwd.mkdir()
    sid = _session()
    from c3desk.store.models import Session

    Session.update(claude_session_id="c1").where(Session.id == sid).execute()
    path = _project(config, cwd) / "c1.jsonl"
    t = TranscriptWriter(path, "c1")
    t.assistant("2026-12-01T10:00:00Z", OPUS, usage_block(100, 10))
    t.user("y" * 600_000, "2026-12-01T10:00:01Z")
    t.assistant("2026-12-01T10:00:02Z", OPUS, usage_block(200, 20))
    t.assistant("2026-12-01T10:00:03Z", OPUS, usage_block(300, 30))
    t.flush()
    whole = path.read_bytes()
    cut = len(whole) - 40
    path.write_bytes(whole[:cut])

    async def run() -> None:
        watcher = _watcher(chunk=256 * 1024)
        watcher.start(sid, str(cwd), config_dir=str(config))
        assert await watcher.read(sid) == 2
        assert usage.read_states(sid)[str(path)].offset == whole.rindex(b"\n", 0, cut) + 1
        with path.open("ab") as handle:
            handle.write(whole[cut:])
        assert await watcher.read(sid) == 1

    asyncio.run(run())
    assert usage.totals_of([sid])[sid].input == 600


def test_one_sessions_totals_agree_with_the_grouped_query(db: Paths) -> None:
    sid, other = _session(), _session()
    assert usage.session_totals(sid) is None
    usage.record(sid, {("2026-12-01", OPUS): usage.Sums(1, 2, 3, 4, 1, 0.5)}, {})
    usage.record(sid, {("2026-12-02", "x-model"): usage.Sums(10, 20, 30, 40, 2, None)}, {})
    usage.record(other, {("2026-12-02", OPUS): usage.Sums(5, 5, 5, 5, 1, 1.0)}, {})
    assert usage.session_totals(sid) == usage.totals_of([sid])[sid]
    assert usage.session_totals(sid) == usage.Totals(11, 22, 33, 44, 3, 0.5, ("x-model",))
