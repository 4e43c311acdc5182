import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

let contextManagerInstalled = false;
let exporterInstalled = false;

/**
 * Makes trace context follow async code (needed to restore a message's context around its handler)
 * and, only when `exporterEnabled` (OTEL_EXPORTER_ENABLED), exports spans over OTLP/HTTP to the
 * endpoint in the standard OTEL_EXPORTER_OTLP_* variables. Idempotent: every app of the embedded
 * mode calls it.
 */
export function setupTracing(opts: { serviceName: string; exporterEnabled: boolean }): void {
  if (!contextManagerInstalled) {
    // false means another part of the process installed one first: that one is used.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerInstalled = true;
  }
  if (opts.exporterEnabled && !exporterInstalled) {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
    });
    trace.setGlobalTracerProvider(provider);
    exporterInstalled = true;
  }
}

/** The tracer of this library's spans (no-op unless an exporter is installed). */
export const messagingTracer = () => trace.getTracer('@lib/kafka-avro');
