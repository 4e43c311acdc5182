import type { DurableBrokerOptions } from '../../../libs/in-process-log/src/in-memory.broker';

/** Small segments and offsets file, so a short run rolls, compacts and rewrites many times. */
export const CRASH_LOG_OPTIONS: Omit<DurableBrokerOptions, 'dir'> = {
  partitions: 3,
  segmentBytes: 16 * 1024,
  offsetsCompactBytes: 4 * 1024,
  compactedTopics: ['state'],
};
