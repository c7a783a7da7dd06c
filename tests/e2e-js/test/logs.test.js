// `serve --log-format json`: every log line on standard error is one JSON
// object (timestamp, level, target, fields) that a log collector can parse;
// the default text format writes none. Standard output keeps its plain
// `listening on` lines either way.

import { test } from "node:test";
import assert from "node:assert/strict";
import { sleep, startServer } from "./harness.js";

/** The lines of a server's output that look like JSON objects, parsed. */
function jsonLines(output) {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch (e) {
        assert.fail(`a log line is not JSON: ${line} (${e.message})`);
      }
    });
}

test("--log-format json writes one JSON object per log line", { timeout: 60_000 }, async () => {
  const server = await startServer("chat", { args: ["--log-format", "json"] });
  try {
    // The log line follows the plain ready lines on the other stream.
    const listening = `listening on ${server.url}`;
    for (let i = 0; i < 100 && !server.output().includes(`"message":"${listening}"`); i++) {
      await sleep(50);
    }
    const output = server.output();
    const logs = jsonLines(output);
    assert.ok(logs.length > 0, `no JSON log lines in:\n${output}`);
    for (const log of logs) {
      assert.equal(typeof log.timestamp, "string");
      assert.match(log.level, /^(TRACE|DEBUG|INFO|WARN|ERROR)$/);
      assert.equal(typeof log.target, "string");
      assert.equal(typeof log.fields?.message, "string");
    }
    assert.ok(
      logs.some((log) => log.fields.message === listening),
      "the listening line is logged as JSON",
    );
    assert.match(output, new RegExp(`^listening on ${server.url}$`, "m"), "stdout keeps its plain line");
  } finally {
    await server.stop();
  }
});

test("the default text format writes no JSON", { timeout: 60_000 }, async () => {
  const server = await startServer("chat");
  try {
    assert.deepEqual(jsonLines(server.output()), []);
    assert.match(server.output(), /INFO/);
  } finally {
    await server.stop();
  }
});
