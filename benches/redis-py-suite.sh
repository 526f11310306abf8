#!/usr/bin/env bash
# Run redis-py's own test suite (standalone tests, from its PyPI sdist) against redis-server 7 and
# against redlink, and report how many of the tests that pass on redis-server also pass on redlink.
#   benches/redis-py-suite.sh [REDIS_PY_VERSION]      (default: the installed redis-py's version)
# Needs: redis-server, python3 with pip (installs pytest, pytest-asyncio, pytest-timeout, mock).
# Both servers get --enable-debug-command yes, as redis-py's own CI configures them.
set -euo pipefail
cd "$(dirname "$0")/.."
VER=${1:-$(python3 -c "import redis; print(redis.__version__)")}
WORK=${WORK:-/tmp/redlink-redis-py}
RL_PORT=${RL_PORT:-7401}
RS_PORT=${RS_PORT:-7402}
mkdir -p "$WORK"
python3 -m pip install -q "redis==$VER" pytest pytest-asyncio pytest-timeout mock packaging
[ -d "$WORK/redis-$VER" ] || {
  python3 -m pip download -q --no-binary :all: --no-deps "redis==$VER" -d "$WORK"
  tar xzf "$WORK/redis-$VER.tar.gz" -C "$WORK"
}
cargo build --release -q
cleanup() {
  redis-cli -p "$RL_PORT" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$RS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
target/release/redlink serve --port "$RL_PORT" --bind 127.0.0.1 --dir /tmp --save '' --enable-debug-command yes >/dev/null 2>&1 &
redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir /tmp --save '' --appendonly no --enable-debug-command yes --daemonize yes >/dev/null
sleep 1
run() { # url out.xml
  (cd "$WORK/redis-$VER" && python3 -m pytest tests/test_commands.py tests/test_pipeline.py \
    tests/test_pubsub.py tests/test_encoding.py tests/test_lock.py tests/test_connection.py \
    tests/test_connection_pool.py --redis-url="$1" -m "not onlycluster and not redismod and not ssl" \
    -q -p no:cacheprovider --timeout 30 --junitxml="$2" >"$2.log" 2>&1 || true)
  tail -1 "$2.log"
}
echo "redis-server: $(run "redis://127.0.0.1:$RS_PORT" "$WORK/redis.xml")"
echo "redlink:      $(run "redis://127.0.0.1:$RL_PORT" "$WORK/redlink.xml")"
python3 - "$WORK/redis.xml" "$WORK/redlink.xml" <<'PY'
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
        r[tc.get("classname") + "::" + tc.get("name")] = st
    return r
a, b = results(sys.argv[1]), results(sys.argv[2])
base = [n for n, s in a.items() if s == "pass"]
both = [n for n in base if b.get(n) == "pass"]
print(f"of {len(base)} tests passing on redis-server, {len(both)} pass on redlink: {100 * len(both) / len(base):.1f}%")
for n in sorted(set(base) - set(both)):
    print("  not yet:", n.split("::")[-1])
PY
