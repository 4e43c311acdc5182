import { DIM_BRAND, DIM_ORIGIN, UserTag } from '@lib/domain';
import { MinuteCubeAccumulator } from './minute-cube.accumulator';

function tag(time: string, price: number, over: Partial<UserTag> = {}): UserTag {
  return {
    time,
    cookie: 'c',
    country: 'PL',
    device: 'PC',
    action: 'BUY',
    origin: 'o1',
    product_info: { product_id: 1, brand_id: 'b1', category_id: 'k1', price },
    ...over,
  };
}

const minute = (s: string) => Date.parse(`${s}Z`);

describe('MinuteCubeAccumulator', () => {
  it('adds every tag to its 8 cells in the bucket of its own time', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    expect(acc.add(0, '0', tag('2022-03-01T00:05:59.999Z', 10))).toBe('added');
    expect(acc.add(0, '1', tag('2022-03-01T00:05:00Z', 5, { origin: 'o2' }))).toBe('added');
    expect(acc.add(0, '2', tag('2022-03-01T00:04:00.000Z', 7))).toBe('added');
    const snap = acc.take()!;
    expect(snap.flush.partitions).toHaveLength(1);
    const p = snap.flush.partitions[0]!;
    expect(p).toMatchObject({ partition: 0, expectedOffset: null, nextOffset: '3' });
    const cell = (bucket: string, dims: number, origin = '', brandId = '') =>
      p.deltas.find(
        (d) =>
          d.key.bucketMs === minute(bucket) &&
          d.key.dims === dims &&
          d.key.origin === origin &&
          d.key.brandId === brandId,
      );
    expect(cell('2022-03-01T00:05:00', 0)).toMatchObject({ count: 2, sumPrice: 15n });
    expect(cell('2022-03-01T00:05:00', DIM_ORIGIN, 'o1')).toMatchObject({ count: 1, sumPrice: 10n });
    expect(cell('2022-03-01T00:05:00', DIM_ORIGIN, 'o2')).toMatchObject({ count: 1, sumPrice: 5n });
    expect(cell('2022-03-01T00:05:00', DIM_BRAND, '', 'b1')).toMatchObject({ count: 2, sumPrice: 15n });
    expect(cell('2022-03-01T00:04:00', 0)).toMatchObject({ count: 1, sumPrice: 7n });
    // 8 cells for 00:04, and for 00:05: dims without origin shared (4), with origin split (4 x 2).
    expect(p.deltas).toHaveLength(8 + 4 + 8);
  });

  it('ignores offsets already counted and continues from the stored offset', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(3, '10');
    expect(acc.add(3, '9', tag('2022-03-01T00:00:00Z', 1))).toBe('duplicate');
    expect(acc.add(3, '10', tag('2022-03-01T00:00:00Z', 1))).toBe('added');
    expect(acc.add(3, '10', tag('2022-03-01T00:00:00Z', 1))).toBe('duplicate');
    expect(acc.add(4, '0', tag('2022-03-01T00:00:00Z', 1))).toBe('unowned');
    expect(acc.take()!.flush.partitions[0]).toMatchObject({ expectedOffset: '10', nextOffset: '11' });
  });

  it('chains flushes: each continues where the last one stored', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    acc.add(0, '0', tag('2022-03-01T00:00:00Z', 1));
    expect(acc.take()!.flush.partitions[0]).toMatchObject({ expectedOffset: null, nextOffset: '1' });
    expect(acc.take()).toBeUndefined();
    acc.add(0, '1', tag('2022-03-01T00:00:00Z', 1));
    expect(acc.take()!.flush.partitions[0]).toMatchObject({ expectedOffset: '1', nextOffset: '2' });
  });

  it('gives a failed flush back, merged with what arrived meanwhile', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    acc.add(0, '0', tag('2022-03-01T00:00:00Z', 4));
    const failed = acc.take()!;
    acc.add(0, '1', tag('2022-03-01T00:00:00Z', 6));
    acc.restore(failed);
    const retry = acc.take()!.flush.partitions[0]!;
    expect(retry).toMatchObject({ expectedOffset: null, nextOffset: '2' });
    expect(retry.deltas.find((d) => d.key.dims === 0)).toMatchObject({ count: 2, sumPrice: 10n });
  });

  it('does not give a failed flush back to a partition that was reassigned meanwhile', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    acc.add(0, '0', tag('2022-03-01T00:00:00Z', 4));
    const failed = acc.take()!;
    acc.revoke(0);
    acc.assign(0, null);
    acc.restore(failed);
    expect(acc.take()).toBeUndefined();
  });

  it('moves offsets past skipped messages so they are stored', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, '5');
    acc.skip(0, '5');
    expect(acc.take()!.flush.partitions[0]).toMatchObject({ expectedOffset: '5', nextOffset: '6', deltas: [] });
  });

  it('drops fenced partitions only', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    acc.assign(1, null);
    acc.add(0, '0', tag('2022-03-01T00:00:00Z', 1));
    acc.add(1, '0', tag('2022-03-01T00:00:00Z', 1));
    const snap = acc.take()!;
    expect(acc.fence(snap, [1])).toEqual([1]);
    expect(acc.owns(0)).toBe(true);
    expect(acc.owns(1)).toBe(false);
  });

  it('keeps, and does not report as dropped, a fenced partition reassigned since the snapshot', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    acc.add(0, '0', tag('2022-03-01T00:00:00Z', 1));
    const snap = acc.take()!;
    acc.assign(0, '5'); // a rebalance gave it back, resuming from the store
    expect(acc.fence(snap, [0])).toEqual([]);
    expect(acc.owns(0)).toBe(true);
  });

  it('sums int32 prices exactly, as bigint', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    for (let i = 0; i < 5; i++) acc.add(0, String(i), tag('2022-03-01T00:00:00Z', 2_147_483_647));
    const d = acc.take()!.flush.partitions[0]!.deltas.find((x) => x.key.dims === 0)!;
    expect(d.sumPrice).toBe(5n * 2_147_483_647n);
  });

  it('tracks the newest event time seen', () => {
    const acc = new MinuteCubeAccumulator('g', 't');
    acc.assign(0, null);
    acc.add(0, '0', tag('2022-03-01T00:09:00Z', 1));
    acc.add(0, '1', tag('2022-03-01T00:01:00Z', 1));
    expect(acc.newestEventTime()).toBe(minute('2022-03-01T00:09:00'));
    expect(acc.pendingTags()).toBe(2);
  });
});
