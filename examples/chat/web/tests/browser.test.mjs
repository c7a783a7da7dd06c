// Headless-browser test of the chat front end against the real `chat` binary.
//
//   npm run build && npm run test:browser
//
// Env: CHAT_BIN (default ../../../target/debug/chat), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT (default ../../../target/browser-test/chat.png).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const chatBin = resolve(
  webDir,
  process.env.CHAT_BIN ?? "../../../target/debug/chat",
);
const distDir = join(webDir, "dist");
const issuerBin = resolve(
  webDir,
  process.env.DEV_ISSUER_BIN ?? join(dirname(chatBin), "dev-issuer"),
);
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshotPath = resolve(
  webDir,
  process.env.SCREENSHOT ?? "../../../target/browser-test/chat.png",
);
const TIMEOUT = 10_000;
const SEEDED = 12;
// Click "send" in one page -> the message shows in another: a functional
// bound with a wide margin (loopback, debug build), not a benchmark.
const CLICK_TO_APPEAR_BOUND_MS = 250;
const CLICK_TO_APPEAR_ROUNDS = 5;
// A valid 2x2 RGB PNG (red, blue / red, blue), 73 bytes.
const PNG_2X2 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR42mP4zwAE/xkgFAAb8gP9PpddpAAAAABJRU5ErkJggg==",
  "base64",
);

let server; // ChildProcess
let issuer; // ChildProcess: the dev issuer the sign-in box gets tokens from
let issuerUrl;
let serverLog = "";
let dataDir;
let baseUrl;
let browser;
let pageA;
let pageB;
// Page A's websocket goes through Playwright so the test can hold its
// `messages:send` mutations back from the server.
let holdSends = false;
const heldSends = [];
let releaseHeld = () => {};

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

function startServer(port) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(
      chatBin,
      [
        "serve",
        "--listen",
        `127.0.0.1:${port}`,
        // HTTP actions' origin: a free port, so parallel servers never
        // compete for the default 3211.
        "--site-listen",
        "127.0.0.1:0",
        "--data",
        dataDir,
        "--static-dir",
        distDir,
        "--auth-config",
        join(dataDir, "auth.config.json"),
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    const timer = setTimeout(() => {
      reject(
        new Error(
          `chat did not print "listening on" within 30 s:\n${serverLog}`,
        ),
      );
    }, 30_000);
    const onData = (chunk) => {
      serverLog += chunk.toString();
      // The deployment's own line, `listening on URL` at the start of a line
      // (not `site listening on URL`, the HTTP actions' origin).
      const m = /^listening on (http:\/\/\S+)\r?\n/m.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        const expected = `http://127.0.0.1:${port}`;
        if (m[1].replace(/\/$/, "") !== expected) {
          child.kill("SIGKILL");
          reject(new Error(`chat printed "listening on ${m[1]}", expected ${expected}:\n${serverLog}`));
          return;
        }
        resolveStart(child);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `chat exited early (code ${code}, signal ${signal}):\n${serverLog}`,
        ),
      );
    });
  });
}

/** Starts the dev issuer on a free port; resolves with its URL. */
function startIssuer() {
  return new Promise((resolveStart, reject) => {
    let log = "";
    issuer = spawn(
      issuerBin,
      ["--listen", "127.0.0.1:0", "--write-config", join(dataDir, "auth.config.json")],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const timer = setTimeout(
      () => reject(new Error(`dev-issuer did not start within 30 s:\n${log}`)),
      30_000,
    );
    const onData = (chunk) => {
      log += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolveStart(m[1]);
      }
    };
    issuer.stdout.on("data", onData);
    issuer.stderr.on("data", onData);
    issuer.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function stopServer(child) {
  return new Promise((done) => {
    if (!child || child.exitCode !== null || child.signalCode !== null)
      return done();
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    child.kill("SIGTERM");
  });
}

function isSend(message) {
  try {
    const msg = JSON.parse(message.toString());
    return (
      msg.type === "Mutation" && String(msg.udfPath).startsWith("messages")
    );
  } catch {
    return false;
  }
}

async function openPage(name, { routeSends = false } = {}) {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 720 },
  });
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[${name}] page error:`, err));
  page.on("console", (msg) => {
    if (msg.type() === "error") console.error(`[${name}] console:`, msg.text());
  });
  if (routeSends) {
    await page.routeWebSocket(/\/sync$/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((message) => {
        if (holdSends && isSend(message)) {
          heldSends.push(message);
        } else {
          upstream.send(message);
        }
      });
      releaseHeld = () => {
        holdSends = false;
        for (const message of heldSends.splice(0)) upstream.send(message);
      };
    });
  }
  await page.goto(baseUrl);
  await page.getByTestId("name-input").fill(name);
  await page.getByTestId("name-input").press("Enter");
  // The user exists once the identity form carries its id.
  await page.waitForSelector(
    '[data-testid="identity"]:not([data-user-id=""])',
    {
      timeout: TIMEOUT,
    },
  );
  return page;
}

function messages(page, text) {
  return page.locator('[data-testid="message"]', { hasText: text });
}

async function send(page, text, how = "enter") {
  await page.getByTestId("message-input").fill(text);
  if (how === "enter") await page.getByTestId("message-input").press("Enter");
  else await page.getByTestId("send").click();
}

async function callMutation(path, args) {
  const res = await fetch(`${baseUrl}/api/mutation`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ path, args, format: "json" }),
  });
  const json = await res.json();
  assert.equal(json.status, "success", `${path}: ${JSON.stringify(json)}`);
  return json.value;
}

before(async () => {
  assert.ok(
    existsSync(chatBin),
    `chat binary not found at ${chatBin} (cargo build -p chat)`,
  );
  assert.ok(
    existsSync(join(distDir, "index.html")),
    `no ${distDir}/index.html (npm run build)`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "chat-browser-test-"));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  assert.ok(
    existsSync(issuerBin),
    `dev-issuer binary not found at ${issuerBin} (cargo build -p chat --bins)`,
  );
  issuerUrl = await startIssuer();
  server = await startServer(port);
  // Twelve older messages, so the history panel has more than one page.
  const seeder = await callMutation("users:create", {
    name: "Seeder",
    tokenIdentifier: "seed",
  });
  for (let i = 1; i <= SEEDED; i++) {
    await callMutation("messages:send", {
      body: `history #${i}`,
      user: seeder,
    });
  }
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
      "--disable-quic",
    ],
  });
  pageA = await openPage("Alice", { routeSends: true });
  pageB = await openPage("Bob");
});

after(async () => {
  if (pageA) {
    try {
      mkdirSync(dirname(screenshotPath), { recursive: true });
      await pageA.screenshot({ path: screenshotPath });
      console.log(`screenshot: ${screenshotPath}`);
    } catch (err) {
      console.error("screenshot failed:", err);
    }
  }
  await browser?.close();
  await stopServer(server);
  await stopServer(issuer);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("the page shows the seeded messages and the newest 10 in history", async () => {
  for (const page of [pageA, pageB]) {
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="message"]').length === n,
      SEEDED,
      { timeout: TIMEOUT },
    );
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid="history-item"]').length === 10,
      null,
      { timeout: TIMEOUT },
    );
    assert.match(
      await page.getByTestId("history-item").first().innerText(),
      /history #12$/,
    );
    assert.ok(
      await page.getByTestId("load-more").isEnabled(),
      "more history to load",
    );
  }
});

test("a message sent from page A appears in page B without reload", async () => {
  const text = `hello from Alice ${Date.now()}`;
  await send(pageA, text, "enter");
  await messages(pageB, text).waitFor({ timeout: TIMEOUT });
  await pageA
    .locator('[data-testid="message"][data-confirmed="true"]', {
      hasText: text,
    })
    .waitFor({ timeout: TIMEOUT });
  assert.equal(await messages(pageA, text).count(), 1);
  assert.equal(await messages(pageB, text).count(), 1);
  assert.equal(await pageA.getByTestId("message-input").inputValue(), "");
});

test(`a sent message appears in another page within ${CLICK_TO_APPEAR_BOUND_MS} ms`, async () => {
  // Two pages with direct websockets (page A's goes through the test's proxy).
  const sender = pageB;
  const receiver = await openPage("Carol");
  try {
    const samples = [];
    for (let round = 0; round < CLICK_TO_APPEAR_ROUNDS; round++) {
      const text = `timed ${round} ${Date.now()}`;
      // The receiver stamps the moment the message is in its DOM; both pages
      // run in one browser on one machine, so their clocks agree.
      await receiver.evaluate((wanted) => {
        window.__appearedAt = null;
        const seen = () =>
          [...document.querySelectorAll('[data-testid="message"]')].some(
            (el) => el.textContent.includes(wanted),
          );
        const observer = new MutationObserver(() => {
          if (seen()) {
            window.__appearedAt = Date.now();
            observer.disconnect();
          }
        });
        observer.observe(document.body, {
          subtree: true,
          childList: true,
          characterData: true,
        });
      }, text);
      await sender.getByTestId("message-input").fill(text);
      const clickedAt = await sender.evaluate(() => {
        const at = Date.now();
        document.querySelector('[data-testid="send"]').click();
        return at;
      });
      await messages(receiver, text).waitFor({ timeout: TIMEOUT });
      const appearedAt = await receiver.evaluate(() => window.__appearedAt);
      assert.ok(appearedAt, "the receiver saw the message arrive");
      samples.push(appearedAt - clickedAt);
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)];
    console.log(
      `click-to-appear in another page: median ${median} ms (samples ${samples.join(", ")} ms)`,
    );
    assert.ok(
      median <= CLICK_TO_APPEAR_BOUND_MS,
      `median click-to-appear ${median} ms exceeds ${CLICK_TO_APPEAR_BOUND_MS} ms`,
    );
  } finally {
    await receiver.context().close();
  }
});

test("the optimistic message shows before the server confirms", async () => {
  const text = `optimistic ${Date.now()}`;
  const confirmedBefore = await pageA.evaluate(
    () => window.__lastSendConfirmedAt,
  );
  holdSends = true;
  try {
    await send(pageA, text, "click");
    // Visible at once, while the mutation has not even reached the server.
    await pageA
      .locator('[data-testid="message"][data-pending="true"]', {
        hasText: text,
      })
      .waitFor({ timeout: TIMEOUT });
    assert.ok(
      heldSends.length >= 1,
      "the send should be held back from the server",
    );
    await pageA.waitForTimeout(300);
    assert.equal(await messages(pageA, text).count(), 1);
    assert.equal(
      await pageA.evaluate(() => window.__lastSendConfirmedAt),
      confirmedBefore,
      "the mutation must not be confirmed while held",
    );
    assert.equal(
      await messages(pageB, text).count(),
      0,
      "page B can't see it yet",
    );
  } finally {
    releaseHeld();
  }
  // Released: the server confirms, the temporary element is replaced by the
  // real one, and page B gets it too.
  await pageA
    .locator('[data-testid="message"][data-confirmed="true"]', {
      hasText: text,
    })
    .waitFor({ timeout: TIMEOUT });
  await pageA.waitForFunction(
    (before) => window.__lastSendConfirmedAt !== before,
    confirmedBefore,
    {
      timeout: TIMEOUT,
    },
  );
  assert.equal(await messages(pageA, text).count(), 1);
  assert.equal(
    await pageA.locator('[data-testid="message"][data-pending="true"]').count(),
    0,
  );
  await messages(pageB, text).waitFor({ timeout: TIMEOUT });
});

test("an empty message shows the EMPTY_BODY error inline", async () => {
  const before = await pageA.locator('[data-testid="message"]').count();
  await pageA.getByTestId("message-input").fill("   ");
  await pageA.getByTestId("send").click();
  const error = pageA.getByTestId("send-error");
  await error.waitFor({ timeout: TIMEOUT });
  assert.match(await error.innerText(), /empty/i);
  assert.equal(await pageA.locator('[data-testid="message"]').count(), before);
  // Typing clears it.
  await pageA.getByTestId("message-input").fill("x");
  await error.waitFor({ state: "detached", timeout: TIMEOUT });
  await pageA.getByTestId("message-input").fill("");
});

test("the history panel pages with load more", async () => {
  // The first page keeps its range, so it grew from 10 by every message sent
  // above (two, plus the timed ones); "load more" brings the last two seeded.
  const total = SEEDED + 2 + CLICK_TO_APPEAR_ROUNDS;
  const items = pageB.getByTestId("history-item");
  await pageB.waitForFunction(
    (n) =>
      document.querySelectorAll('[data-testid="history-item"]').length === n,
    total - 2,
    { timeout: TIMEOUT },
  );
  assert.match(await items.first().innerText(), /optimistic/, "newest first");
  await pageB.getByTestId("load-more").click();
  await pageB.waitForFunction(
    (n) =>
      document.querySelectorAll('[data-testid="history-item"]').length === n,
    total,
    { timeout: TIMEOUT },
  );
  assert.match(await items.last().innerText(), /history #1$/, "oldest last");
  await pageB.waitForSelector('[data-testid="load-more"]:disabled', {
    timeout: TIMEOUT,
  });
  assert.match(
    await pageB.getByTestId("load-more").innerText(),
    /start of history/i,
  );
  // The live list has them all, oldest first.
  assert.equal(await pageA.locator('[data-testid="message"]').count(), total);
  assert.match(
    await pageA.locator('[data-testid="message"]').first().innerText(),
    /history #1\b/,
  );
});

test("the name and user survive a reload (localStorage)", async () => {
  const identity = pageB.getByTestId("identity");
  const userId = await identity.getAttribute("data-user-id");
  assert.ok(userId);
  await pageB.reload();
  assert.equal(await pageB.getByTestId("name-input").inputValue(), "Bob");
  await pageB.waitForSelector(
    `[data-testid="identity"][data-user-id="${userId}"]`,
    {
      timeout: TIMEOUT,
    },
  );
});

test("a failed image upload shows an error inline and sends nothing", async () => {
  const before = await pageA.locator('[data-testid="message"]').count();
  const upload = "**/api/storage/upload*";
  await pageA.route(upload, (route) =>
    route.fulfill({ status: 500, contentType: "text/plain", body: "disk on fire" }),
  );
  try {
    await pageA.getByLabel("Attach image").setInputFiles({
      name: "broken.png",
      mimeType: "image/png",
      buffer: PNG_2X2,
    });
    const error = pageA.getByTestId("send-error");
    await error.waitFor({ timeout: TIMEOUT });
    assert.match(await error.innerText(), /couldn't send the image.*500.*disk on fire/i);
  } finally {
    await pageA.unroute(upload);
  }
  // The control is usable again, and nothing was sent.
  assert.ok(await pageA.getByLabel("Attach image").isEnabled());
  assert.equal(await pageA.getByLabel("Attach image").inputValue(), "");
  assert.equal(await pageA.locator('[data-testid="message"]').count(), before);
  assert.equal(await pageA.getByTestId("message-image").count(), 0);
});

test("an attached image is uploaded, sent, and shows in both pages", async () => {
  const before = await pageA.locator('[data-testid="message"]').count();
  const aliceId = await pageA.getByTestId("identity").getAttribute("data-user-id");
  assert.ok(aliceId);
  await pageA.getByLabel("Attach image").setInputFiles({
    name: `dots-${Date.now()}.png`,
    mimeType: "image/png",
    buffer: PNG_2X2,
  });
  // A new attempt clears the previous test's error.
  await pageA
    .getByTestId("send-error")
    .waitFor({ state: "detached", timeout: TIMEOUT });

  // Page A: a stored message with just the image, loaded from the server.
  const messageA = pageA.locator('[data-testid="message"][data-confirmed="true"]', {
    has: pageA.locator('img[data-testid="message-image"]'),
  });
  await messageA.waitFor({ timeout: TIMEOUT });
  assert.equal(await messageA.count(), 1);
  assert.equal(await pageA.locator('[data-testid="message"]').count(), before + 1);
  const id = await messageA.getAttribute("data-id");
  const imgA = messageA.locator("img");
  assert.equal(await imgA.getAttribute("alt"), "image from Alice");
  assert.equal(await messageA.locator(".body").count(), 0, "no text, only the image");
  const src = await imgA.getAttribute("src");
  assert.ok(
    src.startsWith(`${baseUrl}/api/storage/`),
    `image src ${src} should be under ${baseUrl}/api/storage/`,
  );
  await imgA.evaluate(
    (img) =>
      img.complete
        ? null
        : new Promise((done) => {
            img.addEventListener("load", done, { once: true });
            img.addEventListener("error", done, { once: true });
          }),
  );
  assert.deepEqual(
    await imgA.evaluate((img) => [img.naturalWidth, img.naturalHeight]),
    [2, 2],
    "the image decoded in the page",
  );
  // The control is ready for the next file.
  assert.ok(await pageA.getByLabel("Attach image").isEnabled());
  assert.equal(await pageA.getByLabel("Attach image").inputValue(), "");

  // The URL serves the uploaded bytes with their content type.
  const res = await fetch(src);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^image\/png/);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG_2X2);

  // Page B: the same message arrives live, image loaded, labelled by author.
  const imgB = pageB.locator(`[data-testid="message"][data-id="${id}"] img`);
  await imgB.waitFor({ timeout: TIMEOUT });
  assert.equal(await imgB.getAttribute("src"), src);
  assert.equal(await imgB.getAttribute("alt"), `image from User ${aliceId.slice(-4)}`);
  await pageB.waitForFunction(
    (messageId) => {
      const img = document.querySelector(
        `[data-testid="message"][data-id="${messageId}"] img`,
      );
      return !!img && img.complete && img.naturalWidth > 0;
    },
    id,
    { timeout: TIMEOUT },
  );
  // ... and the history panel lists it as an image, newest first.
  await pageB
    .getByTestId("history-item")
    .first()
    .filter({ hasText: /image/i })
    .waitFor({ timeout: TIMEOUT });
});

test("search results are live and follow typing", async () => {
  // Last, so the messages it sends do not change the counts checked above.
  const input = pageA.getByTestId("search-input");
  const results = pageA.getByTestId("search-result");
  const settled = '[data-testid="search-results"][aria-busy="false"]';

  await input.fill("zebra");
  await pageA.waitForSelector(settled, { timeout: TIMEOUT });
  assert.equal(await results.count(), 0, "nothing matches yet");

  // Sent from page B: page A's results update without retyping.
  const text = `a zebra crossing ${Date.now()}`;
  await send(pageB, text);
  await results.filter({ hasText: text }).waitFor({ timeout: TIMEOUT });
  assert.equal(await results.count(), 1);

  // An empty box hides the results (and unsubscribes), so what shows after
  // the next typing is that search's own result.
  await input.fill("");
  await pageA
    .getByTestId("search-results")
    .waitFor({ state: "detached", timeout: TIMEOUT });

  // A word being typed matches as a prefix.
  await input.fill("zeb");
  await results.filter({ hasText: text }).waitFor({ timeout: TIMEOUT });
  assert.equal(await results.count(), 1);

  // Removed elsewhere: it leaves the results.
  const id = await results.first().getAttribute("data-id");
  await callMutation("messages:remove", { id });
  await results.first().waitFor({ state: "detached", timeout: TIMEOUT });
  await pageA.waitForSelector(settled, { timeout: TIMEOUT });
});

test("signing in with the dev issuer: the identity shows, messages go out as the user, sign out", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/?issuer=${encodeURIComponent(issuerUrl)}`);
  await page.getByTestId("signin-name").fill("Ada Lovelace");
  await page.getByTestId("signin").click();
  const signedIn = page.getByTestId("signed-in-as");
  await signedIn.waitFor({ timeout: TIMEOUT });
  assert.match(await signedIn.innerText(), /Signed in as Ada Lovelace/);

  const text = `as myself ${Date.now()}`;
  await page.getByTestId("send-as-me-input").fill(text);
  await page.getByTestId("send-as-me").click();
  // It reaches every page, and the server made Ada's user from her token.
  await messages(pageB, text).waitFor({ timeout: TIMEOUT });
  const ada = await fetch(`${baseUrl}/api/query`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ path: "users:byToken", args: { tokenIdentifier: `${issuerUrl}|ada-lovelace` }, format: "json" }),
  }).then((r) => r.json());
  assert.equal(ada.value?.name, "Ada Lovelace", JSON.stringify(ada));

  await page.getByTestId("signout").click();
  await page.getByTestId("signin-name").waitFor({ timeout: TIMEOUT });
  await context.close();
});
