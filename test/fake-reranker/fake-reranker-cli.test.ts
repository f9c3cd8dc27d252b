/** The fake reranker's command line, as a process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseCli, type CliRun } from './fake-reranker-options.ts';

const CLI = fileURLToPath(new URL('./fake-reranker-cli.ts', import.meta.url));
const FLAGS = [
  'port',
  'host',
  'format',
  'name',
  'api-key',
  'latency-ms',
  'latency-sigma',
  'scoring',
  'mode',
  'status',
  'retry-after',
  'health-status',
  'reported-tokens',
  'stream-chunk-bytes',
  'stream-interval-ms',
  'stream-duration-ms',
  'redirect-status',
  'redirect-location',
  'echo-status',
  'huge-bytes',
  'reset-every',
  'help',
];

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
}

test('--help prints every flag and exits 0', () => {
  const result = run('--help');
  assert.equal(result.status, 0, result.stderr);
  for (const flag of FLAGS) assert.match(result.stdout, new RegExp(`^  --${flag} `, 'm'), `--${flag} missing`);
  for (const mode of ['stream', 'endless', 'redirect', 'echo-auth', 'short', 'huge', 'hang-after-headers'])
    assert.ok(result.stdout.includes(mode), mode);
});

test('an unknown flag, mode or number exits 2 with the reason and the usage', () => {
  for (const args of [['--bogus'], ['--mode', 'explode'], ['--huge-bytes', 'lots'], ['--format', 'grpc']]) {
    const result = run(...args);
    assert.equal(result.status, 2, args.join(' '));
    assert.match(result.stderr, /Usage:/);
  }
});

test('flags become the starting behaviour', () => {
  assert.deepEqual(
    parseCli([
      '--port',
      '0',
      '--format',
      'tei',
      '--mode',
      'stream',
      '--stream-chunk-bytes',
      '10',
      '--stream-interval-ms',
      '5',
      '--stream-duration-ms',
      '100',
      '--reset-every',
      '3',
    ]),
    {
      port: 0,
      host: '127.0.0.1',
      format: 'tei',
      name: 'fake-tei-0',
      behaviour: { mode: 'stream', streamChunkBytes: 10, streamIntervalMs: 5, streamDurationMs: 100, resetEvery: 3 },
    },
  );
  assert.deepEqual(
    (parseCli(['--mode', 'redirect', '--redirect-status', '308', '--redirect-location', 'http://x/']) as CliRun)
      .behaviour,
    { mode: 'redirect', redirectStatus: 308, redirectLocation: 'http://x/' },
  );
  assert.equal((parseCli(['--api-key', 'k-1']) as CliRun).apiKey, 'k-1');
  assert.throws(() => parseCli(['--api-key', '']), /--api-key/);
  assert.equal(parseCli(['--help']), 'help');
});
