#!/usr/bin/env python3
"""Regenerate glob_redis_7.0.15.txt: which of a fixed set of strings redis-server matches with each
of a set of random patterns (SSCAN MATCH, i.e. stringmatchlen with nocase=0).

Usage: redis-server --port 7311 --bind 127.0.0.1 --save '' --appendonly no &
       python3 glob_vectors.py 7311 > glob_redis_7.0.15.txt
Format: line 1 = the strings (hex, space separated; '-' is the empty string); then one line per
pattern: pattern hex ('-' if empty), a space, and for each string '1' (match) or '0'.
"""
import random
import sys

import redis

ALPHA = [b"a", b"b", b"A", b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"\x80", b"\xff", b"z"]
rng = random.Random(15)
r = redis.Redis(port=int(sys.argv[1]))
strings = {b""}
while len(strings) < 200:
    strings.add(b"".join(rng.choice(ALPHA) for _ in range(rng.randint(1, 6))))
strings = sorted(strings)
patterns = set()
while len(patterns) < 600:
    p = b"".join(rng.choice(ALPHA) for _ in range(rng.randint(0, 8)))
    if p != b"*":  # SSCAN short-circuits exactly "*"
        patterns.add(p)
r.delete("globset")
r.sadd("globset", *strings)
hx = lambda b: b.hex() if b else "-"
print(" ".join(hx(s) for s in strings))
for p in sorted(patterns):
    cursor, got = r.sscan("globset", 0, match=p, count=100000)
    assert cursor == 0
    got = set(got)
    print(hx(p), "".join("1" if s in got else "0" for s in strings))
r.delete("globset")
