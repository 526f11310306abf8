// The redlink dashboard: draws /api/view, follows /api/events (server-sent events), and sends
// actions as the control API's changes (POST /api/change). Plain JavaScript, no build step.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
let view = null;
let password = null;
const feed = [];
const FEED_MAX = 400;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function message(text, ok) {
  const m = $("#message");
  m.textContent = text;
  m.className = ok ? "ok" : "";
  m.hidden = false;
  clearTimeout(message.timer);
  if (ok) message.timer = setTimeout(() => { m.hidden = true; }, 4000);
}

// ---- loading -------------------------------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; load(); }, 150);
}

async function load() {
  try {
    const r = await fetch("/api/view", { cache: "no-store" });
    const text = await r.text();
    const body = JSON.parse(text);
    if (!r.ok) { message(body.error || r.statusText); return; }
    if (text === load.last) return; // nothing changed: keep the page (and what is under the mouse) as is
    load.last = text;
    view = body;
    render();
  } catch (e) {
    $("#live").textContent = "world unreachable";
    $("#live").className = "badge off";
  }
}

function follow() {
  const source = new EventSource("/api/events");
  source.onopen = () => { $("#live").textContent = "live"; $("#live").className = "badge"; refreshSoon(); };
  source.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "badge off"; };
  source.addEventListener("refresh", refreshSoon);
  source.addEventListener("feed", (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch { return; }
    feed.unshift(e);
    if (feed.length > FEED_MAX) feed.length = FEED_MAX;
    renderFeed();
    if (e.type !== "dns") refreshSoon(); // counters, states
  });
}

// ---- actions -------------------------------------------------------------------------------

function askPassword() {
  return new Promise((resolve) => {
    const d = $("#password-dialog");
    const input = $("#password-input");
    input.value = "";
    d.onclose = () => resolve(d.returnValue === "ok" ? input.value : null);
    d.showModal();
    input.focus();
  });
}

async function act(url, body, what) {
  if (view && view.password_required && !password) {
    password = await askPassword();
    if (!password) { message("no password given: nothing was changed"); password = null; return; }
  }
  const payload = Object.assign({}, body, password ? { password } : {});
  let r, reply;
  try {
    r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    reply = await r.json();
  } catch (e) {
    message(`${what}: the dashboard did not answer (${e})`);
    return;
  }
  if (r.status === 401) password = null;
  if (!r.ok) { message(`${what}: ${reply.error || r.statusText}`); return; }
  message(`${what}: ${reply.done}`, true);
  refreshSoon();
}

const change = (c, what) => act("/api/change", { change: c }, what);

// ---- rendering -----------------------------------------------------------------------------

function render() {
  $("#world-name").textContent = view.name;
  $("#scenario").textContent = view.scenario;
  $("#lock").hidden = !view.password_required;
  document.title = `redlink · ${view.name}`;
  renderTopology();
  renderResolution();
  renderVerdicts();
  renderActions();
  renderTimeline();
  renderLab();
  renderFilters();
  renderFeed();
}

function endpoints() {
  return view.caches.flatMap((c) => c.endpoints.map((e) => Object.assign({ cache: c.name }, e)));
}

function renderTopology() {
  const s = $("#topology");
  s.replaceChildren();
  const W = Math.max(s.clientWidth || 1100, 800);
  const netX = 60, netW = 240, zoneW = 300, cacheW = 260;
  const zoneX = Math.round(W / 2 - zoneW / 2), cacheX = W - cacheW - 10;
  const pos = {};
  let y = 10;
  for (const n of view.networks) {
    const pes = endpoints().filter((e) => e.network === n.name);
    const h = 44 + 18 * pes.length + (n.forwarder ? 16 : 0);
    pos["net:" + n.name] = { x: netX, y, w: netW, h };
    pes.forEach((e, i) => { pos["pe:" + e.name] = { x: netX + netW, y: y + 50 + 18 * i - 4 }; });
    y += h + 16;
  }
  let maxY = y;
  y = 10;
  for (const z of view.zones) {
    const h = 40 + 15 * z.records.length;
    pos["zone:" + z.name] = { x: zoneX, y, w: zoneW, h };
    y += h + 16;
  }
  maxY = Math.max(maxY, y);
  y = 10;
  for (const c of view.caches) {
    const h = 64 + (c.firewall.length ? 15 : 0);
    pos["cache:" + c.name] = { x: cacheX, y, w: cacheW, h };
    y += h + 16;
  }
  maxY = Math.max(maxY, y);
  s.setAttribute("viewBox", `0 0 ${W} ${maxY}`);
  s.style.height = `${maxY}px`;

  // edges first, boxes over them
  const seen = new Set();
  for (const n of view.networks) {
    for (const p of n.peered_with) {
      const key = [n.name, p].sort().join("|");
      const a = pos["net:" + n.name], b = pos["net:" + p];
      if (seen.has(key) || !a || !b) continue;
      seen.add(key);
      const y1 = a.y + a.h / 2, y2 = b.y + b.h / 2;
      s.append(svg("path", { class: "edge peer", d: `M ${netX} ${y1} C ${netX - 50} ${y1}, ${netX - 50} ${y2}, ${netX} ${y2}` },));
      s.append(svg("text", { x: 2, y: (y1 + y2) / 2, class: "small" }, "peered"));
    }
  }
  for (const z of view.zones) {
    const zp = pos["zone:" + z.name];
    for (const l of z.links) {
      const np = pos["net:" + l.network];
      if (!np) continue;
      const x1 = np.x + np.w, y1 = np.y + 20, x2 = zp.x, y2 = zp.y + 20;
      s.append(svg("path", { class: "edge link", d: `M ${x1} ${y1} C ${(x1 + x2) / 2} ${y1}, ${(x1 + x2) / 2} ${y2}, ${x2} ${y2}` }));
      s.append(svg("text", { x: (x1 + x2) / 2 - 40, y: (y1 + y2) / 2 - 4, class: "small" }, `link ${l.name} · ${l.resolution_policy}`));
    }
  }
  for (const e of endpoints().filter((e) => e.kind === "private")) {
    const a = pos["pe:" + e.name], c = pos["cache:" + e.cache];
    if (!a || !c) continue;
    const x2 = c.x, y2 = c.y + 40;
    s.append(svg("path", { class: `edge ${e.state}`, d: `M ${a.x} ${a.y} C ${(a.x + x2) / 2} ${a.y}, ${(a.x + x2) / 2} ${y2}, ${x2} ${y2}` }));
  }

  for (const n of view.networks) {
    const p = pos["net:" + n.name];
    const g = svg("g", { "data-network": n.name });
    g.append(svg("rect", { class: "box", x: p.x, y: p.y, width: p.w, height: p.h, rx: 6 }));
    g.append(svg("text", { x: p.x + 8, y: p.y + 17, "font-weight": "bold" }, `network ${n.name}`));
    g.append(svg("text", { x: p.x + 8, y: p.y + 32, class: "small" }, `DNS ${n.resolver} · clients ${n.client_address}`));
    let yy = p.y + 50;
    for (const e of endpoints().filter((e) => e.network === n.name)) {
      g.append(svg("circle", { class: "pe", cx: p.x + 14, cy: yy - 4, r: 5, fill: e.state === "Approved" ? "#1e8e3e" : e.state === "Pending" ? "#b7791f" : "#c0392b" }));
      g.append(svg("text", { x: p.x + 24, y: yy, "data-endpoint": e.name }, `${e.name} ${e.address} · ${e.state}`));
      yy += 18;
    }
    if (n.forwarder) {
      const f = n.forwarder;
      g.append(svg("text", { x: p.x + 8, y: yy, class: "small" }, `custom DNS ${f.name}${f.forwards_to ? " → " + f.forwards_to : ""} (${Object.keys(f.answers).length} static)`));
    }
    s.append(g);
  }
  for (const z of view.zones) {
    const p = pos["zone:" + z.name];
    const g = svg("g", { "data-zone": z.name });
    g.append(svg("rect", { class: "zone", x: p.x, y: p.y, width: p.w, height: p.h, rx: 6 }));
    g.append(svg("text", { x: p.x + 8, y: p.y + 17, "font-weight": "bold" }, z.name));
    g.append(svg("text", { x: p.x + 8, y: p.y + 32, class: "small" }, z.links.length ? `linked: ${z.links.map((l) => l.network).join(", ")}` : "linked to no network"));
    z.records.forEach((r, i) => g.append(svg("text", { x: p.x + 8, y: p.y + 47 + 15 * i, class: "small" }, `A ${r.name} → ${r.address}${r.registered_by ? " (" + r.registered_by + ")" : ""}`)));
    s.append(g);
  }
  for (const c of view.caches) {
    const p = pos["cache:" + c.name];
    const pub = c.endpoints.find((e) => e.kind === "public");
    const g = svg("g", { "data-cache": c.name });
    g.append(svg("rect", { class: "cache", x: p.x, y: p.y, width: p.w, height: p.h, rx: 6 }));
    g.append(svg("text", { x: p.x + 8, y: p.y + 17, "font-weight": "bold" }, `cache ${c.name}${c.running ? "" : " (stopped)"}`));
    g.append(svg("text", { x: p.x + 8, y: p.y + 32, class: "small" }, c.hostname));
    g.append(svg("text", { x: p.x + 8, y: p.y + 48 }, `public ${pub ? pub.address : "?"} · access ${c.public_network_access}`));
    if (c.firewall.length) g.append(svg("text", { x: p.x + 8, y: p.y + 62, class: "small" }, `firewall: ${c.firewall.join("; ")}`));
    s.append(g);
  }
}

function renderResolution() {
  const t = $("#resolution");
  t.replaceChildren();
  t.append(el("tr", {}, el("th", {}, "network"), view.caches.map((c) => el("th", {}, c.name))));
  for (const n of view.networks) {
    const row = el("tr", { "data-network": n.name }, el("th", {}, n.name));
    for (const c of view.caches) {
      const r = view.resolution.find((x) => x.network === n.name && x.cache === c.name);
      if (!r) { row.append(el("td")); continue; }
      const label = r.kind === "private" ? `${r.answer} (private, ${r.endpoint})` : r.kind === "public" ? `${r.answer} (public)` : r.answer;
      row.append(el("td", { "data-resolution": `${n.name}/${c.name}`, "data-kind": r.kind, class: "k-" + r.kind, title: r.explanation.join("\n") }, label));
    }
    t.append(row);
  }
}

function renderVerdicts() {
  const t = $("#verdicts");
  t.replaceChildren();
  t.append(el("tr", {}, el("th", {}, "endpoint"), el("th", {}, "port"), el("th", {}, "host"),
    view.networks.map((n) => el("th", {}, n.name)), el("th", {}, "connections")));
  for (const e of endpoints()) {
    e.ports.forEach((p, i) => {
      const counts = Object.entries(e.counts).map(([k, v]) => `${k} ${v}`).join(", ") || "0";
      t.append(el("tr", { "data-endpoint": e.name, "data-port": p.port },
        el("td", {}, i === 0 ? `${e.cache}/${e.name} ${e.address}${e.state ? " · " + e.state : ""}` : ""),
        el("td", {}, `${p.port}${p.tls ? "/tls" : ""}`),
        el("td", { class: "v-" + p.host.verdict, title: p.host.reason }, p.host.verdict),
        view.networks.map((n) => {
          const v = p.networks[n.name];
          return el("td", { class: v ? "v-" + v.verdict : "", title: v ? v.reason : "", "data-verdict": `${e.name}/${p.port}/${n.name}` }, v ? v.verdict : "–");
        }),
        el("td", {}, i === 0 ? counts : "")));
    });
  }
}

function renderActions() {
  const a = $("#actions");
  // Do not pull the form from under someone typing in it; the next refresh redraws it.
  if (a.contains(document.activeElement) && document.activeElement.matches("input, select")) return;
  // Keep what the user is typing in the record form across refreshes.
  const kept = { zone: $("#rec-zone")?.value, name: $("#rec-name")?.value, target: $("#rec-target")?.value };
  a.replaceChildren();
  const pes = endpoints().filter((e) => e.kind === "private");
  const g1 = el("div", { class: "action-group" }, el("h3", {}, "Private endpoint connections"));
  if (!pes.length) g1.append(el("div", { class: "muted" }, "no private endpoints"));
  for (const e of pes) {
    g1.append(el("div", { class: "action-row" }, el("span", { class: "s-" + e.state }, `${e.name} (${e.state})`),
      el("button", { "data-action": "approve", "data-endpoint": e.name, disabled: e.state === "Approved", onclick: () => change({ approve: e.name }, `approve ${e.name}`) }, "Approve"),
      el("button", { "data-action": "reject", "data-endpoint": e.name, disabled: e.state === "Rejected", onclick: () => change({ reject: e.name }, `reject ${e.name}`) }, "Reject")));
  }
  const g2 = el("div", { class: "action-group" }, el("h3", {}, "Private DNS zone links"));
  if (!view.zones.length) g2.append(el("div", { class: "muted" }, "no private DNS zones"));
  for (const z of view.zones) {
    for (const n of view.networks) {
      const link = z.links.find((l) => l.network === n.name);
      const row = el("div", { class: "action-row" }, el("span", {}, `${n.name} ↔ ${z.name}`));
      if (link) {
        row.append(el("button", { "data-action": "unlink", "data-zone": z.name, "data-network": n.name, onclick: () => change({ unlink: { zone: z.name, network: n.name } }, `unlink ${z.name} from ${n.name}`) }, "Unlink"));
        const other = link.resolution_policy === "Default" ? "NxDomainRedirect" : "Default";
        row.append(el("button", { "data-action": "policy", "data-zone": z.name, "data-network": n.name, onclick: () => change({ resolution_policy: { zone: z.name, network: n.name, policy: other } }, `resolution policy ${other}`) }, `Policy → ${other}`));
      } else {
        row.append(el("button", { "data-action": "link", "data-zone": z.name, "data-network": n.name, onclick: () => change({ link: { zone: z.name, network: n.name } }, `link ${z.name} to ${n.name}`) }, "Link"));
      }
      g2.append(row);
    }
  }
  const g3 = el("div", { class: "action-group" }, el("h3", {}, "Public network access"));
  for (const c of view.caches) {
    const to = c.public_network_access === "Enabled" ? "Disabled" : "Enabled";
    g3.append(el("div", { class: "action-row" }, el("span", {}, `${c.name}: ${c.public_network_access}`),
      el("button", { "data-action": "public-access", "data-cache": c.name, onclick: () => change({ public_access: { cache: c.name, access: to } }, `public network access ${to} on ${c.name}`) }, to === "Enabled" ? "Enable" : "Disable")));
  }
  const g4 = el("div", { class: "action-group" }, el("h3", {}, "Add an A record"));
  if (view.zones.length) {
    const zone = el("select", { id: "rec-zone", "aria-label": "zone" }, view.zones.map((z) => el("option", { value: z.name }, z.name)));
    const name = el("input", { id: "rec-name", placeholder: "name (e.g. contoso)", size: 14, "aria-label": "record name" });
    const target = el("input", { id: "rec-target", placeholder: "endpoint name or 127.x address", size: 18, list: "rec-endpoints", "aria-label": "endpoint or address" });
    const list = el("datalist", { id: "rec-endpoints" }, pes.map((e) => el("option", { value: e.name })));
    if (kept.zone) zone.value = kept.zone;
    if (kept.name) name.value = kept.name;
    if (kept.target) target.value = kept.target;
    const add = el("button", { "data-action": "add-record", onclick: () => {
      const t = target.value.trim();
      if (!name.value.trim() || !t) { message("add record: give a name and an endpoint or address"); return; }
      const rec = { zone: zone.value, name: name.value.trim() };
      if (/^\d+\.\d+\.\d+\.\d+$/.test(t)) rec.address = t; else rec.endpoint = t;
      change({ add_record: rec }, `add record ${rec.name}`);
    } }, "Add");
    g4.append(el("div", { class: "action-row" }, zone, name, target, list, add));
  } else {
    g4.append(el("div", { class: "muted" }, "no private DNS zones"));
  }
  a.append(g1, g2, g3, g4);
}

function renderTimeline() {
  const t = $("#timeline");
  t.replaceChildren();
  const tl = view.timeline;
  const steps = tl.phases.length - 1;
  $("#next-step").disabled = tl.done || steps <= 0;
  if (!tl.phases.some((p) => p.expectations.length || p.changes.length)) {
    t.append(el("li", { class: "muted" }, "This scenario has no timeline."));
    return;
  }
  tl.phases.forEach((p, i) => {
    const cls = i === tl.current ? "current" : tl.current !== null && i < tl.current ? "done" : "";
    const at = p.at_ms !== null && p.at_ms !== undefined ? ` (at ${p.at_ms / 1000}s)` : "";
    t.append(el("li", { class: cls, "data-phase": p.name },
      el("strong", {}, p.name + at), i === tl.current ? " ◂ now" : "",
      el("ul", {},
        p.changes.map((c) => el("li", { class: c.error ? "unmet" : "" }, `↻ ${c.description}${c.error ? " — " + c.error : ""}`)),
        p.expectations.map((e) => el("li", { class: e.passed === null ? "muted" : e.passed ? "met" : "unmet", title: e.got || "" },
          `${e.passed === null ? "·" : e.passed ? "✓" : "✗"} ${e.label}`)))));
  });
}

function renderLab() {
  const lab = view.lab;
  const ul = $("#exercises");
  ul.replaceChildren();
  if (!lab) {
    $("#lab-score").textContent = "";
    ul.append(el("li", { class: "muted" }, "This world has no exercises."));
    return;
  }
  $("#lab-score").textContent = `${lab.met}/${lab.total} met`;
  for (const x of lab.exercises) {
    ul.append(el("li", { "data-exercise": x.name, "data-met": x.met ? "yes" : "no" },
      el("span", { class: x.met ? "met" : "unmet" }, `${x.met ? "✓" : "✗"} ${x.name}`),
      x.met || !x.hint ? null : el("div", { class: "hint" }, `hint: ${x.hint}`),
      el("ul", {}, x.goals.map((g) => el("li", { class: g.met ? "met" : "unmet", title: `wanted ${g.expected}, got ${g.got}` }, `${g.met ? "✓" : "✗"} ${g.label}`)))));
  }
}

function renderFilters() {
  const fill = (sel, names) => {
    const s = $(sel), v = s.value;
    const first = s.options[0];
    s.replaceChildren(first, ...names.map((n) => el("option", { value: n }, n)));
    s.value = names.includes(v) ? v : "";
  };
  fill("#filter-network", view.networks.map((n) => n.name));
  fill("#filter-cache", view.caches.map((c) => c.name));
}

function eventCache(e) {
  if (!view) return null;
  if (e.type === "engine") return e.cache;
  if (e.type === "connection") {
    const ep = endpoints().find((x) => x.name === e.endpoint && x.address === e.address.split(":")[0]);
    return ep ? ep.cache : null;
  }
  if (e.type === "dns") {
    const c = view.caches.find((c) => e.name.startsWith(c.name + "."));
    return c ? c.name : null;
  }
  return null;
}

function shown(e) {
  const net = $("#filter-network").value, cache = $("#filter-cache").value;
  if (e.type === "dns" && !$("#filter-dns").checked) return false;
  if ((e.type === "connection" || e.type === "engine") && !$("#filter-conn").checked) return false;
  if (e.type === "change" && !$("#filter-change").checked) return false;
  if (net) {
    if (e.type === "change") { if (!(e.description || "").includes(net)) return false; }
    else if (e.type === "engine") return false;
    else if (e.network !== net) return false;
  }
  if (cache) {
    if (e.type === "change") { if (!(e.description || "").includes(cache)) return false; }
    else if (eventCache(e) !== cache) return false;
  }
  return true;
}

function describe(e) {
  switch (e.type) {
    case "dns": return `[${e.network}] DNS ${e.qtype} ${e.name} → ${e.answer} — ${e.reason}`;
    case "connection": return `[${e.network || "host"}] ${e.peer} → ${e.endpoint} ${e.address}: ${e.verdict} — ${e.reason}`;
    case "engine": return `[${e.cache}] ${e.kind} from ${e.peer} via ${e.endpoint || "direct"}: ${e.reason}`;
    case "change": return e.error ? `change refused: ${e.description} — ${e.error}` : `change: ${e.description}`;
    default: return JSON.stringify(e);
  }
}

function renderFeed() {
  const ol = $("#feed");
  ol.replaceChildren(...feed.filter(shown).slice(0, 200).map((e) =>
    el("li", { class: e.error ? "error" : "", "data-type": e.type },
      el("span", { class: "t" }, new Date(e.time_ms).toLocaleTimeString()), describe(e))));
}

for (const id of ["#filter-network", "#filter-cache", "#filter-dns", "#filter-conn", "#filter-change"]) {
  $(id).addEventListener("change", renderFeed);
}
$("#next-step").addEventListener("click", () => act("/api/next-step", {}, "next step"));
window.addEventListener("resize", () => { if (view) renderTopology(); });
load();
follow();
