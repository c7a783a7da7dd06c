// The dev loop (`chat dev`): it builds the app with cargo, serves it,
// regenerates the TypeScript files, and after a change to a watched path
// rebuilds and restarts the server on the same address and data, while
// connected official clients reconnect, resubscribe and keep working. A build
// that fails leaves the previous server running.
//
// Changes are made by bumping the modification time of a chat source file
// (its content is untouched), which makes cargo recompile, or by writing to an
// extra `--watch` directory, which leaves the binary unchanged. `CARGO` points
// at a wrapper that fails `cargo build` while a flag file exists, to exercise
// the failed-build path without breaking the sources.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import {
  BIN_DIR,
  PACKAGE_DIR,
  assertNoUncaughtErrors,
  binaryPath,
  closeTracked,
  connectionWhere,
  installCrashGuard,
  removeDir,
  tempDir,
  track,
  Values,
  withTimeout,
} from "./harness.js";

installCrashGuard();

const api = anyApi;
const ROOT = path.resolve(PACKAGE_DIR, "..", "..");
const CHAT_MANIFEST = path.join(ROOT, "examples", "chat", "Cargo.toml");
const CHAT_SOURCE = path.join(ROOT, "examples", "chat", "src", "users.rs");
const CHECKED_IN_GENERATED = path.join(ROOT, "examples", "chat", "web", "convex", "_generated");
// The first build may compile the chat crate.
const BUILD_TIMEOUT_MS = 300_000;

let scratch;
let failFlag;
let watchDir;

before(() => {
  scratch = tempDir("convex-rs-e2e-dev-");
  failFlag = path.join(scratch, "fail-builds");
  watchDir = path.join(scratch, "watched");
  fs.mkdirSync(watchDir);
  const wrapper = path.join(scratch, "cargo");
  fs.writeFileSync(
    wrapper,
    [
      "#!/bin/sh",
      `if [ "$1" = build ] && [ -e '${failFlag}' ]; then`,
      "  echo 'error[E0425]: cannot find value `oops` in this scope (simulated)' >&2",
      "  exit 101",
      "fi",
      // Build with the workspace's feature set (`--workspace` instead of
      // `-p chat`): the same as CI's `cargo build --workspace --bins`, so the
      // dev loop reuses those artifacts instead of compiling every dependency
      // again with the chat package's smaller feature set.
      'if [ "$1" = build ]; then',
      "  shift; skip=",
      '  for a in "$@"; do shift; case "$skip$a" in -p) skip=1;; 1*) skip=;; *) set -- "$@" "$a";; esac; done',
      '  set -- build --workspace "$@"',
      "fi",
      'exec "${REAL_CARGO:-cargo}" "$@"',
      "",
    ].join("\n"),
  );
  fs.chmodSync(wrapper, 0o755);
});

after(async () => {
  await closeTracked();
  removeDir(scratch);
});

/** Starts `chat dev` and collects its stdout lines. */
function startDev({ dataDir, codegenOut }) {
  const child = spawn(
    binaryPath("chat"),
    [
      "dev",
      "--package", "chat",
      "--manifest-path", CHAT_MANIFEST,
      "--listen", "127.0.0.1:0",
      "--data", dataDir,
      "--codegen-out", codegenOut,
      "--watch", watchDir,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CARGO: path.join(scratch, "cargo"), RUST_LOG: "warn" },
    },
  );
  const lines = [];
  const waiters = new Set();
  let pending = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    pending += chunk.toString("utf8");
    const parts = pending.split("\n");
    pending = parts.pop();
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) w();
    }
  });
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-20_000);
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    exited,
    /** The first line at index >= `from` matching `re` (waits for it). */
    waitForLine(re, from, ms, label) {
      const find = () => lines.slice(from).find((l) => re.test(l));
      return withTimeout(
        new Promise((resolve) => {
          const check = () => {
            const line = find();
            if (line !== undefined) {
              waiters.delete(check);
              resolve(line);
            }
          };
          waiters.add(check);
          check();
        }),
        ms,
        label,
      ).catch((err) => {
        err.message += `\n--- dev stdout:\n${lines.join("\n")}\n--- dev stderr (tail):\n${stderr}`;
        throw err;
      });
    },
  };
}

/** What the dev loop says after handling a change. */
const VERDICT = /^dev: (restarted in|build failed|the new build|the binary is unchanged)/;

/**
 * Makes a change and waits for the dev loop's verdict. `source` bumps the
 * modification time of a chat source file (its content stays as it is), so
 * cargo recompiles and the binary changes; otherwise a file in the extra
 * `--watch` directory is written, which leaves the binary as it was.
 */
async function change(dev, label, { source = false } = {}) {
  const from = dev.lines.length;
  if (source) {
    const now = new Date();
    fs.utimesSync(CHAT_SOURCE, now, now);
  } else {
    fs.writeFileSync(path.join(watchDir, "touched.txt"), String(Date.now()));
  }
  return dev.waitForLine(VERDICT, from, BUILD_TIMEOUT_MS, label);
}

function portIsClosed(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(true));
  });
}

test("dev: serve, regenerate types, restart on change, keep serving on a failed build", { timeout: 600_000 }, async () => {
  assert.ok(fs.existsSync(BIN_DIR), `${BIN_DIR} is missing: build the servers first`);
  const dataDir = path.join(scratch, "data");
  const codegenOut = path.join(scratch, "generated");
  const dev = startDev({ dataDir, codegenOut });
  try {
    const listening = await dev.waitForLine(/^listening on http:\/\//, 0, BUILD_TIMEOUT_MS, "first server");
    const url = listening.replace("listening on ", "").trim();
    await dev.waitForLine(/^dev: started in \d+ ms/, 0, 30_000, "dev reports the start");

    // The generated files are the ones checked in (same app, same bytes).
    for (const file of ["api.js", "api.d.ts", "dataModel.d.ts"]) {
      assert.equal(
        fs.readFileSync(path.join(codegenOut, file), "utf8"),
        fs.readFileSync(path.join(CHECKED_IN_GENERATED, file), "utf8"),
        `${file} regenerated by dev`,
      );
    }

    const a = track(new ConvexClient(url, { logger: false }));
    const userId = await a.mutation(api.users.create, { name: "Dev", tokenIdentifier: "tok|dev" });
    const firstId = await a.mutation(api.messages.send, { body: "before the change", user: userId });
    const lists = new Values("A messages:list");
    const unsub = a.onUpdate(api.messages.list, {}, lists.push, lists.fail);
    await lists.waitFor((l) => l.some((m) => m._id === firstId));
    const before = a.connectionState().connectionCount;

    // A change that leaves the binary as it was: no restart.
    const unchanged = await change(dev, "a change with nothing to recompile");
    assert.equal(unchanged, "dev: the binary is unchanged; the server keeps running");
    assert.equal(a.connectionState().connectionCount, before, "no reconnect without a new binary");

    // A source change: rebuild, restart on the same address.
    const restarted = await change(dev, "restart after a source change", { source: true });
    assert.match(restarted, /^dev: restarted in \d+ ms/);
    const back = await connectionWhere(
      a,
      (s) => s.isWebSocketConnected && s.connectionCount > before,
      45_000,
      "A reconnects to the restarted server",
    );
    assert.ok(back.connectionCount > before);

    // The same data, and A's subscription was re-established: a write by
    // another client reaches it.
    const b = new ConvexHttpClient(url, { logger: false });
    const secondId = await b.mutation(api.messages.send, { body: "after the change", user: userId });
    const list = await lists.waitFor((l) => l.some((m) => m._id === secondId), { timeout: 30_000 });
    assert.deepEqual(list.map((m) => m.body), ["before the change", "after the change"]);
    // A's own mutations keep working.
    await withTimeout(a.mutation(api.messages.send, { body: "A again", user: userId }), 15_000, "A writes");

    // A failed build: the old server keeps serving, nobody is disconnected.
    fs.writeFileSync(failFlag, "");
    const failed = await change(dev, "failed build");
    assert.equal(failed, "dev: build failed; still serving the previous build");
    const count = await b.query(api.messages.count, {});
    assert.equal(count, 3);
    assert.equal(a.connectionState().connectionCount, back.connectionCount, "no reconnect on a failed build");

    // Fixed: the next change restarts again.
    fs.rmSync(failFlag);
    const again = await change(dev, "restart after the fix", { source: true });
    assert.match(again, /^dev: restarted in/);
    await connectionWhere(
      a,
      (s) => s.isWebSocketConnected && s.connectionCount > back.connectionCount,
      45_000,
      "A reconnects again",
    );
    const thirdId = await b.mutation(api.messages.send, { body: "third", user: userId });
    await lists.waitFor((l) => l.some((m) => m._id === thirdId), { timeout: 30_000 });
    unsub();

    // SIGTERM: the dev loop stops its server gracefully and exits.
    await a.close();
    dev.child.kill("SIGTERM");
    const status = await withTimeout(dev.exited, 40_000, "dev exits on SIGTERM");
    assert.deepEqual(status, { code: 0, signal: null });
    assert.ok(await portIsClosed(url), "the server stopped with the dev loop");
  } finally {
    dev.child.kill("SIGKILL");
  }
});

test("dev: the server does not outlive a killed dev loop", { timeout: 600_000 }, async () => {
  const dev = startDev({ dataDir: path.join(scratch, "data2"), codegenOut: path.join(scratch, "generated2") });
  try {
    const listening = await dev.waitForLine(/^listening on http:\/\//, 0, BUILD_TIMEOUT_MS, "server");
    const url = listening.replace("listening on ", "").trim();
    dev.child.kill("SIGKILL");
    await dev.exited;
    // The server sees its standard input close and shuts down.
    const deadline = Date.now() + 20_000;
    while (!(await portIsClosed(url))) {
      assert.ok(Date.now() < deadline, "the orphaned server is still listening");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    dev.child.kill("SIGKILL");
  }
});

test("no uncaught client errors", () => {
  assertNoUncaughtErrors();
});
