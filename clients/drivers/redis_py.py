"""Client-matrix driver for redis-py (clients/README.md), sync (`redis.Redis`) or asyncio
(`redis.asyncio.Redis`): the library's DEFAULT settings (only the host, port, TLS with the
world's CA, and the credentials are given), one command, one JSON line.

Usage: python3 redis_py.py sync|asyncio   (settings in CLIENT_* variables, see common.py)"""

import asyncio
import os
import sys
import threading
import time

import redis
import redis.asyncio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def kwargs():
    args = {"host": common.HOST, "port": common.PORT}
    if common.TLS:
        args["ssl"] = True
        args["ssl_ca_certs"] = common.CA
    if common.PASSWORD is not None:
        args["password"] = common.PASSWORD
    if common.USER is not None:
        args["username"] = common.USER
    return args


def result_of(done, t0):
    if done.get("error") is not None:
        e = done["error"]
        return {
            "outcome": "error",
            "error_type": f"{type(e).__module__}.{type(e).__name__}",
            "message": str(e),
            "elapsed_ms": done["ms"],
        }
    if "reply" in done:
        return {"outcome": "ok", "reply": common.text(done["reply"]), "elapsed_ms": done["ms"]}
    return {"outcome": "no-answer", "elapsed_ms": common.now_ms(t0)}


def run_sync():
    common.apply_changes(common.BREAK)
    held = common.hold()  # noqa: F841 (kept open until the end)
    t0 = time.monotonic()
    client = redis.Redis(**kwargs())

    def attempt(into, start):
        try:
            into["reply"] = client.execute_command(*common.COMMAND)
        except Exception as e:  # every failure is what the client says
            into["error"] = e
        into["ms"] = common.now_ms(start)

    first = {}
    worker = threading.Thread(target=attempt, args=(first, t0), daemon=True)
    worker.start()
    worker.join(common.CAP_S)
    first_result = result_of(first, t0)
    recovery, by = None, None
    if common.FIX:
        common.apply_changes(common.FIX)
        t1 = time.monotonic()
        if worker.is_alive():
            by = "the pending call completed"
            worker.join(common.RECOVER_S)
            recovery = result_of(first, t1) if not worker.is_alive() else None
            if recovery is not None:
                recovery["elapsed_ms"] = common.now_ms(t1)
        if recovery is None or recovery["outcome"] != "ok":
            by = "a new call on the same Redis object (its pool reconnects)"
            again = {}
            retry = threading.Thread(target=attempt, args=(again, t1), daemon=True)
            retry.start()
            retry.join(max(0.1, common.RECOVER_S - (time.monotonic() - t1)))
            recovery = result_of(again, t1)
    common.emit("redis-py", redis.__version__, first_result, recovery, by)


async def run_async():
    common.apply_changes(common.BREAK)
    held = common.hold()  # noqa: F841 (kept open until the end)
    t0 = time.monotonic()
    client = redis.asyncio.Redis(**kwargs())

    async def attempt(start):
        done = {}
        try:
            done["reply"] = await client.execute_command(*common.COMMAND)
        except Exception as e:
            done["error"] = e
        done["ms"] = common.now_ms(start)
        return done

    task = asyncio.ensure_future(attempt(t0))
    await asyncio.wait({task}, timeout=common.CAP_S)
    first_result = result_of(task.result() if task.done() else {}, t0)
    recovery, by = None, None
    if common.FIX:
        await asyncio.to_thread(common.apply_changes, common.FIX)
        t1 = time.monotonic()
        if not task.done():
            by = "the pending call completed"
            await asyncio.wait({task}, timeout=common.RECOVER_S)
            if task.done():
                recovery = result_of(task.result(), t1)
                recovery["elapsed_ms"] = common.now_ms(t1)
        if recovery is None or recovery["outcome"] != "ok":
            by = "a new call on the same Redis object (its pool reconnects)"
            again = asyncio.ensure_future(attempt(t1))
            left = max(0.1, common.RECOVER_S - (time.monotonic() - t1))
            await asyncio.wait({again}, timeout=left)
            recovery = result_of(again.result() if again.done() else {}, t1)
    common.emit("redis-py-asyncio", redis.__version__, first_result, recovery, by)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "sync"
    if mode == "sync":
        run_sync()
    elif mode == "asyncio":
        asyncio.run(run_async())
    else:
        sys.exit(f"usage: {sys.argv[0]} sync|asyncio")
    sys.stdout.flush()
    # Daemon threads still blocked in connect() must not hold the exit.
    os._exit(0)
