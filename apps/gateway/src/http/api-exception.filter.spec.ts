import { ArgumentsHost, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { DomainError } from '@lib/domain';
import { Logger } from '@nestjs/common';
import { ApiExceptionFilter, LOG_EVERY_MS } from './api-exception.filter';
import { DependencyUnavailableError } from './api-error';

function hostWith(reply: { status: jest.Mock; send: jest.Mock; header: jest.Mock }): ArgumentsHost {
  return { getType: () => 'http', switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
}

function fakeReply() {
  const reply = { status: jest.fn(), send: jest.fn(), header: jest.fn() };
  reply.status.mockReturnValue(reply);
  reply.header.mockReturnValue(reply);
  return reply;
}

describe('ApiExceptionFilter', () => {
  it('leaves the failure of an event handler (not HTTP) to its transport, which delivers the message again', () => {
    const failure = new Error('store down');
    const rpc = { getType: () => 'rpc', switchToHttp: () => ({}) } as unknown as ArgumentsHost;
    expect(() => new ApiExceptionFilter().catch(failure, rpc)).toThrow(failure);
  });

  it('answers domain errors with the API error body', () => {
    const reply = fakeReply();
    new ApiExceptionFilter().catch(new DomainError('INVALID_QUERY', 'limit must be ...', 'limit'), hostWith(reply));
    expect(reply.status).toHaveBeenCalledWith(400);
    expect(reply.send).toHaveBeenCalledWith({
      statusCode: 400,
      error: 'Bad Request',
      code: 'INVALID_QUERY',
      message: 'limit must be ...',
      field: 'limit',
    });
  });

  it('answers an unknown route with the API error body', () => {
    const reply = fakeReply();
    new ApiExceptionFilter().catch(new NotFoundException('Cannot GET /x'), hostWith(reply));
    expect(reply.send).toHaveBeenCalledWith(expect.objectContaining({ statusCode: 404, code: 'NOT_FOUND' }));
  });

  it("passes a handler's own 503 (health readiness details) through unchanged", () => {
    const reply = fakeReply();
    const health = { status: 'error', info: {}, error: { postgres: { status: 'down' } }, details: {} };
    new ApiExceptionFilter().catch(new ServiceUnavailableException(health), hostWith(reply));
    expect(reply.status).toHaveBeenCalledWith(503);
    expect(reply.send).toHaveBeenCalledWith(health);
  });

  it('logs a 500 as an error with its stack, every time', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const filter = new ApiExceptionFilter();
    for (let i = 0; i < 3; i++) filter.catch(new TypeError('boom'), hostWith(fakeReply()));
    expect(error).toHaveBeenCalledTimes(3);
    expect(error.mock.calls[0]?.[1]).toContain('TypeError: boom');
    error.mockRestore();
  });

  it('logs 503s as warnings without stacks, at most one line per code per interval, counting the rest', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const filter = new ApiExceptionFilter();
    let t = 1_000_000;
    filter.now = () => t;
    const reply = fakeReply();
    const down = () => new DependencyUnavailableError('profile store', new Error('connect ECONNREFUSED'));
    for (let i = 0; i < 100; i++) {
      filter.catch(down(), hostWith(reply));
      t += 10;
    }
    expect(reply.status).toHaveBeenCalledTimes(100);
    expect(reply.status).toHaveBeenLastCalledWith(503);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(/^503 DEPENDENCY_UNAVAILABLE: .*cause: connect ECONNREFUSED$/);
    t += LOG_EVERY_MS;
    filter.catch(down(), hostWith(reply));
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1]?.[0]).toContain('(and 99 more 503 DEPENDENCY_UNAVAILABLE since the last line)');
    warn.mockRestore();
  });
});
