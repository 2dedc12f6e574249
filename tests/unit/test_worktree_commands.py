"""Worktree names, paths and git command lines (no git run here)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import pytest

from c3desk.core import worktrees as wt
from c3desk.errors import InvalidInput


@pytest.mark.parametrize(
    "name",
    ["feature", "c3/fix-nav-1234abcd", "a/b/c", "ü-branch", "x.y", "v1.2"],
)
def test_usable_branch_names_pass(name: str) -> None:
    assert wt.validate_branch(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("-x", 'starts with "-"'),
        ("--force", 'starts with "-"'),
        ("a..b", '".."'),
        ("a b", "white space"),
        ("a\tb", "control"),
        ("a\x1b[31m", "control"),
        ("a~1", "'~'"),
        ("a^", "'^'"),
        ("a:b", "':'"),
        ("a?", "'?'"),
        ("a*", "'*'"),
        ("a[b", "'['"),
        ("a\\b", "'\\\\'"),
        ("a@{1}", '"@{"'),
        ("@", "reserved"),
        ("HEAD", "reserved"),
        ("/a", "empty part"),
        ("a/", "empty part"),
        ("a//b", "empty part"),
        ("a.", 'ends with "."'),
        (".a", 'starts with "."'),
        ("a/.b", 'starts with "."'),
        ("a.lock", '".lock"'),
        ("a/b.lock/c", '".lock"'),
        ("x" * 201, "longer"),
    ],
)
def test_unusable_branch_names_are_refused_naming_the_value(name: str, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        wt.validate_branch(name)
    message = str(caught.value)
    assert repr(name) in message and why in message and "\n" not in message


def test_default_branch_is_a_safe_slug_of_the_title_and_the_id() -> None:
    branch = wt.default_branch("Fix the nav bug: $(rm -rf ~) 'now' ünïcödé", "0A1b2C3d-ffff")
    assert branch == "c3/fix-the-nav-bug-rm-rf-no-0a1b2c3d"
    assert wt.validate_branch(branch) == branch
    assert wt.default_branch("!!!", "abc") == "c3/session-abc"
    assert wt.default_branch("-leading dash", "1") == "c3/leading-dash-1"


def test_worktree_paths_beside_the_repository_or_under_the_root() -> None:
    assert wt.worktree_path("/src/app", "c3/fix-1") == "/src/app.worktrees/c3-fix-1"
    assert wt.worktree_path("/src/app/", "feature") == "/src/app.worktrees/feature"
    assert wt.worktree_path("/src/app", "a/b", "/wt") == "/wt/app/a-b"
    # A branch name cannot lead the folder anywhere else.
    assert wt.branch_slug("..weird/../x") == "weird-..-x"
    assert "/" not in wt.branch_slug("a/b/c")


def test_the_root_setting_is_empty_or_an_absolute_path() -> None:
    assert wt.validate_root("worktree_root", "") == ""
    assert wt.validate_root("worktree_root", " default ") == ""
    assert wt.validate_root("worktree_root", "/srv/wt/") == "/srv/wt"
    for bad in ("relative", "~/wt", "/a\nb"):
        with pytest.raises(InvalidInput, match="worktree_root"):
            wt.validate_root("worktree_root", bad)


def test_commands_are_argv_lists_with_every_path_after_its_option() -> None:
    hostile = "/tmp/-x $(touch pwned) 'q\" ü"
    argv = wt.cmd_worktree_add(hostile, hostile + ".worktrees/b", "b", "a" * 40)
    assert argv[:3] == ["git", "-C", hostile]
    assert argv[-4:] == ["b", "--", hostile + ".worktrees/b", "a" * 40]
    assert wt.cmd_merge("/r", "c3/x-1", "ff-only", "m")[-1] == "refs/heads/c3/x-1"
    assert wt.cmd_merge_base("/w", "main")[-2] == "refs/heads/main"
    assert wt.cmd_merge_base("/w", "f" * 40)[-2] == "f" * 40
    assert wt.cmd_worktree_remove("/r", "/w", force=True)[-3:] == ["--force", "--", "/w"]
    with pytest.raises(InvalidInput):
        wt.git("relative/folder", "status")
    with pytest.raises(InvalidInput):
        wt.cmd_merge("/r", "-x", "auto", "m")
    with pytest.raises(InvalidInput):
        wt.cmd_diff("/w", "--output=/etc/passwd")


def test_the_ssh_runner_quotes_every_word_and_sets_gits_environment() -> None:
    seen: list[list[str]] = []

    def ssh(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        seen.append(list(argv))
        return 0, b"", b""

    hostile = "/tmp/$(touch pwned) `id` ;rm -rf ~ 'q\""
    wt.remote_runner(ssh)(wt.cmd_status(hostile))
    argv = seen[0]
    assert argv[0] == "env" and "GIT_TERMINAL_PROMPT=0" in argv and "LC_ALL=C" in argv
    # The SSH connection joins them with shlex: the shell there gets each word back as is.
    assert shlex.split(shlex.join(argv)) == argv
    assert hostile in argv


def test_git_errors_name_the_folder() -> None:
    def not_a_repo(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        return 128, b"", b"fatal: not a git repository (or any of the parent directories): .git"

    with pytest.raises(wt.GitError, match="'/home/u/notes' is not in a git repository"):
        wt.inspect(not_a_repo, "/home/u/notes")

    def no_git(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        return 127, b"", b"sh: git: not found"

    with pytest.raises(wt.GitError, match="git is not installed there"):
        wt.inspect(no_git, "/home/u/notes")


def test_a_failure_reason_is_gits_fatal_line_not_its_progress() -> None:
    worktree_add = (
        b"Preparing worktree (new branch 'c3/x-1')\n"
        b"fatal: could not create leading directories of '/etc/passwd/r/x/.git': Not a directory\n"
    )
    assert wt._why(128, worktree_add) == (
        "fatal: could not create leading directories of '/etc/passwd/r/x/.git': Not a directory"
    )
    both = b"Updating 1234abc..5678def\nerror: cannot lock ref\nfatal: giving up\nhint: try\n"
    assert wt._why(128, both) == "error: cannot lock ref; fatal: giving up"
    # No fatal or error line: the last one that is not progress.
    said = b"Preparing worktree (checking out 'x')\nsomething went wrong\nHEAD is now at 1a x\n"
    assert wt._why(1, said) == "something went wrong"
    assert wt._why(255, b"debug\nssh: connect to host h port 22: Connection refused\n") == (
        "ssh: connect to host h port 22: Connection refused"
    )
    assert wt._why(1, b"Preparing worktree (new branch 'x')\n") == (
        "Preparing worktree (new branch 'x')"
    )
    assert wt._why(3, b"") == "git exited with status 3"


CORPUS = [
    "c3/$(touch${IFS}pwned)`id`",
    "a{b}",
    "x$y;z|w&v<u>t'q\"",
    "ü/ñ",
    "a/b",
    "x@y",
    "@x",
    "-x",
    "a..b",
    "HEAD",
    "a@{b",
    "a.lock",
    ".a",
    "a/",
    "a//b",
    "a.",
    "a b",
    "a\x7fb",
    "a~b",
    "a:b",
]


@pytest.mark.parametrize("name", CORPUS)
def test_branch_names_are_judged_as_git_check_ref_format_does(name: str) -> None:
    import subprocess

    git_says = (
        subprocess.run(
            ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
        ).returncode
        == 0
    )
    try:
        wt.validate_branch(name)
        ours = True
    except InvalidInput:
        ours = False
    assert ours == git_says


def test_a_folder_with_a_line_break_is_refused_before_git_runs() -> None:
    ran: list[Sequence[str]] = []

    def runner(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        ran.append(argv)
        return 0, b"", b""

    with pytest.raises(wt.GitError, match="line break"):
        wt.inspect(runner, "/tmp/a\nb")
    assert ran == []
