/*
 * fsp.test.mjs: an FSP works the market from the dashboard with a wallet
 * (issue 13). A fresh market (lib.mjs: operator, funded DSO, two FSPs); the
 * FSP's asset is added with the CLI. In Debian's chromium, driven headless
 * by playwright-core, a page with an EIP-1193 provider backed by ethers
 * (holding the FSP's key, as MetaMask would) opens the FSP view, signs in
 * with the wallet and posts an offer through the form: the wallet signs it
 * with personal_sign and the server stores it as entered. The DSO then
 * requests, matches and buys with the CLI, and the FSP's page shows the
 * match and the dispatch as they happen (the websocket, the paper's
 * e-mail) and lists the match among its own.
 *
 * usage: node fsp.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserTest, freshMarket, injectWallet, launch, localUtc, openView } from './lib.mjs';

const { flexbed, src, chromium, c, check } = await browserTest('fsp');

let mk, browser;
try {
  mk = await freshMarket(flexbed, 'flexbed-fsp-');
  const { base, getJSON, send, dso, fsp1, w0, w1 } = mk;
  const asset = await send(fsp1, { action: 'asset_add', type: 'ev', name: 'V2G car', location: 'bus-7',
    p_min_w: -10000, p_max_w: 11000, soc_min_ppm: 300000, soc_max_ppm: 900000 });

  browser = await launch(chromium);
  const { page, errors, hooked: asked } = await openView(browser, base, 'fsp',
    { before: (pg) => injectWallet(pg, readFileSync(fsp1.path, 'utf8').trim()) });
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.click('#sign-wallet');
  await page.waitForSelector('#sign-who:has-text("FSP battery owner")', { timeout: 10000 });
  check(true, 'signed in with the wallet: ' + await page.textContent('#sign-who'));
  await page.waitForSelector(`#fsp-form [name=asset] option[value="${asset.id}"]`, { state: 'attached', timeout: 10000 });

  await page.selectOption('#fsp-form [name=asset]', String(asset.id));
  await page.fill('#fsp-form [name=start]', localUtc(w0));
  await page.fill('#fsp-form [name=end]', localUtc(w1));
  await page.selectOption('#fsp-form [name=direction]', 'reduce');
  await page.fill('#fsp-form [name=kw]', '10');
  await page.fill('#fsp-form [name=price]', '0.1');
  await page.click('#fsp-form button[type=submit]');
  await page.waitForSelector('#fsp-result.ok, #fsp-result.bad', { timeout: 10000 });
  check(await page.getAttribute('#fsp-result', 'class') === 'mono ok' && asked.includes('personal_sign'),
    'an offer signed by the wallet (ethers, personal_sign) is accepted: ' + await page.textContent('#fsp-result'));
  const offers = (await getJSON('/api/offers')).offers;
  const o = offers[0] || {};
  check(offers.length === 1 && o.asset_id === asset.id && o.fsp === fsp1.address && o.start_us === w0 &&
    o.end_us === w1 && o.p_w === -10000 && o.price_ueur_per_kwh === 100000,
    'the server stored the offer as entered: ' + JSON.stringify(o));

  /* the DSO buys it; the FSP's page hears of it */
  const req = await send(dso, { action: 'request_add', location: 'bus-7', start_us: w0, end_us: w1,
    p_w: -10000, max_price_ueur_per_kwh: 210000 });
  await send(dso, { action: 'match', request_id: req.id });
  await send(dso, { action: 'purchase', request_id: req.id });
  await page.waitForSelector('#fsp-notices li[data-event="dispatch"]', { timeout: 10000 });
  const notices = await page.locator('#fsp-notices li').allTextContents();
  check(notices.some((t) => t.startsWith('matched: request ' + req.id)) && notices.some((t) => t.startsWith('dispatch: asset ' + asset.id)),
    'the FSP was told of the match and the dispatch: ' + JSON.stringify(notices));
  await page.waitForSelector('#fsp-matches td:has-text("purchased")', { timeout: 10000 });
  check(true, 'the bought match is listed among the FSP\'s');
  const v = await getJSON('/api/ledger/verify');
  check(v.ok === true, 'the ledger verifies: ' + JSON.stringify(v));
  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));
  if (process.env.FLEXBED_SCREENSHOTS)
    await page.screenshot({ path: join(process.env.FLEXBED_SCREENSHOTS, 'dashboard-fsp.png'), fullPage: true });
} catch (e) {
  c.fail(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (mk) mk.close();
  clearTimeout(c.watchdog);
}
c.done();
