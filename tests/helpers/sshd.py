"""A real OpenSSH server on 127.0.0.1 for tests: its own keys, config and port, in a temp dir.

``sshd`` runs in the foreground (``-D``) as a child of the test process, so it is reaped when
stopped (by the pid in its PidFile) and the leftover-process check sees it if a test forgets it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.polling import wait_for

SSHD = "/usr/sbin/sshd"


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    """A new key pair at ``path`` (and ``path.pub``), encrypted when ``passphrase`` is given."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def keygen_fingerprint(pub: Path) -> str:
    """What ``ssh-keygen -lf pub -E sha256`` says the fingerprint is (``SHA256:...``)."""
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(pub), "-E", "sha256"], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sshd:
    dir: Path
    port: int
    host_key: Path  # private; the public half is host_key.pub
    user_key: Path
    user: str
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def log(self) -> str:
        return (self.dir / "sshd.log").read_text(errors="replace")

    def authorize(self, pub: Path) -> None:
        """Let the public key ``pub`` log in too."""
        with (self.dir / "authorized_keys").open("a") as f:
            f.write(pub.read_text())

    def pid(self) -> int:
        return int((self.dir / "sshd.pid").read_text().split()[0])

    def connection_pids(self) -> list[int]:
        """The per-connection sshd processes (every descendant of the listener), outermost
        first: kill -STOP them for a hung peer, kill -9 for a dropped connection."""
        out: list[int] = []
        todo = [self.pid()]
        while todo:
            pid = todo.pop(0)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            out += [int(c) for c in children]
            todo += [int(c) for c in children]
        return out


def _config(dir: Path, port: int, host_key: Path, log_level: str) -> Path:
    config = dir / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        f"LogLevel {log_level}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"AuthorizedKeysFile {dir / 'authorized_keys'}\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        f"PidFile {dir / 'sshd.pid'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "Subsystem sftp internal-sftp\n" + _set_env()
    )
    return config


def server_env() -> dict[str, str]:
    """The environment sshd gives its sessions (one ``SetEnv`` line: sshd keeps only the
    first). Sessions hosted on the test server run in tmux servers whose sockets go where this
    run's do (TMUX_TMPDIR, set by tests/conftest.py), so they meet no one else's and end with
    the run; sshd passes its sessions nothing of the client's environment."""
    env = {"TMUX_TMPDIR": os.environ["TMUX_TMPDIR"]} if os.environ.get("TMUX_TMPDIR") else {}
    # On a machine whose ~/.bashrc runs `pyenv init` (this project's CI image), every SSH
    # command rehashes under a lock file, which a shell killed at the wrong moment (tests end
    # sshd's sessions) leaves behind; the next logins then wait for it, 60 s each by default.
    env["PYENV_REHASH_TIMEOUT"] = "1"
    return env


def _set_env() -> str:
    env = server_env()
    return "SetEnv " + " ".join(f"{k}={v}" for k, v in env.items()) + "\n" if env else ""


def _listening(dir: Path) -> bool:
    # sshd logs "Server listening" once bound, and writes its PidFile right after.
    pid = dir / "sshd.pid"
    return (
        "Server listening" in (dir / "sshd.log").read_text()
        and pid.exists()
        and bool(pid.read_text().strip())
    )


def _start(dir: Path, port: int, host_key: Path, log_level: str) -> subprocess.Popen[bytes] | None:
    """sshd listening on ``port``, or None when it exited (the port was taken meanwhile)."""
    config = _config(dir, port, host_key, log_level)
    log = dir / "sshd.log"
    log.write_text("")
    process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    try:
        wait_for(
            lambda: process.poll() is not None or _listening(dir),
            timeout=20,
            what="sshd to listen",
        )
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process if process.poll() is None else None


@contextlib.contextmanager
def running_sshd(dir: Path, log_level: str = "INFO") -> Iterator[Sshd]:
    """Start sshd in ``dir`` and stop it at the end (by the pid in its PidFile). ``log_level``
    DEBUG1 makes its log show the channels it opens (a ProxyJump's direct-tcpip)."""
    dir.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # its privilege-separation directory
    host_key = keygen(dir / "hostkey")
    user_key = keygen(dir / "userkey")
    (dir / "authorized_keys").write_text((dir / "userkey.pub").read_text())
    process = None
    for _ in range(5):
        port = free_port()  # another process may take it before sshd binds: then try another
        process = _start(dir, port, host_key, log_level)
        if process is not None:
            break
    if process is None:
        raise AssertionError(f"sshd did not start: {(dir / 'sshd.log').read_text()}")
    server = Sshd(dir, port, host_key, user_key, getpass.getuser(), process)
    try:
        yield server
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(server.pid(), signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    with running_sshd(tmp_path / "sshd") as server:
        yield server
