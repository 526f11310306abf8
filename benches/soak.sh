#!/usr/bin/env bash
# The long variants of tests/load.rs and crates/engine/tests/slowloris.rs (RELIABILITY.md has the figures of the last run):
#   - a 60 s soak through the flipping private endpoint (REDLINK_SOAK_SECS),
#   - a storm of 10,000 connections at maxclients 2,000, 5 rounds (REDLINK_STORM_*),
#   - slowloris with 8,000 idle half-sent connections (REDLINK_SLOWLORIS_CONNS; mind `ulimit -n`:
#     the test process holds both ends, about 2 descriptors per connection).
# Loopback only. Debug build, like `cargo test`; run with --release after `--` to measure that.
#
#   benches/soak.sh                # all three
#   SOAK_SECS=300 benches/soak.sh  # a longer soak
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECS=${SOAK_SECS:-60}
STORM_MAXCLIENTS=${STORM_MAXCLIENTS:-2000}
STORM_CONNS=${STORM_CONNS:-10000}
STORM_ROUNDS=${STORM_ROUNDS:-5}
SLOWLORIS_CONNS=${SLOWLORIS_CONNS:-8000}

# The tests run one at a time: slowloris holds both ends in this process, the storm the client end.
need=$(( (SLOWLORIS_CONNS * 2 > STORM_CONNS ? SLOWLORIS_CONNS * 2 : STORM_CONNS) + 1000 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    ulimit -n "$need" 2>/dev/null || { echo "ulimit -n is $(ulimit -n); need $need" >&2; exit 1; }
fi

cargo build --workspace --tests "$@" >/dev/null
REDLINK_SOAK_SECS=$SOAK_SECS \
REDLINK_STORM_MAXCLIENTS=$STORM_MAXCLIENTS REDLINK_STORM_CONNS=$STORM_CONNS REDLINK_STORM_ROUNDS=$STORM_ROUNDS \
REDLINK_SLOWLORIS_CONNS=$SLOWLORIS_CONNS \
    cargo test "$@" --test load -- --nocapture --test-threads=1 2>&1 \
    | grep -E '^(storm|soak):|^test |test result|panicked'
REDLINK_SLOWLORIS_CONNS=$SLOWLORIS_CONNS \
    cargo test "$@" -p redlink-engine --test slowloris -- --nocapture 2>&1 \
    | grep -E '^slowloris:|^test |test result|panicked'
