#!/usr/bin/env bash
# Compare redlink serve with redis-server 7 on this machine, in the same run, alternating.
#   benches/vs-redis.sh [ROUNDS]     (default 2 rounds)
# Needs redis-server, redis-benchmark and redis-cli (apt-get install redis-server redis-tools).
# Prints requests/s for SET and GET at -P 1 (-n 200000) and -P 16 (-n 2000000), -c 50, the ratios
# redlink/redis, and RSS per key after loading 1M small string keys into each server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
RL_PORT=${RL_PORT:-7301}
RS_PORT=${RS_PORT:-7302}
cargo build --release -q
BIN=target/release/redlink
cleanup() {
  redis-cli -p "$RL_PORT" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$RS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
start() {
  cleanup; sleep 0.3
  "$BIN" serve --port "$RL_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir /tmp --save '' --appendonly no --daemonize yes >/dev/null
  for p in "$RL_PORT" "$RS_PORT"; do
    for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
rps() { # port pipeline n test
  redis-benchmark -p "$1" -c 50 -n "$3" -t "$4" -P "$2" -q 2>/dev/null | tr '\r' '\n' \
    | grep "requests per second" | tail -1 | awk '{print $2}'
}
start
declare -A sum
for round in $(seq "$ROUNDS"); do
  for pipe in 1 16; do
    n=200000; [ "$pipe" = 16 ] && n=2000000
    for t in set get; do
      for who in redlink redis; do
        port=$RL_PORT; [ "$who" = redis ] && port=$RS_PORT
        v=$(rps "$port" "$pipe" "$n" "$t")
        echo "round $round P$pipe $t $who: $v"
        sum[$who-$pipe-$t]=$(python3 -c "print(${sum[$who-$pipe-$t]:-0} + $v)")
      done
    done
  done
done
echo
echo "averages over $ROUNDS rounds (requests/s) and ratio redlink/redis:"
for pipe in 1 16; do
  for t in set get; do
    python3 -c "a=${sum[redlink-$pipe-$t]}/$ROUNDS; b=${sum[redis-$pipe-$t]}/$ROUNDS; print(f'P$pipe ${t^^}: redlink {a:,.0f}  redis {b:,.0f}  ratio {a/b:.2f}x')"
  done
done

echo
echo "memory: 1M small string keys (SET key:NNNNNNN vNNNNNNN) loaded with redis-cli --pipe"
start
rss() { ps -o rss= -p "$1" | tr -d ' '; }
RL_PID=$(pgrep -f "redlink serve --port $RL_PORT" | head -1)
RS_PID=$(pgrep -f "redis-server 127.0.0.1:$RS_PORT" | head -1)
python3 - > /tmp/redlink-1m.resp <<'PY'
import sys
out = sys.stdout
for i in range(1_000_000):
    k = f"key:{i:07d}"; v = f"v{i:07d}"
    out.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n")
PY
for who in redlink redis; do
  port=$RL_PORT; pid=$RL_PID
  [ "$who" = redis ] && port=$RS_PORT && pid=$RS_PID
  before=$(rss "$pid")
  redis-cli -p "$port" --pipe < /tmp/redlink-1m.resp >/dev/null
  sleep 1
  after=$(rss "$pid")
  keys=$(redis-cli -p "$port" dbsize)
  python3 -c "print(f'$who: {$keys} keys, RSS {$before} KiB -> {$after} KiB, {($after-$before)*1024/$keys:.1f} bytes/key')"
done
rm -f /tmp/redlink-1m.resp
