import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toApiError } from './api-error';

/**
 * Every error of the API, whether thrown by a handler or raised by Fastify before it (validation,
 * body limit, JSON syntax), answers through {@link toApiError}. A 500 is a bug: logged as an error with
 * its stack. A 503 is a dependency down (Kafka, PostgreSQL): during an outage every request gets one,
 * so it is logged as a warning with its cause's message, at most once per code and LOG_EVERY_MS, with
 * the count of the 503s in between (a 10 s broker outage otherwise logged some 36,000 lines with stacks).
 *
 * A 5xx HttpException is an answer a handler chose (terminus' 503 of /health/ready with the state of
 * each dependency), not a failure: it goes out as thrown, unlogged.
 */
/** At most one log line per 503 code in this interval. */
export const LOG_EVERY_MS = 5_000;

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('api');
  /** Per 503 code: when it was last logged, and how many went unlogged since. */
  private readonly unavailable = new Map<string, { loggedAt: number; since: number }>();
  /** The clock of the log throttle (tests replace it). */
  now: () => number = Date.now;

  catch(exception: unknown, host: ArgumentsHost): void {
    // The market read side's event handlers run in this app too: their failures belong to the
    // transport (which delivers the message again), not to an HTTP answer.
    if (host.getType() !== 'http') throw exception;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof HttpException && exception.getStatus() >= 500) {
      void reply.status(exception.getStatus()).send(exception.getResponse());
      return;
    }
    const answer = toApiError(exception);
    if (answer.statusCode >= 500) {
      const cause = exception instanceof Error && exception.cause !== undefined ? exception.cause : exception;
      if (answer.statusCode === 503) this.warnUnavailable(answer.code, answer.message, cause);
      else this.logger.error(`${answer.code}: ${answer.message}`, cause instanceof Error ? cause.stack : String(cause));
    }
    if (answer.statusCode === 503) void reply.header('retry-after', '1');
    void reply.status(answer.statusCode).send(answer);
  }

  private warnUnavailable(code: string, message: string, cause: unknown): void {
    const now = this.now();
    const seen = this.unavailable.get(code);
    if (seen !== undefined && now - seen.loggedAt < LOG_EVERY_MS) {
      seen.since += 1;
      return;
    }
    const more =
      seen !== undefined && seen.since > 0 ? ` (and ${seen.since} more 503 ${code} since the last line)` : '';
    const why = cause instanceof Error ? cause.message : String(cause);
    this.logger.warn(`503 ${code}: ${message}; cause: ${why}${more}`);
    this.unavailable.set(code, { loggedAt: now, since: 0 });
  }
}
