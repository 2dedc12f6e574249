"""Claude Code transcripts in the real format (as 2.1.197 writes them; see
tests/fixtures/transcripts/real-2.1.197.jsonl), for the token-usage tests.

An API message with several content blocks is written as several assistant lines sharing
``message.id`` and ``requestId``, each repeating the message's usage, as the real CLI does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def usage_block(
    input: int, output: int, cache_write: int = 0, cache_read: int = 0, one_hour: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output,
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "cache_creation": {
            "ephemeral_1h_input_tokens": one_hour,
            "ephemeral_5m_input_tokens": cache_write - one_hour,
        },
        "inference_geo": "",
        "iterations": [],
        "speed": "standard",
    }


@dataclass
class TranscriptWriter:
    """Appends lines to one transcript file, chaining ``parentUuid`` as the CLI does."""

    path: Path
    session_id: str
    cwd: str = "/work/project"
    sidechain: bool = False
    parent: str | None = None
    lines: list[str] = field(default_factory=list)

    def _entry(self, kind: str, message: dict[str, Any], timestamp: str, **extra: Any) -> str:
        entry_id = str(uuid.uuid4())
        entry = {
            "parentUuid": self.parent,
            "isSidechain": self.sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": "2.1.197",
            "gitBranch": "main",
            "type": kind,
            "message": message,
            "uuid": entry_id,
            "timestamp": timestamp,
            **extra,
        }
        self.parent = entry_id
        return json.dumps(entry)

    def user(self, text: str, timestamp: str) -> None:
        self.lines.append(self._entry("user", {"role": "user", "content": text}, timestamp))

    def assistant(
        self,
        timestamp: str,
        model: str,
        usage: dict[str, Any],
        blocks: int = 1,
        message_id: str | None = None,
    ) -> str:
        """One API message of ``blocks`` content blocks (one line each); returns its id."""
        mid = message_id or "msg_" + uuid.uuid4().hex[:24]
        request = "req_" + uuid.uuid4().hex[:24]
        for n in range(blocks):
            block = (
                {"type": "text", "text": f"part {n}"}
                if n % 2 == 0
                else {
                    "type": "tool_use",
                    "id": "toolu_" + uuid.uuid4().hex[:20],
                    "name": "Bash",
                    "input": {"command": "true", "description": "nothing"},
                }
            )
            message = {
                "model": model,
                "id": mid,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            }
            self.lines.append(self._entry("assistant", message, timestamp, requestId=request))
        return mid

    def raw(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        """Append the lines written so far to the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for line in self.lines:
                handle.write(line + "\n")
        self.lines.clear()
