import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Balancer } from '../balancer/balancer.ts';
import type { Backend } from '../balancer/backend.ts';
import { HttpClient } from '../backends/http-client.ts';
import { parseConfigText } from '../config/load.ts';
import { seededRandom } from '../../common/clock.ts';
import { ManualTime } from '../../common/manual-time.ts';
import { HealthChecker } from './health-checker.ts';

const client = new HttpClient();

function setup(count: number, router = '') {
  const entries = Array.from(
    { length: count },
    (_, i) =>
      `  - { model_name: b${i}, litellm_params: { api_base: "http://198.18.${Math.floor(i / 250)}.${(i % 250) + 1}:8000", api_format: tei } }`,
  ).join('\n');
  const config = parseConfigText(
    `model_list:\n${entries}\nrouter_settings:\n  health_check_interval: 10\n${router}`,
    't',
    {},
  );
  const time = new ManualTime();
  const balancer = new Balancer(config, { client, clock: time, timers: time, random: seededRandom(7) });
  /** Scripted health: which backends answer, and checks that have not finished yet. */
  const up = new Set<string>();
  const open: (() => void)[] = [];
  let maxRunning = 0;
  const checker = new HealthChecker(config.router.healthCheck, {
    client,
    timers: time,
    random: seededRandom(3),
    check: (b: Backend) =>
      new Promise((resolve) => {
        maxRunning = Math.max(maxRunning, checker.running);
        open.push(() => resolve(up.has(b.spec.name) ? undefined : 'health check failed: connect timed out'));
      }),
  });
  checker.sync(balancer.generation.backends, config.router.healthCheck);
  const settle = async () => {
    while (open.length > 0) {
      for (const finish of open.splice(0)) finish();
      await new Promise((r) => setImmediate(r));
    }
  };
  const eligible = () =>
    balancer.generation.backends.filter((b) => b.isEligible(time.now(), 0)).map((b) => b.spec.name);
  return {
    time,
    balancer,
    checker,
    up,
    settle,
    eligible,
    get maxRunning() {
      return maxRunning;
    },
  };
}

describe('health checks', () => {
  test('backends start unknown and are tried while none has passed; after a pass only checked ones are eligible', async () => {
    const h = setup(3);
    assert.deepEqual(h.eligible(), ['b0', 'b1', 'b2'], 'cold start: nothing checked yet, nothing refused');
    assert.deepEqual(
      h.balancer.generation.backends.map((b) => b.health),
      ['unknown', 'unknown', 'unknown'],
    );
    h.up.add('b1');
    h.time.advance(1000); // every first check falls due within a second
    await h.settle();
    assert.deepEqual(h.eligible(), ['b1'], 'unreachable backends are out as soon as one backend has proven itself');
    h.checker.stop();
  });

  test('a backend ejected by outlier detection serves again from its next passed check, not at the end of the ejection', async () => {
    const h = setup(2);
    h.up.add('b0').add('b1');
    h.time.advance(1000);
    await h.settle();
    const b0 = h.balancer.generation.backends[0]!;
    // Three failed calls in a row ejected it for 30 s (a restarted pod answers again within seconds).
    b0.outlier = { consecutive: 0, ejections: 3, ejectedUntil: h.time.now() + 30_000 };
    assert.deepEqual(h.eligible(), ['b1']);
    h.up.delete('b0');
    h.time.advance(11_000); // a failed check leaves it ejected
    await h.settle();
    assert.deepEqual(h.eligible(), ['b1']);
    h.up.add('b0');
    h.time.advance(11_000);
    await h.settle();
    assert.deepEqual(h.eligible(), ['b0', 'b1'], '19 s before its ejection would have ended');
    assert.equal(b0.outlier.ejections, 3, 'the next ejection is still longer');
    h.checker.stop();
  });

  test('a new backend added by a reload is not eligible until its first check passes', async () => {
    const h = setup(1);
    h.up.add('b0');
    h.time.advance(1000);
    await h.settle();
    const grown = parseConfigText(
      'model_list:\n  - { model_name: b0, litellm_params: { api_base: "http://198.18.0.1:8000", api_format: tei } }\n  - { model_name: new, litellm_params: { api_base: "http://198.18.0.9:8000", api_format: tei } }\nrouter_settings:\n  health_check_interval: 10\n',
      't',
      {},
    );
    h.balancer.apply(grown);
    h.checker.sync(h.balancer.generation.backends, grown.router.healthCheck);
    assert.deepEqual(h.eligible(), ['b0']);
    h.up.add('new');
    h.time.advance(1000);
    await h.settle();
    assert.deepEqual(h.eligible(), ['b0', 'new']);
    h.checker.stop();
  });

  test('a rollout that replaces every known-good backend at once: the new, unchecked ones are tried rather than refusing calls', async () => {
    const h = setup(2);
    h.up.add('b0').add('b1');
    h.time.advance(1000);
    await h.settle();
    const replaced = parseConfigText(
      'model_list:\n  - { model_name: n0, litellm_params: { api_base: "http://198.18.9.1:8000", api_format: tei } }\n  - { model_name: n1, litellm_params: { api_base: "http://198.18.9.2:8000", api_format: tei } }\nrouter_settings:\n  health_check_interval: 10\n',
      't',
      {},
    );
    h.balancer.apply(replaced);
    h.checker.sync(h.balancer.generation.backends, replaced.router.healthCheck);
    assert.deepEqual(h.eligible(), ['n0', 'n1'], 'no backend in service is up: the unknown ones serve');
    h.up.add('n1');
    h.time.advance(1000);
    await h.settle();
    assert.deepEqual(h.eligible(), ['n1'], 'once one has passed, a failing unknown one is out');
    h.checker.stop();
  });

  test('every backend down: an unknown newcomer is tried', async () => {
    const h = setup(1, '  health_check_unhealthy_threshold: 1\n');
    h.time.advance(1000);
    await h.settle();
    assert.equal(h.balancer.generation.backends[0]!.health, 'down');
    const grown = parseConfigText(
      'model_list:\n  - { model_name: b0, litellm_params: { api_base: "http://198.18.0.1:8000", api_format: tei } }\n  - { model_name: new, litellm_params: { api_base: "http://198.18.0.9:8000", api_format: tei } }\nrouter_settings:\n  health_check_interval: 10\n  health_check_unhealthy_threshold: 1\n',
      't',
      {},
    );
    h.balancer.apply(grown);
    h.checker.sync(h.balancer.generation.backends, grown.router.healthCheck);
    assert.deepEqual(h.eligible(), ['new']);
    h.checker.stop();
  });

  test('thresholds: two failures take a backend down, two passes bring it back', async () => {
    const h = setup(2);
    h.up.add('b0').add('b1');
    h.time.advance(1000);
    await h.settle();
    h.up.delete('b0');
    for (let i = 0; i < 2; i++) {
      h.time.advance(11_000);
      await h.settle();
    }
    assert.equal(h.balancer.generation.backends[0]!.health, 'down');
    h.up.add('b0');
    h.time.advance(11_000);
    await h.settle();
    assert.equal(h.balancer.generation.backends[0]!.health, 'down', 'one pass is not enough');
    h.time.advance(11_000);
    await h.settle();
    assert.equal(h.balancer.generation.backends[0]!.health, 'up');
    h.checker.stop();
  });

  test('500 backends: at most health_check_concurrency checks at once, every backend still checked', async () => {
    const h = setup(500, '  health_check_concurrency: 16\n');
    h.up.add('b42');
    h.time.advance(1000);
    await h.settle();
    assert.ok(h.maxRunning <= 16, `max in flight ${h.maxRunning}`);
    assert.equal(
      h.balancer.generation.backends.filter((b) => b.health === 'unknown' && b.healthProblem === undefined).length,
      0,
      'every backend got its first check',
    );
    assert.deepEqual(h.eligible(), ['b42']);
    h.checker.stop();
  });
});
