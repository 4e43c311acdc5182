import { ArgumentsHost, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { DomainError } from '@lib/domain';
import { ApiExceptionFilter } from './api-exception.filter';

function hostWith(reply: { status: jest.Mock; send: jest.Mock; header: jest.Mock }): ArgumentsHost {
  return { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
}

function fakeReply() {
  const reply = { status: jest.fn(), send: jest.fn(), header: jest.fn() };
  reply.status.mockReturnValue(reply);
  reply.header.mockReturnValue(reply);
  return reply;
}

describe('ApiExceptionFilter', () => {
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
});
