/** Routes of the sidecar. Handlers stay thin; the work is in api/, balancer/ and backends/. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ClientFormat } from '../api/canonical.ts';
import type { Balancer } from '../balancer/balancer.ts';
import type { Canary } from '../canary/canary.ts';
import { backendStats } from '../balancer/stats.ts';
import { AWAITING_CONFIGMAP_SOURCE } from '../config/load.ts';
import { LbError } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ConfigReloader } from '../reload/config-reloader.ts';
import type { SourceKind } from '../reload/config-source.ts';
import type { Clock } from '../../common/clock.ts';
import { requireAdmin } from './admin-auth.ts';
import { errorResponse, writeError } from './error-response.ts';
import type { InFlight, RequestTotals } from './in-flight.ts';
import type { ClientLimits } from './client-limits.ts';
import type { Logger } from '../../common/logger.ts';
import { handleRerank, type RerankDeps } from './rerank-handler.ts';
import { discardUnreadBody, hasPlainHost } from './node-request.ts';

export interface AppDeps {
  readonly balancer: Balancer;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly enabled: boolean;
  readonly startedAt: number;
  readonly metrics: Metrics;
  readonly totals: RequestTotals;
  readonly inFlight: InFlight;
  readonly clientLimits: ClientLimits;
  readonly reloader: ConfigReloader;
  readonly adminToken: string | undefined;
  /** Where the config comes from: file, kubernetes (the ConfigMap through the API) or defaults. */
  readonly sourceKind: SourceKind;
  /** False once shutdown has begun. */
  readonly isShuttingDown: () => boolean;
  /** The model-consistency canary's role in the pool (runner, follower, own), for the operator. */
  readonly canary?: Pick<Canary, 'role' | 'lastRoundAt'>;
  /** The discovered endpoints this sidecar follows (sidecar/discovery/). */
  readonly endpoints?: { readonly pending: boolean; report(): Record<string, unknown> };
}

const RERANK_ROUTES: readonly (readonly [string, ClientFormat | undefined])[] = [
  ['/rerank', undefined],
  ['/v1/rerank', 'cohere-v1'],
  ['/v2/rerank', 'cohere-v2'],
  ['/api/v1/rerank', 'jina'],
  ['/vllm/rerank', 'vllm'],
];

function statsBody(deps: AppDeps): Record<string, unknown> {
  const gen = deps.balancer.generation;
  const now = deps.clock.now();
  const wallNow = deps.clock.wallNow();
  const backends = gen.backends.map((b) => backendStats(b, now, wallNow));
  return {
    load_balancer_enabled: deps.enabled,
    routing_strategy: gen.config.router.strategy,
    total_backends: gen.backends.length,
    available_backends: backends.filter((b) => b.available).length,
    backends,
    local_backend: backendStats(gen.local, now, wallNow),
    totals: {
      ...deps.totals.toJSON(),
      in_flight: deps.inFlight.count,
      stalled_answers_cut: deps.clientLimits.stalledCut,
    },
    retry_budget: deps.balancer.retryBudget.toJSON(),
    flow_control: deps.balancer.flow.toJSON(),
    uptime_s: Math.round((wallNow - deps.startedAt) / 1000),
    memory: memoryBody(),
    config: configBody(deps),
  };
}

function memoryBody(): Record<string, number> {
  const m = process.memoryUsage();
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external,
    array_buffers_bytes: m.arrayBuffers,
  };
}

function configBody(deps: AppDeps): Record<string, unknown> {
  const gen = deps.balancer.generation;
  return {
    hash: gen.config.hash,
    generation: gen.number,
    source_kind: deps.sourceKind,
    source: gen.config.source,
    loaded_at: new Date(gen.loadedAt).toISOString(),
    warnings: gen.config.warnings,
    last_reload: deps.reloader.last ?? null,
    // The model-consistency canary's verdicts, for the operator's RerankerPool status.
    inconsistent_backends: gen.backends.filter((b) => b.consistency === 'inconsistent').map((b) => b.spec.name),
    // Whose verdicts those are: the operator copies the runner's into the pool's canary plan.
    canary:
      deps.canary === undefined
        ? null
        : {
            role: deps.canary.role.kind,
            last_round_at:
              deps.canary.lastRoundAt === undefined ? null : new Date(deps.canary.lastRoundAt).toISOString(),
          },
    // `hash` is the settings this sidecar serves; this is the endpoint state it has merged (the
    // digest of the EndpointSlices' names and resourceVersions), which the operator compares with its own.
    endpoints: deps.endpoints?.report() ?? { mode: 'none' },
  };
}

/**
 * Ready: not shutting down, the config has arrived, and a backend that has passed its health check
 * (or is not checked) can take a call — or the local backend can, where it is used.
 */
function isReady(deps: AppDeps): boolean {
  if (deps.isShuttingDown()) return false;
  const gen = deps.balancer.generation;
  if (gen.config.source === AWAITING_CONFIGMAP_SOURCE) return false;
  if (deps.endpoints?.pending === true) return false;
  const now = deps.clock.now();
  // A not-ready endpoint may take calls when nothing else can (panic routing), but it does not make the sidecar ready.
  const serving = gen.backends.some(
    (b) => b.health === 'up' && b.spec.endpoint !== 'not-ready' && b.isEligible(now, 0),
  );
  if (!deps.enabled || gen.config.router.fallbackToLocal) return serving || gen.local.breakerAdmits;
  return serving;
}

function rerankDepsOf(deps: AppDeps): RerankDeps {
  return {
    balancer: deps.balancer,
    logger: deps.logger,
    enabled: deps.enabled,
    now: () => deps.clock.now(),
    metrics: deps.metrics,
    totals: deps.totals,
  };
}

/** Answers one request on Node's request and response, or returns false to leave it to Hono. */
export type NodeRoute = (incoming: IncomingMessage, outgoing: ServerResponse) => boolean;

/**
 * The rerank routes without Hono: a POST to exactly one of their paths (no query string, a plain
 * Host) is answered here; every other request — including a rerank path Hono would also match,
 * such as one with a query string — goes to the Hono app, which calls the same handler.
 */
export function createRerankRoute(deps: AppDeps): NodeRoute {
  const rerankDeps = rerankDepsOf(deps);
  const formats = new Map<string, ClientFormat | undefined>();
  for (const [path, format] of RERANK_ROUTES) {
    formats.set(path, format);
    formats.set(`/lb${path}`, format);
  }
  return function rerankRoute(incoming, outgoing) {
    if (incoming.method !== 'POST') return false;
    const url = incoming.url ?? '';
    if (!formats.has(url) || !hasPlainHost(incoming)) return false;
    handleRerank(incoming, outgoing, rerankDeps, formats.get(url)).then(
      function afterRerank() {
        // A refused body (415, 413) is left unread: thrown away once the answer is out.
        if (incoming.readableEnded) return;
        if (outgoing.writableFinished) discardUnreadBody(incoming);
        else outgoing.once('close', () => discardUnreadBody(incoming));
      },
      function rerankFailed(error: unknown) {
        deps.logger.error({ err: error }, 'internal error');
        if (!outgoing.headersSent)
          writeError(outgoing, new LbError('internal', 500, 'internal error', { cause: error }), undefined);
        else outgoing.destroy();
      },
    );
    return true;
  };
}

export function createApp(deps: AppDeps): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const rerankDeps = rerankDepsOf(deps);
  for (const [path, format] of RERANK_ROUTES) {
    const handler = async function rerank(c: { env: HttpBindings }) {
      await handleRerank(c.env.incoming, c.env.outgoing, rerankDeps, format);
      return RESPONSE_ALREADY_SENT;
    };
    app.post(path, handler);
    app.post(`/lb${path}`, handler);
  }
  app.get('/lb/stats', (c) => c.json(statsBody(deps)));
  app.get('/lb/backends', (c) => c.json({ backends: statsBody(deps).backends }));
  app.get('/lb/config', (c) => c.json(configBody(deps)));
  app.post('/lb/reload', requireAdmin(deps.adminToken), (c) => {
    const outcome = deps.reloader.reload('admin');
    return c.json(outcome, outcome.result === 'failure' ? 422 : 200);
  });
  app.get('/metrics', async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', (c) => {
    const ready = isReady(deps);
    return c.json({ ready, shutting_down: deps.isShuttingDown() }, ready ? 200 : 503);
  });
  app.notFound((c) =>
    errorResponse(new LbError('not_found', 404, `no route for ${c.req.method} ${c.req.path}`), undefined),
  );
  app.onError((error) =>
    errorResponse(
      error instanceof LbError ? error : new LbError('internal', 500, 'internal error', { cause: error }),
      undefined,
    ),
  );
  return app;
}
