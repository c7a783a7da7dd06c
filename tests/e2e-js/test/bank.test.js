// Serializable transactions under contention: 200 concurrent transfers from
// 4 WebSocket clients. Money is conserved, every balance matches the
// transfers that reported success, and a subscriber to `bank:total` never
// sees an inconsistent snapshot.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  seededRandom,
  track,
  Values,
  withTimeout,
  useServer,
} from "./harness.js";

const api = anyApi;
const ACCOUNTS = 10;
const INITIAL = 100;
const TRANSFERS = 200;
const CLIENTS = 4;

let server;
let clients;
let http;

useServer("bank", async (started) => {
  server = started;
  clients = Array.from({ length: CLIENTS }, () =>
    track(new ConvexClient(server.url, { logger: false })),
  );
  http = new ConvexHttpClient(server.url, { logger: false });
  assert.equal(await clients[0].mutation(api.bank.seed, { accounts: ACCOUNTS, balance: INITIAL }), null);
});

test("seeded balances", { timeout: 15_000 }, async () => {
  assert.equal(await http.query(api.bank.total, {}), ACCOUNTS * INITIAL);
  for (let owner = 0; owner < ACCOUNTS; owner++) {
    assert.equal(await clients[owner % CLIENTS].query(api.bank.balance, { owner }), INITIAL);
  }
  assert.equal(await http.query(api.bank.balance, { owner: ACCOUNTS + 5 }), 0, "no such account");
});

test("200 concurrent transfers over 4 clients conserve money", { timeout: 120_000 }, async () => {
  // Every total pushed to a subscriber must be the invariant sum.
  const watcher = track(new ConvexClient(server.url, { logger: false }));
  const totals = new Values("bank:total");
  const unsub = watcher.onUpdate(api.bank.total, {}, totals.push, totals.fail);
  await totals.waitFor();

  const rand = seededRandom(20240611);
  const transfers = Array.from({ length: TRANSFERS }, () => {
    const from = Math.floor(rand() * ACCOUNTS);
    let to = Math.floor(rand() * (ACCOUNTS - 1));
    if (to >= from) to += 1;
    const amount = 1 + Math.floor(rand() * 60);
    return { from, to, amount };
  });

  const results = await withTimeout(
    Promise.all(transfers.map((t, i) => clients[i % CLIENTS].mutation(api.bank.transfer, t))),
    100_000,
    "200 transfers",
  );
  unsub();

  for (const r of results) assert.equal(typeof r, "boolean");
  const succeeded = results.filter((r) => r).length;
  assert.ok(succeeded > 0, "some transfers succeeded");

  const expected = Array(ACCOUNTS).fill(INITIAL);
  transfers.forEach((t, i) => {
    if (results[i]) {
      expected[t.from] -= t.amount;
      expected[t.to] += t.amount;
    }
  });

  assert.equal(await http.query(api.bank.total, {}), ACCOUNTS * INITIAL);
  const balances = [];
  for (let owner = 0; owner < ACCOUNTS; owner++) {
    balances.push(await http.query(api.bank.balance, { owner }));
  }
  assert.deepEqual(
    balances,
    expected,
    `balances match the ${succeeded} successful transfers (of ${TRANSFERS})`,
  );
  for (const b of balances) assert.ok(b >= 0, "no overdraft");

  // The same over the WebSocket clients.
  for (let owner = 0; owner < ACCOUNTS; owner++) {
    assert.equal(await clients[owner % CLIENTS].query(api.bank.balance, { owner }), expected[owner]);
  }

  assert.ok(totals.values.length >= 1);
  for (const total of totals.values) {
    assert.equal(total, ACCOUNTS * INITIAL, "every pushed total is consistent");
  }
});

test("a transfer with insufficient funds returns false and writes nothing", { timeout: 15_000 }, async () => {
  const before = await http.query(api.bank.balance, { owner: 0 });
  const target = await http.query(api.bank.balance, { owner: 1 });
  const ok = await clients[0].mutation(api.bank.transfer, { from: 0, to: 1, amount: before + 1 });
  assert.equal(ok, false);
  assert.equal(await http.query(api.bank.balance, { owner: 0 }), before);
  assert.equal(await http.query(api.bank.balance, { owner: 1 }), target);
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
