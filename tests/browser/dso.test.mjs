/*
 * dso.test.mjs: a DSO works the market from the dashboard (issue 13).
 *
 * A fresh market is set up with the CLI as docs/api.md's walk-through does
 * (keys, `flexbed serve --operator-key`, genesis, participants, a deposit,
 * two FSPs' assets and offers), then Debian's chromium, driven headless by
 * playwright-core, opens the DSO view and:
 *   - signs, in the page, an action with the DSO's key: the body is byte for
 *     byte what `flexbed sign` gives (canonical JSON, personal_sign, RFC 6979);
 *   - posts a demand-response request through the form (Fig. 2), which the
 *     server stores with exactly the fields entered;
 *   - matches it and buys it with the buttons: both offers matched in merit
 *     order, escrow taken, two dispatch instructions written;
 *   - after the window (a lab clock, `flexbed serve --clock` at 240x), records
 *     the two metered deliveries in the page and settles: the payouts, fees
 *     and refunds are the market's rule applied to the figures entered;
 *   - and the ledger verifies;
 * then, in a second page with an EIP-1193 provider injected and backed by
 * ethers (holding the DSO's key, as a wallet would), posts a request that
 * the wallet signs with personal_sign and the server accepts.
 *
 * usage: node dso.test.mjs FLEXBED_BINARY SOURCE_DIR
 * Exit 0 passed, 1 failed, 77 skipped (no chromium or no playwright-core).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserTest, freshMarket, injectWallet, launch, localUtc, openView } from './lib.mjs';

const { flexbed, src, chromium, c, check } = await browserTest('dso');

let mk, browser;
try {
  /* a lab clock (`flexbed serve --clock`) at 240x: the window, two hours
   * ahead, is over about 41 s after the start */
  mk = await freshMarket(flexbed, 'flexbed-dso-', { start_us: Date.parse('2030-01-01T08:00:00Z') * 1000, rate: 240 });
  const { base, getJSON, send, dso, fsp1, fsp2, hour, w0, w1 } = mk;
  const cli = mk.ws.cli;
  for (const [f, price] of [[fsp1, 100000], [fsp2, 120000]]) {
    const asset = await send(f, { action: 'asset_add', type: 'battery', name: 'battery', location: 'bus-7',
      p_min_w: -10000, p_max_w: 10000, soc_min_ppm: 100000, soc_max_ppm: 900000 });
    await send(f, { action: 'offer_add', asset_id: asset.id, start_us: w0, end_us: w1, p_w: -10000,
      price_ueur_per_kwh: price, valid_until_us: w0 });
  }

  browser = await launch(chromium);
  const { page, errors } = await openView(browser, base, 'dso');

  /* the page signs exactly what `flexbed sign` signs */
  const key = readFileSync(dso.path, 'utf8').trim();
  const probe = { action: 'request_add', location: 'Eskişehir "bus" 7', start_us: w0, end_us: w1,
    p_w: -20000, max_price_ueur_per_kwh: 210000 };
  const inPage = await page.evaluate(async ([k, a]) => {
    const m = await import('/sign.js');
    return m.signedBody(m.keySigner(k), a, 5);
  }, [key, probe]);
  const byCli = cli('sign', '--key', dso.path, '--nonce', '5', JSON.stringify(probe)).trim();
  check(inPage === byCli, 'the page signs byte for byte what flexbed sign gives:\n  ' + inPage + '\n  ' + byCli);

  /* sign in with the key and post the request through the form */
  await page.fill('#sign-key', key);
  await page.click('#sign-use-key');
  await page.waitForSelector('#sign-who:has-text("DSO OEDAS")', { timeout: 10000 });
  check(true, 'signed in as the DSO: ' + await page.textContent('#sign-who'));
  const local = localUtc;
  await page.fill('#dso-form [name=location]', 'bus-7');
  await page.fill('#dso-form [name=start]', local(w0));
  await page.fill('#dso-form [name=end]', local(w1));
  await page.selectOption('#dso-form [name=direction]', 'reduce');
  await page.fill('#dso-form [name=kw]', '20');
  await page.fill('#dso-form [name=price]', '0.21');
  await page.click('#dso-form button[type=submit]');
  await page.waitForSelector('#dso-result.ok, #dso-result.bad', { timeout: 10000 });
  check(await page.getAttribute('#dso-result', 'class') === 'mono ok', 'request posted: ' + await page.textContent('#dso-result'));
  const reqs = (await getJSON('/api/requests')).requests;
  const r = reqs[0] || {};
  check(reqs.length === 1 && r.location === 'bus-7' && r.start_us === w0 && r.end_us === w1 &&
    r.p_w === -20000 && r.max_price_ueur_per_kwh === 210000 && r.dso === dso.address,
    'the server stored the request as entered: ' + JSON.stringify(r));

  /* match and buy with the buttons */
  await page.waitForSelector('#dso-requests button:has-text("Match")', { timeout: 10000 });
  await page.click('#dso-requests button:has-text("Match")');
  await page.waitForSelector('#dso-requests button:has-text("Buy")', { timeout: 10000 });
  const m = (await getJSON('/api/matches?request=' + r.id)).matches;
  check(m.length === 2 && m[0].fsp === fsp1.address && m[1].fsp === fsp2.address,
    'both offers matched in merit order: ' + m.map((x) => x.fsp + '@' + x.price_ueur_per_kwh).join(', '));
  await page.click('#dso-requests button:has-text("Buy")');
  await page.waitForSelector('#dso-requests td:has-text("purchased")', { timeout: 10000 });
  const market = await getJSON('/api/market');
  const want = m.reduce((a, x) => a + x.amount_ueur, 0);
  check(market.escrow_ueur === want, `escrow EUR ${market.escrow_ueur / 1e6} = the matches' amount ${want / 1e6}`);
  const disp = (await getJSON('/api/dispatch?after=0')).dispatch;
  check(disp.length === 2, `two dispatch instructions written (${disp.length})`);
  const v = await getJSON('/api/ledger/verify');
  check(v.ok === true, 'the ledger verifies: ' + JSON.stringify(v));
  check(errors.length === 0, 'no errors in the page: ' + JSON.stringify(errors));

  /* After the window (on the lab clock): the DSO records the metered
   * deliveries in the page, then settles; the payouts follow the market's
   * rule from the figures entered: gross = delivered x price (capped at the
   * escrow), 3.4 % of it withheld, the FSP paid the rest, the unspent
   * escrow refunded. */
  const entered = [7208, 6970];
  for (const [i, x] of m.entries()) {
    const input = `#dso-requests input[data-match="${x.id}"]`;
    await page.waitForSelector(input, { timeout: 70000 }); /* the window ends ~41 s after the start */
    await page.fill(input, String(entered[i]));
    await page.click(`#dso-requests span.delivery:has(input[data-match="${x.id}"]) button`);
    await page.waitForFunction((n) => document.querySelectorAll('#dso-requests td').length &&
      [...document.querySelectorAll('#dso-requests td')].filter((td) => td.textContent === 'delivered').length === n,
    i + 1, { timeout: 10000 });
  }
  const dm = (await getJSON('/api/matches?request=' + r.id)).matches;
  check(dm.map((x) => x.delivered_wh).join() === entered.join(), 'deliveries recorded from the page: ' +
    dm.map((x) => x.delivered_wh + ' Wh').join(', '));
  await page.click('#dso-requests button:has-text("Settle")');
  await page.waitForSelector('#dso-requests .request .state:has-text("settled")', { timeout: 10000 });
  const st = (await getJSON('/api/settlements')).settlements;
  const gross = dm.map((x) => Math.min(x.amount_ueur, Math.round(x.delivered_wh * x.price_ueur_per_kwh / 1000)));
  const fee = gross.map((g) => Math.round(g * 34000 / 1e6));
  check(st.length === 2 && st.every((x, i) => x.fee_ueur === fee[i] && x.payout_ueur === gross[i] - fee[i] &&
    x.refund_ueur === dm[i].amount_ueur - gross[i]),
  'settled from the page: ' + JSON.stringify(st.map((x) => [x.payout_ueur, x.fee_ueur, x.refund_ueur])));
  if (process.env.FLEXBED_SCREENSHOTS)
    await page.screenshot({ path: join(process.env.FLEXBED_SCREENSHOTS, 'dashboard-dso.png'), fullPage: true });
  const v2 = await getJSON('/api/ledger/verify');
  check(v2.ok === true, 'the ledger verifies after settlement: ' + JSON.stringify(v2));

  /* A wallet: an EIP-1193 provider injected into a fresh page, backed by
   * ethers holding the DSO's key (as MetaMask would); the page asks it for
   * personal_sign and the server accepts what it signed. */
  const { page: page2, hooked: asked } = await openView(browser, base, 'dso',
    { errors, before: (pg) => injectWallet(pg, key) });
  await page2.click('#sign-wallet');
  await page2.waitForSelector('#sign-who:has-text("wallet")', { timeout: 10000 });
  await page2.fill('#dso-form [name=location]', 'bus-7');
  await page2.fill('#dso-form [name=start]', local(w0 + 2 * hour));
  await page2.fill('#dso-form [name=end]', local(w1 + 2 * hour));
  await page2.fill('#dso-form [name=kw]', '5');
  await page2.fill('#dso-form [name=price]', '0.2');
  await page2.click('#dso-form button[type=submit]');
  await page2.waitForSelector('#dso-result.ok, #dso-result.bad', { timeout: 10000 });
  const res2 = await page2.textContent('#dso-result');
  check(await page2.getAttribute('#dso-result', 'class') === 'mono ok' && asked.includes('personal_sign'),
    'a request signed by the wallet (ethers, personal_sign) is accepted: ' + res2);
  const reqs2 = (await getJSON('/api/requests')).requests;
  check(reqs2.length === 2 && reqs2[1].p_w === -5000 && reqs2[1].dso === dso.address,
    'stored as the DSO\'s: ' + JSON.stringify(reqs2[1]));
  check(errors.length === 0, 'no errors in the wallet page: ' + JSON.stringify(errors));
} catch (e) {
  c.fail(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (mk) mk.close();
  clearTimeout(c.watchdog);
}
c.done();
