"""The control protocol fed malformed and hostile requests (hypothesis): every answer is a
clear one-line refusal or a valid result, never an internal error, and a refused request
changes nothing in the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c3desk.config import Paths
from c3desk.control.protocol import MAX_LINE
from c3desk.control.server import ControlServer
from c3desk.core import sessions as sess
from c3desk.core.engine import Engine
from c3desk.store.models import Session, Settings
from c3desk.transports.factory import default_connections

COMMANDS = ["ping", "send", "key", "screen", "kill", "continue", "retry", "pause", "resume",
            "focus", "wake", "live", "hook", "add", "rm", "", "SEND", "send\x00", None]  # fmt: skip
HOSTILE = ["", "-", "--all", "'; rm -rf ~", "$(touch pwned)", "#(touch pwned)", "\x1b]52;c;?\x07",
           "\n", "\x00", "é" * 300, "0" * 10_000, "../../etc/passwd"]  # fmt: skip


@pytest.fixture
def server(db: Paths, tmp_path: Path) -> Iterator[tuple[ControlServer, list[str]]]:
    ids = []
    for title, status in (("queued", None), ("done", "completed"), ("broke", "failed")):
        s = sess.create_session(title=title, working_directory=str(tmp_path), prompt="say hi")
        if status is not None:
            sess.transition(s.id, "active")
            sess.transition(s.id, status)
        ids.append(str(s.id))
    yield ControlServer(Engine(db, connections=default_connections), db), ids


def snapshot() -> Any:
    rows = [(s.id, s.status, s.position, s.title) for s in Session.select().order_by(Session.id)]
    return rows, dict(Settings.get_by_id(1).__data__)


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(HOSTILE) | st.text(max_size=40)
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
FIELDS = ["id", "text", "key", "enter", "session", "event", "payload", "extra"]


@st.composite
def requests(draw: st.DrawFn, ids: list[str]) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:  # bytes that may not be JSON or UTF-8 at all
        return draw(st.binary(max_size=200)) + b"\n"
    if kind == 1:  # JSON that is not an object
        return json.dumps(draw(values)).encode() + b"\n"
    request: dict[str, Any] = {"cmd": draw(st.sampled_from(COMMANDS))}
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        request[key] = draw(values | st.sampled_from(ids) | st.sampled_from([i[:8] for i in ids]))
    return json.dumps(request).encode() + b"\n"


def test_malformed_requests_get_clear_refusals_and_change_nothing(
    server: tuple[ControlServer, list[str]],
) -> None:
    control, ids = server
    loop = asyncio.new_event_loop()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(line=requests(ids))
    def check(line: bytes) -> None:
        before = snapshot()
        reply = loop.run_until_complete(control._handle(line))
        assert isinstance(reply.get("ok"), bool), reply
        if reply["ok"]:
            return  # a valid request (pause, continue a finished session...): it may change things
        error = reply["error"]
        assert isinstance(error, str) and error and "\n" not in error.strip(), reply
        assert not error.startswith("internal error"), reply
        assert reply.get("exit_code") in (1, 2, 3, 4), reply
        assert snapshot() == before, (line, reply)

    try:
        check()
    finally:
        loop.close()


def test_an_oversized_request_is_refused_over_the_socket(
    server: tuple[ControlServer, list[str]], db: Paths
) -> None:
    control, _ids = server

    async def main() -> dict[str, Any]:
        await control.start()
        try:
            reader, writer = await asyncio.open_unix_connection(str(db.socket))
            writer.write(b'{"cmd": "ping", "pad": "' + b"x" * (MAX_LINE + 10) + b'"}\n')
            await writer.drain()
            reply: dict[str, Any] = json.loads(await reader.readline())
            writer.close()
            return reply
        finally:
            await control.stop()

    reply = asyncio.run(main())
    assert reply == {"ok": False, "error": "request too long"}
