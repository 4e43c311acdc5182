/** The loadgen's report as Markdown, for people and for bench/RESULTS.md. */
import type { LatencySummary } from './histogram';
import type { LoadgenReport, QueryReport } from './loadgen';
import { ENDPOINTS } from './timeline';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string =>
  Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) : '–';

function latencyRow(name: string, l: LatencySummary): string {
  return `| ${name} | ${int(l.count)} | ${ms(l.p50)} | ${ms(l.p95)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} |`;
}

function excludedText(q: QueryReport): string {
  const parts = Object.entries(q.excluded).map(([k, v]) => `${int(v)} ${k}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

function clip(s: string, n = 300): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export function markdownReport(r: LoadgenReport): string {
  const t = r.tags;
  const lines: string[] = [];
  lines.push(`### loadgen ${r.passed ? 'PASSED' : 'FAILED'}: ${r.url}, ${r.startedAt}`);
  lines.push('');
  lines.push(
    `Seed ${r.stream.seed}, target ${int(r.targetRate)} tags/s for ${r.sendSeconds.toFixed(1)} s: ` +
      `sent ${int(r.achievedRate)} tags/s, accepted ${int(r.acceptedRate)} tags/s. ` +
      `Event time ${r.eventTime.first} to ${r.eventTime.last} (step ${r.stream.stepMs} ms); ${int(r.model.cookies)} distinct cookies.`,
  );
  if (r.tags.uncertain > 0) {
    lines.push('');
    lines.push(
      `${int(r.tags.uncertain)} uncertain tags (error or timeout: stored or not) touched ${int(r.model.uncertainCookies)} cookies and ` +
        `${int(r.model.uncertainBuckets)} minute buckets; no checked range contains one (see "not asked" below).`,
    );
  }
  lines.push('');
  if (!r.passed) {
    lines.push('**Failures**');
    lines.push('');
    for (const f of r.failures) lines.push(`- ${f}`);
    lines.push('');
  }
  lines.push('| tags | sent | accepted (204) | rejected (4xx) | failed (5xx) | timed out | network errors |');
  lines.push('|---|---|---|---|---|---|---|');
  lines.push(
    `| | ${int(t.sent)} | ${int(t.accepted)} | ${int(t.rejected)} | ${int(t.failed)} | ${int(t.timedOut)} | ${int(t.networkErrors)} |`,
  );
  lines.push('');
  lines.push(
    '| queries | sent | correct | wrong (of which late) | errors | indeterminate | not asked (why) | of which final round |',
  );
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const [kind, q] of Object.entries(r.queries)) {
    lines.push(
      `| ${kind} | ${int(q.sent)} | ${int(q.correct)} | ${int(q.wrong)} (${int(q.late)}) | ${int(q.errors)} | ${int(q.indeterminate)} | ${excludedText(q)} | ${int(q.final)} |`,
    );
  }
  for (const [kind, q] of Object.entries(r.queries)) {
    if (q.wrong === 0) continue;
    const outcomes = Object.entries(q.rechecked)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${int(n)}`)
      .join(', ');
    lines.push('');
    lines.push(
      `The ${int(q.wrong)} wrong ${kind} answers, each asked again 5 s later and, if still wrong, once more after the run settled: ` +
        `${outcomes || 'not asked again'} (late: right 5 s later, the data came later than promised; late after the run: ` +
        'right only once the stream had ended, the system fell behind the rate; indeterminate: tags sent meanwhile may have trimmed an expected one).',
    );
  }
  lines.push('');
  lines.push('| latency, ms (request sent → response) | n | p50 | p95 | p99 | p99.9 | max |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const e of ENDPOINTS) lines.push(latencyRow(e, r.latency[e]));
  lines.push('');
  lines.push(
    `Latency from the scheduled send time (includes waiting for one of ${r.options.concurrency} slots), p99: ` +
      ENDPOINTS.map((e) => `${e} ${ms(r.scheduledLatency[e].p99)} ms`).join(', ') +
      `. Scheduler lag p99 ${ms(r.scheduler.lagP99Ms)} ms, max ${ms(r.scheduler.lagMaxMs)} ms, ${int(r.scheduler.sendsLateOver10Ms)} sends over 10 ms late.`,
  );
  if (r.gatewayComparisons !== undefined) {
    const g = Object.entries(r.gatewayComparisons).map(([k, v]) => `${k} ${int(v)}`);
    lines.push('');
    lines.push(
      `Gateway debug comparisons during the run: ${g.length === 0 ? 'none counted (DEBUG_COMPARE off?)' : g.join(', ')}.`,
    );
  }
  const samples = [
    ...r.tags.errorSamples.map((e) => ({ kind: 'user_tags', ...e })),
    ...Object.entries(r.queries).flatMap(([kind, q]) => q.errorSamples.map((e) => ({ kind, ...e }))),
  ];
  if (samples.length > 0) {
    lines.push('');
    lines.push('**First errors**');
    lines.push('');
    for (const s of samples) {
      lines.push(
        `- ${s.kind}: ${s.outcome}${s.body ? ` \`${clip(s.body, 200)}\`` : ''} for \`${clip(s.request, 200)}\``,
      );
    }
  }
  const diffs = Object.entries(r.queries).flatMap(([kind, q]) => q.diffs.map((d) => ({ kind, ...d })));
  if (diffs.length > 0) {
    lines.push('');
    lines.push('**First wrong answers** (first differing path, expected, actual)');
    lines.push('');
    for (const d of diffs) {
      const recheck =
        d.recheck === 'late'
          ? ' (right when asked again 5 s later: the data arrived later than promised)'
          : d.recheck === 'late after the run'
            ? ' (right only when asked again after the run settled: the system fell behind)'
            : d.recheck === undefined
              ? ''
              : ` (asked again: ${d.recheck})`;
      lines.push(
        `- ${d.kind} \`${clip(d.request, 250)}\` at \`${d.at}\`: expected \`${clip(JSON.stringify(d.expected) ?? 'nothing')}\`, got \`${clip(JSON.stringify(d.actual) ?? 'nothing')}\`${recheck}`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

/** One line a second while running. */
export function progressLine(p: import('./loadgen').Progress): string {
  const p99 = (v: number): string => (Number.isFinite(v) ? `${ms(v)}` : '–');
  return (
    `[${p.elapsedS.toFixed(0).padStart(4)} s ${p.phase.padEnd(6)}] sent ${int(p.tagsSent)} tags (${int(p.sendRate)}/s) ` +
    `in flight ${int(p.inFlight)} | errors ${int(p.errors)} | answers correct ${int(p.correct)} wrong ${int(p.wrong)} ` +
    `not checked ${int(p.excluded)} | p99 ms tags ${p99(p.p99.user_tags)} profiles ${p99(p.p99.user_profiles)} aggregates ${p99(p.p99.aggregates)}`
  );
}
