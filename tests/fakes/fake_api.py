"""A scripted fake of the Anthropic Messages API, for driving the real Claude Code CLI offline.

Standard library only. It listens on 127.0.0.1 (port 0 by default: the kernel picks a free one)
and answers what Claude Code asks of its API:

- ``HEAD /`` and ``GET /`` (the CLI's connectivity probe): 200, empty.
- ``POST /v1/messages`` (``?beta=true`` accepted): with ``"stream": true`` a server-sent event
  stream (message_start, content_block_start, content_block_delta with text_delta or
  input_json_delta, content_block_stop, message_delta with the stop_reason, message_stop);
  otherwise one JSON message.
- ``POST /v1/messages/count_tokens``: a fixed count.

The *script* is a list of turns. Every "main" request (one that offers tools: a turn of the
conversation) takes the next turn; short side requests without tools (the session title, ...)
are answered with a short text without taking one. When the script runs out, every further
turn answers the plain text ``done.``. A turn is a JSON object with one of:

- ``{"text": "..."}``: a text answer (stop_reason ``end_turn``). ``"chunks": N`` streams it in
  N text deltas (with ``"chunk_delay"`` seconds between them).
- ``{"tool_use": {"name": "Bash", "input": {...}}}``: a tool call (stop_reason ``tool_use``);
  ``"text"`` may go with it and comes first.
- ``{"ask": "question?"}`` or ``{"ask": {AskUserQuestion input}}``: an AskUserQuestion call.
- ``{"plan": "markdown"}``: an ExitPlanMode call carrying that plan.
- ``{"error": {"status": 500, "message": "...", "type": "api_error"}}``: an HTTP error answer.
- ``{"rate_limit": {"retry_after": 60, "reset": EPOCH, "status": "rejected", "claim": "five_hour",
  "message": "..."}}`` (every key optional): a 429 with the headers the real service sends
  (``retry-after``, ``anthropic-ratelimit-unified-status``, ``-reset``,
  ``-representative-claim``, ``-5h-status``...).

Any answered turn may carry ``"usage"`` (``{"input_tokens", "output_tokens",
"cache_creation_input_tokens", "cache_read_input_tokens"}``, default 12 input and 8 output
tokens), reported in message_start and message_delta as the real service does.

Any turn may carry ``"delay"`` (seconds before answering: a slow turn). Error and rate-limit
turns may carry ``"times": N`` (answer N consecutive main requests the same way, since the CLI
retries) and ``"retry": false`` (sends ``x-should-retry: false``).

Every request is appended to the log (JSON lines): ``{"time", "method", "path", "headers"
(a subset), "kind" ("main" | "side" | "probe" | "count"), "turn" (the script index answered, or
null), "body"}``, so tests can check what the CLI sent (a resumed conversation's earlier
turns, the tool_result after an approval).

Run it as a script (e.g. inside a network namespace)::

    python3 fake_api.py --script SCRIPT.json --port-file PORT --log REQUESTS.jsonl

It writes the port to ``--port-file`` once it listens and stops on SIGTERM/SIGINT. Or import
it: ``api = FakeApi(script, log_path); api.start(); ...; api.stop()``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL_FALLBACK = "claude-sonnet-4-5"
DONE_TURN: dict[str, Any] = {"text": "done."}
LOGGED_HEADERS = (
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "user-agent",
    "x-app",
    "content-type",
    "x-claude-code-session-id",
)
_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_ids):06d}{os.getpid() % 100000:05d}"


def default_question(question: str) -> dict[str, Any]:
    """AskUserQuestion input for a plain question string: two options."""
    return {
        "questions": [
            {
                "question": question,
                "header": "Choice",
                "multiSelect": False,
                "options": [
                    {"label": "Red", "description": "The warm one"},
                    {"label": "Blue", "description": "The cool one"},
                ],
            }
        ]
    }


def content_blocks(turn: dict[str, Any]) -> list[dict[str, Any]]:
    """The content blocks a successful turn answers with, in order."""
    blocks: list[dict[str, Any]] = []
    if "text" in turn:
        blocks.append({"type": "text", "text": str(turn["text"])})
    tool: dict[str, Any] | None = None
    if "tool_use" in turn:
        tool = {"name": turn["tool_use"]["name"], "input": turn["tool_use"].get("input", {})}
    elif "ask" in turn:
        ask = turn["ask"]
        tool = {
            "name": "AskUserQuestion",
            "input": default_question(ask) if isinstance(ask, str) else ask,
        }
    elif "plan" in turn:
        tool = {"name": "ExitPlanMode", "input": {"plan": str(turn["plan"])}}
    if tool is not None:
        blocks.append({"type": "tool_use", "id": _new_id("toolu"), **tool})
    if not blocks:
        blocks.append({"type": "text", "text": "done."})
    return blocks


def stop_reason(blocks: list[dict[str, Any]]) -> str:
    return "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"


def _split(text: str, pieces: int) -> list[str]:
    pieces = max(1, min(pieces, len(text) or 1))
    size = -(-len(text) // pieces) if text else 1
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def turn_usage(turn: dict[str, Any] | None = None) -> dict[str, int]:
    """The usage a turn reports: 12 input and 8 output tokens unless its ``"usage"`` says
    otherwise (``input_tokens``, ``output_tokens``, ``cache_creation_input_tokens``,
    ``cache_read_input_tokens``)."""
    usage = {
        "input_tokens": 12,
        "output_tokens": 8,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    given = (turn or {}).get("usage")
    if isinstance(given, dict):
        usage.update({k: int(v) for k, v in given.items() if k in usage})
    return usage


def sse_events(
    blocks: list[dict[str, Any]],
    model: str,
    chunks: int = 1,
    usage: dict[str, int] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of one streamed message, as (event name, data) pairs. As the
    real service does, message_start carries the input counts (and 1 output token) and
    message_delta the final output count."""
    counts = usage or turn_usage()
    start_usage = {**counts, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": _new_id("msg"),
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
    ]
    for index, block in enumerate(blocks):
        start: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": t} for t in _split(block["text"], chunks)]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        for delta in deltas:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(blocks), "stop_sequence": None},
                "usage": {"output_tokens": counts["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def error_answer(turn: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, body) of an error or rate-limit turn."""
    headers: dict[str, str] = {}
    if "rate_limit" in turn:
        spec = dict(turn["rate_limit"] or {})
        reset = int(spec.get("reset", time.time() + 3600))
        status = str(spec.get("status", "rejected"))
        claim = str(spec.get("claim", "five_hour"))
        headers = {
            "retry-after": str(int(spec.get("retry_after", 60))),
            "anthropic-ratelimit-unified-status": status,
            "anthropic-ratelimit-unified-reset": str(reset),
            "anthropic-ratelimit-unified-representative-claim": claim,
            "anthropic-ratelimit-unified-5h-status": status,
            "anthropic-ratelimit-unified-5h-reset": str(reset),
            "anthropic-ratelimit-unified-fallback-percentage": "0.5",
        }
        message = str(spec.get("message", "Number of request tokens has exceeded your rate limit"))
        code, kind = 429, "rate_limit_error"
    else:
        spec = dict(turn["error"] or {})
        code = int(spec.get("status", 500))
        kind = str(spec.get("type", "overloaded_error" if code == 529 else "api_error"))
        message = str(spec.get("message", "Internal server error"))
    if turn.get("retry") is False:
        headers["x-should-retry"] = "false"
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return code, headers, body


class Script:
    """The turns, handed out one per main request; thread-safe."""

    def __init__(self, turns: list[dict[str, Any]]) -> None:
        self._turns = [dict(t) for t in turns]
        self._next = 0
        self._repeats_left: int | None = None
        self._lock = threading.Lock()

    def take(self) -> tuple[int | None, dict[str, Any]]:
        with self._lock:
            if self._next >= len(self._turns):
                return None, DONE_TURN
            index = self._next
            turn = self._turns[index]
            if self._repeats_left is None:
                self._repeats_left = max(1, int(turn.get("times", 1)))
            self._repeats_left -= 1
            if self._repeats_left <= 0:
                self._next += 1
                self._repeats_left = None
            return index, turn


class FakeApi:
    """The server. ``start()`` listens and serves on a thread; ``stop()`` ends it."""

    def __init__(
        self, turns: list[dict[str, Any]], log_path: Path | None, host: str = "127.0.0.1"
    ) -> None:
        self.script = Script(turns)
        self.log_path = log_path
        self.host = host
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, port: int = 0) -> int:
        api = self

        class Handler(_Handler):
            owner = api

        self._server = ThreadingHTTPServer((self.host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def log(self, entry: dict[str, Any]) -> None:
        if self.log_path is None:
            return
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


def is_main_request(body: dict[str, Any]) -> bool:
    """A conversation turn offers tools; the title and other side requests do not."""
    return bool(body.get("tools"))


def side_turn(body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a side request: a JSON title where a JSON answer is asked for."""
    if body.get("output_config"):
        return {"text": json.dumps({"title": "Fake session"})}
    return {"text": "Fake session"}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the JSON log is the record; stderr stays quiet

    def _record(self, kind: str, turn: int | None, body: Any) -> None:
        headers = {k: v for k in LOGGED_HEADERS if (v := self.headers.get(k)) is not None}
        self.owner.log(
            {
                "time": time.time(),
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "kind": kind,
                "turn": turn,
                "body": body,
            }
        )

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", _new_id("req"))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._record("probe", None, None)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._record("probe", None, None)
        self._send_json(200, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record("bad", None, raw.decode(errors="replace"))
            self._send_json(400, {"type": "error", "error": {"type": "invalid_request_error"}})
            return
        path = self.path.split("?", 1)[0]
        if path.endswith("/count_tokens"):
            self._record("count", None, body)
            self._send_json(200, {"input_tokens": 100})
            return
        if not path.endswith("/v1/messages"):
            self._record("unknown", None, body)
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error"}})
            return
        if is_main_request(body):
            index, turn = self.owner.script.take()
            kind = "main"
        else:
            index, turn = None, side_turn(body)
            kind = "side"
        self._record(kind, index, body)
        if turn.get("delay"):
            time.sleep(float(turn["delay"]))
        if "error" in turn or "rate_limit" in turn:
            code, headers, err = error_answer(turn)
            self._send_json(code, err, headers)
            return
        blocks = content_blocks(turn)
        model = str(body.get("model") or MODEL_FALLBACK)
        if body.get("stream"):
            self._stream(blocks, model, turn)
        else:
            self._send_json(200, message_json(blocks, model, turn_usage(turn)))

    def _stream(self, blocks: list[dict[str, Any]], model: str, turn: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", _new_id("req"))
        self.end_headers()
        pause = float(turn.get("chunk_delay", 0))
        events = sse_events(blocks, model, int(turn.get("chunks", 1)), turn_usage(turn))
        for name, data in events:
            payload = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.flush()
            if pause and name == "content_block_delta":
                time.sleep(pause)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def message_json(
    blocks: list[dict[str, Any]], model: str, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    return {
        "id": _new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason(blocks),
        "stop_sequence": None,
        "usage": usage or turn_usage(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted fake of the Anthropic Messages API.")
    parser.add_argument("--script", type=Path, help="JSON file: a list of turns (default: none)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    parser.add_argument("--log", type=Path, help="append every request here (JSON lines)")
    args = parser.parse_args(argv)
    turns: list[dict[str, Any]] = []
    if args.script is not None:
        try:
            turns = json.loads(args.script.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"fake_api: cannot read script {args.script}: {exc}", file=sys.stderr)
            return 2
        if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
            print(f"fake_api: script {args.script} is not a list of objects", file=sys.stderr)
            return 2
    api = FakeApi(turns, args.log)
    port = api.start(args.port)
    if args.port_file is not None:
        # Written whole then renamed, so a reader never sees a half-written port.
        tmp = args.port_file.with_name(args.port_file.name + ".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
