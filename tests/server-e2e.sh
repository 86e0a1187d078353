#!/bin/bash
# End-to-end test of knock-server with Debian's knock client, as root, in a
# network-namespace pair made by tests/lib/netns.sh (server ksrv-srv
# 192.0.2.1 / 2001:db8::1, client ksrv-cli 192.0.2.2 / 2001:db8::2):
#   - TCP, UDP and IPv6 knocks open doors (commands get %IP%); wrong order does not;
#   - SIGHUP reloads the config; a bad config keeps the running one;
#   - the article's headerless Linux config (iptables -I) opens port 22 for the
#     knocker only, and Cmd_Timeout -> Stop_Command closes it again;
#   - SIGTERM runs pending Stop_Commands before exit (the door closes);
#   - after kill -9, a restart closes doors left open (journal of pending stops);
#   - fail-closed: with the journal on a full filesystem (a 64 KiB tmpfs) a
#     knock does not open the door and each refusal is logged; with room
#     again the next knock opens;
#   - addresses added after start count (IPv4 and IPv6); kernel drops are
#     reported; the interface deleted and made again: capture resumes, and
#     when it stays away the reason reaches the log file before exit.
# Prints "ok"/"not ok" lines and a final "N passed, M failed"; exits non-zero on failure.
# Without root it prints "SKIP: reason" and exits 0. KNOCK_SERVER=PATH tests
# another knock-server binary.
# apt-packages: knockd iptables socat tcpdump
set -u
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces, iptables"
require_cmd iptables knock socat timeout
if [[ -z "${KNOCK_SERVER:-}" ]]; then
    require_bin knock-server
    KNOCK_SERVER=$KNOCK_BIN_DIR/knock-server
fi

test_tmpdir
w=$TEST_TMP
netns_pair ksrv
spid=""

ok() { check "$1" true; }
bad() { check "$1" false; }
has_line() { grep -qxF -- "$2" "$1" 2>/dev/null; }
has_text() { grep -qF -- "$2" "$1" 2>/dev/null; }
not_has_text() { ! grep -qF -- "$2" "$1" 2>/dev/null; }
# count_is N FILE TEXT: FILE has exactly N lines containing TEXT.
count_is() { [ "$(grep -cF -- "$3" "$2" 2>/dev/null)" = "$1" ]; }
count_lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# start_server CONF [ARGS...]: run knock-server in the server namespace,
# wait until it listens.
start_server() {
    local conf=$1; shift
    # A fresh file: the last server's "starting up" line must not count.
    : > "$w/server.out"
    spawn_in "$NS_SRV" "$w/server.out" "$KNOCK_SERVER" -v -c "$conf" -i "${IFACE:-$IF_SRV}" -p "$w/pid" \
        --journal "${JOURNAL:-$w/journal}" "$@"
    spid=$SPAWNED_PID
    wait_for 10 has_text "$w/server.out" "starting up, listening on ${IFACE:-$IF_SRV}"
}
# stop_server: SIGTERM, and fail if the server is still running 10 s later.
stop_server() {
    [ -n "$spid" ] || return 0
    kill -TERM "$spid" 2>/dev/null
    local _
    for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$spid" 2>/dev/null; then kill -9 "$spid"; wait "$spid" 2>/dev/null; spid=""; return 1; fi
    wait "$spid" 2>/dev/null
    spid=""
}
knock_c() { in_cli knock "$@" >/dev/null 2>&1; }
# can_connect: a TCP connection from the client to the server's port 22 succeeds.
can_connect() { in_cli timeout 3 socat -u OPEN:/dev/null "TCP4:$SRV4:22,connect-timeout=1" >/dev/null 2>&1; }
cannot_connect() { ! can_connect; }
# The listing is read whole before grep (grep -q + pipefail + SIGPIPE = false negatives).
rule_for_client() {
    local rules
    rules=$(in_srv iptables -S INPUT) || return 1
    grep -q -- "-s $CLI4/32" <<<"$rules"
}
no_rule_for_client() { ! rule_for_client; }

# ---------------------------------------------------------------- doors
cat > "$w/doors.conf" <<EOF
[options]
    LogFile = $w/doors.log

[tcpDoor]
    Sequence     = 7000,8000,9000
    Seq_Timeout  = 5
    TCPFlags     = syn
    Command      = echo tcp %IP% >> $w/opened
    Command_6    = echo tcp6 %IP% >> $w/opened

[udpDoor]
    sequence = 7001:udp,8001:udp,9001:udp
    command  = echo udp %IP% >> $w/opened

[mixedDoor]
    SEQUENCE = 7002,8002:udp,9002
    COMMAND  = echo mixed %IP% >> $w/opened
EOF
cp "$w/doors.conf" "$w/doors.orig"
tpid=""
if command -v tcpdump >/dev/null 2>&1; then
    spawn_in "$NS_SRV" "$w/tcpdump.out" tcpdump -i "$IF_SRV" -U -w "$w/live.pcap"
    tpid=$SPAWNED_PID
    wait_for 5 test -s "$w/live.pcap"
fi
if start_server "$w/doors.conf"; then
    ok "server starts on a veth with a sectioned config"
    knock_c 192.0.2.1 7000 8000 9000
    check "TCP knock opens the door for the knocker's IPv4 address" wait_for 5 has_line "$w/opened" "tcp 192.0.2.2"
    knock_c -u 192.0.2.1 7001 8001 9001
    check "UDP knock (knock -u) opens a UDP door" wait_for 5 has_line "$w/opened" "udp 192.0.2.2"
    knock_c 192.0.2.1 7002 8002:udp 9002
    check "mixed TCP/UDP sequence opens" wait_for 5 has_line "$w/opened" "mixed 192.0.2.2"
    knock_c -6 2001:db8::1 7000 8000 9000
    check "IPv6 knock runs Command_6 with the IPv6 address" wait_for 5 has_line "$w/opened" "tcp6 2001:db8::2"
    before=$(count_lines "$w/opened")
    knock_c 192.0.2.1 9000 8000 7000
    knock_c 192.0.2.1 7000 9000 8000
    sleep 1
    check "out-of-order knocks open nothing" test "$(count_lines "$w/opened")" = "$before"
    if [ -n "$tpid" ]; then
        sleep 0.3
        kill "$tpid"; wait "$tpid" 2>/dev/null
        # Replaying the capture of the same knocks opens the same doors.
        "$KNOCK_SERVER" -c "$w/doors.orig" --read "$w/live.pcap" --dry-run 2>/dev/null |
            sed -e 's/^dry-run: [A-Za-z]*: //' -e "s| >> $w/opened||" | sort > "$w/replayed"
        sed "s| >> $w/opened||" "$w/opened" | sed 's/^/echo /' | sort > "$w/live-opened"
        check "--read of a live capture opens the same doors as live" cmp -s "$w/replayed" "$w/live-opened"
    fi
    check "log file has knockd's words" has_text "$w/doors.log" "192.0.2.2: tcpDoor: Stage 3"
    check "log file says OPEN SESAME" has_text "$w/doors.log" "192.0.2.2: tcpDoor: OPEN SESAME"
    check "log file says running command" has_text "$w/doors.log" "tcpDoor: running command: echo tcp 192.0.2.2"

    # SIGHUP: a new sequence replaces the old one.
    sed -i 's/= 7000,8000,9000/= 7100,8100,9100/' "$w/doors.conf"
    kill -HUP "$spid"
    check "SIGHUP reloads the config" wait_for 5 has_text "$w/server.out" "config reloaded: 3 door(s)"
    : > "$w/opened"
    knock_c 192.0.2.1 7000 8000 9000
    knock_c 192.0.2.1 7100 8100 9100
    check "after reload the new sequence opens" wait_for 5 has_line "$w/opened" "tcp 192.0.2.2"
    check "after reload the old sequence does not" test "$(count_lines "$w/opened")" = 1
    # A bad config keeps the running one.
    cp "$w/doors.conf" "$w/doors.good"
    echo "    Sequnce = 1" >> "$w/doors.conf"
    kill -HUP "$spid"
    check "bad config on SIGHUP is refused with file:line" wait_for 5 has_text "$w/server.out" "reload failed: $w/doors.conf:"
    : > "$w/opened"
    knock_c 192.0.2.1 7100 8100 9100
    check "after a refused reload the running config still opens" wait_for 5 has_line "$w/opened" "tcp 192.0.2.2"
    check "SIGTERM stops the server" stop_server
else
    bad "server starts on a veth with a sectioned config"
    cat "$w/server.out"
    stop_server
fi

# ---------------------------------------------------------------- -i any
# Linux cooked capture on every interface of the namespace.
: > "$w/opened"
if IFACE=any start_server "$w/doors.good"; then
    knock_c 192.0.2.1 7100 8100 9100
    check "-i any (Linux cooked headers) opens the door" wait_for 5 has_line "$w/opened" "tcp 192.0.2.2"
    knock_c -u -6 2001:db8::1 7001 8001 9001
    check "-i any opens a UDP door over IPv6" wait_for 5 has_line "$w/opened" "udp 2001:db8::2"
    stop_server
else
    bad "server starts with -i any"
    stop_server
fi

# ---------------------------------------------------------------- article config
# The Linux example of the article, headerless, with iptables -I (insert
# before the DROP rule) and a short cmd_timeout.
spawn_in "$NS_SRV" "$w/listener.out" socat TCP4-LISTEN:22,fork,reuseaddr SYSTEM:true
in_srv iptables -A INPUT -p tcp --dport 22 -j DROP
article() {
    cat <<EOF
      logfile = $w/knockd.log

      sequence    = 7000,8000,9000
      seq_timeout = 5
      command     = /sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
      tcpflags    = syn
      cmd_timeout   = $1
      stop_command  = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
EOF
}
article 3 > "$w/article.conf"
if start_server "$w/article.conf"; then
    ok "server accepts the article's headerless config"
    check "headerless config gets a warning naming the line" has_text "$w/server.out" "article.conf:3: warning:"
    check "port 22 is closed before knocking" cannot_connect
    knock_c 192.0.2.1 7000 8000 9000
    check "knock opens port 22 for the knocker" wait_for 5 can_connect
    check "the rule names the knocker's address" rule_for_client
    check "after cmd_timeout the stop command closes port 22" wait_for 10 no_rule_for_client
    check "port 22 is closed again" cannot_connect
    check "log says command timeout" has_text "$w/knockd.log" "192.0.2.2: door1: command timeout"
    stop_server
else
    bad "server accepts the article's headerless config"
    cat "$w/server.out"
    stop_server
fi

# ---------------------------------------------------------------- SIGTERM closes doors
article 600 > "$w/article.conf"
rm -f "$w/journal"
if start_server "$w/article.conf"; then
    knock_c 192.0.2.1 7000 8000 9000
    check "door open (cmd_timeout 600)" wait_for 5 rule_for_client
    check "pending stop is journaled" wait_for 5 has_text "$w/journal" "iptables -D INPUT -s 192.0.2.2"
    check "SIGTERM exits promptly" stop_server
    check "SIGTERM ran the pending stop: rule gone" no_rule_for_client
    check "SIGTERM cleared the journal" test ! -s "$w/journal"
    check "SIGTERM logged the early close" has_text "$w/knockd.log" "192.0.2.2: door1: closing before exit"
else
    bad "server starts for the SIGTERM test"
    stop_server
fi

# ---------------------------------------------------------------- crash and restart
article 6 > "$w/article.conf"
rm -f "$w/journal"
if start_server "$w/article.conf"; then
    knock_c 192.0.2.1 7000 8000 9000
    check "door open before the crash" wait_for 5 rule_for_client
    wait_for 5 has_text "$w/journal" "iptables -D INPUT -s 192.0.2.2" && sleep 0.3
    kill -9 "$spid"; wait "$spid" 2>/dev/null; spid=""
    # Past the Cmd_Timeout of 6 s: nobody is left to run the stop.
    sleep 6.5
    check "after kill -9 the door is still open (nobody closed it)" rule_for_client
    if start_server "$w/article.conf"; then
        check "restart closes the door left open (journal)" wait_for 5 no_rule_for_client
        check "restart logs the stop left by the previous run" has_text "$w/server.out" "stop command left pending by a previous run"
        stop_server
    else
        bad "server restarts after a crash"
    fi
else
    bad "server starts for the crash test"
    stop_server
fi

# ---------------------------------------------------------------- full disk: fail closed
article 600 > "$w/article.conf"
mkdir -p "$w/full"
if mount -t tmpfs -o size=64k knock-e2e-full "$w/full"; then
    on_exit "mountpoint -q '$w/full' && umount '$w/full'"
    # Fill it: the journal file can be created, but no line fits.
    dd if=/dev/zero of="$w/full/filler" bs=4k 2>/dev/null
    : > "$w/knockd.log"
    if JOURNAL=$w/full/journal start_server "$w/article.conf"; then
        knock_c 192.0.2.1 7000 8000 9000
        check "full disk: the refusal names the journal and the reason" \
            wait_for 5 has_text "$w/knockd.log" "192.0.2.2: door1: not opening: cannot write journal $w/full/journal: No space left on device"
        sleep 0.5
        check "full disk: the door stays shut" no_rule_for_client
        check "full disk: Start_Command did not run" not_has_text "$w/knockd.log" "running command: /sbin/iptables -I"
        knock_c 192.0.2.1 7000 8000 9000
        check "full disk: every refusal is logged" wait_for 5 count_is 2 "$w/knockd.log" "not opening: cannot write journal"
        rm -f "$w/full/filler"
        knock_c 192.0.2.1 7000 8000 9000
        check "room again: the next knock opens" wait_for 5 rule_for_client
        check "room again: its stop is journaled" wait_for 5 has_text "$w/full/journal" "iptables -D INPUT -s 192.0.2.2"
        stop_server
        check "room again: SIGTERM closed it" no_rule_for_client
    else
        bad "server starts with its journal on a full filesystem"
        stop_server
    fi
    umount "$w/full"
else
    bad "mount a small tmpfs for the full-disk test"
fi

# ---------------------------------------------------------------- the interface changes
: > "$w/opened"
: > "$w/doors.log"
if start_server "$w/doors.good" --interface-wait 30 --capture-buffer 1; then
    in_srv ip addr add 192.0.2.10/24 dev "$IF_SRV"
    in_srv ip addr add 2001:db8::10/64 dev "$IF_SRV" nodad
    check "a new address is picked up" wait_for 5 has_text "$w/doors.log" "addresses now"
    knock_c 192.0.2.10 7100 8100 9100
    check "a knock to an IPv4 address added after start opens" wait_for 5 has_line "$w/opened" "tcp 192.0.2.2"
    knock_c -6 2001:db8::10 7100 8100 9100
    check "a knock to an IPv6 address added after start opens" wait_for 5 has_line "$w/opened" "tcp6 2001:db8::2"

    # Kernel drops: the server stopped while a bounded burst arrives.
    kill -STOP "$spid"
    in_cli bash -c 'for i in $(seq 20000); do echo -n x > /dev/udp/192.0.2.1/7001; done' 2>/dev/null
    kill -CONT "$spid"
    check "packets dropped by the kernel are reported" wait_for 6 has_text "$w/doors.log" "dropped by the kernel (capture buffer of 1 MiB full)"

    in_srv ip link del "$IF_SRV"
    check "a vanished interface is logged with the reason" wait_for 5 has_text "$w/doors.log" "capture on $IF_SRV failed:"
    check "... and that the server waits for it" has_text "$w/doors.log" "waiting up to 30s for it to come back"
    netns_relink
    check "the interface back: capture resumes" wait_for 15 has_text "$w/doors.log" "$IF_SRV is back: capturing again"
    : > "$w/opened"
    knock_c 192.0.2.1 7100 8100 9100
    check "the interface back: knocks open again" wait_for 5 has_line "$w/opened" "tcp 192.0.2.2"
    stop_server
    check "the exit summary counts the drops" grep -qE "capture: [0-9]+ packets received, [1-9][0-9]* dropped" "$w/doors.log"

    if start_server "$w/doors.good" --interface-wait 1; then
        in_srv ip link del "$IF_SRV"
        check "an interface gone for good: the server exits" wait_for 10 sh -c "! kill -0 $spid 2>/dev/null"
        wait "$spid" 2>/dev/null
        check "... with a failure status" test $? -ne 0
        spid=""
        check "... and says why in the log file" has_text "$w/doors.log" "did not come back within 1s"
        netns_relink
    else
        bad "server starts for the interface-gone test"
    fi
else
    bad "server starts for the interface tests"
    stop_server
fi

summary
