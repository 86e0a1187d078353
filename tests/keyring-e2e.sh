#!/usr/bin/env bash
#
# End-to-end: a rotating profile's secret in a real Secret Service
# (gnome-keyring-daemon on a private D-Bus session bus, in a throw-away HOME).
#
#   - `knock --gen-secret vault` stores a new secret in the keyring and prints
#     the server's door with that secret;
#   - `knock --show-secret vault` reads the same secret back from the keyring;
#   - a second session (a fresh daemon, the keyring unlocked from disk) still
#     has it, and `knock vault --dry-run` derives the knock from it;
#   - with no Secret Service on the bus, knock says so and exits 3 (config).
#
# Needs no root and no network. The knock binary must be built with the
# `keyring` feature (knock-cli enables it). Prints "SKIP: reason" and exits 0
# when dbus-run-session or gnome-keyring-daemon is missing or the daemon
# cannot serve secrets here. Last line: "N passed, M failed".
# apt-packages: dbus gnome-keyring dbus-user-session
set -euo pipefail
# shellcheck source=lib/netns.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib/netns.sh"

require_cmd dbus-run-session gnome-keyring-daemon
require_bin knock
KNOCK="$KNOCK_BIN_DIR/knock"
test_tmpdir
T=$TEST_TMP

# A private HOME: the keyring files live under it, the user's are never touched.
export HOME="$T/home"
export XDG_DATA_HOME="$HOME/.local/share"
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_RUNTIME_DIR="$T/run"
export KNOCK_PROFILES="$T/profiles.toml"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$HOME" "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL

cat >"$KNOCK_PROFILES" <<'EOF'
[profiles.vault]
host = "192.0.2.1"
rotate = true
secret = "keyring"
EOF

# Stop a keyring daemon of ours that outlived its bus (by pid, found by our HOME).
stop_our_daemons() {
    local pid
    for pid in $(pgrep -x gnome-keyring-d 2>/dev/null || true); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "HOME=$HOME"; then
            kill "$pid" 2>/dev/null || true
        fi
    done
}
on_exit stop_our_daemons

# session FILE-PREFIX COMMANDS: run COMMANDS (sh) on a fresh session bus with
# gnome-keyring-daemon unlocked with password "pw"; stdout/stderr/status of
# the commands go to FILE-PREFIX.{out,err,rc}, the daemon's to FILE-PREFIX.daemon.
session() {
    local prefix=$1 cmds=$2
    # shellcheck disable=SC2016 # expanded by the inner sh
    timeout 60 dbus-run-session -- sh -c '
        prefix=$1; shift
        if ! printf pw | gnome-keyring-daemon --unlock --components=secrets >"$prefix.daemon" 2>&1; then
            echo "gnome-keyring-daemon failed" >>"$prefix.daemon"
            echo 99 >"$prefix.rc"
            exit 0
        fi
        rc=0
        sh -c "$1" >"$prefix.out" 2>"$prefix.err" || rc=$?
        echo "$rc" >"$prefix.rc"
    ' session "$prefix" "$cmds" 2>"$prefix.bus" || true
    stop_our_daemons
}

session "$T/gen" "'$KNOCK' --gen-secret vault"
if [[ "$(cat "$T/gen.rc" 2>/dev/null)" == 99 ]]; then
    skip "gnome-keyring-daemon cannot start here: $(tr '\n' ' ' <"$T/gen.daemon")"
fi
if grep -q "no keyring service is available" "$T/gen.err" 2>/dev/null; then
    skip "the Secret Service is not reachable here: $(head -n 1 "$T/gen.err")"
fi
show_on_failure "$T/gen.err" "$T/gen.daemon" "$T/gen.bus"

check "knock --gen-secret vault exits 0" test "$(cat "$T/gen.rc")" = 0
check "it says the secret went into the OS keyring" \
    grep -qF 'stored a new 160-bit secret in the OS keyring (service "knock", account "vault")' "$T/gen.err"
# The secret is the last line of the printed door, after "Ctrl+D:", as "#   SECRET".
generated=$(tail -n 1 "$T/gen.out" | sed -n 's/^#   \([A-Z2-7]\{26,\}\)$/\1/p')
check "the printed door carries the new secret" test -n "$generated"
check "the printed door is a rotating door section" grep -q '^    Rotate        = yes' "$T/gen.out"
check "the keyring was written under the private HOME" \
    bash -c "ls '$XDG_DATA_HOME/keyrings/' | grep -q keyring"

# The same secret given by secret_cmd, to compare the derived knocks.
printf '%s\n' "$generated" >"$T/secret.txt"
cat >"$T/cmd.toml" <<EOF
[profiles.vault]
host = "192.0.2.1"
rotate = true
secret_cmd = "cat $T/secret.txt"
EOF

# A new session, a new daemon, the keyring unlocked from disk. The dry runs
# (keyring, then secret_cmd) go in pairs, twice: a period boundary can fall
# between the two of one pair, not of both.
dry="'$KNOCK' vault --dry-run"
dry_cmd="KNOCK_PROFILES='$T/cmd.toml' '$KNOCK' vault --dry-run"
session "$T/show" "'$KNOCK' --show-secret vault && $dry >'$T/ring1' && $dry_cmd >'$T/cmd1' \
    && $dry >'$T/ring2' && $dry_cmd >'$T/cmd2'"
show_on_failure "$T/show.err" "$T/show.daemon"
check "knock --show-secret vault exits 0 in a new session" test "$(cat "$T/show.rc")" = 0
shown=$(sed -n 's/^secret: //p' "$T/show.out" | tr -d ' ')
check "the secret read back from the keyring is the one generated" \
    test -n "$shown" -a "$shown" = "$generated"
check "the sharing URI carries it too" grep -qF "secret=$generated&" "$T/show.out"
same_knock() {
    grep -qE '^  (tcp|udp) ' "$T/ring$1" && cmp -s "$T/ring$1" "$T/cmd$1"
}
check "knock vault --dry-run derives the same knock from the keyring's secret as from secret_cmd" \
    bash -c "$(declare -f same_knock); T='$T'; same_knock 1 || same_knock 2"

# No session bus at all: a clear message and the config exit status.
rc=0
env -u DBUS_SESSION_BUS_ADDRESS "$KNOCK" --show-secret vault >"$T/none.out" 2>"$T/none.err" || rc=$?
check "without a keyring service knock exits 3 (got $rc)" test "$rc" = 3
check "... and says there is no keyring service, suggesting secret_cmd" \
    grep -qE 'no keyring service is available .*secret_cmd' "$T/none.err"
# A keyring nobody unlocked (D-Bus starts the daemon, no password, no
# prompt possible): refused, not hanging, exit 3.
rc=0
timeout 30 dbus-run-session -- "$KNOCK" --show-secret vault >"$T/locked.out" 2>"$T/locked.err" || rc=$?
stop_our_daemons
check "with the keyring locked knock exits 3 (got $rc)" test "$rc" = 3
check "... and says the keyring is locked" grep -qF 'the keyring is locked or refused access to "vault"' "$T/locked.err"
check "nothing of the secret is printed then" bash -c "! grep -qF '$generated' '$T/locked.out' '$T/locked.err'"
show_on_failure "$T/none.err" "$T/locked.err"

summary
