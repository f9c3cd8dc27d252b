/** Every client format in, every backend api_format out, through the real sidecar. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { post, QUERY, startPool, type Pool } from '../support/harness.ts';
import type { FakeFormat } from '../fake-reranker/fake-reranker.ts';

const FORMATS: FakeFormat[] = ['native', 'cohere', 'jina', 'tei', 'vllm', 'infinity'];
let p: Pool;
before(async () => {
  p = await startPool(
    FORMATS.map((format) => ({ name: format, format })),
    { routing_strategy: 'round-robin' },
  );
});
after(() => p.close());

describe('client formats', () => {
  test('native /rerank: top_n and documents applied by the sidecar', async () => {
    const reply = await post(p.url, '/rerank', { ...QUERY, top_n: 2 });
    assert.equal(reply.status, 200);
    assert.deepEqual(
      reply.body.results.map((r: any) => [r.index, r.document]),
      [
        [0, QUERY.documents[0]],
        [1, QUERY.documents[1]],
      ],
    );
    assert.ok(reply.headers.get('x-request-id'));
  });

  test('TEI /rerank with texts: bare array, every text, sorted by score', async () => {
    const reply = await post(p.url, '/rerank', { query: QUERY.query, texts: QUERY.documents, return_text: true });
    assert.equal(reply.status, 200);
    assert.ok(Array.isArray(reply.body));
    assert.equal(reply.body.length, 3);
    assert.equal(reply.body[0].text, QUERY.documents[0]);
    assert.ok(reply.body[0].score >= reply.body[1].score && reply.body[1].score >= reply.body[2].score);
  });

  test('Cohere v1 and v2 and Jina answer in their own shapes, on their paths and /lb aliases', async () => {
    for (const path of ['/v1/rerank', '/lb/v1/rerank']) {
      const v1 = await post(p.url, path, { model: 'rerank-v3.5', ...QUERY, top_n: 1, return_documents: true });
      assert.equal(v1.status, 200);
      assert.deepEqual(v1.body.results, [
        { index: 0, relevance_score: v1.body.results[0].relevance_score, document: { text: QUERY.documents[0] } },
      ]);
      assert.equal(v1.body.meta.api_version.version, '1');
    }
    const v2 = await post(p.url, '/v2/rerank', { model: 'rerank-v3.5', ...QUERY });
    assert.equal(v2.body.meta.api_version.version, '2');
    assert.equal(v2.body.results.length, 3);
    for (const path of ['/api/v1/rerank', '/lb/api/v1/rerank']) {
      const jina = await post(p.url, path, {
        model: 'jina-reranker-v2',
        query: QUERY.query,
        documents: QUERY.documents.map((text) => ({ text })),
      });
      assert.equal(jina.status, 200);
      assert.deepEqual(jina.body.results[0].document, { text: QUERY.documents[0] });
      assert.ok(jina.body.usage.total_tokens > 0);
    }
  });

  test('every backend api_format gives the same ranking', async () => {
    const seen = new Map<string, number[]>();
    for (let i = 0; i < FORMATS.length * 2; i++) {
      const reply = await post(p.url, '/lb/rerank', QUERY);
      assert.equal(reply.status, 200);
      seen.set(
        reply.headers.get('x-reranker-lb-backend')!,
        reply.body.results.map((r: any) => r.index),
      );
    }
    assert.deepEqual([...seen.keys()].sort(), [...FORMATS].sort());
    for (const order of seen.values()) assert.deepEqual(order, seen.get('native'));
  });

  test('the backend receives its own format: TEI gets texts, Jina gets {text} objects, nobody gets top_n', async () => {
    for (let i = 0; i < FORMATS.length; i++) await post(p.url, '/rerank', { ...QUERY, top_n: 1 });
    assert.deepEqual((p.fakes.tei!.stats.lastBody as any).texts, QUERY.documents);
    assert.deepEqual((p.fakes.jina!.stats.lastBody as any).documents[0], { text: QUERY.documents[0] });
    for (const f of FORMATS) assert.equal((p.fakes[f]!.stats.lastBody as any).top_n, undefined, f);
  });
});

describe('bad requests', () => {
  const cases: [string, string, unknown, number, string][] = [
    ['not JSON', '/rerank', '{"query": ', 400, 'body'],
    ['an array body', '/v1/rerank', [1, 2], 400, 'body'],
    ['missing query', '/rerank', { documents: ['a'] }, 400, 'query'],
    ['empty documents', '/v2/rerank', { query: 'q', documents: [] }, 400, 'documents'],
    ['a number among documents', '/api/v1/rerank', { query: 'q', documents: ['a', 3] }, 400, 'documents[1]'],
    ['negative top_n', '/v1/rerank', { query: 'q', documents: ['a'], top_n: -1 }, 400, 'top_n'],
  ];
  for (const [name, path, body, status, field] of cases) {
    test(`${name} -> ${status} naming ${field}`, async () => {
      const reply = await post(p.url, path, body);
      assert.equal(reply.status, status);
      assert.equal(reply.body.error.field, field);
      assert.match(reply.body.message, new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `));
    });
  }

  test('a body over the limit -> 413', async () => {
    const small = await startPool([{ name: 'a' }], { max_request_body_bytes: 1000 });
    try {
      const reply = await post(small.url, '/rerank', { query: 'q', documents: ['x'.repeat(2000)] });
      assert.equal(reply.status, 413);
      assert.equal(reply.body.error.code, 'payload_too_large');
      assert.equal(small.fakes.a!.stats.requests, 0);
    } finally {
      await small.close();
    }
  });

  test('an unknown path -> 404 JSON', async () => {
    const reply = await post(p.url, '/v3/rerank', QUERY);
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error.code, 'not_found');
  });
});

describe('keys', () => {
  test("a backend's own key is sent; the caller's Authorization is forwarded only where opted in", async () => {
    const keyed = await startPool([{ name: 'keyed', params: { api_key: 'sk-backend' } }], {
      forward_client_authorization: true,
    });
    const open = await startPool([{ name: 'open' }]);
    const optedIn = await startPool([{ name: 'opted', entry: { forward_client_authorization: true } }]);
    try {
      await post(keyed.url, '/rerank', QUERY, { authorization: 'Bearer caller' });
      assert.equal(keyed.fakes.keyed!.stats.lastAuthorization, 'Bearer sk-backend', 'its own key wins over forwarding');
      await post(open.url, '/rerank', QUERY, { authorization: 'Bearer caller' });
      assert.equal(
        open.fakes.open!.stats.lastAuthorization,
        undefined,
        'off by default: a provider key must not travel to whichever backend is picked',
      );
      assert.equal(open.local.stats.requests, 0);
      await post(optedIn.url, '/rerank', QUERY, { authorization: 'Bearer caller' });
      assert.equal(optedIn.fakes.opted!.stats.lastAuthorization, 'Bearer caller', 'per-backend opt-in');
    } finally {
      await Promise.all([keyed.close(), open.close(), optedIn.close()]);
    }
  });

  test("the caller's Authorization does not reach the local fallback unless opted in", async () => {
    const p = await startPool([{ name: 'down', behaviour: { mode: 'status', status: 500 } }], { num_retries: 0 });
    try {
      const reply = await post(p.url, '/rerank', QUERY, { authorization: 'Bearer caller' });
      assert.equal(reply.headers.get('x-reranker-lb-fallback'), 'local');
      assert.equal(p.local.stats.lastAuthorization, undefined);
      assert.equal(p.fakes.down!.stats.lastAuthorization, undefined);
    } finally {
      await p.close();
    }
  });

  test('a backend whose key reference is unset is unavailable, with the reason in /lb/stats', async () => {
    const p2 = await startPool(
      [
        { name: 'nokey', params: { api_key: 'os.environ/RERANKER_TEST_UNSET_KEY' }, entry: { priority: 0 } },
        { name: 'ok', entry: { priority: 1 } },
      ],
      {
        routing_strategy: 'priority-failover',
      },
    );
    try {
      const reply = await post(p2.url, '/rerank', QUERY);
      assert.equal(reply.headers.get('x-reranker-lb-backend'), 'ok');
      const s = (await (await fetch(`${p2.url}/lb/stats`)).json()) as any;
      const nokey = s.backends.find((b: any) => b.name === 'nokey');
      assert.equal(nokey.available, false);
      assert.equal(nokey.key_problem, 'api_key: environment variable RERANKER_TEST_UNSET_KEY is not set');
    } finally {
      await p2.close();
    }
  });
});

describe('LiteLLM providers through the base URL alone (their exact payloads)', () => {
  const documents = ['Paris is the capital of France.', 'Berlin is in Germany.', 'The Eiffel Tower is in Paris.'];

  test("hosted_vllm/ (api_base http://<sidecar>/vllm): vLLM's answer with {text} documents, id, model and usage", async () => {
    // LiteLLM's HostedVLLMRerankConfig posts model_dump(exclude_none=True) to <api_base>/rerank with
    // a placeholder key, and reads result["document"].get("text") and usage.total_tokens.
    const reply = await post(
      p.url,
      '/vllm/rerank',
      { model: 'BAAI/bge-reranker-v2-m3', query: 'capital of France', documents, top_n: 2, return_documents: true },
      { authorization: 'Bearer fake-api-key', accept: 'application/json' },
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(typeof reply.body.id, 'string');
    assert.equal(reply.body.results.length, 2);
    for (const r of reply.body.results) {
      assert.equal(typeof r.document.text, 'string', 'document is an object with text (LiteLLM calls .get on it)');
      assert.equal(r.document.text, documents[r.index]);
    }
    assert.ok(reply.body.usage.total_tokens > 0, 'token usage reaches LiteLLM cost tracking');
    assert.equal(typeof reply.body.model, 'string');
  });

  test('jina_ai/ (api_base http://<sidecar>): LiteLLM posts to /v1/rerank and gets model and usage', async () => {
    // JinaAIRerankConfig replaces the path with /v1/rerank and builds billed units from usage.
    const reply = await post(p.url, '/v1/rerank', {
      model: 'jina-reranker-v2-base-multilingual',
      query: 'capital of France',
      documents,
      top_n: 3,
      return_documents: true,
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.ok(reply.body.usage.total_tokens > 0);
    assert.equal(typeof reply.body.model, 'string');
    assert.deepEqual(
      reply.body.results.map((r: any) => r.document.text ?? r.document),
      reply.body.results.map((r: any) => documents[r.index]),
    );
    assert.equal(reply.body.meta.api_version.version, '1', 'still a Cohere answer for Cohere clients');
  });

  test('max_tokens_per_doc reaches vLLM backends (the only format that takes it)', async () => {
    const v = await startPool([{ name: 'vllm', format: 'vllm' }]);
    try {
      assert.equal((await post(v.url, '/v2/rerank', { model: 'm', ...QUERY, max_tokens_per_doc: 64 })).status, 200);
      assert.equal((v.fakes.vllm!.stats.lastBody as { max_tokens_per_doc?: number }).max_tokens_per_doc, 64);
    } finally {
      await v.close();
    }
  });
});
