/** Canary rounds over real Backend machinery with a scripted send: flag, eject, recovery. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RankedAnswer, RerankRequest } from '../api/canonical.ts';
import { HttpClient } from '../backends/http-client.ts';
import type { SendTarget } from '../backends/send-rerank.ts';
import { parseConfigText } from '../config/load.ts';
import { ManualTime } from '../../common/manual-time.ts';
import { Balancer } from '../balancer/balancer.ts';
import { Canary } from './canary.ts';
import { roleFor } from './canary-role.ts';

function lab(canary: string, models: Record<string, string> = {}) {
  const names = ['a', 'b', 'c'];
  const entries = names
    .map(
      (n) =>
        `  - { model_name: ${n}, litellm_params: { api_base: "http://${n}.test:80"${models[n] ? `, model: ${models[n]}` : ''} } }`,
    )
    .join('\n');
  const config = parseConfigText(
    `model_list:\n${entries}\nrouter_settings:\n  health_check_interval: 0\n  canary: ${canary}\n`,
    't',
    {},
  );
  const time = new ManualTime();
  const scoring: Record<string, 'good' | 'reversed' | 'down'> = { a: 'good', b: 'good', c: 'good' };
  const sent: string[] = [];
  const send = async (to: SendTarget, request: RerankRequest): Promise<RankedAnswer> => {
    const name = new URL(to.target.origin).hostname.replace('.test', '');
    sent.push(name);
    if (scoring[name] === 'down') throw new Error('down');
    const results = request.documents
      .map((_d, index) => ({ index, score: scoring[name] === 'good' ? -index : index }))
      .sort((x, y) => y.score - x.score);
    return { results, model: undefined, tokens: 1, usageSource: 'body' };
  };
  const balancer = new Balancer(config, {
    client: new HttpClient(),
    send,
    clock: time,
    timers: time,
    random: () => 0.5,
  });
  const backends = balancer.generation.backends;
  const runner = new Canary({ clock: time, timers: time });
  runner.sync(backends, config.router.canary);
  const by = (name: string) => backends.find((b) => b.spec.name === name)!;
  return { balancer, time, scoring, sent, runner, by, config };
}

describe('model-consistency canary', () => {
  test('off by default: no canary call', async () => {
    const t = lab('{}');
    t.time.advance(120_000);
    assert.deepEqual(t.sent, []);
    t.runner.stop();
    t.balancer.close();
  });

  test('flag: the odd backend is inconsistent in stats, still eligible', async () => {
    const t = lab('{ interval: 60 }');
    t.scoring.c = 'reversed';
    await t.runner.runOnce();
    assert.deepEqual(
      ['a', 'b', 'c'].map((n) => t.by(n).consistency),
      ['consistent', 'consistent', 'inconsistent'],
    );
    assert.equal(t.by('c').canary?.correlation, -1);
    assert.equal(t.by('c').isEligible(t.time.now(), 0), true);
    t.runner.stop();
    t.balancer.close();
  });

  test('eject: the odd backend is not eligible until a later round agrees', async () => {
    const t = lab('{ interval: 60, action: eject }');
    t.scoring.c = 'reversed';
    await t.runner.runOnce();
    assert.equal(t.by('c').isEligible(t.time.now(), 0), false);
    t.scoring.c = 'good';
    await t.runner.runOnce();
    assert.deepEqual([t.by('c').consistency, t.by('c').isEligible(t.time.now(), 0)], ['consistent', true]);
    t.runner.stop();
    t.balancer.close();
  });

  test('a failed canary call keeps the last conclusion', async () => {
    const t = lab('{ interval: 60, action: eject }');
    t.scoring.c = 'reversed';
    await t.runner.runOnce();
    t.scoring.c = 'down';
    await t.runner.runOnce();
    assert.deepEqual([t.by('c').consistency, t.by('c').canary?.problem], ['inconsistent', 'the canary call failed']);
    t.runner.stop();
    t.balancer.close();
  });

  test('rounds run on the timer, every backend each time', async () => {
    const t = lab('{ interval: 60 }');
    t.time.advance(1000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent.sort(), ['a', 'b', 'c']);
    t.time.advance(60_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(t.sent.length, 6);
    t.runner.stop();
    t.balancer.close();
  });

  test('backends of different configured models are compared within their model only', async () => {
    const t = lab('{ interval: 60 }', { c: 'other-model' });
    t.scoring.c = 'reversed';
    await t.runner.runOnce();
    assert.deepEqual(
      ['a', 'b', 'c'].map((n) => t.by(n).consistency),
      ['consistent', 'consistent', 'unknown'],
    );
    t.runner.stop();
    t.balancer.close();
  });

  test('turning the canary off clears its verdicts and ejections', async () => {
    const t = lab('{ interval: 60, action: eject }');
    t.scoring.c = 'reversed';
    await t.runner.runOnce();
    t.runner.sync(t.balancer.generation.backends, { ...t.config.router.canary, intervalMs: 0 });
    assert.deepEqual([t.by('c').consistency, t.by('c').isEligible(t.time.now(), 0)], ['unknown', true]);
    t.runner.stop();
    t.balancer.close();
  });
});

describe('one canary per pool: the plan names the runner', () => {
  test("a follower makes no canary call and takes the runner's verdicts; eject applies them", async () => {
    const t = lab('{ interval: 60, action: eject }');
    t.runner.setRole(roleFor({ runner: 'pod-a', inconsistent: ['c'], judgedAt: '2026-12-03T06:00:00Z' }, 'pod-b'));
    t.time.advance(10 * 60_000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent, [], 'no canary call from a follower in 10 intervals');
    assert.deepEqual(
      ['a', 'b', 'c'].map((n) => t.by(n).consistency),
      ['unknown', 'unknown', 'inconsistent'],
    );
    assert.equal(t.by('c').isEligible(t.time.now(), 0), false);
    assert.equal(t.by('c').canary?.at, Date.parse('2026-12-03T06:00:00Z'));
    t.runner.setRole(roleFor({ runner: 'pod-a', inconsistent: ['c'], judgedAt: 'not a time' }, 'pod-b'));
    assert.equal(t.by('c').canary?.at, t.time.wallNow(), 'an unreadable time in the plan: now');
    // The runner withdraws the verdict: the backend comes back.
    t.runner.setRole(roleFor({ runner: 'pod-a', inconsistent: [], judgedAt: '2026-12-03T06:01:00Z' }, 'pod-b'));
    assert.deepEqual([t.by('c').consistency, t.by('c').isEligible(t.time.now(), 0)], ['unknown', true]);
    t.runner.stop();
    t.balancer.close();
  });

  test('the runner calls every backend each interval, as an own canary does; a reload keeps a follower silent', async () => {
    const t = lab('{ interval: 60 }');
    t.runner.setRole(roleFor({ runner: 'pod-a', inconsistent: [], judgedAt: undefined }, 'pod-a'));
    t.time.advance(1000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent.sort(), ['a', 'b', 'c']);
    assert.equal(t.runner.lastRoundAt, t.time.wallNow());
    t.runner.setRole(roleFor({ runner: 'pod-z', inconsistent: [], judgedAt: undefined }, 'pod-a'));
    t.runner.sync(t.balancer.generation.backends, t.config.router.canary);
    t.time.advance(5 * 60_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(t.sent.length, 3, 'no more calls once another pod runs it');
    t.runner.stop();
    t.balancer.close();
  });

  test('waiting for the plan: no calls; told to run its own, it starts within a second', async () => {
    const t = lab('{ interval: 60 }');
    t.runner.setRole({ kind: 'waiting' });
    t.time.advance(120_000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent, []);
    t.runner.setRole(roleFor(undefined, 'pod-a'));
    t.time.advance(1000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.sent.sort(), ['a', 'b', 'c']);
    t.runner.stop();
    t.balancer.close();
  });
});
