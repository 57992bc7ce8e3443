/*
 * live.test.mjs: a run watched live (issue 13). `flexbed run` of the demo
 * paced at 7200x (a day in 12 s) with --serve on a free loopback port;
 * Debian's chromium, driven headless by playwright-core, opens the
 * Monitoring view while the run goes on and sees the transformer's chart
 * grow as the run commits (the server announces each change on the
 * websocket), the run's status go from running to completed, and the
 * Market view show the settled match once the market has settled. The
 * server refuses transactions (it watches; the run's market is the
 * scenario's), stays up after the run until SIGINT, and the command then
 * exits 0.
 *
 * usage: node live.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core).
 */
import { join } from 'node:path';
import { browserTest, launch, openView, runServed, workspace } from './lib.mjs';

const { flexbed, src, chromium, c, check } = await browserTest('live');
const ws = workspace(flexbed, 'flexbed-live-');

let run, browser;
try {
  const served = await runServed(flexbed, [join(src, 'scenarios/demo-2023-10-02.json'), '--out', join(ws.tmp, 'live.db'),
    '--speed', '7200', '--no-counterfactual', '--quiet']);
  run = served.proc;
  const { base, getJSON, exited } = served;

  browser = await launch(chromium);
  const { page, errors } = await openView(browser, base, 'monitoring');
  await page.waitForSelector('#mon-chart svg path[data-signal]', { timeout: 15000 });
  const points = async () => page.locator('#mon-chart svg path[data-signal]').first().evaluate(
    (p) => (p.getAttribute('d').match(/[ML]/g) || []).length);
  const n1 = await points();
  const running = (await getJSON('/api/runs')).runs[0].status;
  check(running === 'running' && n1 < 1440, `the run is watched while it goes on (${running}, ${n1} of 1440 points)`);
  /* the page redraws on the server's "changed" events */
  await page.waitForFunction((n) => {
    const p = document.querySelector('#mon-chart svg path[data-signal]');
    return p && (p.getAttribute('d').match(/[ML]/g) || []).length > n;
  }, n1, { timeout: 10000 });
  check(true, `the chart grew live (from ${n1} points to ${await points()})`);
  check(await page.locator('#mon-events li:has-text("changed")').count() > 0, 'the server announced the changes');

  await new Promise((resolve, reject) => {
    const t = setInterval(() => { if (/the dashboard stays/.test(served.output())) { clearInterval(t); resolve(); } }, 50);
    setTimeout(() => { clearInterval(t); reject(new Error('the run did not finish: ' + served.output())); }, 40000);
  });
  check((await getJSON('/api/runs')).runs[0].status === 'completed', 'the run completed and is still served');
  await page.waitForFunction(() => {
    const p = document.querySelector('#mon-chart svg path[data-signal]');
    return p && (p.getAttribute('d').match(/[ML]/g) || []).length === 1440;
  }, null, { timeout: 10000 }).catch(() => {});
  check(await points() === 1440, `the whole day drawn (${await points()} points)`);
  await page.click('nav a[data-view="market"]');
  await page.waitForSelector('.request td:has-text("settled")', { timeout: 10000 });
  check(true, 'the Market view shows the settled matches');
  const post = await fetch(base + '/api/tx', { method: 'POST', body: '{}' });
  check(post.status === 403, `transactions refused while watching a run (${post.status})`);
  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));

  run.kill('SIGINT');
  const ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'timeout' }), 10000))]);
  check(ex.code === 0, `Ctrl-C after the run: exit ${ex.code}`);
  run = null;
} catch (e) {
  c.fail(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (run) run.kill('SIGKILL');
  ws.remove();
  clearTimeout(c.watchdog);
}
c.done();
