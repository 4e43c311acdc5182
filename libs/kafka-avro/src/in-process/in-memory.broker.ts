import { Logger } from '@nestjs/common';
import type { RawMessage } from '../consuming/raw-message';

/** A message to append; the broker assigns offset and timestamp. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

export interface CommittedOffset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: number;
}

export interface InMemoryBrokerOptions {
  /** Partitions of a topic created on first use (default 4, as KAFKA_TOPIC_PARTITIONS). */
  readonly partitions: number;
  /**
   * Records every group has committed past are dropped, except the most recent this many per
   * partition, so a consumer with external offsets can still resume somewhat behind its committed
   * offset (as with Kafka's retention). Default 10,000.
   */
  readonly retainConsumedPerPartition?: number;
  /**
   * Safety valve: a partition never holds more records than this; beyond it the oldest go, consumed
   * or not, with a warning (a topic nobody consumes, or a group that never commits, cannot grow
   * memory without bound). Default 200,000.
   */
  readonly maxRecordsPerPartition?: number;
}

/** One partition's log: contiguous offsets from `base`; records before `base` were truncated. */
class PartitionLog {
  private records: RawMessage[] = [];
  /** Index in `records` of offset `base` (dropping from the front is O(1), compacted now and then). */
  private head = 0;
  base = 0;

  get end(): number {
    return this.base + this.records.length - this.head;
  }

  append(key: string, value: Buffer, headers: Readonly<Record<string, string>>, timestamp: number): void {
    this.records.push({ offset: String(this.end), key, value, headers, timestamp });
  }

  read(from: number, max: number): RawMessage[] {
    const start = this.head + (from - this.base);
    return this.records.slice(start, Math.min(start + max, this.records.length));
  }

  /** Drops every record below `offset`. */
  truncateBefore(offset: number): number {
    const drop = Math.min(offset, this.end) - this.base;
    if (drop <= 0) return 0;
    this.head += drop;
    this.base += drop;
    if (this.head > 1_024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    return drop;
  }
}

/** Partition assignment of one member, replaced on every rebalance of its group. */
export interface Assignment {
  readonly generation: number;
  /** topic -> partitions */
  readonly partitions: ReadonlyMap<string, readonly number[]>;
}

export interface GroupMember {
  readonly topics: readonly string[];
  /** Called by the broker when the group rebalanced; the member picks it up in its loop. */
  assign(assignment: Assignment): void;
}

interface GroupState {
  readonly id: string;
  readonly members: GroupMember[];
  generation: number;
  /** "topic:partition" -> next offset to read */
  readonly committed: Map<string, number>;
  /** Topics this group has ever consumed: their records are kept until it committed past them. */
  readonly topics: Set<string>;
  /** "topic:partition" -> the batch a member is processing; a new owner waits for it. */
  readonly inFlight: Map<string, Promise<void>>;
}

const tp = (topic: string, partition: number): string => `${topic}:${partition}`;

/**
 * An in-memory Kafka for the embedded mode: topics of partitions, per-key order (a key always maps
 * to the same partition), consumer groups with committed offsets and rebalancing among members,
 * atomic transactions. Not durable: offsets start at 0 in every process; a resume offset beyond a
 * partition's end is reset like Kafka's auto.offset.reset.
 */
export class InMemoryBroker {
  private readonly log = new Logger('InMemoryBroker');
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly groups = new Map<string, GroupState>();
  private waiters: (() => void)[] = [];
  private readonly maxRecords: number;
  private readonly retainConsumed: number;
  private readonly warnedAt = new Map<string, number>();

  constructor(readonly options: InMemoryBrokerOptions = { partitions: 4 }) {
    this.maxRecords = options.maxRecordsPerPartition ?? 200_000;
    this.retainConsumed = options.retainConsumedPerPartition ?? 10_000;
  }

  /** Creates `topic` unless it exists (with the broker's partition count unless given). */
  createTopic(topic: string, partitions = this.options.partitions): void {
    if (!this.topics.has(topic))
      this.topics.set(
        topic,
        Array.from({ length: partitions }, () => new PartitionLog()),
      );
  }

  partitionCount(topic: string): number {
    return this.logs(topic).length;
  }

  /** Same key, same partition (FNV-1a of the key); the partition count of a topic never changes. */
  partitionOf(topic: string, key: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.partitionCount(topic);
  }

  /** Appends records in order (all of them before any reader runs) and commits offsets with them. */
  append(records: readonly OutgoingRecord[], offsets: readonly CommittedOffset[] = []): void {
    const now = Date.now();
    const touched = new Set<string>();
    for (const r of records) {
      const partition = this.partitionOf(r.topic, r.key);
      this.logs(r.topic)[partition].append(r.key, r.value, r.headers, now);
      touched.add(tp(r.topic, partition));
    }
    for (const o of offsets) this.commit(o.groupId, o.topic, o.partition, o.offset);
    for (const key of touched) {
      const [topic, partition] = splitTp(key);
      this.enforceCap(topic, partition);
    }
    this.wake();
  }

  /** Up to `max` records of a partition from `from` on. */
  read(topic: string, partition: number, from: number, max: number): RawMessage[] {
    return this.logs(topic)[partition].read(from, max);
  }

  /** First offset still held and the offset the next record will get. */
  bounds(topic: string, partition: number): { low: number; high: number } {
    const log = this.logs(topic)[partition];
    return { low: log.base, high: log.end };
  }

  committed(groupId: string, topic: string, partition: number): number | undefined {
    return this.group(groupId).committed.get(tp(topic, partition));
  }

  commit(groupId: string, topic: string, partition: number, offset: number): void {
    const group = this.group(groupId);
    group.topics.add(topic);
    group.committed.set(tp(topic, partition), offset);
    this.truncateConsumed(topic, partition);
  }

  /** Adds a member to its group and rebalances the group. */
  join(groupId: string, member: GroupMember): void {
    const group = this.group(groupId);
    for (const topic of member.topics) {
      this.createTopic(topic);
      group.topics.add(topic);
    }
    group.members.push(member);
    this.rebalance(group);
  }

  leave(groupId: string, member: GroupMember): void {
    const group = this.group(groupId);
    const index = group.members.indexOf(member);
    if (index < 0) return;
    group.members.splice(index, 1);
    this.rebalance(group);
  }

  /** Marks a batch of a partition as being processed, so the next owner waits for it. */
  processing(groupId: string, topic: string, partition: number, work: Promise<void>): void {
    const inFlight = this.group(groupId).inFlight;
    const key = tp(topic, partition);
    const done = work.then(
      () => undefined,
      () => undefined,
    );
    inFlight.set(key, done);
    void done.then(() => {
      if (inFlight.get(key) === done) inFlight.delete(key);
    });
  }

  /** Resolves when no member is processing a batch of this partition. */
  async idle(groupId: string, topic: string, partition: number): Promise<void> {
    await this.group(groupId).inFlight.get(tp(topic, partition));
  }

  /** Resolves on the next append, commit-free rebalance or `wake()`. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private rebalance(group: GroupState): void {
    group.generation += 1;
    const assignments = new Map<GroupMember, Map<string, number[]>>(group.members.map((m) => [m, new Map()]));
    for (const topic of new Set(group.members.flatMap((m) => m.topics))) {
      const subscribers = group.members.filter((m) => m.topics.includes(topic));
      for (let p = 0; p < this.partitionCount(topic); p++) {
        const owner = assignments.get(subscribers[p % subscribers.length]) as Map<string, number[]>;
        owner.set(topic, [...(owner.get(topic) ?? []), p]);
      }
    }
    for (const [member, partitions] of assignments) member.assign({ generation: group.generation, partitions });
    this.wake();
  }

  private truncateConsumed(topic: string, partition: number): void {
    let min = Number.POSITIVE_INFINITY;
    for (const group of this.groups.values()) {
      if (!group.topics.has(topic)) continue;
      const committed = group.committed.get(tp(topic, partition));
      if (committed === undefined) return;
      min = Math.min(min, committed);
    }
    const log = this.logs(topic)[partition];
    if (Number.isFinite(min)) log.truncateBefore(Math.min(min, log.end - this.retainConsumed));
  }

  private enforceCap(topic: string, partition: number): void {
    const log = this.logs(topic)[partition];
    const excess = log.end - log.base - this.maxRecords;
    if (excess <= 0) return;
    log.truncateBefore(log.base + excess);
    const key = tp(topic, partition);
    if (Date.now() - (this.warnedAt.get(key) ?? 0) > 60_000) {
      this.warnedAt.set(key, Date.now());
      this.log.warn(
        `${key} holds more than ${this.maxRecords} unconsumed records: dropping the oldest (no consumer keeps up, or none commits)`,
      );
    }
  }

  private logs(topic: string): PartitionLog[] {
    this.createTopic(topic);
    return this.topics.get(topic) as PartitionLog[];
  }

  private group(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { id: groupId, members: [], generation: 0, committed: new Map(), topics: new Set(), inFlight: new Map() };
      this.groups.set(groupId, group);
    }
    return group;
  }
}

function splitTp(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

let shared: InMemoryBroker | undefined;

/**
 * The process-wide broker of the embedded mode: every app's messaging module in one process uses it,
 * so the gateway's publishes reach the pipeline's consumers.
 */
export function sharedInMemoryBroker(partitions: number): InMemoryBroker {
  shared ??= new InMemoryBroker({ partitions });
  return shared;
}
