import type { NestFastifyApplication } from '@nestjs/platform-fastify';

export interface JsonBodyOptions {
  /** Largest body of POST /user_tags. */
  tagLimitBytes: number;
  /** Debug comparison on: query bodies carry the expected answer and are parsed. */
  debugCompare: boolean;
  /** Largest body of a query in debug mode. */
  debugLimitBytes: number;
}

const INGEST_ROUTE = '/user_tags';

function jsonError(message: string, code: string, statusCode: number): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

/**
 * JSON is the only body the API reads: other media types get 415 (Fastify's built-in text/plain
 * parser and Nest's form parser are replaced). A tag is parsed under its own limit; a query's body
 * (the expected answer of the debug mode) is parsed only when debug comparison is on.
 */
export function installJsonBodyParser(app: NestFastifyApplication, opts: JsonBodyOptions): void {
  app.getHttpAdapter().getInstance().removeAllContentTypeParsers();
  app.useBodyParser('application/x-www-form-urlencoded', {}, (_request, _raw, done) => {
    done(jsonError('send the body as application/json', 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 415));
  });
  const bodyLimit = opts.debugCompare ? Math.max(opts.tagLimitBytes, opts.debugLimitBytes) : opts.tagLimitBytes;
  app.useBodyParser('application/json', { bodyLimit }, (request, raw, done) => {
    const isIngest = request.routeOptions.url === INGEST_ROUTE;
    if (!isIngest && !opts.debugCompare) {
      done(null, undefined);
      return;
    }
    if (isIngest && raw.length > opts.tagLimitBytes) {
      done(jsonError(`request body is larger than ${opts.tagLimitBytes} bytes`, 'FST_ERR_CTP_BODY_TOO_LARGE', 413));
      return;
    }
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (e) {
      done(jsonError(`body is not valid JSON: ${(e as Error).message}`, 'INVALID_JSON', 400));
    }
  });
}
