/**
 * Client strings used as keys (cookie; origin, brand_id, category_id of the cube) go through this
 * injective map before they reach a database. PostgreSQL text cannot hold U+0000 and the Aerospike
 * client cuts a key at it; both encode a lone UTF-16 surrogate as U+FFFD, which would merge two
 * different client strings into one key. A string with neither (the usual case) is kept as is; any
 * other becomes U+0001 followed by its JSON, which spells both as \u escapes. Strings that already
 * start with U+0001 are escaped too, so no escaped string can equal a kept one. Keys are only
 * compared, never decoded: the original text lives in the stored tag.
 */
const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function keyText(value: string): string {
  const lone = SURROGATE.test(value) && LONE_SURROGATE.test(value);
  return lone || value.includes('\u0000') || value.startsWith('\u0001') ? `\u0001${JSON.stringify(value)}` : value;
}
