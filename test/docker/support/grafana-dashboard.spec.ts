import { checkDashboard } from './grafana-dashboard';
import { RegisteredMetric } from './metric-registry';

const metric = (
  name: string,
  type: RegisteredMetric['type'],
  labelNames: string[] = [],
): [string, RegisteredMetric] => [name, { name, type, labelNames, source: 'test' }];
const metrics = new Map([
  metric('requests_total', 'counter', ['route']),
  metric('latency_seconds', 'histogram', ['route']),
  metric('queue_depth', 'gauge', ['queue']),
]);
const DS = { type: 'prometheus', uid: 'prom' };

function panel(id: number, x: number, y: number, expr: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    type: 'timeseries',
    title: `p${id}`,
    datasource: DS,
    gridPos: { x, y, w: 12, h: 8 },
    targets: [{ refId: 'A', expr, legendFormat: '{{route}}' }],
    fieldConfig: { defaults: { unit: 's' }, overrides: [] },
    options: {},
    ...extra,
  };
}

function dashboard(overrides: Record<string, unknown> = {}) {
  return {
    uid: 'test',
    title: 'Test',
    schemaVersion: 41,
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [{ name: 'q', type: 'query', datasource: DS, query: { query: 'label_values(queue_depth, queue)' } }],
    },
    panels: [
      { id: 1, type: 'row', title: 'row', collapsed: false, panels: [], gridPos: { x: 0, y: 0, w: 24, h: 1 } },
      panel(2, 0, 1, 'sum by (route) (rate(requests_total[$__rate_interval]))'),
      panel(3, 12, 1, 'histogram_quantile(0.9, sum by (le, route) (rate(latency_seconds_bucket[5m])))'),
      panel(4, 0, 9, 'max by (queue) (queue_depth{queue=~"$q"})', {
        targets: [{ refId: 'A', expr: 'max by (queue) (queue_depth{queue=~"$q"})', legendFormat: '{{queue}}' }],
      }),
    ],
    ...overrides,
  };
}

const problems = (d: unknown) => checkDashboard(d, { datasourceUid: 'prom', metrics }).problems;
const withPanel = (index: number, change: Record<string, unknown>) => {
  const d = dashboard();
  d.panels[index] = { ...d.panels[index], ...change } as never;
  return d;
};
const withExpr = (expr: string, legendFormat = '') => withPanel(2, { targets: [{ refId: 'A', expr, legendFormat }] });

describe('checkDashboard', () => {
  it('accepts a dashboard that follows the model and queries registered metrics', () => {
    expect(problems(dashboard())).toEqual([]);
  });

  it.each([
    ['no uid', dashboard({ uid: undefined }), 'uid:'],
    ['an old schema', dashboard({ schemaVersion: 16 }), 'schemaVersion'],
    ['a fixed numeric id', dashboard({ id: 7 }), 'id: null or absent'],
    ['no panels', dashboard({ panels: [] }), 'panels: a non-empty array'],
    ['a bad refresh', dashboard({ refresh: 'often' }), 'refresh'],
    ['a duplicate panel id', withPanel(2, { id: 2 }), 'id 2 is used twice'],
    ['an unknown panel type', withPanel(2, { type: 'graph-old' }), 'is not a core Grafana panel'],
    [
      'a panel past the 24th column',
      withPanel(2, { gridPos: { x: 20, y: 1, w: 12, h: 8 } }),
      'outside the 24-column grid',
    ],
    ['overlapping panels', withPanel(3, { gridPos: { x: 6, y: 1, w: 12, h: 8 } }), 'overlap'],
    ['another datasource', withPanel(2, { datasource: { type: 'prometheus', uid: 'other' } }), 'the provisioned one'],
    ['no targets', withPanel(2, { targets: [] }), 'targets must be a non-empty array'],
    ['no fieldConfig', withPanel(2, { fieldConfig: undefined }), 'fieldConfig'],
    ['a stat without reduction', withPanel(2, { type: 'stat', options: {} }), 'reduceOptions.calcs'],
    ['a row that is not full width', withPanel(0, { gridPos: { x: 0, y: 0, w: 12, h: 1 } }), 'a row spans the width'],
    ['an unknown dashboard field', dashboard({ titel: 'x' }), 'dashboard: unknown field titel'],
    ['an unknown panel field', withPanel(2, { lengend: {} }), 'unknown field lengend'],
    [
      'an unknown query field',
      withPanel(2, { targets: [{ refId: 'A', expr: 'up', legend: 'x' }] }),
      'unknown field legend',
    ],
    [
      'a threshold mode Grafana does not have',
      withPanel(2, { fieldConfig: { defaults: { thresholds: { mode: 'abs', steps: [] } }, overrides: [] } }),
      'thresholds { mode: absolute | percentage',
    ],
    [
      'a variable refresh Grafana does not have',
      dashboard({
        templating: { list: [{ name: 'q', type: 'query', datasource: DS, query: 'label_values(queue)', refresh: 5 }] },
      }),
      'refresh must be one of 0, 1, 2',
    ],
    ['a query that does not parse', withExpr('sum(rate(requests_total[5m])'), 'expected ")"'],
    ['an unknown metric', withExpr('sum(rate(request_total[5m]))'), 'request_total is not a metric the apps register'],
    ['a label the metric lacks', withExpr('sum(rate(requests_total{path="/x"}[5m]))'), 'has no label path'],
    ['rate() of a gauge', withExpr('sum(rate(queue_depth[5m]))'), 'rate() of queue_depth, a gauge'],
    ['a raw counter', withExpr('sum(requests_total)'), 'is a counter'],
    ['a histogram by its base name', withExpr('sum(latency_seconds)'), 'is a histogram: query latency_seconds_bucket'],
    [
      'buckets outside histogram_quantile',
      withExpr('sum(rate(latency_seconds_bucket[5m]))'),
      'belongs in histogram_quantile()',
    ],
    [
      'a legend label the result lacks',
      withExpr('sum(rate(requests_total[5m]))', '{{route}}'),
      'legend {{route}} is not a label',
    ],
    ['an undefined variable', withExpr('sum(rate(requests_total{route=~"$nope"}[5m]))'), '$nope is not a variable'],
    [
      'a variable on a label the metric lacks',
      dashboard({
        templating: { list: [{ name: 'q', type: 'query', datasource: DS, query: 'label_values(queue_depth, route)' }] },
      }),
      'has no label route',
    ],
  ])('reports %s', (_what, d, message) => {
    expect(problems(d)).toContainEqual(expect.stringContaining(message));
  });

  it('returns the parsed queries with their panels', () => {
    const { queries } = checkDashboard(dashboard(), { datasourceUid: 'prom', metrics });
    expect(queries.map((q) => [q.panel, q.refId, q.query.selectors[0].metric])).toEqual([
      ['p2', 'A', 'requests_total'],
      ['p3', 'A', 'latency_seconds_bucket'],
      ['p4', 'A', 'queue_depth'],
    ]);
  });
});
