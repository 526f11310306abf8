#!/usr/bin/env bash
# Write throughput with the AOF on: redlink vs redis-server 7.0.15, same machine, same run, for
# appendfsync always / everysec / no and without AOF.
#   benches/aof-throughput.sh
# Needs redis-server, redis-benchmark and redis-cli. For each server and policy: a fresh directory,
# `--appendonly yes --appendfsync POLICY`, redis-benchmark -c 50 -n N (SET and INCR, 100-byte values,
# random keys), printing requests/s and p99 (ms) and redlink/redis ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
RL_PORT=${RL_PORT:-7321}
RS_PORT=${RS_PORT:-7322}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q --bin redlink
BIN=target/release/redlink
WORK=$(mktemp -d /tmp/redlink-aof-bench.XXXXXX)
cleanup() {
  redis-cli -p "$RL_PORT" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$RS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; }
bench() { # port -> "set_rps set_p99 incr_rps incr_p99"
  redis-benchmark -p "$1" -c 50 -n "$N" -r 100000 -d 100 -t set,incr --csv 2>/dev/null \
    | python3 -c '
import csv, sys
rows = {r[0]: r for r in csv.reader(sys.stdin) if r and r[0] != "test"}
out = []
for t in ("SET", "INCR"):
    r = rows[t]
    out += [r[1], r[6]]  # rps, p99_latency_ms
print(" ".join(out))'
}
printf "%-9s %-8s %12s %9s %12s %9s\n" policy server "SET req/s" "p99 ms" "INCR req/s" "p99 ms"
for policy in off no everysec always; do
  rm -rf "$WORK/redlink" "$WORK/redis"; mkdir -p "$WORK/redlink" "$WORK/redis"
  if [ "$policy" = off ]; then opts=(--appendonly no); else opts=(--appendonly yes --appendfsync "$policy"); fi
  "$BIN" serve --port "$RL_PORT" --bind 127.0.0.1 --dir "$WORK/redlink" --save '' "${opts[@]}" >/dev/null 2>&1 &
  redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save '' "${opts[@]}" \
    --daemonize yes >/dev/null
  wait_up "$RL_PORT"; wait_up "$RS_PORT"
  read -r rl_set rl_sp rl_incr rl_ip <<<"$(bench "$RL_PORT")"
  read -r rs_set rs_sp rs_incr rs_ip <<<"$(bench "$RS_PORT")"
  printf "%-9s %-8s %12s %9s %12s %9s\n" "$policy" redlink "$rl_set" "$rl_sp" "$rl_incr" "$rl_ip"
  printf "%-9s %-8s %12s %9s %12s %9s\n" "$policy" redis "$rs_set" "$rs_sp" "$rs_incr" "$rs_ip"
  python3 -c "print(f'{\"$policy\":9s} ratio    {$rl_set/$rs_set:12.2f} {\"\":9s} {$rl_incr/$rs_incr:12.2f}')"
  redis-cli -p "$RL_PORT" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$RS_PORT" shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5
done
