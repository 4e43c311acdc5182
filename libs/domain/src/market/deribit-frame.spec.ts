import { DeribitErrorCode, isTradesChannel, parseDeribitFrame, parseDeribitTrade, parseTrades } from './deribit-frame';

const trade = {
  trade_seq: 190_871,
  trade_id: '412345678',
  timestamp: 1_795_000_000_123,
  tick_direction: 1,
  price: 97_250.5,
  mark_price: 97_251.12,
  index_price: 97_240.33,
  instrument_name: 'BTC-PERPETUAL',
  direction: 'buy',
  amount: 1_200,
  contracts: 120,
};

describe('parseDeribitFrame', () => {
  it('reads a trades notification', () => {
    const frame = parseDeribitFrame(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'subscription',
        params: { channel: 'trades.BTC-PERPETUAL.100ms', data: [trade] },
      }),
    );
    expect(frame).toEqual({ kind: 'subscription', channel: 'trades.BTC-PERPETUAL.100ms', data: [trade] });
  });

  it('reads heartbeats, results and errors', () => {
    expect(parseDeribitFrame('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}')).toEqual({
      kind: 'heartbeat',
      type: 'test_request',
    });
    expect(parseDeribitFrame('{"jsonrpc":"2.0","id":7,"result":["trades.BTC-PERPETUAL.100ms"]}')).toEqual({
      kind: 'result',
      id: 7,
      result: ['trades.BTC-PERPETUAL.100ms'],
    });
    expect(parseDeribitFrame('{"jsonrpc":"2.0","id":8,"result":null}')).toEqual({
      kind: 'result',
      id: 8,
      result: null,
    });
    expect(
      parseDeribitFrame(
        '{"jsonrpc":"2.0","id":9,"error":{"code":10028,"message":"too_many_requests"},"testnet":false}',
      ),
    ).toEqual({
      kind: 'error',
      id: 9,
      error: { code: DeribitErrorCode.TooManyRequests, message: 'too_many_requests' },
    });
    expect(
      parseDeribitFrame('{"jsonrpc":"2.0","error":{"code":11050,"message":"bad_request","data":{"x":1}}}'),
    ).toEqual({
      kind: 'error',
      id: null,
      error: { code: 11050, message: 'bad_request', data: { x: 1 } },
    });
  });

  it.each([
    ['{not json', 'not JSON'],
    ['[1,2]', 'not a JSON object'],
    ['42', 'not a JSON object'],
    ['{"method":"subscription","params":{"data":[]}}', 'subscription without params.channel'],
    ['{"method":"subscription","params":{"channel":"trades.X.raw"}}', 'subscription without params.data'],
    ['{"method":"heartbeat"}', 'heartbeat without params.type'],
    ['{"id":1,"error":"boom"}', 'error without a numeric code'],
    ['{"result":1}', 'result without an id'],
    ['{"method":"nonsense"}', 'unexpected method nonsense'],
    ['{"jsonrpc":"2.0"}', 'neither a result, an error nor a notification'],
  ])('calls %s malformed (%s)', (text, reason) => {
    expect(parseDeribitFrame(text)).toEqual({ kind: 'malformed', reason });
  });
});

describe('isTradesChannel', () => {
  it('knows trade channels', () => {
    expect(isTradesChannel('trades.BTC-PERPETUAL.100ms')).toBe(true);
    expect(isTradesChannel('trades.option.BTC.raw')).toBe(true);
    expect(isTradesChannel('book.BTC-PERPETUAL.100ms')).toBe(false);
  });
});

describe('parseDeribitTrade', () => {
  it('keeps a valid trade and only the known fields', () => {
    expect(parseDeribitTrade({ ...trade, extra: 'dropped' })).toEqual({ ok: true, trade });
  });

  it('keeps the optional fields of options, liquidations and block trades', () => {
    const option = {
      ...trade,
      instrument_name: 'BTC-25DEC26-100000-C',
      price: 0.0425,
      amount: 2.5,
      contracts: 2.5,
      iv: 48.73,
      liquidation: 'T',
      block_trade_id: '154209',
      block_trade_leg_count: 2,
      combo_id: 'BTC-CS-25DEC26-100000_110000',
      combo_trade_id: 3_456_789,
    };
    expect(parseDeribitTrade(option)).toEqual({ ok: true, trade: option });
  });

  it('treats null optional fields as absent', () => {
    expect(parseDeribitTrade({ ...trade, iv: null, liquidation: null, block_trade_id: null })).toEqual({
      ok: true,
      trade,
    });
  });

  it('turns a numeric trade_id into a string', () => {
    expect(parseDeribitTrade({ ...trade, trade_id: 412345678 })).toEqual({ ok: true, trade });
  });

  it.each([
    [{ ...trade, trade_seq: -1 }, 'trade_seq is not a non-negative integer'],
    [{ ...trade, trade_seq: 1.5 }, 'trade_seq is not a non-negative integer'],
    [{ ...trade, trade_id: '' }, 'trade_id is not a non-empty string'],
    [{ ...trade, timestamp: '2026-11-20' }, 'timestamp is not epoch milliseconds'],
    [{ ...trade, tick_direction: 4 }, 'tick_direction is not 0, 1, 2 or 3'],
    [{ ...trade, price: 'NaN' }, 'price is not a number'],
    [{ ...trade, mark_price: undefined }, 'mark_price is not a number'],
    [{ ...trade, index_price: null }, 'index_price is not a number'],
    [{ ...trade, instrument_name: '' }, 'instrument_name is missing'],
    [{ ...trade, direction: 'long' }, 'direction is not buy or sell'],
    [{ ...trade, amount: 0 }, 'amount is not a positive number'],
    [{ ...trade, iv: 'high' }, 'iv is not a number'],
    [{ ...trade, liquidation: 'X' }, 'liquidation is not M, T or MT'],
    [{ ...trade, block_trade_leg_count: 1.5 }, 'block_trade_leg_count is not an integer'],
    ['a string', 'trade is not an object'],
  ])('rejects %j: %s', (value, reason) => {
    expect(parseDeribitTrade(value)).toEqual({ ok: false, reason });
  });
});

describe('parseTrades', () => {
  it('keeps the valid trades in order and says which were rejected', () => {
    const second = { ...trade, trade_seq: trade.trade_seq + 1, trade_id: '412345679' };
    const result = parseTrades([trade, { ...trade, price: null }, second]);
    expect(result.trades).toEqual([trade, second]);
    expect(result.rejected).toEqual([{ index: 1, reason: 'price is not a number' }]);
  });

  it('rejects a data that is not an array', () => {
    expect(parseTrades({})).toEqual({ trades: [], rejected: [{ index: -1, reason: 'data is not an array' }] });
  });
});
