"""A session's artifacts, recorded by the real engine from real processes in real PTYs.

- With a transcript, only the files the agent reports writing are listed: a stand-in agent
  writes Claude Code 2.1's transcript lines (checked against the real CLI: an assistant
  ``tool_use`` block, then a user ``tool_result``, a subagent's in ``<id>/subagents/``) while
  another process writes into the same folder.
- Without one, the folder scan never lists c3desk's data folder or Claude Code's config folder,
  even when the session's folder holds them.
- The scan is bounded; its cut is recorded once as an ``artifacts`` event.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.engine import add, screen_has, started_engine, status, use_fake_agent

from c3desk.config import Paths
from c3desk.core import settings as cfg
from c3desk.core.artifact_watch import EVENT, MAX_DEPTH, ArtifactWatcher
from c3desk.store.models import Artifact, Session, SessionEvent
from c3desk.transports.base import ExitCallback, OutputCallback, Process, SpawnError, SpawnRequest
from c3desk.transports.connection import DirEntry, FileStat, WorkerConnection, WorkerInfo
from c3desk.transports.local_connection import LocalConnection

# A stand-in for Claude Code that writes its transcript as the real CLI does: for each planned
# write, the assistant's tool_use line, then (unless refused) the file, then the tool_result.
AGENT = r"""
import json, os, re, sys, time
from pathlib import Path

args = sys.argv[1:]
sid = args[args.index("--session-id") + 1]
plan = json.loads(Path(sys.argv[0]).with_suffix(".json").read_text())
cwd = os.getcwd()
project = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects" / re.sub(
    r"[^a-zA-Z0-9-]", "-", os.path.realpath(cwd))
main = project / f"{sid}.jsonl"
sub = project / sid / "subagents" / "agent-a1b2c3.jsonl"

def line(path, kind, content, sidechain):
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"parentUuid": None, "isSidechain": sidechain, "type": kind, "cwd": cwd,
             "sessionId": sid, "message": {"role": kind, "content": content}}
    with path.open("a") as out:
        out.write(json.dumps(entry) + "\n")

line(main, "user", "make the report", False)
for n, step in enumerate(plan["writes"]):
    where = sub if step.get("subagent") else main
    tool_id = f"toolu_{n:04}"
    args_ = {"file_path": step["path"], "content": step.get("text", "")}
    line(where, "assistant",
         [{"type": "tool_use", "id": tool_id, "name": step.get("tool", "Write"), "input": args_}],
         where is sub)
    result = {"tool_use_id": tool_id, "type": "tool_result", "content": "File created"}
    if step.get("refused"):
        result.update(is_error=True, content="permission refused")
    else:
        target = Path(cwd, step["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as out:
            out.write(step.get("text", "data") + "\n")
    line(where, "user", [result], where is sub)
print("agent ready", flush=True)
while not os.path.exists(plan["go"]):
    time.sleep(0.05)
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(repo: Path) -> None:
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "Test")
    (repo / "app.py").write_text("print('v1')\n")
    (repo / "notes.txt").write_text("user's own uncommitted change\n")
    git(repo, "add", "app.py", "notes.txt")
    git(repo, "commit", "-qm", "init")
    (repo / "notes.txt").write_text("user's own uncommitted change, edited before\n")


def use_agent(tmp_path: Path, plan: dict[str, Any]) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    script.with_suffix(".json").write_text(json.dumps(plan))
    os.environ["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude-config")
    cfg.set_setting("claude_command", shlex.join([sys.executable, str(script)]))


def artifacts_of(sid: str) -> set[tuple[str, str]]:
    return {(a.type, a.path) for a in Artifact.select().where(Artifact.session == sid)}


def events_of(sid: str) -> list[dict[str, Any]]:
    rows = SessionEvent.select().where((SessionEvent.session == sid) & (SessionEvent.kind == EVENT))
    return [json.loads(str(e.detail)) for e in rows.order_by(SessionEvent.id)]


def test_only_what_the_agent_reports_writing_is_listed(db: Paths, tmp_path: Path, cli: Any) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    config = tmp_path / "claude-config"
    go = tmp_path / "go"
    use_agent(
        tmp_path,
        {
            "go": str(go),
            "writes": [
                {"path": "out/plot.png"},
                {"path": "report.pdf"},
                {"path": "summary.md", "text": "hello"},
                {"path": "app.py", "tool": "Edit", "text": "print('v2')"},
                {"path": "refused.txt", "refused": True},
                {"path": "node_modules/x.js"},
                {"path": "sub/chart.png", "subagent": True},
                {"path": str(config / "plans" / "plan.md")},
                {"path": str(db.home / "notes.txt")},
            ],
        },
    )
    sid = add("art", repo, prompt="make the report")

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "agent ready"))
            # Another program writes into the same folder while the session runs, one of them
            # the file the agent was refused.
            (repo / "foreign.txt").write_text("not the session's\n")
            (repo / "refused.txt").write_text("written by someone else\n")
            await engine.artifacts.scan(sid)  # a look while it runs, as the engine's tick does
            go.touch()
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
    assert artifacts_of(sid) == {
        ("image", str(repo / "out" / "plot.png")),
        ("pdf", str(repo / "report.pdf")),
        ("file", str(repo / "summary.md")),
        ("file", str(repo / "app.py")),
        ("image", str(repo / "sub" / "chart.png")),  # written by a subagent
        ("diff", str(db.artifacts_dir / sid / "changes.diff")),
    }
    assert [e["source"] for e in events_of(sid)] == ["transcript"]
    diff = (db.artifacts_dir / sid / "changes.diff").read_text()
    assert "app.py" in diff and "notes.txt" not in diff  # only changes since the start
    listed = cli("artifacts", sid, "--json", check=True).json()
    assert {(a["type"], a["path"]) for a in listed} == artifacts_of(sid)


def test_a_folder_holding_c3desk_data_lists_none_of_it(db: Paths, tmp_path: Path) -> None:
    """The session runs in the folder that holds c3desk's data folder and Claude Code's config
    folder (as /tmp or ~ can); the agent keeps no transcript, so the folder is scanned."""
    use_fake_agent(tmp_path)  # CLAUDE_CONFIG_DIR is tmp_path/claude-config
    assert db.home.parent == tmp_path
    sid = add("home", tmp_path, prompt=None)  # no turn: the fake writes no transcript

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "? for shortcuts"))
            (tmp_path / "made-meanwhile.txt").write_text("x\n")
            (tmp_path / ".claude.json").write_text("{}\n")  # Claude Code's state file in ~
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) == "completed")
            # The last scan records what it found at once: wait for the expected file.
            made = str(tmp_path / "made-meanwhile.txt")
            await watch.until(
                lambda: Artifact.select().where(Artifact.path == made).exists(), timeout=30
            )
        finally:
            await engine.stop()

    asyncio.run(scenario())
    # c3desk wrote its database, log, scrollback and hook settings during the session.
    assert (db.scrollback_dir / f"{sid}.log").exists()
    assert any(db.run_dir.iterdir())
    # With no transcript, the folder scan attributes what changed there, c3desk's files aside.
    assert artifacts_of(sid) == {("file", str(tmp_path / "made-meanwhile.txt"))}
    assert [(e["source"], e["limit"]) for e in events_of(sid)] == [("scan", None)]


def test_a_cut_scan_is_recorded_once(db: Paths, tmp_path: Path) -> None:
    root = tmp_path / "big"
    for n in range(300):
        (root / f"d{n % 7}").mkdir(parents=True, exist_ok=True)
        (root / f"d{n % 7}" / f"f{n}.txt").write_text("x")
    deep = root.joinpath(*[f"l{n}" for n in range(MAX_DEPTH + 1)])
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("x")
    few = add("few", root, agent="shell")
    deep_sid = add("deep", root, agent="shell")

    async def scenario() -> None:
        small = ArtifactWatcher(db.artifacts_dir, max_files=100)
        default = ArtifactWatcher(db.artifacts_dir)
        small.start(few, str(root))
        default.start(deep_sid, str(root))
        # Both files were written before the start: only the cut is of interest here.
        for _ in range(2):
            await small.scan(few)
            await default.scan(deep_sid)
        await small.close()
        await default.close()

    asyncio.run(scenario())
    (cut,) = events_of(few)
    assert cut["source"] == "scan" and cut["limit"] == "files"
    assert cut["scanned"] == 100 and cut["max_files"] == 100
    (deeper,) = events_of(deep_sid)
    assert deeper["limit"] == "depth" and deeper["max_depth"] == MAX_DEPTH


def test_calls_without_results_and_a_new_conversation(db: Paths, tmp_path: Path) -> None:
    """A tool call whose result has not come counts once its file changed since the start;
    after /clear (a new conversation id) the new transcript is read too."""
    config = tmp_path / "cfg"
    cwd = tmp_path / "proj"
    cwd.mkdir()
    sid = add("t", cwd, prompt=None)
    Session.update(claude_session_id="conv-a").where(Session.id == sid).execute()
    env = {"CLAUDE_CONFIG_DIR": str(config), "HOME": str(tmp_path / "user")}
    project = config / "projects" / re.sub(r"[^a-zA-Z0-9-]", "-", str(cwd.resolve()))

    def call(conversation: str, tool_id: str, name: str, path: Path, done: bool) -> None:
        project.mkdir(parents=True, exist_ok=True)
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": {"file_path": str(path)}}
        lines = [{"type": "assistant", "cwd": str(cwd), "message": {"content": [block]}}]
        if done:
            result = {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}
            lines.append({"type": "user", "cwd": str(cwd), "message": {"content": [result]}})
        with (project / f"{conversation}.jsonl").open("a") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)

    async def scenario() -> list[set[str]]:
        watcher = ArtifactWatcher(db.artifacts_dir, env=env)
        watcher.start(sid, str(cwd))
        seen: list[set[str]] = []
        (cwd / "foreign.txt").write_text("another program\n")
        await watcher.scan(sid)  # no transcript yet: a Claude Code session waits for it
        seen.append({Path(p).name for _, p in artifacts_of(sid)})
        call("conv-a", "t1", "Write", cwd / "new.txt", done=False)
        (cwd / "new.txt").write_text("written, result not yet recorded\n")
        call("conv-a", "t2", "Write", cwd / "asked.txt", done=False)  # its box is up
        await watcher.scan(sid)
        seen.append({Path(p).name for _, p in artifacts_of(sid)})
        Session.update(claude_session_id="conv-b").where(Session.id == sid).execute()
        (cwd / "b.txt").write_text("after /clear\n")
        call("conv-b", "t3", "Write", cwd / "b.txt", done=True)
        await watcher.finish(sid)
        seen.append({Path(p).name for _, p in artifacts_of(sid)})
        await watcher.close()
        return seen

    assert asyncio.run(scenario()) == [set(), {"new.txt"}, {"new.txt", "b.txt"}]
    assert [e["source"] for e in events_of(sid)] == ["transcript"]


def test_the_fake_agents_writes_are_listed_and_nothing_else(db: Paths, tmp_path: Path) -> None:
    """The fake agent records its Write and Edit calls in its transcript as Claude Code does."""
    use_fake_agent(tmp_path)
    repo = tmp_path / "repo"
    make_repo(repo)
    sid = add(
        "fake",
        repo,
        prompt="write out/plot.png; write report.pdf; write node_modules/x.js; edit app.py",
    )

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, sid, "Do you want to make this edit"))
            (repo / "foreign.txt").write_text("another program's\n")
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
    assert artifacts_of(sid) == {
        ("image", str(repo / "out" / "plot.png")),
        ("pdf", str(repo / "report.pdf")),
        ("file", str(repo / "app.py")),
        ("diff", str(db.artifacts_dir / sid / "changes.diff")),
    }


def diff_of(sid: str) -> str | None:
    row = Artifact.get_or_none((Artifact.session == sid) & (Artifact.type == "diff"))
    return Path(str(row.path)).read_text() if row is not None else None


def test_two_sessions_in_one_repository_each_diff_holds_its_own(db: Paths, tmp_path: Path) -> None:
    """Two fake Claude Code sessions at once in one repository with an uncommitted edit from
    before; A writes a new untracked file, B edits a tracked one, the user edits another by
    hand meanwhile. Each session's changes.diff holds its own change only (A's new file
    included), never the earlier edit, and names the files changed otherwise."""
    use_fake_agent(tmp_path)
    repo = tmp_path / "repo"
    make_repo(repo)  # notes.txt: an uncommitted edit from before the sessions
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-qm", "b")
    (repo / "notes.txt").write_text("user's edit X, from before the sessions\n")
    index = (repo / ".git" / "index").read_bytes()
    a = add("A", repo, prompt=None)
    b = add("B", repo, prompt=None)

    async def scenario() -> None:
        engine, watch = await started_engine(db)
        try:
            await watch.until(screen_has(engine, a, "? for shortcuts"))
            await watch.until(screen_has(engine, b, "? for shortcuts"))
            assert await engine.artifacts.baseline(a) is not None
            assert await engine.artifacts.baseline(b) is not None
            with (repo / "app.py").open("a") as out:
                out.write("# user edit\n")  # by hand, while both run
            await engine.send_text(a, "write a-only.txt from-A")
            await engine.send_text(b, "edit b.txt from-B")
            await watch.until(screen_has(engine, b, "Do you want to make this edit"))
            await engine.send_text(b, "1", enter=False)
            await watch.until(screen_has(engine, a, "Wrote 1 lines to a-only.txt"))
            await watch.until(screen_has(engine, b, "Updated b.txt"))
            for sid in (a, b):
                await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(a) == status(b) == "completed")
            await watch.until(lambda: diff_of(a) and diff_of(b), timeout=30)
        finally:
            await engine.stop()

    asyncio.run(scenario())
    diff_a, diff_b = diff_of(a), diff_of(b)
    assert diff_a is not None and diff_b is not None
    # Each session's own changes first; what else changed meanwhile after a header of its own
    # (shown: an agent's shell commands change files too); what was uncommitted before, never.
    own_a, _, also_a = diff_a.partition("#\n# Also changed")
    body_a = own_a[own_a.index("diff --git") :]
    assert body_a.startswith("diff --git a/a-only.txt b/a-only.txt\nnew file mode")
    assert "+from-A" in body_a
    assert "from-B" not in body_a and "user edit" not in body_a and "edit X" not in diff_a
    assert "#   app.py, b.txt\n" in also_a and "+from-B" in also_a and "user edit" in also_a
    own_b, _, also_b = diff_b.partition("#\n# Also changed")
    body_b = own_b[own_b.index("diff --git") :]
    assert body_b.startswith("diff --git a/b.txt b/b.txt\n")
    assert "+from-B" in body_b
    assert "from-A" not in body_b and "user edit" not in body_b and "edit X" not in diff_b
    assert "#   a-only.txt, app.py\n" in also_b and "+from-A" in also_b
    assert (repo / ".git" / "index").read_bytes() == index
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "stash", "list"], capture_output=True, text=True
        ).stdout
        == ""
    )


def test_without_a_transcript_the_diff_is_the_whole_repositorys(db: Paths, tmp_path: Path) -> None:
    """An agent that keeps no transcript: the diff is of everything changed since the start
    (a new untracked file included, the earlier edit not), and says others' edits are in it."""
    repo = tmp_path / "repo"
    make_repo(repo)
    sid = add("shell", repo, agent="shell")

    async def scenario() -> None:
        watcher = ArtifactWatcher(db.artifacts_dir)
        watcher.start(sid, str(repo))
        assert await watcher.baseline(sid) is not None
        (repo / "made.txt").write_text("new, untracked\n")
        (repo / "app.py").write_text("print('v2')\n")
        await watcher.finish(sid)
        await watcher.close()

    asyncio.run(scenario())
    diff = diff_of(sid)
    assert diff is not None
    header, _, body = diff.partition("diff --git")
    assert "by others in the same folder" in header and "--worktree" in header
    assert "a/made.txt b/made.txt\nnew file mode" in body and "+new, untracked" in body
    assert "+print('v2')" in body
    assert "notes.txt" not in diff


# --- another machine's files -------------------------------------------------------------------

#: Where the "remote" machine's files appear to be; nothing is there on this one.
REMOTE = "/c3desk-test-remote-machine"


class ServedConnection(WorkerConnection):
    """A worker connection whose machine's files are a real folder of this one, seen under
    :data:`REMOTE` (as an SSH worker's would be under its own paths). Only its file calls are
    used; they are the connection's own methods, answered by the local machine's connection."""

    def __init__(self, served: Path) -> None:
        super().__init__(WorkerInfo("w-remote", "remote", "remote", host="example.invalid"))
        self.served = served
        self._here = LocalConnection(WorkerInfo("w-here", "here", "local"))
        self.asked: list[str] = []

    def _local(self, path: str) -> str:
        self.asked.append(path)
        if path != REMOTE and not path.startswith(REMOTE + "/"):
            raise FileNotFoundError(2, "not on the remote machine", path)
        return str(self.served) + path[len(REMOTE) :]

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        return await self._here.read_file(self._local(path), limit, offset)

    async def list_dir(self, path: str) -> list[DirEntry]:
        return await self._here.list_dir(self._local(path))

    async def stat(self, path: str) -> FileStat | None:
        try:
            return await self._here.stat(self._local(path))
        except FileNotFoundError:
            return None

    async def home(self) -> str:
        return f"{REMOTE}/home"

    async def connect(self) -> None:
        self._set_status("connected")

    async def close(self) -> None:
        self._set_status("disconnected", "closed")

    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        raise SpawnError("files only")

    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        return None

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        return None


def test_a_scan_reads_the_workers_files_through_its_connection(db: Paths, tmp_path: Path) -> None:
    """An agent without a transcript on another machine: its folder is scanned there, through
    the connection; this machine has nothing at those paths."""
    machine = tmp_path / "machine"
    (machine / "proj" / "old.txt").parent.mkdir(parents=True)
    (machine / "proj" / "old.txt").write_text("before the session\n")
    os.utime(machine / "proj" / "old.txt", (1_000_000, 1_000_000))
    sid = add("remote scan", tmp_path, agent="shell")
    conn = ServedConnection(machine)
    root = f"{REMOTE}/proj"

    async def scenario() -> None:
        watcher = ArtifactWatcher(db.artifacts_dir)
        watcher.start(sid, root, files=conn)
        (machine / "proj" / "out").mkdir()
        (machine / "proj" / "out" / "chart.png").write_bytes(b"png")
        (machine / "proj" / "node_modules").mkdir()
        (machine / "proj" / "node_modules" / "dep.js").write_text("x\n")
        await watcher.scan(sid)
        (machine / "proj" / "report.pdf").write_bytes(b"pdf")
        await watcher.finish(sid)
        await watcher.close()

    asyncio.run(scenario())
    assert not os.path.exists(REMOTE)
    # old.txt has an mtime before the start but was created now: its ctime says so, as this
    # connection reports it (over SFTP there is none: tests/integration/test_artifacts_ssh.py).
    assert artifacts_of(sid) == {
        ("file", f"{root}/old.txt"),
        ("image", f"{root}/out/chart.png"),
        ("pdf", f"{root}/report.pdf"),
    }
    assert [(e["source"], e["root"], e["limit"]) for e in events_of(sid)] == [("scan", root, None)]
    assert f"{root}/out" in conn.asked and f"{root}/node_modules" not in conn.asked


def test_a_transcript_is_read_through_the_workers_connection(db: Paths, tmp_path: Path) -> None:
    """Claude Code on another machine: its transcripts (and a subagent's) and the files they
    name are read through the connection, in the remote user's ~/.claude (this machine's
    CLAUDE_CONFIG_DIR says nothing about that machine)."""
    machine = tmp_path / "machine"
    root = f"{REMOTE}/proj"
    config = f"{REMOTE}/home/.claude"
    project = machine / "home" / ".claude" / "projects" / re.sub(r"[^a-zA-Z0-9-]", "-", root)
    (machine / "proj").mkdir(parents=True)
    sid = add("remote transcript", tmp_path, prompt=None)
    Session.update(claude_session_id="conv").where(Session.id == sid).execute()
    conn = ServedConnection(machine)

    def write(name: str, tool_id: str, done: bool, transcript: Path) -> None:
        target = machine / "proj" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("made\n")
        block = {"type": "tool_use", "id": tool_id, "name": "Write", "input": {"file_path": name}}
        lines = [{"type": "assistant", "cwd": root, "message": {"content": [block]}}]
        if done:
            result = {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}
            lines.append({"type": "user", "cwd": root, "message": {"content": [result]}})
        transcript.parent.mkdir(parents=True, exist_ok=True)
        with transcript.open("a") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)

    async def scenario() -> list[set[str]]:
        local_config = str(tmp_path / "local-claude")
        watcher = ArtifactWatcher(db.artifacts_dir, env={"CLAUDE_CONFIG_DIR": local_config})
        watcher.start(sid, root, files=conn)
        seen: list[set[str]] = []
        (machine / "proj" / "foreign.txt").write_text("another program\n")
        await watcher.scan(sid)  # no transcript yet: nothing
        seen.append({p for _, p in artifacts_of(sid)})
        write("plot.png", "t1", True, project / "conv.jsonl")
        write("node_modules/x.js", "t2", True, project / "conv.jsonl")  # ignored
        write("pending.txt", "t3", False, project / "conv.jsonl")  # result not yet written
        await watcher.scan(sid)
        seen.append({p for _, p in artifacts_of(sid)})
        write("sub/notes.md", "s1", True, project / "conv" / "subagents" / "agent-1.jsonl")
        await watcher.finish(sid)
        seen.append({p for _, p in artifacts_of(sid)})
        await watcher.close()
        return seen

    assert asyncio.run(scenario()) == [
        set(),
        {f"{root}/plot.png", f"{root}/pending.txt"},
        {f"{root}/plot.png", f"{root}/pending.txt", f"{root}/sub/notes.md"},
    ]
    assert not os.path.exists(REMOTE)
    assert events_of(sid) == [
        {"source": "transcript", "transcript": f"{config}/projects/{project.name}/conv.jsonl"}
    ]
    # The connection cannot run git: no diff, and nothing else was looked at on this machine.
    assert not (db.artifacts_dir / sid).exists()


def test_a_config_folder_c3desk_chose_on_the_worker_is_where_its_transcript_is(
    db: Paths, tmp_path: Path
) -> None:
    machine = tmp_path / "machine"
    root = f"{REMOTE}/proj"
    config = f"{REMOTE}/chosen"
    project = machine / "chosen" / "projects" / re.sub(r"[^a-zA-Z0-9-]", "-", root)
    (machine / "proj").mkdir(parents=True)
    (machine / "proj" / "out.txt").write_text("made\n")
    sid = add("chosen config", tmp_path, prompt=None)
    Session.update(claude_session_id="conv").where(Session.id == sid).execute()
    block = {"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "out.txt"}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
    project.mkdir(parents=True)
    (project / "conv.jsonl").write_text(
        json.dumps({"type": "assistant", "cwd": root, "message": {"content": [block]}})
        + "\n"
        + json.dumps({"type": "user", "cwd": root, "message": {"content": [result]}})
        + "\n"
    )

    async def scenario() -> None:
        watcher = ArtifactWatcher(db.artifacts_dir)
        watcher.start(sid, root, files=ServedConnection(machine), config_dir=config)
        await watcher.finish(sid)
        await watcher.close()

    asyncio.run(scenario())
    assert artifacts_of(sid) == {("file", f"{root}/out.txt")}
    transcript = f"{config}/projects/{project.name}/conv.jsonl"
    assert events_of(sid) == [{"source": "transcript", "transcript": transcript}]


def test_a_run_found_again_after_a_restart_keeps_its_start_snapshot(
    db: Paths, tmp_path: Path
) -> None:
    """A restart finds the session running: its diff is still against the state when it
    started (a new snapshot then took the files it had made before the restart for the
    starting point, and the new ones it made then were not new)."""
    repo = tmp_path / "repo"
    make_repo(repo)
    sid = str(Session.create(id="s-restart", working_directory=str(repo), title="t").id)

    async def scenario() -> tuple[str | None, str | None]:
        first = ArtifactWatcher(db.artifacts_dir)
        first.start(sid, str(repo))
        before = await first.baseline(sid)
        await first.close()  # c3desk went away; the session ran on
        (repo / "made-before.txt").write_text("made before the restart\n")
        again = ArtifactWatcher(db.artifacts_dir)
        again.start(sid, str(repo), reattached=True)
        after = await again.baseline(sid)
        (repo / "made-after.txt").write_text("made after it\n")
        await again.finish(sid)
        await again.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert before is not None and after == before
    diff = (db.artifacts_dir / sid / "changes.diff").read_text()
    assert "+made before the restart" in diff and "+made after it" in diff
    assert "edited before" not in diff  # uncommitted before the session started
