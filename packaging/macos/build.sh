#!/usr/bin/env bash
# macOS recipe (NOT TESTED: it cannot run on the Linux machines this project is built on).
# Builds dist/c3desk.app (PyInstaller, --windowed variant of packaging/c3desk.spec) and
# dist/c3desk-<version>-macos-<arch>.dmg. Run on a Mac with Python 3.11+, from the repo root:
#   python3 -m pip install -e . -r packaging/requirements.txt
#   packaging/macos/build.sh
# Signing and notarizing: set CODESIGN_IDENTITY (a "Developer ID Application: ..." identity in
# the keychain) and NOTARY_PROFILE (a profile stored with `xcrun notarytool store-credentials`).
set -euo pipefail
cd "$(dirname "$0")/../.."

version="$(python3 -c 'import sys; sys.path.insert(0, "."); import c3desk; print(c3desk.__version__)')"
arch="$(uname -m)"

# The app icon: an .icns made from the PNGs in resources/icons/hicolor (16…512, @2x from the
# next size up).
iconset="build/macos/c3desk.iconset"
rm -rf "$iconset" && mkdir -p "$iconset"
for size in 16 32 128 256 512; do
  cp "resources/icons/hicolor/${size}x${size}/apps/c3desk.png" "$iconset/icon_${size}x${size}.png"
  double=$((size * 2))
  if [[ -f "resources/icons/hicolor/${double}x${double}/apps/c3desk.png" ]]; then
    cp "resources/icons/hicolor/${double}x${double}/apps/c3desk.png" "$iconset/icon_${size}x${size}@2x.png"
  fi
done
iconutil -c icns "$iconset" -o resources/icons/c3desk.icns

# The .app: the same spec, windowed (no terminal window), with a BUNDLE step (see the spec).
C3DESK_WINDOWED=1 C3DESK_VERSION="$version" python3 -m PyInstaller --noconfirm --clean \
  --distpath dist --workpath build/pyinstaller-macos packaging/c3desk.spec
app="dist/c3desk.app"
"$app/Contents/MacOS/c3desk" --version

if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
  # Hardened runtime is required for notarization; sign inside-out with --deep.
  codesign --force --deep --options runtime --timestamp \
    --sign "$CODESIGN_IDENTITY" "$app"
  codesign --verify --deep --strict --verbose=2 "$app"
fi

dmg="dist/c3desk-${version}-macos-${arch}.dmg"
stage="build/macos/dmg"
rm -rf "$stage" "$dmg" && mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
hdiutil create -volname "c3desk $version" -srcfolder "$stage" -ov -format UDZO "$dmg"

if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
  codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$dmg"
fi
if [[ -n "${NOTARY_PROFILE:-}" ]]; then
  xcrun notarytool submit "$dmg" --keychain-profile "$NOTARY_PROFILE" --wait
  xcrun stapler staple "$dmg"
fi
echo "built $dmg"
