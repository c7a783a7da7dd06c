// Server restart: a ConvexClient whose server goes away reconnects by itself
// when it comes back (same port, same data directory), re-subscribes, and
// sees both the data from before the restart and new writes.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  closeTracked,
  connectionWhere,
  freePort,
  installCrashGuard,
  removeDir,
  startServer,
  tempDir,
  track,
  Values,
  withTimeout,
} from "./harness.js";

installCrashGuard();

const api = anyApi;

let dataDir;
let port;
let server;

before(async () => {
  dataDir = tempDir("convex-rs-e2e-reconnect-");
  port = await freePort();
  server = await startServer("chat", { port, dataDir });
}, { timeout: 60_000 });

after(async () => {
  await closeTracked();
  await server?.stop();
  removeDir(dataDir);
}, { timeout: 60_000 });

test("the subscription survives a server restart", { timeout: 120_000 }, async () => {
  const a = track(new ConvexClient(server.url, { logger: false }));
  const userId = await a.mutation(api.users.create, { name: "Ray", tokenIdentifier: "tok|ray" });
  const beforeId = await a.mutation(api.messages.send, { body: "before restart", user: userId });

  const lists = new Values("A messages:list");
  const unsub = a.onUpdate(api.messages.list, {}, lists.push, lists.fail);
  await lists.waitFor((l) => l.some((m) => m._id === beforeId));
  const connected = a.connectionState();
  assert.equal(connected.isWebSocketConnected, true);

  // Stop the server: A notices that its socket closed.
  const status = await server.stop();
  assert.deepEqual(status, { code: 0, signal: null }, "a clean exit on SIGTERM");
  await connectionWhere(a, (s) => !s.isWebSocketConnected, 15_000, "A sees the disconnect");

  // Same port, same data.
  server = await startServer("chat", { port, dataDir });

  // A reconnects by itself (backoff doubles from 1 s, so allow some time).
  const back = await connectionWhere(
    a,
    (s) => s.isWebSocketConnected && s.connectionCount > connected.connectionCount,
    45_000,
    "A reconnects",
  );
  assert.ok(back.connectionCount >= 2);

  // Data from before the restart is still there.
  const http = new ConvexHttpClient(server.url, { logger: false });
  const persisted = await http.query(api.messages.list, {});
  assert.ok(persisted.some((m) => m._id === beforeId && m.body === "before restart"));
  assert.equal((await http.query(api.users.byToken, { tokenIdentifier: "tok|ray" }))?._id, userId);

  // Another client writes; A's re-subscribed query sees it.
  const b = track(new ConvexClient(server.url, { logger: false }));
  const afterId = await b.mutation(api.messages.send, { body: "after restart", user: userId });
  const list = await lists.waitFor((l) => l.some((m) => m._id === afterId), { timeout: 30_000 });
  assert.deepEqual(
    list.map((m) => m.body),
    ["before restart", "after restart"],
    "old and new data, oldest first",
  );
  // _creationTime keeps increasing across the restart.
  assert.ok(list[1]._creationTime > list[0]._creationTime);

  // A can write again, and its own subscription reflects it when the
  // promise resolves (timestamps after the restart exceed the old ones).
  const ownId = await withTimeout(
    a.mutation(api.messages.send, { body: "A again", user: userId }),
    15_000,
    "A's mutation after the restart",
  );
  assert.equal(lists.latest.at(-1)?._id, ownId);
  unsub();
});

test("a mutation sent while the server is down is delivered after it returns", { timeout: 120_000 }, async () => {
  const a = track(new ConvexClient(server.url, { logger: false }));
  const userId = await a.mutation(api.users.create, { name: "Off", tokenIdentifier: "tok|off" });
  const counts = new Values("A messages:count");
  const unsub = a.onUpdate(api.messages.count, {}, counts.push, counts.fail);
  const start = await counts.waitFor();

  await server.stop();
  await connectionWhere(a, (s) => !s.isWebSocketConnected, 15_000, "A sees the disconnect");
  const pending = a.mutation(api.messages.send, { body: "queued while down", user: userId });

  server = await startServer("chat", { port, dataDir });
  const id = await withTimeout(pending, 60_000, "the queued mutation");
  assert.equal(typeof id, "string");
  assert.equal(counts.latest, start + 1, "applied exactly once");

  const http = new ConvexHttpClient(server.url, { logger: false });
  const list = await http.query(api.messages.list, {});
  assert.equal(list.filter((m) => m.body === "queued while down").length, 1);
  unsub();
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
