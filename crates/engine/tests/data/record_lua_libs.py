#!/usr/bin/env python3
"""Record what redis-server 7.0.15 answers to the scripts of lua_libs.lua (bundled libraries, base library errors).

    redis-server --port 7102 --save '' &
    /usr/bin/python3 crates/engine/tests/data/record_lua_libs.py 7102 > \
        crates/engine/tests/data/lua_libs-7.0.15.txt

The scripts are separated by a line `====`. Each runs as `EVAL <script> 0` on one RESP2 connection,
in file order, after one `SCRIPT FLUSH` (a new Lua state: the libraries' settings start from their
defaults; scripts that change them, like `cjson.encode_number_precision(5)`, affect the ones after
them, exactly as on the server). The output has one line per script: the raw RESP reply in hex.
The test crates/engine/tests/lua_libs.rs replays the scripts on redlink and compares byte for byte.
"""

import socket
import sys


def command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":"):
        return line
    if kind == b"$":
        n = int(rest)
        return line if n < 0 else line + f.read(n + 2)
    if kind == b"*":
        n = int(rest)
        return line + b"".join(read_reply(f) for _ in range(max(n, 0)))
    raise ValueError("unexpected reply %r" % line)


def main():
    port = int(sys.argv[1])
    scripts = open(__file__.replace("record_lua_libs.py", "lua_libs.lua"), "rb").read()
    scripts = [s for s in scripts.rstrip(b"\n").split(b"\n====\n")]
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")
    sock.sendall(command(b"SCRIPT", b"FLUSH"))
    read_reply(f)
    for s in scripts:
        sock.sendall(command(b"EVAL", s, b"0"))
        print(read_reply(f).hex())


main()
