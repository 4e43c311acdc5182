import { hash } from 'node:crypto';

/** Bytes of digest kept: 64 bits make a collision between two tags of one cookie, action and ms negligible. */
export const TAG_DIGEST_BYTES = 8;

/**
 * The tie-breaker of two tags with the same event time: the first 8 bytes of SHA-256 over the
 * canonical JSON, as 16 lower-case hex digits (fixed width, so it sorts as text the way the bytes do).
 */
export function tagDigestHex(canonicalJson: string): string {
  // The one-shot hash: no Hash object or digest buffer per tag (0.8 against 1.7 µs, and less garbage).
  return hash('sha256', canonicalJson, 'hex').slice(0, 2 * TAG_DIGEST_BYTES);
}
