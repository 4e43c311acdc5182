import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ReadinessRegistry } from './readiness.registry';

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly registry: ReadinessRegistry,
  ) {}

  /** The process runs and its event loop turns; no dependency is consulted. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Every registered dependency answers, and the app is not shutting down. */
  @Get('ready')
  @HealthCheck()
  ready() {
    const draining = async () => {
      const session = this.indicators.check('lifecycle');
      return this.registry.isDraining ? session.down({ reason: 'shutting down' }) : session.up();
    };
    const checks = this.registry.entries().map(([name, check]) => async () => {
      const session = this.indicators.check(name);
      try {
        await withTimeout(Promise.resolve().then(check), CHECK_TIMEOUT_MS);
        return session.up();
      } catch (err) {
        return session.down({ reason: err instanceof Error ? err.message : String(err) });
      }
    });
    return this.health.check([draining, ...checks]);
  }
}
