#!/usr/bin/env bash
# DNS speed of one resolver of a running world (issue 4): maximum queries per second and the latency
# of a single outstanding query, measured with dnsperf against the quickstart's hub resolver.
# Loopback only: the world's addresses are 127/8 aliases.
#
#   benches/dns.sh                 # 10 s per run (DURATION=N to change)
#   REDLINK=path/to/redlink benches/dns.sh
#
# Needs dnsperf (Debian: apt-get install -y dnsperf) and a release build (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${REDLINK:-$TARGET_DIR/release/redlink}
command -v dnsperf >/dev/null || { echo "dnsperf is not installed (apt-get install -y dnsperf)" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

RUST_LOG=warn "$BIN" up --state-file "$work/state.json" >"$work/up.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -s "$work/state.json" ] && break; sleep 0.05; done
[ -s "$work/state.json" ] || { cat "$work/up.log" >&2; exit 1; }

# networks are sorted by name in the state file: hub comes first.
resolver=$(grep -m1 -o '"resolver": "[^"]*"' "$work/state.json" | cut -d'"' -f4)
addr=${resolver%:*}
port=${resolver##*:}
echo "hub resolver: $addr port $port (redlink $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores)"

# What a client in hub asks: the cache's name (CNAME chain to the private endpoint), the privatelink
# name itself, an AAAA (NODATA after the chain) and a name the zone does not have (NXDOMAIN).
cat >"$work/queries.txt" <<'Q'
contoso.redis.cache.windows.net A
contoso.redis.cache.windows.net A
contoso.privatelink.redis.cache.windows.net A
contoso.redis.cache.windows.net AAAA
missing.privatelink.redis.cache.windows.net A
Q

echo
echo "== maximum throughput: dnsperf -s $addr -p $port -d queries.txt -l $DURATION -c 4 -Q 1000000"
dnsperf -s "$addr" -p "$port" -d "$work/queries.txt" -l "$DURATION" -c 4 -Q 1000000 \
    | grep -E 'Queries (sent|completed|lost)|Response codes|Queries per second|Average Latency|Latency StdDev'

echo
echo "== single outstanding query: dnsperf -s $addr -p $port -d queries.txt -l $DURATION -q 1"
dnsperf -s "$addr" -p "$port" -d "$work/queries.txt" -l "$DURATION" -q 1 \
    | grep -E 'Queries (sent|completed|lost)|Queries per second|Average Latency|Latency StdDev'
