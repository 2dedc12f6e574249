#!/usr/bin/env python3
"""A fake Claude Code CLI for c3desk's tests (pure standard library, Python >= 3.11).

It behaves like Claude Code's classic interactive TUI closely enough for the engine, the needs-input
detector, hooks, continuation and artifact detection to be tested without the real ``claude``:
the same flags, transcripts in the same place, hooks with the same payloads, and screens drawn
with the same escape sequences (synchronized output, line-erase redraws, full clears, OSC titles).

Every turn (the positional prompt or a line typed at the prompt) is a tiny script so tests can
steer the fake deterministically. See ``tests/fakes/README.md`` for flags, environment and DSL.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as _dt
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import unicodedata
import uuid
import zlib
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = "2.0.0-fake (Claude Code)"

ESC = "\x1b"
CSI = ESC + "["
SYNC_ON = CSI + "?2026h"
SYNC_OFF = CSI + "?2026l"
CLEAR_ALL = CSI + "2J" + CSI + "3J" + CSI + "H"
MODIFY_OTHER_KEYS = CSI + ">4;2m"
RESET = CSI + "0m"
DIM = CSI + "2m"
BOLD = CSI + "1m"
INVERSE = CSI + "7m"
INVERSE_OFF = CSI + "27m"
ORANGE = CSI + "38;2;215;119;87m"
GRAY = CSI + "38;2;153;153;153m"
BLUE = CSI + "38;2;177;185;249m"
FG_OFF = CSI + "39m"

SPINNER_GLYPHS = ["·", "✢", "✳", "✶", "✻", "✽", "✽", "✻", "✶", "✳", "✢", "·"]
BRAILLE_GLYPHS = list("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
VERBS = ["Pondering", "Thinking", "Cogitating", "Brewing", "Percolating", "Ruminating"]
FRAME_INTERVAL = 0.1  # spinner redraws ~10x per second (not scaled by FAKE_CLAUDE_SPEED)
ESC_TIMEOUT = 0.05  # a lone ESC not followed by more bytes within this is the Esc key
PERMISSION_NOTIFY_AFTER = 6.0  # the permission_prompt Notification waits this long (scaled)
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions")
MAX_REDRAW_HISTORY = 500

# ----------------------------------------------------------------------------------------------
# Text helpers


SGR_RE = re.compile(r"\x1b\[[0-9;]*m")


def cell_width(text: str) -> int:
    """Terminal cell width of text (SGR escape sequences take no cells)."""
    width = 0
    for ch in SGR_RE.sub("", text):
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """Truncate (with an ellipsis) or pad plain text to exactly ``width`` cells."""
    if width <= 0:
        return ""
    if cell_width(text) > width:
        out = ""
        for ch in SGR_RE.sub("", text):
            if cell_width(out + ch) > width - 1:
                break
            out += ch
        text = out + "…"
    return text + " " * (width - cell_width(text))


def wrap(text: str, width: int) -> list[str]:
    """Hard-wrap plain text to ``width`` cells (keeps explicit newlines)."""
    width = max(width, 1)
    lines: list[str] = []
    for raw in text.split("\n"):
        line = ""
        for ch in raw:
            if cell_width(line + ch) > width:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return lines


def squeeze_spaces(line: str) -> str:
    """Replace runs of 4+ spaces with ``CSI n C`` as Claude Code's renderer does."""
    return re.sub(r" {4,}", lambda m: f"{CSI}{len(m.group(0))}C", line)


def box(rows: list[str], width: int, color: str = GRAY) -> list[str]:
    """A rounded box ``width`` cells wide around plain-text ``rows`` (each padded/truncated)."""
    inner = max(width - 4, 1)
    top = f"{color}╭{'─' * (width - 2)}╮{FG_OFF}"
    bottom = f"{color}╰{'─' * (width - 2)}╯{FG_OFF}"
    body = [f"{color}│{FG_OFF} {fit(r, inner)} {color}│{FG_OFF}" for r in rows]
    return [top, *body, bottom]


def speed() -> float:
    try:
        value = float(os.environ.get("FAKE_CLAUDE_SPEED", "1") or "1")
    except ValueError:
        return 1.0
    return value if value > 0 else 1.0


def scaled(seconds: float) -> float:
    return max(seconds, 0.0) / speed()


def parse_size(text: str) -> int:
    """``1500``, ``150K``, ``1.5M`` (K = 1000, M = 1000000; KiB/MiB with ``Ki``/``Mi``)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ki|mi|gi|k|m|g|kb|mb|gb|b)?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"bad size: {text!r}")
    mult = {
        None: 1,
        "b": 1,
        "k": 1000,
        "kb": 1000,
        "m": 1000_000,
        "mb": 1000_000,
        "g": 1000_000_000,
        "gb": 1000_000_000,
        "ki": 1024,
        "mi": 1024 * 1024,
        "gi": 1024 * 1024 * 1024,
    }[(m.group(2) or "").lower() or None]
    return int(float(m.group(1)) * mult)


def small_png() -> bytes:
    """A valid 16x16 RGB PNG (an orange square)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    w = h = 16
    raw = b"".join(b"\x00" + bytes((215, 119, 87)) * w for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def small_pdf(text: str = "Hello from fake claude") -> bytes:
    """A valid one-page PDF with a correct xref table."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 36 96 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


# ----------------------------------------------------------------------------------------------
# Command line


class UsageError(Exception):
    pass


@dataclass
class Options:
    session_id: str | None = None
    resume: str | None = None
    cont: bool = False
    settings: list[str] = field(default_factory=list)
    permission_mode: str = "default"
    skip_permissions: bool = False
    prompt: str | None = None
    version: bool = False
    help: bool = False


HELP = """Usage: claude [options] [prompt]

Fake Claude Code for c3desk tests - starts an interactive session by default.

Options:
  --session-id <uuid>              Use a specific session ID (must be a valid UUID)
  -r, --resume <sessionId>         Resume a conversation
  -c, --continue                   Continue the most recent conversation in this directory
  --settings <file-or-json>        Load additional settings (hooks) from a file or JSON string
  --permission-mode <mode>         default, acceptEdits, plan, bypassPermissions
  --dangerously-skip-permissions   Bypass all permission checks
  --model <model>                  Accepted and ignored
  --verbose                        Accepted and ignored
  -v, --version                    Output the version number
  -h, --help                       Display help
"""


def parse_args(argv: list[str]) -> Options:
    opts = Options()
    positional: list[str] = []
    with_value = {"--session-id", "--resume", "-r", "--settings", "--permission-mode", "--model"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, eq, inline = arg.partition("=")
        value: str | None = inline if eq else None
        if name in with_value:
            if value is None:
                if i >= len(argv) or (argv[i].startswith("-") and name != "--settings"):
                    if name in ("--resume", "-r"):
                        raise UsageError(
                            "error: option '-r, --resume <sessionId>' needs a session id "
                            "(the interactive picker is not faked)"
                        )
                    raise UsageError(f"error: option '{name}' argument missing")
                value = argv[i]
                i += 1
        elif eq:
            raise UsageError(f"error: option '{name}' does not take a value")
        if name == "--session-id":
            assert value is not None
            try:
                uuid.UUID(value)
            except ValueError:
                raise UsageError("Error: Invalid session ID. Must be a valid UUID.") from None
            opts.session_id = value
        elif name in ("--resume", "-r"):
            opts.resume = value
        elif name in ("--continue", "-c"):
            opts.cont = True
        elif name == "--settings":
            assert value is not None
            opts.settings.append(value)
        elif name == "--permission-mode":
            if value not in PERMISSION_MODES:
                raise UsageError(
                    f"error: option '--permission-mode <mode>' argument '{value}' is invalid. "
                    f"Allowed choices are {', '.join(PERMISSION_MODES)}."
                )
            opts.permission_mode = value
        elif name == "--dangerously-skip-permissions":
            opts.skip_permissions = True
        elif name in ("--model", "--verbose"):
            pass
        elif name in ("-v", "--version"):
            opts.version = True
        elif name in ("-h", "--help"):
            opts.help = True
        else:
            raise UsageError(f"error: unknown option '{arg}'")
    if len(positional) > 1:
        raise UsageError(
            f"error: too many arguments. Expected 1 argument but got {len(positional)}."
        )
    if positional:
        opts.prompt = positional[0]
    if opts.resume and opts.cont:
        raise UsageError("error: --resume and --continue cannot be used together")
    if opts.session_id and (opts.resume or opts.cont):
        raise UsageError(
            "Error: --session-id can only be used with --continue or --resume "
            "if --fork-session is also specified."
        )
    if opts.skip_permissions:
        opts.permission_mode = "bypassPermissions"
    return opts


# ----------------------------------------------------------------------------------------------
# Transcripts


def config_dir() -> Path:
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(env) if env else Path.home() / ".claude"


def encode_project(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", path)


def project_dir(cwd: str) -> Path:
    return config_dir() / "projects" / encode_project(os.path.realpath(cwd))


class Transcript:
    def __init__(self, cwd: str, session_id: str) -> None:
        self.cwd = cwd
        self.session_id = session_id
        self.path = project_dir(cwd) / f"{session_id}.jsonl"
        self.parent: str | None = None
        if self.path.exists():
            with contextlib.suppress(OSError, ValueError, IndexError):
                last = self.path.read_text(encoding="utf-8").strip().splitlines()[-1]
                self.parent = json.loads(last).get("uuid")

    def tool_use(self, name: str, tool_input: dict[str, Any], result: str) -> None:
        """Record a tool call as Claude Code does: an assistant message with a tool_use block,
        then a user message with its tool_result (what c3desk reads to learn which files a
        session wrote)."""
        tool_id = "toolu_fake_" + uuid.uuid4().hex[:20]
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        self.append("assistant", [block])
        self.append("user", [{"tool_use_id": tool_id, "type": "tool_result", "content": result}])

    def api_message(self, model: str, usage: dict[str, Any], texts: list[str]) -> None:
        """One API message as Claude Code records it: a line per content block, all sharing
        the message's id and requestId and repeating its usage."""
        mid = "msg_fake_" + uuid.uuid4().hex[:20]
        request = "req_fake_" + uuid.uuid4().hex[:20]
        for text in texts:
            entry_id = str(uuid.uuid4())
            message = {
                "model": model,
                "id": mid,
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            }
            self.write_entry("assistant", message, entry_id, requestId=request)

    def append(self, kind: str, content: Any) -> None:
        entry_id = str(uuid.uuid4())
        if kind == "user":
            message: dict[str, Any] = {"role": "user", "content": content}
        else:
            message = {
                "id": "msg_fake_" + entry_id.replace("-", "")[:20],
                "type": "message",
                "role": "assistant",
                "model": "claude-fake",
                # A list is already content blocks (tool_use, as the real CLI records them).
                "content": content
                if isinstance(content, list)
                else [{"type": "text", "text": content}],
                "stop_reason": None,
                "usage": {"input_tokens": 1, "output_tokens": max(1, len(str(content)) // 4)},
            }
        self.write_entry(kind, message, entry_id)

    def write_entry(self, kind: str, message: dict[str, Any], entry_id: str, **extra: Any) -> None:
        entry = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION.split()[0],
            "gitBranch": "",
            "type": kind,
            "message": message,
            "uuid": entry_id,
            "timestamp": _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z"),
            **extra,
        }
        self.parent = entry_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def newest_transcript(cwd: str) -> str | None:
    folder = project_dir(cwd)
    try:
        files = [p for p in folder.glob("*.jsonl") if p.is_file()]
    except OSError:
        return None
    if not files:
        return None
    return max(files, key=lambda p: p.stat().st_mtime_ns).stem


# ----------------------------------------------------------------------------------------------
# Hooks


def load_settings(specs: list[str], cwd: str) -> list[dict[str, Any]]:
    """User settings, project settings, then each --settings (file path or inline JSON)."""
    found: list[dict[str, Any]] = []
    for path in (
        config_dir() / "settings.json",
        Path(cwd) / ".claude" / "settings.json",
        Path(cwd) / ".claude" / "settings.local.json",
    ):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                found.append(data)
    for spec in specs:
        text = spec.strip()
        try:
            if not text.startswith("{"):
                text = Path(spec).read_text(encoding="utf-8")
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise UsageError(f"Error: Invalid settings {spec!r}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"Error: Invalid settings {spec!r}: not a JSON object")
        found.append(data)
    return found


def matcher_matches(matcher: Any, value: str | None) -> bool:
    if value is None or matcher in (None, "", "*"):
        return True
    if not isinstance(matcher, str):
        return False
    if re.fullmatch(r"[A-Za-z0-9_|]+", matcher):
        return value in matcher.split("|")
    try:
        return re.search(matcher, value) is not None
    except re.error:
        return False


class Hooks:
    def __init__(self, settings: list[dict[str, Any]], cwd: str) -> None:
        self.cwd = cwd
        self.by_event: dict[str, list[dict[str, Any]]] = {}
        for data in settings:
            hooks = data.get("hooks")
            if not isinstance(hooks, dict):
                continue
            for event, groups in hooks.items():
                if isinstance(groups, list):
                    self.by_event.setdefault(event, []).extend(
                        g for g in groups if isinstance(g, dict)
                    )
        try:
            self.default_timeout = float(os.environ.get("FAKE_CLAUDE_HOOK_TIMEOUT", "30"))
        except ValueError:
            self.default_timeout = 30.0

    def commands(self, event: str, match_value: str | None) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for group in self.by_event.get(event, []):
            if not matcher_matches(group.get("matcher"), match_value):
                continue
            for hook in group.get("hooks") or []:
                if not isinstance(hook, dict) or hook.get("type", "command") != "command":
                    continue
                command = hook.get("command")
                if isinstance(command, str) and command:
                    timeout = hook.get("timeout")
                    t = float(timeout) if isinstance(timeout, int | float) else None
                    out.append((command, t if t and t > 0 else self.default_timeout))
        return out

    def run(self, event: str, match_value: str | None, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        env = dict(os.environ, CLAUDE_PROJECT_DIR=self.cwd)
        for command, timeout in self.commands(event, match_value):
            try:
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", command],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=self.cwd,
                    env=env,
                    start_new_session=True,
                )
            except OSError:
                continue
            try:
                assert proc.stdin is not None
                with contextlib.suppress(OSError):
                    proc.stdin.write(data)
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# ----------------------------------------------------------------------------------------------
# Terminal


class Terminal:
    def __init__(self) -> None:
        self.fd_in = 0
        self.fd_out = 1
        self.is_tty = os.isatty(self.fd_in)
        self.saved: list[Any] | None = None
        self.cols, self.rows = 80, 24
        self.log_fd: int | None = None  # FAKE_CLAUDE_OUTPUT_LOG, opened at the first write
        self.refresh_size()

    def refresh_size(self) -> None:
        for fd in (self.fd_out, self.fd_in):
            try:
                packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                rows, cols = struct.unpack("HHHH", packed)[:2]
            except OSError:
                continue
            if rows and cols:
                self.rows, self.cols = rows, cols
                return
        self.cols = int(os.environ.get("COLUMNS", "80") or 80)
        self.rows = int(os.environ.get("LINES", "24") or 24)

    def enter_raw(self) -> None:
        if not self.is_tty:
            return
        try:
            self.saved = termios.tcgetattr(self.fd_in)
            mode = termios.tcgetattr(self.fd_in)
        except termios.error:
            return
        # Raw input (no echo, no line editing, no signals) and raw output: the fake writes
        # CR LF itself, so the bytes the terminal reads are exactly the bytes written.
        mode[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
        mode[1] &= ~termios.OPOST
        mode[2] |= termios.CS8
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        with contextlib.suppress(termios.error):
            termios.tcsetattr(self.fd_in, termios.TCSADRAIN, mode)  # keeps type-ahead

    def restore(self) -> None:
        if self.saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self.saved)
            self.saved = None

    def write(self, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd_out, view)
            except InterruptedError:
                continue
            except OSError:
                # The terminal went away: nothing more can be shown.
                os._exit(1)
            self.log_output(view[:n])
            view = view[n:]

    def log_output(self, written: memoryview) -> None:
        """Append what the terminal took to FAKE_CLAUDE_OUTPUT_LOG: unbuffered, so the log
        holds every byte written even if the fake is killed right after."""
        path = os.environ.get("FAKE_CLAUDE_OUTPUT_LOG")
        if not path:
            return
        if self.log_fd is None:
            self.log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        while written:
            written = written[os.write(self.log_fd, written) :]


def erase_lines(count: int) -> str:
    """Ink's eraseLines: clear the current line, then ``count`` more above it, back to column 1."""
    return CSI + "2K" + (CSI + "1A" + CSI + "2K") * count + CSI + "G"


class Renderer:
    """Static history printed once (it scrolls up) plus a live region redrawn at the bottom."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self.history: list[str] = []
        self.pending: list[str] = []
        self.prev_dynamic = 0

    def commit(self, lines: Iterable[str]) -> None:
        lines = list(lines)
        self.history.extend(lines)
        self.pending.extend(lines)
        del self.history[:-MAX_REDRAW_HISTORY]

    def reset(self) -> None:
        self.history.clear()
        self.pending.clear()

    def frame(self, dynamic: list[str], full: bool = False, title: str | None = None) -> str:
        limit = max(self.term.rows - 1, 1)
        dynamic = dynamic[-limit:]
        out = [SYNC_ON]
        if full:
            out.append(CLEAR_ALL + MODIFY_OTHER_KEYS)
            body = list(self.history)
        else:
            out.append(erase_lines(self.prev_dynamic))
            body = list(self.pending)
        self.pending.clear()
        out.extend(line + RESET + "\r\n" for line in body)
        out.extend(squeeze_spaces(line) + RESET + "\r\n" for line in dynamic)
        if title is not None:
            out.append(f"{ESC}]0;{title}\x07")
        out.append(SYNC_OFF)
        # Rows, not lines: a line wider than the terminal wraps onto more rows, all of which
        # the next frame must erase (Ink counts what it printed the same way).
        cols = max(self.term.cols, 1)
        self.prev_dynamic = sum(max(1, -(-cell_width(line) // cols)) for line in dynamic)
        return "".join(out)


# ----------------------------------------------------------------------------------------------
# Keyboard input


@dataclass
class Key:
    name: str  # text, paste, enter, newline, backspace, esc, up, down, left, right, ctrl-c, ...
    text: str = ""


class KeyParser:
    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = ""
        self.paste: str | None = None

    def feed(self, data: bytes) -> list[Key]:
        self.buf += self.decoder.decode(data)
        return self._parse(final=False)

    def pending_escape(self) -> bool:
        return self.buf == ESC

    def flush(self) -> list[Key]:
        return self._parse(final=True)

    def _parse(self, final: bool) -> list[Key]:
        keys: list[Key] = []
        buf = self.buf
        i = 0
        text = ""

        def emit(key: Key) -> None:
            nonlocal text
            if text:
                keys.append(Key("text", text))
                text = ""
            keys.append(key)

        while i < len(buf):
            if self.paste is not None:
                end = buf.find(CSI + "201~", i)
                if end < 0:
                    self.paste += buf[i:]
                    i = len(buf)
                    break
                self.paste += buf[i:end]
                emit(Key("paste", self.paste.replace("\r\n", "\n").replace("\r", "\n")))
                self.paste = None
                i = end + 6
                continue
            ch = buf[i]
            if ch == ESC:
                if i + 1 >= len(buf):
                    if final:
                        emit(Key("esc"))
                        i += 1
                    break
                nxt = buf[i + 1]
                if nxt == "[":
                    j = i + 2
                    while j < len(buf) and not ("@" <= buf[j] <= "~"):
                        j += 1
                    if j >= len(buf):
                        break  # incomplete CSI
                    params, final_ch = buf[i + 2 : j], buf[j]
                    i = j + 1
                    if params == "200" and final_ch == "~":
                        if text:
                            keys.append(Key("text", text))
                            text = ""
                        self.paste = ""
                        continue
                    name = {"A": "up", "B": "down", "C": "right", "D": "left", "Z": "shift-tab"}
                    if final_ch in name:
                        emit(Key(name[final_ch]))
                    continue  # focus events, other keys: ignored
                if nxt == "O":
                    if i + 2 >= len(buf):
                        break
                    name = {"A": "up", "B": "down", "C": "right", "D": "left"}
                    if buf[i + 2] in name:
                        emit(Key(name[buf[i + 2]]))
                    i += 3
                    continue
                if nxt in "\r\n":
                    emit(Key("newline"))
                    i += 2
                    continue
                if nxt == ESC:
                    emit(Key("esc"))
                    i += 1
                    continue
                i += 2  # alt+key: ignored
                continue
            i += 1
            if ch in "\r\n":
                if ch == "\r" and i < len(buf) and buf[i] == "\n":
                    i += 1
                emit(Key("enter"))
            elif ch in "\x7f\x08":
                emit(Key("backspace"))
            elif ch == "\x03":
                emit(Key("ctrl-c"))
            elif ch == "\x04":
                emit(Key("ctrl-d"))
            elif ch == "\x15":
                emit(Key("ctrl-u"))
            elif ch == "\t":
                emit(Key("tab"))
            elif ch >= " ":
                text += ch
        if text:
            keys.append(Key("text", text))
        self.buf = buf[i:]
        return keys


# ----------------------------------------------------------------------------------------------
# Turn scripts


class Interrupted(Exception):
    pass


@dataclass
class Sleep:
    seconds: float  # already scaled
    spinner: bool = True
    quiet: bool = False  # no redraws at all (the flood draws the screen itself)


@dataclass
class Menu:
    kind: str  # permission, trust, question, plan
    render: Callable[[int, int], list[str]]  # (cursor, width) -> lines
    count: int
    cancel: int | None  # option chosen by Esc (None: Esc cancels the menu)
    tool: str = ""
    cursor: int = 0


Request = Sleep | Menu
Script = Generator[Request, int | None, None]

DIRECTIVES = {
    "think",
    "sleep",
    "say",
    "ask",
    "edit",
    "write",
    "question",
    "fakeprompt",
    "flood",
    "exit",
    "signal",
    "trust",
    "plan",
    "limit",
    "usage",
}


def split_script(text: str) -> list[tuple[str, str]] | None:
    """``think 2; say hi`` -> [("think", "2"), ("say", "hi")]; None when not a script."""
    pieces = [p.replace("\x00", ";").strip() for p in text.replace("\\;", "\x00").split(";")]
    pieces = [p for p in pieces if p]
    if not pieces:
        return None
    steps: list[tuple[str, str]] = []
    for piece in pieces:
        word, _, rest = piece.partition(" ")
        steps.append((word.lower(), rest.strip()))
    if steps[0][0] not in DIRECTIVES:
        return None
    return steps


def permission_lines(
    title: str, detail: list[str], question: str, options: list[str], cursor: int, width: int
) -> list[str]:
    rows = [title, "", *detail, "", question]
    for n, label in enumerate(options):
        pointer = "❯" if n == cursor else " "
        rows.append(f"{pointer} {n + 1}. {label}")
    return box(rows, width, color=BLUE)


BASH_OPTIONS = [
    "Yes",
    "Yes, and don't ask again for this command",
    "No, and tell Claude what to do differently (esc)",
]
EDIT_OPTIONS = [
    "Yes",
    "Yes, allow all edits during this session (shift+tab)",
    "No, and tell Claude what to do differently (esc)",
]


class FakeClaude:
    def __init__(self, opts: Options, cwd: str) -> None:
        self.opts = opts
        self.cwd = cwd
        self.term = Terminal()
        self.renderer = Renderer(self.term)
        self.keys = KeyParser()
        self.permission_mode = opts.permission_mode
        self.source = "startup"
        if opts.resume:
            self.session_id = opts.resume
            self.source = "resume"
        elif opts.cont:
            found = newest_transcript(cwd)
            assert found is not None
            self.session_id = found
            self.source = "resume"
        else:
            self.session_id = opts.session_id or str(uuid.uuid4())
        self.transcript = Transcript(cwd, self.session_id)
        self.hooks = Hooks(load_settings(opts.settings, cwd), cwd)
        self.input = ""
        self.queue: list[str] = []
        self.turn: Script | None = None
        self.turn_index = 0
        self.request: Request | None = None
        self.sleep_until = 0.0
        self.turn_started = 0.0
        self.verb = VERBS[0]
        self.tokens = 0
        self.ctrl_c_at = 0.0
        self.idle_since = time.monotonic()
        self.idle_notified = False
        self.permission_shown: float | None = None  # when the open permission box appeared
        self.allowed_commands: set[str] = set()
        self.eof = False
        self.need_full = False
        self.spinner_style = os.environ.get("FAKE_CLAUDE_SPINNER", "default")
        self.wake_r, self.wake_w = os.pipe()
        self.flood_cache: dict[tuple[int, ...], tuple[bytes, int]] = {}

    # -- hooks ---------------------------------------------------------------------------------

    def fire(self, event: str, match_value: str | None = None, **fields: Any) -> None:
        payload: dict[str, Any] = {
            "session_id": self.session_id,
            "transcript_path": str(self.transcript.path),
            "cwd": self.cwd,
            "permission_mode": self.permission_mode,
            "hook_event_name": event,
        }
        payload.update(fields)
        self.hooks.run(event, match_value, payload)

    # -- drawing -------------------------------------------------------------------------------

    def spinner_line(self) -> str:
        elapsed = time.monotonic() - self.turn_started
        frame = int(elapsed / FRAME_INTERVAL)
        glyphs = BRAILLE_GLYPHS if self.spinner_style == "braille" else SPINNER_GLYPHS
        glyph = glyphs[frame % len(glyphs)]
        self.tokens = int(120 + elapsed * 180)
        tokens = f"{self.tokens / 1000:.1f}k" if self.tokens >= 1000 else str(self.tokens)
        parts = [f"{int(elapsed)}s", f"↑ {tokens} tokens"]
        if self.spinner_style in ("ctrlc",):
            parts.append("ctrl+c to interrupt")
        elif self.spinner_style not in ("bare",):
            parts.append("esc to interrupt")
        return f"{ORANGE}{glyph} {self.verb}…{FG_OFF} {GRAY}({' · '.join(parts)}){FG_OFF}"

    def prompt_box(self) -> list[str]:
        width = self.term.cols
        inner = max(width - 6, 1)
        rows: list[str] = []
        for n, line in enumerate(self.input.split("\n")):
            for k, chunk in enumerate(wrap(line, inner)):
                rows.append(("> " if n == 0 and k == 0 else "  ") + chunk)
        top = f"{GRAY}╭{'─' * (width - 2)}╮{FG_OFF}"
        bottom = f"{GRAY}╰{'─' * (width - 2)}╯{FG_OFF}"
        body = []
        for n, row in enumerate(rows):
            text = fit(row, width - 4)
            if n == len(rows) - 1:
                # Claude hides the terminal cursor and draws its own (an inverse cell).
                used = cell_width(row)
                if used < width - 4:
                    text = row + INVERSE + " " + INVERSE_OFF + " " * (width - 5 - used)
            body.append(f"{GRAY}│{FG_OFF} {text} {GRAY}│{FG_OFF}")
        return [top, *body, bottom]

    def footer(self) -> str:
        if self.ctrl_c_at and time.monotonic() - self.ctrl_c_at < 2.0:
            return f"  {DIM}Press Ctrl-C again to exit{RESET}"
        if self.permission_mode == "acceptEdits":
            return f"  {CSI}35m⏵⏵ accept edits on (shift+tab to cycle){FG_OFF}"
        if self.permission_mode == "plan":
            return f"  {CSI}36m⏸ plan mode on (shift+tab to cycle){FG_OFF}"
        if self.permission_mode == "bypassPermissions":
            return f"  {CSI}31m⏵⏵ bypass permissions on (shift+tab to cycle){FG_OFF}"
        return f"  {DIM}? for shortcuts{RESET}"

    def dynamic(self) -> list[str]:
        req = self.request
        if isinstance(req, Menu):
            return ["", *req.render(req.cursor, self.term.cols)]
        lines = [""]
        if isinstance(req, Sleep) and req.spinner:
            lines += [self.spinner_line(), ""]
        return [*lines, *self.prompt_box(), self.footer()]

    def title(self) -> str:
        if isinstance(self.request, Sleep) and self.request.spinner:
            return "✻ Claude Code"
        return "✳ Claude Code"

    def render(self, full: bool = False) -> None:
        if isinstance(self.request, Sleep) and self.request.quiet:
            return
        full = full or self.need_full
        self.need_full = False
        self.term.write(self.renderer.frame(self.dynamic(), full=full, title=self.title()))

    def say(self, text: str, record: bool = True) -> None:
        width = self.term.cols
        lines = wrap(text, max(width - 3, 1))
        out = [f"● {lines[0]}"] + [f"  {line}" for line in lines[1:]]
        self.renderer.commit(["", *out])
        if record:
            self.transcript.append("assistant", text)

    def note(self, text: str) -> None:
        self.renderer.commit([f"  {GRAY}⎿  {text}{FG_OFF}"])

    # -- lifecycle -----------------------------------------------------------------------------

    def welcome(self) -> list[str]:
        rows = [
            "✻ Welcome to Claude Code!",
            "",
            "  /help for help, /status for your current setup",
            "",
            f"  cwd: {self.cwd}",
        ]
        width = min(self.term.cols, max(56, cell_width(rows[-1]) + 4))
        lines = box(rows, width, color=ORANGE)
        lines[1] = lines[1].replace("✻", f"{ORANGE}✻{FG_OFF}", 1)
        return lines

    def start(self) -> None:
        self.term.enter_raw()
        self.term.write(
            MODIFY_OTHER_KEYS
            + CSI
            + "?u"
            + CSI
            + "?2026$p"
            + CSI
            + "?1004h"
            + CSI
            + "?2004h"
            + CSI
            + "?25l"
            + f"{ESC}]0;✳ Claude Code\x07"
        )
        self.renderer.commit(self.welcome())
        if self.source == "resume":
            self.renderer.commit(["", f"  {GRAY}Resumed conversation {self.session_id}{FG_OFF}"])
        self.render()
        self.fire("SessionStart", self.source, source=self.source)
        if os.environ.get("FAKE_CLAUDE_TRUST_DIALOG") == "1":
            self.begin_turn(None, self.trust_script())
        if self.opts.prompt is not None and self.opts.prompt.strip():
            self.submit(self.opts.prompt)

    def shutdown(self, code: int, reason: str) -> None:
        self.fire("SessionEnd", reason, reason=reason)
        self.term.write(
            SYNC_ON
            + erase_lines(0)
            + SYNC_OFF
            + CSI
            + "?2004l"
            + CSI
            + "?1004l"
            + CSI
            + "?25h"
            + CSI
            + ">4m"
        )
        self.term.restore()
        sys.exit(code)

    def die_by_signal(self, name: str) -> None:
        name = name.strip().upper() or "TERM"
        if not name.startswith("SIG"):
            name = "SIG" + name
        signum = getattr(signal, name, None)
        if not isinstance(signum, int):
            self.say(f"Unknown signal {name}", record=False)
            return
        self.term.restore()
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        time.sleep(5)
        os._exit(128 + signum)

    # -- turns ---------------------------------------------------------------------------------

    def submit(self, text: str) -> None:
        if self.turn is not None:
            self.queue.append(text)
            return
        stripped = text.strip()
        if stripped.startswith("/"):
            self.slash(stripped)
            return
        self.renderer.commit(["", *[f"{GRAY}> {line}{FG_OFF}" for line in text.split("\n")]])
        self.transcript.append("user", text)
        self.fire("UserPromptSubmit", None, prompt=text)
        self.begin_turn(text, self.turn_script(text))

    def slash(self, command: str) -> None:
        name = command.split()[0].lower()
        if name in ("/exit", "/quit"):
            self.shutdown(0, "prompt_input_exit")
        elif name == "/clear":
            self.fire("SessionEnd", "clear", reason="clear")
            self.session_id = str(uuid.uuid4())
            self.transcript = Transcript(self.cwd, self.session_id)
            self.renderer.reset()
            self.need_full = True
            self.render()
            self.fire("SessionStart", "clear", source="clear")
        elif name == "/status":
            self.renderer.commit(
                [
                    "",
                    f"  Session ID: {self.session_id}",
                    f"  cwd: {self.cwd}",
                    f"  Permission mode: {self.permission_mode}",
                ]
            )
            self.render()
        elif name == "/help":
            self.renderer.commit(["", "  Fake Claude Code: see tests/fakes/README.md"])
            self.render()
        else:
            self.renderer.commit(["", f"  Unknown slash command: {name[1:]}"])
            self.render()

    def begin_turn(self, text: str | None, script: Script) -> None:
        self.turn = script
        self.turn_index += 1
        self.turn_started = time.monotonic()
        self.verb = VERBS[(self.turn_index - 1) % len(VERBS)]
        self.advance(None)

    def advance(self, value: int | None) -> None:
        """Run the turn script until it waits for time or for a menu choice."""
        assert self.turn is not None
        try:
            req = self.turn.send(value)
        except StopIteration:
            self.end_turn(stopped=True)
            return
        except Interrupted:
            self.end_turn(stopped=False)
            return
        self.request = req
        if isinstance(req, Sleep):
            self.sleep_until = time.monotonic() + req.seconds
            self.render()
        else:
            if req.kind == "permission":
                # As Claude Code 2.1: PermissionRequest as the box is drawn; the
                # permission_prompt Notification only once it has waited 6 s unanswered.
                self.fire(
                    "PermissionRequest",
                    req.tool,
                    tool_name=req.tool,
                    tool_input={},
                    permission_suggestions=[],
                )
                self.permission_shown = time.monotonic()
            self.render()

    def interrupt(self, message: str = "Interrupted · What should Claude do instead?") -> None:
        if self.turn is None:
            return
        with contextlib.suppress(StopIteration, Interrupted):
            self.turn.close()
        self.note(message)
        self.transcript.append("user", "[Request interrupted by user]")
        self.end_turn(stopped=False)

    def end_turn(self, stopped: bool) -> None:
        self.turn = None
        self.request = None
        self.render()
        self.term.write(MODIFY_OTHER_KEYS)
        if stopped:
            self.fire("Stop", None, stop_hook_active=False)
        self.idle_since = time.monotonic()
        self.idle_notified = False
        if self.queue:
            self.submit(self.queue.pop(0))

    def turn_script(self, text: str) -> Script:
        steps = split_script(text)
        if steps is None:
            yield Sleep(scaled(0.5))
            self.say(f"You said: {' '.join(text.split())}")
            return
        for name, arg in steps:
            yield from self.directive(name, arg)

    def directive(self, name: str, arg: str) -> Script:
        if name in ("think", "sleep"):
            try:
                seconds = float(arg or "1")
            except ValueError:
                self.say(f"Bad duration: {arg}", record=False)
                return
            yield Sleep(scaled(seconds), spinner=name == "think")
        elif name == "say":
            self.say(arg or "OK")
        elif name == "usage":
            self.use_tokens(arg)
        elif name == "ask":
            yield from self.ask_bash(arg or "echo hello")
        elif name == "edit":
            yield from self.edit_file(arg)
        elif name == "write":
            self.write_file(arg)
        elif name == "question":
            yield from self.question(arg)
        elif name == "fakeprompt":
            yield from self.fake_prompt(arg)
        elif name == "flood":
            yield from self.flood(arg)
        elif name == "exit":
            try:
                code = int(arg or "0")
            except ValueError:
                code = 1
            self.render()  # what the turn printed stays on screen, as Claude Code leaves it
            self.shutdown(code, "other")
        elif name == "signal":
            self.die_by_signal(arg)
        elif name == "trust":
            yield from self.trust_script()
        elif name == "plan":
            yield from self.plan(arg)
        elif name == "limit":
            yield from self.usage_limit(arg)
        else:
            self.say(f"Unknown directive: {name}", record=False)

    def tool_call(self, tool: str, tool_input: dict[str, Any]) -> None:
        self.fire("PreToolUse", tool, tool_name=tool, tool_input=tool_input)

    def ask_bash(self, command: str) -> Script:
        self.tool_call("Bash", {"command": command, "description": f"Run {command}"})
        self.renderer.commit(["", f"● Bash({command})"])
        if self.permission_mode != "bypassPermissions" and command not in self.allowed_commands:
            choice = yield Menu(
                "permission",
                lambda cur, width: permission_lines(
                    "Bash command",
                    [f"  {command}", f"  {GRAY}Run {command}{FG_OFF}"],
                    "Do you want to proceed?",
                    BASH_OPTIONS,
                    cur,
                    width,
                ),
                3,
                cancel=2,
                tool="Bash",
            )
            if choice == 2 or choice is None:
                self.reject()
            if choice == 1:
                self.allowed_commands.add(command)
        self.fire("PostToolUse", "Bash", tool_name="Bash", tool_input={"command": command})
        self.say(f"Ran {command}")

    def reject(self) -> None:
        self.note("No (tell Claude what to do differently)")
        self.transcript.append("user", "[Request interrupted by user for tool use]")
        raise Interrupted

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.cwd) / p

    def edit_file(self, arg: str) -> Script:
        name, _, text = (arg or "notes.txt").partition(" ")
        target = self.resolve(name)
        new_line = text or f"edited by fake claude (turn {self.turn_index})"
        self.tool_call("Edit", {"file_path": str(target), "new_string": new_line})
        if self.permission_mode not in ("acceptEdits", "bypassPermissions"):
            old = ""
            with contextlib.suppress(OSError, UnicodeDecodeError):
                old = target.read_text(encoding="utf-8").splitlines()[-1]
            detail = [
                f"  {name}",
                *([f"   1   {old}"] if old else []),
                f"   2 {CSI}32m+ {new_line}{FG_OFF}",
            ]
            choice = yield Menu(
                "permission",
                lambda cur, width: permission_lines(
                    "Edit file",
                    detail,
                    f"Do you want to make this edit to {Path(name).name}?",
                    EDIT_OPTIONS,
                    cur,
                    width,
                ),
                3,
                cancel=2,
                tool="Edit",
            )
            self.renderer.commit(["", f"● Update({name})"])
            if choice == 2 or choice is None:
                self.reject()
            if choice == 1:
                self.permission_mode = "acceptEdits"
        else:
            self.renderer.commit(["", f"● Update({name})"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as fh:
            fh.write(new_line + "\n")
        self.transcript.tool_use(
            "Edit",
            {"file_path": str(target), "old_string": "", "new_string": new_line},
            f"The file {target} has been updated successfully.",
        )
        self.note(f"Updated {name} with 1 addition")
        self.transcript.append("assistant", f"Edited {name}")

    def use_tokens(self, arg: str) -> None:
        """``usage IN OUT [CACHE_WRITE [CACHE_READ [MODEL]]]``: an API message that used these
        tokens (default model claude-sonnet-5-5), recorded as two lines sharing its id."""
        words = arg.split()
        try:
            counts = [int(w) for w in words[:4]]
        except ValueError:
            self.say(f"Bad token counts: {arg}", record=False)
            return
        counts += [0] * (4 - len(counts))
        model = words[4] if len(words) > 4 else "claude-sonnet-5-5"
        usage = {
            "input_tokens": counts[0],
            "cache_creation_input_tokens": counts[2],
            "cache_read_input_tokens": counts[3],
            "output_tokens": counts[1],
            "service_tier": "standard",
            "cache_creation": {
                "ephemeral_1h_input_tokens": counts[2],
                "ephemeral_5m_input_tokens": 0,
            },
        }
        self.transcript.api_message(model, usage, ["Thinking it over.", "Done."])
        self.renderer.commit(["", f"● Used {sum(counts)} tokens"])

    def write_file(self, arg: str) -> None:
        name, _, text = (arg or "output.txt").partition(" ")
        target = self.resolve(name)
        self.tool_call("Write", {"file_path": str(target)})
        suffix = target.suffix.lower()
        if suffix == ".png":
            data = small_png()
        elif suffix == ".pdf":
            data = small_pdf(text or "Hello from fake claude")
        else:
            data = ((text or "written by fake claude") + "\n").encode("utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.transcript.tool_use(
            "Write",
            {"file_path": str(target), "content": data.decode("utf-8", "replace")},
            f"File created successfully at: {target}",
        )
        lines = data.count(b"\n") if suffix not in (".png", ".pdf") else 1
        self.renderer.commit(["", f"● Write({name})"])
        self.note(f"Wrote {lines} lines to {name}")
        self.transcript.append("assistant", f"Wrote {name}")

    def question(self, arg: str) -> Script:
        parts = [p.strip() for p in arg.split("|")] if arg.strip() else []
        question = parts[0] if parts else "Which option do you prefer?"
        options = [p for p in parts[1:] if p] or ["Option A", "Option B", "Option C"]
        self.tool_call(
            "AskUserQuestion",
            {
                "questions": [
                    {
                        "question": question,
                        "header": "Question",
                        "options": [{"label": o, "description": ""} for o in options],
                        "multiSelect": False,
                    }
                ]
            },
        )

        def render(cur: int, width: int) -> list[str]:
            lines = [f"{GRAY}{'─' * max(width - 1, 1)}{FG_OFF}", f" {INVERSE} ☐ Question {RESET}"]
            lines += ["", f" {question}", ""]
            for n, label in enumerate(options):
                pointer = f"{BLUE}❯{FG_OFF}" if n == cur else " "
                lines.append(f" {pointer} {n + 1}. {label}")
            lines += [
                "",
                f" {DIM}Use arrow keys to navigate · Press Enter to select · Esc to cancel",
            ]
            return lines

        choice = yield Menu("question", render, len(options), cancel=None)
        if choice is None:
            self.note("User declined to answer questions")
            raise Interrupted
        self.say(f"You chose: {options[choice]}")

    def plan(self, arg: str) -> Script:
        plan_text = arg or "1. Read the code\n2. Make the change\n3. Run the tests"
        self.tool_call("ExitPlanMode", {"plan": plan_text})
        options = [
            "Yes, and auto-accept edits",
            "Yes, and manually approve edits",
            "No, keep planning",
        ]

        def render(cur: int, width: int) -> list[str]:
            rows = ["Ready to code?", "", "Here is Claude's plan:", ""]
            rows += [f"  {line}" for line in plan_text.split("\n")]
            rows += ["", "Would you like to proceed?", ""]
            rows += [f"{'❯' if n == cur else ' '} {n + 1}. {o}" for n, o in enumerate(options)]
            return box(rows, width, color=BLUE)

        choice = yield Menu("plan", render, 3, cancel=2)
        if choice is None or choice == 2:
            self.note("User rejected Claude's plan")
            raise Interrupted
        self.permission_mode = "acceptEdits" if choice == 0 else "default"
        self.say("Plan approved")

    def usage_limit(self, arg: str) -> Script:
        """The account's usage limit, as Claude Code 2.1.197 shows it to a claude.ai login (a
        429 with ``anthropic-ratelimit-unified-status: rejected``): the limit line under the
        prompt, then its /rate-limit-options menu; waiting (1, Enter, Esc) leaves the prompt,
        and the turn ends without Stop (StopFailure, as a failed turn)."""
        reset = " ".join(arg.split()) or "3pm (UTC)"
        self.note(f"You've hit your session limit · resets {reset}")
        self.renderer.commit(["", "✻ Worked for 0s"])
        options = ["Stop and wait for limit to reset", "Upgrade your plan"]

        def render(cur: int, width: int) -> list[str]:
            lines = ["", f"{GRAY}> /rate-limit-options{FG_OFF}", ""]
            lines += [f"{GRAY}{'─' * max(width - 1, 1)}{FG_OFF}", "  What do you want to do?", ""]
            lines += [f"  {'❯' if n == cur else ' '} {n + 1}. {o}" for n, o in enumerate(options)]
            return [*lines, "", f"  {DIM}Enter to confirm · Esc to cancel{RESET}"]

        choice = yield Menu("limit", render, 2, cancel=0)
        if choice == 1:
            self.note("Run /upgrade to change your plan")
        self.fire("StopFailure", None, error="rate_limit")
        raise Interrupted

    def trust_script(self) -> Script:
        options = ["Yes, proceed", "No, exit"]

        def render(cur: int, width: int) -> list[str]:
            rows = [
                "Do you trust the files in this folder?",
                "",
                self.cwd,
                "",
                "Claude Code may read, write, or execute files contained in this directory.",
                "This can pose security risks, so only use files from trusted sources.",
                "",
            ]
            rows += [f"{'❯' if n == cur else ' '} {n + 1}. {o}" for n, o in enumerate(options)]
            return [*box(rows, width, color=ORANGE), f"   {DIM}Enter to confirm · Esc to exit"]

        choice = yield Menu("trust", render, 2, cancel=1)
        if choice != 0:
            self.shutdown(1, "other")

    def fake_prompt(self, arg: str) -> Script:
        try:
            seconds = float(arg or "3")
        except ValueError:
            seconds = 3.0
        self.renderer.commit(["", "● Read(docs/prompts.txt)", f"  {GRAY}⎿  Read 14 lines{FG_OFF}"])
        self.renderer.commit(["", "● Here is the file content:"])
        dump = permission_lines(
            "Bash command",
            ["  rm -rf build", f"  {GRAY}Run rm -rf build{FG_OFF}"],
            "Do you want to proceed?",
            BASH_OPTIONS,
            0,
            self.term.cols,
        )
        self.renderer.commit(dump)
        self.transcript.append("assistant", "Here is the file content: Do you want to proceed?")
        yield Sleep(scaled(seconds))
        self.say("That box above was only file content.")

    def flood(self, arg: str) -> Script:
        words = arg.split()
        try:
            total = parse_size(words[0]) if words else 1_000_000
            unlimited = len(words) > 1 and words[1].lower() in ("max", "0")
            rate = float(parse_size(words[1])) if len(words) > 1 and not unlimited else 150_000.0
        except ValueError as exc:
            self.say(str(exc), record=False)
            return
        rate = float("inf") if unlimited else max(rate, 1.0)
        yield Sleep(0)  # draw what is pending first
        start = time.monotonic()
        sent = 0
        n = 0
        try:
            while sent < total:
                full = n % 23 == 22
                size = min(90_000 if full else 2_700, total - sent)
                data = self.flood_frame(size, full, n, time.monotonic() - start)
                self.term.write(data)
                sent += len(data)
                n += 1
                wait = start + sent / rate - time.monotonic()
                if wait > 0 or n % 16 == 0:
                    yield Sleep(max(wait, 0.0), spinner=True, quiet=True)
        finally:
            self.need_full = True
        self.say(f"Flooded {sent} bytes in {time.monotonic() - start:.1f}s")

    def flood_frame(self, size: int, full: bool, n: int, elapsed: float) -> bytes:
        """One synchronized frame of exactly ``size`` bytes (a line redraw or a full clear)."""
        key = (
            size,
            full,
            self.renderer.prev_dynamic,
            self.term.cols,
            self.term.rows,
            n % len(SPINNER_GLYPHS),
            int(elapsed),
        )
        hit = self.flood_cache.get(key)
        if hit is None:
            if len(self.flood_cache) > 64:
                self.flood_cache.clear()
            frame = self.build_flood_frame(size, full, n, int(elapsed))
            hit = self.flood_cache[key] = (frame, self.renderer.prev_dynamic)
        self.renderer.prev_dynamic = hit[1]
        return hit[0]

    def build_flood_frame(self, size: int, full: bool, n: int, elapsed: int) -> bytes:
        cols, rows = self.term.cols, self.term.rows
        live = max(1, min(12, rows - 2))
        head = (CLEAR_ALL if full else erase_lines(self.renderer.prev_dynamic)).encode()
        budget = size - len(SYNC_ON) - len(SYNC_OFF) - len(head)
        glyph = SPINNER_GLYPHS[n % len(SPINNER_GLYPHS)]

        def line(k: int, text: str, per_word: bool) -> bytes:
            text = fit(text, max(cols - 1, 1)).rstrip()
            if per_word:  # history redrawn after a clear: styled word by word
                styled = " ".join(
                    f"{CSI}38;2;{(37 * j) % 256};{(91 * k) % 256};200m{word}"
                    for j, word in enumerate(text.split(" "))
                )
            else:
                styled = f"{GRAY}{text}"
            return (styled + RESET + "\r\n").encode()

        tail = [
            line(
                k,
                f"  ⎿  second {elapsed} line {k}: the quick brown fox jumps over the lazy dog",
                False,
            )
            for k in range(live - 2)
        ]
        if live >= 2:
            tail.append(b"\r\n")
        spinner = f"{glyph} Flooding… ({elapsed}s · ↑ {elapsed + 1}.2k tokens · esc to interrupt)"
        tail.append(line(live, spinner, False))
        used = sum(len(b) for b in tail)
        if used > budget:
            return pad_bytes(size)  # too small for a frame: no-op bytes
        history: list[bytes] = []
        if full:
            k = 0
            while True:
                item = line(
                    k, f"● history {elapsed}.{k}: a long conversation redrawn after a clear", True
                )
                if used + len(item) > budget:
                    break
                history.append(item)
                used += len(item)
                k += 1
        self.renderer.prev_dynamic = len(tail)
        body = b"".join(history) + b"".join(tail)
        return SYNC_ON.encode() + head + pad_bytes(budget - len(body)) + body + SYNC_OFF.encode()

    # -- input -------------------------------------------------------------------------------

    def handle_key(self, key: Key) -> None:
        req = self.request
        if key.name != "ctrl-c":
            self.ctrl_c_at = 0.0
        if isinstance(req, Menu):
            self.menu_key(req, key)
            return
        busy = self.turn is not None
        if key.name in ("text", "paste"):
            self.input += key.text
        elif key.name == "newline":
            self.input += "\n"
        elif key.name == "backspace":
            self.input = self.input[:-1]
        elif key.name == "ctrl-u":
            self.input = ""
        elif key.name == "shift-tab":
            order = ["default", "acceptEdits", "plan"]
            current = self.permission_mode if self.permission_mode in order else "default"
            self.permission_mode = order[(order.index(current) + 1) % len(order)]
        elif key.name == "esc":
            if busy:
                self.interrupt()
                return
        elif key.name == "ctrl-c":
            if busy:
                self.interrupt()
                return
            if self.input:
                self.input = ""
            elif self.ctrl_c_at and time.monotonic() - self.ctrl_c_at < 2.0:
                self.shutdown(0, "prompt_input_exit")
            else:
                self.ctrl_c_at = time.monotonic()
        elif key.name == "ctrl-d":
            if not self.input and not busy:
                self.shutdown(0, "prompt_input_exit")
        elif key.name == "enter":
            if self.input.endswith("\\"):
                self.input = self.input[:-1] + "\n"
            elif self.input.strip():
                text, self.input = self.input, ""
                self.render()
                self.submit(text)
                return
        self.render()

    def menu_key(self, menu: Menu, key: Key) -> None:
        choice: int | None = -1
        if key.name == "up":
            menu.cursor = max(menu.cursor - 1, 0)
        elif key.name == "down" or key.name == "tab":
            menu.cursor = min(menu.cursor + 1, menu.count - 1)
        elif key.name == "enter":
            choice = menu.cursor
        elif key.name in ("esc", "ctrl-c"):
            choice = menu.cancel
        elif key.name == "text" and key.text[:1].isdigit():
            number = int(key.text[0])
            if 1 <= number <= menu.count:
                choice = number - 1
        if choice == -1:
            self.render()
            return
        self.request = None
        self.advance(choice)

    # -- main loop -----------------------------------------------------------------------------

    def on_winch(self, _signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"w")

    def run(self) -> None:
        signal.signal(signal.SIGWINCH, self.on_winch)
        os.set_blocking(self.wake_r, False)
        self.start()
        next_frame = time.monotonic() + FRAME_INTERVAL
        while True:
            now = time.monotonic()
            timeouts: list[float] = []
            req = self.request
            if isinstance(req, Sleep):
                timeouts.append(self.sleep_until - now)
                if req.spinner and not req.quiet:
                    timeouts.append(next_frame - now)
            if self.keys.pending_escape():
                timeouts.append(ESC_TIMEOUT)
            if self.turn is None and not self.idle_notified:
                timeouts.append(self.idle_since + scaled(60) - now)
            if self.permission_shown is not None:
                timeouts.append(self.permission_shown + scaled(PERMISSION_NOTIFY_AFTER) - now)
            if self.ctrl_c_at:
                timeouts.append(self.ctrl_c_at + 2.0 - now)
            if self.eof and self.turn is None:
                self.shutdown(0, "other")
            timeout = max(min(timeouts), 0.0) if timeouts else None
            fds = [self.wake_r] if self.eof else [self.term.fd_in, self.wake_r]
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except InterruptedError:
                ready = []
            if self.wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self.wake_r, 1024)
                self.term.refresh_size()
                self.render(full=True)
            if self.term.fd_in in ready:
                try:
                    data = os.read(self.term.fd_in, 65536)
                except OSError:
                    data = b""
                if not data:
                    self.eof = True
                for key in self.keys.feed(data):
                    self.handle_key(key)
            elif self.keys.pending_escape() and self.term.fd_in not in ready:
                for key in self.keys.flush():
                    self.handle_key(key)
            now = time.monotonic()
            req = self.request
            if isinstance(req, Sleep) and self.turn is not None and now >= self.sleep_until:
                self.request = None
                self.advance(None)
                next_frame = time.monotonic() + FRAME_INTERVAL
            elif isinstance(req, Sleep) and req.spinner and not req.quiet and now >= next_frame:
                self.render()
                next_frame = max(next_frame + FRAME_INTERVAL, now + FRAME_INTERVAL / 2)
            if self.ctrl_c_at and now - self.ctrl_c_at >= 2.0:
                self.ctrl_c_at = 0.0
                self.render()
            shown = self.permission_shown
            req = self.request
            if shown is not None and not (isinstance(req, Menu) and req.kind == "permission"):
                self.permission_shown = None  # answered (or the turn ended) in time
            elif shown is not None and now - shown >= scaled(PERMISSION_NOTIFY_AFTER):
                self.permission_shown = None
                assert isinstance(req, Menu)
                self.fire(
                    "Notification",
                    "permission_prompt",
                    message=f"Claude needs your permission to use {req.tool}",
                    notification_type="permission_prompt",
                )
            idle_for = now - self.idle_since
            if self.turn is None and not self.idle_notified and idle_for >= scaled(60):
                self.idle_notified = True
                self.fire(
                    "Notification",
                    "idle_prompt",
                    message="Claude is waiting for your input",
                    notification_type="idle_prompt",
                )


def pad_bytes(count: int) -> bytes:
    """``count`` bytes of no-op output: SGR resets with zero-padded parameters."""
    out = bytearray()
    if count < 3:
        return b"\r" * max(count, 0)  # carriage returns: harmless at column 1
    while count > 0:
        n = min(count, 64)
        if 0 < count - n < 3:
            n = count - 3
        out += b"\x1b[" + b"0" * (n - 3) + b"m"
        count -= n
    return bytes(out)


def log_argv(argv: list[str]) -> None:
    path = os.environ.get("FAKE_CLAUDE_ARGV_LOG")
    if not path:
        return
    size = Terminal()
    entry = {
        "argv": argv,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "time": time.time(),
        "term": os.environ.get("TERM"),
        "colorterm": os.environ.get("COLORTERM"),
        "size": [size.cols, size.rows],
    }
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a hook that exits early must not kill us
    try:
        log_argv(args)
        opts = parse_args(args)
        if opts.help:
            sys.stdout.write(HELP)
            return 0
        if opts.version:
            sys.stdout.write(VERSION + "\n")
            return 0
        cwd = os.path.realpath(os.getcwd())
        if opts.resume and not (project_dir(cwd) / f"{opts.resume}.jsonl").is_file():
            raise UsageError(f"No conversation found with session ID: {opts.resume}")
        if opts.cont and newest_transcript(cwd) is None:
            raise UsageError("No conversation found to continue")
        if opts.session_id and (project_dir(cwd) / f"{opts.session_id}.jsonl").exists():
            raise UsageError(f"Error: Session ID {opts.session_id} is already in use.")
        app = FakeClaude(opts, cwd)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        return 1
    try:
        app.run()
    finally:
        app.term.restore()
    return 0


if __name__ == "__main__":
    sys.exit(main())
