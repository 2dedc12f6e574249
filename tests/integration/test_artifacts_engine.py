"""A session's images, PDFs, other files and its git diff are recorded as artifacts."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from helpers.engine import add, screen_has, started_engine, status, use_fake_agent

from c3desk.config import Paths
from c3desk.store.models import Artifact


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_files_and_diff_become_artifacts(db: Paths, tmp_path: Path, cli: Any) -> None:
    use_fake_agent(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "Test")
    (repo / "app.py").write_text("print('v1')\n")
    (repo / "notes.txt").write_text("user's own uncommitted change\n")
    git(repo, "add", "app.py", "notes.txt")
    git(repo, "commit", "-qm", "init")
    (repo / "notes.txt").write_text("user's own uncommitted change, edited before\n")
    (repo / "node_modules").mkdir()
    sid = add(
        "art",
        repo,
        prompt="write out/plot.png; write report.pdf; write summary.md hello; "
        "write node_modules/x.js; edit app.py",
    )

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "Do you want to make this edit"))
            await engine.send_text(sid, "1", enter=False)
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            await watch.until(
                lambda: (
                    Artifact.select()
                    .where((Artifact.session == sid) & (Artifact.type == "diff"))
                    .exists()
                ),
                timeout=30,
            )
        finally:
            await engine.stop()

    asyncio.run(scenario())
    found = {(a.type, Path(a.path).name) for a in Artifact.select().where(Artifact.session == sid)}
    assert found >= {
        ("image", "plot.png"),
        ("pdf", "report.pdf"),
        ("file", "summary.md"),
        ("file", "app.py"),
        ("diff", "changes.diff"),
    }
    assert not any(name == "x.js" for _, name in found)  # node_modules ignored
    paths = [a.path for a in Artifact.select().where(Artifact.session == sid)]
    assert len(paths) == len(set(paths))  # each path once
    diff = (db.artifacts_dir / sid / "changes.diff").read_text()
    assert "app.py" in diff and "notes.txt" not in diff  # only changes since the start
    listed = cli("artifacts", sid, "--json", check=True).json()
    assert {(a["type"], Path(a["path"]).name) for a in listed} == found
