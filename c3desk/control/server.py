"""The running instance's control socket, which is also its single-instance guard.

The guard is an exclusive ``flock`` on ``instance.lock`` held for the process's life: the kernel
drops it when the process dies, so a crashed instance never blocks the next one, and the socket
file it left behind is simply replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any

from c3desk import __version__
from c3desk.config import Paths
from c3desk.control.protocol import MAX_LINE
from c3desk.core import sessions as sess
from c3desk.core.engine import Engine
from c3desk.errors import C3Error, InvalidInput, Refused

log = logging.getLogger(__name__)


class AlreadyRunning(Refused):
    pass


class InstanceLock:
    def __init__(self, paths: Paths) -> None:
        self.path = paths.home / "instance.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(
                f"another c3desk instance is running on {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ControlServer:
    def __init__(self, engine: Engine, paths: Paths) -> None:
        self.engine = engine
        self.paths = paths
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        path = self.paths.socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a crashed instance: we hold the lock, so it is stale
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(path), limit=MAX_LINE
            )
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            Path(self.paths.socket).unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            stranger = _stranger(writer)
            if stranger is not None:
                # The socket's mode keeps other users out; this holds should the mode not.
                log.warning("control socket: refused a client of uid %s", stranger)
                await self._reply(
                    writer,
                    {"ok": False, "error": "refused: another user's c3desk", "exit_code": 1},
                )
                return
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._reply(writer, {"ok": False, "error": "request too long"})
                    break
                if not line:
                    break
                await self._reply(writer, await self._handle(line))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
        writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
        await writer.drain()

    async def _handle(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise InvalidInput("a request is a JSON object")
            result = await self.dispatch(request)
            return {"ok": True, "result": result}
        except C3Error as exc:
            return {"ok": False, "error": str(exc), "exit_code": exc.exit_code}
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {"ok": False, "error": "request is not JSON", "exit_code": 2}
        except Exception as exc:
            log.exception("control request failed")
            return {"ok": False, "error": f"internal error: {exc!r}", "exit_code": 1}

    async def dispatch(self, req: dict[str, Any]) -> Any:
        cmd = req.get("cmd")
        e = self.engine
        if cmd == "ping":
            return {"pid": os.getpid(), "version": __version__, "home": str(self.paths.home)}
        if cmd == "send":
            await e.send_text(_str(req, "id"), _str(req, "text"), bool(req.get("enter", True)))
            return None
        if cmd == "key":
            e.send_key(_str(req, "id"), _str(req, "key"))
            return None
        if cmd == "screen":
            # Only a running session has a screen to read; the others get the answer `send`
            # gives them, so the two commands agree.
            s = sess.find_session(_str(req, "id"))
            if s.id not in e.live:
                raise Refused(f"session {s.id} is {s.status}, not running")
            return e.screen(s.id)
        if cmd == "kill":
            await e.kill(_str(req, "id"))
            return None
        if cmd == "continue":
            return e.continue_session(_str(req, "id"))
        if cmd == "retry":
            return e.retry_session(_str(req, "id"))
        if cmd in ("pause", "resume"):
            e.set_paused(cmd == "pause")
            return None
        if cmd == "focus":
            e.request_focus()
            return None
        if cmd == "wake":
            e.changed_elsewhere()
            return None
        if cmd == "live":
            return e.live_status()
        if cmd == "hook":
            payload = req.get("payload")
            e.handle_hook(
                _str(req, "session"),
                _str(req, "event"),
                payload if isinstance(payload, dict) else {},
            )
            return None
        raise InvalidInput(f"unknown command {cmd!r}")


def _str(req: dict[str, Any], key: str) -> str:
    value = req.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"request field {key!r} must be a string")
    return value


def _stranger(writer: asyncio.StreamWriter) -> int | None:
    """The uid of a client that is not this process's user (root included); None when it is
    the same user (or the platform cannot say: the socket's mode still holds)."""
    sock = writer.get_extra_info("socket")
    peercred = getattr(socket, "SO_PEERCRED", None)
    if sock is None or peercred is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return None if uid == os.getuid() else uid
