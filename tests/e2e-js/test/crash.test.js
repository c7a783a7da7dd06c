// Crash harness: the `bank` server is SIGKILLed again and again while
// WebSocket clients (the official `convex` client) stream transfers into it,
// and restarted on the same data after every kill. Nothing acknowledged may be
// lost, nothing may be applied twice, and money is conserved.
//
// Each round: WRITERS writer accounts each run one `bank:transfer` of 1 at a
// time (one mutation in flight per writer, over its own ConvexClient) to a
// random sink account. 50–400 ms after the writers start, the whole server
// process gets SIGKILL; the clients are closed (so that nothing in flight is
// re-sent to the next server), the server is restarted on the same port and
// data, and then:
//   * `bank:total` is exactly ACCOUNTS * INITIAL (the invariant), and
//   * for every writer, its debit `INITIAL - bank:balance(owner)` is at least
//     the transfers acknowledged to it (resolved `true`) and at most that plus
//     one: the transfer in flight at the kill may or may not have committed.
//     Checked per round (against the debit seen after the previous restart)
//     and cumulatively (acknowledged over all rounds, plus every "maybe").
// The next round runs on the same data.
//
// On SQLite this runs once with `--durability normal` and once with
// `--durability full`, on a fresh data directory each. With E2E_DATABASE_URL
// (PostgreSQL, scripts/with-postgres) `--durability` does not apply (it is the
// SQLite `synchronous` setting), so one run on PostgreSQL replaces the two.
//
// Environment:
//   CRASH_KILLS=N   kills per durability (default 20); the long run is
//                   CRASH_KILLS=200 (the timeout scales with N)
//   CRASH_SEED=N    the random seed (default: time-based; printed with the
//                   summary and in failure messages): it fixes the kill
//                   moments and the sinks picked; the interleaving with the
//                   server stays up to timing

import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  freePort,
  installCrashGuard,
  removeDir,
  seededRandom,
  sleep,
  startServer,
  tempDir,
  withTimeout,
} from "./harness.js";

const api = anyApi;
installCrashGuard();

const KILLS = Number(process.env.CRASH_KILLS ?? 20);
if (!Number.isInteger(KILLS) || KILLS < 1) throw new Error(`CRASH_KILLS=${process.env.CRASH_KILLS}: expected a whole number >= 1`);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000_007);
const postgres = Boolean(process.env.E2E_DATABASE_URL);

const WRITERS = 8; // owners 0..WRITERS-1: each one writer's source account
const SINKS = 4; // owners WRITERS..ACCOUNTS-1: only ever credited
const ACCOUNTS = WRITERS + SINKS;
const INITIAL = 1_000_000; // far more than any run transfers: never short of funds
const KILL_MIN_MS = 50;
const KILL_MAX_MS = 400;

// Everything this file started, for the `after()` hook when a test fails
// half-way (a failed run's data directory is kept and named in the failure).
const liveServers = new Set();
const liveClients = new Set();
after(async () => {
  await closeClients([...liveClients]);
  for (const s of liveServers) await s.stop();
}, { timeout: 60_000 });

async function closeClients(clients) {
  await Promise.allSettled(
    clients.map((c) => {
      liveClients.delete(c);
      return withTimeout(Promise.resolve().then(() => c.close()), 35_000, "client.close()");
    }),
  );
}

/** The last `lines` lines of a server's output (stdout and stderr). */
function tail(server, lines = 30) {
  // Without the log's colour codes.
  const text = (server?.output?.() ?? "").replace(/\x1b\[[0-9;]*m/g, "");
  return text.split("\n").slice(-lines).map((l) => `    | ${l}`).join("\n");
}

/**
 * One writer: transfers of 1 from `owner` to a random sink, one at a time,
 * until `round.stopped`. `round.inFlight[owner]` is true from the moment a
 * transfer is issued until it resolves; a transfer that never resolves (the
 * server died, the client was closed) or rejects after the kill is a "maybe".
 */
async function writer(round, client, owner, random) {
  while (!round.stopped) {
    const to = WRITERS + Math.floor(random() * SINKS);
    round.inFlight[owner] = true;
    let ok;
    try {
      ok = await client.mutation(api.bank.transfer, { from: owner, to, amount: 1 });
    } catch (err) {
      // Still in flight: it may have committed before the server died.
      if (!round.stopped) round.errors.push(`writer ${owner}: transfer rejected before the kill: ${err?.stack ?? err}`);
      return;
    }
    round.inFlight[owner] = false;
    if (ok !== true) {
      round.errors.push(`writer ${owner}: transfer returned ${JSON.stringify(ok)}, expected true`);
      return;
    }
    round.acked[owner] += 1;
  }
}

/** All balances, by owner, from the server at `url`. */
async function balances(http) {
  return withTimeout(
    Promise.all([...Array(ACCOUNTS).keys()].map((owner) => http.query(api.bank.balance, { owner }))),
    15_000,
    "reading the balances",
  );
}

/**
 * Seeds a bank on a fresh data directory, then runs `KILLS` rounds of
 * writers + SIGKILL + restart + checks. `label` names the run in messages;
 * `args` are the extra `serve` arguments (`--durability ...`).
 */
async function crashRun(label, args) {
  const dataDir = tempDir("convex-rs-e2e-crash-");
  try {
    await crashRounds(label, args, dataDir);
  } catch (err) {
    // Kept for a post-mortem (on PostgreSQL the database stays too).
    err.message += `\n  (data directory ${dataDir} kept)`;
    throw err;
  }
  removeDir(dataDir);
}

async function crashRounds(label, args, dataDir) {
  const started = Date.now();
  const labelHash = [...label].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const random = seededRandom(SEED ^ labelHash); // the writers' sinks
  const killRandom = seededRandom((SEED ^ labelHash) + 1); // the kill moments
  const port = await freePort();
  const start = async () => {
    const t0 = Date.now();
    const s = await startServer("bank", { port, dataDir, args });
    liveServers.add(s);
    return { server: s, startMs: Date.now() - t0 };
  };

  let { server } = await start();
  const url = server.url;
  const http = new ConvexHttpClient(url, { logger: false });
  assert.equal(await http.mutation(api.bank.seed, { accounts: ACCOUNTS, balance: INITIAL }), null);
  assert.deepEqual(await balances(http), Array(ACCOUNTS).fill(INITIAL), "seeded balances");

  // Cumulative over the rounds.
  const ackedTotal = Array(WRITERS).fill(0);
  const maybeTotal = Array(WRITERS).fill(0);
  let debits = Array(WRITERS).fill(0); // as read after the previous restart
  let acknowledged = 0;
  let maybes = 0;
  let maybeCommitted = 0;
  const startTimes = [];
  const context = (kill, killDelay) =>
    `${label}, round ${kill} of ${KILLS} (CRASH_SEED=${SEED}, kill ${killDelay} ms after the writers started, ` +
    `data ${dataDir}${postgres ? ", PostgreSQL" : ""})`;

  for (let kill = 1; kill <= KILLS; kill++) {
    const round = {
      stopped: false,
      inFlight: Array(WRITERS).fill(false),
      acked: Array(WRITERS).fill(0),
      errors: [],
    };
    const clients = Array.from({ length: WRITERS }, () => {
      const c = new ConvexClient(url, { logger: false, webSocketConstructor: WebSocket });
      liveClients.add(c);
      return c;
    });
    // Connected (and sane) before the clock starts: each reads its balance.
    const seen = await withTimeout(
      Promise.all(clients.map((c, owner) => c.query(api.bank.balance, { owner }))),
      15_000,
      `${label}, round ${kill}: the writers connecting`,
    );
    assert.deepEqual(seen, debits.map((d) => INITIAL - d), `${label}, round ${kill}: balances over the WebSocket`);

    const writers = clients.map((c, owner) => writer(round, c, owner, random));
    const killDelay = KILL_MIN_MS + Math.floor(killRandom() * (KILL_MAX_MS - KILL_MIN_MS + 1));
    await sleep(killDelay);

    // The kill: the whole process, no warning. Writers stop issuing from here on;
    // a response the server sent before it died may still resolve a transfer.
    try {
      process.kill(server.pid, "SIGKILL");
    } catch {
      // Already gone: the exit status below says how.
    }
    round.stopped = true;
    const killed = server;
    const status = await withTimeout(killed.stop(), 15_000, `${label}, round ${kill}: the killed server exiting`);
    liveServers.delete(killed);
    assert.equal(
      status.signal,
      "SIGKILL",
      `${context(kill, killDelay)}: the server exited with ${JSON.stringify(status)} before the kill\n${tail(killed)}`,
    );
    // Closed before the restart, so nothing in flight is re-sent to the new server.
    await closeClients(clients);
    // One consistent snapshot of what the writers know.
    const acked = [...round.acked];
    const inFlight = [...round.inFlight];
    void writers; // never awaited: a transfer in flight at the kill may never settle
    if (round.errors.length > 0) {
      assert.fail(`${context(kill, killDelay)}: writer errors:\n  ${round.errors.join("\n  ")}\n  server output:\n${tail(killed)}`);
    }

    // Same port, same data (same database on PostgreSQL).
    let restarted;
    try {
      restarted = await start();
    } catch (err) {
      err.message = `${context(kill, killDelay)}: the server did not restart after SIGKILL: ${err.message}\n  killed server's output:\n${tail(killed)}`;
      throw err;
    }
    server = restarted.server;
    startTimes.push(restarted.startMs);

    const total = await withTimeout(http.query(api.bank.total, {}), 15_000, "bank:total");
    const now = await balances(http);
    const problems = [];
    if (total !== ACCOUNTS * INITIAL) {
      problems.push(`bank:total is ${total}, expected exactly ${ACCOUNTS * INITIAL} (money created or lost)`);
    }
    const newDebits = now.slice(0, WRITERS).map((b) => INITIAL - b);
    for (let owner = 0; owner < WRITERS; owner++) {
      ackedTotal[owner] += acked[owner];
      maybeTotal[owner] += inFlight[owner] ? 1 : 0;
      const d = newDebits[owner];
      // This round, against the debit seen after the previous restart.
      const lo = debits[owner] + acked[owner];
      const hi = lo + (inFlight[owner] ? 1 : 0);
      if (d < lo || d > hi) {
        problems.push(
          `account ${owner}: debit ${d} (balance ${now[owner]}), expected ${lo === hi ? lo : `${lo}..${hi}`} ` +
            `(debit after the previous restart ${debits[owner]}, ${acked[owner]} acknowledged this round, ` +
            `${inFlight[owner] ? "1 in flight at the kill" : "none in flight"}) — ` +
            (d < lo ? `${lo - d} acknowledged transfer(s) LOST` : `${d - hi} transfer(s) applied more than once or unasked`),
        );
      }
      // Cumulatively: every acknowledged transfer, at most one "maybe" per round.
      const clo = ackedTotal[owner];
      const chi = clo + maybeTotal[owner];
      if (d < clo || d > chi) {
        problems.push(`account ${owner}: cumulative debit ${d}, expected ${clo}..${chi} (${clo} acknowledged over ${kill} rounds, ${maybeTotal[owner]} maybe)`);
      }
    }
    const credited = now.slice(WRITERS).reduce((sum, b) => sum + (b - INITIAL), 0);
    const debited = newDebits.reduce((sum, d) => sum + d, 0);
    if (credited !== debited) {
      problems.push(`the sinks were credited ${credited}, the writers debited ${debited}`);
    }
    if (problems.length > 0) {
      assert.fail(
        `${context(kill, killDelay)}:\n  ${problems.join("\n  ")}\n` +
          `  acknowledged this round: ${JSON.stringify(acked)}; in flight at the kill: ${JSON.stringify(inFlight)}\n` +
          `  balances now: ${JSON.stringify(now)}\n` +
          `  killed server's output (tail):\n${tail(killed)}\n` +
          `  restarted server's output (tail):\n${tail(server)}`,
      );
    }
    for (let owner = 0; owner < WRITERS; owner++) {
      maybeCommitted += newDebits[owner] - debits[owner] - acked[owner];
    }
    acknowledged += acked.reduce((a, b) => a + b, 0);
    maybes += inFlight.filter(Boolean).length;
    debits = newDebits;
  }

  // A clean stop at the end, and the data as the last restart left it.
  const status = await server.stop();
  liveServers.delete(server);
  assert.deepEqual(status, { code: 0, signal: null }, `${label}: a clean exit on SIGTERM\n${tail(server)}`);

  const elapsed = ((Date.now() - started) / 1000).toFixed(1);
  const avgStart = Math.round(startTimes.reduce((a, b) => a + b, 0) / startTimes.length);
  console.log(
    `crash harness (${label}): ${KILLS} kills, ${acknowledged} acknowledged transfers, all present; ` +
      `${maybes} in flight at a kill, ${maybeCommitted} of them committed; invariant held; ` +
      `restart ${avgStart} ms avg / ${Math.max(...startTimes)} ms max; ${elapsed} s (CRASH_SEED=${SEED})`,
  );
  assert.ok(acknowledged > 0, `${label}: no transfer was acknowledged in ${KILLS} rounds`);
}

// Per run: ~1 s a round with the debug binary; generous for slow CI machines.
const timeout = 60_000 + KILLS * 5_000;

for (const durability of ["normal", "full"]) {
  test(
    `SIGKILL x${KILLS} under load with --durability ${durability}: nothing acknowledged is lost, nothing applied twice`,
    { skip: postgres && "--durability is SQLite's; the PostgreSQL run covers this", timeout },
    async () => {
      await crashRun(`durability=${durability}`, ["--durability", durability]);
    },
  );
}

test(
  `SIGKILL x${KILLS} under load on PostgreSQL: nothing acknowledged is lost, nothing applied twice`,
  { skip: !postgres && "needs E2E_DATABASE_URL (PostgreSQL)", timeout },
  async () => {
    await crashRun("postgres", []);
  },
);

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
