import { Kafka, Producer } from 'kafkajs';
import { DeadLetter, DeadLetterSink } from '../dead-letter/dead-letter';
import { KafkaOptionsFactory } from './kafka-options.factory';

/** Writes dead letters with an idempotent producer of its own, connected on first use. */
export class KafkaDeadLetterSink extends DeadLetterSink {
  private producer: Promise<Producer> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaOptionsFactory,
  ) {
    super();
  }

  protected override async write(letter: DeadLetter): Promise<void> {
    const producer = await this.connected();
    try {
      await producer.send({
        topic: letter.topic,
        acks: -1,
        messages: [{ key: letter.key, value: letter.value, headers: letter.headers }],
      });
    } catch (err) {
      // Retries are bounded, so the producer's sequence numbers are in doubt: the next dead letter
      // gets a fresh producer (as the publisher does), never one the broker might take for a duplicate.
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
  }

  private connected(): Promise<Producer> {
    if (this.producer === undefined) {
      const producer = this.kafka.producer(this.options.deadLetterProducerConfig());
      const connecting = producer.connect().then(() => producer);
      // A failed connection is retried by the next dead letter.
      connecting.catch(() => {
        if (this.producer === connecting) this.producer = undefined;
      });
      this.producer = connecting;
    }
    return this.producer;
  }
}
