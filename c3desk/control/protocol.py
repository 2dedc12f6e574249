"""The control socket's protocol: JSON lines over a Unix socket in the data directory (0600).

Each request is one JSON object on one line; each gets exactly one reply line::

    → {"cmd": "send", "id": "3f2a", "text": "yes", "enter": true}
    ← {"ok": true, "result": null}
    ← {"ok": false, "error": "no session with id '3f2a'", "exit_code": 2}

Commands: ``ping`` → {pid, version, home}; ``send`` {id, text, enter}; ``key`` {id, key};
``screen`` {id} → [rows] (a running session only); ``kill`` {id};
``continue`` {id} → new status; ``retry`` {id};
``pause``; ``resume``; ``wake`` (re-read the queue now); ``focus`` (raise the window);
``live`` → {id: {pid, backlog}};
``hook`` {session, event, payload} (reports from Claude Code hooks).
Lines longer than :data:`MAX_LINE` are refused.
"""

from __future__ import annotations

MAX_LINE = 1 << 20
COMMANDS = (
    "ping",
    "send",
    "key",
    "screen",
    "kill",
    "continue",
    "retry",
    "pause",
    "resume",
    "wake",
    "focus",
    "live",
    "hook",
)
