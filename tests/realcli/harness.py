"""Running the real Claude Code CLI offline: its binary, a loopback-only network namespace, the
fake Messages API inside it, the config that skips first-run screens, and the environment.

Every real-CLI process runs in a network namespace that has only ``lo``, with the fake API
(``tests/fakes/fake_api.py``) listening on 127.0.0.1 inside it: whatever the CLI tries, nothing
but that fake is reachable. c3desk itself runs outside; its ``claude_command`` setting names
``wrapper_command(netns)``, a wrapper that enters the namespace and execs the CLI (so the pid
c3desk sees is the CLI's). Hooks reach c3desk over its unix control socket, a filesystem path,
which network namespaces do not separate.

The version tested is pinned in ``tests/realcli/CLAUDE_CODE_VERSION`` (``.ci/run`` reads the
same file and installs it under ``/opt/c3desk-claude-code/<version>``). To try another version:
``C3DESK_CLAUDE_CODE_VERSION=X .ci/run``, or point ``C3DESK_REAL_CLAUDE`` at any ``claude``
binary. A missing binary is an error, never a skip.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent
FAKE_API = HERE.parent / "fakes" / "fake_api.py"
WRAPPER = HERE / "claude-netns"
PREFIX_ROOT = Path("/opt/c3desk-claude-code")
TEST_API_KEY = "sk-ant-api03-c3desk-fake-key-0000000000-offline-testing-AA"


def _pinned_version() -> str:
    override = os.environ.get("C3DESK_CLAUDE_CODE_VERSION", "").strip()
    return override or (HERE / "CLAUDE_CODE_VERSION").read_text(encoding="utf-8").strip()


CLAUDE_CODE_VERSION: str = _pinned_version()


class RealClaudeMissing(RuntimeError):
    """The real CLI is not installed where the tests look for it."""


def install_prefix(version: str = CLAUDE_CODE_VERSION) -> Path:
    return PREFIX_ROOT / version


@functools.cache
def claude_binary() -> Path:
    """The real ``claude``: ``$C3DESK_REAL_CLAUDE``, or the pinned version under the prefix."""
    named = os.environ.get("C3DESK_REAL_CLAUDE")
    path = Path(named) if named else install_prefix() / "node_modules" / ".bin" / "claude"
    if not (path.is_file() and os.access(path, os.X_OK)):
        how = (
            f"C3DESK_REAL_CLAUDE={named} is not an executable file"
            if named
            else f"Claude Code {CLAUDE_CODE_VERSION} is not installed at {path}"
        )
        raise RealClaudeMissing(
            f"{how}. Run .ci/run, or: npm install --prefix {install_prefix()} "
            f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"
        )
    return path.resolve()


def claude_version(binary: Path | None = None) -> str:
    """What ``claude --version`` says, e.g. ``2.1.197 (Claude Code)``."""
    out = subprocess.run(
        [str(binary or claude_binary()), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, DISABLE_AUTOUPDATER="1"),
        stdin=subprocess.DEVNULL,
    )
    return out.stdout.strip()


class Netns:
    """A network namespace with only loopback, held open by a sleeping process.

    ``run`` starts a process inside it (``nsenter`` execs, so the Popen's pid is the program's).
    ``close`` ends the holder; the caller ends what it ran.
    """

    def __init__(self) -> None:
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is missing: install util-linux and iproute2")
        # unshare execs sh, which execs sleep: one process whose pid holds the namespace.
        self._holder = subprocess.Popen(
            ["unshare", "-n", "sh", "-c", "ip link set lo up && echo up && exec sleep infinity"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self._holder.stdout is not None
        line = self._holder.stdout.readline()
        if line.strip() != "up":
            err = self._holder.stderr.read() if self._holder.stderr else ""
            self.close()
            raise RuntimeError(f"cannot make a network namespace (root needed): {err.strip()}")
        self.pid = self._holder.pid

    @property
    def net_path(self) -> str:
        return f"/proc/{self.pid}/ns/net"

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--net={self.net_path}", "--", *argv]

    def run(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.argv(argv), **popen_kwargs)

    def links(self) -> list[str]:
        """The names of the namespace's network interfaces."""
        out = subprocess.run(
            self.argv(["ip", "-o", "link", "show"]), capture_output=True, text=True, check=True
        )
        return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]

    def close(self) -> None:
        holder = self._holder
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=10)
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Netns:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FakeApiHandle:
    """The fake API running inside a namespace: its address, what it was asked, how to stop it."""

    def __init__(self, process: subprocess.Popen[Any], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def requests(self) -> list[dict[str, Any]]:
        """Every request so far, oldest first (see fake_api.py for the fields)."""
        try:
            text = self.log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        # A line being written may be incomplete: only whole lines count.
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def main_requests(self) -> list[dict[str, Any]]:
        """The conversation turns (requests that offer tools), oldest first."""
        return [r for r in self.requests() if r["kind"] == "main"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_fake_api(
    netns: Netns, script: list[dict[str, Any]], log_path: Path, timeout: float = 20.0
) -> FakeApiHandle:
    """Start ``fake_api.py`` inside ``netns`` with this script; wait until it listens."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    script_path = log_path.with_name(log_path.stem + ".script.json")
    port_path = log_path.with_name(log_path.stem + ".port")
    script_path.write_text(json.dumps(script), encoding="utf-8")
    port_path.unlink(missing_ok=True)
    process = netns.run(
        [
            sys.executable,
            str(FAKE_API),
            "--script",
            str(script_path),
            "--port-file",
            str(port_path),
            "--log",
            str(log_path),
        ],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    # Another process's file: no event to await, so poll it briefly.
    while not port_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=5)
            raise RuntimeError(f"the fake API did not start (exit {process.returncode})")
        time.sleep(0.02)
    return FakeApiHandle(process, int(port_path.read_text()), log_path)


def write_claude_config(
    config_dir: Path, *, api_key: str, trusted_dirs: list[Path], theme: str = "dark"
) -> None:
    """The ``.claude.json`` that takes the CLI past its first-run screens.

    Onboarding done (else it checks its own host and exits), the custom API key approved (its
    last 20 characters), the theme chosen, and each of ``trusted_dirs`` trusted (a folder left
    out shows the real trust dialog).
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    projects = {
        str(Path(d).resolve()): {"hasTrustDialogAccepted": True, "allowedTools": []}
        for d in trusted_dirs
    }
    config = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": CLAUDE_CODE_VERSION,
        "theme": theme,
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "projects": projects,
    }
    (config_dir / ".claude.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


OFFLINE_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
}


def claude_env(config_dir: Path, api_url: str, api_key: str = TEST_API_KEY) -> dict[str, str]:
    """Environment variables for the real CLI: where its config and API are, and the switches
    that turn off its own outbound traffic. ``IS_SANDBOX=1`` lets root use
    ``--dangerously-skip-permissions``."""
    return {
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": api_key,
        "IS_SANDBOX": "1",
        **OFFLINE_ENV,
    }


# A claude.ai login's token, as CLAUDE_CODE_OAUTH_TOKEN gives one: only with it does the CLI
# read the unified rate-limit headers of a 429 and say "You've hit your session limit · resets
# 3pm (UTC)" (with an API key it says "Request rejected (429)"). Any value passes offline.
TEST_OAUTH_TOKEN = "sk-ant-oat01-c3desk-fake-offline-token-AA"


def use_oauth(env: dict[str, str]) -> dict[str, str]:
    """``env`` turned from an API key to a subscription login (the usage-limit screens)."""
    env.pop("ANTHROPIC_API_KEY", None)
    env["CLAUDE_CODE_OAUTH_TOKEN"] = TEST_OAUTH_TOKEN
    return env


# Variables from a developer's own environment that would change what the CLI does.
UNSET_ENV = (
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDECODE",
    "CLAUDE_CODE_USE_BEDROCK",
    "ANTHROPIC_MODEL",
    "CLAUDE_CODE_OAUTH_TOKEN",
)


def apply_env(env: dict[str, str]) -> None:
    """Export ``env`` into this process (the engine passes its environment to sessions)."""
    for key in UNSET_ENV:
        os.environ.pop(key, None)
    os.environ.update(env)


def wrapper_command(netns: Netns, binary: Path | None = None) -> str:
    """A ``claude_command`` value: the wrapper, with the namespace's pid and the binary baked in."""
    return shlex.join([str(WRAPPER), str(netns.pid), str(binary or claude_binary())])
