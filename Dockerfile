# syntax=docker/dockerfile:1

# Build: every dependency, then type-check and compile src/ and views/ to dist/ (tsc does both:
# a type error fails the build).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install`, not `npm ci`: the lockfile leaves out other platforms' optional packages, which
# `npm ci` counts as out of sync; the versions it pins are still the ones installed.
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY views ./views
RUN npm run build

# Run: production dependencies only, as the unprivileged `node` user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
# tsx and typescript are dependencies so that `npm start` works from a checkout; the image runs
# the compiled JavaScript and needs neither (nor esbuild, which tsx brings).
RUN npm install --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/tsx node_modules/typescript node_modules/esbuild node_modules/@esbuild node_modules/.bin/tsx node_modules/.bin/tsc node_modules/.bin/tsserver node_modules/.bin/esbuild \
 && npm cache clean --force
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
# node as PID 1 receives SIGTERM from `docker stop` directly and shuts down gracefully.
CMD ["node", "dist/src/main.js"]
