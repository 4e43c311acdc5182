/**
 * Helpers for integration tests (*.int-spec.ts). The servers themselves are started once per Jest run by
 * test/support/global-setup.ts, which passes their addresses through TEST_KAFKA_BROKERS / TEST_DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

function required(name: 'TEST_KAFKA_BROKERS' | 'TEST_DATABASE_URL'): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(
      `${name} is not set. Integration tests get it from test/support/global-setup.ts: run them with ` +
        '`npx jest --selectProjects integration`, or set it yourself to reuse a running server.',
    );
  }
  return value.trim();
}

/** Bootstrap brokers of the test Kafka cluster, e.g. ['127.0.0.1:40155']. */
export function testKafkaBrokers(): string[] {
  return required('TEST_KAFKA_BROKERS')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** URL of the test PostgreSQL server's `postgres` database (superuser, trust auth). */
export function testDatabaseUrl(): string {
  return required('TEST_DATABASE_URL');
}

let counter = 0;

/**
 * A name no other test (in this run or a concurrent one) uses: for topics, consumer groups, transactional
 * ids and databases. Lower case letters, digits and '-' only, at most 60 characters.
 */
export function uniqueName(prefix: string): string {
  counter += 1;
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 30);
  const worker = process.env.JEST_WORKER_ID ?? '0';
  return `${clean}-${worker}-${counter}-${randomBytes(4).toString('hex')}`;
}

export interface TestDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  name: string;
  /** Drops the database, disconnecting whoever is still connected. */
  drop(): Promise<void>;
}

async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh, empty database on the test server, so that a test suite does not see others' tables. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const name = uniqueName(prefix).replace(/-/g, '_');
  await withAdminClient((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(testDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
