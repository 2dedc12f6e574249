"""c3desk.preflight's pure parts: when xcb is used, ldd's output, the install command."""

from __future__ import annotations

from pathlib import Path

import pytest

from c3desk import preflight


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "w", "QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "xcb"}, False),
        ({}, False),
    ],
)
def test_when_the_xcb_plugin_will_load(env: dict[str, str], expected: bool) -> None:
    assert preflight.xcb_will_be_used(env, "linux") is expected
    assert preflight.xcb_will_be_used(env, "darwin") is False


def test_ldd_output_not_found_and_load_errors() -> None:
    text = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibxcb-icccm.so.4 => not found\n"
        "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)\n"
        "\tlibxcb-keysyms.so.1 => not found\n"
        "\tlibxcb-icccm.so.4 => not found\n"
    )
    assert preflight.parse_ldd(text) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    broken = (
        "/x/libqxcb.so: error while loading shared libraries: "
        "/lib/x86_64-linux-gnu/libxcb-icccm.so.4: file too short\n"
    )
    assert preflight.parse_ldd(broken) == ["libxcb-icccm.so.4"]
    assert preflight.parse_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_install_commands_per_distribution(tmp_path: Path) -> None:
    missing = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-shape.so.0"]
    assert preflight.install_command(missing, "debian") == (
        "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxcb-shape0"
    )
    assert preflight.install_command(missing, "fedora") == (
        "sudo dnf install xcb-util-wm xcb-util-keysyms libxcb"
    )
    assert preflight.install_command(missing, "") is None
    assert preflight.install_command(["libunknown.so.9"], "debian") is None
    message = preflight.xcb_problem(["libxcb-cursor.so.0"], "arch")
    assert "libxcb-cursor.so.0" in message and "(on Debian/Ubuntu: libxcb-cursor0)" in message
    assert "\n" not in message

    release = tmp_path / "os-release"
    release.write_text('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')
    assert preflight.distro_family(release) == "debian"
    release.write_text("ID=fedora\n")
    assert preflight.distro_family(release) == "fedora"
    release.write_text('ID="rocky"\nID_LIKE="rhel centos fedora"\n')
    assert preflight.distro_family(release) == "fedora"
    assert preflight.distro_family(tmp_path / "absent") == ""


def test_the_plugin_is_found_and_complete_here() -> None:
    plugin = preflight.find_xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    needed, dirs = preflight.elf_needed(plugin)
    assert "libxcb.so.1" in needed and any("Qt" in d for d in dirs)
    assert preflight.missing_xcb_libraries(plugin) == []
    assert preflight._missing_by_elf(plugin) == []
