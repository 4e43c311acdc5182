import { DeribitTrade, InstrumentWindows, SeenSequences, TradeStats, TradeWindowRules } from '@lib/domain';
import { ConsumedBatch, TopicPartitionOffset } from '@lib/kafka-avro/messaging';
import { InstrumentTradeGap, TradeGap, tradeGapOf, tradeWatermarkTime } from '@lib/kafka-avro/topics';
import {
  AggStateRecord,
  PartitionStateRecord,
  instrumentRecord,
  instrumentWindowsOf,
  partitionRecord,
  seenSequencesOf,
} from './state/agg-state.record';

/** A trade refused because its window was already published, with where it was read. */
export interface LateTrade {
  readonly trade: DeribitTrade;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Start of the oldest window still open for the instrument when the trade came. */
  readonly openFrom: number;
}

export interface BatchOutcome {
  /** Trades read, late ones and duplicates included. */
  readonly trades: number;
  /** Trades too late for any kept window: left out. */
  readonly late: readonly LateTrade[];
  /** Late trades counted into a published window, which is published again (a revision). */
  readonly revised: number;
  /** Trades already counted (the same instrument and trade_seq), left out. */
  readonly duplicates: number;
  /**
   * Changes in unrecovered trades (gap markers) that could not go into a window: the window of the trade
   * that revealed the gap is past REVISION_WINDOWS, or the instrument is unknown here.
   */
  readonly unplacedGaps: readonly InstrumentTradeGap[];
}

/**
 * Why a window was published: the instrument's own newer trades closed it (`event-time`), the source's
 * watermark for a quiet instrument (`watermark`), or, for an instrument without one, the partition's clock
 * (`idle`); or a late trade revised it (`revision`: published again).
 */
export type CloseReason = 'event-time' | 'watermark' | 'idle' | 'revision';

export const CLOSE_REASONS: readonly CloseReason[] = ['event-time', 'watermark', 'idle', 'revision'];

const noneClosed = (): Record<CloseReason, number> => ({ 'event-time': 0, watermark: 0, idle: 0, revision: 0 });

/** Everything one transaction writes: the statistics, the state it leaves, the offsets it consumed. */
export interface UnitOfWork {
  readonly stats: readonly TradeStats[];
  readonly published: Readonly<Record<CloseReason, number>>;
  readonly state: readonly AggStateRecord[];
  readonly offsets: readonly TopicPartitionOffset[];
}

interface Tracked {
  /** Input partition of the instrument's trades. */
  partition: number;
  readonly windows: InstrumentWindows;
  /** trade_seq values counted: a trade published twice is counted once. */
  readonly seen: SeenSequences;
  /**
   * The newest source watermark read for the instrument (epoch ms): every trade of it up to that time was
   * before the watermark in the partition. Null until the first one (a source that writes none).
   */
  sourceTime: number | null;
}

interface PartitionProgress extends PartitionStateRecord {
  /** Wall time when event_time last advanced (or the state was restored). */
  seenAt: number;
  /** The last batch left unread trades behind it (false after a restore, until the first batch). */
  behind: boolean;
}

/** Closed, unpublished windows of one input partition. */
interface Pending {
  stats: TradeStats[];
  published: Record<CloseReason, number>;
}

/**
 * The agg-producer's stream processor, free of I/O: trades in (batches of one partition each), closed
 * windows and state changes out (a unit of work to commit in one transaction). Per trade it reads as
 * Kafka Streams' window aggregation: fetch the instrument's state, initialise it on the first trade,
 * aggregate, and forward the windows its stream time closes. It is not safe for concurrent calls: the
 * caller serialises them.
 *
 * Time: stream time is kept per instrument (an instrument's trades come in order, keyed to one partition),
 * so an instrument's statistics depend only on its own trades, not on how instruments share partitions
 * or interleave (Kafka Streams keeps it per partition, which would let a busy instrument close a quiet
 * neighbour's windows while the neighbour's trades may still be unread, and make results depend on the
 * partition count). A quiet instrument's windows are closed by {@link closeIdle}, once its partition
 * has been read to its end.
 */
export class TradeStatsProcessor {
  private readonly instruments = new Map<string, Tracked>();
  private readonly partitions = new Map<number, PartitionProgress>();
  private readonly pending = new Map<number, Pending>();
  private readonly dirtyInstruments = new Set<string>();
  private readonly dirtyPartitions = new Set<number>();
  private tradesSinceWork = 0;

  constructor(readonly rules: TradeWindowRules) {}

  /** Folds a batch into the state. `now` is wall time (epoch ms), for the idle check's clock. */
  process(batch: ConsumedBatch<DeribitTrade>, now: number): BatchOutcome {
    const late: LateTrade[] = [];
    let duplicates = 0;
    let revised = 0;
    const progress = this.progressOf(batch.topic, batch.partition, now);
    const closed = this.pendingOf(batch.partition);
    const closedBefore = closed.stats.length;
    const unplacedGaps: InstrumentTradeGap[] = [];
    let gapRevisions = 0;
    // Gap markers are applied where they are among the trades (a trade after one may close its window).
    const gaps = gapMarkersOf(batch);
    const applyGapsBefore = (offset: bigint | undefined): void => {
      while (gaps.length > 0 && (offset === undefined || gaps[0].offset < offset)) {
        const { instrument, gap } = gaps.shift() as (typeof gaps)[number];
        const tracked = this.instruments.get(instrument);
        const place =
          tracked === undefined
            ? 'too-old'
            : this.rules.unrecovered(tracked.windows, gap.time, gap.count, closed.stats);
        if (place === 'too-old') {
          unplacedGaps.push({ instrument, ...gap });
          continue;
        }
        this.dirtyInstruments.add(instrument);
        if (place === 'revised') {
          closed.published.revision += 1;
          gapRevisions += 1;
        }
      }
    };
    for (const message of batch.messages) {
      if (gaps.length > 0) applyGapsBefore(BigInt(message.offset));
      const trade = message.value;
      let tracked = this.instruments.get(trade.instrument_name);
      if (tracked === undefined) {
        tracked = {
          partition: batch.partition,
          windows: this.rules.begin(trade.instrument_name, trade),
          seen: new SeenSequences(),
          sourceTime: null,
        };
        this.instruments.set(trade.instrument_name, tracked);
      }
      tracked.partition = batch.partition;
      // The topic may hold a trade twice (raw-producer's publish retry): count it once. The sequences
      // go into the changelog with the windows, so this holds across restarts too.
      if (!tracked.seen.add(trade.trade_seq)) {
        duplicates++;
        continue;
      }
      if (this.rules.add(tracked.windows, trade, closed.stats)) {
        this.dirtyInstruments.add(trade.instrument_name);
      } else if (this.rules.revise(tracked.windows, trade, closed.stats)) {
        this.dirtyInstruments.add(trade.instrument_name);
        closed.published.revision += 1;
        revised += 1;
      } else {
        late.push({
          trade,
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          openFrom: tracked.windows.nextWindowStart,
        });
      }
      if (trade.timestamp > progress.event_time) {
        progress.event_time = trade.timestamp;
        progress.seenAt = now;
      }
    }
    applyGapsBefore(undefined);
    closed.published['event-time'] += closed.stats.length - closedBefore - revised - gapRevisions;
    // Applied after the batch's trades: a watermark only moves the check of quiet instruments (closeIdle),
    // and the trades after it in the batch are newer than it anyway.
    for (const marker of batch.markers ?? []) {
      const time = tradeWatermarkTime(marker);
      const tracked = time === undefined ? undefined : this.instruments.get(marker.key);
      if (tracked !== undefined && time !== undefined && (tracked.sourceTime === null || time > tracked.sourceTime)) {
        // Not a reason to write the instrument's state: the next write carries it, and a restart from an
        // older one only waits for the next watermark.
        tracked.sourceTime = time;
      }
    }
    progress.next_offset = batch.nextOffset;
    progress.behind = batch.lag > 0;
    this.dirtyPartitions.add(batch.partition);
    this.tradesSinceWork += batch.messages.length;
    return { trades: batch.messages.length, late, revised, duplicates, unplacedGaps };
  }

  /**
   * The scheduled check for quiet instruments. An instrument whose source writes watermarks closes the
   * windows whose end plus grace the newest watermark has passed: the source says when event time moved
   * on, so an outage of the source (or of its feed) holds the windows open until what it missed was
   * filled in, however long that takes. Without a watermark, it closes the windows whose end plus grace
   * has passed on the event clock of the instrument's partition, the newest trade time read on that partition advanced
   * by the wall time since it was read (or since the state was restored). For a live feed that is the
   * wall clock less the feed's latency; unlike the raw wall clock it also holds for a replay of recorded
   * trades, whose times are in the past. The clock is the partition's, not the instrument's, so busy
   * instruments move quiet ones of the same partition on; it is not shared across partitions, because
   * partitions are read at different paces (a replay writes minutes of trades in milliseconds) and a
   * partition that looks caught up may still be receiving older trades than another has shown. A
   * partition whose last batch left trades unread is skipped. Returns how many windows it closed.
   */
  closeIdle(now: number): number {
    let count = 0;
    for (const [name, tracked] of this.instruments) {
      let clock: number;
      let reason: CloseReason;
      if (tracked.sourceTime !== null) {
        // Markers are read in order with the trades: this holds however far behind the partition is.
        [clock, reason] = [tracked.sourceTime, 'watermark'];
      } else {
        const progress = this.partitions.get(tracked.partition);
        if (progress === undefined || progress.behind) continue;
        [clock, reason] = [this.eventClock(progress, now), 'idle'];
      }
      const pending = this.pendingOf(tracked.partition);
      const closed = this.rules.closeUntil(tracked.windows, clock - this.rules.graceMs, pending.stats);
      if (closed > 0) {
        pending.published[reason] += closed;
        this.dirtyInstruments.add(name);
        count += closed;
      }
    }
    return count;
  }

  /** A partition's event clock, see closeIdle; undefined for a partition this processor does not hold. */
  partitionClock(partition: number, now: number): number | undefined {
    const progress = this.partitions.get(partition);
    return progress === undefined ? undefined : this.eventClock(progress, now);
  }

  /** Windows closed and not yet taken into a unit of work. */
  get closedWindows(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.stats.length;
    return n;
  }

  /** Trades processed since the last unit of work was taken. */
  get uncommittedTrades(): number {
    return this.tradesSinceWork;
  }

  /** Anything changed since the last unit of work. */
  get hasChanges(): boolean {
    return this.dirtyPartitions.size > 0 || this.dirtyInstruments.size > 0 || this.closedWindows > 0;
  }

  /** Takes what changed since the last call, as one transaction's worth; undefined when nothing did. */
  takeWork(): UnitOfWork | undefined {
    if (!this.hasChanges) return undefined;
    const stats: TradeStats[] = [];
    const published = noneClosed();
    for (const p of this.pending.values()) {
      stats.push(...p.stats);
      for (const reason of CLOSE_REASONS) published[reason] += p.published[reason];
    }
    const state: AggStateRecord[] = [];
    for (const name of this.dirtyInstruments) {
      const tracked = this.instruments.get(name);
      if (tracked !== undefined)
        state.push(instrumentRecord(tracked.partition, tracked.windows, tracked.seen, tracked.sourceTime));
    }
    const offsets: TopicPartitionOffset[] = [];
    for (const partition of this.dirtyPartitions) {
      const progress = this.partitions.get(partition);
      if (progress === undefined) continue;
      state.push(partitionRecord(progress));
      offsets.push({ topic: progress.topic, partition, offset: progress.next_offset });
    }
    this.pending.clear();
    this.dirtyInstruments.clear();
    this.dirtyPartitions.clear();
    this.tradesSinceWork = 0;
    return { stats, published, state, offsets };
  }

  /**
   * Replaces the state of `partitions` with the changelog's (the last record of each key) and returns
   * where each of them resumes; partitions the changelog does not know are absent (never consumed).
   */
  restore(records: readonly AggStateRecord[], partitions: readonly number[], now: number): Map<number, string> {
    this.drop(partitions);
    const assigned = new Set(partitions);
    const latest = new Map<string, AggStateRecord>();
    for (const record of records) latest.set(record.key, record);
    const resume = new Map<number, string>();
    for (const { instrument, partition } of latest.values()) {
      if (instrument !== null && assigned.has(instrument.partition)) {
        this.instruments.set(instrument.instrument, {
          partition: instrument.partition,
          windows: instrumentWindowsOf(instrument),
          seen: seenSequencesOf(instrument),
          sourceTime: instrument.source_time ?? null,
        });
      }
      if (partition !== null && assigned.has(partition.partition)) {
        this.partitions.set(partition.partition, { ...partition, seenAt: now, behind: false });
        resume.set(partition.partition, partition.next_offset);
      }
    }
    return resume;
  }

  /** Forgets partitions (revoked, or about to be restored), with their unpublished windows and changes. */
  drop(partitions: readonly number[]): void {
    const dropped = new Set(partitions);
    for (const [name, tracked] of this.instruments) {
      if (dropped.has(tracked.partition)) {
        this.instruments.delete(name);
        this.dirtyInstruments.delete(name);
      }
    }
    for (const partition of dropped) {
      this.partitions.delete(partition);
      this.pending.delete(partition);
      this.dirtyPartitions.delete(partition);
    }
  }

  /** Forgets everything: after a failed transaction, memory is ahead of Kafka and is rebuilt from it. */
  reset(): void {
    this.drop([...this.partitions.keys(), ...[...this.instruments.values()].map((t) => t.partition)]);
  }

  get instrumentCount(): number {
    return this.instruments.size;
  }

  private eventClock(progress: PartitionProgress, now: number): number {
    return progress.event_time + (now - progress.seenAt);
  }

  private progressOf(topic: string, partition: number, now: number): PartitionProgress {
    let progress = this.partitions.get(partition);
    if (progress === undefined) {
      progress = {
        topic,
        partition,
        next_offset: '0',
        // Until the partition's first trade (a batch may be empty once poison messages are removed).
        event_time: 0,
        seenAt: now,
        behind: true,
      };
      this.partitions.set(partition, progress);
    }
    return progress;
  }

  private pendingOf(partition: number): Pending {
    let pending = this.pending.get(partition);
    if (pending === undefined) {
      pending = { stats: [], published: noneClosed() };
      this.pending.set(partition, pending);
    }
    return pending;
  }
}

/** The batch's gap markers, in offset order. */
function gapMarkersOf(batch: ConsumedBatch<DeribitTrade>): { offset: bigint; instrument: string; gap: TradeGap }[] {
  const out: { offset: bigint; instrument: string; gap: TradeGap }[] = [];
  for (const marker of batch.markers ?? []) {
    const gap = tradeGapOf(marker);
    if (gap !== undefined) out.push({ offset: BigInt(marker.offset), instrument: marker.key, gap });
  }
  return out;
}
