"""Hostile output printed by a live session's agent, through the real engine and a real PTY (bare,
and hosted in tmux): the agent gets no bytes back but the fixed numeric answers, the model and
the process stay small, and the event loop keeps its pace while the corpus streams.

The agent is a script (the ``claude_command`` setting): it puts its terminal in raw mode, prints
the corpus of :mod:`helpers.hostile`, then records every byte it reads until the test types an
end marker."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import time
from pathlib import Path

from helpers.engine import add, started_engine, status
from helpers.hostile import corpus, expected_answers
from helpers.tmuxhost import hosted

from c3desk.config import Paths
from c3desk.core import settings as cfg
from c3desk.core.engine import Engine
from c3desk.terminal.screen import CELL_TEXT_MAX
from c3desk.terminal.stream import CSI_CAP, STRING_CAP
from c3desk.transports.tmux import TmuxHost, local_runner

DONE = "CORPUS-DONE"
END = b"END-OF-TEST\r"

AGENT = rf"""
import os, sys, tty
tty.setraw(0)
corpus, record = sys.argv[1], sys.argv[2]
with open(corpus, "rb") as fh:
    data = fh.read()
out = os.fdopen(1, "wb", buffering=0)
view = memoryview(data)
while view:
    view = view[out.write(view[:65536]):]
out.write(b"\r\n{DONE}\r\n")
got = b""
while not got.endswith({END!r}):
    got += os.read(0, 65536)
with open(record + ".tmp", "wb") as fh:
    fh.write(got)
os.rename(record + ".tmp", record)
"""

FIGURES: dict[str, str] = {}  # printed with -s: the figures for the notes


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def agent(tmp_path: Path) -> Path:
    """The agent's command line as the setting; returns where its record lands."""
    script = tmp_path / "hostile-agent.py"
    script.write_text(AGENT)
    data = tmp_path / "corpus.bin"
    data.write_bytes(b"".join(piece for _, piece in corpus()))
    record = tmp_path / "received.bin"
    cfg.set_setting(
        "claude_command", shlex.join([sys.executable, str(script), str(data), str(record)])
    )
    # The agent ignores what the claude profile appends (--session-id, --settings, a prompt).
    return record


async def stream_corpus(engine: Engine, sid: str, label: str) -> None:
    """Wait for the corpus to be drawn, measuring the loop's lag and this process's RSS
    meanwhile; check that the model stayed small."""
    lags: list[float] = []
    rss = [rss_kib()]
    done = False

    async def probe() -> None:
        while not done:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)
            rss.append(rss_kib())

    def drawn() -> bool:
        live = engine.live.get(sid)
        # Read the model as it is: engine.screen() would parse the backlog in one go.
        return live is not None and any(DONE in row for row in live.model.display)

    started = time.monotonic()
    task = asyncio.create_task(probe())
    try:
        deadline = time.monotonic() + 60
        while not drawn():
            assert time.monotonic() < deadline, "the corpus was not drawn within 60 s"
            await asyncio.sleep(0.02)
    finally:
        done = True
        await task
    took = time.monotonic() - started
    live = engine.live[sid]
    model = live.model
    # The model stays small whatever it was fed.
    stream = model.stream
    assert len(stream._pending) <= CSI_CAP
    assert stream._string is None or stream._string.length <= STRING_CAP or stream._string.overflow
    cells = [len(c) for row in model.screen._chars for c in row]
    assert max(cells) <= CELL_TEXT_MAX
    if label == "bare PTY":  # (tmux keeps titles to itself: set-titles off)
        assert model.title == "secret title"  # the 1 MB OSC title was dropped, not kept
    ranked = sorted(lags) or [0.0]
    p99 = ranked[(len(ranked) - 1) * 99 // 100]  # nearest rank: never above the largest
    growth = (max(rss) - rss[0]) / 1024
    FIGURES[label] = (
        f"{sum(len(p) for _, p in corpus()) / 1e6:.1f} MB drawn in {took:.2f} s; loop lag p99 "
        f"{p99 * 1000:.0f} ms, max {max(lags, default=0.0) * 1000:.0f} ms; RSS growth "
        f"{growth:.1f} MiB; peak backlog {live.peak_backlog / 1e6:.1f} MB"
    )
    print(f"hostile output ({label}): {FIGURES[label]}")
    # The loop's lag is reported (FIGURES), not asserted: no timing asserts in tests.
    assert growth < 64, FIGURES[label]


async def received(engine: Engine, sid: str, record: Path) -> bytes:
    """Type the end marker; what the agent received before it."""
    engine.write(sid, END)
    deadline = time.monotonic() + 20
    while not record.exists():
        assert time.monotonic() < deadline, "the agent never got the end marker"
        await asyncio.sleep(0.02)
    got = record.read_bytes()
    assert got.endswith(END)
    return got[: -len(END)]


def test_hostile_output_on_a_bare_pty_gets_only_the_fixed_numeric_answers(
    db: Paths, tmp_path: Path
) -> None:
    record = agent(tmp_path)
    sid = add("hostile", tmp_path, prompt="$(touch pwned)")

    async def main() -> bytes:
        engine, watch = await started_engine(db)
        try:
            await stream_corpus(engine, sid, "bare PTY")
            got = await received(engine, sid, record)
            await watch.until(lambda: status(sid) in ("completed", "failed"), 20)
        finally:
            await engine.stop()
        return got

    got = asyncio.run(main())
    FIGURES["bare PTY written back"] = f"{len(got)} bytes: {got!r}"
    print(f"hostile output (bare PTY): written back {len(got)} bytes: {got!r}")
    assert got == expected_answers()
    assert status(sid) == "completed"
    assert not list(tmp_path.rglob("pwned"))


# What tmux itself answers a pane: device attributes, cursor position, mode reports, the text
# area's size (CSI 18 t) and its version (XTVERSION), all fixed or numeric; never a title, a
# colour or a clipboard (no OSC at all). c3desk's own answers reach the tmux client, never the
# agent.
TMUX_REPLY = re.compile(rb"(?:\x1b\[[?>]?[0-9;]*\$?[cnRyt]|\x1bP>\|tmux [0-9.a-z]+\x1b\\)*")


def test_hostile_output_hosted_in_tmux_gets_only_numeric_answers_and_no_clipboard(
    db: Paths, tmp_path: Path, tmux: TmuxHost
) -> None:
    record = agent(tmp_path)
    sid = add("hostile", tmp_path, prompt=None)

    async def main() -> bytes:
        engine, watch = await started_engine(db, connections=hosted(tmux))
        try:
            await stream_corpus(engine, sid, "hosted in tmux")
            # The OSC 52 writes filled no paste buffer another agent could read back.
            code, out, err = await asyncio.to_thread(
                local_runner, ["tmux", "-L", tmux.socket_name, "list-buffers"]
            )
            assert (code, out) == (0, b""), (code, out, err)
            got = await received(engine, sid, record)
            await watch.until(lambda: status(sid) in ("completed", "failed"), 20)
        finally:
            await engine.stop(keep_hosted=False)
        return got

    got = asyncio.run(main())
    FIGURES["tmux written back"] = f"{len(got)} bytes: {got!r}"
    print(f"hostile output (hosted): written back {len(got)} bytes: {got!r}")
    assert TMUX_REPLY.fullmatch(got), got
    assert b"secret" not in got and b"\x1b]" not in got
    assert status(sid) == "completed"
