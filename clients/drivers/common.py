"""What every Python-side driver of the client matrix shares (clients/README.md): the cell's
settings from the environment, applying a scenario's changes through redlink's control API, and
the one JSON line each driver prints."""

import json
import os
import subprocess
import time


def setting(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


HOST = setting("CLIENT_HOST", "contoso.redis.cache.windows.net")
PORT = int(setting("CLIENT_PORT", "6380"))
TLS = setting("CLIENT_TLS", "1") == "1"
PASSWORD = setting("CLIENT_PASSWORD")
USER = setting("CLIENT_USER")
CA = setting("REDLINK_CA")
COMMAND = json.loads(setting("CLIENT_COMMAND", '["PING"]'))
CAP_S = int(setting("CLIENT_CAP_MS", "25000")) / 1000.0
RECOVER_S = int(setting("CLIENT_RECOVER_MS", "25000")) / 1000.0
BREAK = json.loads(setting("CLIENT_BREAK", "[]"))
FIX = json.loads(setting("CLIENT_FIX", "[]"))
HOLD = int(setting("CLIENT_HOLD", "0"))
HOLD_PORT = int(setting("CLIENT_HOLD_PORT", str(PORT)))


def hold():
    """Opens CLIENT_HOLD plain TCP connections to CLIENT_HOLD_PORT and keeps them (the other
    clients a maxclients case needs), each answered PONG, before the client under test connects."""
    import socket
    import time

    # A slot can be taken for a moment by a connection of the world's own start-up: a refused hold
    # (-ERR max number of clients reached) is retried for up to 5 s.
    held, deadline = [], time.time() + 5
    while len(held) < HOLD:
        s = socket.create_connection((HOST, HOLD_PORT), timeout=10)
        s.sendall(b"PING\r\n")
        answer = s.recv(64)  # +PONG: the engine counts it as a client
        if answer.startswith(b"+PONG") or time.time() >= deadline:
            held.append(s)
        else:
            s.close()
            time.sleep(0.1)
    return held


def apply_changes(changes):
    """Applies each change (the timeline's JSON vocabulary) with `redlink ctl raw WORLD.CHANGE`,
    which returns once the world has changed. A change the world refuses (a step that expects the
    refusal) is left as it is."""
    binary = setting("REDLINK_BIN", "redlink")
    for change in changes:
        subprocess.run(
            [binary, "ctl", "raw", "WORLD.CHANGE", change],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )


def now_ms(t0):
    return int((time.monotonic() - t0) * 1000)


def text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def emit(client, version, first, recovery, recovery_by):
    """Prints the cell's one JSON line. `first` and `recovery` are dicts with `outcome`
    (ok / error / no-answer), `error_type`, `message`, `reply`, `elapsed_ms`."""
    line = {
        "client": client,
        "version": version,
        "outcome": first["outcome"],
        "error_type": first.get("error_type"),
        "message": first.get("message"),
        "reply": first.get("reply"),
        "elapsed_ms": first["elapsed_ms"],
        "cap_ms": int(CAP_S * 1000),
        "recovered": None if recovery is None else recovery["outcome"] == "ok",
        "recovery_ms": None if recovery is None else recovery["elapsed_ms"],
        "recovery_error": None if recovery is None else recovery.get("message"),
        "recovery_by": recovery_by,
    }
    print(json.dumps(line), flush=True)
