"""Needs-input detection: what an agent's rendered screen shows, and the state machine on top.

:func:`classify` reads one rendered screen (rows of text, as the terminal model shows them) with
an agent profile's patterns and says ``busy``, ``waiting``, ``idle`` or ``unknown``. The rules
that make it hard to fool:

* A busy marker (spinner line, "esc to interrupt", token counter) in the status area, the bottom
  ``status_rows`` rows of text, wins. When a prompt sits at the bottom, only markers *below* it
  count; prompt-like text higher up (a file dump containing "Do you want to proceed?") never
  hides a running spinner.
* A prompt counts as ``waiting`` only when it is the last thing on the screen: at most
  ``dialog_tail`` rows of text below its last matching row, no idle prompt box below it, and,
  for patterns that need one, a selected menu row (``❯ 1. Yes``) in the dialog.
* ``approvable`` is true only for a tool-permission prompt at the bottom that shows the
  profile's approve pattern and none of its sensitive patterns.
* Profiles without patterns (``shell``), and profiles with ``generic_fallback`` when nothing of
  their own matched, use the seed's generic patterns on the cursor row; such results have kind
  ``"generic"`` and count only after the output has been quiet for the debounce.

:class:`NeedsInputTracker` combines the classification with output quiet time, the user's
keystrokes, hook events and process exit. It has no clock of its own: every call takes the
current time (seconds, any monotonic origin) and returns the state changes it caused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from c3desk.core.agents import AgentProfile, ScreenPattern

__all__ = [
    "DEFAULT_DEBOUNCE",
    "DEFAULT_SETTLE",
    "NEEDS_INPUT_STATES",
    "Approval",
    "Classification",
    "NeedsInputTracker",
    "ScreenState",
    "StateChange",
    "TrackerState",
    "classify",
]

ScreenState = Literal["busy", "waiting", "idle", "unknown"]
TrackerState = Literal["busy", "waiting", "idle", "exited"]
HookEvent = Literal["busy", "waiting", "idle"]

NEEDS_INPUT_STATES: frozenset[str] = frozenset({"waiting", "idle"})
DEFAULT_DEBOUNCE = 1.5  # quiet seconds before an idle prompt (or a generic match) counts
DEFAULT_SETTLE = 0.3  # quiet seconds before a recognised waiting prompt counts
# Ticking exactly at next_deadline() must fire, whatever the float rounding of `last + quiet`.
_EPSILON = 1e-6

# How far above the last prompt row the rest of its dialog (title, question) may start.
_DIALOG_SPAN = 30
_CHROME = re.compile(r"[\s│┃║|╭╮╰╯┌┐└┘─━═┄┈▔▁]+")
_EDGES = re.compile(r"^[\s│┃║╭╰┌└]+|[\s│┃║╮╯┐┘]+$")
_CURSOR_GLYPHS = re.compile(r"[❯›●○▶>]")

_GENERIC_YES_NO = re.compile(r"(?i)\[yes/no\]|\[?\by(?:es)?\]?\s*/\s*\[?no?\b")
_GENERIC_QUESTION = re.compile(r"\?$|^\s*\?\s")
_GENERIC_PROMPT = re.compile(r"[>$❯›]$|(?:^|\s)[#%]$")


@dataclass(frozen=True)
class Classification:
    """What one screen shows. `kind` is the prompt's kind for waiting screens, or "generic"."""

    state: ScreenState
    reason: str
    kind: str | None = None
    approvable: bool = False
    prompt_text: str = ""

    @property
    def generic(self) -> bool:
        return self.kind == "generic"


def classify(lines: Sequence[str], cursor_row: int | None, profile: AgentProfile) -> Classification:
    """Classify a rendered screen (one string per row) with `profile`'s patterns."""
    rows = [row.rstrip() for row in lines]
    if not profile.has_patterns:
        return _generic(rows, cursor_row)
    text_rows = [i for i, row in enumerate(rows) if _has_text(row)]
    if not text_rows:
        return Classification("unknown", "blank")
    end = text_rows[-1]

    # Busy markers first: a prompt wins over them only from below the lowest one, so prompts
    # are searched only there (a spinner animating is the common case, and it stays cheap).
    # A row that matches a prompt pattern is not a busy marker (Gemini's "⠏ Waiting for
    # user confirmation…" is part of its prompt).
    busy = _busy_markers(rows, text_rows[-profile.status_rows :], profile)
    lowest_busy = max((row for row, _ in busy), default=-1)
    scan_from = max(
        lowest_busy + 1,
        min(
            _nth_from_end(text_rows, profile.dialog_tail + 1),
            _nth_from_end(text_rows, profile.status_rows),
        ),
    )
    matches = _waiting_matches(rows, profile.waiting, scan_from, end)
    dialog = _bottom_dialog(rows, text_rows, end, matches, scan_from, profile)
    if dialog is None and busy:
        row, pattern = min(busy, key=lambda hit: profile.busy.index(hit[1]))
        return Classification("busy", pattern.reason, prompt_text=_clean(rows[row]))
    if dialog is not None:
        return dialog.classification
    for i in text_rows[-profile.idle_tail :]:
        for pattern in profile.idle:
            if pattern.search(rows[i]):
                return Classification("idle", pattern.reason, prompt_text=_clean(rows[i]))
    if profile.uses_generic:
        return _generic(rows, cursor_row)
    return Classification("unknown", "no-match")


@dataclass(frozen=True)
class _Dialog:
    prompt_row: int
    classification: Classification


def _nth_from_end(text_rows: list[int], n: int) -> int:
    return text_rows[-n] if len(text_rows) >= n else 0


def _waiting_matches(
    rows: list[str], patterns: Sequence[ScreenPattern], first: int, last: int
) -> list[tuple[int, int, ScreenPattern]]:
    found = []
    for i in range(first, last + 1):
        row = rows[i]
        if not row:
            continue
        for priority, pattern in enumerate(patterns):
            if pattern.regex.search(row):
                found.append((i, priority, pattern))
    return found


def _bottom_dialog(
    rows: list[str],
    text_rows: list[int],
    end: int,
    matches: list[tuple[int, int, ScreenPattern]],
    scanned_from: int,
    profile: AgentProfile,
) -> _Dialog | None:
    """The waiting prompt at the bottom of the screen, if there is one."""
    anchors = [m for m in matches if not m[2].title]
    if not anchors:
        return None
    last = max(row for row, _, _ in anchors)
    if sum(1 for i in text_rows if i > last) > profile.dialog_tail:
        return None
    match_rows = {row for row, _, _ in matches}
    for i in range(last + 1, end + 1):
        if i in match_rows or (profile.menu is not None and profile.menu.search(rows[i])):
            continue
        if any(p.regex.search(rows[i]) for p in profile.idle):
            return None  # an idle prompt below: the "dialog" is text printed earlier
    start = max(0, last - _DIALOG_SPAN)
    if start < scanned_from:
        matches = _waiting_matches(rows, profile.waiting, start, scanned_from - 1) + matches
    cluster = [m for m in matches if m[0] >= start]
    best_anchor = min((m for m in cluster if not m[2].title), key=lambda m: m[1])
    region = rows[start : end + 1]
    has_menu = profile.menu is not None and any(profile.menu.search(r) for r in region)
    if best_anchor[2].menu and not has_menu:
        return None
    best = min(cluster, key=lambda m: m[1])[2]
    top = min(row for row, _, _ in cluster)
    sensitive = any(p.search(r) for p in profile.sensitive for r in region)
    approve_shown = profile.approve_pattern is None or any(
        profile.approve_pattern.search(r) for r in region
    )
    approvable = best.kind == "tool-permission" and approve_shown and not sensitive
    text = _block_text(rows[top : end + 1])
    return _Dialog(last, Classification("waiting", best.reason, best.kind, approvable, text))


def _busy_markers(
    rows: list[str], status: list[int], profile: AgentProfile
) -> list[tuple[int, ScreenPattern]]:
    """(row, first matching busy pattern) for the status rows showing a busy marker."""
    hits = []
    for i in status:
        row = rows[i]
        for pattern in profile.busy:
            if pattern.regex.search(row):
                if not any(p.regex.search(row) for p in profile.waiting):
                    hits.append((i, pattern))
                break
    return hits


def _generic(rows: list[str], cursor_row: int | None) -> Classification:
    """The seed's prompt patterns on the cursor row; debounced by the tracker."""
    row = _cursor_text_row(rows, cursor_row)
    if row is None:
        return Classification("unknown", "blank")
    line = rows[row].strip()
    text = _clean(rows[row])
    if _GENERIC_YES_NO.search(line):
        return Classification("waiting", "yes-no", "generic", prompt_text=text)
    if _GENERIC_QUESTION.search(line):
        return Classification("waiting", "question", "generic", prompt_text=text)
    if _GENERIC_PROMPT.search(line):
        return Classification("idle", "prompt", "generic", prompt_text=text)
    return Classification("unknown", "no-match")


def _cursor_text_row(rows: list[str], cursor_row: int | None) -> int | None:
    last = len(rows) - 1
    start = last if cursor_row is None else min(max(cursor_row, 0), last)
    for i in range(start, -1, -1):
        if rows[i].strip():
            return i
    return None


def _has_text(row: str) -> bool:
    return bool(_CHROME.sub("", row))


def _clean(row: str) -> str:
    return _EDGES.sub("", row).strip()


def _block_text(rows: list[str]) -> str:
    out: list[str] = []
    for row in rows:
        text = _clean(row) if _has_text(row) else ""
        if text or (out and out[-1]):
            out.append(text)
    return "\n".join(out).strip()


# --- the state machine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StateChange:
    """One change of a session's needs-input state, for the event log and the UI."""

    state: TrackerState
    previous: TrackerState
    reason: str
    kind: str | None
    needs_input: bool
    source: str  # "screen" | "hook" | "input" | "auto-approve" | "exit"
    at: float
    appearance: int  # the prompt appearance this state belongs to (0: none yet)
    prompt_text: str


@dataclass(frozen=True)
class Approval:
    """An automatic approval the engine should send (the profile's approve key)."""

    appearance: int
    reason: str
    prompt_text: str
    change: StateChange | None


Identity = tuple[str, ...]
_HOOK_WAITING: Identity = ("waiting", "hook")


def _identity(cls: Classification) -> Identity:
    """What makes two screens the same prompt (menu cursor moves and typed text do not count)."""
    if cls.state == "waiting":
        text = " ".join(_CURSOR_GLYPHS.sub(" ", cls.prompt_text).split())
        return ("waiting", cls.kind or "", cls.reason, text)
    return (cls.state,)


class NeedsInputTracker:
    """A session's needs-input state from screens, output timing, keystrokes, hooks and exit.

    Feed it with:

    * :meth:`on_output` when output changed the rendered screen (not for title-only updates);
    * :meth:`on_screen` with the classification of the screen after such a change;
    * :meth:`on_input` when the user typed into the session;
    * :meth:`on_hook` with ``busy`` / ``waiting`` / ``idle`` from the agent's hooks;
    * :meth:`on_exit` when the process ended;
    * :meth:`tick` at :meth:`next_deadline` (or periodically), so debounces can expire.

    Each returns the list of :class:`StateChange` it caused. Screens are edge-triggered: a
    screen is applied once, when it first settles; a later hook or keystroke is not overridden
    by the same screen still showing, only by a new one. Busy screens apply at once, recognised
    waiting prompts after `settle` seconds of quiet output, idle prompts and generic matches
    after `debounce` seconds.

    `appearance` counts prompt appearances: it grows each time a waiting or idle prompt newly
    appears. :meth:`claim_approval` gives at most one automatic approval per appearance.
    """

    def __init__(
        self, now: float, *, debounce: float = DEFAULT_DEBOUNCE, settle: float = DEFAULT_SETTLE
    ) -> None:
        self.debounce = debounce
        self.settle = settle
        self.state: TrackerState = "busy"
        self.reason = "starting"
        self.kind: str | None = None
        self.prompt_text = ""
        self.appearance = 0
        self._identity: Identity = ("busy",)
        self._last_output = now
        self._screen: Classification | None = None
        self._screen_id: Identity | None = None
        self._epoch = 0  # grows each time the screen shows something different
        self._consumed = -1  # the epoch whose screen was applied or overruled
        self._input_block = False  # the user typed; set until the screen shows busy
        self._input_screen: Identity | None = None  # what the screen showed when they typed
        self._approved_appearance = 0
        self._approved_id: Identity | None = None
        self._approved_at: float | None = None
        self._busy_since_approval = True

    @property
    def needs_input(self) -> bool:
        return self.state in NEEDS_INPUT_STATES

    # --- inputs --------------------------------------------------------------------------------

    def on_output(self, now: float) -> list[StateChange]:
        """Output changed the screen at `now`."""
        self._last_output = now
        return self._evaluate(now)

    def on_screen(self, classification: Classification, now: float) -> list[StateChange]:
        """The screen now classifies as `classification`."""
        if self.state == "exited":
            return []
        ident = _identity(classification)
        if ident != self._screen_id:
            self._epoch += 1
            self._screen_id = ident
        if classification.state == "busy":
            self._input_block = False
            self._busy_since_approval = True
        self._screen = classification
        return self._evaluate(now)

    def on_input(self, now: float) -> list[StateChange]:
        """The user typed: needs_input is false at once, until a new prompt appears."""
        if self.state == "exited":
            return []
        self._consumed = self._epoch
        self._input_block = True
        self._input_screen = self._screen_id
        change = self._set("busy", "user-input", None, "", ("busy",), "input", now)
        return [change] if change else []

    def on_hook(self, event: HookEvent, now: float, reason: str = "") -> list[StateChange]:
        """A hook reported `event` (the fast path; the screen is the fallback)."""
        if self.state == "exited":
            return []
        if event not in ("busy", "waiting", "idle"):
            raise ValueError(f"unknown hook event {event!r}")
        # The screen showing now predates the hook; let it refine the hook only if it agrees.
        if self._screen is None or self._screen.state != event:
            self._consumed = self._epoch
        if event == "busy":
            # The agent took the prompt (UserPromptSubmit): as good as a busy screen. A fast
            # turn may go from the prompt to a box, or back to the same idle screen after an
            # API error, between two screen reads; without this, that screen would count as
            # the one the user typed at, and never be applied.
            self._input_block = False
            self._busy_since_approval = True
            self._screen_id = ("busy",)
            change = self._set("busy", reason or "hook", None, "", ("busy",), "hook", now)
        elif event == "idle":
            change = self._set("idle", reason or "hook", None, "", ("idle",), "hook", now)
        elif self.state == "waiting":
            change = None  # the screen already reported this prompt
        else:
            change = self._set("waiting", reason or "hook", None, "", _HOOK_WAITING, "hook", now)
        return [change, *self._evaluate(now)] if change else self._evaluate(now)

    def on_exit(self, now: float, reason: str = "exited") -> list[StateChange]:
        """The process ended; the state stays `exited`."""
        if self.state == "exited":
            return []
        change = self._set("exited", reason, None, "", ("exited",), "exit", now)
        return [change] if change else []

    def tick(self, now: float) -> list[StateChange]:
        """Let debounces expire at `now`."""
        return self._evaluate(now)

    def next_deadline(self) -> float | None:
        """When a pending screen would settle (call :meth:`tick` then), or None."""
        screen = self._screen
        if self.state == "exited" or screen is None:
            return None
        if self._epoch != self._consumed and screen.state in NEEDS_INPUT_STATES:
            return self._last_output + self._quiet_needed(screen)
        if self._stuck_candidate() and self._approved_at is not None:
            return max(self._last_output, self._approved_at) + self.debounce
        return None

    def claim_approval(self, now: float) -> Approval | None:
        """An automatic approval for the prompt showing now, at most once per appearance.

        Only for a settled, approvable tool-permission prompt that the user has not touched.
        The state turns busy (the approval is input). If the same prompt still shows
        unchanged `debounce` seconds later, it is reported as waiting again, never approved again.
        """
        screen = self._screen
        if (
            self.state != "waiting"
            or screen is None
            or screen.state != "waiting"
            or not screen.approvable
            or self._identity != _identity(screen)
            or now - self._last_output < self.settle - _EPSILON
            or self._input_block
            or self.appearance == self._approved_appearance
            or (self._approved_id == self._identity and not self._busy_since_approval)
        ):
            return None
        self._approved_appearance = self.appearance
        self._approved_id = self._identity
        self._approved_at = now
        self._busy_since_approval = False
        self._consumed = self._epoch
        appearance = self.appearance
        change = self._set("busy", "auto-approved", None, "", ("busy",), "auto-approve", now)
        return Approval(appearance, screen.reason, screen.prompt_text, change)

    # --- internals -----------------------------------------------------------------------------

    def _quiet_needed(self, screen: Classification) -> float:
        if screen.state == "idle" or screen.generic:
            return self.debounce
        # The prompt the user just answered may linger while the agent redraws: it needs the
        # debounce. A different prompt is new, even when the agent's turn was too short for
        # a busy screen to be seen in between (it still is never auto-approved: see
        # claim_approval).
        if self._input_block and _identity(screen) == self._input_screen:
            return self.debounce
        return self.settle

    def _stuck_candidate(self) -> bool:
        return (
            self.state == "busy"
            and self.reason == "auto-approved"
            and self._screen_id is not None
            and self._screen_id == self._approved_id
        )

    def _evaluate(self, now: float) -> list[StateChange]:
        screen = self._screen
        if self.state == "exited" or screen is None:
            return []
        if self._epoch == self._consumed:
            if self._stuck_candidate() and self._approved_at is not None:
                since = max(self._last_output, self._approved_at)
                if now - since >= self.debounce - _EPSILON:
                    return self._apply(screen, now)
            return []
        if screen.state == "unknown":
            return []
        if (
            screen.state != "busy"
            and now - self._last_output < self._quiet_needed(screen) - _EPSILON
        ):
            return []
        self._consumed = self._epoch
        return self._apply(screen, now)

    def _apply(self, screen: Classification, now: float) -> list[StateChange]:
        state: TrackerState = "busy" if screen.state == "unknown" else screen.state
        change = self._set(
            state, screen.reason, screen.kind, screen.prompt_text, _identity(screen), "screen", now
        )
        return [change] if change else []

    def _set(
        self,
        state: TrackerState,
        reason: str,
        kind: str | None,
        prompt_text: str,
        identity: Identity,
        source: str,
        at: float,
    ) -> StateChange | None:
        previous = self.state
        upgrade = self._identity == _HOOK_WAITING and state == "waiting"
        new_appearance = state in NEEDS_INPUT_STATES and (
            previous not in NEEDS_INPUT_STATES or (identity != self._identity and not upgrade)
        )
        refined = state == "waiting" and (reason, kind) != (self.reason, self.kind)
        if new_appearance:
            self.appearance += 1
        self.state, self.reason, self.kind = state, reason, kind
        self.prompt_text, self._identity = prompt_text, identity
        if state == previous and not new_appearance and not refined:
            return None
        return StateChange(
            state=state,
            previous=previous,
            reason=reason,
            kind=kind,
            needs_input=self.needs_input,
            source=source,
            at=at,
            appearance=self.appearance,
            prompt_text=prompt_text,
        )
