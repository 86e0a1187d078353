#!/bin/bash
# Benchmark: fwknopd 2.6.10 vs knock-server's SPA door under a spoofed-source
# flood of random payloads to the SPA port with valid SPA packets hidden in
# it, replayed at full tcpreplay speed into a veth.
#
# usage: tests/bench/spa-flood.sh [PACKETS [VALID]]      (defaults 100000 10)
#   env: BIG=1000000  packets of a second run; 0 (the default) skips it
#        READ=1       also time knock-server --read of the first capture
#        DAEMONS="fwknopd fwknopd-fast ours"
#          fwknopd: its defaults (PCAP_LOOP_SLEEP 100000: it sleeps 100 ms
#          between reads of the capture, so under a flood most packets are
#          lost before it looks); fwknopd-fast: PCAP_LOOP_SLEEP 1000 (1 ms)
#        OURS_ARGS="--capture-buffer 2"   extra knock-server arguments
#
# The flood (knock-server/examples/genspa.rs): packets from 198.18.0.0/15 to
# 192.0.2.1:62201, each a random base64 text of 150-700 characters, which
# passes both servers' length and alphabet checks and so costs each an HMAC
# (random bytes would be refused for free). VALID packets, made just before
# each daemon's run by the real fwknop client (`fwknop -T --save-packet`,
# fresh timestamps; -a 192.0.2.100, .101, ...), are spread through it, sent
# from 192.0.2.2. Both daemons read the same access.conf (SOURCE ANY, tcp/22,
# keys from `fwknop --key-gen`). Counted: fwknopd's rules in its FWKNOP_INPUT
# chain, knock-server's Start_Command lines; CPU seconds of the daemon
# (user+sys, all threads, /proc/PID/stat) from before the replay to 3 s
# after it; peak RSS (VmHWM).
# Needs root (network namespaces); prints "SKIP: reason" and exits 0 otherwise.
# Namespaces are kspab-{srv,cli} (tests/lib/netns.sh); traffic stays inside
# them; every process started here is stopped at the end.
set -u
# shellcheck source=../lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/../lib/netns.sh"

require_root "network namespaces"
require_cmd tcpreplay fwknop fwknopd iptables

packets=${1:-100000}
nvalid=${2:-10}
big=${BIG:-0}
daemons=${DAEMONS:-fwknopd fwknopd-fast ours}

repo=$KNOCK_REPO
(cd "$repo" && cargo build -q --release -p knock-server --bin knock-server --example genspa) ||
    { echo "cannot build knock-server"; exit 1; }
ours=$repo/target/release/knock-server
gen=$repo/target/release/examples/genspa

test_tmpdir
w=$TEST_TMP
netns_pair kspab
dpid=""

mkdir -p "$w/home" "$w/run"
env HOME="$w/home" fwknop --key-gen >"$w/keys"
KEY=$(sed -n 's/^KEY_BASE64: //p' "$w/keys")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$w/keys")
cat >"$w/access.conf" <<EOF
SOURCE              ANY
OPEN_PORTS          tcp/22
KEY_BASE64          $KEY
HMAC_KEY_BASE64     $HMAC
FW_ACCESS_TIMEOUT   60
EOF
chmod 600 "$w/access.conf"
cat >"$w/fwknopd.conf" <<EOF
PCAP_INTF                   $IF_SRV;
ENABLE_PCAP_PROMISC         N;
PCAP_FILTER                 udp port 62201;
FWKNOP_RUN_DIR              $w/run;
EOF
cp "$w/fwknopd.conf" "$w/fwknopd-fast.conf"
echo 'PCAP_LOOP_SLEEP             1000;' >>"$w/fwknopd-fast.conf"
chmod 600 "$w/fwknopd.conf" "$w/fwknopd-fast.conf"
cat >"$w/knockd.conf" <<EOF
[vault]
    SPA           = yes
    Access_File   = $w/access.conf
    Start_Command = echo %IP% >> $w/opened
EOF

# valid: $nvalid fresh packets from the real client (built, not sent: -T).
valid() {
    rm -f "$w"/valid-*.pkt
    local i
    for ((i = 0; i < nvalid; i++)); do
        in_cli env HOME="$w/home" fwknop --no-rc-file --no-save-args -T -D "$SRV4" \
            -A tcp/22 -a "192.0.2.$((100 + i))" \
            --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" --use-hmac \
            --save-packet "$w/valid-$i.pkt" >/dev/null 2>&1 ||
            { echo "fwknop could not make a packet"; exit 1; }
    done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }

# accepted DAEMON: valid packets it let in (one address each).
accepted() {
    case $1 in
    fwknopd*) in_srv iptables -S FWKNOP_INPUT 2>/dev/null | grep -oE -- '-s 192\.0\.2\.1[0-9][0-9]/32' | sort -u | grep -c . ;;
    ours) sort -u "$w/opened" 2>/dev/null | grep -c '^192\.0\.2\.1[0-9][0-9]$' ;;
    esac
}

# run DAEMON PACKETS LABEL
run() {
    local daemon=$1 n=$2 label=$3
    rm -f "$w/opened" "$w/ours.log" "$w/journal" "$w"/run/*
    valid
    "$gen" "$w/flood.pcap" "$n" "$w"/valid-*.pkt
    case $daemon in
    fwknopd*) spawn_in "$NS_SRV" "$w/out" fwknopd -f -c "$w/$daemon.conf" -a "$w/access.conf" ;;
    ours)
        # shellcheck disable=SC2086 # OURS_ARGS is a list of words
        spawn_in "$NS_SRV" "$w/out" "$ours" -c "$w/knockd.conf" -i "$IF_SRV" -g "$w/ours.log" \
            --journal "$w/journal" ${OURS_ARGS:-}
        ;;
    esac
    dpid=$SPAWNED_PID
    sleep 2
    if ! kill -0 "$dpid" 2>/dev/null; then
        echo "$daemon died:"; cat "$w/out"; dpid=""; return 1
    fi
    local t0 t1 s0 s1 rss pps got
    t0=$(cpu_ticks "$dpid")
    s0=$(sys_ticks "$dpid")
    pps=$(in_cli tcpreplay --topspeed -i "$IF_CLI" "$w/flood.pcap" 2>&1 | awk '/Rated:/ {print int($(NF-1))}')
    sleep 3
    t1=$(cpu_ticks "$dpid")
    s1=$(sys_ticks "$dpid")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$dpid/status")
    got=$(accepted "$daemon")
    kill -TERM "$dpid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    dpid=""
    local drops=""
    if [ "$daemon" = ours ]; then
        drops=" $(grep -o 'capture: [0-9]* packets received, [0-9]* dropped' "$w/ours.log" | tail -1 | awk '{print "kernel_dropped=" $5 "/" $2}')"
    fi
    local hz
    hz=$(getconf CLK_TCK)
    printf '%-12s %-10s accepted=%s/%s pps=%s cpu_s=%s (sys %s) peak_rss_mib=%s%s\n' \
        "$daemon" "$label" "$got" "$nvalid" "$pps" \
        "$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')" \
        "$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')" \
        "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')" "$drops"
    # fwknopd's rules stay for FW_ACCESS_TIMEOUT: clear them for the next run.
    in_srv iptables -F FWKNOP_INPUT 2>/dev/null || true
}

echo "== flood: $packets random base64 payloads to udp/62201 from 198.18.0.0/15, $nvalid valid SPA packets (tcpreplay --topspeed)"
for d in $daemons; do run "$d" "$packets" "${packets}pk"; done

if [ "$big" -gt 0 ]; then
    echo "== flood: $big packets, $nvalid valid"
    for d in $daemons; do run "$d" "$big" "${big}pk"; done
fi

if [ "${READ:-0}" = 1 ]; then
    echo "== knock-server --read of a $packets-packet capture (packet time as the clock)"
    valid
    "$gen" "$w/flood.pcap" "$packets" "$w"/valid-*.pkt
    for i in 1 2 3; do
        /usr/bin/time -f "wall_s=%e cpu_s=%U+%S peak_rss_kib=%M" \
            "$ours" -c "$w/knockd.conf" --read "$w/flood.pcap" --dry-run >"$w/read.out" 2>"$w/read.err"
        echo "run $i: $(grep -o ' in [0-9.]*s ([0-9]* packets/s)' "$w/read.err") | $(tail -1 "$w/read.err")"
        echo "        accepted: $(grep -c '^dry-run:' "$w/read.out")/$nvalid"
    done
fi
rm -f "$w/flood.pcap"
