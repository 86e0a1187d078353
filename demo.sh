#!/usr/bin/env bash
#
# demo.sh: `knock demo && ssh demo` for real, in two throw-away network
# namespaces on this machine (nothing leaves them; documentation addresses only).
#
#   kdemo-srv  192.0.2.1   sshd on port 22 behind an iptables DROP, and our
#                          knock-server watching for 7000,8000,9000
#   kdemo-cli  192.0.2.2   the user, with a `demo` profile and an ssh config
#              192.0.2.3   a second address on the client side: someone else
#
# usage: ./demo.sh [--no-build] [--knockd]     (as root)
#   --no-build   use the binaries already in target/release (or $KNOCK_BIN_DIR)
#   --knockd     use Debian's knockd as the server instead of knock-server
#
# Installs what it needs with apt-get when missing, builds the two binaries
# (cargo build --release -p knock-cli -p knock-server), then runs the story in
# well under a minute. Everything is removed on exit, Ctrl+C included.
# If knock-server is not built or does not work, Debian's knockd stands in
# (and the demo says so), unless KNOCK_DEMO_STRICT=1 (tests/run.sh sets it).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=1
SERVER=knock-server
for arg in "$@"; do
    case $arg in
    --no-build) BUILD=0 ;;
    --knockd) SERVER=knockd ;;
    -h | --help)
        sed -n '3,/^set -euo pipefail/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo.sh: unknown argument: $arg (try --help)" >&2
        exit 2
        ;;
    esac
done

if [[ "$(id -u)" -ne 0 ]]; then
    echo "demo.sh needs root (network namespaces, iptables, sshd): run it in a root shell, or with sudo" >&2
    exit 1
fi

if [[ -t 1 ]]; then
    B=$'\e[1m' DIM=$'\e[2m' RED=$'\e[31m' GRN=$'\e[32m' YEL=$'\e[33m' CYA=$'\e[36m' R=$'\e[0m'
else
    B='' DIM='' RED='' GRN='' YEL='' CYA='' R=''
fi
say() { printf '%s\n' "$*"; }
heading() { printf '\n%s%s%s\n' "$B" "$*" "$R"; }
good() { printf '%s  ✔ %s%s\n' "$GRN" "$*" "$R"; }
bad() {
    printf '%s  ✘ %s%s\n' "$RED" "$*" "$R"
    DEVIATIONS=$((DEVIATIONS + 1))
}
warn() { printf '%s  ! %s%s\n' "$YEL" "$*" "$R"; }
DEVIATIONS=0

# ------------------------------------------------------------------ packages

need_pkgs=()
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v iptables >/dev/null 2>&1 || need_pkgs+=(iptables)
command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || need_pkgs+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need_pkgs+=(openssh-client)
command -v knockd >/dev/null 2>&1 || need_pkgs+=(knockd)
command -v pgrep >/dev/null 2>&1 || need_pkgs+=(procps)
if ((BUILD)); then
    command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
    command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
    [[ -e /usr/include/pcap.h || -e /usr/include/pcap/pcap.h ]] || need_pkgs+=(libpcap-dev)
fi
if ((${#need_pkgs[@]})); then
    heading "Installing: ${need_pkgs[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "demo.sh: missing ${need_pkgs[*]} and no apt-get here; install them and run again" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
    # Debian's knockd package may start its service: stop it (only a knockd in
    # this machine's own network namespace, never one in a test namespace).
    service knockd stop >/dev/null 2>&1 || true
    host_ns=$(readlink /proc/1/ns/net 2>/dev/null || true)
    for pid in $(pgrep -x knockd 2>/dev/null || true); do
        if [[ -n "$host_ns" && "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" == "$host_ns" ]]; then
            kill "$pid" 2>/dev/null || true
        fi
    done
fi
IPTABLES=$(command -v iptables)
SSH=$(command -v ssh)

# ------------------------------------------------------------------ build

export KNOCK_BIN_DIR=${KNOCK_BIN_DIR:-$REPO/target/release}
[[ "$KNOCK_BIN_DIR" == /* ]] || KNOCK_BIN_DIR="$REPO/$KNOCK_BIN_DIR"

# Build as the user who ran sudo when root has no cargo (rustup installs per user),
# and never turn their target/ directory into root's.
cargo_build() {
    local owner
    owner=$(stat -c %U "$REPO/target" 2>/dev/null || stat -c %U "$REPO")
    if [[ -n "${SUDO_USER:-}" && "$SUDO_USER" != root && "$owner" != root ]]; then
        sudo -u "$SUDO_USER" -H bash -lc 'PATH="$HOME/.cargo/bin:$PATH" && cd "$1" && shift && cargo "$@"' _ "$REPO" "$@"
    else
        local c
        c=$(command -v cargo || true)
        [[ -n "$c" ]] || c="${CARGO_HOME:-$HOME/.cargo}/bin/cargo"
        (cd "$REPO" && "$c" "$@")
    fi
}

if ((BUILD)); then
    heading "Building (release): knock, knock-server"
    cargo_build build --release -p knock-cli || {
        echo "demo.sh: building the knock CLI failed" >&2
        exit 1
    }
    if [[ "$SERVER" == knock-server && "${KNOCK_DEMO_STRICT:-}" == 1 ]]; then
        cargo_build build --release -p knock-server || exit 1
    elif [[ "$SERVER" == knock-server ]] && ! cargo_build build --release -p knock-server; then
        warn "knock-server did not build: the demo uses Debian's knockd instead"
        SERVER=knockd
    fi
fi
if ! "$KNOCK_BIN_DIR/knock" --version >/dev/null 2>&1; then
    echo "demo.sh: $KNOCK_BIN_DIR/knock is missing or does not run (build it: cargo build --release -p knock-cli)" >&2
    exit 1
fi
if [[ "$SERVER" == knock-server && ! -x "$KNOCK_BIN_DIR/knock-server" ]]; then
    [[ "${KNOCK_DEMO_STRICT:-}" == 1 ]] && {
        echo "demo.sh: $KNOCK_BIN_DIR/knock-server is not built" >&2
        exit 1
    }
    warn "$KNOCK_BIN_DIR/knock-server is not built: the demo uses Debian's knockd instead"
    SERVER=knockd
fi

# ------------------------------------------------------------------ the stage

# shellcheck source=tests/lib/netns.sh source-path=SCRIPTDIR
. "$REPO/tests/lib/netns.sh"

test_tmpdir
D=$TEST_TMP
netns_pair kdemo 192.0.2.3
OTHER=192.0.2.3
# shellcheck disable=SC2016 # expanded at exit
on_exit 'printf "\n%sCleaned up: namespaces kdemo-srv/kdemo-cli, sshd, %s and %s are gone.%s\n" "$DIM" "$SERVER" "$D" "$R"'

# Throw-away keys: sshd's host key (start_sshd) and the user's key.
ssh-keygen -q -t ed25519 -N '' -C knock-demo-user -f "$D/id_demo"
mkdir -p "$D/sshd"
cp "$D/id_demo.pub" "$D/sshd/authorized_keys"
start_sshd "$NS_SRV" "$D/sshd" "$SRV4" 22
mkdir -p "$D/sshd6"
cp "$D/id_demo.pub" "$D/sshd6/authorized_keys"
start_sshd "$NS_SRV" "$D/sshd6" "$SRV6" 22

# The firewall: port 22 dropped for everyone, IPv4 and IPv6.
IP6TABLES=$(command -v ip6tables)
in_srv "$IPTABLES" -A INPUT -i "$IF_SRV" -p tcp --dport 22 -j DROP
in_srv "$IP6TABLES" -A INPUT -i "$IF_SRV" -p tcp --dport 22 -j DROP

CMD_TIMEOUT=10
cat >"$D/knockd.conf" <<EOF
# The article's configuration, in sections (Debian's knockd needs them).
[options]
    logfile = $D/server.log

[openSSH]
    sequence     = 7000,8000,9000
    seq_timeout  = 5
    command      = $IPTABLES -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    tcpflags     = syn
    cmd_timeout  = $CMD_TIMEOUT
    stop_command = $IPTABLES -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    # IPv6 knockers get the ip6tables rule.
    command_6      = $IP6TABLES -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    stop_command_6 = $IP6TABLES -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
EOF

SERVER_PID=
start_server() {
    : >"$D/server.log"
    if [[ "$SERVER" == knock-server ]]; then
        spawn_in "$NS_SRV" "$D/server.out" "$KNOCK_BIN_DIR/knock-server" -c "$D/knockd.conf" -i "$IF_SRV" -v
    else
        spawn_in "$NS_SRV" "$D/server.out" knockd -c "$D/knockd.conf" -i "$IF_SRV" -v -p "$D/knockd.pid"
    fi
    SERVER_PID=$SPAWNED_PID
    # Ready when it says it listens; a server that says nothing but keeps running
    # is given the benefit of the doubt after 2 s.
    if wait_for 5 grep -qi 'listening' "$D/server.out" "$D/server.log"; then
        return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null
}
stop_server() {
    [[ -n "$SERVER_PID" ]] && stop_pid "$SERVER_PID"
    SERVER_PID=
}
fall_back_to_knockd() {
    warn "$1"
    if [[ "${KNOCK_DEMO_STRICT:-}" == 1 ]]; then
        sed 's/^/      | /' "$D/server.out" | tail -n 20
        echo "demo.sh: KNOCK_DEMO_STRICT=1: no fallback to knockd" >&2
        exit 1
    fi
    warn "falling back to Debian's knockd for the rest of the demo"
    sed 's/^/      | /' "$D/server.out" | tail -n 8
    stop_server
    SERVER=knockd
    start_server || {
        echo "demo.sh: knockd did not start either:" >&2
        cat "$D/server.out" >&2
        exit 1
    }
}

if ! start_server; then
    fall_back_to_knockd "knock-server did not start"
fi

# The user's side: a profile, an ssh config, and `knock` / `ssh` on PATH.
cat >"$D/profiles.toml" <<EOF
[profiles.demo]
host = "$SRV4"
sequence = "7000,8000,9000"
open_port = 22
wait_ms = 3000
user = "root"

[profiles.demo6]
host = "$SRV6"
sequence = "7000,8000,9000"
open_port = 22
wait_ms = 3000
user = "root"
EOF
cat >"$D/ssh_config" <<EOF
Host demo
    HostName $SRV4
Host demo6
    HostName $SRV6
Host demo demo6
    User root
    IdentityFile $D/id_demo
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    ConnectTimeout 3
    BatchMode yes
    LogLevel ERROR
EOF
mkdir -p "$D/bin"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$KNOCK_BIN_DIR/knock" >"$D/bin/knock"
printf '#!/bin/sh\nexec "%s" -F "%s" "$@"\n' "$SSH" "$D/ssh_config" >"$D/bin/ssh"
chmod +x "$D/bin/knock" "$D/bin/ssh"

# client 'COMMAND': show and run COMMAND in the client namespace.
client() {
    local line=$1
    printf '%s  client$ %s%s%s\n' "$DIM" "$R$CYA" "$line" "$R"
    local rc
    ip netns exec "$NS_CLI" env PATH="$D/bin:$PATH" KNOCK_PROFILES="$D/profiles.toml" \
        timeout 30 bash -c "$line" </dev/null 2>&1 | sed 's/^/      /'
    rc=${PIPESTATUS[0]}
    printf '%s      (exit status %d)%s\n' "$DIM" "$rc" "$R"
    return "$rc"
}
show_rules() {
    printf '%s  server# iptables -S INPUT%s\n' "$DIM" "$R"
    in_srv "$IPTABLES" -S INPUT | sed 's/^/      /'
}
# Read the whole listing before matching: `grep -q` would exit at the first
# match, iptables would die of SIGPIPE, and pipefail would report a failure.
rule_for() {
    local rules
    rules=$(in_srv "$IPTABLES" -S INPUT) || return 1
    grep -q -- "-s $1/32 .*--dport 22 -j ACCEPT" <<<"$rules"
}
rule_gone() { ! rule_for "$1"; }
rule6_for() {
    local rules
    rules=$(in_srv "$IP6TABLES" -S INPUT) || return 1
    grep -q -- "-s $1/128 .*--dport 22 -j ACCEPT" <<<"$rules"
}
rule6_gone() { ! rule6_for "$1"; }
server_log_since() { tail -n +"$(($1 + 1))" "$D/server.out" | sed 's/^/      | /'; }

# ------------------------------------------------------------------ the story

heading "knock demo: port knocking in front of a real sshd"
say "  server kdemo-srv $SRV4 / $SRV6 (sshd on :22, dropped by iptables and ip6tables; $SERVER listens for 7000,8000,9000)"
say "  client kdemo-cli $CLI4 / $CLI6 (profiles \"demo\" and \"demo6\" in \$KNOCK_PROFILES, the same Hosts in its ssh config)"
show_rules

heading "1) Without knocking, port 22 is invisible"
if client 'ssh demo true'; then
    bad "ssh got in without a knock"
else
    good "ssh timed out: the server does not even answer"
fi

heading "2) Knock, then ssh"
say "  knock sends 7000,8000,9000, then waits until port 22 accepts (open_port = 22);"
say "  only then does ssh run."
log_lines=$(wc -l <"$D/server.out")
KNOCKED_AT=$SECONDS
knock_ok=0
if client "knock demo && ssh demo 'echo logged in over \$SSH_CONNECTION'"; then
    knock_ok=1
elif [[ "$SERVER" == knock-server ]] && ! rule_for "$CLI4"; then
    fall_back_to_knockd "knock-server did not open the door"
    log_lines=0
    KNOCKED_AT=$SECONDS
    if client "knock demo && ssh demo 'echo logged in over \$SSH_CONNECTION'"; then
        knock_ok=1
    fi
fi
if ((knock_ok)); then
    good "the door opened and ssh logged in"
else
    bad "knock demo && ssh demo failed"
fi
say "  what $SERVER logged:"
server_log_since "$log_lines"
show_rules

heading "3) Someone else ($OTHER) still cannot connect"
if client "ssh -b $OTHER demo true"; then
    bad "ssh from $OTHER got in: the door was opened for everyone"
else
    good "only $CLI4 was let in; $OTHER still times out"
fi

heading "4) The same over IPv6 ($SRV6)"
say "  profile demo6 knocks $SRV6; the server runs command_6 (ip6tables) for IPv6 knockers."
if client "knock demo6 && ssh demo6 'echo logged in over \$SSH_CONNECTION'"; then
    good "the IPv6 door opened for $CLI6 and ssh logged in"
else
    bad "knock demo6 && ssh demo6 failed"
fi
printf '%s  server# ip6tables -S INPUT%s\n' "$DIM" "$R"
in_srv "$IP6TABLES" -S INPUT | sed 's/^/      /'

heading "5) After cmd_timeout ($CMD_TIMEOUT s) the doors close by themselves"
if rule_for "$CLI4"; then
    say "  waiting for stop_command (iptables -D ...) to remove the rule..."
    if wait_for $((CMD_TIMEOUT + 8)) rule_gone "$CLI4"; then
        good "rule removed $((SECONDS - KNOCKED_AT)) s after the knock"
    else
        bad "the rule for $CLI4 is still there after $((SECONDS - KNOCKED_AT)) s"
    fi
else
    warn "no ACCEPT rule for $CLI4 to wait for"
fi
if wait_for $((CMD_TIMEOUT + 8)) rule6_gone "$CLI6"; then
    good "the IPv6 rule is gone too"
else
    bad "the ip6tables rule for $CLI6 is still there"
fi
show_rules
if client 'ssh demo true'; then
    bad "ssh still gets in after the door closed"
else
    good "ssh times out again"
fi

heading "Done"
if ((DEVIATIONS)); then
    say "  ${RED}$DEVIATIONS step(s) did not go as described above.${R}"
    exit 1
fi
say "  Everything went as described. (server: $SERVER)"
