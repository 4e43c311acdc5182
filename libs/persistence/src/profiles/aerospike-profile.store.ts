import { ACTIONS, PROFILE_CAPACITY, Profile, ProfileStore, TimeRange, UserTag } from '@lib/domain';
import { AerospikeError, Client, connect, Key, log, OperatePolicy, status } from 'aerospike';
import { keyText } from '../key-text';
import { appendOperations, BIN_OF, decodeRange, entriesOf, readOperations } from './aerospike-profile.codec';

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
 */
export class AerospikeProfileStore extends ProfileStore {
  private readonly set: string;
  private readonly capacity: number;
  private readonly readPolicy: OperatePolicy;
  private readonly writePolicy: OperatePolicy;
  private readonly writeConcurrency: number;

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
        const ops = appendOperations(entriesOf(cookieTags), this.capacity);
        await this.client.operate(this.keyOf(cookie), ops, null, this.writePolicy);
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
