import { AggProducerConfig } from '@lib/config';
import { DeribitTrade, TradeStats } from '@lib/domain';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { deribitTradesTopic, tradeStatsTopic } from '@lib/kafka-avro/topics';
import { AggStateRecord } from './state/agg-state.record';
import { AGG_STATE_SCHEMA } from './state/agg-state.schema';

/** The topics agg-producer reads and writes. */
export abstract class AggProducerTopics {
  abstract readonly trades: TopicSpec<DeribitTrade>;
  /** Key: instrument and window start, the identity of a window's statistics (`BTC-PERPETUAL|2026-03-01T10:00:00.000Z`). */
  abstract readonly stats: TopicSpec<TradeStats>;
  /** Compacted changelog of the processor's state (see AggStateRecord). */
  abstract readonly state: TopicSpec<AggStateRecord>;
}

export function aggProducerTopics(config: AggProducerConfig): AggProducerTopics {
  return {
    trades: deribitTradesTopic(config.TOPIC_DERIBIT_TRADES),
    stats: tradeStatsTopic(config.TOPIC_TRADE_STATS),
    state: { name: config.TOPIC_AGG_STATE, schemaName: AGG_STATE_SCHEMA, key: (r) => r.key },
  };
}
