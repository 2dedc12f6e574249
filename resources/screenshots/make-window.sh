#!/bin/bash
# Regenerates resources/screenshots/window.png (scratch data under ${TMPDIR:-/tmp}/c3shot/window)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
OUT=${1:-${TMPDIR:-/tmp}/c3shot/window.png}
S=${TMPDIR:-/tmp}/c3shot/window
rm -rf "$S"; mkdir -p "$S"/claude-config /tmp/shot
export C3DESK_HOME="$S/data" CLAUDE_CONFIG_DIR="$S/claude-config"
# Turns begin with `think 1.2`: what they print comes after every tile has its final size.
for d in api webapp; do rm -rf /tmp/shot/$d; mkdir -p /tmp/shot/$d; done
c3desk settings set claude_command "$REPO/tests/fakes/claude"
# Scratch sessions: they end with the screenshot (hosted ones would outlive it).
c3desk settings set persistent_sessions never
c3desk settings set max_concurrent_sessions 4
c3desk settings set max_visible_sessions 4
c3desk settings set grid_layout auto
# the local worker's session limit (default 2)
LOCAL=$(c3desk worker list --json | python3 -c 'import json, sys; print(next(w["name"] for w in json.load(sys.stdin) if w["type"] == "local"))')
c3desk worker set "$LOCAL" --max-sessions 4 >/dev/null
E=$'\e'  # replies stay under a tile's width: the fake wraps at any character, even inside an escape
add() { c3desk add --title "$1" --dir "/tmp/shot/$2" --prompt "$3" "${@:4}" >/dev/null; }
add "Refactor auth module" api "think 1.2; say Splitting auth.py into tokens.py and sessions.py.; think 600" --lock
add "Write release notes" api "think 1.2; say Drafted the notes for 2.4: three sections, 14 entries.; say ${E}[32m✔ 12 fixes${E}[39m · ${E}[36m✚ 2 features${E}[39m · ${E}[33m⚠ 2 breaking changes${E}[39m"
add "Plot p99 latency" api "think 1.2; write latency.png; write report.pdf; say Saved latency.png and report.pdf (p99 per endpoint)."
add "Fix nav overlap on mobile" webapp "think 1.2; say The nav bar overlaps the header below 600px.; ask npm test -- nav"
add "Upgrade dependencies"      api    "think 600"
add "Add dark mode toggle"      webapp "think 600"
cd "$REPO"
xvfb-run -a -s "-screen 0 1920x1200x24" c3desk --screenshot "$OUT"
