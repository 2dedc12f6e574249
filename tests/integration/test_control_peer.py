"""The control socket serves its own user only: its mode (0600) keeps others out, and should
the mode be loosened, the peer's credentials (SO_PEERCRED) still refuse them."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.runtime import Instance
from c3desk.store import database

NOBODY = 65534
# The client runs as nobody, who may not read a Python under /root (pyenv): the system's.
SYSTEM_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(json.dumps({"connect": type(exc).__name__}))
    sys.exit(0)
try:
    s.sendall(b'{"cmd": "ping"}\\n')
except BrokenPipeError:
    pass  # refused before the request was read: the answer is there all the same
print(s.makefile().readline().strip())
"""


def as_nobody(sock: Path) -> dict[str, object]:
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", CLIENT, str(sock)],
        capture_output=True, text=True, timeout=30, check=False,
        user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another user needs root (CI is root)")
def test_other_users_are_refused_by_mode_and_by_peer_credentials() -> None:
    home = Path(tempfile.mkdtemp(prefix="c3peer-", dir="/tmp"))
    home.chmod(0o711)  # others may pass through to the socket, as a careless setup might
    paths = Paths(home)
    database.connect(paths.db)

    async def main() -> None:
        instance = Instance(paths)
        await instance.start()
        try:
            sock = paths.socket
            assert stat.S_IMODE(sock.stat().st_mode) == 0o600
            assert await asyncio.to_thread(as_nobody, sock) == {"connect": "PermissionError"}
            sock.chmod(0o666)
            refused = await asyncio.to_thread(as_nobody, sock)
            assert refused["ok"] is False and "another user" in str(refused["error"])
            assert "result" not in refused  # nothing about the instance was told
        finally:
            await instance.stop()

    try:
        asyncio.run(main())
    finally:
        database.close()
        subprocess.run(["rm", "-rf", str(home)], check=False)
