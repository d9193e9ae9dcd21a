# syntax=docker/dockerfile:1

# Node 24 (LTS): Node 20 reached its end of life on 2026-04-30. package.json's engines still
# accept 20.18 and later for a checkout.
# Build: the dependencies exactly as the lockfile pins them (devDependencies included: tsc),
# then type-check and compile src/ and views/ to dist/ (a type error fails the build), then drop
# the devDependencies from the same node_modules: no second resolve.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY views ./views
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# Run: the compiled JavaScript and the production dependencies, as the unprivileged `node` user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
# dist/src/main.js finds the project root by package.json (src/project-path.ts): migrations/
# and the stylesheet and icon in views/ are read from there; htmx comes from node_modules.
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY views/app.css views/favicon.svg ./views/
COPY app.yml ./
# Without DATABASE_URL, the embedded PostgreSQL keeps its files in /data: mount a volume there
# (`docker run -v runboard-data:/data ...`). Not declared as a VOLUME, so a stack with
# DATABASE_URL (docker-compose.yml) gets no unused anonymous volume.
RUN mkdir -p /data && chown node:node /data && chmod 755 /data
USER node
EXPOSE 3000
# /health answers 200 only when the database does; it needs no login.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 receives SIGTERM from `docker stop` directly and shuts down gracefully. Young
# generation of 64 MB semi-spaces, as `npm start` runs it (README, "Benchmarks"): fewer and shorter
# garbage-collection pauses under webhook load.
CMD ["node", "--max-semi-space-size=64", "dist/src/main.js"]
