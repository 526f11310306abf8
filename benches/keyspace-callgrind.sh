#!/usr/bin/env bash
# Instructions per SET and per GET (valgrind callgrind: a load-independent measure) of one or more
# redlink binaries, to compare a keyspace change before/after on a loaded machine where requests/s
# are noise. redis-benchmark -c 1 -P 16 over 100,000 random keys `key:NNNNNNNNNNNN`; GET runs after
# 200,000 SETs of the same key space (hits). Each binary runs twice per command, with N1 and N2
# requests; the difference of the totals (every thread) divided by N2 - N1 is the cost of one
# request (start-up, the pre-fill and shutdown cancel out).
#   benches/keyspace-callgrind.sh BIN [BIN...]      (N1, N2, PORT override the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN...]" >&2; exit 2; }
N1=${N1:-20000}
N2=${N2:-120000}
PORT=${PORT:-7341}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
total() { cat "$@" | awk '/^summary:/ {s += $2} END {print s}'; }
bench() { redis-benchmark -p "$PORT" -c 1 -P 16 -r 100000 -q "$@" >/dev/null 2>&1; }
measure() { # bin test n -> instructions
  local bin=$1 test=$2 n=$3
  rm -f "$OUT"/cg.*
  valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" "$bin" serve --port "$PORT" \
    --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
  [ "$test" = get ] && bench -n 200000 -t set
  bench -n "$n" -t "$test"
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  wait "$pid" || true
  total "$OUT"/cg.*
}
for bin in "$@"; do
  for test in set get; do
    a=$(measure "$bin" "$test" "$N1")
    b=$(measure "$bin" "$test" "$N2")
    python3 -c "print(f'$bin ${test^^}: {($b - $a) / ($N2 - $N1):,.0f} instructions per request (-c 1 -P 16 -r 100000; totals {$a:,} and {$b:,})')"
  done
done
