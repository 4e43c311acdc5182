import { TradeStats, TradeStatsStore } from '@lib/domain';
import { counter } from '@lib/platform';
import { Controller, Inject, Type } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';

/**
 * The market read side's consumer: each window agg-producer publishes on `topic` (deribit-trade-stats)
 * arrives through Nest's microservice transport (Kafka, or the in-process log in the embedded mode)
 * with the Avro deserializer of libs/kafka-avro, and is upserted into the TradeStatsStore. A failed
 * save rejects the handler, so the transport delivers the window again (at least once); the upsert
 * makes that exactly once in the store. A class per topic name, since `@EventPattern` takes it at
 * decoration time.
 */
export function marketStatsConsumer(topic: string): Type<unknown> {
  const stored = counter({
    name: 'market_windows_stored_total',
    help: 'Trade-stats windows stored by the market read side',
  });

  @Controller()
  class MarketStatsConsumer {
    constructor(@Inject(TradeStatsStore) private readonly store: TradeStatsStore) {}

    @EventPattern<string>(topic)
    async onStats(@Payload() stats: TradeStats): Promise<void> {
      await this.store.save([stats]);
      stored.inc();
    }
  }
  return MarketStatsConsumer;
}
