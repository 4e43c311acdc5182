import { z } from 'zod';
import { doc, int } from '../env';
import {
  checkProfileStore,
  databaseVars,
  groupId,
  httpPort,
  processVars,
  profileStoreVars,
  transportVars,
} from './common';

export const pipelineConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8081),
    ...transportVars,
    ...databaseVars,
    ...profileStoreVars,
    AGGREGATES_GROUP_ID: groupId(
      'aggregates',
      'Consumer group of the pipeline: writes profiles and minute aggregates; its offsets live in PostgreSQL with the aggregates',
    ),
    PIPELINE_FETCH_WAIT_MS: doc(
      'Longest a fetch of user tags waits for PIPELINE_FETCH_MIN_BYTES to accumulate (larger batches: fewer database round trips per tag; adds up to this much to how fresh profiles and aggregates are)',
      int(100, { min: 0, max: 1_000 }),
    ),
    PIPELINE_FETCH_MIN_BYTES: doc(
      'Bytes of user tags a fetch waits for, up to PIPELINE_FETCH_WAIT_MS (1: answer as soon as anything is there)',
      int(256 * 1024, { min: 1, max: 16 * 1024 * 1024 }),
    ),
    PIPELINE_PARTITIONS_CONCURRENTLY: doc(
      'Partitions of user tags processed at the same time; their profile writes share one database statement',
      int(4, { min: 1, max: 64 }),
    ),
    AGG_FLUSH_INTERVAL_MS: doc(
      'How often the aggregator writes its accumulated deltas and offsets (one transaction)',
      int(1_000, { min: 10, max: 60_000 }),
    ),
    RETENTION_HOURS: doc(
      'Hours of event time, behind the retention watermark, for which minute aggregates are kept',
      int(24, { min: 1, max: 24 * 365 }),
    ),
    RETENTION_WATERMARK_TAGS: doc(
      'Retention counts RETENTION_HOURS back from the newest minute with at least this many tags at or after it: fewer outlying tags cannot move it',
      int(1_000, { min: 1, max: 100_000_000 }),
    ),
  })
  .superRefine((c, ctx) => checkProfileStore(c, (issue) => ctx.addIssue(issue)));

export type PipelineConfigValues = z.infer<typeof pipelineConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class PipelineConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface PipelineConfig extends PipelineConfigValues {}
