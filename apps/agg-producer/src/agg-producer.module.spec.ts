import { aggProducerConfigSchema, loadConfig } from '@lib/config';
import { DeribitTrade, TradeStats } from '@lib/domain';
import { inProcessTransport, InMemoryBroker } from '@lib/in-process-log';
import { AvroSerde, KafkaAvroModule, MessagePublisher } from '@lib/kafka-avro';
import { INestApplicationContext, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { expectedStats, sortStats, tradeStream } from '../../../test/agg-producer/support/trades';
import { AggProducerModule, aggProducerMessaging } from './agg-producer.module';
import { aggProducerTopics } from './agg-producer.topics';
import { tradeWindowRulesOf } from './trade-window-rules';

const MIN = 60_000;
const config = loadConfig('agg-producer', aggProducerConfigSchema, {
  TRANSPORT: 'in-process',
  KAFKA_TOPIC_PARTITIONS: '3',
  WINDOW_GRACE_MS: '0',
  EWMA_SPAN: '20',
  COMMIT_INTERVAL_MS: '50',
  IDLE_CHECK_INTERVAL_MS: '20',
});
const topics = aggProducerTopics(config);

/** The app's module as the embedded mode composes it: in-process transport on a given broker. */
async function embedded(broker: InMemoryBroker): Promise<INestApplicationContext> {
  @Module({
    imports: [
      KafkaAvroModule.forRoot({ ...aggProducerMessaging(config), inProcess: inProcessTransport(broker) }),
      AggProducerModule.register(config),
    ],
  })
  class EmbeddedAggProducer {}
  const app = await NestFactory.createApplicationContext(EmbeddedAggProducer, { logger: false });
  app.enableShutdownHooks();
  return app;
}

async function published(app: INestApplicationContext, broker: InMemoryBroker): Promise<TradeStats[]> {
  const serde = app.get(AvroSerde);
  const stats: TradeStats[] = [];
  for (let p = 0; p < broker.partitionCount(topics.stats.name); p++) {
    const { low, high } = broker.bounds(topics.stats.name, p);
    for (const m of broker.read(topics.stats.name, p, low, high - low)) {
      const s = await serde.decode<TradeStats>(topics.stats.name, topics.stats.schemaName, m.value as Buffer);
      stats.push({ ...s, ewma_params: { ...s.ewma_params } });
    }
  }
  return stats;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('AggProducerModule on the in-process transport (embedded mode)', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('runs the same exactly-once processing, and a restarted module resumes from the in-process changelog', async () => {
    const broker = new InMemoryBroker({ partitions: 3 });
    const trades: DeribitTrade[] = tradeStream({
      startMs: Date.parse('2026-03-01T10:00:00Z'),
      count: 4_000,
      meanGapMs: 150,
      seed: 3,
    });
    const firstHalf = trades.slice(0, 2_000);
    const lastStart = Math.floor(trades[trades.length - 1].timestamp / MIN) * MIN;
    const expected = expectedStats(trades, MIN, 2 / 21, tradeWindowRulesOf(config).ewmaParams, lastStart);
    const before = (stats: readonly TradeStats[], t: number) => sortStats(stats.filter((s) => s.window_start < t));

    const first = await embedded(broker);
    await first.get(MessagePublisher).publish(topics.trades, firstHalf);
    const firstEnd = Math.floor(firstHalf[firstHalf.length - 1].timestamp / MIN) * MIN;
    await until(
      async () => before(await published(first, broker), firstEnd).length >= before(expected, firstEnd).length,
    );
    await first.close();

    const second = await embedded(broker);
    await second.get(MessagePublisher).publish(topics.trades, trades.slice(2_000));
    await until(async () => before(await published(second, broker), lastStart).length >= expected.length);
    const stats = await published(second, broker);
    await second.close();

    expect(before(stats, lastStart)).toEqual(sortStats(expected));
    expect(new Set(stats.map(topics.stats.key)).size).toBe(stats.length);
  });
});
