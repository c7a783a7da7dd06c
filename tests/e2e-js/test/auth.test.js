// Authentication with the official client against the chat example started
// with `--auth-config` naming a local OIDC issuer (discovery + JWKS served
// here, RS256 tokens signed here with a key generated for this run):
// `ConvexClient.setAuth` makes `users:identity` return the identity, the
// client's immediate token refresh keeps the subscription alive, a wrongly
// signed token makes the client fetch again and then run unauthenticated
// (`onChange(false)`), `clearAuth` logs out, and `ConvexHttpClient.setAuth`
// works; `users:store`, `users:me` and `messages:sendAsMe` act as the user.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  assertNoUncaughtErrors,
  closeTracked,
  installCrashGuard,
  removeDir,
  sleep,
  startServer,
  tempDir,
  track,
  Values,
} from "./harness.js";

const api = anyApi;
const APP_ID = "convex-rs-e2e";
const ADMIN_KEY = "e2e-admin-key-4d3c2b1a";
installCrashGuard();

const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const stranger = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...key.publicKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" };

let issuerUrl;
let issuerServer;
let server;
let dir;
let serial = 0;

/** An RS256 JWT for `claims`, signed with `privateKey`. */
function sign(claims, privateKey = key.privateKey) {
  const encode = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const data = `${encode({ alg: "RS256", typ: "JWT", kid: "k1" })}.${encode(claims)}`;
  const signature = crypto.sign("RSA-SHA256", Buffer.from(data), privateKey).toString("base64url");
  return `${data}.${signature}`;
}

/** A fresh token for `sub` (each one differs, as a provider's refreshes do). */
function tokenFor(sub, name, privateKey) {
  const now = Math.floor(Date.now() / 1000);
  serial += 1;
  return sign(
    { iss: issuerUrl, sub, aud: APP_ID, iat: now, exp: now + 600, name, email: `${sub}@example.com`, jti: `t${serial}` },
    privateKey,
  );
}

before(async () => {
  issuerServer = http.createServer((req, res) => {
    const send = (body) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/.well-known/openid-configuration") send({ issuer: issuerUrl, jwks_uri: `${issuerUrl}/jwks` });
    else if (req.url === "/jwks") send({ keys: [jwk] });
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => issuerServer.listen(0, "127.0.0.1", resolve));
  issuerUrl = `http://127.0.0.1:${issuerServer.address().port}`;
  dir = tempDir("convex-rs-e2e-auth-");
  const config = path.join(dir, "auth.config.json");
  fs.writeFileSync(config, JSON.stringify({ providers: [{ domain: issuerUrl, applicationID: APP_ID }] }));
  server = await startServer("chat", { args: ["--auth-config", config, "--admin-key", ADMIN_KEY] });
}, { timeout: 60_000 });

after(async () => {
  await closeTracked();
  await server?.stop();
  issuerServer?.close();
  removeDir(dir);
}, { timeout: 60_000 });

test("setAuth: the identity reaches functions; a refresh keeps the subscription; clearAuth logs out", { timeout: 60_000 }, async () => {
  const client = track(new ConvexClient(server.url, { logger: false }));
  const identity = new Values("users:identity");
  client.onUpdate(api.users.identity, {}, identity.push, identity.fail);
  await identity.waitFor((v) => v === null);

  const fetches = [];
  const changes = [];
  client.setAuth(
    async ({ forceRefreshToken }) => {
      fetches.push(forceRefreshToken);
      return tokenFor("ada", "Ada Lovelace");
    },
    (isAuthenticated) => changes.push(isAuthenticated),
  );
  const seen = await identity.waitFor((v) => v !== null);
  assert.equal(seen.tokenIdentifier, `${issuerUrl}|ada`);
  assert.equal(seen.subject, "ada");
  assert.equal(seen.issuer, issuerUrl);
  assert.equal(seen.name, "Ada Lovelace");
  assert.equal(seen.email, "ada@example.com");
  // Confirmed, then the client fetched a fresh token at once and sent it.
  await sleep(500);
  // onChange(true) for the token and again for its refresh; never false.
  assert.ok(changes.length >= 1 && changes.every((c) => c === true), `onChange calls: ${JSON.stringify(changes)}`);
  assert.ok(fetches.length >= 2 && fetches.slice(1).includes(true), `fetches: ${JSON.stringify(fetches)}`);
  assert.equal(identity.latest.tokenIdentifier, `${issuerUrl}|ada`, "the subscription survived the refresh");
  assert.equal(identity.error, null);

  // Acting as the user.
  const userId = await client.mutation(api.users.store, {});
  assert.equal(await client.mutation(api.users.store, {}), userId, "store returns the same user");
  const me = await client.query(api.users.me, {});
  assert.equal(me.name, "Ada Lovelace");
  const messageId = await client.mutation(api.messages.sendAsMe, { body: "signed" });
  const message = await client.query(api.messages.get, { id: messageId });
  assert.equal(message.user, userId);

  // ConvexClient has no clearAuth of its own; its BaseConvexClient does
  // (the one ConvexReactClient.clearAuth calls).
  client.client.clearAuth();
  await identity.waitFor((v) => v === null);
  assert.equal(await client.query(api.users.me, {}), null);
  await assert.rejects(client.mutation(api.messages.sendAsMe, { body: "x" }), (err) => {
    assert.deepEqual(err.data, { code: "UNAUTHENTICATED" });
    return true;
  });
  assertNoUncaughtErrors();
});

test("a wrongly signed token: the client fetches again, then runs unauthenticated", { timeout: 60_000 }, async () => {
  const client = track(new ConvexClient(server.url, { logger: false }));
  const identity = new Values("users:identity");
  client.onUpdate(api.users.identity, {}, identity.push, identity.fail);
  await identity.waitFor((v) => v === null);
  const fetches = [];
  const changed = new Values("onChange");
  client.setAuth(async ({ forceRefreshToken }) => {
    fetches.push(forceRefreshToken);
    return tokenFor("mallory", "Mallory", stranger.privateKey);
  }, changed.push);
  assert.equal(await changed.waitFor(() => true), false);
  assert.ok(fetches.includes(true), `the client fetched a fresh token after the AuthError: ${JSON.stringify(fetches)}`);
  // Unauthenticated, and the subscription still works.
  const count = new Values("messages:count");
  client.onUpdate(api.messages.count, {}, count.push, count.fail);
  await count.waitFor((n) => typeof n === "number");
  assert.equal(identity.latest, null);
  assertNoUncaughtErrors();
});

test("ConvexHttpClient.setAuth sends the token; a bad one is refused", { timeout: 30_000 }, async () => {
  const client = new ConvexHttpClient(server.url);
  client.setAuth(tokenFor("grace", "Grace Hopper"));
  const identity = await client.query(api.users.identity, {});
  assert.equal(identity.tokenIdentifier, `${issuerUrl}|grace`);
  assert.equal(identity.name, "Grace Hopper");
  client.setAuth(tokenFor("grace", "Grace Hopper", stranger.privateKey));
  await assert.rejects(client.query(api.users.identity, {}), /Could not verify token signature/);
  client.clearAuth();
  assert.equal(await client.query(api.users.identity, {}), null);
});

test("the admin key calls an internal function and impersonates a user; without --admin-key one is generated", { timeout: 60_000 }, async () => {
  const admin = new ConvexHttpClient(server.url);
  const anonymous = new ConvexHttpClient(server.url);
  await assert.rejects(anonymous.mutation(api.messages.purgeExpired, {}), /Could not find public function/);
  admin.setAdminAuth(ADMIN_KEY);
  assert.equal(await admin.mutation(api.messages.purgeExpired, {}), 0);
  admin.setAdminAuth(ADMIN_KEY, { subject: "imp", issuer: "https://imp.example", name: "Impersonated" });
  const identity = await admin.query(api.users.identity, {});
  assert.equal(identity.tokenIdentifier, "https://imp.example|imp");
  assert.equal(identity.name, "Impersonated");
  admin.setAdminAuth("not-the-key");
  await assert.rejects(admin.query(api.users.identity, {}), /admin key was invalid/);

  // A server started without --admin-key keeps a generated one in its data
  // directory, readable only by its owner, and it works.
  const plain = await startServer("chat");
  try {
    const file = path.join(plain.dataDir, "admin_key");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const generated = fs.readFileSync(file, "utf8").trim();
    assert.ok(!plain.output().includes(generated), "the key was logged");
    const client = new ConvexHttpClient(plain.url);
    client.setAdminAuth(generated);
    assert.equal(await client.mutation(api.messages.purgeExpired, {}), 0);
  } finally {
    await plain.stop();
  }
});
