import type { UserTag } from '@lib/domain';
import type { Producer, ProducerBatch } from 'kafkajs';
import { PublishError } from '../messaging';
import { defaultSchemaCatalog } from '../schemas/schema.catalog';
import { SingleObjectSerde } from '../serde/single-object.serde';
import { sampleUserTag } from '../testing/sample-values';
import { userTagsTopic } from '../topics';
import { KafkaMessagePublisher, PublisherTuning } from './kafka-message.publisher';

/** A kafkajs producer whose requests the test answers by hand. */
class FakeProducer {
  static created: FakeProducer[] = [];
  readonly requests: { batch: ProducerBatch; resolve: () => void; reject: (e: unknown) => void }[] = [];
  connectError: Error | undefined;
  disconnected = false;

  constructor() {
    FakeProducer.created.push(this);
  }

  async connect(): Promise<void> {
    if (this.connectError) throw this.connectError;
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
  }

  sendBatch(batch: ProducerBatch): Promise<unknown> {
    return new Promise<void>((resolve, reject) => this.requests.push({ batch, resolve, reject }));
  }
}

const topic = userTagsTopic('user-tags');
const tag = (i: number): UserTag => sampleUserTag(i, { cookie: `c${i % 3}` });
const flush = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function publisher(tuning: Partial<PublisherTuning> = {}, nextProducer: () => FakeProducer = () => new FakeProducer()) {
  return new KafkaMessagePublisher(
    () => nextProducer() as unknown as Producer,
    new SingleObjectSerde(defaultSchemaCatalog()),
    {
      lingerMs: 5,
      batchMaxMessages: 100,
      timeoutMs: 1_000,
      ...tuning,
    },
  );
}

const valuesOf = (batch: ProducerBatch) => batch.topicMessages?.flatMap((t) => t.messages.map((m) => m.key)) ?? [];

beforeEach(() => {
  FakeProducer.created = [];
});

describe('KafkaMessagePublisher', () => {
  it('coalesces concurrent calls into one request after the linger, and resolves each only on the ack', async () => {
    const p = publisher();
    await p.connect();
    const producer = FakeProducer.created[0];
    let resolved = 0;
    const calls = Array.from({ length: 10 }, (_, i) => p.publish(topic, [tag(i)]).then(() => resolved++));
    await sleep(20);
    expect(producer.requests).toHaveLength(1);
    expect(producer.requests[0].batch.acks).toBe(-1);
    expect(valuesOf(producer.requests[0].batch)).toHaveLength(10);
    expect(resolved).toBe(0);
    producer.requests[0].resolve();
    await Promise.all(calls);
    expect(resolved).toBe(10);
  });

  it('sends at once when a batch is full, keeps one request in flight, and sends what queued meanwhile right after', async () => {
    const p = publisher({ batchMaxMessages: 4, lingerMs: 1_000 });
    await p.connect();
    const producer = FakeProducer.created[0];
    const first = Array.from({ length: 4 }, (_, i) => p.publish(topic, [tag(i)]));
    await flush();
    expect(producer.requests).toHaveLength(1);
    const second = Array.from({ length: 3 }, (_, i) => p.publish(topic, [tag(10 + i)]));
    await flush();
    expect(producer.requests).toHaveLength(1);
    producer.requests[0].resolve();
    await Promise.all(first);
    await flush();
    expect(producer.requests).toHaveLength(2);
    expect(valuesOf(producer.requests[1].batch)).toEqual(['c1', 'c2', 'c0']);
    producer.requests[1].resolve();
    await Promise.all(second);
  });

  it('never splits one call across requests, even beyond the batch limit', async () => {
    const p = publisher({ batchMaxMessages: 3 });
    await p.connect();
    const producer = FakeProducer.created[0];
    const call = p.publish(
      topic,
      Array.from({ length: 7 }, (_, i) => tag(i)),
    );
    await flush();
    expect(valuesOf(producer.requests[0].batch)).toHaveLength(7);
    producer.requests[0].resolve();
    await call;
  });

  it('rejects with timeout when the ack is late; a call that timed out while queued is never sent', async () => {
    const p = publisher({ lingerMs: 1, timeoutMs: 50 });
    await p.connect();
    const producer = FakeProducer.created[0];
    const inFlight = p.publish(topic, [tag(1)]).catch((e: unknown) => e);
    await sleep(5);
    const queued = p.publish(topic, [tag(2)], { timeoutMs: 20 }).catch((e: unknown) => e);
    const started = Date.now();
    expect(await queued).toMatchObject({ name: 'PublishError', reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(45);
    expect(await inFlight).toMatchObject({ reason: 'timeout' });
    producer.requests[0].resolve();
    await sleep(5);
    expect(producer.requests).toHaveLength(1);
  });

  it('fails the callers of a failed request, replaces the producer, and recovers', async () => {
    const p = publisher({ lingerMs: 1 });
    await p.connect();
    const first = FakeProducer.created[0];
    const call = p.publish(topic, [tag(1)]).catch((e: unknown) => e);
    await sleep(5);
    first.requests[0].reject(Object.assign(new Error('Connection error'), { name: 'KafkaJSNumberOfRetriesExceeded' }));
    const error = await call;
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).reason).toBe('unavailable');
    expect(first.disconnected).toBe(true);

    await sleep(5);
    expect(FakeProducer.created).toHaveLength(2);
    expect(p.isReady()).toBe(true);
    const again = p.publish(topic, [tag(2)]);
    await sleep(5);
    FakeProducer.created[1].requests[0].resolve();
    await again;
  });

  it('says rejected when the broker refuses the data for good', async () => {
    const p = publisher({ lingerMs: 1 });
    await p.connect();
    const call = p.publish(topic, [tag(1)]).catch((e: unknown) => e);
    await sleep(5);
    const tooLarge = Object.assign(new Error('The request included a message larger than the max message size'), {
      name: 'KafkaJSProtocolError',
      retriable: false,
    });
    FakeProducer.created[0].requests[0].reject(
      Object.assign(new Error('wrapped'), { name: 'KafkaJSNonRetriableError', cause: tooLarge }),
    );
    expect(await call).toMatchObject({ reason: 'rejected' });
  });

  it('while Kafka is unreachable, fails at once, and reconnects by itself when it is back', async () => {
    let reachable = false;
    const p = publisher({}, () => {
      const producer = new FakeProducer();
      if (!reachable) producer.connectError = new Error('connect ECONNREFUSED');
      return producer;
    });
    await expect(p.connect()).rejects.toThrow('ECONNREFUSED');
    expect(p.isReady()).toBe(false);
    const started = Date.now();
    await expect(p.publish(topic, [tag(1)])).rejects.toMatchObject({
      reason: 'unavailable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    expect(Date.now() - started).toBeLessThan(20);

    reachable = true;
    const deadline = Date.now() + 3_000;
    while (!p.isReady() && Date.now() < deadline) await sleep(20);
    expect(p.isReady()).toBe(true);
    await p.close(10);
  });

  it('rejects a value that does not fit the schema without sending anything', async () => {
    const p = publisher();
    await p.connect();
    const bad = { ...tag(1), device: 'FRIDGE' } as unknown as UserTag;
    await expect(p.publish(topic, [bad])).rejects.toMatchObject({ reason: 'rejected' });
    await sleep(10);
    expect(FakeProducer.created[0].requests).toHaveLength(0);
  });

  it('on close, sends what is queued, then refuses', async () => {
    const p = publisher({ lingerMs: 500 });
    await p.connect();
    const producer = FakeProducer.created[0];
    const queued = p.publish(topic, [tag(1)]);
    const closing = p.close(1_000);
    await flush();
    expect(producer.requests).toHaveLength(1);
    producer.requests[0].resolve();
    await queued;
    await closing;
    expect(producer.disconnected).toBe(true);
    await expect(p.publish(topic, [tag(2)])).rejects.toMatchObject({ reason: 'unavailable' });
  });
});
