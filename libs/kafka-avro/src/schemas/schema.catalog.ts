import { Resolver, Type } from 'avsc';
import { AvroRecordSchema } from './avro-schema.types';
import { DERIBIT_TRADE_SCHEMA, deribitTradeSchemaV1 } from './deribit-trade.schema';
import { fingerprintBytes, rabinFingerprint } from './rabin-fingerprint';
import { safeLongType } from './safe-long';
import { TRADE_STATS_SCHEMA, tradeStatsSchemaV1, tradeStatsSchemaV2 } from './trade-stats.schema';
import { USER_TAG_SCHEMA, userTagSchemaV1 } from './user-tag.schema';

/** One version of one record schema, compiled. */
export interface SchemaEntry {
  /** Full name, e.g. `analytics.UserTag`. */
  readonly name: string;
  readonly type: Type;
  /** Parsing Canonical Form: what the fingerprint is computed over. */
  readonly canonical: string;
  /** CRC-64-AVRO of the canonical form. */
  readonly fingerprint: bigint;
  /** The fingerprint as single-object encoding writes it (8 bytes, little-endian). */
  readonly fingerprintBytes: Buffer;
}

/**
 * Unions are never wrapped: a `["string","long"]` value is a plain string or number, and the branch
 * written is the first one the value fits, so a string stays a string and an integer a number.
 * Longs cover every safe integer (see safe-long.ts).
 */
export function compileSchema(schema: unknown): Type {
  return Type.forSchema(schema as never, { wrapUnions: 'never', registry: { long: safeLongType } });
}

function entryOf(schema: AvroRecordSchema | Type): SchemaEntry {
  const type = schema instanceof Type ? schema : compileSchema(schema);
  // avsc's schema() without exportAttrs is the Parsing Canonical Form (full names, no doc/default).
  const canonical = JSON.stringify(type.schema());
  if (type.name === undefined) throw new Error(`schema ${canonical} is not a named record`);
  return {
    name: type.name,
    type,
    canonical,
    fingerprint: rabinFingerprint(canonical),
    fingerprintBytes: fingerprintBytes(canonical),
  };
}

/**
 * The registry of schema versions this build knows, the source of truth for single-object encoding.
 * - `current`: per record name, the version this build writes and the one it reads into;
 * - `known`: every other version (older ones, and newer ones deployed to readers before writers use
 *   them), so a message written with any of them can be resolved by its fingerprint.
 * Adding a version: append it to `known` (readers first), then make it `current` in a later release.
 * Only fields with defaults may be added or removed, so both directions resolve.
 */
export class SchemaCatalog {
  private readonly currentByName = new Map<string, SchemaEntry>();
  private readonly byFingerprint = new Map<bigint, SchemaEntry>();
  private readonly resolvers = new Map<string, Resolver>();

  constructor(current: readonly (AvroRecordSchema | Type)[], known: readonly (AvroRecordSchema | Type)[] = []) {
    for (const schema of current) {
      const entry = entryOf(schema);
      if (this.currentByName.has(entry.name)) throw new Error(`two current versions of ${entry.name}`);
      this.currentByName.set(entry.name, entry);
      this.byFingerprint.set(entry.fingerprint, entry);
    }
    for (const schema of known) {
      const entry = entryOf(schema);
      if (!this.byFingerprint.has(entry.fingerprint)) this.byFingerprint.set(entry.fingerprint, entry);
    }
  }

  /** The version this build writes for `name`. */
  current(name: string): SchemaEntry {
    const entry = this.currentByName.get(name);
    if (entry === undefined) {
      throw new Error(`no Avro schema named ${name} (known: ${[...this.currentByName.keys()].join(', ')})`);
    }
    return entry;
  }

  find(fingerprint: bigint): SchemaEntry | undefined {
    return this.byFingerprint.get(fingerprint);
  }

  /**
   * How to read data written with `writer` into the current version of `readerName`; undefined when
   * they are the same schema. Throws when the schemas cannot be resolved (incompatible change).
   * `writerKey` identifies the writer for the cache (a fingerprint, or a registry id).
   */
  resolver(readerName: string, writer: Type, writerKey: string): Resolver | undefined {
    const reader = this.current(readerName);
    if (writer === reader.type) return undefined;
    const key = `${readerName}|${writerKey}`;
    let resolver = this.resolvers.get(key);
    if (resolver === undefined) {
      resolver = reader.type.createResolver(writer);
      this.resolvers.set(key, resolver);
    }
    return resolver;
  }
}

/** Record names of the schemas in {@link defaultSchemaCatalog}. */
export const SCHEMAS = {
  userTag: USER_TAG_SCHEMA,
  deribitTrade: DERIBIT_TRADE_SCHEMA,
  tradeStats: TRADE_STATS_SCHEMA,
} as const;

/** Every schema of this repository: current versions, plus older ones once a schema evolves. */
export function defaultSchemaCatalog(): SchemaCatalog {
  return new SchemaCatalog([userTagSchemaV1, deribitTradeSchemaV1, tradeStatsSchemaV2], [tradeStatsSchemaV1]);
}
