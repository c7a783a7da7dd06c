// ConvexReactClient (no rendering) with an optimistic update (protocol §8):
// the local query result changes before the server confirms, then settles on
// the server's value without flickering back.

import { test } from "node:test";
import assert from "node:assert/strict";
import ws from "ws";
import { ConvexReactClient } from "convex/react";
import { ConvexHttpClient } from "convex/browser";
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
const OPTIMISTIC_BUMP = 100;

let server;
let client;
let http;
let userId;

useServer("chat", async (started) => {
  server = started;
  client = track(new ConvexReactClient(server.url, { webSocketConstructor: ws, logger: false }));
  http = new ConvexHttpClient(server.url, { logger: false });
  userId = await client.mutation(api.users.create, { name: "Rea", tokenIdentifier: "tok|rea" });
});

/** Watch `ref(args)` and record every local result. */
function watch(ref, args, label) {
  const w = client.watchQuery(ref, args);
  const values = new Values(label);
  const unsubscribe = w.onUpdate(() => {
    try {
      values.push(w.localQueryResult());
    } catch (err) {
      values.fail(err);
    }
  });
  return { w, values, unsubscribe };
}

/** Consecutive duplicates removed. */
const dedupe = (xs) => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);

/** Adds OPTIMISTIC_BUMP to the cached messages:count, if any. */
function bumpCount(store) {
  const current = store.getQuery(api.messages.count, {});
  if (current !== undefined) store.setQuery(api.messages.count, {}, current + OPTIMISTIC_BUMP);
}

test("watchQuery sees the optimistic value first, then the server value", { timeout: 30_000 }, async () => {
  const { w, values, unsubscribe } = watch(api.messages.count, {}, "watch messages:count");
  try {
    const initial = await values.waitFor((v) => v !== undefined);
    assert.equal(initial, 0);
    // A few rounds: the ordering problem this guards against can be racy.
    for (let round = 0; round < 10; round++) {
      const start = w.localQueryResult();
      assert.equal(start, initial + round);
      const seenFrom = values.count;

      const pending = client.mutation(
        api.messages.send,
        { body: `optimistic ${round}`, user: userId },
        { optimisticUpdate: bumpCount },
      );
      // Applied locally and synchronously, before any server answer.
      assert.equal(w.localQueryResult(), start + OPTIMISTIC_BUMP);

      const id = await withTimeout(pending, 10_000, "mutation");
      assert.equal(typeof id, "string");
      // At resolve time the server's value has replaced the optimistic one.
      assert.equal(w.localQueryResult(), start + 1);
      await values.waitFor((v) => v === start + 1);
      // The optimistic update must never be layered on top of a server result
      // that already contains the mutation's write (that shows start + 101):
      // the server's first Transition at or after the commit ts must come
      // after the MutationResponse (protocol §2.4, §8).
      assert.deepEqual(
        dedupe([start, ...values.values.slice(seenFrom)]),
        [start, start + OPTIMISTIC_BUMP, start + 1],
        `round ${round}: start -> optimistic -> server value, nothing in between`,
      );
    }
  } finally {
    unsubscribe();
  }
});

test("an optimistic list update is replaced by the real document", { timeout: 30_000 }, async () => {
  const { w, values, unsubscribe } = watch(api.messages.list, {}, "watch messages:list");
  try {
    const start = await values.waitFor((v) => v !== undefined);
    const pending = client.mutation(
      api.messages.send,
      { body: "typed locally", user: userId },
      {
        optimisticUpdate: (store, args) => {
          const list = store.getQuery(api.messages.list, {});
          if (list === undefined) return;
          store.setQuery(api.messages.list, {}, [
            ...list,
            { _id: "optimistic-temp-id", _creationTime: Date.now(), body: args.body, user: args.user },
          ]);
        },
      },
    );
    const local = w.localQueryResult();
    assert.equal(local.length, start.length + 1);
    assert.equal(local.at(-1)._id, "optimistic-temp-id");

    const id = await withTimeout(pending, 10_000, "mutation");
    const settled = w.localQueryResult();
    assert.equal(settled.length, start.length + 1);
    assert.equal(settled.at(-1)._id, id);
    assert.equal(settled.at(-1).body, "typed locally");
    assert.ok(!settled.some((m) => m._id === "optimistic-temp-id"));
    // Never both the real document and the optimistic one (see the test above).
    for (const list of values.values) {
      assert.ok(
        list.length <= start.length + 1,
        `a local list held the optimistic and the real message at once: ${JSON.stringify(list.slice(-2))}`,
      );
    }
  } finally {
    unsubscribe();
  }
});

test("a failed mutation rolls its optimistic update back", { timeout: 30_000 }, async () => {
  const { w, values, unsubscribe } = watch(api.messages.count, {}, "watch messages:count");
  try {
    const start = await values.waitFor((v) => v !== undefined);
    const pending = client.mutation(
      api.messages.send,
      { body: "   ", user: userId },
      { optimisticUpdate: bumpCount },
    );
    assert.equal(w.localQueryResult(), start + OPTIMISTIC_BUMP);
    await assert.rejects(withTimeout(pending, 10_000, "mutation"), (err) => {
      assert.ok(err instanceof ConvexError);
      assert.deepEqual(err.data, { code: "EMPTY_BODY" });
      return true;
    });
    assert.equal(w.localQueryResult(), start);
    await values.waitFor((v) => v === start);
  } finally {
    unsubscribe();
  }
});

test("watchQuery follows writes by other clients", { timeout: 30_000 }, async () => {
  const { values, unsubscribe } = watch(api.messages.count, {}, "watch messages:count");
  try {
    const start = await values.waitFor((v) => v !== undefined);
    await http.mutation(api.messages.send, { body: "from http", user: userId });
    await values.waitFor((v) => v === start + 1);
  } finally {
    unsubscribe();
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
