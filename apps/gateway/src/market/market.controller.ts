import { parseNoParameters, parseWindowsQuery, RawQuery, TradeStats, TradeStatsStore } from '@lib/domain';
import { Controller, Get, Header, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DependencyUnavailableError } from '../http/api-error';
import { InstrumentAnswer, instrumentAnswer, WindowAnswer, windowAnswer } from './market-answer';
import { MARKET_PAGE } from './market.page';

/** lightweight-charts' standalone build, served as it ships (no build step): read once. */
let chartLibrary: string | undefined;
function chartLibraryText(): string {
  // The package's exports map names only its ES modules; the standalone script sits beside them.
  chartLibrary ??= readFileSync(
    join(
      dirname(require.resolve('lightweight-charts/package.json')),
      'dist',
      'lightweight-charts.standalone.production.js',
    ),
    'utf8',
  );
  return chartLibrary;
}

/**
 * The market read side over REST (the windows agg-producer published, as MarketStatsConsumer keeps
 * them), and a page that charts them. Query rules: libs/domain/src/market/market-queries.ts.
 */
@Controller('market')
export class MarketController {
  constructor(private readonly store: TradeStatsStore) {}

  /** The page: a candlestick chart per instrument with VWAP and EWMA lines, refreshed every 2 s. */
  @Get()
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  page(): string {
    return MARKET_PAGE;
  }

  @Get('chart.js')
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=86400')
  chart(): string {
    return chartLibraryText();
  }

  /** Every instrument with windows stored: how many, the first and the last. */
  @Get('instruments')
  async instruments(@Query() query: RawQuery): Promise<{ instruments: InstrumentAnswer[] }> {
    parseNoParameters(query);
    const instruments = await this.read(() => this.store.instruments());
    return { instruments: instruments.map(instrumentAnswer) };
  }

  /** Windows of one instrument starting in [from, to), the newest `limit`, oldest first. 404: no window at all. */
  @Get('instruments/:instrument/windows')
  async windows(
    @Param('instrument') instrument: string,
    @Query() query: RawQuery,
  ): Promise<{ instrument: string; windows: WindowAnswer[] }> {
    const q = parseWindowsQuery(instrument, query);
    const windows = await this.read(() => this.store.windows(q.instrument, q.range, q.limit));
    if (windows.length === 0 && !(await this.known(q.instrument))) {
      throw new NotFoundException(`no windows of instrument ${q.instrument}: GET /market/instruments lists them`);
    }
    return { instrument: q.instrument, windows: windows.map(windowAnswer) };
  }

  /** The newest window of every instrument. */
  @Get('latest')
  async latest(@Query() query: RawQuery): Promise<{ windows: WindowAnswer[] }> {
    parseNoParameters(query);
    const windows: TradeStats[] = await this.read(() => this.store.latest());
    return { windows: windows.map(windowAnswer) };
  }

  private async known(instrument: string): Promise<boolean> {
    const any = await this.read(() =>
      this.store.windows(instrument, { fromMs: Number.MIN_SAFE_INTEGER, toMs: Number.MAX_SAFE_INTEGER }, 1),
    );
    return any.length > 0;
  }

  private read<T>(fn: () => Promise<T>): Promise<T> {
    return fn().catch((err: unknown) => {
      throw new DependencyUnavailableError('market store', err);
    });
  }
}
