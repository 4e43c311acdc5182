/**
 * A seeded generator of malformed requests to the gateway's API: every one of them is wrong in a way the
 * contract rejects (so each must get a 4xx, and nothing may be written), whatever else it carries: odd
 * unicode and path characters in cookies, SQL-looking text in every text field, huge bodies. The same
 * seed gives the same requests, in the same order.
 *
 * Shares nothing with the product: the rules it relies on are the API's documented contract (README,
 * OpenAPI): tag fields and their types, enums, `time` as ISO-8601 UTC with `Z`, profile ranges with
 * millisecond bounds and `limit` 1..200, aggregates ranges of whole minutes, at most 10, second precision.
 */
import { RawRequest } from './raw-http';

export interface BadRequest {
  /** What is wrong with it (for the figures): e.g. `tag: wrong type`. */
  kind: string;
  /** How it is wrong, in words, for a failure message. */
  what: string;
  request: RawRequest;
}

/** mulberry32: small, seedable, good enough to pick test cases. */
class Prng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** SQL-looking text, as an attacker would put in any field. */
export const SQL_STRINGS = [
  "' OR '1'='1",
  "'; DROP TABLE profile_tag; --",
  "'); DELETE FROM minute_cube; --",
  '" OR ""="',
  '1; TRUNCATE consumer_offset',
  "x' UNION SELECT cookie, tag FROM profile_tag --",
  "admin'--",
  "1' AND pg_sleep(5) IS NULL --",
  '$1',
  '$$; DROP SCHEMA public CASCADE; $$',
  "E'\\x27'",
  "%' OR 1=1 --",
  "\\'; SELECT 1; --",
  '/* */ OR /* */ 1=1',
  "'||(SELECT version())||'",
  "COPY profile_tag TO PROGRAM 'rm -rf /'",
] as const;

/** Characters that break careless URL, path, JSON or SQL handling, and unicode of every kind. */
export const ODD_TEXT = [
  '../../etc/passwd',
  '..',
  '.',
  'a/b',
  'a\\b',
  '%2e%2e%2f',
  '%00',
  'nul\u0000byte',
  'line\nbreak',
  'tab\tand\rcr',
  'zero\u200bwidth',
  'rtl\u202eoverride',
  'emoji😀🚀',
  'combining e\u0301',
  'ｆｕｌｌｗｉｄｔｈ',
  '漢字かな',
  'Ω≈ç√∫',
  'lone\ud800surrogate',
  'bom\ufeff',
  '?query=1#frag',
  '&amp;=+%',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '{{7*7}}',
  ' leading and trailing ',
  '\u0001\u0002\u001f',
  'é'.repeat(40),
] as const;

const DEVICES = ['PC', 'MOBILE', 'TV'];
const ACTIONS = ['VIEW', 'BUY'];
const BAD_ENUMS = [
  'view',
  'Buy',
  'CLICK',
  '',
  ' VIEW',
  'VIEW ',
  'V\u0406EW',
  'PC\u0000',
  'MOBILE\n',
  'TV;--',
  'pc',
  'PHONE',
  'null',
];
const BAD_TIMES = [
  '2022-03-22T12:15:00.000',
  '2022-03-22T12:15:00.000+01:00',
  '2022-03-22T12:15:00+00:00',
  '2022-03-22 12:15:00.000Z',
  '2022-03-22t12:15:00.000z',
  '2022-02-30T12:15:00.000Z',
  '2022-13-01T00:00:00.000Z',
  '2022-00-10T00:00:00.000Z',
  '2021-02-29T00:00:00.000Z',
  '2022-03-32T00:00:00.000Z',
  '2022-03-22T24:00:00.000Z',
  '2022-03-22T12:60:00.000Z',
  '2022-03-22T12:15:60.000Z',
  '2022-03-22T12:15:00.0000000000Z',
  '0000-01-01T00:00:00.000Z',
  '22022-03-22T12:15:00.000Z',
  '2022-3-22T12:15:00.000Z',
  '2022-03-22T12:15Z',
  '2022-03-22',
  '2022-03-22T12:15:00.Z',
  '2022-W12-2T12:15:00Z',
  '1647951300000',
  'yesterday',
  '',
  ' 2022-03-22T12:15:00.000Z',
  '2022-03-22T12:15:00.000Z ',
  '٢٠٢٢-03-22T12:15:00.000Z',
  "2022-03-22T12:15:00.000Z' OR '1'='1",
];

export interface Sizes {
  /** BODY_LIMIT_BYTES of the gateway under test: bodies above it must get 413. */
  bodyLimitBytes: number;
}

export class BadRequestGenerator {
  private readonly r: Prng;
  private n = 0;

  constructor(
    seed: number,
    private readonly sizes: Sizes,
  ) {
    this.r = new Prng(seed);
  }

  /** The next malformed request. */
  next(): BadRequest {
    this.n += 1;
    const makers: [number, () => BadRequest][] = [
      [10, () => this.invalidJson()],
      [12, () => this.wrongType()],
      [8, () => this.missingField()],
      [8, () => this.extraField()],
      [3, () => this.hugeBody()],
      [4, () => this.longText()],
      [7, () => this.badEnum()],
      [8, () => this.badTime()],
      [4, () => this.badMediaType()],
      [6, () => this.sqlInEveryField()],
      [4, () => this.oddCookieTag()],
      [12, () => this.badProfileQuery()],
      [12, () => this.badAggregatesQuery()],
      [3, () => this.badRoute()],
    ];
    const total = makers.reduce((s, [w]) => s + w, 0);
    let x = this.r.next() * total;
    for (const [w, make] of makers) {
      x -= w;
      if (x < 0) return make();
    }
    return makers[0]![1]();
  }

  // ---- tags ----------------------------------------------------------------------------------------

  /** A valid tag with a cookie of its own (so a tag written by mistake is traceable). */
  private validTag(): Record<string, unknown> {
    const r = this.r;
    return {
      time: `2022-03-${String(1 + r.int(28)).padStart(2, '0')}T${String(r.int(24)).padStart(2, '0')}:${String(r.int(60)).padStart(2, '0')}:00.${String(r.int(1000)).padStart(3, '0')}Z`,
      cookie: `bad-input-${this.n}`,
      country: r.pick(['PL', 'DE', 'US']),
      device: r.pick(DEVICES),
      action: r.pick(ACTIONS),
      origin: `origin-${r.int(5)}`,
      product_info: {
        product_id: r.chance(0.5) ? r.int(100_000) : `p-${r.int(100_000)}`,
        brand_id: `brand-${r.int(5)}`,
        category_id: `cat-${r.int(5)}`,
        price: r.int(10_000),
      },
    };
  }

  private info(tag: Record<string, unknown>): Record<string, unknown> {
    return tag.product_info as Record<string, unknown>;
  }

  /** One defect the contract rejects, applied to `tag` (for requests whose point is something else). */
  private spoil(tag: Record<string, unknown>): string {
    const r = this.r;
    switch (r.int(5)) {
      case 0:
        tag.device = r.pick(BAD_ENUMS);
        return `device ${JSON.stringify(tag.device)}`;
      case 1:
        tag.time = r.pick(BAD_TIMES);
        return `time ${JSON.stringify(tag.time)}`;
      case 2:
        this.info(tag).price = r.pick(['100', 1.5, null, true, 2_147_483_648]);
        return `price ${JSON.stringify(this.info(tag).price)}`;
      case 3:
        delete tag.action;
        return 'no action';
      default:
        tag.unexpected = r.pick(SQL_STRINGS);
        return 'an unknown field';
    }
  }

  private tagRequest(kind: string, what: string, body: string | Buffer, contentType = 'application/json'): BadRequest {
    return {
      kind,
      what,
      request: {
        method: 'POST',
        path: '/user_tags',
        headers: contentType === '' ? {} : { 'content-type': contentType },
        body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
      },
    };
  }

  private invalidJson(): BadRequest {
    const r = this.r;
    const json = JSON.stringify(this.validTag());
    const variants: [string, () => string | Buffer][] = [
      ['truncated', () => json.slice(0, 1 + r.int(json.length - 1))],
      ['trailing garbage', () => json + r.pick(['}', ']', 'x', ',', '{}', ' 1'])],
      ['single quotes', () => json.replace(/"/g, "'")],
      ['trailing comma', () => `${json.slice(0, -1)},}`],
      ['NaN', () => json.replace(/"price":-?\d+/, '"price":NaN')],
      ['Infinity', () => json.replace(/"price":-?\d+/, '"price":Infinity')],
      ['comment', () => `/* tag */${json}`],
      ['unquoted keys', () => json.replace(/"(\w+)":/g, '$1:')],
      ['raw control character', () => json.replace('"origin":"', '"origin":"\u0001\n')],
      ['bad escape', () => json.replace('"origin":"', '"origin":"\\x41')],
      ['empty', () => ''],
      ['whitespace', () => '  \n\t '],
      ['lone brace', () => r.pick(['{', '}', '[', '"', '{"time":'])],
      ['two documents', () => `${json}\n${json}`],
      ['binary', () => Buffer.from(Array.from({ length: 1 + r.int(200) }, () => r.int(256)))],
      ['hex number', () => json.replace(/"price":-?\d+/, '"price":0x10')],
      ['leading plus', () => json.replace(/"price":(\d+)/, '"price":+$1')],
    ];
    const [name, make] = r.pick(variants);
    return this.tagRequest('tag: invalid JSON', name, make());
  }

  private wrongType(): BadRequest {
    const r = this.r;
    const tag = this.validTag();
    const fields = [
      'time',
      'cookie',
      'country',
      'device',
      'action',
      'origin',
      'product_info',
      'product_id',
      'brand_id',
      'category_id',
      'price',
    ];
    const field = r.pick(fields);
    const notString: unknown[] = [123, -1.5, 0, true, false, null, [], ['VIEW'], {}, { $gt: '' }, { toString: 'x' }];
    let value: unknown;
    if (field === 'product_id') value = r.pick([1.5, -0.5, true, false, null, [], [1], {}, { id: 1 }, 1e300]);
    else if (field === 'price')
      value = r.pick(['100', '', 1.5, -0.25, true, null, [], [100], {}, 2_147_483_648, -2_147_483_649, 1e20]);
    else if (field === 'product_info') value = r.pick(['x', 1, true, null, [], [{}]]);
    else value = r.pick(notString);
    if (['product_id', 'brand_id', 'category_id', 'price'].includes(field)) this.info(tag)[field] = value;
    else tag[field] = value;
    const body = r.chance(0.05) ? JSON.stringify(r.pick([42, 'tag', null, true, [tag], []])) : JSON.stringify(tag);
    return this.tagRequest('tag: wrong type', `${field} = ${JSON.stringify(value)}`, body);
  }

  private missingField(): BadRequest {
    const r = this.r;
    const tag = this.validTag();
    const top = ['time', 'cookie', 'country', 'device', 'action', 'origin', 'product_info'];
    const inner = ['product_id', 'brand_id', 'category_id', 'price'];
    const removed: string[] = [];
    for (let i = 0, k = 1 + r.int(3); i < k; i++) {
      if (r.chance(0.6)) {
        const f = r.pick(top);
        if (f in tag) {
          delete tag[f];
          removed.push(f);
        }
      } else if (tag.product_info !== undefined) {
        const f = r.pick(inner);
        delete this.info(tag)[f];
        removed.push(`product_info.${f}`);
      }
    }
    if (removed.length === 0) {
      delete tag.cookie;
      removed.push('cookie');
    }
    return this.tagRequest('tag: missing field', removed.join(', '), JSON.stringify(tag));
  }

  private extraField(): BadRequest {
    const r = this.r;
    const tag = this.validTag();
    const name = r.pick([
      'referrer',
      'Cookie',
      'time ',
      'user_id',
      'id',
      ...SQL_STRINGS,
      ...ODD_TEXT,
      'constructor',
      'prototype',
      'toString',
    ]);
    const value = r.pick([1, 'x', null, { a: 1 }, r.pick(SQL_STRINGS)]);
    let body: string;
    if (r.chance(0.15)) {
      body = JSON.stringify(tag).replace(/^\{/, '{"__proto__":{"polluted":true},');
      return this.tagRequest('tag: extra field', '__proto__', body);
    }
    if (r.chance(0.5)) tag[name] = value;
    else this.info(tag)[name] = value;
    return this.tagRequest('tag: extra field', JSON.stringify(name), JSON.stringify(tag));
  }

  private hugeBody(): BadRequest {
    const r = this.r;
    const limit = this.sizes.bodyLimitBytes;
    // Mostly just over the limit; a few far over (up to 2 MB).
    const size = r.chance(0.8) ? limit + 1 + r.int(limit) : limit * 2 + r.int(2 * 1024 * 1024);
    const tag = this.validTag();
    const variants: [string, () => string][] = [
      ['long origin', () => JSON.stringify({ ...tag, origin: 'o'.repeat(size) })],
      [
        'many fields',
        () =>
          JSON.stringify({
            ...tag,
            ...Object.fromEntries(Array.from({ length: Math.ceil(size / 12) }, (_, i) => [`f${i}`, i])),
          }),
      ],
      ['padding', () => JSON.stringify(tag) + ' '.repeat(size)],
      ['deep nesting', () => '['.repeat(size)],
    ];
    const [name, make] = r.pick(variants);
    return this.tagRequest('tag: body over the limit', `${name}, ~${size} bytes`, make());
  }

  private longText(): BadRequest {
    const r = this.r;
    const tag = this.validTag();
    const field = r.pick(['cookie', 'country', 'origin', 'brand_id', 'category_id', 'product_id']);
    // Over 256 characters, under the body limit.
    const value = r.pick(['x', 'é', '😀', "'"]).repeat(257 + r.int(1_500));
    if (['brand_id', 'category_id', 'product_id'].includes(field)) this.info(tag)[field] = value;
    else tag[field] = value;
    return this.tagRequest('tag: text too long', `${field}: ${value.length} characters`, JSON.stringify(tag));
  }

  private badEnum(): BadRequest {
    const tag = this.validTag();
    const field = this.r.pick(['device', 'action']);
    tag[field] = this.r.pick([...BAD_ENUMS, ...SQL_STRINGS.slice(0, 4)]);
    return this.tagRequest('tag: bad enum', `${field} ${JSON.stringify(tag[field])}`, JSON.stringify(tag));
  }

  private badTime(): BadRequest {
    const tag = this.validTag();
    tag.time = this.r.pick(BAD_TIMES);
    return this.tagRequest('tag: bad time', JSON.stringify(tag.time), JSON.stringify(tag));
  }

  private badMediaType(): BadRequest {
    const type = this.r.pick([
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/octet-stream',
      'text/json',
      '',
    ]);
    return this.tagRequest(
      'tag: not JSON',
      `content-type ${JSON.stringify(type)}`,
      JSON.stringify(this.validTag()),
      type,
    );
  }

  private sqlInEveryField(): BadRequest {
    const r = this.r;
    const tag = this.validTag();
    for (const f of ['cookie', 'country', 'origin']) tag[f] = r.pick(SQL_STRINGS);
    for (const f of ['brand_id', 'category_id', 'product_id']) this.info(tag)[f] = r.pick(SQL_STRINGS);
    const defect = this.spoil(tag);
    return this.tagRequest('tag: SQL in every text field', defect, JSON.stringify(tag));
  }

  private oddCookieTag(): BadRequest {
    const r = this.r;
    const tag = this.validTag();
    tag.cookie = r.pick(ODD_TEXT);
    const defect = this.spoil(tag);
    let body: Buffer = Buffer.from(JSON.stringify(tag), 'utf8');
    if (r.chance(0.2)) {
      // Invalid UTF-8 inside the cookie's string (a lone continuation byte, an overlong slash).
      const at = body.indexOf('"cookie":"') + 10;
      body = Buffer.concat([
        body.subarray(0, at),
        Buffer.from(r.pick([[0x80], [0xc0, 0xaf], [0xff, 0xfe], [0xed, 0xa0, 0x80]])),
        body.subarray(at),
      ]);
    }
    return this.tagRequest('tag: odd cookie', `${JSON.stringify(tag.cookie)} and ${defect}`, body);
  }

  // ---- queries -------------------------------------------------------------------------------------

  /** A cookie as it appears in the path: percent-encoded odd text, or raw bytes and broken escapes. */
  private cookieSegment(): string {
    const r = this.r;
    switch (r.int(6)) {
      case 0:
        return encodeURIComponent(r.pick(ODD_TEXT).replace(/[\ud800-\udfff]/g, '?'));
      case 1:
        return encodeURIComponent(r.pick(SQL_STRINGS));
      case 2:
        return r.pick([
          '..',
          '.',
          '%2e%2e',
          '%2F',
          'a%2Fb',
          '%00',
          '%25',
          '%',
          '%zz',
          '%C0%AF',
          '%ED%A0%80',
          '%FF',
          '%E2%82',
          'é',
          '😀',
          '漢',
          "'",
          '"',
          '<>',
          '{}',
          '|',
          '\\',
          '^',
          '`',
        ]);
      case 3:
        return encodeURIComponent('x'.repeat(257 + r.int(300)));
      case 4:
        return `c-${r.int(1000)}`;
      default:
        return encodeURIComponent(`${r.pick(ODD_TEXT)}${r.pick(SQL_STRINGS)}`.replace(/[\ud800-\udfff]/g, '?'));
    }
  }

  /** Mostly percent-encoded as a browser would; sometimes only the characters that would break the URL. */
  private queryValue(v: string): string {
    const whole = this.r.chance(0.85);
    let out = '';
    for (const ch of v) {
      const cp = ch.codePointAt(0) as number;
      // A lone surrogate has no UTF-8 form: a client could only send its replacement.
      if (cp >= 0xd800 && cp <= 0xdfff) out += '%EF%BF%BD';
      else if (whole || /[ #&?%+]/.test(ch) || cp < 0x20 || cp > 0x7e) out += encodeURIComponent(ch);
      else out += ch;
    }
    return out;
  }

  /** A bad profile time range: formats, precisions, order. */
  private badProfileRange(): [string, string] {
    const r = this.r;
    const from = '2022-03-01T00:00:00.000';
    const to = '2022-03-01T00:10:00.000';
    const cases: [string, string][] = [
      ['reversed', `${to}_${from}`],
      ['empty range', `${from}_${from}`],
      ['one bound', from],
      ['three bounds', `${from}_${to}_${to}`],
      ['empty bounds', '_'],
      ['empty', ''],
      ['with zone', `${from}Z_${to}Z`],
      ['with offset', `${from}+01:00_${to}`],
      ['1 fraction digit', '2022-03-01T00:00:00.0_2022-03-01T00:10:00.0'],
      ['6 fraction digits', '2022-03-01T00:00:00.000000_2022-03-01T00:10:00.000000'],
      ['impossible date', '2022-02-30T00:00:00.000_2022-03-01T00:00:00.000'],
      ['hour 24', '2022-03-01T24:00:00.000_2022-03-02T00:10:00.000'],
      ['dash separator', `${from}-${to}`],
      ['space', `${from} ${to}`],
      ['words', 'yesterday_today'],
      ['epoch millis', '1646092800000_1646093400000'],
      ['SQL', `${from}_${r.pick(SQL_STRINGS)}`],
      ['odd text', `${r.pick(ODD_TEXT)}_${to}`],
    ];
    return r.pick(cases);
  }

  private badLimit(): string {
    return this.r.pick([
      '0',
      '-1',
      '201',
      '999',
      '1000',
      '1.5',
      '1e2',
      '',
      ' 5',
      '0x10',
      'abc',
      '٣',
      '10 ',
      '+5',
      '5;',
      "1' OR '1'='1",
      '99999999999999999999',
    ]);
  }

  private badProfileQuery(): BadRequest {
    const r = this.r;
    const cookie = this.cookieSegment();
    const goodRange = '2022-03-01T00:00:00.000_2022-03-01T00:10:00.000';
    let what: string;
    let query: string;
    switch (r.int(6)) {
      case 0:
      case 1: {
        const [name, range] = this.badProfileRange();
        what = `time_range ${name}`;
        query = `time_range=${this.queryValue(range)}${r.chance(0.3) ? '&limit=5' : ''}`;
        break;
      }
      case 2: {
        const limit = this.badLimit();
        what = `limit ${JSON.stringify(limit)}`;
        query = `time_range=${goodRange}&limit=${this.queryValue(limit)}`;
        break;
      }
      case 3:
        what = 'no time_range';
        query = r.pick(['', 'limit=5', 'time_range=', 'timerange=2022-03-01T00:00:00.000_2022-03-01T00:10:00.000']);
        if (query === 'time_range=') what = 'empty time_range';
        break;
      case 4: {
        const name = r.pick(['limt', 'cookie', 'action', 'origin', 'TIME_RANGE', ...SQL_STRINGS.slice(0, 6)]);
        what = `unknown parameter ${JSON.stringify(name)}`;
        query = `time_range=${goodRange}&${encodeURIComponent(name)}=1`;
        break;
      }
      default:
        what = 'a parameter given twice';
        query = r.chance(0.5)
          ? `time_range=${goodRange}&time_range=${goodRange}`
          : `time_range=${goodRange}&limit=5&limit=6`;
    }
    return {
      kind: 'profile query',
      what: `${what}, cookie segment ${JSON.stringify(cookie.slice(0, 40))}`,
      request: this.query(`/user_profiles/${cookie}${query === '' ? '' : `?${query}`}`),
    };
  }

  private badAggregatesQuery(): BadRequest {
    const r = this.r;
    const good = {
      time_range: '2022-03-01T00:00:00_2022-03-01T00:05:00',
      action: r.pick(ACTIONS),
      aggregates: r.pick([['COUNT'], ['SUM_PRICE'], ['COUNT', 'SUM_PRICE']]),
      origin: r.chance(0.3) ? r.pick([...SQL_STRINGS, ...ODD_TEXT]).replace(/[\ud800-\udfff]/g, '?') : undefined,
      brand_id: r.chance(0.3) ? r.pick(SQL_STRINGS) : undefined,
      category_id: r.chance(0.3) ? r.pick(SQL_STRINGS) : undefined,
    };
    const params: [string, string][] = [];
    let what: string;
    const ranges: [string, string][] = [
      ['reversed', '2022-03-01T00:05:00_2022-03-01T00:00:00'],
      ['empty range', '2022-03-01T00:05:00_2022-03-01T00:05:00'],
      ['not whole minutes', '2022-03-01T00:00:30_2022-03-01T00:05:00'],
      ['too long', '2022-03-01T00:00:00_2022-03-01T00:11:00'],
      ['a day long', '2022-03-01T00:00:00_2022-03-02T00:00:00'],
      ['millisecond bounds', '2022-03-01T00:00:00.000_2022-03-01T00:05:00.000'],
      ['with zone', '2022-03-01T00:00:00Z_2022-03-01T00:05:00Z'],
      ['one bound', '2022-03-01T00:00:00'],
      ['impossible date', '2022-02-30T00:00:00_2022-02-30T00:05:00'],
      ['SQL', `2022-03-01T00:00:00_${r.pick(SQL_STRINGS)}`],
      ['empty', ''],
    ];
    switch (r.int(8)) {
      case 0:
      case 1: {
        const [name, range] = r.pick(ranges);
        what = `time_range ${name}`;
        params.push(
          ['time_range', range],
          ['action', good.action],
          ...good.aggregates.map((a): [string, string] => ['aggregates', a]),
        );
        break;
      }
      case 2: {
        const action = r.pick([...BAD_ENUMS, ...SQL_STRINGS]);
        what = `action ${JSON.stringify(action)}`;
        params.push(['time_range', good.time_range], ['action', action], ['aggregates', 'COUNT']);
        break;
      }
      case 3: {
        const agg = r.pick(['AVG', 'count', 'MAX', '', 'COUNT,SUM_PRICE', ...SQL_STRINGS]);
        what = `aggregates ${JSON.stringify(agg)}`;
        params.push(['time_range', good.time_range], ['action', good.action], ['aggregates', agg]);
        break;
      }
      case 4:
        what = r.pick(['no action', 'no aggregates', 'no time_range', 'aggregates repeated', 'action given twice']);
        if (what !== 'no time_range') params.push(['time_range', good.time_range]);
        if (what !== 'no action') params.push(['action', good.action]);
        if (what === 'action given twice') params.push(['action', good.action]);
        if (what === 'aggregates repeated') params.push(['aggregates', 'COUNT'], ['aggregates', 'COUNT']);
        else if (what !== 'no aggregates') params.push(['aggregates', 'SUM_PRICE']);
        break;
      case 5: {
        const name = r.pick(['country', 'cookie', 'limit', 'device', 'brandid', 'Origin', ...SQL_STRINGS.slice(0, 6)]);
        what = `unknown parameter ${JSON.stringify(name)}`;
        params.push(
          ['time_range', good.time_range],
          ['action', good.action],
          ['aggregates', 'COUNT'],
          [name, r.pick(SQL_STRINGS)],
        );
        break;
      }
      case 6: {
        const filter = r.pick(['origin', 'brand_id', 'category_id']);
        const value = r.chance(0.5) ? '' : r.pick(['x', "'", 'é']).repeat(257 + r.int(200));
        what = `${filter} of ${value.length} characters`;
        params.push(['time_range', good.time_range], ['action', good.action], ['aggregates', 'COUNT'], [filter, value]);
        break;
      }
      default: {
        // SQL in every filter, with a defect elsewhere.
        const [name, range] = r.pick(ranges);
        what = `SQL in every filter and time_range ${name}`;
        params.push(['time_range', range], ['action', good.action], ['aggregates', 'COUNT']);
        for (const f of ['origin', 'brand_id', 'category_id']) params.push([f, r.pick(SQL_STRINGS)]);
      }
    }
    for (const f of ['origin', 'brand_id', 'category_id'] as const) {
      const v = good[f];
      if (v !== undefined && !params.some(([k]) => k === f) && !what.includes(f)) params.push([f, v]);
    }
    // Parameters in random order.
    for (let i = params.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [params[i], params[j]] = [params[j]!, params[i]!];
    }
    const qs = params.map(([k, v]) => `${encodeURIComponent(k)}=${this.queryValue(v)}`).join('&');
    return { kind: 'aggregates query', what, request: this.query(`/aggregates${qs === '' ? '' : `?${qs}`}`) };
  }

  private query(path: string): RawRequest {
    const r = this.r;
    // Production clients send queries without a body; some send one anyway, and some send junk.
    if (r.chance(0.7)) return { method: 'POST', path, headers: { 'content-length': '0' } };
    const body = r.pick(['{', 'not json', '{"expected":1}', '[]', 'null']);
    return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
  }

  private badRoute(): BadRequest {
    const r = this.r;
    const routes: [string, string][] = [
      ['GET', '/user_tags'],
      ['PUT', '/user_tags'],
      ['DELETE', '/user_profiles/c-1?time_range=2022-03-01T00:00:00.000_2022-03-01T00:10:00.000'],
      ['GET', '/aggregates?time_range=2022-03-01T00:00:00_2022-03-01T00:05:00&action=BUY&aggregates=COUNT'],
      ['POST', '/user_tag'],
      ['POST', '/user_profiles'],
      ['POST', '/user_profiles/'],
      ['POST', '/user_profiles/a/b?time_range=2022-03-01T00:00:00.000_2022-03-01T00:10:00.000'],
      ['POST', '/../../etc/passwd'],
      ['POST', `/${encodeURIComponent(r.pick(SQL_STRINGS))}`],
      ['POST', '/aggregates/1'],
      ['PATCH', '/aggregates'],
      ['POST', '/admin'],
      ['POST', '/user_tags/1'],
    ];
    const [method, path] = r.pick(routes);
    const body = JSON.stringify({ ...this.validTag(), device: 'FRIDGE' });
    return {
      kind: 'unknown route or method',
      what: `${method} ${path}`,
      request: { method, path, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) },
    };
  }
}
