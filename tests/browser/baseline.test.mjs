/*
 * baseline.test.mjs: the Market view of a market that measures delivery
 * against a baseline (issue 14). scenarios/variants/demo-ev-baseline.json
 * (an EV charging at 7 kW told to reduce by 10 kW) is run into a fresh
 * database and served; Debian's chromium, driven headless by
 * playwright-core, opens the Market view, which must say how delivery is
 * measured and show, beside the match, the baseline and the metered net
 * energy the market computed the delivery from, equal to what the API's
 * deliveries say, with delivered = baseline - metered.
 *
 * usage: node baseline.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core).
 */
import { join } from 'node:path';
import { browserTest, launch, openView, serve, workspace } from './lib.mjs';

const { flexbed, src, chromium, c, check } = await browserTest('baseline');
const ws = workspace(flexbed, 'flexbed-baseline-');

let server, browser;
try {
  const db = join(ws.tmp, 'ev.db');
  ws.cli('run', join(src, 'scenarios/variants/demo-ev-baseline.json'), '--out', db, '--quiet');
  const srv = await serve(flexbed, ['--db', db]);
  server = srv.proc;
  const { base, getJSON } = srv;
  browser = await launch(chromium);
  const { page, errors } = await openView(browser, base, 'market');
  check(await page.locator('#market-summary:has-text("against meter_before")').count() === 1,
    'the summary says delivery is measured against meter_before');
  const d = (await getJSON('/api/deliveries')).deliveries[0];
  const m = (await getJSON('/api/matches')).matches[0];
  const heads = await page.locator('.request tr').first().locator('th').allTextContents();
  const cells = await page.locator('.request tr').nth(1).locator('td').allTextContents();
  const col = (h) => cells[heads.indexOf(h)];
  const kwh = (wh) => (wh / 1000).toFixed(2);
  check(col('baseline, kWh') === kwh(d.baseline_wh) && col('metered, kWh') === kwh(d.measured_wh) &&
    col('delivered, kWh') === kwh(m.delivered_wh),
  `baseline ${col('baseline, kWh')}, metered ${col('metered, kWh')}, delivered ${col('delivered, kWh')} kWh as the API: ` +
    JSON.stringify(d));
  check(m.delivered_wh === d.baseline_wh - d.measured_wh && d.measured_wh < 0,
    `delivered = baseline - metered (${m.delivered_wh} = ${d.baseline_wh} - (${d.measured_wh}))`);
  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));
} catch (e) {
  c.fail(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  ws.remove();
  clearTimeout(c.watchdog);
}
c.done();
