#!/usr/bin/env bash
# redlink serve with busy polling off (--busy-poll 0) and on (the default), and redis-server
# 7.0.15, interleaved in each round: redis-benchmark -c 50 SET/GET at -P 1 (-n 200000) and
# -P 16 (-n 2000000). Prints each run's rate, the client's CPU per request (/usr/bin/time) and
# the server's (summed from /proc/PID/task/*/schedstat), then medians and ratios.
#   benches/busy-poll-ab.sh [ROUNDS]       (default 4; PIPES="1 16" TESTS="get set" to narrow)
# Needs redis-server, redis-benchmark, redis-cli and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-4}
PIPES=${PIPES:-1 16}
TESTS=${TESTS:-get set}
OFF=${OFF_PORT:-7311}
ON=${ON_PORT:-7312}
RS=${RS_PORT:-7313}
cargo build --release -q
BIN=target/release/redlink
OUT=$(mktemp)
cleanup() {
  for p in "$OFF" "$ON" "$RS"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -f "$OUT"
}
trap cleanup EXIT
"$BIN" serve --port "$OFF" --bind 127.0.0.1 --save '' --appendonly no --busy-poll 0 >/dev/null 2>&1 &
OFF_PID=$!
"$BIN" serve --port "$ON" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
ON_PID=$!
redis-server --port "$RS" --bind 127.0.0.1 --dir /tmp --save '' --appendonly no --daemonize yes >/dev/null
for p in "$OFF" "$ON" "$RS"; do
  for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
RS_PID=$(pgrep -f "redis-server 127.0.0.1:$RS" | head -1)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
for round in $(seq "$ROUNDS"); do
  for pipe in $PIPES; do
    n=200000; [ "$pipe" = 16 ] && n=2000000
    for t in $TESTS; do
      for who in off on redis; do
        case $who in off) port=$OFF pid=$OFF_PID;; on) port=$ON pid=$ON_PID;; redis) port=$RS pid=$RS_PID;; esac
        c0=$(cpu_ns "$pid")
        res=$( { /usr/bin/time -f "TIME %U %S" redis-benchmark -p "$port" -c 50 -n "$n" -t "$t" -P "$pipe" -q; } 2>&1 | tr '\r' '\n')
        c1=$(cpu_ns "$pid")
        rate=$(echo "$res" | grep -o '[0-9.]* requests per second' | tail -1 | awk '{print $1}')
        client=$(echo "$res" | awk '/^TIME/ {print $2 + $3}')
        line="P$pipe $t $who rate $rate client_us $(python3 -c "print(round($client * 1e6 / $n, 2))") server_us $(python3 -c "print(round(($c1 - $c0) / 1000 / $n, 2))")"
        echo "round $round $line"
        echo "$line" >> "$OUT"
      done
    done
  done
done
echo
echo "medians over $ROUNDS rounds: rate, client CPU per request (µs), server CPU per request (µs)"
python3 - "$OUT" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    runs[(f[0], f[1], f[2])].append((float(f[4]), float(f[6]), float(f[8])))
for key in sorted({(p, t) for p, t, _ in runs}, key=lambda k: (int(k[0][1:]), k[1])):
    med = {w: [statistics.median(x[i] for x in runs[key + (w,)]) for i in range(3)] for w in ("off", "on", "redis")}
    print(f"{key[0]} {key[1].upper()}: " + "  ".join(f"{w} {m[0]:,.0f}/s {m[1]:.2f} {m[2]:.2f}" for w, m in med.items())
          + f"  | on/redis {med['on'][0] / med['redis'][0]:.2f}x  off/redis {med['off'][0] / med['redis'][0]:.2f}x  on/off {med['on'][0] / med['off'][0]:.2f}x")
PY
