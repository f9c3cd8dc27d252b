/** Defaults and placement of the splitting, hedging and canary settings. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigText } from './load.ts';

const entry = (name: string, format: string, extra = '', params = '') =>
  `  - { model_name: ${name}, ${extra} litellm_params: { api_base: "http://${name}.test", api_format: ${format} ${params} } }`;

describe('per-call limits', () => {
  test('defaults by api_format: tei 32 documents, cohere 1000, others unlimited; entry or litellm_params override', () => {
    const config = parseConfigText(
      [
        'model_list:',
        entry('t', 'tei'),
        entry('c', 'cohere'),
        entry('v', 'vllm'),
        entry('e', 'tei', 'max_documents_per_call: 64,'),
        entry('p', 'native', '', ', max_documents_per_call: 8, max_tokens_per_call: 4000'),
      ].join('\n'),
      't',
      {},
    );
    assert.deepEqual(
      config.backends.map((b) => [b.name, b.maxDocumentsPerCall ?? null, b.maxTokensPerCall ?? null]),
      [
        ['t', 32, null],
        ['c', 1000, null],
        ['v', null, null],
        ['e', 64, null],
        ['p', 8, 4000],
      ],
    );
  });
});

describe('router settings', () => {
  test('off by default: no sharding, no hedging, no canary', () => {
    const r = parseConfigText('model_list: []', 't', {}).router;
    assert.deepEqual(
      [r.shardMinDocuments, r.hedging, r.canary.intervalMs, r.canary.action],
      [undefined, { enabled: false, afterMs: undefined, budgetPercent: 10 }, 0, 'flag'],
    );
    assert.ok(r.canary.documents.length >= 3);
  });

  test('seconds become milliseconds; the canary takes its own query and documents', () => {
    const r = parseConfigText(
      'router_settings: { shard_min_documents: 200, hedging: true, hedge_after: 0.25, canary: { interval: 300, query: q, documents: [a, b, c], action: eject, threshold: 0.8 } }',
      't',
      {},
    ).router;
    assert.deepEqual(
      [
        r.shardMinDocuments,
        r.hedging.afterMs,
        r.canary.intervalMs,
        r.canary.query,
        r.canary.documents,
        r.canary.action,
        r.canary.threshold,
      ],
      [200, 250, 300_000, 'q', ['a', 'b', 'c'], 'eject', 0.8],
    );
  });

  test('readable errors at the edges', () => {
    assert.throws(
      () => parseConfigText('router_settings: { canary: { interval: 60, action: drop } }', 't', {}),
      /canary\.action/,
    );
    assert.throws(() => parseConfigText('router_settings: { shard_min_documents: 1 }', 't', {}), /shard_min_documents/);
    assert.throws(
      () => parseConfigText('router_settings: { canary: { documents: [a] } }', 't', {}),
      /canary\.documents/,
    );
  });
});
