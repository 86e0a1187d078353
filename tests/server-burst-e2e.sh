#!/usr/bin/env bash
#
# End-to-end (root; network namespaces kburst-srv / kburst-cli): a burst of
# 5,000 knockers at knock-server. Their knocks are spoofed (198.19.0.0/16,
# from knock-server's genflood example) and replayed into the veth with
# tcpreplay; each knocker completes the door's sequence once.
#
#   - every knocker's Start_Command runs (the door opens for all 5,000),
#     in spite of the 64-command limit: opens wait for a free slot;
#   - every start gets its stop: Stop_Command runs for all 5,000 after
#     Cmd_Timeout;
#   - no open is dropped, refused or lost on the way, and the log says so;
#   - a SIGHUP in the middle of the burst loses no open;
#   - the exit summary counts what ran: 5000 opened, 10000 commands.
#
#   kburst-srv  veth-srv  192.0.2.1   knock-server
#   kburst-cli  veth-cli  192.0.2.2   tcpreplay of the burst
#
# Environment: KNOCK_BURST=N knockers (default 5000, at most 65536),
# KNOCK_BURST_PPS=R packets per second (default 5000).
#
# apt-packages: tcpreplay
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

BURST=${KNOCK_BURST:-5000}
PPS=${KNOCK_BURST_PPS:-5000}

require_root "network namespaces and pcap"
require_cmd tcpreplay timeout
require_bin knock-server examples/genflood

test_tmpdir
T=$TEST_TMP
netns_pair kburst

cat >"$T/knockd.conf" <<EOF
[burst]
    sequence      = 7000,8000,9000
    seq_timeout   = 5
    tcpflags      = syn
    start_command = echo %IP% >> $T/opened
    cmd_timeout   = 5
    stop_command  = echo %IP% >> $T/closed
EOF
touch "$T/opened" "$T/closed"

check "the burst capture is written ($BURST spoofed knockers)" \
    "$KNOCK_BIN_DIR/examples/genflood" "$T/burst.pcap" 0 1 "$BURST" 7000,8000,9000 --spoofed-knockers

SERVER_OUT=$T/server.out
spawn_in "$NS_SRV" "$SERVER_OUT" "$KNOCK_BIN_DIR/knock-server" \
    -c "$T/knockd.conf" -i "$IF_SRV" -v --journal "$T/journal"
SERVER_PID=$SPAWNED_PID
show_on_failure "$SERVER_OUT"
check "knock-server starts" wait_for_line "$SERVER_OUT" 'listening on' 10

# unique_lines FILE N: FILE has N lines, all different.
unique_lines() {
    local all uniq
    all=$(wc -l <"$1")
    uniq=$(sort -u "$1" | wc -l)
    echo "$1: $all lines, $uniq different (want $2)"
    [[ "$all" -eq "$2" && "$uniq" -eq "$2" ]]
}
# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() { [[ "$(wc -l <"$1")" -ge "$2" ]]; }

# A reload in the middle of the burst: opens waiting for the worker survive it.
in_cli timeout 120 tcpreplay -q --pps="$PPS" -i "$IF_CLI" "$T/burst.pcap" >"$T/tcpreplay.out" 2>&1 &
REPLAY_PID=$!
wait_for 60 lines_at_least "$T/opened" $((BURST / 3)) || true
kill -HUP "$SERVER_PID"
check "tcpreplay sends the burst" wait "$REPLAY_PID"
check "SIGHUP during the burst reloads the config" \
    wait_for_line "$SERVER_OUT" 'config reloaded: 1 door' 10

check "every knocker's Start_Command runs" \
    wait_for 120 unique_lines "$T/opened" "$BURST"
check "every start gets its stop (Stop_Command after Cmd_Timeout)" \
    wait_for 120 unique_lines "$T/closed" "$BURST"
check "the stopped addresses are the opened ones" \
    cmp -s <(sort "$T/opened") <(sort "$T/closed")
check_not "no open is dropped, refused or lost" \
    grep -E 'not running|refused|lost|still waiting' "$SERVER_OUT"
check "opens beyond the command slots are said to wait" \
    grep -E '^[0-9]+ open\(s\) waiting for a command slot' "$SERVER_OUT"

check "SIGTERM stops the server" stop_pid "$SERVER_PID"
note "$(grep -m1 '^capture:' "$SERVER_OUT" || true)"
summary_says() {
    grep -F "$BURST opened, $((2 * BURST)) commands (0 failed, 0 killed)" "$SERVER_OUT" &&
        grep -F "0 opens refused" "$SERVER_OUT" &&
        grep -F "0 opens not run" "$SERVER_OUT" &&
        grep -F "0 opens lost" "$SERVER_OUT"
}
check "the summary says what ran: $BURST opened, $((2 * BURST)) commands" summary_says

summary
