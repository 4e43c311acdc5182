import { resolve } from 'node:path';
import type { StackApp } from './app.runner';

export interface StackSettings {
  /** Data of the servers (kafka/, postgres/) and the logs (logs/). */
  readonly dir: string;
  readonly kafkaPort: number;
  readonly pgPort: number;
  readonly ports: Readonly<Record<StackApp, number>>;
  /** Longest wait for every app to answer /health/ready. */
  readonly readyTimeoutMs: number;
}

/** The stack's settings from the environment; a bad value stops it with the variable's name. */
export function stackSettings(env: NodeJS.ProcessEnv, root: string): StackSettings {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const text = env[name]?.trim();
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}: got ${JSON.stringify(text)}, expected an integer from ${min} to ${max}`);
    }
    return value;
  };
  const port = (name: string, fallback: number) => int(name, fallback, 1, 65_535);
  const settings: StackSettings = {
    dir: resolve(root, env.STACK_DIR?.trim() || '.stack'),
    kafkaPort: port('KAFKA_PORT', 9092),
    pgPort: port('PG_PORT', 55432),
    ports: {
      gateway: port('STACK_GATEWAY_PORT', 8080),
      pipeline: port('STACK_PIPELINE_PORT', 8081),
      'raw-producer': port('STACK_RAW_PRODUCER_PORT', 8082),
      'agg-producer': port('STACK_AGG_PRODUCER_PORT', 8083),
    },
    readyTimeoutMs: int('STACK_READY_TIMEOUT_MS', 180_000, 1_000, 3_600_000),
  };
  const all = [settings.kafkaPort, settings.pgPort, ...Object.values(settings.ports)];
  if (new Set(all).size !== all.length) problems.push(`ports must differ, got ${all.join(', ')}`);
  if (problems.length > 0) throw new Error(`Invalid stack settings:\n  - ${problems.join('\n  - ')}`);
  return settings;
}
