"""packaging/install.sh for real: a temporary HOME, the system's python3, a real venv and a real
pip install of this clone (slow: about 30 s with pip's cache), then the installed c3desk's
--self-test, and --uninstall. And its refusal when python3 cannot make a venv (Debian without
python3-venv: ensurepip hidden in a mount namespace, as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "packaging" / "install.sh"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _env(home: Path, path: str) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    # pip's cache of the machine's own install: only speed, the packages are fetched the same way
    env["PIP_CACHE_DIR"] = str(Path.home() / ".cache" / "pip")
    env.update(HOME=str(home), PATH=path, SHELL="/bin/sh")
    return env


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=env,
        cwd=env["HOME"],  # not this checkout: `python -c` would import c3desk from there
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_install_self_test_and_uninstall(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    local_bin = home / ".local" / "bin"
    env = _env(home, f"{local_bin}:{SYSTEM_PATH}")
    result = _run([str(SCRIPT)], env, 800)
    assert result.returncode == 0, result
    out = result.stdout
    venv = home / ".local" / "lib" / "c3desk" / "venv"
    link = local_bin / "c3desk"
    assert f"creating a virtual environment in {venv}" in out
    assert os.readlink(link) == str(venv / "bin" / "c3desk")
    assert "c3desk install: installed c3desk " in out
    assert "Qt's system libraries are all there" in out
    assert "done: start it with 'c3desk'" in out
    desktop = home / ".local" / "share" / "applications" / "c3desk.desktop"
    assert f"Exec={link}\n" in desktop.read_text()
    validate = shutil.which("desktop-file-validate")
    assert validate, "desktop-file-validate (desktop-file-utils) is part of the test setup"
    assert _run([validate, str(desktop)], env, 60).returncode == 0

    # The installed copy (not this checkout) passes the self-test.
    checked = _run(["c3desk", "--self-test"], env, 110)
    assert checked.returncode == 0, checked
    assert checked.stdout.splitlines()[-1] == "ok engine stopped; self-test passed"
    assert (
        str(REPO)
        not in _run(
            [str(venv / "bin" / "python"), "-c", "import c3desk; print(c3desk.__file__)"], env, 60
        ).stdout
    )

    # Run again: the venv is reused.
    again = _run([str(SCRIPT)], env, 800)
    assert again.returncode == 0 and "reusing the virtual environment" in again.stdout, again

    data = home / ".local" / "share" / "c3desk"
    data.mkdir(parents=True, exist_ok=True)
    (data / "keep-me").write_text("the user's data")
    removed = _run([str(SCRIPT), "--uninstall"], env, 120)
    assert removed.returncode == 0, removed
    assert not venv.exists() and not link.exists() and not link.is_symlink()
    assert not desktop.exists()
    assert not list((home / ".local" / "share" / "icons").rglob("c3desk.*"))
    assert (data / "keep-me").read_text() == "the user's data"


def test_refuses_without_venv_support_and_names_the_package(tmp_path: Path) -> None:
    python = Path("/usr/bin/python3")
    assert python.is_file(), "the system python3 (Debian's) is part of the test setup"
    stdlib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    ).resolve()
    assert (stdlib / "ensurepip").is_dir()
    layer = tmp_path / "layer"
    script = (
        "set -e\n"
        f'mkdir -p "{layer}" && mount -t tmpfs tmpfs "{layer}"\n'
        f'mkdir "{layer}/upper" "{layer}/work"\n'
        f'mount -t overlay overlay -o lowerdir="{stdlib}",upperdir="{layer}/upper",'
        f'workdir="{layer}/work" "{stdlib}"\n'
        f'rm -rf "{stdlib}/ensurepip"\n'
        'exec "$@"\n'
    )
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, SYSTEM_PATH)
    env["PYTHON"] = str(python)
    result = _run(["unshare", "--mount", "sh", "-c", script, "sh", str(SCRIPT)], env, 120)
    assert result.returncode == 1, result
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "cannot create virtual environments" in line
    assert "sudo apt-get install python3-venv" in line and "-venv)" in line
    assert not (home / ".local").exists()


def test_unknown_option_and_bad_source(tmp_path: Path) -> None:
    env = _env(tmp_path, SYSTEM_PATH)
    bad = _run([str(SCRIPT), "--frobnicate"], env, 60)
    assert bad.returncode == 1
    assert bad.stderr == "c3desk install: unknown option '--frobnicate' (try --help)\n"
    nowhere = _run([str(SCRIPT), "--from", str(tmp_path)], env, 60)
    assert nowhere.returncode == 1
    assert nowhere.stderr == (
        f"c3desk install: {tmp_path} has no pyproject.toml: not a c3desk source folder\n"
    )
