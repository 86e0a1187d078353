#!/usr/bin/env bash
#
# End-to-end: the demo's story as assertions, `knock demo && ssh demo` against a
# real sshd behind a real firewall, with our knock-server opening the door.
#
# Without root (first part, always):
#   - `knock-server --check -c` accepts every example in assets/firewall/*.conf;
#   - assets/generate.sh writes non-empty completions and man pages
#     (man/knock.1, man/knock-server.8).
# As root (network namespaces kflow-srv / kflow-cli; documentation addresses):
#
#   kflow-srv  192.0.2.1   2001:db8::1   sshd on :22 (v4 and v6) behind a DROP,
#                                        knock-server watching veth-srv
#   kflow-cli  192.0.2.2   2001:db8::2   the user: profiles demo / demo6, ssh config
#              192.0.2.3   2001:db8::3   someone else on the client's link
#
# Once with the iptables example (assets/firewall/knock-iptables.conf: iptables
# for IPv4, ip6tables for IPv6 via Start_Command_6 / Stop_Command_6) and once
# with the nftables example (knock-nftables.nft + knock-nftables.conf: sets
# with a per-element timeout, so the kernel closes the door). The shipped
# files are used as they are, with only the 30 s timeouts shortened.
#
# Per firewall and address family:
#   before knocking, ssh fails; `knock demo && ssh -o BatchMode=yes demo true`
#   exits 0; the other address is still blocked; after the timeout the door
#   closes by itself and ssh fails again.
# Per firewall: `knock --close` shuts the door early; `knock bad && touch ran`
# exits 6 and does not run `touch` (wrong sequence, and again with the server
# stopped); stopping knock-server runs the pending Stop_Command (iptables).
#
# apt-packages: iptables nftables openssh-server openssh-client
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

# Door open time in the test (the examples say 30 s): short, so the test is quick.
CMD_TIMEOUT=${KFLOW_CMD_TIMEOUT:-3}
FW_DIR="$KNOCK_REPO/assets/firewall"

require_bin knock knock-server
KNOCK="$KNOCK_BIN_DIR/knock"
SERVER="$KNOCK_BIN_DIR/knock-server"
test_tmpdir
T=$TEST_TMP

# ------------------------------------------------------------------ no root needed

# check_conf FILE: knock-server --check accepts it and lists its doors.
check_conf() {
    local out
    out=$("$SERVER" --check -c "$1" 2>&1) || {
        printf '%s\n' "$out"
        return 1
    }
    printf '%s\n' "$out" | head -n 3
    grep -q '^door ' <<<"$out" || {
        echo "no door listed"
        return 1
    }
}

confs=("$FW_DIR"/*.conf)
if [[ ! -e "${confs[0]}" ]]; then
    check "assets/firewall has example configs" false
fi
for conf in "${confs[@]}"; do
    [[ -e "$conf" ]] || continue
    check "knock-server --check -c assets/firewall/${conf##*/}" check_conf "$conf"
done

# The iptables door must insert its ACCEPT (-I) in front of the DROP: an
# appended one (-A) would sit after the DROP and never match.
iptables_inserts() {
    local f="$FW_DIR/knock-iptables.conf" cmds
    cmds=$(grep -iE '^[[:space:]]*(start_)?command(_6)?[[:space:]]*=' "$f") || {
        echo "no start command in $f"
        return 1
    }
    printf '%s\n' "$cmds"
    grep -qE 'iptables -I INPUT' <<<"$cmds" && grep -qE 'ip6tables -I INPUT' <<<"$cmds" &&
        ! grep -qE 'tables -A ' <<<"$cmds"
}
check "the iptables example opens with -I (before the DROP), never -A" iptables_inserts

# The nftables door: an element with its own timeout, in the set the base
# ruleset declares with "flags timeout".
nft_timeout_element() {
    grep -qE 'nft add element inet filter knocked \{ %IP% timeout [0-9]+s \}' "$FW_DIR/knock-nftables.conf" &&
        grep -qE 'nft add element inet filter knocked6 \{ %IP% timeout [0-9]+s \}' "$FW_DIR/knock-nftables.conf" &&
        grep -qE '^[[:space:]]*set knocked[[:space:]]*\{' "$FW_DIR/knock-nftables.nft" &&
        grep -qE '^[[:space:]]*set knocked6[[:space:]]*\{' "$FW_DIR/knock-nftables.nft" &&
        grep -qE '^[[:space:]]*flags timeout' "$FW_DIR/knock-nftables.nft"
}
check "the nftables example adds set elements with a per-element timeout" nft_timeout_element

# assets/generate.sh writes completions and man pages (non-empty), the
# server's in section 8 (a daemon).
generated() {
    local out="$T/generated" f th
    KNOCK_BIN_DIR="$KNOCK_BIN_DIR" "$KNOCK_REPO/assets/generate.sh" "$out" || return 1
    for f in completions/knock.bash completions/_knock completions/knock.fish man/knock.1 man/knock-server.8; do
        [[ -s "$out/$f" ]] || {
            echo "missing or empty: $f"
            return 1
        }
    done
    bash -n "$out/completions/knock.bash" || return 1
    grep -q '^\.TH knock 1 ' "$out/man/knock.1" || {
        echo "man/knock.1 has no .TH knock 1 line"
        return 1
    }
    th=$(grep -m 1 '^\.TH' "$out/man/knock-server.8") || {
        echo "man/knock-server.8 has no .TH line"
        return 1
    }
    [[ "$th" == ".TH knock-server 8 "* ]] || {
        echo "man/knock-server.8: the title is not section 8: $th"
        return 1
    }
    if compgen -G "$out/man/knock-server.[0-79]*" >/dev/null; then
        echo "a knock-server man page in another section:" "$out"/man/knock-server.*
        return 1
    fi
    ls -l "$out"/*/
}
check "assets/generate.sh writes completions (bash, zsh, fish) and man pages" generated

if [[ "$(id -u)" -ne 0 ]]; then
    printf 'SKIP: %s: the end-to-end part needs root (network namespaces, iptables, nft, sshd)\n' "$TEST_NAME"
    summary
    exit
fi

# ------------------------------------------------------------------ root: the stage

require_root "network namespaces, pcap, iptables, nft and sshd"
require_cmd iptables ip6tables nft ssh ssh-keygen sshd timeout
IPTABLES=$(command -v iptables)
IP6TABLES=$(command -v ip6tables)
NFT=$(command -v nft)
SSH=$(command -v ssh)

netns_pair kflow
OTHER4=192.0.2.3
OTHER6=2001:db8::3
# Someone else's addresses, on the client's link. 192.0.2.3 is a secondary
# address; 2001:db8::3 is deprecated (preferred_lft 0), so neither is picked as
# the source of the user's own connections, but `ssh -b` can still use them.
ip -n "$NS_CLI" addr add "$OTHER4/24" dev "$IF_CLI"
ip -n "$NS_CLI" addr add "$OTHER6/64" dev "$IF_CLI" nodad preferred_lft 0

# Throw-away keys: the sshds' host keys (start_sshd) and the user's key.
ssh-keygen -q -t ed25519 -N '' -C knock-flow-user -f "$T/id_user"
for d in sshd4 sshd6; do
    mkdir -p "$T/$d"
    cp "$T/id_user.pub" "$T/$d/authorized_keys"
done
start_sshd "$NS_SRV" "$T/sshd4" "$SRV4" 22
start_sshd "$NS_SRV" "$T/sshd6" "$SRV6" 22
show_on_failure "$T/sshd4/sshd.log" "$T/sshd6/sshd.log"

# The user's side: profiles, an ssh config, and `knock` / `ssh` on PATH, so
# the commands below read exactly as a user types them.
cat >"$T/profiles.toml" <<EOF
[profiles.demo]
host = "$SRV4"
sequence = "7000,8000,9000"
close_sequence = "9000,8000,7000"
open_port = 22
wait_ms = 2000
user = "root"

[profiles.demo6]
host = "$SRV6"
sequence = "7000,8000,9000"
close_sequence = "9000,8000,7000"
open_port = 22
wait_ms = 2000
user = "root"

# The right ports in the wrong order: the door stays shut, knock exits 6.
[profiles.bad]
host = "$SRV4"
sequence = "8000,7000,9000"
open_port = 22
wait_ms = 1000
user = "root"
EOF
cat >"$T/ssh_config" <<EOF
Host demo
    HostName $SRV4
Host demo6
    HostName $SRV6
Host *
    User root
    IdentityFile $T/id_user
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    ConnectTimeout 1
    ConnectionAttempts 1
    BatchMode yes
    LogLevel ERROR
EOF
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$KNOCK" >"$T/bin/knock"
printf '#!/bin/sh\nexec "%s" -F "%s" "$@"\n' "$SSH" "$T/ssh_config" >"$T/bin/ssh"
chmod +x "$T/bin/knock" "$T/bin/ssh"

# client 'COMMAND': run a shell command line in the client namespace as the
# user would (knock and ssh on PATH, the test's profile file), bounded in time.
client() {
    echo "client\$ $1"
    ip netns exec "$NS_CLI" env PATH="$T/bin:$PATH" KNOCK_PROFILES="$T/profiles.toml" \
        XDG_CONFIG_HOME="$T/config" timeout 20 sh -c "$1" </dev/null
}

# ------------------------------------------------------------------ firewalls

FW=
SERVER_PID=
SERVER_OUT=

fw_setup() { # fw_setup iptables|nftables: port 22 dropped for everyone
    FW=$1
    case $FW in
    iptables)
        # The commands the example's comment gives.
        local ipt
        for ipt in "$IPTABLES" "$IP6TABLES"; do
            in_srv "$ipt" -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
            in_srv "$ipt" -A INPUT -p tcp --dport 22 -j DROP
        done
        ;;
    nftables)
        # The shipped ruleset file, unchanged.
        in_srv "$NFT" -f "$FW_DIR/knock-nftables.nft"
        ;;
    esac
}

fw_reset() {
    in_srv "$IPTABLES" -F INPUT 2>/dev/null || true
    in_srv "$IP6TABLES" -F INPUT 2>/dev/null || true
    in_srv "$NFT" flush ruleset 2>/dev/null || true
}

# door_open ADDR: the firewall lets ADDR in on port 22 right now.
# (The listing is read whole before grep: with pipefail, `cmd | grep -q` can
# fail when grep exits early and cmd dies of SIGPIPE.)
door_open() {
    local addr=$1 list
    case $FW in
    iptables)
        if [[ "$addr" == *:* ]]; then
            list=$(in_srv "$IP6TABLES" -S INPUT) || return 2
            grep -qF -- "-s $addr/128 -p tcp -m tcp --dport 22 -j ACCEPT" <<<"$list"
        else
            list=$(in_srv "$IPTABLES" -S INPUT) || return 2
            grep -qF -- "-s $addr/32 -p tcp -m tcp --dport 22 -j ACCEPT" <<<"$list"
        fi
        ;;
    nftables)
        local set=knocked
        [[ "$addr" == *:* ]] && set=knocked6
        list=$(in_srv "$NFT" list set inet filter "$set") || return 2
        grep -qE "[{ ,]${addr}( |,|\$)" <<<"$list"
        ;;
    esac
}
door_shut() { # the firewall was read and has no entry for ADDR
    local rc=0
    door_open "$1" || rc=$?
    ((rc == 1))
}

show_firewall() {
    case $FW in
    iptables)
        in_srv "$IPTABLES" -S INPUT
        in_srv "$IP6TABLES" -S INPUT
        ;;
    nftables) in_srv "$NFT" list ruleset ;;
    esac
}

# start_server: knock-server with the shipped example for $FW, its timeouts
# shortened to CMD_TIMEOUT seconds and its log to stderr (-v) instead of syslog.
start_server() {
    local conf="$T/knock-$FW.conf"
    sed -e "s/^\([[:space:]]*Cmd_Timeout[[:space:]]*=[[:space:]]*\)30\$/\1$CMD_TIMEOUT/" \
        -e "s/ timeout 30s / timeout ${CMD_TIMEOUT}s /" \
        -e '/^[[:space:]]*UseSyslog[[:space:]]*$/d' \
        "$FW_DIR/knock-$FW.conf" >"$conf"
    # The shortened timeout must really be in the config we run.
    if [[ $FW == iptables ]]; then
        grep -qE "Cmd_Timeout += $CMD_TIMEOUT\$" "$conf"
    else
        grep -qF "timeout ${CMD_TIMEOUT}s }" "$conf"
    fi || {
        echo "could not shorten the timeouts of $FW_DIR/knock-$FW.conf (layout changed?)"
        return 1
    }
    SERVER_OUT="$T/server-$FW.out"
    spawn_in "$NS_SRV" "$SERVER_OUT" "$SERVER" -c "$conf" -i "$IF_SRV" -v \
        --journal "$T/journal-$FW"
    SERVER_PID=$SPAWNED_PID
    wait_listening knock-server "$SERVER_OUT"
}

stop_server() {
    [[ -n "$SERVER_PID" ]] && stop_pid "$SERVER_PID"
    SERVER_PID=
}

# ------------------------------------------------------------------ the story

knocked_at=

knock_and_ssh() { # knock_and_ssh NAME: the one-liner, timed
    knocked_at=$EPOCHREALTIME
    client "knock $1 && ssh -o BatchMode=yes $1 true"
}

# opened_for_only ADDR OTHER: the door is open for ADDR and not for OTHER,
# and knock-server said OPEN SESAME for ADDR.
opened_for_only() {
    door_open "$1" || {
        echo "no firewall entry for $1:"
        show_firewall
        return 1
    }
    door_shut "$2" || {
        echo "the door is open for $2 as well:"
        show_firewall
        return 1
    }
    grep -E "^$1: openSSH: OPEN SESAME" "$SERVER_OUT" || {
        echo "knock-server did not log '$1: openSSH: OPEN SESAME'"
        return 1
    }
}

# closes_after_timeout ADDR: the entry goes away by itself, CMD_TIMEOUT seconds
# after the knock (not much sooner, and within 4 s more).
closes_after_timeout() {
    local addr=$1
    if ! wait_for $((CMD_TIMEOUT + 4)) door_shut "$addr"; then
        echo "still open $((CMD_TIMEOUT + 4)) s after the knock:"
        show_firewall
        return 1
    fi
    local ms=$(((${EPOCHREALTIME//[.,]/} - ${knocked_at//[.,]/}) / 1000))
    echo "closed $ms ms after the knock (timeout ${CMD_TIMEOUT}s)"
    if ((ms < CMD_TIMEOUT * 1000 - 500)); then
        echo "that is before the timeout: something else closed it"
        return 1
    fi
}

story() { # story FAMILY(4|6)
    local fam=$1 name addr other
    if [[ $fam == 4 ]]; then
        name=demo addr=$CLI4 other=$OTHER4
    else
        name=demo6 addr=$CLI6 other=$OTHER6
    fi
    local tag="[$FW, IPv$fam]"
    check_not "$tag before knocking, ssh $name fails (port 22 dropped)" \
        client "ssh -o BatchMode=yes $name true"
    check "$tag knock $name && ssh -o BatchMode=yes $name true exits 0" \
        knock_and_ssh "$name"
    check "$tag the door opened for $addr only" opened_for_only "$addr" "$other"
    check_not "$tag a third address ($other) is still blocked" \
        client "ssh -o BatchMode=yes -b $other $name true"
    check "$tag the door closes by itself after the timeout (${CMD_TIMEOUT}s)" \
        closes_after_timeout "$addr"
    check_not "$tag after the timeout, ssh $name fails again" \
        client "ssh -o BatchMode=yes $name true"
}

# close_early: knock --close shuts the door long before the timeout.
close_early() {
    client "knock demo" || {
        echo "knock demo failed"
        return 1
    }
    door_open "$CLI4" || {
        echo "the door did not open"
        return 1
    }
    local t0=$EPOCHREALTIME
    client "knock --close demo" || {
        echo "knock --close demo failed"
        return 1
    }
    wait_for 2 door_shut "$CLI4" || {
        echo "still open 2 s after knock --close:"
        show_firewall
        return 1
    }
    echo "closed $(((${EPOCHREALTIME//[.,]/} - ${t0//[.,]/}) / 1000)) ms after knock --close"
    check_ssh_fails
}
check_ssh_fails() {
    if client "ssh -o BatchMode=yes demo true"; then
        echo "ssh still gets in"
        return 1
    fi
}

# not_run PROFILE: `knock PROFILE && touch ran` exits 6 and touch never runs.
not_run() {
    rm -f -- "$T/ran"
    local rc=0
    client "knock $1 && touch $T/ran" || rc=$?
    echo "exit status $rc"
    if [[ -e "$T/ran" ]]; then
        echo "the command after && ran"
        return 1
    fi
    ((rc == 6))
}

# stop_closes: with the door open, stopping knock-server (SIGTERM) runs the
# pending Stop_Command at once.
stop_closes() {
    client "knock demo" || return 1
    door_open "$CLI4" || {
        echo "the door did not open"
        return 1
    }
    stop_server
    if ! door_shut "$CLI4"; then
        echo "the door is still open after knock-server stopped:"
        show_firewall
        tail -n 5 "$SERVER_OUT"
        return 1
    fi
}

wait_shut_both() { # let any door this variant opened close before moving on
    wait_for $((CMD_TIMEOUT + 4)) door_shut "$CLI4" || true
    wait_for $((CMD_TIMEOUT + 4)) door_shut "$CLI6" || true
}

# stops_done: every door opened so far has had its Stop_Command run. A door
# shut early (knock --close) still has its stop pending; like knockd's, it
# deletes the same rule later, so a new open must not race it.
stops_done() {
    local log opened stopped
    log=$(cat "$SERVER_OUT" 2>/dev/null) || return 1
    opened=$(grep -c 'openSSH: OPEN SESAME' <<<"$log")
    stopped=$(grep -c 'openSSH: command timeout' <<<"$log")
    ((opened == stopped))
}

for fw in ${KFLOW_FIREWALLS:-iptables nftables}; do
    note "---- $fw"
    fw_setup "$fw"
    if ! start_server; then
        check "[$fw] knock-server starts" false
        fw_reset
        continue
    fi
    story 4
    story 6
    check "[$fw] knock --close demo shuts the door before the timeout" close_early
    check "[$fw] wrong sequence: knock bad && touch ran exits 6, touch does not run" \
        not_run bad
    if [[ $fw == iptables ]]; then
        wait_shut_both
        wait_for $((CMD_TIMEOUT + 4)) stops_done || note "earlier stops still pending"
        check "[$fw] stopping knock-server runs the pending Stop_Command (door closed)" \
            stop_closes
    fi
    stop_server
    wait_shut_both
    check "[$fw] server down: knock demo && touch ran exits 6, touch does not run" \
        not_run demo
    fw_reset
done

summary
