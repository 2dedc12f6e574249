r"""Agent profiles: how c3desk launches, resumes and reads the screen of each agent CLI.

Built-in profiles: ``claude`` (the default), ``codex``, ``gemini``, ``aider`` and ``shell``
(any command line the user gives; it uses the generic prompt patterns). Users add or override
profiles in ``$C3DESK_HOME/agents.toml``, read by :func:`load_profiles`.

agents.toml
===========

One table per profile, named after it. A table named like a built-in profile overrides that
profile: the keys it gives replace the built-in values, the others are kept. A new name starts
from the profile named by ``extends`` (default: an empty profile, which uses the generic
patterns)::

    [claude]
    extra_sensitive = ['(?i)terraform apply']   # never auto-approve prompts mentioning this

    [mycli]
    extends = "shell"                 # optional: start from this profile
    command = ["mycli", "--tui"]      # argv of the agent (for claude: the claude_command setting)
    args = []                         # launch arguments without a prompt
    prompt_args = ["{prompt}"]        # launch arguments with a prompt ({prompt} is replaced)
    type_prompt = false               # true: type the prompt into the terminal after start
    session_id_args = []              # arguments giving a new conversation its id ({id})
    resume_args = ["--resume", "{id}"]
    continue_args = ["--continue"]
    id_source = "output"              # "assigned" | "output" | "none"
    id_pattern = 'session: (?P<id>[0-9a-f-]{36})'   # with id_source = "output"
    approve_key = "y\r"               # bytes sent to approve (UTF-8 of the string)
    approve_pattern = '\(y\)es'       # approve only when the prompt shows this
    menu = '^\s*> \d+\.'              # the selected row of a menu, for waiting patterns with menu
    busy = ['esc to interrupt', { reason = "spinner", pattern = '^[|/\-] Working' }]
    idle = ['^mycli>']
    sensitive = ['(?i)delete']        # prompts matching these are never auto-approved
    generic_fallback = true           # use the generic patterns when nothing else matches
    status_rows = 12                  # busy markers count in this many bottom rows
    dialog_tail = 12                  # a prompt counts only this close to the bottom
    idle_tail = 6                     # the idle prompt must be this close to the bottom
    usage_limit = ['limit hit, back at (?P<reset>.+)$']   # see below
    usage_limit_menu = '(?P<key>\d+)\. Wait for the reset'   # the menu row that waits
    usage_limit_prompt = "continue"   # typed into a session that waited for the reset

    [[mycli.prices]]                  # what tokens cost (c3desk.core.prices): first match wins
    model = "claude-opus-5-5*"        # a model name pattern (fnmatch)
    input = 4.0                       # dollars per million tokens; also output (required),
    output = 20.0                     # cache_write, cache_write_1h and cache_read

    [[mycli.waiting]]                 # tried in order: the first listed wins
    reason = "deploy"                 # reported as the reason
    kind = "tool-permission"          # tool-permission | trust | mcp | plan | question |
                                      # menu | settings | generic
    pattern = 'Deploy now\?'
    menu = false                      # true: needs a selected menu row below it
    title = false                     # true: only names a prompt found by another pattern

All patterns are Python regular expressions searched in each row of the rendered screen, with
the row's trailing whitespace removed (so write ``'^mycli>'``, not ``'^mycli> '``). Use
single-quoted TOML strings to avoid doubling backslashes. ``waiting``, ``busy``, ``idle`` and
``sensitive`` replace the inherited list; ``extra_waiting`` (tried before the inherited
patterns), ``extra_busy``, ``extra_idle`` and ``extra_sensitive`` add to it. A mistake in the
file (TOML syntax, an unknown key, a wrong type, a bad regular expression, a bad price) raises
:class:`AgentsFileError` naming the file and the line.

``usage_limit`` patterns (``extra_usage_limit`` adds to them) name the account's usage-limit
message; each needs a ``(?P<reset>...)`` group holding the reset time as shown ("3pm
(Europe/Paris)", "18:00"; rows without a digit are not searched); a pattern whose reason is
``auto-continue`` says the agent continues by itself at the reset. They count only where the CLI
writes its own lines (see :mod:`c3desk.core.limit_screen`). ``usage_limit_menu`` needs a
``(?P<key>...)`` group.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from c3desk.core.prices import DEFAULT_PRICES, Price, parse_prices

__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_PROFILE",
    "GENERIC_PROFILE_NAME",
    "KINDS",
    "AgentProfile",
    "AgentsFileError",
    "ScreenPattern",
    "load_profiles",
]

IdSource = Literal["assigned", "output", "none"]

#: The kinds of prompt a waiting pattern can name.
KINDS = frozenset(
    {"tool-permission", "trust", "mcp", "plan", "question", "menu", "settings", "generic"}
)
DEFAULT_PROFILE = "claude"
GENERIC_PROFILE_NAME = "shell"

_PLACEHOLDER = re.compile(r"\{(prompt|id)\}")


class AgentsFileError(Exception):
    """agents.toml is not valid; the message names the file and the line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.detail = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ScreenPattern:
    """A regular expression searched in each screen row, with what a match means."""

    reason: str
    regex: re.Pattern[str]
    kind: str | None = None  # waiting patterns only: one of KINDS
    menu: bool = False  # waiting: counts only with a selected menu row in the prompt
    title: bool = False  # waiting: names a prompt but does not make one

    @classmethod
    def of(
        cls,
        reason: str,
        pattern: str,
        kind: str | None = None,
        *,
        menu: bool = False,
        title: bool = False,
    ) -> ScreenPattern:
        return cls(reason, re.compile(pattern), kind, menu, title)

    def search(self, row: str) -> bool:
        return self.regex.search(row) is not None


@dataclass(frozen=True)
class AgentProfile:
    """How to start one kind of agent and how to read its screen."""

    name: str
    command: tuple[str, ...] = ()  # default argv; empty: the user gives it (shell)
    command_setting: str | None = None  # setting that overrides `command` (claude_command)
    args: tuple[str, ...] = ()  # launch arguments without a prompt
    prompt_args: tuple[str, ...] = ("{prompt}",)  # launch arguments with a prompt
    type_prompt: bool = False  # the prompt is typed into the terminal, not passed as args
    session_id_args: tuple[str, ...] = ()  # give a new conversation an id we chose
    resume_args: tuple[str, ...] = ()  # resume conversation {id}
    continue_args: tuple[str, ...] = ()  # resume the newest conversation here
    id_source: IdSource = "none"
    id_pattern: re.Pattern[str] | None = None  # with id_source "output"
    waiting: tuple[ScreenPattern, ...] = ()  # priority order: the first listed wins
    busy: tuple[ScreenPattern, ...] = ()
    idle: tuple[ScreenPattern, ...] = ()
    sensitive: tuple[re.Pattern[str], ...] = ()
    menu: re.Pattern[str] | None = None  # the selected row of a menu
    approve_key: bytes = b"\r"
    approve_pattern: re.Pattern[str] | None = None  # the prompt must show this to approve
    generic_fallback: bool = False
    hooks: bool = False  # accepts Claude Code hook settings (`--settings FILE`)
    status_rows: int = 12
    dialog_tail: int = 12
    idle_tail: int = 6
    # The account's usage limit (c3desk.core.limit_screen): messages with a (?P<reset>...)
    # group, the menu row that waits for the reset (its (?P<key>...) is typed), and the prompt
    # typed to continue once the limit has reset.
    usage_limit: tuple[ScreenPattern, ...] = ()
    usage_limit_menu: re.Pattern[str] | None = None
    usage_limit_prompt: str = "Continue where you left off."
    prices: tuple[Price, ...] = ()  # what tokens cost, per model pattern (first match wins)

    @property
    def has_patterns(self) -> bool:
        return bool(self.waiting or self.busy or self.idle)

    @property
    def uses_generic(self) -> bool:
        """True when the seed's generic prompt patterns apply to this profile."""
        return self.generic_fallback or not self.has_patterns

    def launch_argv(
        self,
        prompt: str | None = None,
        session_id: str | None = None,
        command: Sequence[str] | None = None,
    ) -> list[str]:
        """The argv of a first start; `command` overrides the profile's (e.g. a setting)."""
        argv = list(command if command is not None else self.command)
        argv += _fill(self.args, prompt=prompt, id=session_id)
        if session_id is not None:
            argv += _fill(self.session_id_args, prompt=prompt, id=session_id)
        if prompt is not None and not self.type_prompt:
            argv += _fill(self.prompt_args, prompt=prompt, id=session_id)
        return argv

    def resume_argv(self, session_id: str, command: Sequence[str] | None = None) -> list[str]:
        """The argv resuming conversation `session_id` (empty list: the profile cannot)."""
        if not self.resume_args:
            return []
        argv = list(command if command is not None else self.command)
        return argv + _fill(self.args, id=session_id) + _fill(self.resume_args, id=session_id)

    def continue_argv(self, command: Sequence[str] | None = None) -> list[str]:
        """The argv continuing the newest conversation (empty list: the profile cannot)."""
        if not self.continue_args:
            return []
        argv = list(command if command is not None else self.command)
        return argv + _fill(self.args) + _fill(self.continue_args)

    def find_session_id(self, text: str) -> str | None:
        """The conversation id printed in `text`, for profiles with id_source "output"."""
        if self.id_source != "output" or self.id_pattern is None:
            return None
        found = None
        for match in self.id_pattern.finditer(text):
            found = match.group("id") if "id" in match.groupdict() else match.group(1)
        return found


def _fill(args: Iterable[str], prompt: str | None = None, id: str | None = None) -> list[str]:
    # One pass, so that braces inside the prompt text are never substituted again.
    values = {"prompt": prompt or "", "id": id or ""}
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in args]


# --- built-in profiles -------------------------------------------------------------------------

_P = ScreenPattern.of
_BOX = r"^[\s│]*"  # rows inside (nested) rounded boxes start with side borders

_CLAUDE_BUSY = (
    _P("interrupt-hint", r"(?i)\b(?:esc|ctrl\+c) to interrupt\b"),
    _P("token-counter", r"[↑↓]\s*[\d.,]+\s*[kKmM]?\s+tokens\b"),
    _P("spinner", r"^\s*[✻✽✶✳✢·*⏺⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+[A-Z][\w'-]*(?:…|\.\.\.)"),
)

# The wordings seen in the wild (they change between releases; the separator varies: · ∙ • -).
_SEP = r"\s*[·∙•\-]\s*"
_RESET_TEXT = r"(?P<reset>[^·∙•]+?)"
_TAIL = r"\s*(?:[·∙•]\s.*)?\.?$"
_CLAUDE_USAGE_LIMIT = (
    _P(
        "auto-continue",
        r"(?i)\blimit reached" + _SEP + r"continuing automatically at " + _RESET_TEXT + _TAIL,
    ),
    _P(
        "usage-limit",
        r"(?i)\bClaude (?:AI )?usage limit reached\.?\s*Your limit will reset at "
        + _RESET_TEXT
        + _TAIL,
    ),
    _P(
        "usage-limit",
        r"(?i)\b(?:You've (?:hit|reached) your (?:[\w'-]+ ){0,3}limit"
        r"|You're out of (?:extra )?usage(?: credits)?|(?:[\w-]+ )?limit reached)"
        + _SEP
        + r"resets(?: at)? "
        + _RESET_TEXT
        + _TAIL,
    ),
)

CLAUDE = AgentProfile(
    name="claude",
    command=("claude",),
    command_setting="claude_command",
    args=(),
    # After "--": a prompt that starts with a dash ("--dangerously-skip-permissions") is text
    # for the agent, never an option of claude's (2.1.197: `claude -- --version` starts a
    # session with that prompt).
    prompt_args=("--", "{prompt}"),
    session_id_args=("--session-id", "{id}"),
    resume_args=("--resume", "{id}"),
    continue_args=("-c",),
    id_source="assigned",
    hooks=True,
    waiting=(
        _P("folder-trust", r"(?i)do you trust the files in this folder", "trust", menu=True),
        _P(
            "folder-trust",
            r"(?i)is this a project you created or one you trust",
            "trust",
            menu=True,
        ),
        _P("mcp-server", r"(?i)new MCP servers? (?:found|detected)", "mcp", menu=True),
        _P("mcp-server", r"(?i)use this MCP server", "mcp", menu=True),
        _P("plan", r"(?i)ready to code\?", "plan", title=True),
        _P("plan", r"(?i)here is claude's plan", "plan", title=True),
        _P("plan", r"(?i)claude wants to exit plan mode", "plan", title=True),
        _P("plan", r"(?i)would you like to proceed\?", "plan", menu=True),
        # Narrow terminals wrap "Would you like to proceed?" onto the next row.
        _P("plan", r"(?i)claude has written up a plan\b", "plan", menu=True),
        # Without a plan file (2.1.x) the dialog only asks this.
        _P("plan", r"(?i)^\s*exit plan mode\?", "plan", menu=True),
        _P("api-key", r"(?i)do you want to use this API key", "settings", menu=True),
        _P("model-change", r"(?i)\b(?:switch|change) (?:the )?model\b.*\?", "settings", menu=True),
        # AskUserQuestion menus come before tool permissions: a question "Do you want to
        # proceed?" with "1. Yes" must never look approvable.
        _P("ask-user", r"(?i)\benter to select\b", "question", menu=True),
        _P("ask-user", r"(?i)use arrow keys to navigate", "question", menu=True),
        _P("ask-user", r"(?i)\btype something\b", "question", title=True),
        # Titles of tool-permission boxes: they name the tool, the question makes the prompt.
        _P("edit", _BOX + r"Edit file\b", "tool-permission", title=True),
        _P("write", _BOX + r"(?:Create|Write) file\b", "tool-permission", title=True),
        _P("bash", _BOX + r"Bash command\b", "tool-permission", title=True),
        _P("web-fetch", _BOX + r"Fetch\b", "tool-permission", title=True),
        _P("mcp-tool", r"\(MCP\)[\s│]*$", "tool-permission", title=True),
        _P("mcp-tool", r"\bmcp__\w+", "tool-permission", title=True),
        _P("edit", r"(?i)do you want to make this edit to\b", "tool-permission", menu=True),
        _P("write", r"(?i)do you want to (?:create|overwrite)\b", "tool-permission", menu=True),
        _P(
            "web-fetch", r"(?i)do you want to allow claude to fetch\b", "tool-permission", menu=True
        ),
        _P("tool", r"(?i)do you want to proceed\?", "tool-permission", menu=True),
        _P("menu", r"(?i)\benter to confirm\b", "menu", menu=True),
        _P("question", r"(?i)do you want to\b.*\?", "question", menu=True),
    ),
    busy=_CLAUDE_BUSY,
    idle=(
        _P("prompt", r"^\s*│\s*>(?:\s|$)"),
        _P("prompt", r"^\s*>(?:\s|$)"),
        _P("prompt", r"(?i)\? for shortcuts"),
        # 2.1.x: the input row is "❯" + a no-break space + typed text, at the left edge; menu
        # rows ("❯ 1. Yes") and the echoed prompts above use a plain space. Typing hides the
        # "? for shortcuts" hint, and other permission modes replace it.
        _P("prompt", "^❯(?:\u00a0|$)"),
    ),
    sensitive=(
        re.compile(r"(?i)trust the files in this folder|one you trust"),
        re.compile(r"(?i)\bMCP server"),
        re.compile(r"(?i)\b(?:switch|change)\w* (?:the )?model\b"),
        re.compile(r"(?i)\bsettings(?:\.local)?\.json\b"),
        re.compile(r"(?i)(?:^|[\s/│~])\.claude/"),
        re.compile(r"(?i)--dangerously-skip-permissions|bypassPermissions"),
    ),
    menu=re.compile(r"^[\s│]*❯\s*\d+\.\s+\S"),
    approve_key=b"1",
    approve_pattern=re.compile(r"^[\s│]*❯\s*1\.\s+Yes\b"),
    usage_limit=_CLAUDE_USAGE_LIMIT,
    # 2.1.197's /rate-limit-options: "Stop and wait for limit to reset", in some plans just
    # "Stop", first or after the upgrade and usage-credit rows.
    usage_limit_menu=re.compile(
        r"^[\s│]*(?:❯\s*)?(?P<key>\d+)\.\s+Stop(?: and wait for limit to reset)?\s*$"
    ),
    prices=DEFAULT_PRICES,
)

CODEX = AgentProfile(
    name="codex",
    command=("codex",),
    command_setting="codex_command",
    prompt_args=("{prompt}",),
    resume_args=("resume", "{id}"),
    continue_args=("resume", "--last"),
    id_source="output",
    id_pattern=re.compile(
        r"(?i)\bsession(?:[ _]id)?:\s*(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
        r"[0-9a-f]{4}-[0-9a-f]{12})"
    ),
    waiting=(
        _P("folder-trust", r"(?i)do you trust the (?:files|contents) (?:in|of) this", "trust"),
        _P("folder-trust", r"(?i)allow codex to work in this folder", "trust"),
        _P("bash", r"(?i)allow command\?", "tool-permission"),
        _P("bash", r"(?i)would you like to run the following command\?", "tool-permission"),
        _P(
            "edit", r"(?i)would you like to (?:make|apply) the following edits\?", "tool-permission"
        ),
        _P("edit", r"(?i)proceed with (?:these|the) (?:changes|edits)\?", "tool-permission"),
        _P("menu", r"(?i)press enter to confirm or esc to cancel", "menu"),
        _P("yes-no", r"\[[yY]/[nN]\]", "question"),
    ),
    busy=(
        _P("interrupt-hint", r"(?i)\besc to interrupt\b"),
        _P("spinner", r"^\s*[•◦⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+(?:Working|Thinking)\b"),
    ),
    idle=(
        _P("prompt", r"(?i)\? for shortcuts"),
        _P("prompt", r"(?i)\bcontext left\b"),
        _P("prompt", r"(?i)⏎ send\b"),
        _P("prompt", r"^\s*›\s+(?!\d+\.)\S"),
    ),
    sensitive=(re.compile(r"(?i)trust the (?:files|contents)|work in this folder"),),
    menu=re.compile(r"^\s*[›❯>▌]\s*\d+\.\s+\S"),
    approve_key=b"y",
    approve_pattern=re.compile(r"(?i)[›❯>]\s*1\.\s+Yes\b|\bYes \(y\)|\[y/n\]"),
    generic_fallback=True,
)

GEMINI = AgentProfile(
    name="gemini",
    command=("gemini",),
    command_setting="gemini_command",
    prompt_args=("--prompt-interactive", "{prompt}"),
    resume_args=("--resume", "{id}"),
    continue_args=("--resume", "latest"),
    id_source="none",
    waiting=(
        _P("folder-trust", r"(?i)do you trust this folder", "trust", menu=True),
        _P("mcp-tool", r"(?i)allow execution of MCP tool", "tool-permission", menu=True),
        _P("web-fetch", _BOX + r"\?\s+(?:WebFetch|Web Fetch)\b", "tool-permission", title=True),
        _P("bash", _BOX + r"\?\s+Shell\b", "tool-permission", title=True),
        _P("write", _BOX + r"\?\s+(?:WriteFile|Write)\b", "tool-permission", title=True),
        _P("edit", _BOX + r"\?\s+(?:Edit|Replace)\b", "tool-permission", title=True),
        _P("edit", r"(?i)apply this change\?", "tool-permission", menu=True),
        _P("bash", r"(?i)allow execution\b", "tool-permission", menu=True),
        _P("tool", r"(?i)do you want to proceed\?", "tool-permission", menu=True),
        _P("confirmation", r"(?i)waiting for user confirmation", "menu", menu=True),
    ),
    busy=(
        _P("interrupt-hint", r"(?i)\(esc to cancel\b"),
        _P("spinner", r"^\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+[A-Z][\w'-]*"),
    ),
    idle=(
        _P("prompt", r"(?i)type your message"),
        _P("prompt", r"^\s*│\s*>(?:\s|$)"),
    ),
    sensitive=(re.compile(r"(?i)trust this folder"),),
    menu=re.compile(r"^[\s│]*●\s*\d+\.\s+\S"),
    approve_key=b"\r",
    approve_pattern=re.compile(r"●\s*1\.\s+Yes, allow once\b"),
    generic_fallback=True,
)

AIDER = AgentProfile(
    name="aider",
    command=("aider",),
    command_setting="aider_command",
    prompt_args=(),
    type_prompt=True,  # aider's --message answers once and exits
    continue_args=("--restore-chat-history",),
    id_source="none",
    waiting=(
        _P("bash", r"(?i)run shell commands?\?", "tool-permission"),
        _P("write", r"(?i)create new file\?", "tool-permission"),
        _P("edit", r"(?i)allow edits to (?:a )?file", "tool-permission"),
        _P("add-file", r"(?i)\badd .+ to the chat\?", "question"),
        _P("yes-no", r"\(Y\)es/\(N\)o", "question"),
    ),
    busy=(
        _P(
            "spinner",
            r"^\s*(?:[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|[░█▒▓]{2,})\s+(?:Waiting for|Updating|Scanning|Thinking)\b",
        ),
    ),
    idle=(_P("prompt", r"^(?:[a-z-]+)?>(?:\s|$)"),),
    approve_key=b"y\r",
    approve_pattern=re.compile(r"\(Y\)es/"),
    generic_fallback=True,
    idle_tail=1,
)

# The user's login shell; with a prompt, the prompt is the command line it runs.
SHELL = AgentProfile(name="shell", command=(), prompt_args=("-c", "{prompt}"), id_source="none")

BUILTIN_PROFILES: Mapping[str, AgentProfile] = {
    p.name: p for p in (CLAUDE, CODEX, GEMINI, AIDER, SHELL)
}


# --- agents.toml -------------------------------------------------------------------------------

_STR_LISTS = ("command", "args", "prompt_args", "session_id_args", "resume_args", "continue_args")
_BOOLS = ("type_prompt", "generic_fallback", "hooks")
_INTS = ("status_rows", "dialog_tail", "idle_tail")
_PATTERN_LISTS = ("busy", "idle", "extra_busy", "extra_idle")
_LIMIT_LISTS = ("usage_limit", "extra_usage_limit")
_LIMIT_KEYS = (*_LIMIT_LISTS, "usage_limit_menu", "usage_limit_prompt")
_REGEX_LISTS = ("sensitive", "extra_sensitive")
_WAITING_LISTS = ("waiting", "extra_waiting")
_OPTIONAL_REGEXES = ("id_pattern", "menu", "approve_pattern")
_PROFILE_KEYS = frozenset(
    {"extends", "command_setting", "id_source", "approve_key", "prices"}
    | set(_STR_LISTS + _BOOLS + _INTS + _PATTERN_LISTS + _REGEX_LISTS + _WAITING_LISTS)
    | set(_OPTIONAL_REGEXES)
    | set(_LIMIT_KEYS)
)
_WAITING_KEYS = frozenset({"reason", "kind", "pattern", "menu", "title"})
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def load_profiles(path: Path | None) -> dict[str, AgentProfile]:
    """The built-in profiles, with the additions and overrides of `path` (agents.toml).

    A missing file (or None) gives the built-ins. Raises AgentsFileError for a bad file.
    """
    profiles = dict(BUILTIN_PROFILES)
    if path is None or not path.exists():
        return profiles
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentsFileError(path, None, f"cannot read the file: {exc}") from exc
    return parse_profiles(text, path, profiles)


def parse_profiles(
    text: str, path: Path | str = "agents.toml", base: Mapping[str, AgentProfile] | None = None
) -> dict[str, AgentProfile]:
    """Profiles from agents.toml `text` over `base` (default: the built-ins)."""
    profiles = dict(BUILTIN_PROFILES if base is None else base)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column \d+\)", message)
        if found:
            line: int | None = int(found.group(1))
        elif "end of document" in message:
            line = text.count("\n") + 1
        else:
            line = None
        raise AgentsFileError(path, line, f"TOML syntax error: {message}") from exc
    locate = _Locator(text)
    pending = dict(data)
    # Profiles may extend profiles defined later in the file: resolve in dependency order.
    while pending:
        progressed = False
        for name, table in list(pending.items()):
            where = _Where(path, locate, (name,))
            if not isinstance(table, dict):
                raise where.error(f"'{name}' must be a table ([{name}]), not a value")
            if not _NAME.match(name):
                raise where.error(f"profile name '{name}' may use only letters, digits, - and _")
            parent = table.get("extends")
            if isinstance(parent, str) and parent in pending and parent != name:
                continue
            profiles[name] = _build(name, table, profiles, where)
            del pending[name]
            progressed = True
        if not progressed:
            name = next(iter(pending))
            raise _Where(path, locate, (name,)).error(
                f"profile '{name}' extends a profile that extends it back", key="extends"
            )
    return profiles


def _build(
    name: str, table: dict[str, Any], profiles: Mapping[str, AgentProfile], where: _Where
) -> AgentProfile:
    for key in table:
        if key not in _PROFILE_KEYS:
            raise where.error(f"unknown key '{key}' in [{name}]", key=key)
    extends = table.get("extends")
    if extends is not None:
        if not isinstance(extends, str):
            raise where.error("'extends' must be a string (a profile name)", key="extends")
        if extends not in profiles:
            raise where.error(f"'extends' names an unknown profile '{extends}'", key="extends")
        start = replace(profiles[extends], name=name)
    else:
        start = profiles.get(name, AgentProfile(name=name))
    changes: dict[str, Any] = {}
    for key in _STR_LISTS:
        if key in table:
            changes[key] = tuple(_str_list(table[key], key, where))
    for key in _BOOLS:
        if key in table:
            if not isinstance(table[key], bool):
                raise where.error(f"'{key}' must be true or false", key=key)
            changes[key] = table[key]
    for key in _INTS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise where.error(f"'{key}' must be a positive integer", key=key)
            changes[key] = value
    if "command_setting" in table:
        setting = table["command_setting"]
        if not isinstance(setting, str):
            raise where.error("'command_setting' must be a string", key="command_setting")
        changes["command_setting"] = setting or None
    if "id_source" in table:
        source = table["id_source"]
        if source not in ("assigned", "output", "none"):
            raise where.error(
                '\'id_source\' must be "assigned", "output" or "none"', key="id_source"
            )
        changes["id_source"] = source
    if "approve_key" in table:
        key_text = table["approve_key"]
        if not isinstance(key_text, str) or not key_text:
            raise where.error("'approve_key' must be a non-empty string", key="approve_key")
        changes["approve_key"] = key_text.encode("utf-8")
    for key in _OPTIONAL_REGEXES:
        if key in table:
            value = table[key]
            if not isinstance(value, str):
                raise where.error(f"'{key}' must be a string (a regular expression)", key=key)
            changes[key] = _regex(value, key, where) if value else None
    id_pattern = changes.get("id_pattern")
    if id_pattern is not None and "id" not in id_pattern.groupindex and id_pattern.groups < 1:
        raise where.error("'id_pattern' needs a group: (?P<id>...) or (...)", key="id_pattern")
    for key in ("busy", "idle"):
        if key in table or "extra_" + key in table:
            own = _patterns(table[key], key, where) if key in table else list(getattr(start, key))
            extra = _patterns(table.get("extra_" + key, []), "extra_" + key, where)
            changes[key] = tuple(own + extra)
    if "sensitive" in table or "extra_sensitive" in table:
        own_sensitive = (
            [
                _regex(p, "sensitive", where)
                for p in _str_list(table["sensitive"], "sensitive", where)
            ]
            if "sensitive" in table
            else list(start.sensitive)
        )
        extra_list = _str_list(table.get("extra_sensitive", []), "extra_sensitive", where)
        extra_sensitive = [_regex(p, "extra_sensitive", where) for p in extra_list]
        changes["sensitive"] = tuple(own_sensitive + extra_sensitive)
    changes.update(_usage_limit(table, start, where))
    if "waiting" in table or "extra_waiting" in table:
        listed_w = tuple(_waiting(table.get("waiting", []), "waiting", where))
        extra_w = tuple(_waiting(table.get("extra_waiting", []), "extra_waiting", where))
        changes["waiting"] = extra_w + (listed_w if "waiting" in table else start.waiting)
    if "prices" in table:  # tried before the inherited prices
        changes["prices"] = (*_prices(table["prices"], where), *start.prices)
    return replace(start, **changes)


def _usage_limit(table: dict[str, Any], start: AgentProfile, where: _Where) -> dict[str, Any]:
    """The usage-limit keys: patterns with a ``reset`` group, the menu row with a ``key``
    group, the continue prompt."""
    changes: dict[str, Any] = {}
    if "usage_limit" in table or "extra_usage_limit" in table:
        listed = {key: _patterns(table[key], key, where) for key in _LIMIT_LISTS if key in table}
        for key, patterns in listed.items():
            for p in patterns:
                if "reset" not in p.regex.groupindex:
                    raise where.error(
                        f"each '{key}' pattern needs a (?P<reset>...) group: {p.regex.pattern!r}",
                        key=key,
                    )
        own = listed.get("usage_limit", list(start.usage_limit))
        changes["usage_limit"] = tuple(own + listed.get("extra_usage_limit", []))
    if "usage_limit_menu" in table:
        value = table["usage_limit_menu"]
        if not isinstance(value, str):
            raise where.error(
                "'usage_limit_menu' must be a string (a regular expression)", key="usage_limit_menu"
            )
        menu = _regex(value, "usage_limit_menu", where) if value else None
        if menu is not None and "key" not in menu.groupindex:
            raise where.error(
                "'usage_limit_menu' needs a (?P<key>...) group: the key that picks the row",
                key="usage_limit_menu",
            )
        changes["usage_limit_menu"] = menu
    if "usage_limit_prompt" in table:
        prompt = table["usage_limit_prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise where.error(
                "'usage_limit_prompt' must be a non-empty string", key="usage_limit_prompt"
            )
        changes["usage_limit_prompt"] = prompt
    return changes


def _prices(value: object, where: _Where) -> list[Price]:
    def error(message: str, index: int | None, key: str | None) -> AgentsFileError:
        if index is None:
            return where.error(message, key="prices")
        return where.error(message, array="prices", index=index, key=key)

    return parse_prices(value, error)


def _str_list(value: object, key: str, where: _Where) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(f"'{key}' must be a list of strings", key=key)
    return list(value)


def _regex(pattern: str, key: str, where: _Where, index: int | None = None) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        sub = "pattern" if index is not None else None
        raise where.error(
            f"bad regular expression in '{key}' ({pattern!r}): {exc}",
            key=sub or key,
            array=key if index is not None else None,
            index=index,
        ) from exc


def _patterns(value: object, key: str, where: _Where) -> list[ScreenPattern]:
    if not isinstance(value, list):
        raise where.error(f"'{key}' must be a list of patterns", key=key)
    default_reason = key.removeprefix("extra_")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(ScreenPattern(default_reason, _regex(item, key, where)))
        elif isinstance(item, dict):
            unknown = set(item) - {"reason", "pattern"}
            if unknown:
                raise where.error(
                    f"unknown key '{sorted(unknown)[0]}' in a '{key}' pattern", key=key
                )
            reason, pattern = item.get("reason", default_reason), item.get("pattern")
            if not isinstance(reason, str) or not isinstance(pattern, str):
                raise where.error(f"each '{key}' pattern needs a string 'pattern'", key=key)
            out.append(ScreenPattern(reason, _regex(pattern, key, where)))
        else:
            raise where.error(f"'{key}' item {i + 1} must be a string or a table", key=key)
    return out


def _waiting(value: object, key: str, where: _Where) -> list[ScreenPattern]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise where.error(f"'{key}' must be an array of tables ([[profile.{key}]])", key=key)
    out = []
    for i, item in enumerate(value):
        for k in item:
            if k not in _WAITING_KEYS:
                raise where.error(
                    f"unknown key '{k}' in a '{key}' pattern", array=key, index=i, key=k
                )
        for k in ("reason", "pattern"):
            if not isinstance(item.get(k), str) or not item[k]:
                raise where.error(
                    f"each '{key}' pattern needs a string '{k}'", array=key, index=i, key=k
                )
        kind = item.get("kind", "question")
        if kind not in KINDS:
            raise where.error(
                f"unknown kind '{kind}' (one of: {', '.join(sorted(KINDS))})",
                array=key,
                index=i,
                key="kind",
            )
        flags = {}
        for k in ("menu", "title"):
            flag = item.get(k, False)
            if not isinstance(flag, bool):
                raise where.error(f"'{k}' must be true or false", array=key, index=i, key=k)
            flags[k] = flag
        regex = _regex(item["pattern"], key, where, index=i)
        out.append(ScreenPattern(item["reason"], regex, kind, flags["menu"], flags["title"]))
    return out


@dataclass(frozen=True)
class _Where:
    """Where in agents.toml a profile is, to name the line in errors."""

    path: Path | str
    locate: _Locator
    table: tuple[str, ...]

    def error(
        self,
        message: str,
        key: str | None = None,
        array: str | None = None,
        index: int | None = None,
    ) -> AgentsFileError:
        return AgentsFileError(self.path, self.locate.line(self.table, key, array, index), message)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


@dataclass
class _Locator:
    """Finds the line of a table or key in TOML text (tomllib does not report positions)."""

    text: str
    _headers: list[tuple[int, bool, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for number, row in enumerate(self.text.splitlines(), start=1):
            found = _HEADER.match(row)
            if found:
                self._headers.append((number, found.group(1) == "[[", _split_key(found.group(2))))

    def line(
        self, table: tuple[str, ...], key: str | None, array: str | None, index: int | None
    ) -> int | None:
        rows = self.text.splitlines()
        start: int | None = None
        if array is not None and index is not None:
            path = (*table, array)
            seen = [n for n, is_array, p in self._headers if is_array and p == path]
            if index < len(seen):
                start = seen[index]
            else:  # inline array of tables: the line of `array =`, or of its item
                key = array
        if start is None:
            start = next((n for n, arr, p in self._headers if not arr and p == table), None)
        if start is None:  # dotted keys at the top level, or only sub-tables
            for number, row in enumerate(rows, start=1):
                found = _KEY.match(row)
                if found and _split_key(found.group(1))[: len(table)] == table:
                    return number
            return next((n for n, _, p in self._headers if p[: len(table)] == table), None)
        if key is None:
            return start
        for number in range(start + 1, len(rows) + 1):
            row = rows[number - 1]
            if _HEADER.match(row):
                break
            found = _KEY.match(row)
            if found and _split_key(found.group(1))[-1] == key:
                return number
        return start


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(r""""([^"]*)"|'([^']*)'|([^.\s]+)""", dotted)
    return tuple(a or b or c for a, b, c in parts)
