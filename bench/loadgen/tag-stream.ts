/**
 * The deterministic stream of user tags for a seed. Tag number `seq` happens at
 * `startMs + seq * stepMs` (1 ms by default: a logical 1,000 tags/s whatever the send rate), except that
 * a few are sent as clients with second precision send them: truncated to the whole second and
 * written without milliseconds (so they arrive up to 999 ms late). Cardinalities and skews are those of
 * production; every draw comes from the seeded generator, so the same seed gives the same tags.
 */
import { Rng, ZipfSampler, hashLabel, mix32 } from './prng';
import { MS_PER_SECOND, formatTagTimeMillis, formatTagTimeSeconds } from './utc';

export const ACTIONS = ['VIEW', 'BUY'] as const;
export type Action = (typeof ACTIONS)[number];
export const DEVICES = ['PC', 'MOBILE', 'TV'] as const;
export type Device = (typeof DEVICES)[number];

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/** A user tag as JSON, the contract of POST /user_tags (written here, not imported from the product). */
export interface TagJson {
  time: string;
  cookie: string;
  country: string;
  device: Device;
  action: Action;
  origin: string;
  product_info: { product_id: string | number; brand_id: string; category_id: string; price: number };
}

export interface StreamConfig {
  seed: number;
  /** Event time of the first tag, epoch ms. */
  startMs: number;
  /** Event-time step between consecutive tags, ms (>= 1). */
  stepMs: number;
  cookies: number;
  /** Zipf exponent of cookie popularity (0: uniform; 1: a few very active cookies, a long tail). */
  cookieSkew: number;
  countries: number;
  origins: number;
  brands: number;
  categories: number;
  products: number;
  /** Share of BUY among tags. */
  buyShare: number;
  /** Share of tags whose time is sent without milliseconds (truncated to the whole second). */
  secondPrecisionShare: number;
  /** Share of tags whose product_id is sent as a string rather than a JSON integer. */
  stringProductIdShare: number;
  /** Share of tags with an extreme int32 price (limits, zero, negative). */
  extremePriceShare: number;
  /** Share of names (cookies, origins, brands, categories) with characters that need URL encoding. */
  oddNameShare: number;
}

export const DEFAULT_STREAM: Omit<StreamConfig, 'seed'> = {
  startMs: Date.UTC(2022, 2, 1),
  stepMs: 1,
  cookies: 1_000_000,
  cookieSkew: 1,
  countries: 100,
  origins: 1_000,
  brands: 250,
  categories: 67,
  products: 100_000,
  buyShare: 0.2,
  secondPrecisionShare: 0.02,
  stringProductIdShare: 0.05,
  extremePriceShare: 0.005,
  oddNameShare: 0.01,
};

export interface GeneratedTag {
  seq: number;
  /** Event time in epoch ms (after truncation for second-precision tags). */
  eventMs: number;
  cookie: string;
  action: Action;
  originIdx: number;
  brandIdx: number;
  categoryIdx: number;
  price: number;
  body: TagJson;
  /** The request body, serialised once. */
  json: string;
}

/** The most a tag's event time lags behind its position in the stream (second-precision truncation). */
export const MAX_LATENESS_MS = MS_PER_SECOND - 1;

const EXTREME_PRICES = [INT32_MAX, INT32_MIN, 0, -1, 1, INT32_MAX - 1, INT32_MIN + 1];
// Characters real data carries and that a careless URL or JSON layer mangles.
const ODD_PIECES = [' ', '&', '=', '+', '%', '/', '?', '#', 'é', 'ü', '漢', '😀', '"', "'", '\\', ';', ','];
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A deterministic name: `prefix` + base62 of a hash + the index in base 36, so different indexes never collide. */
function name(prefix: string, salt: number, index: number, oddShare: number): string {
  let h = mix32(salt ^ mix32(index));
  let tag = '';
  for (let i = 0; i < 6; i++) {
    tag += ALPHABET[h % 62];
    h = (Math.floor(h / 62) ^ mix32(h + i)) >>> 0;
  }
  const odd = (mix32(salt + index * 7 + 3) % 1_000_000) / 1_000_000 < oddShare;
  const middle = odd
    ? ODD_PIECES[mix32(index + salt) % ODD_PIECES.length] + ODD_PIECES[mix32(index) % ODD_PIECES.length]
    : '';
  return `${prefix}${tag}${middle}${index.toString(36)}`;
}

export class TagStream {
  private readonly rng: Rng;
  private readonly cookieRanks: ZipfSampler;
  private readonly originRanks: ZipfSampler;
  private readonly productRanks: ZipfSampler;
  readonly originNames: readonly string[];
  readonly brandNames: readonly string[];
  readonly categoryNames: readonly string[];
  private readonly countryNames: readonly string[];
  private readonly salt: number;
  /** Recent (cookie, action, eventMs) to keep truncated times unique per cookie and action. */
  private readonly recent: { key: string; eventMs: number }[] = [];
  private seq = 0;

  constructor(readonly config: StreamConfig) {
    if (!(config.stepMs >= 1 && Number.isInteger(config.stepMs)))
      throw new RangeError('stepMs must be an integer >= 1');
    this.rng = new Rng(config.seed, 'tags');
    this.salt = mix32(config.seed ^ hashLabel('names'));
    this.cookieRanks = new ZipfSampler(config.cookies, config.cookieSkew);
    this.originRanks = new ZipfSampler(config.origins, 0.8);
    this.productRanks = new ZipfSampler(config.products, 0.9);
    const odd = config.oddNameShare;
    this.originNames = Array.from({ length: config.origins }, (_, i) => name('origin-', this.salt + 1, i, odd));
    this.brandNames = Array.from({ length: config.brands }, (_, i) => name('brand-', this.salt + 2, i, odd));
    this.categoryNames = Array.from({ length: config.categories }, (_, i) => name('cat-', this.salt + 3, i, odd));
    this.countryNames = Array.from({ length: config.countries }, (_, i) =>
      i < 676 ? String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26)) : `C${i}`,
    );
  }

  /** Name of the cookie of popularity rank `rank` (1 = most active). */
  cookieName(rank: number): string {
    return name('', this.salt, rank, this.config.oddNameShare);
  }

  /** Number of tags generated so far (the seq of the next one). */
  get generated(): number {
    return this.seq;
  }

  /** Event time of position `seq` in the stream before any truncation. */
  nominalTime(seq: number): number {
    return this.config.startMs + seq * this.config.stepMs;
  }

  next(): GeneratedTag {
    const c = this.config;
    const rng = this.rng;
    const seq = this.seq++;
    const rank = this.cookieRanks.sample(rng);
    const cookie = this.cookieName(rank);
    // A cookie keeps its country and usually its device: users do not move at every event.
    const country = this.countryNames[mix32(rank ^ this.salt) % c.countries] as string;
    const homeDevice = DEVICES[mix32(rank + this.salt) % 10 < 5 ? 0 : mix32(rank + this.salt) % 10 < 9 ? 1 : 2];
    const device = rng.chance(0.9) ? homeDevice : rng.pick(DEVICES);
    const action: Action = rng.chance(c.buyShare) ? 'BUY' : 'VIEW';
    const originIdx = this.originRanks.sample(rng) - 1;
    const product = this.productRanks.sample(rng);
    // A product belongs to one brand and one category.
    const brandIdx = mix32(product ^ (this.salt + 11)) % c.brands;
    const categoryIdx = mix32(product ^ (this.salt + 13)) % c.categories;
    const price = rng.chance(c.extremePriceShare)
      ? rng.pick(EXTREME_PRICES)
      : Math.max(1, Math.min(10_000_000, Math.round(Math.exp(7 + 1.5 * gaussian(rng)))));
    const productId: string | number = rng.chance(c.stringProductIdShare) ? String(product) : product;

    let eventMs = this.nominalTime(seq);
    let time = formatTagTimeMillis(eventMs);
    if (rng.chance(c.secondPrecisionShare)) {
      const whole = Math.floor(eventMs / MS_PER_SECOND) * MS_PER_SECOND;
      // Two tags of one cookie and action at the same instant are legal, but the product may return them in
      // either order, and the model does not guess tie orders: never create such a pair.
      if (!this.collides(`${cookie}\u0000${action}`, whole)) {
        eventMs = whole;
        time = formatTagTimeSeconds(whole);
      }
    }
    this.remember(`${cookie}\u0000${action}`, eventMs);

    const body: TagJson = {
      time,
      cookie,
      country,
      device,
      action,
      origin: this.originNames[originIdx] as string,
      product_info: {
        product_id: productId,
        brand_id: this.brandNames[brandIdx] as string,
        category_id: this.categoryNames[categoryIdx] as string,
        price,
      },
    };
    return {
      seq,
      eventMs,
      cookie,
      action,
      originIdx,
      brandIdx,
      categoryIdx,
      price,
      body,
      json: JSON.stringify(body),
    };
  }

  private collides(key: string, eventMs: number): boolean {
    return this.recent.some((r) => r.key === key && r.eventMs === eventMs);
  }

  /** Keeps the tags of the last second of stream time: a truncated time can only meet one of those. */
  private remember(key: string, eventMs: number): void {
    this.recent.push({ key, eventMs });
    const horizon = this.nominalTime(this.seq) - 2 * MS_PER_SECOND;
    let drop = 0;
    while (drop < this.recent.length && (this.recent[drop] as { eventMs: number }).eventMs < horizon) drop++;
    if (drop > 256) this.recent.splice(0, drop);
  }
}

/** Standard normal draw (Box-Muller). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.float();
  const v = rng.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
