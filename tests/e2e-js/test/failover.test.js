// Hot-standby failover on PostgreSQL (runs when E2E_DATABASE_URL names a
// PostgreSQL server, as in CI's second e2e pass; skipped on SQLite): a bank
// server serves while a `--standby` server on the same database waits for the
// writer's lease. Transfers stream in from WebSocket clients; the leader is
// killed with SIGKILL mid-stream; the standby takes the lease, binds the same
// port, and the clients reconnect to it by themselves and re-send what was
// not acknowledged. Every transfer resolves, each exactly once: the balances
// are what the acknowledged results say, and the total is unchanged.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  closeTracked,
  databaseArgs,
  freePort,
  installCrashGuard,
  removeDir,
  seededRandom,
  sleep,
  startServer,
  tempDir,
  track,
  withTimeout,
} from "./harness.js";

const api = anyApi;
const ACCOUNTS = 10;
const INITIAL = 1_000;
const TRANSFERS = 400;
const CLIENTS = 4;
const postgres = Boolean(process.env.E2E_DATABASE_URL);

installCrashGuard();
const dirs = [];
const servers = [];
after(async () => {
  await closeTracked();
  for (const s of servers) await s.stop();
  for (const dir of dirs) removeDir(dir);
}, { timeout: 60_000 });

test("SIGKILL the leader under load: the standby takes over, nothing acknowledged is lost", { skip: !postgres && "needs E2E_DATABASE_URL (PostgreSQL)", timeout: 120_000 }, async () => {
  const port = await freePort();
  const leaderDir = tempDir("convex-rs-e2e-leader-");
  const standbyDir = tempDir("convex-rs-e2e-standby-");
  dirs.push(leaderDir, standbyDir);
  // One database for both; one admin key, as a deployment would configure.
  const database = databaseArgs(leaderDir);
  const shared = [...database, "--admin-key", "failover-test-admin-key"];
  const leader = await startServer("bank", { port, dataDir: leaderDir, args: shared });
  servers.push(leader);
  // The standby prints its ready line only once it holds the lease and the port.
  const standbyStarted = startServer("bank", { port, dataDir: standbyDir, args: [...shared, "--standby"] });
  standbyStarted.then((s) => servers.push(s), () => {});

  const url = `http://127.0.0.1:${port}`;
  const clients = Array.from({ length: CLIENTS }, () => track(new ConvexClient(url, { logger: false })));
  await clients[0].mutation(api.bank.seed, { accounts: ACCOUNTS, balance: INITIAL });

  const random = seededRandom(7);
  const transfers = Array.from({ length: TRANSFERS }, () => {
    const from = Math.floor(random() * ACCOUNTS);
    const to = (from + 1 + Math.floor(random() * (ACCOUNTS - 1))) % ACCOUNTS;
    return { from, to, amount: 1 + Math.floor(random() * 50) };
  });
  // Issued over about a second, so the kill lands mid-stream.
  let acknowledged = 0;
  const results = transfers.map(async (t, i) => {
    await sleep(Math.floor(i * 2.5));
    const result = await clients[i % CLIENTS].mutation(api.bank.transfer, t);
    acknowledged += 1;
    return result;
  });
  while (acknowledged < TRANSFERS / 4) await sleep(5);
  const killedAt = Date.now();
  process.kill(leader.pid, "SIGKILL");
  const ackedAtKill = acknowledged;

  const standby = await withTimeout(standbyStarted, 30_000, "the standby taking over");
  const tookOverMs = Date.now() - killedAt;
  const outcomes = await withTimeout(Promise.all(results), 60_000, "every transfer resolving");
  console.log(`failover: the standby served ${tookOverMs} ms after the kill; ${ackedAtKill} of ${TRANSFERS} transfers were acknowledged before it`);
  assert.ok(ackedAtKill < TRANSFERS, "the kill did not land mid-stream");
  assert.ok(tookOverMs < 10_000, `the standby took ${tookOverMs} ms`);

  const expected = Array(ACCOUNTS).fill(INITIAL);
  transfers.forEach((t, i) => {
    assert.equal(typeof outcomes[i], "boolean");
    if (outcomes[i]) {
      expected[t.from] -= t.amount;
      expected[t.to] += t.amount;
    }
  });
  const http = new ConvexHttpClient(standby.url);
  assert.equal(await http.query(api.bank.total, {}), ACCOUNTS * INITIAL, "money was created or lost");
  for (let owner = 0; owner < ACCOUNTS; owner++) {
    assert.equal(await http.query(api.bank.balance, { owner }), expected[owner], `balance of ${owner}`);
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
