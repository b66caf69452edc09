// meshbox page: a trend under each sensor card and an on/off timeline under
// each output, from GET /api/history, drawn with uPlot (vendored:
// vendor/uplot-*.js, MIT). app.js calls attach() after rendering the
// layout and ctl.onValue(v) for every live value.
'use strict';
(() => {
  // [label, seconds, step]: 1 h raw; 24 h in 1-minute and 7 d in 15-minute buckets.
  const RANGES = [['1h', 3600, ''], ['24h', 86400, '1m'], ['7d', 604800, '15m']];
  const SENSOR = new Set(['gauge', 'label', 'sparkline', 'progressRing']);
  const OUTPUT = new Set(['toggle', 'slider']);

  function num(v) {
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number' && isFinite(v)) return v;
    return null;
  }

  async function fetchHistory(field, range, token) {
    const [, secs, step] = range;
    const q = new URLSearchParams({ field, since: secs + 's' });
    if (step) q.set('step', step);
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const res = await fetch('/api/history?' + q, { headers, cache: 'no-store' });
    if (!res.ok) return null;
    return res.json();
  }

  function accent() {
    return getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#667eea';
  }

  // toData turns the API's points into uPlot columns (seconds, values...).
  function toData(ans) {
    const pts = ans.points || [];
    const cols = [[], [], [], []];
    for (const p of pts) {
      cols[0].push(p[0] / 1000);
      cols[1].push(p[1]);
      if (p.length === 4) { cols[2].push(p[2]); cols[3].push(p[3]); }
    }
    return pts.length && pts[0].length === 4 ? cols : cols.slice(0, 2);
  }

  function makeChart(wrap, data, output) {
    const color = accent();
    const series = [{}, {
      label: 'value', stroke: color, width: 1.5, fill: color + '22', points: { show: false },
      paths: output ? uPlot.paths.stepped({ align: 1 }) : undefined,
    }];
    if (data.length === 4) {
      series.push({ label: 'min', stroke: color + '66', width: 1, points: { show: false } });
      series.push({ label: 'max', stroke: color + '66', width: 1, points: { show: false } });
    }
    const opts = {
      width: Math.max(120, wrap.clientWidth || 240), height: 90,
      legend: { show: false }, cursor: { y: false, points: { show: false } },
      scales: { x: { time: true }, y: output ? { range: [-0.05, 1.05] } : { auto: true } },
      axes: [
        { size: 22, font: '10px sans-serif', stroke: '#8e8e93', grid: { show: false }, ticks: { size: 3 } },
        output
          ? { size: 28, font: '10px sans-serif', stroke: '#8e8e93', splits: () => [0, 1], values: (u, s) => s.map((v) => (v ? 'on' : 'off')) }
          : { size: 40, font: '10px sans-serif', stroke: '#8e8e93', grid: { stroke: '#8e8e9333' } },
      ],
      series,
      hooks: { draw: [(u) => { wrap.dataset.points = String(u.data[0].length); }] },
    };
    return new uPlot(opts, data, wrap);
  }

  function attachOne(ctl, token) {
    const def = ctl.def;
    const output = OUTPUT.has(def.type);
    const trend = document.createElement('div');
    trend.className = 'trend';
    trend.dataset.field = def.id;
    const bar = document.createElement('div');
    bar.className = 'ranges';
    const wrap = document.createElement('div');
    wrap.className = 'chart';
    trend.append(wrap, bar);
    let chart = null, range = RANGES[0], data = null, loaded = false, seq = 0;

    async function load(r) {
      range = r;
      for (const b of bar.children) b.setAttribute('aria-pressed', String(b.dataset.range === r[0]));
      const my = ++seq;
      const ans = await fetchHistory(def.id, r, token).catch(() => null);
      if (my !== seq) return;
      if (!ans) { if (!loaded) trend.remove(); return; }
      loaded = true;
      if (!trend.isConnected) ctl.el.append(trend);
      trend.dataset.unit = ans.unit || '';
      data = toData(ans);
      if (chart) chart.destroy();
      wrap.replaceChildren();
      // No history yet (a new series): no empty chart until a value arrives.
      trend.hidden = data[0].length === 0;
      chart = makeChart(wrap, data, output);
      trend.dataset.range = r[0];
    }
    for (const r of RANGES) {
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'range'; b.textContent = r[0]; b.dataset.range = r[0];
      b.addEventListener('click', () => load(r));
      bar.append(b);
    }
    // Live values extend the 1 h view (the others are buckets; reload them).
    ctl.onValue = (v) => {
      const y = num(v);
      if (y === null || !chart || !data || range !== RANGES[0]) return;
      const t = Date.now() / 1000;
      const n = data[0].length;
      if (n && (t - data[0][n - 1] < 1 && data[1][n - 1] === y)) return;
      data[0].push(t); data[1].push(y);
      while (data[0].length && data[0][0] < t - range[1]) { data[0].shift(); data[1].shift(); }
      if (trend.hidden) {
        trend.hidden = false;
        chart.setSize({ width: Math.max(120, wrap.clientWidth || 240), height: 90 });
      }
      chart.setData(data);
    };
    ctl.trend = { load, get chart() { return chart; } };
    load(RANGES[0]);
  }

  // attach adds a trend to every sensor and output card the box keeps
  // history for (a 404 from the API: no trend).
  function attach(controls, token) {
    if (typeof uPlot === 'undefined') return;
    for (const ctl of controls) {
      if (ctl.trend || !(SENSOR.has(ctl.def.type) || OUTPUT.has(ctl.def.type))) continue;
      attachOne(ctl, token);
    }
  }

  globalThis.meshboxHistory = { attach };
})();
