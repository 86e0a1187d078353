#!/usr/bin/env bash
#
# End-to-end: rotating sequences, our `knock` client against our knock-server,
# as root, in network namespaces krot-srv (192.0.2.1) and krot-cli (192.0.2.2).
#
#   - `knock vault` on a rotating profile (secret_cmd = "cat FILE") opens the
#     server's `Rotate = yes` door (its command appends %IP% to a file);
#   - the client's knock, captured with tcpdump on the client's veth, replayed
#     with tcpreplay out of the same veth (so from the client's address) 5 s
#     later, inside the window, does not open the door again, and the server
#     says it refused a replay;
#   - a knock made with the wrong secret does not open;
#   - two periods after the server started (with the capture idle, so only the
#     period timer can have put the new ports in the capture filter) a fresh
#     knock opens again;
#   - a secret file others can read is refused at start, naming file and mode.
#
# Without root: "SKIP: ..." and exit 0. Last line: "N passed, M failed".
# apt-packages: tcpdump tcpreplay
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces, pcap, tcpreplay"
require_cmd tcpdump tcpreplay
require_bin knock knock-server
KNOCK="$KNOCK_BIN_DIR/knock"
SERVER="$KNOCK_BIN_DIR/knock-server"
test_tmpdir
T=$TEST_TMP
PERIOD=10

netns_pair krot

# ------------------------------------------------------------------ files
# Secrets: base32, like `knock --gen-secret` makes them. The server's copy is
# private (0600); the client reads its copy with secret_cmd.
printf 'GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK\n' >"$T/server.secret"
chmod 600 "$T/server.secret"
cp "$T/server.secret" "$T/client.secret"
printf 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n' >"$T/wrong.secret"

cat >"$T/knockd.conf" <<EOF
[vault]
    Rotate        = yes
    Secret_File   = $T/server.secret
    Period        = $PERIOD
    Length        = 4
    Port_Range    = 10000-60000
    Exclude       = 22
    Seq_Timeout   = 5
    TCPFlags      = syn
    Start_Command = echo %IP% >> $T/opened
EOF

# rotating_profile NAME SECRET_FILE: a rotating profile on the server's door
# settings whose secret is read from SECRET_FILE.
rotating_profile() {
    cat <<EOF
[profiles.$1]
host = "$SRV4"
rotate = true
secret_cmd = "cat $2"
period_s = $PERIOD
length = 4
port_range = "10000-60000"
exclude_ports = [22]
delay_ms = 50
launch = "none"
EOF
}
{
    rotating_profile vault "$T/client.secret"
    echo
    rotating_profile impostor "$T/wrong.secret"
    echo 'door = "vault"'
} >"$T/profiles.toml"

knock_cli() {
    in_cli env KNOCK_PROFILES="$T/profiles.toml" "$KNOCK" "$@"
}
opened_count() {
    if [[ -f "$T/opened" ]]; then wc -l <"$T/opened"; else echo 0; fi
}
opened_is() { [[ "$(opened_count)" == "$1" ]]; }
step_now() { echo $(($(date +%s) / PERIOD)); }
step_reached() { (($(step_now) >= $1)); }

show_on_failure "$T/server.log"

# ------------------------------------------------------------------ refused secret file
chmod 644 "$T/server.secret"
in_srv timeout 10 "$SERVER" -c "$T/knockd.conf" -i "$IF_SRV" --no-journal >"$T/refused.log" 2>&1 &&
    refused=0 || refused=$?
check "a group/world-readable Secret_File is refused at start (exit $refused)" test "$refused" -eq 1
check "the refusal names the file and its mode" \
    grep -qF "$T/server.secret: secret file is readable by group or others (mode 0644)" "$T/refused.log"
chmod 600 "$T/server.secret"

# ------------------------------------------------------------------ server
spawn_in "$NS_SRV" "$T/server.log" "$SERVER" -v -c "$T/knockd.conf" -i "$IF_SRV" --no-journal
SERVER_PID=$SPAWNED_PID
start_step=$(step_now)
check "knock-server starts with a rotating door" \
    wait_for 10 grep -q "starting up, listening on $IF_SRV" "$T/server.log"

# ------------------------------------------------------------------ knock and capture
spawn_in "$NS_CLI" "$T/tcpdump.log" tcpdump -i "$IF_CLI" --immediate-mode -U -n -w "$T/knock.pcap" \
    "src host $CLI4 and dst host $SRV4 and (tcp[tcpflags] & tcp-syn != 0 or udp)"
TCPDUMP_PID=$SPAWNED_PID
wait_for 5 grep -q "listening on" "$T/tcpdump.log" || true

check "knock vault (rotating, secret_cmd) exits 0" knock_cli vault
knocked_at=$SECONDS
check "the rotating door opens for the client's address" \
    wait_for 5 grep -qx "$CLI4" "$T/opened"
check "the server logged OPEN SESAME" grep -q "$CLI4: vault: OPEN SESAME" "$T/server.log"

captured() { tcpdump -n -r "$T/knock.pcap" 2>/dev/null | wc -l; }
# shellcheck disable=SC2016 # evaluated by wait_for on each try
wait_for 'test "$(captured)" -ge 4' 5 || true
stop_pid "$TCPDUMP_PID"
packets=$(captured)
check "the capture holds the 4 knocks (got $packets)" test "$packets" -eq 4
check "the knocked ports are not in the server's log" \
    bash -c "! tcpdump -n -r '$T/knock.pcap' 2>/dev/null | grep -oE '\\.[0-9]+: ' | tr -d '.: ' | grep -qwFf - '$T/server.log'"

# ------------------------------------------------------------------ replay
# 5 s after the knock, inside the window (the step stays accepted for at
# least one more period), from the client's own address and link.
while ((SECONDS - knocked_at < 5)); do sleep 0.2; done
check "tcpreplay sends the captured knock from the client's veth" \
    in_cli tcpreplay -q -i "$IF_CLI" "$T/knock.pcap"
check "the server saw the replay and refused it" \
    wait_for 5 grep -q "$CLI4: vault: sequence already used in this period (replay?), not opening" "$T/server.log"
sleep 1
check "the replay did not open the door again" opened_is 1

# ------------------------------------------------------------------ wrong secret
knock_cli impostor >/dev/null 2>&1 || true
sleep 2
check "a knock made with the wrong secret does not open" opened_is 1

# ------------------------------------------------------------------ periods turn
# Two steps after the server started, the ports in force were not in its
# first capture filter: only the period timer (on idle) can have added them.
note "waiting for step $((start_step + 2)) (period ${PERIOD}s)"
check "the clock reaches two periods after the start" \
    wait_for $((3 * PERIOD)) step_reached $((start_step + 2))
sleep 0.3
check "a fresh knock two periods later opens again" knock_cli vault
check "... and the door opened for it" wait_for 5 opened_is 2

check "SIGTERM stops the server" stop_pid "$SERVER_PID"
check "the summary counts the refused replay" grep -q "1 replays refused" "$T/server.log"

summary
