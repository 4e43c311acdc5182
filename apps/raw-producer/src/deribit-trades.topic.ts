import { DeribitTrade } from '@lib/domain';
import { TopicSpec } from '@lib/kafka-avro/messaging';

/** DI token of the topic trades are written to. */
export const DERIBIT_TRADES_TOPIC = Symbol('DERIBIT_TRADES_TOPIC');

/** Keyed by instrument: one instrument, one partition, so its trades stay in trade_seq order. */
export function deribitTradesTopic(name: string): TopicSpec<DeribitTrade> {
  return { name, schemaName: 'market.DeribitTrade', key: (t) => t.instrument_name };
}
