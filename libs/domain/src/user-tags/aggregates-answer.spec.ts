import { aggregatesAnswer } from './aggregates-answer';

const t = (s: string) => Date.parse(`${s}Z`);

describe('aggregatesAnswer', () => {
  it('fills empty buckets with "0" and keeps the query order of columns', () => {
    const answer = aggregatesAnswer(
      {
        range: { fromMs: t('2022-03-01T00:05:00'), toMs: t('2022-03-01T00:08:00') },
        action: 'BUY',
        aggregates: ['SUM_PRICE', 'COUNT'],
        filters: { category_id: 'c', origin: 'o' },
      },
      [
        { bucketMs: t('2022-03-01T00:05:00'), count: 3n, sumPrice: 1000n },
        { bucketMs: t('2022-03-01T00:07:00'), count: 1n, sumPrice: 9_007_199_254_740_993n },
      ],
    );
    expect(answer).toEqual({
      columns: ['1m_bucket', 'action', 'origin', 'category_id', 'sum_price', 'count'],
      rows: [
        ['2022-03-01T00:05:00', 'BUY', 'o', 'c', '1000', '3'],
        ['2022-03-01T00:06:00', 'BUY', 'o', 'c', '0', '0'],
        ['2022-03-01T00:07:00', 'BUY', 'o', 'c', '9007199254740993', '1'],
      ],
    });
  });

  it('has only the bucket and action columns besides aggregates when unfiltered', () => {
    const answer = aggregatesAnswer(
      {
        range: { fromMs: t('2022-03-01T00:00:00'), toMs: t('2022-03-01T00:01:00') },
        action: 'VIEW',
        aggregates: ['COUNT'],
        filters: {},
      },
      [],
    );
    expect(answer).toEqual({ columns: ['1m_bucket', 'action', 'count'], rows: [['2022-03-01T00:00:00', 'VIEW', '0']] });
  });
});
