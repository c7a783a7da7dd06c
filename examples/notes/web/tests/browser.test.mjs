// Headless-browser test of the notes front end against the real `notes`
// binary, with `embeddings-standin` as its embeddings endpoint.
//
//   npm run build && npm run test:browser
//
// Env: NOTES_BIN (default ../../../target/debug/notes), STANDIN_BIN (default
// ../../../target/debug/embeddings-standin), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT (default ../../../target/browser-test/notes.png).
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
const notesBin = resolve(
  webDir,
  process.env.NOTES_BIN ?? "../../../target/debug/notes",
);
const standinBin = resolve(
  webDir,
  process.env.STANDIN_BIN ?? "../../../target/debug/embeddings-standin",
);
const distDir = join(webDir, "dist");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshotPath = resolve(
  webDir,
  process.env.SCREENSHOT ?? "../../../target/browser-test/notes.png",
);
const TIMEOUT = 10_000;

let standin; // { child, url, log }
let server; // { child, url, log }
let dataDir;
let browser;
let page; // adds notes and watches the similar list
let other; // a second page (own browser context) that adds a note

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

/**
 * Spawn `bin args` and wait (30 s at most) for `listening on http://ADDR` in
 * its output; resolves with the child and that URL.
 */
function start(name, bin, args, env) {
  return new Promise((resolveStart, reject) => {
    const proc = { child: null, url: null, log: "" };
    const child = spawn(bin, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    proc.child = child;
    const timer = setTimeout(() => {
      stop(proc);
      reject(
        new Error(`${name} did not print "listening on" within 30 s:\n${proc.log}`),
      );
    }, 30_000);
    const onData = (chunk) => {
      proc.log += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(proc.log);
      if (m && proc.url === null) {
        proc.url = m[1].replace(/\/$/, "");
        clearTimeout(timer);
        resolveStart(proc);
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
          `${name} exited early (code ${code}, signal ${signal}):\n${proc.log}`,
        ),
      );
    });
  });
}

/** Stop a process started by `start` (by its PID): SIGTERM, SIGKILL after 5 s. */
function stop(proc) {
  return new Promise((done) => {
    const child = proc?.child;
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

async function openPage(name) {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 760 },
  });
  const p = await context.newPage();
  p.on("pageerror", (err) => console.error(`[${name}] page error:`, err));
  p.on("console", (msg) => {
    if (msg.type() === "error") console.error(`[${name}] console:`, msg.text());
  });
  await p.goto(server.url);
  return p;
}

/** Add a note through the page's form and wait until the form is cleared. */
async function addNote(p, { title, body, tag }) {
  await p.getByTestId("note-title").fill(title);
  await p.getByTestId("note-body").fill(body);
  await p.getByTestId("note-tag").selectOption(tag);
  await p.getByTestId("add-note").click();
  // The action resolved (and stored the note) once the form is empty again.
  await p.waitForFunction(
    () =>
      document.querySelector('[data-testid="note-title"]').value === "" &&
      !document.querySelector('[data-testid="add-note"]').disabled,
    null,
    { timeout: TIMEOUT },
  );
  assert.equal(await p.getByTestId("add-error").count(), 0, "no add error");
}

/** The similar list's rows as {title, tag, score} (the score as shown). */
function similarRows(p) {
  return p.evaluate(() =>
    [...document.querySelectorAll('[data-testid="similar-note"]')].map(
      (li) => ({
        title: li.querySelector(".title").textContent,
        tag: li.querySelector(".tag").textContent,
        score: li.querySelector(".score").textContent,
      }),
    ),
  );
}

/** Wait until the similar list's titles, top first, are `titles`. */
async function waitForSimilarTitles(p, titles) {
  try {
    await p.waitForFunction(
      (want) =>
        JSON.stringify(
          [...document.querySelectorAll('[data-testid="similar-note"] .title')].map(
            (el) => el.textContent,
          ),
        ) === JSON.stringify(want),
      titles,
      { timeout: TIMEOUT },
    );
  } catch (err) {
    err.message += `\nsimilar list: ${JSON.stringify(await similarRows(p))}`;
    throw err;
  }
}

before(async () => {
  for (const [bin, build] of [
    [notesBin, "cargo build -p notes --bins"],
    [standinBin, "cargo build -p notes --bins"],
  ]) {
    assert.ok(existsSync(bin), `${bin} not found (${build})`);
  }
  assert.ok(
    existsSync(join(distDir, "index.html")),
    `no ${distDir}/index.html (npm run build)`,
  );
  standin = await start("embeddings-standin", standinBin, [
    "--listen",
    "127.0.0.1:0",
  ]);
  dataDir = mkdtempSync(join(tmpdir(), "notes-browser-test-"));
  const port = await freePort();
  server = await start(
    "notes",
    notesBin,
    [
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--site-listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
      "--static-dir",
      distDir,
    ],
    { EMBEDDINGS_URL: standin.url },
  );
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
  page = await openPage("A");
  other = await openPage("B");
});

after(async () => {
  if (page) {
    try {
      mkdirSync(dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: screenshotPath, fullPage: true });
      console.log(`screenshot: ${screenshotPath}`);
    } catch (err) {
      console.error("screenshot failed:", err);
    }
  }
  try {
    await browser?.close();
  } finally {
    await stop(server);
    await stop(standin);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the similar list follows notes added through the form, live", async () => {
  await page.getByTestId("similar-input").fill("cats sleep");
  // Embedded (after the debounce) and subscribed: nothing there yet.
  await page.waitForSelector('[data-testid="similar-list"][aria-busy="false"]', {
    timeout: TIMEOUT,
  });
  assert.equal(await page.getByTestId("similar-note").count(), 0);
  assert.match(await page.getByTestId("similar-list").innerText(), /no notes/i);

  // Added with the form (notes:addText embeds title and text on the server):
  // the list shows each one without retyping.
  await addNote(page, {
    title: "Cats",
    body: "cats sleep all day",
    tag: "home",
  });
  await waitForSimilarTitles(page, ["Cats"]);
  await addNote(page, {
    title: "Rockets",
    body: "rocket engines",
    tag: "work",
  });
  await waitForSimilarTitles(page, ["Cats", "Rockets"]);

  const rows = await similarRows(page);
  assert.equal(rows[0].tag, "home");
  assert.equal(rows[1].tag, "work");
  for (const { score } of rows) assert.match(score, /^-?\d\.\d{3}$/, "3 decimals");
  assert.ok(
    Number(rows[0].score) > Number(rows[1].score),
    `the cat note ranks first: ${JSON.stringify(rows)}`,
  );

  // A closer note, added from another page, appears on top by itself: its
  // text has exactly the words searched for.
  await addNote(other, {
    title: "Cats sleep",
    body: "cats sleep",
    tag: "ideas",
  });
  await waitForSimilarTitles(page, ["Cats sleep", "Cats", "Rockets"]);
  const [top] = await similarRows(page);
  assert.deepEqual(top, { title: "Cats sleep", tag: "ideas", score: "1.000" });
});

test("changing the text searches again; clearing it hides the list", async () => {
  const input = page.getByTestId("similar-input");
  await input.fill("rocket engines");
  await page.waitForFunction(
    () =>
      document.querySelector('[data-testid="similar-note"] .title')
        ?.textContent === "Rockets",
    null,
    { timeout: TIMEOUT },
  );
  await input.fill("");
  await page
    .getByTestId("similar-list")
    .waitFor({ state: "detached", timeout: TIMEOUT });
  // Back to the first search for the screenshot.
  await input.fill("cats sleep");
  await waitForSimilarTitles(page, ["Cats sleep", "Cats", "Rockets"]);
});

test("text search finds notes by their words, live", async () => {
  const input = page.getByTestId("search-input");
  const results = page.getByTestId("text-result");
  await input.fill("engines");
  await results.filter({ hasText: "Rockets" }).waitFor({ timeout: TIMEOUT });
  assert.equal(await results.count(), 1);

  // Added from the other page: it joins the results.
  await addNote(other, {
    title: "Jet",
    body: "jet engines are loud",
    tag: "work",
  });
  await results.filter({ hasText: "Jet" }).waitFor({ timeout: TIMEOUT });
  assert.equal(await results.count(), 2);
});

test("an empty note is refused in the page", async () => {
  await page.getByTestId("note-title").fill("");
  await page.getByTestId("note-body").fill("  ");
  await page.getByTestId("add-note").click();
  const error = page.getByTestId("add-error");
  await error.waitFor({ timeout: TIMEOUT });
  assert.match(await error.innerText(), /title or some text/i);
});
