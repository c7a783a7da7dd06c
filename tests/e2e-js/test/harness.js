// Test harness shared by every e2e test file: starts and stops the convex-rs
// example servers (`chat`, `bank`, `notes`, and the notes example's
// `embeddings-standin`) and offers small helpers to await
// reactive callbacks with explicit timeouts.
//
// Every test file starts its own server(s) on a free port with a fresh data
// directory, and stops them in an `after()` hook so the test process exits.
//
// Environment:
//   CONVEX_BIN_DIR    directory holding the `chat`, `bank`, `notes` and
//                     `embeddings-standin` binaries
//                     (default: ../../target/debug relative to this package)
//   E2E_SERVER_LOG=1  echo the servers' stdout/stderr to this process' stderr

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { isDeepStrictEqual } from "node:util";
import WebSocket from "ws";
import { after, before } from "node:test";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The root of this npm package (tests/e2e-js). */
export const PACKAGE_DIR = path.resolve(here, "..");

/** Directory holding the server binaries. */
export const BIN_DIR = path.resolve(
  PACKAGE_DIR,
  process.env.CONVEX_BIN_DIR ?? path.join("..", "..", "target", "debug"),
);

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const READY_LINE = /listening on (http:\/\/\S+)/;
// Printed after the deployment's `listening on` line, once both origins serve.
const SITE_READY_LINE = /^site listening on (http:\/\/\S+)/;

/** The path of an example server binary (`chat`, `bank`, `notes`, `embeddings-standin`). */
export function binaryPath(app) {
  return path.join(BIN_DIR, app);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** A new empty temporary directory. */
export function tempDir(prefix = "convex-rs-e2e-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Remove a directory tree, ignoring errors. */
export function removeDir(dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

// Every server still running, so that an abnormal exit of the test process
// does not leave orphans behind.
const running = new Set();
process.on("exit", () => {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/**
 * The environment for a child process: this process' environment with
 * `overrides` applied; an `undefined` value removes the variable.
 */
function childEnv(overrides = {}) {
  const env = { ...process.env };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = String(value);
  }
  return env;
}

/**
 * Spawn `bin args` and wait (30 s at most) until it prints a line matching
 * `readyLine` (its first group is the URL) on stdout or stderr. Resolves with
 * that URL, the output so far (last 64 KiB) and `stop()`, which sends SIGTERM
 * to the child's PID (SIGKILL after 10 s) and resolves with its exit status.
 * `name` names the process in messages, `label` in the `E2E_SERVER_LOG` echo,
 * `readyText` is what it should print, for the timeout message.
 */
async function spawnUntilReady({ name, label, bin, args, env, readyLine, readyText, onStopped }) {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: childEnv(env) });
  running.add(child);

  // Keep the last 64 KiB of output for error messages.
  let output = "";
  const echo = process.env.E2E_SERVER_LOG === "1";
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  let exitStatus = null;
  exited.then((status) => (exitStatus = status));

  const ready = new Promise((resolve, reject) => {
    let pending = { stdout: "", stderr: "" };
    let done = false;
    const onData = (stream) => (chunk) => {
      const text = chunk.toString("utf8");
      output = (output + text).slice(-65536);
      if (echo) process.stderr.write(`[${label}] ${text}`);
      if (done) return;
      pending[stream] += text;
      const lines = pending[stream].split("\n");
      pending[stream] = lines.pop();
      for (const line of lines) {
        const m = readyLine.exec(line);
        if (m) {
          done = true;
          clearTimeout(timer);
          resolve(m[1]);
          return;
        }
      }
    };
    child.stdout.on("data", onData("stdout"));
    child.stderr.on("data", onData("stderr"));
    child.on("error", (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`could not spawn ${bin}: ${err.message}`));
    });
    exited.then(({ code, signal }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(
        new Error(
          `${name} exited (code ${code}, signal ${signal}) before it was ready:\n${output}`,
        ),
      );
    });
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(
        new Error(
          `${name} did not print "${readyText}" within ${READY_TIMEOUT_MS} ms:\n${output}`,
        ),
      );
    }, READY_TIMEOUT_MS);
  });

  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      if (exitStatus === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        try {
          await exited;
        } finally {
          clearTimeout(killer);
        }
      }
      onStopped?.();
      return exitStatus ?? (await exited);
    })();
    return stopping;
  };

  let printed;
  try {
    printed = await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return { printed, pid: child.pid, output: () => output, stop };
}

/**
 * With `E2E_DATABASE_URL=postgres://USER@HOST:PORT` set, every server stores
 * its data in PostgreSQL: `--database URL/DB`, the database named after the
 * data directory, so a restart on the same directory finds its data (the
 * server creates the database).
 */
export function databaseArgs(dataDir) {
  const server = process.env.E2E_DATABASE_URL;
  if (!server) return [];
  const name = "convex_e2e_" + createHash("sha256").update(dataDir).digest("hex").slice(0, 16);
  return ["--database", `${server.replace(/\/+$/, "")}/${name}`];
}

/**
 * Start `BIN serve --listen 127.0.0.1:PORT --site-listen 127.0.0.1:0 --data DIR`
 * and wait (30 s at most) until it prints `listening on http://127.0.0.1:PORT`
 * and `site listening on http://...` (the HTTP actions' origin, `siteUrl`).
 *
 * @param {"chat"|"bank"|"notes"} app
 * @param {{port?: number, dataDir?: string, env?: Record<string, string|undefined>, args?: string[]}} [options]
 *   a fixed port and data directory (e.g. to restart a server on the same
 *   data); by default a free port and a fresh temporary directory, removed
 *   again by `stop()`. `env`: variables to set for the server on top of this
 *   process' environment (`undefined` removes one, e.g. `{EMBEDDINGS_URL: undefined}`).
 *   `args`: more `serve` arguments (e.g. `["--auth-config", path]`).
 * @returns {Promise<{url: string, siteUrl: string, port: number, dataDir: string, pid: number,
 *   output: () => string, stop: () => Promise<{code: number|null, signal: string|null}>}>}
 */
export async function startServer(app, options = {}) {
  const bin = binaryPath(app);
  if (!fs.existsSync(bin)) {
    throw new Error(
      `server binary ${bin} not found: build it first (cargo build) ` +
        `or point CONVEX_BIN_DIR at the directory that holds it`,
    );
  }
  const port = options.port ?? (await freePort());
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? tempDir(`convex-rs-e2e-${app}-`);
  const url = `http://127.0.0.1:${port}`;
  const given = options.args ?? [];
  const extra = given.includes("--database") ? given : [...given, ...databaseArgs(dataDir)];
  // A free port for the site origin unless the caller picks one, so servers
  // running side by side do not compete for the default 3211.
  const site = extra.includes("--site-listen") ? [] : ["--site-listen", "127.0.0.1:0"];
  const args = ["serve", "--listen", `127.0.0.1:${port}`, "--data", dataDir, ...site, ...extra];

  const started = await spawnUntilReady({
    name: app,
    label: `${app}:${port}`,
    bin,
    args,
    env: options.env,
    readyLine: SITE_READY_LINE,
    readyText: `listening on ${url}, then site listening on http://...`,
    onStopped: () => {
      if (ownsDataDir) removeDir(dataDir);
    },
  });
  const printed = READY_LINE.exec(started.output())?.[1];
  if (printed?.replace(/\/$/, "") !== url) {
    await started.stop();
    throw new Error(`${app} printed "listening on ${printed}", expected ${url}`);
  }
  const siteUrl = started.printed.replace(/\/$/, "");
  return { url, siteUrl, port, dataDir, pid: started.pid, output: started.output, stop: started.stop };
}

/**
 * Start `embeddings-standin --listen 127.0.0.1:0` (the notes example's
 * OpenAI-compatible `POST /embeddings` stand-in, from `BIN_DIR`) and wait until
 * it prints the address it listens on. Pass its `url` to the notes server as
 * `EMBEDDINGS_URL`; `stop()` ends it by its PID.
 *
 * @returns {Promise<{url: string, pid: number, output: () => string,
 *   embed: (texts: string[]) => Promise<number[][]>,
 *   stop: () => Promise<{code: number|null, signal: string|null}>}>}
 */
export async function startEmbeddingsStandin() {
  const bin = binaryPath("embeddings-standin");
  if (!fs.existsSync(bin)) {
    throw new Error(
      `${bin} not found: build it first (cargo build -p notes --bins) ` +
        `or point CONVEX_BIN_DIR at the directory that holds it`,
    );
  }
  const started = await spawnUntilReady({
    name: "embeddings-standin",
    label: "embeddings-standin",
    bin,
    args: ["--listen", "127.0.0.1:0"],
    readyLine: /embeddings stand-in listening on (http:\/\/\S+)/,
    readyText: "embeddings stand-in listening on http://...",
  });
  const url = started.printed.replace(/\/$/, "");
  /** The stand-in's embeddings of `texts`, in order. */
  const embed = async (texts) => {
    const res = await fetch(`${url}/embeddings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "standin", input: texts }),
    });
    if (!res.ok) throw new Error(`POST ${url}/embeddings: ${res.status} ${await res.text()}`);
    const { data } = await res.json();
    return [...data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
  };
  return { url, pid: started.pid, output: started.output, embed, stop: started.stop };
}

// ---------------------------------------------------------------------------
// Failing fast instead of crashing or hanging.

const crashWaiters = new Set();
/** Uncaught exceptions / unhandled rejections seen in this process. */
export const uncaughtErrors = [];

/**
 * Install (once) `uncaughtException` / `unhandledRejection` handlers. The
 * client throws server `FatalError`s and bad Transitions from inside its
 * socket handler, i.e. as uncaught exceptions: with these handlers they are
 * recorded, fail every pending `Values.waitFor`, and the test fails (node:test
 * also attributes them to the running test) instead of the process crashing.
 */
export function installCrashGuard() {
  if (installCrashGuard.installed) return;
  installCrashGuard.installed = true;
  const onError = (err) => {
    uncaughtErrors.push(err);
    for (const reject of crashWaiters) reject(err);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
}

/** Throw if an uncaught exception / unhandled rejection happened. */
export function assertNoUncaughtErrors() {
  if (uncaughtErrors.length > 0) {
    const err = new Error(
      `uncaught errors during the test: ${uncaughtErrors.map((e) => e?.stack ?? e).join("\n---\n")}`,
    );
    throw err;
  }
}

/**
 * Await `promise` for at most `ms` milliseconds; also fails as soon as an
 * uncaught exception happens.
 */
export function withTimeout(promise, ms, label = "operation") {
  let timer;
  let crashReject;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label}: timed out after ${ms} ms`)),
      ms,
    );
    crashReject = (err) =>
      reject(new Error(`${label}: uncaught error while waiting: ${err?.message ?? err}`, { cause: err }));
    crashWaiters.add(crashReject);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    crashWaiters.delete(crashReject);
  });
}

/**
 * Resolve with `client.connectionState()` once it satisfies `pred` (now or
 * after a change); fails after `ms` milliseconds.
 */
export function connectionWhere(client, pred, ms, label) {
  return withTimeout(
    new Promise((resolve) => {
      if (pred(client.connectionState())) return resolve(client.connectionState());
      const unsubscribe = client.subscribeToConnectionState((state) => {
        if (pred(state)) {
          unsubscribe();
          resolve(state);
        }
      });
    }),
    ms,
    label,
  );
}

/** Sleep. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Records the values a subscription callback receives and lets a test await
 * the first one (already received or future) that satisfies a predicate.
 *
 *   const counts = new Values("count");
 *   client.onUpdate(ref, {}, counts.push, counts.fail);
 *   await counts.waitFor((c) => c === 3);
 */
export class Values {
  constructor(label = "values") {
    this.label = label;
    /** Every value received, in order. */
    this.values = [];
    /** The error passed to `fail`, if any. */
    this.error = null;
    this.waiters = new Set();
    this.push = this.push.bind(this);
    this.fail = this.fail.bind(this);
  }

  /** The most recent value (undefined before the first). */
  get latest() {
    return this.values.at(-1);
  }

  get count() {
    return this.values.length;
  }

  push(value) {
    this.values.push(value);
    for (const w of [...this.waiters]) {
      if (w.pred(value)) {
        this.waiters.delete(w);
        w.resolve(value);
      }
    }
  }

  fail(err) {
    this.error = err;
    for (const w of this.waiters) w.reject(err);
    this.waiters.clear();
  }

  /**
   * The latest value if it satisfies `pred`, else the next received value
   * that does. Rejects after `timeout` ms, on `fail`, or on an uncaught error.
   * With `{fresh: true}` only values received after the call count.
   */
  waitFor(pred = () => true, { timeout = 10_000, fresh = false } = {}) {
    if (this.error) return Promise.reject(this.error);
    if (!fresh && this.values.length > 0 && pred(this.latest)) {
      return Promise.resolve(this.latest);
    }
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { pred, resolve, reject };
      this.waiters.add(waiter);
    });
    return withTimeout(p, timeout, `${this.label}: waiting for a matching value`).catch(
      (err) => {
        this.waiters.delete(waiter);
        const seen = this.values
          .slice(-3)
          .map((v) => JSON.stringify(v)?.slice(0, 400))
          .join("\n  ");
        err.message += `\n  (${this.values.length} values received; last ones:\n  ${seen})`;
        throw err;
      },
    );
  }
}

// ---------------------------------------------------------------------------
// Clients: every client a test creates is tracked so that `after()` can close
// it even when the test failed half-way (an open socket keeps Node running).

const tracked = new Set();

/** Remember a client (anything with `close()`) for `closeTracked()`; returns it. */
export function track(client) {
  tracked.add(client);
  return client;
}

/**
 * Close every tracked client. `close()` waits for the WebSocket close
 * handshake, which the `ws` library bounds at 30 s; a client that takes
 * longer is reported, not waited for.
 */
export async function closeTracked() {
  const clients = [...tracked];
  tracked.clear();
  const results = await Promise.allSettled(
    clients.map((c) => withTimeout(Promise.resolve().then(() => c.close()), 35_000, "client.close()")),
  );
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length > 0) throw failed[0].reason;
}

/**
 * The usual test-file fixture: installs the crash guard and registers hooks
 * that start `app` on a free port with a fresh data directory, then run
 * `setup(server)` (to create clients and seed data); after the file's tests
 * they close every tracked client and stop the server.
 *
 *   let server, client;
 *   useServer("chat", async (started) => {
 *     server = started;
 *     client = track(new ConvexClient(server.url, { logger: false }));
 *   });
 */
export function useServer(app, setup) {
  installCrashGuard();
  let server;
  before(async () => {
    server = await startServer(app);
    await setup(server);
  }, { timeout: 60_000 });
  after(async () => {
    await closeTracked();
    await server?.stop();
  }, { timeout: 60_000 });
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// `node --test test/` also runs every .js file under test/ as a test file,
// this one included. Run on its own, it checks that the harness can work.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { default: test } = await import("node:test");
  const { default: assert } = await import("node:assert/strict");
  test("harness: server binaries are present", () => {
    for (const app of ["chat", "bank", "notes", "embeddings-standin"]) {
      assert.ok(
        fs.existsSync(binaryPath(app)),
        `${binaryPath(app)} is missing: build the servers or set CONVEX_BIN_DIR`,
      );
    }
  });
  test("harness: freePort returns a bindable port", async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    await new Promise((resolve, reject) => {
      const srv = net.createServer().listen(port, "127.0.0.1", () => srv.close(resolve));
      srv.on("error", reject);
    });
  });
}

// ---------------------------------------------------------------------------
// Frame recording: which queries a Transition updated (the client's
// callbacks cannot tell "not sent" from "sent again unchanged").

/**
 * A WebSocket class for `new ConvexClient(url, { webSocketConstructor })`
 * that records every frame, parsed, in `frames.sent` and `frames.received`.
 */
export function recordingWebSocket(frames) {
  return class RecordingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      // Added before the client sets `onmessage`, so it sees every frame first.
      this.addEventListener("message", (event) => {
        frames.received.push(JSON.parse(event.data));
      });
    }

    send(data) {
      frames.sent.push(JSON.parse(data));
      super.send(data);
    }
  };
}

/** The queryId the client gave its subscription to `udfPath` with `args`. */
export function queryIdOf(frames, udfPath, args) {
  const ids = frames.sent
    .filter((m) => m.type === "ModifyQuerySet")
    .flatMap((m) => m.modifications)
    .filter((q) => q.type === "Add" && q.udfPath === udfPath && isDeepStrictEqual(q.args, [args]))
    .map((q) => q.queryId);
  assert.equal(ids.length, 1, `one subscription to ${udfPath}(${JSON.stringify(args)})`);
  return ids[0];
}

/** The QueryUpdated modifications for `queryId` among `frames.received[from..]`. */
export function updatesOf(frames, queryId, from) {
  return frames.received.slice(from).flatMap((m) => {
    // Big transitions come in chunks; none in these tests is big enough, and
    // a chunk would hide its modifications from this check.
    assert.notEqual(m.type, "TransitionChunk", "unexpected TransitionChunk");
    if (m.type !== "Transition") return [];
    return m.modifications.filter((mod) => mod.type === "QueryUpdated" && mod.queryId === queryId);
  });
}
