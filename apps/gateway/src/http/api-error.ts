import { DomainError } from '@lib/domain';
import { PublishError } from '@lib/kafka-avro/messaging';
import { HttpException } from '@nestjs/common';

/** Body of every error answer of the API. `code` is stable; `message` says what to change. */
export interface ApiErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  /** The input field at fault, when there is one. */
  field?: string;
}

/** A dependency (store, broker) failed; the request may succeed later. Maps to 503. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    override readonly cause: unknown,
  ) {
    super(`${dependency} is unavailable, retry later`);
    this.name = 'DependencyUnavailableError';
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function body(statusCode: number, code: string, message: string, field?: string): ApiErrorBody {
  const b: ApiErrorBody = { statusCode, error: REASONS[statusCode] ?? 'Error', code, message };
  if (field !== undefined) b.field = field;
  return b;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: AjvError[];
  validationContext?: string;
}

/** `/product_info/price` → `product_info.price`; the body itself is `body`. */
function fieldOf(context: string, instancePath: string): string {
  const path = instancePath.replace(/^\//, '').replace(/\//g, '.');
  return path === '' ? context : path;
}

function validationMessage(err: FastifyLikeError): { message: string; field: string } {
  const first = err.validation![0]!;
  const context = err.validationContext ?? 'body';
  const field = fieldOf(context, first.instancePath);
  switch (first.keyword) {
    case 'required':
      return {
        field: fieldOf(context, `${first.instancePath}/${String(first.params['missingProperty'])}`),
        message: `${fieldOf(context, `${first.instancePath}/${String(first.params['missingProperty'])}`)} is required`,
      };
    case 'additionalProperties':
      return {
        field,
        message: `${field} has an unknown property ${JSON.stringify(first.params['additionalProperty'])}`,
      };
    case 'oneOf':
    case 'type':
      if (field === 'product_info.product_id') {
        return { field, message: `${field} must be a string or an integer` };
      }
      return { field, message: `${field} ${first.message ?? 'is invalid'}` };
    case 'enum':
      return {
        field,
        message: `${field} must be one of ${(first.params['allowedValues'] as string[]).join(', ')}`,
      };
    default:
      return { field, message: `${field} ${first.message ?? 'is invalid'}` };
  }
}

/** The one mapping from anything thrown while serving a request to an HTTP answer. */
export function toApiError(err: unknown): ApiErrorBody {
  if (err instanceof DomainError) return body(400, err.code, err.message, err.field);
  if (err instanceof PublishError) {
    return body(503, 'KAFKA_UNAVAILABLE', `the tag was not written (${err.reason}), retry later`);
  }
  if (err instanceof DependencyUnavailableError) return body(503, 'DEPENDENCY_UNAVAILABLE', err.message);
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status === 415) return body(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    if (status === 413) return body(413, 'BODY_TOO_LARGE', err.message);
    return body(status, status === 404 ? 'NOT_FOUND' : 'HTTP_ERROR', err.message);
  }
  const e = err as FastifyLikeError;
  if (e && Array.isArray(e.validation) && e.validation.length > 0) {
    const { message, field } = validationMessage(e);
    return body(400, e.validationContext === 'body' ? 'INVALID_USER_TAG' : 'INVALID_REQUEST', message, field);
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return body(413, 'BODY_TOO_LARGE', e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return body(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'INVALID_JSON':
      return body(400, 'INVALID_JSON', e.message);
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return body(e.statusCode, e.code ?? 'HTTP_ERROR', e.message);
  }
  return body(500, 'INTERNAL', 'internal error');
}
