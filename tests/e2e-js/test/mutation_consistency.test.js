// Protocol §2.4: `await client.mutation(...)` resolves only once a Transition
// at or after the mutation's commit timestamp has been applied, so every
// subscription of the *same* client already reflects the write at the moment
// the promise resolves. Checked synchronously right after each `await`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  track,
  Values,
  useServer,
} from "./harness.js";

const api = anyApi;

let server;
let client;
let other;
let userId;

useServer("chat", async (started) => {
  server = started;
  client = track(new ConvexClient(server.url, { logger: false }));
  other = track(new ConvexClient(server.url, { logger: false }));
  userId = await client.mutation(api.users.create, { name: "Max", tokenIdentifier: "tok|max" });
});

test("the client's own subscriptions reflect each mutation when its promise resolves", { timeout: 30_000 }, async () => {
  const lists = new Values("messages:list");
  const counts = new Values("messages:count");
  const unsubList = client.onUpdate(api.messages.list, {}, lists.push, lists.fail);
  const unsubCount = client.onUpdate(api.messages.count, {}, counts.push, counts.fail);
  try {
    await lists.waitFor();
    const start = await counts.waitFor();

    for (let i = 1; i <= 5; i++) {
      const id = await client.mutation(api.messages.send, { body: `message ${i}`, user: userId });
      // No awaiting between the mutation and these checks.
      assert.equal(counts.latest, start + i, `count after send #${i}`);
      assert.equal(unsubCount.getCurrentValue(), start + i);
      assert.equal(lists.latest.length, start + i, `list length after send #${i}`);
      assert.equal(lists.latest.at(-1)._id, id, `list ends with message #${i}`);
      assert.equal(lists.latest.at(-1).body, `message ${i}`);
    }

    const target = lists.latest[0]._id;
    await client.mutation(api.messages.edit, { id: target, body: "edited" });
    assert.equal(lists.latest.find((m) => m._id === target)?.body, "edited");

    await client.mutation(api.messages.remove, { id: target });
    assert.equal(counts.latest, start + 4);
    assert.ok(!lists.latest.some((m) => m._id === target));
  } finally {
    unsubList();
    unsubCount();
  }
});

test("consistency holds while another client writes concurrently", { timeout: 30_000 }, async () => {
  const lists = new Values("messages:list");
  const counts = new Values("messages:count");
  const unsubList = client.onUpdate(api.messages.list, {}, lists.push, lists.fail);
  const unsubCount = client.onUpdate(api.messages.count, {}, counts.push, counts.fail);
  try {
    await lists.waitFor();
    await counts.waitFor();
    const noise = (async () => {
      for (let i = 0; i < 10; i++) {
        await other.mutation(api.messages.send, { body: `noise ${i}`, user: userId });
      }
    })();
    for (let i = 0; i < 10; i++) {
      const id = await client.mutation(api.messages.send, { body: `mine ${i}`, user: userId });
      const list = lists.latest;
      assert.ok(list.some((m) => m._id === id), `own message ${i} visible at resolve time`);
      // Both results come from the same snapshot (one Transition).
      assert.equal(counts.latest, list.length, "count and list agree");
    }
    await noise;
  } finally {
    unsubList();
    unsubCount();
  }
});

test("a client with no subscriptions still gets its mutation resolved", { timeout: 15_000 }, async () => {
  // Its MutationResponse must be followed by a (possibly empty) Transition.
  const lone = track(new ConvexClient(server.url, { logger: false }));
  try {
    const id = await lone.mutation(api.messages.send, { body: "lonely", user: userId });
    assert.equal(typeof id, "string");
    assert.equal((await lone.query(api.messages.get, { id }))?.body, "lonely");
  } finally {
    await lone.close();
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
