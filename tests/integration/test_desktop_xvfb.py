"""The app as a person starts it: a real X server (Xvfb) with a system tray (trayer), the real
`c3desk` process, keys typed with xdotool. Three fake-agent sessions with a limit of two."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.polling import wait_for

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"


@pytest.fixture
def display() -> Iterator[str]:
    for tool in ("Xvfb", "trayer", "xdotool"):
        assert shutil.which(tool), f"{tool} is missing (.ci/run installs it)"
    number = next(n for n in range(71, 99) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    name = f":{number}"
    xvfb = subprocess.Popen(
        ["Xvfb", name, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tray = None
    try:
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), what="Xvfb")
        tray = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"],
            env=dict(os.environ, DISPLAY=name),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield name
    finally:
        for proc in (tray, xvfb):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_newcomer_under_xvfb(display: str, cli: Any, home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = dict(
        os.environ,
        DISPLAY=display,
        QT_QPA_PLATFORM="xcb",
        C3DESK_HOME=str(home),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
        FAKE_CLAUDE_SPEED="10",
    )
    os.environ.update(CLAUDE_CONFIG_DIR=env["CLAUDE_CONFIG_DIR"], FAKE_CLAUDE_SPEED="10")
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    cli("settings", "set", "max_concurrent_sessions", "2", check=True)
    ids = {}
    for title, prompt in (
        ("Idle one", "say ready"),
        ("Asks", "ask make test"),
        ("Third", "say third"),
    ):
        ids[title] = cli(
            "add", "--title", title, "--dir", str(work), "--prompt", prompt, check=True
        ).stdout.strip()
    output = (tmp_path / "app-output.txt").open("w")
    app = subprocess.Popen(
        [sys.executable, "-m", "c3desk"],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:

        def sessions() -> dict[str, dict[str, Any]]:
            return {s["title"]: s for s in cli("list", "--json", check=True).json()}

        wait_for(lambda: sessions()["Asks"]["needs_input"], what="the prompt to surface")
        assert sessions()["Third"]["status"] == "queued"

        def window() -> str:
            out = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", r"^c3desk \("],
                env=env,
                capture_output=True,
                text=True,
            ).stdout.split()
            return out[0] if out else ""

        wid = wait_for(window, what="the window title to show the count")
        log = home / "logs" / "c3desk.log"
        wait_for(
            lambda: log.exists() and "Asks" in log.read_text().split("needs input:", 1)[-1],
            what="alert",
        )
        assert "via tray" in log.read_text()  # a real tray was there to notify

        # As a person: jump to the session needing input, type 1.
        # No window manager runs here: give the window the input focus directly, then type
        # real (XTEST) key events, as a keyboard would.
        subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=env, check=True)
        subprocess.run(["xdotool", "key", "ctrl+shift+j"], env=env, check=True)
        subprocess.run(["xdotool", "type", "1"], env=env, check=True)
        wait_for(lambda: "Ran make test" in cli("screen", ids["Asks"]).stdout, what="approval")
        # Its needs-input state cleared once typed into; the idle prompt may set it again later.
        events = cli("events", ids["Asks"], "--json", check=True).json()
        assert any(
            e["kind"] == "agent" and json.loads(e["detail"])["source"] == "input" for e in events
        )
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        output.close()
    assert app.returncode == 0, (tmp_path / "app-output.txt").read_text()[-3000:]
    final = {s["title"]: s for s in cli("list", "--json", check=True).json()}
    # SIGTERM quits the window; sessions hosted in tmux (the default here) go on working,
    # active with their agent alive, for the next start. Nothing else is left active.
    still = [s for s in final.values() if s["status"] == "active"]
    assert still and all(s["host_handle"].startswith("tmux:") for s in still)
    assert all(Path(f"/proc/{s['pid']}").exists() for s in still)
