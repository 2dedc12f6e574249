"""Fixtures for tests that run the real Claude Code CLI (see harness.py).

``real_cli`` gives a loopback-only network namespace, and ``real_cli.start(script)`` starts the
fake API inside it, writes the CLI's config, exports its environment and points c3desk's
``claude_command`` at the namespace wrapper. Everything started is ended at teardown. The
binary is looked up first: a missing one fails the test with the install command, never skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c3desk.config import Paths
from c3desk.core import settings as cfg
from realcli.harness import (
    TEST_API_KEY,
    FakeApiHandle,
    Netns,
    apply_env,
    claude_binary,
    claude_env,
    start_fake_api,
    use_oauth,
    wrapper_command,
    write_claude_config,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.realcli)


class RealCli:
    """One test's real-CLI setup: namespace, fake API, config folder, project folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.binary = claude_binary()
        self.tmp = tmp_path
        self.config_dir = tmp_path / "claude-config"
        self.work = tmp_path / "work"
        self.work.mkdir(exist_ok=True)
        self.netns = Netns()
        self.api: FakeApiHandle | None = None

    def start(
        self,
        script: list[dict[str, Any]],
        *,
        trusted: bool = True,
        theme: str = "dark",
        set_command: bool = True,
        oauth: bool = False,
    ) -> FakeApiHandle:
        """Start the fake API with ``script``; write the config (``self.work`` trusted unless
        ``trusted`` is False); export the env; set ``claude_command`` (needs the ``db``).
        ``oauth``: a claude.ai login (``CLAUDE_CODE_OAUTH_TOKEN``) instead of the API key: only
        then does the CLI show its usage-limit screens."""
        self.api = start_fake_api(self.netns, script, self.tmp / "api" / "requests.jsonl")
        write_claude_config(
            self.config_dir,
            api_key=TEST_API_KEY,
            trusted_dirs=[self.work] if trusted else [],
            theme=theme,
        )
        env = claude_env(self.config_dir, self.api.url, TEST_API_KEY)
        apply_env(use_oauth(env) if oauth else env)
        if oauth:  # a subscription login instead of the key (the usage-limit screens)
            os.environ.pop("ANTHROPIC_API_KEY", None)
        if set_command:
            cfg.set_setting("claude_command", self.command)
        return self.api

    @property
    def command(self) -> str:
        return wrapper_command(self.netns, self.binary)

    def close(self) -> None:
        if self.api is not None:
            self.api.stop()
        self.netns.close()


@pytest.fixture
def real_cli(db: Paths, tmp_path: Path) -> Iterator[RealCli]:
    setup = RealCli(tmp_path)
    try:
        yield setup
    finally:
        setup.close()
