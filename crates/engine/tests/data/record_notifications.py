#!/usr/bin/env python3
"""Record the keyspace notifications redis-server 7.0.15 sends for a broad set of commands.

    /usr/bin/python3 crates/engine/tests/data/record_notifications.py PORT > \
        crates/engine/tests/data/notifications-7.0.15.json

PORT is a running redis-server 7.0.15 (e.g. `redis-server --port 0`-free ephemeral port, `--save ''`).
Each case starts from an empty server (FLUSHALL, every database), sets `notify-keyspace-events` to the
case's flags, then runs its steps one by one on one connection. A second connection is subscribed to
`__key*__:*` (PSUBSCRIBE) and to a marker channel; after each step the recorder publishes a marker and
(from a third connection: a step may be queued in MULTI) reads what arrived before it: exactly the notifications that step caused, in order.
A step is a command (list of arguments) or {"sleep_ms": N} (to let a TTL pass; active expiry is off,
so expired keys go at their next access, deterministically).
The test crates/engine/tests/notifications.rs replays the same cases on redlink and compares.
"""

import json
import sys
import time

import redis

MARKER = "__redlink_marker__"
ALL = "AKEmn"  # every class, both channels, key misses and new keys

CASES = [
    # --- generic ---
    ("del-unlink", ALL, [["SET", "a", "1"], ["SET", "b", "2"], ["DEL", "a", "nokey", "b"],
                         ["SET", "c", "1"], ["UNLINK", "c", "nokey"]]),
    ("expire-persist", ALL, [["SET", "k", "v"], ["EXPIRE", "k", "100"], ["PEXPIRE", "k", "100000"],
                             ["EXPIREAT", "k", "99999999999"], ["PEXPIREAT", "k", "99999999999000"],
                             ["PERSIST", "k"], ["PERSIST", "k"], ["EXPIRE", "nokey", "10"],
                             ["EXPIRE", "k", "100", "NX"], ["EXPIRE", "k", "100", "NX"],
                             ["EXPIRE", "k", "-1"], ["SET", "k2", "v"], ["PEXPIREAT", "k2", "1"]]),
    ("lazy-expired", ALL, [["SET", "k", "v", "PX", "1"], {"sleep_ms": 30}, ["GET", "k"],
                           ["SET", "k2", "v", "PX", "1"], {"sleep_ms": 30}, ["SET", "k2", "w"],
                           ["SET", "k3", "v", "PX", "1"], {"sleep_ms": 30}, ["EXISTS", "k3"]]),
    ("rename", ALL, [["SET", "a", "1"], ["RENAME", "a", "b"], ["SET", "c", "1"], ["RENAME", "b", "c"],
                     ["RENAMENX", "c", "d"], ["SET", "e", "1"], ["RENAMENX", "d", "e"],
                     ["RENAME", "e", "e"]]),
    ("copy", ALL, [["SET", "a", "1"], ["COPY", "a", "b"], ["COPY", "a", "b"],
                        ["COPY", "a", "b", "REPLACE"], ["COPY", "a", "x", "DB", "1"],
                        ["COPY", "nokey", "y"], ["SELECT", "1"], ["GET", "x"], ["COPY", "x", "a", "DB", "0"],
                        ["COPY", "x", "a", "DB", "0", "REPLACE"], ["SELECT", "0"]]),
    ("restore", ALL, []),  # steps made in main(): they need a DUMP payload
    ("sort-store", ALL, [["RPUSH", "l", "3", "1", "2"], ["SORT", "l", "STORE", "dst"],
                         ["SORT", "nokey", "STORE", "dst"]]),
    ("touch-type-ttl", ALL, [["TOUCH", "nokey"], ["TYPE", "nokey"], ["TTL", "nokey"],
                             ["PTTL", "nokey"], ["EXISTS", "nokey"], ["OBJECT", "ENCODING", "nokey"],
                             ["DUMP", "nokey"]]),
    # --- strings ---
    ("set-family", ALL, [["SET", "k", "v"], ["SET", "k", "w", "EX", "100"], ["SET", "k", "x", "KEEPTTL"],
                         ["SET", "k", "y", "GET"], ["SET", "n", "y", "GET"], ["SET", "k", "z", "NX"],
                         ["SET", "k", "z", "XX", "PX", "5000"], ["SETEX", "s", "100", "v"],
                         ["PSETEX", "s", "100000", "v"], ["SETNX", "s", "v"], ["SETNX", "t", "v"],
                         ["GETSET", "t", "w"], ["GETSET", "u", "w"], ["MSET", "m1", "1", "m2", "2"],
                         ["MSETNX", "m3", "3", "m4", "4"], ["MSETNX", "m3", "3", "m5", "5"]]),
    ("getdel-getex", ALL, [["SET", "k", "v"], ["GETEX", "k", "EX", "100"], ["GETEX", "k", "PERSIST"],
                           ["GETEX", "k"], ["GETEX", "nokey", "EX", "1"], ["GETEX", "k", "PXAT", "1"],
                           ["SET", "k", "v"], ["GETDEL", "k"], ["GETDEL", "k"]]),
    ("incr-append", ALL, [["INCR", "n"], ["INCRBY", "n", "5"], ["DECR", "n"], ["DECRBY", "n", "2"],
                          ["INCRBYFLOAT", "n", "1.5"], ["APPEND", "s", "ab"], ["APPEND", "s", "cd"],
                          ["SETRANGE", "s", "1", "X"], ["SETRANGE", "s2", "0", ""],
                          ["SETRANGE", "s2", "2", "y"], ["GETRANGE", "nokey", "0", "1"],
                          ["STRLEN", "nokey"], ["MGET", "s", "nokey", "n"], ["INCR", "s"]]),
    ("bits", ALL, [["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "1"], ["GETBIT", "nokey", "1"],
                   ["BITCOUNT", "nokey"], ["BITFIELD", "f", "SET", "u8", "0", "255"],
                   ["BITFIELD", "f", "GET", "u8", "0"], ["BITFIELD", "f", "INCRBY", "u8", "0", "1"],
                   ["BITFIELD_RO", "nokey", "GET", "u8", "0"], ["BITOP", "AND", "d", "b", "f"],
                   ["BITOP", "OR", "d", "nokey", "nokey2"], ["BITPOS", "nokey", "1"]]),
    ("hyperloglog", ALL, [["PFADD", "h", "a", "b"], ["PFADD", "h", "a"], ["PFADD", "h2"], ["PFCOUNT", "h"],
                          ["PFMERGE", "h3", "h", "h2"], ["PFCOUNT", "nokey"]]),
    # --- lists ---
    ("lists", ALL, [["LPUSH", "l", "a", "b"], ["RPUSH", "l", "c"], ["LPUSHX", "l", "d"],
                    ["LPUSHX", "nokey", "d"], ["RPUSHX", "l", "e"], ["LINSERT", "l", "BEFORE", "a", "x"],
                    ["LINSERT", "l", "BEFORE", "zz", "x"], ["LSET", "l", "0", "y"], ["LPOP", "l"],
                    ["RPOP", "l", "2"], ["LREM", "l", "0", "a"], ["LTRIM", "l", "0", "0"],
                    ["LRANGE", "nokey", "0", "-1"], ["LLEN", "nokey"], ["LINDEX", "nokey", "0"],
                    ["LPOS", "nokey", "a"], ["LTRIM", "l", "1", "0"], ["RPUSH", "m", "1"],
                    ["LPOP", "m"], ["RPUSH", "m", "1", "2"], ["LREM", "m", "0", "1"],
                    ["LREM", "m", "0", "2"]]),
    ("list-moves", ALL, [["RPUSH", "src", "a", "b", "c"], ["RPOPLPUSH", "src", "dst"],
                         ["LMOVE", "src", "dst", "LEFT", "RIGHT"], ["LMOVE", "src", "src", "LEFT", "LEFT"],
                         ["LMOVE", "src", "dst", "RIGHT", "LEFT"], ["RPOPLPUSH", "nokey", "dst"],
                         ["LMPOP", "2", "nokey", "dst", "LEFT", "COUNT", "5"], ["RPUSH", "q", "1"],
                         ["BLPOP", "q", "0"], ["RPUSH", "q", "1", "2"], ["BRPOP", "q", "0"],
                         ["BLMPOP", "0", "1", "q", "RIGHT"], ["RPUSH", "q", "1"],
                         ["BLMOVE", "q", "q2", "LEFT", "LEFT", "0"], ["BRPOPLPUSH", "q2", "q3", "0"]]),
    # --- sets ---
    ("sets", ALL, [["SADD", "s", "a", "b", "c"], ["SADD", "s", "a"], ["SREM", "s", "a", "zz"],
                   ["SREM", "s", "zz"], ["SPOP", "s"], ["SADD", "t", "x", "y"], ["SMOVE", "t", "s", "x"],
                   ["SMOVE", "t", "s", "nope"], ["SMOVE", "t", "u", "y"], ["SPOP", "s", "10"],
                   ["SADD", "a", "1", "2"], ["SADD", "b", "2", "3"], ["SINTERSTORE", "d", "a", "b"],
                   ["SUNIONSTORE", "d", "a", "b"], ["SDIFFSTORE", "d", "a", "b"],
                   ["SINTERSTORE", "d", "a", "nokey"], ["SINTERSTORE", "d", "a", "nokey"],
                   ["SMEMBERS", "nokey"], ["SISMEMBER", "nokey", "a"], ["SCARD", "nokey"],
                   ["SINTER", "a", "nokey"], ["SRANDMEMBER", "nokey"], ["SINTERCARD", "2", "a", "nokey"],
                   ["SMISMEMBER", "nokey", "a"], ["SUNION", "nokey", "nokey2"], ["SPOP", "nokey"]]),
    # --- hashes ---
    ("hashes", ALL, [["HSET", "h", "a", "1", "b", "2"], ["HSET", "h", "a", "1"], ["HSETNX", "h", "a", "2"],
                     ["HSETNX", "h", "c", "3"], ["HMSET", "h", "d", "4"], ["HINCRBY", "h", "a", "2"],
                     ["HINCRBYFLOAT", "h", "a", "0.5"], ["HDEL", "h", "a", "zz"], ["HDEL", "h", "zz"],
                     ["HDEL", "h", "b", "c", "d"], ["HGET", "nokey", "a"], ["HGETALL", "nokey"],
                     ["HMGET", "nokey", "a"], ["HLEN", "nokey"], ["HEXISTS", "nokey", "a"],
                     ["HRANDFIELD", "nokey"], ["HSTRLEN", "nokey", "a"], ["HKEYS", "nokey"]]),
    # --- sorted sets ---
    ("zsets", ALL, [["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZADD", "z", "1", "a"],
                    ["ZADD", "z", "5", "a"], ["ZADD", "z", "INCR", "1", "a"], ["ZINCRBY", "z", "1", "b"],
                    ["ZADD", "z", "XX", "1", "new"], ["ZADD", "z2", "XX", "1", "new"],
                    ["ZADD", "z", "NX", "GT", "CH", "9", "a"], ["ZREM", "z", "a", "zz"], ["ZREM", "z", "zz"],
                    ["ZADD", "z", "1", "e", "1", "f"], ["ZREMRANGEBYSCORE", "z", "1", "1"],
                    ["ZREMRANGEBYRANK", "z", "0", "0"], ["ZREMRANGEBYLEX", "z", "-", "+"],
                    ["ZREMRANGEBYSCORE", "z", "1", "1"], ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
                    ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "1"], ["ZPOPMIN", "nokey"], ["ZMPOP", "1", "z", "MIN"],
                    ["ZADD", "q", "1", "x"], ["BZPOPMIN", "q", "0"], ["ZADD", "q", "1", "x", "2", "y"],
                    ["BZPOPMAX", "q", "0"], ["BZMPOP", "0", "1", "q", "MAX"]]),
    ("zset-store", ALL, [["ZADD", "a", "1", "x", "2", "y"], ["ZADD", "b", "2", "y", "3", "z"],
                         ["ZUNIONSTORE", "d", "2", "a", "b"], ["ZINTERSTORE", "d", "2", "a", "b"],
                         ["ZDIFFSTORE", "d", "2", "a", "b"], ["ZINTERSTORE", "d", "2", "a", "nokey"],
                         ["ZINTERSTORE", "d", "2", "a", "nokey"], ["ZRANGESTORE", "r", "a", "0", "-1"],
                         ["ZRANGESTORE", "r", "nokey", "0", "-1"], ["ZRANGE", "nokey", "0", "-1"],
                         ["ZSCORE", "nokey", "a"], ["ZCARD", "nokey"], ["ZRANK", "nokey", "a"],
                         ["ZINTERCARD", "2", "a", "nokey"], ["ZRANDMEMBER", "nokey"],
                         ["ZMSCORE", "nokey", "a"], ["ZCOUNT", "nokey", "0", "1"]]),
    ("geo", ALL, [["GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
                  ["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
                  ["GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"],
                  ["GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC",
                   "STOREDIST"],
                  ["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "gr"],
                  ["GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
                  ["GEOPOS", "nokey", "a"], ["GEODIST", "nokey", "a", "b"]]),
    # --- streams ---
    ("streams", ALL, [["XADD", "s", "1-1", "f", "v"], ["XADD", "s", "MAXLEN", "1", "2-1", "f", "v"],
                      ["XADD", "s", "3-1", "f", "v"], ["XTRIM", "s", "MAXLEN", "1"], ["XTRIM", "s", "MAXLEN", "1"],
                      ["XADD", "s", "4-1", "f", "v"], ["XDEL", "s", "4-1", "9-9"], ["XDEL", "s", "9-9"],
                      ["XADD", "nokey", "NOMKSTREAM", "*", "f", "v"],
                      ["XGROUP", "CREATE", "s", "g", "0"], ["XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"],
                      ["XGROUP", "CREATECONSUMER", "s", "g", "c1"], ["XGROUP", "CREATECONSUMER", "s", "g", "c1"],
                      ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"],
                      ["XCLAIM", "s", "g", "c3", "0", "3-1"],
                      ["XAUTOCLAIM", "s", "g", "c4", "0", "0"],
                      ["XACK", "s", "g", "3-1"], ["XGROUP", "DELCONSUMER", "s", "g", "c1"],
                      ["XGROUP", "SETID", "s", "g", "0"], ["XSETID", "s", "10-1"],
                      ["XGROUP", "DESTROY", "s", "g"], ["XGROUP", "DESTROY", "s", "g"],
                      ["XLEN", "nokey"], ["XRANGE", "nokey", "-", "+"], ["XREAD", "STREAMS", "nokey", "0"],
                      ["XINFO", "STREAM", "nokey"]]),
    # --- scripting, transactions ---
    ("script", ALL, [["EVAL", "redis.call('set', KEYS[1], 'v'); redis.call('get', 'nokey'); "
                      "return redis.call('del', KEYS[1])", "1", "k"]]),
    ("multi", ALL, [["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["DEL", "a"], ["EXEC"]]),
    # --- flags: classes filter, each channel alone ---
    ("only-keyspace", "Kg$", [["SET", "a", "1"], ["EXPIRE", "a", "10"], ["LPUSH", "l", "x"], ["DEL", "a"]]),
    ("only-keyevent", "El", [["SET", "a", "1"], ["LPUSH", "l", "x"], ["LPOP", "l"]]),
    ("no-channel", "A", [["SET", "a", "1"], ["DEL", "a"]]),
    ("keymiss-only", "Em", [["GET", "nokey"], ["SET", "a", "1"], ["GET", "a"]]),
    ("new-only", "Kn", [["SET", "a", "1"], ["SET", "a", "2"], ["LPUSH", "l", "x"], ["DEL", "a"],
                        ["SET", "a", "1"]]),
    ("expired-only", "Ex", [["SET", "k", "v", "PX", "1"], {"sleep_ms": 30}, ["GET", "k"], ["DEL", "k"]]),
    ("flushall-swapdb", ALL, [["SET", "a", "1"], ["SWAPDB", "0", "1"], ["FLUSHDB"], ["SET", "b", "1"],
                              ["FLUSHALL"]]),
    ("evicted", ALL, [["SET", "victim", "v"], ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
                      ["CONFIG", "SET", "maxmemory", "1"], ["GET", "other"],
                      ["CONFIG", "SET", "maxmemory", "0"]]),
]


# Cases whose notifications are compared as one sequence rather than step by step: redis-server
# evicts after CONFIG SET maxmemory from a timer, redlink before the next command or at its cron tick.
WHOLE = {"evicted"}


def text(v):
    return v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v)


def main():
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
    marker = redis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
    sub = redis.Redis(host="127.0.0.1", port=port).pubsub()
    sub.psubscribe("__key*__:*")
    sub.subscribe(MARKER)
    for _ in range(2):
        sub.get_message(timeout=5)
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    out = []
    for name, flags, steps in CASES:
        steps = list(steps)
        r.execute_command("SELECT", "0")
        r.execute_command("CONFIG", "SET", "notify-keyspace-events", "")
        r.execute_command("FLUSHALL")
        if name == "restore":
            r.execute_command("SET", "a", "hello")
            payload = r.execute_command("DUMP", "a")
            steps = [["RESTORE", "b", "0", payload], ["RESTORE", "b", "0", payload, "REPLACE"],
                     ["RESTORE", "c", "100000", payload], ["RESTORE", "c", "0", payload]]
        r.execute_command("CONFIG", "SET", "notify-keyspace-events", flags)
        recorded = []
        for step in steps:
            if isinstance(step, dict):
                time.sleep(step["sleep_ms"] / 1000)
                recorded.append({"sleep_ms": step["sleep_ms"]})
                continue
            # Straight on the connection: no redis-py reply callbacks.
            r.connection.send_command(*step)
            try:
                r.connection.read_response()
            except redis.ResponseError:
                pass
            # From another connection: the step's notifications were sent before its reply.
            marker.execute_command("PUBLISH", MARKER, "x")
            events = []
            while True:
                m = sub.get_message(timeout=5)
                if m is None:
                    raise SystemExit(f"{name}: no marker after {step}")
                if m["type"] == "message" and text(m["channel"]) == MARKER:
                    break
                if m["type"] == "pmessage":
                    events.append([text(m["channel"]), text(m["data"])])
            # A binary argument (RESTORE's payload) is written as "hex:..." .
            recorded.append({"command": ["hex:" + a.hex() if isinstance(a, bytes) else a
                                         for a in step],
                             "events": events})
        case = {"name": name, "flags": flags, "steps": recorded}
        if name in WHOLE:
            case["whole"] = True
        out.append(case)
    r.execute_command("CONFIG", "SET", "notify-keyspace-events", "")
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    json.dump({"server": "redis-server 7.0.15", "cases": out}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
