import { checkUserTag, type DeribitTrade, type TradeStats, type UserTag } from '@lib/domain';
import { MARKER_HEADER, type Marker, type TopicSpec } from './messaging';
import { SCHEMAS } from './schemas/schema.catalog';

/**
 * Keyed by cookie: one user's tags stay in order on one partition. A consumed tag must meet the
 * rules of ingest (lengths, time, size; checkUserTag): one written by a producer that skipped them
 * goes to the dead-letter topic rather than into a profile record it could overflow.
 */
export function userTagsTopic(name: string): TopicSpec<UserTag> {
  return { name, schemaName: SCHEMAS.userTag, key: (tag) => tag.cookie, validate: checkUserTag };
}

/** Keyed by instrument: one instrument's trades stay in trade_seq order. */
export function deribitTradesTopic(name: string): TopicSpec<DeribitTrade> {
  return { name, schemaName: SCHEMAS.deribitTrade, key: (trade) => trade.instrument_name };
}

/** The marker kind and header of a source watermark in the trades topic. */
const WATERMARK_KIND = 'watermark';
const WATERMARK_HEADER = 'x-watermark';

/**
 * A source watermark for one instrument's trades, written after them under the same key: every trade of
 * the instrument with a timestamp up to `time` (epoch ms) is before it in the partition.
 */
export const tradeWatermark = (instrument: string, time: number): Marker => ({
  key: instrument,
  headers: { [MARKER_HEADER]: WATERMARK_KIND, [WATERMARK_HEADER]: String(time) },
});

/** The time of a source watermark marker; undefined for another kind of marker or an unreadable time. */
export function tradeWatermarkTime(marker: Marker): number | undefined {
  if (marker.headers[MARKER_HEADER] !== WATERMARK_KIND) return undefined;
  const time = Number(marker.headers[WATERMARK_HEADER]);
  return Number.isSafeInteger(time) ? time : undefined;
}

/** The marker kind and headers of a change in an instrument's unrecovered trades. */
const GAP_KIND = 'gap';
const GAP_TIME_HEADER = 'x-gap-time';
const GAP_COUNT_HEADER = 'x-gap-unrecovered';

/** What a gap marker says: `count` more trades lost (negative: found again) at the trade of `time`. */
export interface TradeGap {
  readonly time: number;
  readonly count: number;
}

/** A gap marker's change with the instrument it is about (the marker's key). */
export interface InstrumentTradeGap extends TradeGap {
  readonly instrument: string;
}

/**
 * A change in the trades of `instrument` the source lost: `count` trades of a trade_seq gap no back-fill
 * recovered (negative: that many of them recovered since), the gap revealed by the trade at `time` (epoch
 * ms). Written under the instrument's key after that trade.
 */
export const tradeGapMarker = (instrument: string, gap: TradeGap): Marker => ({
  key: instrument,
  headers: { [MARKER_HEADER]: GAP_KIND, [GAP_TIME_HEADER]: String(gap.time), [GAP_COUNT_HEADER]: String(gap.count) },
});

/** What a gap marker says; undefined for another kind of marker or unreadable headers. */
export function tradeGapOf(marker: Marker): TradeGap | undefined {
  if (marker.headers[MARKER_HEADER] !== GAP_KIND) return undefined;
  const time = Number(marker.headers[GAP_TIME_HEADER]);
  const count = Number(marker.headers[GAP_COUNT_HEADER]);
  return Number.isSafeInteger(time) && Number.isSafeInteger(count) ? { time, count } : undefined;
}

/** The identity of one window's statistics, e.g. `BTC-PERPETUAL|2026-03-01T10:00:00.000Z`. */
export const tradeStatsKey = (stats: TradeStats): string =>
  `${stats.instrument}|${new Date(stats.window_start).toISOString()}`;

/** Keyed by instrument and window start: a republished window replaces the earlier one under compaction. */
export function tradeStatsTopic(name: string): TopicSpec<TradeStats> {
  return { name, schemaName: SCHEMAS.tradeStats, key: tradeStatsKey };
}

export interface TopicNames {
  TOPIC_USER_TAGS: string;
  TOPIC_DERIBIT_TRADES: string;
  TOPIC_TRADE_STATS: string;
}

/** The repository's topics, named from config. */
export function messagingTopics(config: TopicNames) {
  return {
    userTags: userTagsTopic(config.TOPIC_USER_TAGS),
    deribitTrades: deribitTradesTopic(config.TOPIC_DERIBIT_TRADES),
    tradeStats: tradeStatsTopic(config.TOPIC_TRADE_STATS),
  };
}

/** Where messages of `topic` that cannot be decoded go. */
export const deadLetterTopicOf = (topic: string): string => `${topic}.dlq`;

/** Injection token of the user-tags topic: the gateway writes it, the pipeline reads it. */
export const USER_TAGS_TOPIC = Symbol('USER_TAGS_TOPIC');

/** The Nest provider of {@link USER_TAGS_TOPIC}, named from the app's config. */
export function userTagsTopicProvider(config: Pick<TopicNames, 'TOPIC_USER_TAGS'>): {
  provide: symbol;
  useValue: TopicSpec<UserTag>;
} {
  return { provide: USER_TAGS_TOPIC, useValue: userTagsTopic(config.TOPIC_USER_TAGS) };
}
