#!/usr/bin/env bash
# EVAL throughput of redlink serve vs redis-server 7 on this machine, same run, alternating rounds.
#   benches/lua-vs-redis.sh [ROUNDS]     (default 3 rounds; prints every run, then medians + ratios)
# The script is the issue's: EVAL "return redis.call('incr',KEYS[1])" 1 k, at -c 1, -c 20 and
# -c 50 -P 16. BIN overrides the redlink binary (default target/release/redlink, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
RL_PORT=${RL_PORT:-7311}
RS_PORT=${RS_PORT:-7312}
BIN=${BIN:-target/release/redlink}
[ -x "$BIN" ] || cargo build --release -q
cleanup() {
  redis-cli -p "$RL_PORT" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$RS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup; sleep 0.3
"$BIN" serve --port "$RL_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir /tmp --save '' --appendonly no --daemonize yes >/dev/null
for p in "$RL_PORT" "$RS_PORT"; do
  for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
SCRIPT="return redis.call('incr',KEYS[1])"
rps() { # port clients pipeline n
  redis-benchmark -p "$1" -c "$2" -P "$3" -n "$4" -q eval "$SCRIPT" 1 k 2>/dev/null | tr '\r' '\n' \
    | grep -o "[0-9.]* requests per second" | tail -1 | awk '{print $1}'
}
declare -A runs
LOADS=("1 1 50000" "20 1 200000" "50 16 1000000")
for round in $(seq "$ROUNDS"); do
  for load in "${LOADS[@]}"; do
    read -r c p n <<<"$load"
    # Alternate which server goes first.
    order="redlink redis"; [ $((round % 2)) = 0 ] && order="redis redlink"
    for who in $order; do
      port=$RL_PORT; [ "$who" = redis ] && port=$RS_PORT
      v=$(rps "$port" "$c" "$p" "$n")
      echo "round $round -c $c -P $p $who: $v (load $(cut -d' ' -f1 /proc/loadavg))"
      runs[$who-$c-$p]="${runs[$who-$c-$p]:-} $v"
    done
  done
done
echo
echo "medians over $ROUNDS rounds (requests/s) and ratio redlink/redis:"
for load in "${LOADS[@]}"; do
  read -r c p n <<<"$load"
  python3 - "${runs[redlink-$c-$p]}" "${runs[redis-$c-$p]}" <<PY
import statistics, sys
a = statistics.median(float(x) for x in sys.argv[1].split())
b = statistics.median(float(x) for x in sys.argv[2].split())
print(f"-c $c -P $p: redlink {a:,.0f}  redis {b:,.0f}  ratio {a/b:.2f}x")
PY
done
