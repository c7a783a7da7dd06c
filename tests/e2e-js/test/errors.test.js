// Application errors (ConvexError with structured data) reach the official
// client as `ConvexError` instances with `data` decoded, over the WebSocket
// (MutationResponse / ActionResponse / QueryFailed) and over HTTP.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";
import {
  assertNoUncaughtErrors,
  track,
  Values,
  withTimeout,
  useServer,
} from "./harness.js";

const api = anyApi;

let server;
let ws;
let http;
let userId;

useServer("chat", async (started) => {
  server = started;
  ws = track(new ConvexClient(server.url, { logger: false }));
  http = new ConvexHttpClient(server.url, { logger: false });
  userId = await ws.mutation(api.users.create, { name: "Eve", tokenIdentifier: "tok|eve" });
});

/** An assert.rejects validator for a ConvexError with `data`. */
function convexErrorWith(data) {
  return (err) => {
    assert.ok(
      err instanceof ConvexError,
      `expected a ConvexError, got ${err?.constructor?.name}: ${err?.message}`,
    );
    assert.deepEqual(err.data, data);
    return true;
  };
}

test("EMPTY_BODY over the WebSocket client (mutation)", { timeout: 20_000 }, async () => {
  for (const body of ["", "   ", "\n\t "]) {
    await assert.rejects(
      withTimeout(ws.mutation(api.messages.send, { body, user: userId }), 10_000, "send"),
      convexErrorWith({ code: "EMPTY_BODY" }),
    );
  }
  // Nothing was written, and the connection is still healthy.
  assert.equal(await ws.query(api.messages.count, {}), 0);
  const id = await ws.mutation(api.messages.send, { body: "fine", user: userId });
  assert.equal(typeof id, "string");
  assert.equal(await ws.query(api.messages.count, {}), 1);
});

test("EMPTY_BODY over the HTTP client (mutation)", { timeout: 20_000 }, async () => {
  const before = await http.query(api.messages.count, {});
  await assert.rejects(
    http.mutation(api.messages.send, { body: "  ", user: userId }),
    convexErrorWith({ code: "EMPTY_BODY" }),
  );
  assert.equal(await http.query(api.messages.count, {}), before);
});

test("EMPTY_BODY from messages:edit on both transports", { timeout: 20_000 }, async () => {
  const id = await http.mutation(api.messages.send, { body: "keep me", user: userId });
  await assert.rejects(
    withTimeout(ws.mutation(api.messages.edit, { id, body: "" }), 10_000, "edit"),
    convexErrorWith({ code: "EMPTY_BODY" }),
  );
  await assert.rejects(
    http.mutation(api.messages.edit, { id, body: " " }),
    convexErrorWith({ code: "EMPTY_BODY" }),
  );
  assert.equal((await http.query(api.messages.get, { id })).body, "keep me");
});

test("a ConvexError from an action (shout on a deleted message)", { timeout: 20_000 }, async () => {
  const id = await ws.mutation(api.messages.send, { body: "soon gone", user: userId });
  await ws.mutation(api.messages.remove, { id });
  await assert.rejects(
    withTimeout(ws.action(api.messages.shout, { id }), 10_000, "shout"),
    convexErrorWith({ code: "NOT_FOUND" }),
  );
  await assert.rejects(http.action(api.messages.shout, { id }), convexErrorWith({ code: "NOT_FOUND" }));
});

test("a failed mutation does not disturb the client's subscriptions", { timeout: 20_000 }, async () => {
  const counts = new Values("messages:count");
  const unsub = ws.onUpdate(api.messages.count, {}, counts.push, counts.fail);
  try {
    const start = await counts.waitFor();
    await assert.rejects(
      withTimeout(ws.mutation(api.messages.send, { body: "", user: userId }), 10_000, "send"),
      ConvexError,
    );
    await ws.mutation(api.messages.send, { body: "after the error", user: userId });
    assert.equal(counts.latest, start + 1);
    assert.equal(counts.error, null);
  } finally {
    unsub();
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
