"""A minimal RESP3 client for record.py: replies as typed JSON-able lists (see record.py)."""
import socket
class R3:
    def __init__(s, port, host='127.0.0.1', proto=3):
        s.sock = socket.create_connection((host, port)); s.f = s.sock.makefile('rb')
        if proto == 3: s.call('HELLO', '3')
    def call(s, *args):
        out = b'*%d\r\n' % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b'$%d\r\n%s\r\n' % (len(a), a)
        s.sock.sendall(out); return s.read()
    def read(s):
        line = s.f.readline()[:-2]; t, rest = chr(line[0]), line[1:].decode()
        if t in '+-': return [t, rest]
        if t == ':': return [':', int(rest)]
        if t == '$':
            n = int(rest)
            if n < 0: return ['_']
            d = s.f.read(n + 2)[:-2]; return ['$', d.decode()]
        if t == '=':
            d = s.f.read(int(rest) + 2)[:-2]; return ['=', d.decode()]
        if t in '*~>':
            n = int(rest)
            if n < 0: return ['_']
            return [t, [s.read() for _ in range(n)]]
        if t == '%': return ['%', [[s.read(), s.read()] for _ in range(int(rest))]]
        if t == '_': return ['_']
        if t == ',': return [',', rest]
        raise ValueError(line)
