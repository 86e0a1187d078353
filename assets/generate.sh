#!/usr/bin/env bash
#
# assets/generate.sh: write the shell completions and man pages of the built
# binaries into a directory (default: target/assets), for packages and installs.
#
# usage: assets/generate.sh [OUT_DIR]
#
#   OUT_DIR/completions/knock.bash   bash  (knock --completions bash)
#   OUT_DIR/completions/_knock       zsh   (knock --completions zsh)
#   OUT_DIR/completions/knock.fish   fish  (knock --completions fish)
#   OUT_DIR/man/knock.1              man page (knock --man)
#   OUT_DIR/man/knock-server.8       man page (knock-server --man; section 8,
#                                    from the page's .TH line)
#
# Each binary comes from $KNOCK_BIN_DIR (a relative path is taken from the
# repository root), else the newer of target/release and target/debug (so a
# stale build is not used). When one is in none of them, `cargo build -p
# knock-cli` (or `-p knock-server`, which needs libpcap-dev) builds it first;
# when knock-server cannot be built, its man page is skipped with a warning.
#
# Install by hand, for example:
#   install -Dm644 target/assets/completions/knock.bash /usr/share/bash-completion/completions/knock
#   install -Dm644 target/assets/completions/_knock     /usr/share/zsh/vendor-completions/_knock
#   install -Dm644 target/assets/completions/knock.fish /usr/share/fish/vendor_completions.d/knock.fish
#   install -Dm644 target/assets/man/knock.1            /usr/share/man/man1/knock.1
#   install -Dm644 target/assets/man/knock-server.8     /usr/share/man/man8/knock-server.8
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    printf 'generate.sh: %s\n' "$*" >&2
    exit 1
}

case ${1:-} in
-h | --help)
    sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
(($# <= 1)) || die "too many arguments (usage: assets/generate.sh [OUT_DIR])"

OUT=${1:-$REPO/target/assets}

abs() { # a path relative to the repository root, made absolute
    if [[ "$1" == /* ]]; then echo "$1"; else echo "$REPO/$1"; fi
}

# find_bin NAME: the path of binary NAME ($KNOCK_BIN_DIR, else the newer of
# target/release and target/debug); empty when it is in none of them.
find_bin() {
    local rel=$REPO/target/release/$1 dbg=$REPO/target/debug/$1
    if [[ -n "${KNOCK_BIN_DIR:-}" ]]; then
        rel=$(abs "$KNOCK_BIN_DIR")/$1
        dbg=$rel
    fi
    if [[ -x "$rel" && ! ("$dbg" -nt "$rel" && -x "$dbg") ]]; then
        echo "$rel"
    elif [[ -x "$dbg" ]]; then
        echo "$dbg"
    fi
}

KNOCK=$(find_bin knock)
if [[ -z "$KNOCK" ]]; then
    [[ -z "${KNOCK_BIN_DIR:-}" ]] || die "$(abs "$KNOCK_BIN_DIR")/knock not found (KNOCK_BIN_DIR=$KNOCK_BIN_DIR)"
    command -v cargo >/dev/null 2>&1 || die "knock not built (target/release, target/debug) and no cargo to build it"
    echo "generate.sh: building knock (cargo build -p knock-cli)" >&2
    (cd "$REPO" && cargo build -q -p knock-cli) || die "cargo build -p knock-cli failed"
    KNOCK=$REPO/target/debug/knock
fi

SERVER=$(find_bin knock-server)
if [[ -z "$SERVER" && -z "${KNOCK_BIN_DIR:-}" ]] && command -v cargo >/dev/null 2>&1; then
    echo "generate.sh: building knock-server (cargo build -p knock-server)" >&2
    if (cd "$REPO" && cargo build -q -p knock-server); then
        SERVER=$REPO/target/debug/knock-server
    else
        echo "generate.sh: cargo build -p knock-server failed (libpcap-dev missing?)" >&2
    fi
fi

mkdir -p "$OUT/completions" "$OUT/man"

# write FILE CMD...: CMD's stdout into FILE (via a temp file); fails on an
# error or an empty output, leaving no partial file behind.
write() {
    local file=$1
    shift
    local tmp="$file.tmp.$$"
    local rc=0
    "$@" >"$tmp" || rc=$?
    if ((rc != 0)); then
        rm -f -- "$tmp"
        die "failed: $* (exit status $rc)"
    fi
    if [[ ! -s "$tmp" ]]; then
        rm -f -- "$tmp"
        die "empty output: $*"
    fi
    mv -f -- "$tmp" "$file"
    echo "$file"
}

# The man section from a roff page's .TH line (".TH knock 1 ..."), default 1.
man_section() {
    local s
    s=$(sed -n 's/^\.TH[[:space:]]\{1,\}[^[:space:]]\{1,\}[[:space:]]\{1,\}"\{0,1\}\([0-9][a-z]*\).*/\1/p' "$1" | head -n 1)
    echo "${s:-1}"
}

write "$OUT/completions/knock.bash" "$KNOCK" --completions bash
write "$OUT/completions/_knock" "$KNOCK" --completions zsh
write "$OUT/completions/knock.fish" "$KNOCK" --completions fish

write "$OUT/man/knock.roff" "$KNOCK" --man >/dev/null
sec=$(man_section "$OUT/man/knock.roff")
mv -f -- "$OUT/man/knock.roff" "$OUT/man/knock.$sec"
echo "$OUT/man/knock.$sec"

if [[ -z "$SERVER" ]]; then
    echo "generate.sh: warning: knock-server not built: no knock-server man page" >&2
elif ! "$SERVER" --man >/dev/null 2>&1; then
    echo "generate.sh: warning: $SERVER has no --man (an old build? rebuild it): no knock-server man page" >&2
else
    write "$OUT/man/knock-server.roff" "$SERVER" --man >/dev/null
    sec=$(man_section "$OUT/man/knock-server.roff")
    mv -f -- "$OUT/man/knock-server.roff" "$OUT/man/knock-server.$sec"
    echo "$OUT/man/knock-server.$sec"
fi
