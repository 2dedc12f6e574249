"""resolve(): where a worker's SSH login goes after ~/.ssh/config (config text in a temp file)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_login import SSHConfigProblem, Target, resolve


def worker(
    host: str | None,
    port: int | None = 22,
    user: str | None = None,
    key_path: str | None = None,
) -> WorkerInfo:
    return WorkerInfo(
        id="w1", name="box", type="remote", host=host, port=port, user=user, key_path=key_path
    )


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return path


def test_an_alias_gives_hostname_user_port_and_the_first_existing_identity_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "id_10.0.0.5").write_text("key")
    (tmp_path / "id_other").write_text("key")
    path = config(
        tmp_path,
        "Host box\n"
        "  HostName 10.0.0.5\n"
        "  User alice\n"
        "  Port 2222\n"
        f"  IdentityFile {tmp_path}/missing\n"
        f"  IdentityFile {tmp_path}/id_%h\n"
        "Host *\n"
        f"  IdentityFile {tmp_path}/id_other\n",
    )

    target = resolve(worker("box"), path)

    assert target == Target(
        label="box",
        host="10.0.0.5",
        port=2222,
        user="alice",
        key_files=(tmp_path / "id_10.0.0.5", tmp_path / "id_other"),
    )
    assert target.where == "box (10.0.0.5 port 2222)"


def test_worker_row_fields_win_over_the_config(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        f"Host box\n  HostName 10.0.0.5\n  User alice\n  Port 2222\n  IdentityFile {tmp_path}/k\n",
    )
    (tmp_path / "k").write_text("key")

    target = resolve(worker("box", port=2200, user="bob", key_path="~/.ssh/mine"), path)

    assert (target.host, target.port, target.user) == ("10.0.0.5", 2200, "bob")
    assert target.key_files == (Path.home() / ".ssh" / "mine",)


def test_the_default_port_22_of_a_worker_row_gives_way_to_the_configs_port(
    tmp_path: Path,
) -> None:
    path = config(tmp_path, "Host box\n  Port 2222\nHost plain\n  User carol\n")

    assert resolve(worker("box", port=22), path).port == 2222
    assert resolve(worker("box", port=None), path).port == 2222
    assert resolve(worker("plain", port=22), path).port == 22
    assert resolve(worker("plain", port=None), path).port == 22


def test_without_a_config_file_the_host_is_itself(tmp_path: Path) -> None:
    target = resolve(worker("server.example", port=None), tmp_path / "no_such_config")

    assert target == Target("server.example", "server.example", 22, getpass.getuser())
    assert target.where == "server.example port 22"
    assert resolve(worker(None), tmp_path / "none").host == "localhost"


def test_identity_file_tokens_and_tilde_expand(tmp_path: Path) -> None:
    home_key = Path.home() / ".c3desk-test-missing-key"
    path = config(
        tmp_path,
        f"Host box\n  HostName h.example\n  User dave\n"
        f"  IdentityFile {tmp_path}/%r@%h\n  IdentityFile ~/{home_key.name}\n",
    )
    (tmp_path / "dave@h.example").write_text("key")

    assert resolve(worker("box"), path).key_files == (tmp_path / "dave@h.example",)


def test_proxy_jump_hops_in_order_with_user_port_and_aliases(tmp_path: Path) -> None:
    (tmp_path / "jump_key").write_text("key")
    path = config(
        tmp_path,
        "Host box\n"
        "  HostName 10.0.0.5\n"
        "  ProxyJump bob@bastion:2200,inner,ssh://eve@[fd00::7]:2022\n"
        "Host bastion\n"
        "  HostName 10.0.0.1\n"
        "  User ignored-because-the-hop-names-one\n"
        f"  IdentityFile {tmp_path}/jump_key\n"
        "Host inner\n"
        "  HostName 10.0.0.2\n"
        "  Port 2023\n"
        "  User ivan\n"
        "  ProxyJump ignored-as-for-ssh-J\n",
    )

    target = resolve(worker("box", user="root"), path)

    assert target.jumps == (
        Target("bob@bastion:2200", "10.0.0.1", 2200, "bob", (tmp_path / "jump_key",)),
        Target("inner", "10.0.0.2", 2023, "ivan"),
        Target("ssh://eve@[fd00::7]:2022", "fd00::7", 2022, "eve"),
    )
    assert (target.host, target.port, target.user) == ("10.0.0.5", 22, "root")


def test_the_first_hops_own_proxy_jump_comes_before_it(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "Host box\n  ProxyJump mid\nHost mid\n  HostName 10.0.0.2\n  ProxyJump outer\n"
        "Host outer\n  HostName 10.0.0.1\n",
    )

    hops = resolve(worker("box"), path).jumps

    assert [(h.label, h.host) for h in hops] == [("outer", "10.0.0.1"), ("mid", "10.0.0.2")]
    assert all(h.jumps == () for h in hops)


def test_proxy_jump_none_means_direct(tmp_path: Path) -> None:
    path = config(tmp_path, "Host box\n  ProxyJump none\nHost * !bastion\n  ProxyJump bastion\n")

    assert resolve(worker("box"), path).jumps == ()
    assert [h.label for h in resolve(worker("other"), path).jumps] == ["bastion"]


def test_a_proxy_jump_loop_is_refused_naming_the_config(tmp_path: Path) -> None:
    path = config(tmp_path, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")

    with pytest.raises(SSHConfigProblem, match="loop") as refused:
        resolve(worker("a"), path)
    assert str(path) in str(refused.value)


@pytest.mark.parametrize("hop", ["bastion:http", "bastion:99999", "user@", "[::1"])
def test_a_bad_hop_is_refused_naming_it(tmp_path: Path, hop: str) -> None:
    path = config(tmp_path, f"Host box\n  ProxyJump {hop}\n")

    with pytest.raises(SSHConfigProblem) as refused:
        resolve(worker("box"), path)
    assert repr(hop) in str(refused.value)


def test_a_bad_port_is_refused_naming_it(tmp_path: Path) -> None:
    path = config(tmp_path, "Host box\n  Port ssh\n")

    with pytest.raises(SSHConfigProblem, match="Port 'ssh'"):
        resolve(worker("box"), path)


def test_proxy_command_is_refused_not_run(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    path = config(tmp_path, f"Host box\n  ProxyCommand touch {canary}; nc %h %p\n")

    with pytest.raises(SSHConfigProblem, match="ProxyCommand") as refused:
        resolve(worker("box"), path)
    assert "'box'" in str(refused.value)
    assert str(path) in str(refused.value)
    assert not canary.exists()
    assert resolve(worker("other"), path).host == "other"


def test_a_jump_hosts_proxy_command_is_refused_too(tmp_path: Path) -> None:
    path = config(tmp_path, "Host box\n  ProxyJump gate\nHost gate\n  ProxyCommand nc %h %p\n")

    with pytest.raises(SSHConfigProblem, match=r"ProxyCommand .*'gate'"):
        resolve(worker("box"), path)


def test_match_exec_runs_nothing_and_never_matches(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    path = config(
        tmp_path,
        f'Match exec "touch {canary}"\n  User mallory\nMatch host box\n  User alice\n',
    )

    assert resolve(worker("box"), path).user == "alice"
    assert not canary.exists()


def test_include_is_followed_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "config.d").mkdir()
    (tmp_path / "config.d" / "10-box").write_text("Host box\n  HostName 10.0.0.5\n  User alice\n")
    (tmp_path / "config.d" / "20-other").write_text("Host other\n  HostName 10.0.0.6\n")
    path = config(
        tmp_path,
        "Host box\n  Port 2222\n  Include config.d/*\n  User shadowed-by-the-first-value\n"
        "Host box\n  User also-shadowed\n",
    )

    target = resolve(worker("box"), path)

    assert (target.host, target.port, target.user) == ("10.0.0.5", 2222, "alice")
    assert resolve(worker("other"), path).host == "10.0.0.6"


def test_lines_after_an_include_stay_in_their_block(tmp_path: Path) -> None:
    (tmp_path / "more").write_text("Host elsewhere\n  User zed\n")
    path = config(tmp_path, "Host box\n  Include more\n  Port 2222\n")

    assert resolve(worker("box"), path).port == 2222
    assert resolve(worker("elsewhere"), path).port == 22


def test_top_level_lines_after_an_include_apply_to_every_host(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("Host box\n  HostName 10.0.0.5\n")
    path = config(tmp_path, "Include hosts\nUser everyone\n")

    assert resolve(worker("box"), path).user == "everyone"
    assert resolve(worker("other"), path).user == "everyone"


def test_an_include_loop_is_refused(tmp_path: Path) -> None:
    path = config(tmp_path, "Include ssh_config\n")

    with pytest.raises(SSHConfigProblem, match="levels deep"):
        resolve(worker("box"), path)
