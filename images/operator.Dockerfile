# The reranker-lb operator. Build from the repo root: make images
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# The operator renders with the sidecar's own config schema, so it ships that code too.
COPY operator ./operator
COPY sidecar ./sidecar
COPY kube ./kube
COPY common ./common
RUN find operator sidecar kube common -name '*.test.ts' -delete
USER 1000:1000
EXPOSE 8081
ENTRYPOINT ["node", "operator/main.ts"]
