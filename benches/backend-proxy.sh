#!/usr/bin/env bash
# Overhead of proxying to a backend (issue 22): redis-benchmark -c 50 at P1 and P16 through the
# quickstart's private endpoint pe-hub with `--backend redis-server` (accept at the endpoint, then
# the proxy's byte pump over the Unix socket of the redis-server redlink started) vs straight at
# that same redis-server's TCP port, and, when haproxy is installed, through haproxy (mode tcp, to
# that TCP port) in front of it: all in the same run,
# alternating within each round, reporting each one's median over the rounds (the machine is
# shared: medians of alternating rounds, not a single run). Loopback only. Next to each rate, the
# CPU the serving side spent per request (redlink + redis-server through the proxy, redis-server
# straight, haproxy + redis-server through haproxy; from /proc/PID/task/*/schedstat): unlike the
# rate, it hardly depends on what else the machine runs.
#
#   benches/backend-proxy.sh                 # ROUNDS=5 alternations, N=200000 requests per run
#   REDLINK=path/to/redlink benches/backend-proxy.sh
#
# Needs redis-server, redis-benchmark, redis-cli and jq, and a release build (built if missing);
# haproxy is optional (`apt-get install -y haproxy`).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
N=${N:-200000}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${REDLINK:-$TARGET_DIR/release/redlink}
for tool in redis-server redis-benchmark redis-cli jq; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ -x "$BIN" ] || cargo build --release --bin redlink

work=$(mktemp -d)
pid=
hapid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    [ -n "$hapid" ] && kill "$hapid" 2>/dev/null && wait "$hapid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

RUST_LOG=warn "$BIN" up --backend redis-server --state-file "$work/state.json" >"$work/up.log" 2>&1 &
pid=$!
for _ in $(seq 400); do [ -s "$work/state.json" ] && break; sleep 0.05; done
[ -s "$work/state.json" ] || { cat "$work/up.log" >&2; exit 1; }

pe=$(jq -r '.caches.contoso.endpoints[] | select(.name == "pe-hub") | .address' "$work/state.json")
# The backend's own port, asked through the proxy.
backend_port=$(redis-cli -h "$pe" -p 6379 info server | tr -d '\r' | sed -n 's/^tcp_port://p')
redis_pid=$(redis-cli -h "$pe" -p 6379 info server | tr -d '\r' | sed -n 's/^process_id://p')
echo "pe-hub: $pe:6379 (proxy)    backend: 127.0.0.1:$backend_port (redis-server)"

targets="proxy:$pe:6379 direct:127.0.0.1:$backend_port"
declare -A serving=([proxy]="$pid $redis_pid" [direct]="$redis_pid")
if command -v haproxy >/dev/null; then
    haport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend f
    bind 127.0.0.1:$haport
    default_backend b
backend b
    server s 127.0.0.1:$backend_port
EOF
    haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
    hapid=$!
    for _ in $(seq 100); do redis-cli -p "$haport" ping >/dev/null 2>&1 && break; sleep 0.05; done
    targets="$targets haproxy:127.0.0.1:$haport"
    serving[haproxy]="$hapid $redis_pid"
    echo "haproxy: 127.0.0.1:$haport ($(haproxy -v | head -1))"
fi

cpu_ns() { # pids -> nanoseconds their threads ran
    cat $(for p in "$@"; do echo /proc/"$p"/task/*/schedstat; done) 2>/dev/null | awk '{ t += $1 } END { print t }'
}
rps() { # host port pipeline -> requests/s of SET and GET, averaged
    redis-benchmark -h "$1" -p "$2" -c 50 -n "$N" -P "$3" -t set,get --csv 2>/dev/null \
        | awk -F'"' '/^"(SET|GET)"/ { s += $4; n++ } END { printf "%.0f", s / n }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for P in 1 16; do
    for r in $(seq "$ROUNDS"); do
        line="P$P round $r:"
        for t in $targets; do
            name=${t%%:*}; rest=${t#*:}; host=${rest%:*}; port=${rest##*:}
            before=$(cpu_ns ${serving[$name]})
            v=$(rps "$host" "$port" "$P")
            after=$(cpu_ns ${serving[$name]})
            us=$(awk -v a="$before" -v b="$after" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / 1000 / (2 * n) }')
            echo "$v" >>"$work/$name-P$P"
            echo "$us" >>"$work/$name-P$P-cpu"
            line="$line $name $v ($us us)"
        done
        echo "$line req/s (serving CPU per request)"
    done
    direct=$(median <"$work/direct-P$P")
    summary="P$P medians: direct $direct req/s $(median <"$work/direct-P$P-cpu") us"
    for t in $targets; do
        name=${t%%:*}
        [ "$name" = direct ] && continue
        m=$(median <"$work/$name-P$P")
        summary="$summary, $name $m req/s ($(awk -v a="$m" -v b="$direct" 'BEGIN { printf "%.2fx", a / b }')) $(median <"$work/$name-P$P-cpu") us"
    done
    echo "$summary"
done
