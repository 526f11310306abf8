// Client-matrix driver for the Node.js libraries (clients/README.md): ioredis and node-redis
// (`redis` on npm), with the library's DEFAULT settings (only host, port, TLS with the world's CA
// and the credentials are given), one command, one JSON line. The library's own reconnect logic
// is what recovers (or not) after the scenario's fix step.
//
// Usage: node node.mjs ioredis|node-redis   (settings in CLIENT_* variables, as common.py reads)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const env = (name, fallback) => (process.env[name] ? process.env[name] : fallback);
const HOST = env('CLIENT_HOST', 'contoso.redis.cache.windows.net');
const PORT = Number(env('CLIENT_PORT', '6380'));
const TLS = env('CLIENT_TLS', '1') === '1';
const PASSWORD = env('CLIENT_PASSWORD', undefined);
const USER = env('CLIENT_USER', undefined);
const COMMAND = JSON.parse(env('CLIENT_COMMAND', '["PING"]')).map(String);
const CAP = Number(env('CLIENT_CAP_MS', '25000'));
const RECOVER = Number(env('CLIENT_RECOVER_MS', '25000'));
const BREAK = JSON.parse(env('CLIENT_BREAK', '[]'));
const FIX = JSON.parse(env('CLIENT_FIX', '[]'));
const HOLD = Number(env('CLIENT_HOLD', '0'));
const HOLD_PORT = Number(env('CLIENT_HOLD_PORT', String(PORT)));

/** Opens HOLD plain TCP connections and keeps them (the other clients a maxclients case needs). */
async function hold() {
  // A slot can be taken for a moment by a connection of the world's own start-up: a refused hold
  // (-ERR max number of clients reached) is retried for up to 5 s.
  const held = [];
  const deadline = Date.now() + 5000;
  while (held.length < HOLD) {
    const [s, answer] = await new Promise((resolve, reject) => {
      const s = connect({ host: HOST, port: HOLD_PORT }, () => s.write('PING\r\n'));
      s.once('data', (d) => resolve([s, d.toString()])); // +PONG: the engine counts it as a client
      s.on('error', reject);
    });
    if (answer.startsWith('+PONG') || Date.now() >= deadline) {
      held.push(s);
    } else {
      s.destroy();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return held;
}

/** Applies changes through `redlink ctl raw WORLD.CHANGE` (returns once the world changed). */
function applyChanges(changes) {
  for (const change of changes) {
    try {
      execFileSync(env('REDLINK_BIN', 'redlink'), ['ctl', 'raw', 'WORLD.CHANGE', change], {
        stdio: 'ignore',
        timeout: 30000,
      });
    } catch {
      // a change the step expects to be refused
    }
  }
}

/** Settles `promise` into {outcome, ...} or 'no-answer' after `cap` ms, without cancelling it. */
function settle(promise, start, cap) {
  let timer;
  const waited = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'no-answer', elapsed_ms: Math.round(performance.now() - start) }), cap);
  });
  const done = promise.then(
    (reply) => ({ outcome: 'ok', reply: String(reply), elapsed_ms: Math.round(performance.now() - start) }),
    (e) => ({
      outcome: 'error',
      error_type: e?.code ? `${e.constructor?.name ?? 'Error'} ${e.code}` : e?.constructor?.name ?? 'Error',
      message: String(e?.message ?? e),
      elapsed_ms: Math.round(performance.now() - start),
    }),
  );
  return Promise.race([done, waited]).finally(() => clearTimeout(timer));
}

function tlsOptions() {
  return TLS ? { ca: readFileSync(env('REDLINK_CA', '')) } : undefined;
}

/** The library's client, the first command's promise, and how to try again on the same client. */
async function open(library, events) {
  if (library === 'ioredis') {
    const Redis = require('ioredis');
    const client = new Redis({ host: HOST, port: PORT, tls: tlsOptions(), password: PASSWORD, username: USER });
    client.on('error', (e) => events.push(e));
    return {
      version: require('ioredis/package.json').version,
      first: client.call(...COMMAND),
      again: () => client.call(...COMMAND),
      by: 'a new call on the same client (ioredis reconnects on its own)',
    };
  }
  const { createClient } = require('redis');
  const socket = { host: HOST, port: PORT };
  if (TLS) Object.assign(socket, { tls: true, ca: readFileSync(env('REDLINK_CA', '')) });
  const client = createClient({ socket, password: PASSWORD, username: USER });
  client.on('error', (e) => events.push(e));
  const connected = client.connect();
  return {
    version: require('redis/package.json').version,
    first: connected.then(() => client.sendCommand(COMMAND)),
    again: () => (client.isOpen ? client.sendCommand(COMMAND) : Promise.reject(new Error('the client is closed: connect() gave up'))),
    by: 'a new call on the same client (node-redis reconnects on its own while the client is open)',
  };
}

const library = process.argv[2];
if (library !== 'ioredis' && library !== 'node-redis') {
  console.error('usage: node node.mjs ioredis|node-redis');
  process.exit(2);
}
applyChanges(BREAK);
const held = await hold();
const events = [];
const t0 = performance.now();
const client = await open(library, events);
const first = await settle(client.first, t0, CAP);
// What the 'error' event said first (the log line most users see), when it differs.
const logged = events.length ? String(events[0].message) : null;
let recovery = null;
let by = null;
if (FIX.length) {
  applyChanges(FIX);
  const t1 = performance.now();
  if (first.outcome === 'no-answer') {
    by = 'the pending call completed';
    recovery = await settle(client.first, t1, RECOVER);
  }
  if (!recovery || recovery.outcome !== 'ok') {
    by = client.by;
    recovery = await settle(client.again(), t1, Math.max(100, RECOVER - (performance.now() - t1)));
  }
}
console.log(
  JSON.stringify({
    client: library,
    version: client.version,
    outcome: first.outcome,
    error_type: first.error_type ?? null,
    message: first.message ?? null,
    logged: logged !== first.message ? logged : null,
    reply: first.reply ?? null,
    elapsed_ms: first.elapsed_ms,
    cap_ms: CAP,
    recovered: recovery ? recovery.outcome === 'ok' : null,
    recovery_ms: recovery ? recovery.elapsed_ms : null,
    recovery_error: recovery ? recovery.message ?? null : null,
    recovery_by: by,
  }),
);
held.forEach((s) => s.destroy());
process.exit(0);
