"""Agent profiles: the built-ins, their command lines, and agents.toml with its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from c3desk.core.agents import (
    BUILTIN_PROFILES,
    DEFAULT_PROFILE,
    AgentsFileError,
    load_profiles,
    parse_profiles,
)
from c3desk.core.detector import classify

UUID = "0b6c4a1e-3f4d-4c57-9a55-1c2d3e4f5a6b"


def test_builtin_profiles() -> None:
    assert set(BUILTIN_PROFILES) == {"claude", "codex", "gemini", "aider", "shell"}
    assert DEFAULT_PROFILE == "claude"
    claude = BUILTIN_PROFILES["claude"]
    assert claude.command_setting == "claude_command"
    assert claude.id_source == "assigned"
    assert claude.approve_key == b"1"
    assert not claude.uses_generic
    assert BUILTIN_PROFILES["shell"].uses_generic
    for profile in BUILTIN_PROFILES.values():
        assert profile.approve_key
        for pattern in profile.waiting:
            assert pattern.kind is not None


def test_claude_command_lines() -> None:
    claude = BUILTIN_PROFILES["claude"]
    assert claude.launch_argv() == ["claude"]
    assert claude.launch_argv("fix the bug", UUID) == [
        "claude",
        "--session-id",
        UUID,
        "--",
        "fix the bug",
    ]
    # A prompt that looks like an option stays the agent's text.
    assert claude.launch_argv("--dangerously-skip-permissions")[-2:] == [
        "--",
        "--dangerously-skip-permissions",
    ]
    assert claude.launch_argv(None, UUID, command=["/opt/claude/bin/claude"]) == [
        "/opt/claude/bin/claude",
        "--session-id",
        UUID,
    ]
    assert claude.resume_argv(UUID) == ["claude", "--resume", UUID]
    assert claude.continue_argv() == ["claude", "-c"]


def test_placeholders_in_the_prompt_are_not_substituted() -> None:
    argv = BUILTIN_PROFILES["claude"].launch_argv("print {id} and {prompt}", UUID)
    assert argv[-1] == "print {id} and {prompt}"


def test_other_profiles_command_lines() -> None:
    codex, gemini, aider = (BUILTIN_PROFILES[n] for n in ("codex", "gemini", "aider"))
    assert codex.resume_argv(UUID) == ["codex", "resume", UUID]
    assert codex.continue_argv() == ["codex", "resume", "--last"]
    assert gemini.launch_argv("hi") == ["gemini", "--prompt-interactive", "hi"]
    assert aider.type_prompt and aider.launch_argv("hi") == ["aider"]
    assert aider.resume_argv(UUID) == []
    assert BUILTIN_PROFILES["shell"].continue_argv() == []


def test_session_id_from_output() -> None:
    codex = BUILTIN_PROFILES["codex"]
    assert codex.find_session_id(f"model: gpt-5\nsession id: {UUID}\n") == UUID
    assert codex.find_session_id("no id here") is None
    assert BUILTIN_PROFILES["claude"].find_session_id(f"session id: {UUID}") is None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_the_builtins(tmp_path: Path) -> None:
    assert load_profiles(None) == dict(BUILTIN_PROFILES)
    assert load_profiles(tmp_path / "missing.toml") == dict(BUILTIN_PROFILES)


def test_override_keeps_what_it_does_not_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[claude]
approve_key = "\\r"
extra_sensitive = ['(?i)terraform apply']
status_rows = 20
""",
    )
    claude = load_profiles(path)["claude"]
    builtin = BUILTIN_PROFILES["claude"]
    assert claude.approve_key == b"\r" and claude.status_rows == 20
    assert claude.sensitive[:-1] == builtin.sensitive
    assert claude.sensitive[-1].pattern == "(?i)terraform apply"
    assert claude.waiting == builtin.waiting and claude.command == ("claude",)


def test_extra_sensitive_blocks_approval(tmp_path: Path) -> None:
    path = write(tmp_path, "[claude]\nextra_sensitive = ['terraform apply']\n")
    screen = [
        "╭──────────────────────────────╮",
        "│ Bash command                 │",
        "│   terraform apply            │",
        "│ Do you want to proceed?      │",
        "│ ❯ 1. Yes                     │",
        "╰──────────────────────────────╯",
    ]
    assert classify(screen, None, BUILTIN_PROFILES["claude"]).approvable
    result = classify(screen, None, load_profiles(path)["claude"])
    assert result.state == "waiting" and not result.approvable


def test_new_profile_with_its_own_patterns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[deployer]
command = ["deployer", "--tui"]
prompt_args = ["--task", "{prompt}"]
resume_args = ["--attach", "{id}"]
id_source = "output"
id_pattern = 'run (?P<id>\\d+) started'
approve_key = "y\\r"
busy = ['^Deploying', { reason = "upload", pattern = 'uploading \\d+%' }]
idle = ['^deployer>']

[[deployer.waiting]]
reason = "deploy"
kind = "tool-permission"
pattern = 'Deploy to (staging|prod)\\?'

[[deployer.waiting]]
reason = "rollback"
pattern = 'Roll back\\?'
""",
    )
    profile = load_profiles(path)["deployer"]
    assert profile.launch_argv("ship it") == ["deployer", "--tui", "--task", "ship it"]
    assert profile.resume_argv("42") == ["deployer", "--tui", "--attach", "42"]
    assert profile.find_session_id("run 42 started") == "42"
    assert profile.approve_key == b"y\r"
    assert [p.reason for p in profile.busy] == ["busy", "upload"]
    assert [(p.reason, p.kind) for p in profile.waiting] == [
        ("deploy", "tool-permission"),
        ("rollback", "question"),
    ]
    assert not profile.uses_generic
    result = classify(["plan ok", "Deploy to prod?"], 1, profile)
    assert (result.state, result.reason, result.approvable) == ("waiting", "deploy", True)
    assert classify(["uploading 40%"], 0, profile).reason == "upload"
    assert classify(["deployer> "], 0, profile).state == "idle"


def test_new_profile_without_patterns_uses_the_generic_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[mytool]\ncommand = ["mytool"]\n')
    profile = load_profiles(path)["mytool"]
    assert profile.uses_generic
    assert classify(["Overwrite? [y/N]"], 0, profile).kind == "generic"


def test_extends_may_name_a_profile_defined_later(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[claude-work]
extends = "claude-base"
args = ["--model", "opus"]

[claude-base]
extends = "claude"
command = ["/opt/claude"]

[[claude-base.extra_waiting]]
reason = "deploy"
kind = "question"
pattern = 'Deploy\\?'
""",
    )
    profiles = load_profiles(path)
    work = profiles["claude-work"]
    assert work.name == "claude-work"
    assert work.launch_argv("x") == ["/opt/claude", "--model", "opus", "--", "x"]
    assert work.waiting[0].reason == "deploy"
    assert work.waiting[1:] == BUILTIN_PROFILES["claude"].waiting
    assert work.approve_key == b"1"


def test_empty_optional_regex_removes_it(tmp_path: Path) -> None:
    profiles = load_profiles(write(tmp_path, "[claude]\napprove_pattern = ''\n"))
    assert profiles["claude"].approve_pattern is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[claude]\nstatus_rows = 3\nbogus = 1\n", 3, "unknown key 'bogus' in [claude]"),
        ("\n\n[claude]\napprove_key = = 1\n", 4, "TOML syntax error"),
        ('[x]\ncommand = ["a"\n', 3, "TOML syntax error"),
        ("[claude]\nstatus_rows = 0\n", 2, "'status_rows' must be a positive integer"),
        ('[claude]\n\ntype_prompt = "yes"\n', 3, "'type_prompt' must be true or false"),
        ("[claude]\ncommand = 'claude'\n", 2, "'command' must be a list of strings"),
        ("[claude]\nmenu = '(unclosed'\n", 2, "bad regular expression in 'menu'"),
        ("[claude]\nbusy = ['ok', '[oops']\n", 2, "bad regular expression in 'busy'"),
        ("[x]\nid_source = 'file'\n", 2, "'id_source' must be"),
        ("[x]\nid_source = 'output'\nid_pattern = 'sess \\d+'\n", 3, "needs a group"),
        ("[x]\nextends = 'nobody'\n", 2, "unknown profile 'nobody'"),
        ("[a]\nextends = 'b'\n[b]\nextends = 'a'\n", 2, "extends it back"),
        ("claude = 3\n", 1, "must be a table"),
        ('["bad name"]\nargs = []\n', 1, "may use only letters"),
        ("[x]\napprove_key = ''\n", 2, "'approve_key' must be a non-empty string"),
        (
            "[x]\n[[x.waiting]]\nreason = 'a'\npattern = 'a'\n\n[[x.waiting]]\n"
            "reason = 'b'\npattern = '(b'\n",
            8,
            "bad regular expression in 'waiting'",
        ),
        (
            "[x]\n[[x.waiting]]\nreason = 'a'\npattern = 'a'\nkind = 'sometimes'\n",
            5,
            "unknown kind 'sometimes'",
        ),
        (
            "[x]\n[[x.waiting]]\nreason = 'a'\npattern = 'a'\ncolour = 1\n",
            5,
            "unknown key 'colour'",
        ),
        ("[x]\n[[x.waiting]]\nreason = 'a'\n", 2, "needs a string 'pattern'"),
        ("[x]\n[[x.waiting]]\nreason = 'a'\npattern = 'a'\nmenu = 1\n", 5, "'menu' must be true"),
        ("[x]\nwaiting = ['a']\n", 2, "must be an array of tables"),
        ("[x]\nbusy = [{ pattern = 'a', colour = 1 }]\n", 2, "unknown key 'colour'"),
        ("[x]\nidle = [3]\n", 2, "must be a string or a table"),
        ("x.approve_key = 3\n", 1, "'approve_key' must be a non-empty string"),
    ],
)
def test_errors_name_the_file_and_the_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AgentsFileError) as caught:
        load_profiles(path)
    error = caught.value
    assert error.line == line
    assert message in str(error)
    assert str(error).startswith(f"{path}:{line}: ")


def test_unreadable_file_is_a_domain_error(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_bytes(b"\xff\xfe[claude]")
    with pytest.raises(AgentsFileError, match="cannot read"):
        load_profiles(path)


def test_parse_profiles_over_a_given_base() -> None:
    base = {"claude": BUILTIN_PROFILES["claude"]}
    profiles = parse_profiles("[claude]\nargs = ['--verbose']\n", "inline.toml", base)
    assert set(profiles) == {"claude"}
    assert profiles["claude"].args == ("--verbose",)


def test_the_documented_example_file_loads() -> None:
    import textwrap

    from c3desk.core import agents

    doc = agents.__doc__ or ""
    block = doc.split("patterns)::\n", 1)[1].split("\nAll patterns are", 1)[0]
    profiles = parse_profiles(textwrap.dedent(block), "docstring.toml")
    mycli = profiles["mycli"]
    assert mycli.approve_key == b"y\r"
    assert [p.reason for p in mycli.waiting] == ["deploy"]
    assert mycli.find_session_id(f"session: {UUID}") == UUID
    assert profiles["claude"].sensitive[-1].pattern == "(?i)terraform apply"
