"""The engine's terminals part on its own: input, keys, sizes and reading screens."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core.live import LiveSession
from c3desk.core.scrollback import ScrollbackLog
from c3desk.core.terminals import Terminals
from c3desk.errors import InvalidInput, Refused
from c3desk.terminal import TerminalModel
from c3desk.transports.base import ExitStatus, Process


class Recorded(Process):
    """The far end of a terminal: what was typed into it and the sizes it was given."""

    def __init__(self) -> None:
        self.pid = 4242
        self.written: list[bytes] = []
        self.sizes: list[tuple[int, int]] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        return ExitStatus(0, None)

    @property
    def exited(self) -> bool:
        return False


class Setup:
    def __init__(self, paths: Paths, tmp_path: Path) -> None:
        self.live: dict[str, LiveSession] = {}
        self.finished: OrderedDict[str, LiveSession] = OrderedDict()
        self.typed: list[str] = []
        self.terminals = Terminals(
            self.live,
            self.finished,
            paths.scrollback_dir,
            typed=lambda live: self.typed.append(live.id),
            cols=100,
            rows=30,
            history=500,
        )
        self.work = tmp_path

    def session(self, *, running: bool = True) -> tuple[str, Recorded]:
        sid = str(sess.create_session(title="t", working_directory=str(self.work)).id)
        process = Recorded()
        if running:
            sess.transition(sid, "active")
            log = ScrollbackLog(self.work / f"{sid}.log", 1 << 20)
            live = LiveSession(sid, "w", TerminalModel(100, 30), log)
            live.process = process
            self.live[sid] = live
        return sid, process


@pytest.fixture
def setup(db: Paths, tmp_path: Path) -> Setup:
    return Setup(db, tmp_path)


def test_typing_reaches_the_process_and_counts_as_the_users_input(setup: Setup) -> None:
    sid, process = setup.session()
    asyncio.run(setup.terminals.send_text(sid, "yes"))
    assert process.written == [b"yes", b"\r"]  # Enter apart: a keypress, not a paste
    assert setup.typed == [sid, sid]


def test_a_session_not_running_takes_no_input(setup: Setup) -> None:
    sid, process = setup.session(running=False)
    with pytest.raises(Refused, match="is queued, not running"):
        setup.terminals.write(sid, b"x")
    assert process.written == [] and setup.typed == []


def test_keys_follow_the_programs_cursor_mode(setup: Setup) -> None:
    sid, process = setup.session()
    setup.terminals.send_key(sid, "Up")
    setup.live[sid].model.feed(b"\x1b[?1h")  # the program asks for application cursor keys
    setup.terminals.send_key(sid, "up")
    assert process.written == [b"\x1b[A", b"\x1bOA"]
    with pytest.raises(InvalidInput, match="'hyper'"):
        setup.terminals.send_key(sid, "hyper")


def test_sizes_reach_the_model_and_the_process_and_new_models(setup: Setup) -> None:
    sid, process = setup.session()
    queued, _ = setup.session(running=False)
    assert setup.terminals.size_for(queued) == (100, 30)
    setup.terminals.set_default_size(10, 2)  # too small: clamped to a usable terminal
    assert (setup.terminals.cols, setup.terminals.rows) == (20, 5)
    setup.terminals.resize(sid, 90, 25)
    assert process.sizes == [(90, 25)]
    assert (setup.live[sid].model.cols, setup.live[sid].model.rows) == (90, 25)
    setup.terminals.resize(queued, 70, 20)  # before it starts: it will start at this size
    model = setup.terminals.new_model(queued)
    assert (model.cols, model.rows) == (70, 20)


def test_an_old_sessions_screen_is_rebuilt_from_its_scrollback(db: Paths, setup: Setup) -> None:
    sid, _ = setup.session(running=False)
    db.scrollback_dir.mkdir(parents=True, exist_ok=True)
    (db.scrollback_dir / f"{sid}.log").write_bytes(b"hello\r\n\x1b[31mworld\x1b[0m")
    assert setup.terminals.current_model(sid) is None
    assert setup.terminals.screen(sid)[:2] == ["hello", "world"]
