#!/usr/bin/env bash
#
# Screenshot of knock-gui under Xvfb (software GL), on a copy of the sample
# profile file. Nothing is knocked: the app only opens and shows a profile.
#
#   tests/gui-screenshot.sh [OUT.png]      default: target/gui-screenshot.png
#
# Environment: KNOCK_BIN_DIR (default target/debug; falls back to
# target/release), KNOCK_GUI_SIZE (default 1280x800), KNOCK_GUI_WAIT
# (seconds to let the first frames render, default 4).
# Skips (exit 0, "SKIP: ...") when Xvfb or ImageMagick's import is missing.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$REPO/target/gui-screenshot.png}
SIZE=${KNOCK_GUI_SIZE:-1280x800}
WAIT=${KNOCK_GUI_WAIT:-4}
DISPLAY_NUM=${KNOCK_GUI_DISPLAY:-99}

for cmd in Xvfb import; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "SKIP: gui-screenshot.sh: $cmd is not installed (apt-get install xvfb imagemagick)"
        exit 0
    fi
done

BIN=
for dir in "${KNOCK_BIN_DIR:-}" "$REPO/target/debug" "$REPO/target/release"; do
    [[ -n "$dir" ]] || continue
    [[ "$dir" == /* ]] || dir="$REPO/$dir"
    if [[ -x "$dir/knock-gui" ]]; then
        BIN="$dir/knock-gui"
        break
    fi
done
if [[ -z "$BIN" ]]; then
    echo "SKIP: gui-screenshot.sh: knock-gui is not built (cargo build -p knock-gui)"
    exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/knock-gui-shot.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf -- "$TMP"
}
trap cleanup EXIT

# The sample file, so the window shows real-looking profiles; a temp copy,
# so nothing the app might write reaches the repository.
cp "$REPO/assets/profiles.toml" "$TMP/profiles.toml"
export KNOCK_PROFILES="$TMP/profiles.toml"
# eframe keeps window size and selection here; start fresh every time.
export XDG_DATA_HOME="$TMP/data" XDG_CONFIG_HOME="$TMP/config" HOME="$TMP/home"
mkdir -p "$HOME"

Xvfb ":$DISPLAY_NUM" -screen 0 "${SIZE}x24" -nolisten tcp >"$TMP/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 50); do
    [[ -e "/tmp/.X11-unix/X$DISPLAY_NUM" ]] && break
    sleep 0.1
done

export LIBGL_ALWAYS_SOFTWARE=1 WINIT_UNIX_BACKEND=x11
unset WAYLAND_DISPLAY
"$BIN" >"$TMP/app.log" 2>&1 &
APP=$!
PIDS+=("$APP")

# Wait for the window to be mapped, then for a few frames.
for _ in $(seq 100); do
    if ! kill -0 "$APP" 2>/dev/null; then
        echo "knock-gui exited early:" >&2
        cat "$TMP/app.log" >&2
        exit 1
    fi
    if command -v xwininfo >/dev/null 2>&1; then
        xwininfo -root -tree 2>/dev/null | grep -q '"knock"' && break
    else
        break
    fi
    sleep 0.1
done
sleep "$WAIT"

mkdir -p "$(dirname "$OUT")"
import -display "$DISPLAY" -window root "$TMP/root.png"
# The window sits at the top left of the bare X screen: cut the empty rest.
convert "$TMP/root.png" -fuzz 2% -trim +repage "$OUT"

passed=0 failed=0
if kill -0 "$APP" 2>/dev/null; then
    echo "ok - knock-gui is running after ${WAIT}s"
    passed=$((passed + 1))
else
    echo "not ok - knock-gui exited:"
    sed 's/^/#   | /' "$TMP/app.log"
    failed=$((failed + 1))
fi
# A window that rendered has many colours; a black or blank screen has one.
colours=$(convert "$OUT" -format '%k' info:)
if ((colours > 50)); then
    echo "ok - the window rendered ($colours colours, $(identify -format '%wx%h' "$OUT"))"
    passed=$((passed + 1))
else
    echo "not ok - the screenshot looks blank ($colours colours)"
    failed=$((failed + 1))
fi
echo "# screenshot: $OUT"
echo "$passed passed, $failed failed"
((failed == 0))
