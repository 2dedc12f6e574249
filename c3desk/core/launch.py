"""How a session is started: its argv (first start, continue, retry), environment, transcript."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from c3desk.core.agents import AgentProfile
from c3desk.transports.shellpath import merged_path

Mode = Literal["fresh", "continue", "retry"]

_NOT_SAFE = re.compile(r"[^a-zA-Z0-9-]")


def claude_config_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(env.get("HOME") or str(Path.home())) / ".claude"


def encode_project_dir(cwd: str) -> str:
    """Claude Code's folder name for a project: every character outside [a-zA-Z0-9-] is '-'."""
    return _NOT_SAFE.sub("-", os.path.realpath(cwd))


def encode_remote_dir(real_path: str) -> str:
    """Claude Code's folder name for a project whose working directory resolves to
    ``real_path`` on its own machine (:func:`encode_project_dir` resolves on this one)."""
    return _NOT_SAFE.sub("-", real_path)


def transcript_path(cwd: str, conversation_id: str, env: Mapping[str, str]) -> Path:
    return (
        claude_config_dir(env) / "projects" / encode_project_dir(cwd) / f"{conversation_id}.jsonl"
    )


def session_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["TERM"] = "xterm-256color"
    env["COLORTERM"] = "truecolor"
    env["PATH"] = merged_path(env.get("PATH", ""))
    # A session must not believe it runs inside another Claude Code.
    env.pop("CLAUDECODE", None)
    return env


def command_for(profile: AgentProfile, settings: Mapping[str, object]) -> list[str]:
    """The profile's command, the setting that overrides it (``claude_command``), or for a
    profile without one (``shell``) the user's shell."""
    if profile.command_setting:
        value = settings.get(profile.command_setting)
        if isinstance(value, str) and value.strip():
            return shlex.split(value)
    if not profile.command:
        return [os.environ.get("SHELL") or "/bin/sh"]
    return list(profile.command)


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str]
    conversation_id: str | None  # the id to store in claude_session_id
    resumed: bool  # the argv resumes an existing conversation


def plan_launch(
    profile: AgentProfile,
    command: list[str],
    *,
    mode: Mode,
    prompt: str | None,
    conversation_id: str | None,
    cwd: str,
    env: Mapping[str, str],
    new_id: str,
    has_transcript: bool | None = None,
) -> LaunchPlan:
    """Decide the argv of a start.

    - fresh: a new conversation; profiles that accept an id get ``new_id`` (``--session-id``).
    - continue: ``--resume <id>`` when its transcript exists, else ``-c`` (newest here).
    - retry: resume the conversation when one exists, without its prompt (the conversation
      holds it; sending it again repeats the work); else start over with the prompt, once.

    ``has_transcript``: whether the conversation's transcript exists on the worker's machine
    (None: look on this one).
    """
    if has_transcript is None:  # asked of this machine
        has_transcript = bool(
            conversation_id and transcript_path(cwd, conversation_id, env).is_file()
        )
    if mode == "continue":
        if conversation_id and has_transcript and profile.resume_args:
            return LaunchPlan(profile.resume_argv(conversation_id, command), conversation_id, True)
        if profile.continue_args:
            return LaunchPlan(profile.continue_argv(command), conversation_id, True)
        mode = "fresh"
    if mode == "retry" and conversation_id and has_transcript and profile.resume_args:
        return LaunchPlan(profile.resume_argv(conversation_id, command), conversation_id, True)
    if profile.session_id_args:
        cid = conversation_id if (mode == "retry" and conversation_id) else new_id
        return LaunchPlan(profile.launch_argv(prompt, cid, command), cid, False)
    return LaunchPlan(profile.launch_argv(prompt, None, command), conversation_id, False)
