import { DeribitTrade } from '@lib/domain';

/** Longest run of trailing digits read as a number (stays within Number's exact integers). */
const MAX_DIGITS = 15;

/** Index where the trailing number of `id` starts; id.length when it has none. Called per trade: no regex. */
function numberStart(id: string): number {
  let i = id.length;
  while (i > 0 && id.length - i < MAX_DIGITS) {
    const c = id.charCodeAt(i - 1);
    if (c < 48 || c > 57) break;
    i--;
  }
  return i;
}

/** Numeric ids seen per non-numeric prefix ("ETH-" of "ETH-287654321", "" of "412345678"). */
class IdSpan {
  private readonly spans = new Map<string, { min: number; max: number }>();

  observe(id: string): void {
    const start = numberStart(id);
    if (start === id.length) return;
    const prefix = start === 0 ? '' : id.slice(0, start);
    const n = Number(start === 0 ? id : id.slice(start));
    const span = this.spans.get(prefix);
    if (span === undefined) this.spans.set(prefix, { min: n, max: n });
    else {
      if (n < span.min) span.min = n;
      if (n > span.max) span.max = n;
    }
  }

  /** The id moved `pass` whole spans up: distinct from every id of other passes, and increasing with them. */
  shift(id: string, pass: number): string {
    const start = numberStart(id);
    const prefix = start === 0 ? '' : id.slice(0, start);
    const span = start === id.length ? undefined : this.spans.get(prefix);
    if (span === undefined) return `${id}~${pass}`;
    return prefix + String(Number(start === 0 ? id : id.slice(start)) + pass * (span.max - span.min + 1));
  }
}

/**
 * Makes a looped replay look like one continuous stream. Pass 0 plays the recording as is while `observe`
 * learns its extent; pass k moves every trade k periods later, so that per instrument:
 * - trade_seq continues where the previous pass ended (seq + k * (max - min + 1)): no gap, no repeat,
 *   as long as the recording itself has none;
 * - trade_id (and block_trade_id, combo_trade_id) get the same kind of shift of their trailing number,
 *   so they never collide with another pass's; an id without one gets a `~k` suffix;
 * - timestamp moves by the recording's duration plus its mean spacing, keeping event time increasing.
 */
export class ReplayLoopShifter {
  private readonly seqs = new Map<string, { min: number; max: number }>();
  private readonly tradeIds = new IdSpan();
  private readonly blockIds = new IdSpan();
  private comboMin = Infinity;
  private comboMax = -Infinity;
  private firstTs = Infinity;
  private lastTs = -Infinity;
  private count = 0;

  observe(t: DeribitTrade): void {
    const s = this.seqs.get(t.instrument_name);
    if (s === undefined) this.seqs.set(t.instrument_name, { min: t.trade_seq, max: t.trade_seq });
    else {
      if (t.trade_seq < s.min) s.min = t.trade_seq;
      if (t.trade_seq > s.max) s.max = t.trade_seq;
    }
    this.tradeIds.observe(t.trade_id);
    if (t.block_trade_id !== undefined && t.block_trade_id !== null) this.blockIds.observe(t.block_trade_id);
    if (t.combo_trade_id !== undefined && t.combo_trade_id !== null) {
      this.comboMin = Math.min(this.comboMin, t.combo_trade_id);
      this.comboMax = Math.max(this.comboMax, t.combo_trade_id);
    }
    this.firstTs = Math.min(this.firstTs, t.timestamp);
    this.lastTs = Math.max(this.lastTs, t.timestamp);
    this.count++;
  }

  /** How far each pass moves timestamps: the recorded duration plus the mean spacing of trades (>= 1 ms). */
  get periodMs(): number {
    if (this.count === 0) return 0;
    const duration = this.lastTs - this.firstTs;
    return duration + Math.max(1, Math.round(duration / Math.max(1, this.count - 1)));
  }

  shift(t: DeribitTrade, pass: number): DeribitTrade {
    if (pass === 0) return t;
    const s = this.seqs.get(t.instrument_name);
    const seqSpan = s === undefined ? 0 : s.max - s.min + 1;
    // Built field by field: a spread of trades of varying shapes costs several times more, per trade.
    const shifted: DeribitTrade = {
      trade_seq: t.trade_seq + pass * seqSpan,
      trade_id: this.tradeIds.shift(t.trade_id, pass),
      timestamp: t.timestamp + pass * this.periodMs,
      tick_direction: t.tick_direction,
      price: t.price,
      mark_price: t.mark_price,
      index_price: t.index_price,
      instrument_name: t.instrument_name,
      direction: t.direction,
      amount: t.amount,
    };
    if (t.contracts !== undefined) shifted.contracts = t.contracts;
    if (t.iv !== undefined) shifted.iv = t.iv;
    if (t.liquidation !== undefined) shifted.liquidation = t.liquidation;
    if (t.block_trade_id !== undefined && t.block_trade_id !== null) {
      shifted.block_trade_id = this.blockIds.shift(t.block_trade_id, pass);
    } else if (t.block_trade_id !== undefined) shifted.block_trade_id = t.block_trade_id;
    if (t.block_trade_leg_count !== undefined) shifted.block_trade_leg_count = t.block_trade_leg_count;
    if (t.combo_id !== undefined) shifted.combo_id = t.combo_id;
    if (t.combo_trade_id !== undefined && t.combo_trade_id !== null) {
      shifted.combo_trade_id = t.combo_trade_id + pass * (this.comboMax - this.comboMin + 1);
    } else if (t.combo_trade_id !== undefined) shifted.combo_trade_id = t.combo_trade_id;
    return shifted;
  }
}
