import { z } from 'zod';
import { bool, int, oneOf, optionalStr } from '../env';
import { databaseVars, httpPort, processVars, producerVars, transportVars } from './common';

export const gatewayConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8080),
    ...transportVars,
    ...producerVars,
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
    /** Largest request body accepted on the API, in bytes (over it: 413). */
    BODY_LIMIT_BYTES: int(16_384, { min: 1_024, max: 10_485_760 }),
    /** Compare the expected answer carried in query bodies with the gateway's own. */
    DEBUG_COMPARE: bool(false),
    DEBUG_BODY_LIMIT_BYTES: int(1_048_576, { min: 1_024, max: 67_108_864 }),
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

export type GatewayConfigValues = z.infer<typeof gatewayConfigSchema>;

/** Injection token and type of the gateway's validated config. */
// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class GatewayConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface GatewayConfig extends GatewayConfigValues {}
