import { context, Link, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { extractTraceContext, injectTraceContext } from './trace-context';

let contextManagerInstalled = false;
let exporterInstalled = false;

/**
 * Makes trace context follow async code (needed to restore a message's context around its handler)
 * and, only when `exporterEnabled` (OTEL_EXPORTER_ENABLED), exports spans over OTLP/HTTP to the
 * endpoint in the standard OTEL_EXPORTER_OTLP_* variables. Idempotent: every app of the embedded
 * mode calls it.
 */
export function setupTracing(opts: {
  serviceName: string;
  exporterEnabled: boolean;
  /** Where spans go instead of OTLP (tests: an in-memory exporter). */
  spanProcessor?: SpanProcessor;
}): void {
  if (!contextManagerInstalled) {
    // false means another part of the process installed one first: that one is used.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerInstalled = true;
  }
  if (opts.exporterEnabled && !exporterInstalled) {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
      spanProcessors: [opts.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter())],
    });
    trace.setGlobalTracerProvider(provider);
    exporterInstalled = true;
  }
}

/** The tracer of this library's spans (no-op unless an exporter is installed). */
export const messagingTracer = () => trace.getTracer('@lib/kafka-avro');

/**
 * Runs a publish in a PRODUCER span; `fn` gets the headers to send, carrying that span's context
 * (or just the caller's context when no exporter records spans).
 */
export async function inPublishSpan<T>(
  topic: string,
  count: number,
  headers: Readonly<Record<string, string>> | undefined,
  fn: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  if (!exporterInstalled) return fn(injectTraceContext({ ...headers }));
  const span = messagingTracer().startSpan(`${topic} publish`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.batch.message_count': count,
    },
  });
  try {
    return await fn(injectTraceContext({ ...headers }, trace.setSpan(context.active(), span)));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Runs a consumer's batch callback in a CONSUMER span linked to the trace context of each message
 * (a batch has many parents, so links, as OpenTelemetry's messaging conventions say). Without an
 * exporter nothing is recorded, so the per-message extraction is skipped.
 */
export async function inBatchSpan<T>(
  topic: string,
  partition: number,
  messageHeaders: readonly Readonly<Record<string, string>>[],
  fn: () => Promise<T>,
): Promise<T> {
  if (!exporterInstalled) return fn();
  const links: Link[] = [];
  for (const headers of messageHeaders) {
    const spanContext = trace.getSpanContext(extractTraceContext(headers));
    if (spanContext !== undefined) links.push({ context: spanContext });
  }
  const span = messagingTracer().startSpan(`${topic} process`, {
    kind: SpanKind.CONSUMER,
    links,
    attributes: {
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': String(partition),
      'messaging.batch.message_count': messageHeaders.length,
    },
  });
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}
