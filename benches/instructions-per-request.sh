#!/usr/bin/env bash
# User-space instructions per request (valgrind callgrind: a load-independent measure, all threads)
# of redlink serve and redis-server 7 for any redis-benchmark load. Each server runs twice under
# callgrind, with N1 and N2 requests; the difference of the totals divided by N2 - N1 is the cost
# of one request (start-up, connection set-up and shutdown cancel out).
#   benches/instructions-per-request.sh -t set          (C=50 P=16 by default)
#   C=1 P=1 benches/instructions-per-request.sh eval "return redis.call('incr',KEYS[1])" 1 k
# BIN, N1, N2, C, P, PORT, WHO (redlink, redis or both) override the defaults. With SYSCALLS=1 the
# N2 run is repeated under `strace -c -f` (no callgrind) and the system calls per request printed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/redlink}
N1=${N1:-20000}
N2=${N2:-120000}
C=${C:-50}
P=${P:-16}
PORT=${PORT:-7331}
WHO=${WHO:-both}
[ $# -gt 0 ] || { echo "usage: $0 <redis-benchmark load, e.g. -t set>" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
start() { # who wrapper... -> pid
  local who=$1
  shift
  if [ "$who" = redlink ]; then
    "$@" "$BIN" serve --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  else
    "$@" redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" \
      >/dev/null 2>&1 &
  fi
  echo $!
}
ready() {
  for _ in $(seq 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.2; done
  echo "server did not start" >&2
  exit 1
}
bench() { # n, then the load
  local n=$1
  shift
  redis-benchmark -p "$PORT" -c "$C" -P "$P" -n "$n" -r 100000 -q "$@" >/dev/null 2>&1
}
measure() { # who n load... -> instructions
  local who=$1 n=$2
  shift 2
  rm -f "$OUT"/cg.*
  local pid
  pid=$(start "$who" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p")
  ready
  bench "$n" "$@"
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  cat "$OUT"/cg.* | awk '/^summary:/ {s += $2} END {printf "%.0f\n", s}'
}
syscalls() { # who n load...
  local who=$1 n=$2
  shift 2
  local pid
  pid=$(start "$who" strace -c -f -o "$OUT/strace.txt")
  ready
  bench "$n" "$@"
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  python3 - "$OUT/strace.txt" "$n" "$who" <<'PY'
import sys
rows, n, who = open(sys.argv[1]).read().splitlines(), int(sys.argv[2]), sys.argv[3]
parts = []
for r in rows:
    f = r.split()
    if len(f) >= 5 and f[3].isdigit() and f[-1] not in ('total',):
        parts.append((int(f[3]), f[-1]))
parts.sort(reverse=True)
total = sum(c for c, _ in parts)
print(f"{who}: {total / n:.2f} system calls per request: " +
      ", ".join(f"{name} {c / n:.2f}" for c, name in parts[:6]))
PY
}
whos="redlink redis"
[ "$WHO" = both ] || whos=$WHO
for who in $whos; do
  a=$(measure "$who" "$N1" "$@")
  b=$(measure "$who" "$N2" "$@")
  python3 - "$who" "$a" "$b" "$N1" "$N2" "-c $C -P $P $*" <<'PY'
import sys
who, a, b, n1, n2, load = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
print(f"{who}: {(b - a) / (n2 - n1):,.0f} instructions per request ({load}; totals {a:,} and {b:,})")
PY
  if [ "${SYSCALLS:-0}" = 1 ]; then syscalls "$who" "$N2" "$@"; fi
done
