/**
 * Source of the Grafana dashboard (charts/reranker-lb/files/dashboard.json); `make crds` writes it
 * with the CRD. A unit test checks that every metric it queries is one the sidecar exports.
 */
interface Panel {
  title: string;
  type: 'timeseries' | 'stat';
  unit: string;
  targets: { expr: string; legendFormat: string }[];
}

const panels: Panel[] = [
  {
    title: 'Calls per second by outcome',
    type: 'timeseries',
    unit: 'reqps',
    targets: [
      {
        expr: 'sum by (outcome) (rate(reranker_lb_requests_total{namespace=~"$namespace"}[$__rate_interval]))',
        legendFormat: '{{outcome}}',
      },
    ],
  },
  {
    title: 'Call latency',
    type: 'timeseries',
    unit: 's',
    targets: [0.5, 0.95, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le) (rate(reranker_lb_request_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))`,
      legendFormat: `p${q * 100}`,
    })),
  },
  {
    title: 'Attempts per backend',
    type: 'timeseries',
    unit: 'reqps',
    targets: [
      {
        expr: 'sum by (backend, outcome) (rate(reranker_lb_backend_attempts_total{namespace=~"$namespace"}[$__rate_interval]))',
        legendFormat: '{{backend}} {{outcome}}',
      },
    ],
  },
  {
    title: 'Backend latency p95',
    type: 'timeseries',
    unit: 's',
    targets: [
      {
        expr: 'histogram_quantile(0.95, sum by (backend, le) (rate(reranker_lb_backend_attempt_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))',
        legendFormat: '{{backend}}',
      },
    ],
  },
  {
    title: 'Backend error ratio',
    type: 'timeseries',
    unit: 'percentunit',
    targets: [
      {
        expr: 'sum by (backend) (rate(reranker_lb_backend_attempts_total{namespace=~"$namespace", outcome!~"success|client_error"}[$__rate_interval])) / sum by (backend) (rate(reranker_lb_backend_attempts_total{namespace=~"$namespace"}[$__rate_interval]))',
        legendFormat: '{{backend}}',
      },
    ],
  },
  {
    title: 'Breaker state (0 closed, 1 half-open, 2 open)',
    type: 'timeseries',
    unit: 'none',
    targets: [
      {
        expr: 'max by (backend) (reranker_lb_backend_breaker_state{namespace=~"$namespace"})',
        legendFormat: '{{backend}}',
      },
    ],
  },
  {
    title: 'Backends healthy',
    type: 'timeseries',
    unit: 'none',
    targets: [
      { expr: 'min by (backend) (reranker_lb_backend_healthy{namespace=~"$namespace"})', legendFormat: '{{backend}}' },
    ],
  },
  {
    title: 'In flight per backend',
    type: 'timeseries',
    unit: 'none',
    targets: [
      {
        expr: 'sum by (backend) (reranker_lb_backend_in_flight{namespace=~"$namespace"})',
        legendFormat: '{{backend}}',
      },
    ],
  },
  {
    title: 'Fallbacks, retries, rate-limit rejections',
    type: 'timeseries',
    unit: 'reqps',
    targets: [
      {
        expr: 'sum(rate(reranker_lb_local_fallbacks_total{namespace=~"$namespace"}[$__rate_interval]))',
        legendFormat: 'local fallbacks',
      },
      {
        expr: 'sum(rate(reranker_lb_retries_total{namespace=~"$namespace"}[$__rate_interval]))',
        legendFormat: 'retries',
      },
      {
        expr: 'sum(rate(reranker_lb_rate_limit_rejections_total{namespace=~"$namespace"}[$__rate_interval]))',
        legendFormat: '429 rate limited',
      },
    ],
  },
  {
    title: 'Config reloads (1 h)',
    type: 'stat',
    unit: 'none',
    targets: [
      {
        expr: 'sum by (result) (increase(reranker_lb_config_reloads_total{namespace=~"$namespace"}[1h]))',
        legendFormat: '{{result}}',
      },
    ],
  },
];

/** Where `make crds` writes it (a unit test fails when the committed copy is stale). */
export const DASHBOARD_FILE = 'charts/reranker-lb/files/dashboard.json';

export function dashboardJson(): string {
  const dashboard = {
    title: 'reranker-lb',
    uid: 'reranker-lb',
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    tags: ['reranker-lb'],
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
        {
          name: 'namespace',
          type: 'query',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own template variable, not ours
          datasource: { type: 'prometheus', uid: '${datasource}' },
          query: 'label_values(reranker_lb_requests_total, namespace)',
          includeAll: true,
          multi: true,
          allValue: '.*',
          refresh: 2,
        },
      ],
    },
    panels: panels.map((p, i) => ({
      id: i + 1,
      title: p.title,
      type: p.type,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own template variable, not ours
      datasource: { type: 'prometheus', uid: '${datasource}' },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.targets.map((t, j) => ({
        refId: String.fromCharCode(65 + j),
        expr: t.expr,
        legendFormat: t.legendFormat,
      })),
    })),
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
