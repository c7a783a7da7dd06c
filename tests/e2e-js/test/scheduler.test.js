// Scheduled functions through the official client: `messages:sendLater`
// delivers after its delay (seen in a `messages:list` subscription) while
// `messages:scheduled` goes from pending to empty; a canceled send never
// appears; `messages:sendExpiring` deletes itself; a pending send survives a
// restart and is delivered once; and `bank:transferLater` transfers run
// exactly once across a SIGKILL of the server.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  closeTracked,
  freePort,
  installCrashGuard,
  removeDir,
  seededRandom,
  sleep,
  startServer,
  tempDir,
  track,
  Values,
} from "./harness.js";

const api = anyApi;
installCrashGuard();

const dirs = [];
const servers = [];
after(async () => {
  await closeTracked();
  for (const server of servers) await server.stop();
  for (const dir of dirs) removeDir(dir);
}, { timeout: 60_000 });

/** Starts `app` on a fixed port and data directory, so it can be restarted. */
async function restartable(app) {
  const port = await freePort();
  const dataDir = tempDir(`convex-rs-e2e-${app}-sched-`);
  dirs.push(dataDir);
  const start = async () => {
    const server = await startServer(app, { port, dataDir });
    servers.push(server);
    return server;
  };
  return { start, url: `http://127.0.0.1:${port}` };
}

const bodies = (messages) => messages.map((m) => m.body);

test("sendLater delivers after its delay; scheduled goes from pending to empty; cancel; expiring; restart", { timeout: 90_000 }, async () => {
  const chat = await restartable("chat");
  let server = await chat.start();
  const client = track(new ConvexClient(chat.url, { logger: false }));
  const user = await client.mutation(api.users.create, { name: "Ada", tokenIdentifier: "tok|ada" });

  const list = new Values("messages:list");
  client.onUpdate(api.messages.list, {}, list.push, list.fail);
  const scheduled = new Values("messages:scheduled");
  client.onUpdate(api.messages.scheduled, {}, scheduled.push, scheduled.fail);
  await list.waitFor((m) => m.length === 0);
  await scheduled.waitFor((s) => s.length === 0);

  // Delivered after about 300 ms.
  const sentAt = Date.now();
  const id = await client.mutation(api.messages.sendLater, { body: "later", user, delayMs: 300 });
  assert.equal(typeof id, "string");
  const pending = await scheduled.waitFor((s) => s.length === 1);
  assert.equal(pending[0]._id, id);
  assert.deepEqual(pending[0].state, { kind: "pending" });
  assert.ok(pending[0].scheduledTime >= sentAt + 300 - 50, `scheduledTime ${pending[0].scheduledTime} vs sent ${sentAt}`);
  assert.ok(!bodies(list.latest).includes("later"), "delivered at once");
  const delivered = await list.waitFor((m) => bodies(m).includes("later"), { timeout: 5_000 });
  const elapsed = Date.now() - sentAt;
  // The delivering mutation started this long after the call's time (its
  // message's _creationTime is the transaction's start): never early, and
  // within a few milliseconds on an idle server (50 ms allowed for CI noise).
  const lag = delivered.find((m) => m.body === "later")._creationTime - pending[0].scheduledTime;
  console.log(`sendLater: the scheduled mutation started ${lag.toFixed(1)} ms after its time`);
  assert.ok(lag >= 0, `ran ${-lag} ms early`);
  assert.ok(lag < 50, `started ${lag} ms late`);
  assert.ok(elapsed >= 280, `delivered after ${elapsed} ms, before its 300 ms delay`);
  assert.ok(elapsed < 2_000, `delivered after ${elapsed} ms`);
  await scheduled.waitFor((s) => s.length === 0);

  // A canceled send never appears.
  const canceled = await client.mutation(api.messages.sendLater, { body: "never", user, delayMs: 400 });
  await scheduled.waitFor((s) => s.length === 1);
  assert.equal(await client.mutation(api.messages.cancelScheduled, { id: canceled }), null);
  await scheduled.waitFor((s) => s.length === 0);
  await sleep(700);
  assert.ok(!bodies(list.latest).includes("never"), "a canceled send was delivered");

  // An expiring message appears, then deletes itself.
  const expiring = await client.mutation(api.messages.sendExpiring, { body: "fleeting", user, ttlMs: 300 });
  await list.waitFor((m) => m.some((x) => x._id === expiring));
  await list.waitFor((m) => !m.some((x) => x._id === expiring), { timeout: 5_000 });

  // A pending send survives a restart and is delivered once.
  await client.mutation(api.messages.sendLater, { body: "survivor", user, delayMs: 1_500 });
  await scheduled.waitFor((s) => s.length === 1);
  await server.stop();
  server = await chat.start();
  await list.waitFor((m) => bodies(m).includes("survivor"), { timeout: 15_000 });
  await scheduled.waitFor((s) => s.length === 0);
  await sleep(500);
  assert.deepEqual(bodies(list.latest), ["later", "survivor"]);
  assertNoUncaughtErrors();
});

test("bank:transferLater transfers run exactly once across a SIGKILL of the server", { timeout: 120_000 }, async () => {
  const bank = await restartable("bank");
  let server = await bank.start();
  const http = new ConvexHttpClient(bank.url);
  const accounts = 8;
  const initial = 1_000_000;
  await http.mutation(api.bank.seed, { accounts, balance: initial });

  // 200 transfers due between 0.3 s and 2.3 s from now, scheduled up front.
  const random = seededRandom(12);
  const expected = new Array(accounts).fill(initial);
  const transfers = [];
  for (let i = 0; i < 200; i++) {
    const from = Math.floor(random() * accounts);
    const to = (from + 1 + Math.floor(random() * (accounts - 1))) % accounts;
    const amount = 1 + Math.floor(random() * 1000);
    const delayMs = 300 + Math.floor(random() * 2000);
    transfers.push({ from, to, amount, delayMs });
    expected[from] -= amount;
    expected[to] += amount;
  }
  const balances = async () =>
    Promise.all([...Array(accounts).keys()].map((owner) => http.query(api.bank.balance, { owner })));
  const ids = [];
  for (let i = 0; i < transfers.length; i += 20) {
    ids.push(
      ...(await Promise.all(transfers.slice(i, i + 20).map((t) => http.mutation(api.bank.transferLater, t)))),
    );
  }
  assert.equal(new Set(ids).size, transfers.length);

  // Kill the server while transfers are due, then start it again.
  await sleep(900);
  const before = await balances();
  process.kill(server.pid, "SIGKILL");
  // Some transfers were still due at the kill (the last is 2.3 s away).
  assert.notDeepEqual(before, expected, "every transfer ran before the kill");
  const status = await server.stop();
  assert.equal(status.signal, "SIGKILL");
  server = await bank.start();

  const deadline = Date.now() + 30_000;
  let seen = await balances();
  while (JSON.stringify(seen) !== JSON.stringify(expected)) {
    assert.ok(Date.now() < deadline, `balances ${JSON.stringify(seen)} never became ${JSON.stringify(expected)}`);
    await sleep(100);
    seen = await balances();
  }
  // Nothing runs twice afterwards either.
  await sleep(1_000);
  assert.deepEqual(await balances(), expected);
  assert.equal(await http.query(api.bank.total, {}), accounts * initial);
  assertNoUncaughtErrors();
});
