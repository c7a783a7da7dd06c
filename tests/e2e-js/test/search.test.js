// Full-text search through `messages:search` (a live query over the
// `search_body` index): the subscription follows matching writes, is left
// alone by writes that cannot change its result, and ranks by relevance.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  sleep,
  track,
  Values,
  useServer,
  queryIdOf,
  recordingWebSocket,
  updatesOf,
} from "./harness.js";

const api = anyApi;


const ids = (messages) => messages.map((m) => m._id);

let watcher; // subscribes; its frames are recorded
let writer; // sends, edits and removes
let frames;
let userId;

useServer("chat", async (server) => {
  frames = { sent: [], received: [] };
  watcher = track(
    new ConvexClient(server.url, {
      logger: false,
      webSocketConstructor: recordingWebSocket(frames),
    }),
  );
  writer = track(new ConvexClient(server.url, { logger: false }));
  userId = await writer.mutation(api.users.create, { name: "Sue", tokenIdentifier: "tok|sue" });
});

function send(body) {
  return writer.mutation(api.messages.send, { body, user: userId });
}

test("a search subscription follows matching sends, edits and removes", { timeout: 30_000 }, async () => {
  const results = new Values("messages:search hello");
  const unsub = watcher.onUpdate(api.messages.search, { query: "hello" }, results.push, results.fail);
  try {
    assert.deepEqual(await results.waitFor(), []);

    // Sent by another client: pushed to the watcher.
    const sent = await send("hello from the writer");
    const found = await results.waitFor((r) => r.length > 0);
    assert.deepEqual(ids(found), [sent]);
    assert.equal(found[0].body, "hello from the writer");
    assert.equal(found[0].user, userId);

    // Edited so it no longer matches: it leaves the results.
    await writer.mutation(api.messages.edit, { id: sent, body: "goodbye from the writer" });
    await results.waitFor((r) => r.length === 0);

    // Removed: it leaves the results.
    const removed = await send("hello, soon removed");
    await results.waitFor((r) => ids(r).includes(removed));
    await writer.mutation(api.messages.remove, { id: removed });
    await results.waitFor((r) => r.length === 0);

    // Edited so it matches (its old text touched no word of the search).
    const edited = await send("plain words");
    await writer.mutation(api.messages.edit, { id: edited, body: "hello there" });
    const last = await results.waitFor((r) => r.length > 0);
    assert.deepEqual(ids(last), [edited]);
    assert.equal(last[0].body, "hello there");
  } finally {
    unsub();
  }
});

test("a write that cannot match sends the search subscription nothing", { timeout: 30_000 }, async () => {
  const searchArgs = { query: "walrus" };
  const results = new Values("messages:search walrus");
  const lists = new Values("messages:list");
  const unsubSearch = watcher.onUpdate(api.messages.search, searchArgs, results.push, results.fail);
  // The list changes with every write: proof that a Transition for the write
  // reached the watcher, and that the recorder sees its modifications.
  const unsubList = watcher.onUpdate(api.messages.list, {}, lists.push, lists.fail);
  try {
    assert.deepEqual(await results.waitFor(), []);
    await lists.waitFor();
    const searchId = queryIdOf(frames, "messages:search", searchArgs);
    const listId = queryIdOf(frames, "messages:list", {});
    const baseline = frames.received.length;

    // No word of it is "walrus" or starts with it (the prefix match).
    const other = await send("a seal and a walnut");
    // A Transition moves the whole query set to a new timestamp, so once the
    // list shows the write, any update of the search for it has arrived too.
    await lists.waitFor((l) => ids(l).includes(other));
    // Also wait past the server's once-a-second move of new index entries
    // into its on-disk index, in case that re-ran the search.
    await sleep(1_200);
    assert.ok(updatesOf(frames, listId, baseline).length >= 1, "the list was updated");
    assert.deepEqual(
      updatesOf(frames, searchId, baseline),
      [],
      "no QueryUpdated for the search after a write that cannot match it",
    );

    // A matching write does update it.
    const walrus = await send("a walrus appears");
    const found = await results.waitFor((r) => r.length > 0);
    assert.deepEqual(ids(found), [walrus]);
    assert.equal(updatesOf(frames, searchId, baseline).length, 1);
  } finally {
    unsubSearch();
    unsubList();
  }
});

test("results are in relevance order, at most 20, the last word a prefix", { timeout: 60_000 }, async () => {
  const search = (query) => writer.query(api.messages.search, { query });

  // Same length, "kiwi" once, three times, twice; sent in an order that is
  // neither the expected one nor its reverse, so neither creation order
  // passes for relevance.
  const once = await send("kiwi and plum pie");
  const thrice = await send("kiwi kiwi kiwi pie");
  const twice = await send("kiwi kiwi and pie");
  assert.deepEqual(ids(await search("kiwi")), [thrice, twice, once]);
  assert.deepEqual(ids(await search("KIWI!")), [thrice, twice, once], "case and punctuation do not count");

  // 25 equally relevant messages: 20 come back, newest first (the documented
  // tie-break), all distinct.
  const mangos = [];
  for (let i = 1; i <= 25; i++) mangos.push(await send(`mango number ${i}`));
  const top = await search("mango");
  assert.equal(top.length, 20);
  assert.deepEqual(ids(top), mangos.slice(5).reverse());

  // The last word matches as a prefix, the others only whole.
  const hello = await send("hello, prefix");
  assert.ok(ids(await search("hel")).includes(hello), '"hel" finds "hello"');
  assert.ok(ids(await search("prefix hel")).includes(hello));
  assert.ok(!ids(await search("hel xyzzy")).includes(hello), "only the last word is a prefix");
  assert.ok(!ids(await search("hellos")).includes(hello), "a longer word is no match");

  // Any word matches: messages with only one of them come back.
  const either = ids(await search("plum mango"));
  assert.ok(either.includes(once), "a message with plum but no mango");
  assert.ok(either.some((id) => mangos.includes(id)), "messages with mango but no plum");

  // Nothing to search for: no results.
  assert.deepEqual(await search(""), []);
  assert.deepEqual(await search("   "), []);
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
