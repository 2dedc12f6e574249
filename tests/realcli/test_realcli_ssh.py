"""The real Claude Code CLI on an SSH worker: c3desk reaches the loopback sshd, the server runs
the real CLI inside the loopback-only network namespace (as every real-CLI test does), and the
fake API answers there. The session's permission box is seen as needs-input through the
hooks the server reports back, approved by typing, and the session ends."""

from __future__ import annotations

import asyncio
import os
import shlex
from pathlib import Path

from helpers.engine import add, row, screen_has, started_engine, status
from helpers.remote import add_ssh_worker, ssh_factory
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)

from c3desk.config import Paths
from c3desk.core import settings as cfg
from realcli.conftest import RealCli
from realcli.flows import START, STEP, agent_events
from realcli.harness import TEST_API_KEY, claude_env

BOX = "Do you want to proceed?"
REPLY = "Wrote out.txt for you."


def hook_states(sid: str) -> list[str]:
    return [str(e.get("state")) for e in agent_events(sid) if e.get("source") == "hook"]


def server_command(real_cli: RealCli, api_url: str) -> Path:
    """The ``claude`` the server runs: the CLI's environment set there (nothing of this
    process's environment crosses SSH), then the namespace wrapper, which execs the CLI."""
    script = real_cli.tmp / "server-claude"
    env = claude_env(real_cli.config_dir, api_url, TEST_API_KEY)
    lines = ["#!/bin/sh"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines.append(f'exec {real_cli.command} "$@"')
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def test_the_real_cli_on_an_ssh_worker_asks_is_approved_and_ends(
    db: Paths,
    real_cli: RealCli,
    sshd: Sshd,  # noqa: F811
) -> None:
    api = real_cli.start(
        [
            {
                "text": "I'll write the file.",
                "tool_use": {
                    "name": "Bash",
                    "input": {"command": "echo hello > out.txt", "description": "Write out.txt"},
                },
            },
            {"text": REPLY},
        ],
        set_command=False,
    )
    assert api.url.startswith("http://127.0.0.1:")
    cfg.set_setting("claude_command", str(server_command(real_cli, api.url)))
    box = add_ssh_worker(sshd)
    sid = add("remote-real", real_cli.work, prompt="write hello to out.txt", worker=box.name)

    async def main() -> None:
        factory, made = ssh_factory(sshd, real_cli.tmp)
        engine, watch = await started_engine(db, connections=factory)
        try:
            await watch.until(lambda: made["box"].status == "connected", 20)
            await watch.until(screen_has(engine, sid, BOX), START)
            # The process is the real CLI (the wrapper execs it) in the test's namespace.
            pid = row(sid).pid
            assert pid is not None
            assert Path(f"/proc/{pid}/exe").resolve() == real_cli.binary
            assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink(real_cli.netns.net_path)
            await watch.until(lambda: row(sid).needs_input, STEP)
            # The hooks ran on the server (PermissionRequest as the box was drawn) and reported
            # back through the session's folder there.
            await watch.until(lambda: "waiting" in hook_states(sid), STEP)
            engine.write(sid, b"1")
            await watch.until(screen_has(engine, sid, REPLY), STEP)
            await watch.until(lambda: row(sid).needs_input, STEP)  # idle at its prompt
            await engine.send_text(sid, "/exit")
            await watch.until(lambda: status(sid) != "active", STEP)
        finally:
            await engine.stop()
        assert status(sid) == "completed", row(sid).failure_reason
        assert (real_cli.work / "out.txt").read_text() == "hello\n"
        assert len(api.main_requests()) == 2
        assert hook_states(sid)[-1] == "idle", hook_states(sid)  # the Stop hook, after the reply

    asyncio.run(main())
