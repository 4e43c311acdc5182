import { MAX_TEXT_LENGTH } from '@lib/domain';
import { Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ReadinessRegistry } from './health/readiness.registry';
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
  /**
   * Runs once the application has closed (every shutdown hook done), before the process exits: for
   * what the composition root created outside Nest, such as the embedded mode's durable log.
   */
  afterClose?: () => Promise<void>;
}

/** The settings of an app's config (libs/config) its HTTP process is started with. */
export interface HttpServerConfig {
  readonly HOST: string;
  readonly PORT: number;
  readonly LOG_LEVEL: HttpAppOptions['logLevel'];
  readonly SHUTDOWN_TIMEOUT_MS: number;
}

/** The options every app's main.ts starts its HTTP process with, from its config; `extra` adds or overrides. */
export function httpAppOptionsOf(
  name: string,
  config: HttpServerConfig,
  extra: Partial<Omit<HttpAppOptions, 'name'>> = {},
): HttpAppOptions {
  return {
    name,
    host: config.HOST,
    port: config.PORT,
    logLevel: config.LOG_LEVEL,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    ...extra,
  };
}

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function logLevelsFrom(level: HttpAppOptions['logLevel']): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

/** Creates a Nest application on Fastify with the platform's hooks, not yet listening. */
export async function createHttpApp(rootModule: unknown, opts: HttpAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: opts.bodyLimitBytes ?? 1_048_576,
    // A path parameter (a cookie) may hold MAX_TEXT_LENGTH UTF-16 units; percent-encoded, each takes at
    // most 9 characters (a 3-byte UTF-8 character: %E6%BC%A2). Fastify's default of 100 answered 414 to
    // valid profile queries for cookies over 100 characters. (Under routerOptions: the top-level option
    // is deprecated, FSTDEP022.)
    routerOptions: { maxParamLength: MAX_TEXT_LENGTH * 9 },
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
  stopOnSignals(app, opts);
  return app;
}

/**
 * SIGTERM or SIGINT (Ctrl-C) stops the app gracefully: readiness goes down at once, then Nest closes
 * the app (see `listen`), then `afterClose` runs, and the process exits with 0. Connections still open
 * at 3/4 of `shutdownTimeoutMs` are cut; if the rest takes longer than `shutdownTimeoutMs` it exits
 * with 1, naming what it waited for. A second signal exits at once.
 */
function stopOnSignals(app: NestFastifyApplication, opts: HttpAppOptions): void {
  const logger = new Logger(opts.name);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without finishing the shutdown`);
      process.exit(130);
    }
    stopping = true;
    logger.log(`${signal}: draining, then stopping (at most ${opts.shutdownTimeoutMs} ms)`);
    let phase = 'closing the application';
    const timer = setTimeout(() => {
      logger.error(`shutdown did not finish within ${opts.shutdownTimeoutMs} ms (still ${phase}); exiting`);
      process.exit(1);
    }, opts.shutdownTimeoutMs);
    timer.unref();
    // A client that never reads its answer would hold the HTTP close (and so the closing of the
    // consumers' and publishers' clients) until the deadline: cut what is still open well before it.
    const cut = setTimeout(() => {
      logger.warn(`connections still open after ${Math.round(opts.shutdownTimeoutMs * 0.75)} ms: closing them`);
      app.getHttpServer().closeAllConnections();
    }, opts.shutdownTimeoutMs * 0.75);
    cut.unref();
    // Here rather than in a hook: PlatformModule is global, and Nest runs global modules' hooks last.
    readinessOf(app)?.startDraining();
    app
      .close()
      .then(async () => {
        phase = 'running afterClose';
        await opts.afterClose?.();
        logger.log('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error(
          `shutdown failed while ${phase}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function readinessOf(app: NestFastifyApplication): ReadinessRegistry | undefined {
  try {
    return app.get(ReadinessRegistry, { strict: false });
  } catch {
    return undefined;
  }
}

/**
 * Starts listening and logs where. On SIGTERM readiness goes down, then Nest runs, in order:
 * onModuleDestroy, beforeApplicationShutdown (stop consumers, flush, commit), closing the HTTP server
 * (in-flight requests finish; new ones on open connections get 503), onApplicationShutdown (close the
 * clients that requests use). Within each phase modules go from the root down, global modules
 * (messaging, platform) last.
 */
export async function listen(app: NestFastifyApplication, opts: HttpAppOptions): Promise<string> {
  await app.listen(opts.port, opts.host);
  const url = `http://${opts.host}:${opts.port}`;
  new Logger(opts.name).log(`listening on ${url} (health ${url}/health/ready, metrics ${url}/metrics)`);
  return url;
}
