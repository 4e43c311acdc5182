import { Logger } from '@nestjs/common';
import { deadLetterTopicOf } from '../topics';
import { dlqMessages } from '../metrics/messaging.metrics';

/** Headers a dead letter carries besides the original message's own headers. */
export const DLQ_HEADERS = {
  error: 'dlq.error',
  topic: 'dlq.origin.topic',
  partition: 'dlq.origin.partition',
  offset: 'dlq.origin.offset',
  failedAt: 'dlq.failed_at',
} as const;

/** A message that could not be decoded, as it came off its topic. */
export interface PoisonMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly error: unknown;
}

export interface DeadLetter {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

/** The dead letter of `poison`: same key, value and headers, plus why and where it came from. */
export function deadLetterOf(poison: PoisonMessage): DeadLetter {
  const reason = poison.error instanceof Error ? poison.error.message : String(poison.error);
  return {
    topic: deadLetterTopicOf(poison.topic),
    key: poison.key,
    value: poison.value,
    headers: {
      ...poison.headers,
      [DLQ_HEADERS.error]: reason.slice(0, 1_000),
      [DLQ_HEADERS.topic]: poison.topic,
      [DLQ_HEADERS.partition]: String(poison.partition),
      [DLQ_HEADERS.offset]: poison.offset,
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
    },
  };
}

/**
 * Where poison messages go: `<topic>.dlq`. `send` resolves once the dead letter is durably written;
 * if it rejects, the caller must not move past the message (it is retried, never lost).
 */
export abstract class DeadLetterSink {
  private readonly log = new Logger('DeadLetter');

  async send(poison: PoisonMessage): Promise<void> {
    await this.write(deadLetterOf(poison));
    dlqMessages().inc({ topic: poison.topic });
    this.log.warn(
      `${poison.topic}[${poison.partition}]@${poison.offset} could not be decoded and went to ${deadLetterTopicOf(poison.topic)}: ${
        poison.error instanceof Error ? poison.error.message : String(poison.error)
      }`,
    );
  }

  protected abstract write(letter: DeadLetter): Promise<void>;
}
