// File storage and HTTP actions of the chat example, with the official client
// for function calls and Node's `fetch` for HTTP:
// - `messages:generateUploadUrl` + `POST /api/storage/upload?token=...` +
//   `messages:sendImage`: the image's `imageUrl` appears in a live
//   `messages:list` subscription and `GET /api/storage/{id}` serves the same
//   bytes with the expected headers (ETag = base64 sha256);
// - single byte ranges (206 / 416), HEAD, `If-None-Match` (304);
// - upload tokens are single use and signed; unknown ids are 404;
// - `--max-upload-bytes`: declared and chunked oversize uploads are 413 and
//   leave no file behind (the refusals are repeated: every one must reach
//   the client as a 413, not as a dropped connection);
// - files survive a restart on the same data directory (and so do upload
//   tokens: a used one stays used, an unused one still works);
// - the HTTP actions on the site origin: `GET /messages` (last 100),
//   `POST /messages`, its 400s, the CORS preflight, `POST /upload`, 404s,
//   413s (each repeated a few times, as above).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  freePort,
  removeDir,
  startServer,
  tempDir,
  track,
  useServer,
  Values,
} from "./harness.js";

const api = anyApi;

const CACHE_CONTROL = "public, max-age=31536000, immutable";

// The shared server (tests 1-3 and the site-origin tests).
let server;
let client; // ConvexClient (WebSocket)
let http; // ConvexHttpClient
let userId;

useServer("chat", async (started) => {
  server = started;
  client = track(new ConvexClient(server.url, { logger: false }));
  http = new ConvexHttpClient(server.url, { logger: false });
  userId = await http.mutation(api.users.create, { name: "Pia", tokenIdentifier: "tok|pia" });
});

// Servers and directories of the tests that start their own.
const extraServers = [];
const dirs = [];
after(async () => {
  for (const s of extraServers) await s.stop();
  for (const dir of dirs) removeDir(dir);
}, { timeout: 60_000 });

/** Starts a server the shared `after` hook stops if the test does not. */
async function startExtra(app, options) {
  const s = await startServer(app, options);
  extraServers.push(s);
  return s;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("base64");

/** POST `bytes` to an upload URL (or any URL) with `contentType`. */
function post(url, bytes, contentType = "application/octet-stream") {
  return fetch(url, { method: "POST", headers: { "content-type": contentType }, body: bytes });
}

/** POST a body streamed in `chunks` (no Content-Length: chunked encoding). */
function postChunked(url, chunks, contentType = "application/octet-stream") {
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new Uint8Array(chunk));
      controller.close();
    },
  });
  return fetch(url, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
    duplex: "half",
  });
}

/** The JSON body of `res`, checking that it is JSON. */
async function jsonOf(res) {
  const text = await res.text();
  assert.match(res.headers.get("content-type") ?? "", /application\/json/, `not JSON: ${text}`);
  return JSON.parse(text);
}

/** Asserts `res` is a JSON `{code, message}` error with this status and code. */
async function assertError(res, status, code) {
  const body = await jsonOf(res);
  assert.equal(res.status, status, JSON.stringify(body));
  if (code !== undefined) assert.equal(body.code, code, JSON.stringify(body));
  assert.equal(typeof body.message, "string");
  assert.ok(body.message.length > 0);
  return body;
}

/**
 * What a request that should be refused ended with: `"STATUS CODE"` (the
 * status and the JSON error's `code`), or `"fetch failed: ..."` when the
 * client got no response (e.g. the server closed the connection while the
 * body was still being sent).
 */
async function outcome(pending) {
  try {
    const res = await pending;
    const text = await res.text();
    let code = "";
    try {
      code = JSON.parse(text).code ?? "";
    } catch {
      // not JSON: the status alone
    }
    return `${res.status} ${code}`.trim();
  } catch (err) {
    return `fetch failed: ${err.cause?.code ?? err.cause?.message ?? err.message}`;
  }
}

/** Uploads `bytes` through a fresh upload URL of `convex`; returns the storage id. */
async function uploadWith(convex, bytes, contentType) {
  const uploadUrl = await convex.mutation(api.messages.generateUploadUrl, {});
  const res = await post(uploadUrl, bytes, contentType);
  const body = await jsonOf(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(typeof body.storageId, "string");
  return body.storageId;
}

/** GETs `url` and returns the response and its bytes. */
async function get(url, headers = {}, method = "GET") {
  const res = await fetch(url, { method, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, bytes };
}

const storageDirs = (dataDir) => ({
  files: path.join(dataDir, "storage", "files"),
  tmp: path.join(dataDir, "storage", "tmp"),
});
const listDir = (dir) => fs.readdirSync(dir).sort();

// ---------------------------------------------------------------------------
// 1-3: the deployment origin's storage endpoints.

test("upload with an upload URL, sendImage, imageUrl in a live messages:list, GET serves the bytes", { timeout: 30_000 }, async () => {
  const list = new Values("messages:list");
  const unsubscribe = client.onUpdate(api.messages.list, {}, list.push, list.fail);
  try {
    await list.waitFor();

    const uploadUrl = await client.mutation(api.messages.generateUploadUrl, {});
    assert.equal(typeof uploadUrl, "string");
    assert.ok(
      uploadUrl.startsWith(`${server.url}/api/storage/upload?token=`),
      `upload URL ${uploadUrl}`,
    );

    const bytes = randomBytes(200 * 1024);
    const res = await post(uploadUrl, bytes, "image/png");
    const uploaded = await jsonOf(res);
    assert.equal(res.status, 200, JSON.stringify(uploaded));
    assert.deepEqual(Object.keys(uploaded), ["storageId"]);
    const { storageId } = uploaded;
    assert.equal(typeof storageId, "string");
    assert.ok(storageId.length > 0);

    const messageId = await client.mutation(api.messages.sendImage, { storageId, user: userId });
    assert.equal(typeof messageId, "string");

    const seen = await list.waitFor((m) => m.some((x) => x._id === messageId));
    const message = seen.find((x) => x._id === messageId);
    assert.equal(message.body, "");
    assert.equal(message.user, userId);
    assert.equal(message.image, storageId);
    assert.equal(message.imageUrl, `${server.url}/api/storage/${storageId}`);
    // Messages without an image have no imageUrl.
    const textId = await client.mutation(api.messages.send, { body: "no picture", user: userId });
    const withText = await list.waitFor((m) => m.some((x) => x._id === textId));
    const text = withText.find((x) => x._id === textId);
    assert.equal(text.imageUrl, undefined);
    assert.equal(text.image, undefined);

    const { res: got, bytes: served } = await get(message.imageUrl);
    assert.equal(got.status, 200);
    assert.ok(served.equals(bytes), "the served bytes differ from the uploaded ones");
    assert.equal(got.headers.get("content-type"), "image/png");
    assert.equal(got.headers.get("content-length"), String(bytes.length));
    assert.equal(got.headers.get("cache-control"), CACHE_CONTROL);
    assert.equal(got.headers.get("accept-ranges"), "bytes");
    const etag = got.headers.get("etag");
    assert.match(etag ?? "", /^"[A-Za-z0-9+/]+=*"$/, `ETag ${etag}`);
    assert.equal(etag.slice(1, -1), sha256(bytes));

    // The same over the HTTP client's view of messages:list.
    const listed = (await http.query(api.messages.list, {})).find((x) => x._id === messageId);
    assert.equal(listed.imageUrl, message.imageUrl);
  } finally {
    unsubscribe();
  }
});

test("single byte ranges are 206, a start past the end 416, HEAD, If-None-Match 304", { timeout: 30_000 }, async () => {
  const bytes = randomBytes(200 * 1024);
  const size = bytes.length;
  const storageId = await uploadWith(http, bytes, "image/png");
  const fileUrl = `${server.url}/api/storage/${storageId}`;
  const etag = `"${sha256(bytes)}"`;

  const ranged = async (range, start, end) => {
    const { res, bytes: part } = await get(fileUrl, { range });
    assert.equal(res.status, 206, `Range: ${range}`);
    assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/${size}`, `Range: ${range}`);
    assert.equal(res.headers.get("content-length"), String(end - start + 1), `Range: ${range}`);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("etag"), etag);
    assert.ok(part.equals(bytes.subarray(start, end + 1)), `Range: ${range}: wrong bytes`);
  };
  await ranged("bytes=0-9", 0, 9);
  await ranged("bytes=100-", 100, size - 1);
  await ranged("bytes=-5", size - 5, size - 1);
  await ranged("bytes=1000-1000", 1000, 1000);
  // An end past the file is cut to its last byte.
  await ranged(`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1);

  // Unsatisfiable: the first byte is past the end.
  for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`]) {
    const { res, bytes: body } = await get(fileUrl, { range });
    assert.equal(res.status, 416, `Range: ${range}`);
    assert.equal(res.headers.get("content-range"), `bytes */${size}`, `Range: ${range}`);
    assert.equal(body.length, 0);
  }

  // Several ranges: ignored, the whole file.
  {
    const { res, bytes: body } = await get(fileUrl, { range: "bytes=0-1,5-6" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-range"), null);
    assert.ok(body.equals(bytes));
  }

  // HEAD: the headers, no body.
  {
    const { res, bytes: body } = await get(fileUrl, {}, "HEAD");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(size));
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("etag"), etag);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(body.length, 0);
  }

  // If-None-Match with the ETag: 304 without a body; with another tag: 200.
  {
    const { res, bytes: body } = await get(fileUrl, { "if-none-match": etag });
    assert.equal(res.status, 304);
    assert.equal(body.length, 0);
    assert.equal(res.headers.get("etag"), etag);
  }
  {
    const { res, bytes: body } = await get(fileUrl, { "if-none-match": `"${sha256(Buffer.from("other"))}"` });
    assert.equal(res.status, 200);
    assert.ok(body.equals(bytes));
  }
});

test("upload tokens are single use and signed; unknown storage ids are 404", { timeout: 30_000 }, async () => {
  const { files } = storageDirs(server.dataDir);
  const uploadUrl = await http.mutation(api.messages.generateUploadUrl, {});
  const first = randomBytes(1000);
  const res = await post(uploadUrl, first, "text/plain");
  const { storageId } = await jsonOf(res);
  assert.equal(res.status, 200);
  const stored = listDir(files);

  // The same URL again: refused, nothing stored.
  await assertError(await post(uploadUrl, randomBytes(1000), "text/plain"), 401, "UsedUploadToken");
  assert.deepEqual(listDir(files), stored, "a refused upload left a file");
  // The first upload is intact.
  const { res: got, bytes } = await get(`${server.url}/api/storage/${storageId}`);
  assert.equal(got.status, 200);
  assert.ok(bytes.equals(first));
  assert.equal(got.headers.get("content-type"), "text/plain");

  // A tampered token (one character of a fresh one changed).
  const fresh = new URL(await http.mutation(api.messages.generateUploadUrl, {}));
  const token = fresh.searchParams.get("token");
  assert.ok(token && token.length > 30, `token ${token}`);
  const i = Math.floor(token.length / 2);
  const tampered = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
  fresh.searchParams.set("token", tampered);
  await assertError(await post(fresh.href, randomBytes(10)), 401, "InvalidUploadToken");
  // Garbage and no token.
  await assertError(await post(`${server.url}/api/storage/upload?token=nonsense`, randomBytes(10)), 401, "InvalidUploadToken");
  await assertError(await post(`${server.url}/api/storage/upload`, randomBytes(10)), 401);
  assert.deepEqual(listDir(files), stored, "a refused upload left a file");
  // The untampered token still works (the refusals did not use it).
  fresh.searchParams.set("token", token);
  const ok = await post(fresh.href, Buffer.from("fine"), "text/plain");
  assert.equal(ok.status, 200, await ok.clone().text());
  const okId = (await ok.json()).storageId;
  assert.equal(typeof okId, "string");
  assert.notEqual(okId, storageId);

  // Unknown ids: not an id, and ids of documents of other tables.
  const messageId = await http.mutation(api.messages.send, { body: "not a file", user: userId });
  for (const id of ["nope", messageId, userId]) {
    await assertError(await fetch(`${server.url}/api/storage/${id}`), 404);
  }
});

// ---------------------------------------------------------------------------
// 4-5: servers of their own.

test("--max-upload-bytes: oversize uploads are 413 and leave no file; one at the limit is stored", { timeout: 60_000 }, async () => {
  const s = await startExtra("chat", { args: ["--max-upload-bytes", "1000"] });
  try {
    const convex = new ConvexHttpClient(s.url, { logger: false });
    const { files, tmp } = storageDirs(s.dataDir);
    assert.deepEqual(listDir(files), []);

    // Declared (Content-Length) over the limit.
    for (const size of [5000, 1001]) {
      const uploadUrl = await convex.mutation(api.messages.generateUploadUrl, {});
      const res = await post(uploadUrl, randomBytes(size), "image/png");
      await assertError(res, 413, "FileTooLarge");
      assert.deepEqual(listDir(files), [], `a refused ${size}-byte upload left a file`);
      assert.deepEqual(listDir(tmp), [], `a refused ${size}-byte upload left a temporary file`);
    }

    // Chunked, no Content-Length, over the limit; the server stops reading
    // once the limit is passed. Several times: every one must be answered
    // with the 413 (a client must not see a dropped connection instead).
    const chunkedOutcomes = [];
    for (let i = 0; i < 10; i++) {
      const uploadUrl = await convex.mutation(api.messages.generateUploadUrl, {});
      const chunks = Array.from({ length: 5 }, () => randomBytes(1000));
      chunkedOutcomes.push(await outcome(postChunked(uploadUrl, chunks, "image/png")));
    }
    assert.ok(chunkedOutcomes.some((o) => o === "413 FileTooLarge"), `chunked: ${chunkedOutcomes}`);
    assert.ok(!chunkedOutcomes.some((o) => o.startsWith("200")), `chunked: ${chunkedOutcomes}`);
    assert.deepEqual(listDir(files), [], "a refused chunked upload left a file");
    assert.deepEqual(listDir(tmp), [], "a refused chunked upload left a temporary file");

    // Exactly the limit: stored, declared and chunked.
    const declared = randomBytes(1000);
    const declaredId = await uploadWith(convex, declared, "image/png");
    assert.equal(listDir(files).length, 1);
    const chunked = [randomBytes(400), randomBytes(600)];
    const uploadUrl = await convex.mutation(api.messages.generateUploadUrl, {});
    const res = await postChunked(uploadUrl, chunked, "image/gif");
    const body = await jsonOf(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(listDir(files).length, 2);
    assert.deepEqual(listDir(tmp), []);

    for (const [id, bytes, type] of [
      [declaredId, declared, "image/png"],
      [body.storageId, Buffer.concat(chunked), "image/gif"],
    ]) {
      const { res: got, bytes: served } = await get(`${s.url}/api/storage/${id}`);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get("content-type"), type);
      assert.ok(served.equals(bytes));
    }

    // Last, so the checks above run either way: every refused chunked upload
    // got its 413.
    assert.deepEqual(
      chunkedOutcomes,
      Array(chunkedOutcomes.length).fill("413 FileTooLarge"),
      "over-limit chunked uploads must all be answered 413 FileTooLarge",
    );
  } finally {
    await s.stop();
  }
});

test("stored files survive a restart on the same data directory", { timeout: 60_000 }, async () => {
  const port = await freePort();
  const dataDir = tempDir("convex-rs-e2e-chat-storage-");
  dirs.push(dataDir);
  let s = await startExtra("chat", { port, dataDir });
  try {
    let convex = new ConvexHttpClient(s.url, { logger: false });
    const user = await convex.mutation(api.users.create, { name: "Rex", tokenIdentifier: "tok|rex" });
    const bytes = randomBytes(64 * 1024);
    const usedUrl = await convex.mutation(api.messages.generateUploadUrl, {});
    const res = await post(usedUrl, bytes, "image/jpeg");
    const { storageId } = await jsonOf(res);
    assert.equal(res.status, 200);
    const messageId = await convex.mutation(api.messages.sendImage, { storageId, user });
    const unusedUrl = await convex.mutation(api.messages.generateUploadUrl, {});
    const fileUrl = `${s.url}/api/storage/${storageId}`;
    const before = await get(fileUrl);
    assert.equal(before.res.status, 200);
    const etag = before.res.headers.get("etag");

    await s.stop();
    s = await startExtra("chat", { port, dataDir });
    convex = new ConvexHttpClient(s.url, { logger: false });

    const after = await get(fileUrl);
    assert.equal(after.res.status, 200);
    assert.ok(after.bytes.equals(bytes), "the file changed across the restart");
    assert.equal(after.res.headers.get("content-type"), "image/jpeg");
    assert.equal(after.res.headers.get("etag"), etag);
    assert.equal(etag, `"${sha256(bytes)}"`);
    const listed = (await convex.query(api.messages.list, {})).find((m) => m._id === messageId);
    assert.equal(listed?.imageUrl, fileUrl);

    // A used upload URL stays used; an unused one still works.
    await assertError(await post(usedUrl, randomBytes(10)), 401, "UsedUploadToken");
    const more = Buffer.from("after the restart");
    const res2 = await post(unusedUrl, more, "text/plain");
    const body2 = await jsonOf(res2);
    assert.equal(res2.status, 200, JSON.stringify(body2));
    const again = await get(`${s.url}/api/storage/${body2.storageId}`);
    assert.ok(again.bytes.equals(more));
  } finally {
    await s.stop();
  }
});

// ---------------------------------------------------------------------------
// 6: the HTTP actions on the site origin.

test("GET /messages on the site origin: the last 100 messages, oldest first", { timeout: 60_000 }, async () => {
  const sent = [];
  for (let i = 0; i < 105; i++) {
    sent.push(await client.mutation(api.messages.send, { body: `bulk ${i}`, user: userId }));
  }
  const res = await fetch(`${server.siteUrl}/messages`);
  const got = await jsonOf(res);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.ok(Array.isArray(got));
  assert.equal(got.length, 100);
  assert.deepEqual(got.map((m) => m._id), sent.slice(5));
  assert.deepEqual(got.map((m) => m.body), sent.slice(5).map((_, i) => `bulk ${i + 5}`));
  // The same items as messages:list.
  const all = await http.query(api.messages.list, {});
  assert.deepEqual(got, all.slice(-100));
});

test("GET /messages carries imageUrl; POST /upload stores a file sendImage accepts", { timeout: 30_000 }, async () => {
  const bytes = randomBytes(50 * 1024);
  const res = await post(`${server.siteUrl}/upload`, bytes, "image/webp");
  const uploaded = await jsonOf(res);
  assert.equal(res.status, 200, JSON.stringify(uploaded));
  assert.equal(typeof uploaded.storageId, "string");
  const messageId = await client.mutation(api.messages.sendImage, { storageId: uploaded.storageId, user: userId });

  const recent = await jsonOf(await fetch(`${server.siteUrl}/messages`));
  const last = recent.at(-1);
  assert.equal(last._id, messageId);
  assert.equal(last.image, uploaded.storageId);
  assert.equal(last.body, "");
  assert.equal(last.imageUrl, `${server.url}/api/storage/${uploaded.storageId}`);

  const { res: got, bytes: served } = await get(last.imageUrl);
  assert.equal(got.status, 200);
  assert.ok(served.equals(bytes), "POST /upload stored other bytes");
  assert.equal(got.headers.get("content-type"), "image/webp");
  assert.equal(got.headers.get("etag"), `"${sha256(bytes)}"`);
});

test("messages:remove deletes the image: its URL is 404 and the file leaves the data directory", { timeout: 30_000 }, async () => {
  const bytes = randomBytes(4096);
  const storageId = await uploadWith(client, bytes, "image/png");
  const messageId = await client.mutation(api.messages.sendImage, { storageId, user: userId });
  const url = `${server.url}/api/storage/${storageId}`;
  assert.equal((await get(url)).res.status, 200);
  assert.ok(listDir(storageDirs(server.dataDir).files).includes(storageId));

  await client.mutation(api.messages.remove, { id: messageId });
  const { res } = await get(url);
  assert.equal(res.status, 404);
  assert.ok(!listDir(storageDirs(server.dataDir).files).includes(storageId), "the file is still on disk");
  const all = await http.query(api.messages.list, {});
  assert.ok(!all.some((m) => m._id === messageId));
  // A message whose image is gone cannot be sent again with it.
  await assert.rejects(client.mutation(api.messages.sendImage, { storageId, user: userId }), /UNKNOWN_FILE/);
});

test("POST /messages sends a message a live messages:list subscription shows", { timeout: 30_000 }, async () => {
  const list = new Values("messages:list");
  const unsubscribe = client.onUpdate(api.messages.list, {}, list.push, list.fail);
  try {
    await list.waitFor();
    const res = await fetch(`${server.siteUrl}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ body: "from an HTTP action", user: userId }),
    });
    const body = await jsonOf(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body), ["id"]);
    assert.equal(typeof body.id, "string");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const seen = await list.waitFor((m) => m.some((x) => x._id === body.id));
    const message = seen.find((x) => x._id === body.id);
    assert.equal(message.body, "from an HTTP action");
    assert.equal(message.user, userId);
    assert.equal(seen.at(-1)._id, body.id);
  } finally {
    unsubscribe();
  }
});

test("POST /messages with a bad body is a 400 with an error, and sends nothing", { timeout: 30_000 }, async () => {
  const before = await http.query(api.messages.count, {});
  const postRaw = (body, contentType = "application/json") =>
    fetch(`${server.siteUrl}/messages`, { method: "POST", headers: { "content-type": contentType }, body });
  const bad = [
    ["not JSON", postRaw("{ this is not json")],
    ["an unknown field", postRaw(JSON.stringify({ body: "hi", user: userId, extra: 1 }))],
    ["a missing field", postRaw(JSON.stringify({ body: "hi" }))],
    ["a missing body field", postRaw(JSON.stringify({ user: userId }))],
    ["a bad id", postRaw(JSON.stringify({ body: "hi", user: "not-an-id" }))],
    ["a body of the wrong type", postRaw(JSON.stringify({ body: 5, user: userId }))],
    ["an empty request", postRaw("")],
  ];
  for (const [what, pending] of bad) {
    const res = await pending;
    const body = await jsonOf(res);
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
    assert.equal(typeof body.error, "string", what);
    assert.ok(body.error.length > 0, what);
  }

  // A body the mutation refuses: its ConvexError data comes along.
  const res = await postRaw(JSON.stringify({ body: "   ", user: userId }));
  const body = await jsonOf(res);
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(typeof body.error, "string");
  assert.deepEqual(body.data, { code: "EMPTY_BODY" });

  assert.equal(await http.query(api.messages.count, {}), before, "a refused POST sent a message");

  // Last, as it would send a message if accepted: a JSON array is not the
  // `{"body", "user"}` object either.
  const array = await postRaw(JSON.stringify(["from an array", userId]));
  const arrayBody = await jsonOf(array);
  assert.equal(array.status, 400, `a JSON array: ${JSON.stringify(arrayBody)}`);
  assert.equal(typeof arrayBody.error, "string");
  assert.equal(await http.query(api.messages.count, {}), before, "a JSON array sent a message");
});

test("OPTIONS /messages answers the CORS preflight", { timeout: 30_000 }, async () => {
  const res = await fetch(`${server.siteUrl}/messages`, {
    method: "OPTIONS",
    headers: {
      origin: "https://example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    },
  });
  const body = await res.arrayBuffer();
  assert.equal(res.status, 204);
  assert.equal(body.byteLength, 0);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-allow-methods"), "GET, POST");
  assert.match(res.headers.get("access-control-allow-headers") ?? "", /content-type/i);
});

test("the site origin: unmatched routes are 404, bodies over 20 MiB are 413", { timeout: 30_000 }, async () => {
  for (const [method, route] of [
    ["GET", "/nope"],
    ["GET", "/upload"],
    ["PUT", "/messages"],
    ["DELETE", "/messages"],
    ["GET", "/api/storage/x"],
  ]) {
    const res = await fetch(`${server.siteUrl}${route}`, { method });
    const body = await jsonOf(res);
    assert.equal(res.status, 404, `${method} ${route}: ${JSON.stringify(body)}`);
  }

  const before = await http.query(api.messages.count, {});
  const { files } = storageDirs(server.dataDir);
  const stored = listDir(files);
  const limit = 20 * 1024 * 1024;
  const outcomes = {};
  const record = async (what, pending) => (outcomes[what] ??= []).push(await outcome(pending));
  const overLimit = Buffer.alloc(limit + 1, 7);
  const mib = Buffer.alloc(1024 * 1024, 9);
  const huge = JSON.stringify({ body: "x".repeat(limit), user: userId });
  for (let i = 0; i < 3; i++) {
    // Declared (Content-Length) over the limit.
    await record("POST /upload, Content-Length over 20 MiB", post(`${server.siteUrl}/upload`, overLimit));
    // Chunked over the limit.
    await record("POST /upload, 21 MiB chunked", postChunked(`${server.siteUrl}/upload`, Array(21).fill(mib)));
    // A message body over the limit.
    await record("POST /messages, body over 20 MiB", post(`${server.siteUrl}/messages`, huge, "application/json"));
  }
  assert.equal(await http.query(api.messages.count, {}), before, "an oversize request sent a message");
  assert.deepEqual(listDir(files), stored, "an oversize POST /upload stored a file");
  // Every one answered 413 (not a dropped connection).
  const statuses = Object.fromEntries(
    Object.entries(outcomes).map(([what, got]) => [what, got.map((o) => (o.startsWith("413") ? "413" : o))]),
  );
  assert.deepEqual(
    statuses,
    Object.fromEntries(Object.keys(outcomes).map((what) => [what, ["413", "413", "413"]])),
    "every oversize request must be answered 413",
  );
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
