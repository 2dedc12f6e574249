"""Git worktree isolation with real git: a session made to run in its own worktree, then the
user's diff, merge and remove through the command line (local here; the SSH worker's in
test_worktrees_ssh.py)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import one_line_error
from helpers.engine import add, row, started_engine, status, use_fake_agent
from helpers.gitrepo import HOSTILE, clean, commit, git, isolate_git, made, make_repo

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import worktree_ops
from c3desk.store.models import SessionEvent, Settings
from c3desk.transports.base import SpawnError
from c3desk.transports.connection import WorkerInfo
from c3desk.transports.local_connection import LocalConnection


@pytest.fixture(autouse=True)
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def isolated(repo: Path, title: str = "job", branch: str = "") -> tuple[str, Path]:
    sid = add(title, repo, prompt=None, worktree=branch)
    return sid, made(sid, repo)


# -- a session in its worktree ---------------------------------------------------------------


def test_a_session_runs_in_its_worktree_and_a_continue_reuses_it(
    db: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "src" / "app")
    (repo / "sub").mkdir()
    commit(repo, "sub/keep.txt", "k\n")
    starts = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_CLAUDE_ARGV_LOG", str(starts))

    async def main() -> str:
        use_fake_agent(tmp_path)
        # Started from a folder inside the repository: it runs in the same folder of the tree.
        sid = add(
            "Fix the nav bug",
            repo / "sub",
            prompt="write notes.txt isolated; exit 0",
            worktree="c3/fix-the-nav-bug-1",
        )
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "completed", 30)
            # Continued: the same worktree, not a new one.
            assert engine.continue_session(sid) in ("active", "queued")
            await watch.until(lambda: status(sid) == "active", 20)
            await watch.until(lambda: len(starts.read_text().splitlines()) == 2, 20)
            await engine.kill(sid)
        finally:
            await engine.stop()
        return sid

    sid = asyncio.run(main())
    s = row(sid)
    tree = tmp_path / "src" / "app.worktrees" / "c3-fix-the-nav-bug-1"
    assert (s.worktree_branch, s.worktree_base) == ("c3/fix-the-nav-bug-1", "main")
    assert (s.worktree_repo, s.worktree_path) == (str(repo), str(tree))
    cwds = [json.loads(line)["cwd"] for line in starts.read_text().splitlines()]
    assert cwds == [str(tree / "sub"), str(tree / "sub")]
    assert (tree / "sub" / "notes.txt").read_text() == "isolated\n"
    assert not (repo / "sub" / "notes.txt").exists()  # the repository itself is untouched
    assert git(tree, "branch", "--show-current").strip() == "c3/fix-the-nav-bug-1"
    created = [
        json.loads(e.detail)
        for e in SessionEvent.select().where(
            (SessionEvent.session == sid) & (SessionEvent.kind == "worktree")
        )
    ]
    assert [e["action"] for e in created] == ["created"]


def test_a_worktree_that_cannot_be_made_fails_the_session_with_one_line(
    db: Paths, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    git(repo, "checkout", "-q", "-b", "taken")
    commit(repo, "theirs.txt", "t\n")  # a branch with work of its own: never taken over
    git(repo, "checkout", "-q", "main")
    tip = git(repo, "rev-parse", "taken")

    async def main() -> str:
        use_fake_agent(tmp_path)
        sid = add("job", repo, worktree="taken")
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "failed", 30)
        finally:
            await engine.stop()
        return sid

    reason = row(asyncio.run(main())).failure_reason
    assert reason == (
        f"worktree: branch 'taken' already exists in {str(repo)!r}; c3desk takes over only its "
        "own c3/... branches"
    )
    assert git(repo, "rev-parse", "taken") == tip


def test_the_root_setting_puts_worktrees_under_it(db: Paths, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app")
    cfg.set_setting("worktree_root", str(tmp_path / "trees"))
    _sid, tree = isolated(repo, branch="feature/x")
    assert tree == tmp_path / "trees" / "app" / "feature-x"
    assert git(tree, "branch", "--show-current").strip() == "feature/x"


# -- a creation that fails, and what it may leave -------------------------------------------


def a_file_as_root(tmp_path: Path) -> Path:
    """A ``worktree_root`` that is a file, as an older c3desk accepted it (refused now)."""
    afile = tmp_path / "a-file"
    afile.write_text("not a folder\n")
    Settings.update(worktree_root=str(afile)).where(Settings.id == 1).execute()
    return afile


def start_fails(sid: str, folder: Path) -> str:
    """Activate the session as the engine does, its worktree failing: the failure's reason."""
    sess.transition(sid, "active")
    conn = LocalConnection(WorkerInfo("local-id", "local", "local"))
    with pytest.raises(SpawnError) as caught:
        asyncio.run(worktree_ops.place(conn, sid, str(folder)))
    reason = str(caught.value)
    sess.transition(sid, "failed", failure_reason=reason)
    return reason


def test_a_failed_creation_names_gits_reason_leaves_no_branch_and_a_retry_makes_it(
    db: Paths, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    afile = a_file_as_root(tmp_path)
    seen: dict[str, str] = {}

    async def main() -> str:
        use_fake_agent(tmp_path)
        sid = add("wtroot", repo, prompt="exit 0", worktree="")
        engine, watch = await started_engine(db)
        try:
            await watch.until(lambda: status(sid) == "failed", 30)
            seen["reason"] = str(row(sid).failure_reason)
            seen["branches"] = git(repo, "branch", "--list", "c3/*")
            seen["trees"] = git(repo, "worktree", "list", "--porcelain")
            cfg.set_setting("worktree_root", "")
            assert engine.retry_session(sid) == "queued"
            await watch.until(lambda: status(sid) == "completed", 30)
        finally:
            await engine.stop()
        return sid

    sid = asyncio.run(main())
    branch = str(row(sid).worktree_branch)
    slug = branch.replace("/", "-")
    # git's fatal line, not its "Preparing worktree (new branch ...)" progress line.
    assert seen["reason"].startswith(
        f"worktree: cannot create the worktree {str(afile / 'app' / slug)!r}: "
        "fatal: could not create leading directories of "
    )
    assert seen["reason"].endswith("Not a directory") and "Preparing" not in seen["reason"]
    # Nothing left behind: the retry makes the worktree on the branch, from scratch.
    assert seen["branches"] == ""
    assert seen["trees"].count("worktree ") == 1
    tree = tmp_path / "app.worktrees" / slug
    assert row(sid).worktree_path == str(tree)
    assert git(tree, "branch", "--show-current").strip() == branch


def test_a_retry_reuses_the_branch_an_older_c3desk_left_behind(db: Paths, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app")
    sid = add("job", repo, prompt=None, worktree="")
    branch = str(row(sid).worktree_branch)
    git(repo, "branch", branch)  # left by a failed start: at HEAD, in no worktree
    tree = made(sid, repo)
    assert git(tree, "branch", "--show-current").strip() == branch
    assert git(tree, "rev-parse", "HEAD") == git(repo, "rev-parse", "main")
    assert row(sid).worktree_base == "main"


def test_a_leftover_branch_with_work_or_a_worktree_is_refused_naming_it(
    db: Paths, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    ahead = add("ahead", repo, prompt=None, worktree="c3/ahead")
    git(repo, "branch", "c3/ahead")
    git(repo, "worktree", "add", "-q", str(tmp_path / "elsewhere"), "c3/ahead")
    commit(tmp_path / "elsewhere", "mine.txt", "m\n")
    tip = git(repo, "rev-parse", "c3/ahead")
    reason = start_fails(ahead, repo)
    assert reason == (
        f"worktree: branch 'c3/ahead' already exists in {str(repo)!r} and is checked out at "
        f"{str(tmp_path / 'elsewhere')!r}; c3desk will not take it over"
    )
    git(repo, "worktree", "remove", str(tmp_path / "elsewhere"))
    sess.transition(ahead, "queued")
    reason = start_fails(ahead, repo)
    assert "'c3/ahead' already exists" in reason and "1 commit of its own" in reason
    # An older commit than HEAD (none of its own): not moved either.
    behind = add("behind", repo, prompt=None, worktree="c3/behind")
    git(repo, "branch", "c3/behind")
    commit(repo, "later.txt", "l\n")
    reason = start_fails(behind, repo)
    assert "'c3/behind' already exists" in reason and "not move it" in reason
    assert git(repo, "rev-parse", "c3/ahead") == tip  # untouched, as its worktree left it
    assert git(repo, "rev-parse", "c3/behind") == git(repo, "rev-parse", "main~1")
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    # A branch of the user's, even at HEAD in no worktree: never taken (removing the worktree
    # would delete it).
    mine = add("mine", repo, prompt=None, worktree="my-feature")
    git(repo, "branch", "my-feature")
    reason = start_fails(mine, repo)
    assert "'my-feature' already exists" in reason and "only its own c3/" in reason
    assert git(repo, "rev-parse", "my-feature") == git(repo, "rev-parse", "main")


def test_worktree_commands_after_a_failed_creation_say_so(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    a_file_as_root(tmp_path)
    sid = add("job", repo, prompt=None, worktree="")
    start_fails(sid, repo)
    for force in ((), ("--force",)):
        line = one_line_error(
            cli("worktree", "remove", sid, *force),
            1,
            f"session {sid} has no worktree: its creation failed (cannot create the worktree",
            "Not a directory",
            "; nothing to remove",
        )
        assert "not started" not in line
    one_line_error(cli("worktree", "diff", sid), 1, "its creation failed", "nothing to diff")
    # Retried (queued again): true as well.
    sess.transition(sid, "queued")
    line = one_line_error(cli("worktree", "merge", sid), 1, "has no worktree yet", "last start")
    assert "not started" not in line


def test_the_root_setting_refuses_a_file_but_takes_a_folder_to_be_made(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x\n")
    one_line_error(cli("settings", "set", "worktree_root", str(afile)), 2, repr(str(afile)))
    inside = str(afile / "trees")
    result = cli("settings", "set", "worktree_root", inside)
    one_line_error(result, 2, repr(inside), f"inside {str(afile)!r}", "not a folder")
    assert cfg.get_settings()["worktree_root"] == ""
    later = tmp_path / "not" / "yet"
    cli("settings", "set", "worktree_root", str(later), check=True)
    assert cfg.get_settings()["worktree_root"] == str(later)


# -- the command line ------------------------------------------------------------------------


def test_add_refuses_a_folder_outside_any_repository_and_bad_branch_names(
    cli: Any, tmp_path: Path
) -> None:
    plain = tmp_path / "plain folder"
    plain.mkdir()
    result = cli("add", "--title", "t", "--dir", str(plain), "--worktree")
    one_line_error(result, 2, str(plain), "not in a git repository")
    repo = make_repo(tmp_path / "app")
    for bad in ("-x", "a..b", "a b", "x\x01", "a.lock"):
        result = cli("add", "--title", "t", "--dir", str(repo), f"--worktree={bad}")
        one_line_error(result, 2, "branch name", "is not usable")
    assert cli("list", "--json", check=True).json() == []
    sid = cli("add", "--title", "Nice", "--dir", str(repo), "--worktree", check=True).stdout
    shown = cli("show", sid.strip(), "--json", check=True).json()
    assert shown["worktree_branch"] == f"c3/nice-{sid.strip()[:8]}"
    assert shown["worktree_path"] is None  # made when it starts
    listed = cli("list", check=True).stdout.splitlines()
    assert listed[0].split()[-1] == "BRANCH" and listed[1].endswith(f"c3/nice-{sid.strip()[:8]}")


def test_diff_and_fast_forward_merge_then_remove(db: Paths, cli: Any, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app")
    sid, tree = isolated(repo)
    (tree / "readme.txt").write_text("one\ntwo\n")  # uncommitted, tracked
    (tree / "new.txt").write_text("new\n")  # untracked
    diff = cli("worktree", "diff", sid, check=True).stdout
    assert "+two" in diff and "# 1 untracked files not in the diff: new.txt" in diff
    # Uncommitted work is not merged (nor silently left behind).
    one_line_error(cli("worktree", "merge", sid), 1, "uncommitted changes", str(tree))
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "work")
    diff = cli("worktree", "diff", sid, check=True).stdout
    assert "+two" in diff and "+new" in diff and "untracked" not in diff
    result = cli("worktree", "merge", sid, "--ff-only", check=True)
    assert "merged" in result.stdout
    assert (repo / "new.txt").read_text() == "new\n"
    assert git(repo, "rev-parse", "main") == git(tree, "rev-parse", "HEAD")
    assert git(repo, "log", "--merges", "--oneline") == ""  # a fast-forward
    # Merged and clean: removed without --force.
    result = cli("worktree", "remove", sid, check=True)
    assert not tree.exists()
    assert git(repo, "branch", "--list", row(sid).worktree_branch or "") == ""
    assert clean(repo)


def test_merge_commit_when_the_base_moved_on_and_ff_only_refused(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    sid, tree = isolated(repo, title="Add feature")
    commit(tree, "feature.txt", "f\n")
    commit(repo, "other.txt", "o\n")
    one_line_error(cli("worktree", "merge", sid, "--ff-only"), 1, "cannot be fast-forwarded")
    assert clean(repo) and not (repo / "feature.txt").exists()
    cli("worktree", "merge", sid, check=True)
    assert (repo / "feature.txt").exists() and (repo / "other.txt").exists()
    subject = git(repo, "log", "-1", "--format=%s %P").split()
    assert subject[:3] == ["Merge", "branch", f"'{row(sid).worktree_branch}'"]
    assert len(git(repo, "log", "-1", "--format=%P").split()) == 2


def test_no_ff_makes_a_merge_commit_even_when_a_fast_forward_would_do(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    sid, tree = isolated(repo)
    commit(tree, "feature.txt", "f\n")
    cli("worktree", "merge", sid, "--no-ff", check=True)
    assert len(git(repo, "log", "-1", "--format=%P").split()) == 2
    one_line_error(cli("worktree", "merge", sid, "--no-ff", "--ff-only"), 2, "exclude")


def test_a_conflicting_merge_is_refused_and_the_repository_left_as_it_was(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    sid, tree = isolated(repo)
    commit(tree, "readme.txt", "theirs\n")
    commit(repo, "readme.txt", "ours\n")
    before = git(repo, "rev-parse", "HEAD")
    result = cli("worktree", "merge", sid)
    one_line_error(result, 1, "conflicts in readme.txt", "nothing was merged")
    assert git(repo, "rev-parse", "HEAD") == before
    assert clean(repo) and (repo / "readme.txt").read_text() == "ours\n"
    assert not (repo / ".git" / "MERGE_HEAD").exists()


def test_merge_refused_when_the_repository_is_dirty_or_on_another_branch(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    sid, tree = isolated(repo)
    commit(tree, "feature.txt", "f\n")
    (repo / "readme.txt").write_text("edited, not committed\n")
    one_line_error(cli("worktree", "merge", sid), 1, str(repo), "uncommitted changes")
    git(repo, "checkout", "-q", "--", "readme.txt")
    git(repo, "checkout", "-q", "-b", "elsewhere")
    one_line_error(cli("worktree", "merge", sid), 1, "is on elsewhere", "'main'")
    assert not (repo / "feature.txt").exists()


def test_remove_refuses_work_that_would_be_lost_unless_forced(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    sid, tree = isolated(repo)
    branch = row(sid).worktree_branch
    commit(tree, "feature.txt", "f\n")
    (tree / "scratch.txt").write_text("unsaved\n")
    result = cli("worktree", "remove", sid)
    one_line_error(result, 1, "1 uncommitted changes", "1 commits not merged", "--force")
    assert (tree / "scratch.txt").exists()
    cli("worktree", "remove", sid, "--force", check=True)
    assert not tree.exists()
    assert git(repo, "branch", "--list", "c3/*") == "" and clean(repo)
    # The branch stays on record; a continue would make a new worktree (never use the repo).
    s = row(sid)
    assert (s.worktree_path, s.worktree_base, s.worktree_branch) == (None, "main", str(branch))
    one_line_error(cli("worktree", "diff", sid), 1, "worktree was removed")
    again = made(sid, repo)  # continued: a new worktree, from where main is now
    assert again == tree and not (again / "feature.txt").exists()
    assert git(again, "branch", "--show-current").strip() == branch


def test_operations_refuse_a_running_session_and_one_without_a_worktree(
    db: Paths, cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    plain = add("plain", repo, prompt=None)
    one_line_error(cli("worktree", "diff", plain), 1, "does not run in a worktree")
    waiting = add("later", repo, prompt=None, worktree="")
    one_line_error(cli("worktree", "merge", waiting), 1, "has not started yet")
    sid, _tree = isolated(repo)
    sess.transition(sid, "queued")
    sess.transition(sid, "active")
    one_line_error(cli("worktree", "remove", sid, "--force"), 1, "is running")


def test_a_hostile_folder_name_works_and_runs_nothing(db: Paths, cli: Any, tmp_path: Path) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    repo = make_repo(tmp_path / HOSTILE)
    sid = cli("add", "--title", "$(touch pwned)", "--dir", str(repo), "--worktree", check=True)
    sid_text = sid.stdout.strip()
    tree = made(sid_text, repo)
    assert tree.parent == tmp_path / f"{HOSTILE}.worktrees"
    commit(tree, "x.txt", "x\n")
    assert "+x" in cli("worktree", "diff", sid_text, check=True).stdout
    cli("worktree", "merge", sid_text, check=True)
    cli("worktree", "remove", sid_text, check=True)
    assert (repo / "x.txt").exists() and not tree.exists()
    for where in (tmp_path, here, Path.cwd(), repo):
        assert not (where / "pwned").exists() and not (where / "pwned2").exists()
    assert os.listdir(tmp_path / f"{HOSTILE}.worktrees") == []
