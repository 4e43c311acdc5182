import { TimeRange } from './time-range';
import { MS_PER_MINUTE, formatUtcSeconds } from './utc';

/** Start of the one-minute bucket holding `epochMs` (floors, so times before 1970 work too). */
export function minuteBucketOf(epochMs: number): number {
  return Math.floor(epochMs / MS_PER_MINUTE) * MS_PER_MINUTE;
}

/** Starts of every minute bucket overlapping `range`, in time order. */
export function minuteBucketsOf(range: TimeRange): number[] {
  const out: number[] = [];
  for (let b = minuteBucketOf(range.fromMs); b < range.toMs; b += MS_PER_MINUTE) out.push(b);
  return out;
}

/** A bucket's name in answers: its start, `YYYY-MM-DDTHH:MM:SS`. */
export const formatBucket = formatUtcSeconds;
