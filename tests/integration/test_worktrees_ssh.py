"""Worktree isolation on an SSH worker: git runs over the worker's connection (the loopback sshd,
so the "remote" repository is on this machine and the test can look at it directly)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import one_line_error
from helpers.engine import add, row, started_engine, status
from helpers.gitrepo import HOSTILE, clean, git, isolate_git, make_repo
from helpers.remote import add_ssh_worker, ssh_factory, trust_store, use_remote_agent
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.core import worktree_ops
from c3desk.core.engine import worker_info
from c3desk.errors import Refused
from c3desk.store.models import Worker

# A branch name git takes, full of what a shell would run.
BRANCH = "c3/$(touch${IFS}pwned)`id`;x|y&z'q\""


@pytest.fixture(autouse=True)
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def test_a_remote_session_gets_its_worktree_and_the_cli_diffs_merges_and_removes_it(
    db: Paths,
    cli: Any,
    home: Path,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    # A folder name no shell may read as code: it reaches the server quoted, word by word.
    repo = make_repo(tmp_path / HOSTILE)
    starts = tmp_path / "argv.log"

    async def main() -> str:
        use_remote_agent(tmp_path, FAKE_CLAUDE_ARGV_LOG=str(starts))
        box = add_ssh_worker(sshd)
        factory, made = ssh_factory(sshd, tmp_path)
        sid = add(
            "Remote job", repo, prompt="write notes.txt remote; exit 0", worker=box.name,
            worktree=BRANCH,
        )  # fmt: skip
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: made["box"].status == "connected", 20)
            await watch.until(lambda: status(sid) == "completed", 40)
        finally:
            await engine.stop()
        return sid

    sid = asyncio.run(main())
    s = row(sid)
    tree = tmp_path / f"{HOSTILE}.worktrees" / "c3-touch-IFS-pwned-id-x-y-z-q"
    assert (s.worktree_repo, s.worktree_path, s.worktree_base) == (str(repo), str(tree), "main")
    assert json.loads(starts.read_text().splitlines()[0])["cwd"] == str(tree)
    assert (tree / "notes.txt").read_text() == "remote\n"
    assert not (repo / "notes.txt").exists()

    trust_store(sshd, home)  # the CLI's own connection checks <data dir>/known_hosts
    diff = cli("worktree", "diff", sid, check=True).stdout
    assert "untracked files not in the diff: notes.txt" in diff
    one_line_error(cli("worktree", "remove", sid), 1, "uncommitted changes", "--force")
    git(tree, "add", "notes.txt")
    git(tree, "commit", "-q", "-m", "remote work")
    assert "+remote" in window_diff(sshd, tmp_path, sid, row(sid).worker_id)
    # A fast-forward: it needs no identity on the server.
    cli("worktree", "merge", sid, "--ff-only", check=True)
    assert (repo / "notes.txt").read_text() == "remote\n" and clean(repo)
    cli("worktree", "remove", sid, check=True)
    assert not tree.exists()
    assert git(repo, "branch", "--list", "c3/*") == ""
    assert row(sid).worktree_branch == BRANCH
    for where in (tmp_path, repo, Path.home()):
        assert not (where / "pwned").exists() and not (where / "pwned2").exists()


def window_diff(server: Sshd, where: Path, sid: str, worker_id: str) -> str:
    """The diff as the window gets it: through the engine's connection to the worker (refused
    while that is not connected)."""
    factory, _made = ssh_factory(server, where)
    box = Worker.get_by_id(worker_id)
    conn = factory(worker_info(box))

    async def go() -> str:
        with pytest.raises(Refused, match="not connected"):
            await worktree_ops.perform("diff", sid, {worker_id: conn}.get)
        await conn.connect()
        try:
            return await worktree_ops.perform("diff", sid, {worker_id: conn}.get)
        finally:
            await conn.close()

    return asyncio.run(go())


def test_a_remote_folder_outside_any_repository_fails_the_session_naming_it(
    db: Paths,
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    async def main() -> str:
        use_remote_agent(tmp_path)
        box = add_ssh_worker(sshd)
        factory, _made = ssh_factory(sshd, tmp_path)
        # Not checked when added (the folder is the server's): at the start, over SSH.
        sid = add("job", plain, worker=box.name, worktree="")
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: status(sid) == "failed", 40)
        finally:
            await engine.stop()
        return sid

    reason = row(asyncio.run(main())).failure_reason
    assert reason == f"worktree: folder {str(plain)!r} is not in a git repository"
