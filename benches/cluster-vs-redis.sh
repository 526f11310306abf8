#!/usr/bin/env bash
# redis-benchmark --cluster against `redlink serve --cluster 3` and a real 3-node redis-server 7.0
# cluster (benches/redis-server-cluster.sh), same run, same machine; prints requests/s and the ratio.
#   benches/cluster-vs-redis.sh [REQUESTS] [CLIENTS] [PIPELINE]     (defaults: 200000 50 16)
# Needs: redis-server, redis-cli, redis-benchmark (redis-tools), a release build (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}; C=${2:-50}; P=${3:-16}
WORK=${WORK:-/tmp/redlink-cluster-bench}
RL_PORT=${RL_PORT:-7511}
RS_PORT=${RS_PORT:-7521}
BIN=${BIN:-target/release/redlink}
[ "$BIN" != target/release/redlink ] || [ -x "$BIN" ] || cargo build --release -q
RL_PID=
cleanup() {
  [ -z "$RL_PID" ] || kill "$RL_PID" 2>/dev/null || true
  benches/redis-server-cluster.sh stop "$WORK/rs-cluster"
}
trap cleanup EXIT
rm -rf "$WORK"; mkdir -p "$WORK"
benches/redis-server-cluster.sh start "$WORK/rs-cluster" "$RS_PORT"
"$BIN" serve --cluster 3 --port "$RL_PORT" --bind 127.0.0.1 --dir "$WORK" --save '' >/dev/null 2>&1 &
RL_PID=$!
for _ in $(seq 100); do redis-cli -p "$RL_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
bench() { # port -> "SET GET" requests/s
  redis-benchmark --cluster -h 127.0.0.1 -p "$1" -t set,get -n "$N" -c "$C" -P "$P" -q 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {sub(":", "", $1); printf "%s=%s ", $1, $2}'
}
for round in 1 2; do
  rs=$(bench "$RS_PORT"); rl=$(bench "$RL_PORT")
  echo "round $round: redis-server cluster: $rs"
  echo "round $round: redlink --cluster 3:  $rl"
  python3 - "$rs" "$rl" <<'PY'
import sys
parse = lambda s: dict(kv.split("=") for kv in s.split())
a, b = parse(sys.argv[1]), parse(sys.argv[2])
print("  ratio redlink/redis-server: " + ", ".join(f"{k} {float(b[k]) / float(a[k]):.2f}x" for k in a if k in b))
PY
done
