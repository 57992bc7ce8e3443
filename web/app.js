/*
 * app.js: flexbed's dashboard (docs/dashboard.md). Plain JavaScript, no
 * framework and nothing loaded from elsewhere: it reads the market's
 * HTTP/JSON API (docs/api.md) from the server that served it, listens to
 * the websocket channel (/ws, subprotocol flexbed-notify) and redraws the
 * view it shows when something happens.
 */
'use strict';

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

async function api(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
  return body;
}

/* Every page of a list endpoint (the server returns at most 1000 rows). */
async function apiAll(path, member, key) {
  let all = [];
  let after = key === 'height' ? -1 : 0;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = (await api(path + sep + 'after=' + after + '&limit=1000'))[member];
    all = all.concat(page);
    if (page.length < 1000) return all;
    after = page[page.length - 1][key];
  }
}

/* ---- formatting ---- */

let utcOffset = 0; /* seconds: the scenario's local time, when a run says it */
const eur = (ueur) => (ueur / 1e6).toFixed(2);
const kw = (w) => (w / 1000).toFixed(1);
const kwh = (wh) => (wh == null ? '' : (wh / 1000).toFixed(2));
function time(us) {
  if (us == null) return '';
  const d = new Date(us / 1000 + utcOffset * 1000);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}
function hhmm(us) {
  return time(us).slice(11, 16);
}
const short = (addr) => (addr ? addr.slice(0, 8) + '…' + addr.slice(-4) : '');

function table(cols, rows, totals) {
  const t = el('table');
  t.append(el('tr', {}, ...cols.map((c) => el('th', { class: c.num ? 'num' : '' }, c.h))));
  for (const r of rows)
    t.append(el('tr', {}, ...cols.map((c) => el('td', { class: c.num ? 'num' : '' }, c.f(r)))));
  if (totals) {
    const tr = el('tr', { class: 'total' });
    cols.forEach((c, i) => tr.append(el('td', { class: c.num ? 'num' : '' }, totals[i] ?? '')));
    t.append(tr);
  }
  return t;
}

function card(k, v) {
  return el('div', { class: 'card' }, el('div', { class: 'k' }, k), el('div', { class: 'v' }, v));
}

function fill(target, ...nodes) {
  const t = $(target);
  t.replaceChildren(...nodes);
}

/* ---- Market ---- */

async function showMarket() {
  let m;
  try {
    m = await api('/api/market');
  } catch (e) {
    fill('#market-summary', el('p', { class: 'empty' }, 'No market in this database yet: ' + e.message));
    return;
  }
  const [participants, requests, offers, settlements, allMatches, dispatch] = await Promise.all([
    apiAll('/api/participants', 'participants', 'seq'),
    apiAll('/api/requests', 'requests', 'id'),
    apiAll('/api/offers', 'offers', 'id'),
    apiAll('/api/settlements', 'settlements', 'id'),
    apiAll('/api/matches', 'matches', 'id'),
    apiAll('/api/dispatch', 'dispatch', 'id'),
  ]);
  /* a market that measures against a baseline, or pays reservations:
   * their figures beside each match */
  const measured = m.params.baseline && m.params.baseline !== 'metered';
  const reserved = allMatches.some((x) => x.availability_ueur > 0);
  const deliveries = measured ? await apiAll('/api/deliveries', 'deliveries', 'id') : [];
  const dOf = Object.fromEntries(deliveries.map((d) => [d.match_id, d]));
  const extra = [
    ...(measured ? [
      { h: 'baseline, kWh', num: 1, f: (x) => kwh((dOf[x.id] || {}).baseline_wh) },
      { h: 'metered, kWh', num: 1, f: (x) => kwh((dOf[x.id] || {}).measured_wh) },
    ] : []),
    ...(reserved ? [
      { h: 'availability, EUR', num: 1, f: (x) => eur(x.availability_ueur) },
      { h: 'availability paid, EUR', num: 1, f: (x) => (x.state === 'settled' ? eur(x.availability_paid_ueur) : '') },
    ] : []),
  ];
  const names = Object.fromEntries(participants.map((p) => [p.address, p.name]));
  const who = (a) => names[a] || short(a);
  fill('#market-summary',
    card('requests', requests.length), card('offers', offers.length),
    card('wallets, EUR', eur(m.wallets_ueur)), card('escrow, EUR', eur(m.escrow_ueur)),
    card('deposited, EUR', eur(m.deposited_ueur)),
    card('blocks', m.height + 1), card('pending tx', m.pending), card('pricing', m.params.pricing),
    card('delivery measured', measured ? 'against ' + m.params.baseline : 'as metered'));

  const blocks = [];
  for (const r of requests) {
    /* in merit order, as the engine ranked them */
    const matches = allMatches.filter((x) => x.request_id === r.id).sort((a, b) => a.merit - b.merit || a.id - b.id);
    const head = el('h3', {}, 'Request ' + r.id + ' by ' + who(r.dso) + ' at ' + r.location + ', ' +
      time(r.start_us) + '–' + hhmm(r.end_us) + ', ' + kw(r.p_w) + ' kW, up to EUR ' +
      eur(r.max_price_ueur_per_kwh) + '/kWh ', el('span', { class: 'state' }, r.state));
    const sum = (f) => matches.reduce((a, x) => a + (x[f] || 0), 0);
    const delivered = matches.some((x) => x.delivered_wh != null);
    blocks.push(el('div', { class: 'request', 'data-request': r.id }, head, matches.length
      ? table([
        { h: 'match', f: (x) => x.id },
        { h: 'offer', f: (x) => x.offer_id },
        { h: 'FSP', f: (x) => who(x.fsp) },
        { h: 'asset', f: (x) => x.asset_id },
        { h: 'kW', num: 1, f: (x) => kw(x.p_w) },
        { h: 'EUR/kWh', num: 1, f: (x) => eur(x.price_ueur_per_kwh) },
        { h: 'amount, EUR', num: 1, f: (x) => eur(x.amount_ueur) },
        { h: 'delivered, kWh', num: 1, f: (x) => kwh(x.delivered_wh) },
        { h: 'payout, EUR', num: 1, f: (x) => (x.payout_ueur == null ? '' : eur(x.payout_ueur)) },
        { h: 'fee, EUR', num: 1, f: (x) => (x.settle_fee_ueur == null ? '' : eur(x.settle_fee_ueur)) },
        { h: 'to the FSP, EUR', num: 1,
          f: (x) => (x.payout_ueur == null ? '' : eur(x.payout_ueur - (x.settle_fee_ueur || 0))) },
        { h: 'state', f: (x) => x.state },
        ...extra,
      ], matches, ['total', '', '', '', kw(sum('p_w')), '', eur(sum('amount_ueur')),
        delivered ? kwh(sum('delivered_wh')) : '', eur(sum('payout_ueur')), eur(sum('settle_fee_ueur')),
        eur(sum('payout_ueur') - sum('settle_fee_ueur')), '', ...extra.map(() => '')])
      : el('p', { class: 'empty' }, 'no matches')));
  }
  fill('#market-requests', ...(blocks.length ? blocks : [el('p', { class: 'empty' }, 'no requests')]));
  fill('#market-offers', table([
    { h: 'offer', f: (o) => o.id },
    { h: 'FSP', f: (o) => who(o.fsp) },
    { h: 'asset', f: (o) => o.asset_id },
    { h: 'location', f: (o) => o.location },
    { h: 'window', f: (o) => time(o.start_us) + '–' + hhmm(o.end_us) },
    { h: 'kW', num: 1, f: (o) => kw(o.p_w) },
    { h: 'EUR/kWh', num: 1, f: (o) => eur(o.price_ueur_per_kwh) },
    { h: 'remaining kW', num: 1, f: (o) => kw(o.remaining_w) },
    { h: 'state', f: (o) => o.state },
  ], offers));
  fill('#market-participants', table([
    { h: 'name', f: (p) => p.name },
    { h: 'role', f: (p) => p.role },
    { h: 'address', f: (p) => el('span', { class: 'mono' }, p.address) },
    { h: 'balance, EUR', num: 1, f: (p) => eur(p.balance_ueur) },
    { h: 'nonce', num: 1, f: (p) => p.nonce },
  ], participants));
  const matchById = Object.fromEntries(allMatches.map((x) => [x.id, x]));
  fill('#market-dispatch', dispatch.length ? table([
    { h: 'dispatch', f: (d) => d.id },
    { h: 'match', f: (d) => d.match_id },
    { h: 'FSP', f: (d) => who((matchById[d.match_id] || {}).fsp) },
    { h: 'asset', f: (d) => d.asset_id },
    { h: 'window', f: (d) => time(d.start_us) + '–' + hhmm(d.end_us) },
    { h: 'kW', num: 1, f: (d) => kw(d.p_w) },
    { h: 'delivered, kWh', num: 1, f: (d) => kwh((matchById[d.match_id] || {}).delivered_wh) },
  ], dispatch) : el('p', { class: 'empty' }, 'nothing dispatched yet'));
  fill('#market-settlements', settlements.length ? table([
    { h: 'request', f: (x) => x.request_id },
    { h: 'match', f: (x) => x.match_id },
    { h: 'FSP', f: (x) => who(x.fsp) },
    { h: 'paid, EUR', num: 1, f: (x) => eur(x.payout_ueur) },
    { h: 'fee, EUR', num: 1, f: (x) => eur(x.fee_ueur) },
    { h: 'refund, EUR', num: 1, f: (x) => eur(x.refund_ueur) },
  ], settlements) : el('p', { class: 'empty' }, 'nothing settled yet'));
}

/* ---- Monitoring ---- */

let runs = [];
let signals = [];
const colours = ['#0b6bcb', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#5c940d'];

async function loadRuns() {
  runs = (await api('/api/runs')).runs;
  const sel = $('#mon-run');
  const keep = sel.value;
  sel.replaceChildren(...runs.map((r) =>
    el('option', { value: r.id }, r.id + ': ' + r.scenario_name + ' (' + r.variant + ', ' + r.status + ')')));
  const main = runs.find((r) => r.variant === 'main');
  sel.value = keep || (main ? main.id : runs.length ? runs[0].id : '');
}

async function loadSignals() {
  const run = $('#mon-run').value;
  signals = run ? (await api('/api/signals?run=' + run)).signals : [];
  const r = runs.find((x) => String(x.id) === run);
  if (r) utcOffset = r.utc_offset_s;
  showSignalList(true);
}

function showSignalList(pickDefault) {
  const f = $('#mon-filter').value.toLowerCase();
  const sel = $('#mon-signals');
  const chosen = new Set([...sel.selectedOptions].map((o) => o.value));
  const list = signals.filter((s) => s.name.toLowerCase().includes(f));
  sel.replaceChildren(...list.map((s) => el('option', { value: s.id }, s.name + ' [' + s.unit + ']')));
  for (const o of sel.options) o.selected = chosen.has(o.value);
  if (pickDefault && !sel.selectedOptions.length) {
    /* the transformer's load first, as the IoT platform's Fig. 10 */
    const pref = list.find((s) => /transformer.*\.(p|s)_k(w|va)$/.test(s.name)) ||
      list.find((s) => /transformer/.test(s.name)) || list[0];
    for (const o of sel.options) o.selected = pref && o.value === String(pref.id);
  }
}

async function series(id) {
  return api('/api/series?signal=' + id);
}

/* The counterfactual run's signal of the same name, if there is one. */
async function counterfactualOf(name) {
  const run = runs.find((r) => String(r.id) === $('#mon-run').value);
  const cf = run && runs.find((r) => r.variant === 'counterfactual' && r.id > run.id);
  if (!cf) return null;
  const s = (await api('/api/signals?run=' + cf.id)).signals.find((x) => x.name === name);
  return s ? series(s.id) : null;
}

function drawChart(lines) {
  const W = 900, H = 340, L = 60, R = 12, T = 12, B = 30;
  const pts = lines.flatMap((l) => l.t.map((t, i) => [t, l.v[i]])).filter((p) => p[1] != null);
  const box = $('#mon-chart');
  if (!pts.length) {
    box.replaceChildren(el('p', { class: 'empty' }, 'choose a signal'));
    return;
  }
  let t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]));
  let v0 = Math.min(0, ...pts.map((p) => p[1])), v1 = Math.max(...pts.map((p) => p[1]));
  if (t1 === t0) t1 = t0 + 1;
  if (v1 === v0) v1 = v0 + 1;
  const pad = (v1 - v0) * 0.05;
  v0 -= pad; v1 += pad;
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const y = (v) => T + (H - T - B) * (1 - (v - v0) / (v1 - v0));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e);
    return e;
  };
  /* round values: 1, 2 or 5 times a power of ten, about 5 lines */
  const raw = (v1 - v0) / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  for (let v = Math.ceil(v0 / step) * step; v <= v1; v += step) {
    add('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) });
    add('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' },
      Math.abs(v) < 1e-9 ? '0' : v.toFixed(Math.max(0, -Math.floor(Math.log10(step)))));
  }
  /* whole hours of local time, at most 8 labels */
  const H_US = 3600e6, span = (t1 - t0) / H_US;
  const every = [1, 2, 3, 4, 6, 12, 24, 48, 168].find((h) => span / h <= 8) || 720;
  const off = utcOffset * 1e6;
  for (let t = Math.ceil((t0 + off) / (every * H_US)) * every * H_US - off; t <= t1; t += every * H_US) {
    add('line', { class: 'grid', x1: x(t), x2: x(t), y1: T, y2: H - B });
    add('text', { x: x(t), y: H - 10, 'text-anchor': 'middle' }, span > 48 ? time(t).slice(5, 13) + 'h' : hhmm(t));
  }
  add('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B });
  add('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B });
  lines.forEach((l) => {
    let d = '';
    let pen = false;
    l.t.forEach((t, i) => {
      if (l.v[i] == null) { pen = false; return; }
      d += (pen ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(l.v[i]).toFixed(1);
      pen = true;
    });
    add('path', { d, fill: 'none', stroke: l.colour, 'stroke-width': 1.6,
      'stroke-dasharray': l.dashed ? '5 4' : 'none', 'data-signal': l.name });
  });
  const legend = el('div', { class: 'legend' }, ...lines.map((l) =>
    el('span', { style: 'color:' + l.colour }, (l.dashed ? '- - ' : '— ') + l.label)));
  box.replaceChildren(svg, legend);
}

async function showChart() {
  const ids = [...$('#mon-signals').selectedOptions].map((o) => o.value).slice(0, 6);
  const lines = [];
  for (const [i, id] of ids.entries()) {
    const s = await series(id);
    const colour = colours[i % colours.length];
    lines.push({ t: s.t_us, v: s.v, name: s.name, colour, label: s.name + ' [' + s.unit + ']' });
    if ($('#mon-counterfactual').checked) {
      const c = await counterfactualOf(s.name);
      if (c) lines.push({ t: c.t_us, v: c.v, name: s.name, colour: '#868e96', dashed: 1,
        label: s.name + ' without flexibility' });
    }
  }
  drawChart(lines);
}

/* New data in a watched run: the same choice of signals, redrawn. */
let refreshing = false;
async function refreshMonitoring() {
  if (refreshing) return;
  refreshing = true;
  try {
    await loadRuns();
    if (!signals.length) await loadSignals();
    await showChart();
  } catch (e) {
    console.error(e);
  } finally {
    refreshing = false;
  }
}

async function showMonitoring() {
  await loadRuns();
  if (!runs.length) {
    $('#mon-chart').replaceChildren(el('p', { class: 'empty' },
      'This database holds no recorded run (serve the database of a `flexbed run --out`).'));
    return;
  }
  if (!signals.length) await loadSignals();
  await showChart();
}

/* ---- Ledger ---- */

async function showLedger() {
  let l;
  try {
    l = await api('/api/ledger?after=-1&limit=1');
  } catch (e) {
    fill('#ledger-summary', el('p', { class: 'empty' }, 'No ledger: ' + e.message));
    return;
  }
  const [blocks, tx] = await Promise.all([apiAll('/api/ledger', 'blocks', 'height'),
    apiAll('/api/ledger/tx', 'transactions', 'seq')]);
  fill('#ledger-summary', card('height', l.height), card('transactions', l.transactions),
    card('pending', l.pending));
  fill('#ledger-blocks', table([
    { h: 'height', f: (b) => b.height },
    { h: 'time', f: (b) => time(b.t_us) },
    { h: 'tx', num: 1, f: (b) => b.n_tx },
    { h: 'hash', f: (b) => el('span', { class: 'mono' }, b.hash.slice(0, 18) + '…') },
    { h: 'Merkle root', f: (b) => el('span', { class: 'mono' }, b.merkle_root.slice(0, 18) + '…') },
    { h: 'sealer', f: (b) => short(b.sealer) },
    { h: 'checked in this page', f: (b) => {
      if (blockChecks.has(b.hash)) return checkMark(blockChecks.get(b.hash));
      const btn = el('button', { type: 'button', class: 'small' }, 'check');
      btn.addEventListener('click', () => checkBlockRow(b, btn.parentNode));
      return btn;
    } },
  ], blocks));
  ledgerBlocks = blocks;
  ledgerTx = tx;
  fill('#ledger-tx', table([
    { h: 'seq', f: (t) => t.seq },
    { h: 'block', f: (t) => (t.block_height == null ? 'pending' : t.block_height + '/' + t.idx) },
    { h: 'time', f: (t) => time(t.t_us) },
    { h: 'action', f: (t) => t.action },
    { h: 'sender', f: (t) => short(t.sender) },
    { h: 'nonce', num: 1, f: (t) => t.nonce },
    { h: 'hash', f: (t) => el('span', { class: 'mono' }, t.hash.slice(0, 18) + '…') },
    { h: 'checked in this page', f: (t) => {
      /* a row checked before keeps its verdict across redraws (a watched
       * run redraws every few seconds) */
      if (rowChecks.has(t.hash)) return checkMark(rowChecks.get(t.hash));
      const b = el('button', { type: 'button', class: 'small' }, 'check');
      b.addEventListener('click', () => checkRow(t, b.parentNode));
      return b;
    } },
  ], tx.slice(-200).reverse()));
  ledgerRows = tx.slice(-200).reverse();
}

let ledgerRows = [];
let ledgerBlocks = [];
let ledgerTx = [];
const rowChecks = new Map(); /* hash -> { ok, why } */
const blockChecks = new Map();

/* One block checked in the browser (sign.js checkBlock): its transactions
 * and the block before it from the lists already shown. */
async function checkBlockRow(b, cell) {
  let c;
  try {
    const m = await signingModule();
    const txs = ledgerTx.filter((t) => t.block_height === b.height).sort((x, y) => x.idx - y.idx);
    const prev = b.height === 0 ? '0x' + '00'.repeat(32)
      : (ledgerBlocks.find((x) => x.height === b.height - 1) || {}).hash;
    const genesis = ledgerTx.find((t) => t.seq === 1);
    c = m.checkBlock(b, txs, prev, genesis && genesis.action === 'genesis' ? m.recoverSigner(genesis.json, genesis.sig) : null);
  } catch (e) {
    c = { ok: false, why: e.message };
  }
  blockChecks.set(b.hash, c);
  if (cell && cell.isConnected) cell.replaceChildren(checkMark(c));
}

async function checkAllBlocks() {
  for (const b of ledgerBlocks) await checkBlockRow(b, null);
  if (current === 'ledger') await showLedger();
}

function checkMark(c) {
  return el('span', { class: c.ok ? 'ok' : 'bad', 'data-check': c.ok ? 'ok' : 'bad' }, (c.ok ? '✓ ' : '✗ ') + c.why);
}

/* One transaction checked in the browser, without the server: the signer
 * recovered from its signed JSON and signature must be its sender and the
 * JSON's "from", and its hash must be keccak256(json || sig || t_us). */
async function checkRow(t, cell) {
  let ok = false, why;
  try {
    const m = await signingModule();
    const signer = m.recoverSigner(t.json, t.sig);
    const from = JSON.parse(t.json).from;
    const hashOk = m.txHash(t.json, t.sig, t.t_us) === t.hash;
    ok = signer === t.sender && signer === from && hashOk;
    why = ok ? 'signed by ' + short(signer) + ', hash ok'
      : (signer !== t.sender || signer !== from ? 'signed by ' + short(signer) + ', not its sender ' + short(t.sender) : '') +
        (hashOk ? '' : ' hash differs');
  } catch (e) {
    why = e.message;
  }
  rowChecks.set(t.hash, { ok, why });
  if (cell && cell.isConnected) cell.replaceChildren(checkMark({ ok, why }));
}

async function checkAllRows() {
  const rows = ledgerRows;
  for (const t of rows) await checkRow(t, null);
  if (current === 'ledger') await showLedger();
}

async function verifyLedger() {
  const v = $('#ledger-verdict');
  v.className = '';
  v.textContent = 'verifying…';
  try {
    const r = await api('/api/ledger/verify');
    v.className = r.ok ? 'ok' : 'bad';
    v.textContent = r.ok
      ? 'verified: ' + r.blocks + ' blocks, ' + r.transactions + ' transactions (signatures, hashes, Merkle roots, links, state replay)'
      : 'FAILED at block ' + r.bad_height + ', transaction ' + r.bad_tx_seq + ': ' + r.reason;
  } catch (e) {
    v.className = 'bad';
    v.textContent = e.message;
  }
}

/* ---- DSO: the demand-response form and the DSO's own requests ---- */

let signer = null;
let signing = null; /* the module web/sign.js, when its libraries are built in */

async function signingModule() {
  if (!signing) signing = await import('/sign.js');
  return signing;
}

async function whoAmI() {
  if (!signer) {
    $('#sign-who').textContent = 'not signing yet';
    return null;
  }
  const parts = await apiAll('/api/participants', 'participants', 'seq');
  const me = parts.find((p) => p.address.toLowerCase() === signer.address.toLowerCase());
  $('#sign-who').textContent = signer.address + (me ? ' (' + me.role + ' ' + me.name + ', balance EUR ' +
    eur(me.balance_ueur) + ')' : ' (not a participant of this market)') +
    (signer.kind === 'wallet' ? ', wallet' : ', key held in this page');
  return me;
}

/* Sign action with the next nonce and POST it; the answer's text. */
async function submit(action) {
  if (!signer) throw new Error('choose a wallet or a key first');
  const me = await whoAmI();
  const body = await (await signingModule()).signedBody(signer, action, me ? me.nonce : 0);
  const r = await fetch('/api/tx', { method: 'POST', body });
  const a = await r.json();
  if (!r.ok) throw new Error(a.error || String(r.status));
  return a;
}

function localToUs(value) {
  /* a datetime-local value in the scenario's local time */
  return (Date.parse(value + ':00Z') - utcOffset * 1000) * 1000;
}

async function showDso() {
  await whoAmI();
  const mine = (a) => signer && a.toLowerCase() === signer.address.toLowerCase();
  const [market, reqs, matches] = signer ? await Promise.all([api('/api/market'),
    apiAll('/api/requests', 'requests', 'id'), apiAll('/api/matches', 'matches', 'id')])
    : [null, [], []];
  const now = market ? market.now_us : 0;
  $('#dso-now').textContent = market ? 'Market time ' + time(now) : '';
  const mineReqs = reqs.filter((r) => mine(r.dso));
  const result = (ok, text) => {
    $('#dso-result').className = 'mono ' + (ok ? 'ok' : 'bad');
    $('#dso-result').textContent = text;
  };
  const act = (label, action) => {
    const b = el('button', { type: 'button' }, label);
    b.addEventListener('click', async () => {
      try {
        const a = await submit(typeof action === 'function' ? action() : action);
        result(true, a.action + ' accepted: ' + JSON.stringify(a));
      } catch (e) {
        result(false, e.message);
      }
      show('dso');
    });
    return b;
  };
  /* a purchased match, once its window is over: the metered energy (Wh,
   * exported for a reduction), recorded by the buying DSO */
  const deliveryForm = (x) => {
    const input = el('input', { type: 'number', min: '0', step: '1', size: '8', name: 'e_wh',
      'data-match': x.id, placeholder: 'Wh' });
    return el('span', { class: 'delivery' }, input, ' ',
      act('Record delivery', () => ({ action: 'delivery', match_id: x.id, e_wh: Math.round(Number(input.value)) })));
  };
  const requestBlock = (r) => {
    const ms = matches.filter((x) => x.request_id === r.id).sort((a, b) => a.merit - b.merit || a.id - b.id);
    const over = now >= r.end_us;
    const allDelivered = ms.length > 0 && ms.every((x) => x.delivered_wh != null);
    const button = r.state === 'open' ? act('Match', { action: 'match', request_id: r.id })
      : r.state === 'matched' ? act('Buy', { action: 'purchase', request_id: r.id })
      : r.state === 'purchased' && allDelivered ? act('Settle', { action: 'settle', request_id: r.id })
      : r.state === 'purchased' ? el('span', { class: 'hint' }, over ? 'waiting for deliveries'
        : 'bought; deliveries can be recorded after ' + hhmm(r.end_us)) : '';
    const head = el('h3', {}, 'Request ' + r.id + ' at ' + r.location + ', ' + time(r.start_us) + '–' +
      hhmm(r.end_us) + ', ' + kw(r.p_w) + ' kW (unmet ' + kw(r.unmet_w) + ') ',
      el('span', { class: 'state' }, r.state), ' ', button);
    return el('div', { class: 'request', 'data-request': r.id }, head, ms.length ? table([
      { h: 'match', f: (x) => x.id },
      { h: 'FSP', f: (x) => short(x.fsp) },
      { h: 'asset', f: (x) => x.asset_id },
      { h: 'kW', num: 1, f: (x) => kw(x.p_w) },
      { h: 'amount, EUR', num: 1, f: (x) => eur(x.amount_ueur) },
      { h: 'delivered, kWh', num: 1, f: (x) => kwh(x.delivered_wh) },
      { h: 'payout, EUR', num: 1, f: (x) => (x.payout_ueur == null ? '' : eur(x.payout_ueur)) },
      { h: 'state', f: (x) => x.state },
      { h: '', f: (x) => (x.state === 'purchased' && over && r.state === 'purchased' ? deliveryForm(x) : '') },
    ], ms) : '');
  };
  /* a watched run redraws every few seconds: keep what was typed */
  const typed = new Map([...document.querySelectorAll('#dso-requests input[data-match]')]
    .map((i) => [i.dataset.match, i.value]));
  fill('#dso-requests', ...(mineReqs.length ? mineReqs.map(requestBlock)
    : [el('p', { class: 'empty' }, signer ? 'no requests of yours' : 'sign in to see yours')]));
  for (const i of document.querySelectorAll('#dso-requests input[data-match]'))
    if (typed.has(i.dataset.match)) i.value = typed.get(i.dataset.match);
  /* nothing announces that a window is over: look again every few seconds
   * while a bought window is still running */
  clearTimeout(dsoTimer);
  if (mineReqs.some((r) => r.state === 'purchased' && now < r.end_us))
    dsoTimer = setTimeout(() => { if (current === 'dso') show('dso'); }, 3000);
}
let dsoTimer = null;

$('#sign-use-key').addEventListener('click', async () => {
  try {
    signer = (await signingModule()).keySigner($('#sign-key').value);
    $('#sign-key').value = '';
  } catch (e) {
    $('#sign-who').textContent = 'key: ' + e.message;
    return;
  }
  show(current);
});
$('#sign-wallet').addEventListener('click', async () => {
  if (!window.ethereum) {
    $('#sign-who').textContent = 'this browser has no wallet (EIP-1193): use a key';
    return;
  }
  try {
    signer = await (await signingModule()).walletSigner(window.ethereum);
  } catch (e) {
    $('#sign-who').textContent = 'wallet: ' + e.message;
    return;
  }
  show(current);
});
$('#dso-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const w = Math.round(Number(f.get('kw')) * 1000);
  try {
    const a = await submit({
      action: 'request_add',
      location: f.get('location'),
      start_us: localToUs(f.get('start')),
      end_us: localToUs(f.get('end')),
      p_w: f.get('direction') === 'reduce' ? -w : w,
      max_price_ueur_per_kwh: Math.round(Number(f.get('price')) * 1e6),
    });
    $('#dso-result').className = 'mono ok';
    $('#dso-result').textContent = 'request ' + a.id + ' posted: ' + JSON.stringify(a);
  } catch (e) {
    $('#dso-result').className = 'mono bad';
    $('#dso-result').textContent = e.message;
  }
  show('dso');
});

/* ---- FSP: assets, offers, and what the market tells this FSP ---- */

async function showFsp() {
  const me = await whoAmI();
  const mine = (a) => signer && a && a.toLowerCase() === signer.address.toLowerCase();
  const assets = signer ? (await apiAll('/api/assets', 'assets', 'id')).filter((a) => mine(a.owner) && !a.removed) : [];
  const offers = signer ? (await apiAll('/api/offers', 'offers', 'id')).filter((o) => mine(o.fsp)) : [];
  const sel = $('#fsp-form [name=asset]');
  const keep = sel.value;
  sel.replaceChildren(...assets.map((a) => el('option', { value: a.id }, a.id + ': ' + a.name + ' at ' + a.location +
    ' (' + kw(a.p_min_w) + '…' + kw(a.p_max_w) + ' kW)')));
  if (keep) sel.value = keep;
  fill('#fsp-assets', assets.length ? table([
    { h: 'asset', f: (a) => a.id },
    { h: 'name', f: (a) => a.name },
    { h: 'type', f: (a) => a.type },
    { h: 'location', f: (a) => a.location },
    { h: 'kW', num: 1, f: (a) => kw(a.p_min_w) + ' … ' + kw(a.p_max_w) },
  ], assets) : el('p', { class: 'empty' }, signer ? (me ? 'no assets of yours' : 'not a participant') : 'sign in to see yours'));
  const matches = signer ? (await apiAll('/api/matches', 'matches', 'id')).filter((m) => mine(m.fsp)) : [];
  fill('#fsp-offers', offers.length ? table([
    { h: 'offer', f: (o) => o.id },
    { h: 'asset', f: (o) => o.asset_id },
    { h: 'window', f: (o) => time(o.start_us) + '–' + hhmm(o.end_us) },
    { h: 'kW', num: 1, f: (o) => kw(o.p_w) },
    { h: 'EUR/kWh', num: 1, f: (o) => eur(o.price_ueur_per_kwh) },
    { h: 'remaining kW', num: 1, f: (o) => kw(o.remaining_w) },
    { h: 'state', f: (o) => o.state },
  ], offers) : el('p', { class: 'empty' }, 'no offers of yours'));
  fill('#fsp-matches', matches.length ? table([
    { h: 'match', f: (m) => m.id },
    { h: 'request', f: (m) => m.request_id },
    { h: 'offer', f: (m) => m.offer_id },
    { h: 'window', f: (m) => time(m.start_us) + '–' + hhmm(m.end_us) },
    { h: 'kW', num: 1, f: (m) => kw(m.p_w) },
    { h: 'amount, EUR', num: 1, f: (m) => eur(m.amount_ueur) },
    { h: 'state', f: (m) => m.state },
  ], matches) : el('p', { class: 'empty' }, 'none of your offers is matched yet'));
}

$('#fsp-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const w = Math.round(Number(f.get('kw')) * 1000);
  try {
    const a = await submit({
      action: 'offer_add',
      asset_id: Number(f.get('asset')),
      start_us: localToUs(f.get('start')),
      end_us: localToUs(f.get('end')),
      p_w: f.get('direction') === 'reduce' ? -w : w,
      price_ueur_per_kwh: Math.round(Number(f.get('price')) * 1e6),
    });
    $('#fsp-result').className = 'mono ok';
    $('#fsp-result').textContent = 'offer ' + a.id + ' posted: ' + JSON.stringify(a);
  } catch (e) {
    $('#fsp-result').className = 'mono bad';
    $('#fsp-result').textContent = e.message;
  }
  show('fsp');
});

/* A websocket event addressed to the signed-in FSP, as a notice. */
function noticeFor(ev) {
  if (!signer || !ev.fsp || ev.fsp.toLowerCase() !== signer.address.toLowerCase()) return;
  const what = ev.event === 'match' ? `matched: request ${ev.request}, your offer ${ev.offer}, ${kw(ev.p_w)} kW, EUR ${eur(ev.amount_ueur)}`
    : ev.event === 'dispatch' ? `dispatch: asset ${ev.asset} at ${kw(ev.p_w)} kW, ${time(ev.start_us)}–${hhmm(ev.end_us)}`
    : ev.event === 'settlement' ? `settled: match ${ev.match}, paid EUR ${eur(ev.payout_ueur)} (fee EUR ${eur(ev.fee_ueur)})`
    : ev.event;
  $('#fsp-notices').prepend(el('li', { 'data-event': ev.event }, what));
}

/* ---- views, websocket ---- */

const views = { market: showMarket, dso: showDso, fsp: showFsp, monitoring: showMonitoring, ledger: showLedger };
let current = 'market';

async function show(view) {
  current = views[view] ? view : 'market';
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.dataset.view === current);
  for (const s of document.querySelectorAll('.view'))
    s.classList.toggle('active', s.id === 'view-' + current);
  document.body.dataset.view = current;
  document.body.dataset.loading = '1';
  try {
    await views[current]();
  } catch (e) {
    console.error(e);
  } finally {
    document.body.dataset.loading = '';
    document.body.dataset.shown = current;
  }
}

function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws',
    'flexbed-notify');
  ws.onopen = () => { $('#live').textContent = 'live'; $('#live').classList.add('on'); };
  ws.onclose = () => {
    $('#live').textContent = 'offline';
    $('#live').classList.remove('on');
    setTimeout(connect, 2000);
  };
  let pending = null;
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    noticeFor(ev);
    const list = $('#mon-events');
    list.prepend(el('li', {}, (ev.event || '?') + ' ' + JSON.stringify(ev)));
    while (list.children.length > 200) list.lastChild.remove();
    /* redraw the view once the burst is over */
    clearTimeout(pending);
    pending = setTimeout(() => { if (current === 'monitoring') refreshMonitoring(); else show(current); }, 300);
  };
}

window.addEventListener('hashchange', () => show(location.hash.slice(1)));
$('#ledger-verify').addEventListener('click', verifyLedger);
$('#ledger-check-rows').addEventListener('click', checkAllRows);
$('#ledger-check-blocks').addEventListener('click', checkAllBlocks);
$('#mon-run').addEventListener('change', async () => { signals = []; await loadSignals(); await showChart(); });
$('#mon-filter').addEventListener('input', () => showSignalList(false));
$('#mon-signals').addEventListener('change', showChart);
$('#mon-counterfactual').addEventListener('change', showChart);
/* Times in the scenario's local time, as its runs record it. */
api('/api/runs').then((r) => { if (r.runs.length) utcOffset = r.runs[0].utc_offset_s; })
  .catch(() => {})
  .finally(() => { show(location.hash.slice(1) || 'market'); connect(); });
