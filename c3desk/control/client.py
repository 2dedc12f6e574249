"""The CLI's side of the control socket: one blocking request, one reply."""

from __future__ import annotations

import json
import socket
from typing import Any

from c3desk.config import Paths
from c3desk.control.protocol import MAX_LINE
from c3desk.errors import C3Error, InvalidInput, Refused


class NoInstance(Refused):
    """No c3desk instance serves this data directory."""


def request(paths: Paths, payload: dict[str, Any], timeout: float = 30.0) -> Any:
    """Send one request; return its result or raise the error the instance reported."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(paths.socket))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NoInstance(
                f"no c3desk instance is running on {paths.home}; "
                "start one with `c3desk` or `c3desk run --headless`"
            ) from None
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise Refused("the c3desk instance closed the connection")
            data += chunk
            if len(data) > MAX_LINE * 16:
                raise Refused("the reply from the c3desk instance is too long")
    except TimeoutError:
        raise Refused("the c3desk instance did not answer in time") from None
    except OSError as exc:
        # It ended (or was killed) while answering: whether the request took effect is unknown.
        raise Refused(
            f"the c3desk instance closed the connection before answering ({exc.strerror or exc})"
        ) from None
    finally:
        sock.close()
    reply = json.loads(data)
    if reply.get("ok"):
        return reply.get("result")
    error = C3Error(reply.get("error", "request failed"))
    if reply.get("exit_code") == 2:
        error = InvalidInput(str(error))
    raise error


def is_running(paths: Paths) -> bool:
    try:
        request(paths, {"cmd": "ping"}, timeout=2.0)
    except C3Error:
        return False
    return True
