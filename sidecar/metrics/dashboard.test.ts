import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createMetrics } from './metrics.ts';
import { DASHBOARD_FILE, dashboardJson } from '../../scripts/dashboard.ts';

test(`${DASHBOARD_FILE} is what scripts/dashboard.ts generates (make crds)`, () => {
  assert.equal(
    readFileSync(fileURLToPath(new URL(`../../${DASHBOARD_FILE}`, import.meta.url)), 'utf8'),
    dashboardJson(),
  );
});

test('the Grafana dashboard is valid JSON and queries only metrics the sidecar exports', async () => {
  const text = readFileSync(
    fileURLToPath(new URL('../../charts/reranker-lb/files/dashboard.json', import.meta.url)),
    'utf8',
  );
  const dashboard = JSON.parse(text) as { panels: { title: string; targets: { expr: string }[] }[] };
  const metrics = createMetrics(
    { backends: () => [], config: () => ({ hash: 'h', generation: 1 }), logDropped: () => 0 },
    { defaultMetrics: false },
  );
  const exported = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    exported.add(metric.name);
    if (String(metric.type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) exported.add(metric.name + suffix);
  }
  const used = new Set<string>();
  for (const panel of dashboard.panels)
    for (const target of panel.targets)
      for (const name of target.expr.match(/reranker_lb_[a-z_]+/g) ?? []) used.add(name);
  assert.ok(
    used.size >= 8,
    `the dashboard covers traffic, latency, errors, breakers, fallbacks: ${[...used].join(', ')}`,
  );
  const unknown = [...used].filter((name) => !exported.has(name));
  assert.deepEqual(unknown, [], 'every queried metric exists');
});
