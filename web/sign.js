/*
 * sign.js: signing market actions in the browser exactly as `flexbed sign`
 * does (docs/market.md): the action in canonical JSON (keys sorted by byte
 * value, no whitespace, integers only), EIP-191 personal_sign over those
 * bytes, secp256k1 with RFC 6979 nonces and low s, the signature as
 * 0x r s v with v = 27 or 28. Deterministic: the same key and action give
 * the same bytes as the CLI, which tests/browser checks.
 *
 * Two signers: an EIP-1193 wallet when the page has one (MetaMask's
 * personal_sign, which signs the same bytes the same way), otherwise a key
 * held in the page, for lab use. The curve and hash come from npm
 * (@noble/secp256k1, @noble/hashes; web/package.json), built into the
 * binary and served under /vendor/.
 */
import { keccak_256 } from '/vendor/noble-hashes/sha3.js';
import { sha256 } from '/vendor/noble-hashes/sha2.js';
import { hmac } from '/vendor/noble-hashes/hmac.js';
import * as secp from '/vendor/noble-secp256k1.js';

secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (key, msg) => hmac(sha256, key, msg);

const utf8 = new TextEncoder();
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function unhex(s) {
  s = s.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2) throw new Error('not hex');
  return Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
}

function byteCompare(a, b) {
  const x = utf8.encode(a), y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/* The canonical text of a JSON value (throws on what the market refuses). */
export function canonical(v) {
  if (v === null) return 'null';
  if (v === true || v === false) return String(v);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || Math.abs(v) > 2 ** 53 || Object.is(v, -0))
      throw new Error('numbers must be integers within +-2^53: ' + v);
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (typeof v === 'object')
    return '{' + Object.keys(v).sort(byteCompare).map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
  throw new Error('not JSON: ' + typeof v);
}

/* EIP-55 address of a 20-byte value. */
function checksummed(addr20) {
  const lower = hex(addr20);
  const h = hex(keccak_256(utf8.encode(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  return out;
}

function personalDigest(text) {
  const msg = utf8.encode(text);
  return keccak_256(new Uint8Array([...utf8.encode('\x19Ethereum Signed Message:\n' + msg.length), ...msg]));
}

/* The address that signed text (personal_sign) with sig (0x r s v). */
export function recoverSigner(text, sigHex) {
  const sig = unhex(sigHex);
  if (sig.length !== 65) throw new Error('a signature is 65 bytes');
  const v = sig[64] >= 27 ? sig[64] - 27 : sig[64];
  if (v > 1) throw new Error('bad recovery byte');
  const rec = new Uint8Array([v, ...sig.subarray(0, 64)]);
  const pub = secp.recoverPublicKey(rec, personalDigest(text), { prehash: false });
  const full = secp.Point.fromBytes(pub).toBytes(false);
  return checksummed(keccak_256(full.subarray(1)).subarray(12));
}

/* A ledger transaction's hash: keccak256(json || sig || t_us as 8 bytes
 * big-endian), docs/market.md. */
export function txHash(json, sigHex, tUs) {
  const t = new Uint8Array(8);
  new DataView(t.buffer).setBigInt64(0, BigInt(tUs));
  return '0x' + hex(keccak_256(new Uint8Array([...utf8.encode(json), ...unhex(sigHex), ...t])));
}

/* A signer from a private key (64 hex digits, as `flexbed keygen` writes). */
export function keySigner(keyHex) {
  const key = unhex(keyHex);
  if (key.length !== 32) throw new Error('a key is 64 hex digits');
  const pub = secp.getPublicKey(key, false);
  const address = checksummed(keccak_256(pub.subarray(1)).subarray(12));
  return {
    kind: 'key',
    address,
    async signText(text) {
      const rec = secp.sign(personalDigest(text), key, { prehash: false, format: 'recovered' });
      /* noble's recovered format is the recovery bit, then r and s */
      return '0x' + hex(rec.subarray(1)) + (27 + rec[0]).toString(16);
    },
  };
}

/* A signer from an EIP-1193 provider (window.ethereum). */
export async function walletSigner(provider) {
  const [address] = await provider.request({ method: 'eth_requestAccounts' });
  return {
    kind: 'wallet',
    address: checksummed(unhex(address)),
    async signText(text) {
      const sig = await provider.request({ method: 'personal_sign', params: ['0x' + hex(utf8.encode(text)), address] });
      /* wallets answer v as 27/28 (some as 0/1: the market takes both) */
      return sig;
    },
  };
}

/* The POST /api/tx body for action (an object), with "from" and "nonce". */
export async function signedBody(signer, action, nonce) {
  const tx = canonical({ ...action, from: signer.address, nonce });
  return JSON.stringify({ tx, sig: await signer.signText(tx) });
}

/* The Merkle root of transaction hashes (0x hex) in block order: a pair is
 * keccak256(left || right), an odd last node is carried up unchanged, one
 * leaf is its own root (docs/market.md). */
export function merkleRoot(hashes) {
  let level = hashes.map(unhex);
  if (!level.length) return '0x' + '00'.repeat(32);
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? keccak_256(new Uint8Array([...level[i], ...level[i + 1]])) : level[i]);
    level = next;
  }
  return '0x' + hex(level[0]);
}

/* Check a block in the browser, trusting nothing the server says but the
 * bytes checked (docs/market.md, "How to verify"): its header rebuilt from
 * the columns in canonical JSON hashes to its hash and is signed by its
 * sealer, who is the market's operator; prev_hash is the previous block's
 * hash (32 zero bytes for block 0); its transactions (txs, in block order)
 * are n_tx, each hash recomputed, and their Merkle root is the header's.
 * Returns { ok, why }. */
export function checkBlock(b, txs, prevHash, operator) {
  const bad = [];
  const same = (x, y) => String(x).toLowerCase() === String(y).toLowerCase();
  const header = canonical({ height: b.height, merkle_root: b.merkle_root, n_tx: b.n_tx, prev_hash: b.prev_hash,
    sealer: b.sealer, t_us: b.t_us });
  if (!same('0x' + hex(keccak_256(utf8.encode(header))), b.hash)) bad.push('hash is not keccak256 of its header');
  let signer = '?';
  try { signer = recoverSigner(header, b.sig); } catch (e) { bad.push('signature: ' + e.message); }
  if (signer !== b.sealer) bad.push('header signed by ' + signer + ', not by its sealer');
  if (operator && b.sealer !== operator) bad.push('sealed by ' + b.sealer + ', not the operator');
  if (!same(b.prev_hash, prevHash)) bad.push('prev_hash does not link to block ' + (b.height - 1));
  if (txs.length !== b.n_tx) bad.push(txs.length + ' transactions, the header says ' + b.n_tx);
  const hashes = txs.map((t) => txHash(t.json, t.sig, t.t_us));
  txs.forEach((t, i) => { if (!same(hashes[i], t.hash)) bad.push('transaction ' + t.seq + "'s hash differs"); });
  if (!same(merkleRoot(hashes), b.merkle_root)) bad.push('Merkle root differs');
  return bad.length ? { ok: false, why: bad.join('; ') }
    : { ok: true, why: 'signed by the operator, hash, link and Merkle root of ' + txs.length + ' tx ok' };
}
