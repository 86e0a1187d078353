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
#   OUT_DIR/man/knock-server.N       man page (knock-server --man), when that
#                                    binary is built and has --man; else skipped
#
# The binaries come from $KNOCK_BIN_DIR, else target/release, else
# target/debug (relative paths are taken from the repository root). When knock
# is in none of them, `cargo build -p knock-cli` builds it first.
#
# Install by hand, for example:
#   install -Dm644 target/assets/completions/knock.bash /usr/share/bash-completion/completions/knock
#   install -Dm644 target/assets/completions/_knock     /usr/share/zsh/vendor-completions/_knock
#   install -Dm644 target/assets/completions/knock.fish /usr/share/fish/vendor_completions.d/knock.fish
#   install -Dm644 target/assets/man/knock.1            /usr/share/man/man1/knock.1
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    printf 'generate.sh: %s\n' "$*" >&2
    exit 1
}

case ${1:-} in
-h | --help)
    sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
(($# <= 1)) || die "too many arguments (usage: assets/generate.sh [OUT_DIR])"

OUT=${1:-$REPO/target/assets}

abs() { # a path relative to the repository root, made absolute
    if [[ "$1" == /* ]]; then echo "$1"; else echo "$REPO/$1"; fi
}

if [[ -n "${KNOCK_BIN_DIR:-}" ]]; then
    BIN=$(abs "$KNOCK_BIN_DIR")
elif [[ -x "$REPO/target/release/knock" ]]; then
    BIN=$REPO/target/release
else
    BIN=$REPO/target/debug
fi
if [[ ! -x "$BIN/knock" ]]; then
    [[ -z "${KNOCK_BIN_DIR:-}" ]] || die "$BIN/knock not found (KNOCK_BIN_DIR=$KNOCK_BIN_DIR)"
    command -v cargo >/dev/null 2>&1 || die "$BIN/knock not found and no cargo to build it"
    echo "generate.sh: building knock (cargo build -p knock-cli)" >&2
    (cd "$REPO" && cargo build -q -p knock-cli) || die "cargo build -p knock-cli failed"
    BIN=$REPO/target/debug
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

write "$OUT/completions/knock.bash" "$BIN/knock" --completions bash
write "$OUT/completions/_knock" "$BIN/knock" --completions zsh
write "$OUT/completions/knock.fish" "$BIN/knock" --completions fish

write "$OUT/man/knock.roff" "$BIN/knock" --man >/dev/null
sec=$(man_section "$OUT/man/knock.roff")
mv -f -- "$OUT/man/knock.roff" "$OUT/man/knock.$sec"
echo "$OUT/man/knock.$sec"

SERVER=$BIN/knock-server
if [[ ! -x "$SERVER" ]]; then
    echo "generate.sh: $SERVER not built: no knock-server man page" >&2
elif ! "$SERVER" --man >/dev/null 2>&1; then
    echo "generate.sh: knock-server has no --man: no knock-server man page" >&2
else
    write "$OUT/man/knock-server.roff" "$SERVER" --man >/dev/null
    sec=$(man_section "$OUT/man/knock-server.roff")
    mv -f -- "$OUT/man/knock-server.roff" "$OUT/man/knock-server.$sec"
    echo "$OUT/man/knock-server.$sec"
fi
