"""Hostile input shared by the safety tests: terminal output a program may print to attack the
terminal that shows it, and names a shell or tmux would expand."""

from __future__ import annotations

import string

from hypothesis import strategies as st

CSI = "\x1b["
ESC = "\x1b"

#: Queries a terminal must never answer: each would hand the program something it must not
#: see (the title, the clipboard, colours, versions) or that a program could echo into input.
UNANSWERED = [
    f"{CSI}21t",  # report window title
    f"{CSI}20t",  # report icon label
    f"{CSI}14t",  # window size in pixels
    f"{CSI}18t",  # text area size
    f"{CSI}13t",  # window position
    f"{ESC}P$qm{ESC}\\",  # DECRQSS
    f"{ESC}P+q544e{ESC}\\",  # XTGETTCAP
    f"{ESC}]52;c;?\x07",  # clipboard read
    f"{ESC}]10;?\x07",  # colour query
    f"{ESC}]4;1;?\x07",
    f"{CSI}>0q",  # XTVERSION
    f"{CSI}?u",  # kitty keyboard query
    f"{CSI}5i",
]

#: The only queries answered, each with its fixed numeric answer (in this order: the mode
#: reports depend on the modes set before them).
ANSWERED = [
    (f"{CSI}c", b"\x1b[?62;22c"),
    (f"{CSI}0c", b"\x1b[?62;22c"),
    (f"{CSI}>c", b"\x1b[>1;10;0c"),
    (f"{CSI}5n", b"\x1b[0n"),
    (f"{CSI}3;5H{CSI}6n", b"\x1b[3;5R"),
    (f"{CSI}?2026$p", b"\x1b[?2026;2$y"),
    (f"{CSI}?2026h{CSI}?2026$p", b"\x1b[?2026;1$y"),
    (f"{CSI}?9999$p", b"\x1b[?9999;0$y"),
    (f"{CSI}4$p", b"\x1b[4;2$y"),
]

#: What a program writes to the clipboard with OSC 52 (base64 of "PWNED-CLIPBOARD").
CLIPBOARD_WRITE = f"{ESC}]52;c;UFdORUQtQ0xJUEJPQVJE\x07"
#: The same with ST, for the primary selection.
SELECTION_WRITE = f"{ESC}]52;p;UFdORUQtQ0xJUEJPQVJE{ESC}\\"

#: Big hostile pieces: (name, bytes). Each ends in a state the terminal recovers from.
BIG = [
    ("1 MB OSC title", f"{ESC}]2;".encode() + b"T" * 1_000_000 + b"\x07"),
    ("1 MB OSC 52 write", f"{ESC}]52;c;".encode() + b"QUFB" * 250_000 + b"\x07"),
    ("endless CSI parameters", CSI.encode() + b"1;" * 500_000 + b"m"),
    ("unterminated DCS", f"{ESC}P".encode() + b"q" * 500_000 + b"\x1b\\"),
    ("invalid UTF-8", bytes(range(0x80, 0x100)) * 2000 + b"\xc3\x28\xa0\xa1\xe2\x28\xa1" * 5000),
    ("a million combining marks", b"a" + "\u0301".encode() * 1_000_000),
]


def corpus() -> list[tuple[str, bytes]]:
    """Hostile output as (name, bytes) pieces, the answered queries among them; their answers,
    in order, are :func:`expected_answers`. Every piece starts on a fresh line."""
    pieces: list[tuple[str, bytes]] = [
        ("secret title", f"{ESC}]0;secret title\x07".encode()),
        ("clipboard write", CLIPBOARD_WRITE.encode()),
        ("selection write", SELECTION_WRITE.encode()),
    ]
    pieces += [(f"unanswered {q!r}", q.encode()) for q in UNANSWERED]
    pieces += BIG
    pieces += [(f"answered {q!r}", q.encode()) for q, _ in ANSWERED]
    return [(name, b"\r\n" + data) for name, data in pieces]


def expected_answers() -> bytes:
    return b"".join(answer for _, answer in ANSWERED)


# -- names a shell, tmux or a format string would expand ----------------------------------------

#: Pieces that run something (or would, unquoted); each creates the canary file ``pwned``.
RUNNERS = [
    "$(touch pwned)",
    "`touch pwned`",
    ";touch pwned;",
    "&& touch pwned",
    "| touch pwned",
    "#(touch pwned)",
    "#{pane_pid}",
    "'$(touch pwned)'",
    '"$(touch pwned)"',
    "\ntouch pwned\n",
    "$'\\x41'",
    "${IFS}touch${IFS}pwned",
    "%s%n",
    "\\",
    "-",
    "--",
    "~",
    "*",
    "é中🙂",
    "\u202e",
]

_PLAIN = st.text(
    string.ascii_letters + string.digits + " '\"$`;#(){}|&<>*?~!\\-=%.,:@\t\néüß中🙂\u202e",
    max_size=12,
)


#: A hostile word: runners mixed with shell-special text, sometimes after leading dashes.
hostile_words = st.builds(
    lambda dash, parts: dash + "".join(parts),
    st.sampled_from(["", "-", "--", "-x ", "--help "]),
    st.lists(st.one_of(st.sampled_from(RUNNERS), _PLAIN), min_size=1, max_size=4),
).filter(lambda s: s.strip() != "")

#: A hostile folder name: a word without "/" or NUL, not "." or "..", at most 100 bytes.
hostile_folders = hostile_words.map(lambda s: s.replace("/", "_")).filter(
    lambda s: s not in (".", "..") and len(s.encode()) <= 100
)
