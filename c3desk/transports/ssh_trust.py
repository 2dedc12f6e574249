"""Whether an SSH server's host key is the one the user trusts (never trust on first use).

Two files are consulted, in OpenSSH's ``known_hosts`` format: the user's own
(``~/.ssh/known_hosts``, read only) and c3desk's (written only by :meth:`TrustStore.trust`, after
the user confirmed the key's fingerprint). Both may hold hashed host names (``|1|salt|hash``),
wildcards and negations, ``[host]:port`` for ports other than 22, and ``@revoked`` lines, which
paramiko's own host-key table ignores: that is why the check is done here and not by paramiko.

The verdict follows OpenSSH: a revoked key is refused; a key listed for the host is trusted (even
if another line lists a different key of its type); a host with a different key of the same type
has *changed* (a hard failure, no prompt); anything else is *unknown* and refused, carrying the
``SHA256:`` fingerprint ``ssh-keygen -lf`` prints, so a user can be asked about it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from c3desk.errors import C3Error

Outcome = Literal["trusted", "unknown", "changed", "revoked"]


class HostKey(Protocol):
    """What is needed of a key (a paramiko ``PKey`` has it)."""

    def asbytes(self) -> bytes: ...


# -- errors ------------------------------------------------------------------------------------


class HostKeyError(C3Error):
    """The server's host key is not one to connect to; the message names host and port."""

    def __init__(self, host: str, port: int, fingerprint: str, message: str) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.fingerprint = fingerprint


class UnknownHostKey(HostKeyError):
    """No file knows the host's key: the user may confirm its fingerprint to trust it."""

    def __init__(self, host: str, port: int, fingerprint: str, key_type: str) -> None:
        super().__init__(
            host,
            port,
            fingerprint,
            f"the host key of {host} port {port} is not trusted yet: {key_type} key "
            f"{fingerprint}; confirm this fingerprint to trust it",
        )
        self.key_type = key_type


class ChangedHostKey(HostKeyError):
    """The host is known with another key of this type: possibly an attack; never prompted."""

    def __init__(self, host: str, port: int, fingerprint: str, known: list[KnownKey]) -> None:
        where = "; ".join(f"{k.fingerprint} ({k.source}:{k.line})" for k in known)
        super().__init__(
            host,
            port,
            fingerprint,
            f"the host key of {host} port {port} has CHANGED: the server offers {fingerprint}, "
            f"but the known key is {where}; refusing to connect (someone may be intercepting "
            f"the connection; if the server's key was replaced on purpose, remove the old line)",
        )
        self.known = known


class RevokedHostKey(HostKeyError):
    def __init__(self, host: str, port: int, fingerprint: str, where: KnownKey) -> None:
        super().__init__(
            host,
            port,
            fingerprint,
            f"the host key {fingerprint} of {host} port {port} is revoked "
            f"(@revoked in {where.source}:{where.line}); refusing to connect",
        )


class FingerprintMismatch(HostKeyError):
    """:meth:`TrustStore.trust` was told to expect another fingerprint than the server's."""

    def __init__(self, host: str, port: int, fingerprint: str, expected: str) -> None:
        super().__init__(
            host,
            port,
            fingerprint,
            f"the host key of {host} port {port} is {fingerprint}, not the expected "
            f"{expected}; it was not trusted",
        )
        self.expected = expected


# -- keys and lines ----------------------------------------------------------------------------


def fingerprint(key: HostKey | bytes) -> str:
    """The key's fingerprint as ``ssh-keygen -lf FILE -E sha256`` prints it."""
    blob = key if isinstance(key, bytes) else key.asbytes()
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def key_type(blob: bytes) -> str:
    """The algorithm named inside a public key blob (``ssh-ed25519``, ``ssh-rsa``...)."""
    if len(blob) < 4:
        return ""
    (size,) = struct.unpack(">I", blob[:4])
    return blob[4 : 4 + size].decode("ascii", "replace")


def host_entry(host: str, port: int) -> str:
    """How known_hosts names the host: plain on port 22, ``[host]:port`` elsewhere."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class KnownKey:
    """One line of a known_hosts file."""

    source: str  # the file's path, for messages
    line: int
    marker: str | None  # "revoked", "cert-authority" or None
    patterns: str
    blob: bytes

    @property
    def key_type(self) -> str:
        return key_type(self.blob)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    def matches(self, host: str, port: int) -> bool:
        return host_matches(self.patterns, host_entry(host, port))


def parse_known_hosts(text: str, source: str = "known_hosts") -> list[KnownKey]:
    """The usable lines of a known_hosts file; malformed lines are skipped, as ssh does."""
    out: list[KnownKey] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = None
        if fields[0].startswith("@"):
            marker = fields[0][1:]
            fields = fields[1:]
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            continue
        if key_type(blob) != fields[1]:
            continue  # a truncated or mislabelled key matches nothing
        out.append(KnownKey(source, number, marker, fields[0], blob))
    return out


def host_matches(patterns: str, name: str) -> bool:
    """OpenSSH's host matching: comma-separated patterns (hashed, wildcards, ``!`` negation);
    a matching negation excludes the line whatever else matches."""
    name = name.lower()
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if pattern.startswith("|1|"):
            hit = _hashed_matches(pattern, name)
        else:
            hit = _wildcard(pattern.lower()).fullmatch(name) is not None
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def _hashed_matches(pattern: str, name: str) -> bool:
    parts = pattern.split("|")  # "", "1", salt, hash
    if len(parts) != 4:
        return False
    try:
        salt = base64.b64decode(parts[2], validate=True)
        expected = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return False
    actual = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def hashed_name(name: str, salt: bytes | None = None) -> str:
    """``name`` as ``ssh-keygen -H`` would hash it (used by tests and for completeness)."""
    salt = salt if salt is not None else os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


# -- the verdict -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    fingerprint: str
    key_type: str
    known: tuple[KnownKey, ...] = ()  # the lines that decided it

    def raise_unless_trusted(self, host: str, port: int) -> None:
        if self.outcome == "revoked":
            raise RevokedHostKey(host, port, self.fingerprint, self.known[0])
        if self.outcome == "changed":
            raise ChangedHostKey(host, port, self.fingerprint, list(self.known))
        if self.outcome == "unknown":
            raise UnknownHostKey(host, port, self.fingerprint, self.key_type)


def judge(lines: list[KnownKey], host: str, port: int, key: HostKey) -> Verdict:
    blob = key.asbytes()
    kind = key_type(blob)
    print_ = fingerprint(blob)
    relevant = [k for k in lines if k.matches(host, port)]
    revoked = [k for k in relevant if k.marker == "revoked" and k.blob == blob]
    if revoked:
        return Verdict("revoked", print_, kind, (revoked[0],))
    plain = [k for k in relevant if k.marker is None]
    same = [k for k in plain if k.blob == blob]
    if same:
        return Verdict("trusted", print_, kind, (same[0],))
    other = [k for k in plain if k.key_type == kind]
    if other:
        return Verdict("changed", print_, kind, tuple(other))
    return Verdict("unknown", print_, kind)


class TrustStore:
    """The user's known_hosts (read) and c3desk's own (read and written)."""

    def __init__(self, own: Path, user_known_hosts: Path | None = None) -> None:
        self.own = own
        self.user_known_hosts = (
            user_known_hosts
            if user_known_hosts is not None
            else Path.home() / ".ssh" / "known_hosts"
        )

    def _lines(self) -> list[KnownKey]:
        out: list[KnownKey] = []
        for path in (self.user_known_hosts, self.own):
            with contextlib.suppress(FileNotFoundError):
                out += parse_known_hosts(path.read_text(errors="replace"), str(path))
        return out

    def verdict(self, host: str, port: int, key: HostKey) -> Verdict:
        return judge(self._lines(), host, port, key)

    def check(self, host: str, port: int, key: HostKey) -> None:
        """Return when the key is trusted for the host; raise a :class:`HostKeyError` else."""
        self.verdict(host, port, key).raise_unless_trusted(host, port)

    def known_types(self, host: str, port: int) -> list[str]:
        """The key types known for the host, so the connection can ask the server for one."""
        types = [k.key_type for k in self._lines() if k.marker is None and k.matches(host, port)]
        return list(dict.fromkeys(types))

    def trust(self, host: str, port: int, key: HostKey, expected: str | None = None) -> None:
        """Add the key to c3desk's file, replacing c3desk's own older key of its type for the
        host (the user confirmed the new one). With ``expected``, refuse any other key."""
        blob = key.asbytes()
        print_ = fingerprint(blob)
        if expected is not None and expected.strip() != print_:
            raise FingerprintMismatch(host, port, print_, expected.strip())
        verdict = self.verdict(host, port, key)
        if verdict.outcome == "revoked":
            verdict.raise_unless_trusted(host, port)
        kind = key_type(blob)
        try:
            old = self.own.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            old = []
        own_lines = {k.line: k for k in parse_known_hosts("\n".join(old), str(self.own))}
        kept = [
            text
            for number, text in enumerate(old, start=1)
            if not (
                (k := own_lines.get(number)) is not None
                and k.marker is None
                and k.key_type == kind
                and k.patterns == host_entry(host, port)
            )
        ]
        encoded = base64.b64encode(blob).decode("ascii")
        kept.append(f"{host_entry(host, port)} {kind} {encoded}")
        _write_atomically(self.own, "".join(line + "\n" for line in kept))


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it; only the user can read it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
