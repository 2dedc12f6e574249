"""Regenerates resources/screenshots/real-claude.png: the real Claude Code CLI in c3desk.

One session of the pinned Claude Code (tests/realcli/CLAUDE_CODE_VERSION, installed by .ci/run)
runs offline against the test suite's fake Messages API, both inside a loopback-only network
namespace (as root: `sudo python3 resources/screenshots/make_real.py [OUT.png]`), and stops at
its real permission box, which c3desk shows as needing input. The window is shot under Xvfb.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from realcli.harness import (  # noqa: E402
    TEST_API_KEY,
    UNSET_ENV,
    Netns,
    claude_env,
    start_fake_api,
    wrapper_command,
    write_claude_config,
)

SCRIPT = [
    {
        "text": "I'll run the test suite for the nav component first.",
        "tool_use": {
            "name": "Bash",
            "input": {
                "command": "npm test -- --grep nav",
                "description": "Run the nav component tests",
            },
        },
    },
    {"text": "All 14 nav tests pass."},
]


def c3desk(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "c3desk", *args], env=env, check=True)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "resources/screenshots/real-claude.png")
    scratch = Path(tempfile.mkdtemp(prefix="c3shot-real-"))
    work = scratch / "webapp"
    work.mkdir()
    config = scratch / "claude-config"
    try:
        with Netns() as netns:
            api = start_fake_api(netns, SCRIPT, scratch / "requests.jsonl")
            try:
                write_claude_config(config, api_key=TEST_API_KEY, trusted_dirs=[work])
                env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
                env.update(claude_env(config, api.url), C3DESK_HOME=str(scratch))
                c3desk(env, "settings", "set", "claude_command", wrapper_command(netns))
                c3desk(env, "settings", "set", "grid_layout", "1x1")
                # Ended with the screenshot (a hosted session would outlive it).
                c3desk(env, "settings", "set", "persistent_sessions", "never")
                c3desk(env, "settings", "set", "max_visible_sessions", "1")
                c3desk(
                    env,
                    "add",
                    "--title",
                    "Fix nav overlap on mobile",
                    "--dir",
                    str(work),
                    "--prompt",
                    "The nav bar overlaps the header below 600px. Run its tests first.",
                )
                xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"]
                subprocess.run(
                    [*xvfb, sys.executable, "-m", "c3desk", "--screenshot", str(out)],
                    env=env,
                    check=True,
                    cwd=REPO,
                )
            finally:
                api.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
