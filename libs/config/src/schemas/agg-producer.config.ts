import { z } from 'zod';
import { int, num, oneOf, optionalStr } from '../env';
import { databaseVars, httpPort, processVars, producerVars, transportVars } from './common';

export const aggProducerConfigSchema = z.object({
  ...processVars,
  ...httpPort(8083),
  ...transportVars,
  ...producerVars,
  ...databaseVars,
  STATS_GROUP_ID: optionalStr({
    pattern: /^[A-Za-z0-9._-]+$/,
    expects: 'a consumer group id, or unset (agg-producer)',
  }),
  WINDOW_MINUTES: int(1, { min: 1, max: 1_440 }),
  WINDOW_GRACE_MS: int(2_000, { min: 0, max: 3_600_000 }),
  EWMA_MODE: oneOf(['span', 'alpha', 'halflife'] as const, 'span'),
  EWMA_SPAN: num(20, { min: 1 }),
  EWMA_ALPHA: num(0.1, { exclusiveMin: 0, max: 1 }),
  EWMA_HALFLIFE_MS: int(60_000, { min: 1 }),
});

export type AggProducerConfigValues = z.infer<typeof aggProducerConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class AggProducerConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AggProducerConfig extends AggProducerConfigValues {}
