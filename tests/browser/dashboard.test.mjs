/*
 * dashboard.test.mjs: flexbed's dashboard in a real browser (issue 13).
 *
 * Runs the field demo into a fresh database, serves it with `flexbed serve`
 * on an ephemeral 127.0.0.1 port and drives Debian's chromium headless
 * through playwright-core: the Market view shows every request with its
 * matches and their totals exactly as the API gives them, the Monitoring
 * view draws the transformer's load with and without flexibility from the
 * recorded runs, the Ledger view verifies the ledger (and checks every
 * row and every block in the page, forgeries failing), the websocket
 * connects, and no page raises an error. With FLEXBED_SCREENSHOTS=DIR it
 * saves a screenshot of each view there (docs/dashboard.md's come from it).
 *
 * usage: node dashboard.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core:
 * `make test` installs both).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { browserTest, launch, serve, workspace } from './lib.mjs';

const { flexbed, src, chromium, c, check } = await browserTest('dashboard');

const ws = workspace(flexbed, 'flexbed-dashboard-');
const db = join(ws.tmp, 'demo.db');
let server, browser;
try {
  const run = spawnSync(flexbed, ['run', join(src, 'scenarios/demo-2023-10-02.json'), '--out', db,
    '--quiet'], { encoding: 'utf8', timeout: 60000 });
  if (run.status !== 0) throw new Error('flexbed run: ' + run.stderr);
  const srv = await serve(flexbed, ['--db', db]);
  server = srv.proc;
  const base = srv.base;
  const getJSON = async (p) => (await fetch(base + p)).json();

  browser = await launch(chromium);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('ws://127.0.0.1')) external.push(r.url()); });
  const shot = async (name) => {
    if (process.env.FLEXBED_SCREENSHOTS)
      await page.screenshot({ path: join(process.env.FLEXBED_SCREENSHOTS, `dashboard-${name}.png`), fullPage: true });
  };

  /* Market */
  await page.goto(base + '/', { timeout: 15000 });
  await page.waitForSelector('body[data-shown="market"]', { timeout: 15000 });
  await page.waitForSelector('#live.on', { timeout: 10000 });
  check(true, 'the websocket channel connected');
  const requests = (await getJSON('/api/requests')).requests;
  check(requests.length > 0, `the demo has requests (${requests.length})`);
  for (const r of requests) {
    const matches = (await getJSON('/api/matches?request=' + r.id)).matches;
    const block = page.locator(`.request[data-request="${r.id}"]`);
    const rows = await block.locator('tr').count();
    check(rows === matches.length + 2, `request ${r.id}: ${matches.length} matches shown (${rows - 2} rows)`);
    const shown = (await block.locator('tr:not(.total) td:first-child').allTextContents()).map(Number);
    check(JSON.stringify(shown) === JSON.stringify(matches.map((x) => x.id)),
      `request ${r.id}: matches in merit order as the API gives them (${shown})`);
    const total = await block.locator('tr.total td').allTextContents();
    const eur = (u) => (u / 1e6).toFixed(2);
    const sum = (f) => matches.reduce((a, x) => a + (x[f] || 0), 0);
    check(total[6] === eur(sum('amount_ueur')), `request ${r.id}: total amount EUR ${total[6]} = API ${eur(sum('amount_ueur'))}`);
    check(total[7] === (sum('delivered_wh') / 1000).toFixed(2),
      `request ${r.id}: delivered ${total[7]} kWh = API ${(sum('delivered_wh') / 1000).toFixed(2)}`);
    const net = eur(sum('payout_ueur') - sum('settle_fee_ueur'));
    check(total[10] === net, `request ${r.id}: paid to the FSPs EUR ${total[10]} = API ${net}`);
  }
  const parts = (await getJSON('/api/participants')).participants;
  check(await page.locator('#market-participants tr').count() === parts.length + 1,
    `every participant listed (${parts.length})`);
  const disp = (await getJSON('/api/dispatch?after=0')).dispatch;
  const dispRows = await page.locator('#market-dispatch tr').count();
  check(disp.length > 0 && dispRows === disp.length + 1, `every dispatch instruction listed (${disp.length})`);
  await shot('market');

  /* Monitoring: the transformer's load, with and without flexibility */
  await page.click('nav a[data-view="monitoring"]');
  await page.waitForSelector('body[data-shown="monitoring"]', { timeout: 15000 });
  await page.waitForSelector('#mon-chart svg path[data-signal]', { timeout: 15000 });
  const paths = await page.locator('#mon-chart svg path[data-signal]').evaluateAll(
    (ps) => ps.map((p) => ({ s: p.dataset.signal, dashed: p.getAttribute('stroke-dasharray') !== 'none', n: (p.getAttribute('d').match(/[ML]/g) || []).length })));
  check(paths.length === 2 && paths[0].s === paths[1].s && paths[1].dashed,
    `one signal drawn with its counterfactual: ${JSON.stringify(paths.map((p) => p.s))}`);
  check(/transformer/.test(paths[0]?.s || ''), `the default signal is the transformer's: ${paths[0]?.s}`);
  const runs = (await getJSON('/api/runs')).runs;
  const sigs = (await getJSON('/api/signals?run=' + runs[0].id)).signals;
  const sig = sigs.find((s) => s.name === paths[0]?.s);
  const ser = sig ? await getJSON('/api/series?signal=' + sig.id) : { v: [] };
  check(paths[0]?.n === ser.v.filter((v) => v !== null).length,
    `every sample drawn (${paths[0]?.n} points, ${ser.v.length} samples)`);
  await shot('monitoring');

  /* Ledger */
  await page.click('nav a[data-view="ledger"]');
  await page.waitForSelector('body[data-shown="ledger"]', { timeout: 15000 });
  const ledger = await getJSON('/api/ledger?after=-1');
  check(await page.locator('#ledger-blocks tr').count() === ledger.blocks.length + 1,
    `every block listed (${ledger.blocks.length})`);
  await page.click('#ledger-verify');
  await page.waitForSelector('#ledger-verdict.ok, #ledger-verdict.bad', { timeout: 30000 });
  const verdict = await page.textContent('#ledger-verdict');
  check(/^verified: /.test(verdict), 'ledger verified in the page: ' + verdict);
  /* every row checked in the page itself: signer recovered, hash recomputed */
  await page.click('#ledger-check-rows');
  const ntx = (await getJSON('/api/ledger/tx?limit=1000')).transactions.length;
  await page.waitForFunction((n) => document.querySelectorAll('#ledger-tx [data-check]').length === n, ntx, { timeout: 20000 });
  const okRows = await page.locator('#ledger-tx [data-check="ok"]').count();
  check(okRows === ntx, `every transaction checked in the page: ${okRows} of ${ntx} ok`);
  /* and the check can fail: a changed amount or signature is caught */
  const tampered = await page.evaluate(async () => {
    const m = await import('/sign.js');
    const t = (await (await fetch('/api/ledger/tx?limit=100')).json()).transactions.find((x) => x.action === 'deposit');
    const json = t.json.replace(/"amount_ueur":(\d+)/, (_, a) => '"amount_ueur":' + (Number(a) + 1));
    const sig = t.sig.slice(0, 10) + (t.sig[10] === '0' ? '1' : '0') + t.sig.slice(11);
    let sigSigner;
    try { sigSigner = m.recoverSigner(t.json, sig); } catch { sigSigner = 'none'; }
    return { sender: t.sender, jsonSigner: m.recoverSigner(json, t.sig), jsonHash: m.txHash(json, t.sig, t.t_us) === t.hash, sigSigner };
  });
  check(tampered.jsonSigner !== tampered.sender && !tampered.jsonHash && tampered.sigSigner !== tampered.sender,
    'a tampered amount or signature byte fails the check: ' + JSON.stringify(tampered));
  /* every block checked in the page: header hash, operator's signature,
   * link, Merkle root of its recomputed transaction hashes */
  await page.click('#ledger-check-blocks');
  await page.waitForFunction((n) => document.querySelectorAll('#ledger-blocks [data-check]').length === n,
    ledger.blocks.length, { timeout: 30000 });
  const okBlocks = await page.locator('#ledger-blocks [data-check="ok"]').count();
  check(okBlocks === ledger.blocks.length, `every block checked in the page: ${okBlocks} of ${ledger.blocks.length} ok`);
  /* and each kind of forgery fails it */
  const forged = await page.evaluate(async () => {
    const m = await import('/sign.js');
    const blocks = (await (await fetch('/api/ledger?after=-1&limit=1000')).json()).blocks;
    const txs = (await (await fetch('/api/ledger/tx?limit=1000')).json()).transactions;
    const b = blocks.find((x) => x.n_tx >= 2);
    const mine = txs.filter((t) => t.block_height === b.height).sort((x, y) => x.idx - y.idx);
    const prev = b.height ? blocks.find((x) => x.height === b.height - 1).hash : '0x' + '00'.repeat(32);
    const op = b.sealer;
    const flip = (h) => h.slice(0, -1) + (h.slice(-1) === '0' ? '1' : '0');
    return {
      honest: m.checkBlock(b, mine, prev, op).ok,
      time: m.checkBlock({ ...b, t_us: b.t_us + 1 }, mine, prev, op).ok,
      root: m.checkBlock({ ...b, merkle_root: flip(b.merkle_root) }, mine, prev, op).ok,
      link: m.checkBlock(b, mine, flip(prev), op).ok,
      dropped: m.checkBlock(b, mine.slice(1), prev, op).ok,
      reordered: m.checkBlock(b, [mine[1], mine[0], ...mine.slice(2)], prev, op).ok,
      edited: m.checkBlock(b, [{ ...mine[0], json: mine[0].json.replace('"nonce":', '"nonce": ') }, ...mine.slice(1)], prev, op).ok,
      sealer: m.checkBlock(b, mine, prev, '0x' + '11'.repeat(20)).ok,
    };
  });
  check(forged.honest && Object.entries(forged).every(([k, v]) => k === 'honest' || v === false),
    'a forged time, Merkle root, link, a dropped, reordered or edited transaction, another sealer: each fails ' +
    JSON.stringify(forged));
  await shot('ledger');

  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));
  check(external.length === 0, 'nothing fetched from anywhere but the server: ' + JSON.stringify(external));
} catch (e) {
  c.fail(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  ws.remove();
  clearTimeout(c.watchdog);
}
c.done();
