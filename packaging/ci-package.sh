#!/usr/bin/env bash
# CI step for the installers (.ci/run calls it after the tests; runs as root on Debian):
# builds the bundle, the .deb and the tarball (packaging/build.sh), runs the bundle's --version
# and --self-test, installs the .deb with apt-get (which proves its Depends), runs the installed
# /usr/bin/c3desk --self-test, removes the package, and reports sizes, the build time and the
# bundle's start-up time to the window beside the pip install's.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
step_started=$(date +%s)

# Tools of the build: the validators of the menu entry and the metainfo, strip, and Xvfb for the
# start-up figures (.ci/run installs most; a machine running this alone gets them here).
TOOLS=(appstream desktop-file-utils binutils xvfb xauth libx11-6)
missing=()
for pkg in "${TOOLS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
# apt-get install ./the.deb resolves its Depends from the package lists: have them.
apt-get update -qq
if ((${#missing[@]})); then
  echo "== apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== pip install -r packaging/requirements.txt (PyInstaller, pinned)"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  -r packaging/requirements.txt

echo "== packaging/build.sh"
build_started=$(date +%s)
rm -rf dist build/pyinstaller build/packaging
packaging/build.sh
build_s=$(($(date +%s) - build_started))

version="$(python3 -c 'import sys; sys.path.insert(0, "."); import c3desk; print(c3desk.__version__)')"
arch="$(dpkg --print-architecture)"
deb="dist/c3desk_${version}_${arch}.deb"
tarball="dist/c3desk-${version}-linux-$(uname -m).tar.gz"
for artifact in dist/c3desk/c3desk "$deb" "$tarball"; do
  [[ -e "$artifact" ]] || { echo "packaging/build.sh did not make $artifact" >&2; exit 1; }
done

export QT_QPA_PLATFORM=offscreen
echo "== the bundle: dist/c3desk/c3desk --version, --self-test"
says="$(dist/c3desk/c3desk --version)"
[[ "$says" == "c3desk $version" ]] || { echo "the bundle says '$says'" >&2; exit 1; }
dist/c3desk/c3desk --self-test

echo "== the tarball unpacks to a bundle that runs"
unpacked="$(mktemp -d)"
tar -xzf "$tarball" -C "$unpacked"
"$unpacked/c3desk-$version/c3desk" --version
rm -rf "$unpacked"

echo "== apt-get install ./$deb"
installed_by_us=0
cleanup() {
  if ((installed_by_us)); then
    echo "== apt-get remove c3desk"
    apt-get remove -y -qq c3desk >/dev/null
  fi
}
trap cleanup EXIT
apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
installed_by_us=1
# /usr/bin/c3desk explicitly: the editable pip install's c3desk may come first on PATH.
echo "== installed: /usr/bin/c3desk --version, --self-test"
says="$(/usr/bin/c3desk --version)"
[[ "$says" == "c3desk $version" ]] || { echo "/usr/bin/c3desk says '$says'" >&2; exit 1; }
/usr/bin/c3desk --self-test
dpkg -L c3desk | grep -qx /usr/share/applications/c3desk.desktop
dpkg -L c3desk | grep -qx /usr/share/icons/hicolor/512x512/apps/c3desk.png
cleanup
installed_by_us=0

echo "== start-up to the window: the bundle beside the pip install"
unset QT_QPA_PLATFORM
python3 benchmarks/startup_bundle.py --bundle dist/c3desk/c3desk --repeat 3

echo "== installers"
echo "   bundle   dist/c3desk/  $(du -sh dist/c3desk | cut -f1)"
echo "   deb      $deb  $(du -h "$deb" | cut -f1)"
echo "   tarball  $tarball  $(du -h "$tarball" | cut -f1)"
echo "   build time ${build_s} s; this whole step $(($(date +%s) - step_started)) s"
