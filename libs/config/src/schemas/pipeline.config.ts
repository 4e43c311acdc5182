import { z } from 'zod';
import { int, oneOf, optionalStr } from '../env';
import { databaseVars, httpPort, processVars, transportVars } from './common';

export const pipelineConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8081),
    ...transportVars,
    ...databaseVars,
    PROFILE_STORE: oneOf(['postgres', 'aerospike'] as const, 'postgres'),
    AEROSPIKE_HOSTS: optionalStr({
      pattern: /^[A-Za-z0-9.-]+(:\d{1,5})?(,[A-Za-z0-9.-]+(:\d{1,5})?)*$/,
      expects: 'a comma-separated list of host[:port], or unset',
    }),
    AEROSPIKE_NAMESPACE: optionalStr({
      pattern: /^[A-Za-z0-9_-]{1,31}$/,
      expects: 'an Aerospike namespace, or unset (test)',
    }),
    PROFILES_GROUP_ID: optionalStr({
      pattern: /^[A-Za-z0-9._-]+$/,
      expects: 'a consumer group id, or unset (profiles)',
    }),
    AGGREGATES_GROUP_ID: optionalStr({
      pattern: /^[A-Za-z0-9._-]+$/,
      expects: 'a consumer group id, or unset (aggregates)',
    }),
    AGG_FLUSH_INTERVAL_MS: int(1_000, { min: 10, max: 60_000 }),
    RETENTION_HOURS: int(24, { min: 1, max: 24 * 365 }),
  })
  .superRefine((c, ctx) => {
    if (c.PROFILE_STORE === 'aerospike' && !c.AEROSPIKE_HOSTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['AEROSPIKE_HOSTS'],
        message: 'a comma-separated list of host[:port] when PROFILE_STORE=aerospike',
      });
    }
  });

export type PipelineConfigValues = z.infer<typeof pipelineConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class PipelineConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface PipelineConfig extends PipelineConfigValues {}
