import { gatewayConfigSchema, loadConfig } from '@lib/config';
import { AggregateStore, ProfileStore, TradeStatsStore, userTagJsonSchema } from '@lib/domain';
import { MessagePublisher } from '@lib/kafka-avro/messaging';
import { PersistenceLifecycle } from '@lib/persistence/persistence.readiness';
import { Global, Module } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { RouteOptions } from 'fastify';
import { DataSource } from 'typeorm';
import { configureGatewayHttp, GatewayModule, setupGatewayOpenApi } from '../gateway.module';

jest.setTimeout(30_000);

// Swagger UI's static files: @fastify/static needs ES modules Jest does not compile here. The UI page
// itself is a route of its own, checked below; the embedded-mode test fetches the assets for real.
jest.mock('@fastify/static', () => ({ __esModule: true, default: async () => undefined }));

const published: unknown[] = [];

@Global()
@Module({
  providers: [
    {
      provide: MessagePublisher,
      useValue: {
        publish: async (_topic: unknown, values: unknown[]) => void published.push(...values),
        isReady: () => true,
      },
    },
  ],
  exports: [MessagePublisher],
})
class FakeMessagingModule {}

const tag = {
  time: '2022-03-22T12:15:00.000Z',
  cookie: 'c1',
  country: 'PL',
  device: 'PC',
  action: 'VIEW',
  origin: 'o',
  product_info: { product_id: 7, brand_id: 'b', category_id: 'k', price: 100 },
};

describe('gateway OpenAPI document', () => {
  let app: NestFastifyApplication;
  const routes: RouteOptions[] = [];

  beforeAll(async () => {
    const config = loadConfig('gateway', gatewayConfigSchema, {});
    const moduleRef = await Test.createTestingModule({
      imports: [FakeMessagingModule, GatewayModule.register(config, { messaging: false })],
    })
      .overrideProvider(DataSource)
      .useValue({})
      .overrideProvider(ProfileStore)
      .useValue({})
      .overrideProvider(AggregateStore)
      .useValue({})
      .overrideProvider(TradeStatsStore)
      .useValue({})
      .overrideProvider(PersistenceLifecycle)
      .useValue({})
      .compile();
    const adapter = new FastifyAdapter({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } });
    adapter.getInstance().addHook('onRoute', (route) => void routes.push(route));
    app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: false });
    configureGatewayHttp(app, config);
    setupGatewayOpenApi(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  const docsJson = async () => {
    const res = await app.inject({ method: 'GET', url: '/docs-json' });
    expect(res.statusCode).toBe(200);
    return res.json() as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
      components: { schemas: Record<string, unknown> };
    };
  };

  it('documents as UserTag exactly the schema POST /user_tags validates bodies with', async () => {
    const route = routes.find((r) => r.url === '/user_tags' && r.method === 'POST');
    const validated = (route?.schema as { body?: unknown } | undefined)?.body;
    const { $id: _id, ...domain } = userTagJsonSchema;
    expect(validated).toEqual(domain);
    const doc = await docsJson();
    expect(doc.components.schemas.UserTag).toEqual(JSON.parse(JSON.stringify(validated)));
    expect(doc.paths['/user_tags'].post.requestBody?.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/UserTag',
    });
  });

  it('lists the endpoints (not the market page and its script), with their answers and the shared error body', async () => {
    const doc = await docsJson();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/aggregates',
      '/market/instruments',
      '/market/instruments/{instrument}/windows',
      '/market/latest',
      '/user_profiles/{cookie}',
      '/user_tags',
    ]);
    const get = (path: string) => Object.keys((doc.paths[path].get as { responses: object }).responses).sort();
    expect(get('/market/instruments/{instrument}/windows')).toEqual(['200', '400', '404', '503']);
    expect(get('/market/latest')).toEqual(['200', '400', '503']);
    const responses = (path: string) => Object.keys((doc.paths[path].post as { responses: object }).responses).sort();
    expect(responses('/user_tags')).toEqual(['204', '400', '413', '415', '503']);
    expect(responses('/user_profiles/{cookie}')).toEqual(['200', '400', '413', '503']);
    expect(responses('/aggregates')).toEqual(['200', '400', '413', '503']);
    expect(doc.components.schemas.ApiError).toMatchObject({ required: ['statusCode', 'error', 'code', 'message'] });
  });

  it('rejects what the document says is invalid, and accepts what it says is valid', async () => {
    const post = (body: unknown) =>
      app.inject({
        method: 'POST',
        url: '/user_tags',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
    expect((await post(tag)).statusCode).toBe(204);
    expect(published).toEqual([tag]);
    const bad = await post({ ...tag, device: 'PHONE' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ statusCode: 400, code: 'INVALID_USER_TAG', field: 'device' });
    expect((await post({ ...tag, extra: 1 })).statusCode).toBe(400);
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('swagger');
  });
});
