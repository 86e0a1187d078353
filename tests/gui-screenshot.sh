#!/usr/bin/env bash
#
# Screenshot of knock-gui under Xvfb (software GL) on a sample profile file.
#
#   tests/gui-screenshot.sh [OUT.png]      default: target/gui-screenshot.png
#
# As root (with knockd, iptables, python3): the app runs in the client
# namespace of a kgui-shot-srv / kgui-shot-cli pair (192.0.2.2 -> 192.0.2.1),
# Enter is pressed through XTEST, and the picture shows a real knock on
# Debian's knockd: each knock, then port 22 opening. Otherwise the app just
# opens on the sample file and nothing is knocked.
#
# Environment: KNOCK_BIN_DIR (default target/debug; falls back to
# target/release), KNOCK_GUI_SIZE (screen, default 1280x800), KNOCK_GUI_WAIT
# (seconds for the first frames, default 4), KNOCK_GUI_DISPLAY (default 99).
# Skips ("SKIP: ...") when Xvfb, ImageMagick or the binary is missing.
#
# apt-packages: xvfb imagemagick x11-utils libxtst6 knockd iptables python3
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

OUT=${1:-$KNOCK_REPO/target/gui-screenshot.png}
[[ "$OUT" == /* ]] || OUT="$PWD/$OUT"
SIZE=${KNOCK_GUI_SIZE:-1280x800}
WAIT=${KNOCK_GUI_WAIT:-4}
DISPLAY_NUM=${KNOCK_GUI_DISPLAY:-99}

require_cmd Xvfb import convert identify
GUI=
for dir in "$KNOCK_BIN_DIR" "$KNOCK_REPO/target/debug" "$KNOCK_REPO/target/release"; do
    if [[ -x "$dir/knock-gui" ]]; then
        GUI="$dir/knock-gui"
        break
    fi
done
[[ -n "$GUI" ]] || skip "knock-gui is not built (cargo build -p knock-gui)"

LIVE=0
if [[ "$(id -u)" -eq 0 ]] && command -v ip >/dev/null && command -v knockd >/dev/null &&
    command -v iptables >/dev/null && command -v python3 >/dev/null &&
    python3 -c 'import ctypes; ctypes.CDLL("libXtst.so.6")' 2>/dev/null; then
    LIVE=1
fi

test_tmpdir
T=$TEST_TMP
# eframe keeps window size and selection under these; start fresh every time.
export XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" HOME="$T/home"
mkdir -p "$HOME"
export KNOCK_PROFILES="$T/profiles.toml"

# The sample: the first profile (selected at start) is the door knockd guards
# in live mode.
cat >"$KNOCK_PROFILES" <<'EOF'
# knock profiles, shared by `knock` and `knock-gui`.

[defaults]
delay_ms = 100          # pause between knocks
user = "admin"

# The jump host. knockd opens ssh for 30 s after the knock.
[profiles.bastion]
host = "192.0.2.1"
sequence = "7000,8000:udp,9000"
open_port = 22          # wait until ssh answers
wait_ms = 3000
retries = 1
close_sequence = "9000,8000:udp,7000"

[profiles.nas]
host = "nas.example.org"
sequence = "12345:udp,23456:udp,34567"
open_port = 22

[profiles.lab6]
host = "2001:db8::10"
sequence = "1111,2222,3333"
family = "ipv6"
launch = "putty"

[profiles.web-admin]
host = "192.0.2.80"
sequence = "4000,5000,6000"
open_port = 8443
launch = "none"
EOF

# ------------------------------------------------------------------ live door

if ((LIVE)); then
    netns_pair kgui-shot
    in_srv iptables -A INPUT -i "$IF_SRV" -p tcp --dport 22 -j DROP
    in_srv iptables -A INPUT -i "$IF_SRV" -p tcp --dport 7000:9999 -j DROP
    in_srv iptables -A INPUT -i "$IF_SRV" -p udp --dport 7000:9999 -j DROP
    spawn_in "$NS_SRV" "$T/listener.log" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 22))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.close()
'
    wait_for_line "$T/listener.log" listening 5
    cat >"$T/knockd.conf" <<CONF
[options]
    LogFile = $T/knockd.log
[ssh]
    sequence    = 7000,8000:udp,9000
    seq_timeout = 5
    tcpflags    = syn
    command     = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
CONF
    spawn_in "$NS_SRV" "$T/knockd.out" knockd -c "$T/knockd.conf" -i "$IF_SRV" -v -p "$T/knockd.pid"
    wait_for_line "$T/knockd.out" 'listening on' 5 || LIVE=0
fi

# ------------------------------------------------------------------ X + app

Xvfb ":$DISPLAY_NUM" -screen 0 "${SIZE}x24" -nolisten tcp >"$T/xvfb.log" 2>&1 &
XVFB=$!
on_exit "kill $XVFB 2>/dev/null; wait $XVFB 2>/dev/null"
export DISPLAY=":$DISPLAY_NUM"
wait_for 5 test -e "/tmp/.X11-unix/X$DISPLAY_NUM" || skip "Xvfb did not start"

export LIBGL_ALWAYS_SOFTWARE=1 WINIT_UNIX_BACKEND=x11
unset WAYLAND_DISPLAY
if ((LIVE)); then
    spawn_in "$NS_CLI" "$T/app.log" "$GUI"
else
    "$GUI" >"$T/app.log" 2>&1 &
    SPAWNED_PID=$!
    on_exit "kill $SPAWNED_PID 2>/dev/null"
fi
APP=$SPAWNED_PID

window_up() {
    local tree
    tree=$(xwininfo -root -tree 2>/dev/null) && grep -q '"knock"' <<<"$tree"
}
if command -v xwininfo >/dev/null; then
    wait_for 20 window_up || note "no window named knock after 20 s"
fi
sleep "$WAIT"

# Press a key through XTEST (the pointer rests on an empty spot of the
# window, which gets the keyboard since there is no window manager).
press() { # press KEYSYM_HEX
    local win
    win=$(xwininfo -root -tree 2>/dev/null | awk '/"knock"/ {print $1; exit}')
    python3 - "$1" "${win:-0}" <<'PY'
import ctypes, sys
x = ctypes.CDLL("libX11.so.6")
t = ctypes.CDLL("libXtst.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XFlush.argtypes = [ctypes.c_void_p]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]
t.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
t.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
d = x.XOpenDisplay(None)
if not d:
    sys.exit("cannot open the display")
x.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
win = int(sys.argv[2], 16)
t.XTestFakeMotionEvent(d, -1, 1020, 560, 0)
if win:
    x.XSetInputFocus(d, win, 2, 0)  # RevertToParent, CurrentTime
    x.XFlush(d)
code = x.XKeysymToKeycode(d, int(sys.argv[1], 16))
t.XTestFakeKeyEvent(d, code, 1, 0)
t.XTestFakeKeyEvent(d, code, 0, 30)
x.XFlush(d)
x.XCloseDisplay(d)
PY
}

passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

if ((LIVE)); then
    press ff0d # Return: knock the selected profile
    if wait_for 8 grep -q 'ssh: OPEN SESAME' "$T/knockd.out"; then
        ok "Enter in the window knocked knockd's door open"
    else
        not_ok "Enter in the window did not open knockd's door"
        sed 's/^/#   | /' "$T/knockd.out"
    fi
    sleep 2 # the verify result and a few frames
fi

import -display "$DISPLAY" -window root "$T/root.png"
# The window sits at the top left of the bare X screen: cut the empty rest.
convert "$T/root.png" -fuzz 2% -trim +repage "$OUT"

if kill -0 "$APP" 2>/dev/null; then
    ok "knock-gui is running"
else
    not_ok "knock-gui exited:"
    sed 's/^/#   | /' "$T/app.log"
fi
# A window that rendered has many colours; a blank screen has one.
colours=$(convert "$OUT" -format '%k' info:)
if ((colours > 50)); then
    ok "the window rendered ($colours colours, $(identify -format '%wx%h' "$OUT"))"
else
    not_ok "the screenshot looks blank ($colours colours)"
fi
note "screenshot: $OUT"
echo "$passed passed, $failed failed"
((failed == 0))
