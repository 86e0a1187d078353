# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the scripts that source this file
#
# tests/lib/netns.sh: shared helpers for the end-to-end test scripts in tests/.
#
# Source it at the top of a script (it installs EXIT/INT/TERM traps):
#
#     #!/usr/bin/env bash
#     set -euo pipefail
#     . "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"
#     require_root "network namespaces and pcap"
#     require_cmd knockd
#     require_bin knock
#     test_tmpdir                      # -> $TEST_TMP, removed on exit
#     netns_pair ke2e 192.0.2.3        # -> $NS_SRV $NS_CLI, optional extra client address
#     spawn_in "$NS_SRV" "$TEST_TMP/server.log" "$KNOCK_BIN_DIR/knock-server" -c ... -i "$IF_SRV"
#     wait_for 5 grep -q listening "$TEST_TMP/server.log"
#     check "knock opens the door" in_cli "$KNOCK_BIN_DIR/knock" "$SRV4" 7000 8000 9000
#     check_not "wrong order stays shut" ...
#     summary                          # last line: prints "N passed, M failed", non-zero on failure
#
# Do not set your own EXIT trap (it would replace the cleanup); use `on_exit 'command'`.
#
# Addresses are documentation ranges only (RFC 5737 / RFC 3849):
#     server ns  ${PREFIX}-srv  veth-srv  192.0.2.1/24  2001:db8::1/64
#     client ns  ${PREFIX}-cli  veth-cli  192.0.2.2/24  2001:db8::2/64  (+ extra addresses)
# Everything happens inside namespaces this file creates; the host's own
# network namespace is never configured.
#
# Environment:
#     KNOCK_BIN_DIR      where the built binaries are (default: <repo>/target/debug;
#                        a relative path is taken relative to the repository root)
#     KNOCK_KEEP_TMP=1   keep $TEST_TMP (logs, configs) after the script ends
#     KNOCK_E2E_STRICT=1 a missing tool or binary fails instead of skipping
#                        (the default when CI=true)
#     KNOCK_NETNS_PREFIX put in front of every namespace and veth name made here,
#                        to keep runs from two checkouts on one machine apart: with
#                        KNOCK_NETNS_PREFIX=kx, netns_pair kcli makes kx-kcli-srv /
#                        kx-kcli-cli joined by kx-srv / kx-cli (at most 11 characters)

if [[ -n "${_KNOCK_NETNS_SH:-}" ]]; then
    return 0
fi
_KNOCK_NETNS_SH=1

KNOCK_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_NAME=$(basename "$0")
KNOCK_BIN_DIR=${KNOCK_BIN_DIR:-target/debug}
if [[ "$KNOCK_BIN_DIR" != /* ]]; then
    KNOCK_BIN_DIR="$KNOCK_REPO/$KNOCK_BIN_DIR"
fi
export KNOCK_REPO KNOCK_BIN_DIR

# Fixed addresses of the pair (documentation ranges).
SRV4=192.0.2.1
CLI4=192.0.2.2
SRV6=2001:db8::1
CLI6=2001:db8::2
IF_SRV=veth-srv
IF_CLI=veth-cli
if [[ -n "${KNOCK_NETNS_PREFIX:-}" ]]; then
    if ((${#KNOCK_NETNS_PREFIX} > 11)) || [[ ! "$KNOCK_NETNS_PREFIX" =~ ^[A-Za-z0-9_-]+$ ]]; then
        echo "KNOCK_NETNS_PREFIX=$KNOCK_NETNS_PREFIX: at most 11 letters, digits, - or _ (veth names are 15 at most)" >&2
        exit 2
    fi
    IF_SRV="$KNOCK_NETNS_PREFIX-srv"
    IF_CLI="$KNOCK_NETNS_PREFIX-cli"
fi
NS_SRV=
NS_CLI=
TEST_TMP=
SPAWNED_PID=

CHECKS_PASSED=0
CHECKS_FAILED=0

_KNOCK_NETNS=()     # namespaces to delete
_KNOCK_PIDS=()      # background processes to stop
_KNOCK_ON_EXIT=()   # commands to eval on exit (last registered runs first)
_KNOCK_SHOW=()      # files to print when a check failed
_KNOCK_CLEANED=0

# ---------------------------------------------------------------- messages

# note MSG...: a comment line in the test output.
note() {
    printf '# %s\n' "$*"
}

_knock_strict() {
    [[ "${KNOCK_E2E_STRICT:-}" == 1 || ( -z "${KNOCK_E2E_STRICT:-}" && "${CI:-}" == true ) ]]
}

# skip REASON: end the script; exit 0 with "SKIP: ..." normally, but fail in
# strict mode (CI), where a missing tool means the machine was not set up.
skip() {
    if _knock_strict; then
        printf 'not ok - %s: cannot run: %s (strict mode: KNOCK_E2E_STRICT/CI)\n' "$TEST_NAME" "$*"
        exit 1
    fi
    printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"
    exit 0
}

# require_root [WHY]: skip (exit 0) unless running as root with `ip netns`.
require_root() {
    if [[ "$(id -u)" -ne 0 ]]; then
        printf 'SKIP: %s: needs root (%s)\n' "$TEST_NAME" "${1:-network namespaces}"
        exit 0
    fi
    if ! command -v ip >/dev/null 2>&1; then
        skip "needs iproute2 (ip)"
    fi
}

# require_cmd CMD...: skip unless every command is installed.
require_cmd() {
    local c missing=()
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    if ((${#missing[@]})); then
        skip "missing command(s): ${missing[*]}"
    fi
}

# require_bin NAME...: skip unless $KNOCK_BIN_DIR/NAME exists for each NAME.
require_bin() {
    local b missing=()
    for b in "$@"; do
        [[ -x "$KNOCK_BIN_DIR/$b" ]] || missing+=("$b")
    done
    if ((${#missing[@]})); then
        skip "not built in $KNOCK_BIN_DIR: ${missing[*]} (cargo build --workspace)"
    fi
}

# ---------------------------------------------------------------- cleanup

# on_exit 'COMMAND': eval COMMAND when the script ends (also on Ctrl+C / TERM).
# Commands run in reverse order of registration, before namespaces are removed.
on_exit() {
    _KNOCK_ON_EXIT+=("$1")
}

# show_on_failure FILE...: print these files (tail) at the end if a check failed.
show_on_failure() {
    _KNOCK_SHOW+=("$@")
}

_knock_kill_pids() {
    local pid alive=()
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null && alive+=("$pid")
        fi
    done
    ((${#alive[@]})) || return 0
    local i
    for ((i = 0; i < 20; i++)); do
        local still=()
        for pid in "${alive[@]}"; do
            kill -0 "$pid" 2>/dev/null && still+=("$pid")
        done
        ((${#still[@]})) || return 0
        alive=("${still[@]}")
        sleep 0.1
    done
    kill -KILL "${alive[@]}" 2>/dev/null || true
}

# Remove one namespace: stop whatever still runs inside it, then delete it.
_knock_del_netns() {
    local ns=$1 pids
    _knock_netns_exists "$ns" || return 0
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [[ -n "$pids" ]]; then
        # shellcheck disable=SC2086 # one pid per word
        _knock_kill_pids $pids
    fi
    ip netns del "$ns" 2>/dev/null || true
}

_knock_cleanup() {
    ((_KNOCK_CLEANED)) && return 0
    _KNOCK_CLEANED=1
    local i
    for ((i = ${#_KNOCK_ON_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${_KNOCK_ON_EXIT[i]}" || true
    done
    if ((${#_KNOCK_PIDS[@]})); then
        _knock_kill_pids "${_KNOCK_PIDS[@]}"
        wait 2>/dev/null || true
    fi
    for ((i = ${#_KNOCK_NETNS[@]} - 1; i >= 0; i--)); do
        _knock_del_netns "${_KNOCK_NETNS[i]}"
    done
    if [[ -n "$TEST_TMP" && -d "$TEST_TMP" ]]; then
        if [[ "${KNOCK_KEEP_TMP:-}" == 1 ]]; then
            note "kept $TEST_TMP"
        else
            rm -rf -- "$TEST_TMP"
        fi
    fi
}

trap '_knock_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# test_tmpdir: create $TEST_TMP (removed on exit unless KNOCK_KEEP_TMP=1).
test_tmpdir() {
    if [[ -z "$TEST_TMP" ]]; then
        TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/knock-${TEST_NAME%.sh}.XXXXXX")
        chmod 755 "$TEST_TMP"
    fi
}

# ---------------------------------------------------------------- namespaces

# netns_pair PREFIX [EXTRA_CLIENT_ADDR...]
# Create ${PREFIX}-srv and ${PREFIX}-cli joined by a veth pair ($IF_SRV <-> $IF_CLI,
# veth-srv <-> veth-cli by default; see KNOCK_NETNS_PREFIX),
# loopback up, IPv6 duplicate address detection off so v6 works at once.
# Extra client addresses (e.g. 192.0.2.3 or 2001:db8::3) go on veth-cli as well;
# use them as a source with `ssh -b ADDR`, `curl --interface`, and so on.
# Sets NS_SRV NS_CLI (and uses IF_SRV IF_CLI SRV4 CLI4 SRV6 CLI6).
netns_pair() {
    local prefix=${1:?netns_pair PREFIX}
    shift
    prefix="${KNOCK_NETNS_PREFIX:+$KNOCK_NETNS_PREFIX-}$prefix"
    NS_SRV="${prefix}-srv"
    NS_CLI="${prefix}-cli"
    _knock_lock "$prefix"
    local ns
    for ns in "$NS_SRV" "$NS_CLI"; do
        if _knock_netns_exists "$ns"; then
            note "removing leftover namespace $ns"
            _knock_del_netns "$ns"
        fi
        ip netns add "$ns"
        _KNOCK_NETNS+=("$ns")
        ip -n "$ns" link set lo up
        # Before any interface exists, so new ones inherit it.
        ip netns exec "$ns" sysctl -qw \
            net.ipv6.conf.all.accept_dad=0 \
            net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.all.disable_ipv6=0 \
            net.ipv6.conf.default.disable_ipv6=0 >/dev/null
    done
    # Created directly inside the namespaces: no interface ever appears on the host.
    ip -n "$NS_SRV" link add "$IF_SRV" type veth peer name "$IF_CLI" netns "$NS_CLI"
    ip -n "$NS_SRV" addr add "$SRV4/24" dev "$IF_SRV"
    ip -n "$NS_SRV" addr add "$SRV6/64" dev "$IF_SRV" nodad
    ip -n "$NS_CLI" addr add "$CLI4/24" dev "$IF_CLI"
    ip -n "$NS_CLI" addr add "$CLI6/64" dev "$IF_CLI" nodad
    local a
    for a in "$@"; do
        netns_add_addr "$NS_CLI" "$IF_CLI" "$a"
    done
    ip -n "$NS_SRV" link set "$IF_SRV" up
    ip -n "$NS_CLI" link set "$IF_CLI" up
    if ! wait_for 5 _knock_pair_ready; then
        echo "netns_pair: the veth link between $NS_SRV and $NS_CLI did not come up" >&2
        return 1
    fi
}

# netns_relink: make the veth pair again after a test deleted it (an
# interface that goes away and comes back), with the pair's own addresses.
netns_relink() {
    ip -n "$NS_SRV" link del "$IF_SRV" 2>/dev/null
    ip -n "$NS_SRV" link add "$IF_SRV" type veth peer name "$IF_CLI" netns "$NS_CLI"
    ip -n "$NS_SRV" addr add "$SRV4/24" dev "$IF_SRV"
    ip -n "$NS_SRV" addr add "$SRV6/64" dev "$IF_SRV" nodad
    ip -n "$NS_CLI" addr add "$CLI4/24" dev "$IF_CLI"
    ip -n "$NS_CLI" addr add "$CLI6/64" dev "$IF_CLI" nodad
    ip -n "$NS_SRV" link set "$IF_SRV" up
    ip -n "$NS_CLI" link set "$IF_CLI" up
    wait_for 5 _knock_pair_ready
}

# Both veth ends have carrier and no address is still tentative.
_knock_pair_ready() {
    ip -n "$NS_SRV" link show dev "$IF_SRV" | grep -q 'LOWER_UP' &&
        ip -n "$NS_CLI" link show dev "$IF_CLI" | grep -q 'LOWER_UP' &&
        ! ip -n "$NS_SRV" addr show dev "$IF_SRV" | grep -q tentative &&
        ! ip -n "$NS_CLI" addr show dev "$IF_CLI" | grep -q tentative
}

_knock_netns_exists() { ip netns list 2>/dev/null | grep -qE "^$1( |\$)"; }

# One run at a time per prefix: a second run of the same script (say, a
# developer's while CI-like runs go on) waits for the first one to finish
# instead of deleting its namespaces. The lock is held until this shell exits,
# after the cleanup, so a namespace found while holding it is a leftover.
_KNOCK_LOCK_FD=
_knock_lock() {
    command -v flock >/dev/null 2>&1 || return 0
    local dir=/run/lock
    [[ -d "$dir" && -w "$dir" ]] || dir=${TMPDIR:-/tmp}
    exec {_KNOCK_LOCK_FD}>"$dir/knock-netns-$1.lock"
    if ! flock -n "$_KNOCK_LOCK_FD"; then
        note "namespaces $1-* are in use by another run; waiting for it (up to 300 s)"
        if ! flock -w 300 "$_KNOCK_LOCK_FD"; then
            echo "netns_pair: namespaces $1-* still in use after 300 s; giving up" >&2
            exit 1
        fi
    fi
}

# netns_add_addr NS IFACE ADDR[/LEN]: add an extra address (v4 default /24, v6
# default /64). It is never picked as a source address on its own: a v4 one is
# secondary to the first address of its subnet, a v6 one is added deprecated
# (preferred_lft 0); bind to it explicitly (ssh -b, knock from its namespace...).
netns_add_addr() {
    local ns=$1 dev=$2 addr=$3
    if [[ "$addr" == */* ]]; then
        :
    elif [[ "$addr" == *:* ]]; then
        addr="$addr/64"
    else
        addr="$addr/24"
    fi
    if [[ "$addr" == *:* ]]; then
        ip -n "$ns" addr add "$addr" dev "$dev" nodad preferred_lft 0
    else
        ip -n "$ns" addr add "$addr" dev "$dev"
    fi
}

# in_ns NS CMD...: run CMD inside namespace NS.
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# in_srv CMD... / in_cli CMD...: run CMD in the server / client namespace.
in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

# spawn_in NS LOGFILE CMD...: start CMD in the background inside NS with
# stdout+stderr to LOGFILE; it is stopped on exit. Its pid is in $SPAWNED_PID.
spawn_in() {
    local ns=$1 log=$2
    shift 2
    if [[ -n "$_KNOCK_LOCK_FD" ]]; then
        # The lock must not outlive this script in a daemon.
        ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null {_KNOCK_LOCK_FD}>&- &
    else
        ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
    fi
    SPAWNED_PID=$!
    _KNOCK_PIDS+=("$SPAWNED_PID")
}

# stop_pid PID: stop one spawned process now (TERM, then KILL after 2 s).
stop_pid() {
    _knock_kill_pids "$1"
    wait "$1" 2>/dev/null || true
}

# srv_drop IPT [PORT...]: with IPT (iptables or ip6tables), drop what comes
# in on the server's link for TCP PORT... and the knock ports 7000-9999 (TCP
# and UDP): filtered as on a real server, so no RST comes back.
srv_drop() {
    local ipt=$1 p
    shift
    for p in "$@"; do
        in_srv "$ipt" -A INPUT -i "$IF_SRV" -p tcp --dport "$p" -j DROP
    done
    in_srv "$ipt" -A INPUT -i "$IF_SRV" -p tcp --dport 7000:9999 -j DROP
    in_srv "$ipt" -A INPUT -i "$IF_SRV" -p udp --dport 7000:9999 -j DROP
}

# ssh_door_conf NAME SEQUENCE PORT: a knockd.conf door [NAME] on SEQUENCE
# (TCP knocks must be pure SYNs) that opens TCP PORT to the knocker.
ssh_door_conf() {
    cat <<EOF
[$1]
    sequence    = $2
    seq_timeout = 5
    tcpflags    = syn
    command     = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport $3 -j ACCEPT
EOF
}

# spawn_tcp_listener NS LOGFILE ADDR PORT: a TCP server in NS on ADDR:PORT
# that accepts and closes every connection (something to connect to once a
# door opens); returns once it listens (fails after 5 s). Stopped on exit.
spawn_tcp_listener() {
    local ns=$1 log=$2 addr=$3 port=$4
    spawn_in "$ns" "$log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.close()
' "$addr" "$port"
    wait_for_line "$log" listening 5
}

# tcp_open NS HOST PORT [SECONDS]: succeed if a TCP connection from NS to
# HOST:PORT is accepted within SECONDS (default 2). HOST may be an IPv6 literal.
tcp_open() {
    local ns=$1 host=$2 port=$3 secs=${4:-2}
    # shellcheck disable=SC2016 # expanded by the inner bash
    ip netns exec "$ns" timeout "$secs" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# netns_hosts NS "ADDR NAME..."...: give NS its own /etc/hosts (`ip netns exec`
# bind-mounts /etc/netns/NS/hosts over /etc/hosts), so names resolve inside the
# namespace without touching the host's files. Removed on exit.
netns_hosts() {
    local ns=$1
    shift
    local dir="/etc/netns/$ns"
    if [[ ! -d "$dir" ]]; then
        mkdir -p "$dir"
        on_exit "rm -rf -- '$dir'; rmdir /etc/netns 2>/dev/null || true"
    fi
    {
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n'
        printf '%s\n' "$@"
    } >"$dir/hosts"
}

# start_sshd NS DIR LISTEN_ADDR [PORT]: a throw-away sshd inside NS, listening on
# LISTEN_ADDR:PORT (default 22), with its host key, config, pid file and log in
# DIR and root logins allowed for the keys in DIR/authorized_keys. Waits until
# it accepts connections. Sets SSHD_PID.
SSHD_PID=
start_sshd() {
    local ns=$1 dir=$2 addr=$3 port=${4:-22}
    local sshd
    sshd=$(command -v sshd || echo /usr/sbin/sshd)
    mkdir -p "$dir" /run/sshd
    chmod 755 /run/sshd
    [[ -f "$dir/ssh_host_ed25519_key" ]] ||
        ssh-keygen -q -t ed25519 -N '' -C knock-test-host -f "$dir/ssh_host_ed25519_key"
    touch "$dir/authorized_keys"
    local listen=$addr
    [[ "$addr" == *:* ]] && listen="[$addr]"
    # With UsePAM no, sshd refuses an account whose password is locked ("!...").
    local use_pam=no
    if [[ "$(getent shadow root 2>/dev/null | cut -d: -f2)" == '!'* ]]; then
        use_pam=yes
    fi
    cat >"$dir/sshd_config" <<CONF
ListenAddress $listen:$port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM $use_pam
UseDNS no
PrintMotd no
LogLevel VERBOSE
CONF
    spawn_in "$ns" "$dir/sshd.log" "$sshd" -D -e -f "$dir/sshd_config"
    SSHD_PID=$SPAWNED_PID
    if ! wait_for 5 tcp_open "$ns" "$addr" "$port" 1; then
        echo "start_sshd: sshd did not start listening on $listen:$port" >&2
        cat "$dir/sshd.log" >&2
        return 1
    fi
}

# doors_conf DIR: print the doors tcp (7000,8000,9000), udp (7001:udp,...) and
# mixed (7002,8002:udp,9002) of tests/fixtures/doors.knockd.conf, whose
# commands append %IP% to DIR/opened-DOOR, and create those files empty.
# Without [options]: the caller puts its own in front.
doors_conf() {
    local dir=${1:?doors_conf DIR} door
    for door in tcp udp mixed; do
        : >"$dir/opened-$door"
    done
    sed -e "s|@DIR@|$dir|g" "$KNOCK_REPO/tests/fixtures/doors.knockd.conf"
}

# check_doors TAG: check that each door of doors_conf opens for $CLI4 when
# $SRV4 is knocked with its sequence, through the caller's
# `opens DOOR IP KNOCK_ARGS...` (which knocks and waits for DIR/opened-DOOR).
check_doors() {
    check "$1 TCP 7000 8000 9000 opens for $CLI4" \
        opens tcp "$CLI4" "$SRV4" 7000 8000 9000
    check "$1 UDP -u 7001 8001 9001 opens for $CLI4" \
        opens udp "$CLI4" -u "$SRV4" 7001 8001 9001
    check "$1 mixed 7002 8002:udp 9002 opens for $CLI4" \
        opens mixed "$CLI4" "$SRV4" 7002 8002:udp 9002
}

# ---------------------------------------------------------------- waiting

_knock_usecs_now() {
    local t=${EPOCHREALTIME//[.,]/}
    echo "$((10#$t))"
}

_knock_secs_to_usecs() {
    local s=$1 int frac
    int=${s%%.*}
    if [[ "$s" == *.* ]]; then
        frac=${s#*.}000000
        frac=${frac:0:6}
    else
        frac=000000
    fi
    echo "$((10#${int:-0} * 1000000 + 10#$frac))"
}

# wait_for SECONDS CMD...   or   wait_for 'SHELL COMMAND' SECONDS
# Poll every 0.1 s until the command succeeds; return 1 if SECONDS (may be
# fractional) pass first. The command runs in this shell (functions work).
wait_for() {
    local secs string=
    local -a cmd=()
    if (($# >= 2)) && [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        secs=$1
        shift
        cmd=("$@")
    elif (($# == 2)) && [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        string=$1
        secs=$2
    else
        echo "usage: wait_for SECONDS CMD... | wait_for 'COMMAND' SECONDS" >&2
        return 2
    fi
    local deadline
    deadline=$(($(_knock_usecs_now) + $(_knock_secs_to_usecs "$secs")))
    while :; do
        if [[ -n "$string" ]]; then
            if eval "$string" >/dev/null 2>&1; then return 0; fi
        else
            if "${cmd[@]}" >/dev/null 2>&1; then return 0; fi
        fi
        if (($(_knock_usecs_now) >= deadline)); then
            return 1
        fi
        sleep 0.1
    done
}

# wait_for_line FILE REGEX SECONDS: wait until FILE has a line matching REGEX (grep -E).
wait_for_line() {
    wait_for "$3" grep -qE -- "$2" "$1"
}

# wait_listening NAME LOGFILE: show LOGFILE if the test fails, and wait up to
# 5 s for NAME to log "listening on" there; print LOGFILE and fail if not.
wait_listening() {
    show_on_failure "$2"
    if ! wait_for_line "$2" 'listening on' 5; then
        echo "$1 did not say 'listening on' within 5 s:"
        cat "$2"
        return 1
    fi
}

# ---------------------------------------------------------------- checks

_knock_check_run() {
    local want=$1 name=$2
    shift 2
    local out rc
    out=$(mktemp "${TMPDIR:-/tmp}/knock-check.XXXXXX")
    if "$@" >"$out" 2>&1; then rc=0; else rc=$?; fi
    local ok=0
    if [[ "$want" == pass ]]; then
        ((rc == 0)) && ok=1
    else
        ((rc != 0)) && ok=1
    fi
    if ((ok)); then
        CHECKS_PASSED=$((CHECKS_PASSED + 1))
        printf 'ok - %s\n' "$name"
    else
        CHECKS_FAILED=$((CHECKS_FAILED + 1))
        printf 'not ok - %s\n' "$name"
        printf '#   command: %s\n' "$*"
        if [[ "$want" == pass ]]; then
            printf '#   exit status %d (wanted 0)\n' "$rc"
        else
            printf '#   exit status 0 (wanted non-zero)\n'
        fi
        sed -e 's/^/#   | /' "$out" | tail -n 40
    fi
    rm -f -- "$out"
    return 0
}

# check NAME CMD...: passes when CMD exits 0. Prints "ok - NAME" / "not ok - NAME"
# (with the command's output on failure) and counts. Never aborts the script.
check() {
    _knock_check_run pass "$@"
}

# check_not NAME CMD...: passes when CMD exits non-zero.
check_not() {
    _knock_check_run fail "$@"
}

# expect_status CODE CMD...: succeed when CMD exits with exactly CODE.
expect_status() {
    local want=$1 rc
    shift
    if "$@"; then rc=0; else rc=$?; fi
    if ((rc != want)); then
        echo "exit status $rc, wanted $want: $*"
        return 1
    fi
}

# summary: print "N passed, M failed"; return non-zero if anything failed
# (or if no check ran at all). Make it the script's last command.
summary() {
    if ((CHECKS_FAILED)) && ((${#_KNOCK_SHOW[@]})); then
        local f
        for f in "${_KNOCK_SHOW[@]}"; do
            [[ -f "$f" ]] || continue
            note "---- last lines of $f"
            tail -n 40 -- "$f" | sed -e 's/^/#   | /'
        done
    fi
    printf '%d passed, %d failed\n' "$CHECKS_PASSED" "$CHECKS_FAILED"
    if ((CHECKS_FAILED)); then
        return 1
    fi
    if ((CHECKS_PASSED == 0)); then
        note "no check ran"
        return 1
    fi
    return 0
}
