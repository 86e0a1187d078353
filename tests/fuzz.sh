#!/usr/bin/env bash
#
# tests/fuzz.sh: builds the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer) and
# runs each one for a bounded time, seeded with fuzz/corpus/TARGET and the
# inputs of fuzz/regressions/TARGET (with fuzz/dicts/TARGET.dict if there is one). Fails if a target crashes (a panic, a
# failed invariant, a timeout), printing the input that did it and the panic.
# Needs no root. See fuzz/README.md.
#
# usage: tests/fuzz.sh [TARGET...]            (default: every target)
#
# Environment:
#   FUZZ_SECONDS=N       run time per target (default 30)
#   FUZZ_SANITIZER=S     address (with RUSTC_BOOTSTRAP=1 on stable) or none (default)
#   FUZZ_WORK=DIR        scratch corpora, artifacts and logs (default target/fuzz)
#
# cargo-fuzz is installed with `cargo install cargo-fuzz --locked` if missing;
# libFuzzer is built from source, which needs a C++ compiler.
# apt-packages: g++
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
REPO=$(pwd)
SECS=${FUZZ_SECONDS:-30}
SANITIZER=${FUZZ_SANITIZER:-none}
WORK=${FUZZ_WORK:-$REPO/target/fuzz}
START=$SECONDS

say() { printf '%s\n' "$*"; }
took() { say "    ($1: $((SECONDS - $2)) s)"; }
fail() {
    say "FAIL: $*"
    exit 1
}

if ! [[ "$SECS" =~ ^[0-9]+$ ]] || ((SECS < 1)); then
    fail "FUZZ_SECONDS must be a whole number of seconds, not \"$SECS\""
fi
case $SANITIZER in
none) ;;
address | leak | memory | thread) export RUSTC_BOOTSTRAP=1 ;;
*) fail "FUZZ_SANITIZER must be none, address, leak, memory or thread, not \"$SANITIZER\"" ;;
esac

for d in "${CARGO_HOME:-$HOME/.cargo}/bin" /usr/local/cargo/bin; do
    [[ -x "$d/cargo" ]] && PATH="$d:$PATH"
done
command -v cargo >/dev/null 2>&1 || fail "cargo not found (install Rust: https://rustup.rs)"
if ! command -v c++ >/dev/null 2>&1 && ! command -v clang++ >/dev/null 2>&1; then
    fail "no C++ compiler (c++ or clang++): libFuzzer is built from source (apt-get install g++)"
fi

step=$SECONDS
if cargo fuzz --version >/dev/null 2>&1; then
    say "==> $(cargo fuzz --version)"
else
    say "==> cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked || fail "cannot install cargo-fuzz"
fi
took "cargo-fuzz" "$step"

if (($#)); then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
((${#targets[@]})) || fail "no fuzz targets (cargo fuzz list is empty)"

FLAGS=(-O -a -s "$SANITIZER")
step=$SECONDS
say "==> cargo fuzz build ${FLAGS[*]} (${targets[*]})"
cargo fuzz build "${FLAGS[@]}" || fail "cannot build the fuzz targets"
took "build" "$step"

failed=()
for t in "${targets[@]}"; do
    step=$SECONDS
    corpus=$WORK/corpus/$t
    artifacts=$WORK/artifacts/$t
    log=$WORK/$t.log
    mkdir -p "$corpus" "$artifacts"
    rm -f "$artifacts"/*
    # New inputs go to the scratch corpus (first); the committed seeds and
    # the regressions are read only.
    seeds=()
    for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
        [[ -d "$d" ]] && seeds+=("$d")
    done
    extra=()
    [[ -f "fuzz/dicts/$t.dict" ]] && extra+=(-dict="fuzz/dicts/$t.dict")
    say "==> $t: ${SECS} s"
    cargo fuzz run "${FLAGS[@]}" "$t" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$SECS" -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${extra[@]}" >"$log" 2>&1
    rc=$?
    stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    if ((rc == 0)); then
        say "    ok: ${stats:-no final stats line} (log: ${log#"$REPO"/})"
    else
        failed+=("$t")
        say "    CRASH (exit status $rc), log: ${log#"$REPO"/}"
        input=INPUT
        for a in "$artifacts"/*; do
            [[ -f "$a" ]] || continue
            input=${a#"$REPO"/}
            say "    input: $input ($(wc -c <"$a") bytes)"
        done
        grep -E -A 4 'panicked at|ERROR: libFuzzer|SUMMARY:' "$log" | head -n 30 | sed 's/^/    | /'
        say "    reproduce: cargo fuzz run ${FLAGS[*]} $t $input"
    fi
    took "$t" "$step"
done

say "==> fuzz: ${#targets[@]} target(s), ${#failed[@]} crashed, $((SECONDS - START)) s in all"
if ((${#failed[@]})); then
    fail "crashed: ${failed[*]}"
fi
say "ok fuzz: no crash in ${SECS} s per target"
