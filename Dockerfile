# The chat example in a container: `docker build -t convex-rs-chat . &&
# docker run -p 3210:3210 -v convex-data:/data convex-rs-chat`, then open
# http://127.0.0.1:3210. Not built in CI (no image pulls there); it runs the
# same commands as scripts/chat.

# 1. The React page.
FROM node:20-bookworm-slim AS web
WORKDIR /src/examples/chat/web
COPY examples/chat/web/package.json examples/chat/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY examples/chat/web/ ./
RUN npm run build

# 2. The server, release build.
FROM rust:1-bookworm AS server
WORKDIR /src
COPY . .
RUN cargo build --release -p chat && cp target/release/chat /usr/local/bin/chat

# 3. A small runtime image: the binary, the page, a data volume.
FROM debian:bookworm-slim
RUN useradd --system --home-dir /data convex && mkdir -p /data && chown convex /data
COPY --from=server /usr/local/bin/chat /usr/local/bin/chat
COPY --from=web /src/examples/chat/web/dist /srv/chat
USER convex
VOLUME /data
EXPOSE 3210 3211
ENV CONVEX_LISTEN=0.0.0.0:3210 CONVEX_SITE_LISTEN=0.0.0.0:3211 CONVEX_DATA=/data
CMD ["chat", "serve", "--static-dir", "/srv/chat"]
