import { Backoff, sleep } from '@lib/platform/retry/backoff';
import { Logger } from '@nestjs/common';
import { Message, Producer, TopicMessages } from 'kafkajs';
import { Headers, Marker, markerHeaders, MessagePublisher, PublishError, TopicSpec } from '../messaging';
import { producerRequestSize, publishFailures } from '../metrics/messaging.metrics';
import { producerTuning } from '../messaging.config';
import { AvroSerde, EncodeError } from '../serde/avro.serde';
import { inPublishSpan } from '../tracing/tracing.setup';
import { KafkaOptionsFactory } from './kafka-options.factory';

export interface PublisherTuning {
  /** How long a publish waits for others to share its produce request. */
  readonly lingerMs: number;
  /** A request carries at most this many messages (a single larger publish goes alone). */
  readonly batchMaxMessages: number;
  /** Default of `publish`'s timeoutMs. */
  readonly timeoutMs: number;
}

/** One publish call waiting for its messages to be acknowledged. */
interface Pending {
  readonly topic: string;
  readonly messages: Message[];
  readonly resolve: () => void;
  readonly reject: (err: PublishError) => void;
  settled: boolean;
  /** Still in the queue (not yet taken into a request). */
  queued: boolean;
  timer?: NodeJS.Timeout;
}

type State = 'connecting' | 'connected' | 'down' | 'closed';

const RECONNECT_BACKOFF = { firstMs: 200, maxMs: 2_000 };

/** A protocol error the broker will repeat on retry (too large, not authorised...): the data is refused. */
function classify(err: unknown): PublishError['reason'] {
  for (let e = err as { name?: string; retriable?: boolean; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'KafkaJSProtocolError' && e.retriable === false) return 'rejected';
  }
  return 'unavailable';
}

/**
 * MessagePublisher on a kafkajs idempotent producer (acks=all), coalescing concurrent calls:
 * - a publish waits up to `lingerMs` (or until `batchMaxMessages` are queued) and goes out with
 *   everything queued in one `sendBatch`; while that request is in flight, the next batch builds up.
 *   One request at a time keeps per-key order (and is what kafkajs' idempotence needs);
 * - each call resolves when the request carrying ITS messages is acknowledged, and rejects with
 *   PublishError when that request fails or after its `timeoutMs`, whichever comes first;
 * - a call that timed out while its request was in flight may still be written by the producer's
 *   retries: the caller was told "not written" (503), and a client retry may then duplicate it.
 *   That is the accepted cost of answering within the timeout. Calls that timed out while still
 *   queued are never sent.
 * - after a failed request the producer is replaced (a new producer id: bounded retries leave the
 *   old one's sequence numbers in doubt). While Kafka cannot be reached, publishes fail at once with
 *   `unavailable`, and a background loop reconnects, so the publisher recovers by itself.
 *
 * Over 300 lines on purpose: the queue, the one request in flight, timeouts and the producer's
 * replacement after a failure share their state and must change together.
 */
export class KafkaMessagePublisher extends MessagePublisher {
  private readonly log = new Logger('KafkaPublisher');
  private state: State = 'connecting';
  private producer: Producer | undefined;
  private lastError = '';
  private queue: Pending[] = [];
  private queuedMessages = 0;
  private inFlight: Promise<void> | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private requests = 0;

  constructor(
    /** A new, unconnected producer (see KafkaOptionsFactory.publisherProducerConfig). */
    private readonly producerFactory: () => Producer,
    private readonly serde: AvroSerde,
    private readonly tuning: PublisherTuning,
  ) {
    super();
  }

  /** A publisher with the settings of `options` (its own client, bounded by the produce timeout). */
  static fromOptions(
    options: KafkaOptionsFactory,
    serde: AvroSerde,
    overrides: Partial<PublisherTuning> = {},
  ): KafkaMessagePublisher {
    const kafka = options.kafka('publisher', options.publisherKafkaConfig());
    const tuning = producerTuning(options.config);
    return new KafkaMessagePublisher(() => kafka.producer(options.publisherProducerConfig()), serde, {
      lingerMs: tuning.KAFKA_LINGER_MS,
      batchMaxMessages: tuning.KAFKA_BATCH_MAX_MESSAGES,
      timeoutMs: tuning.KAFKA_PRODUCE_TIMEOUT_MS,
      ...overrides,
    });
  }

  /** Connects; rejects if Kafka cannot be reached now (the publisher keeps trying in the background). */
  connect(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.startConnecting((err) => (err === undefined ? resolve() : reject(err))),
    );
  }

  /** Produce requests sent so far (each carries one or more publish calls). */
  get requestCount(): number {
    return this.requests;
  }

  override isReady(): boolean {
    return this.state === 'connected';
  }

  override async publish<T>(
    topic: TopicSpec<T>,
    values: readonly T[],
    opts?: { timeoutMs?: number; headers?: Headers },
  ): Promise<void> {
    if (!this.canSend(values.length)) return;
    const timeoutMs = opts?.timeoutMs ?? this.tuning.timeoutMs;
    await inPublishSpan(topic.name, values.length, opts?.headers, async (headers) => {
      const messages: Message[] = [];
      for (const value of values) {
        messages.push({ key: topic.key(value), value: await this.encode(topic, value), headers });
      }
      await this.enqueue(topic.name, messages, timeoutMs);
    });
  }

  /** Markers ride the same queue as values, so they follow what was published before them. */
  override async publishMarkers(
    topic: TopicSpec<unknown>,
    markers: readonly Marker[],
    opts?: { timeoutMs?: number },
  ): Promise<void> {
    if (!this.canSend(markers.length)) return;
    const messages: Message[] = markers.map((m) => ({
      key: m.key,
      value: null,
      headers: markerHeaders(m),
    }));
    await this.enqueue(topic.name, messages, opts?.timeoutMs ?? this.tuning.timeoutMs);
  }

  /** Throws when nothing can be sent now; false when there is nothing to send. */
  private canSend(count: number): boolean {
    if (this.state === 'closed') throw this.fail(new PublishError('the publisher is closed', 'unavailable'));
    if (this.state === 'down') {
      throw this.fail(new PublishError(`Kafka is unreachable (${this.lastError})`, 'unavailable'));
    }
    if (count === 0) return false;
    if (this.state === 'connecting') this.startConnecting();
    return true;
  }

  /** Sends what is queued (bounded by `timeoutMs`), then disconnects; what is left is rejected. */
  async close(timeoutMs = this.tuning.timeoutMs): Promise<void> {
    if (this.state === 'closed') return;
    const deadline = Date.now() + timeoutMs;
    while ((this.queuedMessages > 0 || this.inFlight) && this.state === 'connected' && Date.now() < deadline) {
      this.flushSoon(0);
      await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, 10))]);
    }
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    for (const p of this.queue) this.settle(p, new PublishError('the publisher closed before sending', 'unavailable'));
    this.queue = [];
    this.queuedMessages = 0;
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }

  private async encode<T>(topic: TopicSpec<T>, value: T): Promise<Buffer> {
    try {
      return await this.serde.encode(topic.name, topic.schemaName, value);
    } catch (err) {
      if (err instanceof EncodeError) {
        throw this.fail(new PublishError(`cannot publish to ${topic.name}: ${err.message}`, 'rejected', err));
      }
      throw this.fail(
        new PublishError(`cannot encode for ${topic.name}: ${(err as Error).message}`, 'unavailable', err),
      );
    }
  }

  private enqueue(topic: string, messages: Message[], timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { topic, messages, resolve, reject, settled: false, queued: true };
      pending.timer = setTimeout(() => {
        this.settle(pending, new PublishError(`not acknowledged within ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      this.queue.push(pending);
      this.queuedMessages += messages.length;
      this.flushSoon(this.queuedMessages >= this.tuning.batchMaxMessages ? 0 : this.tuning.lingerMs);
    });
  }

  private settle(pending: Pending, err?: PublishError): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    if (err === undefined) {
      pending.resolve();
    } else {
      if (pending.queued) this.queuedMessages -= pending.messages.length;
      pending.reject(this.fail(err));
    }
  }

  private fail(err: PublishError): PublishError {
    publishFailures().inc({ reason: err.reason });
    return err;
  }

  private flushSoon(delayMs: number): void {
    if (this.inFlight !== undefined || this.state !== 'connected') return;
    if (delayMs <= 0) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      const request = this.sendNext();
      this.inFlight = request;
      void request.finally(() => {
        this.inFlight = undefined;
        // Calls queued meanwhile have waited long enough: send them at once.
        if (this.queuedMessages > 0) this.flushSoon(0);
      });
    } else if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.flushSoon(0);
      }, delayMs);
    }
  }

  /**
   * Takes whole publish calls off the queue up to the batch limit and sends them in one request.
   * Only called when connected, so the producer is there.
   */
  private async sendNext(): Promise<void> {
    const batch: Pending[] = [];
    let count = 0;
    while (
      this.queue.length > 0 &&
      (batch.length === 0 || count + this.queue[0].messages.length <= this.tuning.batchMaxMessages)
    ) {
      const next = this.queue.shift() as Pending;
      next.queued = false;
      if (next.settled) continue; // timed out while queued: never sent
      this.queuedMessages -= next.messages.length;
      batch.push(next);
      count += next.messages.length;
    }
    if (batch.length === 0) return;
    const producer = this.producer as Producer;
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      const messages = byTopic.get(p.topic);
      if (messages === undefined) byTopic.set(p.topic, [...p.messages]);
      else messages.push(...p.messages);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    this.requests += 1;
    producerRequestSize().observe(count);
    try {
      await producer.sendBatch({ topicMessages, acks: -1, timeout: this.tuning.timeoutMs });
      for (const p of batch) this.settle(p);
    } catch (err) {
      const reason = classify(err);
      for (const p of batch)
        this.settle(p, new PublishError(`produce request failed: ${(err as Error).message}`, reason, err));
      this.log.warn(`produce request of ${count} messages failed (${reason}): ${(err as Error).message}`);
      this.replaceProducer(err);
    }
  }

  private replaceProducer(cause: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    this.lastError = (cause as Error).message;
    const old = this.producer;
    this.producer = undefined;
    void old?.disconnect().catch(() => undefined);
    this.startConnecting();
  }

  /**
   * Connects a new producer, retrying with backoff until one connects or the publisher closes.
   * `onFirstAttempt` learns how the first attempt went (connect() reports it to the caller).
   */
  private startConnecting(onFirstAttempt?: (err?: unknown) => void): void {
    if (this.reconnecting !== undefined) {
      onFirstAttempt?.(this.state === 'down' ? new Error(this.lastError) : undefined);
      return;
    }
    this.reconnecting = (async () => {
      const backoff = new Backoff(RECONNECT_BACKOFF);
      for (let attempt = 1; (this.state as State) !== 'closed'; attempt++) {
        const producer = this.producerFactory();
        try {
          await producer.connect();
          if ((this.state as State) === 'closed') {
            await producer.disconnect();
            return;
          }
          this.producer = producer;
          this.state = 'connected';
          if (attempt > 1) this.log.log('connected to Kafka again');
          if (attempt === 1) onFirstAttempt?.();
          this.flushSoon(0);
          return;
        } catch (err) {
          await producer.disconnect().catch(() => undefined);
          if ((this.state as State) === 'closed') return;
          this.lastError = (err as Error).message;
          this.state = 'down';
          // Calls queued while connecting cannot be sent: fail them now rather than at their timeout.
          for (const p of this.queue)
            this.settle(p, new PublishError(`Kafka is unreachable (${this.lastError})`, 'unavailable', err));
          this.queue = [];
          this.queuedMessages = 0;
          if (attempt === 1) {
            this.log.warn(`cannot connect to Kafka (${this.lastError}); retrying in the background`);
            onFirstAttempt?.(err);
          }
        }
        await sleep(backoff.next());
      }
    })().finally(() => {
      this.reconnecting = undefined;
    });
  }
}
