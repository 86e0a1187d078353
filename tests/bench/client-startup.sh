#!/usr/bin/env bash
# Whole-process time of our `knock` against Debian's knock(1), same run, same
# arguments: three TCP knocks to closed ports on 127.0.0.1, no delay.
# Prints both means and the ratio (ours / theirs); the target is <= 1.2.
#
#   tests/bench/client-startup.sh            # builds target/release/knock first
#   KNOCK_BIN=path/to/knock tests/bench/client-startup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v hyperfine >/dev/null || { echo "SKIP: hyperfine not installed (apt-get install hyperfine)"; exit 0; }
command -v knock >/dev/null && [ -x /usr/bin/knock ] || { echo "SKIP: Debian's knock not installed (apt-get install knockd)"; exit 0; }

ours=${KNOCK_BIN:-target/release/knock}
if [ -z "${KNOCK_BIN:-}" ]; then
    cargo build --release -q -p knock-cli
fi

json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine -N --warmup 50 --min-runs 500 --export-json "$json" \
    -n ours "$ours 127.0.0.1 7000 8000 9000 -d 0" \
    -n debian "/usr/bin/knock -d 0 127.0.0.1 7000 8000 9000" >&2

python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
o, d = r["ours"], r["debian"]
print(f"knock (ours):   mean {o['mean']*1e3:.3f} ms  median {o['median']*1e3:.3f} ms  min {o['min']*1e3:.3f} ms")
print(f"knock (Debian): mean {d['mean']*1e3:.3f} ms  median {d['median']*1e3:.3f} ms  min {d['min']*1e3:.3f} ms")
print(f"ratio ours/Debian: median {o['median']/d['median']:.2f}x  min {o['min']/d['min']:.2f}x  (target <= 1.2x)")
PY
