/*
 * lib.mjs: what the browser tests share: skipping where chromium or
 * playwright-core is missing (exit 77), checks, a watchdog, `flexbed serve`
 * on an ephemeral loopback port, the CLI, and a fresh market set up as
 * docs/api.md's walk-through does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.FLEXBED_CHROMIUM || '/usr/bin/chromium';

/* playwright's chromium, or exit 77 (skipped) saying what is missing. */
export async function chromiumOrSkip() {
  if (!existsSync(CHROMIUM)) {
    console.log(`SKIP: no chromium at ${CHROMIUM} (scripts/install-deps installs Debian's)`);
    process.exit(77);
  }
  try {
    return (await import('playwright-core')).chromium;
  } catch {
    console.log('SKIP: playwright-core is not installed (make test runs npm ci in tests/browser)');
    process.exit(77);
  }
}

export async function launch(chromium) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30000,
  });
}

export function checker(name) {
  const c = {
    failures: 0,
    check(cond, what) {
      if (!cond) c.failures++;
      console[cond ? 'log' : 'error']((cond ? 'ok: ' : 'FAIL: ') + what);
    },
    fail(e) {
      c.failures++;
      console.error('FAIL: ' + (e.stack || e));
    },
    done() {
      console.log(c.failures ? `${name}: ${c.failures} failed` : `${name}: all passed`);
      process.exit(c.failures ? 1 : 0);
    },
  };
  /* Nothing here may run forever. */
  c.watchdog = setTimeout(() => {
    console.error(`FAIL: ${name} took longer than 120 s`);
    process.exit(1);
  }, 120000);
  return c;
}

/* The start of every test: its arguments (FLEXBED_BINARY SOURCE_DIR; exit
 * 2 without them), chromium (or exit 77) and a checker. */
export async function browserTest(name) {
  const [flexbed, src] = process.argv.slice(2);
  if (!flexbed || !src) {
    console.error(`usage: node ${name}.test.mjs FLEXBED_BINARY SOURCE_DIR`);
    process.exit(2);
  }
  const chromium = await chromiumOrSkip();
  const c = checker(name);
  return { flexbed, src, chromium, c, check: c.check };
}

/* A scratch directory and the CLI run in it. */
export function workspace(flexbed, prefix) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const cli = (...args) => {
    const r = spawnSync(flexbed, args, { encoding: 'utf8', timeout: 60000, cwd: tmp });
    if (r.status !== 0) throw new Error(`flexbed ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const keygen = (name) => {
    const path = join(tmp, name + '.key');
    const out = cli('keygen', path);
    return { path, address: out.match(/0x[0-9a-fA-F]{40}/)[0], nonce: 0 };
  };
  return { tmp, cli, keygen, remove: () => rmSync(tmp, { recursive: true, force: true }) };
}

/* `flexbed run ARGS... --serve 0` (the caller gives every argument but
 * --serve); resolves once the dashboard's address is printed to { proc,
 * base, getJSON, output() (stdout so far), exited (a promise of { code,
 * sig }) }. */
export async function runServed(flexbed, args) {
  let out = '';
  const proc = spawn(flexbed, ['run', ...args, '--serve', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  proc.stdout.on('data', (d) => { out += d; });
  const base = await new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = out.match(/dashboard on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearInterval(t); resolve(m[1]); }
    }, 20);
    setTimeout(() => { clearInterval(t); reject(new Error('no dashboard line: ' + out)); }, 10000);
  });
  const getJSON = async (p) => (await fetch(base + p)).json();
  return { proc, base, getJSON, output: () => out, exited };
}

/* Poll f (async) every 200 ms until it returns something truthy, which is
 * returned; throws naming `what` after ms. */
export async function until(what, f, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/* A new page whose uncaught errors collect in `errors` (a new array unless
 * given); `before(page)` runs before it loads (an injected wallet) and its
 * result is returned as `hooked`; then base/#view is opened and shown. */
export async function openView(browser, base, view, { errors = [], before } = {}) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => errors.push(e.message));
  const hooked = before ? await before(page) : undefined;
  await page.goto(base + '/#' + view, { timeout: 15000 });
  await page.waitForSelector(`body[data-shown="${view}"]`, { timeout: 15000 });
  return { page, errors, hooked };
}

/* `flexbed serve` with extra arguments; resolves to { base, proc, getJSON, tx }. */
export async function serve(flexbed, args) {
  const proc = spawn(flexbed, ['serve', '--http', '0', '--quiet', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('serve did not start: ' + out)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on('exit', (c) => reject(new Error('serve exited with ' + c + ': ' + out)));
  });
  const getJSON = async (p) => (await fetch(base + p)).json();
  return { base, proc, getJSON };
}

/* Sign action with the CLI as who (with its next nonce) and POST it. */
export async function tx(ws, base, who, action) {
  const body = ws.cli('sign', '--key', who.path, '--nonce', String(who.nonce), JSON.stringify(action));
  const r = await fetch(base + '/api/tx', { method: 'POST', body });
  const a = await r.json();
  if (!r.ok) throw new Error(JSON.stringify(action) + ': ' + a.error);
  who.nonce++;
  return a;
}

/* A fresh market: operator, DSO (funded), two FSPs; the server holds the
 * operator's key. Windows must lie ahead of the server's clock: w0 is two
 * hours ahead, on the hour, w1 45 minutes later. The clock is the wall
 * clock, or with clock = { start_us, rate } a lab clock (`serve --clock`)
 * from start_us, rate times as fast. */
export async function freshMarket(flexbed, prefix, clock) {
  const ws = workspace(flexbed, prefix);
  const op = ws.keygen('op'), dso = ws.keygen('dso'), fsp1 = ws.keygen('fsp1'), fsp2 = ws.keygen('fsp2');
  const args = ['--db', join(ws.tmp, 'market.db'), '--operator-key', op.path];
  if (clock) args.push('--clock', new Date(clock.start_us / 1000).toISOString().replace('.000Z', '+00:00'),
    '--clock-rate', String(clock.rate));
  const srv = await serve(flexbed, args);
  const send = (who, action) => tx(ws, srv.base, who, action);
  await send(op, { action: 'genesis', name: 'EFLEX', params: { settle_fee_ppm: 34000 } });
  await send(op, { action: 'participant_add', address: dso.address, role: 'DSO', name: 'OEDAS' });
  await send(op, { action: 'participant_add', address: fsp1.address, role: 'FSP', name: 'battery owner' });
  await send(op, { action: 'participant_add', address: fsp2.address, role: 'FSP', name: 'V2G owner' });
  await send(op, { action: 'deposit', address: dso.address, amount_ueur: 10000000 });
  const hour = 3600e6;
  const w0 = (Math.ceil((clock ? clock.start_us : Date.now() * 1000) / hour) + 2) * hour;
  const close = () => {
    srv.proc.kill('SIGTERM');
    ws.remove();
  };
  return { ws, ...srv, send, close, op, dso, fsp1, fsp2, hour, w0, w1: w0 + 0.75 * hour };
}

/* datetime-local text of a time in UTC (a market without runs shows UTC). */
export const localUtc = (us) => new Date(us / 1000).toISOString().slice(0, 16);

/* An EIP-1193 provider in page, backed by an ethers Wallet holding key
 * (as MetaMask would be); returns the list of methods the page asked. */
export async function injectWallet(page, key) {
  const { Wallet, getBytes, toUtf8String } = await import('ethers');
  const wallet = new Wallet(key.startsWith('0x') ? key : '0x' + key);
  const asked = [];
  await page.exposeFunction('walletRequest', async (method, params) => {
    asked.push(method);
    if (method === 'eth_requestAccounts') return [wallet.address.toLowerCase()];
    if (method === 'personal_sign') return wallet.signMessage(toUtf8String(getBytes(params[0])));
    throw new Error('unsupported ' + method);
  });
  await page.addInitScript(() => {
    window.ethereum = { request: ({ method, params }) => window.walletRequest(method, params || []) };
  });
  return asked;
}
