#!/usr/bin/env bash
# RSS growth per key of redlink serve and redis-server 7, in the same run: 1,000,000 string keys
# `key:NNNNNNN` -> `vNNNNNNN` (issue 19's shape) sent with `redis-cli --pipe`; the RSS (VmRSS of
# /proc/PID/status) after the load minus before, divided by DBSIZE.
#   benches/memory-per-key.sh [ROUNDS]      (default 1; each round starts fresh servers)
# Env: BIN (default target/release/redlink; build it first), KEYS (default 1000000), POLICY (a
# maxmemory-policy given to both servers, e.g. allkeys-lfu: the per-key figure must not depend on
# it), RL_PORT / RS_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-1}
BIN=${BIN:-target/release/redlink}
KEYS=${KEYS:-1000000}
POLICY=${POLICY:-noeviction}
RL_PORT=${RL_PORT:-7331}
RS_PORT=${RS_PORT:-7332}
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release first (or set BIN)" >&2; exit 1; }
python3 - "$KEYS" > "$OUT/load.resp" <<'PY'
import sys
n = int(sys.argv[1])
w = sys.stdout.write
for i in range(n):
    k = f"key:{i:07d}"; v = f"v{i:07d}"
    w(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n")
PY
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
measure() { # who -> prints one line
  local who=$1 port pid
  if [ "$who" = redlink ]; then
    port=$RL_PORT
    "$BIN" serve --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --maxmemory-policy "$POLICY" >/dev/null 2>&1 &
  else
    port=$RS_PORT
    redis-server --port "$port" --bind 127.0.0.1 --dir "$OUT" --save '' --appendonly no \
      --maxmemory-policy "$POLICY" >/dev/null 2>&1 &
  fi
  pid=$!
  PIDS+=("$pid")
  wait_up "$port"
  sleep 0.5
  local before after keys
  before=$(rss_kib "$pid")
  redis-cli -p "$port" --pipe < "$OUT/load.resp" >/dev/null
  sleep 1
  after=$(rss_kib "$pid")
  keys=$(redis-cli -p "$port" dbsize)
  python3 -c "print(f'$who: {$keys} keys, RSS {$before} KiB -> {$after} KiB, {($after-$before)*1024/$keys:.1f} bytes/key (policy $POLICY)')"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  measure redlink
  measure redis
done
