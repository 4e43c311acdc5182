import type { RegisteredMetric } from './metric-registry';
import { expandGrafanaVariables, GRAFANA_BUILTINS, parsePromQL, PromQLError, Query, Selector } from './promql';

/**
 * Offline checks of a dashboard against Grafana's dashboard JSON model (the fields Grafana reads
 * when it provisions a file: https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/)
 * and of its Prometheus queries against the metrics the apps register. Returns every problem found,
 * each naming the panel, so that one run lists them all.
 *
 * What only a running Grafana can tell is out of reach: how its schema migration treats fields this
 * does not know, and whether a panel plugin accepts every option.
 */

export interface DashboardCheckOptions {
  /** uid of the provisioned Prometheus datasource the panels must use. */
  readonly datasourceUid: string;
  readonly metrics: ReadonlyMap<string, RegisteredMetric>;
}

/** Panel types of Grafana's core panel plugins (no external plugin is installed by the provisioning). */
export const CORE_PANEL_TYPES = new Set([
  'row',
  'timeseries',
  'stat',
  'gauge',
  'bargauge',
  'table',
  'text',
  'heatmap',
  'histogram',
  'piechart',
  'state-timeline',
  'status-history',
  'barchart',
  'logs',
  'nodeGraph',
  'traces',
  'flamegraph',
  'candlestick',
  'xychart',
  'trend',
  'geomap',
  'canvas',
  'dashlist',
  'alertlist',
  'annolist',
  'news',
  'datagrid',
]);

/**
 * Fields of Grafana's dashboard model, from its generated schema types (@grafana/schema 13.2.3,
 * dist/types/raw/dashboard/x/types.gen.d.ts: Dashboard, Panel, RowPanel, VariableModel, GridPos,
 * FieldConfigSource). A field outside these is ignored by Grafana at best, or a typo.
 */
const FIELDS = {
  dashboard: new Set(
    'annotations description editable fiscalYearStartMonth gnetId graphTooltip id links liveNow panels preload refresh revision schemaVersion snapshot tags templating time timepicker timezone title uid version weekStart'.split(
      ' ',
    ),
  ),
  panel: new Set(
    'autoMigrateFrom cacheTimeout datasource description fieldConfig gridPos hideTimeOverride id interval libraryPanel links maxDataPoints maxPerRow options pluginVersion queryCachingTTL repeat repeatDirection targets timeCompare timeFrom timeShift title transformations transparent type'.split(
      ' ',
    ),
  ),
  row: new Set('collapsed datasource gridPos id panels repeat title type'.split(' ')),
  variable: new Set(
    'allValue allowCustomValue current datasource description enableGroupBy hide includeAll label multi name options query refresh regex regexApplyTo skipUrlSync sort staticOptions staticOptionsOrder type valuesFormat'.split(
      ' ',
    ),
  ),
  gridPos: new Set('h static w x y'.split(' ')),
  fieldConfig: new Set(['defaults', 'overrides']),
  /** DataQuery (refId, datasource, hide, queryType) and the Prometheus datasource's query fields. */
  target: new Set(
    'refId datasource hide queryType expr legendFormat instant range exemplar editorMode format interval intervalFactor'.split(
      ' ',
    ),
  ),
};

/** Enumerations of the same schema: DashboardCursorSync, VariableRefresh, VariableHide, VariableSort, ThresholdsMode. */
const ENUMS = {
  graphTooltip: [0, 1, 2],
  variableRefresh: [0, 1, 2],
  variableHide: [0, 1, 2, 3],
  variableSort: [0, 1, 2, 3, 4, 5, 6, 7, 8],
  thresholdsMode: ['absolute', 'percentage'],
};

function unknownFields(o: Json, known: ReadonlySet<string>, name: string, problems: string[]): void {
  for (const k of Object.keys(o)) if (!known.has(k)) problems.push(`${name}: unknown field ${k}`);
}

const VARIABLE_TYPES = new Set([
  'query',
  'custom',
  'constant',
  'textbox',
  'interval',
  'datasource',
  'adhoc',
  'groupby',
]);
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];
/** Series Prometheus itself writes for each target. */
const SYNTHETIC: Record<string, RegisteredMetric> = Object.fromEntries(
  [
    'up',
    'scrape_duration_seconds',
    'scrape_samples_scraped',
    'scrape_samples_post_metric_relabeling',
    'scrape_series_added',
  ].map((name) => [
    name,
    { name, type: 'gauge', labelNames: [], source: 'Prometheus (per target)' } as RegisteredMetric,
  ]),
);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  readonly query: Query;
}

export interface DashboardReport {
  readonly problems: string[];
  /** Every query that parsed, for further checks by the caller. */
  readonly queries: PanelQuery[];
}

export function checkDashboard(dashboard: unknown, opts: DashboardCheckOptions): DashboardReport {
  const problems: string[] = [];
  const queries: PanelQuery[] = [];
  if (!isObject(dashboard)) return { problems: ['the dashboard is not a JSON object'], queries };
  const d = dashboard;

  if (typeof d.title !== 'string' || d.title === '') problems.push('title: a non-empty string is required');
  if (typeof d.uid !== 'string' || !/^[a-zA-Z0-9_-]{1,40}$/.test(d.uid)) {
    problems.push('uid: 1 to 40 letters, digits, "-" or "_" (links and provisioning refer to it)');
  }
  // Grafana 11/12 migrate older schemas on load; 36 is the first with datasource references by uid.
  if (!isInt(d.schemaVersion) || d.schemaVersion < 36) problems.push('schemaVersion: an integer >= 36');
  if (d.id !== undefined && d.id !== null)
    problems.push('id: null or absent in a provisioned file (Grafana assigns it)');
  if (!isObject(d.time) || typeof d.time.from !== 'string' || typeof d.time.to !== 'string') {
    problems.push('time: { from, to } strings');
  }
  if (d.refresh !== undefined && (typeof d.refresh !== 'string' || !/^(\d+[smhd])?$/.test(d.refresh))) {
    problems.push('refresh: "" or a duration like 10s');
  }
  if (d.tags !== undefined && (!Array.isArray(d.tags) || !d.tags.every((t) => typeof t === 'string'))) {
    problems.push('tags: an array of strings');
  }
  if (d.graphTooltip !== undefined && !ENUMS.graphTooltip.includes(d.graphTooltip as number)) {
    problems.push('graphTooltip: 0, 1 or 2');
  }
  unknownFields(d, FIELDS.dashboard, 'dashboard', problems);

  const variables = checkTemplating(d.templating, opts, problems);
  if (!Array.isArray(d.panels) || d.panels.length === 0) {
    problems.push('panels: a non-empty array');
    return { problems, queries };
  }

  const all: Json[] = [];
  for (const p of d.panels) {
    if (!isObject(p)) {
      problems.push('panels: every entry is an object');
      continue;
    }
    all.push(p);
    if (p.type === 'row' && Array.isArray(p.panels)) all.push(...(p.panels.filter(isObject) as Json[]));
  }
  const ids = new Set<number>();
  for (const p of all) {
    const name = `panel ${JSON.stringify(p.title ?? p.id)}`;
    if (!isInt(p.id) || p.id < 1) problems.push(`${name}: id must be a positive integer`);
    else if (ids.has(p.id)) problems.push(`${name}: id ${p.id} is used twice`);
    else ids.add(p.id);
    checkPanel(p, name, opts, variables, problems, queries);
  }
  checkLayout(d.panels.filter(isObject) as Json[], problems);
  return { problems, queries };
}

function checkTemplating(templating: unknown, opts: DashboardCheckOptions, problems: string[]): Record<string, string> {
  const values: Record<string, string> = { ...GRAFANA_BUILTINS };
  if (templating === undefined) return values;
  if (!isObject(templating) || !Array.isArray(templating.list)) {
    problems.push('templating: { list: [...] }');
    return values;
  }
  for (const v of templating.list) {
    if (!isObject(v) || typeof v.name !== 'string' || !/^[A-Za-z0-9_]+$/.test(v.name)) {
      problems.push('templating: every variable has a name of letters, digits and "_"');
      continue;
    }
    const name = `variable ${v.name}`;
    unknownFields(v, FIELDS.variable, name, problems);
    for (const [key, allowed] of [
      ['refresh', ENUMS.variableRefresh],
      ['hide', ENUMS.variableHide],
      ['sort', ENUMS.variableSort],
    ] as const) {
      if (v[key] !== undefined && !(allowed as readonly number[]).includes(v[key] as number)) {
        problems.push(`${name}: ${key} must be one of ${allowed.join(', ')}`);
      }
    }
    if (typeof v.type !== 'string' || !VARIABLE_TYPES.has(v.type))
      problems.push(`${name}: unknown type ${String(v.type)}`);
    if (v.type === 'query') {
      checkDatasource(v.datasource, name, opts, problems);
      const q = isObject(v.query) ? v.query.query : v.query;
      if (typeof q !== 'string') problems.push(`${name}: query is missing`);
      else checkVariableQuery(q, name, opts, problems);
    }
    // A regex-safe sample value: `=~"$var"` is how multi-value variables are used.
    values[v.name] = '.+';
  }
  return values;
}

/** Grafana's Prometheus variable functions: label_values(), metrics(), query_result(), or a series selector. */
function checkVariableQuery(q: string, name: string, opts: DashboardCheckOptions, problems: string[]): void {
  const m = /^\s*label_values\(\s*(?:(.*)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
  if (m) {
    if (m[1] === undefined) return;
    try {
      const query = parsePromQL(m[1]);
      for (const s of query.selectors) checkSelector(s, `${name}: ${q}`, opts, problems);
      const labels = query.selectors.flatMap((s) => labelsOf(s, opts.metrics));
      if (!labels.includes(m[2])) problems.push(`${name}: ${m[1]} has no label ${m[2]}`);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message} in ${q}`);
    }
    return;
  }
  if (/^\s*(metrics|query_result|label_names)\(/.test(q)) return;
  problems.push(`${name}: not a Grafana Prometheus variable query: ${q}`);
}

function checkDatasource(ds: unknown, name: string, opts: DashboardCheckOptions, problems: string[]): void {
  if (!isObject(ds) || ds.type !== 'prometheus' || ds.uid !== opts.datasourceUid) {
    problems.push(
      `${name}: datasource must be { type: "prometheus", uid: "${opts.datasourceUid}" } (the provisioned one)`,
    );
  }
}

function checkPanel(
  p: Json,
  name: string,
  opts: DashboardCheckOptions,
  variables: Record<string, string>,
  problems: string[],
  queries: PanelQuery[],
): void {
  if (typeof p.type !== 'string' || !CORE_PANEL_TYPES.has(p.type)) {
    problems.push(`${name}: type ${String(p.type)} is not a core Grafana panel`);
    return;
  }
  if (typeof p.title !== 'string') problems.push(`${name}: title must be a string`);
  unknownFields(p, p.type === 'row' ? FIELDS.row : FIELDS.panel, name, problems);
  const g = p.gridPos;
  if (isObject(g)) unknownFields(g, FIELDS.gridPos, `${name} gridPos`, problems);
  if (!isObject(g) || ![g.x, g.y, g.w, g.h].every(isInt)) {
    problems.push(`${name}: gridPos { x, y, w, h } integers`);
  } else {
    const [x, y, w, h] = [g.x, g.y, g.w, g.h] as number[];
    if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > 24) problems.push(`${name}: gridPos outside the 24-column grid`);
  }
  if (p.type === 'row') {
    if (isObject(g) && (g.w !== 24 || g.h !== 1 || g.x !== 0)) problems.push(`${name}: a row spans the width, 1 high`);
    if (typeof p.collapsed !== 'boolean') problems.push(`${name}: collapsed must be true or false`);
    if (!Array.isArray(p.panels)) problems.push(`${name}: panels must be an array (empty unless collapsed)`);
    else if (p.collapsed === false && p.panels.length > 0) problems.push(`${name}: an open row holds no panels`);
    return;
  }
  checkDatasource(p.datasource, name, opts, problems);
  if (!isObject(p.fieldConfig) || !isObject(p.fieldConfig.defaults) || !Array.isArray(p.fieldConfig.overrides)) {
    problems.push(`${name}: fieldConfig { defaults: {}, overrides: [] }`);
  } else {
    unknownFields(p.fieldConfig, FIELDS.fieldConfig, `${name} fieldConfig`, problems);
    const defaults = p.fieldConfig.defaults;
    if (defaults.unit !== undefined && typeof defaults.unit !== 'string') {
      problems.push(`${name}: fieldConfig.defaults.unit must be a string`);
    }
    const thresholds = defaults.thresholds;
    if (thresholds !== undefined) {
      if (
        !isObject(thresholds) ||
        !ENUMS.thresholdsMode.includes(thresholds.mode as string) ||
        !Array.isArray(thresholds.steps)
      ) {
        problems.push(`${name}: thresholds { mode: absolute | percentage, steps: [...] }`);
      } else if (!isObject(thresholds.steps[0]) || thresholds.steps[0].value !== null) {
        problems.push(`${name}: the first threshold step has value null (the base)`);
      }
    }
  }
  if (!isObject(p.options)) problems.push(`${name}: options must be an object`);
  if (['stat', 'gauge', 'bargauge'].includes(p.type)) {
    const r = isObject(p.options) ? p.options.reduceOptions : undefined;
    if (!isObject(r) || !Array.isArray(r.calcs) || r.calcs.length === 0) {
      problems.push(`${name}: options.reduceOptions.calcs must name a reduction`);
    }
  }
  if (!Array.isArray(p.targets) || p.targets.length === 0) {
    problems.push(`${name}: targets must be a non-empty array`);
    return;
  }
  const refIds = new Set<string>();
  for (const t of p.targets) {
    if (!isObject(t) || typeof t.refId !== 'string' || !/^[A-Z]+$/.test(t.refId)) {
      problems.push(`${name}: every target has a refId (A, B, ...)`);
      continue;
    }
    const tn = `${name} query ${t.refId}`;
    unknownFields(t, FIELDS.target, tn, problems);
    if (refIds.has(t.refId)) problems.push(`${tn}: refId used twice`);
    refIds.add(t.refId);
    if (t.datasource !== undefined) checkDatasource(t.datasource, tn, opts, problems);
    if (typeof t.expr !== 'string' || t.expr.trim() === '') {
      problems.push(`${tn}: expr is empty`);
      continue;
    }
    const { expanded, used } = expandGrafanaVariables(t.expr, variables);
    for (const v of used) if (!(v in variables)) problems.push(`${tn}: $${v} is not a variable of the dashboard`);
    let query: Query;
    try {
      query = parsePromQL(expanded);
    } catch (e) {
      problems.push(`${tn}: ${e instanceof PromQLError ? e.message : String(e)} in ${expanded}`);
      continue;
    }
    for (const s of query.selectors) checkSelector(s, tn, opts, problems);
    const legend = typeof t.legendFormat === 'string' ? t.legendFormat : undefined;
    if (legend !== undefined) checkLegend(legend, query, tn, opts, problems);
    queries.push({ panel: String(p.title), refId: t.refId, expr: t.expr, legendFormat: legend, query });
  }
}

/** Labels a selector's series carry: the metric's own, the target's, and `le` on histogram buckets. */
function labelsOf(s: Selector, metrics: ReadonlyMap<string, RegisteredMetric>): string[] {
  const resolved = s.metric ? resolveMetric(s.metric, metrics) : undefined;
  if (!resolved) return [];
  const extra =
    resolved.suffix === '_bucket'
      ? ['le']
      : resolved.metric.type === 'summary' && resolved.suffix === ''
        ? ['quantile']
        : [];
  return [...resolved.metric.labelNames, ...TARGET_LABELS, ...extra];
}

/** The registered metric a series name belongs to (histograms and summaries expose _bucket, _sum, _count). */
export function resolveMetric(
  series: string,
  metrics: ReadonlyMap<string, RegisteredMetric>,
): { metric: RegisteredMetric; suffix: '' | '_bucket' | '_sum' | '_count' } | undefined {
  const direct = metrics.get(series) ?? SYNTHETIC[series];
  if (direct) return { metric: direct, suffix: '' };
  for (const suffix of ['_bucket', '_sum', '_count'] as const) {
    if (!series.endsWith(suffix)) continue;
    const m = metrics.get(series.slice(0, -suffix.length));
    if (m && (m.type === 'histogram' || (m.type === 'summary' && suffix !== '_bucket'))) return { metric: m, suffix };
  }
  return undefined;
}

function checkSelector(s: Selector, name: string, opts: DashboardCheckOptions, problems: string[]): void {
  if (!s.metric) {
    problems.push(`${name}: a selector without a metric name matches every series`);
    return;
  }
  const resolved = resolveMetric(s.metric, opts.metrics);
  if (!resolved) {
    problems.push(`${name}: ${s.metric} is not a metric the apps register`);
    return;
  }
  const { metric, suffix } = resolved;
  if (metric.type === 'histogram' && suffix === '') {
    problems.push(`${name}: ${s.metric} is a histogram: query ${s.metric}_bucket, _sum or _count`);
  }
  const labels = labelsOf(s, opts.metrics);
  for (const m of s.matchers) {
    if (m.label !== '__name__' && !labels.includes(m.label)) {
      problems.push(`${name}: ${s.metric} has no label ${m.label} (it has ${labels.join(', ')})`);
    }
  }
  const inner = s.within[0];
  const counterLike = metric.type === 'counter' || suffix === '_bucket' || suffix === '_sum' || suffix === '_count';
  if (['rate', 'irate', 'increase', 'resets'].includes(inner ?? '') && !counterLike) {
    problems.push(
      `${name}: ${inner}() of ${s.metric}, a ${metric.type}: use it on counters (or deriv/delta for gauges)`,
    );
  }
  if (counterLike && !s.range && !['histogram_quantile'].includes(inner ?? '')) {
    problems.push(`${name}: ${s.metric} is a counter: its raw value depends on restarts; use rate() or increase()`);
  }
  if (suffix === '_bucket') {
    const q = s.within.indexOf('histogram_quantile');
    if (q < 0) problems.push(`${name}: ${s.metric} belongs in histogram_quantile()`);
  }
}

function checkLegend(
  legend: string,
  query: Query,
  name: string,
  opts: DashboardCheckOptions,
  problems: string[],
): void {
  const wanted = [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]);
  if (wanted.length === 0) return;
  const out = query.outputLabels;
  let available: string[];
  if (out.kind === 'set') {
    available = [...out.labels];
  } else {
    available = out.metrics
      .flatMap((m) => {
        const r = resolveMetric(m, opts.metrics);
        return r ? [...r.metric.labelNames, ...TARGET_LABELS] : [];
      })
      .filter((l) => !out.dropped.includes(l));
  }
  for (const w of wanted) {
    if (!available.includes(w))
      problems.push(`${name}: legend {{${w}}} is not a label of the result (${available.join(', ') || 'none'})`);
  }
}

/** Panels must not overlap: Grafana would move them, and the file would not say what is shown. */
function checkLayout(panels: Json[], problems: string[]): void {
  const boxes = panels
    .filter((p) => isObject(p.gridPos))
    .map((p) => ({ title: String(p.title), ...(p.gridPos as { x: number; y: number; w: number; h: number }) }));
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
        problems.push(`panels "${a.title}" and "${b.title}" overlap`);
      }
    }
  }
}
