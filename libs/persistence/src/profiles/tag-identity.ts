import { createHash } from 'node:crypto';
import { UserTag } from '@lib/domain';

/**
 * The JSON text of a tag with its fields in one fixed order. It is both what the PostgreSQL store
 * keeps (the tag as received: `time` text and product_id's JSON type survive, since a string "7"
 * and a number 7 serialise differently) and what the digest is taken over, so "equal in every
 * field" and "same digest" mean the same thing whatever key order the tag object had.
 */
export function canonicalTagJson(tag: UserTag): string {
  const p = tag.product_info;
  return JSON.stringify({
    time: tag.time,
    cookie: tag.cookie,
    country: tag.country,
    device: tag.device,
    action: tag.action,
    origin: tag.origin,
    product_info: { product_id: p.product_id, brand_id: p.brand_id, category_id: p.category_id, price: p.price },
  });
}

/** Bytes of digest kept: 64 bits make a collision between two tags of one cookie, action and ms negligible. */
export const TAG_DIGEST_BYTES = 8;

/**
 * The tie-breaker of two tags with the same event time: the first 8 bytes of SHA-256 over the
 * canonical JSON, as 16 lower-case hex digits (fixed width, so it sorts as text the way the bytes do).
 */
export function tagDigestHex(canonicalJson: string): string {
  return createHash('sha256').update(canonicalJson).digest().subarray(0, TAG_DIGEST_BYTES).toString('hex');
}
