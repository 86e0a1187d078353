#!/usr/bin/env bash
#
# End-to-end: the Windows release as a Windows user gets it, under Wine (root;
# network namespaces kwn-srv / kwn-cli, 192.0.2.1 <-> 192.0.2.2 on a veth).
#
#   - dist/ (release.sh windows, or $KNOCK_DIST) matches its SHA256SUMS and the
#     zip holds what it should;
#   - knock-VERSION-windows-setup.exe /S installs into a fresh WINEPREFIX
#     exactly: Program Files\knock (knock.exe, knock-gui.exe, README.md,
#     profiles.example.toml, uninstall.exe) and the Start-menu shortcut; plus
#     the Add/Remove Programs entry and knock.exe's folder on PATH;
#   - the installed knock.exe opens knock-server's doors: TCP, UDP, and a
#     profile it saved itself in %APPDATA% (verified: port 2222 opened);
#   - knock-gui.exe under Xvfb: without OpenGL it says why in a message box;
#     with it, a click on a profile and on Knock opens that door, and Knock &
#     connect on a `launch = "putty"` profile starts a fake putty.exe with
#     exactly `-ssh admin@192.0.2.1 -P 2223`;
#   - uninstall.exe /S removes all the installer put there (files, shortcut,
#     registry, PATH entry) and keeps the user's profile file.
# Screenshots are kept in target/test-logs/windows-*.png.
#
# Wine 8.0 lacks bcryptprimitives.dll (ProcessPrng), which Rust's standard
# library needs: the test builds a stand-in (tests/windows/bcryptprimitives.c)
# into the prefix's system32. It is never part of a release artifact.
#
# Network safety: Wine opens sockets in the wineserver, so the wineserver is
# started inside the client namespace before any other wine command, every
# wine command runs inside it, and it is stopped at the end.
#
# Environment: KNOCK_DIST=DIR (take the artifacts there instead of running
# release.sh windows), KNOCK_WINE_DISPLAY (the Xvfb display number, default
# 58), KNOCK_BIN_DIR (knock-server), KNOCK_KEEP_TMP=1.
#
# apt-packages: wine wine64 gcc-mingw-w64-x86-64 nsis zip unzip xvfb xdotool imagemagick x11-utils iptables python3
# shellcheck disable=SC2016 # single-quoted commands for bash -c and wait_for, expanded there
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces, iptables and a wineserver inside one"
require_cmd wine wineserver x86_64-w64-mingw32-gcc Xvfb xdpyinfo xdotool import convert unzip \
    iptables python3 timeout sha256sum
require_bin knock-server
SERVER="$KNOCK_BIN_DIR/knock-server"
DISPLAY_NUM=${KNOCK_WINE_DISPLAY:-58}
LOGS="$KNOCK_REPO/target/test-logs"
mkdir -p "$LOGS"
VERSION=$(awk '/^\[workspace\.package\]/ { p = 1; next } /^\[/ { p = 0 }
    p && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' "$KNOCK_REPO/Cargo.toml")

test_tmpdir
T=$TEST_TMP
show_on_failure "$T/server.out" "$T/listener.log"
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
T0=$EPOCHREALTIME

# ------------------------------------------------------------------ artifacts

if [[ -n "${KNOCK_DIST:-}" ]]; then
    DIST=$KNOCK_DIST
    note "taking the artifacts in $DIST"
else
    DIST="$KNOCK_REPO/dist"
    note "building the artifacts: release.sh windows"
    t=$EPOCHREALTIME
    "$KNOCK_REPO/release.sh" windows >"$T/release.log" 2>&1 || {
        tail -n 40 "$T/release.log"
        check "release.sh windows builds the artifacts" false
        summary
    }
    note "release.sh windows: $(elapsed "$t") s"
fi
ZIP="$DIST/knock-$VERSION-x86_64-pc-windows-gnu.zip"
SETUP="$DIST/knock-$VERSION-windows-setup.exe"
[[ -f "$ZIP" && -f "$SETUP" ]] || skip "no knock $VERSION artifacts in $DIST (./release.sh windows)"

check "the artifacts match SHA256SUMS" bash -c 'cd "$1" && sha256sum --strict -c SHA256SUMS' _ "$DIST"

zip_contents() {
    local want got f
    want=$(for f in "" README.md knock-gui.exe knock.exe profiles.example.toml; do
        echo "knock-$VERSION-x86_64-pc-windows-gnu/$f"
    done | LC_ALL=C sort)
    got=$(unzip -Z1 "$ZIP" | LC_ALL=C sort)
    [[ "$got" == "$want" ]] || {
        diff <(echo "$want") <(echo "$got")
        return 1
    }
}
check "the zip holds knock.exe, knock-gui.exe, README.md, profiles.example.toml (no stand-in DLL)" zip_contents

# ------------------------------------------------------------------ helpers for Windows

# The fake putty.exe and the ProcessPrng stand-in, built for the test only.
build_helpers() {
    x86_64-w64-mingw32-gcc -Wall -O2 -s -shared -o "$T/bcryptprimitives.dll" \
        "$KNOCK_REPO/tests/windows/bcryptprimitives.c" -ladvapi32 &&
        x86_64-w64-mingw32-gcc -Wall -O2 -s -mwindows -o "$T/putty.exe" \
            "$KNOCK_REPO/tests/windows/fake-putty.c" -lshell32
}
if ! build_helpers; then
    check "the test's Windows helpers build (mingw gcc)" false
    summary
fi

# ------------------------------------------------------------------ network and server

netns_pair kwn
IPT=$(command -v iptables)
for port in 2222 2223 7000:9999; do
    in_srv "$IPT" -A INPUT -i "$IF_SRV" -p tcp --dport "$port" -j DROP
done
in_srv "$IPT" -A INPUT -i "$IF_SRV" -p udp --dport 7000:9999 -j DROP

# Something to connect to on 2222 (knock.exe's profile) and 2223 (PuTTY's),
# each behind the DROP until its door opens. Like sshd it greets and keeps
# the connection until the client closes it.
spawn_in "$NS_SRV" "$T/listener.log" python3 -c '
import selectors, socket
sel = selectors.DefaultSelector()
for port in (2222, 2223):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("192.0.2.1", port))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ, "listen")
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        if key.data == "listen":
            c, _ = key.fileobj.accept()
            c.sendall(b"SSH-2.0-knock-test\r\n")
            sel.register(c, selectors.EVENT_READ, "conn")
        else:
            try:
                data = key.fileobj.recv(4096)
            except OSError:  # reset by a client that did not read the greeting
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()
'
wait_for_line "$T/listener.log" listening 5

touch "$T/opened"
cat >"$T/knock-server.conf" <<CONF
[options]
    LogFile = $T/server.log

[tcp]
    sequence    = 7000,8000,9000
    seq_timeout = 5
    tcpflags    = syn
    command     = echo tcp %IP% >> $T/opened

[udp]
    sequence    = 7100:udp,7200:udp,7300:udp
    seq_timeout = 5
    command     = echo udp %IP% >> $T/opened

[cli]
    sequence    = 7400,7500:udp,7600
    seq_timeout = 5
    tcpflags    = syn
    command     = $IPT -I INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT

[gui]
    sequence    = 7700,7800:udp,7900
    seq_timeout = 5
    command     = echo gui %IP% >> $T/opened

[putty]
    sequence    = 8100,8200,8300
    seq_timeout = 5
    tcpflags    = syn
    command     = $IPT -I INPUT -s %IP% -p tcp --dport 2223 -j ACCEPT
CONF
spawn_in "$NS_SRV" "$T/server.out" "$SERVER" -c "$T/knock-server.conf" -i "$IF_SRV" -v
if ! wait_for_line "$T/server.out" 'listening on' 5; then
    check "knock-server starts" false
    summary
fi

# door_opened WHAT: knock-server ran WHAT's command for the client's address.
door_opened() {
    wait_for 5 grep -qxF "$1 $CLI4" "$T/opened" || {
        echo "no '$1 $CLI4' in the doors' log; knock-server said:"
        tail -n 15 "$T/server.out"
        return 1
    }
}

# ------------------------------------------------------------------ X display

XVFB_PID=
# start_x [XVFB_ARGS...]: a fresh Xvfb on :58 (stopping the one before).
start_x() {
    stop_x
    Xvfb ":$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp "$@" >"$T/xvfb.log" 2>&1 &
    XVFB_PID=$!
    wait_for 5 xdpyinfo -display ":$DISPLAY_NUM" || {
        echo "Xvfb :$DISPLAY_NUM did not start"
        cat "$T/xvfb.log"
        return 1
    }
}
stop_x() {
    [[ -n "$XVFB_PID" ]] || return 0
    kill "$XVFB_PID" 2>/dev/null || true
    wait "$XVFB_PID" 2>/dev/null || true
    XVFB_PID=
}
on_exit stop_x
export DISPLAY=":$DISPLAY_NUM"

# shot NAME: the screen, trimmed, kept as target/test-logs/windows-NAME.png.
shot() {
    import -display "$DISPLAY" -window root "$T/root.png" &&
        convert "$T/root.png" -fuzz 2% -trim +repage "$LOGS/windows-$1.png" &&
        note "screenshot: ${LOGS#"$KNOCK_REPO"/}/windows-$1.png"
}

# window_id TITLE: the X window whose name is exactly TITLE.
window_id() {
    xdotool search --name "^$1\$" 2>/dev/null | head -n 1
}

# ------------------------------------------------------------------ Wine

export WINEPREFIX="$T/wine" WINEARCH=win64 WINEDEBUG=-all HOME="$T/home"
export XDG_CONFIG_HOME="$T/home/.config" XDG_DATA_HOME="$T/home/.local/share" XDG_CACHE_HOME="$T/home/.cache"
# No Mono / Gecko downloads, no menu entries or file associations on the host.
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
mkdir -p "$WINEPREFIX" "$HOME"
C="$WINEPREFIX/drive_c"

# The wineserver lives in the client namespace: every socket of every wine
# process is opened there. Started before any other wine command.
if [[ -n "${_KNOCK_LOCK_FD:-}" ]]; then
    in_cli wineserver -p {_KNOCK_LOCK_FD}>&- # the daemon must not hold the namespaces' lock
else
    in_cli wineserver -p
fi
on_exit 'in_cli wineserver -k 2>/dev/null || true'

# w CMD...: a wine command in the client namespace (time-limited).
w() {
    in_cli timeout -k 5 180 wine "$@" </dev/null
}

# reg_value KEY NAME: one registry value's data (empty if there is none).
reg_value() {
    w reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' |
        awk -v n="$2" '$1 == n && $2 ~ /^REG_/ { sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+/, ""); print; exit }'
}
reg_has_key() {
    w reg query "$1" >/dev/null 2>&1
}

ENV_KEY='HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
UNINST_KEY='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\knock'

t=$EPOCHREALTIME
start_x
if ! w wineboot -i >"$T/wineboot.log" 2>&1; then
    cat "$T/wineboot.log"
    check "a fresh WINEPREFIX starts (wineboot -i)" false
    summary
fi
note "wineboot -i: $(elapsed "$t") s"
cp "$T/bcryptprimitives.dll" "$C/windows/system32/bcryptprimitives.dll"

# The prefix's files outside C:\windows and the users' temp folders.
snapshot() {
    (cd "$C" && find . -mindepth 1 \( -path ./windows -o -path './users/*/Temp' \
        -o -path './users/*/AppData/Local/Temp' \) -prune -o -print | LC_ALL=C sort)
}

# ------------------------------------------------------------------ install

PATH_BEFORE=$(reg_value "$ENV_KEY" Path)
snapshot >"$T/before.txt"

check "setup.exe /S installs silently (exit 0)" w "$SETUP" /S

PF="$C/Program Files/knock"
SHORTCUT="$C/ProgramData/Microsoft/Windows/Start Menu/Programs/knock.lnk"
snapshot >"$T/after-install.txt"
LC_ALL=C comm -13 "$T/before.txt" "$T/after-install.txt" >"$T/installed.txt"

installed_exactly() {
    local want
    want=$(printf '%s\n' "./Program Files/knock" \
        "./Program Files/knock/README.md" "./Program Files/knock/knock-gui.exe" \
        "./Program Files/knock/knock.exe" "./Program Files/knock/profiles.example.toml" \
        "./Program Files/knock/uninstall.exe" \
        "./ProgramData/Microsoft/Windows/Start Menu/Programs/knock.lnk" | LC_ALL=C sort)
    diff <(echo "$want") "$T/installed.txt" || {
        echo "(- expected, + installed)"
        return 1
    }
}
check "it installs Program Files\\knock and the Start-menu shortcut, nothing else" installed_exactly

same_as_zip() {
    local exe
    for exe in knock.exe knock-gui.exe; do
        cmp <(unzip -p "$ZIP" "knock-$VERSION-x86_64-pc-windows-gnu/$exe") "$PF/$exe" || return 1
    done
}
check "the installed exes are the zip's" same_as_zip

shortcut_to_gui() {
    # A .lnk keeps the target's path (partly as UTF-16); NULs out, it reads as text.
    tr -d '\0' <"$SHORTCUT" | grep -aqF 'knock-gui.exe'
}
check "the Start-menu shortcut starts knock-gui.exe" shortcut_to_gui

uninstall_entry() {
    local name version uninst
    name=$(reg_value "$UNINST_KEY" DisplayName)
    version=$(reg_value "$UNINST_KEY" DisplayVersion)
    uninst=$(reg_value "$UNINST_KEY" UninstallString)
    echo "DisplayName=$name DisplayVersion=$version UninstallString=$uninst"
    [[ "$name" == knock && "$version" == "$VERSION" &&
        "$uninst" == '"C:\Program Files\knock\uninstall.exe"' ]] &&
        [[ "$(reg_value "$UNINST_KEY" DisplayIcon)" == 'C:\Program Files\knock\knock-gui.exe,0' ]]
}
check "Add/Remove Programs lists knock $VERSION with its icon and uninstaller" uninstall_entry

on_path() {
    local path
    path=$(reg_value "$ENV_KEY" Path)
    echo "PATH=$path"
    [[ "$path" == "$PATH_BEFORE;C:\\Program Files\\knock" ]] || return 1
    w cmd /c 'knock --version' | tr -d '\r' | grep -qxF "knock $VERSION"
}
check "knock.exe is on PATH (cmd /c knock --version)" on_path

reinstall() {
    w "$SETUP" /S || return 1
    snapshot >"$T/after-reinstall.txt"
    diff "$T/after-install.txt" "$T/after-reinstall.txt" || return 1
    local path
    path=$(reg_value "$ENV_KEY" Path)
    echo "PATH=$path"
    [[ "$path" == "$PATH_BEFORE;C:\\Program Files\\knock" ]]
}
check "installing again over it changes nothing (PATH has the folder once)" reinstall

# ------------------------------------------------------------------ knock.exe

KNOCK='C:\Program Files\knock\knock.exe'
tcp_knock() { w "$KNOCK" "$SRV4" 7000 8000 9000 && door_opened tcp; }
udp_knock() { w "$KNOCK" -u "$SRV4" 7100 7200 7300 && door_opened udp; }
check "knock.exe $SRV4 7000 8000 9000 opens the TCP door" tcp_knock
check "knock.exe -u $SRV4 7100 7200 7300 opens the UDP door" udp_knock

check_not "port 2222 is shut before the profile's knock" tcp_open "$NS_CLI" "$SRV4" 2222 1

APPDATA_DIR=$(find "$C/users" -mindepth 3 -maxdepth 3 -path '*/AppData/Roaming' ! -path '*/Public/*' | head -n 1)
PROFILES="$APPDATA_DIR/knock/config/profiles.toml"
save_profiles() {
    w "$KNOCK" --save cli "$SRV4" 7400,7500:udp,7600 --open-port 2222 --wait 3000 &&
        w "$KNOCK" --save gui "$SRV4" 7700,7800:udp,7900 --launch none &&
        w "$KNOCK" --save putty "$SRV4" 8100,8200,8300 --open-port 2223 --wait 3000 \
            --launch putty --user admin --ssh-port 2223 &&
        test -f "$PROFILES" &&
        [[ "$(w "$KNOCK" --list | tr -d '\r' | awk '{ print $1 }' | tr '\n' ' ')" == "cli gui putty " ]]
}
check "knock.exe --save writes %APPDATA%\\knock\\config\\profiles.toml and --list shows it" save_profiles

profile_knock() {
    w "$KNOCK" cli || {
        echo "knock.exe cli exited with $?"
        return 1
    }
    tcp_open "$NS_CLI" "$SRV4" 2222 2
}
check "knock.exe cli knocks the profile and waits until port 2222 opened (exit 0)" profile_knock

# ------------------------------------------------------------------ knock-gui.exe without OpenGL

GUI='C:\Program Files\knock\knock-gui.exe'

# An X server without GLX: Wine's opengl32 then has no pixel format, as on a
# Windows machine without a graphics driver.
no_opengl_box() {
    start_x -extension GLX || return 1
    in_cli wine "$GUI" >"$T/gui-no-gl.log" 2>&1 </dev/null &
    local pid=$! box
    wait_for '[[ -n "$(window_id "knock-gui could not start")" ]]' 60 || {
        echo "no message box within 60 s; knock-gui said:"
        cat "$T/gui-no-gl.log"
        kill "$pid" 2>/dev/null
        return 1
    }
    sleep 1
    shot no-opengl
    box=$(window_id "knock-gui could not start")
    xdotool key --window "$box" Return
    local rc=0
    wait_for "! kill -0 $pid" 20 || kill "$pid" 2>/dev/null
    wait "$pid" || rc=$?
    cat "$T/gui-no-gl.log"
    ((rc == 1)) || {
        echo "exit status $rc after OK, wanted 1"
        return 1
    }
    grep -q '^knock-gui: cannot open the window: .*glutin' "$T/gui-no-gl.log"
}
check "knock-gui.exe without OpenGL says why in a message box, exits 1 after OK" no_opengl_box

# ------------------------------------------------------------------ knock-gui.exe

mkdir -p "$C/Program Files/PuTTY"
cp "$T/putty.exe" "$C/Program Files/PuTTY/putty.exe"
export KNOCK_FAKE_PUTTY_OUT='C:\putty-argv.txt'
PUTTY_OUT="$C/putty-argv.txt"

# Where things are in the window (its default 1120x780, scale 1 under Wine),
# relative to its top left corner: the profile rows of the list below
# "Quick knock", and the Knock / Knock & connect buttons at the bottom.
GEOMETRY=1120x780
ROW_X=60 ROW0_Y=199 ROW_STEP=50
KNOCK_X=340 CONNECT_X=479 BUTTONS_Y=703
GUI_WIN=
GUI_PID=

gui_up() {
    start_x || return 1
    spawn_in "$NS_CLI" "$T/gui.log" wine "$GUI"
    GUI_PID=$SPAWNED_PID
    wait_for '[[ -n "$(window_id knock)" ]]' 60 || {
        echo "no window named knock within 60 s; knock-gui said:"
        cat "$T/gui.log"
        return 1
    }
    GUI_WIN=$(window_id knock)
    sleep 3 # the first frames
    local geometry
    geometry=$(xdotool getwindowgeometry "$GUI_WIN" | awk '/Geometry:/ { print $2 }')
    echo "window $GUI_WIN, $geometry"
    [[ "$geometry" == "$GEOMETRY" ]] || {
        echo "the window is $geometry, not the $GEOMETRY the click positions are for"
        return 1
    }
}
check "knock-gui.exe opens its window" gui_up

click() { # click X Y: a left click at X,Y of the window
    xdotool mousemove --window "$GUI_WIN" "$1" "$2" click 1
    sleep 0.5
}

# selected ROW: the row's background is the selection's blue.
selected() {
    local y=$((ROW0_Y + $1 * ROW_STEP)) r b
    import -display "$DISPLAY" -window "$GUI_WIN" "$T/sel.png" || return 1
    read -r r b < <(convert "$T/sel.png" -crop "1x1+200+$y" -format '%[fx:int(255*r)] %[fx:int(255*b)]' info:)
    echo "row $1 at y=$y: red $r, blue $b"
    ((b > 200 && b - r > 50))
}

gui_knock() {
    [[ -n "$GUI_WIN" ]] || return 1
    click "$ROW_X" $((ROW0_Y + 1 * ROW_STEP)) # gui, the second profile
    selected 1 || {
        shot click-missed
        echo "the click did not select the profile 'gui' (layout changed?)"
        return 1
    }
    click "$KNOCK_X" "$BUTTONS_Y"
    door_opened gui || return 1
    sleep 1 # the progress view
    shot knock
}
check "a click on the profile 'gui' and on Knock opens its door" gui_knock

gui_connect() {
    [[ -n "$GUI_WIN" ]] || return 1
    rm -f "$PUTTY_OUT"
    click "$ROW_X" $((ROW0_Y + 2 * ROW_STEP)) # putty, the third
    selected 2 || {
        shot click-missed
        echo "the click did not select the profile 'putty' (layout changed?)"
        return 1
    }
    click "$CONNECT_X" "$BUTTONS_Y"
    wait_for 20 test -s "$PUTTY_OUT" || {
        shot connect-failed
        echo "putty.exe was not started; knock-gui said:"
        cat "$T/gui.log"
        return 1
    }
    sleep 1
    shot connect
    local want got
    want=$(printf '%s\n' -ssh "admin@$SRV4" -P 2223)
    got=$(tr -d '\r' <"$PUTTY_OUT")
    echo "putty.exe got: $(tr '\n' ' ' <<<"$got")"
    [[ "$got" == "$want" ]] && tcp_open "$NS_CLI" "$SRV4" 2223 2
}
check "Knock & connect on a launch = \"putty\" profile starts putty.exe -ssh admin@$SRV4 -P 2223" gui_connect

[[ -n "$GUI_PID" ]] && stop_pid "$GUI_PID"
stop_x

# ------------------------------------------------------------------ uninstall

uninstall() {
    w 'C:\Program Files\knock\uninstall.exe' /S || return 1
    # The uninstaller runs on from a copy in %TEMP%: wait for it to finish.
    wait_for '! test -e "$PF" && ! reg_has_key "$UNINST_KEY"' 60 || {
        echo "Program Files\\knock or the uninstall entry is still there after 60 s"
        return 1
    }
}
check "uninstall.exe /S runs" uninstall

all_gone() {
    local left=0 f
    while read -r f; do
        if [[ -e "$C/$f" ]]; then
            echo "still there: $f"
            left=1
        fi
    done <"$T/installed.txt"
    ((left == 0)) || return 1
    ! reg_has_key "$UNINST_KEY" && ! reg_has_key 'HKLM\Software\knock'
}
check "the uninstaller removes every file and registry key the installer made" all_gone

path_restored() {
    local path
    path=$(reg_value "$ENV_KEY" Path)
    echo "PATH=$path"
    [[ "$path" == "$PATH_BEFORE" ]]
}
check "PATH is as before the install" path_restored
check "the user's profile file stays" grep -q '^\[profiles\.putty\]' "$PROFILES"

note "windows-e2e: $(elapsed "$T0") s"
summary
