import { z } from 'zod';
import { bool, doc, int } from '../env';
import {
  checkProfileStore,
  databaseVars,
  groupId,
  httpPort,
  processVars,
  producerVars,
  profileStoreVars,
  transportVars,
} from './common';

export const gatewayConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8080),
    ...transportVars,
    ...producerVars,
    ...databaseVars,
    ...profileStoreVars,
    BODY_LIMIT_BYTES: doc(
      'Largest request body accepted by the API, in bytes (larger: 413)',
      int(16_384, { min: 1_024, max: 10_485_760 }),
    ),
    EVENT_TIME_MAX_FUTURE_MS: doc(
      'How far ahead of the gateway clock a tag time may be (client clock skew); later: 400 TIME_IN_FUTURE, nothing written',
      int(300_000, { min: 0, max: 7 * 24 * 3_600_000 }),
    ),
    DEBUG_COMPARE: doc(
      'Debug mode: queries carry their expected answer in the body; the gateway compares, counts and logs mismatches',
      bool(false),
    ),
    DEBUG_BODY_LIMIT_BYTES: doc(
      'Largest body of a query in debug mode, in bytes',
      int(1_048_576, { min: 1_024, max: 67_108_864 }),
    ),
    MARKET_GROUP_ID: groupId(
      'gateway-market',
      "Consumer group of the market read side (TOPIC_TRADE_STATS into PostgreSQL); the gateway's replicas share it",
    ),
  })
  .superRefine((c, ctx) => checkProfileStore(c, (issue) => ctx.addIssue(issue)));

export type GatewayConfigValues = z.infer<typeof gatewayConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class GatewayConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface GatewayConfig extends GatewayConfigValues {}
