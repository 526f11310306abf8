#!/usr/bin/env bash
# Run redis-py's own cluster tests (tests/test_cluster.py from its PyPI sdist) against a real 3-node
# redis-server 7.0 cluster (benches/redis-server-cluster.sh) and against `redlink serve --cluster 3`,
# and report how many of the tests that pass on redis-server also pass on redlink.
#   benches/redis-py-cluster-suite.sh [REDIS_PY_VERSION]     (default: the installed redis-py's)
#   K='TestClusterRedisCommands' benches/redis-py-cluster-suite.sh   # a pytest -k selection
#   BIN=target/debug/redlink ...                                     # another redlink build
#   REPLICAS=1 ...      # both clusters with a replica per primary (redis-cli --cluster-replicas 1,
#                       # serve --cluster 3 --cluster-replicas 1)
# Needs: redis-server, redis-cli, python3 with pip (installs pytest, pytest-asyncio, pytest-timeout, mock).
set -euo pipefail
cd "$(dirname "$0")/.."
VER=${1:-$(python3 -c "import redis; print(redis.__version__)")}
WORK=${WORK:-/tmp/redlink-redis-py}
RL_PORT=${RL_PORT:-7411}
RS_PORT=${RS_PORT:-7421}
K=${K:-}
REPLICAS=${REPLICAS:-0}
export REPLICAS
BIN=${BIN:-target/release/redlink}
mkdir -p "$WORK"
python3 -m pip install -q "redis==$VER" pytest pytest-asyncio pytest-timeout mock packaging
[ -d "$WORK/redis-$VER" ] || {
  python3 -m pip download -q --no-binary :all: --no-deps "redis==$VER" -d "$WORK"
  tar xzf "$WORK/redis-$VER.tar.gz" -C "$WORK"
}
[ "$BIN" != target/release/redlink ] || cargo build --release -q
RL_PID=
cleanup() {
  [ -z "$RL_PID" ] || kill "$RL_PID" 2>/dev/null || true
  benches/redis-server-cluster.sh stop "$WORK/rs-cluster"
}
trap cleanup EXIT
rm -rf "$WORK/rs-cluster"
benches/redis-server-cluster.sh start "$WORK/rs-cluster" "$RS_PORT"
"$BIN" serve --cluster 3 --cluster-replicas "$REPLICAS" --port "$RL_PORT" --bind 127.0.0.1 --dir /tmp --save '' >/dev/null 2>&1 &
RL_PID=$!
for _ in $(seq 100); do redis-cli -p "$RL_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq 3 $((3 * (1 + REPLICAS) - 1))); do
  for _ in $(seq 200); do
    redis-cli -p $((RL_PORT + i)) info replication | tr -d '\r' | grep -q master_link_status:up && break
    sleep 0.1
  done
done
run() { # url out.xml
  (cd "$WORK/redis-$VER" && python3 -m pytest tests/test_cluster.py --redis-url="$1" \
    --redis-cluster-nodes $((3 * (1 + REPLICAS))) -m "not redismod and not ssl" ${K:+-k "$K"} \
    -q -p no:cacheprovider --timeout 60 --tb=line --junitxml="$2" >"$2.log" 2>&1 || true)
  grep -E "passed|failed" "$2.log" | tail -1
}
echo "redis-server cluster: $(run "redis://127.0.0.1:$RS_PORT/0" "$WORK/cluster-redis.xml")"
echo "redlink --cluster 3:  $(run "redis://127.0.0.1:$RL_PORT/0" "$WORK/cluster-redlink.xml")"
python3 - "$WORK/cluster-redis.xml" "$WORK/cluster-redlink.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
def results(p):
    r = {}
    for tc in ET.parse(p).getroot().iter("testcase"):
        st = "pass"
        for child in tc:
            if child.tag in ("failure", "error"):
                st = "fail"
            elif child.tag == "skipped":
                st = "skip"
        r[(tc.get("classname") or "") + "::" + (tc.get("name") or "")] = st
    return r
a, b = results(sys.argv[1]), results(sys.argv[2])
base = [n for n, s in a.items() if s == "pass"]
both = [n for n in base if b.get(n) == "pass"]
print(f"of {len(base)} tests passing on the redis-server cluster, {len(both)} pass on redlink: {100 * len(both) / max(len(base), 1):.1f}%")
for n in sorted(set(base) - set(both)):
    print("  not yet:", n.split("::")[-1])
PY
