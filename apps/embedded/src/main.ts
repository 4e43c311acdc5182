import { configureGatewayHttp, setupGatewayOpenApi, startMarketReadSide } from '../../gateway/src/gateway.module';
import { createHttpApp, listen, httpAppOptionsOf } from '@lib/platform';
import { resolve } from 'node:path';
import { bootEmbeddedConfig, EmbeddedConfig } from './embedded.config';
import { embeddedAppModule, embeddedLogDir, openEmbeddedLog } from './embedded-app.module';

function banner(url: string, config: EmbeddedConfig): string {
  const data = resolve(config.gateway.DATA_DIR);
  const transport =
    config.gateway.TRANSPORT === 'in-process'
      ? `in-process log in ${embeddedLogDir(config)}`
      : `Kafka at ${config.gateway.KAFKA_BROKERS.join(',')}`;
  const database = config.gateway.DATABASE_URL ? 'PostgreSQL at DATABASE_URL' : `PGlite in ${resolve(data, 'pglite')}`;
  return [
    '',
    'Embedded mode: gateway, pipeline, raw-producer and agg-producer in one process',
    `  API      ${url}   (POST /user_tags, /user_profiles/{cookie}, /aggregates; GET /market/...)`,
    `  Market   ${url}/market   (live chart of the trade statistics)`,
    `  Docs     ${url}/docs   (OpenAPI JSON: ${url}/docs-json)`,
    `  Metrics  ${url}/metrics`,
    `  Health   ${url}/health/ready   (liveness: ${url}/health/live)`,
    `  Data     ${transport}; ${database}`,
    'Ctrl-C stops it; the data is kept for the next start.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const config = bootEmbeddedConfig();
  const broker = await openEmbeddedLog(config);
  const gateway = config.gateway;
  const options = httpAppOptionsOf('embedded', gateway, {
    bodyLimitBytes: Math.max(gateway.BODY_LIMIT_BYTES, gateway.DEBUG_BODY_LIMIT_BYTES),
    // After every app has stopped and committed: nothing writes to the log any more.
    afterClose: async () => broker?.close(),
  });
  try {
    const app = await createHttpApp(embeddedAppModule(config, broker), options);
    configureGatewayHttp(app, gateway);
    setupGatewayOpenApi(app);
    await startMarketReadSide(app, gateway);
    const url = await listen(app, options);
    process.stdout.write(banner(url, config));
  } catch (err) {
    await broker?.close();
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `embedded mode did not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
