// After `await client.close()` nothing keeps Node alive: a child process that
// connects, subscribes, mutates and closes exits by itself with code 0 within
// 10 s. (A server that never answers the WebSocket close handshake would keep
// the child's socket open for the `ws` library's 30 s close timeout.)

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { PACKAGE_DIR, startServer } from "./harness.js";

const api = anyApi;
const CHILD = path.join(PACKAGE_DIR, "fixtures", "lifecycle-child.js");
const EXIT_WITHIN_MS = 10_000;

let server;

before(async () => {
  server = await startServer("chat");
}, { timeout: 60_000 });

after(async () => {
  await server?.stop();
}, { timeout: 60_000 });

/** Run the child script; resolve with its exit status and output. */
function runChild(mode) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CHILD, server.url, mode], {
      cwd: PACKAGE_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let killedAfterTimeout = false;
    const timer = setTimeout(() => {
      killedAfterTimeout = true;
      child.kill("SIGKILL");
    }, EXIT_WITHIN_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killedAfterTimeout, ms: Date.now() - started });
    });
  });
}

function assertCleanExit(result) {
  const where = `\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  assert.equal(
    result.killedAfterTimeout,
    false,
    `the child did not exit within ${EXIT_WITHIN_MS} ms after closing its clients${where}`,
  );
  assert.equal(result.code, 0, `child exit code${where}`);
  const report = JSON.parse(result.stdout.trim().split("\n").at(-1));
  return report;
}

test("ConvexClient: connect, subscribe, mutate, close, and the process exits", { timeout: 30_000 }, async () => {
  const result = await runChild("simple");
  const report = assertCleanExit(result);
  assert.equal(typeof report.id, "string");
  assert.equal(report.countAfterSend, report.counts[0] + 1);
});

test("ConvexClient + ConvexHttpClient + ConvexReactClient all close cleanly", { timeout: 30_000 }, async () => {
  const result = await runChild("all");
  const report = assertCleanExit(result);
  assert.equal(report.reactCount, report.httpCount);
  const http = new ConvexHttpClient(server.url, { logger: false });
  assert.equal(await http.query(api.messages.count, {}), report.httpCount + 1);
});

test("the server stops on SIGTERM", { timeout: 30_000 }, async () => {
  const status = await server.stop();
  assert.deepEqual(status, { code: 0, signal: null }, "a clean exit on SIGTERM");
});
