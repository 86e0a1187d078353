#!/usr/bin/env bash
#
# End-to-end interop matrix (root; network namespaces kinter-srv / kinter-cli):
#
#                       our knock-server      Debian knockd
#   our knock                  x                    x
#   Debian /usr/bin/knock      x                    x
#
# Both servers read the same sectioned knockd.conf (Debian's knockd refuses the
# headerless form); every door's command appends %IP% to a file, which the
# test polls. For each of the four pairs: a TCP door, a UDP door (-u), a mixed
# TCP/UDP door and the TCP door over IPv6 must open for the client's address,
# and the TCP door knocked in the wrong order must stay shut (the server logs
# the knocks, so it did see them).
#
#   kinter-srv  veth-srv  192.0.2.1  2001:db8::1   the server under test
#   kinter-cli  veth-cli  192.0.2.2  2001:db8::2   the client under test
#
# apt-packages: knockd iptables
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

DEBIAN_KNOCK=${KINTER_DEBIAN_KNOCK:-/usr/bin/knock}

require_root "network namespaces and pcap"
require_cmd knockd iptables ip6tables timeout
require_bin knock knock-server
if [[ ! -x "$DEBIAN_KNOCK" ]]; then
    skip "Debian's knock client is not installed at $DEBIAN_KNOCK (apt-get install knockd)"
fi

test_tmpdir
T=$TEST_TMP
netns_pair kinter

# Never read the real user's profile file.
export KNOCK_PROFILES="$T/profiles.toml"
export XDG_CONFIG_HOME="$T/config"

srv_drop iptables
srv_drop ip6tables

# One config for both servers.
{
    printf '[options]\n    # Logs go to stdout (-v) for both servers.\n\n'
    doors_conf "$T"
} >"$T/knockd.conf"

check "knock-server --check accepts the shared config" \
    "$KNOCK_BIN_DIR/knock-server" --check -c "$T/knockd.conf"

# ------------------------------------------------------------------ servers

SERVER_PID=
SERVER_OUT=

start_server() { # start_server knock-server|knockd
    SERVER_OUT="$T/$1.out"
    case $1 in
    knock-server)
        spawn_in "$NS_SRV" "$SERVER_OUT" "$KNOCK_BIN_DIR/knock-server" \
            -c "$T/knockd.conf" -i "$IF_SRV" -v --journal "$T/journal"
        ;;
    knockd)
        spawn_in "$NS_SRV" "$SERVER_OUT" knockd \
            -c "$T/knockd.conf" -i "$IF_SRV" -v -p "$T/knockd.pid"
        ;;
    esac
    SERVER_PID=$SPAWNED_PID
    wait_listening "$1" "$SERVER_OUT"
}

stop_server() {
    [[ -n "$SERVER_PID" ]] && stop_pid "$SERVER_PID"
    SERVER_PID=
}

# ------------------------------------------------------------------ checks

CLIENT=

# opens DOOR IP KNOCK_ARGS...: the client exits 0 and the server runs DOOR's
# command for IP (and only for IP) within 5 s.
opens() {
    local door=$1 ip=$2
    shift 2
    : >"$T/opened-$door"
    echo "client\$ $CLIENT $*"
    in_cli timeout 10 "$CLIENT" "$@" || {
        echo "the client exited with status $?"
        return 1
    }
    if ! wait_for 5 grep -qxF "$ip" "$T/opened-$door"; then
        echo "door '$door' did not open for $ip within 5 s; opened for: $(tr '\n' ' ' <"$T/opened-$door")"
        echo "the server said:"
        tail -n 8 "$SERVER_OUT"
        return 1
    fi
    if [[ "$(wc -l <"$T/opened-$door")" -ne 1 ]]; then
        echo "door '$door' opened more than once: $(tr '\n' ' ' <"$T/opened-$door")"
        return 1
    fi
}

stage1_count() { # IP DOOR
    local n
    n=$(grep -c "^$1: $2: Stage 1" "$SERVER_OUT") || true
    echo "${n:-0}"
}
stage1_seen_more() { (($(stage1_count "$1" "$2") > $3)); }

# stays_shut DOOR IP KNOCK_ARGS...: the knocks reach the server (a new
# "Stage 1" for IP on DOOR), yet the door does not open within 1.5 s.
stays_shut() {
    local door=$1 ip=$2
    shift 2
    : >"$T/opened-$door"
    local before
    before=$(stage1_count "$ip" "$door")
    echo "client\$ $CLIENT $*"
    in_cli timeout 10 "$CLIENT" "$@" || {
        echo "the client exited with status $?"
        return 1
    }
    if ! wait_for 5 stage1_seen_more "$ip" "$door" "$before"; then
        echo "the server never saw the knocks from $ip (no new '$ip: $door: Stage 1')"
        tail -n 8 "$SERVER_OUT"
        return 1
    fi
    if wait_for 1.5 test -s "$T/opened-$door"; then
        echo "door '$door' opened although it should not have:"
        tail -n 8 "$SERVER_OUT"
        return 1
    fi
}

# ------------------------------------------------------------------ the matrix

declare -A PAIR_RESULT=()

for server in knock-server knockd; do
    if ! start_server "$server"; then
        check "$server starts" false
        for client in knock debian-knock; do PAIR_RESULT[$client,$server]="FAIL"; done
        stop_server
        continue
    fi
    for client in knock debian-knock; do
        if [[ $client == knock ]]; then CLIENT="$KNOCK_BIN_DIR/knock"; else CLIENT=$DEBIAN_KNOCK; fi
        tag="[$client -> $server]"
        failed_before=$CHECKS_FAILED
        check_doors "$tag"
        check "$tag IPv6: -6 $SRV6 7000 8000 9000 opens for $CLI6" \
            opens tcp "$CLI6" -6 "$SRV6" 7000 8000 9000
        check "$tag wrong order (8000 7000 9000) stays shut" \
            stays_shut tcp "$CLI4" "$SRV4" 8000 7000 9000
        if ((CHECKS_FAILED == failed_before)); then
            PAIR_RESULT[$client,$server]="ok"
        else
            PAIR_RESULT[$client,$server]="FAIL"
        fi
    done
    stop_server
done

note "matrix (client -> server):"
note "$(printf '%-14s %-14s %-14s' '' knock-server knockd)"
for client in knock debian-knock; do
    note "$(printf '%-14s %-14s %-14s' "$client" "${PAIR_RESULT[$client,knock-server]:-?}" "${PAIR_RESULT[$client,knockd]:-?}")"
done

summary
