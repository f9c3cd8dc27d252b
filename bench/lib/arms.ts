/** The arms of the benchmark: one way each to send a rerank call to the same three backends. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, waitForHttp, type Managed } from './processes.ts';

export interface Arm {
  readonly name: string;
  readonly url: string;
  /** Processes whose CPU is the load balancer's (empty for direct). */
  readonly processes: readonly Managed[];
  stop(): Promise<void>;
}

export interface ArmContext {
  readonly root: string;
  readonly work: string;
  readonly backends: readonly { host: string; port: number; name: string }[];
  readonly nodeBin: string;
  readonly venv: string | undefined;
  readonly body: string;
}

let nextPort = 9400;
const port = () => nextPort++;

export function direct(ctx: ArmContext): Arm {
  const b = ctx.backends[0]!;
  return { name: 'A direct', url: `http://${b.host}:${b.port}/rerank`, processes: [], stop: async () => undefined };
}

export async function sidecar(
  ctx: ArmContext,
  strategy: string,
  extraRouter: Record<string, unknown> = {},
): Promise<Arm> {
  const p = port();
  const config = join(ctx.work, `sidecar-${strategy}-${p}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      model_list: ctx.backends.map((b) => ({
        model_name: b.name,
        litellm_params: { api_base: `http://${b.host}:${b.port}`, api_format: 'cohere' },
      })),
      router_settings: {
        routing_strategy: strategy,
        enable_request_logging: false,
        health_check_interval: 2,
        fallback_to_local: false,
        num_retries: 2,
        retry_delay: 0.05,
        ...extraRouter,
      },
    }),
  );
  const proc = start(`sidecar ${strategy}`, ctx.nodeBin, [join(ctx.root, 'sidecar/main.ts')], {
    RERANKER_LOAD_BALANCER_ENABLED: 'true',
    RERANKER_CONFIG_PATH: config,
    RERANKER_LB_PORT: String(p),
    RERANKER_LB_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RERANKER_SHUTDOWN_DELAY_SECONDS: '0',
  });
  await waitForHttp(`http://127.0.0.1:${p}/health`);
  return {
    name: `B sidecar ${strategy}`,
    url: `http://127.0.0.1:${p}/rerank`,
    processes: [proc],
    stop: () => proc.stop(),
  };
}

export async function haproxy(ctx: ArmContext, balance: 'leastconn' | 'roundrobin'): Promise<Arm> {
  const p = port();
  const config = join(ctx.work, `haproxy-${balance}.cfg`);
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 8192',
      '  nbthread 1',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  option http-keep-alive',
      '  retries 2',
      '  option redispatch',
      'frontend fe',
      `  bind 127.0.0.1:${p}`,
      '  default_backend be',
      'backend be',
      `  balance ${balance}`,
      '  option httpchk GET /health',
      '  http-reuse always',
      '  retry-on conn-failure empty-response response-timeout 503 502 504',
      ...ctx.backends.map((b, i) => `  server b${i + 1} ${b.host}:${b.port} check inter 1s fall 2 rise 2 maxconn 2000`),
      '',
    ].join('\n'),
  );
  const proc = start(`haproxy ${balance}`, 'haproxy', ['-db', '-f', config]);
  await waitForHttp(`http://127.0.0.1:${p}/rerank`, 30_000, 'POST', ctx.body);
  return {
    name: `C haproxy ${balance}`,
    url: `http://127.0.0.1:${p}/rerank`,
    processes: [proc],
    stop: () => proc.stop(),
  };
}

export async function nginx(ctx: ArmContext): Promise<Arm> {
  const p = port();
  const dir = join(ctx.work, `nginx-${p}`);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'nginx.conf');
  writeFileSync(
    config,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_body_buffer_size 64k;
  client_max_body_size 10m;
  upstream be {
    least_conn;
    keepalive 256;
${ctx.backends.map((b) => `    server ${b.host}:${b.port} max_fails=3 fail_timeout=5s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${p};
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_next_upstream_tries 3;
    }
  }
}
`,
  );
  const proc = start('nginx', 'nginx', ['-c', config, '-e', 'stderr', '-p', dir]);
  await waitForHttp(`http://127.0.0.1:${p}/rerank`, 30_000, 'POST', ctx.body);
  return {
    name: 'D nginx least_conn',
    url: `http://127.0.0.1:${p}/rerank`,
    processes: [proc],
    stop: () => proc.stop(),
  };
}

export async function litellm(ctx: ArmContext): Promise<Arm | undefined> {
  if (ctx.venv === undefined) return undefined;
  const p = port();
  const config = join(ctx.work, 'litellm.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      model_list: ctx.backends.map((b) => ({
        model_name: 'rerank',
        litellm_params: {
          model: 'cohere/rerank-english-v3.0',
          api_base: `http://${b.host}:${b.port}`,
          api_key: 'bench',
        },
      })),
      router_settings: { routing_strategy: 'simple-shuffle', num_retries: 2 },
      litellm_settings: { drop_params: true, telemetry: false },
    }),
  );
  const proc = start(
    'litellm',
    join(ctx.venv, 'bin', 'litellm'),
    ['--config', config, '--port', String(p), '--host', '127.0.0.1', '--num_workers', '1'],
    {
      LITELLM_LOG: 'ERROR',
      LITELLM_TELEMETRY: 'False',
      DISABLE_ADMIN_UI: 'True',
    },
  );
  await waitForHttp(`http://127.0.0.1:${p}/health/liveliness`, 120_000);
  await waitForHttp(`http://127.0.0.1:${p}/rerank`, 30_000, 'POST', ctx.body);
  return { name: 'E litellm', url: `http://127.0.0.1:${p}/rerank`, processes: [proc], stop: () => proc.stop() };
}
