// ConvexHttpClient (POST /api/query, /api/mutation, /api/action) and the
// refusal of internal functions over both transports.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi, makeFunctionReference } from "convex/server";
import {
  assertNoUncaughtErrors,
  track,
  withTimeout,
  useServer,
} from "./harness.js";

const api = anyApi;
const NOT_PUBLIC = /Could not find public function/;

let server;
let http;
let userId;

useServer("chat", async (started) => {
  server = started;
  http = new ConvexHttpClient(server.url, { logger: false });
  userId = await http.mutation(api.users.create, { name: "Hal", tokenIdentifier: "tok|hal" });
});

test("query and mutation over HTTP", { timeout: 20_000 }, async () => {
  assert.equal(typeof userId, "string");
  const user = await http.query(api.users.byToken, { tokenIdentifier: "tok|hal" });
  assert.equal(user?._id, userId);

  const before = await http.query(api.messages.count, {});
  assert.equal(typeof before, "number");
  const id = await http.mutation(api.messages.send, { body: "over http", user: userId });
  assert.equal(typeof id, "string");
  assert.equal(await http.query(api.messages.count, {}), before + 1);

  const msg = await http.query(makeFunctionReference("messages:get"), { id });
  assert.equal(msg._id, id);
  assert.equal(msg.body, "over http");
  assert.equal(msg.user, userId);
  assert.equal(typeof msg._creationTime, "number");

  const list = await http.query(api.messages.list, {});
  assert.equal(list.at(-1)._id, id);

  assert.equal(await http.mutation(api.messages.edit, { id, body: "edited" }), null);
  assert.equal((await http.query(api.messages.get, { id })).body, "edited");
  assert.equal(await http.mutation(api.messages.remove, { id }), null);
  assert.equal(await http.query(api.messages.get, { id }), null);
});

test("action messages:shout chains run_query and run_mutation", { timeout: 20_000 }, async () => {
  const id = await http.mutation(api.messages.send, { body: "quiet words", user: userId });
  const loud = await http.action(api.messages.shout, { id });
  assert.equal(loud, "QUIET WORDS");
  const msg = await http.query(api.messages.get, { id });
  assert.equal(msg.body, "QUIET WORDS");
});

test("the same action over the WebSocket client", { timeout: 20_000 }, async () => {
  const ws = track(new ConvexClient(server.url, { logger: false }));
  const id = await ws.mutation(api.messages.send, { body: "whisper", user: userId });
  assert.equal(await ws.action(api.messages.shout, { id }), "WHISPER");
  assert.equal((await http.query(api.messages.get, { id })).body, "WHISPER");
});

test("internal messages:wipe is not callable over HTTP", { timeout: 20_000 }, async () => {
  const before = await http.query(api.messages.count, {});
  assert.ok(before > 0, "there are messages that wipe would delete");
  await assert.rejects(http.mutation(api.messages.wipe, {}), (err) => {
    assert.match(err.message, NOT_PUBLIC);
    return true;
  });
  assert.equal(await http.query(api.messages.count, {}), before, "nothing was wiped");
});

test("internal messages:wipe is not callable over the WebSocket", { timeout: 20_000 }, async () => {
  const ws = track(new ConvexClient(server.url, { logger: false }));
  const before = await ws.query(api.messages.count, {});
  assert.ok(before > 0);
  await assert.rejects(withTimeout(ws.mutation(api.messages.wipe, {}), 10_000, "wipe"), (err) => {
    assert.match(err.message, NOT_PUBLIC);
    return true;
  });
  assert.equal(await ws.query(api.messages.count, {}), before, "nothing was wiped");
  // The socket is still usable after the function error.
  const id = await ws.mutation(api.messages.send, { body: "still here", user: userId });
  assert.equal(typeof id, "string");
});

test("an unknown function is a function error, not a transport error", { timeout: 20_000 }, async () => {
  await assert.rejects(http.query(api.messages.nope, {}), NOT_PUBLIC);
  const ws = track(new ConvexClient(server.url, { logger: false }));
  await assert.rejects(withTimeout(ws.query(api.nothing.here, {}), 10_000, "query"), NOT_PUBLIC);
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
