// Debugging aid (not a test): a logging proxy between the official client and
// a convex-rs server. Every WebSocket frame and HTTP request/response passing
// through is printed as one line to stderr, prefixed `C>` (client to server)
// or `S>` (server to client), so a failing e2e test can be turned into a
// message trace for a bug report.
//
// usage: node tools/trace-proxy.js TARGET_URL [LISTEN_PORT]
//   e.g. node tools/trace-proxy.js http://127.0.0.1:3210 3300
// then point the client at http://127.0.0.1:3300.

import http from "node:http";
import WebSocket, { WebSocketServer } from "ws";

const [target, listenPort = "0"] = process.argv.slice(2);
if (!target) {
  console.error("usage: node tools/trace-proxy.js TARGET_URL [LISTEN_PORT]");
  process.exit(2);
}
const targetUrl = new URL(target);
const started = Date.now();
const log = (dir, text) =>
  process.stderr.write(`${String(Date.now() - started).padStart(6)}ms ${dir} ${text}\n`);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    log("C>", `HTTP ${req.method} ${req.url} ${body.toString("utf8")}`);
    const upstream = http.request(
      {
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: targetUrl.host },
      },
      (up) => {
        const out = [];
        up.on("data", (c) => out.push(c));
        up.on("end", () => {
          const text = Buffer.concat(out);
          log("S>", `HTTP ${up.statusCode} ${req.url} ${text.toString("utf8")}`);
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(text);
        });
      },
    );
    upstream.on("error", (err) => {
      log("S>", `HTTP proxy error ${err.message}`);
      res.writeHead(502);
      res.end(String(err));
    });
    upstream.end(body);
  });
});

const wss = new WebSocketServer({ server });
wss.on("connection", (client, req) => {
  const url = `${targetUrl.protocol === "https:" ? "wss" : "ws"}://${targetUrl.host}${req.url}`;
  log("C>", `WS open ${req.url}`);
  const upstream = new WebSocket(url);
  const queue = [];
  upstream.on("open", () => {
    for (const [data, isBinary] of queue) upstream.send(data, { binary: isBinary });
    queue.length = 0;
  });
  client.on("message", (data, isBinary) => {
    log("C>", isBinary ? `<binary ${data.length} bytes>` : data.toString("utf8"));
    if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
    else queue.push([data, isBinary]);
  });
  upstream.on("message", (data, isBinary) => {
    log("S>", isBinary ? `<binary ${data.length} bytes>` : data.toString("utf8"));
    if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  });
  client.on("close", (code, reason) => {
    log("C>", `WS close ${code} ${reason}`);
    upstream.close();
  });
  upstream.on("close", (code, reason) => {
    log("S>", `WS close ${code} ${reason}`);
    if (client.readyState === WebSocket.OPEN) client.close(code === 1005 ? undefined : code, reason);
  });
  upstream.on("error", (err) => log("S>", `WS error ${err.message}`));
  client.on("error", (err) => log("C>", `WS error ${err.message}`));
});

server.listen(Number(listenPort), "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`trace proxy http://127.0.0.1:${port} -> ${target}`);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
