import { GatewayConfig } from '@lib/config';
import { Injectable, Logger } from '@nestjs/common';
import { counter } from '@lib/platform';
import { firstDifference } from './json-diff';

export type DebugEndpoint = 'user_profiles' | 'aggregates';

/**
 * Debug comparison mode (DEBUG_COMPARE=true): a query's body carries the answer the client
 * expects; the gateway compares it with its own, counts the result and logs the first difference.
 * It never changes the answer. Results: match, mismatch, absent (no body to compare).
 */
@Injectable()
export class DebugCompareService {
  private readonly logger = new Logger('debug-compare');
  private readonly comparisons = counter<'endpoint' | 'result'>({
    name: 'debug_comparisons_total',
    help: 'Debug-mode comparisons of query answers with the expected answer in the request body',
    labelNames: ['endpoint', 'result'],
  });

  constructor(config: GatewayConfig) {
    this.enabled = config.DEBUG_COMPARE;
  }

  readonly enabled: boolean;

  compare(endpoint: DebugEndpoint, request: string, expected: unknown, actual: unknown): void {
    if (!this.enabled) return;
    if (
      expected === undefined ||
      expected === null ||
      (typeof expected === 'object' && Object.keys(expected).length === 0)
    ) {
      this.comparisons.inc({ endpoint, result: 'absent' });
      return;
    }
    const diff = firstDifference(expected, actual);
    if (!diff) {
      this.comparisons.inc({ endpoint, result: 'match' });
      return;
    }
    this.comparisons.inc({ endpoint, result: 'mismatch' });
    this.logger.warn(
      `mismatch on ${request} at ${diff.path}: expected ${JSON.stringify(diff.expected) ?? 'nothing'}, ` +
        `got ${JSON.stringify(diff.actual) ?? 'nothing'}`,
    );
  }
}
