#!/usr/bin/env python3
"""Writes a scenario with a long timeline to stdout, for timing `redlink check` and the parser
(BENCHMARKS.md, "Long timelines"): the quickstart world, then N steps alternating reject/approve of
pe-hub, each with a resolution expectation.

    benches/long-timeline.py 16000 > /tmp/s16000.toml
    cargo run -p redlink-world --example parse_time -- /tmp/s16000.toml
    /usr/bin/time -f '%e s wall, %U s user' target/debug/redlink check /tmp/s16000.toml | tail -1
"""
import os
import sys

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 16000
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "scenarios", "quickstart.toml")) as f:
    out = [f.read()]
for i in range(steps):
    change = "reject" if i % 2 == 0 else "approve"
    out.append(
        f'\n[[step]]\nname = "step {i}"\nchange = [{{ {change} = "pe-hub" }}]\n'
        '[[step.expect]]\nfrom = "hub"\nresolve = "contoso.redis.cache.windows.net"\n'
        'answer = "pe-hub"\n'
    )
sys.stdout.write("".join(out))
