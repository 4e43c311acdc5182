import { createHash } from 'node:crypto';

/** Bytes of digest kept: 64 bits make a collision between two tags of one cookie, action and ms negligible. */
export const TAG_DIGEST_BYTES = 8;

/**
 * The tie-breaker of two tags with the same event time: the first 8 bytes of SHA-256 over the
 * canonical JSON, as 16 lower-case hex digits (fixed width, so it sorts as text the way the bytes do).
 */
export function tagDigestHex(canonicalJson: string): string {
  return createHash('sha256').update(canonicalJson).digest().subarray(0, TAG_DIGEST_BYTES).toString('hex');
}
