import {
  ACTIONS,
  AGGREGATE_FUNCTIONS,
  DomainErrorCode,
  DEFAULT_MARKET_WINDOWS,
  EWMA_MODES,
  MAX_AGGREGATE_RANGE_MINUTES,
  MAX_MARKET_WINDOWS,
  MAX_TEXT_LENGTH,
  PROFILE_CAPACITY,
  userTagJsonSchema,
} from '@lib/domain';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AggregatesController } from '../aggregates/aggregates.controller';
import { MarketController } from '../market/market.controller';
import { ProfilesController } from '../profiles/profiles.controller';
import { UserTagsController } from '../user-tags/user-tags.controller';

/** The API's controllers; the app's others (health, metrics) are named in the description instead. */
const API_CONTROLLERS = [UserTagsController, ProfilesController, AggregatesController, MarketController].map(
  (c) => c.name,
);

export const DOCS_PATH = 'docs';

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

/**
 * The body schema Fastify validates POST /user_tags with (the route drops only the `$id`, which
 * names it in this document), so the documented schema and the enforced one are the same object.
 */
export function userTagBodySchema(): Schema {
  const { $id: _id, ...schema } = userTagJsonSchema;
  return JSON.parse(JSON.stringify(schema)) as Schema;
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const text = (description: string): Schema => ({
  type: 'string',
  minLength: 1,
  maxLength: MAX_TEXT_LENGTH,
  description,
});
const noZone = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}';

const components: Record<string, Schema> = {
  UserTag: userTagBodySchema(),
  ProfileAnswer: {
    type: 'object',
    required: ['cookie', 'views', 'buys'],
    properties: {
      cookie: { type: 'string' },
      views: {
        type: 'array',
        items: ref('UserTag'),
        maxItems: PROFILE_CAPACITY,
        description: 'VIEW tags, newest first',
      },
      buys: { type: 'array', items: ref('UserTag'), maxItems: PROFILE_CAPACITY, description: 'BUY tags, newest first' },
    },
  },
  AggregatesAnswer: {
    type: 'object',
    required: ['columns', 'rows'],
    description:
      'One row per minute bucket of the range, in time order, empty buckets included as "0". Columns: 1m_bucket, action, ' +
      'the filters given (in the order origin, brand_id, category_id), then count and/or sum_price in the order asked. Every value is a string.',
    properties: {
      columns: { type: 'array', items: { type: 'string' } },
      rows: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    },
    example: {
      columns: ['1m_bucket', 'action', 'brand_id', 'count'],
      rows: [
        ['2022-03-01T00:05:00', 'BUY', 'Nike', '3'],
        ['2022-03-01T00:06:00', 'BUY', 'Nike', '0'],
      ],
    },
  },
  TradeStatsWindow: {
    type: 'object',
    required: [
      'instrument',
      'window_start',
      'window_end',
      'count',
      'volume',
      'vwap',
      'open',
      'high',
      'low',
      'close',
      'ewma',
      'ewma_params',
      'revision',
      'unrecovered_trades',
    ],
    description:
      "One instrument's statistics over one window [window_start, window_end), as agg-producer published it. " +
      'Price fields are null for a window without trades; the EWMA is carried from earlier windows.',
    properties: {
      instrument: { type: 'string', examples: ['BTC-PERPETUAL'] },
      window_start: { type: 'string', format: 'date-time' },
      window_end: { type: 'string', format: 'date-time' },
      count: { type: 'integer', description: 'Trades' },
      volume: { type: 'number', description: 'Sum of amount' },
      vwap: { type: ['number', 'null'], description: 'sum(price × amount) / sum(amount)' },
      open: { type: ['number', 'null'] },
      high: { type: ['number', 'null'] },
      low: { type: ['number', 'null'] },
      close: { type: ['number', 'null'] },
      ewma: { type: ['number', 'null'], description: "EWMA of price as of the window's last trade" },
      ewma_params: {
        type: 'object',
        required: ['mode', 'alpha', 'span', 'half_life_ms'],
        properties: {
          mode: { type: 'string', enum: [...EWMA_MODES] },
          alpha: { type: ['number', 'null'] },
          span: { type: ['integer', 'null'] },
          half_life_ms: { type: ['integer', 'null'] },
        },
      },
      revision: {
        type: 'integer',
        minimum: 0,
        description:
          '0 as first published; each trade that came after the window was published (later than the grace, ' +
          'within REVISION_WINDOWS) publishes it again with the next revision. The EWMA stays as first published.',
      },
      unrecovered_trades: {
        type: 'integer',
        minimum: 0,
        description:
          "Trades the exchange skipped (a trade_seq gap) that are not in this window's count: never recovered by " +
          "raw-producer's back-fill, or not yet as of this revision. Counted in the window of the trade that revealed " +
          'the gap; trades recovered later go into their own windows and off this number (a revision each).',
      },
    },
  },
  Instrument: {
    type: 'object',
    required: ['instrument', 'windows', 'first_window_start', 'last_window_start'],
    properties: {
      instrument: { type: 'string' },
      windows: { type: 'integer', description: 'Windows stored' },
      first_window_start: { type: 'string', format: 'date-time' },
      last_window_start: { type: 'string', format: 'date-time' },
    },
  },
  ApiError: {
    type: 'object',
    additionalProperties: false,
    required: ['statusCode', 'error', 'code', 'message'],
    description: 'Every error answer of the API.',
    properties: {
      statusCode: { type: 'integer' },
      error: { type: 'string', description: 'HTTP reason phrase' },
      code: {
        type: 'string',
        description: 'Stable machine-readable code',
        examples: [
          'INVALID_USER_TAG',
          'INVALID_JSON',
          ...Object.values(DomainErrorCode),
          'BODY_TOO_LARGE',
          'UNSUPPORTED_MEDIA_TYPE',
          'KAFKA_UNAVAILABLE',
          'DEPENDENCY_UNAVAILABLE',
        ],
      },
      message: { type: 'string', description: 'What to change, in words' },
      field: {
        type: 'string',
        description: 'The input field at fault (body path such as product_info.price, or a query parameter)',
      },
    },
  },
};

const error = (description: string): Schema => ({
  description,
  content: { 'application/json': { schema: ref('ApiError') } },
});
const unavailable = (what: string): Schema => ({
  ...error(`${what}; retry later (Retry-After: 1)`),
  headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } },
});
const query = (name: string, required: boolean, schema: Schema, description: string): Schema => ({
  name,
  in: 'query',
  required,
  schema,
  description,
});
const debugBody = (answer: string): Schema => ({
  required: false,
  description:
    'Read only in debug mode (DEBUG_COMPARE=true): the expected answer, compared with the real one (mismatches are counted and logged). ' +
    'Otherwise ignored (not parsed). Bounded either way: over BODY_LIMIT_BYTES, or DEBUG_BODY_LIMIT_BYTES in debug mode, it gets 413.',
  content: { 'application/json': { schema: ref(answer) } },
});

/** Everything the route decorators do not say, per operation ("METHOD /path" as in the document). */
const operations: Record<string, Operation> = {
  'post /user_tags': {
    summary: 'Ingest one user tag',
    description:
      '204 once the tag is durably in Kafka (acks=all), keyed by cookie. A tag that fails validation is never published; ' +
      'a tag Kafka does not acknowledge in time gets 503, never 204. Besides the schema, `time` must be a real calendar instant.',
    requestBody: { required: true, content: { 'application/json': { schema: ref('UserTag') } } },
    responses: {
      '204': { description: 'Written to Kafka' },
      '400': error(
        'Invalid tag (code INVALID_USER_TAG, TIME_FORMAT, TIME_IN_FUTURE (more than EVENT_TIME_MAX_FUTURE_MS ahead of the clock), TAG_TOO_LARGE (its JSON over 5,120 bytes) or INVALID_JSON); `field` names what to fix',
      ),
      '413': error('Body larger than BODY_LIMIT_BYTES'),
      '415': error('Body not sent as application/json'),
      '503': unavailable('Kafka did not acknowledge the write in time (KAFKA_UNAVAILABLE): the tag was not written'),
    },
  },
  'post /user_profiles/{cookie}': {
    summary: "A cookie's recent tags",
    description:
      `The cookie's tags with from <= time < to, newest first, at most \`limit\` per action (the store keeps the ${PROFILE_CAPACITY} ` +
      'most recent VIEWs and BUYs); the range filters first, then the limit applies.',
    parameters: [
      { name: 'cookie', in: 'path', required: true, schema: text('The cookie') },
      query(
        'time_range',
        true,
        { type: 'string', pattern: `^${noZone}:\\d{2}(\\.\\d{3})?_${noZone}:\\d{2}(\\.\\d{3})?$` },
        'UTC without zone, millisecond precision, from < to: `2022-03-22T12:15:00.000_2022-03-22T12:30:00.000`',
      ),
      query(
        'limit',
        false,
        { type: 'integer', minimum: 1, maximum: PROFILE_CAPACITY, default: PROFILE_CAPACITY },
        'Most tags per action',
      ),
    ],
    requestBody: debugBody('ProfileAnswer'),
    responses: {
      '200': { description: 'The profile', content: { 'application/json': { schema: ref('ProfileAnswer') } } },
      '400': error('Invalid query (codes INVALID_QUERY, TIME_RANGE_*); `field` names the parameter'),
      '413': error('Body larger than BODY_LIMIT_BYTES (DEBUG_BODY_LIMIT_BYTES in debug mode)'),
      '503': unavailable('The profile store is unavailable (DEPENDENCY_UNAVAILABLE)'),
    },
  },
  'post /aggregates': {
    summary: 'Per-minute count and sum of price',
    description:
      'Count and/or sum of price per one-minute bucket of the range, for one action and any of the filters ' +
      'origin, brand_id, category_id (exact match). Each bucket is read from a pre-aggregated minute cube.',
    parameters: [
      query(
        'time_range',
        true,
        { type: 'string', pattern: `^${noZone}:00_${noZone}:00$` },
        `UTC without zone, whole minutes, from < to, at most ${MAX_AGGREGATE_RANGE_MINUTES} minutes: \`2022-03-22T12:15:00_2022-03-22T12:25:00\``,
      ),
      query('action', true, { type: 'string', enum: [...ACTIONS] }, 'Action of the tags counted'),
      {
        ...query(
          'aggregates',
          true,
          { type: 'array', items: { type: 'string', enum: [...AGGREGATE_FUNCTIONS] }, minItems: 1, uniqueItems: true },
          'One or both, repeated: `aggregates=COUNT&aggregates=SUM_PRICE`; the answer has their columns in this order',
        ),
        style: 'form',
        explode: true,
      },
      query('origin', false, text('Only tags of this origin'), 'Filter'),
      query('brand_id', false, text('Only tags of this brand'), 'Filter'),
      query('category_id', false, text('Only tags of this category'), 'Filter'),
    ],
    requestBody: debugBody('AggregatesAnswer'),
    responses: {
      '200': { description: 'The buckets', content: { 'application/json': { schema: ref('AggregatesAnswer') } } },
      '400': error('Invalid query (codes INVALID_QUERY, TIME_RANGE_*); `field` names the parameter'),
      '413': error('Body larger than BODY_LIMIT_BYTES (DEBUG_BODY_LIMIT_BYTES in debug mode)'),
      '503': unavailable('The aggregate store is unavailable (DEPENDENCY_UNAVAILABLE)'),
    },
  },
};

const market = (summary: string, description: string, answer: Schema, extra: Operation = {}): Operation => ({
  summary,
  description,
  tags: ['market data'],
  ...extra,
  responses: {
    '200': { description: 'The answer', content: { 'application/json': { schema: answer } } },
    '400': error('Invalid query (INVALID_QUERY, TIME_FORMAT); `field` names the parameter'),
    ...((extra.responses as Schema | undefined) ?? {}),
    '503': unavailable('The market store is unavailable (DEPENDENCY_UNAVAILABLE)'),
  },
});
const object = (properties: Schema): Schema => ({ type: 'object', required: Object.keys(properties), properties });

operations['get /market/instruments'] = market(
  'Instruments with trade statistics',
  'Every instrument with windows stored, with how many and the first and last window start. No parameters.',
  object({ instruments: { type: 'array', items: ref('Instrument') } }),
);
operations['get /market/instruments/{instrument}/windows'] = market(
  "An instrument's windows",
  'The windows of the instrument that start in [from, to), the newest `limit` of them, oldest first. ' +
    'Without from or to the range is open on that side.',
  object({ instrument: { type: 'string' }, windows: { type: 'array', items: ref('TradeStatsWindow') } }),
  {
    parameters: [
      {
        name: 'instrument',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[A-Z0-9][A-Z0-9_-]{0,63}$' },
        description: 'Deribit instrument name, e.g. BTC-PERPETUAL',
      },
      query('from', false, { type: 'string', format: 'date-time' }, 'ISO-8601 UTC with Z, e.g. 2026-03-01T10:00:00Z'),
      query('to', false, { type: 'string', format: 'date-time' }, 'ISO-8601 UTC with Z, later than from'),
      query(
        'limit',
        false,
        { type: 'integer', minimum: 1, maximum: MAX_MARKET_WINDOWS, default: DEFAULT_MARKET_WINDOWS },
        'Most windows, the newest',
      ),
    ],
    responses: { '404': error('No window of this instrument is stored (NOT_FOUND)') },
  },
);
operations['get /market/latest'] = market(
  'The newest window of each instrument',
  'One window per instrument: its newest. No parameters.',
  object({ windows: { type: 'array', items: ref('TradeStatsWindow') } }),
);

/**
 * The gateway's OpenAPI document: operations as Nest discovers them from the API's controllers (so a
 * route that is added, removed or renamed cannot go unnoticed: building the document fails), each
 * completed by its entry above; schemas shared with the request validation. Works in any app that
 * has the gateway's controllers (the gateway, the embedded mode).
 */
export function gatewayOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const base = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Streaming analytics API')
    .setDescription(
      'Ingest of user tags (VIEW/BUY events), user profiles and per-minute aggregates; market data: the trade ' +
        'statistics of Deribit instruments (charted at GET /market). ' +
        'Health: GET /health/live, GET /health/ready; Prometheus metrics: GET /metrics.',
    )
    .setVersion('1')
    .build();
  const scanned = SwaggerModule.createDocument(app, base);
  const paths: OpenAPIObject['paths'] = {};
  const documented = new Set(Object.keys(operations));
  for (const [path, item] of Object.entries(scanned.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      // Operation ids are `<Controller>_<method>`.
      const controller = String((operation as { operationId?: string }).operationId).split('_')[0];
      if (!API_CONTROLLERS.includes(controller)) continue;
      const key = `${method} ${path}`;
      const extra = operations[key];
      if (extra === undefined)
        throw new Error(`the OpenAPI document does not describe ${key}: add it to gateway.openapi.ts`);
      documented.delete(key);
      const { operationId } = operation as { operationId?: string };
      paths[path] = { ...paths[path], [method]: { operationId, tags: ['user tags'], ...extra } };
    }
  }
  if (documented.size > 0)
    throw new Error(`gateway.openapi.ts describes routes that do not exist: ${[...documented].join(', ')}`);
  return { ...scanned, paths, components: { schemas: components } };
}

/**
 * Serves the document at /docs (Swagger UI), /docs-json and /docs-yaml; call before the app listens.
 * The document is built now, so a route without documentation stops the start-up.
 */
export function setupGatewayOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, gatewayOpenApiDocument(app), {
    jsonDocumentUrl: `${DOCS_PATH}-json`,
    customSiteTitle: 'User tags API',
  });
}
