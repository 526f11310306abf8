"""redis-py through a planned maintenance of a running redlink world (tests/cli_maintenance.rs).

Usage: maintenance_clients.py STATE_FILE REDLINK_BINARY

Against cache `amr` (managed-redis, highly available) two identical command loops run, each with a
blocking command always in flight and no retries: one with smart client handoffs
(`maint_notifications`, RESP3), one without. Against cache `contoso` (Standard) a subscriber on
AzureRedisEvents records the messages (and the resets). The maintenances are started with
`redlink ctl redis maintenance`; refusals are tried with `ctl` too. Prints one JSON object.
"""

import json
import subprocess
import sys
import threading
import time

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.maint_notifications import MaintNotificationsConfig
    from redis.retry import Retry
except ImportError as e:  # redis-py without maint_notifications
    print(json.dumps({"skip": f"redis-py with maint_notifications is not installed: {e}"}))
    sys.exit(0)

STATE, REDLINK = sys.argv[1], sys.argv[2]
state = json.load(open(STATE))


def public(cache):
    return next(e for e in state["caches"][cache]["endpoints"] if e["name"] == "public")["address"]


def ctl(*args):
    p = subprocess.run([REDLINK, "ctl", "--state-file", STATE, "redis", *args],
                       capture_output=True, text=True, timeout=60)
    return {"code": p.returncode, "out": p.stdout.strip(), "err": p.stderr.strip()}


AMR, CONTOSO = public("amr"), public("contoso")
stop = threading.Event()
results = {}


def client(handoff):
    return redis.Redis(
        host=AMR, port=10000, protocol=3, socket_timeout=10, socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
        maint_notifications_config=MaintNotificationsConfig(enabled=handoff),
    )


def loop(name, handoff):
    r = client(handoff)
    ok, failed, errors = 0, 0, []
    # A reset that lands between two commands is not an error: redis-py's pool notices the closed
    # socket and reconnects before the next one. It still is the reset, seen as a new connection:
    # the client's own socket (its local port) changes. (CLIENT ID alone cannot tell: each engine
    # numbers its clients from 1, so the promoted node may hand out the same number again.)
    last_id, reconnects = None, 0
    while not stop.is_set():
        try:
            r.blpop(["nothing:" + name], timeout=0.05)  # a command in flight most of the time
            r.set("k:" + name, ok)
            r.get("k:" + name)
            cid = (r.client_id(), r.client_info().get("addr"))
            if last_id is not None and cid != last_id:
                reconnects += 1
            last_id = cid
            ok += 1
        except Exception as e:  # what the application would see
            failed += 1
            errors.append(type(e).__name__ + ": " + str(e)[:120])
            time.sleep(0.05)
    results[name] = {"ok": ok, "failed": failed, "reconnects": reconnects, "errors": errors[:5]}


def subscriber():
    seen = []
    while not stop.is_set():
        try:
            r = redis.Redis(host=CONTOSO, port=6379, socket_timeout=5, retry=Retry(NoBackoff(), 0))
            p = r.pubsub()
            p.subscribe("AzureRedisEvents")
            while not stop.is_set():
                m = p.get_message(timeout=0.2)
                if m and m["type"] == "message":
                    seen.append(m["data"].decode())
        except redis.ConnectionError as e:
            # Resubscribe at once: the next messages follow the reset closely (`--speed`).
            if not seen or not seen[-1].startswith("RESET"):
                seen.append("RESET " + type(e).__name__)
            else:
                time.sleep(0.01)
    results["events"] = seen


threads = [threading.Thread(target=loop, args=("handoff", True)),
           threading.Thread(target=loop, args=("plain", False)),
           threading.Thread(target=subscriber)]
for t in threads:
    t.start()
probe = redis.Redis(host=CONTOSO, port=6379, socket_timeout=5)
deadline = time.time() + 20
while probe.pubsub_numsub("AzureRedisEvents")[0][1] < 1 and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.5)  # the loops are running

results["maintenance_amr"] = ctl("maintenance", "--name", "amr")
results["maintenance_contoso"] = ctl("maintenance", "--name", "contoso")
results["second_maintenance"] = ctl("maintenance", "--name", "contoso", "--node", "replica")
results["reboot_basic_primary"] = ctl("force-reboot", "--name", "basic", "--reboot-type", "PrimaryNode")


def running(cache):
    shown = ctl("show", "--name", cache, "-o", "json")
    return json.loads(shown["out"])["redlink"].get("maintenance") is not None


deadline = time.time() + 90
while (running("amr") or running("contoso")) and time.time() < deadline:
    time.sleep(0.2)
time.sleep(0.5)
stop.set()
for t in threads:
    t.join(timeout=30)
results["instances"] = json.loads(ctl("show", "--name", "contoso", "-o", "json")["out"])["instances"]
print(json.dumps(results))
