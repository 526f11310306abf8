#!/usr/bin/env bash
# Overhead of the edge's route (issue 5): redis-benchmark through the quickstart's private endpoint
# pe-hub (plain port 6379: accept at the endpoint, in-process hand-off to the engine) vs straight at
# the same engine on its direct loopback port (`redlink up --direct-engines`: the same hand-off
# without the edge's policy), in the same run, alternating. Loopback only.
#
#   benches/edge.sh                # ROUNDS=3 alternations (ROUNDS=N to change)
#   REDLINK=path/to/redlink benches/edge.sh
#
# Needs redis-benchmark and jq, and a release build (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${REDLINK:-$TARGET_DIR/release/redlink}
for tool in redis-benchmark jq; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ -x "$BIN" ] || cargo build --release --bin redlink

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

RUST_LOG=warn "$BIN" up --direct-engines --state-file "$work/state.json" >"$work/up.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -s "$work/state.json" ] && break; sleep 0.05; done
[ -s "$work/state.json" ] || { cat "$work/up.log" >&2; exit 1; }

pe=$(jq -r '.caches.contoso.endpoints[] | select(.name == "pe-hub") | .address' "$work/state.json")
direct=$(jq -r '.caches.contoso.direct' "$work/state.json")
direct_host=${direct%:*}
direct_port=${direct##*:}
echo "pe-hub: $pe:6379    direct engine: $direct"

# rps of SET and GET, as "SET GET".
bench() { # host port extra-args...
    local host=$1 port=$2
    shift 2
    redis-benchmark -h "$host" -p "$port" -c 50 -t set,get --csv "$@" 2>/dev/null |
        awk -F'","' '/^"SET"/ {s=$2} /^"GET"/ {g=$2} END {gsub(/"/, "", s); gsub(/"/, "", g); print s, g}'
}

for mode in "-n 200000 -P 1" "-n 2000000 -P 16"; do
    echo
    echo "redis-benchmark -c 50 $mode -t set,get"
    printf '%-6s %14s %14s %14s %14s\n' round pe-SET direct-SET pe-GET direct-GET
    sum_pe=0; sum_direct=0
    for r in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        read -r ps pg < <(bench "$pe" 6379 $mode)
        # shellcheck disable=SC2086
        read -r ds dg < <(bench "$direct_host" "$direct_port" $mode)
        printf '%-6s %14s %14s %14s %14s\n' "$r" "$ps" "$ds" "$pg" "$dg"
        sum_pe=$(awk -v a="$sum_pe" -v b="$ps" -v c="$pg" 'BEGIN {print a + b + c}')
        sum_direct=$(awk -v a="$sum_direct" -v b="$ds" -v c="$dg" 'BEGIN {print a + b + c}')
    done
    awk -v p="$sum_pe" -v d="$sum_direct" 'BEGIN {printf "pe-hub / direct (SET+GET, all rounds): %.3fx\n", p / d}'
done
