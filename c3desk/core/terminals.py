"""The sessions' terminals as users reach them: typing, keys, sizes and reading screens.

One part of the engine (:class:`c3desk.core.engine.Engine` composes it, as it composes the
feeder and the agent watch). It owns the terminal sizes (the default a new session starts
with, and each session's own once a view has measured it) and makes the terminal models; it
reads the engine's live and kept sessions but never changes their lifecycle. Everything runs
on the engine's loop; nothing here blocks but rebuilding an old session's screen from its
scrollback file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from c3desk.core import sessions as sess
from c3desk.core.keys import APP_CURSOR, KEYS
from c3desk.core.live import LiveSession
from c3desk.core.scrollback import read_chunks
from c3desk.errors import InvalidInput, Refused
from c3desk.terminal import TerminalModel

ModelFactory = Callable[[int, int, int], TerminalModel]  # (cols, rows, history) -> model
ENTER_DELAY = 0.05  # between text and its Enter: the agent sees a keypress, not a paste
PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
# Left out of a pasted text, as the window's paste leaves them out: ESC and the other controls
# but Tab and newline (an ESC [201~ in the text would end the paste, the rest go as keys).
_PASTE_DROP = {c: None for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in (9, 10)}

log = logging.getLogger(__name__)


class Terminals:
    def __init__(
        self,
        live: Mapping[str, LiveSession],
        finished: Mapping[str, LiveSession],
        scrollback_dir: Path,
        *,
        typed: Callable[[LiveSession], None],
        cols: int,
        rows: int,
        history: int,
        model_factory: ModelFactory | None = None,
    ) -> None:
        self._live = live
        self._finished = finished
        self._scrollback_dir = scrollback_dir
        self._typed = typed
        self.cols, self.rows = cols, rows
        self.history = history
        self._model_factory = model_factory or (lambda c, r, h: TerminalModel(c, r, history=h))
        self._sizes: dict[str, tuple[int, int]] = {}

    # -- sizes and models ------------------------------------------------------------------------

    def size_for(self, sid: str) -> tuple[int, int]:
        """(cols, rows) the session's terminal has, or starts with."""
        return self._sizes.get(sid, (self.cols, self.rows))

    def keep_size(self, sid: str, cols: int, rows: int) -> None:
        """The session's terminal has this size already (a hosted one found again): its model
        starts with it, unless a view has asked for another."""
        self._sizes.setdefault(sid, (max(20, cols), max(5, rows)))

    def new_model(self, sid: str) -> TerminalModel:
        cols, rows = self.size_for(sid)
        return self._model_factory(cols, rows, self.history)

    def set_default_size(self, cols: int, rows: int) -> None:
        """The terminal size new sessions start with (the size of the views that show them)."""
        self.cols, self.rows = max(20, cols), max(5, rows)

    def resize(self, ref: str, cols: int, rows: int) -> None:
        s = sess.find_session(ref)
        self._sizes[s.id] = (cols, rows)
        live = self._live.get(s.id)
        if live is not None:
            live.model.resize(cols, rows)
            if live.process is not None:
                live.process.resize(cols, rows)

    # -- input -----------------------------------------------------------------------------------

    def running(self, ref: str) -> LiveSession:
        """The live session ``ref`` names; Refused when it is not running."""
        s = sess.find_session(ref)
        live = self._live.get(s.id)
        if live is None:
            raise Refused(f"session {s.id} is {s.status}, not running")
        return live

    def write(self, ref: str, data: bytes) -> None:
        """Input from the user: it reaches the agent and clears needs-input at once."""
        live = self.running(ref)
        if live.process is None:
            raise Refused(f"session {live.id} is still starting")
        live.process.write(data)
        try:
            self._typed(live)
        except Exception:
            # Recording that it no longer needs input failed (a full disk, a read-only folder):
            # the input itself went through, and the rest of it (Enter) must follow.
            log.exception("recording input to session %s", live.id)

    async def send_text(self, ref: str, text: str, enter: bool = True) -> None:
        """Type ``text``; then Enter, a moment later, so the agent sees a keypress, not a paste.

        A text of several lines goes as one bracketed paste, as a terminal pastes it (newlines
        as CR between ESC [200~ and ESC [201~): it stays one message. Typed, each newline
        would be Enter and the first line would go alone (or answer a box). The agent must
        have asked for bracketed paste (DECSET 2004; Claude Code does); without it such a text
        is refused rather than sent line by line."""
        self.write(ref, self._pasted(ref, text) if "\n" in text or "\r" in text else text.encode())
        if enter:
            if text:
                await asyncio.sleep(ENTER_DELAY)
            self.write(ref, b"\r")

    def _pasted(self, ref: str, text: str) -> bytes:
        live = self.running(ref)
        if not live.model.modes.bracketed_paste:
            raise Refused(
                f"session {live.id}: its program has not turned on bracketed paste, so a text "
                "with newlines would be sent line by line, each line as Enter; send one line"
            )
        lines = text.replace("\r\n", "\n").replace("\r", "\n").translate(_PASTE_DROP)
        return PASTE_START + lines.replace("\n", "\r").encode() + PASTE_END

    def send_key(self, ref: str, name: str) -> None:
        live = self.running(ref)
        key = name.lower()
        if key not in KEYS:
            raise InvalidInput(f"unknown key {name!r}; known: {', '.join(KEYS)}")
        data = APP_CURSOR.get(key) if live.model.modes.app_cursor else None
        self.write(ref, data or KEYS[key])

    # -- reading ---------------------------------------------------------------------------------

    def current_model(self, sid: str) -> TerminalModel | None:
        """The terminal of a running session, or of one that ended recently; None otherwise
        (no database access: cheap enough for every refresh)."""
        live = self._live.get(sid) or self._finished.get(sid)
        return live.model if live is not None else None

    def last_activity(self, sid: str) -> float | None:
        """When a running session last printed (monotonic), or None when it is not running."""
        live = self._live.get(sid)
        return live.last_output if live is not None else None

    def model_of(self, ref: str) -> TerminalModel:
        """The session's terminal: live, kept from its end, or rebuilt from its scrollback."""
        s = sess.find_session(ref)
        model = self.current_model(s.id)
        if model is not None:
            return model
        model = self.new_model(s.id)
        for chunk in read_chunks(self._scrollback_dir / f"{s.id}.log"):
            model.feed(chunk)
        model.take_answers()
        return model

    def screen(self, ref: str) -> list[str]:
        live = self._live.get(sess.find_session(ref).id)
        if live is not None:
            live.feed_all()
        return [row.rstrip() for row in self.model_of(ref).display]

    def live_status(self) -> dict[str, Any]:
        return {
            sid: {"pid": live.process.pid if live.process else None, "backlog": live.pending_bytes}
            for sid, live in self._live.items()
        }
