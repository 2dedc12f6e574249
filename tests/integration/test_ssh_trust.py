"""SSHConnection and host-key trust against a real OpenSSH sshd on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from helpers.polling import wait_for
from helpers.sshd import Sshd, keygen, keygen_fingerprint, sshd  # noqa: F401 (fixture)

from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_trust import (
    ChangedHostKey,
    FingerprintMismatch,
    RevokedHostKey,
    TrustStore,
    UnknownHostKey,
    hashed_name,
)


def worker(server: Sshd, key: Path | None = None) -> WorkerInfo:
    return WorkerInfo(
        id="w1",
        name="box",
        type="remote",
        host=server.host,
        port=server.port,
        user=server.user,
        key_path=str(key or server.user_key),
    )


def store(tmp_path: Path) -> TrustStore:
    return TrustStore(tmp_path / "c3desk_known_hosts", tmp_path / "user_known_hosts")


def host_line(server: Sshd, name: str | None = None, pub: Path | None = None) -> str:
    kind, blob = (pub or server.host_key.with_suffix(".pub")).read_text().split()[:2]
    return f"{name or f'[{server.host}]:{server.port}'} {kind} {blob}\n"


async def connected(conn: SSHConnection) -> SSHConnection:
    await conn.connect()
    return conn


def test_unknown_key_is_refused_with_its_fingerprint(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    conn = SSHConnection(worker(sshd), store(tmp_path))

    asyncio.run(conn.connect())

    expected = keygen_fingerprint(sshd.host_key.with_suffix(".pub"))
    assert conn.status == "error"
    assert isinstance(conn.host_key_error, UnknownHostKey)
    assert conn.host_key_error.fingerprint == expected
    assert expected in (conn.reason or "")
    assert f"127.0.0.1 port {sshd.port}" in (conn.reason or "")


def test_trusted_by_fingerprint_then_connects(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    conn = SSHConnection(worker(sshd), trust)

    async def scenario() -> None:
        await conn.connect()
        refused = conn.host_key_error
        assert refused is not None
        key = conn.offered_host_key
        assert key is not None
        with pytest.raises(FingerprintMismatch):
            trust.trust(sshd.host, sshd.port, key, expected="SHA256:" + "A" * 43)
        assert not trust.own.exists()
        trust.trust(
            sshd.host,
            sshd.port,
            key,
            expected=keygen_fingerprint(sshd.host_key.with_suffix(".pub")),
        )
        await conn.connect()
        assert (conn.status, conn.reason) == ("connected", None)
        await conn.close()
        assert conn.status == "disconnected"

    asyncio.run(scenario())
    assert stat.S_IMODE(trust.own.stat().st_mode) == 0o600
    assert trust.own.read_text() == host_line(sshd)


def test_changed_key_fails_hard(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    other = keygen(tmp_path / "otherhost")
    trust.own.write_text(host_line(sshd, pub=other.with_suffix(".pub")))
    conn = SSHConnection(worker(sshd), trust)

    asyncio.run(conn.connect())

    assert conn.status == "error"
    assert isinstance(conn.host_key_error, ChangedHostKey)
    reason = conn.reason or ""
    assert "CHANGED" in reason
    assert keygen_fingerprint(other.with_suffix(".pub")) in reason
    assert keygen_fingerprint(sshd.host_key.with_suffix(".pub")) in reason


def test_revoked_key_is_refused_even_when_trusted(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    trust.own.write_text(host_line(sshd))
    trust.user_known_hosts.write_text("@revoked " + host_line(sshd, name="*"))
    conn = SSHConnection(worker(sshd), trust)

    asyncio.run(conn.connect())

    assert conn.status == "error"
    assert isinstance(conn.host_key_error, RevokedHostKey)
    assert "revoked" in (conn.reason or "")


def test_hashed_user_known_hosts_entry_is_honoured(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    hashed = hashed_name(f"[{sshd.host}]:{sshd.port}")
    trust.user_known_hosts.write_text(host_line(sshd, name=hashed))
    conn = SSHConnection(worker(sshd), trust)

    async def scenario() -> None:
        await conn.connect()
        assert (conn.status, conn.reason) == ("connected", None)
        await conn.close()

    asyncio.run(scenario())
    assert not trust.own.exists()  # nothing was added: the user's own file decided


def test_hashed_entry_made_by_ssh_keygen_is_honoured(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    trust.user_known_hosts.write_text(host_line(sshd))
    subprocess.run(
        ["ssh-keygen", "-H", "-f", str(trust.user_known_hosts)], check=True, capture_output=True
    )
    assert trust.user_known_hosts.read_text().startswith("|1|")
    conn = SSHConnection(worker(sshd), trust)

    async def scenario() -> None:
        await conn.connect()
        assert conn.status == "connected", conn.reason
        await conn.close()

    asyncio.run(scenario())


def test_wrong_user_key_is_an_auth_error(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    trust.own.write_text(host_line(sshd))
    stranger = keygen(tmp_path / "stranger")
    conn = SSHConnection(worker(sshd, key=stranger), trust)

    asyncio.run(conn.connect())

    assert conn.status == "error"
    assert conn.host_key_error is None
    assert "authentication" in (conn.reason or "")
    assert str(stranger) in (conn.reason or "")


def test_files_over_sftp(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    trust.own.write_text(host_line(sshd))
    folder = tmp_path / "remote"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_bytes(b"hello over sftp\n")
    conn = SSHConnection(worker(sshd), trust)

    async def scenario() -> None:
        await conn.connect()
        assert conn.status == "connected", conn.reason
        try:
            assert await conn.read_file(str(folder / "notes.txt"), 1000) == b"hello over sftp\n"
            assert await conn.read_file(str(folder / "notes.txt"), 5) == b"hello"
            entries = {e.name: e for e in await conn.list_dir(str(folder))}
            assert set(entries) == {"notes.txt", "sub"}
            assert entries["sub"].is_dir and not entries["notes.txt"].is_dir
            assert entries["notes.txt"].size == 16
            info = await conn.stat(str(folder / "notes.txt"))
            assert info is not None and info.size == 16 and not info.is_dir
            assert int(info.mtime) == int((folder / "notes.txt").stat().st_mtime)
            assert await conn.stat(str(folder / "missing")) is None
            with pytest.raises(FileNotFoundError):
                await conn.read_file(str(folder / "missing"), 10)
        finally:
            await conn.close()
        with pytest.raises(OSError, match="not connected"):
            await conn.stat(str(folder))

    asyncio.run(scenario())


def test_loop_stays_responsive_while_nothing_answers(tmp_path: Path) -> None:
    # A server that accepts the TCP connection and never says a word: the SSH banner never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        info = WorkerInfo("w2", "mute", "remote", host="127.0.0.1", port=port, key_path="/none")
        conn = SSHConnection(info, store(tmp_path), connect_timeout=1.5)
        ticks = 0
        worst = 0.0

        async def probe() -> None:
            nonlocal ticks, worst
            loop = asyncio.get_running_loop()
            while True:
                before = loop.time()
                await asyncio.sleep(0.01)
                worst = max(worst, loop.time() - before - 0.01)
                ticks += 1

        async def scenario() -> None:
            task = asyncio.create_task(probe())
            await conn.connect()
            task.cancel()

        asyncio.run(scenario())

    assert conn.status == "disconnected"
    assert f"127.0.0.1 port {port}" in (conn.reason or "")
    # 1.5 s of waiting at 10 ms a tick: a blocked loop would have ticked once or not at all.
    assert ticks >= 20, (ticks, worst)
    print(f"probe ticks {ticks}, worst loop lag {worst * 1000:.1f} ms")


def test_refused_port_is_disconnected(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        info = WorkerInfo("w3", "gone", "remote", host="127.0.0.1", port=port, key_path="/none")
        conn = SSHConnection(info, store(tmp_path))
        asyncio.run(conn.connect())
    assert conn.status == "disconnected"
    assert "refused" in (conn.reason or "").lower()


def test_ssh_agent_keys_are_used_when_no_key_file_is_set(
    sshd: Sshd,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trust = store(tmp_path)
    trust.own.write_text(host_line(sshd))
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, timeout=20, what="ssh-agent's socket")
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        info = dataclasses.replace(worker(sshd), key_path=None)
        conn = SSHConnection(info, trust)

        async def scenario() -> None:
            await conn.connect()
            assert conn.status == "error"  # the agent holds no key yet
            assert "ssh-agent offers no keys" in (conn.reason or "")
            subprocess.run(["ssh-add", str(sshd.user_key)], check=True, capture_output=True)
            await conn.connect()
            assert (conn.status, conn.reason) == ("connected", None)
            await conn.close()

        asyncio.run(scenario())
    finally:
        agent.terminate()
        agent.wait()


def test_encrypted_key_file_is_an_auth_error_naming_it(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    trust.own.write_text(host_line(sshd))
    locked = tmp_path / "locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret words", "-f", str(locked)],
        check=True,
        capture_output=True,
    )
    conn = SSHConnection(worker(sshd, key=locked), trust)

    asyncio.run(conn.connect())

    assert conn.status == "error"
    assert "encrypted" in (conn.reason or "") and str(locked) in (conn.reason or "")


def test_status_changes_reach_listeners(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    conn = SSHConnection(worker(sshd), trust)
    seen: list[tuple[str, str | None]] = []
    conn.on_status(lambda c: seen.append((c.status, c.reason)))

    async def scenario() -> None:
        await conn.connect()
        assert conn.offered_host_key is not None
        trust.trust(sshd.host, sshd.port, conn.offered_host_key)
        await conn.connect()
        await conn.close()

    asyncio.run(scenario())
    assert [s for s, _ in seen] == ["error", "connected", "disconnected"]
    assert seen[-1][1] == "closed by c3desk"


def test_close_while_connecting_wins(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        info = WorkerInfo("w4", "mute", "remote", host="127.0.0.1", port=port, key_path="/none")
        conn = SSHConnection(info, store(tmp_path), connect_timeout=1.5)

        async def scenario() -> None:
            connecting = asyncio.create_task(conn.connect())
            await asyncio.sleep(0)  # let the connect start its thread
            await conn.close()
            await connecting

        asyncio.run(scenario())

    assert (conn.status, conn.reason) == ("disconnected", "closed by c3desk")


def test_reconnects_after_the_connection_dropped(sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    trust = store(tmp_path)
    trust.own.write_text(host_line(sshd))
    (tmp_path / "f.txt").write_text("still here")
    conn = SSHConnection(worker(sshd), trust)

    async def read() -> bytes:
        await conn.connect()
        assert conn.status == "connected", conn.reason
        return await conn.read_file(str(tmp_path / "f.txt"), 100)

    assert asyncio.run(read()) == b"still here"
    pids = sshd.connection_pids()
    assert pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    transport = conn._transport
    assert transport is not None
    wait_for(lambda: not transport.is_active(), what="paramiko to see the connection drop")
    with pytest.raises(OSError, match="not connected"):
        asyncio.run(conn.stat(str(tmp_path)))

    assert asyncio.run(read()) == b"still here"  # a new transport and a new SFTP session
    asyncio.run(conn.close())
