import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { TradeSource } from '@lib/domain';
import { ReadinessRegistry } from '@lib/platform';

/**
 * Ready while the source streams (live: connected and subscribed; replay: running or done). The
 * publisher's readiness is the messaging module's own check (`messaging:raw-producer`). Without a
 * ReadinessRegistry (a test composing the module alone) it does nothing.
 */
@Injectable()
export class RawProducerReadiness implements OnModuleInit {
  // Tokens named explicitly: runners without decorator metadata (tsx, esbuild) can compose the app too.
  constructor(
    @Inject(TradeSource) private readonly source: TradeSource,
    @Optional() @Inject(ReadinessRegistry) private readonly registry?: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('trade-source', () => {
      const state = this.source.state();
      if (state !== 'streaming' && state !== 'finished') throw new Error(`trade source is ${state}`);
    });
  }
}
