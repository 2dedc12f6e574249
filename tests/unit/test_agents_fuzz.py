"""agents.toml fed malformed and hostile text (hypothesis): it loads, or it is refused with one
AgentsFileError naming the file (and the line where one is known), never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from c3desk.core.agents import AgentsFileError, parse_profiles

KEYS = [
    "extends", "command", "args", "prompt_args", "type_prompt", "session_id_args", "resume_args",
    "continue_args", "id_source", "id_pattern", "approve_key", "approve_pattern", "menu", "busy",
    "idle", "sensitive", "extra_sensitive", "generic_fallback", "status_rows", "dialog_tail",
    "idle_tail", "waiting", "bogus",
]  # fmt: skip
NAMES = ["claude", "codex", "shell", "mycli", "my cli", "", "x" * 200, "é", "-"]
SCALARS = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
    st.sampled_from(["(", "[a-", "(?P<id>.*)", "{prompt}", "{id}", "*", "\\", "(?i)x", "a" * 5000]),
    st.text(max_size=30),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["reason", "kind", "pattern", "menu", "title", "x"]), inner
        )
    ),
    max_leaves=5,
)


def toml_value(value: object) -> str:
    """``value`` as TOML (inline tables and arrays), for text hypothesis builds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, int) else (repr(value) if value == value else "0")
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def agents_files(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.text(max_size=300))  # anything at all
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        lines.append(f'["{draw(st.sampled_from(NAMES))}"]')
        for key in draw(st.lists(st.sampled_from(KEYS), max_size=5, unique=True)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None)
@given(text=agents_files())
def test_any_agents_file_loads_or_is_refused_with_its_file_named(text: str) -> None:
    try:
        profiles = parse_profiles(text, "agents.toml")
    except AgentsFileError as exc:
        message = str(exc)
        assert message.startswith("agents.toml"), message
        assert "\n" not in message.strip() or "TOML syntax error" in message, message
        return
    assert "claude" in profiles  # the built-ins stay
