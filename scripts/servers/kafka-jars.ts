import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * Apache Kafka broker version run by the tests and the local stack.
 * 4.3.1 is the newest 4.x whose artifacts are all on Maven Central (4.4.0's pom is there, but
 * kafka-tools-api 4.4.0 is not, so it cannot be resolved). kafkajs 2.2.4 works with it: see test/smoke.
 */
export const KAFKA_VERSION = '4.3.1';

const POM = resolve(__dirname, 'kafka-pom.xml');
const MARKER = '.complete';

/** Per-version cache directory: ~/.cache/streaming-analytics/kafka-<version>. */
export function kafkaCacheDir(): string {
  return join(homedir(), '.cache', 'streaming-analytics', `kafka-${KAFKA_VERSION}`);
}

/** Where the broker jars live: $KAFKA_JARS_DIR, else ~/.cache/streaming-analytics/kafka-<version>/libs. */
export function kafkaJarsDir(): string {
  const override = process.env.KAFKA_JARS_DIR;
  if (override !== undefined && override !== '') return resolve(override);
  return join(kafkaCacheDir(), 'libs');
}

/** True when a previous download finished: the marker lists every jar and all of them are still there. */
export function kafkaJarsComplete(dir = kafkaJarsDir()): boolean {
  const marker = join(dir, MARKER);
  if (!existsSync(marker)) return false;
  const jars = readFileSync(marker, 'utf8').split('\n').filter(Boolean);
  return jars.length > 0 && jars.every((jar) => existsSync(join(dir, jar)));
}

/**
 * Makes sure the Kafka broker jars are in kafkaJarsDir() and returns that directory.
 * Runs Maven only when the cache is incomplete. Maven copies into a sibling temporary directory that is
 * renamed into place at the end, so an interrupted or concurrent download never leaves a half-filled cache.
 */
export async function ensureKafkaJars(): Promise<string> {
  const dir = kafkaJarsDir();
  if (kafkaJarsComplete(dir)) return dir;

  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await runMaven([
      '-q',
      '-B',
      '-f',
      POM,
      `-Dkafka.version=${KAFKA_VERSION}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
    ]);
    const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
    if (!jars.some((jar) => jar.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) {
      throw new Error(`Maven finished but ${staging} holds no kafka_2.13-${KAFKA_VERSION} jar`);
    }
    writeFileSync(join(staging, MARKER), `${jars.sort().join('\n')}\n`);
    if (kafkaJarsComplete(dir)) return dir; // another process won the race
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return dir;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function runMaven(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('mvn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) =>
      reject(new Error(`Could not run mvn (${err.message}). Install it with: apt-get install -y maven`)),
    );
    child.on('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`mvn ${args.join(' ')} failed with exit code ${code}:\n${output.trim()}`));
    });
  });
}
