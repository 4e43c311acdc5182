import { EWMA_MODES, EwmaMode, InstrumentSummary, TimeRange, TradeStats, TradeStatsStore } from '@lib/domain';
import { DataSource, Repository } from 'typeorm';
import { sqlTimeoutsOf } from '../connection/data-source.factory';
import { SqlTimeouts, within } from '../connection/sql-pool';
import { TradeStatsWindow } from './trade-stats-window.entity';

/** Windows per upsert statement: well under PostgreSQL's 65,535 bind parameters (16 columns each). */
const SAVE_CHUNK = 1_000;

/**
 * TradeStatsStore on PostgreSQL through TypeORM (entity TradeStatsWindow). `save` is an upsert on the
 * primary key: the latest delivery of a window wins, which is its highest revision since one window's
 * revisions share a key and so a partition, and arrive in order (a consumer that reads them again reads
 * them in the same order). On a server, each call is
 * bounded like the other stores' statements (DATABASE_QUERY_TIMEOUT_MS for reads,
 * DATABASE_WRITE_TIMEOUT_MS for saves): the Repository takes no per-query timeout, so the call fails at
 * the bound (the gateway answers 503) while the statement finishes or fails on its own.
 */
export class PgTradeStatsStore extends TradeStatsStore {
  private readonly repository: Repository<TradeStatsWindow>;
  private readonly timeouts: SqlTimeouts;

  constructor(dataSource: DataSource) {
    super();
    this.repository = dataSource.getRepository(TradeStatsWindow);
    this.timeouts = sqlTimeoutsOf(dataSource);
  }

  save(stats: readonly TradeStats[]): Promise<void> {
    return within(this.timeouts.writeMs, 'saving trade-stats windows', () => this.upsert(stats));
  }

  instruments(): Promise<InstrumentSummary[]> {
    return within(this.timeouts.readMs, 'listing instruments', () => this.readInstruments());
  }

  windows(instrument: string, range: TimeRange, limit: number): Promise<TradeStats[]> {
    return within(this.timeouts.readMs, 'reading windows', () => this.readWindows(instrument, range, limit));
  }

  latest(): Promise<TradeStats[]> {
    return within(this.timeouts.readMs, 'reading the latest windows', () => this.readLatest());
  }

  private async upsert(stats: readonly TradeStats[]): Promise<void> {
    // One row per key and statement (an upsert may not touch a row twice): the last version wins.
    const latest = new Map<string, TradeStats>();
    for (const s of stats) latest.set(`${s.instrument}\u0000${s.window_start}`, s);
    const rows = [...latest.values()].map(toRow);
    for (let i = 0; i < rows.length; i += SAVE_CHUNK) {
      await this.repository.upsert(rows.slice(i, i + SAVE_CHUNK), {
        conflictPaths: ['instrument', 'windowStart'],
        skipUpdateIfNoValuesChanged: false,
      });
    }
  }

  private async readInstruments(): Promise<InstrumentSummary[]> {
    const rows = await this.repository
      .createQueryBuilder('w')
      .select('w.instrument', 'instrument')
      .addSelect('count(*)', 'windows')
      .addSelect('min(w.window_start)', 'first')
      .addSelect('max(w.window_start)', 'last')
      .groupBy('w.instrument')
      .orderBy('w.instrument')
      .getRawMany<{ instrument: string; windows: string; first: string; last: string }>();
    return rows.map((r) => ({
      instrument: r.instrument,
      windows: Number(r.windows),
      firstWindowStart: Number(r.first),
      lastWindowStart: Number(r.last),
    }));
  }

  private async readWindows(instrument: string, range: TimeRange, limit: number): Promise<TradeStats[]> {
    const rows = await this.repository
      .createQueryBuilder('w')
      .where('w.instrument = :instrument', { instrument })
      .andWhere('w.window_start >= :from AND w.window_start < :to', { from: range.fromMs, to: range.toMs })
      .orderBy('w.window_start', 'DESC')
      .limit(limit)
      .getMany();
    return rows.reverse().map(fromRow);
  }

  private async readLatest(): Promise<TradeStats[]> {
    // One descent of the primary key per instrument (DISTINCT ON in key order).
    const rows = await this.repository
      .createQueryBuilder('w')
      .distinctOn(['w.instrument'])
      .orderBy('w.instrument')
      .addOrderBy('w.window_start', 'DESC')
      .getMany();
    return rows.map(fromRow);
  }
}

function toRow(s: TradeStats): Omit<TradeStatsWindow, 'storedAt'> {
  return {
    instrument: s.instrument,
    windowStart: s.window_start,
    windowEnd: s.window_end,
    count: s.count,
    volume: s.volume,
    vwap: s.vwap,
    open: s.open,
    high: s.high,
    low: s.low,
    close: s.close,
    ewma: s.ewma,
    ewmaMode: s.ewma_params.mode,
    ewmaAlpha: s.ewma_params.alpha,
    ewmaSpan: s.ewma_params.span,
    ewmaHalfLifeMs: s.ewma_params.half_life_ms,
    revision: s.revision,
    unrecoveredTrades: s.unrecovered_trades,
  };
}

function fromRow(w: TradeStatsWindow): TradeStats {
  if (!(EWMA_MODES as readonly string[]).includes(w.ewmaMode)) {
    throw new Error(`trade_stats_window ${w.instrument}@${w.windowStart}: unknown EWMA mode ${w.ewmaMode}`);
  }
  return {
    instrument: w.instrument,
    window_start: w.windowStart,
    window_end: w.windowEnd,
    count: w.count,
    volume: w.volume,
    vwap: w.vwap,
    open: w.open,
    high: w.high,
    low: w.low,
    close: w.close,
    ewma: w.ewma,
    ewma_params: {
      mode: w.ewmaMode as EwmaMode,
      alpha: w.ewmaAlpha,
      span: w.ewmaSpan,
      half_life_ms: w.ewmaHalfLifeMs,
    },
    revision: w.revision,
    unrecovered_trades: w.unrecoveredTrades,
  };
}
