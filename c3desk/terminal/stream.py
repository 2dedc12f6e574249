"""A pyte :class:`~pyte.streams.ByteStream` whose parser works on tokens, not characters.

One compiled regular expression splits decoded output into printable runs, complete CSI / ESC
sequences and control characters. Each distinct sequence is compiled once into a small callable
(cached), so a redraw costs one dict lookup per sequence and one slice write per text run.
Escape sequences split across ``feed`` calls are held back; oversized or unterminated ones are
dropped after a cap, so memory stays flat whatever the program writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial

import pyte

from c3desk.terminal.screen import MAX_COUNT, FastScreen

log = logging.getLogger(__name__)

_CSI_BODY = r"[0-?\x00-\x17\x19\x1c-\x1f]*[ -/\x00-\x17\x19\x1c-\x1f]*"
_TOKEN = re.compile(
    r"[^\x00-\x1f]+(?:\x1b\[[0-9;:]*m[^\x00-\x1f]*)*"
    r"|\r\n"
    r"|\x1b\[" + _CSI_BODY + r"[@-~]"
    r"|\x1b\][^\x07\x18\x1a\x1b]*(?:\x07|\x1b\\|\x1b\Z)?"
    r"|\x1b[P^_X][^\x18\x1a\x1b]*(?:\x1b\\|\x1b\Z)?"
    r"|\x1b\[" + _CSI_BODY + r"|\x1b[ -/]*[0-~]"
    r"|\x1b[ -/]*"
    r"|[\x00-\x1f]"
)
_INCOMPLETE = re.compile(
    r"\x1b(?:\[" + _CSI_BODY + r"|\][^\x07\x18\x1a\x1b]*\x1b?|[P^_X][^\x18\x1a\x1b]*\x1b?|[ -/]*)"
)
_CSI_REST = re.compile(_CSI_BODY)
_OSC_END = re.compile(r"\x07|\x1b\\?|[\x18\x1a]")
_STR_END = re.compile(r"\x1b\\?|[\x18\x1a]")
_CONTROLS = re.compile(r"[\x00-\x1f]")

# 8-bit C1 controls (as decoded code points) become their 7-bit forms; DEL and the other C1
# controls are dropped, so printable runs never contain them.
_C1 = re.compile(r"[\x7f-\x9f]")
_C1_MAP: dict[int, str | None] = {c: None for c in range(0x7F, 0xA0)}
_C1_MAP.update(
    {
        0x90: "\x1bP",
        0x98: "\x1bX",
        0x9B: "\x1b[",
        0x9C: "\x1b\\",
        0x9D: "\x1b]",
        0x9E: "\x1b^",
        0x9F: "\x1b_",
    }
)

#: Longest escape sequence held back across ``feed`` calls, and longest OSC string kept.
CSI_CAP = 512
STRING_CAP = 8192
_CACHE_SIZE = 4096
_MAX_PARAMS = 32

_INTERMEDIATES = frozenset(" !\"#$%&'()*+,-./")

Action = Callable[[], None]


def _noop() -> None:
    pass


class _StringState:
    """An OSC or DCS/APC/PM/SOS string still open at the end of a ``feed``."""

    __slots__ = ("esc_pending", "kind", "length", "overflow", "parts")

    def __init__(self, kind: str, body: str) -> None:
        self.kind = kind
        self.parts: list[str] = []
        self.length = 0
        self.overflow = False
        self.esc_pending = False
        self.add(body)

    def add(self, text: str) -> None:
        if self.overflow or self.kind != "]":
            return  # DCS and friends are dropped: nothing to keep
        self.length += len(text)
        if self.length > STRING_CAP:
            self.overflow = True
            self.parts.clear()
        else:
            self.parts.append(text)


class FastStream(pyte.ByteStream):  # type: ignore[misc, unused-ignore]
    """pyte's ByteStream with a regex tokenizer in front; see the module docstring."""

    def __init__(self, screen: FastScreen) -> None:
        super().__init__(screen)
        # pyte's parser generator (started by attach) holds this stream in its frame: a
        # reference cycle that kept every dropped terminal (screen rows, scrollback) in memory
        # until a full garbage collection. feed below never uses it.
        self._parser = None
        self.screen = screen
        self._pending = ""
        self._string: _StringState | None = None
        self._discard_csi = False
        self._static: dict[str, Action] = self._control_actions()
        self._cache: dict[str, Action] = dict(self._static)

    def release_caches(self) -> None:
        """Forget the sequences seen (the control characters' table stays)."""
        self._cache = dict(self._static)

    def _control_actions(self) -> dict[str, Action]:
        screen = self.screen
        actions: dict[str, Action] = {chr(c): _noop for c in range(0x20) if c != 0x1B}
        for char, name in self.basic.items():  # pyte's table: BEL, BS, HT, LF, VT, FF, CR, SO, SI
            if name not in ("shift_in", "shift_out"):  # ignored in UTF-8, as pyte does
                actions[char] = getattr(screen, name)
        actions["\r\n"] = screen.crlf
        return actions

    # -- input -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:  # type: ignore[override, unused-ignore]
        """Consume bytes as read from the PTY; sequences may be split anywhere."""
        text: str = self.utf8_decoder.decode(data)
        if text and _C1.search(text):
            text = text.translate(_C1_MAP)
        if not text:
            return
        try:
            if self._string is not None:
                text = self._continue_string(text)
            elif self._discard_csi:
                text = self._continue_discard(text)
            if self._pending:
                text = self._pending + text
                self._pending = ""
            if not text:
                return
            tokens = _TOKEN.findall(text)
            last = tokens[-1]
            if last[0] == "\x1b" and _INCOMPLETE.fullmatch(last):
                tokens.pop()
                self._hold(last)
        except Exception:  # never expected; start clean rather than stop the session's output
            log.exception("terminal: tokenizer failed")
            self._pending, self._string, self._discard_csi = "", None, False
            return
        self._run(tokens)

    def _hold(self, token: str) -> None:
        """Keep an incomplete sequence for the next ``feed``, within the caps."""
        kind = token[1:2]
        if kind and kind in "]P^_X":
            body = token[2:]
            esc = body.endswith("\x1b")
            state = _StringState(kind, body[:-1] if esc else body)
            state.esc_pending = esc
            self._string = state
        elif kind == "[" and len(token) > CSI_CAP:
            self._discard_csi = True
        elif len(token) <= CSI_CAP:
            self._pending = token

    def _continue_string(self, text: str) -> str:
        state = self._string
        assert state is not None
        if state.esc_pending:
            state.esc_pending = False
            if text[0] == "\\":
                self._string = None
                self._finish_string(state)
                return text[1:]
            self._string = None  # ESC that is not ST aborts the string; the ESC starts anew
            return "\x1b" + text
        m = (_OSC_END if state.kind == "]" else _STR_END).search(text)
        if m is None:
            state.add(text)
            return ""
        state.add(text[: m.start()])
        term = m.group()
        if term == "\x1b":
            if m.end() == len(text):
                state.esc_pending = True
                return ""
            self._string = None
            return text[m.start() :]
        self._string = None
        if term in ("\x07", "\x1b\\"):
            self._finish_string(state)
        return text[m.end() :]

    def _finish_string(self, state: _StringState) -> None:
        if state.kind == "]" and not state.overflow:
            self._osc("".join(state.parts))

    def _continue_discard(self, text: str) -> str:
        m = _CSI_REST.match(text)
        end = m.end() if m else 0
        if end == len(text):
            return ""
        self._discard_csi = False
        if "@" <= text[end] <= "~":
            end += 1
        return text[end:]

    def _run(self, tokens: list[str]) -> None:
        cache = self._cache
        draw = self.screen.draw
        draw_styled = self.screen.draw_styled
        for tok in tokens:
            try:
                if tok >= " ":
                    if "\x1b" in tok:
                        draw_styled(tok)
                    else:
                        draw(tok)
                else:
                    action = cache.get(tok)
                    if action is None:
                        action = self._compile(tok)
                    action()
            except Exception:  # a terminal must survive any output; log and go on
                log.exception("terminal: failed on %r", tok[:64])

    # -- sequences -------------------------------------------------------------------------

    def _remember(self, tok: str, action: Action) -> Action:
        if len(self._cache) >= _CACHE_SIZE:
            self._cache = dict(self._static)
        self._cache[tok] = action
        return action

    def _compile(self, tok: str) -> Action:
        kind = tok[1:2]
        if kind == "[":
            return self._compile_csi(tok)
        if kind == "]":
            if tok.endswith(("\x07", "\x1b\\")) and len(tok) <= STRING_CAP:
                self._osc(tok[2:-1] if tok[-1] == "\x07" else tok[2:-2])
            return _noop
        if kind and kind in "P^_X":
            return _noop  # DCS, SOS, PM, APC: consumed and dropped
        if tok[0] == "\x1b":
            return self._remember(tok, self._compile_esc(tok[1:]))
        return _noop

    def _compile_esc(self, rest: str) -> Action:
        screen = self.screen
        if rest in ("", "\\"):
            return _noop
        if len(rest) == 1:
            if rest == "E":
                return screen.next_line
            if rest == "=":
                return partial(setattr, screen, "app_keypad", True)
            if rest == ">":
                return partial(setattr, screen, "app_keypad", False)
            name = self.escape.get(rest)  # pyte's table: RIS, IND, RI, HTS, DECSC, DECRC
            return getattr(screen, name) if name else _noop
        if rest[0] == "#" and rest[1:] in self.sharp:
            return getattr(screen, self.sharp[rest[1:]])  # type: ignore[no-any-return]
        if rest[0] in "()" and len(rest) == 2:
            return partial(screen.define_charset, rest[1], rest[0])
        return _noop

    def _compile_csi(self, tok: str) -> Action:
        body = tok[2:-1]
        final = tok[-1]
        cacheable = True
        if _CONTROLS.search(body):
            # C0 controls inside a CSI act before it (the CSI only acts at its final byte).
            for ch in _CONTROLS.findall(body):
                self._static.get(ch, _noop)()
            body = _CONTROLS.sub("", body)
            cacheable = False
        prefix = ""
        if body and body[0] in "<=>?":
            prefix, body = body[0], body[1:]
        j = len(body)
        while j and body[j - 1] in _INTERMEDIATES:
            j -= 1
        inter, params = body[j:], body[:j]
        if any(c in "<=>?" for c in params):
            action: Action = _noop
        else:
            action = self._csi_action(prefix, inter, params, final)
        return self._remember(tok, action) if cacheable else action

    def _csi_action(self, prefix: str, inter: str, params: str, final: str) -> Action:
        screen = self.screen
        if not prefix and not inter and final == "m":
            return partial(screen.sgr, params)
        nums = [
            min(int(p[:8]), MAX_COUNT) if p.isdigit() else 0
            for p in (s.split(":", 1)[0] for s in params.split(";", _MAX_PARAMS)[:_MAX_PARAMS])
        ]
        n = nums[0]
        if inter:
            if inter == "$" and final == "p" and prefix in ("", "?"):
                return partial(screen.report_mode, n, prefix == "?")
            if inter == " " and final == "q" and not prefix:
                return partial(setattr, screen, "cursor_shape", n)
            if inter == "!" and final == "p" and not prefix:
                return self._soft_reset
            return _noop
        if prefix == "?":
            if final == "h":
                return partial(screen.set_mode, *nums, private=True)
            if final == "l":
                return partial(screen.reset_mode, *nums, private=True)
            if final == "J":
                return partial(screen.erase_in_display, n)
            if final == "K":
                return partial(screen.erase_in_line, n)
            if final == "n":
                return partial(screen.report_device_status, n, True)
            return _noop  # includes CSI ? u (kitty keyboard query): not supported, no answer
        if prefix == ">":
            if final == "c" and n == 0:
                return screen.report_secondary_attributes
            return _noop  # CSI > 4;2 m (modifyOtherKeys), CSI > 1 u, XTVERSION, ...
        if prefix:
            return _noop  # CSI = ... u, CSI < u, ...
        return self._plain_csi(final, nums)

    def _plain_csi(self, final: str, nums: list[int]) -> Action:
        screen = self.screen
        n = nums[0]
        table: dict[str, Callable[[int], None]] = {
            "A": screen.cursor_up,
            "B": screen.cursor_down,
            "C": screen.cursor_forward,
            "a": screen.cursor_forward,
            "D": screen.cursor_back,
            "E": screen.cursor_down1,
            "F": screen.cursor_up1,
            "G": screen.cursor_to_column,
            "`": screen.cursor_to_column,
            "d": screen.cursor_to_line,
            "e": screen.cursor_down,
            "J": screen.erase_in_display,
            "K": screen.erase_in_line,
            "L": screen.insert_lines,
            "M": screen.delete_lines,
            "@": screen.insert_characters,
            "P": screen.delete_characters,
            "X": screen.erase_characters,
            "S": screen.scroll_up,
            "b": screen.repeat,
            "g": screen.clear_tab_stop,
            "Z": screen.back_tab,
            "I": screen.forward_tab,
        }
        one = table.get(final)
        if one is not None:
            return partial(one, n)
        if final in "Hf":
            return partial(screen.cursor_position, *nums[:2])
        if final == "r":
            return partial(screen.set_margins, *nums[:2])
        if final == "T":
            return partial(screen.scroll_down, n) if len(nums) == 1 else _noop
        if final == "h":
            return partial(screen.set_mode, *nums)
        if final == "l":
            return partial(screen.reset_mode, *nums)
        if final == "c":
            return partial(screen.report_device_attributes, n)
        if final == "n":
            return partial(screen.report_device_status, n)
        if final == "s" and len(nums) == 1 and n == 0:
            return screen.save_cursor
        if final == "u" and len(nums) == 1 and n == 0:
            return screen.restore_cursor
        return _noop  # CSI t (window ops) and everything else: ignored

    def _soft_reset(self) -> None:
        """DECSTR: modes, margins and attributes back to defaults; the screen is kept."""
        screen = self.screen
        screen.reset_mode(4)
        screen.set_mode(7, 25, private=True)
        screen.reset_mode(1, 6, 2004, private=True)
        screen.margins = None
        screen.sgr("0")

    def _osc(self, body: str) -> None:
        """Act on a complete OSC: titles and notifications; everything else is dropped."""
        code, _, rest = body.partition(";")
        screen = self.screen
        if code in ("0", "2"):
            screen.set_title(rest)
        elif code == "9":
            if not rest.startswith("4;"):  # ConEmu progress, not a notification
                screen.notify("osc9", "", rest)
        elif code == "777":
            parts = rest.split(";", 2)
            if parts[0] == "notify":
                screen.notify(
                    "osc777",
                    parts[1] if len(parts) > 1 else "",
                    parts[2:3][0] if len(parts) > 2 else "",
                )
        elif code == "99":
            _meta, _, payload = rest.partition(";")
            screen.notify("osc99", "", payload)
        # OSC 8 hyperlinks, 52 clipboard, 4/10/11 colour queries...: consumed, never answered.
