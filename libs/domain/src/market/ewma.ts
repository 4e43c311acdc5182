import { EwmaParams } from './trade-stats';

/**
 * How the EWMA of trade prices is smoothed:
 * - `span` N: a constant per-trade factor alpha = 2 / (N + 1) (pandas `ewm(span=N, adjust=False)`);
 * - `alpha`: that factor given directly (pandas `ewm(alpha=a, adjust=False)`);
 * - `halflife` h: a per-trade factor from the time since the previous trade,
 *   alpha_i = 1 - exp(-ln 2 * dt_i / h), so a price's weight halves every h of event time whatever the
 *   trade rate.
 */
export type EwmaSpec =
  | { readonly mode: 'span'; readonly span: number }
  | { readonly mode: 'alpha'; readonly alpha: number }
  | { readonly mode: 'halflife'; readonly halfLifeMs: number };

/** The EWMA after some trade: its value and the event time (epoch ms) of the newest trade folded in. */
export interface EwmaPoint {
  readonly value: number;
  readonly time: number;
}

/** Fails fast on a spec no EWMA can be computed with (config validation normally catches these first). */
export function checkEwmaSpec(spec: EwmaSpec): EwmaSpec {
  const bad = (what: string): never => {
    throw new RangeError(`EWMA ${spec.mode}: ${what}`);
  };
  if (spec.mode === 'span' && !(spec.span >= 1 && Number.isFinite(spec.span)))
    bad(`span must be >= 1, got ${spec.span}`);
  if (spec.mode === 'alpha' && !(spec.alpha > 0 && spec.alpha <= 1)) bad(`alpha must be in (0, 1], got ${spec.alpha}`);
  if (spec.mode === 'halflife' && !(spec.halfLifeMs > 0 && Number.isFinite(spec.halfLifeMs))) {
    bad(`half-life must be > 0 ms, got ${spec.halfLifeMs}`);
  }
  return spec;
}

/** The parameters published with every value, so a reader knows how it was computed. */
export function ewmaParamsOf(spec: EwmaSpec): EwmaParams {
  switch (spec.mode) {
    case 'span':
      return { mode: 'span', alpha: 2 / (spec.span + 1), span: spec.span, half_life_ms: null };
    case 'alpha':
      return { mode: 'alpha', alpha: spec.alpha, span: null, half_life_ms: null };
    case 'halflife':
      return { mode: 'halflife', alpha: null, span: null, half_life_ms: spec.halfLifeMs };
  }
}

/**
 * Smoothing factor of one step, `dtMs` after the previous trade. Constant for span and alpha. In
 * halflife mode a trade at the same millisecond as the previous one gets factor 0 (no time passed, so
 * no weight moves to it), and a negative `dtMs` (an out-of-order trade) is treated as 0.
 */
export function ewmaAlpha(spec: EwmaSpec, dtMs: number): number {
  switch (spec.mode) {
    case 'span':
      return 2 / (spec.span + 1);
    case 'alpha':
      return spec.alpha;
    case 'halflife':
      return dtMs > 0 ? 1 - Math.exp((-Math.LN2 * dtMs) / spec.halfLifeMs) : 0;
  }
}

/**
 * Folds one trade price into the EWMA: y0 = x0 for the first trade (`previous` null), then
 * yt = (1 - alpha) * y(t-1) + alpha * xt. Time never moves backwards: an out-of-order trade keeps the
 * newer time.
 */
export function ewmaNext(spec: EwmaSpec, previous: EwmaPoint | null, price: number, time: number): EwmaPoint {
  if (previous === null) return { value: price, time };
  const alpha = ewmaAlpha(spec, time - previous.time);
  return { value: (1 - alpha) * previous.value + alpha * price, time: Math.max(time, previous.time) };
}
