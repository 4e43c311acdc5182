import { Logger } from '@nestjs/common';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RawMessage } from '@lib/kafka-avro/consuming/raw-message';
import { decodeRecords, encodeRecord, LogRecord, StoredRecord } from './log-record.codec';
import { takeProcessLock } from '@lib/platform/process/process-lock';

export interface JournalOptions {
  /** Directory of the log (created when missing); one process at a time. */
  readonly dir: string;
  /** A partition's active segment is closed and a new one started once it holds this many bytes. */
  readonly segmentBytes: number;
  /** The consumer offsets file is rewritten with only the latest offsets once it holds this many bytes. */
  readonly offsetsCompactBytes: number;
  /** Topics compacted by key: closed segments keep only the latest record of each key. */
  readonly compacted: (topic: string) => boolean;
}

/** A record to write, with the offset the broker assigned it. */
export interface JournalEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

export interface JournalOffset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: number;
}

/** What the journal asks of the broker's memory, to delete and compact segments. */
export interface JournalView {
  /** Records below this offset are gone from memory (consumed by every group, or beyond the cap). */
  logStart(topic: string, partition: number): number;
  /** The records a compacted partition keeps below `below`: the latest visible record of each key. */
  compactedRecords(topic: string, partition: number, below: number): readonly RawMessage[];
}

export interface RecoveredPartition {
  readonly topic: string;
  readonly partition: number;
  /** Base offset of the first segment: records below it were deleted. */
  readonly firstBase: number;
  /** Base offset of the active segment: the next offset is at least this. */
  readonly activeBase: number;
  readonly records: readonly LogRecord[];
}

export interface Recovered {
  /** topic -> partition count */
  readonly topics: ReadonlyMap<string, number>;
  readonly partitions: readonly RecoveredPartition[];
  /** Latest committed offset of each group, topic and partition. */
  readonly offsets: readonly JournalOffset[];
  /** Records dropped because their write was torn by a crash (never acknowledged). */
  readonly dropped: number;
}

interface Segment {
  readonly base: number;
  readonly path: string;
  size: number;
}

interface PartitionFiles {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  readonly segments: Segment[];
  handle: FileHandle | undefined;
  /** A segment was closed since the last compaction (compacted topics only). */
  rolled: boolean;
}

interface OffsetsFile {
  readonly path: string;
  size: number;
  handle: FileHandle | undefined;
}

interface PendingWrite {
  readonly entries: readonly JournalEntry[];
  readonly offsets: readonly JournalOffset[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

type Target = PartitionFiles | OffsetsFile;

/** Directories of the logs open here: the lock file tells processes apart, not two opens in one process. */
const openInThisProcess = new Set<string>();
const SEGMENT = /^(\d{20})\.log$/;
const SWAP = /^(\d{20})-(\d{20})\.swap$/;
const segmentName = (base: number): string => `${String(base).padStart(20, '0')}.log`;
const offsetKey = (o: { groupId: string; topic: string; partition: number }): string =>
  JSON.stringify([o.groupId, o.topic, o.partition]);

/**
 * The files behind a durable in-process broker: per topic-partition, append-only segment files of
 * length-prefixed, checksummed records (see log-record.codec.ts); one append-only file of consumer
 * group offsets; a checkpoint naming the last write known complete.
 *
 * Writes are group commits: what `write` calls bring while the previous group is being written and
 * fsync'd go out together, one fsync per file, so concurrent publishers share the cost of a sync. A
 * `write` resolves once its records are on disk. Consumer commits without a transaction are written with
 * the next group and not waited for (losing the last ones to a crash means redelivery, as with Kafka).
 *
 * Recovery (`open`) reads everything back: a torn tail (short record, bad checksum) is cut off, and
 * so is every write of which some records are missing (it spanned several files and the crash came
 * between them), so each `append` is all there or not at all. Between groups, segments that every
 * group consumed are deleted, compacted topics rewrite their closed segments, and the offsets file is
 * rewritten when it grows; each of these first records the checkpoint, so recovery never mistakes a
 * record removed on purpose for a torn write.
 *
 * Over 600 lines on purpose: group commit, checkpoint, recovery, retention and compaction all rely on
 * the same file layout and on the order in which they touch it; apart, their ordering rules (what is
 * synced before what) would be spread over several files. The record format is log-record.codec.ts.
 */
export class DurableJournal {
  private readonly log = new Logger('InProcessLog');
  private readonly topicsDir: string;
  private readonly stagingDir: string;
  private readonly partitions = new Map<string, PartitionFiles[]>();
  private readonly offsetsFile: OffsetsFile;
  /** The latest offset of each group, topic and partition on disk (what a rewrite of the offsets file keeps). */
  private readonly persistedOffsets = new Map<string, JournalOffset>();
  private queue: PendingWrite[] = [];
  private dirty = new Map<string, JournalOffset>();
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private view: JournalView | undefined;
  /** Number of the last group commit; recovery continues after the highest one found. */
  private group: number;
  private maintenanceDue = true;

  private constructor(
    private readonly options: JournalOptions,
    private readonly dir: string,
    private readonly lockFile: string,
    recovered: Recovered,
    lastGroup: number,
  ) {
    this.topicsDir = join(dir, 'topics');
    this.stagingDir = join(dir, 'staging');
    this.offsetsFile = { path: join(dir, 'offsets.log'), size: fileSize(join(dir, 'offsets.log')), handle: undefined };
    this.group = lastGroup;
    for (const [topic, count] of recovered.topics) {
      this.partitions.set(
        topic,
        Array.from({ length: count }, (_, p) => this.partitionFiles(topic, p)),
      );
    }
    for (const o of recovered.offsets) this.persistedOffsets.set(offsetKey(o), o);
  }

  /** Opens (creating, or recovering) the log in `options.dir`. */
  static async open(options: JournalOptions): Promise<{ journal: DurableJournal; recovered: Recovered }> {
    const dir = resolve(options.dir);
    if (openInThisProcess.has(dir)) throw new Error(`the in-process log ${dir} is already open in this process`);
    mkdirSync(join(dir, 'topics'), { recursive: true });
    const lockFile = join(dir, 'LOCK');
    takeProcessLock(
      lockFile,
      (owner) =>
        `The in-process log ${dir} is in use by process ${owner}. ` +
        'Only one process may open it: stop the other one, or give this one its own DATA_DIR.',
    );
    try {
      const { recovered, lastGroup } = recover(dir);
      openInThisProcess.add(dir);
      return { journal: new DurableJournal(options, dir, lockFile, recovered, lastGroup), recovered };
    } catch (err) {
      rmSync(lockFile, { force: true });
      throw err;
    }
  }

  /** Lets the journal see the broker's memory; segment deletion and compaction wait for it. */
  attach(view: JournalView): void {
    this.view = view;
    this.kick();
  }

  get healthy(): boolean {
    return this.failure === undefined && !this.closed;
  }

  /** Why the log stopped accepting writes, if it did. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Creates a topic's directories, atomically (a crash leaves the whole topic or none of it). */
  createTopic(topic: string, partitions: number): void {
    if (this.partitions.has(topic)) return;
    if (topic === '' || topic === '.' || topic === '..' || topic.includes('/') || topic.includes('\\')) {
      throw new Error(`invalid topic name ${JSON.stringify(topic)}`);
    }
    const staged = join(this.stagingDir, topic);
    rmSync(staged, { recursive: true, force: true });
    for (let p = 0; p < partitions; p++) {
      mkdirSync(join(staged, String(p)), { recursive: true });
      writeFileSync(join(staged, String(p), segmentName(0)), '');
    }
    writeFileSync(join(staged, 'meta.json'), JSON.stringify({ partitions }));
    renameSync(staged, join(this.topicsDir, topic));
    fsyncDir(this.topicsDir);
    this.partitions.set(
      topic,
      Array.from({ length: partitions }, (_, p) => this.partitionFiles(topic, p)),
    );
  }

  /**
   * Writes one append: its records and the consumer offsets committed with it, all or nothing after a
   * crash. Resolves once on disk; rejects if the log failed (then it accepts nothing more).
   */
  write(entries: readonly JournalEntry[], offsets: readonly JournalOffset[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the in-process log is closed'));
    return new Promise<void>((resolveWrite, reject) => {
      this.queue.push({ entries, offsets, resolve: resolveWrite, reject });
      this.kick();
    });
  }

  /** Records a consumer group's offset with the next group commit, without waiting for it. */
  commit(offset: JournalOffset): void {
    if (this.failure !== undefined || this.closed) return;
    this.dirty.set(offsetKey(offset), offset);
    this.kick();
  }

  /** Writes what is pending, then closes the files. Idempotent. */
  async close(): Promise<void> {
    while (this.running !== undefined) await this.running;
    if (this.closed) return;
    this.closed = true;
    const handles = [...this.partitions.values()].flat().map((p) => p.handle);
    await Promise.all([...handles, this.offsetsFile.handle].map((h) => h?.close().catch(() => undefined)));
    rmSync(this.lockFile, { force: true });
    openInThisProcess.delete(this.dir);
  }

  private kick(): void {
    if (this.running !== undefined || this.closed) return;
    if (this.queue.length === 0 && this.dirty.size === 0 && !(this.maintenanceDue && this.view)) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.failure === undefined) this.kick();
    });
  }

  /** Group after group while writes come in; maintenance between groups, so a steady stream cannot starve it. */
  private async drain(): Promise<void> {
    while (this.failure === undefined) {
      if (this.queue.length > 0 || this.dirty.size > 0) {
        const batch = this.queue;
        const dirty = [...this.dirty.values()];
        this.queue = [];
        this.dirty = new Map();
        try {
          await this.writeGroup(batch, dirty);
        } catch (err) {
          this.fail(err, batch);
          return;
        }
        for (const w of batch) for (const o of w.offsets) this.persistedOffsets.set(offsetKey(o), o);
        for (const o of dirty) this.persistedOffsets.set(offsetKey(o), o);
        for (const w of batch) w.resolve();
        this.maintenanceDue = true;
      }
      if (this.view === undefined || !this.maintenanceDue) return;
      this.maintenanceDue = false;
      try {
        await this.maintain(this.view);
      } catch (err) {
        this.fail(err, []);
        return;
      }
      if (this.queue.length === 0 && this.dirty.size === 0) return;
    }
  }

  private fail(err: unknown, batch: readonly PendingWrite[]): void {
    const cause = err instanceof Error ? err : new Error(String(err));
    this.failure = new Error(`the in-process log in ${this.dir} failed and accepts no more writes: ${cause.message}`, {
      cause,
    });
    this.log.error(`${this.failure.message}; restart the process (recovery drops the incomplete write)`);
    for (const w of [...batch, ...this.queue]) w.reject(this.failure);
    this.queue = [];
  }

  private async writeGroup(batch: readonly PendingWrite[], dirty: readonly JournalOffset[]): Promise<void> {
    const group = ++this.group;
    const buffers = new Map<Target, Buffer[]>();
    const add = (target: Target, record: LogRecord): void => {
      const list = buffers.get(target) ?? [];
      list.push(encodeRecord(record));
      buffers.set(target, list);
    };
    const firstOffsets = new Map<PartitionFiles, number>();
    const now = Date.now();
    batch.forEach((w, txn) => {
      const txnSize = w.entries.length + w.offsets.length;
      for (const e of w.entries) {
        const files = this.files(e.topic, e.partition);
        if (!firstOffsets.has(files)) firstOffsets.set(files, e.offset);
        add(files, { ...e, group, txn, txnSize });
      }
      for (const o of w.offsets) add(this.offsetsFile, offsetRecord(o, now, group, txn, txnSize));
    });
    dirty.forEach((o, i) => add(this.offsetsFile, offsetRecord(o, now, group, batch.length + i, 1)));

    for (const [files, first] of firstOffsets) {
      const active = files.segments[files.segments.length - 1];
      if (active.size >= this.options.segmentBytes) await this.roll(files, first);
    }
    const targets = [...buffers.keys()];
    await Promise.all(targets.map((t) => this.append(t, buffers.get(t) as Buffer[])));
    await Promise.all(targets.map((t) => (t.handle as FileHandle).datasync()));
  }

  private async append(target: Target, buffers: readonly Buffer[]): Promise<void> {
    const path = 'segments' in target ? target.segments[target.segments.length - 1].path : target.path;
    target.handle ??= await open(path, 'a');
    const data = buffers.length === 1 ? buffers[0] : Buffer.concat(buffers);
    const total = data.length;
    for (let written = 0; written < total;) {
      const { bytesWritten } = await target.handle.write(data, written, total - written);
      if (bytesWritten <= 0) throw new Error(`no progress writing ${path}`);
      written += bytesWritten;
    }
    if ('segments' in target) target.segments[target.segments.length - 1].size += total;
    else target.size += total;
  }

  /** Closes the active segment and starts one at `base`, the first offset about to be written. */
  private async roll(files: PartitionFiles, base: number): Promise<void> {
    await files.handle?.close();
    const path = join(files.dir, segmentName(base));
    files.handle = await open(path, 'a');
    fsyncDir(files.dir);
    files.segments.push({ base, path, size: 0 });
    files.rolled = true;
  }

  /**
   * Deletes segments whose records all lie below the log start, compacts the closed segments of
   * compacted partitions that rolled, and rewrites a grown offsets file. Runs between groups.
   */
  private async maintain(view: JournalView): Promise<void> {
    const all = [...this.partitions.values()].flat();
    const deletable = all.filter(
      (f) => f.segments.length > 1 && f.segments[1].base <= view.logStart(f.topic, f.partition),
    );
    const compactable = all.filter((f) => f.rolled && f.segments.length > 1 && this.options.compacted(f.topic));
    const offsetsGrown = this.offsetsFile.size > this.options.offsetsCompactBytes;
    if (deletable.length === 0 && compactable.length === 0 && !offsetsGrown) return;

    // Everything removed below was written by groups up to this one, all complete.
    writeCheckpoint(this.dir, this.group);
    for (const files of deletable) {
      const start = view.logStart(files.topic, files.partition);
      while (files.segments.length > 1 && files.segments[1].base <= start) {
        rmSync((files.segments.shift() as Segment).path, { force: true });
      }
      fsyncDir(files.dir);
    }
    for (const files of compactable) await this.compact(files, view);
    if (offsetsGrown) await this.rewriteOffsets();
  }

  /** Rewrites the closed segments of a compacted partition as one, keeping the latest record of each key. */
  private async compact(files: PartitionFiles, view: JournalView): Promise<void> {
    files.rolled = false;
    const active = files.segments[files.segments.length - 1];
    const closed = files.segments.slice(0, -1);
    const first = closed[0].base;
    const kept = view.compactedRecords(files.topic, files.partition, active.base);
    const data = Buffer.concat(
      kept.map((m) =>
        encodeRecord({
          offset: Number(m.offset),
          timestamp: m.timestamp,
          group: 0,
          txn: 0,
          txnSize: 1,
          key: m.key === null ? null : String(m.key),
          value: m.value,
          headers: m.headers,
        }),
      ),
    );
    const name = `${String(first).padStart(20, '0')}-${String(active.base).padStart(20, '0')}`;
    const cleaned = join(files.dir, `${name}.cleaned`);
    const swap = join(files.dir, `${name}.swap`);
    writeDurably(cleaned, data);
    renameSync(cleaned, swap);
    fsyncDir(files.dir);
    completeSwap(files.dir, swap, first, active.base);
    files.segments.splice(0, closed.length, {
      base: first,
      path: join(files.dir, segmentName(first)),
      size: data.length,
    });
    const before = closed.reduce((n, s) => n + s.size, 0);
    this.log.debug(`${files.topic}/${files.partition}: compacted ${before} bytes to ${data.length}`);
  }

  private async rewriteOffsets(): Promise<void> {
    const now = Date.now();
    const data = Buffer.concat(
      [...this.persistedOffsets.values()].map((o) => encodeRecord(offsetRecord(o, now, 0, 0, 1))),
    );
    const tmp = `${this.offsetsFile.path}.tmp`;
    writeDurably(tmp, data);
    await this.offsetsFile.handle?.close();
    this.offsetsFile.handle = undefined;
    renameSync(tmp, this.offsetsFile.path);
    fsyncDir(this.dir);
    this.offsetsFile.size = data.length;
  }

  private files(topic: string, partition: number): PartitionFiles {
    const files = this.partitions.get(topic)?.[partition];
    if (files === undefined) throw new Error(`no partition ${topic}/${partition} in the in-process log`);
    return files;
  }

  private partitionFiles(topic: string, partition: number): PartitionFiles {
    const dir = join(this.topicsDir, topic, String(partition));
    const segments = listSegments(dir);
    // Compacted on start too: what closed segments a previous run left is rewritten once.
    return { topic, partition, dir, segments, handle: undefined, rolled: segments.length > 1 };
  }
}

function offsetRecord(o: JournalOffset, timestamp: number, group: number, txn: number, txnSize: number): LogRecord {
  return { offset: o.offset, timestamp, group, txn, txnSize, key: offsetKey(o), value: null, headers: {} };
}

function listSegments(dir: string): Segment[] {
  const segments = readdirSync(dir)
    .map((name) => SEGMENT.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ base: Number(m[1]), path: join(dir, m[0]), size: fileSize(join(dir, m[0])) }))
    .sort((a, b) => a.base - b.base);
  if (segments.length === 0) {
    writeFileSync(join(dir, segmentName(0)), '');
    segments.push({ base: 0, path: join(dir, segmentName(0)), size: 0 });
  }
  return segments;
}

/** Finishes a compaction that renamed its output to `.swap`: the segments it replaces go, it takes their place. */
function completeSwap(dir: string, swap: string, first: number, activeBase: number): void {
  for (const name of readdirSync(dir)) {
    const m = SEGMENT.exec(name);
    if (m !== null && Number(m[1]) >= first && Number(m[1]) < activeBase) rmSync(join(dir, name), { force: true });
  }
  renameSync(swap, join(dir, segmentName(first)));
  fsyncDir(dir);
}

interface FileRecords {
  readonly path: string;
  readonly size: number;
  records: StoredRecord[];
  /** Bytes to keep: the file is cut here when it is shorter than `size`. */
  keep: number;
}

/**
 * Reads the whole log back and repairs what a crash left: unfinished topic creations and compactions,
 * torn tails, and writes of which only some records reached the disk.
 */
function recover(dir: string): { recovered: Recovered; lastGroup: number } {
  const checkpoint = readCheckpoint(dir);
  rmSync(join(dir, 'staging'), { recursive: true, force: true });
  rmSync(join(dir, 'offsets.log.tmp'), { force: true });
  const topicsDir = join(dir, 'topics');
  const topics = new Map<string, number>();
  const segmentFiles: {
    topic: string;
    partition: number;
    firstBase: number;
    activeBase: number;
    files: FileRecords[];
  }[] = [];

  for (const topic of readdirSync(topicsDir).sort()) {
    const meta = join(topicsDir, topic, 'meta.json');
    if (!existsSync(meta)) throw new Error(`${join(topicsDir, topic)} has no meta.json: not a topic of this log`);
    const partitions = (JSON.parse(readFileSync(meta, 'utf8')) as { partitions: number }).partitions;
    topics.set(topic, partitions);
    for (let partition = 0; partition < partitions; partition++) {
      const pdir = join(topicsDir, topic, String(partition));
      mkdirSync(pdir, { recursive: true });
      for (const name of readdirSync(pdir)) {
        if (name.endsWith('.cleaned')) rmSync(join(pdir, name), { force: true });
        const swap = SWAP.exec(name);
        if (swap !== null) completeSwap(pdir, join(pdir, name), Number(swap[1]), Number(swap[2]));
      }
      const segments = listSegments(pdir);
      const files = segments.map((s, i) => readFile(s.path, i === segments.length - 1));
      segmentFiles.push({
        topic,
        partition,
        firstBase: segments[0].base,
        activeBase: segments[segments.length - 1].base,
        files,
      });
    }
  }
  const offsetsPath = join(dir, 'offsets.log');
  const offsetsFile = readFile(offsetsPath, true);
  const all = [...segmentFiles.flatMap((s) => s.files), offsetsFile];

  // A write (one append) is complete when all its records are there; only groups after the checkpoint
  // can be incomplete. Cutting a file at an incomplete write may make another incomplete: repeat.
  for (;;) {
    const counts = new Map<string, { have: number; want: number }>();
    for (const f of all) {
      for (const { record } of f.records) {
        if (record.group <= checkpoint) continue;
        const id = `${record.group}:${record.txn}`;
        const c = counts.get(id) ?? { have: 0, want: record.txnSize };
        c.have += 1;
        counts.set(id, c);
      }
    }
    const torn = new Set([...counts].filter(([, c]) => c.have < c.want).map(([id]) => id));
    if (torn.size === 0) break;
    for (const f of all) {
      const at = f.records.findIndex(({ record }) => torn.has(`${record.group}:${record.txn}`));
      if (at < 0) continue;
      f.keep = f.records[at].position;
      f.records = f.records.slice(0, at);
    }
  }

  let dropped = 0;
  for (const f of all) {
    if (f.keep >= f.size) continue;
    dropped += 1;
    truncateSync(f.path, f.keep);
    const fd = openSync(f.path, 'r+');
    fsyncSync(fd);
    closeSync(fd);
  }
  let lastGroup = checkpoint;
  for (const f of all) for (const { record } of f.records) lastGroup = Math.max(lastGroup, record.group);

  const latest = new Map<string, JournalOffset>();
  for (const { record } of offsetsFile.records) {
    const [groupId, topic, partition] = JSON.parse(record.key ?? '[]') as [string, string, number];
    latest.set(record.key ?? '', { groupId, topic, partition, offset: record.offset });
  }
  return {
    recovered: {
      topics,
      partitions: segmentFiles.map((s) => ({
        topic: s.topic,
        partition: s.partition,
        firstBase: s.firstBase,
        activeBase: s.activeBase,
        records: s.files.flatMap((f) => f.records.map((r) => r.record)),
      })),
      offsets: [...latest.values()],
      dropped,
    },
    lastGroup,
  };
}

/** Decodes a file; only the last file of a sequence may end in a torn record, anywhere else it is corruption. */
function readFile(path: string, last: boolean): FileRecords {
  const data = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
  const { records, validBytes } = decodeRecords(data);
  if (validBytes < data.length && !last) {
    throw new Error(
      `${path} is corrupt at byte ${validBytes} of ${data.length} (not its last segment, so not a torn write); ` +
        'move the log directory away to start with an empty log',
    );
  }
  return { path, size: data.length, records, keep: validBytes };
}

function readCheckpoint(dir: string): number {
  const path = join(dir, 'checkpoint');
  if (!existsSync(path)) return 0;
  const value = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${path} does not hold a group number`);
  return value;
}

function writeCheckpoint(dir: string, group: number): void {
  const tmp = join(dir, 'checkpoint.tmp');
  writeDurably(tmp, Buffer.from(String(group)));
  renameSync(tmp, join(dir, 'checkpoint'));
  fsyncDir(dir);
}

function writeDurably(path: string, data: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a file's creation, rename or deletion in `dir` survive a power loss. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}
