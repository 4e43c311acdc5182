import { AggregateStore, AggregatesAnswer, RawQuery, aggregatesAnswer, parseAggregatesQuery } from '@lib/domain';
import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { DependencyUnavailableError } from '../http/api-error';
import { DebugCompareService } from '../debug/debug-compare.service';

@Controller()
export class AggregatesController {
  constructor(
    private readonly store: AggregateStore,
    private readonly debug: DebugCompareService,
  ) {}

  /**
   * Count and/or sum of price per one-minute bucket of the range for one action and the given
   * filters, read from the matching slice of the minute cube (one row per bucket).
   */
  @Post('aggregates')
  @HttpCode(200)
  async aggregates(@Query() query: RawQuery, @Body() expected: unknown): Promise<AggregatesAnswer> {
    const q = parseAggregatesQuery(query);
    const rows = await this.store.query(q).catch((err: unknown) => {
      throw new DependencyUnavailableError('aggregate store', err);
    });
    const answer = aggregatesAnswer(q, rows);
    this.debug.compare('aggregates', `/aggregates ${JSON.stringify(query)}`, expected, answer);
    return answer;
  }
}
