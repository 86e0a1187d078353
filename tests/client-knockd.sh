#!/usr/bin/env bash
#
# End-to-end: our `knock` CLI against Debian's knockd (root; network namespaces).
#
# Server namespace: knockd on veth-srv with these doors (sectioned config:
# Debian's knockd refuses the article's headerless form), knock ports filtered
# by iptables/ip6tables like a real server, and an sshd behind a DROP rule that
# the "ssh" door opens per source address.
#
#   tcp    7000,8000,9000            -> echo %IP% >> opened-tcp
#   udp    7001:udp,8001:udp,9001:udp -> echo %IP% >> opened-udp
#   mixed  7002,8002:udp,9002        -> echo %IP% >> opened-mixed
#   ssh    7100,7200,7300            -> iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
#
# knockd 0.8 (Debian 12) tracks IPv6 too and falls back from Start_Command_6 to
# Start_Command, so the IPv6 checks read the door's result file as well
# (it gets 2001:db8::2), and a capture shows what went over the wire.
#
# KNOCK_CLIENT=/usr/bin/knock runs the knock(1)-compatible checks with another
# client (Debian's knock) to test this script itself.
#
# apt-packages: knockd iptables tcpdump openssh-server openssh-client
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces, pcap and iptables"
require_cmd knockd iptables ip6tables tcpdump ssh-keygen sshd timeout
if [[ -n "${KNOCK_CLIENT:-}" ]]; then
    KNOCK=$KNOCK_CLIENT
else
    require_bin knock
    KNOCK="$KNOCK_BIN_DIR/knock"
fi

test_tmpdir
T=$TEST_TMP
netns_pair kcli
LAB=knock-lab.example
netns_hosts "$NS_CLI" "$SRV6 $LAB" "$SRV4 $LAB"

# Never read the real user's profile file.
export KNOCK_PROFILES="$T/profiles.toml"
export XDG_CONFIG_HOME="$T/config"

# ------------------------------------------------------------------ server side

start_sshd "$NS_SRV" "$T/sshd" "$SRV4" 22

srv_drop iptables 22
srv_drop ip6tables 22

{
    printf '[options]\n    LogFile = %s\n\n' "$T/knockd.log"
    doors_conf "$T"
    echo
    ssh_door_conf ssh 7100,7200,7300 22
} >"$T/knockd.conf"

spawn_in "$NS_SRV" "$T/knockd.out" knockd -c "$T/knockd.conf" -i "$IF_SRV" -v -p "$T/knockd.pid"
show_on_failure "$T/knockd.out" "$T/sshd/sshd.log"
if ! wait_for_line "$T/knockd.out" 'listening on' 5; then
    check "knockd starts" false
    cat "$T/knockd.out"
    summary
fi

# A capture of what the client puts on the wire during the first checks.
spawn_in "$NS_SRV" "$T/tcpdump.out" tcpdump -i "$IF_SRV" -nn -U -w "$T/knocks.pcap" \
    "src host $CLI4 and dst host $SRV4 and (tcp or udp) and dst portrange 7000-9999"
TCPDUMP_PID=$SPAWNED_PID
wait_for_line "$T/tcpdump.out" 'listening on' 5 || note "tcpdump did not report listening"

# ------------------------------------------------------------------ helpers

# opens DOOR IP KNOCK_ARGS...: the knock exits 0 and knockd runs DOOR's command
# for IP within 5 s.
opens() {
    local door=$1 ip=$2
    shift 2
    : >"$T/opened-$door"
    in_cli "$KNOCK" "$@" || {
        echo "knock exited with status $?"
        return 1
    }
    if ! wait_for 5 grep -qxF "$ip" "$T/opened-$door"; then
        echo "door '$door' did not open for $ip within 5 s; knockd said:"
        tail -n 12 "$T/knockd.out"
        return 1
    fi
    echo "door '$door' opened for: $(tr '\n' ' ' <"$T/opened-$door")"
}

stage1_seen_more() { # IP DOOR COUNT: knockd logged more than COUNT "Stage 1" for IP on DOOR
    [[ "$(grep -c "^$1: $2: Stage 1" "$T/knockd.out" || true)" -gt "$3" ]]
}

# stays_shut DOOR IP KNOCK_ARGS...: the knock is sent (knockd logs Stage 1 for
# IP on DOOR), yet the door does not open within 1.5 s.
stays_shut() {
    local door=$1 ip=$2
    shift 2
    : >"$T/opened-$door"
    local before
    before=$(grep -c "^$ip: $door: Stage 1" "$T/knockd.out" || true)
    in_cli "$KNOCK" "$@" || {
        echo "knock exited with status $?"
        return 1
    }
    if ! wait_for 5 stage1_seen_more "$ip" "$door" "$before"; then
        echo "knockd never saw the knocks from $ip (no new 'Stage 1' on $door)"
        return 1
    fi
    if wait_for 1.5 test -s "$T/opened-$door"; then
        echo "door '$door' opened although it should not have:"
        tail -n 12 "$T/knockd.out"
        return 1
    fi
}

# ------------------------------------------------------------------ knock(1) form

KNOCKED_AT=$SECONDS
check_doors "knock $SRV4:"

# The capture: exactly one packet per knock, SYN for TCP, 1-byte datagrams for
# UDP. Give a lingering socket time to retransmit (first SYN retry is at 1 s).
while ((SECONDS - KNOCKED_AT < 2)); do sleep 0.2; done
stop_pid "$TCPDUMP_PID"
count_pkts() { tcpdump -nn -r "$T/knocks.pcap" "$@" 2>/dev/null | wc -l; }
# wire_once PROTO EACH ALL PORT...: every PORT saw exactly one
# "PROTO dst port PORT EACH" packet, and "ALL" matches one packet a PORT.
wire_once() {
    local proto=$1 each=$2 all=$3 p n ports
    shift 3
    for p in "$@"; do
        n=$(count_pkts "$proto dst port $p $each")
        echo "$proto/$p $each: $n packet(s)"
        [[ "$n" -eq 1 ]] || return 1
    done
    ports=$(printf ' or dst port %s' "$@")
    n=$(count_pkts "$all and (${ports# or })")
    echo "$all: $n"
    [[ "$n" -eq $# ]]
}
wire_tcp() { wire_once tcp "" "tcp[tcpflags] == tcp-syn" 7000 8000 9000; }
wire_udp() { wire_once udp "and udp[4:2] == 9" udp 7001 8001 9001; }
check "one TCP SYN per knock on the wire, no retransmission" wire_tcp
check "one 1-byte UDP datagram per knock on the wire" wire_udp

check "wrong order (8000 7000 9000) does not open" \
    stays_shut tcp "$CLI4" "$SRV4" 8000 7000 9000

# ------------------------------------------------------------------ IPv6 / families

check "knock -6 $SRV6 7000 8000 9000 knocks over IPv6 (door opens for $CLI6)" \
    opens tcp "$CLI6" -6 "$SRV6" 7000 8000 9000
check "knock -u $SRV6 7001 8001 9001 opens the UDP door over IPv6" \
    opens udp "$CLI6" -u "$SRV6" 7001 8001 9001
check "knock -4 $LAB (a dual-stack name) knocks IPv4 only" \
    opens tcp "$CLI4" -4 "$LAB" 7000 8000 9000
check "knock -6 $LAB (a dual-stack name) knocks IPv6 only" \
    opens tcp "$CLI6" -6 "$LAB" 7000 8000 9000
# With no family the client must resolve once and send all knocks to one
# address: a sequence split over both families would open nothing.
any_family() {
    : >"$T/opened-tcp"
    in_cli "$KNOCK" "$LAB" 7000 8000 9000 || return 1
    wait_for 5 test -s "$T/opened-tcp" || {
        echo "door did not open"
        return 1
    }
    echo "opened for: $(tr '\n' ' ' <"$T/opened-tcp")"
    [[ "$(wc -l <"$T/opened-tcp")" -eq 1 ]]
}
check "knock $LAB (any family) sends the whole sequence to one address" any_family

if [[ -n "${KNOCK_CLIENT:-}" ]]; then
    note "KNOCK_CLIENT=$KNOCK_CLIENT: skipping the profile checks (our knock only)"
    summary
    exit
fi

# ------------------------------------------------------------------ profiles

cat >"$T/profiles.toml" <<EOF
# profiles for tests/client-knockd.sh
[defaults]
delay_ms = 20
launch = "none"

[profiles.lab]
host = "$SRV4"
sequence = "7000,8000,9000"

[profiles.lab6]
host = "$LAB"
sequence = "7002,8002:udp,9002"
family = "ipv6"

[profiles.sshlab]
host = "$SRV4"
sequence = "7100,7200,7300"
open_port = 22
wait_ms = 3000

# Wrong order. It must not end on 7100: knockd would keep that as "Stage 1"
# and then drop the correct 7100 that follows (no restart on a first knock).
[profiles.sshlab-wrong]
host = "$SRV4"
sequence = "7200,7100,7300"
open_port = 22
wait_ms = 1000
EOF
# A second file, only reachable with --profiles.
cat >"$T/other.toml" <<EOF
[profiles.lab-udp]
host = "$SRV4"
sequence = "7001:udp,8001:udp,9001:udp"
launch = "none"
EOF

check "knock lab (profile from \$KNOCK_PROFILES) opens the TCP door" \
    opens tcp "$CLI4" lab
check "knock --profiles FILE lab-udp opens the UDP door" \
    opens udp "$CLI4" --profiles "$T/other.toml" lab-udp
check "knock lab6 (family = \"ipv6\") knocks the mixed door over IPv6" \
    opens mixed "$CLI6" lab6

check_not "before knocking, port 22 is filtered" tcp_open "$NS_CLI" "$SRV4" 22 1
check "knock sshlab-wrong exits 6 (verify failed: port 22 stays shut)" \
    expect_status 6 in_cli "$KNOCK" sshlab-wrong
check_not "after the wrong knock, port 22 is still filtered" tcp_open "$NS_CLI" "$SRV4" 22 1
check "knock sshlab exits 0 once port 22 accepts (verify)" \
    in_cli "$KNOCK" sshlab
check "after knock sshlab, port 22 accepts connections" tcp_open "$NS_CLI" "$SRV4" 22 2
check "knockd opened port 22 for $CLI4 only" \
    in_srv bash -c "iptables -S INPUT | grep -- '-A INPUT -s $CLI4/32 -p tcp -m tcp --dport 22 -j ACCEPT'"

# ------------------------------------------------------------------ errors

check "an unresolvable host exits 4 and sends nothing" \
    expect_status 4 in_cli "$KNOCK" no-such-host.invalid 7000 8000 9000
check "a bad port exits 2 (usage)" \
    expect_status 2 in_cli "$KNOCK" "$SRV4" 7000 70000

summary
