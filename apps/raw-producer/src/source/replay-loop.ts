import { DeribitTrade } from '@lib/domain';

const TRAILING_NUMBER = /^(.*?)(\d+)$/;

/** Numeric ids seen per non-numeric prefix ("ETH-" of "ETH-287654321", "" of "412345678"). */
class IdSpan {
  private readonly spans = new Map<string, { min: number; max: number }>();

  observe(id: string): void {
    const m = TRAILING_NUMBER.exec(id);
    if (m === null) return;
    const n = Number(m[2]);
    const span = this.spans.get(m[1]);
    if (span === undefined) this.spans.set(m[1], { min: n, max: n });
    else {
      if (n < span.min) span.min = n;
      if (n > span.max) span.max = n;
    }
  }

  /** The id moved `pass` whole spans up: distinct from every id of other passes, and increasing with them. */
  shift(id: string, pass: number): string {
    const m = TRAILING_NUMBER.exec(id);
    const span = m === null ? undefined : this.spans.get(m[1]);
    if (m === null || span === undefined) return `${id}~${pass}`;
    return `${m[1]}${Number(m[2]) + pass * (span.max - span.min + 1)}`;
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
    const shifted: DeribitTrade = {
      ...t,
      trade_seq: t.trade_seq + pass * seqSpan,
      trade_id: this.tradeIds.shift(t.trade_id, pass),
      timestamp: t.timestamp + pass * this.periodMs,
    };
    if (t.block_trade_id !== undefined && t.block_trade_id !== null) {
      shifted.block_trade_id = this.blockIds.shift(t.block_trade_id, pass);
    }
    if (t.combo_trade_id !== undefined && t.combo_trade_id !== null) {
      shifted.combo_trade_id = t.combo_trade_id + pass * (this.comboMax - this.comboMin + 1);
    }
    return shifted;
  }
}
