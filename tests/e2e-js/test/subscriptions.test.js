// Reactive subscriptions across clients: a write by client B reaches client
// A's `onUpdate` callbacks by server push (A never asks again).

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi, makeFunctionReference } from "convex/server";
import {
  assertNoUncaughtErrors,
  track,
  Values,
  useServer,
} from "./harness.js";

const api = anyApi;
const countRef = makeFunctionReference("messages:count");

let server;
let a;
let b;
let userId;

useServer("chat", async (started) => {
  server = started;
  a = track(new ConvexClient(server.url, { logger: false }));
  b = track(new ConvexClient(server.url, { logger: false }));
  userId = await b.mutation(api.users.create, { name: "Bea", tokenIdentifier: "tok|bea" });
});

test("users:create returns an id string that users:byToken finds", { timeout: 20_000 }, async () => {
  assert.equal(typeof userId, "string");
  const user = await a.query(api.users.byToken, { tokenIdentifier: "tok|bea" });
  assert.ok(user, "users:byToken returned null");
  assert.equal(user._id, userId);
  assert.equal(user.name, "Bea");
  assert.equal(user.tokenIdentifier, "tok|bea");
  assert.equal(typeof user._creationTime, "number");
  assert.equal(await a.query(api.users.byToken, { tokenIdentifier: "nobody" }), null);
});

test("client A's list and count subscriptions receive client B's writes", { timeout: 30_000 }, async () => {
  const lists = new Values("A messages:list");
  const counts = new Values("A messages:count");
  const unsubList = a.onUpdate(api.messages.list, {}, lists.push, lists.fail);
  const unsubCount = a.onUpdate(countRef, {}, counts.push, counts.fail);
  try {
    const initialList = await lists.waitFor();
    const initialCount = await counts.waitFor();
    assert.ok(Array.isArray(initialList));
    assert.equal(typeof initialCount, "number");
    assert.equal(initialCount, initialList.length);

    // B writes; A is told without asking.
    const id = await b.mutation(api.messages.send, { body: "hello from B", user: userId });
    assert.equal(typeof id, "string");
    const list = await lists.waitFor((l) => l.some((m) => m._id === id));
    const count = await counts.waitFor((c) => c === initialCount + 1);
    assert.equal(count, initialCount + 1);
    assert.equal(list.length, initialList.length + 1);
    const msg = list.at(-1);
    assert.equal(msg._id, id, "messages:list is oldest first: the new message is last");
    assert.equal(msg.body, "hello from B");
    assert.equal(msg.user, userId);
    assert.equal(typeof msg._creationTime, "number");
    assert.deepEqual(Object.keys(msg).sort(), ["_creationTime", "_id", "body", "user"]);

    // A second write, then an edit and a delete by B: A follows each one.
    const id2 = await b.mutation(api.messages.send, { body: "second", user: userId });
    await lists.waitFor((l) => l.at(-1)?._id === id2 && l.at(-2)?._id === id);
    await counts.waitFor((c) => c === initialCount + 2);

    await b.mutation(api.messages.edit, { id, body: "edited by B" });
    await lists.waitFor((l) => l.find((m) => m._id === id)?.body === "edited by B");

    await b.mutation(api.messages.remove, { id: id2 });
    const afterRemove = await lists.waitFor((l) => !l.some((m) => m._id === id2));
    assert.ok(afterRemove.some((m) => m._id === id));
    await counts.waitFor((c) => c === initialCount + 1);

    // The one-shot query agrees with the subscription.
    assert.equal(await a.query(api.messages.count, {}), initialCount + 1);
  } finally {
    unsubList();
    unsubCount();
  }
});

test("a query subscribed with arguments (messages:get) follows edits", { timeout: 30_000 }, async () => {
  const id = await b.mutation(api.messages.send, { body: "watch me", user: userId });
  const gets = new Values("A messages:get");
  const unsub = a.onUpdate(api.messages.get, { id }, gets.push, gets.fail);
  try {
    const first = await gets.waitFor((m) => m !== undefined);
    assert.equal(first?.body, "watch me");
    await b.mutation(api.messages.edit, { id, body: "watched" });
    await gets.waitFor((m) => m?.body === "watched");
    await b.mutation(api.messages.remove, { id });
    await gets.waitFor((m) => m === null);
    assert.equal(unsub.getCurrentValue(), null);
  } finally {
    unsub();
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
