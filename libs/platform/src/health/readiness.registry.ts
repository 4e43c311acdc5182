import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';

/**
 * A dependency the app needs to serve: resolves when usable, throws (with a reason) when not.
 * Checks must be cheap and bounded in time; readiness probes call them every few seconds.
 */
export type ReadinessCheck = () => Promise<void> | void;

/**
 * Where modules declare what readiness depends on (Kafka, PostgreSQL, Aerospike...). Liveness never
 * consults it: a process whose database is down is alive, only not ready.
 *
 * Several modules may register the same name (the embedded mode runs every app in one process, and
 * gateway and pipeline both check `postgres`): the name then stands for all of its checks, and it is
 * up only when every one passes, so no dependency goes unchecked and none is listed twice.
 */
@Injectable()
export class ReadinessRegistry implements BeforeApplicationShutdown {
  private readonly checks = new Map<string, ReadinessCheck[]>();
  private draining = false;

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, [...(this.checks.get(name) ?? []), check]);
  }

  /** After this, readiness fails so load balancers stop sending work while in-flight work drains. */
  startDraining(): void {
    this.draining = true;
  }

  /** Nest calls this on SIGTERM before the HTTP server stops accepting. */
  beforeApplicationShutdown(): void {
    this.startDraining();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** One check per name; a name registered several times fails with the first of its checks that fails. */
  entries(): ReadonlyArray<[string, ReadinessCheck]> {
    return [...this.checks.entries()].map(([name, checks]): [string, ReadinessCheck] => [
      name,
      checks.length === 1
        ? checks[0]
        : async () => {
            for (const check of checks) await check();
          },
    ]);
  }
}
