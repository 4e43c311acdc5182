/**
 * Seeded pseudo-random numbers for the loadgen. Math.random cannot be seeded, and the stream of tags
 * must be the same for the same seed on every machine, so this is sfc32 (Chris Doty-Humphrey's small
 * fast counting generator, 128 bits of state, passes PractRand to terabytes) seeded through splitmix32.
 * Independent streams (tags, queries, names) are derived from the seed and a label, so adding a draw to
 * one stream never shifts another.
 */

/** splitmix32 step: a well-mixed 32-bit value from a counter; used for seeding and hashing. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a of a label, so streams can be named rather than numbered. */
export function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, label = '') {
    const base = mix32((seed >>> 0) ^ hashLabel(label));
    this.a = mix32(base);
    this.b = mix32(base + 1);
    this.c = mix32(base + 2);
    this.d = 1;
    // The first outputs of a freshly seeded sfc32 are weakly mixed: discard them.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform integer in [0, 2^32). */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67_108_864 + lo) / 9_007_199_254_740_992;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias. */
  int(n: number): number {
    if (!(n >= 1 && n <= 4_294_967_296 && Number.isInteger(n))) throw new RangeError(`int(n): bad n ${n}`);
    if (n === 1) return 0;
    // Rejection keeps every value equally likely when n does not divide 2^32.
    const limit = 4_294_967_296 - (4_294_967_296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  between(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`between(${lo}, ${hi})`);
    const span = hi - lo + 1;
    if (span <= 4_294_967_296) return lo + this.int(span);
    return lo + Math.floor(this.float() * span);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Fisher-Yates on a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}

/**
 * Zipf-like ranks in [1, n]: P(rank = k) is about proportional to k^-s. Sampled by inverting the
 * continuous power law's CDF (O(1) a draw, no table of n entries), which is what matters here:
 * a few very active cookies, a long tail seen once.
 */
export class ZipfSampler {
  private readonly oneMinusS: number;
  private readonly span: number;

  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    if (!(n >= 1) || !(s >= 0)) throw new RangeError(`Zipf(n=${n}, s=${s})`);
    this.oneMinusS = 1 - s;
    // Continuous CDF over [1, n+1): F(x) = (x^(1-s) - 1) / ((n+1)^(1-s) - 1), or ln x / ln(n+1) when s = 1.
    this.span = Math.abs(this.oneMinusS) < 1e-9 ? Math.log(n + 1) : Math.pow(n + 1, this.oneMinusS) - 1;
  }

  sample(rng: Rng): number {
    const u = rng.float();
    const x =
      Math.abs(this.oneMinusS) < 1e-9 ? Math.exp(u * this.span) : Math.pow(1 + u * this.span, 1 / this.oneMinusS);
    return Math.min(this.n, Math.max(1, Math.floor(x)));
  }
}
