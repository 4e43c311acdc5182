/** Command-line flags of the loadgen, parsed and checked in one place (every problem listed at once). */
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, LoadgenOptions } from './loadgen';
import { DEFAULT_STREAM } from './tag-stream';
import { parseUtc } from './utc';

export const USAGE = `npm run loadgen -- [flags]

  --url URL                 API base URL (default http://127.0.0.1:8080)
  --rate N                  tags sent per second (default ${DEFAULT_OPTIONS.rate})
  --duration S              seconds of sending (default ${DEFAULT_OPTIONS.durationS})
  --tags N                  stop after N tags (with --duration: whichever comes first)
  --seed N                  seed of the stream (default ${DEFAULT_OPTIONS.seed})
  --concurrency N           most requests in flight (default ${DEFAULT_OPTIONS.concurrency})
  --profile-every N         one profile query per N tags, 0: none (default ${DEFAULT_OPTIONS.profileEvery})
  --aggregate-every N       one aggregates query per N tags, 0: none (default ${DEFAULT_OPTIONS.aggregateEvery})
  --profile-latency-ms MS   a 204'd tag is in its profile within MS (default ${DEFAULT_OPTIONS.profileLatencyMs})
  --aggregate-latency-ms MS a 204'd tag is in /aggregates within MS (default ${DEFAULT_OPTIONS.aggregateLatencyMs})
  --data-latency-ms MS      both latencies at once (the specific flags win)
  --timeout-ms MS           request timeout (default ${DEFAULT_OPTIONS.timeoutMs})
  --final-queries N         queries of each kind once the stream settled (default ${DEFAULT_OPTIONS.finalQueries})
  --capacity N              newest tags per cookie and action the product keeps (default ${DEFAULT_OPTIONS.profileCapacity})
  --retention-hours H       event-time hours of aggregates the product keeps (default ${DEFAULT_OPTIONS.retentionHours})
  --report-dir DIR          where report.json, report.md and report.html go (default .cache/loadgen/<time>)
  --start ISO               event time of the first tag (default 2022-03-01T00:00:00.000Z)
  --step-ms MS              event time between consecutive tags (default ${DEFAULT_STREAM.stepMs})
  --cookies N --cookie-skew S --countries N --origins N --brands N --categories N --products N
                            cardinalities (defaults ${DEFAULT_STREAM.cookies}, ${DEFAULT_STREAM.cookieSkew}, ${DEFAULT_STREAM.countries}, ${DEFAULT_STREAM.origins}, ${DEFAULT_STREAM.brands}, ${DEFAULT_STREAM.categories}, ${DEFAULT_STREAM.products})
  --buy-share F --second-precision-share F --string-product-id-share F --extreme-price-share F --odd-name-share F
                            shares of tags (defaults ${DEFAULT_STREAM.buyShare}, ${DEFAULT_STREAM.secondPrecisionShare}, ${DEFAULT_STREAM.stringProductIdShare}, ${DEFAULT_STREAM.extremePriceShare}, ${DEFAULT_STREAM.oddNameShare})
  --no-debug-body           send queries without the expected answer in the body (still checked here)
  --quiet                   no progress line

Against a system that already holds data, use a --start later than earlier runs' event times and another
--seed: the checks assume the system holds only what this run sent.
Exit status: 0 when every tag was accepted and every checked answer was right, 1 otherwise, 2 on bad flags.`;

export interface CliOptions {
  loadgen: Omit<LoadgenOptions, 'onProgress'>;
  reportDir: string | undefined;
  quiet: boolean;
}

const NUMBER_FLAGS = {
  rate: { min: 0.001 },
  duration: { min: 0 },
  tags: { min: 1, int: true },
  seed: { min: 0, int: true },
  concurrency: { min: 1, int: true },
  'profile-every': { min: 0, int: true },
  'aggregate-every': { min: 0, int: true },
  'profile-latency-ms': { min: 0 },
  'aggregate-latency-ms': { min: 0 },
  'data-latency-ms': { min: 0 },
  'timeout-ms': { min: 1 },
  'final-queries': { min: 0, int: true },
  capacity: { min: 1, int: true },
  'retention-hours': { min: 1 },
  'step-ms': { min: 1, int: true },
  cookies: { min: 1, int: true },
  'cookie-skew': { min: 0 },
  countries: { min: 1, int: true },
  origins: { min: 1, int: true },
  brands: { min: 1, int: true },
  categories: { min: 1, int: true },
  products: { min: 1, int: true },
  'buy-share': { min: 0, max: 1 },
  'second-precision-share': { min: 0, max: 1 },
  'string-product-id-share': { min: 0, max: 1 },
  'extreme-price-share': { min: 0, max: 1 },
  'odd-name-share': { min: 0, max: 1 },
} as const satisfies Record<string, { min: number; max?: number; int?: boolean }>;

type NumberFlag = keyof typeof NUMBER_FLAGS;

export class UsageError extends Error {}

export function parseCli(argv: readonly string[]): CliOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: 'string' },
      'report-dir': { type: 'string' },
      start: { type: 'string' },
      quiet: { type: 'boolean' },
      'no-debug-body': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...(Object.fromEntries(Object.keys(NUMBER_FLAGS).map((k) => [k, { type: 'string' }])) as Record<
        NumberFlag,
        { type: 'string' }
      >),
    },
  });
  if (values.help) return 'help';
  const problems: string[] = [];
  const num = (flag: NumberFlag, fallback: number): number => {
    const raw = values[flag];
    if (raw === undefined) return fallback;
    const rule: { min: number; max?: number; int?: boolean } = NUMBER_FLAGS[flag];
    const v = Number(raw);
    if (
      raw.trim() === '' ||
      !Number.isFinite(v) ||
      v < rule.min ||
      (rule.max !== undefined && v > rule.max) ||
      (rule.int && !Number.isInteger(v))
    ) {
      problems.push(
        `--${flag} must be ${rule.int ? 'an integer' : 'a number'} >= ${rule.min}${rule.max !== undefined ? ` and <= ${rule.max}` : ''}, got ${JSON.stringify(raw)}`,
      );
      return fallback;
    }
    return v;
  };
  let startMs = DEFAULT_STREAM.startMs;
  if (values.start !== undefined) {
    const parsed = parseUtc(values.start, 'required');
    if (parsed === undefined)
      problems.push(
        `--start must be an ISO-8601 UTC time like 2022-03-01T00:00:00.000Z, got ${JSON.stringify(values.start)}`,
      );
    else startMs = parsed;
  }
  const url = values.url ?? 'http://127.0.0.1:8080';
  if (!/^http:\/\/[^/]+/.test(url)) problems.push(`--url must be an http:// URL, got ${JSON.stringify(url)}`);
  const durationGiven = values.duration !== undefined;
  const tagsGiven = values.tags !== undefined;
  const options: CliOptions = {
    reportDir: values['report-dir'],
    quiet: values.quiet ?? false,
    loadgen: {
      url,
      rate: num('rate', DEFAULT_OPTIONS.rate),
      // --tags alone bounds by count only; the duration is then generous but still a bound.
      durationS: num('duration', tagsGiven && !durationGiven ? 24 * 3600 : DEFAULT_OPTIONS.durationS),
      maxTags: tagsGiven ? num('tags', Infinity) : Infinity,
      concurrency: num('concurrency', DEFAULT_OPTIONS.concurrency),
      profileEvery: num('profile-every', DEFAULT_OPTIONS.profileEvery),
      aggregateEvery: num('aggregate-every', DEFAULT_OPTIONS.aggregateEvery),
      profileLatencyMs: num('profile-latency-ms', num('data-latency-ms', DEFAULT_OPTIONS.profileLatencyMs)),
      aggregateLatencyMs: num('aggregate-latency-ms', num('data-latency-ms', DEFAULT_OPTIONS.aggregateLatencyMs)),
      timeoutMs: num('timeout-ms', DEFAULT_OPTIONS.timeoutMs),
      profileCapacity: num('capacity', DEFAULT_OPTIONS.profileCapacity),
      retentionHours: num('retention-hours', DEFAULT_OPTIONS.retentionHours),
      finalQueries: num('final-queries', DEFAULT_OPTIONS.finalQueries),
      maxDiffs: DEFAULT_OPTIONS.maxDiffs,
      debugBodies: !(values['no-debug-body'] ?? false),
      stream: {
        seed: num('seed', DEFAULT_OPTIONS.seed),
        startMs,
        stepMs: num('step-ms', DEFAULT_STREAM.stepMs),
        cookies: num('cookies', DEFAULT_STREAM.cookies),
        cookieSkew: num('cookie-skew', DEFAULT_STREAM.cookieSkew),
        countries: num('countries', DEFAULT_STREAM.countries),
        origins: num('origins', DEFAULT_STREAM.origins),
        brands: num('brands', DEFAULT_STREAM.brands),
        categories: num('categories', DEFAULT_STREAM.categories),
        products: num('products', DEFAULT_STREAM.products),
        buyShare: num('buy-share', DEFAULT_STREAM.buyShare),
        secondPrecisionShare: num('second-precision-share', DEFAULT_STREAM.secondPrecisionShare),
        stringProductIdShare: num('string-product-id-share', DEFAULT_STREAM.stringProductIdShare),
        extremePriceShare: num('extreme-price-share', DEFAULT_STREAM.extremePriceShare),
        oddNameShare: num('odd-name-share', DEFAULT_STREAM.oddNameShare),
      },
    },
  };
  if (options.loadgen.durationS === 0 && !tagsGiven) problems.push('--duration 0 needs --tags');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return options;
}
