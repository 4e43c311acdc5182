import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ClassArchive } from './class-archive';
import { ensureKafkaJars, KAFKA_VERSION, kafkaCacheDir } from './kafka-jars';
import {
  firstErrorLines,
  freePorts,
  isPortInUse,
  isRunning,
  killWithParent,
  PortInUseError,
  retryOnPortConflict,
  sleep,
  tailFile,
  terminate,
} from './process-utils';

export interface KafkaServerOptions {
  /** Client (PLAINTEXT) port; a free one when omitted. The KRaft controller always gets a free port. */
  port?: number;
  /** Kept (not deleted on stop) when given; formatted only if it holds no KRaft metadata yet. */
  dataDir?: string;
  /** Maximum JVM heap, default 512 MB (these machines have 2 cores and run several JVM-free services). */
  heapMb?: number;
  /** Broker log (stdout + stderr of the JVM); default `<dataDir>/broker.log`. */
  logFile?: string;
  /** How long to wait for the broker to answer metadata requests; default 90 s. */
  startTimeoutMs?: number;
}

const STOP_TIMEOUT_MS = 20_000;

/**
 * A real single-node Apache Kafka broker (KRaft, broker + controller in one JVM) on 127.0.0.1,
 * run from jars fetched from Maven Central (see kafka-jars.ts).
 */
export class KafkaServer {
  private stopped = false;

  private constructor(
    readonly brokers: string[],
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
    private readonly disarm: () => void,
    private readonly ownsDataDir: boolean,
    private readonly classArchive: ClassArchive,
  ) {}

  static readonly version = KAFKA_VERSION;

  static start(opts: KafkaServerOptions = {}): Promise<KafkaServer> {
    return retryOnPortConflict(opts.port !== undefined, () => KafkaServer.startOnce(opts));
  }

  private static async startOnce(opts: KafkaServerOptions): Promise<KafkaServer> {
    const libs = await ensureKafkaJars();
    const [freeClientPort, controllerPort] = await freePorts(2);
    const port = opts.port ?? freeClientPort;
    const ownsDataDir = opts.dataDir === undefined;
    const dataDir = ownsDataDir ? mkdtempSync(join(tmpdir(), 'kafka-test-')) : resolve(opts.dataDir as string);
    mkdirSync(dataDir, { recursive: true });
    const logFile = resolve(opts.logFile ?? join(dataDir, 'broker.log'));
    const metadataDir = join(dataDir, 'kraft');
    const configFile = join(dataDir, 'server.properties');
    writeFileSync(configFile, serverProperties(port, controllerPort, metadataDir));

    const classpath = `${libs}/*`;
    const heapMb = opts.heapMb ?? 512;
    const classArchive = ClassArchive.forLibs(libs);
    const fd = openSync(logFile, 'w');
    let child: ChildProcess;
    try {
      if (!existsSync(join(metadataDir, 'meta.properties'))) {
        cpSync(await formattedTemplate(classpath), metadataDir, { recursive: true });
      }
      child = spawn(
        'java',
        [
          `-Xmx${heapMb}m`,
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.awt.headless=true',
          ...classArchive.jvmFlags(),
          ...loggingFlags(),
          '-cp',
          classpath,
          'kafka.Kafka',
          configFile,
        ],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd); // the JVM has its own copy of the descriptor
    }
    child.on('error', () => undefined); // spawn failure: no pid, waitUntilReady reports it with the log
    const disarm = killWithParent(child, {
      signal: 'SIGTERM',
      graceSeconds: STOP_TIMEOUT_MS / 1000,
      cleanupDir: ownsDataDir ? dataDir : undefined,
    });
    const brokers = [`127.0.0.1:${port}`];
    const server = new KafkaServer(brokers, port, dataDir, logFile, child, disarm, ownsDataDir, classArchive);

    try {
      const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
      await server.waitUntilReady(deadline);
      await server.warmUp(deadline);
      classArchive.checkUsed(logFile);
    } catch (err) {
      // Keep the data dir (and its log) for a post-mortem: only the process is stopped.
      await terminate(child, 'SIGKILL', 5_000);
      disarm();
      if (isPortInUse(logFile)) {
        if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
        throw new PortInUseError((err as Error).message);
      }
      throw err;
    }
    return server;
  }

  /** Stops the broker (SIGTERM, SIGKILL after 20 s) and removes the data dir if start() created it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await terminate(this.child, 'SIGTERM', STOP_TIMEOUT_MS);
    this.disarm();
    this.classArchive.afterExit();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Polls with metadata requests until the broker lists itself, failing fast if the JVM exits. */
  private async waitUntilReady(deadline: number): Promise<void> {
    let lastError = 'no answer yet';
    while (Date.now() < deadline) {
      if (!isRunning(this.child)) {
        throw this.startError(
          `the broker process exited (code ${this.child.exitCode}, signal ${this.child.signalCode})`,
        );
      }
      const admin = new Kafka({
        clientId: 'kafka-server-probe',
        brokers: this.brokers,
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1_000,
        requestTimeout: 2_000,
        retry: { retries: 0 },
      }).admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length > 0 && cluster.controller !== null) return;
        lastError = 'metadata lists no broker or controller yet';
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      await sleep(250);
    }
    throw this.startError(`no metadata answer before the start timeout (last error: ${lastError})`);
  }

  /**
   * The group and transaction coordinators live on internal topics (__consumer_offsets, __transaction_state)
   * that the broker creates on first use, and their partitions then take a moment to load. Doing that here
   * once, instead of in whichever test comes first, keeps tests fast and free of COORDINATOR_LOAD_IN_PROGRESS
   * retries, and proves consumer groups and transactions work before anyone relies on them.
   */
  private async warmUp(deadline: number): Promise<void> {
    const kafka = new Kafka({
      clientId: 'kafka-server-warmup',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    const admin = kafka.admin();
    const producer = kafka.producer({
      transactionalId: 'kafka-server-warmup',
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const work = (async () => {
      await admin.connect();
      await admin.describeGroups(['kafka-server-warmup']); // finds the group coordinator
      await producer.connect();
      // The first transaction() sends FindCoordinator(TRANSACTION) and InitProducerId for the transactional id;
      // aborting an empty transaction sends nothing.
      await (await producer.transaction()).abort();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), Math.max(0, deadline - Date.now()));
    });
    try {
      await Promise.race([work, timeout]);
    } catch (err) {
      throw this.startError(`group/transaction coordinators did not come up: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    }
  }

  private startError(reason: string): Error {
    const errors = firstErrorLines(this.logFile);
    return new Error(
      `Kafka ${KAFKA_VERSION} broker on ${this.brokers.join(',')} did not start: ${reason}.\n` +
        `Data dir (kept for inspection): ${this.dataDir}\n` +
        (errors === '' ? '' : `First errors in ${this.logFile}:\n${errors}\n`) +
        `Last lines of ${this.logFile}:\n${tailFile(this.logFile, 30)}`,
    );
  }
}

function serverProperties(port: number, controllerPort: number, metadataDir: string): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    'controller.listener.names': 'CONTROLLER',
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': metadataDir,
    // Topics are created explicitly (by the apps' admin code and by tests), never by a typo.
    'auto.create.topics.enable': false,
    'num.partitions': 1,
    // One node: every internal topic has replication factor 1, or group/transaction coordinators never load.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Fewer internal partitions: creating them is most of the cost of the first group / transaction.
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.num.partitions': 5,
    // A lone consumer joining a group should not wait 3 s for others.
    'group.initial.rebalance.delay.ms': 0,
    // Sized for a 2-core machine.
    'num.network.threads': 2,
    'num.io.threads': 4,
    'background.threads': 4,
    'log.cleaner.threads': 1,
    'num.recovery.threads.per.data.dir': 1,
    'log.retention.check.interval.ms': 300_000,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/** SLF4J simple logger settings: timestamps, INFO by default, the noisiest loggers quieter. */
function loggingFlags(): string[] {
  return [
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    '-Dorg.slf4j.simpleLogger.showShortLogName=true',
    // Dumps every config value on every client/broker config object.
    '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn',
  ];
}

/**
 * An empty KRaft metadata directory, formatted once per Kafka version by `StorageTool format` and then
 * copied into each new broker's data dir: formatting starts a JVM of its own, which costs 1.5 s or more.
 * The formatted files (meta.properties: cluster and node id; bootstrap.checkpoint: feature levels) do not
 * depend on ports, so every single-node test cluster can start from the same copy.
 */
async function formattedTemplate(classpath: string): Promise<string> {
  const template = join(kafkaCacheDir(), 'kraft-template');
  if (existsSync(join(template, 'meta.properties'))) return template;

  mkdirSync(kafkaCacheDir(), { recursive: true });
  const staging = mkdtempSync(join(kafkaCacheDir(), 'kraft-template.tmp-'));
  try {
    const logDir = join(staging, 'kraft');
    const configFile = join(staging, 'format.properties');
    // Only what `format` reads; the controller port here is never used.
    writeFileSync(configFile, serverProperties(1, 2, logDir));
    const logFile = join(staging, 'format.log');
    const fd = openSync(logFile, 'w');
    try {
      // A short-lived JVM: C1 only starts faster and is plenty for formatting a directory.
      const args = ['-Xmx256m', '-XX:TieredStopAtLevel=1', ...loggingFlags(), '-cp', classpath];
      await runToCompletion(
        'java',
        [...args, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', configFile],
        fd,
        logFile,
      );
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(logDir, template);
    } catch (err) {
      if (!existsSync(join(template, 'meta.properties'))) throw err; // else another process won the race
    }
    return template;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** A KRaft cluster id: 16 random bytes in URL-safe base64 without padding (what `StorageTool random-uuid` prints). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id; // Kafka never generates ids starting with '-' (they look like CLI flags)
  }
}

function runToCompletion(command: string, args: string[], fd: number, logFile: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', fd, fd] });
    child.on('error', (err) => reject(new Error(`Could not run ${command}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else
        reject(
          new Error(
            `${command} ${args.slice(-5).join(' ')} failed (code ${code}, signal ${signal}).\n` +
              `Last lines of ${logFile}:\n${tailFile(logFile, 40)}`,
          ),
        );
    });
  });
}
