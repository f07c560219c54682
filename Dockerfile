# ArtStore Storage Element image: one image for api, worker and the one-shot migrate service.
# syntax=docker/dockerfile:1
# Node 24 LTS (package.json engines); Node 20 reached end of life in April 2026.
FROM node:24-bookworm-slim AS build
# Install-time telemetry of a transitive dependency (@scarf/scarf via swagger-ui-dist) stays off.
ENV SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8010 \
    STORAGE_PATH=/var/lib/artstore/storage \
    STAGING_PATH=/var/lib/artstore/staging
WORKDIR /app
RUN groupadd --system artstore && useradd --system --gid artstore --home-dir /app artstore \
 && mkdir -p /var/lib/artstore/storage /var/lib/artstore/staging && chown -R artstore:artstore /var/lib/artstore
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY package.json prisma.config.ts ./
USER artstore
EXPOSE 8010
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8010)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# api by default; the compose file runs the worker and migrations from the same image.
CMD ["node", "dist/src/api/main.js"]
