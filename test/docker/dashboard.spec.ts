import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkDashboard, DashboardReport, PanelQuery } from './support/grafana-dashboard';
import { registeredMetrics } from './support/metric-registry';
import { controllerRoutes, DOCKER, ROOT } from './support/repo';

/**
 * The Grafana dashboards under docker/grafana/dashboards: Grafana's JSON model as far as it can be
 * checked without Grafana (support/grafana-dashboard.ts), every query parsed and type-checked as
 * PromQL, every metric, label and legend checked against what the apps register in their source,
 * and the panels the issue asks for present.
 */

const metrics = registeredMetrics(ROOT, ['apps', 'libs']);
const datasource = (
  parse(readFileSync(join(DOCKER, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as {
    datasources: { uid: string; type: string }[];
  }
).datasources[0];
const files = readdirSync(join(DOCKER, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));

describe('the metrics the apps register (read from their source)', () => {
  it.each([
    ['http_request_duration_seconds', 'histogram', ['method', 'route', 'status']],
    ['debug_comparisons_total', 'counter', ['endpoint', 'result']],
    ['kafka_consumer_lag', 'gauge', ['group', 'topic', 'partition']],
    ['agg_producer_ewma', 'gauge', ['instrument']],
    ['pipeline_aggregate_flush_duration_seconds', 'histogram', []],
    // Registered through raw-producer's helper, counter(name, help, labelNames = []).
    ['deribit_trades_produced_total', 'counter', []],
    ['deribit_trades_duplicate_total', 'counter', ['by']],
    // prom-client's default metrics (PlatformModule enables them).
    ['process_resident_memory_bytes', 'gauge', []],
  ])('include %s, a %s labelled %j', (name, type, labels) => {
    expect(metrics.get(name)).toMatchObject({ name, type, labelNames: labels });
  });
});

describe.each(files)('docker/grafana/dashboards/%s', (file) => {
  const dashboard = JSON.parse(readFileSync(join(DOCKER, 'grafana/dashboards', file), 'utf8')) as unknown;
  let report: DashboardReport;
  beforeAll(() => {
    report = checkDashboard(dashboard, { datasourceUid: datasource.uid, metrics });
  });
  const using = (metric: string): PanelQuery[] =>
    report.queries.filter((q) => q.query.selectors.some((s) => s.metric === metric));

  it('uses the provisioned Prometheus datasource', () => {
    expect(datasource.type).toBe('prometheus');
  });

  it("follows Grafana's dashboard model, and every query parses and uses registered metrics and labels", () => {
    expect(report.problems).toEqual([]);
    expect(report.queries.length).toBeGreaterThan(0);
  });

  it('shows the ingest rate: accepted POST /user_tags per second', () => {
    const gatewayRoutes = controllerRoutes('apps/gateway/src');
    expect(gatewayRoutes).toContainEqual({ method: 'POST', path: '/user_tags' });
    const ingest = using('http_request_duration_seconds_count').filter((q) =>
      q.query.selectors.some((s) => s.range && s.matchers.some((m) => m.label === 'route' && m.value === '/user_tags')),
    );
    expect(ingest.length).toBeGreaterThan(0);
  });

  it('shows gateway latency percentiles (at least three quantiles)', () => {
    const quantiles = new Set(
      using('http_request_duration_seconds_bucket').map((q) => /histogram_quantile\(\s*([0-9.]+)/.exec(q.expr)?.[1]),
    );
    quantiles.delete(undefined);
    expect(quantiles.size).toBeGreaterThanOrEqual(3);
  });

  it('shows consumer lag per group', () => {
    expect(using('kafka_consumer_lag').some((q) => q.legendFormat?.includes('{{group}}'))).toBe(true);
  });

  it('shows debug mismatches (the result label value the gateway counts)', () => {
    const service = readFileSync(join(ROOT, 'apps/gateway/src/debug/debug-compare.service.ts'), 'utf8');
    expect(service).toContain("result: 'mismatch'");
    const mismatches = using('debug_comparisons_total').filter((q) =>
      q.query.selectors.some((s) => s.matchers.some((m) => m.label === 'result' && m.value === 'mismatch')),
    );
    expect(mismatches.length).toBeGreaterThan(0);
  });

  it('shows the EWMA per instrument', () => {
    expect(using('agg_producer_ewma').some((q) => q.legendFormat === '{{instrument}}')).toBe(true);
  });
});
