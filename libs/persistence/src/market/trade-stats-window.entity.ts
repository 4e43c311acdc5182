import { Column, Entity, PrimaryColumn, ValueTransformer } from 'typeorm';

/** bigint columns come back from pg as text; epoch milliseconds fit a JS number exactly. */
const epochMs: ValueTransformer = {
  to: (value: number) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/**
 * One published window of one instrument (agg-producer's TradeStats), as the market read side keeps
 * it: the latest version of each (instrument, window_start). Columns mirror the Avro record; the EWMA's
 * parameters are flattened. Created by the migration CreateTradeStatsWindow1764000000005 (never by
 * `synchronize`).
 */
@Entity({ name: 'trade_stats_window' })
export class TradeStatsWindow {
  @PrimaryColumn({ type: 'text', collation: 'C' })
  instrument!: string;

  @PrimaryColumn({ name: 'window_start', type: 'bigint', transformer: epochMs })
  windowStart!: number;

  @Column({ name: 'window_end', type: 'bigint', transformer: epochMs })
  windowEnd!: number;

  @Column({ type: 'integer' })
  count!: number;

  @Column({ type: 'double precision' })
  volume!: number;

  @Column({ type: 'double precision', nullable: true })
  vwap!: number | null;

  @Column({ type: 'double precision', nullable: true })
  open!: number | null;

  @Column({ type: 'double precision', nullable: true })
  high!: number | null;

  @Column({ type: 'double precision', nullable: true })
  low!: number | null;

  @Column({ type: 'double precision', nullable: true })
  close!: number | null;

  @Column({ type: 'double precision', nullable: true })
  ewma!: number | null;

  @Column({ name: 'ewma_mode', type: 'text' })
  ewmaMode!: string;

  @Column({ name: 'ewma_alpha', type: 'double precision', nullable: true })
  ewmaAlpha!: number | null;

  @Column({ name: 'ewma_span', type: 'integer', nullable: true })
  ewmaSpan!: number | null;

  @Column({ name: 'ewma_half_life_ms', type: 'bigint', nullable: true, transformer: epochMs })
  ewmaHalfLifeMs!: number | null;

  /** Added by TradeStatsRevision1764000000007. */
  @Column({ type: 'integer' })
  revision!: number;

  /** Added by TradeStatsUnrecovered1764000000008. */
  @Column({ name: 'unrecovered_trades', type: 'integer' })
  unrecoveredTrades!: number;

  /** When this version was stored (wall clock). */
  @Column({ name: 'stored_at', type: 'timestamptz', default: () => 'now()' })
  storedAt!: Date;
}
