import { UserTag } from '@lib/domain';
import { AerospikeError, Client, Key, maps, status } from 'aerospike';
import { register } from 'prom-client';
import { entriesOf } from './aerospike-profile.codec';
import { AerospikeProfileStore } from './aerospike-profile.store';

/** Records the calls a store makes; answers reads from a canned map of bins. */
class FakeClient {
  readonly calls: Array<{
    key: Key;
    ops: Array<Record<string, unknown>>;
    meta: unknown;
    policy: Record<string, unknown>;
  }> = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly answer: (key: Key) => Record<string, unknown> | Error = () => ({})) {}

  async operate(
    key: Key,
    ops: unknown[],
    meta: unknown,
    policy: Record<string, unknown>,
  ): Promise<{ bins: Record<string, unknown> }> {
    this.calls.push({ key, ops: ops as Array<Record<string, unknown>>, meta, policy });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight -= 1;
    const result = this.answer(key);
    if (result instanceof Error) throw result;
    return { bins: result };
  }
}

function tag(cookie: string, time: string, action: 'VIEW' | 'BUY' = 'VIEW'): UserTag {
  return {
    time,
    cookie,
    country: 'PL',
    device: 'PC',
    action,
    origin: 'o',
    product_info: { product_id: 1, brand_id: 'b', category_id: 'k', price: 1 },
  };
}

function store(client: FakeClient, writeConcurrency = 64): AerospikeProfileStore {
  return new AerospikeProfileStore(client as unknown as Client, { hosts: 'h', namespace: 'ns', writeConcurrency });
}

describe('AerospikeProfileStore (no server: the calls it makes)', () => {
  it('appends with one operate per cookie: the cookie record, puts then trims per action', async () => {
    const client = new FakeClient();
    const tags = [
      tag('a', '2022-03-22T12:00:00.000Z'),
      tag('b', '2022-03-22T12:00:01.000Z'),
      tag('a', '2022-03-22T12:00:02.000Z', 'BUY'),
    ];
    await store(client).append(tags);
    expect(client.calls).toHaveLength(2);
    const a = client.calls.find((c) => c.key.key === 'a')!;
    expect(a.key).toMatchObject({ ns: 'ns', set: 'profiles', key: 'a' });
    expect(a.ops.map((op) => [op.bin, op.op])).toEqual([
      ['views', maps.putItems('x', {}).op],
      ['views', maps.removeByIndexRange('x', 0).op],
      ['buys', maps.putItems('x', {}).op],
      ['buys', maps.removeByIndexRange('x', 0).op],
    ]);
    expect(a.ops[0].items).toEqual(entriesOf([tags[0]]).get('VIEW'));
    expect(a.policy).toMatchObject({ totalTimeout: 2_000, maxRetries: 3 });
  });

  it('uses an escaped record key for a cookie a client cannot send as is', async () => {
    const client = new FakeClient();
    await store(client).append([tag('nul\u0000', '2022-03-22T12:00:00.000Z'), tag('nul', '2022-03-22T12:00:00.000Z')]);
    const keys = client.calls.map((c) => String(c.key.key));
    expect(new Set(keys).size).toBe(2);
    expect(keys.some((k) => k.includes('\u0000'))).toBe(false);
  });

  it('bounds the appends in flight', async () => {
    const client = new FakeClient();
    await store(client, 3).append(Array.from({ length: 20 }, (_, i) => tag(`c${i}`, '2022-03-22T12:00:00.000Z')));
    expect(client.calls).toHaveLength(20);
    expect(client.maxInFlight).toBe(3);
  });

  it('reads both actions in one operate and decodes newest first, then limits', async () => {
    const views = entriesOf([
      tag('a', '2022-03-22T12:00:00.000Z'),
      tag('a', '2022-03-22T12:00:05.000Z'),
      tag('a', '2022-03-22T12:00:09Z'),
    ]).get('VIEW')!;
    const flat = [...views.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).flat();
    const client = new FakeClient(() => ({ views: flat, buys: null }));
    const profile = await store(client).read('a', { fromMs: 0, toMs: Date.parse('2030-01-01T00:00:00Z') }, 2);
    expect(client.calls).toHaveLength(1);
    expect(client.calls[0].ops.map((op) => op.bin)).toEqual(['views', 'buys']);
    expect(client.calls[0].policy).toMatchObject({ totalTimeout: 120, socketTimeout: 40 });
    expect(profile.views.map((t) => t.time)).toEqual(['2022-03-22T12:00:09Z', '2022-03-22T12:00:05.000Z']);
    expect(profile.buys).toEqual([]);
  });

  it('answers an empty profile for a cookie without a record, and rethrows other errors', async () => {
    const notFound = Object.assign(Object.create(AerospikeError.prototype) as AerospikeError, {
      code: status.ERR_RECORD_NOT_FOUND,
    });
    expect(await store(new FakeClient(() => notFound)).read('x', { fromMs: 0, toMs: 1 }, 200)).toEqual({
      views: [],
      buys: [],
    });
    const timeout = Object.assign(Object.create(AerospikeError.prototype) as AerospikeError, {
      code: status.ERR_TIMEOUT,
    });
    await expect(store(new FakeClient(() => timeout)).read('x', { fromMs: 0, toMs: 1 }, 200)).rejects.toBe(timeout);
  });

  it('a RECORD_TOO_BIG write is counted and skipped, never retried forever; other errors still reject', async () => {
    const tooBig = Object.assign(Object.create(AerospikeError.prototype) as AerospikeError, {
      code: status.ERR_RECORD_TOO_BIG,
    });
    const client = new FakeClient((key) => (key.key === 'big' ? tooBig : {}));
    const before = await metricValue('profile_records_too_big_total');
    await store(client).append([tag('big', '2022-03-22T12:00:00.000Z'), tag('ok', '2022-03-22T12:00:00.000Z')]);
    expect(client.calls.map((c) => c.key.key).sort()).toEqual(['big', 'ok']);
    expect((await metricValue('profile_records_too_big_total')) - before).toBe(1);

    const timeout = Object.assign(Object.create(AerospikeError.prototype) as AerospikeError, {
      code: status.ERR_TIMEOUT,
    });
    await expect(store(new FakeClient(() => timeout)).append([tag('x', '2022-03-22T12:00:00.000Z')])).rejects.toBe(
      timeout,
    );
  });

  it('leaves an oversized entry out of the write and counts it; a cookie with nothing left is not written', async () => {
    const hostile = '\u0001'.repeat(256);
    const big: UserTag = {
      ...tag('h', '2022-03-22T12:00:00.000Z'),
      country: hostile,
      origin: hostile,
      product_info: { product_id: hostile, brand_id: hostile, category_id: hostile, price: 1 },
    };
    const client = new FakeClient();
    const before = await metricValue('profile_entries_oversized_total');
    await store(client).append([big, tag('a', '2022-03-22T12:00:00.000Z')]);
    expect(client.calls.map((c) => c.key.key)).toEqual(['a']);
    expect((await metricValue('profile_entries_oversized_total')) - before).toBe(1);
  });
});

describe('AerospikeProfileStore profile retention', () => {
  it("sets the record's TTL on every write when retention is on, and leaves the namespace default when off", async () => {
    const on = new FakeClient();
    const withTtl = new AerospikeProfileStore(on as unknown as Client, {
      hosts: 'h',
      namespace: 'ns',
      ttlSeconds: 86_400,
    });
    await withTtl.append([tag('a', '2022-03-22T12:00:00.000Z')]);
    expect(on.calls[0].meta).toEqual({ ttl: 86_400 });
    expect(await withTtl.deleteIdle()).toBe(0);

    const off = new FakeClient();
    await store(off).append([tag('a', '2022-03-22T12:00:00.000Z')]);
    expect(off.calls[0].meta).toBeNull();
  });
});

async function metricValue(name: string): Promise<number> {
  return (await register.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
}
