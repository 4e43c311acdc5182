import { Context, context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Headers } from '../messaging';

/**
 * W3C trace context (`traceparent`, `tracestate`) in Kafka headers. Always on, independent of any
 * exporter: whatever context is active when a message is published travels with it, and is restored
 * around the code that consumes it (which needs a context manager, see tracing.setup.ts).
 */
const propagator = new W3CTraceContextPropagator();

/** Adds the active (or given) trace context to `headers`; no header when there is no valid span. */
export function injectTraceContext(
  headers: Record<string, string>,
  ctx: Context = context.active(),
): Record<string, string> {
  propagator.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

/** The trace context carried by `headers`, or the root context when they carry none. */
export function extractTraceContext(headers: Headers | undefined): Context {
  if (headers === undefined || headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** Runs `fn` with the trace context of a consumed message active. */
export function withTraceContext<T>(headers: Headers | undefined, fn: () => T): T {
  return context.with(extractTraceContext(headers), fn);
}

/** Kafka header values (Buffer, string or arrays of them) as strings; the first value of a repeated header. */
export function headersToStrings(raw: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const [name, value] of Object.entries(raw)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined || first === null) continue;
    out[name] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}
