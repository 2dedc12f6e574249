"""The real CLI contacts nothing but the fake API: its namespace has only loopback, and every
address it connects or sends to during a whole session through c3desk is local."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from helpers.engine import add, status

from c3desk.config import Paths
from c3desk.core import settings as cfg
from realcli.conftest import RealCli
from realcli.flows import START, Run, needs_input
from realcli.harness import CLAUDE_CODE_VERSION, claude_version

ADDRESS = re.compile(r"\{sa_family=(AF_\w+)(.*?)\}")
LOCAL = ('inet_addr("127.0.0.1")', 'inet_pton(AF_INET6, "::1"')


def socket_addresses(strace_log: Path) -> list[tuple[str, str]]:
    """(family, the rest of the sockaddr) of every connect/sendto/sendmsg with an address."""
    found: list[tuple[str, str]] = []
    for line in strace_log.read_text(errors="replace").splitlines():
        if re.search(r"\b(connect|sendto|sendmsg)\(", line):
            found += ADDRESS.findall(line)
    return found


def test_the_namespace_has_only_loopback_and_cannot_reach_out(real_cli: RealCli) -> None:
    assert real_cli.netns.links() == ["lo"]
    probe = real_cli.netns.run(
        [
            sys.executable,
            "-c",
            "import socket; socket.create_connection(('192.0.2.1', 443), timeout=3)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = probe.communicate(timeout=30)
    assert probe.returncode != 0 and "Network is unreachable" in err, (out, err)


def test_a_whole_session_connects_only_to_local_addresses(db: Paths, real_cli: RealCli) -> None:
    api = real_cli.start([{"text": "Hello from the fake API."}])
    trace = real_cli.tmp / "connect.strace"
    # strace outside, following the wrapper into the namespace and the CLI's every process.
    watch = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "trace=connect,sendto,sendmsg"]
    cfg.set_setting(
        "claude_command", shlex.join([*watch, "-o", str(trace)]) + " " + real_cli.command
    )
    sid = add("offline", real_cli.work, prompt="say hi")

    async def scenario() -> None:
        async with Run(db) as run:
            await run.until_screen(sid, "Hello from the fake API.", timeout=START)
            await run.until(lambda: needs_input(sid))
            await run.engine.send_text(sid, "/exit")
            await run.until(lambda: status(sid) == "completed")

    asyncio.run(scenario())
    addresses = socket_addresses(trace)
    inet = [(family, rest) for family, rest in addresses if family != "AF_UNIX"]
    outside = [a for a in inet if not any(local in a[1] for local in LOCAL)]
    assert outside == [], outside
    # The trace saw the CLI talk to the fake API, so an empty "outside" means something.
    assert any(f"htons({api.port})" in rest for _, rest in inet), addresses
    assert [r["kind"] for r in api.requests()].count("main") == 1


def test_the_binary_tested_is_the_pinned_version() -> None:
    version = claude_version()
    if os.environ.get("C3DESK_REAL_CLAUDE"):
        assert "Claude Code" in version, version  # another binary, by choice
    else:
        assert version.split()[0] == CLAUDE_CODE_VERSION, version
