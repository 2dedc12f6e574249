"""Launch planning: argv for fresh, continued and retried sessions; PATH; transcripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from helpers.polling import alive, wait_for

from c3desk.core.agents import load_profiles
from c3desk.core.launch import (
    command_for,
    encode_project_dir,
    plan_launch,
    session_environment,
    transcript_path,
)
from c3desk.transports import shellpath

PROFILES = load_profiles(None)
CLAUDE = PROFILES["claude"]


def plan(mode: str, tmp_path: Path, cid: str | None = None, prompt: str | None = "hi") -> list[str]:
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    return plan_launch(
        CLAUDE,
        ["claude"],
        mode=mode,  # type: ignore[arg-type]
        prompt=prompt,
        conversation_id=cid,
        cwd=str(tmp_path),
        env=env,
        new_id="11111111-2222-3333-4444-555555555555",
    ).argv


def make_transcript(tmp_path: Path, cid: str) -> None:
    path = transcript_path(str(tmp_path), cid, {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")})
    path.parent.mkdir(parents=True)
    path.write_text("{}\n")


def test_encoding_of_project_dirs() -> None:
    assert encode_project_dir("/home/me/my_proj.v2") == "-home-me-my-proj-v2"


def test_fresh_start_assigns_the_id(tmp_path: Path) -> None:
    assert plan("fresh", tmp_path) == [
        "claude",
        "--session-id",
        "11111111-2222-3333-4444-555555555555",
        "--",
        "hi",
    ]


def test_continue_resumes_by_id_when_the_transcript_exists(tmp_path: Path) -> None:
    assert plan("continue", tmp_path, "abc") == ["claude", "-c"]
    make_transcript(tmp_path, "abc")
    assert plan("continue", tmp_path, "abc") == ["claude", "--resume", "abc"]


def test_retry_resumes_without_the_prompt_or_starts_over(tmp_path: Path) -> None:
    # Never got as far as a conversation: the prompt is sent, once.
    assert plan("retry", tmp_path, "abc") == ["claude", "--session-id", "abc", "--", "hi"]
    make_transcript(tmp_path, "abc")
    # The conversation holds the prompt already: sending it again would redo the work.
    assert plan("retry", tmp_path, "abc") == ["claude", "--resume", "abc"]


def test_prompt_text_is_one_argument_never_parsed(tmp_path: Path) -> None:
    nasty = "$(rm -rf ~); `x` {id} {prompt} 'q' \"d\""
    argv = plan("fresh", tmp_path, prompt=nasty)
    assert argv[-1] == nasty


def test_shell_profile_runs_the_prompt_with_the_users_shell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHELL", "/bin/bash")
    shell = PROFILES["shell"]
    command = command_for(shell, {})
    assert command == ["/bin/bash"]
    assert shell.launch_argv("make test", None, command) == ["/bin/bash", "-c", "make test"]
    assert shell.launch_argv(None, None, command) == ["/bin/bash"]


def test_claude_command_setting_is_split_like_a_shell_would(tmp_path: Path) -> None:
    cmd = command_for(CLAUDE, {"claude_command": "'/opt/my tools/claude' --model opus"})
    assert cmd == ["/opt/my tools/claude", "--model", "opus"]


def test_login_shell_path_is_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_shell = tmp_path / "loginsh"
    fake_shell.write_text(
        "#!/bin/sh\n"
        'echo "noise from a profile script"\n'
        'PATH="/opt/npm-global/bin:$PATH"\n'
        'shift; eval "$2"\n'
    )
    fake_shell.chmod(0o755)
    monkeypatch.setenv("SHELL", str(fake_shell))
    shellpath.login_shell_path.cache_clear()
    try:
        merged = shellpath.merged_path("/usr/bin:/bin")
    finally:
        shellpath.login_shell_path.cache_clear()
    parts = merged.split(os.pathsep)
    assert parts[:2] == ["/usr/bin", "/bin"]
    assert "/opt/npm-global/bin" in parts
    env = session_environment({"PATH": "/usr/bin", "CLAUDECODE": "1"})
    assert env["TERM"] == "xterm-256color" and env["COLORTERM"] == "truecolor"
    assert "CLAUDECODE" not in env


def test_a_bundles_hook_command_runs_the_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    from c3desk.transports.connection import WorkerInfo
    from c3desk.transports.local_connection import LocalConnection

    conn = LocalConnection(WorkerInfo("w", "here", "local"))
    assert conn.hook_command(Path("/h"), "s")[:3] == [sys.executable, "-m", "c3desk"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert conn.hook_command(Path("/h"), "s") == [
        sys.executable, "--home", "/h", "hook", "--session", "s",
    ]  # fmt: skip


def test_a_login_shell_that_hangs_is_ended_with_all_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile that hangs (or starts something that does, like a `pyenv rehash` waiting on
    its lock) costs the timeout and leaves nothing running."""
    pids = tmp_path / "pids"
    fake_shell = tmp_path / "loginsh"
    fake_shell.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pids}\necho $$ >> {pids}\nwait\n")
    fake_shell.chmod(0o755)
    monkeypatch.setenv("SHELL", str(fake_shell))
    monkeypatch.setattr(shellpath, "PROBE_TIMEOUT", 0.5)
    shellpath.login_shell_path.cache_clear()
    try:
        assert shellpath.login_shell_path() == ""
    finally:
        shellpath.login_shell_path.cache_clear()
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2
    wait_for(lambda: not any(alive(pid) for pid in started), timeout=10, what="its processes' end")
