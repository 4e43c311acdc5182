import { GatewayConfig } from '@lib/config';
import {
  KafkaAvroModule,
  MessagingRuntime,
  tradeStatsTopic,
  userTagsTopic,
  userTagsTopicProvider,
} from '@lib/kafka-avro';
import { PersistenceModule } from '@lib/persistence';
import { gauge } from '@lib/platform';
import { DynamicModule, INestApplication, Logger, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Observable } from 'rxjs';
import { AggregatesController } from './aggregates/aggregates.controller';
import { MarketController } from './market/market.controller';
import { marketStatsConsumer } from './market/market-stats.consumer';
import { DebugCompareService } from './debug/debug-compare.service';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { installJsonBodyParser } from './http/json-body.parser';
import { ProfilesController } from './profiles/profiles.controller';
import { UserTagsController } from './user-tags/user-tags.controller';

export { setupGatewayOpenApi } from './openapi/gateway.openapi';

/**
 * The gateway as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process. `messaging: false` leaves
 * the messaging module to a composition root that provides one for all apps.
 */
@Module({})
export class GatewayModule {
  static register(config: GatewayConfig, opts: { messaging?: boolean } = {}): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        ...(opts.messaging === false
          ? []
          : [
              KafkaAvroModule.forRoot({
                app: 'gateway',
                config,
                topics: [userTagsTopic(config.TOPIC_USER_TAGS), tradeStatsTopic(config.TOPIC_TRADE_STATS)],
              }),
            ]),
        PersistenceModule.forRoot(config),
      ],
      controllers: [
        UserTagsController,
        ProfilesController,
        AggregatesController,
        MarketController,
        marketStatsConsumer(config.TOPIC_TRADE_STATS),
      ],
      providers: [
        { provide: GatewayConfig, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        userTagsTopicProvider(config),
        DebugCompareService,
      ],
      exports: [GatewayConfig],
    };
  }
}

/** What the gateway needs of the HTTP server it runs in; call before it listens. */
export function configureGatewayHttp(app: NestFastifyApplication, config: GatewayConfig): void {
  installJsonBodyParser(app, {
    tagLimitBytes: config.BODY_LIMIT_BYTES,
    debugCompare: config.DEBUG_COMPARE,
    debugLimitBytes: config.DEBUG_BODY_LIMIT_BYTES,
  });
}

/**
 * Starts the market read side's consumer (MarketStatsConsumer) in the app, on the app's transport:
 * Nest's Kafka microservice server, or the in-process log's. Call before the app listens. The app is
 * initialised first: that connects messaging, which creates the module's topics, the stats topic among
 * them (GatewayModule and the embedded root both declare it), and applies the migrations. A Kafka
 * consumer subscribing to a topic nobody has created yet (agg-producer not started) would fail.
 */
export async function startMarketReadSide(app: INestApplication, config: GatewayConfig): Promise<void> {
  await app.init();
  const server = app.get(MessagingRuntime).nestServer(config.MARKET_GROUP_ID);
  const started = watchMarketConsumer(server as { status?: Observable<string> });
  app.connectMicroservice({ strategy: server });
  await app.startAllMicroservices();
  started();
}

/**
 * `market_consumer_up`: 1 while the read side's consumer is connected (or rebalancing), 0 once Nest's
 * server reports it disconnected, stopped or crashed (kafkajs restarts it after a retriable crash, and it
 * is 1 again when it reconnects). A metric and a log line, not readiness: a stale market table must not
 * take the gateway's ingest out of a load balancer.
 */
function watchMarketConsumer(server: { status?: Observable<string> }): () => void {
  const up = gauge({ name: 'market_consumer_up', help: "1 while the market read side's consumer is connected" });
  const log = new Logger('market');
  let reported = false;
  server.status?.subscribe((status) => {
    reported = true;
    up.set(status === 'connected' || status === 'rebalancing' ? 1 : 0);
    if (status === 'crashed') {
      log.error('the market consumer crashed: windows are not being stored until it reconnects');
    }
  });
  // A transport that reports no status (the in-process log's server) is up once it has started.
  return () => {
    if (!reported) up.set(1);
  };
}
