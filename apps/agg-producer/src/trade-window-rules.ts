import { AggProducerConfig } from '@lib/config';
import { EwmaSpec, MS_PER_MINUTE, TradeWindowRules } from '@lib/domain';

export function ewmaSpecOf(config: AggProducerConfig): EwmaSpec {
  switch (config.EWMA_MODE) {
    case 'span':
      return { mode: 'span', span: config.EWMA_SPAN };
    case 'alpha':
      return { mode: 'alpha', alpha: config.EWMA_ALPHA };
    case 'halflife':
      return { mode: 'halflife', halfLifeMs: config.EWMA_HALFLIFE_MS };
  }
}

/** The window and EWMA rules the config asks for. */
export function tradeWindowRulesOf(config: AggProducerConfig): TradeWindowRules {
  return new TradeWindowRules({
    windowMs: config.WINDOW_MINUTES * MS_PER_MINUTE,
    graceMs: config.WINDOW_GRACE_MS,
    ewma: ewmaSpecOf(config),
    revisionWindows: config.REVISION_WINDOWS,
  });
}
