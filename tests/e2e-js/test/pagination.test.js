// Pagination (protocol §6): `messages:page` newest first, paged with cursors
// over HTTP, and reactively with ConvexClient.onPaginatedUpdate_experimental.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  track,
  Values,
  useServer,
} from "./harness.js";

const api = anyApi;
const TOTAL = 25;

let server;
let http;
let userId;
/** Ids of the inserted messages, oldest first. */
const inserted = [];

useServer("chat", async (started) => {
  server = started;
  http = new ConvexHttpClient(server.url, { logger: false });
  userId = await http.mutation(api.users.create, { name: "Pat", tokenIdentifier: "tok|pat" });
  for (let i = 0; i < TOTAL; i++) {
    inserted.push(await http.mutation(api.messages.send, { body: `m${i}`, user: userId }));
  }
});

test("paging with ConvexHttpClient returns every message once, newest first", { timeout: 30_000 }, async () => {
  const seen = [];
  const pages = [];
  let cursor = null;
  for (let i = 0; i < 20; i++) {
    const result = await http.query(api.messages.page, { paginationOpts: { numItems: 7, cursor } });
    assert.ok(Array.isArray(result.page), "page is an array");
    assert.equal(typeof result.isDone, "boolean", "isDone is a boolean");
    assert.equal(typeof result.continueCursor, "string", "continueCursor is a string");
    assert.ok(result.page.length <= 7, `page ${i} has at most 7 items`);
    pages.push(result.page.length);
    seen.push(...result.page);
    if (result.isDone) break;
    assert.equal(result.page.length, 7, `page ${i} is not done, so it is full`);
    cursor = result.continueCursor;
  }
  assert.ok(seen.length > 0);
  const ids = seen.map((m) => m._id);
  assert.equal(new Set(ids).size, ids.length, `no message twice (page sizes ${pages})`);
  assert.deepEqual(ids, [...inserted].reverse(), `every message, newest first (page sizes ${pages})`);
  assert.deepEqual(
    seen.map((m) => m.body),
    inserted.map((_, i) => `m${i}`).reverse(),
  );
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i - 1]._creationTime >= seen[i]._creationTime, "descending _creationTime");
  }
  assert.deepEqual(pages, [7, 7, 7, 4]);
});

test("a page larger than the table is done at once", { timeout: 15_000 }, async () => {
  const result = await http.query(api.messages.page, {
    paginationOpts: { numItems: 1000, cursor: null },
  });
  assert.equal(result.isDone, true);
  assert.equal(result.page.length, TOTAL);
  // The cursor of a finished page yields an empty, done page.
  const tail = await http.query(api.messages.page, {
    paginationOpts: { numItems: 5, cursor: result.continueCursor },
  });
  assert.deepEqual(tail.page, []);
  assert.equal(tail.isDone, true);
});

test("onPaginatedUpdate_experimental: first page, then a new message on top", { timeout: 30_000 }, async () => {
  const client = track(new ConvexClient(server.url, { logger: false }));
  const updates = new Values("paginated messages:page");
  const unsub = client.onPaginatedUpdate_experimental(
    api.messages.page,
    {},
    { initialNumItems: 5 },
    updates.push,
    updates.fail,
  );
  const newestFirst = [...inserted].reverse();
  try {
    const first = await updates.waitFor((r) => r.results.length > 0);
    assert.deepEqual(
      first.results.map((m) => m._id),
      newestFirst.slice(0, 5),
      "first page: the 5 newest messages",
    );
    assert.equal(first.status, "CanLoadMore");

    const id = await http.mutation(api.messages.send, { body: "brand new", user: userId });
    const next = await updates.waitFor((r) => r.results[0]?._id === id);
    assert.equal(next.results[0].body, "brand new");
    const ids = next.results.map((m) => m._id);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    assert.deepEqual(ids.slice(1), newestFirst.slice(0, ids.length - 1), "older ones follow in order");
  } finally {
    unsub();
  }
});

test("onPaginatedUpdate_experimental: loadMore, then an insert leaves no gap", { timeout: 30_000 }, async () => {
  // With journals (§6) the first page keeps its end cursor when it
  // re-executes, so it grows to hold the new message and page two still
  // starts right after it.
  const client = track(new ConvexClient(server.url, { logger: false }));
  const updates = new Values("paginated messages:page (loadMore)");
  const unsub = client.onPaginatedUpdate_experimental(
    api.messages.page,
    {},
    { initialNumItems: 4 },
    updates.push,
    updates.fail,
  );
  try {
    const first = await updates.waitFor((r) => r.results.length >= 4 && r.status === "CanLoadMore");
    const snapshot = first.results.map((m) => m._id);
    assert.equal(first.loadMore(4), true, "loadMore started");
    const more = await updates.waitFor((r) => r.results.length >= 8 && r.status !== "LoadingMore");
    const before = more.results.map((m) => m._id);
    assert.deepEqual(before.slice(0, 4), snapshot);
    assert.equal(new Set(before).size, before.length, "no duplicates after loadMore");
    const all = await http.query(api.messages.list, {});
    assert.deepEqual(before, all.map((m) => m._id).reverse().slice(0, 8), "two pages, newest first");

    const id = await http.mutation(api.messages.send, { body: "newest", user: userId });
    const grown = await updates.waitFor((r) => r.results[0]?._id === id);
    assert.deepEqual(
      grown.results.map((m) => m._id),
      [id, ...before],
      "the new message on top and nothing lost between the pages",
    );
  } finally {
    unsub();
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
