import type { UserTag } from '@lib/domain';
import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { InMemoryBroker } from '@lib/in-process-log/in-memory.broker';
import { InMemoryDeadLetterSink, InProcessMessageConsumer } from '@lib/in-process-log/in-process-message.consumer';
import { InProcessMessagePublisher } from '@lib/in-process-log/in-process-message.publisher';
import { defaultSchemaCatalog } from '../schemas/schema.catalog';
import { SingleObjectSerde } from '../serde/single-object.serde';
import { sampleUserTag } from '../testing/sample-values';
import { userTagsTopic } from '../topics';
import { extractTraceContext, injectTraceContext } from './trace-context';
import { setupTracing } from './tracing.setup';

const exporter = new InMemorySpanExporter();
setupTracing({ serviceName: 'tracing-test', exporterEnabled: true, spanProcessor: new SimpleSpanProcessor(exporter) });

const parent = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
};

describe('trace context', () => {
  it('writes traceparent and tracestate, and reads them back', () => {
    const headers = injectTraceContext({}, trace.setSpanContext(ROOT_CONTEXT, { ...parent, traceState: undefined }));
    expect(headers).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const withState = { traceparent: headers.traceparent, tracestate: 'vendor=abc' };
    const back = trace.getSpanContext(extractTraceContext(withState));
    expect(back).toMatchObject({ traceId: parent.traceId, spanId: parent.spanId, isRemote: true });
    expect(back?.traceState?.get('vendor')).toBe('abc');
    expect(injectTraceContext({}, extractTraceContext(withState)).tracestate).toBe('vendor=abc');
  });

  it('adds no header without a span, and reads none from a message without one', () => {
    expect(injectTraceContext({}, ROOT_CONTEXT)).toEqual({});
    expect(trace.getSpanContext(extractTraceContext({}))).toBeUndefined();
  });

  it('with an exporter, records a producer span per publish and a consumer span per batch linked to it', async () => {
    const broker = new InMemoryBroker({ partitions: 1 });
    const serde = new SingleObjectSerde(defaultSchemaCatalog());
    const topic = userTagsTopic('traced');
    const publisher = new InProcessMessagePublisher(broker, serde);
    await context.with(trace.setSpanContext(ROOT_CONTEXT, parent), () => publisher.publish(topic, [sampleUserTag(1)]));

    const consumer = new InProcessMessageConsumer(broker, serde, new InMemoryDeadLetterSink(broker));
    let activeInBatch: string | undefined;
    let done: () => void = () => undefined;
    const consumed = new Promise<void>((r) => (done = r));
    const handle = await consumer.start<UserTag>({
      groupId: 'g',
      topic,
      fromBeginning: true,
      onBatch: async () => {
        activeInBatch = trace.getSpanContext(context.active())?.spanId;
        done();
      },
    });
    await consumed;
    await handle.stop();

    const spans = exporter.getFinishedSpans();
    const publish = spans.find((s) => s.kind === SpanKind.PRODUCER);
    expect(publish?.name).toBe('traced publish');
    expect(publish?.parentSpanContext?.spanId).toBe(parent.spanId);
    const process = spans.find((s) => s.kind === SpanKind.CONSUMER);
    expect(process?.name).toBe('traced process');
    expect(process?.links.map((l) => l.context.spanId)).toEqual([publish?.spanContext().spanId]);
    expect(activeInBatch).toBe(process?.spanContext().spanId);
  });
});
