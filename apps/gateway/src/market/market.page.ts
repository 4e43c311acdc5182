/**
 * The market page (GET /market): one HTML document with its script inline, and lightweight-charts'
 * standalone build from GET /market/chart.js, so there is nothing to build. Every 2 s it reads the REST
 * API and redraws: candles (OHLC) of the chosen instrument's windows, its VWAP and EWMA as lines (an
 * empty window is a gap, its EWMA carried), and a table of every instrument's newest window, with its
 * revision and the trades known to be missing from it (`unrecovered_trades`: lost by the exchange's feed
 * and not recovered by a back-fill), which the status line also sums over the drawn windows.
 * `window.market` exposes what is drawn (the browser test reads it).
 */
export const MARKET_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Market: trade statistics</title>
<link rel="icon" href="data:,">
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; background: #0f1116; color: #d1d4dc; }
  header { display: flex; gap: 16px; align-items: center; padding: 10px 16px; border-bottom: 1px solid #2a2e39; }
  h1 { font-size: 16px; margin: 0; font-weight: 600; }
  select { background: #1e222d; color: inherit; border: 1px solid #2a2e39; padding: 4px 8px; }
  #status { color: #787b86; }
  .legend span { margin-right: 14px; }
  #chart { height: 60vh; min-height: 320px; }
  table { border-collapse: collapse; margin: 12px 16px; }
  th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #2a2e39; }
  th:first-child, td:first-child { text-align: left; }
  td.missing { color: #ef5350; font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>Trade statistics</h1>
  <label>Instrument <select id="instrument"></select></label>
  <span class="legend"><span style="color:#26a69a">&#9632; OHLC</span><span style="color:#2962ff">&#9472; VWAP</span><span style="color:#ff9800">&#9472; EWMA</span></span>
  <span id="status">loading</span>
</header>
<div id="chart"></div>
<table id="latest"><thead><tr><th>instrument</th><th>window start (UTC)</th><th>trades</th><th>unrecovered</th><th>revision</th><th>volume</th><th>VWAP</th><th>close</th><th>EWMA</th></tr></thead><tbody></tbody></table>
<script src="/market/chart.js"></script>
<script>
(() => {
  const { createChart, CandlestickSeries, LineSeries } = LightweightCharts;
  const select = document.getElementById('instrument');
  const status = document.getElementById('status');
  const chart = createChart(document.getElementById('chart'), {
    autoSize: true,
    layout: { background: { color: '#0f1116' }, textColor: '#d1d4dc' },
    grid: { vertLines: { color: '#1e222d' }, horzLines: { color: '#1e222d' } },
    timeScale: { timeVisible: true, secondsVisible: false },
  });
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: '#26a69a', downColor: '#ef5350', borderVisible: false, wickUpColor: '#26a69a', wickDownColor: '#ef5350',
  });
  const vwap = chart.addSeries(LineSeries, { color: '#2962ff', lineWidth: 1, title: 'VWAP' });
  const ewma = chart.addSeries(LineSeries, { color: '#ff9800', lineWidth: 2, title: 'EWMA' });
  const market = (window.market = {
    instrument: undefined, windows: [], unrecovered: 0, refreshes: 0, candles, vwap, ewma, error: undefined,
  });
  let drawnFor;
  const asked = new URLSearchParams(location.search).get('instrument');
  const time = (w) => Date.parse(w.window_start) / 1000;
  const json = async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(url + ': ' + res.status);
    return res.json();
  };
  const num = (v, digits) => (v === null ? '' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits }));
  select.addEventListener('change', () => {
    history.replaceState(null, '', '?instrument=' + encodeURIComponent(select.value));
    void refresh();
  });

  async function refresh() {
    try {
      const [{ instruments }, { windows: latest }] = await Promise.all([json('/market/instruments'), json('/market/latest')]);
      const names = instruments.map((i) => i.instrument);
      if (select.options.length !== names.length || names.some((n, i) => select.options[i].value !== n)) {
        const keep = select.value || asked;
        select.replaceChildren(...names.map((n) => new Option(n, n)));
        if (keep && names.includes(keep)) select.value = keep;
      }
      document.querySelector('#latest tbody').replaceChildren(
        ...latest.map((w) => {
          const row = document.createElement('tr');
          for (const cell of [w.instrument, w.window_start.slice(0, 16).replace('T', ' '), w.count, w.unrecovered_trades,
            w.revision, num(w.volume, 4), num(w.vwap, 2), num(w.close, 2), num(w.ewma, 2)]) {
            const td = document.createElement('td');
            td.textContent = String(cell);
            row.append(td);
          }
          if (w.unrecovered_trades > 0) row.children[3].className = 'missing';
          return row;
        }),
      );
      const instrument = select.value;
      if (!instrument) {
        status.textContent = 'no windows yet: start a producer (README: market data)';
        return;
      }
      const { windows } = await json('/market/instruments/' + encodeURIComponent(instrument) + '/windows?limit=1440');
      candles.setData(windows.map((w) =>
        w.open === null ? { time: time(w) } : { time: time(w), open: w.open, high: w.high, low: w.low, close: w.close }));
      vwap.setData(windows.map((w) => (w.vwap === null ? { time: time(w) } : { time: time(w), value: w.vwap })));
      ewma.setData(windows.map((w) => (w.ewma === null ? { time: time(w) } : { time: time(w), value: w.ewma })));
      // A new instrument: show its last two hours; after that the reader's scroll and zoom are kept.
      if (drawnFor !== instrument) {
        chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, windows.length - 120), to: windows.length + 2 });
      }
      drawnFor = instrument;
      const unrecovered = windows.reduce((n, w) => n + w.unrecovered_trades, 0);
      Object.assign(market, { instrument, windows, unrecovered, error: undefined });
      const last = windows[windows.length - 1];
      status.textContent = windows.length + ' windows' + (last ? ', newest ' + last.window_start : '') +
        (unrecovered > 0 ? ', ' + unrecovered + ' trades missing (unrecovered gaps)' : '') +
        ', refreshed ' + new Date().toISOString().slice(11, 19) + ' UTC';
    } catch (err) {
      market.error = String(err);
      status.textContent = 'not refreshed: ' + err.message;
    } finally {
      market.refreshes += 1;
    }
  }
  void refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`;
