/** Paged lists: pages follow `continue` without a resourceVersion; an expired token falls back to one full list. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeApiError, type KubeObject, type ObjectList } from './api.ts';
import { listPages, type Lister } from './list-pages.ts';

const item = (name: string): KubeObject => ({ metadata: { name } });

function pager(pages: (ObjectList<KubeObject> | Error)[]) {
  const queries: Record<string, string | undefined>[] = [];
  const api: Lister = {
    async list<T extends KubeObject>(_path: string, query: Record<string, string | undefined>) {
      queries.push(query);
      const page = pages.shift()!;
      if (page instanceof Error) throw page;
      return page as ObjectList<T>;
    },
  };
  return { api, queries };
}

test('follows continue tokens; later pages drop resourceVersion (the server refuses it beside continue)', async () => {
  const { api, queries } = pager([
    { items: [item('a')], resourceVersion: '9', continue: 't1' },
    { items: [item('b')], resourceVersion: '9', continue: 't2' },
    { items: [item('c')], resourceVersion: '9' },
  ]);
  const listed = await listPages(api, '/api/v1/pods', { resourceVersion: '0', limit: '1', labelSelector: 'x' });
  assert.deepEqual(
    listed.items.map((i) => i.metadata.name),
    ['a', 'b', 'c'],
  );
  assert.deepEqual([listed.resourceVersion, listed.paged, listed.calls], ['9', true, 3]);
  assert.deepEqual(queries[1], {
    resourceVersion: undefined,
    resourceVersionMatch: undefined,
    limit: '1',
    labelSelector: 'x',
    continue: 't1',
  });
});

test('an expired continue token (410) falls back to one full, unpaged list at the first query', async () => {
  const { api, queries } = pager([
    { items: [item('a')], resourceVersion: '9', continue: 't1' },
    new KubeApiError(410, 'continue expired', 'Expired'),
    { items: [item('a'), item('b')], resourceVersion: '12' },
  ]);
  const listed = await listPages(api, '/api/v1/pods', { limit: '1' });
  assert.deepEqual(
    listed.items.map((i) => i.metadata.name),
    ['a', 'b'],
  );
  assert.equal(listed.resourceVersion, '12');
  assert.deepEqual(queries[2], { limit: undefined, continue: undefined });
});

test('other failures on a later page fail the list', async () => {
  const { api } = pager([
    { items: [item('a')], resourceVersion: '9', continue: 't1' },
    new KubeApiError(500, 'boom', undefined),
  ]);
  await assert.rejects(listPages(api, '/api/v1/pods', { limit: '1' }), /boom/);
});
