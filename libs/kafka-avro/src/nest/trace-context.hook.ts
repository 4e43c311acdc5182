import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { KafkaContext } from '@nestjs/microservices';
import { extractTraceContext, headersToStrings } from '../tracing/trace-context';
import { messagingTracer } from '../tracing/tracing.setup';

/**
 * A processing-start hook for Nest microservice servers (`server.setOnProcessingStartHook(...)`):
 * the handler of a Kafka message runs in a CONSUMER span whose parent is the trace context that
 * came in the message's headers, so logs and outgoing calls of the handler join the producer's trace.
 */
export function restoreTraceContext(
  _transportId: unknown,
  ctx: unknown,
  done: () => Promise<unknown>,
): Promise<unknown> {
  const kafkaContext = ctx as KafkaContext;
  const message = kafkaContext.getMessage?.();
  if (message === undefined) return done();
  const parent = extractTraceContext(headersToStrings(message.headers as Record<string, unknown>));
  const topic = kafkaContext.getTopic();
  const span = messagingTracer().startSpan(
    `${topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.destination.partition.id': String(kafkaContext.getPartition()),
        'messaging.kafka.offset': message.offset,
      },
    },
    parent,
  );
  return context.with(trace.setSpan(parent, span), () =>
    done().then(
      (result) => {
        span.end();
        return result;
      },
      (err: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
        throw err;
      },
    ),
  );
}
