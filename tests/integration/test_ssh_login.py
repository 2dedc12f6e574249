"""SSH login after ~/.ssh/config (aliases, ProxyJump) and with encrypted keys, against real
OpenSSH sshd processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import paramiko
import pytest
from helpers.polling import wait_for
from helpers.sshd import Sshd, free_port, keygen, keygen_fingerprint, running_sshd, sshd  # noqa: F401

from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_login import (
    ChainedTransport,
    NeedsPassphrase,
    PassphraseNotSaved,
    Passphrases,
    load_key,
    open_transport,
)
from c3desk.transports.ssh_trust import TrustStore, UnknownHostKey

TIMEOUT = 15.0


def worker(
    host: str,
    port: int | None = 22,
    user: str | None = None,
    key_path: Path | None = None,
) -> WorkerInfo:
    return WorkerInfo(
        id="w1",
        name="box",
        type="remote",
        host=host,
        port=port,
        user=user,
        key_path=str(key_path) if key_path else None,
    )


def trusting(tmp_path: Path, *servers: Sshd) -> TrustStore:
    """A trust store (in tmp_path) that knows the host keys of ``servers``."""
    own = tmp_path / "c3desk_known_hosts"
    with own.open("a") as f:
        for server in servers:
            kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
            f.write(f"[{server.host}]:{server.port} {kind} {blob}\n")
    return TrustStore(own, tmp_path / "user_known_hosts")


def ssh_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return path


def run(transport: paramiko.Transport, command: str) -> bytes:
    channel = transport.open_session(timeout=TIMEOUT)
    try:
        channel.exec_command(command)
        return channel.makefile("rb").read()
    finally:
        channel.close()


@pytest.fixture
def second_sshd(tmp_path: Path) -> Iterator[Sshd]:
    with running_sshd(tmp_path / "sshd2") as server:
        yield server


# -- ~/.ssh/config aliases ---------------------------------------------------------------------


def test_an_alias_of_the_ssh_config_connects(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    config = ssh_config(
        tmp_path,
        f"Host box\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {tmp_path}/missing_key\n  IdentityFile {sshd.user_key}\n",
    )

    transport = open_transport(worker("box"), trusting(tmp_path, sshd), TIMEOUT, config_path=config)
    try:
        assert transport.is_authenticated()
        assert run(transport, "echo over-the-alias") == b"over-the-alias\n"
    finally:
        transport.close()


def test_the_worker_row_wins_over_the_ssh_config(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    stranger = keygen(tmp_path / "not_authorized")
    config = ssh_config(
        tmp_path,
        f"Host box\n  HostName 127.0.0.1\n  Port {free_port()}\n  User nobody-such\n"
        f"  IdentityFile {stranger}\n",
    )
    row = worker("box", port=sshd.port, user=sshd.user, key_path=sshd.user_key)

    transport = open_transport(row, trusting(tmp_path, sshd), TIMEOUT, config_path=config)
    try:
        assert transport.is_authenticated()
        assert transport.get_username() == sshd.user
    finally:
        transport.close()


def test_ssh_connection_reads_the_users_own_ssh_config(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "user_home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host box\n  HostName 127.0.0.1\n  Port {sshd.port}\n  IdentityFile {sshd.user_key}\n"
    )
    monkeypatch.setenv("HOME", str(home))
    conn = SSHConnection(worker("box"), trusting(tmp_path, sshd))

    async def scenario() -> None:
        await conn.connect()
        assert (conn.status, conn.reason) == ("connected", None)
        await conn.close()

    asyncio.run(scenario())


# -- ProxyJump ---------------------------------------------------------------------------------


def jump_config(tmp_path: Path, jump: Sshd, target: Sshd, target_port: int | None = None) -> Path:
    return ssh_config(
        tmp_path,
        f"Host target\n  HostName 127.0.0.1\n  Port {target_port or target.port}\n"
        f"  IdentityFile {target.user_key}\n  ProxyJump gate\n"
        f"Host gate\n  HostName 127.0.0.1\n  Port {jump.port}\n  IdentityFile {jump.user_key}\n",
    )


def test_proxy_jump_goes_through_the_first_sshd_to_the_second(tmp_path: Path) -> None:
    with (
        running_sshd(tmp_path / "jump", log_level="DEBUG1") as jump,
        running_sshd(tmp_path / "target") as target,
    ):
        config = jump_config(tmp_path, jump, target)
        seen: list[str] = []

        transport = open_transport(
            worker("target"),
            trusting(tmp_path, jump, target),
            TIMEOUT,
            lambda key: seen.append(key.fingerprint),
            config_path=config,
        )
        try:
            assert run(transport, "echo through-the-jump") == b"through-the-jump\n"
            # The jump host opened the connection to the target for us ...
            assert (
                f"server_request_direct_tcpip: originator 127.0.0.1 port 0, "
                f"target 127.0.0.1 port {target.port}" in jump.log
            )
            # ... and the target's session runs over a channel of the jump host's transport.
            assert isinstance(transport, ChainedTransport)
            (via,) = transport.via
            assert isinstance(transport.sock, paramiko.Channel)
            assert transport.sock.get_transport() is via
            assert via.getpeername()[1] == jump.port
            assert f"Accepted publickey for {target.user}" in target.log
            assert seen == [
                keygen_fingerprint(jump.host_key.with_suffix(".pub")),
                keygen_fingerprint(target.host_key.with_suffix(".pub")),
            ]
        finally:
            transport.close()
        assert not transport.is_active()
        assert not via.is_active(), "closing the transport closes the jump host's too"


def test_an_untrusted_jump_host_is_refused_naming_it(tmp_path: Path) -> None:
    with running_sshd(tmp_path / "jump") as jump, running_sshd(tmp_path / "target") as target:
        config = jump_config(tmp_path, jump, target)

        with pytest.raises(UnknownHostKey) as refused:
            open_transport(
                worker("target"), trusting(tmp_path, target), TIMEOUT, config_path=config
            )

        assert (refused.value.host, refused.value.port) == ("127.0.0.1", jump.port)
        assert f"port {jump.port}" in str(refused.value)
        assert refused.value.fingerprint == keygen_fingerprint(jump.host_key.with_suffix(".pub"))
        assert "Accepted" not in target.log


def test_a_jump_host_that_cannot_reach_the_target_says_so(tmp_path: Path) -> None:
    with running_sshd(tmp_path / "jump") as jump, running_sshd(tmp_path / "target") as target:
        closed = free_port()
        config = jump_config(tmp_path, jump, target, target_port=closed)

        with pytest.raises(paramiko.SSHException) as failed:
            open_transport(
                worker("target"), trusting(tmp_path, jump, target), TIMEOUT, config_path=config
            )

        message = str(failed.value)
        assert f"the jump host gate (127.0.0.1 port {jump.port})" in message
        assert f"target (127.0.0.1 port {closed})" in message


def test_a_jump_host_refusing_the_key_is_named(tmp_path: Path) -> None:
    with running_sshd(tmp_path / "jump") as jump, running_sshd(tmp_path / "target") as target:
        stranger = keygen(tmp_path / "stranger")
        config = ssh_config(
            tmp_path,
            f"Host target\n  HostName 127.0.0.1\n  Port {target.port}\n"
            f"  IdentityFile {target.user_key}\n  ProxyJump {jump.user}@127.0.0.1:{jump.port}\n"
            f"Host 127.0.0.1\n  IdentityFile {stranger}\n",
        )

        with pytest.raises(Exception, match="did not accept") as refused:
            open_transport(
                worker("target"), trusting(tmp_path, jump, target), TIMEOUT, config_path=config
            )

        assert f"the jump host {jump.user}@127.0.0.1:{jump.port}" in str(refused.value)


# -- encrypted keys ----------------------------------------------------------------------------


def encrypted_key(server: Sshd, tmp_path: Path) -> Path:
    key = keygen(tmp_path / "encrypted_key", passphrase="secret")
    server.authorize(key.with_suffix(".pub"))
    return key


def test_an_encrypted_key_needs_its_passphrase_then_connects(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    key = encrypted_key(sshd, tmp_path)
    row = worker(sshd.host, port=sshd.port, user=sshd.user, key_path=key)
    trust = trusting(tmp_path, sshd)
    passphrases = Passphrases()

    with pytest.raises(NeedsPassphrase) as refused:
        open_transport(row, trust, TIMEOUT, passphrases=passphrases)
    assert refused.value.key_path == key
    assert f"the key {key} is encrypted: enter its passphrase" in str(refused.value)

    passphrases.remember(key, "secret")
    transport = open_transport(row, trust, TIMEOUT, passphrases=passphrases)
    try:
        assert transport.is_authenticated()
    finally:
        transport.close()


def test_a_wrong_passphrase_asks_again(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    key = encrypted_key(sshd, tmp_path)
    row = worker(sshd.host, port=sshd.port, user=sshd.user, key_path=key)
    passphrases = Passphrases()
    passphrases.remember(key, "not-the-secret")

    with pytest.raises(NeedsPassphrase) as refused:
        open_transport(row, trusting(tmp_path, sshd), TIMEOUT, passphrases=passphrases)

    assert refused.value.key_path == key
    assert "is wrong" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


def test_a_locked_key_is_passed_over_for_one_that_gets_in(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    key = encrypted_key(sshd, tmp_path)
    config = ssh_config(
        tmp_path,
        f"Host box\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
        f"  IdentityFile {key}\n  IdentityFile {sshd.user_key}\n",
    )

    transport = open_transport(
        worker("box"),
        trusting(tmp_path, sshd),
        TIMEOUT,
        config_path=config,
        passphrases=Passphrases(),
    )
    transport.close()


def test_ssh_connection_reports_the_encrypted_key(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    key = encrypted_key(sshd, tmp_path)
    row = worker(sshd.host, port=sshd.port, user=sshd.user, key_path=key)
    conn = SSHConnection(row, trusting(tmp_path, sshd))

    async def scenario() -> None:
        await conn.connect()
        # The process's own PASSPHRASES knows nothing of this key.
        assert conn.status == "error"
        assert f"the key {key} is encrypted" in (conn.reason or "")
        await conn.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("pem", [False, True], ids=["openssh-format", "pem-format"])
def test_load_key_opens_both_key_formats_with_the_passphrase(tmp_path: Path, pem: bool) -> None:
    key = tmp_path / "key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "secret", "-f", str(key)]
        + (["-m", "PEM"] if pem else []),
        check=True,
        capture_output=True,
    )
    passphrases = Passphrases()

    with pytest.raises(NeedsPassphrase, match="is encrypted"):
        load_key(key, passphrases)
    passphrases.remember(key, "wrong")
    with pytest.raises(NeedsPassphrase, match="is wrong"):
        load_key(key, passphrases)
    passphrases.remember(key, "secret")
    assert load_key(key, passphrases).get_name() == "ssh-rsa"


# -- the system keyring ------------------------------------------------------------------------


class DictKeyring(keyring.backend.KeyringBackend):
    """A keyring backend keeping its passwords in a dict (in this process only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.saved.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.saved[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.saved.pop((service, username), None)


class LockedKeyring(DictKeyring):
    """A keyring that refuses everything, as a locked or absent one does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("the keyring is locked")


@pytest.fixture
def system_keyring() -> Iterator[DictKeyring]:
    before = keyring.get_keyring()
    backend = DictKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(before)


def test_a_saved_passphrase_comes_back_from_the_keyring(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    system_keyring: DictKeyring,
) -> None:
    key = encrypted_key(sshd, tmp_path)
    row = worker(sshd.host, port=sshd.port, user=sshd.user, key_path=key)
    trust = trusting(tmp_path, sshd)

    Passphrases().remember(key, "secret", save=True)
    assert system_keyring.saved == {("c3desk-ssh", str(key)): "secret"}

    later = Passphrases()  # a new run: nothing in memory, the keyring has it
    assert later.get(key) == "secret"
    transport = open_transport(row, trust, TIMEOUT, passphrases=later)
    transport.close()


def test_a_passphrase_not_saved_stays_out_of_the_keyring(
    tmp_path: Path, system_keyring: DictKeyring
) -> None:
    passphrases = Passphrases()
    passphrases.remember(tmp_path / "key", "secret")

    assert passphrases.get(tmp_path / "key") == "secret"
    assert system_keyring.saved == {}
    assert Passphrases().get(tmp_path / "key") is None


def test_a_locked_keyring_knows_nothing_and_says_why_it_saved_nothing(tmp_path: Path) -> None:
    before = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        passphrases = Passphrases()
        assert passphrases.get(tmp_path / "key") is None

        with pytest.raises(PassphraseNotSaved) as refused:
            passphrases.remember(tmp_path / "key", "hunter2-words", save=True)
        assert "could not be saved in the system keyring" in str(refused.value)
        assert "the keyring is locked" in str(refused.value)
        assert "hunter2" not in str(refused.value)
        assert passphrases.get(tmp_path / "key") == "hunter2-words", "kept for this run"
    finally:
        keyring.set_keyring(before)


# -- keys nobody named: the agent's, then ~/.ssh/id_* ------------------------------------------


@pytest.fixture
def ssh_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ssh-agent of this test's own, exported as SSH_AUTH_SOCK."""
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, timeout=20, what="ssh-agent's socket")
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield sock
    finally:
        agent.terminate()
        agent.wait()


def test_the_default_identity_file_is_tried_when_nothing_names_a_key(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "user_home"
    (home / ".ssh").mkdir(parents=True)
    for suffix in ("", ".pub"):
        (home / ".ssh" / f"id_ed25519{suffix}").write_bytes(
            Path(f"{sshd.user_key}{suffix}").read_bytes()
        )
    (home / ".ssh" / "id_ed25519").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    row = worker(sshd.host, port=sshd.port, user=sshd.user)

    transport = open_transport(row, trusting(tmp_path, sshd), TIMEOUT)
    transport.close()


def test_an_encrypted_key_unlocked_in_the_agent_needs_no_passphrase(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    ssh_agent: Path,
) -> None:
    key = encrypted_key(sshd, tmp_path)
    row = worker(sshd.host, port=sshd.port, user=sshd.user, key_path=key)
    trust = trusting(tmp_path, sshd)
    with pytest.raises(NeedsPassphrase):
        open_transport(row, trust, TIMEOUT, passphrases=Passphrases())

    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho secret\n")
    askpass.chmod(0o700)
    subprocess.run(
        ["ssh-add", str(key)],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"},
    )

    transport = open_transport(row, trust, TIMEOUT, passphrases=Passphrases())
    transport.close()
