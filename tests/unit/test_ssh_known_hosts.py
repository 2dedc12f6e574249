"""known_hosts parsing and the trust verdict, without a server (keys made by paramiko)."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import paramiko
import pytest

from c3desk.errors import C3Error
from c3desk.transports.ssh_trust import (
    ChangedHostKey,
    FingerprintMismatch,
    RevokedHostKey,
    TrustStore,
    UnknownHostKey,
    fingerprint,
    hashed_name,
    host_matches,
    judge,
    parse_known_hosts,
)

KEY_A = paramiko.ECDSAKey.generate()
KEY_B = paramiko.ECDSAKey.generate()
KEY_RSA = paramiko.RSAKey.generate(2048)


def line(names: str, key: paramiko.PKey, marker: str = "") -> str:
    return f"{marker}{names} {key.get_name()} {key.get_base64()} a comment\n"


def outcome(text: str, host: str, port: int, key: paramiko.PKey) -> str:
    return judge(parse_known_hosts(text), host, port, key).outcome


def test_fingerprint_is_sha256_base64_without_padding() -> None:
    digest = hashlib.sha256(KEY_A.asbytes()).digest()
    assert fingerprint(KEY_A) == "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
    assert "=" not in fingerprint(KEY_A) and len(fingerprint(KEY_A)) == 7 + 43


def test_parse_skips_comments_blank_and_malformed_lines() -> None:
    text = (
        "# a comment\n\n"
        + line("host1", KEY_A)
        + "host2 ssh-ed25519 not-base64!!\n"
        + f"host3 ssh-rsa {KEY_A.get_base64()}\n"  # the blob says ECDSA: mislabelled
        + "host4 onlytwo\n"
        + line("host5", KEY_B, "@revoked ")
    )
    keys = parse_known_hosts(text, "kh")
    assert [(k.line, k.patterns, k.marker) for k in keys] == [
        (3, "host1", None),
        (7, "host5", "revoked"),
    ]
    assert keys[0].key_type == KEY_A.get_name()
    assert keys[0].fingerprint == fingerprint(KEY_A)


def test_ports_use_the_bracket_form_except_22() -> None:
    assert outcome(line("example.org", KEY_A), "example.org", 22, KEY_A) == "trusted"
    assert outcome(line("example.org", KEY_A), "example.org", 2222, KEY_A) == "unknown"
    assert outcome(line("[example.org]:2222", KEY_A), "example.org", 2222, KEY_A) == "trusted"
    assert outcome(line("[example.org]:2222", KEY_A), "example.org", 2223, KEY_A) == "unknown"
    assert outcome(line("[example.org]:2222", KEY_A), "example.org", 22, KEY_A) == "unknown"


def test_hashed_names_match_only_their_host_and_port() -> None:
    hashed = hashed_name("[10.0.0.5]:2200")
    assert host_matches(hashed, "[10.0.0.5]:2200")
    assert not host_matches(hashed, "[10.0.0.5]:2201")
    assert not host_matches(hashed, "10.0.0.5")
    assert outcome(line(hashed, KEY_A), "10.0.0.5", 2200, KEY_A) == "trusted"
    assert outcome(line(hashed, KEY_B), "10.0.0.5", 2200, KEY_A) == "changed"
    assert outcome(line(hashed, KEY_A), "10.0.0.6", 2200, KEY_A) == "unknown"


def test_entry_hashed_by_ssh_keygen() -> None:
    # Made by `ssh-keygen -H` from "[localhost]:2222 ssh-ed25519 ...".
    text = (
        "|1|4AOXvIbgyj6rcvv4V/bC8zw9cA4=|ozUAe7Pi1tkYQaSV1J43AJRZ6WQ= ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIEFTh+SObLOKznO8NuXqckMmddwf3nBryWdlQ+8g9xv4\n"
    )
    (entry,) = parse_known_hosts(text)
    assert entry.matches("localhost", 2222)
    assert entry.matches("LocalHost", 2222)
    assert not entry.matches("localhost", 22)
    assert not entry.matches("localhost", 2223)
    assert not entry.matches("127.0.0.1", 2222)
    assert entry.key_type == "ssh-ed25519"


def test_wildcards_lists_and_negation() -> None:
    assert host_matches("*.example.org,other", "a.example.org")
    assert host_matches("*.example.org,other", "other")
    assert host_matches("10.0.0.?", "10.0.0.7")
    assert not host_matches("10.0.0.?", "10.0.0.17")
    assert not host_matches("*.example.org,!bad.example.org", "bad.example.org")
    assert not host_matches("!bad.example.org", "good.example.org")
    assert host_matches("Example.ORG", "example.org")


def test_revoked_wins_over_a_trusted_line() -> None:
    text = line("host", KEY_A) + line("*", KEY_A, "@revoked ")
    assert outcome(text, "host", 22, KEY_A) == "revoked"
    # A revoked line for another host pattern does not apply here.
    assert outcome(line("host", KEY_A) + line("other", KEY_A, "@revoked "), "host", 22, KEY_A) == (
        "trusted"
    )
    # Revoking another key changes nothing for this one.
    assert outcome(line("host", KEY_A) + line("*", KEY_B, "@revoked "), "host", 22, KEY_A) == (
        "trusted"
    )


def test_changed_only_for_the_same_key_type() -> None:
    assert outcome(line("host", KEY_B), "host", 22, KEY_A) == "changed"
    # Known only by an RSA key: an ECDSA key is new, not changed (as OpenSSH).
    assert outcome(line("host", KEY_RSA), "host", 22, KEY_A) == "unknown"
    # One matching line is enough, whatever other lines say (as OpenSSH).
    assert outcome(line("host", KEY_B) + line("host", KEY_A), "host", 22, KEY_A) == "trusted"


def test_store_reads_both_files_and_errors_name_host_and_port(tmp_path: Path) -> None:
    trust = TrustStore(tmp_path / "own", tmp_path / "user")
    with pytest.raises(UnknownHostKey) as unknown:
        trust.check("h.example", 2022, KEY_A)
    assert isinstance(unknown.value, C3Error)
    assert str(unknown.value).count("h.example port 2022") == 1
    assert fingerprint(KEY_A) in str(unknown.value)

    (tmp_path / "user").write_text(line("[h.example]:2022", KEY_B))
    with pytest.raises(ChangedHostKey) as changed:
        trust.check("h.example", 2022, KEY_A)
    assert fingerprint(KEY_A) in str(changed.value) and fingerprint(KEY_B) in str(changed.value)
    assert "h.example port 2022" in str(changed.value)
    trust.check("h.example", 2022, KEY_B)
    assert trust.known_types("h.example", 2022) == [KEY_B.get_name()]

    (tmp_path / "own").write_text(line("*", KEY_B, "@revoked "))
    with pytest.raises(RevokedHostKey, match=r"h\.example port 2022"):
        trust.check("h.example", 2022, KEY_B)


def test_trust_writes_own_file_atomically_and_replaces_its_old_key(tmp_path: Path) -> None:
    own = tmp_path / "sub" / "known_hosts"
    trust = TrustStore(own, tmp_path / "user")
    with pytest.raises(FingerprintMismatch, match=r"host port 2200"):
        trust.trust("host", 2200, KEY_A, expected=fingerprint(KEY_B))
    assert not own.exists()

    trust.trust("host", 2200, KEY_B, expected=fingerprint(KEY_B))
    trust.trust("other", 22, KEY_RSA)
    trust.trust("host", 2200, KEY_A)  # the user confirmed a new key: the old one goes
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert own.read_text() == line("other", KEY_RSA).replace(" a comment", "") + line(
        "[host]:2200", KEY_A
    ).replace(" a comment", "")
    trust.check("host", 2200, KEY_A)
    trust.check("other", 22, KEY_RSA)
    assert list(own.parent.iterdir()) == [own]  # no temp file left behind


def test_trust_refuses_a_revoked_key(tmp_path: Path) -> None:
    (tmp_path / "user").write_text(line("*", KEY_A, "@revoked "))
    trust = TrustStore(tmp_path / "own", tmp_path / "user")
    with pytest.raises(RevokedHostKey):
        trust.trust("host", 22, KEY_A)
    assert not (tmp_path / "own").exists()
