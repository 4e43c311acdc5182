import { z } from 'zod';
import { doc, int, num, oneOf, str } from '../env';
import { httpPort, processVars, producerVars, transportVars } from './common';

const MINUTES_PER_DAY = 1_440;

/**
 * agg-producer keeps its state in Kafka (a compacted changelog topic, written in the same transaction as
 * its output and consumed offsets), so it reads no database variables.
 */
export const aggProducerConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8083),
    ...transportVars,
    ...producerVars,
    STATS_GROUP_ID: doc(
      'Consumer group of agg-producer on the trades topic; its offsets are committed in the same transaction as the statistics',
      str('agg-producer', { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a consumer group id' }),
    ),
    TOPIC_AGG_STATE: doc(
      "Compacted changelog topic of agg-producer's state (per instrument: EWMA, open windows, stream time; per partition: consumed offset), read to its end at start-up",
      str('agg-producer-state-changelog', { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a Kafka topic name' }),
    ),
    WINDOW_MINUTES: doc(
      'Length of the tumbling event-time windows, aligned to UTC midnight (so it must divide 1440)',
      int(1, { min: 1, max: MINUTES_PER_DAY }),
    ),
    WINDOW_GRACE_MS: doc(
      'How long past its end (in event time, or wall time for a quiet instrument) a window still accepts trades before it closes. ' +
        'Keep it above a raw-producer restart plus its back-fill: trades back-filled later than this count as late (metric and log, not aggregated)',
      int(2_000, { min: 0, max: 3_600_000 }),
    ),
    EWMA_MODE: doc(
      'EWMA smoothing: span (alpha = 2/(EWMA_SPAN+1) per trade), alpha (EWMA_ALPHA per trade) or halflife (decay by EWMA_HALFLIFE_MS of event time)',
      oneOf(['span', 'alpha', 'halflife'] as const, 'span'),
    ),
    EWMA_SPAN: doc('Span N of the EWMA in trades (EWMA_MODE=span)', num(20, { min: 1 })),
    EWMA_ALPHA: doc('Per-trade smoothing factor of the EWMA (EWMA_MODE=alpha)', num(0.1, { exclusiveMin: 0, max: 1 })),
    EWMA_HALFLIFE_MS: doc(
      "Half-life of the EWMA in ms of event time: a price's weight halves in this time (EWMA_MODE=halflife)",
      int(60_000, { min: 1 }),
    ),
    COMMIT_INTERVAL_MS: doc(
      'Longest time between transactions committing state and consumed offsets (windows that close commit at once); bounds the work redone after a crash',
      int(1_000, { min: 10, max: 60_000 }),
    ),
    STATE_RESTORE_TIMEOUT_MS: doc(
      'Longest time reading the changelog topic to its end may take at start-up or after a rebalance before it is retried',
      int(120_000, { min: 1_000, max: 3_600_000 }),
    ),
    REVISION_WINDOWS: doc(
      'Published windows per instrument a late trade (past the grace) may still revise: the window is published again with the next revision; 0: late trades are only counted',
      int(10, { min: 0, max: 10_080 }),
    ),
    IDLE_CHECK_INTERVAL_MS: doc(
      "How often quiet instruments are checked for windows whose end plus grace the source's watermark (or, without one, the partition's clock) has passed",
      int(1_000, { min: 10, max: 60_000 }),
    ),
  })
  .superRefine((c, ctx) => {
    if (MINUTES_PER_DAY % c.WINDOW_MINUTES !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['WINDOW_MINUTES'],
        message: `a divisor of 1440 so windows align to UTC midnight (e.g. 1, 5, 15, 60), not ${c.WINDOW_MINUTES}`,
      });
    }
  });

export type AggProducerConfigValues = z.infer<typeof aggProducerConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class AggProducerConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AggProducerConfig extends AggProducerConfigValues {}
