#!/usr/bin/env bash
#
# End-to-end: SPA packets made by our encoder (knock_profiles::spa, through
# the `spa` example) against Debian's real fwknopd 2.6.10 (root; network
# namespaces ksp-srv 192.0.2.1 / ksp-cli 192.0.2.2).
#
# fwknopd sniffs veth-srv with pcap (PCAP_INTF, FWKNOP_RUN_DIR in its own
# fwknopd.conf, -f foreground) and reads profiles/testdata/spa/access.conf,
# the file our access.conf parser is tested on:
#   stanza 1  SOURCE 192.0.2.0/24,198.51.100.7  OPEN_PORTS tcp/22,udp/53
#             keys of testdata/spa/keys, REQUIRE_USERNAME alice, 5 s
#   stanza 2  SOURCE ANY  passphrase keys, REQUIRE_SOURCE_ADDRESS Y,
#             RESTRICT_PORTS tcp/23
#   stanza 3  SOURCE ANY  OPEN_PORTS tcp/2222, keys from our generator,
#             the stanza written by our formatter
# A packet it accepts shows as an ACCEPT rule for the allowed address and
# port in its FWKNOP_INPUT chain; a refused one leaves no rule and a log line.
# Packets go out of the client namespace with socat.
#
# Checked: an access request opens tcp/22 for the address in the packet;
# "source" (0.0.0.0) opens for the packet's source; a client timeout of 3 s
# closes the rule after 3 s; the passphrase stanza accepts an explicit
# address; our generated keys work in our stanza; refused: the same packet again (replay), a packet 10 minutes old,
# a port OPEN_PORTS does not list, another user, a wrong HMAC key, 0.0.0.0
# where REQUIRE_SOURCE_ADDRESS is set, a restricted port. And the other way:
# a fresh packet of the real fwknop client (-T, not sent) opens in our decoder.
#
# apt-packages: fwknop-server fwknop-client iptables socat
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_root "network namespaces, pcap and iptables"
require_cmd fwknopd iptables socat timeout
require_bin examples/spa
SPA="$KNOCK_BIN_DIR/examples/spa"
DATA="$KNOCK_REPO/profiles/testdata/spa"

test_tmpdir
T=$TEST_TMP
netns_pair ksp

# ------------------------------------------------------------------ fwknopd

mkdir -p "$T/run"
# The test access.conf, and a third stanza for keys our generator made,
# written by our stanza formatter (what `knock --gen-keys` will print).
"$SPA" gen-keys >"$T/ours.keys"
{
    cat "$DATA/access.conf"
    echo
    "$SPA" stanza --keys "$T/ours.keys" --access tcp/2222
} >"$T/access.conf"
chmod 600 "$T/access.conf"
cat >"$T/fwknopd.conf" <<EOF
PCAP_INTF                   $IF_SRV;
ENABLE_PCAP_PROMISC         N;
PCAP_FILTER                 udp port 62201;
FWKNOP_RUN_DIR              $T/run;
ENABLE_SPA_PACKET_AGING     Y;
MAX_SPA_PACKET_AGE          120;
ENABLE_DIGEST_PERSISTENCE   Y;
EOF
chmod 600 "$T/fwknopd.conf"

LOG="$T/fwknopd.log"
show_on_failure "$LOG"
spawn_in "$NS_SRV" "$LOG" fwknopd -f -v -c "$T/fwknopd.conf" -a "$T/access.conf"
FWKNOPD_PID=$SPAWNED_PID
if ! wait_for 10 in_srv iptables -S FWKNOP_INPUT; then
    note "fwknopd did not set up its FWKNOP_INPUT chain"
    sed -e 's/^/#   | /' "$LOG"
    exit 1
fi
# Let pcap get going before the first packet.
wait_for_line "$LOG" 'Starting fwknopd|Sniffing interface|PCAP filter' 5 || true
sleep 0.5

# The keys of the two stanzas, in `fwknop --key-gen` format.
KEYS="$DATA/keys"
printf 'KEY correct horse battery\nHMAC_KEY staple hmac key\n' >"$T/passphrase.keys"
WRONG="$T/wrong.keys"
sed 's/^HMAC_KEY_BASE64: ./HMAC_KEY_BASE64: A/' "$KEYS" >"$WRONG"

# send PACKET_FILE: one UDP datagram from the client namespace to fwknopd.
send() {
    in_cli socat -u "OPEN:$1" "UDP4-SENDTO:$SRV4:62201,bind=$CLI4"
}

# encode NAME ARGS...: a packet from our encoder in $T/NAME.pkt, no newline.
encode() {
    local name=$1
    shift
    "$SPA" encode "$@" | tr -d '\n' >"$T/$name.pkt"
}

# rule ADDR PROTO PORT: FWKNOP_INPUT lets ADDR in to PROTO/PORT.
rule() {
    in_srv iptables -S FWKNOP_INPUT | grep -E -- "-s $1/32 .*-p $2 .*--dport $3 .*-j ACCEPT" >/dev/null
}

# mark; ...; logged REGEX: fwknopd logged a line matching REGEX after the mark.
MARK=0
mark() { MARK=$(wc -l <"$LOG"); }
logged() { tail -n +"$((MARK + 1))" "$LOG" | grep -E -- "$1" >/dev/null; }

# ------------------------------------------------------------------ accepted

mark
encode access --keys "$KEYS" --user alice --allow 192.0.2.2 --access tcp/22
send "$T/access.pkt"
check "our packet opens tcp/22 for 192.0.2.2 in fwknopd's FWKNOP_INPUT" \
    wait_for 5 rule 192.0.2.2 tcp 22
check "fwknopd logged the request" wait_for 2 logged 'SPA Packet from IP: 192\.0\.2\.2 received'

mark
encode source --keys "$KEYS" --user alice --allow source --access udp/53
send "$T/source.pkt"
check "allow source (0.0.0.0) opens udp/53 for the packet's source" \
    wait_for 5 rule "$CLI4" udp 53

mark
encode timeout --keys "$KEYS" --user alice --allow 198.51.100.7 --access tcp/22 --timeout 3
send "$T/timeout.pkt"
check "a client timeout request opens tcp/22 for 198.51.100.7" wait_for 5 rule 198.51.100.7 tcp 22
# Its expiry is 3 s after the packet (fwknopd's clock may be a second on),
# not the stanza's FW_ACCESS_TIMEOUT of 5 s.
TS=$("$SPA" decode --keys "$KEYS" "$T/timeout.pkt" | sed -n 's/^ *Timestamp: //p')
check "fwknopd set the rule to expire after the client timeout of 3 s" \
    wait_for 2 logged "198\.51\.100\.7 -> 0\.0\.0\.0/0 tcp/22, expires at ($((TS + 3))|$((TS + 4)))\$"
check "and removed the rule when it expired" wait_for '! rule 198.51.100.7 tcp 22' 12

mark
encode pass --keys "$T/passphrase.keys" --user bob --allow 203.0.113.9 --access tcp/8080
send "$T/pass.pkt"
check "the passphrase stanza opens tcp/8080 for 203.0.113.9" wait_for 5 rule 203.0.113.9 tcp 8080

encode ours --keys "$T/ours.keys" --user zoe --allow 192.0.2.30 --access tcp/2222
send "$T/ours.pkt"
check "keys from our generator in a stanza we wrote open tcp/2222" \
    wait_for 5 rule 192.0.2.30 tcp 2222

# ------------------------------------------------------------------ refused

# refused NAME REGEX ADDR PROTO PORT: the packet left no rule and fwknopd said why.
refused() {
    local name=$1 why=$2 addr=$3 proto=$4 port=$5
    mark
    send "$T/$name.pkt"
    if wait_for 5 logged "$why"; then
        sleep 0.3
        if rule "$addr" "$proto" "$port"; then return 1; fi
    else
        return 1
    fi
}

# The first packet's rule is gone by now (5 s); sent again it must not come back.
check "the first rule expired (FW_ACCESS_TIMEOUT 5)" wait_for '! rule 192.0.2.2 tcp 22' 10
check "the same packet again is a replay" refused access 'Replay detected' 192.0.2.2 tcp 22

encode stale --keys "$KEYS" --user alice --allow 192.0.2.20 --access tcp/22 --time-offset -600
check "a packet 10 minutes old is refused" \
    refused stale 'time difference is too great' 192.0.2.20 tcp 22

encode port --keys "$KEYS" --user alice --allow 192.0.2.21 --access tcp/80
check "a port OPEN_PORTS does not list is refused" \
    refused port 'was denied per access\.conf' 192.0.2.21 tcp 80

encode user --keys "$KEYS" --user mallory --allow 192.0.2.22 --access tcp/22
check "another user is refused (REQUIRE_USERNAME)" \
    refused user 'does not match required username' 192.0.2.22 tcp 22

encode wrong --keys "$WRONG" --user alice --allow 192.0.2.23 --access tcp/22
check "a wrong HMAC key is refused" \
    refused wrong 'HMAC_COMPAREFAIL' 192.0.2.23 tcp 22

encode passsource --keys "$T/passphrase.keys" --user bob --allow source --access tcp/8081
check "0.0.0.0 is refused where REQUIRE_SOURCE_ADDRESS is set" \
    refused passsource '0\.0\.0\.0 when valid source IP was required' "$CLI4" tcp 8081

encode restricted --keys "$T/passphrase.keys" --user bob --allow 203.0.113.10 --access tcp/23
check "a port in RESTRICT_PORTS is refused" \
    refused restricted 'was denied per access\.conf' 203.0.113.10 tcp 23

check "fwknopd is still running" kill -0 "$FWKNOPD_PID"

# ------------------------------------------------------------------ the other way

# A fresh packet from the real fwknop client (built, not sent: -T) with the
# keys our generator made, opened by our decoder.
if command -v fwknop >/dev/null 2>&1; then
    mkdir -p "$T/home"
    in_cli env HOME="$T/home" fwknop --no-rc-file --no-save-args -T -D "$SRV4" -A tcp/2222,udp/53 -a 192.0.2.31 \
        -U zoe -f 90 --key-base64-rijndael "$(sed -n 's/^KEY_BASE64: //p' "$T/ours.keys")" \
        --key-base64-hmac "$(sed -n 's/^HMAC_KEY_BASE64: //p' "$T/ours.keys")" --use-hmac \
        --save-packet "$T/fwknop.pkt" >"$T/fwknop.out" 2>&1 || true
    "$SPA" decode --keys "$T/ours.keys" "$T/fwknop.pkt" >"$T/decoded.txt" 2>&1 || true
    show_on_failure "$T/fwknop.out" "$T/decoded.txt"
    check "our decoder opens a fresh packet of the real fwknop client" \
        grep -qx ' Message String: 192.0.2.31,tcp/2222,udp/53' "$T/decoded.txt"
    check "with its user and client timeout" \
        bash -c "grep -qx '       Username: zoe' '$T/decoded.txt' && grep -qx ' Client Timeout: 90' '$T/decoded.txt'"
else
    note "fwknop (fwknop-client) is not installed: skipping the fwknop -> decoder check"
fi

summary
