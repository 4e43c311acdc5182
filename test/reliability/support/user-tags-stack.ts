/**
 * The user-tag flow as the local stack runs it, for the reliability suites: the pipeline and the gateway
 * as child processes (killable with SIGKILL) on a given Kafka broker and PostgreSQL database, with a
 * topic and consumer groups of their own. It also answers where the pipeline stands: the topic's end
 * offsets against what each consumer group has committed (profiles: in Kafka; aggregates: in the
 * consumer_offset table, written with the deltas).
 */
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { sleep } from '../../../scripts/servers/process-utils';
import { AppProcess } from '../../support/app.process';
import { uniqueName } from '../../support/test-env';

export interface UserTagsStackOptions {
  label: string;
  brokers: string;
  databaseUrl: string;
  partitions?: number;
  /** Both apps. */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  pipelineEnv?: Record<string, string>;
}

export interface Progress {
  /** Sum of the topic's end offsets. */
  end: number;
  /**
   * Sum of the pipeline group's offsets recorded in Kafka after each flush: profiles are appended
   * before a batch is counted, so the profiles hold at least this much.
   */
  profiles: number;
  /** Sum of the aggregates group's stored offsets (PostgreSQL). */
  aggregates: number;
}

export async function sql<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

export class UserTagsStack {
  readonly topic: string;
  readonly groups: { aggregates: string };
  readonly env: Record<string, string>;
  pipeline!: AppProcess;
  gateway!: AppProcess;
  /** Pipeline processes started after the first by killAndRestartPipeline. */
  restarts = 0;
  /** Pipeline processes started beside `pipeline` (addPipeline), running or not. */
  readonly others: AppProcess[] = [];
  /** Pipeline processes started so far: names each one's log. */
  private launched = 0;
  private readonly kafka: Kafka;

  private constructor(private readonly o: UserTagsStackOptions) {
    this.topic = uniqueName(`${o.label}-tags`);
    this.groups = { aggregates: uniqueName(`${o.label}-aggregates`) };
    this.env = {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: o.brokers,
      DATABASE_URL: o.databaseUrl,
      TOPIC_USER_TAGS: this.topic,
      AGGREGATES_GROUP_ID: this.groups.aggregates,
      KAFKA_TOPIC_PARTITIONS: String(o.partitions ?? 4),
      // A killed pipeline's partitions move to its successor within this (the minimum allowed).
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      AGG_FLUSH_INTERVAL_MS: '300',
      LOG_LEVEL: 'log',
      ...o.env,
    };
    this.kafka = new Kafka({
      clientId: 'reliability-progress',
      brokers: o.brokers.split(','),
      logLevel: logLevel.NOTHING,
    });
  }

  /** The pipeline first (migrations, topic), then the gateway; both ready. */
  static async start(o: UserTagsStackOptions): Promise<UserTagsStack> {
    const stack = new UserTagsStack(o);
    try {
      stack.pipeline = await stack.startPipeline();
      stack.gateway = await AppProcess.start('gateway', uniqueName(`${o.label}-gateway`), {
        ...stack.env,
        ...o.gatewayEnv,
      });
      await stack.gateway.ready(90_000);
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  private async startPipeline(): Promise<AppProcess> {
    const p = await AppProcess.start('pipeline', uniqueName(`${this.o.label}-pipeline-${this.launched++}`), {
      ...this.env,
      ...this.o.pipelineEnv,
    });
    await p.ready(90_000);
    return p;
  }

  /** SIGKILL the pipeline (both consumer groups, nothing flushed or committed) and start another, ready. */
  async killAndRestartPipeline(): Promise<void> {
    await this.pipeline.kill();
    this.restarts += 1;
    this.pipeline = await this.startPipeline();
  }

  /** Starts one more pipeline process in the same consumer group, ready; it joins and the group rebalances. */
  async addPipeline(): Promise<AppProcess> {
    const p = await this.startPipeline();
    this.others.push(p);
    return p;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.gateway?.stop(), this.pipeline?.stop(), ...this.others.map((p) => p.stop())]);
  }

  /**
   * Per partition: the topic's end offset, the pipeline group's offset recorded in Kafka (profiles are
   * written before a batch's offsets are) and the aggregates' stored offset (PostgreSQL).
   */
  async partitions(): Promise<{ partition: number; end: number; profiles: number; aggregates: number }[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(this.topic);
      const [committed] = await admin.fetchOffsets({ groupId: this.groups.aggregates, topics: [this.topic] });
      const stored = await sql<{ partition: number; next_offset: string }>(
        this.o.databaseUrl,
        'SELECT partition, next_offset FROM consumer_offset WHERE group_id = $1 AND topic = $2',
        [this.groups.aggregates, this.topic],
      );
      return ends
        .map((e) => ({
          partition: e.partition,
          end: Number(e.high),
          profiles: Math.max(0, Number(committed?.partitions.find((c) => c.partition === e.partition)?.offset ?? 0)),
          aggregates: Number(stored.find((r) => r.partition === e.partition)?.next_offset ?? 0),
        }))
        .sort((a, b) => a.partition - b.partition);
    } finally {
      await admin.disconnect();
    }
  }

  async progress(): Promise<Progress> {
    const sum = (key: 'end' | 'profiles' | 'aggregates', ps: { [k in typeof key]: number }[]) =>
      ps.reduce((n, p) => n + p[key], 0);
    const ps = await this.partitions();
    return { end: sum('end', ps), profiles: sum('profiles', ps), aggregates: sum('aggregates', ps) };
  }

  /** Waits until both stores hold the whole topic as it is; returns when (epoch ms). */
  async converged(timeoutMs: number): Promise<{ at: number; progress: Progress }> {
    const deadline = Date.now() + timeoutMs;
    let last: Progress | undefined;
    for (;;) {
      last = await this.progress().catch(() => last);
      if (last !== undefined && last.end > 0 && last.profiles === last.end && last.aggregates === last.end) {
        return { at: Date.now(), progress: last };
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the pipeline did not catch up within ${timeoutMs} ms: ${JSON.stringify(last)}\n${this.pipeline.log(30)}`,
        );
      }
      await sleep(250);
    }
  }
}
