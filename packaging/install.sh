#!/bin/sh
# Install c3desk for this user, without touching the system Python (PEP 668 refuses
# `pip install` there on Debian 12 and Ubuntu 24.04):
#   - a virtual environment of its own: ~/.local/lib/c3desk/venv (C3DESK_VENV to change it);
#   - c3desk pip-installed into it from this clone (or from --from PATH: a folder or a wheel);
#   - the command linked as ~/.local/bin/c3desk;
#   - the desktop menu entry and icons (c3desk --install-desktop-entry, under ~/.local/share);
#   - a check that Qt's window can open here (c3desk --check-system: names the missing system
#     libraries and the apt-get command that installs them).
# packaging/install.sh --uninstall removes all of that again (never your data in
# ~/.local/share/c3desk: delete that folder yourself if you want it gone).
#
# Options: --from PATH   install this folder or wheel instead of the clone this script is in
#          --uninstall   remove what an install made
#          -h, --help    this text
# Environment: PYTHON (the python3 to build the venv with), C3DESK_VENV, XDG_DATA_HOME.
set -eu

say() { printf 'c3desk install: %s\n' "$*"; }
fail() { printf 'c3desk install: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
source_path=$(cd "$here/.." && pwd)
action=install
while [ $# -gt 0 ]; do
    case "$1" in
        --from)
            [ $# -ge 2 ] || fail "--from needs a folder or a wheel file"
            source_path=$2
            shift 2
            ;;
        --from=*) source_path=${1#--from=}; shift ;;
        --uninstall) action=uninstall; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
done

[ -n "${HOME:-}" ] || fail "HOME is not set"
venv=${C3DESK_VENV:-$HOME/.local/lib/c3desk/venv}
bin_dir=$HOME/.local/bin
link=$bin_dir/c3desk

if [ "$action" = uninstall ]; then
    if [ -x "$venv/bin/c3desk" ]; then
        "$venv/bin/c3desk" --uninstall-desktop-entry | sed 's/^/  /'
    fi
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$venv/bin/c3desk" ]; then
        rm -f "$link"
        say "removed $link"
    fi
    if [ -d "$venv" ]; then
        rm -rf "$venv"
        say "removed $venv"
        rmdir "$(dirname "$venv")" 2>/dev/null || true
    fi
    say "uninstalled (your sessions and settings stay in ~/.local/share/c3desk)"
    exit 0
fi

# A Python 3.11 or newer that can make a venv.
python=${PYTHON:-}
if [ -z "$python" ]; then
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python=$(command -v "$candidate")
            break
        fi
    done
fi
[ -n "$python" ] || fail "c3desk needs Python 3.11 or newer (python3); install it: sudo apt-get install python3"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    fail "$python is older than Python 3.11, which c3desk needs"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    minor=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    fail "$python cannot create virtual environments (no ensurepip): install python3-venv: sudo apt-get install python3-venv (for this Python: python$minor-venv)"
fi

[ -e "$source_path" ] || fail "nothing to install at $source_path"
if [ -d "$source_path" ] && [ ! -f "$source_path/pyproject.toml" ]; then
    fail "$source_path has no pyproject.toml: not a c3desk source folder"
fi

if [ -x "$venv/bin/python" ]; then
    say "reusing the virtual environment $venv"
else
    say "creating a virtual environment in $venv (with $python)"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" || fail "could not create $venv"
fi

# pip builds a folder in place (build/, *.egg-info): build a clean copy, leave the clone alone.
work=$(mktemp -d "${TMPDIR:-/tmp}/c3desk-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
if [ -d "$source_path" ]; then
    tar -C "$source_path" --exclude=./.git --exclude=./build --exclude=./dist \
        --exclude=./.venv --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache \
        --exclude=./benchmarks --exclude=./tests -cf - . | tar -C "$work" -xf -
    target=$work
else
    target=$(cd "$(dirname "$source_path")" && pwd)/$(basename "$source_path")
fi
say "installing c3desk and its dependencies (PySide6 is large: this takes a minute)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$target" ||
    fail "pip could not install c3desk into $venv (its output is above)"

mkdir -p "$bin_dir"
if [ -e "$link" ] && ! [ -L "$link" ]; then
    fail "$link exists and is not a link c3desk made; move it away and run this again"
fi
ln -sfn "$venv/bin/c3desk" "$link"
say "linked $link -> $venv/bin/c3desk"
say "installed $("$link" --version)"

say "adding the desktop menu entry and icons"
"$link" --install-desktop-entry | sed 's/^/  /'

if "$link" --check-system >/dev/null 2>"$work/check"; then
    say "Qt's system libraries are all there: the window can open"
    libraries_missing=
else
    libraries_missing=yes
fi

case ":${PATH:-}:" in
    *":$bin_dir:"*) start=c3desk ;;
    *)
        start=$link
        say "note: $bin_dir is not on your PATH; start c3desk as $link, or add it to PATH (most"
        say "      distributions add it at your next login once the folder exists)"
        ;;
esac
if [ -n "$libraries_missing" ]; then
    sed 's/^/  /' "$work/check" >&2
    say "c3desk is installed, but its window cannot open until those libraries are installed"
fi
say "done: start it with '$start' or from the desktop menu; remove it with '$0 --uninstall'"
