#!/usr/bin/env python3
"""Record redis-server 7.0.15's configuration parameters from a live server.

    redis-server --port 7931 --bind 127.0.0.1 --save '' --appendonly no &
    python3 crates/engine/spec/record_config.py 7931

Writes config-7.0.15.json beside this script: per parameter (every name `CONFIG GET *` lists, aliases
included) its default value as CONFIG GET reports it (`port`, `bind`, `save`, `appendonly` and `dir`
are reported with the server's compiled-in defaults, not the command-line values used to start it),
and `set`: what `CONFIG SET name <its current value>` answered ("ok", or the error text: immutable
and protected parameters refuse). Aliases are found by experiment: a parameter is another's alias
when changing it changes the other's value too (tried for integer and yes/no parameters).
crates/engine/tests/config_audit.rs walks this file.
"""
import json, os, socket, sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Values the recording server was started with on the command line, replaced by the defaults
# redis-server reports without them (its config.c defaults).
STARTED_WITH = {"port": "6379", "bind": "* -::*", "save": "3600 1 300 100 60 10000",
                "appendonly": "no", "dir": ""}


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline().rstrip(b"\r\n")
        t, rest = line[:1], line[1:].decode()
        if t == b"+":
            return rest
        if t == b"-":
            return Exception(rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if t == b"*":
            return [self.read() for _ in range(int(rest))]
        raise ValueError(line)


def get_all(c):
    flat = c.call("CONFIG", "GET", "*")
    return dict(zip(flat[0::2], flat[1::2]))


def main():
    c = Conn(int(sys.argv[1]))
    before = get_all(c)
    params = {}
    for name in sorted(before):
        r = c.call("CONFIG", "SET", name, before[name])
        params[name] = {"default": STARTED_WITH.get(name, before[name]),
                        "set": "ok" if r == "OK" else str(r)}
    # Aliases: change one integer or yes/no parameter and see which others follow.
    for name in sorted(before):
        v = before[name]
        if params[name]["set"] != "ok":
            continue
        if v in ("yes", "no"):
            new = "no" if v == "yes" else "yes"
        elif v.lstrip("-").isdigit() and name not in ("port", "maxclients"):
            new = str(int(v) + 1)
        else:
            continue
        if c.call("CONFIG", "SET", name, new) != "OK":
            continue
        after = get_all(c)
        for other, ov in after.items():
            if other != name and ov != before[other]:
                params[name].setdefault("same_as", []).append(other)
        c.call("CONFIG", "SET", name, v)
        assert get_all(c) == before, name
    with open(os.path.join(HERE, "config-7.0.15.json"), "w") as f:
        json.dump({"server": c.call("INFO", "server").split("\r\n")[1], "params": params}, f,
                  indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
