/*
 * dashboard.test.mjs: flexbed's dashboard in a real browser (issue 13).
 *
 * Runs the field demo into a fresh database, serves it with `flexbed serve`
 * on an ephemeral 127.0.0.1 port and drives Debian's chromium headless
 * through playwright-core: the Market view shows every request with its
 * matches and their totals exactly as the API gives them, the Monitoring
 * view draws the transformer's load with and without flexibility from the
 * recorded runs, the Ledger view verifies the ledger, the websocket
 * connects, and no page raises an error. With FLEXBED_SCREENSHOTS=DIR it
 * saves a screenshot of each view there (docs/dashboard.md's come from it).
 *
 * usage: node dashboard.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core:
 * `make test` installs both).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [flexbed, src] = process.argv.slice(2);
const CHROMIUM = process.env.FLEXBED_CHROMIUM || '/usr/bin/chromium';
if (!flexbed || !src) {
  console.error('usage: node dashboard.test.mjs FLEXBED_BINARY SOURCE_DIR');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.log(`SKIP: no chromium at ${CHROMIUM} (scripts/install-deps installs Debian's)`);
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.log('SKIP: playwright-core is not installed (make test runs npm ci in tests/browser)');
  process.exit(77);
}

let failures = 0;
function check(cond, what) {
  if (!cond) {
    failures++;
    console.error('FAIL: ' + what);
  } else {
    console.log('ok: ' + what);
  }
}

/* Nothing here may run forever. */
const watchdog = setTimeout(() => {
  console.error('FAIL: the test took longer than 120 s');
  process.exit(1);
}, 120000);

const tmp = mkdtempSync(join(tmpdir(), 'flexbed-dashboard-'));
const db = join(tmp, 'demo.db');
let server, browser;
try {
  const run = spawnSync(flexbed, ['run', join(src, 'scenarios/demo-2023-10-02.json'), '--out', db,
    '--quiet'], { encoding: 'utf8', timeout: 60000 });
  if (run.status !== 0) throw new Error('flexbed run: ' + run.stderr);

  server = spawn(flexbed, ['serve', '--db', db, '--http', '0', '--quiet'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('serve did not start: ' + out)), 10000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    server.on('exit', (c) => reject(new Error('serve exited with ' + c + ': ' + out)));
  });
  const getJSON = async (p) => (await fetch(base + p)).json();

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30000,
  });
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
  await shot('ledger');

  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));
  check(external.length === 0, 'nothing fetched from anywhere but the server: ' + JSON.stringify(external));
} catch (e) {
  failures++;
  console.error('FAIL: ' + (e.stack || e));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
  clearTimeout(watchdog);
}
console.log(failures ? `dashboard: ${failures} failed` : 'dashboard: all passed');
process.exit(failures ? 1 : 0);
