#!/usr/bin/env bash
# Instructions per EVAL (valgrind callgrind: a load-independent measure) of redlink serve and
# redis-server 7, for EVAL "return redis.call('incr',KEYS[1])" 1 k sent by redis-benchmark -c 1
# (-P 1, or -P 16 with PIPE=16). Each server runs twice under callgrind, with N1 and N2 requests; the
# difference of the totals (every thread) divided by N2 - N1 is the cost of one request, start-up
# and shutdown cancel out.    benches/lua-callgrind.sh   (BIN, N1, N2, PIPE override the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/redlink}
N1=${N1:-2000}
N2=${N2:-12000}
PIPE=${PIPE:-1}
PORT=${PORT:-7321}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
total() { # callgrind output files -> summed Ir
  cat "$@" | awk '/^summary:/ {s += $2} END {print s}'
}
measure() { # who n -> instructions
  local who=$1 n=$2
  rm -f "$OUT"/cg.*
  if [ "$who" = redlink ]; then
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" "$BIN" serve --port "$PORT" \
      --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  else
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" redis-server --port "$PORT" \
      --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" >/dev/null 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-benchmark -p "$PORT" -c 1 -P "$PIPE" -n "$n" -q eval "return redis.call('incr',KEYS[1])" 1 k >/dev/null 2>&1
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  total "$OUT"/cg.*
}
for who in redlink redis; do
  a=$(measure "$who" "$N1")
  b=$(measure "$who" "$N2")
  python3 -c "print(f'$who: {($b - $a) / ($N2 - $N1):,.0f} instructions per EVAL (-c 1 -P $PIPE; totals {$a:,} and {$b:,})')"
done
