#!/usr/bin/env bash
#
# profiles/testdata/spa/make.sh: makes the known-answer SPA packets in this
# directory with the real fwknop client (Debian's fwknop-client 2.6.10).
# Nothing is sent: -T (--test) builds the packet and stops, and -D names a
# documentation address. The client's own files (~/.fwknop.run, ~/.fwknoprc)
# go to a throw-away HOME.
#
# usage: profiles/testdata/spa/make.sh      (rewrites the files below)
#
# Files:
#   keys                 `fwknop --key-gen` output: the keys of every packet
#                        except passphrase.*
#   NAME.pkt             the packet as `--save-packet` writes it (one line)
#   NAME.fields          `fwknop -v` output: every field of that packet
#   fwknoprc             `--save-rc-stanza` output, two stanzas
#   key-gen-file         `fwknop --key-gen --key-gen-file FILE` output
#   access.conf          an fwknopd access.conf with the keys of ./keys and passphrase.*
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v fwknop >/dev/null || {
    echo "make.sh: fwknop not found (apt-get install fwknop-client)" >&2
    exit 1
}
fwknop --version | grep -q '2\.6\.10' || echo "make.sh: warning: not fwknop 2.6.10" >&2

HOME=$(mktemp -d)
export HOME
trap 'rm -rf -- "$HOME"' EXIT

fwknop --key-gen >keys
KEY=$(sed -n 's/^KEY_BASE64: //p' keys)
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: //p' keys)

# packet NAME ARGS...: one packet and its field dump.
packet() {
    local name=$1
    shift
    rm -f "$name.pkt"
    fwknop --no-rc-file --no-save-args -T -v -D 192.0.2.1 \
        --save-packet "$name.pkt" "$@" >"$name.fields"
}

with_keys=(--key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" --use-hmac)

packet access -A tcp/22 -a 192.0.2.2 -U alice "${with_keys[@]}"
packet source-multi -A tcp/22,udp/53,tcp/443 -s -U bob "${with_keys[@]}"
packet client-timeout -A tcp/22 -a 198.51.100.7 -f 300 -U carol.d_e "${with_keys[@]}"
packet stale -A tcp/22 -a 192.0.2.2 -U alice --time-offset-minus 10m "${with_keys[@]}"
packet passphrase -A udp/1194 -a 203.0.113.9 -U dave \
    --key-rijndael 'correct horse battery' --key-hmac 'staple hmac key' --use-hmac
# What we refuse: a SHA-512 message digest, and a packet without an HMAC.
packet sha512-digest -A tcp/22 -a 192.0.2.2 -U alice -m sha512 "${with_keys[@]}"
packet no-hmac -A tcp/22 -a 192.0.2.2 -U alice --key-base64-rijndael "$KEY"

# A real .fwknoprc (the client writes it: --save-rc-stanza, -T so nothing is sent).
rm -f fwknoprc
fwknop --rc-file "$PWD/fwknoprc" -n vault -T -A tcp/22,udp/53 -a 192.0.2.2 -D 192.0.2.1 \
    -p 62202 -f 120 -U alice "${with_keys[@]}" --save-rc-stanza >/dev/null
fwknop --rc-file "$PWD/fwknoprc" -n web -T -A tcp/443 -a 198.51.100.7 -D 192.0.2.1 \
    --key-gen --use-hmac --save-rc-stanza >/dev/null

# An access.conf with these keys (fwknopd reads it in tests/spa-e2e.sh).
cat >access.conf <<EOF
# fwknopd access.conf for knock's tests, in fwknopd 2.6.10's format
# (tests/spa-e2e.sh gives it to the real fwknopd). The keys are those of
# ./keys (the first stanza) and of passphrase.pkt (the second).

SOURCE              192.0.2.0/24, 198.51.100.7
OPEN_PORTS          tcp/22, udp/53
KEY_BASE64          $KEY
HMAC_KEY_BASE64     $HMAC
FW_ACCESS_TIMEOUT   5    ; seconds
MAX_FW_TIMEOUT      600
REQUIRE_USERNAME    alice

SOURCE:             ANY
RESTRICT_PORTS      tcp/23
KEY                 correct horse battery
HMAC_KEY            staple hmac key
REQUIRE_SOURCE_ADDRESS  Y
ACCESS_EXPIRE_EPOCH 4102444800
EOF

rm -f key-gen-file
fwknop --key-gen --key-gen-file "$PWD/key-gen-file" >/dev/null
chmod 644 -- *
chmod 755 make.sh
