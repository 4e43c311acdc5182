import type { Type } from 'avsc';

/**
 * Turns typed values into Kafka message values and back. One instance serves every topic; the
 * schema is named by the topic's `TopicSpec.schemaName`.
 * - `encode` throws {@link EncodeError} for a value that does not fit its schema;
 * - `decode` throws {@link DecodeError} for bytes it cannot read (unknown framing or writer schema,
 *   truncated or incompatible data): such messages are poison and go to the dead-letter topic.
 * Either may return a promise (the Confluent format looks schema ids up in the registry once).
 */
export abstract class AvroSerde {
  abstract encode(topic: string, schemaName: string, value: unknown): Buffer | Promise<Buffer>;
  abstract decode<T = unknown>(topic: string, schemaName: string, data: Buffer): T | Promise<T>;
}

export class EncodeError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'EncodeError';
  }
}

export class DecodeError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Why a value does not fit its schema, with the path of each offending field. */
export function describeInvalid(type: Type, value: unknown): string {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], got: unknown) => {
      problems.push(`${path.join('.') || '(value)'}=${JSON.stringify(got)}`);
    },
  });
  return problems.length > 0 ? problems.join(', ') : 'not a valid value';
}
