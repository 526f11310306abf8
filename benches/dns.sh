#!/usr/bin/env bash
# DNS speed of one resolver of a running world (issue 4): maximum queries per second and the latency
# of a single outstanding query, measured with dnsperf against the quickstart's hub resolver.
# Loopback only: the world's addresses are 127/8 aliases.
#
#   benches/dns.sh                 # 10 s per run (DURATION=N to change)
#   REDLINK=path/to/redlink benches/dns.sh
#
# Needs dnsperf (Debian: apt-get install -y dnsperf) and a release build (built if missing). When
# dnsmasq is installed (apt-get install -y dnsmasq-base), the same queries are also sent to a dnsmasq
# on 127.0.99.1 giving the same answers from its cache, in the same run, for a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${REDLINK:-$TARGET_DIR/release/redlink}
command -v dnsperf >/dev/null || { echo "dnsperf is not installed (apt-get install -y dnsperf)" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release

work=$(mktemp -d)
pid=
dpid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
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

command -v dnsmasq >/dev/null || exit 0
# dnsmasq answering the hub's view of the quickstart: the CNAME chain to the private endpoint, NODATA
# for AAAA, NXDOMAIN inside the privatelink zone; nothing forwarded anywhere (--no-resolv).
dnsmasq --keep-in-foreground --port 5399 --listen-address 127.0.99.1 --bind-interfaces --no-resolv \
    --no-hosts --conf-file=/dev/null --user="$(id -un)" --pid-file= \
    --cname=contoso.redis.cache.windows.net,contoso.privatelink.redis.cache.windows.net \
    --host-record=contoso.privatelink.redis.cache.windows.net,127.10.1.4 \
    --local=/privatelink.redis.cache.windows.net/ 2>"$work/dnsmasq.log" &
dpid=$!
sleep 0.5
echo
echo "== dnsmasq $(dnsmasq --version | head -1 | awk '{print $3}'), same queries, same run"
dnsperf -s 127.0.99.1 -p 5399 -d "$work/queries.txt" -l "$DURATION" -c 4 -Q 1000000 \
    | grep -E 'Response codes|Queries per second|Average Latency'
dnsperf -s 127.0.99.1 -p 5399 -d "$work/queries.txt" -l "$DURATION" -q 1 \
    | grep -E 'Queries per second|Average Latency'
