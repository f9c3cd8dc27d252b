import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { parseConfigText } from '../config/load.ts';
import type { LbConfig } from '../config/model.ts';
import { ConfigError } from '../errors.ts';
import { createLogger } from '../../common/logger.ts';
import { ManualTime } from '../../common/manual-time.ts';
import { ConfigReloader } from './config-reloader.ts';
import { ConfigFileWatcher, isConfigEvent } from './file-watcher.ts';
import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const silent = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
const yaml =
  'model_list:\n  - { model_name: a, litellm_params: { api_base: "http://a:1", api_key: "os.environ/K" } }\n';

function reloaderOver(initial: LbConfig) {
  let current = initial;
  const counted: string[] = [];
  const time = new ManualTime();
  const reloader = new ConfigReloader({
    load: () => current,
    current: () => ({ hash: current.hash, keyDigest: current.keyDigest, generation: 1 }),
    apply: (config) => {
      current = config;
    },
    logger: silent,
    count: (r) => counted.push(r),
    clock: time,
  });
  return {
    reloader,
    counted,
    get current() {
      return current;
    },
  };
}

describe('config reloader', () => {
  test('the same YAML with a rotated key is applied; the same YAML and key is unchanged', () => {
    const r = reloaderOver(parseConfigText(yaml, 't', { K: 'one' }));
    assert.equal(r.reloader.reload('timer', () => parseConfigText(yaml, 't', { K: 'one' })).result, 'unchanged');
    assert.equal(r.reloader.reload('timer', () => parseConfigText(yaml, 't', { K: 'two' })).result, 'success');
    assert.equal(r.current.backends[0]!.apiKey, 'two');
    assert.deepEqual(r.counted, ['unchanged', 'success']);
  });

  test('a refused reload is remembered with its trigger and problems (shown in /lb/stats)', () => {
    const r = reloaderOver(parseConfigText(yaml, 't', { K: 'one' }));
    r.reloader.reload('signal', () => {
      throw new ConfigError('t', ['model_list[0].weight: expected number >= 0, got -1']);
    });
    assert.deepEqual(
      { ...r.reloader.last, at: undefined },
      {
        result: 'failure',
        trigger: 'signal',
        at: undefined,
        problems: ['model_list[0].weight: expected number >= 0, got -1'],
      },
    );
  });
});

describe('config file watcher', () => {
  const cases: [string | null, boolean][] = [
    ['reranker_config.yaml', true],
    ['..data', true], // the kubelet's atomic swap of a mounted ConfigMap
    [null, true],
    ['sidecar.log', false],
    ['.reranker_config.yaml.swp', false],
    ['..2026_11_27_10_00_00.123', false],
  ];
  for (const [filename, relevant] of cases) {
    test(`${filename ?? '(no name)'} ${relevant ? 'triggers' : 'does not trigger'} a reload`, () => {
      assert.equal(isConfigEvent('/etc/reranker/reranker_config.yaml', filename), relevant);
    });
  }
});

describe('the file watcher in a real directory', () => {
  test('a log file written beside the config schedules no reload; the config written after it schedules one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlb-watch-'));
    const config = join(dir, 'reranker_config.yaml');
    writeFileSync(config, yaml);
    // inotify delivers a directory's events in order: once the config's event has scheduled its
    // debounce, the log file's earlier event has been seen too. Every scheduled debounce is counted.
    const time = new ManualTime();
    let scheduled = 0;
    const timers = {
      setTimeout(fn: () => void, ms: number) {
        scheduled++;
        return time.setTimeout(fn, ms);
      },
      clearTimeout: (h: unknown) => time.clearTimeout(h),
    };
    const triggers: string[] = [];
    const watcher = new ConfigFileWatcher({ path: config, timers, recheckMs: 0, onChange: (t) => triggers.push(t) });
    watcher.start();
    try {
      appendFileSync(join(dir, 'sidecar.log'), '{"msg":"config reload refused"}\n');
      // A rename is one event for the config's name (a write may be several).
      writeFileSync(join(dir, 'next.tmp'), yaml + '# edited\n');
      renameSync(join(dir, 'next.tmp'), config);
      while (scheduled === 0) await new Promise((r) => setTimeout(r, 5));
      time.advance(100);
      assert.deepEqual([scheduled, triggers], [1, ['file']], 'only the config file counted');
    } finally {
      watcher.stop();
    }
  });
});
