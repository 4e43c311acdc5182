import { ACTIONS, PROFILE_CAPACITY, Profile, ProfileStore, TimeRange, UserTag } from '@lib/domain';
import { counter } from '@lib/platform';
import { Logger } from '@nestjs/common';
import { AerospikeError, Client, connect, Key, log, OperatePolicy, status } from 'aerospike';
import { keyText } from '../key-text';
import {
  appendOperations,
  BIN_OF,
  decodeRange,
  entriesOf,
  maxEntryBytes,
  Oversized,
  readOperations,
  RECORD_LIMIT_BYTES,
} from './aerospike-profile.codec';

export interface AerospikeProfileStoreOptions {
  /** `host[:port],...` (port 3000 when omitted). */
  readonly hosts: string;
  readonly namespace: string;
  /** Set of the profile records; default `profiles`. */
  readonly set?: string;
  readonly capacity?: number;
  /**
   * Reads serve a client that gives up at 200 ms: each try gets 40 ms, all of them 120 ms.
   * Writes are idempotent (same key, same tag), so they are retried freely within 2 s.
   */
  readonly readTimeouts?: Timeouts;
  readonly writeTimeouts?: Timeouts;
  /** Appends in flight at once (one `operate` per cookie). */
  readonly writeConcurrency?: number;
  /**
   * Profile retention: each write sets the record's TTL to this, so a cookie not written for that
   * long expires; the namespace needs `nsup-period` set (Aerospike refuses a TTL without it:
   * FORBIDDEN). Unset: the namespace's `default-ttl` applies, as before retention existed.
   */
  readonly ttlSeconds?: number;
}

export interface Timeouts {
  readonly socketTimeout: number;
  readonly totalTimeout: number;
  readonly maxRetries: number;
}

const DEFAULT_READ: Timeouts = { socketTimeout: 40, totalTimeout: 120, maxRetries: 2 };
const DEFAULT_WRITE: Timeouts = { socketTimeout: 500, totalTimeout: 2_000, maxRetries: 3 };

/**
 * ProfileStore on Aerospike (the production default): see aerospike-profile.codec.ts for the layout.
 *
 * - `append`: one `operate` per cookie inserts the cookie's tags and trims each touched action to
 *   the newest `capacity`, atomically on the record. Cookies are written in parallel, at most
 *   `writeConcurrency` at once; the promise rejects if any write fails (a retry rewrites all of
 *   them, harmlessly).
 * - `read`: one `operate` per read selects each action's key range (the time range), newest first,
 *   then applies the limit. A cookie without a record has an empty profile.
 * - Record size: a record holds at most 2 × capacity entries of at most maxEntryBytes each, within
 *   RECORD_LIMIT_BYTES. Tags that meet the rules of ingest always fit (the gateway refuses larger ones
 *   with TAG_TOO_LARGE, the pipeline dead-letters them); an entry over the bound that got here anyway is
 *   left out and counted (`profile_entries_oversized_total`). A write the server still refuses as too
 *   big (a namespace whose max-record-size is below RECORD_LIMIT_BYTES) can never succeed on a retry:
 *   that cookie's write is counted (`profile_records_too_big_total`) and logged as an error, and the
 *   batch goes on rather than block its partition forever. Its tags stay in Kafka, to be replayed once
 *   the namespace is fixed.
 */
export class AerospikeProfileStore extends ProfileStore {
  private readonly set: string;
  private readonly capacity: number;
  private readonly readPolicy: OperatePolicy;
  private readonly writePolicy: OperatePolicy;
  private readonly writeConcurrency: number;
  private readonly maxEntryBytes: number;
  private readonly writeMeta: { ttl: number } | null;
  private readonly logger = new Logger('AerospikeProfileStore');
  private readonly oversizedEntries = counter({
    name: 'profile_entries_oversized_total',
    help: 'Profile entries left out of an Aerospike record because they exceed the per-entry bound',
  });
  private readonly recordsTooBig = counter({
    name: 'profile_records_too_big_total',
    help: 'Profile writes Aerospike refused as RECORD_TOO_BIG (not retried; the tags stay in Kafka)',
  });

  constructor(
    private readonly client: Client,
    private readonly options: AerospikeProfileStoreOptions,
  ) {
    super();
    this.set = options.set ?? 'profiles';
    this.capacity = options.capacity ?? PROFILE_CAPACITY;
    this.readPolicy = new OperatePolicy(options.readTimeouts ?? DEFAULT_READ);
    this.writePolicy = new OperatePolicy(options.writeTimeouts ?? DEFAULT_WRITE);
    this.writeConcurrency = options.writeConcurrency ?? 64;
    this.maxEntryBytes = maxEntryBytes(this.capacity);
    this.writeMeta = options.ttlSeconds ? { ttl: options.ttlSeconds } : null;
  }

  /** Connects to the cluster; rejects when no seed host answers. */
  static async connect(options: AerospikeProfileStoreOptions): Promise<AerospikeProfileStore> {
    const client = await connect({
      hosts: options.hosts,
      connTimeoutMs: 2_000,
      log: { level: log.WARN },
    });
    return new AerospikeProfileStore(client, options);
  }

  async append(tags: readonly UserTag[]): Promise<void> {
    const byCookie = new Map<string, UserTag[]>();
    for (const tag of tags) {
      const list = byCookie.get(tag.cookie);
      if (list) list.push(tag);
      else byCookie.set(tag.cookie, [tag]);
    }
    const work = [...byCookie.entries()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        const [cookie, cookieTags] = work[next++];
        const entries = entriesOf(cookieTags, this.maxEntryBytes, (e) => this.leaveOut(cookie, e));
        if (entries.size === 0) continue;
        await this.write(cookie, appendOperations(entries, this.capacity));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.writeConcurrency, work.length) }, worker));
  }

  async read(cookie: string, range: TimeRange, limit: number): Promise<Profile> {
    if (limit <= 0 || range.fromMs >= range.toMs) return { views: [], buys: [] };
    let bins: Record<string, unknown>;
    try {
      bins = (await this.client.operate(this.keyOf(cookie), readOperations(range), null, this.readPolicy)).bins;
    } catch (err) {
      if (err instanceof AerospikeError && err.code === status.ERR_RECORD_NOT_FOUND) {
        return { views: [], buys: [] };
      }
      throw err;
    }
    const [views, buys] = ACTIONS.map((action) => decodeRange(cookie, action, bins[BIN_OF[action]], limit));
    return { views, buys };
  }

  private async write(cookie: string, ops: ReturnType<typeof appendOperations>): Promise<void> {
    try {
      await this.client.operate(this.keyOf(cookie), ops, this.writeMeta, this.writePolicy);
    } catch (err) {
      if (!(err instanceof AerospikeError && err.code === status.ERR_RECORD_TOO_BIG)) throw err;
      this.recordsTooBig.inc();
      this.logger.error(
        `profile of ${JSON.stringify(cookie)} not written: Aerospike refused the record as too big; the namespace's ` +
          `max-record-size must be at least ${RECORD_LIMIT_BYTES} bytes (the tags stay in Kafka for a replay)`,
      );
    }
  }

  private leaveOut(cookie: string, entry: Oversized): void {
    this.oversizedEntries.inc();
    this.logger.warn(
      `${entry.action} tag ${entry.key} of ${JSON.stringify(cookie)} left out of its profile: ${entry.bytes} bytes, ` +
        `over the ${this.maxEntryBytes} an entry may take`,
    );
  }

  /** Records expire by their TTL (options.ttlSeconds), set at each write. */
  async deleteIdle(): Promise<number> {
    return 0;
  }

  /** For readiness: true while the client holds a connection to at least one cluster node. */
  isConnected(): boolean {
    return this.client.isConnected(false);
  }

  close(): void {
    this.client.close();
  }

  /** The record of a cookie; its user key is the cookie made safe for the client (key-text.ts). */
  private keyOf(cookie: string): Key {
    return new Key(this.options.namespace, this.set, keyText(cookie));
  }
}
