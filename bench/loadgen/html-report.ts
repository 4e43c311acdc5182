/**
 * The loadgen's report as one self-contained HTML file (inline SVG, no script, nothing fetched): the
 * summary tables, then throughput and latency second by second, so a stall, a slow drift or a burst of
 * errors is seen at a glance.
 */
import type { LoadgenReport } from './loadgen';
import { ENDPOINTS } from './timeline';

export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
  dashed?: boolean;
}

const W = 960;
const H = 300;
const PAD = { left: 64, right: 16, top: 48, bottom: 40 };

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  if (Math.abs(v) >= 10) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

/** An SVG line chart over x = 0..n-1 seconds. With `log`, the y axis is logarithmic (latencies). */
export function lineChart(title: string, yLabel: string, series: Series[], opts: { log?: boolean } = {}): string {
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * plotW);
  let y: (v: number) => number;
  const ticks: number[] = [];
  if (opts.log) {
    const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.01, Math.min(...all, 1)))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(lo * 10, ...all))));
    y = (v) =>
      PAD.top + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  } else {
    const hi = Math.max(1, ...all) * 1.05;
    const step = niceStep(hi, 5);
    y = (v) => PAD.top + plotH - (v / (Math.ceil(hi / step) * step)) * plotH;
    for (let t = 0; t <= Math.ceil(hi / step) * step + 1e-9; t += step) ticks.push(t);
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${escapeHtml(title)}">`,
  );
  parts.push(`<text x="${PAD.left}" y="20" font-size="15" font-weight="bold">${escapeHtml(title)}</text>`);
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${PAD.left - 6}" y="${ty}" font-size="11" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`,
    );
  }
  const xStep = niceStep(Math.max(1, n - 1), 10);
  for (let i = 0; i < n; i += xStep) {
    parts.push(
      `<text x="${x(i).toFixed(1)}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${i}</text>`,
    );
  }
  parts.push(
    `<text x="${PAD.left + plotW / 2}" y="${H - 6}" font-size="11" text-anchor="middle">seconds since start</text>`,
  );
  parts.push(
    `<text x="14" y="${PAD.top + plotH / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${PAD.top + plotH / 2})">${escapeHtml(yLabel)}</text>`,
  );
  parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  series.forEach((s, k) => {
    // Gaps (null) break the line rather than drawing it through zero.
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    if (d !== '') {
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
      );
    }
    // The legend is a row of its own under the title, spread over the plot's width.
    const lx = PAD.left + k * Math.floor(plotW / Math.max(1, series.length));
    parts.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${PAD.top - 12}" y2="${PAD.top - 12}" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
    );
    parts.push(`<text x="${lx + 22}" y="${PAD.top - 8}" font-size="11">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

const COLORS = { user_tags: '#1f77b4', user_profiles: '#2ca02c', aggregates: '#9467bd' } as const;

function table(head: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number): string =>
    `<td>${escapeHtml(typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : v)}</td>`;
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map(cell).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function htmlReport(r: LoadgenReport): string {
  const tl = r.timeline;
  const throughput = lineChart('Throughput', 'requests / s', [
    { name: 'tags sent', color: COLORS.user_tags, values: tl.map((p) => p.sent.user_tags), dashed: true },
    { name: 'tags accepted', color: COLORS.user_tags, values: tl.map((p) => p.ok.user_tags) },
    { name: 'profile answers', color: COLORS.user_profiles, values: tl.map((p) => p.ok.user_profiles) },
    { name: 'aggregates answers', color: COLORS.aggregates, values: tl.map((p) => p.ok.aggregates) },
    { name: 'errors', color: '#d62728', values: tl.map((p) => p.errors) },
    { name: 'wrong answers', color: '#ff7f0e', values: tl.map((p) => p.wrong) },
  ]);
  const latency = lineChart(
    'Latency per second (solid p99, dashed p50)',
    'ms (log scale)',
    ENDPOINTS.flatMap((e) => [
      { name: `${e} p99`, color: COLORS[e], values: tl.map((p) => p.p99[e]) },
      { name: `${e} p50`, color: COLORS[e], values: tl.map((p) => p.p50[e]), dashed: true },
    ]),
    { log: true },
  );
  const t = r.tags;
  const lat = (l: (typeof r.latency)[keyof typeof r.latency]): (string | number)[] =>
    [l.count, l.p50, l.p95, l.p99, l.p999, l.max].map((v) => (Number.isFinite(v) ? Math.round(v * 100) / 100 : '–'));
  const diffs = Object.entries(r.queries).flatMap(([kind, q]) =>
    q.diffs.map((d) => [
      kind,
      d.request,
      d.at,
      JSON.stringify(d.expected) ?? 'nothing',
      JSON.stringify(d.actual) ?? 'nothing',
      d.recheck ?? '',
    ]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadgen ${r.passed ? 'passed' : 'FAILED'} ${escapeHtml(r.startedAt)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child{text-align:left}.fail{color:#c00}.pass{color:#080}code{word-break:break-all}
</style></head><body>
<h1 class="${r.passed ? 'pass' : 'fail'}">loadgen ${r.passed ? 'passed' : 'FAILED'}</h1>
<p>${escapeHtml(r.url)}, started ${escapeHtml(r.startedAt)}, seed ${r.stream.seed}. Target ${r.targetRate} tags/s for ${r.sendSeconds.toFixed(1)} s;
sent ${Math.round(r.achievedRate)} tags/s, accepted ${Math.round(r.acceptedRate)} tags/s. Event time ${escapeHtml(r.eventTime.first)} to ${escapeHtml(r.eventTime.last)}.</p>
${r.failures.length > 0 ? `<ul class="fail">${r.failures.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>` : ''}
${throughput}
${latency}
<h2>Tags</h2>
${table(['', 'sent', 'accepted', 'rejected (4xx)', 'failed (5xx)', 'timed out', 'network errors'], [['user_tags', t.sent, t.accepted, t.rejected, t.failed, t.timedOut, t.networkErrors]])}
<h2>Queries</h2>
${table(
  ['', 'sent', 'correct', 'wrong', 'of which late', 'errors', 'indeterminate', 'not asked'],
  Object.entries(r.queries).map(([k, q]) => [
    k,
    q.sent,
    q.correct,
    q.wrong,
    q.late,
    q.errors,
    q.indeterminate,
    Object.values(q.excluded).reduce((a, b) => a + b, 0),
  ]),
)}
<h2>Latency, ms (request sent to response)</h2>
${table(
  ['', 'n', 'p50', 'p95', 'p99', 'p99.9', 'max'],
  ENDPOINTS.map((e) => [e, ...lat(r.latency[e])]),
)}
${diffs.length > 0 ? `<h2 class="fail">First wrong answers</h2>${table(['kind', 'request', 'path', 'expected', 'actual', 'asked again 5 s later'], diffs)}` : ''}
</body></html>
`;
}
