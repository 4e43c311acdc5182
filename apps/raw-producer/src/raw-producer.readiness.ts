import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { TradeSource } from '@lib/domain';
import { MessagePublisher } from '@lib/kafka-avro/messaging';
import { ReadinessRegistry } from '@lib/platform';

/**
 * Ready while the source streams (live: connected and subscribed; replay: running or done) and the
 * publisher can write. Without a ReadinessRegistry (a test composing the module alone) it does nothing.
 */
@Injectable()
export class RawProducerReadiness implements OnModuleInit {
  constructor(
    private readonly source: TradeSource,
    private readonly publisher: MessagePublisher,
    @Optional() private readonly registry?: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('trade-source', () => {
      const state = this.source.state();
      if (state !== 'streaming' && state !== 'finished') throw new Error(`trade source is ${state}`);
    });
    this.registry?.register('deribit-trades-publisher', () => {
      if (!this.publisher.isReady()) throw new Error('the trades publisher is not ready');
    });
  }
}
