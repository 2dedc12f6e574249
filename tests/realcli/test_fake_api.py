"""The fake Messages API on its own (no CLI): streams, tools, errors, rate limits, the log."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_api import FakeApi
from helpers.polling import wait_for

from realcli.harness import FAKE_API

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Any]:
    made: list[FakeApi] = []

    def start(turns: list[dict[str, Any]]) -> FakeApi:
        server = FakeApi(turns, tmp_path / "log.jsonl")
        server.start()
        made.append(server)
        return server

    yield start
    for server in made:
        server.stop()


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url + "/v1/messages?beta=true",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": "sk-ant-test"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def turn(tools: bool = True, stream: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "stream": stream}
    if tools:
        body["tools"] = TOOLS
    return body


def test_streams_text_in_chunks_and_tool_use_as_json_deltas(api: Any) -> None:
    server = api(
        [
            {"text": "hello world", "chunks": 3},
            {"text": "running", "tool_use": {"name": "Bash", "input": {"command": "ls"}}},
        ]
    )
    code, headers, raw = post(server.url, turn())
    assert code == 200 and headers["content-type"] == "text/event-stream"
    got = events(raw)
    assert [e["type"] for e in got] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(e["delta"]["text"] for e in got if e["type"] == "content_block_delta") == (
        "hello world"
    )
    assert got[-2]["delta"]["stop_reason"] == "end_turn"
    got = events(post(server.url, turn())[2])
    starts = [e["content_block"] for e in got if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"] and starts[1]["name"] == "Bash"
    partial = [
        e["delta"]["partial_json"]
        for e in got
        if e["type"] == "content_block_delta" and e["index"] == 1
    ]
    assert json.loads("".join(partial)) == {"command": "ls"}
    assert got[-2]["delta"]["stop_reason"] == "tool_use"


def test_side_requests_do_not_take_a_turn_and_the_end_says_done(api: Any) -> None:
    server = api([{"text": "first"}])
    side = json.loads(post(server.url, turn(tools=False, stream=False))[2])
    assert side["content"][0]["type"] == "text"
    first = json.loads(post(server.url, turn(stream=False))[2])
    after = json.loads(post(server.url, turn(stream=False))[2])
    assert first["content"][0]["text"] == "first" and after["content"][0]["text"] == "done."
    log = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    assert [(e["kind"], e["turn"]) for e in log] == [("side", None), ("main", 0), ("main", None)]
    assert log[1]["headers"]["x-api-key"] == "sk-ant-test"


def test_errors_repeat_and_rate_limits_carry_the_services_headers(api: Any) -> None:
    server = api(
        [
            {"error": {"status": 529, "message": "Overloaded"}, "times": 2, "retry": False},
            {"rate_limit": {"retry_after": 30, "reset": 1900000000}},
        ]
    )
    for _ in range(2):
        code, headers, raw = post(server.url, turn())
        assert code == 529 and headers["x-should-retry"] == "false"
        assert json.loads(raw)["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    code, headers, raw = post(server.url, turn())
    assert code == 429 and json.loads(raw)["error"]["type"] == "rate_limit_error"
    assert headers["retry-after"] == "30"
    assert headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert headers["anthropic-ratelimit-unified-reset"] == "1900000000"


def test_runs_as_a_script_and_writes_its_port(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "from the script"}]))
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_API), "--script", str(script), "--port-file", str(port_file)],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(port_file.exists, timeout=20, what="the fake API's port file")
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        body = json.loads(post(url, turn(stream=False))[2])
        assert body["content"][0]["text"] == "from the script"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_a_bad_script_is_one_line_and_exit_2(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text('{"text": "not a list"}')
    out = subprocess.run(
        [sys.executable, str(FAKE_API), "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"fake_api: script {script} is not a list of objects"
    ]
