#!/usr/bin/env bash
# Redis 7.0.15's own Tcl test suite (tests/unit/*.tcl, external-server mode) against redlink serve:
# one fresh server per unit, a line per unit (passed, failed, exceptions), logs in $RES.
#   benches/redis-tcl-suite.sh UNIT...        e.g. unit/multi unit/scripting unit/type/list
# Needs the unpacked redis 7.0.15 source in $REDIS_SRC (Debian's: add a deb-src line and run
# `apt-get source --download-only redis`, then `tar xzf redis_7.0.15.orig.tar.gz`), tclsh and
# redis-cli. multi.tcl's `replicaof localhsot 0` (a typo) must read `localhost`: redlink refuses
# to replicate from anything but loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_SRC=${REDIS_SRC:?set REDIS_SRC to the unpacked redis-7.0.15 source}
PORT=${PORT:-7400}
RES=${RES:-/tmp/redis-tcl-suite}
cargo build --release -q --bin redlink
BIN=$PWD/target/release/redlink
mkdir -p "$RES" "$REDIS_SRC/src"
ln -sf "$(command -v redis-cli)" "$REDIS_SRC/src/redis-cli"
sed -i 's/localhsot/localhost/g' "$REDIS_SRC/tests/unit/multi.tcl"
for unit in "$@"; do
  name=$(echo "$unit" | tr / _)
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  "$BIN" serve --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --enable-debug-command yes --dir "$RES" >"$RES/$name.server.log" 2>&1 &
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  rc=0
  (cd "$REDIS_SRC" && timeout 300 ./runtest --host 127.0.0.1 --port "$PORT" --single "$unit" \
    --clients 1 --timeout 30) >"$RES/$name.log" 2>&1 || rc=$?
  ok=$(grep -c '\[.*ok' "$RES/$name.log" || true)
  err=$(grep -c '^\[.*err.*\]:' "$RES/$name.log" || true)
  exc=$(grep -c 'exception' "$RES/$name.log" || true)
  echo "$unit rc=$rc ok=$ok err=$err exc=$exc"
done
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
