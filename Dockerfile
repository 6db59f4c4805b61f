# gitlab-connect container image: bundle the TypeScript in a build stage (esbuild, scripts/build.mjs), run
# the bundle with production dependencies only (it loads those it leaves out from node_modules), as the
# unprivileged `node` user.

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM node:22-slim AS runtime
ENV HOST=0.0.0.0 NODE_ENV=production PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
# dist/src/server.js carries the migrations (applied at start-up) and finds package.json (the version) itself.
COPY --from=build /app/dist ./dist
# DATA_DIR (./data) is only used without DATABASE_URL; it must be writable by the runtime user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# slim images have no curl: node's own fetch checks liveness.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# What `npm start` runs: V8's new-space semi-spaces capped at 8 MB (16 by default on Node 20), and the old
# space let grow by 20 % over what a full collection leaves (V8 otherwise picks the factor from its
# collection and allocation speeds, and under load let garbage pile up to 159-227 MB of RSS): 93-137 MB
# after the bench's loads (measured on Node 20: README, Benchmark, Memory).
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=20", "dist/src/server.js"]
