#!/usr/bin/env bash
# Overhead of proxying to a backend (issue 22): redis-benchmark -c 50 at P1 and P16 through the
# quickstart's private endpoint pe-hub with `--backend redis-server` (accept at the endpoint, then
# tokio's copy_bidirectional with 64 KiB buffers to the redis-server redlink started) vs straight
# at that same redis-server, in the same run, alternating. Loopback only.
#
#   benches/backend-proxy.sh                 # ROUNDS=3 alternations, N=200000 requests per run
#   REDLINK=path/to/redlink benches/backend-proxy.sh
#
# Needs redis-server, redis-benchmark, redis-cli and jq, and a release build (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
N=${N:-200000}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${REDLINK:-$TARGET_DIR/release/redlink}
for tool in redis-server redis-benchmark redis-cli jq; do
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

RUST_LOG=warn "$BIN" up --backend redis-server --state-file "$work/state.json" >"$work/up.log" 2>&1 &
pid=$!
for _ in $(seq 400); do [ -s "$work/state.json" ] && break; sleep 0.05; done
[ -s "$work/state.json" ] || { cat "$work/up.log" >&2; exit 1; }

pe=$(jq -r '.caches.contoso.endpoints[] | select(.name == "pe-hub") | .address' "$work/state.json")
# The backend's own port, asked through the proxy.
backend_port=$(redis-cli -h "$pe" -p 6379 info server | tr -d '\r' | sed -n 's/^tcp_port://p')
echo "pe-hub: $pe:6379 (proxy)    backend: 127.0.0.1:$backend_port (redis-server)"

rps() { # host port pipeline -> requests/s of SET and GET, averaged
    redis-benchmark -h "$1" -p "$2" -c 50 -n "$N" -P "$3" -t set,get --csv 2>/dev/null \
        | awk -F'"' '/^"(SET|GET)"/ { s += $4; n++ } END { printf "%.0f", s / n }'
}

for P in 1 16; do
    proxy_total=0; direct_total=0
    for r in $(seq "$ROUNDS"); do
        p=$(rps "$pe" 6379 "$P"); d=$(rps 127.0.0.1 "$backend_port" "$P")
        echo "P$P round $r: proxy $p req/s, direct $d req/s"
        proxy_total=$((proxy_total + p)); direct_total=$((direct_total + d))
    done
    awk -v p="$proxy_total" -v d="$direct_total" -v P="$P" -v R="$ROUNDS" \
        'BEGIN { printf "P%s: proxy %.0f req/s, direct %.0f req/s, ratio %.2fx\n", P, p / R, d / R, p / d }'
done
