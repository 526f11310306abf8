#!/usr/bin/env python3
"""redlink's client matrix (issue 24): every case of clients/catalogue.json (a bundled failure
scenario, the network a client sits in, the name, port and TLS it uses) × every client library,
each run inside `redlink exec SCENARIO --step --network NET` with the library's defaults.

    matrix.py run [--only CASE,...] [--clients C,...]   print what each client says (JSON lines)
    matrix.py check    run everything, compare with the catalogue's results (a differing cell is
                       run once more: only a difference seen twice counts); exit 1 with a diff
    matrix.py update   run everything and store the results in the catalogue
    matrix.py render [--check]   docs/clients.md from the catalogue (--check: compare, exit 1)

Each cell gets a world of its own (scenarios run in parallel worlds, --jobs at a time). The
scenario's timeline does not run on its own (`exec --step`): a driver applies the case's `break`
steps before its first attempt and its `fix` steps after it, with `redlink ctl raw WORLD.CHANGE`
and the steps' own changes read from the scenario file, then lets the library recover.

Environment: REDLINK_BIN (the redlink binary), REDLINK_RS_DRIVER (the redis crate's driver,
target/debug/examples/redis_rs_driver)."""

import argparse
import concurrent.futures
import difflib
import json
import os
import re
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CATALOGUE = os.path.join(HERE, "catalogue.json")
DOC = os.path.join(ROOT, "docs", "clients.md")


def load():
    with open(CATALOGUE, encoding="utf-8") as f:
        return json.load(f)


def step_changes(scenario_path, names):
    """The changes of the named steps, in order, as the control API's JSON (the TOML tables'
    shape, docs in crates/world/src/change.rs)."""
    with open(scenario_path, "rb") as f:
        steps = tomllib.load(f).get("step", [])
    by_name = {s["name"]: s for s in steps}
    changes = []
    for name in names:
        if name not in by_name:
            raise SystemExit(f"{scenario_path}: no step named {name!r} (steps: {list(by_name)})")
        changes += [json.dumps(c, separators=(",", ":")) for c in by_name[name].get("change", [])]
    return changes


def driver_argv(client):
    drivers = os.path.join(HERE, "drivers")
    return {
        "redis-cli": ["python3", os.path.join(drivers, "redis_cli.py")],
        "redis-py": ["python3", os.path.join(drivers, "redis_py.py"), "sync"],
        "redis-py-asyncio": ["python3", os.path.join(drivers, "redis_py.py"), "asyncio"],
        "ioredis": ["node", os.path.join(drivers, "node.mjs"), "ioredis"],
        "node-redis": ["node", os.path.join(drivers, "node.mjs"), "node-redis"],
        "redis-rs": [
            os.environ.get(
                "REDLINK_RS_DRIVER", os.path.join(ROOT, "target", "debug", "examples", "redis_rs_driver")
            )
        ],
    }[client]


def run_cell(cat, case, client, redlink):
    scenario = os.path.join(ROOT, "scenarios", case["scenario"])
    env = dict(os.environ)
    env.update(
        {
            "REDLINK_BIN": redlink,
            "CLIENT_HOST": case["host"],
            "CLIENT_PORT": str(case["port"]),
            "CLIENT_TLS": "1" if case["tls"] else "0",
            "CLIENT_COMMAND": json.dumps(case.get("command", ["PING"])),
            "CLIENT_CAP_MS": str(cat["cap_ms"]),
            "CLIENT_RECOVER_MS": str(cat["recover_ms"]),
            "CLIENT_BREAK": json.dumps(step_changes(scenario, case.get("break", []))),
            "CLIENT_FIX": json.dumps(step_changes(scenario, case.get("fix", []))),
            "CLIENT_HOLD": str(case.get("hold", 0)),
            "CLIENT_HOLD_PORT": str(case.get("hold_port", case["port"])),
            "NODE_PATH": os.path.join(HERE, "node_modules"),
        }
    )
    for key, var in (("password", "CLIENT_PASSWORD"), ("user", "CLIENT_USER")):
        env.pop(var, None)
        if key in case:
            env[var] = case[key]
    argv = [redlink, "exec", scenario, "--step", "--network", case["network"], "--"]
    argv += driver_argv(client)
    limit = (cat["cap_ms"] + cat["recover_ms"]) / 1000 + 60
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return {"client": client, "outcome": "driver-error", "message": f"the driver did not finish in {limit:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["(nothing on stderr)"])[-3:]
        return {"client": client, "outcome": "driver-error", "message": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


ADDRESS = re.compile(r"\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


def normalise(text):
    """Addresses vary per world (each claims its own block): ADDRESS stands for them."""
    if text is None:
        return None
    text = ADDRESS.sub("ADDRESS", text)
    return text.strip()


def says(raw):
    """What the user reads: the error the call raised, else the first error the library logged
    (ioredis and node-redis emit 'error' events while they keep retrying), else nothing."""
    return normalise(raw.get("message")) or normalise(raw.get("logged"))


def record(raw, cat):
    """The comparable part of a cell (what the catalogue stores and the check compares) plus the
    measured times (stored, shown in the docs, never compared: they vary run to run)."""
    cap_s = cat["cap_ms"] // 1000
    outcome = raw.get("outcome")
    surfaced = {"ok": "answered", "error": "raised an error"}.get(outcome, outcome)
    if outcome == "no-answer":
        surfaced = f"no answer within {cap_s} s (cap)"
    return {
        "outcome": outcome,
        "error_type": raw.get("error_type"),
        "says": says(raw) if outcome != "ok" else None,
        "reply": raw.get("reply") if outcome == "ok" else None,
        "surfaced": surfaced,
        "recovered": raw.get("recovered"),
        "elapsed_ms": raw.get("elapsed_ms"),
        "recovery_ms": raw.get("recovery_ms"),
        "recovery_by": raw.get("recovery_by"),
        "recovery_error": normalise(raw.get("recovery_error")),
        "version": raw.get("version"),
    }


COMPARED = ("outcome", "error_type", "says", "reply", "surfaced", "recovered", "version")


def run_all(cat, redlink, only=None, clients=None, jobs=6):
    cells = [
        (case, c["id"])
        for case in cat["cases"]
        if not only or case["id"] in only
        for c in cat["clients"]
        if not clients or c["id"] in clients
    ]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_cell, cat, case, client, redlink): (case["id"], client) for case, client in cells}
        for future in concurrent.futures.as_completed(futures):
            case_id, client = futures[future]
            raw = future.result()
            results.setdefault(case_id, {})[client] = record(raw, cat)
            print(f"{case_id} × {client}: {json.dumps(raw)}", file=sys.stderr, flush=True)
    return results


def diff(cat, now):
    """Readable differences between the stored results and `now`, one line per field."""
    lines = []
    for case_id in sorted(now):
        for client in sorted(now[case_id]):
            stored = cat.get("results", {}).get(case_id, {}).get(client)
            got = now[case_id][client]
            if stored is None:
                lines.append(f"{case_id} × {client}: not in the catalogue (run clients/matrix.py update)")
                continue
            for field in COMPARED:
                if stored.get(field) != got.get(field):
                    lines.append(
                        f"{case_id} × {client}: {field}: catalogue {json.dumps(stored.get(field))} → now {json.dumps(got.get(field))}"
                    )
    return lines


def md(text):
    """A message inside a Markdown table cell or list line: lines joined with " / ", pipes escaped."""
    return " / ".join(line.strip() for line in text.splitlines() if line.strip()).replace("|", "\\|")


def code(text):
    """`text` as inline code (a message with backticks gets double ones)."""
    text = md(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def seconds(ms):
    if ms is None:
        return "–"
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms} ms"


def cell_line(result, client):
    if result is None:
        return "(not recorded)"
    if result["outcome"] == "ok":
        return f"answered {code(result['reply'] or '')}"
    said = result["says"]
    text = code(said) if said else "(nothing)"
    if result["outcome"] == "no-answer":
        waits = f"{result['surfaced']}; by default: {client['default_wait']}"
        return f"{text}, then {waits}" if said else waits
    return f"{text} ({result['error_type']})"


def recovery_text(result):
    if result is None or result.get("recovered") is None:
        return "– (no fix step)"
    if result["recovered"]:
        return f"yes, {seconds(result['recovery_ms'])} after the fix ({result['recovery_by']})"
    err = f": {code(result['recovery_error'])}" if result.get("recovery_error") else ""
    return f"no ({result['recovery_by']}){err}"


def render(cat):
    causes = {c["id"]: c for c in cat["causes"]}
    symptoms = {s["id"]: s for s in cat["symptoms"]}
    clients = cat["clients"]
    out = []
    w = out.append
    w("# What your client says when …")
    w("")
    w("<!-- Generated by `python3 clients/matrix.py render` from clients/catalogue.json: edit those, not this file. -->")
    w("")
    w("Every bundled failure scenario, seen through real client libraries with their **default settings**,")
    w("inside `redlink exec SCENARIO --network NET` with the cache's real host name (the errors are the")
    w("operating system's: redlink's edge refuses, drops or resets with real sockets, nothing is special-cased")
    w("per client). Search this page for the message your client printed; `redlink explain \"MESSAGE\"` does the")
    w("same from the terminal. Addresses are shown as `ADDRESS` (every world has its own).")
    w("")
    w(f"Times are one run's measurements on a loaded 2-core machine. A client that had not answered after")
    w(f"{cat['cap_ms'] // 1000} s is recorded as \"no answer within {cat['cap_ms'] // 1000} s (cap)\": the matrix does not wait for")
    w("long defaults (its column in the table below says how long the library would wait). \"Recovered\" is")
    w(f"whether the same client object answered within {cat['recover_ms'] // 1000} s after the scenario's fix step ran.")
    w("")
    w("## The clients and their defaults")
    w("")
    w("| client | pinned in | default connect timeout | retry / reconnect |")
    w("| --- | --- | --- | --- |")
    versions = {}
    for case_results in cat.get("results", {}).values():
        for cid, r in case_results.items():
            if r.get("version"):
                versions[cid] = r["version"]
    for c in clients:
        v = versions.get(c["id"], "?")
        w(f"| {c['library']} {v} | {c['pinned']} | {c['connect_timeout']} | {c['retry']} |")
    w("")
    w("## By scenario")
    w("")
    for case in cat["cases"]:
        cause = causes[case["cause"]]
        res = cat.get("results", {}).get(case["id"], {})
        w(f"### {case['id']}: {case['symptom']}")
        w("")
        port = f"{case['host']}:{case['port']}" + (" TLS" if case["tls"] else " plain text")
        w(f"`redlink check scenarios/{case['scenario']}` · network `{case['network']}` · {port}"
          + (f" · `{' '.join(case['command'])}`" if "command" in case else ""))
        w("")
        w(f"- **Cause:** {cause['cause']}.")
        w(f"- **Fix:** {cause['fix']}.")
        w("")
        w("| client | what it says | after | recovered after the fix |")
        w("| --- | --- | --- | --- |")
        for c in clients:
            r = res.get(c["id"])
            after = seconds(r["elapsed_ms"]) if r else "–"
            w(f"| {c['id']} | {cell_line(r, c)} | {after} | {recovery_text(r)} |")
        w("")
    w("## By message")
    w("")
    w("One line per distinct message: message → cause → fix (the scenario reproduces it).")
    w("")
    seen = {}
    for case in cat["cases"]:
        for c in clients:
            r = cat.get("results", {}).get(case["id"], {}).get(c["id"])
            if r and r.get("says"):
                seen.setdefault(r["says"], []).append((case, c["id"]))
    for message in sorted(seen, key=str.lower):
        pairs = seen[message]
        who = sorted({cid for _, cid in pairs})
        cause_ids = []
        for case, _ in pairs:
            if case["cause"] not in cause_ids:
                cause_ids.append(case["cause"])
        why = "; or ".join(f"{causes[i]['cause']} → {causes[i]['fix']} (`scenarios/{causes[i]['scenario']}`)" for i in cause_ids)
        w(f"- {code(message)} ({', '.join(who)}) → {why}")
    w("")
    w("## Troubleshooting order (`redlink explain`)")
    w("")
    w("`redlink explain \"MESSAGE\"` sorts a message into a symptom by the words below (errno names, the")
    w("libraries' phrases) and lists the causes of that symptom in this order — the order in which")
    w("Microsoft's troubleshooting guides check them (the port and the name first, then the private")
    w("endpoint's state, DNS, the network path, then the server and the credentials). A cause about")
    w("another port or host flavour than the message names (the disabled non-TLS port 6379, Managed")
    w("Redis's `redis.azure.net`) is listed after the others, marked less likely. Messages the matrix")
    w("recorded (addresses and cache names generalised, ports kept) name the client and case that said them:")
    w("")
    for s in cat["symptoms"]:
        listed = [c for c in cat["causes"] if s["id"] in c["symptoms"]]
        w(f"- **{s['title']}** (`{'`, `'.join(s['patterns'])}`): "
          + " → ".join(f"{c['id']} (`{c['scenario']}`)" for c in listed))
    w("")
    w("Not covered by the matrix:")
    w("")
    for n in cat["not_covered"]:
        w(f"- `scenarios/{n['scenario']}`: {n['why']}.")
    w("")
    w("## Sources")
    w("")
    for line in cat.get("sources", []):
        w(f"- {line}")
    w("")
    w("## Running it")
    w("")
    w("```sh")
    w("(cd clients && npm ci && python3 -m pip install -r requirements.txt)")
    w("cargo build --example redis_rs_driver")
    w("REDLINK_BIN=target/debug/redlink python3 clients/matrix.py check    # compare with the catalogue")
    w("REDLINK_BIN=target/debug/redlink python3 clients/matrix.py update   # store a new recording")
    w("python3 clients/matrix.py render > docs/clients.md")
    w("```")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["run", "check", "update", "render"])
    p.add_argument("--only", help="case ids, comma-separated")
    p.add_argument("--clients", help="client ids, comma-separated")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("CLIENT_MATRIX_JOBS", "12")))
    p.add_argument("--check", action="store_true", help="render: compare with docs/clients.md")
    args = p.parse_args()
    cat = load()
    if args.what == "render":
        text = render(cat)
        if not args.check:
            sys.stdout.write(text)
            return 0
        with open(DOC, encoding="utf-8") as f:
            current = f.read()
        if current == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True), "docs/clients.md", "rendered"))
        print("docs/clients.md is not what clients/matrix.py renders from clients/catalogue.json: run `python3 clients/matrix.py render > docs/clients.md`")
        return 1
    redlink = os.environ.get("REDLINK_BIN", os.path.join(ROOT, "target", "debug", "redlink"))
    only = set(args.only.split(",")) if args.only else None
    clients = set(args.clients.split(",")) if args.clients else None
    now = run_all(cat, redlink, only, clients, args.jobs)
    if args.what == "run":
        print(json.dumps(now, indent=1))
        return 0
    if args.what == "update":
        cat = load()  # edited meanwhile (cases, causes): only the results are this run's
        for case_id, by_client in now.items():
            cat.setdefault("results", {}).setdefault(case_id, {}).update(by_client)
        order = [c["id"] for c in cat["cases"]]
        cat["results"] = {k: dict(sorted(cat["results"][k].items())) for k in order if k in cat["results"]}
        with open(CATALOGUE, "w", encoding="utf-8") as f:
            json.dump(cat, f, indent=1, ensure_ascii=False)
            f.write("\n")
        return 0
    lines = diff(cat, now)
    if lines:
        # A cell near a timing edge (an answer close to the cap on a loaded machine) may differ
        # once: run each differing cell again, and report only what differs twice.
        again = {(l.split(" × ")[0], l.split(" × ")[1].split(":")[0]) for l in lines}
        print(f"{len(again)} cells differ; running them once more: {sorted(again)}", file=sys.stderr)
        for case_id, client in sorted(again):
            retry = run_all(cat, redlink, {case_id}, {client}, 1)
            now[case_id][client] = retry[case_id][client]
        lines = diff(cat, now)
    if lines:
        print("What the clients say changed (catalogue → now); if the change is intended, run clients/matrix.py update and render:")
        print("\n".join(lines))
        return 1
    print(f"{sum(len(v) for v in now.values())} cells as catalogued")
    return 0


if __name__ == "__main__":
    sys.exit(main())
