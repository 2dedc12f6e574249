"""Issue 17's crash test with the real CLI: c3desk (headless) is killed while the CLI waits at
its permission box; the next start finds the same process with the box still on its screen,
and approving it there completes the turn."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import Headless
from helpers.polling import alive, wait_for

from c3desk.config import Paths
from realcli.conftest import RealCli
from realcli.flows import START

BOX = "Do you want to proceed?"


@pytest.fixture
def headless(home: Path) -> Iterator[Headless]:
    runner = Headless(home)
    yield runner
    runner.close()


def test_killed_at_the_permission_box_the_restart_shows_it_and_approving_completes(
    db: Paths, real_cli: RealCli, cli: Any, headless: Headless
) -> None:
    real_cli.start(
        [
            {
                "text": "I'll write the file.",
                "tool_use": {
                    "name": "Bash",
                    "input": {"command": "echo hello > out.txt", "description": "Write out.txt"},
                },
            },
            {"text": "Wrote out.txt for you."},
        ]
    )
    prompt = "write hello to out.txt"
    sid = cli(
        "add", "--title", "crash", "--dir", str(real_cli.work), "--prompt", prompt, check=True
    ).stdout.strip()

    def screen() -> str:
        result = cli("screen", sid)
        return result.stdout if result.returncode == 0 else ""

    def row() -> dict[str, Any]:
        return dict(json.loads(cli("show", sid, "--json", check=True).stdout))

    first = headless.start()
    wait_for(lambda: BOX in screen(), timeout=START, what="the permission box")
    pid = row()["pid"]
    assert row()["host_handle"].startswith("tmux:")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert alive(pid)

    headless.start()
    wait_for(lambda: BOX in screen(), timeout=START, what="the box after the restart")
    assert (row()["status"], row()["pid"]) == ("active", pid)
    assert not (real_cli.work / "out.txt").exists()
    cli("send", sid, "1", check=True)
    wait_for(lambda: "Wrote out.txt for you." in screen(), timeout=START, what="the turn's end")
    assert (real_cli.work / "out.txt").read_text() == "hello\n"
