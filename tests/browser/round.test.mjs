/*
 * round.test.mjs: a whole market round worked from the dashboard against a
 * running simulation (issue 13). `flexbed run SCENARIO --serve 0
 * --accept-tx`, paced at 40x, runs a small feeder (a base load, two
 * batteries with meters, two FSPs offering them, the dispatch platform) on
 * the 2 October 2023 afternoon; the DSO is a participant of the run's
 * market whose key the test made with `flexbed keygen`. Debian's chromium,
 * driven headless by playwright-core:
 *   - signs in as the DSO and posts a request through the Fig. 2 form;
 *   - matches it (both FSPs' offers, in merit order) and buys it;
 *   - the run's dispatch drives both simulated batteries: their recorded
 *     power follows the setpoints inside the window;
 *   - the platform's metered deliveries appear in the DSO view, which then
 *     offers Settle; settling pays each FSP its delivered energy at its
 *     price (computed here from the API's own figures);
 *   - the Ledger view verifies the chain and checks every row in the page.
 *
 * usage: node round.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserTest, launch, openView, runServed, until, workspace } from './lib.mjs';

const { flexbed, chromium, c, check } = await browserTest('round');
const ws = workspace(flexbed, 'flexbed-round-');

const day = '2023-10-02T';
const at = (hhmm) => day + hhmm + ':00+03:00';
const us = (hhmm) => Date.parse(at(hhmm)) * 1000;
const battery = (name) => ({
  name, type: 'battery', capacity_kwh: 30, p_charge_max_kw: 10, p_discharge_max_kw: 10,
  soc_initial: 0.6, soc_min: 0.2, soc_max: 0.95, round_trip_efficiency: 0.92, ramp_kw_per_s: 0.5,
  latency: '5s', setpoint: 'dispatch.' + name + '_kw',
});
const fsp = (name, owner, asset, price) => ({
  name, type: 'fsp', participant: owner,
  asset: { component: asset, name: asset, type: 'battery', location: 'feeder-1', p_min_kw: -10, p_max_kw: 10,
    soc_min: 0.2, soc_max: 0.95 },
  offers: [{ post_at: at('15:50'), start: at('16:05'), end: at('16:10'), p_kw: -10, price_eur_per_kwh: price }],
});

let run, browser;
try {
  const dso = ws.keygen('dso');
  writeFileSync(join(ws.tmp, 'base.csv'), 'time,p_kw\n' + at('15:00') + ',100\n' + at('17:00') + ',110\n');
  const scenario = {
    name: 'round', start: at('15:50'), end: at('16:20'), step: '1min', seed: 7,
    components: [
      { name: 'base_load', type: 'profile', series: { file: 'base.csv', time_column: 'time', value_column: 'p_kw', mode: 'interpolate' } },
      { name: 'transformer', type: 'transformer', rating_kva: 250, loads: ['base_load', 'bat1', 'bat2'], ambient_degc: 17 },
      battery('bat1'), battery('bat2'),
      { name: 'bat1_meter', type: 'meter', import: 'bat1.e_in_kwh', export: 'bat1.e_out_kwh', period: '1min' },
      { name: 'bat2_meter', type: 'meter', import: 'bat2.e_in_kwh', export: 'bat2.e_out_kwh', period: '1min' },
      fsp('fsp1', 'owner1', 'bat1', 0.10), fsp('fsp2', 'owner2', 'bat2', 0.12),
      { name: 'dispatch', type: 'dispatch', latency: '1min', report_delay: '1min',
        meters: { bat1: 'bat1_meter', bat2: 'bat2_meter' } },
    ],
    market: {
      participants: [
        { name: 'platform', role: 'operator' },
        { name: 'oedas', role: 'dso', deposit_eur: 100, key_file: 'dso.key' },
        { name: 'owner1', role: 'fsp' }, { name: 'owner2', role: 'fsp' },
      ],
      block_period: '5min',
    },
  };
  writeFileSync(join(ws.tmp, 'round.json'), JSON.stringify(scenario, null, 1));

  const served = await runServed(flexbed, [join(ws.tmp, 'round.json'), '--out', join(ws.tmp, 'round.db'),
    '--speed', '40', '--no-counterfactual', '--quiet', '--accept-tx']);
  run = served.proc;
  const { base, getJSON, exited } = served;

  browser = await launch(chromium);
  const { page, errors } = await openView(browser, base, 'dso');
  await page.fill('#sign-key', readFileSync(dso.path, 'utf8').trim());
  await page.click('#sign-use-key');
  await page.waitForSelector('#sign-who:has-text("oedas")', { timeout: 10000 });

  /* the request, through the form, in the scenario's local time */
  await page.fill('#dso-form [name=location]', 'feeder-1');
  await page.fill('#dso-form [name=start]', day + '16:05');
  await page.fill('#dso-form [name=end]', day + '16:10');
  await page.selectOption('#dso-form [name=direction]', 'reduce');
  await page.fill('#dso-form [name=kw]', '20');
  await page.fill('#dso-form [name=price]', '0.21');
  await page.click('#dso-form button[type=submit]');
  await page.waitForSelector('#dso-result.ok, #dso-result.bad', { timeout: 10000 });
  check(await page.getAttribute('#dso-result', 'class') === 'mono ok', 'request posted to the running market: ' +
    await page.textContent('#dso-result'));
  const r = (await getJSON('/api/requests')).requests[0] || {};
  check(r.start_us === us('16:05') && r.end_us === us('16:10') && r.p_w === -20000 && r.dso === dso.address,
    'stored as entered, in the scenario\'s time: ' + JSON.stringify(r));
  const now = (await getJSON('/api/market')).now_us;
  check(now >= us('15:50') && now < us('16:05'), 'the market\'s clock is the simulation\'s: ' + new Date(now / 1000).toISOString());

  await page.click('#dso-requests button:has-text("Match")');
  await page.waitForSelector('#dso-requests button:has-text("Buy")', { timeout: 10000 });
  await page.click('#dso-requests button:has-text("Buy")');
  await page.waitForSelector('#dso-requests .request .state:has-text("purchased")', { timeout: 10000 })
    .catch(async (e) => { throw new Error(e.message + '; the page said: ' + await page.textContent('#dso-result') + ' / ' + await page.textContent('#dso-requests') + JSON.stringify(await getJSON('/api/requests'))); });
  const m = (await getJSON('/api/matches?request=' + r.id)).matches;
  check(m.length === 2 && m[0].price_ueur_per_kwh === 100000 && m[1].price_ueur_per_kwh === 120000,
    'both offers matched in merit order: ' + m.map((x) => x.id + '@' + x.price_ueur_per_kwh).join(', '));
  const bought = (await getJSON('/api/market')).now_us;
  check(bought < us('16:05'), 'bought before the window: ' + new Date(bought / 1000).toISOString());

  /* the run's dispatch drives the simulated batteries */
  const runId = (await getJSON('/api/runs')).runs[0].id;
  const sigs = (await getJSON('/api/signals?run=' + runId)).signals;
  for (const b of ['bat1', 'bat2']) {
    const sig = sigs.find((s) => s.name === b + '.p_kw');
    /* samples are committed every 2 s of wall time: wait for 16:08's */
    const ser = await until(b + '\'s samples to 16:08', async () => {
      const x = await getJSON('/api/series?signal=' + sig.id);
      return x.t_us.includes(us('16:08')) ? x : null;
    }, 40000);
    const atT = (hhmm) => ser.v[ser.t_us.indexOf(us(hhmm))];
    check(Math.abs(atT('16:00')) < 1e-6 && Math.abs(atT('16:08') + 10) < 0.01,
      `${b} discharges 10 kW in the window as dispatched (16:00 ${atT('16:00')} kW, 16:08 ${atT('16:08')} kW)`);
  }

  /* the platform's metered deliveries, then Settle in the page */
  await page.waitForSelector('#dso-requests button:has-text("Settle")', { timeout: 30000 });
  const dm = (await getJSON('/api/matches?request=' + r.id)).matches;
  check(dm.every((x) => x.delivered_wh > 0) &&
    (await page.locator('#dso-requests td:has-text("delivered")').count()) === 2,
    'deliveries shown: ' + dm.map((x) => x.delivered_wh + ' Wh').join(', '));
  await page.click('#dso-requests button:has-text("Settle")');
  await page.waitForSelector('#dso-requests .request .state:has-text("settled")', { timeout: 10000 });
  const st = (await getJSON('/api/settlements')).settlements;
  const want = dm.map((x) => Math.min(x.amount_ueur, Math.round(x.delivered_wh * x.price_ueur_per_kwh / 1000)));
  check(st.length === 2 && st.every((s, i) => s.payout_ueur === want[i]),
    'each FSP paid its delivered energy at its price: ' + st.map((s) => s.payout_ueur).join(', ') + ' = ' + want.join(', '));

  await page.click('nav a[data-view="ledger"]');
  await page.waitForSelector('body[data-shown="ledger"]', { timeout: 10000 });
  await page.click('#ledger-verify');
  await page.waitForSelector('#ledger-verdict.ok, #ledger-verdict.bad', { timeout: 30000 });
  const verdict = await page.textContent('#ledger-verdict');
  check(/^verified: /.test(verdict), 'the ledger verifies in the page: ' + verdict);
  await page.click('#ledger-check-rows');
  const ntx = (await getJSON('/api/ledger/tx?limit=1000')).transactions.length;
  await page.waitForFunction((n) => document.querySelectorAll('#ledger-tx [data-check]').length === n, ntx, { timeout: 20000 });
  const okRows = await page.locator('#ledger-tx [data-check="ok"]').count();
  check(okRows === ntx, `every transaction checked in the page: ${okRows} of ${ntx} ok` +
    (okRows === ntx ? '' : ' (' + await page.locator('#ledger-tx [data-check="bad"]').first().textContent() + ')'));
  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));

  await until('the run\'s end', async () => /the dashboard stays/.test(served.output()), 40000);
  run.kill('SIGINT');
  const ex = await Promise.race([exited, new Promise((res) => setTimeout(() => res({ code: 'timeout' }), 10000))]);
  check(ex.code === 0, `Ctrl-C after the run: exit ${ex.code}`);
  run = null;
} catch (e) {
  c.fail(e);
} finally {
  if (run) run.kill('SIGKILL');
  if (browser) await browser.close().catch(() => {});
  ws.remove();
  clearTimeout(c.watchdog);
}
c.done();
