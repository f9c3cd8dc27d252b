# The reranker-lb sidecar (also the gateway). Build from the repo root: make images
# Node 24 runs the TypeScript sources directly (type stripping); only production dependencies.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY sidecar ./sidecar
COPY kube ./kube
COPY common ./common
RUN find sidecar kube common -name '*.test.ts' -delete
# Non-root; nothing is written at run time, so a read-only root filesystem works.
USER 1000:1000
EXPOSE 8000
# Node is PID 1 and handles SIGTERM itself (readiness off, drain, exit 0).
ENTRYPOINT ["node", "sidecar/main.ts"]
