import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toApiError } from './api-error';

/**
 * Every error of the API, whether thrown by a handler or raised by Fastify before it (validation,
 * body limit, JSON syntax), answers through {@link toApiError}. 5xx are logged with their cause.
 *
 * A 5xx HttpException is an answer a handler chose (terminus' 503 of /health/ready with the state of
 * each dependency), not a failure: it goes out as thrown, unlogged.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('api');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof HttpException && exception.getStatus() >= 500) {
      void reply.status(exception.getStatus()).send(exception.getResponse());
      return;
    }
    const answer = toApiError(exception);
    if (answer.statusCode >= 500) {
      const cause = exception instanceof Error && exception.cause !== undefined ? exception.cause : exception;
      this.logger.error(`${answer.code}: ${answer.message}`, cause instanceof Error ? cause.stack : String(cause));
    }
    if (answer.statusCode === 503) void reply.header('retry-after', '1');
    void reply.status(answer.statusCode).send(answer);
  }
}
