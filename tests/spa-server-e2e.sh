#!/usr/bin/env bash
#
# End-to-end: the real fwknop client (Debian's fwknop-client 2.6.10) against
# knock-server's SPA door, as root, in network namespaces kspa-srv (192.0.2.1)
# and kspa-cli (192.0.2.2). The door reads an fwknopd access.conf whose keys
# `fwknop --key-gen` made; its commands insert and delete an iptables ACCEPT
# rule for %IP% %PROTO% %PORT% in the server namespace and note each in a file.
#
# Checked:
#   - `fwknop -A tcp/22 -a 192.0.2.2` opens: the rule for 192.0.2.2 tcp/22 is
#     in INPUT and the log says OPEN SESAME; after FW_ACCESS_TIMEOUT (3 s) the
#     Stop_Command deletes it;
#   - `-A tcp/22,udp/53 -s` opens both ports for the packet's source, one
#     command each; `-f 2` (a client timeout) closes after 2 s;
#   - a captured SPA packet replayed with tcpreplay is refused as a replay;
#   - a wrong HMAC key, a packet 10 minutes old (--time-offset-minus) and a
#     port OPEN_PORTS does not list are refused, each logged with its reason,
#     and open nothing;
#   - after kill -9 and a restart on the same journal, the replayed packet is
#     still refused (its digest came back from the journal); a server without
#     the journal lets the same replay in, so that refusal was the journal's.
#
# Without root: "SKIP: ..." and exit 0. Last line: "N passed, M failed".
# apt-packages: fwknop-client tcpdump tcpreplay iptables
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces, pcap, iptables, tcpreplay"
require_cmd fwknop tcpdump tcpreplay iptables timeout
require_bin knock-server
SERVER="$KNOCK_BIN_DIR/knock-server"
test_tmpdir
T=$TEST_TMP
netns_pair kspa

# ------------------------------------------------------------------ keys and config

# fwknop keeps ~/.fwknop.run (and, on a first run, ~/.fwknoprc): a
# throw-away HOME.
mkdir -p "$T/home"
fwk() { in_cli env HOME="$T/home" fwknop --no-rc-file --no-save-args "$@"; }
env HOME="$T/home" fwknop --key-gen >"$T/keys"
env HOME="$T/home" fwknop --key-gen >"$T/wrong.keys"
key() { sed -n "s/^$1: //p" "$2"; }
KEY=$(key KEY_BASE64 "$T/keys")
HMAC=$(key HMAC_KEY_BASE64 "$T/keys")
WRONG_HMAC=$(key HMAC_KEY_BASE64 "$T/wrong.keys")
[[ -n "$KEY" && -n "$HMAC" && -n "$WRONG_HMAC" ]] || {
    echo "fwknop --key-gen printed no keys:"
    cat "$T/keys"
    exit 1
}

cat >"$T/access.conf" <<EOF
# fwknopd's format, unchanged.
SOURCE              192.0.2.0/24
OPEN_PORTS          tcp/22, udp/53
KEY_BASE64          $KEY
HMAC_KEY_BASE64     $HMAC
FW_ACCESS_TIMEOUT   3
MAX_FW_TIMEOUT      5
EOF
chmod 600 "$T/access.conf"

RULE='INPUT -s %IP% -p %PROTO% --dport %PORT% -j ACCEPT'
cat >"$T/knockd.conf" <<EOF
[vault]
    SPA           = yes
    Access_File   = $T/access.conf
    Start_Command = iptables -I $RULE && echo open %IP% %PROTO% %PORT% >> $T/opened
    Stop_Command  = iptables -D $RULE && echo close %IP% %PROTO% %PORT% >> $T/opened
EOF
: >"$T/opened"

LOG="$T/server.log"
show_on_failure "$LOG" "$T/opened"

# start_server LOGFILE ARGS...: knock-server on the server's veth, logging to
# LOGFILE; waits until it captures.
start_server() {
    local log=$1
    shift
    spawn_in "$NS_SRV" "$log" "$SERVER" -c "$T/knockd.conf" -i "$IF_SRV" -v "$@"
    SERVER_PID=$SPAWNED_PID
    if ! wait_for_line "$log" 'listening on' 10; then
        note "knock-server did not start:"
        sed -e 's/^/#   | /' "$log"
        exit 1
    fi
    # Let pcap get going before the first packet.
    sleep 0.3
}
start_server "$LOG" --journal "$T/journal"

# rule ADDR PROTO PORT: INPUT has the ACCEPT rule the door inserts.
rule() { in_srv iptables -C INPUT -s "$1" -p "$2" --dport "$3" -j ACCEPT 2>/dev/null; }
# noted LINE: the commands wrote LINE to $T/opened.
noted() { grep -qxF -- "$1" "$T/opened"; }
# mark; ...; logged REGEX: the server logged a matching line after the mark.
MARK=0
mark() { MARK=$(wc -l <"$LOG"); }
logged() { tail -n +"$((MARK + 1))" "$LOG" | grep -E -- "$1" >/dev/null; }
opens() { grep -c '^open ' "$T/opened" || true; }

with_keys=(--key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" --use-hmac)

# ------------------------------------------------------------------ opens

mark
fwk -A tcp/22 -a "$CLI4" -D "$SRV4" "${with_keys[@]}" >/dev/null
check "fwknop opens tcp/22 for 192.0.2.2 (iptables rule in the server namespace)" \
    wait_for 5 rule "$CLI4" tcp 22
check "Start_Command ran with %IP% %PROTO% %PORT%" noted "open $CLI4 tcp 22"
check "the log says OPEN SESAME with the user, port, address and time" \
    logged "$CLI4: vault: OPEN SESAME \(SPA, user [^:]+: tcp/22 for $CLI4, 3 s\)"
check "Stop_Command deletes the rule after FW_ACCESS_TIMEOUT (3 s)" \
    wait_for '! rule 192.0.2.2 tcp 22' 6
check "and ran with the same address and port" noted "close $CLI4 tcp 22"

mark
fwk -A tcp/22,udp/53 -s -D "$SRV4" "${with_keys[@]}" >/dev/null
check "-A tcp/22,udp/53 -s opens both ports for the packet's source" \
    wait_for 5 bash -c "grep -qxF 'open $CLI4 tcp 22' '$T/opened' && grep -qxF 'open $CLI4 udp 53' '$T/opened' && ip netns exec '$NS_SRV' iptables -C INPUT -s $CLI4 -p udp --dport 53 -j ACCEPT"
check "one Start_Command per port" test "$(opens)" -eq 3
check "both close again" wait_for '! rule 192.0.2.2 udp 53 && ! rule 192.0.2.2 tcp 22' 6

mark
fwk -A tcp/22 -a "$CLI4" -f 2 -D "$SRV4" "${with_keys[@]}" >/dev/null
check "a client timeout (-f 2) is the open time" \
    wait_for 5 logged "OPEN SESAME \(SPA, user [^:]+: tcp/22 for $CLI4, 2 s\)"
check "and the rule goes after it" wait_for '! rule 192.0.2.2 tcp 22' 5

# ------------------------------------------------------------------ refused

# One packet captured on the client's veth as fwknop sends it.
in_cli tcpdump -i "$IF_CLI" -U -n -c 1 -w "$T/spa.pcap" 'udp dst port 62201' \
    >"$T/tcpdump.out" 2>&1 &
TCPDUMP=$!
wait_for_line "$T/tcpdump.out" 'listening on' 5 || true
mark
fwk -A tcp/22 -a 192.0.2.77 -D "$SRV4" "${with_keys[@]}" >/dev/null
timeout 5 tail --pid="$TCPDUMP" -f /dev/null || kill "$TCPDUMP" 2>/dev/null || true
check "the captured packet opened (for 192.0.2.77)" wait_for 5 noted "open 192.0.2.77 tcp 22"
CAPTURED_AT=$SECONDS

# replayed SECONDS REGEX: tcpreplay the captured packet; the server logs
# REGEX within SECONDS and runs no new Start_Command.
replayed() {
    local before
    before=$(opens)
    mark
    in_cli tcpreplay -q -i "$IF_CLI" "$T/spa.pcap" >/dev/null 2>&1
    wait_for "$1" logged "$2" && sleep 0.3 && [[ "$(opens)" == "$before" ]]
}
check "a tcpreplay of the captured packet is refused as a replay" \
    replayed 5 "vault: SPA packet refused: replayed packet"

# refused WHY FWKNOP_ARGS...: a packet from fwknop is refused, logged with
# WHY, and opens nothing.
refused() {
    local why=$1 before
    shift
    before=$(opens)
    mark
    fwk -D "$SRV4" "$@" >/dev/null 2>&1 || true
    wait_for 5 logged "$CLI4: vault: SPA packet refused: $why" && sleep 0.3 &&
        [[ "$(opens)" == "$before" ]]
}
check "a wrong HMAC key is refused (bad HMAC)" \
    refused 'bad HMAC' -A tcp/22 -a "$CLI4" --key-base64-rijndael "$KEY" \
    --key-base64-hmac "$WRONG_HMAC" --use-hmac
check "a packet 10 minutes old is refused (--time-offset-minus 10min)" \
    refused 'timestamp is 6[0-9][0-9] s old \(at most 120 s allowed\)' -A tcp/22 -a "$CLI4" \
    --time-offset-minus 10min "${with_keys[@]}"
check "a port OPEN_PORTS does not list is refused" \
    refused 'tcp/80 is not in OPEN_PORTS' -A tcp/80 -a "$CLI4" "${with_keys[@]}"
check "no rule was left for the refused packets" bash -c "! ip netns exec '$NS_SRV' iptables -S INPUT | grep -q -- '--dport 80'"

# ------------------------------------------------------------------ restart

# Everything opened has closed by now (the last opened 3 s before).
wait_for '! rule 192.0.2.77 tcp 22' 6 || true
check "the journal holds the digests of the packets that opened" \
    bash -c "grep -c '^=' '$T/journal' | grep -qx 4"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
LOG="$T/server2.log"
show_on_failure "$LOG"
MARK=0
start_server "$LOG" --journal "$T/journal"
check "after kill -9 the restarted server takes the digests back from the journal" \
    logged 'SPA packet digest\(s\) from journal .* stay refused as replays'
check "and still refuses the replayed packet" \
    replayed 5 "vault: SPA packet refused: replayed packet"
stop_pid "$SERVER_PID"

# The same replay to a server without that journal: it opens, so the
# refusal above came from the journal (the packet is still in its window).
LOG="$T/server3.log"
show_on_failure "$LOG"
MARK=0
start_server "$LOG" --journal "$T/fresh-journal"
# reopens: the captured packet opens 192.0.2.77 a second time.
reopens() {
    in_cli tcpreplay -q -i "$IF_CLI" "$T/spa.pcap" >/dev/null 2>&1
    wait_for 5 bash -c "[[ \$(grep -cx 'open 192.0.2.77 tcp 22' '$T/opened') == 2 ]]"
}
if ((SECONDS - CAPTURED_AT < 100)); then
    check "without the journal the same replay opens (the refusal was the journal's)" reopens
else
    note "the captured packet is older than 100 s: skipping the control replay"
fi
stop_pid "$SERVER_PID"
check "knock-server summed up the SPA packets on exit" \
    grep -qE 'SPA packets \([0-9]+ accepted' "$T/server.log" "$T/server3.log"

summary
