#!/usr/bin/env bash
# Start (or stop) a real 3-node redis-server 7.0.15 cluster on loopback for calibration and
# comparison (docs/cluster.md, benches/redis-py-cluster-suite.sh, BENCHMARKS.md).
#   benches/redis-server-cluster.sh start DIR PORT   # nodes on PORT, PORT+1, PORT+2 (bus: +10000)
#   REPLICAS=1 benches/redis-server-cluster.sh start DIR PORT   # + a replica each on PORT+3..+5
#   benches/redis-server-cluster.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}
case "$cmd" in
start)
    port=${3:?first port}
    replicas=${REPLICAS:-0}
    nodes=$((3 * (1 + replicas)))
    mkdir -p "$dir"
    addrs=()
    for i in $(seq 0 $((nodes - 1))); do
        p=$((port + i))
        mkdir -p "$dir/$p"
        (cd "$dir/$p" && redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
            --cluster-config-file nodes.conf --save '' --appendonly no --daemonize yes \
            --pidfile "$dir/$p.pid" --logfile "$dir/$p.log")
        addrs+=("127.0.0.1:$p")
    done
    for i in $(seq 0 $((nodes - 1))); do
        for _ in $(seq 50); do redis-cli -p $((port + i)) ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes >/dev/null
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$port" cluster info | tr -d '\r' | grep cluster_state)" = cluster_state:ok ] && break
        sleep 0.1
    done
    # Replicas: until every one has finished its first sync.
    for i in $(seq 3 $((nodes - 1))); do
        for _ in $(seq 200); do
            redis-cli -p $((port + i)) info replication | tr -d '\r' | grep -q master_link_status:up && break
            sleep 0.1
        done
    done
    ;;
stop)
    for f in "$dir"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    ;;
esac
