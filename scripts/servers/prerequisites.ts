import { spawnSync } from 'node:child_process';
import { kafkaJarsComplete, kafkaJarsDir } from './kafka-jars';
import { findPgBinDir } from './pg-binaries';

export interface MissingPrerequisite {
  /** What is missing, e.g. `java`. */
  tool: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** Why it is needed. */
  reason: string;
}

/** Which servers are going to be started (a reused server needs nothing here). */
export interface Need {
  kafka: boolean;
  postgres: boolean;
}

function runs(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  return result.error === undefined && result.status === 0;
}

/**
 * What the real Kafka broker and PostgreSQL server need on this machine, and is not there.
 * Maven only counts as missing while the Kafka jars are not cached yet (it is only used to fetch them).
 */
export function findMissingPrerequisites(need: Need = { kafka: true, postgres: true }): MissingPrerequisite[] {
  const missing: MissingPrerequisite[] = [];
  if (need.kafka && !runs('java', ['-version'])) {
    missing.push({ tool: 'java', debianPackage: 'openjdk-17-jre-headless', reason: 'runs the Kafka broker' });
  }
  if (need.kafka && !kafkaJarsComplete() && !runs('mvn', ['-v'])) {
    missing.push({
      tool: 'mvn',
      debianPackage: 'maven',
      reason: `downloads the Kafka broker jars from Maven Central into ${kafkaJarsDir()}`,
    });
  }
  if (need.postgres && findPgBinDir() === undefined) {
    missing.push({
      tool: 'PostgreSQL server (initdb, postgres)',
      debianPackage: 'postgresql',
      reason: 'runs the test database (or set PG_BIN_DIR to a directory holding initdb and postgres)',
    });
  }
  return missing;
}

export function describeMissing(missing: readonly MissingPrerequisite[]): string {
  const lines = missing.map((m) => `  - ${m.tool} (Debian package ${m.debianPackage}): ${m.reason}`);
  const packages = [...new Set(missing.map((m) => m.debianPackage))].join(' ');
  return (
    'Integration tests need a real Kafka broker and PostgreSQL server, and this machine lacks:\n' +
    `${lines.join('\n')}\n` +
    `Install them with: apt-get update && apt-get install -y ${packages}\n` +
    '(.ci/run does this by itself.) Integration tests are never skipped for lack of these.'
  );
}

/**
 * Throws with an install hint when anything is missing. The same hard failure with CI=true and locally:
 * integration tests are never silently skipped.
 */
export function assertPrerequisites(need?: Need): void {
  const missing = findMissingPrerequisites(need);
  if (missing.length === 0) return;
  const ci = process.env.CI === 'true' ? ' [CI=true]' : '';
  throw new Error(`${describeMissing(missing)}${ci}`);
}
