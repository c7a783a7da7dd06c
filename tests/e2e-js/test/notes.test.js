// Vector search in the notes example (`examples/notes`) with the official
// client: the live `notes:similar` query follows notes that enter or leave
// its top k and is left alone by notes that cannot; `notes:similarAction` is
// the exact top k; `notes:addText` gets embeddings from the endpoint named by
// EMBEDDINGS_URL (the `embeddings-standin` binary here) and says so when it is
// not set.
//
// Embeddings come from the stand-in's HTTP endpoint (or `notes:embed`), never
// from a JS copy of its algorithm, so this file cannot drift from it.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  closeTracked,
  freePort,
  installCrashGuard,
  sleep,
  startEmbeddingsStandin,
  startServer,
  track,
  Values,
  withTimeout,
  queryIdOf,
  recordingWebSocket,
  updatesOf,
} from "./harness.js";

const api = anyApi;
const DIMENSIONS = 384;
/** Scores come back as f32s; exact cosines in f64 differ by ~1e-7. */
const SCORE_EPSILON = 1e-5;


function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

const ids = (results) => results.map((r) => r._id);

let standin; // embeddings-standin
let server; // notes, EMBEDDINGS_URL = the stand-in
let watcher; // subscribes; its frames are recorded
let writer; // adds and removes notes
let http; // ConvexHttpClient
let frames;
const servers = []; // further notes servers started by tests
/** Every note in `server`'s table: id -> {text, tag, embedding}. */
const notes = new Map();

installCrashGuard();

before(async () => {
  standin = await startEmbeddingsStandin();
  server = await startServer("notes", {
    env: { EMBEDDINGS_URL: standin.url, EMBEDDINGS_MODEL: "e2e-standin" },
  });
  frames = { sent: [], received: [] };
  watcher = track(
    new ConvexClient(server.url, { logger: false, webSocketConstructor: recordingWebSocket(frames) }),
  );
  writer = track(new ConvexClient(server.url, { logger: false }));
  http = new ConvexHttpClient(server.url, { logger: false });
}, { timeout: 60_000 });

after(async () => {
  try {
    await closeTracked();
  } finally {
    for (const s of [...servers, server]) await s?.stop();
    await standin?.stop();
  }
}, { timeout: 60_000 });

/** The stand-in's embedding of one text. */
async function embed(text) {
  const [vector] = await standin.embed([text]);
  assert.equal(vector.length, DIMENSIONS);
  return vector;
}

/**
 * Add a note whose body and title are `text`, with the stand-in's embedding
 * of `embeddingOf` (default: `text`); returns its id.
 */
async function addNote(text, tag, embeddingOf = text) {
  const embedding = await embed(embeddingOf);
  const id = await writer.mutation(api.notes.add, { title: text, body: text, tag, embedding });
  assert.equal(typeof id, "string");
  notes.set(id, { text, tag, embedding });
  return id;
}

async function removeNote(id) {
  assert.equal(await writer.mutation(api.notes.remove, { id }), null);
  notes.delete(id);
}

/** The exact scores of the notes (within `tag`) against `vector`, best first. */
function exactRanking(vector, tag) {
  return [...notes]
    .filter(([, n]) => tag === undefined || n.tag === tag)
    .map(([id, n]) => ({ id, score: cosine(vector, n.embedding) }))
    .sort((a, b) => b.score - a.score);
}

/**
 * Assert that `results` ({_id, _score}[]) is an exact top `limit` of the
 * notes (within `tag`) for `vector`: the expected scores in order, each id
 * distinct and scored right (ties may come in any order).
 */
function assertExactTopK(results, vector, limit, tag, label) {
  const expected = exactRanking(vector, tag);
  const context = `${label}\n  got ${JSON.stringify(results.map((r) => [r._id, r._score]))}\n  expected ${JSON.stringify(expected.slice(0, limit).map((e) => [e.id, e.score]))}`;
  assert.equal(results.length, Math.min(limit, expected.length), `result count: ${context}`);
  assert.equal(new Set(ids(results)).size, results.length, `distinct ids: ${context}`);
  results.forEach((r, i) => {
    assert.ok(Math.abs(r._score - expected[i].score) < SCORE_EPSILON, `score #${i}: ${context}`);
    const note = notes.get(r._id);
    assert.ok(note, `#${i} is a known note: ${context}`);
    assert.ok(tag === undefined || note.tag === tag, `#${i} has the tag: ${context}`);
    assert.ok(
      Math.abs(r._score - cosine(vector, note.embedding)) < SCORE_EPSILON,
      `#${i} has its own score: ${context}`,
    );
  });
}

test("a similar subscription follows a closer note and a removed result", { timeout: 30_000 }, async () => {
  const tag = "a";
  const query = await embed("cats sleep");
  const results = new Values("notes:similar cats sleep");
  const unsub = watcher.onUpdate(api.notes.similar, { vector: query, limit: 3, tag }, results.push, results.fail);
  try {
    assert.deepEqual(await results.waitFor(), []);

    const allDay = await addNote("cats sleep all day", tag);
    const first = await results.waitFor((r) => r.length === 1);
    assert.equal(first[0]._id, allDay);
    assert.equal(first[0].title, "cats sleep all day");
    assert.equal(first[0].tag, tag);
    assert.ok(Math.abs(first[0]._score - cosine(query, notes.get(allDay).embedding)) < SCORE_EPSILON);

    const dogs = await addNote("dogs sleep at night", tag);
    await results.waitFor((r) => isDeepStrictEqual(ids(r), [allDay, dogs]));

    // Closer than both: it comes first (same words as the query: score 1).
    const closer = await addNote("sleep, cats!", tag);
    const three = await results.waitFor((r) => isDeepStrictEqual(ids(r), [closer, allDay, dogs]));
    assert.ok(Math.abs(three[0]._score - 1) < SCORE_EPSILON, `score ${three[0]._score}`);
    assertExactTopK(three, query, 3, tag, "after the closer note");

    // A result removed: it leaves, the others stay in order.
    await removeNote(allDay);
    const two = await results.waitFor((r) => isDeepStrictEqual(ids(r), [closer, dogs]));
    assertExactTopK(two, query, 3, tag, "after the removal");
  } finally {
    unsub();
  }
});

test("a note that cannot enter the top k sends the similar subscription nothing", { timeout: 30_000 }, async () => {
  const tag = "b";
  const query = await embed("cats sleep");
  const similarArgs = { vector: query, limit: 2, tag };
  const similar = new Values("notes:similar (b)");
  // Every note added below has "proof" in its body: this subscription's
  // update shows that the Transition for the write reached the watcher.
  const proofArgs = { query: "proof" };
  const proofs = new Values("notes:search proof");
  const unsubSimilar = watcher.onUpdate(api.notes.similar, similarArgs, similar.push, similar.fail);
  const unsubProof = watcher.onUpdate(api.notes.search, proofArgs, proofs.push, proofs.fail);
  const addWithProof = async (text, tag, embeddingOf) => {
    const embedding = await embed(embeddingOf);
    const body = `${text} proof`;
    const id = await writer.mutation(api.notes.add, { title: text, body, tag, embedding });
    notes.set(id, { text, tag, embedding });
    return id;
  };
  try {
    assert.deepEqual(await similar.waitFor(), []);
    await proofs.waitFor();
    const similarId = queryIdOf(frames, "notes:similar", similarArgs);
    const proofId = queryIdOf(frames, "notes:search", proofArgs);

    // Fill the top 2.
    const allDay = await addWithProof("cats sleep all day", tag, "cats sleep all day");
    const night = await addWithProof("cats sleep at night", tag, "cats sleep at night");
    const full = await similar.waitFor((r) => r.length === 2);
    assert.deepEqual(new Set(ids(full)), new Set([allDay, night]));
    await proofs.waitFor((r) => ids(r).includes(night));
    const worst = Math.min(...full.map((r) => r._score));

    // Far away, same tag: scores below both results, so it cannot enter.
    const baseline = frames.received.length;
    const farText = "rocket engines burn fuel";
    assert.ok(cosine(query, await embed(farText)) < worst - 0.1, "the far note is far");
    const far = await addWithProof(farText, tag, farText);
    await proofs.waitFor((r) => ids(r).includes(far));
    // Also wait past the server's once-a-second move of new index entries,
    // in case that re-ran the query.
    await sleep(1_200);
    assert.ok(updatesOf(frames, proofId, baseline).length >= 1, "the proof subscription was updated");
    assert.deepEqual(
      updatesOf(frames, similarId, baseline),
      [],
      "no QueryUpdated for the similar query after a note that cannot enter its top 2",
    );

    // The same vector as the query, but another tag: filtered out, nothing sent.
    const otherTag = await addWithProof("cats sleep elsewhere", "b-other", "cats sleep");
    await proofs.waitFor((r) => ids(r).includes(otherTag));
    await sleep(1_200);
    assert.deepEqual(
      updatesOf(frames, similarId, baseline),
      [],
      "no QueryUpdated for the similar query after a note with another tag",
    );

    // A closer note does update it: first, pushing out the weaker result.
    const closer = await addWithProof("cats sleep", tag, "cats sleep");
    const after = await similar.waitFor((r) => r[0]?._id === closer);
    assert.equal(after.length, 2);
    assertExactTopK(after, query, 2, tag, "after the closer note");
    assert.equal(updatesOf(frames, similarId, baseline).length, 1, "exactly one update, for the closer note");
  } finally {
    unsubSimilar();
    unsubProof();
  }
});

test("notes:similarAction is the exact top k, with and without a tag", { timeout: 30_000 }, async () => {
  const texts = {
    c1: [
      "green tea in the morning",
      "black coffee at noon",
      "tea and biscuits with friends",
      "morning runs by the river",
      "river fishing trip",
    ],
    c2: [
      "quarterly tax forms",
      "coffee machine repair",
      "tea ceremony notes",
      "morning standup agenda",
    ],
  };
  for (const [tag, list] of Object.entries(texts)) {
    for (const text of list) await addNote(text, tag);
  }
  const queries = ["morning tea", "coffee", "river trip in the morning", "cats sleep", "tax"];
  for (const text of queries) {
    const vector = await embed(text);
    for (const [limit, tag] of [
      [3, undefined],
      [5, undefined],
      [2, "c1"],
      [4, "c2"],
      [10, "c1"],
      [256, undefined],
    ]) {
      const args = tag === undefined ? { vector, limit } : { vector, limit, tag };
      const label = `similarAction(${JSON.stringify(text)}, ${limit}, ${tag})`;
      const found = await http.action(api.notes.similarAction, args);
      for (const r of found) assert.deepEqual(Object.keys(r).sort(), ["_id", "_score"], label);
      assertExactTopK(found, vector, limit, tag, label);
      // The live query agrees (one-shot over HTTP).
      const live = await http.query(api.notes.similar, args);
      assertExactTopK(live, vector, limit, tag, label.replace("similarAction", "similar"));
    }
  }
  // The tag is matched exactly: no note has "c".
  assert.deepEqual(
    await http.action(api.notes.similarAction, { vector: await embed("tea"), limit: 5, tag: "c" }),
    [],
  );
});

test("notes:addText and notes:embed get embeddings from EMBEDDINGS_URL", { timeout: 30_000 }, async () => {
  // notes:embed answers what the stand-in answers.
  const viaServer = await writer.action(api.notes.embed, { text: "Walruses bask on the ice" });
  assert.deepEqual(viaServer, await embed("Walruses bask on the ice"));
  assert.deepEqual(await http.action(api.notes.embed, { text: "hello" }), await embed("hello"));

  const title = "Walrus";
  const body = "walruses bask on the ice";
  const id = await writer.action(api.notes.addText, { title, body, tag: "d" });
  assert.equal(typeof id, "string");
  const [stored] = await http.query(api.notes.search, { query: "walruses", tag: "d" });
  assert.ok(stored, "the note is stored");
  assert.equal(stored._id, id);
  assert.deepEqual(
    { title: stored.title, body: stored.body, tag: stored.tag },
    { title, body, tag: "d" },
  );
  assert.equal(stored.embedding.length, DIMENSIONS);
  // The embedding of its title and text (the stand-in is a bag of words).
  assert.ok(cosine(stored.embedding, await embed(`${title} ${body}`)) > 0.999);
  notes.set(id, { text: body, tag: "d", embedding: stored.embedding });

  // Found by similarity like any other note.
  const found = await http.action(api.notes.similarAction, {
    vector: await writer.action(api.notes.embed, { text: `${title}: ${body}` }),
    limit: 1,
  });
  assert.deepEqual(ids(found), [id]);
  assert.ok(Math.abs(found[0]._score - 1) < SCORE_EPSILON);
});

test("without EMBEDDINGS_URL notes:addText fails with an error naming it", { timeout: 60_000 }, async () => {
  // Unset for this server even if this process has it.
  const bare = await startServer("notes", { env: { EMBEDDINGS_URL: undefined, EMBEDDINGS_MODEL: undefined } });
  servers.push(bare);
  const bareHttp = new ConvexHttpClient(bare.url, { logger: false });
  const bareWs = track(new ConvexClient(bare.url, { logger: false }));
  const namesIt = (err) => {
    assert.match(err.message, /EMBEDDINGS_URL/);
    return true;
  };
  const args = { title: "Lost", body: "never stored", tag: "d" };
  await assert.rejects(bareHttp.action(api.notes.addText, args), namesIt);
  await assert.rejects(withTimeout(bareWs.action(api.notes.addText, args), 10_000, "addText"), namesIt);
  await assert.rejects(bareHttp.action(api.notes.embed, { text: "hello" }), namesIt);
  assert.deepEqual(await bareHttp.query(api.notes.search, { query: "stored" }), [], "nothing stored");
  // The rest of the app works without it.
  const id = await bareHttp.mutation(api.notes.add, {
    title: "Kept",
    body: "stored with an embedding",
    tag: "d",
    embedding: await embed("stored with an embedding"),
  });
  assert.deepEqual(ids(await bareHttp.query(api.notes.search, { query: "stored" })), [id]);

  // An endpoint that does not answer: the error names it.
  const closedPort = await freePort();
  const unreachable = await startServer("notes", {
    env: { EMBEDDINGS_URL: `http://127.0.0.1:${closedPort}` },
  });
  servers.push(unreachable);
  await assert.rejects(
    new ConvexHttpClient(unreachable.url, { logger: false }).action(api.notes.addText, args),
    (err) => {
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}/embeddings`));
      return true;
    },
  );
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
