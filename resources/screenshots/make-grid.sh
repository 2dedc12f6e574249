#!/bin/bash
# Regenerates resources/screenshots/grid-3x3.png (scratch data under ${TMPDIR:-/tmp}/c3shot/grid)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
OUT=${1:-${TMPDIR:-/tmp}/c3shot/grid-3x3.png}
S=${TMPDIR:-/tmp}/c3shot/grid
rm -rf "$S"; mkdir -p "$S"/claude-config /tmp/demo
export C3DESK_HOME="$S/data" CLAUDE_CONFIG_DIR="$S/claude-config"
# spinners without the "esc to interrupt" hint, which would wrap in a 40-column tile
export FAKE_CLAUDE_SPINNER=bare
# Turns begin with `think 1.2` and print enough that the welcome box and the echoed prompt scroll
# out of the tile.
# working directories
for d in parser docs ci webapp deps metrics release auth later; do rm -rf /tmp/demo/$d; mkdir -p /tmp/demo/$d; done
mkdir -p /tmp/demo/webapp/src && printf ':root {\n  --bg: #ffffff;\n}\n' > /tmp/demo/webapp/src/theme.css
c3desk settings set claude_command "$REPO/tests/fakes/claude"
# Scratch sessions: they end with the screenshot (hosted ones would outlive it).
c3desk settings set persistent_sessions never
c3desk settings set max_concurrent_sessions 9
c3desk settings set max_visible_sessions 9
c3desk settings set grid_layout 3x3
# the local worker's session limit (default 2)
LOCAL=$(c3desk worker list --json | python3 -c 'import json, sys; print(next(w["name"] for w in json.load(sys.stdin) if w["type"] == "local"))')
c3desk worker set "$LOCAL" --max-sessions 9 >/dev/null
E=$'\e' N=$'\n'  # the fake wraps say text at any character: long replies get their own line breaks
add() { c3desk add --title "$1" --dir "/tmp/demo/$2" --prompt "$3" >/dev/null; }
add "Profile parser"       parser  "flood 5M 20K"
add "Tidy README"          docs    "think 1.2; say Rewrote the intro, fixed 4 broken${N}links and added an install section${N}for uv.; say Checked the README examples:; say ${E}[32m✔ 12 ok${E}[39m · ${E}[33m▲ 1 warn${E}[39m · ${E}[31m✘ 0 fail${E}[39m"
add "Migrate CI"           ci      "think 1.2; say Found two CI configs in the repo.; question Which CI runner should we use? | GitHub Actions | GitLab CI | Buildkite"
add "Add dark mode"        webapp  "think 1.2; say Adding a dark palette to the theme.; edit src/theme.css   --bg: #1e1e2e;"
add "Upgrade deps"         deps    "think 1.2; say Bumping 14 packages:${N}pytest 8.3, ruff 0.8, numpy 2.1${N}and PySide6 6.8.; say Lock file first, then the tests.; think 600"
add "Plot latency"         metrics "think 1.2; write latency.png; write report.pdf; say Saved latency.png and report.pdf${N}(p99 latency per endpoint)."
add "Translate UI"         release "think 1.2; say Translated the greeting:; say ${E}[1m日本語${E}[22m こんにちは、世界; say ${E}[1m中文${E}[22m 你好，世界; say ${E}[1m한국어${E}[22m 안녕하세요 🎉"
add "Fix nav bug"          webapp  "think 1.2; say The nav bar overlaps the header below 600px.; ask npm test -- nav"
add "Refactor auth module" auth    "think 1.2; say Splitting auth.py into tokens.py,${N}sessions.py and a thin facade${N}(auth/__init__.py).; say Next: updating 23 imports.; think 600"
add "Queued later"         later   "say later"
cd "$REPO"
xvfb-run -a -s "-screen 0 1920x1200x24" c3desk --screenshot "$OUT"
