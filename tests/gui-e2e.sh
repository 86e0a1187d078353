#!/usr/bin/env bash
#
# End-to-end: the GUI's knock path against Debian's knockd (root; network
# namespaces kgui-srv / kgui-cli, 192.0.2.1 <-> 192.0.2.2 on a veth).
#
# `knock-gui --knock-headless NAME` runs exactly what the Knock button runs
# (the app's ThreadKnocker worker with the real sender, its progress model)
# without a window, on a profile from $KNOCK_PROFILES.
#
#   door   7000,8000:udp,9000 -> echo %IP% >> opened-door        (no verify)
#   ssh    7100,7200,7300     -> iptables ACCEPT %IP% to tcp/2222 (verified)
#
# A TCP listener on 192.0.2.1:2222 sits behind a DROP rule until the ssh door
# opens it for the knocker, so "verify" checks a real firewall change.
#
# apt-packages: knockd iptables python3
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces and iptables"
require_cmd knockd iptables python3 timeout
require_bin knock-gui
GUI="$KNOCK_BIN_DIR/knock-gui"

test_tmpdir
T=$TEST_TMP
netns_pair kgui
export KNOCK_PROFILES="$T/profiles.toml"
export XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data"

# ------------------------------------------------------------------ server side

in_srv iptables -A INPUT -i "$IF_SRV" -p tcp --dport 2222 -j DROP
in_srv iptables -A INPUT -i "$IF_SRV" -p tcp --dport 7000:9999 -j DROP
in_srv iptables -A INPUT -i "$IF_SRV" -p udp --dport 7000:9999 -j DROP

# Something to connect to on 2222 once the door is open.
spawn_in "$NS_SRV" "$T/listener.log" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 2222))
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

[door]
    sequence    = 7000,8000:udp,9000
    seq_timeout = 5
    tcpflags    = syn
    command     = echo %IP% >> $T/opened-door

[ssh]
    sequence    = 7100,7200,7300
    seq_timeout = 5
    tcpflags    = syn
    command     = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT
CONF
touch "$T/opened-door"

spawn_in "$NS_SRV" "$T/knockd.out" knockd -c "$T/knockd.conf" -i "$IF_SRV" -v -p "$T/knockd.pid"
show_on_failure "$T/knockd.out" "$T/gui.out"
if ! wait_for_line "$T/knockd.out" 'listening on' 5; then
    check "knockd starts" false
    summary
fi

# ------------------------------------------------------------------ profiles

cat >"$KNOCK_PROFILES" <<CONF
# Profiles for the GUI end-to-end test.
[defaults]
delay_ms = 50

[profiles.door]
host = "$SRV4"
sequence = "7000,8000:udp,9000"

[profiles.ssh]
host = "$SRV4"
sequence = "7100,7200,7300"
open_port = 2222
wait_ms = 3000

[profiles.wrong]
host = "$SRV4"
sequence = "7100,7300,7200"   # wrong order; ends with no attempt in progress
open_port = 2222
wait_ms = 800
CONF

# gui NAME: the headless knock in the client namespace; output in $T/gui.out.
gui() {
    in_cli "$GUI" --knock-headless "$1" >"$T/gui.out" 2>&1
}

# ------------------------------------------------------------------ checks

door_opens() {
    : >"$T/opened-door"
    gui door || {
        echo "knock-gui exited with status $?"
        cat "$T/gui.out"
        return 1
    }
    cat "$T/gui.out"
    grep -qF "Knock 3 of 3: TCP 9000 to $SRV4" "$T/gui.out" || {
        echo "no progress line for the last knock"
        return 1
    }
    wait_for 5 grep -qxF "$CLI4" "$T/opened-door" || {
        echo "the door did not open for $CLI4; knockd said:"
        tail -n 12 "$T/knockd.out"
        return 1
    }
}
check "the GUI worker opens knockd's TCP/UDP door (door opens for $CLI4)" door_opens

wrong_stays_shut() {
    expect_status 6 gui wrong
    cat "$T/gui.out"
    grep -q "did not open" "$T/gui.out"
}
check "a wrong sequence leaves 2222 shut and the worker reports it (exit 6)" wrong_stays_shut

check_not "2222 is still filtered before the right knock" tcp_open "$NS_CLI" "$SRV4" 2222 1

verified() {
    gui ssh || {
        echo "knock-gui exited with status $?"
        cat "$T/gui.out"
        return 1
    }
    cat "$T/gui.out"
    grep -q "^Port 2222 opened after" "$T/gui.out" && grep -qF "Door open on $SRV4" "$T/gui.out"
}
check "the worker knocks the ssh door and verifies port 2222 opened" verified
check "2222 accepts connections from the client now" tcp_open "$NS_CLI" "$SRV4" 2222 2

unknown() {
    expect_status 3 gui nosuchprofile
    cat "$T/gui.out"
}
check "an unknown profile is a config error (exit 3)" unknown

summary
