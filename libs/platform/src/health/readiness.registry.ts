import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';

/**
 * A dependency the app needs to serve: resolves when usable, throws (with a reason) when not.
 * Checks must be cheap and bounded in time; readiness probes call them every few seconds.
 */
export type ReadinessCheck = () => Promise<void> | void;

/**
 * Where modules declare what readiness depends on (Kafka, PostgreSQL, Aerospike...). Liveness never
 * consults it: a process whose database is down is alive, only not ready.
 */
@Injectable()
export class ReadinessRegistry implements BeforeApplicationShutdown {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;

  register(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" registered twice`);
    this.checks.set(name, check);
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

  entries(): ReadonlyArray<[string, ReadinessCheck]> {
    return [...this.checks.entries()];
  }
}
