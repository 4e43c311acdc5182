import { Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { instrumentHttp } from './metrics/http-metrics';

export interface HttpAppOptions {
  /** Name shown in logs. */
  name: string;
  host: string;
  port: number;
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** Largest request body in bytes; larger bodies get 413. */
  bodyLimitBytes?: number;
  /** Time SIGTERM gives in-flight requests and consumers to finish before the process exits. */
  shutdownTimeoutMs: number;
}

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function logLevelsFrom(level: HttpAppOptions['logLevel']): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

/** Creates a Nest application on Fastify with the platform's hooks, not yet listening. */
export async function createHttpApp(rootModule: unknown, opts: HttpAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: opts.bodyLimitBytes ?? 1_048_576,
    logger: false,
    // While closing, new requests get 503 and keep-alive sockets are closed once idle.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Route schemas validate exactly: no type coercion ("100" is not an integer), no silent
    // removal of unknown properties (they are errors), first error reported.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule as never, adapter, {
    logger: logLevelsFrom(opts.logLevel),
    bufferLogs: true,
  });
  instrumentHttp(app);
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}

/**
 * Starts listening and logs where. On SIGTERM Nest runs, in order: onModuleDestroy,
 * beforeApplicationShutdown (readiness goes down), closing the HTTP server (in-flight requests
 * finish), onApplicationShutdown. Close clients that requests use in onApplicationShutdown.
 */
export async function listen(app: NestFastifyApplication, opts: HttpAppOptions): Promise<string> {
  await app.listen(opts.port, opts.host);
  const url = `http://${opts.host}:${opts.port}`;
  new Logger(opts.name).log(`listening on ${url} (health ${url}/health/ready, metrics ${url}/metrics)`);
  return url;
}
