#!/bin/bash
# Benchmark: knockd vs knock-server under a spoofed-source SYN flood with a few
# valid knockers hidden in it, replayed at full tcpreplay speed into a veth.
#
# usage: tests/bench/flood.sh [PACKETS [SOURCES [KNOCKERS]]]    (defaults 100000 100000 10)
#   env: BIG=1000000   packets AND distinct sources of the second (memory) run; 0 skips it
#        READ=1000000  packets of the --read throughput capture; 0 skips it
#        GAP=1000      third run: this many flood packets between a knocker's knocks; 0 skips it
#        DAEMONS="knockd ours"
#        BUSY=2        this many busy-loop processes beside the daemon (CPU contention)
#        OURS_ARGS="--capture-buffer 2"   extra knock-server arguments
#
# For each daemon and run it prints: knockers detected/expected, packets/s sent,
# daemon CPU seconds (user+sys, all threads, from /proc), peak RSS (VmHWM).
# Then the --read throughput of knock-server on a READ-packet capture.
# Needs root (network namespaces); prints "SKIP: reason" and exits 0 otherwise.
# Namespaces are kbench-{srv,cli} (tests/lib/netns.sh); traffic stays inside them.
set -u
# shellcheck source=../lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/../lib/netns.sh"

require_root "network namespaces"
require_cmd tcpreplay knockd

packets=${1:-100000}
sources=${2:-$packets}
knockers=${3:-10}
big=${BIG:-1000000}
gap=${GAP:-1000}
readn=${READ:-1000000}
daemons=${DAEMONS:-knockd ours}

repo=$KNOCK_REPO
(cd "$repo" && cargo build -q --release -p knock-server --bin knock-server --example genflood) ||
    { echo "cannot build knock-server"; exit 1; }
ours=$repo/target/release/knock-server
gen=$repo/target/release/examples/genflood

test_tmpdir
w=$TEST_TMP
netns_pair kbench
dpid=""

cat > "$w/knockd.conf" <<EOF
[options]
	logfile = $w/daemon.log
	interface = $IF_SRV
[openSSH]
	sequence    = 7000,8000,9000
	seq_timeout = 5
	command     = /bin/sh -c 'echo %IP% >> $w/opened'
	tcpflags    = syn
EOF

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }

# run DAEMON PCAP EXPECTED LABEL
run() {
    local daemon=$1 pcap=$2 expected=$3 label=$4
    rm -f "$w/opened" "$w/daemon.log"
    case $daemon in
        knockd) spawn_in "$NS_SRV" "$w/out" knockd -c "$w/knockd.conf" -i "$IF_SRV" ;;
        # shellcheck disable=SC2086 # OURS_ARGS is a list of words
        ours) spawn_in "$NS_SRV" "$w/out" "$ours" -c "$w/knockd.conf" -i "$IF_SRV" --no-journal ${OURS_ARGS:-} ;;
    esac
    dpid=$SPAWNED_PID
    sleep 1.5
    if ! kill -0 "$dpid" 2>/dev/null; then
        echo "$daemon died:"; cat "$w/out"; dpid=""; return 1
    fi
    local t0 t1 s0 s1 rss pps got
    t0=$(cpu_ticks "$dpid")
    s0=$(sys_ticks "$dpid")
    pps=$(in_cli tcpreplay --topspeed -i "$IF_CLI" "$pcap" 2>&1 | awk '/Rated:/ {print int($(NF-1))}')
    sleep 3
    t1=$(cpu_ticks "$dpid")
    s1=$(sys_ticks "$dpid")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$dpid/status")
    kill -TERM "$dpid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    dpid=""
    # knock-server's exit summary: what the kernel dropped.
    local drops=""
    if [ "$daemon" = ours ]; then
        drops=" $(grep -o 'capture: [0-9]* packets received, [0-9]* dropped' "$w/daemon.log" | tail -1 | awk '{print "kernel_dropped=" $5 "/" $2}')"
    fi
    got=$(sort -u "$w/opened" 2>/dev/null | grep -c '^192\.0\.2\.1[0-9][0-9]$')
    local hz
    hz=$(getconf CLK_TCK)
    printf '%-7s %-22s detected=%s/%s pps=%s cpu_s=%s (sys %s) peak_rss_mib=%s%s\n' \
        "$daemon" "$label" "$got" "$expected" "$pps" \
        "$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')" \
        "$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')" \
        "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')" "$drops"
}

busy=${BUSY:-0}
for _ in $(seq "$busy"); do
    # Bounded: killed on exit, and by timeout after 30 minutes at the latest.
    timeout 1800 sh -c 'while :; do :; done' &
    _KNOCK_PIDS+=("$!")
done
[ "$busy" -gt 0 ] && echo "== $busy busy-loop process(es) running beside the daemon"

echo "== flood: $packets packets, $sources spoofed sources, $knockers knockers (tcpreplay --topspeed)"
"$gen" "$w/flood.pcap" "$packets" "$sources" "$knockers"
for d in $daemons; do run "$d" "$w/flood.pcap" "$knockers" "${packets}pk/${sources}src"; done

if [ "$gap" -gt 0 ]; then
    echo "== gap: $packets packets, $sources sources, $knockers knockers, $gap flood packets between knocks"
    "$gen" "$w/gap.pcap" "$packets" "$sources" "$knockers" --gap "$gap"
    for d in $daemons; do run "$d" "$w/gap.pcap" "$knockers" "${packets}pk/gap${gap}"; done
fi

if [ "$big" -gt 0 ]; then
    echo "== memory: $big packets from $big distinct spoofed sources, $knockers knockers"
    "$gen" "$w/big.pcap" "$big" "$big" "$knockers"
    for d in $daemons; do run "$d" "$w/big.pcap" "$knockers" "${big}pk/${big}src"; done
    rm -f "$w/big.pcap"
fi

if [ "$readn" -gt 0 ]; then
    echo "== --read throughput: $readn packets, $readn sources, $knockers knockers"
    "$gen" "$w/read.pcap" "$readn" "$readn" "$knockers"
    sed -i '/logfile/d' "$w/knockd.conf"
    for i in 1 2 3; do
        /usr/bin/time -f "wall_s=%e cpu_s=%U+%S peak_rss_kib=%M" \
            "$ours" -c "$w/knockd.conf" --read "$w/read.pcap" --dry-run > "$w/read.out" 2> "$w/read.err"
        echo "run $i: $(grep -o 'read .*' "$w/read.err" | sed 's|^read [^:]*: ||') | $(tail -1 "$w/read.err")"
        echo "        opened: $(grep -c '^dry-run:' "$w/read.out")/$knockers"
    done
fi
