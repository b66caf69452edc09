// meshbox page: renders /layout.json and speaks MeshSocket to the relay on
// this same host, exactly like the phone app: identify, broadcast_request
// with {"msg_type":"cmd",...}, broadcast frames matched by filter+valuePath.
'use strict';
(() => {
  const TOKEN_KEY = 'meshbox.token';
  const $ = (id) => document.getElementById(id);
  const me = 'page-' + Math.random().toString(16).slice(2, 8);
  let session = null, layout = null, ws = null, token = '';
  let room = null;              // the room cipher in an encrypted room (§15.5)
  let retry = 1000, reconnectTimer = null;
  let live = false;             // welcomed by the relay: controls may act
  const controls = [];          // {def, el, set(value), clear(), inputs, stateful, known}
  const pending = new Map();    // _cmd -> control
  const synced = new Map();     // control id -> last value from the box

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // --- §14.5 matching rules -------------------------------------------
  function jsonEqual(a, b) {
    if (a === null || typeof a !== 'object') return a === b;
    if (b === null || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  function matches(filter, frame) {
    if (!filter) return true;
    if (!frame || typeof frame !== 'object' || Array.isArray(frame)) return false;
    return Object.keys(filter).every((k) => k in frame && jsonEqual(filter[k], frame[k]));
  }
  function walk(frame, path) {
    let cur = frame;
    for (const seg of (path || '').split('.')) {
      if (seg === '') continue;
      if (Array.isArray(cur)) {
        if (!/^\d+$/.test(seg) || +seg >= cur.length) return undefined;
        cur = cur[+seg];
      } else if (cur && typeof cur === 'object') {
        if (!(seg in cur)) return undefined;
        cur = cur[seg];
      } else return undefined;
    }
    return cur;
  }

  // --- formatting ------------------------------------------------------
  function fmt(def, v) {
    if (typeof v === 'boolean') return v ? 'on' : 'off';
    const f = def.formatValue || '';
    let s = String(v);
    if (typeof v === 'number') {
      const m = /^decimal:(\d+)$/.exec(f);
      s = m ? v.toFixed(+m[1]) : String(Math.round(v * 100) / 100);
    }
    if (f.startsWith('suffix:')) s += f.slice(7);
    if (f.startsWith('prefix:')) s = f.slice(7) + s;
    return s;
  }
  function truthy(v) {
    if (typeof v === 'string') return ['true', 'on', '1', 'yes'].includes(v.toLowerCase());
    return !!v;
  }

  // --- icons -----------------------------------------------------------
  // The layout names SF Symbols (the phone draws them); the page draws the
  // nearest Unicode glyph for the families meshbox's layouts use.
  const ICONS = [
    [/^power|^bolt/, '⏻'], [/^lightbulb|^lamp/, '💡'], [/^fan/, '🌀'], [/^thermometer/, '🌡'],
    [/^humidity|^drop|^water|^cloud\.rain/, '💧'], [/^sun|^light/, '☀'], [/^barometer|^gauge/, '⏲'],
    [/^dial|^slider/, '🎚'], [/^hand\.tap|^button/, '👆'], [/^door|^lock/, '🚪'], [/^flame|^heat/, '🔥'],
    [/^circle|^record/, '●'], [/^text|^doc/, '🗒'], [/^paperplane|^arrow/, '➤'], [/^bell/, '🔔'],
    [/^wind|^air/, '💨'], [/^leaf|^tree|^camera\.macro/, '🌱'], [/^battery/, '🔋'], [/^clock|^timer/, '⏱'],
  ];
  function iconGlyph(name) {
    if (!name) return '';
    for (const [re, g] of ICONS) if (re.test(name)) return g;
    return '';
  }

  // --- rendering -------------------------------------------------------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k) e.append(k);
    return e;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }

  function renderControl(def) {
    const box = el('div', { class: 'ctl ' + def.type, 'data-control': def.id, 'data-type': def.type });
    // Spans only: the page's grid flows densely (layout order, no holes
    // where a half-width card meets a full-width one); the phone keeps
    // the layout's positions.
    const [rs, cs] = def.span || [1, 1];
    box.style.gridRow = `span ${rs}`;
    box.style.gridColumn = `span ${cs}`;
    const name = el('div', { class: 'name' });
    const glyph = iconGlyph(def.icon);
    if (glyph) name.append(el('span', { class: 'icon', 'aria-hidden': 'true', text: glyph }));
    name.append(def.label || def.id);
    // clear() draws "value unknown" (no position, '–'); set(v) returns
    // false when it could not show v.
    const ctl = { def, el: box, set: () => {}, clear: () => {}, inputs: [], stateful: false, known: false };
    switch (def.type) {
      case 'toggle': {
        const input = el('input', { type: 'checkbox', role: 'switch', 'aria-label': def.label || def.id });
        const sw = el('label', { class: 'switch' }, input, el('span'));
        const val = el('div', { class: 'val', 'data-value': '' });
        ctl.hint = el('div', { class: 'hint', 'data-hint': '' });
        box.append(name, el('div', { class: 'row' }, val, sw), ctl.hint);
        ctl.inputs.push(input);
        ctl.stateful = true;
        ctl.set = (v) => {
          input.indeterminate = false;
          input.checked = truthy(v); val.textContent = truthy(v) ? 'on' : 'off'; val.dataset.value = String(truthy(v));
        };
        ctl.clear = () => { input.checked = false; input.indeterminate = true; val.textContent = '–'; val.dataset.value = ''; };
        input.addEventListener('change', () => fire(ctl, input.checked));
        break;
      }
      case 'button': {
        // The card names the control; the button says what it does.
        const verb = def.action?.payload?.msg_type === 'command' ? 'Send' : 'Press';
        const b = el('button', { type: 'button', text: verb, 'aria-label': `${verb}: ${def.label || def.id}` });
        const val = el('div', { class: 'val small', text: '', 'data-value': '' });
        box.append(name, el('div', { class: 'row' }, val, b));
        ctl.inputs.push(b);
        b.addEventListener('click', () => fire(ctl, true));
        // A momentary output reports true during its pulse, then false.
        ctl.set = (v) => {
          if (typeof v !== 'boolean') return false;
          box.classList.toggle('active', v);
          val.textContent = v ? 'on' : ''; val.dataset.value = String(v);
        };
        ctl.clear = () => { box.classList.remove('active'); val.textContent = ''; val.dataset.value = ''; };
        break;
      }
      case 'slider': {
        const min = def.min ?? 0, max = def.max ?? 100, step = def.step ?? 1;
        const input = el('input', { type: 'range', min, max, step, value: min, 'aria-label': def.label || def.id });
        const val = el('div', { class: 'val', 'data-value': '' });
        box.append(el('div', { class: 'row' }, name, val), input);
        ctl.inputs.push(input);
        ctl.stateful = true;
        ctl.set = (v) => { input.value = v; val.textContent = fmt(def, Number(v)); val.dataset.value = String(v); };
        ctl.clear = () => { input.value = min; val.textContent = '–'; val.dataset.value = ''; };
        input.addEventListener('input', () => { val.textContent = fmt(def, Number(input.value)); });
        input.addEventListener('change', () => fire(ctl, Number(input.value)));
        break;
      }
      case 'stepper': { // a thermostat's target: − value +
        const min = def.min ?? 0, max = def.max ?? 100, step = def.step ?? 1;
        const minus = el('button', { type: 'button', text: '−', 'aria-label': `lower ${def.label || def.id}` });
        const plus = el('button', { type: 'button', text: '+', 'aria-label': `raise ${def.label || def.id}` });
        const val = el('div', { class: 'val', 'data-value': '' });
        box.append(name, el('div', { class: 'row' }, minus, val, plus));
        ctl.inputs.push(minus, plus);
        ctl.stateful = true;
        let cur = null;
        ctl.set = (v) => {
          if (typeof v !== 'number') return false;
          cur = v; val.textContent = fmt(def, v); val.dataset.value = String(v);
        };
        ctl.clear = () => { cur = null; val.textContent = '–'; val.dataset.value = ''; };
        const nudge = (d) => {
          if (cur === null) return;
          const next = Math.min(max, Math.max(min, Math.round((cur + d) / step) * step));
          if (next !== cur) fire(ctl, next);
        };
        minus.addEventListener('click', () => nudge(-step));
        plus.addEventListener('click', () => nudge(step));
        break;
      }
      case 'logConsole': { // notifications: newest first, at most 200
        const list = el('ol', { class: 'log', 'aria-live': 'polite' });
        box.append(name, list);
        ctl.set = (v) => {
          const text = typeof v === 'string' ? v : (v && typeof v.text === 'string' ? v.text : null);
          if (text === null) return false;
          const t = new Date().toLocaleTimeString();
          list.prepend(el('li', { text: `${t}  ${text}` }));
          while (list.children.length > 200) list.lastChild.remove();
        };
        ctl.clear = () => {}; // the log survives going offline
        break;
      }
      case 'gauge': {
        const min = def.min ?? 0, max = def.max ?? 100;
        const g = svg('svg', { viewBox: '0 0 100 56', 'aria-hidden': 'true' });
        const arc = 'M 8 50 A 42 42 0 0 1 92 50';
        const len = Math.PI * 42;
        g.append(svg('path', { d: arc, class: 'track', fill: 'none', 'stroke-width': 8, 'stroke-linecap': 'round' }));
        const bar = svg('path', { d: arc, class: 'bar', fill: 'none', 'stroke-width': 8, 'stroke-linecap': 'round', 'stroke-dasharray': `0 ${len}` });
        g.append(bar);
        const val = el('div', { class: 'val', text: '–', 'data-value': '' });
        box.append(name, g, val, el('div', { class: 'range' }, el('span', { text: String(min) }), el('span', { text: String(max) })));
        ctl.set = (v) => {
          if (typeof v !== 'number') return false;
          const f = Math.min(1, Math.max(0, (v - min) / (max - min)));
          bar.setAttribute('stroke-dasharray', `${f * len} ${len}`);
          bar.style.visibility = '';
          val.textContent = fmt(def, v); val.dataset.value = String(v);
        };
        // No reading: no bar at all (a round cap would draw a dot at the minimum).
        ctl.clear = () => { bar.setAttribute('stroke-dasharray', `0 ${len}`); bar.style.visibility = 'hidden'; val.textContent = '–'; val.dataset.value = ''; };
        break;
      }
      case 'statusLight': {
        const light = el('span', { class: 'light', 'data-on': 'false' });
        const val = el('div', { class: 'val', text: '–', 'data-value': '' });
        box.append(name, el('div', { class: 'row' }, val, light));
        ctl.set = (v) => {
          const colors = def.statusColors || {};
          const key = String(v);
          light.dataset.on = String(truthy(v));
          if (colors[key]) light.style.background = colors[key];
          val.textContent = typeof v === 'boolean' ? (v ? 'active' : 'idle') : String(v);
          val.dataset.value = String(v);
        };
        ctl.clear = () => { light.dataset.on = 'false'; light.style.background = ''; val.textContent = '–'; val.dataset.value = ''; };
        break;
      }
      case 'sparkline': { // §14.4: a number appends, an array replaces the buffer
        const cap = def.sparklinePoints || 50;
        const line = svg('polyline', { class: 'spark', fill: 'none', 'stroke-width': 2, points: '' });
        const g = svg('svg', { viewBox: '0 0 100 30', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
        g.append(line);
        const val = el('div', { class: 'val', text: '–', 'data-value': '' });
        box.append(name, val, g);
        let buf = [];
        const draw = () => {
          const lo = Math.min(...buf), hi = Math.max(...buf), span = hi - lo || 1;
          const n = Math.max(buf.length - 1, 1);
          line.setAttribute('points', buf.map((y, i) => `${(i / n * 100).toFixed(2)},${(28 - (y - lo) / span * 26).toFixed(2)}`).join(' '));
          box.dataset.points = String(buf.length);
        };
        ctl.set = (v) => {
          if (Array.isArray(v)) buf = v.filter((x) => typeof x === 'number' && isFinite(x)).slice(-cap);
          else if (typeof v === 'number' && isFinite(v)) buf = buf.concat([v]).slice(-cap);
          else return false;
          if (!buf.length) return false;
          val.textContent = fmt(def, buf[buf.length - 1]); val.dataset.value = String(buf[buf.length - 1]);
          draw();
        };
        ctl.clear = () => { buf = []; line.setAttribute('points', ''); val.textContent = '–'; val.dataset.value = ''; box.dataset.points = '0'; };
        break;
      }
      default: { // label, anything else: show the scalar
        const val = el('div', { class: 'val' + (def.style === 'mono' ? ' mono' : ''), text: '–', 'data-value': '' });
        box.append(name, val);
        ctl.set = (v) => {
          if (v !== null && typeof v === 'object') return false;
          val.textContent = fmt(def, v); val.dataset.value = String(v);
        };
        ctl.clear = () => { val.textContent = '–'; val.dataset.value = ''; };
      }
    }
    // A switch or slider whose state the box reports stays disabled, with
    // no position, until that state arrives: drawing it "off" would lie.
    ctl.stateful = ctl.stateful && !!(layout.state?.sync || [].concat(def.sync || []).length);
    const show = ctl.set;
    ctl.set = (v) => {
      // null: the value is unknown (a linked box that went away): no
      // stale position, the control greyed out until a value comes.
      if (v === null) { ctl.known = false; ctl.clear(); mark(ctl); return; }
      if (show(v) === false) return;
      ctl.known = true;
      mark(ctl);
      if (ctl.onValue) ctl.onValue(v); // history.js: extends the trend
    };
    ctl.clear();
    mark(ctl);
    return ctl;
  }

  // mark reflects live/known on the control: data-known="false" greys it
  // out; its inputs are enabled only while connected and, for a switch or
  // slider, once its state is known.
  function mark(ctl) {
    ctl.el.dataset.known = String(ctl.known);
    ctl.el.dataset.live = String(live);
    for (const i of ctl.inputs) i.disabled = !live || (ctl.stateful && !ctl.known);
  }

  // setLive: online (welcomed) or not. Going offline forgets every value:
  // outputs may change while the page cannot hear it.
  function setLive(on) {
    live = on;
    if (!on) synced.clear();
    for (const ctl of controls) {
      if (!on && ctl.known) { ctl.known = false; ctl.clear(); }
      mark(ctl);
    }
  }

  function renderLayout() {
    const root = $('tabs');
    root.replaceChildren();
    controls.length = 0;
    document.documentElement.style.setProperty('--accent', layout.accentColor || '#667eea');
    for (const tab of layout.tabs || []) {
      const grid = el('div', { class: 'grid' });
      grid.style.setProperty('--cols', (tab.grid && tab.grid.columns) || 4);
      for (const def of tab.children || []) {
        const ctl = renderControl(def);
        controls.push(ctl);
        grid.append(ctl.el);
      }
      // A linked box that is unavailable: the hub titles its tab "NAME (offline)".
      const offline = typeof tab.title === 'string' && tab.title.endsWith(' (offline)');
      root.append(el('section', { class: 'tab', 'data-offline': String(offline) }, el('h2', { text: tab.title }), grid));
    }
    // Trends from the box's history (history.js); they need the token.
    if (globalThis.meshboxHistory && (token || !session.auth)) globalThis.meshboxHistory.attach(controls, token);
  }

  // --- protocol ----------------------------------------------------------
  function send(type, payload) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    if (room && type === 'broadcast_request') payload = room.seal(payload ?? null);
    ws.send(JSON.stringify({ id: uuid(), type, payload: payload ?? null, reply_to: null }));
    return true;
  }

  function substitute(p, value) {
    if (typeof p === 'string') return p === '{{value}}' ? value : p.split('{{value}}').join(String(value));
    if (Array.isArray(p)) return p.map((x) => substitute(x, value));
    if (p && typeof p === 'object') {
      const o = {};
      for (const [k, v] of Object.entries(p)) o[k] = substitute(v, value);
      return o;
    }
    return p;
  }

  let lastFired = null;          // {id, label, at}: the page's last action

  // hintOther: a switch that went off while the user switched another
  // control (an interlock's break-before-make, say) says why.
  function hintOther(ctl, v) {
    if (!ctl.hint || truthy(v) || !truthy(synced.get(ctl.def.id))) return;
    if (!lastFired || lastFired.id === ctl.def.id || Date.now() - lastFired.at > 3000) return;
    const text = `switched off by the box when ${lastFired.label} was switched`;
    ctl.hint.textContent = text; ctl.hint.dataset.hint = text;
    clearTimeout(ctl.hintTimer);
    ctl.hintTimer = setTimeout(() => { ctl.hint.textContent = ''; ctl.hint.dataset.hint = ''; }, 6000);
  }

  function fire(ctl, value) {
    const a = ctl.def.action;
    if (!a) return;
    lastFired = { id: ctl.def.id, label: ctl.def.label || ctl.def.id, at: Date.now() };
    const payload = substitute(a.payload, value);
    if (layout.state && layout.state.acks && payload && typeof payload === 'object') {
      payload._cmd = uuid();
      payload._from = me;
      pending.set(payload._cmd, ctl);
      ctl.el.classList.add('pending');
      const ms = layout.state.ackTimeoutMs || 2000;
      setTimeout(() => settle(payload._cmd, false, 'no answer from the box'), ms);
    }
    if (!send(a.event || 'broadcast_request', payload)) {
      showError('not connected');
      revert(ctl);
    }
  }

  function revert(ctl) {
    if (synced.has(ctl.def.id)) ctl.set(synced.get(ctl.def.id));
  }

  // The sim panel (simulated board): force a sensor field or an input
  // ({"msg_type":"sim"}), or release it (null); the box acks.
  const simPending = new Set();
  let simReady = false;
  function setupSim(targets) {
    simReady = true;
    const sel = $('sim-target');
    for (const id of targets) sel.append(el('option', { value: id, text: id }));
    const go = (value) => {
      const cmd = uuid();
      simPending.add(cmd);
      $('sim-result').textContent = '…';
      if (!send('broadcast_request', { msg_type: 'sim', target: sel.value, value, _cmd: cmd, _from: me })) {
        $('sim-result').textContent = 'not connected';
      }
    };
    $('sim-set').addEventListener('click', () => {
      const raw = $('sim-value').value.trim();
      const value = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
      if (typeof value === 'number' && (raw === '' || !Number.isFinite(value))) { $('sim-result').textContent = 'a number, true or false'; return; }
      go(value);
    });
    $('sim-release').addEventListener('click', () => go(null));
    $('sim').hidden = false;
  }

  function settle(cmd, ok, error) {
    const ctl = pending.get(cmd);
    if (!ctl) return;
    pending.delete(cmd);
    ctl.el.classList.remove('pending');
    // Sync updates were held off while pending: show the box's latest
    // state (on ok:false or no answer this reverts the optimistic change).
    revert(ctl);
    if (!ok) showError(`${ctl.def.label || ctl.def.id}: ${error || 'refused'}`);
  }

  function apply(id, v) {
    synced.set(id, v);
    for (const ctl of controls) if (ctl.def.id === id && !ctl.el.classList.contains('pending')) ctl.set(v);
  }

  function onBroadcast(p) {
    if (!p || typeof p !== 'object') return;
    if (p.msg_type === 'control_snapshot') {
      if (p.to && p.to !== me) return;
      for (const [id, v] of Object.entries(p.controls || {})) apply(id, v);
      return;
    }
    if (p.msg_type === 'command_ack') {
      if (p.to === me && simPending.delete(p.cmd_id)) {
        $('sim-result').textContent = p.ok !== false ? 'ok' : (p.error || 'refused');
        return;
      }
      if (p.to === me) settle(p.cmd_id, p.ok !== false, p.error);
      return;
    }
    for (const ctl of controls) {
      for (const s of [].concat(ctl.def.sync || [])) {
        if ((s.method || 'meshsocket') !== 'meshsocket' || s.event !== 'broadcast') continue;
        if (!matches(s.filter, p)) continue;
        const v = walk(p, s.valuePath);
        if (v === undefined) continue;
        hintOther(ctl, v);
        synced.set(ctl.def.id, v);
        if (!ctl.el.classList.contains('pending')) ctl.set(v);
      }
    }
    // Buttons (momentary outputs) have no sync in the layout; the page
    // still shows the pulse from the box's state frames.
    if (p.msg_type === 'state' && typeof p.target === 'string') {
      for (const ctl of controls) if (ctl.def.type === 'button' && ctl.def.id === p.target) ctl.set(p.value);
    }
  }

  function setConn(state, text) {
    const c = $('conn');
    c.dataset.state = state;
    c.textContent = text;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
    setConn('connecting', 'connecting…');
    ws = new WebSocket(url);
    ws.onopen = () => {
      ws.send(JSON.stringify({ id: uuid(), type: 'identify', reply_to: null, payload: {
        name: me, channel: session.channel, role: 'controller', token: token || null,
        can_broadcast: true, can_route: false, can_monitor: false, broadcast_scope: 'channel',
      } }));
    };
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (!f || typeof f !== 'object') return;
      if (f.type === 'welcome') {
        retry = 1000;
        setConn('online', 'live');
        setLive(true);
        hideError();
        send('broadcast_request', { msg_type: 'control_sync_request', from: me, dynamic: [] });
      } else if (f.type === 'broadcast') {
        // In an encrypted room only envelopes that open with the key count.
        onBroadcast(room ? room.open(f.payload) : f.payload);
      } else if (f.type === 'apply-layout' && !f.reply_to) {
        // Pushed by the box like to a phone (§14.11): render it and say what rendered.
        const l = room ? room.open(f.payload) : f.payload;
        if (room && l === undefined) return;
        const reply = applyLayout(l);
        ws.send(JSON.stringify({ id: uuid(), type: 'apply-layout', payload: room ? room.seal(reply) : reply, reply_to: f.id }));
      } else if (f.type === 'ping' && !f.reply_to) {
        ws.send(JSON.stringify({ id: uuid(), type: 'ping', payload: 'pong', reply_to: f.id }));
      }
    };
    ws.onclose = (ev) => {
      setConn('offline', 'offline');
      setLive(false);
      if (ev.code === 1008 && ev.reason === 'unauthorized') {
        localStorage.removeItem(TOKEN_KEY);
        token = '';
        $('login').hidden = false;
        showError('The token was refused.');
        return;
      }
      if (ev.code === 1008) showError('The box refused the connection: ' + (ev.reason || 'policy'));
      reconnectTimer = setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  function applyLayout(l) {
    if (!l || typeof l !== 'object' || !Array.isArray(l.tabs)) return { ok: false, error: 'missing required field: tabs' };
    const strip = (x) => JSON.stringify(Object.assign({}, x, { connection: null }));
    if (!layout || strip(l) !== strip(layout)) { // the same layout: keep the live DOM
      layout = l;
      renderLayout();
      for (const [id, v] of synced) apply(id, v);
    }
    return { ok: true, rendered: { name: l.name, tabs: l.tabs.length, controls: controls.length } };
  }

  // setHint shows a server hint as text; `quoted` parts become <code>.
  function setHint(e, text) {
    e.replaceChildren(...text.split('`').map((part, i) => (i % 2 ? el('code', { text: part }) : part)));
  }

  function showError(msg) { const e = $('error'); e.textContent = msg; e.hidden = false; }
  function hideError() { $('error').hidden = true; }

  // --- pairing -----------------------------------------------------------
  let qrShown = null, pollTimer = null, countdown = null;
  function authHeaders() { return token ? { Authorization: 'Bearer ' + token } : {}; }

  async function showPairing() {
    const s = session.pairing;
    clearTimeout(countdown);
    if (!s.open) {
      qrShown = null;
      $('pairing-open').hidden = true;
      $('pairing-closed').hidden = false;
      setHint($('pairing-closed'), s.hint || 'Pairing is closed.');
      return;
    }
    if (qrShown !== s.qr || $('pairing-open').hidden) {
      const res = await fetch('/pairing.png', { cache: 'no-store' });
      if (!res.ok) {
        $('pairing-open').hidden = true;
        $('pairing-closed').hidden = false;
        setHint($('pairing-closed'), s.hint || (await res.text()));
        return;
      }
      $('qr').src = URL.createObjectURL(await res.blob());
      qrShown = s.qr;
    }
    $('pairing-open').hidden = false;
    $('pairing-closed').hidden = true;
    if (s.closesIn) {
      const end = Date.now() + s.closesIn * 1000;
      const tick = () => {
        const left = Math.max(0, Math.round((end - Date.now()) / 1000));
        $('pairing-left').textContent = left ? `Pairing closes in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}.` : '';
        if (left) countdown = setTimeout(tick, 1000);
      };
      tick();
    } else {
      $('pairing-left').textContent = '';
    }
  }

  // While pairing is open the QR changes once a phone used its token, and
  // the window closes: poll the session (cheap) to follow both.
  function pollPairing() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      try {
        const res = await fetch('/api/session', { headers: authHeaders(), cache: 'no-store' });
        const s = await res.json();
        if (s && s.pairing) { session.pairing = s.pairing; showPairing(); }
      } catch { /* offline: try again */ }
      pollPairing();
    }, 3000);
  }

  async function loadSession() {
    const stored = localStorage.getItem(TOKEN_KEY) || '';
    const headers = stored ? { Authorization: 'Bearer ' + stored } : {};
    session = await (await fetch('/api/session', { headers, cache: 'no-store' })).json();
    if (stored && !session.member && session.auth) localStorage.removeItem(TOKEN_KEY); // refused (revoked)
    token = session.token || (session.member ? stored : '');
    if (session.token) localStorage.setItem(TOKEN_KEY, session.token); // minted for this page while pairing is open
    $('box-name').textContent = session.name;
    document.title = session.name + ' · meshbox';
    $('box-url').textContent = session.pageUrl || '';
    $('box-channel').textContent = session.channel || '–';
    $('forget-wrap').hidden = !token;
    if (session.warning) { setHint($('warning'), session.warning); $('warning').hidden = false; }
    if (Array.isArray(session.sim) && session.sim.length && !simReady) setupSim(session.sim);
    room = session.e2ee && session.key ? globalThis.meshboxRoom.create(session.key) : null;
    $('e2ee').hidden = !session.e2ee;
  }

  // --- owner section (the owner credential stays in this tab) -----------
  const OWNER_KEY = 'meshbox.owner';
  async function ownerCall(req) {
    const cred = sessionStorage.getItem(OWNER_KEY) || '';
    const res = await fetch('/api/owner', { method: 'POST', cache: 'no-store',
      headers: { Authorization: 'Bearer ' + cred, 'Content-Type': 'application/json' }, body: JSON.stringify(req) });
    if (res.status === 401 || res.status === 403 || res.status === 429) {
      sessionStorage.removeItem(OWNER_KEY);
      const msg = (await res.text()).trim();
      showOwnerLogin(msg);
      throw new Error(msg);
    }
    const ct = res.headers.get('Content-Type') || '';
    if (!ct.startsWith('application/json')) throw new Error(await res.text());
    const body = await res.json();
    if (!body.ok) throw new Error(body.error || 'failed');
    return body;
  }
  function showOwnerLogin(msg) {
    $('owner-login').hidden = false;
    $('owner-panel').hidden = true;
    $('owner-msg').textContent = msg || '';
  }
  function pngURL(b64) {
    const bin = atob(b64), a = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i);
    return URL.createObjectURL(new Blob([a], { type: 'image/png' }));
  }
  async function ownerRefresh() {
    const st = await ownerCall({ op: 'tokens' });
    $('owner-login').hidden = true;
    $('owner-panel').hidden = false;
    $('owner-msg').textContent = '';
    $('owner-warning').hidden = !st.warning;
    if (st.warning) $('owner-warning').textContent = st.warning;
    $('owner-state').textContent = st.open ? 'Pairing is open' + (st.until ? ' until ' + new Date(st.until).toLocaleTimeString() : '') + '.' : 'Pairing is closed.';
    const rows = (st.tokens || []).map((t) => {
      const b = el('button', { type: 'button', class: 'link', 'data-revoke': t.id, text: 'revoke' });
      b.addEventListener('click', async () => {
        try { await ownerCall({ op: 'revoke', id: t.id }); } catch (e) { $('owner-msg').textContent = String(e.message || e); }
        ownerRefresh().catch(() => {});
      });
      return el('tr', { 'data-token': t.id }, el('td', { text: t.label + (t.pending ? ' (not used yet)' : '') }),
        el('td', { text: t.scope }), el('td', { text: t.last_seen ? new Date(t.last_seen).toLocaleString() : 'never' }), el('td', {}, b));
    });
    $('owner-tokens').replaceChildren(...rows);
  }
  function setupOwner() {
    $('owner-login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(OWNER_KEY, $('owner-cred').value.trim());
      $('owner-cred').value = '';
      ownerRefresh().catch((e) => { $('owner-msg').textContent = String(e.message || e); });
    });
    const act = (id, req, after) => $(id).addEventListener('click', async () => {
      try { const r = await ownerCall(req()); if (after) after(r); } catch (e) { $('owner-msg').textContent = String(e.message || e); }
      ownerRefresh().catch(() => {});
    });
    act('owner-pair', () => ({ op: 'pair' }), async () => { await loadSession(); showPairing(); pollPairing(); });
    act('owner-close', () => ({ op: 'close' }), async () => { await loadSession(); showPairing(); });
    act('owner-viewer', () => ({ op: 'viewer', label: $('owner-viewer-label').value.trim(), png: true }), (r) => {
      $('owner-viewer-qr').src = pngURL(r.qr_png);
      $('owner-viewer-wrap').hidden = false;
    });
    $('owner-logout').addEventListener('click', () => { sessionStorage.removeItem(OWNER_KEY); showOwnerLogin(''); });
    if (sessionStorage.getItem(OWNER_KEY)) ownerRefresh().catch(() => {});
  }

  async function main() {
    const params = new URLSearchParams(location.search);
    if (params.get('token')) {
      localStorage.setItem(TOKEN_KEY, params.get('token'));
      history.replaceState(null, '', location.pathname);
    }
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      localStorage.setItem(TOKEN_KEY, $('login-token').value.trim());
      location.reload();
    });
    $('forget').addEventListener('click', () => { localStorage.removeItem(TOKEN_KEY); location.reload(); });
    setupOwner();
    try {
      await loadSession();
      const res = await fetch('/layout.json', { headers: authHeaders(), cache: 'no-store' });
      layout = res.ok ? await res.json() : null;
    } catch (e) {
      showError('Cannot reach the box: ' + e);
      return;
    }
    if (layout) renderLayout();
    showPairing();
    if (session.pairing.open) pollPairing();
    if (session.auth && !token) {
      $('login').hidden = false;
      setConn('offline', 'no token');
      return;
    }
    if (session.e2ee && !room) { // the key comes only with the token
      $('login').hidden = false;
      setConn('offline', 'no room key');
      showError('This room is end-to-end encrypted: the key comes with the token (pairing, or log in with the token).');
      return;
    }
    connect();
  }

  main();
})();
