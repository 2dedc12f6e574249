"""Opening one authenticated SSH transport to a worker (runs in a thread, never on the loop).

:func:`resolve` reads the user's ``~/.ssh/config`` the way ``ssh`` does for the worker's host
(HostName, User, Port, IdentityFile, ProxyJump) and says where to connect: a :class:`Target`.
:func:`open_transport` then opens the TCP connection (through the ProxyJump hosts, each over a
``direct-tcpip`` channel of the one before), checks every server's host key through
:mod:`c3desk.transports.ssh_trust` (never trust on first use) and authenticates with the key
files, or with the keys the ssh-agent offers (then ``~/.ssh/id_*``) when none is named.
Encrypted key files are opened with the passphrase given in this run or saved in the system
keyring (:class:`Passphrases`).

Errors: :class:`~c3desk.transports.ssh_trust.HostKeyError` for host-key problems (naming the
host whose key it is, a jump host's included), :class:`AuthProblem` for authentication and
configuration problems a user can act on, and OSError / EOFError / ``paramiko.SSHException``
for the network.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import logging
import re
import shlex
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import paramiko

from c3desk.errors import C3Error
from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_trust import TrustStore

log = logging.getLogger(__name__)

# The name c3desk's passphrases are saved under in the system keyring (the key file's path is
# the "user name").
KEYRING_SERVICE = "c3desk-ssh"

# What OpenSSH tries when nothing names a key and the agent has none that works.
DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")

# Hops of ProxyJump hosts that name their own ProxyJump, and files Included from Included files:
# deeper than this is a loop in the configuration.
MAX_DEPTH = 8


class AuthProblem(Exception):
    """Authentication failed for a reason a user can act on."""


class SSHConfigProblem(AuthProblem):
    """The ssh config asks for something c3desk does not do, or says something it cannot read;
    the message names the file and the setting."""


class NeedsPassphrase(AuthProblem):
    """The key file is encrypted and no passphrase for it is known (or the one known is wrong):
    the GUI asks for it once (:meth:`Passphrases.remember`)."""

    def __init__(self, key_path: Path, message: str) -> None:
        super().__init__(message)
        self.key_path = key_path


class PassphraseNotSaved(C3Error):
    """The system keyring refused to save a passphrase (it is still known for this run)."""


# -- passphrases -----------------------------------------------------------------------------


class Passphrases:
    """Passphrases of encrypted key files: those given in this run (memory), then the system
    keyring's (saved there only when the user asked). Nothing here logs a passphrase."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def get(self, key_path: Path) -> str | None:
        known = self._known.get(_key_name(key_path))
        if known is not None:
            return known
        try:
            import keyring  # imported on use: it costs 0.1 s, and plain keys never need it

            saved = keyring.get_password(KEYRING_SERVICE, _key_name(key_path))
        except Exception:  # no keyring, a locked one, a broken backend: none known
            return None
        return saved

    def remember(self, key_path: Path, passphrase: str, save: bool = False) -> None:
        """Know ``passphrase`` for the rest of this run and, with ``save``, in the system
        keyring too; :class:`PassphraseNotSaved` when the keyring refuses (the passphrase is
        still known for this run)."""
        self._known[_key_name(key_path)] = passphrase
        if not save:
            return
        try:
            import keyring

            keyring.set_password(KEYRING_SERVICE, _key_name(key_path), passphrase)
        except Exception as e:  # every backend fails its own way
            raise PassphraseNotSaved(
                f"the passphrase of the key {key_path} could not be saved in the system keyring "
                f"({type(e).__name__}: {e}); it is kept until c3desk quits"
            ) from None

    def forget(self, key_path: Path) -> None:
        """Drop the passphrase known in this run (the keyring's stays)."""
        self._known.pop(_key_name(key_path), None)


def _key_name(key_path: Path) -> str:
    return str(Path(key_path).expanduser())


# The process's passphrases (the GUI adds to it; every connection reads it).
PASSPHRASES = Passphrases()


# -- where to connect: ~/.ssh/config ---------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One SSH server to log in to, as the ssh config resolved it.

    ``label`` is what the user typed (the worker's host, or a ProxyJump hop as written);
    ``host``/``port`` are where the TCP connection (or the jump host's channel) goes and the
    name the host key is checked under; ``key_files`` are tried in order (empty: the ssh-agent's
    keys, then ``~/.ssh/id_*``); ``jumps`` are the ProxyJump hosts to pass through, in order
    (each with no jumps of its own: a first hop's own ProxyJump is already spliced in front).
    """

    label: str
    host: str
    port: int
    user: str
    key_files: tuple[Path, ...] = ()
    jumps: tuple[Target, ...] = field(default=())

    @property
    def where(self) -> str:
        """How messages name it: ``box (10.0.0.5 port 22)``, or ``10.0.0.5 port 22``."""
        plain = f"{self.host} port {self.port}"
        return plain if self.label == self.host else f"{self.label} ({plain})"


def default_config_path() -> Path:
    return Path.home() / ".ssh" / "config"


def resolve(worker: WorkerInfo, config_path: Path | None = None) -> Target:
    """Where the worker's SSH login goes, after the ssh config (``~/.ssh/config`` unless
    ``config_path``; a missing file is no config).

    A ``Host`` block matching the worker's host gives its HostName, User, Port, IdentityFile
    (the ones that exist, ``~`` and ``%h``-style tokens expanded) and ProxyJump. What the
    worker row sets wins over the config, as a command line wins over it for ``ssh``: its user
    and key file always; its port unless it is 22, the default every worker row gets when no
    port was given, which therefore cannot tell "22 on purpose" from "not set" (a config Port
    wins over it).

    Not done: ``ProxyCommand`` (refused with :class:`SSHConfigProblem`: c3desk runs no command
    from the config), and ``Match exec`` blocks never match, for the same reason.
    """
    config = _SSHConfig.load(config_path if config_path is not None else default_config_path())
    typed = worker.host or "localhost"
    found = config.lookup(typed)
    port = worker.port
    if port is None or (port == 22 and "port" in found):
        port = _port(found, config.source, typed)
    if worker.key_path:
        keys: tuple[Path, ...] = (Path(worker.key_path).expanduser(),)
    else:
        keys = _identity_files(found)
    target = Target(
        label=typed,
        host=found["hostname"],
        port=port,
        user=worker.user or found.get("user") or getpass.getuser(),
        key_files=keys,
    )
    return _with_jumps(target, found, config, depth=0)


def _with_jumps(target: Target, found: dict[str, Any], config: _SSHConfig, depth: int) -> Target:
    spec = (found.get("proxyjump") or "").strip()
    if not spec or spec.lower() == "none":
        # ssh takes whichever of ProxyJump and ProxyCommand comes first; paramiko does not
        # say which did, so a ProxyJump is taken over a ProxyCommand.
        _refuse_proxy_command(found, config.source, target.label)
        return target
    if depth >= MAX_DEPTH:
        raise SSHConfigProblem(
            f"{config.source}: ProxyJump hosts lead through more than {MAX_DEPTH} hops "
            f"(a loop?) at {target.label!r}"
        )
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    # Only the first hop is reached the way its own config says (its own ProxyJump too): the
    # others are reached through the hop before them, as `ssh -J a,b` does.
    first = _hop(parts[0], config)
    first_via = _with_jumps(first.target, config.lookup(first.alias), config, depth + 1).jumps
    rest = [_hop(part, config) for part in parts[1:]]
    chain = (*first_via, first.target, *(hop.target for hop in rest))
    return Target(
        target.label, target.host, target.port, target.user, target.key_files, tuple(chain)
    )


@dataclass(frozen=True)
class _Hop:
    alias: str  # the host name as written in the hop, looked up in the config
    target: Target


def _hop(spec: str, config: _SSHConfig) -> _Hop:
    """One ProxyJump hop: ``[user@]host[:port]`` or ``ssh://[user@]host[:port]``, where host
    may be an alias of its own (user and port written in the hop win over the alias's)."""
    text = spec.removeprefix("ssh://")
    user, _, hostport = text.rpartition("@")
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?", hostport)
    if not hostport or match is None:
        raise SSHConfigProblem(f"{config.source}: ProxyJump hop {spec!r} is not [user@]host[:port]")
    name = match.group(1) or match.group(3)
    port_text = match.group(2) or match.group(4)
    found = config.lookup(name)
    if port_text is not None:
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise SSHConfigProblem(f"{config.source}: ProxyJump hop {spec!r}: port out of range")
    else:
        port = _port(found, config.source, name)
    target = Target(
        label=spec,
        host=found["hostname"],
        port=port,
        user=user or found.get("user") or getpass.getuser(),
        key_files=_identity_files(found),
    )
    return _Hop(name, target)


def _port(found: dict[str, Any], source: str, name: str) -> int:
    text = found.get("port")
    if text is None:
        return 22
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise SSHConfigProblem(f"{source}: Port {text!r} for {name!r} is not a port number")
    return port


def _identity_files(found: dict[str, Any]) -> tuple[Path, ...]:
    """The config's IdentityFile entries that exist (ssh skips missing ones too)."""
    paths = (Path(p).expanduser() for p in found.get("identityfile") or [])
    return tuple(dict.fromkeys(p for p in paths if p.is_file()))


def _refuse_proxy_command(found: dict[str, Any], source: str, name: str) -> None:
    command = found.get("proxycommand")
    if command and command.strip().lower() != "none":
        raise SSHConfigProblem(
            f"{source}: ProxyCommand (for {name!r}) is not supported: c3desk runs no command "
            "from the ssh config; use ProxyJump instead"
        )


class _SSHConfig(paramiko.SSHConfig):
    """paramiko's ssh config parser, with ``Include`` followed and ``Match exec`` never
    matching (paramiko would run its command in a shell: c3desk runs none from the config)."""

    source = "ssh config"

    @classmethod
    def load(cls, path: Path) -> _SSHConfig:
        config = cls()
        config.source = str(path)
        try:
            text = _included(path, path.parent, 0)
        except FileNotFoundError:
            return config  # no config: every host is itself
        except OSError as e:
            raise SSHConfigProblem(f"cannot read the ssh config {path}: {e}") from None
        try:
            config.parse(StringIO(text))
        except (paramiko.ConfigParseError, ValueError) as e:
            raise SSHConfigProblem(f"the ssh config {path} cannot be read: {e}") from None
        return config

    def _does_match(  # type: ignore[no-untyped-def]
        self, match_list, target_hostname, canonical, final, options
    ):
        if any(m.get("type") == "exec" for m in match_list):
            return False
        return super()._does_match(  # type: ignore[misc]
            match_list, target_hostname, canonical, final, options
        )


def _included(path: Path, base: Path, depth: int) -> str:
    """The config's text with each ``Include`` replaced by the files it names (relative names
    are under ``~/.ssh``, as for ssh; globs expand in name order). After an included file, the
    block the ``Include`` stood in is opened again, so the lines after it keep applying to it;
    an included ``Host`` inside a ``Host`` block is not narrowed by the outer one (ssh's
    would be)."""
    if depth > MAX_DEPTH:
        raise SSHConfigProblem(
            f"the ssh config includes more than {MAX_DEPTH} levels deep at {path}"
        )
    out: list[str] = []
    block = "Host *"  # lines before any Host or Match apply to every host
    for line in path.read_text(errors="replace").splitlines():
        words = re.split(r"[\s=]+", line.strip(), maxsplit=1)
        keyword = words[0].lower()
        if keyword in ("host", "match"):
            block = line
        if keyword != "include" or len(words) < 2:
            out.append(line)
            continue
        try:
            patterns = shlex.split(words[1])
        except ValueError:
            raise SSHConfigProblem(
                f"{path}: cannot read the Include line {line.strip()!r}"
            ) from None
        for pattern in patterns:
            expanded = Path(pattern).expanduser()
            if not expanded.is_absolute():
                expanded = base / expanded
            for name in sorted(glob.glob(str(expanded))):
                with contextlib.suppress(IsADirectoryError):
                    out.append(_included(Path(name), base, depth + 1))
        out.append(block)
    return "\n".join(out) + "\n"


# -- logging in ------------------------------------------------------------------------------


# Called with each server's host key as soon as the key exchange got it (before it is checked;
# jump hosts first), so a caller can show its fingerprint to a user who may trust it.
KeySeen = Callable[[paramiko.PKey], None]


class ChainedTransport(paramiko.Transport):
    """A transport that may run over channels of jump hosts' transports (``via``, in order):
    closing it closes them too, so a caller closes the one transport it was handed."""

    def __init__(self, sock: Any, via: Sequence[paramiko.Transport] = ()) -> None:
        super().__init__(sock)
        self.via = tuple(via)

    def close(self) -> None:
        try:
            super().close()
        finally:
            for jump in reversed(self.via):
                jump.close()


def open_transport(
    worker: WorkerInfo,
    trust: TrustStore,
    timeout: float,
    key_seen: KeySeen | None = None,
    *,
    config_path: Path | None = None,
    passphrases: Passphrases | None = None,
) -> paramiko.Transport:
    """TCP, key exchange, host-key check, authentication (in a thread), through the ProxyJump
    hosts the ssh config names (see :func:`resolve`). The transport returned closes the jump
    hosts' transports when it is closed."""
    return open_target(resolve(worker, config_path), trust, timeout, key_seen, passphrases)


def open_target(
    target: Target,
    trust: TrustStore,
    timeout: float,
    key_seen: KeySeen | None = None,
    passphrases: Passphrases | None = None,
) -> paramiko.Transport:
    """Log in to each jump host in turn, each reached over a ``direct-tcpip`` channel of the
    one before (the first over TCP), then to the target the same way."""
    opened: list[paramiko.Transport] = []
    try:
        for number, hop in enumerate(target.jumps):
            through = target.jumps[number - 1] if number else None
            opened.append(
                _login(hop, through, opened, trust, timeout, key_seen, passphrases, jump=True)
            )
        through = target.jumps[-1] if target.jumps else None
        return _login(target, through, opened, trust, timeout, key_seen, passphrases, jump=False)
    except BaseException:
        for transport in reversed(opened):
            transport.close()
        raise


def _login(
    target: Target,
    through: Target | None,
    before: list[paramiko.Transport],
    trust: TrustStore,
    timeout: float,
    key_seen: KeySeen | None,
    passphrases: Passphrases | None,
    jump: bool,
) -> paramiko.Transport:
    """Log in to one server, over a channel of ``before[-1]`` (the jump host ``through``) or
    over TCP when there is none."""
    who = f"the jump host {target.where}" if jump else "the server"
    sock: Any
    if through is not None:
        try:
            sock = before[-1].open_channel(
                "direct-tcpip", (target.host, target.port), ("127.0.0.1", 0), timeout=timeout
            )
        except paramiko.ChannelException as e:
            raise paramiko.SSHException(
                f"the jump host {through.where} could not open a connection to "
                f"{target.where}: {e.text}"
            ) from None
        log.debug("reaching %s through %s", target.where, through.where)
    else:
        try:
            sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except OSError as e:
            if not jump:
                raise
            raise ConnectionError(f"{who}: {describe(e)}") from e
    transport = ChainedTransport(sock, via=() if jump else before)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        prefer_known_key_types(transport, trust, target.host, target.port)
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        if key_seen is not None:
            key_seen(key)
        trust.check(target.host, target.port, key)
        authenticate(transport, target.user, target.key_files, passphrases, who=who)
        return transport
    except BaseException:
        # Only this one: the caller closes the jump hosts' transports.
        paramiko.Transport.close(transport)
        raise


def prefer_known_key_types(
    transport: paramiko.Transport, trust: TrustStore, host: str, port: int
) -> None:
    """As OpenSSH does: ask the server first for a key type already known for it, so a host
    known by its RSA key is not reported unknown because it also has an Ed25519 key."""
    known = trust.known_types(host, port)
    if not known:
        return
    options = transport.get_security_options()
    wanted = set(known)
    if "ssh-rsa" in wanted:
        wanted |= {"rsa-sha2-512", "rsa-sha2-256"}
    types = list(options.key_types)
    options.key_types = [t for t in types if t in wanted] + [t for t in types if t not in wanted]


def authenticate(
    transport: paramiko.Transport,
    user: str,
    key_files: str | Path | Sequence[Path] | None,
    passphrases: Passphrases | None = None,
    who: str = "the server",
) -> None:
    """Offer the key files in order; with none, the ssh-agent's keys, then ``~/.ssh/id_*``.
    An encrypted key whose passphrase is unknown is passed over for the next one, then for the
    agent's keys (as ssh does, the agent may hold it unlocked); if no key gets in, its
    :class:`NeedsPassphrase` is what is raised."""
    if isinstance(key_files, str | Path):
        key_files = [Path(key_files)]
    files = [Path(p).expanduser() for p in key_files or []]
    if files:
        try:
            _offer_files(transport, user, files, passphrases, who, must_exist=True)
        except NeedsPassphrase:
            if _agent_gets_in(transport, user, who):
                return
            raise
        return
    agent_had_keys = _agent_gets_in(transport, user, who)
    if agent_had_keys:
        return
    defaults = [p for p in (Path.home() / ".ssh" / n for n in DEFAULT_IDENTITIES) if p.is_file()]
    if defaults:
        _offer_files(transport, user, defaults, passphrases, who, must_exist=False)
        return
    if agent_had_keys is False:
        raise AuthProblem(f"{who} did not accept the ssh-agent's keys for user {user}")
    raise AuthProblem("no key file is set and the ssh-agent offers no keys")


def _agent_gets_in(transport: paramiko.Transport, user: str, who: str) -> bool | None:
    """Offer the ssh-agent's keys: True when one got in, False when none did, None when the
    agent has none (or there is no agent)."""
    agent = paramiko.Agent()
    try:
        keys = list(agent.get_keys())
        if not keys:
            return None
        # The agent signs for its keys: its socket stays open until authentication ends.
        try:
            offer(transport, user, keys, "the ssh-agent's keys", who)
        except AuthProblem:
            return False
        return True
    finally:
        agent.close()


def _offer_files(
    transport: paramiko.Transport,
    user: str,
    files: list[Path],
    passphrases: Passphrases | None,
    who: str,
    must_exist: bool,
) -> None:
    locked: NeedsPassphrase | None = None
    refused: list[Path] = []
    for path in files:
        try:
            key = load_key(path, passphrases)
        except NeedsPassphrase as e:
            locked = locked or e
            continue
        except AuthProblem:
            if must_exist and len(files) == 1:
                raise
            continue
        try:
            offer(transport, user, [key], f"the key {path}", who)
            return
        except AuthProblem:
            refused.append(path)
    if locked is not None:
        raise locked
    names = ", ".join(str(p) for p in refused) or ", ".join(str(p) for p in files)
    raise AuthProblem(f"{who} did not accept the key {names} for user {user}")


def offer(
    transport: paramiko.Transport,
    user: str,
    keys: Sequence[paramiko.PKey],
    source: str,
    who: str = "the server",
) -> None:
    for key in keys:
        try:
            transport.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            continue
        if transport.is_authenticated():
            return
    raise AuthProblem(f"{who} did not accept {source} for user {user}")


def load_key(path: Path, passphrases: Passphrases | None = None) -> paramiko.PKey:
    """The private key in ``path``; an encrypted one is opened with the passphrase
    ``passphrases`` (default :data:`PASSPHRASES`) knows, else :class:`NeedsPassphrase`."""
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko says so for PEM keys; for OpenSSH-format keys the TypeError comes from
        # cryptography ("Key is password-protected, but password was not provided").
        pass
    except (OSError, paramiko.SSHException, ValueError) as e:
        raise AuthProblem(f"cannot read the key {path}: {describe(e)}") from None
    passphrase = (passphrases or PASSPHRASES).get(path)
    if passphrase is None:
        raise NeedsPassphrase(
            path,
            f"the key {path} is encrypted: enter its passphrase (c3desk keeps it until it quits, "
            "or saves it in the system keyring if asked)",
        )
    try:
        # paramiko's annotation says str, but cryptography under it wants bytes.
        secret: Any = passphrase.encode()
        return paramiko.PKey.from_path(path, password=secret)
    except (paramiko.SSHException, TypeError, ValueError):
        # The file read as an encrypted key a moment ago: what fails now is the passphrase
        # (cryptography says "no BEGIN/END delimiters" for a wrong one of an OpenSSH key).
        raise NeedsPassphrase(
            path,
            f"the passphrase c3desk has for the key {path} (given in this run or saved in the "
            "system keyring) is wrong: enter it again",
        ) from None
    except OSError as e:
        raise AuthProblem(f"cannot read the key {path}: {describe(e)}") from None


def describe(e: BaseException) -> str:
    """A network error in a user's words."""
    if isinstance(e, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    return str(e) or type(e).__name__
