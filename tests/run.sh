#!/usr/bin/env bash
#
# tests/run.sh: everything CI runs. Installs the test dependencies (as root on
# Debian), builds the workspace, runs the cargo tests, then every end-to-end
# script in tests/, and ends with one line "N passed, M failed".
#
# usage: tests/run.sh [E2E_SCRIPT...]     (default: all of them)
#
# As root: `apt-get update` + `apt-get install` of the packages below first,
# then the root end-to-end tests in throw-away network namespaces.
# Not root: build, cargo tests and fuzzing only; the end-to-end scripts are skipped.
#
# Environment:
#   KNOCK_SKIP_APT=1     do not run apt-get (packages already installed)
#   KNOCK_SKIP_UNIT=1    skip the cargo tests (build + end-to-end only)
#   KNOCK_SKIP_E2E=1     skip the end-to-end scripts (and the demo)
#   KNOCK_SKIP_DEMO=1    skip running ./demo.sh at the end
#   KNOCK_SKIP_FUZZ=1    skip tests/fuzz.sh (every fuzz target for FUZZ_SECONDS, default 30)
#   KNOCK_E2E_TIMEOUT=S  time limit per end-to-end script (default 600 s)
#   KNOCK_BIN_DIR        binaries the scripts use (default target/debug, built here)
#
# A test script may ask for extra Debian packages with a comment line
#   # apt-packages: foo bar
# shellcheck disable=SC2317 # functions run through `step`, which shellcheck cannot follow
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
REPO=$(pwd)
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}

if [[ -t 1 ]]; then
    BOLD=$'\e[1m' RED=$'\e[31m' GREEN=$'\e[32m' YELLOW=$'\e[33m' RESET=$'\e[0m'
else
    BOLD='' RED='' GREEN='' YELLOW='' RESET=''
fi

heading() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
info() { printf '    %s\n' "$*"; }

IS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && IS_ROOT=1

PASSED=0
FAILED=0
SKIPPED=0
RESULTS=()
LOG_DIR="$REPO/target/test-logs"
mkdir -p "$LOG_DIR"

record() { # record pass|fail|skip NAME SECONDS [NOTE]
    local what=$1 name=$2 secs=$3 why=${4:-}
    case $what in
    pass)
        PASSED=$((PASSED + 1))
        RESULTS+=("${GREEN}PASS${RESET}  $name (${secs}s)")
        ;;
    fail)
        FAILED=$((FAILED + 1))
        RESULTS+=("${RED}FAIL${RESET}  $name (${secs}s)${why:+ - $why}")
        ;;
    skip)
        SKIPPED=$((SKIPPED + 1))
        RESULTS+=("${YELLOW}SKIP${RESET}  $name${why:+ - $why}")
        ;;
    esac
}

# step NAME CMD...: run one step, output streamed and kept in target/test-logs/.
step() {
    local name=$1
    shift
    local log="$LOG_DIR/${name//[^A-Za-z0-9._-]/_}.log"
    heading "$name"
    local start=$SECONDS rc
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local secs=$((SECONDS - start))
    if ((rc == 0)); then
        record pass "$name" "$secs"
    else
        record fail "$name" "$secs" "exit status $rc, log: ${log#"$REPO"/}"
    fi
    return "$rc"
}

finish() {
    heading "Summary"
    local r
    for r in "${RESULTS[@]}"; do
        printf '    %s\n' "$r"
    done
    ((SKIPPED)) && printf '%d skipped\n' "$SKIPPED"
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED)); then exit 1; fi
    exit 0
}

# ---------------------------------------------------------------- packages

BASE_PACKAGES=(
    # build
    ca-certificates gcc libc6-dev pkg-config libpcap-dev
    # network end-to-end tests
    iproute2 iptables nftables procps tcpdump tcpreplay knockd
    openssh-server openssh-client
    # GUI tests under Xvfb with software GL; screenshots
    xvfb xauth imagemagick libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libx11-xcb1
)

# Packages some script needs beyond the base set: "# apt-packages:" lines, and
# a few tools recognised by name.
extra_packages() {
    local f
    for f in tests/*.sh tests/lib/*.sh; do
        [[ -f "$f" && "$f" != tests/run.sh ]] || continue
        sed -n 's/^# apt-packages:[[:space:]]*//p' "$f"
        grep -qw hyperfine "$f" && echo hyperfine
        grep -qw dbus-run-session "$f" && echo dbus
        grep -qw gnome-keyring-daemon "$f" && echo gnome-keyring
        grep -qw socat "$f" && echo socat
        grep -qw xdotool "$f" && echo xdotool
        grep -qw python3 "$f" && echo python3
    done | tr ' ' '\n' | sed '/^$/d' | sort -u
}

apt_install() {
    local pkgs=("${BASE_PACKAGES[@]}")
    local p
    while read -r p; do pkgs+=("$p"); done < <(extra_packages)
    local i
    for i in 1 2 3; do
        apt-get update && break
        ((i == 3)) && return 1
        info "apt-get update failed, retrying in 5 s"
        sleep 5
    done
    apt-get install -y --no-install-recommends "${pkgs[@]}"
}

# Debian's knockd package may start the system service; the tests run their
# own knockd inside namespaces, so stop the service (only knockd processes in
# the host's network namespace: never ones a test started in its namespace).
stop_knockd_service() {
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now knockd >/dev/null 2>&1 || true
    fi
    service knockd stop >/dev/null 2>&1 || true
    local host_ns pid
    host_ns=$(readlink /proc/1/ns/net 2>/dev/null || true)
    for pid in $(pgrep -x knockd 2>/dev/null || true); do
        if [[ -n "$host_ns" && "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" == "$host_ns" ]]; then
            info "stopping knockd service process $pid"
            kill "$pid" 2>/dev/null || true
        fi
    done
}

# ---------------------------------------------------------------- cargo

find_cargo() {
    command -v cargo >/dev/null 2>&1 && return 0
    local d
    for d in "${CARGO_HOME:-$HOME/.cargo}/bin" /usr/local/cargo/bin; do
        if [[ -x "$d/cargo" ]]; then
            export PATH="$d:$PATH"
            return 0
        fi
    done
    return 1
}

install_rust() {
    # Debian's own rustc is too old for this workspace (rust-version 1.95).
    apt-get install -y --no-install-recommends curl ca-certificates gcc libc6-dev || return 1
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain stable || return 1
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
}

unit_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --no-fail-fast --no-tests=warn || return 1
        cargo test --workspace --doc
    else
        cargo test --workspace --no-fail-fast
    fi
}

# ---------------------------------------------------------------- e2e

e2e_scripts() {
    local f
    local -A seen=()
    for f in tests/client-*.sh tests/server-*.sh tests/*-e2e.sh tests/gui-*.sh; do
        [[ -f "$f" && -z "${seen[$f]:-}" ]] || continue
        seen[$f]=1
        echo "$f"
    done
}

run_e2e() { # run_e2e SCRIPT
    local script=$1 name
    name=$(basename "$script" .sh)
    local log="$LOG_DIR/e2e-$name.log"
    heading "e2e: $script"
    local start=$SECONDS rc
    timeout -k 10 "${KNOCK_E2E_TIMEOUT:-600}" bash "$script" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local secs=$((SECONDS - start))
    if ((rc == 0)) && grep -q '^SKIP:' "$log" && ! grep -q '^ok ' "$log"; then
        record skip "$script" "$secs" "$(grep -m1 '^SKIP:' "$log" | sed -E 's/^SKIP: ([^ :]+\.sh: )?//')"
    elif ((rc == 0)); then
        record pass "$script" "$secs"
    elif ((rc == 124 || rc == 137)); then
        record fail "$script" "$secs" "timed out after ${KNOCK_E2E_TIMEOUT:-600}s, log: ${log#"$REPO"/}"
    else
        record fail "$script" "$secs" "exit status $rc, log: ${log#"$REPO"/}"
    fi
}

# ---------------------------------------------------------------- main

heading "knock test run ($(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc 2>/dev/null || echo '?') cores)"

if ((!IS_ROOT)); then
    info "not root: skipping apt-get and the end-to-end tests (they need network namespaces)"
elif [[ "${KNOCK_SKIP_APT:-}" == 1 ]]; then
    info "KNOCK_SKIP_APT=1: not installing packages"
elif ! command -v apt-get >/dev/null 2>&1; then
    info "no apt-get here: not installing packages (install the ones listed in tests/run.sh yourself)"
else
    step "apt-get install" apt_install || finish
    stop_knockd_service
fi

if ! find_cargo; then
    if ((IS_ROOT)) && [[ "${KNOCK_SKIP_APT:-}" != 1 ]] && command -v apt-get >/dev/null 2>&1; then
        step "install Rust (rustup)" install_rust || finish
    else
        heading "cargo not found"
        info "install Rust 1.95 or newer (https://rustup.rs) and run again"
        record fail "find cargo" 0 "cargo not in PATH"
        finish
    fi
fi
info "$(cargo --version) / $(rustc --version 2>/dev/null)"

# Debug binaries: quicker to build; the end-to-end scripts use them.
export KNOCK_BIN_DIR=${KNOCK_BIN_DIR:-$REPO/target/debug}
step "cargo build" cargo build --workspace --all-targets || finish

if [[ "${KNOCK_SKIP_UNIT:-}" == 1 ]]; then
    record skip "cargo tests" 0 "KNOCK_SKIP_UNIT=1"
else
    step "cargo tests" unit_tests
fi

# Fuzzing: each target of fuzz/ for a bounded time (needs no root).
if [[ "${KNOCK_SKIP_FUZZ:-}" == 1 ]]; then
    record skip "tests/fuzz.sh" 0 "KNOCK_SKIP_FUZZ=1"
elif (($#)); then
    record skip "tests/fuzz.sh" 0 "only the scripts named on the command line"
else
    step "tests/fuzz.sh" bash tests/fuzz.sh </dev/null
fi

if [[ "${KNOCK_SKIP_E2E:-}" == 1 ]]; then
    record skip "end-to-end tests" 0 "KNOCK_SKIP_E2E=1"
elif ((!IS_ROOT)); then
    heading "end-to-end tests: skipped, not root"
    info "they need root (network namespaces, pcap, iptables): run it as root (or with sudo)"
    while read -r s; do
        record skip "$s" 0 "needs root"
    done < <(e2e_scripts)
    record skip "demo.sh" 0 "needs root"
else
    if (($#)); then
        scripts=("$@")
    else
        mapfile -t scripts < <(e2e_scripts)
    fi
    if ((${#scripts[@]} == 0)); then
        info "no end-to-end scripts found in tests/"
    fi
    for s in "${scripts[@]}"; do
        run_e2e "$s"
    done
    # README command 1 must keep working: the demo, on the binaries built above,
    # with our server only (no fallback to Debian's knockd).
    if [[ "${KNOCK_SKIP_DEMO:-}" == 1 ]]; then
        record skip "demo.sh" 0 "KNOCK_SKIP_DEMO=1"
    elif (($#)); then
        record skip "demo.sh" 0 "only the scripts named on the command line"
    else
        step "demo.sh" timeout -k 10 300 env KNOCK_DEMO_STRICT=1 ./demo.sh --no-build </dev/null
    fi
fi

finish
