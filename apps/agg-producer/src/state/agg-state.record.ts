import { ClosedWindow, InstrumentWindows, OpenWindow, SeenSequences } from '@lib/domain';

/**
 * One record of agg-producer's changelog topic: a compacted topic (like a Kafka Streams store's
 * changelog) holding, per key, the latest committed state. Two kinds share the topic so that one
 * transaction writes both, atomically with the statistics and the consumed offsets:
 * - `instrument/<name>`: the instrument's windows, EWMA and stream time;
 * - `partition/<topic>/<n>`: where consumption of an input partition resumes and its newest event time.
 * Exactly one of `instrument` and `partition` is set. Restoring reads the topic to its end and keeps the
 * last record of each key: that is the state as of the last committed transaction.
 */
export interface AggStateRecord {
  key: string;
  instrument: InstrumentStateRecord | null;
  partition: PartitionStateRecord | null;
}

export interface InstrumentStateRecord {
  instrument: string;
  /** Input partition the instrument's trades come from: whoever owns that partition owns this state. */
  partition: number;
  stream_time: number;
  next_window_start: number;
  ewma: number | null;
  ewma_time: number | null;
  carried_ewma: number | null;
  open_windows: OpenWindowRecord[];
  /** Counted trade_seq ranges, flat (SeenSequences); empty in a version-1 record. */
  seen_seqs: number[];
  /** The newest source watermark read for the instrument, epoch ms; null before version 3 or without one. */
  source_time: number | null;
  /** Published windows kept for revisions, oldest first; empty before version 3. */
  closed_windows: ClosedWindowRecord[];
  /** Unrecovered trades of windows not yet published, oldest first; empty before version 3. */
  unrecovered: { start: number; count: number }[];
}

export interface ClosedWindowRecord {
  start: number;
  revision: number;
  window: OpenWindowRecord | null;
  ewma: number | null;
  unrecovered: number;
}

export interface OpenWindowRecord {
  start: number;
  count: number;
  volume: number;
  notional: number;
  open: number;
  open_time: number;
  high: number;
  low: number;
  close: number;
  close_time: number;
  ewma: number;
}

export interface PartitionStateRecord {
  topic: string;
  partition: number;
  /** The next offset to consume (int64 as a decimal string). */
  next_offset: string;
  /** Newest trade time seen on the partition, epoch ms: the idle check's event clock resumes from it. */
  event_time: number;
}

export const instrumentKey = (instrument: string): string => `instrument/${instrument}`;
export const partitionKey = (topic: string, partition: number): string => `partition/${topic}/${partition}`;

/** A copy of the state, detached from the live objects the processor keeps mutating. */
export function instrumentRecord(
  partition: number,
  w: InstrumentWindows,
  seen: SeenSequences,
  sourceTime: number | null,
): AggStateRecord {
  return {
    key: instrumentKey(w.instrument),
    instrument: {
      instrument: w.instrument,
      partition,
      stream_time: w.streamTime,
      next_window_start: w.nextWindowStart,
      ewma: w.ewma?.value ?? null,
      ewma_time: w.ewma?.time ?? null,
      carried_ewma: w.carriedEwma,
      open_windows: w.open.map(openWindowRecord),
      seen_seqs: seen.toFlat(),
      source_time: sourceTime,
      closed_windows: w.closed.map((c) => ({
        start: c.start,
        revision: c.revision,
        window: c.window === null ? null : openWindowRecord(c.window),
        ewma: c.ewma,
        unrecovered: c.unrecovered,
      })),
      unrecovered: w.unrecovered.map((u) => ({ start: u.start, count: u.count })),
    },
    partition: null,
  };
}

export function partitionRecord(state: PartitionStateRecord): AggStateRecord {
  return { key: partitionKey(state.topic, state.partition), instrument: null, partition: { ...state } };
}

export function instrumentWindowsOf(r: InstrumentStateRecord): InstrumentWindows {
  return {
    instrument: r.instrument,
    streamTime: r.stream_time,
    nextWindowStart: r.next_window_start,
    ewma: r.ewma !== null && r.ewma_time !== null ? { value: r.ewma, time: r.ewma_time } : null,
    carriedEwma: r.carried_ewma,
    open: r.open_windows.map(openWindowOf),
    closed: (r.closed_windows ?? []).map((c): ClosedWindow => ({
      start: c.start,
      revision: c.revision,
      window: c.window === null ? null : openWindowOf(c.window),
      ewma: c.ewma,
      unrecovered: c.unrecovered ?? 0,
    })),
    unrecovered: (r.unrecovered ?? []).map((u) => ({ start: u.start, count: u.count })),
  };
}

function openWindowRecord(o: OpenWindow): OpenWindowRecord {
  return {
    start: o.start,
    count: o.count,
    volume: o.volume,
    notional: o.notional,
    open: o.open,
    open_time: o.openTime,
    high: o.high,
    low: o.low,
    close: o.close,
    close_time: o.closeTime,
    ewma: o.ewma,
  };
}

function openWindowOf(o: OpenWindowRecord): OpenWindow {
  return {
    start: o.start,
    count: o.count,
    volume: o.volume,
    notional: o.notional,
    open: o.open,
    openTime: o.open_time,
    high: o.high,
    low: o.low,
    close: o.close,
    closeTime: o.close_time,
    ewma: o.ewma,
  };
}

export function seenSequencesOf(r: InstrumentStateRecord): SeenSequences {
  return new SeenSequences(r.seen_seqs ?? []);
}
