/**
 * Nest's own Kafka transport with our serde: `ClientKafka.emit` of each record type reaches an
 * `@EventPattern` handler intact, through the raw Buffer path (`keepBinary`), and the very same
 * controller runs unchanged on the in-process transport.
 */
import type { DeribitTrade, TradeStats, UserTag } from '@lib/domain';
import { Controller, INestMicroservice } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { Kafka, logLevel } from 'kafkajs';
import { lastValueFrom } from 'rxjs';
import { testKafkaBrokers, uniqueName } from '../../../../test/support/test-env';
import { DLQ_HEADERS } from '../dead-letter/dead-letter';
import { InMemoryBroker, inProcessTransport } from '@lib/in-process-log';
import { KafkaAvroModule } from '../kafka-avro.module';
import { MessagingConfig } from '../messaging.config';
import { MessagingRuntime } from '../messaging.runtime';
import { sampleOptionTrade, sampleTrade, sampleTradeStats, sampleUserTag } from '../testing/sample-values';
import { eventually } from '../testing/messaging-harness';
import { deadLetterTopicOf, messagingTopics } from '../topics';
import { NestEventClient } from '../messaging.transport';

jest.setTimeout(90_000);

interface Received {
  topic: string;
  value: unknown;
  key: unknown;
  rawValue: unknown;
  partition: number;
  traceId: string | undefined;
}

type Topics = ReturnType<typeof messagingTopics>;

/** One controller, written once, as an app would: it knows nothing of the transport underneath. */
function tradesController(topics: Topics, received: Received[]) {
  const note = (value: unknown, ctx: KafkaContext): void => {
    received.push({
      topic: ctx.getTopic(),
      value,
      key: ctx.getMessage().key,
      rawValue: ctx.getMessage().value,
      partition: ctx.getPartition(),
      traceId: trace.getSpanContext(context.active())?.traceId,
    });
  };

  @Controller()
  class MarketController {
    @EventPattern<string>(topics.userTags.name)
    onTag(@Payload() tag: UserTag, @Ctx() ctx: KafkaContext): void {
      note(tag, ctx);
    }

    @EventPattern<string>(topics.deribitTrades.name)
    async onTrade(@Payload() trade: DeribitTrade, @Ctx() ctx: KafkaContext): Promise<void> {
      note(trade, ctx);
    }

    @EventPattern<string>(topics.tradeStats.name)
    onStats(@Payload() stats: TradeStats, @Ctx() ctx: KafkaContext): void {
      note(stats, ctx);
    }
  }
  return MarketController;
}

function config(transport: 'kafka' | 'in-process', topics: Topics): MessagingConfig {
  return {
    TRANSPORT: transport,
    KAFKA_BROKERS: transport === 'kafka' ? testKafkaBrokers() : ['127.0.0.1:9092'],
    KAFKA_CLIENT_ID: undefined,
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: 2,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: topics.userTags.name,
    TOPIC_DERIBIT_TRADES: topics.deribitTrades.name,
    TOPIC_TRADE_STATS: topics.tradeStats.name,
    OTEL_EXPORTER_ENABLED: false,
  };
}

const ABSENT = {
  contracts: null,
  iv: null,
  liquidation: null,
  block_trade_id: null,
  block_trade_leg_count: null,
  combo_id: null,
  combo_trade_id: null,
};

describe.each(['kafka', 'in-process'] as const)('Nest event handlers on the %s transport', (transport) => {
  const topics = messagingTopics({
    TOPIC_USER_TAGS: uniqueName('nest-tags'),
    TOPIC_DERIBIT_TRADES: uniqueName('nest-trades'),
    TOPIC_TRADE_STATS: uniqueName('nest-stats'),
  });
  const received: Received[] = [];
  const broker = new InMemoryBroker({ partitions: 2 });
  let microservice: INestMicroservice;
  let runtime: MessagingRuntime;
  let client: NestEventClient;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        KafkaAvroModule.forRoot({
          app: uniqueName('nest-app'),
          config: config(transport, topics),
          inProcess: inProcessTransport(broker),
        }),
      ],
      controllers: [tradesController(topics, received)],
    }).compile();
    runtime = moduleRef.get(MessagingRuntime);
    microservice = moduleRef.createNestMicroservice({ strategy: runtime.nestServer(uniqueName('nest-group')) });
    await microservice.listen();
    client = runtime.nestClient();
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await microservice?.close();
  });

  it('delivers each record type emitted by the Nest client to its handler, intact, as a raw Avro Buffer underneath', async () => {
    const values = {
      tagWithStringId: sampleUserTag(0, { time: '2022-03-22T12:15:00Z' }),
      tagWithIntegerId: sampleUserTag(1, {
        product_info: { ...sampleUserTag(1).product_info, product_id: Number.MAX_SAFE_INTEGER },
      }),
      perpetual: sampleTrade(2),
      option: sampleOptionTrade(),
      stats: sampleTradeStats(),
      emptyWindow: sampleTradeStats({
        count: 0,
        volume: 0,
        vwap: null,
        open: null,
        high: null,
        low: null,
        close: null,
      }),
    };
    const spanContext = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    };
    await context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), async () => {
      await lastValueFrom(client.emit(topics.userTags.name, values.tagWithStringId), { defaultValue: undefined });
      await lastValueFrom(client.emit(topics.userTags.name, { value: values.tagWithIntegerId }), {
        defaultValue: undefined,
      });
      await lastValueFrom(client.emit(topics.deribitTrades.name, values.perpetual), { defaultValue: undefined });
      await lastValueFrom(client.emit(topics.deribitTrades.name, values.option), { defaultValue: undefined });
      await lastValueFrom(client.emit(topics.tradeStats.name, values.stats), { defaultValue: undefined });
      await lastValueFrom(client.emit(topics.tradeStats.name, values.emptyWindow), { defaultValue: undefined });
    });

    await eventually(() => received.length >= 6, 60_000, 'six handled events');
    const on = (topic: string) => received.filter((r) => r.topic === topic);
    const values_ = (topic: string) => on(topic).map((r) => r.value);

    expect(values_(topics.userTags.name)).toEqual(
      expect.arrayContaining([values.tagWithStringId, values.tagWithIntegerId]),
    );
    const ids = on(topics.userTags.name).map((r) => (r.value as UserTag).product_info.product_id);
    expect(ids).toEqual(expect.arrayContaining(['p-0', Number.MAX_SAFE_INTEGER]));
    expect(values_(topics.deribitTrades.name)).toEqual(
      expect.arrayContaining([{ ...values.perpetual, ...ABSENT }, values.option]),
    );
    expect(values_(topics.tradeStats.name)).toEqual(expect.arrayContaining([values.stats, values.emptyWindow]));

    for (const r of received) {
      // The handler's context carries what Kafka delivered: the Avro single-object bytes and the key.
      expect(Buffer.isBuffer(r.rawValue)).toBe(true);
      expect((r.rawValue as Buffer).subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
      expect(String(r.key)).toBe(
        r.topic === topics.userTags.name
          ? topics.userTags.key(r.value as UserTag)
          : r.topic === topics.deribitTrades.name
            ? topics.deribitTrades.key(r.value as DeribitTrade)
            : topics.tradeStats.key(r.value as TradeStats),
      );
      // And the handler ran in the trace of the code that emitted.
      expect(r.traceId).toBe(spanContext.traceId);
    }
  });

  it('sends a message that cannot be decoded to the dead-letter topic, and handles the next one', async () => {
    received.length = 0;
    // Avro framing, but a writer schema nobody knows.
    const garbage = Buffer.from('c301ffffffffffffffff02', 'hex');
    if (transport === 'kafka') {
      const producer = new Kafka({
        clientId: 'poison',
        brokers: testKafkaBrokers(),
        logLevel: logLevel.NOTHING,
      }).producer();
      await producer.connect();
      await producer.send({ topic: topics.userTags.name, messages: [{ key: 'poisoned', value: garbage }] });
      await producer.disconnect();
    } else {
      broker.append([{ topic: topics.userTags.name, key: 'poisoned', value: garbage, headers: {} }]);
    }
    const next = sampleUserTag(3, { cookie: 'poisoned' });
    await lastValueFrom(client.emit(topics.userTags.name, next), { defaultValue: undefined });

    await eventually(() => received.length >= 1, 60_000, 'the message after the poison');
    expect(received.map((r) => r.value)).toEqual([next]);

    const letters = await readDeadLetters(transport, broker, deadLetterTopicOf(topics.userTags.name));
    expect(letters).toHaveLength(1);
    expect(letters[0].value).toEqual(garbage);
    expect(letters[0].headers[DLQ_HEADERS.topic]).toBe(topics.userTags.name);
    expect(letters[0].headers[DLQ_HEADERS.error]).toMatch(/unknown writer schema fingerprint/);
  });
});

async function readDeadLetters(
  transport: 'kafka' | 'in-process',
  broker: InMemoryBroker,
  topic: string,
): Promise<{ value: Buffer | null; headers: Record<string, string> }[]> {
  if (transport === 'in-process') {
    const out = [];
    for (let p = 0; p < broker.partitionCount(topic); p++) out.push(...broker.read(topic, p, 0, 100));
    return out.map((m) => ({ value: m.value, headers: { ...m.headers } }));
  }
  const found: { value: Buffer | null; headers: Record<string, string> }[] = [];
  const consumer = new Kafka({
    clientId: 'dlq-reader',
    brokers: testKafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).consumer({
    groupId: uniqueName('dlq-reader'),
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      found.push({ value: message.value, headers });
    },
  });
  await eventually(() => found.length >= 1, 30_000, 'a dead letter');
  await consumer.disconnect();
  return found;
}
