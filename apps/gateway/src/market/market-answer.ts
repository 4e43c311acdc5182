import { InstrumentSummary, TradeStats } from '@lib/domain';

/** One window as the REST API answers it: times as ISO-8601 UTC, everything else as published. */
export type WindowAnswer = Omit<TradeStats, 'window_start' | 'window_end'> & {
  window_start: string;
  window_end: string;
};

export interface InstrumentAnswer {
  instrument: string;
  windows: number;
  first_window_start: string;
  last_window_start: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function windowAnswer(s: TradeStats): WindowAnswer {
  return { ...s, window_start: iso(s.window_start), window_end: iso(s.window_end) };
}

export function instrumentAnswer(i: InstrumentSummary): InstrumentAnswer {
  return {
    instrument: i.instrument,
    windows: i.windows,
    first_window_start: iso(i.firstWindowStart),
    last_window_start: iso(i.lastWindowStart),
  };
}
