#!/usr/bin/env bash
# Client latency and throughput while BGSAVE writes 1M keys: redlink (copy-on-write shard snapshots,
# a save thread) vs redis-server 7.0.15 (fork), same machine, same run.
#   benches/bgsave-latency.sh [KEYS]        (default 1000000)
# Needs redis-server, redis-benchmark and redis-cli. For each server: load KEYS keys
# (SET key:NNNNNNN <100 bytes>) with redis-cli --pipe, run redis-benchmark (-c 50, SET and GET on
# random existing keys) once idle and once while BGSAVEs run back to back for the whole benchmark,
# and print requests/s and p99 latency (ms) of each, the BGSAVE count and duration, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-1000000}
N=${N:-400000}
RL_PORT=${RL_PORT:-7311}
RS_PORT=${RS_PORT:-7312}
cargo build --release -q --bin redlink
BIN=target/release/redlink
WORK=$(mktemp -d /tmp/redlink-bgsave-bench.XXXXXX)
cleanup() {
  redis-cli -p "$RL_PORT" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$RS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/redlink" "$WORK/redis"
"$BIN" serve --port "$RL_PORT" --bind 127.0.0.1 --dir "$WORK/redlink" --save '' >/dev/null 2>&1 &
redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save '' --appendonly no \
  --daemonize yes >/dev/null
for p in "$RL_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
python3 - "$KEYS" > "$WORK/load.resp" <<'PY'
import sys
n = int(sys.argv[1]); out = sys.stdout
for i in range(n):
    k = f"key:{i:07d}"; v = f"{i:07d}" + "v" * 93
    out.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n")
PY
bench() { # port -> "set_rps set_p99 get_rps get_p99"
  redis-benchmark -p "$1" -c 50 -n "$N" -r "$KEYS" -d 100 -t set,get --csv 2>/dev/null \
    | python3 -c '
import csv, sys
rows = {r[0]: r for r in csv.reader(sys.stdin) if r and r[0] in ("SET", "GET")}
print(rows["SET"][1], rows["SET"][6], rows["GET"][1], rows["GET"][6])'
}
bgsave_loop() { # port: BGSAVE back to back until the flag file disappears; prints count and durations
  local port=$1 count=0 total=0
  while [ -e "$WORK/running" ]; do
    local start; start=$(date +%s.%N)
    redis-cli -p "$port" bgsave >/dev/null
    while [ "$(redis-cli -p "$port" info persistence | tr -d '\r' | grep rdb_bgsave_in_progress: | cut -d: -f2)" = 1 ]; do
      sleep 0.05
    done
    count=$((count + 1))
    total=$(python3 -c "print($total + $(date +%s.%N) - $start)")
  done
  echo "$count $total"
}
declare -A R
for who in redlink redis; do
  port=$RL_PORT; [ "$who" = redis ] && port=$RS_PORT
  redis-cli -p "$port" --pipe < "$WORK/load.resp" >/dev/null
  echo "$who: $(redis-cli -p "$port" dbsize) keys"
  R[$who-idle]=$(bench "$port")
  touch "$WORK/running"
  bgsave_loop "$port" > "$WORK/$who.bgsaves" &
  loop=$!
  sleep 0.2
  R[$who-bgsave]=$(bench "$port")
  rm -f "$WORK/running"
  wait "$loop"
  read -r count total < "$WORK/$who.bgsaves"
  R[$who-saves]="$count BGSAVEs, $(python3 -c "print(f'{$total/$count:.2f}')") s each"
  ls -l "$WORK/$who"/*.rdb | awk '{print "  file: " $5 " bytes " $9}'
  echo "  idle          SET rps p99ms GET rps p99ms: ${R[$who-idle]}"
  echo "  during BGSAVE SET rps p99ms GET rps p99ms: ${R[$who-bgsave]}   (${R[$who-saves]})"
done
python3 - "${R[redlink-idle]}" "${R[redis-idle]}" "${R[redlink-bgsave]}" "${R[redis-bgsave]}" <<'PY'
import sys
li, ri, lb, rb = (list(map(float, a.split())) for a in sys.argv[1:])
print("\nratios redlink/redis (rps: higher is better for redlink; p99: lower is better for redlink)")
for name, l, r in (("idle", li, ri), ("during BGSAVE", lb, rb)):
    print(f"  {name:14} SET rps {l[0]/r[0]:.2f}x p99 {l[1]:.3f} vs {r[1]:.3f} ms | "
          f"GET rps {l[2]/r[2]:.2f}x p99 {l[3]:.3f} vs {r[3]:.3f} ms")
PY
