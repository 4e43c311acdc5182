import { Logger } from '@nestjs/common';
import type { RawMessage } from '@lib/kafka-avro/consuming/raw-message';
import { DurableJournal, JournalEntry, JournalView, Recovered } from './durable.journal';
import { PartitionLog } from './partition-log';

/** A message to append; the broker assigns offset and timestamp. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string;
  /** Null for a marker (see MessagePublisher.publishMarkers) or a tombstone. */
  readonly value: Buffer | null;
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
  /**
   * Topics compacted by key, like Kafka's cleanup.policy=compact: superseded records are dropped from
   * memory as the log grows and from closed segments on disk (a changelog of state, for instance).
   */
  readonly compactedTopics?: readonly string[];
}

export interface DurableBrokerOptions extends InMemoryBrokerOptions {
  /** Directory of the log (one process at a time); it survives restarts, offsets continue. */
  readonly dir: string;
  /** Size at which a partition's segment file is closed and a new one started. Default 16 MiB. */
  readonly segmentBytes?: number;
  /** Size at which the consumer offsets file is rewritten with the latest offsets only. Default 1 MiB. */
  readonly offsetsCompactBytes?: number;
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
 * A Kafka for the embedded mode: topics of partitions, per-key order (a key always maps to the same
 * partition), consumer groups with committed offsets and rebalancing among members, atomic
 * transactions, compacted topics.
 *
 * `new InMemoryBroker()` keeps everything in memory: offsets start at 0 in every process, and a
 * resume offset beyond a partition's end is reset like Kafka's auto.offset.reset.
 * `await InMemoryBroker.open({ dir })` is durable (see DurableJournal): records and consumer offsets are
 * written to files under `dir` and read back on start, so offsets continue across restarts. An
 * `append` resolves once its records are on disk, and only then do consumers see them: a consumer never
 * acts on a record that a crash could take back.
 *
 * Over 300 lines on purpose: the log's state (partitions, groups, assignments, offsets) and every operation
 * on it live together so each operation's invariants are checked in one place; the disk side is
 * durable.journal.ts, subscriptions in-memory.subscription.ts.
 */
export class InMemoryBroker {
  private readonly log = new Logger('InMemoryBroker');
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly groups = new Map<string, GroupState>();
  private waiters: (() => void)[] = [];
  private readonly maxRecords: number;
  private readonly retainConsumed: number;
  private readonly compacted: ReadonlySet<string>;
  private readonly warnedAt = new Map<string, number>();

  constructor(
    readonly options: InMemoryBrokerOptions = { partitions: 4 },
    private readonly journal?: DurableJournal,
  ) {
    this.maxRecords = options.maxRecordsPerPartition ?? 200_000;
    this.retainConsumed = options.retainConsumedPerPartition ?? 10_000;
    this.compacted = new Set(options.compactedTopics ?? []);
  }

  /** A durable broker on the log in `options.dir`, recovered and ready (see the class comment). */
  static async open(options: DurableBrokerOptions): Promise<InMemoryBroker> {
    const compacted = new Set(options.compactedTopics ?? []);
    const { journal, recovered } = await DurableJournal.open({
      dir: options.dir,
      segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
      offsetsCompactBytes: options.offsetsCompactBytes ?? 1024 * 1024,
      compacted: (topic) => compacted.has(topic),
    });
    const broker = new InMemoryBroker(options, journal);
    broker.restore(recovered);
    journal.attach(broker.journalView());
    return broker;
  }

  /** False once the durable log failed (a write or fsync error) or was closed; appends then reject. */
  get healthy(): boolean {
    return this.journal?.healthy ?? true;
  }

  /** Writes what is pending and closes the log files (durable broker). Appends reject afterwards. */
  async close(): Promise<void> {
    await this.journal?.close();
  }

  /** Creates `topic` unless it exists (with the broker's partition count unless given). */
  createTopic(topic: string, partitions = this.options.partitions): void {
    if (this.topics.has(topic)) return;
    this.journal?.createTopic(topic, partitions);
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

  /**
   * Appends records in order and commits offsets with them, as one step: readers see all of it or
   * none of it. In memory it is visible at once; a durable broker makes it visible, and resolves, once
   * it is on disk (and rejects, showing nothing, if the log failed). The returned promise needs no
   * handler: a caller that does not wait does not cause an unhandled rejection.
   */
  append(records: readonly OutgoingRecord[], offsets: readonly CommittedOffset[] = []): Promise<void> {
    const now = Date.now();
    const ends = new Map<PartitionLog, number>();
    const touched = new Map<string, [string, number]>();
    const entries: JournalEntry[] = [];
    if (this.journal !== undefined && !this.journal.healthy) {
      return handled(Promise.reject(this.journal.failed ?? new Error('the in-process log is closed')));
    }
    for (const r of records) {
      const partition = this.partitionOf(r.topic, r.key);
      const log = this.logs(r.topic)[partition];
      const offset = log.append(r.key, r.value, r.headers, now);
      ends.set(log, offset + 1);
      touched.set(tp(r.topic, partition), [r.topic, partition]);
      entries.push({
        topic: r.topic,
        partition,
        offset,
        key: r.key,
        value: r.value,
        headers: r.headers,
        timestamp: now,
      });
    }
    const apply = (): void => {
      for (const [log, end] of ends) log.makeVisible(end);
      for (const o of offsets) this.commitInMemory(o.groupId, o.topic, o.partition, o.offset);
      for (const [topic, partition] of touched.values()) this.afterAppend(topic, partition);
      this.wake();
    };
    if (this.journal === undefined) {
      apply();
      return Promise.resolve();
    }
    return handled(this.journal.write(entries, offsets).then(apply));
  }

  /** Up to `max` records of a partition from `from` on. */
  read(topic: string, partition: number, from: number, max: number): RawMessage[] {
    return this.logs(topic)[partition].read(from, max);
  }

  /** First offset still held and the offset the next visible record will get. */
  bounds(topic: string, partition: number): { low: number; high: number } {
    const log = this.logs(topic)[partition];
    return { low: log.base, high: log.visibleEnd };
  }

  committed(groupId: string, topic: string, partition: number): number | undefined {
    return this.group(groupId).committed.get(tp(topic, partition));
  }

  /** Commits a group's offset; a durable broker writes it with its next write, without waiting. */
  commit(groupId: string, topic: string, partition: number, offset: number): void {
    this.commitInMemory(groupId, topic, partition, offset);
    this.journal?.commit({ groupId, topic, partition, offset });
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

  private commitInMemory(groupId: string, topic: string, partition: number, offset: number): void {
    const group = this.group(groupId);
    group.topics.add(topic);
    group.committed.set(tp(topic, partition), offset);
    this.truncateConsumed(topic, partition);
  }

  private afterAppend(topic: string, partition: number): void {
    const log = this.logs(topic)[partition];
    if (this.compacted.has(topic) && log.compactionDue) log.compact();
    this.enforceCap(topic, partition);
  }

  private restore(recovered: Recovered): void {
    for (const [topic, partitions] of recovered.topics) {
      this.topics.set(
        topic,
        Array.from({ length: partitions }, () => new PartitionLog()),
      );
    }
    let records = 0;
    for (const p of recovered.partitions) {
      const log = this.logs(p.topic)[p.partition];
      log.startAt(p.firstBase);
      for (const r of p.records) log.restore(r.offset, r.key ?? '', r.value, r.headers, r.timestamp);
      log.finishRestore(p.activeBase);
      records += p.records.length;
    }
    for (const o of recovered.offsets) {
      if (this.topics.has(o.topic)) this.commitInMemory(o.groupId, o.topic, o.partition, o.offset);
    }
    for (const [topic, logs] of this.topics) {
      logs.forEach((log, partition) => {
        if (this.compacted.has(topic)) log.compact();
        this.enforceCap(topic, partition);
      });
    }
    const torn = recovered.dropped > 0 ? `; cut ${recovered.dropped} file(s) after a torn write` : '';
    this.log.log(
      `in-process log restored: ${recovered.topics.size} topics, ${records} records, ${recovered.offsets.length} committed offsets${torn}`,
    );
  }

  private journalView(): JournalView {
    return {
      logStart: (topic, partition) => this.logs(topic)[partition].base,
      compactedRecords: (topic, partition, below) => {
        const log = this.logs(topic)[partition];
        log.compact();
        return log.visibleBelow(below);
      },
    };
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

  /** Compacted topics keep the latest record of each key instead, consumed or not. */
  private truncateConsumed(topic: string, partition: number): void {
    if (this.compacted.has(topic)) return;
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
    if (log.size <= this.maxRecords) return;
    if (this.compacted.has(topic)) log.compact();
    if (log.dropOldest(log.size - this.maxRecords) === 0) return;
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

/** Marks a promise as handled (callers that await it still see its rejection). */
function handled(promise: Promise<void>): Promise<void> {
  promise.catch(() => undefined);
  return promise;
}

let shared: InMemoryBroker | undefined;

/**
 * The process-wide broker of the embedded mode: every app's messaging module in one process uses it,
 * so the gateway's publishes reach the pipeline's consumers. Not durable; a composition root that
 * wants durability opens one with `InMemoryBroker.open` and hands it to KafkaAvroModule
 * (`inProcess: inProcessTransport(broker)`).
 */
export function sharedInMemoryBroker(partitions: number): InMemoryBroker {
  shared ??= new InMemoryBroker({ partitions });
  return shared;
}
