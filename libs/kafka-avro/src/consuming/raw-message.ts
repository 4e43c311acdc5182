/** A message as it sits in a partition, before decoding: the common input of both transports. */
export interface RawMessage {
  readonly offset: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly timestamp: number;
}

export const keyToString = (key: Buffer | string | null): string =>
  key === null ? '' : typeof key === 'string' ? key : key.toString('utf8');
