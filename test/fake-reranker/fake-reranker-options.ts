/** The fake reranker's command line: one table gives the flags, their defaults and the usage text. */
import { parseArgs } from 'node:util';
import { FAKE_MODES, HEALTHY, behaviourProblem, type Behaviour } from './fake-behaviour.ts';
import type { FakeFormat } from './fake-reranker.ts';

const FORMATS: readonly FakeFormat[] = ['native', 'cohere', 'jina', 'tei', 'vllm', 'infinity'];

interface Flag {
  readonly name: string;
  readonly help: string;
  /** The Behaviour field it sets, if any, and whether its value is a number. */
  readonly behaviour?: keyof Behaviour;
  readonly numeric?: boolean;
  readonly fallback?: string;
}

const FLAGS: readonly Flag[] = [
  { name: 'port', help: 'port to listen on', fallback: '9101' },
  { name: 'host', help: 'address to listen on', fallback: '127.0.0.1' },
  { name: 'format', help: `backend api_format to speak: ${FORMATS.join(', ')}`, fallback: 'native' },
  { name: 'name', help: 'name in answers and logs (default fake-<format>-<port>)' },
  {
    name: 'api-key',
    help: 'require Authorization: Bearer <key> on rerank calls, 401 otherwise (in a pod: $(VAR) of an env from a Secret)',
  },
  { name: 'latency-ms', behaviour: 'latencyMs', numeric: true, help: 'median latency of a rerank call' },
  {
    name: 'latency-sigma',
    behaviour: 'latencySigma',
    numeric: true,
    help: 'log-normal spread around the median, 0 for a fixed latency',
  },
  {
    name: 'latency-per-document',
    behaviour: 'latencyPerDocumentMs',
    numeric: true,
    help: 'added latency in ms per document of the call',
  },
  {
    name: 'scoring',
    behaviour: 'scoring',
    help: 'bm25 (real scores), cheap (fixed scores, for benchmarks) or reversed (BM25 worst first: another model)',
  },
  { name: 'mode', behaviour: 'mode', help: `what rerank calls get: ${FAKE_MODES.join(', ')}` },
  { name: 'status', behaviour: 'status', numeric: true, help: 'status for --mode status' },
  { name: 'retry-after', behaviour: 'retryAfter', help: 'Retry-After header for --mode status (default none)' },
  { name: 'health-status', behaviour: 'healthStatus', numeric: true, help: 'status of GET /health' },
  {
    name: 'reported-tokens',
    behaviour: 'reportedTokens',
    numeric: true,
    help: 'token usage to report instead of the computed count (default computed)',
  },
  {
    name: 'stream-chunk-bytes',
    behaviour: 'streamChunkBytes',
    numeric: true,
    help: 'bytes per write for --mode stream and endless',
  },
  {
    name: 'stream-interval-ms',
    behaviour: 'streamIntervalMs',
    numeric: true,
    help: 'time between writes for --mode stream and endless',
  },
  {
    name: 'stream-duration-ms',
    behaviour: 'streamDurationMs',
    numeric: true,
    help: 'how long --mode stream trickles before the answer',
  },
  { name: 'redirect-status', behaviour: 'redirectStatus', numeric: true, help: 'status for --mode redirect' },
  {
    name: 'redirect-location',
    behaviour: 'redirectLocation',
    help: "Location for --mode redirect (default this fake's /__redirected)",
  },
  { name: 'echo-status', behaviour: 'echoStatus', numeric: true, help: 'status for --mode echo-auth' },
  { name: 'huge-bytes', behaviour: 'hugeBytes', numeric: true, help: 'body size for --mode huge' },
  {
    name: 'reset-every',
    behaviour: 'resetEvery',
    numeric: true,
    help: 'destroy the socket on every Nth rerank call, 0 for never',
  },
  {
    name: 'concurrency',
    behaviour: 'concurrency',
    numeric: true,
    help: 'rerank calls served at once, the rest queue (TEI-like), 0 for unlimited',
  },
  {
    name: 'max-concurrent-requests',
    behaviour: 'maxConcurrentRequests',
    numeric: true,
    help: 'calls held at once (served + queued), past it 429 (TEI --max-concurrent-requests), 0 for unlimited',
  },
  {
    name: 'max-client-batch-size',
    behaviour: 'maxClientBatchSize',
    numeric: true,
    help: 'documents per call told on /info; format tei answers 422 past it (TEI --max-client-batch-size)',
  },
];

function defaultOf(flag: Flag): string | undefined {
  if (flag.fallback !== undefined) return flag.fallback;
  const value = flag.behaviour === undefined ? undefined : HEALTHY[flag.behaviour];
  return value === undefined ? undefined : String(value);
}

export function usage(): string {
  const width = Math.max(...FLAGS.map((f) => f.name.length)) + 2;
  const lines = FLAGS.map((f) => {
    const fallback = defaultOf(f);
    return `  --${f.name.padEnd(width)}${f.help}${fallback === undefined ? '' : ` (default ${fallback})`}`;
  });
  return [
    'Usage: node test/fake-reranker/fake-reranker-cli.ts [options]',
    'A fake reranker on HTTP; POST /__control changes its behaviour at run time, GET /__stats shows counters.',
    '',
    ...lines,
    `  --${'help'.padEnd(width)}print this and exit`,
    '',
  ].join('\n');
}

export interface CliRun {
  readonly port: number;
  readonly host: string;
  readonly format: FakeFormat;
  readonly name: string;
  readonly behaviour: Partial<Behaviour>;
  readonly apiKey?: string;
}

/** 'help' for --help; throws a TypeError naming the flag for anything it cannot use. */
export function parseCli(argv: readonly string[]): CliRun | 'help' {
  const options = Object.fromEntries([
    ...FLAGS.map((f) => [f.name, { type: 'string' as const }]),
    ['help', { type: 'boolean' as const }],
  ]);
  const values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<
    string,
    string | boolean | undefined
  >;
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined => values[name] as string | undefined;
  const behaviour: Record<string, unknown> = {};
  for (const flag of FLAGS) {
    const given = text(flag.name);
    if (flag.behaviour === undefined || given === undefined) continue;
    const value = flag.numeric === true ? Number(given) : given;
    if (flag.numeric === true && (given.trim() === '' || !Number.isFinite(value)))
      throw new TypeError(`--${flag.name}: expected a number, got "${given}"`);
    behaviour[flag.behaviour] = value;
  }
  const problem = behaviourProblem(behaviour);
  if (problem !== undefined) throw new TypeError(problem);
  const format = text('format') ?? 'native';
  if (!(FORMATS as readonly string[]).includes(format))
    throw new TypeError(`--format: expected one of ${FORMATS.join(', ')}`);
  const port = Number(text('port') ?? '9101');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new TypeError('--port: expected 0 to 65535');
  const apiKey = text('api-key');
  if (apiKey === '') throw new TypeError('--api-key: expected a key, got an empty string');
  const run = {
    port,
    host: text('host') ?? '127.0.0.1',
    format: format as FakeFormat,
    name: text('name') ?? `fake-${format}-${port}`,
    behaviour,
  };
  return apiKey === undefined ? run : { ...run, apiKey };
}
