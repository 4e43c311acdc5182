import { z } from 'zod';
import { list, num, oneOf, optionalStr, secret, str } from '../env';
import { httpPort, processVars, producerVars, transportVars } from './common';

export const rawProducerConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8082),
    ...transportVars,
    ...producerVars,
    TRADE_SOURCE: oneOf(['replay', 'live'] as const, 'replay'),
    DERIBIT_WS_URL: str('wss://www.deribit.com/ws/api/v2', {
      pattern: /^wss?:\/\/\S+$/,
      expects: 'a ws:// or wss:// URL',
    }),
    DERIBIT_CHANNELS: list(['trades.future.BTC.100ms', 'trades.future.ETH.100ms'], {
      pattern: /^trades\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?\.(raw|100ms|agg2)$/,
      expects:
        'a comma-separated list of trades.{instrument}.{interval} or trades.{kind}.{currency}.{interval} channels',
    }),
    DERIBIT_CLIENT_ID: optionalStr(),
    DERIBIT_CLIENT_SECRET: secret(optionalStr()),
    REPLAY_FILE: str('apps/raw-producer/recordings/sample.ndjson', { expects: 'a path to an NDJSON recording' }),
    REPLAY_SPEED: num(1, { exclusiveMin: 0, max: 1_000_000 }),
  })
  .superRefine((c, ctx) => {
    if ((c.DERIBIT_CLIENT_ID === undefined) !== (c.DERIBIT_CLIENT_SECRET === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DERIBIT_CLIENT_SECRET'],
        message: 'DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET set together, or neither',
      });
    }
  });

export type RawProducerConfigValues = z.infer<typeof rawProducerConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class RawProducerConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface RawProducerConfig extends RawProducerConfigValues {}
