"""The fake Claude Code of tests/fakes, run in a real PTY and read through a stock pyte screen."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ptyprocess
import pyte
import pytest

FAKES = Path(__file__).resolve().parent.parent / "fakes"
CLAUDE = FAKES / "claude"
COLS, ROWS = 120, 40
DEADLINE = 10.0


def encode_project(path: Path) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", os.path.realpath(path))


class Fake:
    """One fake agent in a PTY; its output is fed to a pyte screen as it arrives."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = ptyprocess.PtyProcess.spawn(
            [str(CLAUDE), *args], cwd=str(cwd), env=env, dimensions=(ROWS, COLS)
        )
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.eof = False

    def pump(self, timeout: float) -> None:
        if self.eof:
            return
        ready, _, _ = select.select([self.proc.fd], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.proc.fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return
        self.raw += data
        self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, cond: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{self.text()}")
            if self.eof:
                if cond():
                    return
                raise AssertionError(f"agent exited while waiting for {what}:\n{self.text()}")
            self.pump(0.05)

    def wait_text(self, needle: str, timeout: float = DEADLINE) -> None:
        self.wait_for(lambda: needle in self.text(), repr(needle), timeout)

    def wait_idle(self) -> None:
        """The idle prompt box at the bottom and no spinner line."""
        self.wait_for(lambda: is_idle(self.text()), "the idle prompt")

    def send(self, text: str) -> None:
        self.proc.write(text.encode())

    def wait_exit(self, timeout: float = DEADLINE) -> int | None:
        end = time.monotonic() + timeout
        while not self.eof and time.monotonic() < end:
            self.pump(0.05)
        while self.proc.isalive() and time.monotonic() < end:
            time.sleep(0.01)
        assert not self.proc.isalive(), "agent did not exit"
        self.proc.wait()
        return self.proc.exitstatus

    def close(self) -> None:
        if self.proc.isalive():
            self.proc.kill(signal.SIGKILL)
        self.proc.close(force=True)


def is_idle(text: str) -> bool:
    """The prompt box at the bottom, its footer (`? for shortcuts` or a mode) and no spinner."""
    lines = [line for line in text.splitlines() if line.strip()]
    footer = ("? for shortcuts", "⏵⏵ accept edits on", "⏵⏵ bypass permissions on")
    return (
        len(lines) >= 4
        and lines[-1].strip().startswith(footer)
        and lines[-2].startswith("╰")
        and lines[-3].startswith("│ >")
        and "esc to interrupt" not in text
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config"
    config.mkdir()
    return {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "CLAUDE_CONFIG_DIR": str(config),
        "FAKE_CLAUDE_SPEED": "20",
        "FAKE_CLAUDE_ARGV_LOG": str(tmp_path / "argv.jsonl"),
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work dir.x"
    work.mkdir()
    return work


@pytest.fixture
def spawn(workdir: Path, env: dict[str, str]) -> Iterator[Callable[..., Fake]]:
    fakes: list[Fake] = []

    def start(*args: str, cwd: Path | None = None, extra: dict[str, str] | None = None) -> Fake:
        fake = Fake(list(args), cwd or workdir, {**env, **(extra or {})})
        fakes.append(fake)
        return fake

    yield start
    for fake in fakes:
        fake.close()


def transcripts(env: dict[str, str], cwd: Path) -> list[Path]:
    folder = Path(env["CLAUDE_CONFIG_DIR"]) / "projects" / encode_project(cwd)
    return sorted(folder.glob("*.jsonl"))


def hook_settings(tmp_path: Path) -> tuple[Path, Path]:
    """A settings file whose hooks append their event name and stdin to a log, one line each."""
    log = tmp_path / "hooks.log"
    command = f"cat >> '{log}'; echo >> '{log}'"
    hook = [{"type": "command", "command": command}]
    settings = {
        "hooks": {
            "SessionStart": [{"matcher": "startup|resume|clear|compact", "hooks": hook}],
            "UserPromptSubmit": [{"hooks": hook}],
            "Stop": [{"hooks": hook}],
            "PermissionRequest": [{"hooks": hook}],
            "Notification": [{"matcher": "permission_prompt", "hooks": hook}],
            "PreToolUse": [{"matcher": "AskUserQuestion|ExitPlanMode", "hooks": hook}],
            "SessionEnd": [{"hooks": hook}],
        }
    }
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    return path, log


def hook_events(log: Path) -> list[dict[str, Any]]:
    """The payloads logged so far (a line still being written is skipped)."""
    if not log.exists():
        return []
    events = []
    for line in log.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def test_welcome_permission_and_idle(spawn: Callable[..., Fake]) -> None:
    fake = spawn()
    fake.wait_text("✻ Welcome to Claude Code!")
    fake.wait_idle()
    assert "cwd: " in fake.text()

    fake.send("think 0.5; ask make test\r")
    fake.wait_text("Do you want to proceed?")
    text = fake.text()
    assert "Bash command" in text and "make test" in text
    assert "❯ 1. Yes" in text
    assert "2. Yes, and don't ask again for this command" in text
    assert "3. No, and tell Claude what to do differently (esc)" in text
    assert "esc to interrupt" not in text  # no spinner while waiting for the user

    fake.send("1")
    fake.wait_text("● Ran make test")
    fake.wait_idle()
    assert "Do you want to proceed?" not in fake.text()
    raw = bytes(fake.raw)
    for seq in (b"\x1b[?2026h", b"\x1b[?2026l", b"\x1b[2K\x1b[1A", b"\x1b[>4;2m", b"\x1b]0;"):
        assert seq in raw, seq
    assert b"\x1b[?1004h" in raw and b"\x1b[?2004h" in raw


def test_spinner_then_idle_and_transcript_after_first_turn(
    spawn: Callable[..., Fake], env: dict[str, str], workdir: Path
) -> None:
    sid = str(uuid.uuid4())
    fake = spawn("--session-id", sid)
    fake.wait_idle()
    assert transcripts(env, workdir) == []  # nothing before the first turn

    fake.send("think 20; say finished\r")
    fake.wait_for(
        lambda: (
            re.search(r"[✻✽✶✳✢·] \w+… \(\d+s · ↑ [\d.]+k? tokens · esc to interrupt\)", fake.text())
            is not None
        ),
        "the spinner line",
    )
    fake.wait_text("● finished")
    fake.wait_idle()
    files = transcripts(env, workdir)
    assert [f.name for f in files] == [f"{sid}.jsonl"]
    entries = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [e["type"] for e in entries] == ["user", "assistant"]
    assert all(e["sessionId"] == sid and e["cwd"] == os.path.realpath(workdir) for e in entries)
    assert entries[0]["message"]["content"] == "think 20; say finished"


def test_typing_backspace_and_plain_text(spawn: Callable[..., Fake]) -> None:
    fake = spawn()
    fake.wait_idle()
    fake.send("hellp")
    fake.wait_text("│ > hellp")
    fake.send("\x7fo there")
    fake.wait_text("│ > hello there")
    fake.send("\x1b\rsecond line")
    fake.wait_text("│   second line")
    fake.send("\r")
    fake.wait_text("● You said: hello there second line")
    fake.wait_idle()


def test_resume_missing_id_fails(spawn: Callable[..., Fake]) -> None:
    missing = str(uuid.uuid4())
    fake = spawn("--resume", missing)
    assert fake.wait_exit() == 1
    assert f"No conversation found with session ID: {missing}" in fake.text()


def test_continue_in_empty_dir_fails(spawn: Callable[..., Fake]) -> None:
    fake = spawn("-c")
    assert fake.wait_exit() == 1
    assert "No conversation found to continue" in fake.text()


@pytest.mark.parametrize(
    "args", [["--session-id", "not-a-uuid"], ["--bogus"], ["--permission-mode", "nope"]]
)
def test_bad_flags_fail(spawn: Callable[..., Fake], args: list[str]) -> None:
    fake = spawn(*args)
    assert fake.wait_exit() == 1


def test_resume_and_continue_append_to_the_transcript(
    spawn: Callable[..., Fake], env: dict[str, str], workdir: Path, tmp_path: Path
) -> None:
    sid = str(uuid.uuid4())
    first = spawn("--session-id", sid, "say one")
    first.wait_text("● one")
    first.wait_idle()
    first.send("/exit\r")
    assert first.wait_exit() == 0

    settings, log = hook_settings(tmp_path)
    second = spawn("--resume", sid, "--settings", str(settings), "say two")
    second.wait_text("● two")
    second.wait_idle()
    second.send("\x04")  # Ctrl-D at an empty prompt
    assert second.wait_exit() == 0

    third = spawn("-c", "say three")
    third.wait_text("● three")
    third.wait_idle()
    third.send("\x03")
    third.wait_text("Press Ctrl-C again to exit")
    third.send("\x03")
    assert third.wait_exit() == 0

    files = transcripts(env, workdir)
    assert [f.name for f in files] == [f"{sid}.jsonl"]
    texts = [json.loads(line)["message"] for line in files[0].read_text().splitlines()]
    assert [m["role"] for m in texts] == ["user", "assistant"] * 3

    starts = [e for e in hook_events(log) if e["hook_event_name"] == "SessionStart"]
    assert [(e["source"], e["session_id"]) for e in starts] == [("resume", sid)]

    logged = [
        json.loads(line) for line in Path(env["FAKE_CLAUDE_ARGV_LOG"]).read_text().splitlines()
    ]
    assert [entry["argv"][:2] for entry in logged] == [
        ["--session-id", sid],
        ["--resume", sid],
        ["-c", "say three"],
    ]
    assert all(entry["cwd"] == os.path.realpath(workdir) for entry in logged)
    assert logged[0]["term"] == "xterm-256color"


def test_hooks_fire_with_payloads(
    spawn: Callable[..., Fake], tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    settings, log = hook_settings(tmp_path)
    sid = str(uuid.uuid4())
    fake = spawn("--session-id", sid, "--settings", str(settings), "ask rm -rf build; question")
    fake.wait_text("Do you want to proceed?")
    fake.wait_for(
        lambda: any(e["hook_event_name"] == "Notification" for e in hook_events(log)),
        "the Notification hook",
    )
    fake.send("1")
    fake.wait_text("Use arrow keys to navigate")
    assert "Press Enter to select" in fake.text() and "Esc to cancel" in fake.text()
    fake.send("\x1b[B\r")  # down, Enter: the second option
    fake.wait_text("● You chose: Option B")
    fake.wait_idle()
    fake.send("/clear\r")
    fake.wait_for(
        lambda: any(e.get("source") == "clear" for e in hook_events(log)), "SessionStart clear"
    )
    fake.wait_idle()
    fake.send("/exit\r")
    assert fake.wait_exit() == 0

    events = hook_events(log)
    names = [e["hook_event_name"] for e in events]
    assert names == [
        "SessionStart",
        "UserPromptSubmit",
        "PermissionRequest",  # as the box is drawn
        "Notification",  # once it has waited 6 s (scaled) unanswered
        "PreToolUse",
        "Stop",
        "SessionEnd",
        "SessionStart",
        "SessionEnd",
    ]
    transcript = str(
        Path(env["CLAUDE_CONFIG_DIR"]) / "projects" / encode_project(workdir) / f"{sid}.jsonl"
    )
    events = [e for e in events if e["hook_event_name"] != "PermissionRequest"]
    for event in events[:6]:
        assert event["session_id"] == sid
        assert event["cwd"] == os.path.realpath(workdir)
    assert events[0]["source"] == "startup"
    assert events[0]["transcript_path"] == transcript
    assert events[1]["prompt"] == "ask rm -rf build; question"
    assert events[2]["notification_type"] == "permission_prompt"
    assert "permission" in events[2]["message"]
    assert events[3]["tool_name"] == "AskUserQuestion"
    assert events[5]["reason"] == "clear"
    new_id = events[6]["session_id"]
    assert events[6]["source"] == "clear" and new_id != sid
    uuid.UUID(new_id)
    assert events[7]["session_id"] == new_id and events[7]["reason"] == "prompt_input_exit"


def test_reject_with_esc_fires_no_stop(spawn: Callable[..., Fake], tmp_path: Path) -> None:
    settings, log = hook_settings(tmp_path)
    fake = spawn("--settings", str(settings), "edit notes.md; say never")
    fake.wait_text("Do you want to make this edit to notes.md?")
    assert "Edit file" in fake.text()
    fake.send("\x1b")
    fake.wait_text("No (tell Claude what to do differently)")
    fake.wait_idle()
    assert "● never" not in fake.text()
    assert "Stop" not in [e["hook_event_name"] for e in hook_events(log)]


def test_fake_prompt_sits_above_the_live_spinner(spawn: Callable[..., Fake]) -> None:
    fake = spawn(extra={"FAKE_CLAUDE_SPEED": "1"})
    fake.wait_idle()
    fake.send("fakeprompt 3\r")

    def dump_above_spinner() -> bool:
        lines = fake.text().splitlines()
        prompt = [i for i, line in enumerate(lines) if "Do you want to proceed?" in line]
        spinner = [i for i, line in enumerate(lines) if "esc to interrupt" in line]
        return bool(prompt and spinner and prompt[-1] < spinner[-1])

    fake.wait_for(dump_above_spinner, "the fake prompt above the spinner")
    assert "❯ 1. Yes" in fake.text()
    fake.send("\x1b")  # interrupt the turn
    fake.wait_text("Interrupted")
    fake.wait_idle()


def test_write_creates_real_files(spawn: Callable[..., Fake], workdir: Path) -> None:
    fake = spawn("write out/pic.png; write doc.pdf; write notes.txt some text")
    fake.wait_text("Write(notes.txt)")
    fake.wait_idle()
    png = (workdir / "out" / "pic.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (16, 16)
    pdf = (workdir / "doc.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[xref : xref + 4] == b"xref"
    assert (workdir / "notes.txt").read_text() == "some text\n"


@pytest.mark.parametrize(("script", "status"), [("exit 3", 3), ("think 0.2; exit 0", 0)])
def test_scripted_exit(spawn: Callable[..., Fake], script: str, status: int) -> None:
    fake = spawn(script)
    assert fake.wait_exit() == status


def test_scripted_signal(spawn: Callable[..., Fake]) -> None:
    fake = spawn("signal TERM")
    fake.wait_exit()
    assert fake.proc.signalstatus == signal.SIGTERM


def test_flood_streams_redraws_and_ends_idle(spawn: Callable[..., Fake]) -> None:
    fake = spawn("flood 300K 3M")
    fake.wait_text("● Flooded 300000 bytes")
    fake.wait_idle()
    raw = bytes(fake.raw)
    assert raw.count(b"\x1b[2J\x1b[3J\x1b[H") >= 2
    assert raw.count(b"\x1b[?2026h") == raw.count(b"\x1b[?2026l")
    assert len(raw) > 300_000


def test_trust_dialog_and_resize(spawn: Callable[..., Fake]) -> None:
    fake = spawn("trust; say trusted")
    fake.wait_text("Do you trust the files in this folder?")
    fake.send("\r")
    fake.wait_text("● trusted")
    fake.wait_idle()
    fake.screen.resize(ROWS, 80)
    fake.proc.setwinsize(ROWS, 80)
    fake.wait_for(
        lambda: any(line.startswith("╰" + "─" * 78 + "╯") for line in fake.text().splitlines()),
        "a prompt box redrawn at the new width",
    )


def test_a_wrapped_live_line_is_erased_whole(spawn: Callable[..., Fake]) -> None:
    fake = spawn(extra={"FAKE_CLAUDE_SPEED": "1"})
    fake.wait_idle()
    fake.screen.resize(ROWS, 30)
    fake.proc.setwinsize(ROWS, 30)
    fake.wait_text("╰" + "─" * 28 + "╯")  # redrawn at the new width
    fake.send("say marker above; think 5; say done\r")
    fake.wait_text("● marker above")
    # The spinner line (wider than 30 columns) wraps; redrawn ten times a second, it must
    # leave neither copies of itself behind nor eat the lines above it.
    fake.wait_for(lambda: "(3s" in fake.text(), "the spinner after three seconds")
    text = fake.text()
    assert text.count("● marker above") == 1, text
    assert sum("↑" in line for line in text.splitlines()) == 1, text  # one spinner, wrapped
    assert text.count("interrupt") == 1, text
    fake.wait_text("● done")


def test_slow_and_failing_hooks_do_not_stop_the_agent(
    spawn: Callable[..., Fake], tmp_path: Path
) -> None:
    marker = tmp_path / "stop-ran"
    settings = {
        "hooks": {
            "SessionStart": [{"hooks": [{"type": "command", "command": "sleep 30", "timeout": 1}]}],
            "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "exit 2"}]}],
            "Stop": [{"hooks": [{"type": "command", "command": f"touch '{marker}'"}]}],
        }
    }
    fake = spawn("--settings", json.dumps(settings), "say still alive")
    fake.wait_text("● still alive")
    fake.wait_for(marker.exists, "the Stop hook")
    fake.wait_idle()


def test_permission_modes_and_queued_input(spawn: Callable[..., Fake], workdir: Path) -> None:
    fake = spawn(
        "--dangerously-skip-permissions",
        "think 1; ask ls; edit a.txt",
        extra={"FAKE_CLAUDE_SPEED": "1"},
    )
    fake.wait_text("esc to interrupt")
    fake.send("say queued\r")  # typed while busy: runs after the turn
    fake.wait_text("● queued")
    fake.wait_idle()
    assert "● Ran ls" in fake.text()
    assert "Do you want" not in fake.text()
    assert (workdir / "a.txt").exists()
    assert "bypass permissions on" in fake.text()


def test_plan_approval_switches_to_accept_edits(spawn: Callable[..., Fake]) -> None:
    fake = spawn("plan; edit b.txt; say done")
    fake.wait_text("Would you like to proceed?")
    assert "Ready to code?" in fake.text() and "❯ 1. Yes, and auto-accept edits" in fake.text()
    fake.send("1")
    fake.wait_text("● done")  # the edit is not asked in acceptEdits
    fake.wait_idle()
    assert "accept edits on" in fake.text()


@pytest.mark.parametrize(
    ("style", "pattern"),
    [("ctrlc", r"· ctrl\+c to interrupt\)"), ("braille", r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \w+…")],
)
def test_spinner_variants(spawn: Callable[..., Fake], style: str, pattern: str) -> None:
    fake = spawn("think 40", extra={"FAKE_CLAUDE_SPINNER": style})
    fake.wait_for(lambda: re.search(pattern, fake.text()) is not None, f"a {style} spinner")
    fake.send("\x1b")
    fake.wait_text("Interrupted")
