"""Client-matrix driver for redis-cli from Debian (clients/README.md): one redis-cli run with
its defaults (only host, port, TLS with the world's CA and credentials), what it prints, one JSON
line. redis-cli has no retry of its own: after the fix step a new run is what a user does.

Usage: python3 redis_cli.py   (settings in CLIENT_* variables, see common.py)"""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def argv():
    args = ["redis-cli", "-h", common.HOST, "-p", str(common.PORT)]
    if common.TLS:
        args += ["--tls", "--cacert", common.CA]
    if common.USER is not None:
        args += ["--user", common.USER]
    if common.PASSWORD is not None:
        args += ["-a", common.PASSWORD, "--no-auth-warning"]
    return args + [str(a) for a in common.COMMAND]


# How redis-cli's output starts when it failed: an error reply (redis-server's error codes), a
# failed AUTH, a connection or protocol error.
ERRORS = ("ERR", "NOAUTH", "WRONGPASS", "NOPERM", "WRONGTYPE", "AUTH failed", "(error)", "Error", "Could not connect")


def run(cap):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"outcome": "no-answer", "elapsed_ms": common.now_ms(t0)}
    ms = common.now_ms(t0)
    said = (err.decode("utf-8", "replace") + out.decode("utf-8", "replace")).strip()
    # redis-cli prints error replies (and a failed AUTH) and may still exit 0.
    failed = any(line.startswith(ERRORS) for line in said.splitlines())
    if proc.returncode == 0 and not failed:
        return {"outcome": "ok", "reply": said, "elapsed_ms": ms}
    # A negative code is a signal: redis-cli writing to a connection the server closed dies of
    # SIGPIPE without a word (a shell shows exit 141).
    how = f"exit {proc.returncode}"
    if proc.returncode < 0:
        how = f"killed by {signal.Signals(-proc.returncode).name}"
    return {
        "outcome": "error",
        "error_type": how,
        "message": said,
        "elapsed_ms": ms,
    }


def version():
    out = subprocess.run(["redis-cli", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().replace("redis-cli ", "")


if __name__ == "__main__":
    common.apply_changes(common.BREAK)
    held = common.hold()  # noqa: F841 (kept open until the end)
    first = run(common.CAP_S)
    recovery, by = None, None
    if common.FIX:
        common.apply_changes(common.FIX)
        by = "a new redis-cli run (redis-cli does not retry)"
        recovery = run(common.RECOVER_S)
    common.emit("redis-cli", version(), first, recovery, by)
