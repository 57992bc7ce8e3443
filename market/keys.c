/*
 * keys.c: secp256k1 keys, Ethereum addresses and personal_sign signatures.
 *
 * A participant is its key pair; its address is the last 20 bytes of the
 * Keccak-256 of the 64-byte uncompressed public key, printed with the
 * EIP-55 checksum. Actions are signed the way a wallet's personal_sign
 * does (EIP-191: keccak256("\x19Ethereum Signed Message:\n" + decimal
 * length + message)), so a standard Ethereum wallet could sign an order.
 * libsecp256k1 does the curve work; its signatures are RFC 6979
 * deterministic and already low-s, and recovery refuses high-s ones as
 * EIP-2 requires. Key files are hex text with mode 0600; a key file others
 * can read is refused rather than trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "internal.h"

int mkt__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parse exactly 2n hex digits (after an optional 0x) into n bytes. */
static int parse_hex(const char *s, uint8_t *out, size_t n)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = mkt__hexval(s[2 * i]), lo = mkt__hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void format_hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int key_check(const struct mkt_key *k, struct sim_err *err)
{
    if (!secp256k1_ec_seckey_verify(secp256k1_context_static, k->priv))
        return sim_errf(err, SIM_EINVAL, "private key out of range (zero or >= curve order)");
    return 0;
}

int mkt_key_generate(struct mkt_key *k, struct sim_err *err)
{
    for (int tries = 0; tries < 16; tries++) {
        size_t got = 0;
        while (got < sizeof k->priv) {
            ssize_t r = getrandom(k->priv + got, sizeof k->priv - got, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return sim_errf(err, SIM_EIO, "getrandom: %s", strerror(errno));
            }
            got += (size_t)r;
        }
        if (secp256k1_ec_seckey_verify(secp256k1_context_static, k->priv))
            return 0;
    }
    return sim_errf(err, SIM_EIO, "getrandom gave no valid key");
}

int mkt_key_derive(uint64_t seed, const char *label, struct mkt_key *k, struct sim_err *err)
{
    /* keccak(seed || label || counter) until valid: deterministic keys make
     * simulated ledgers identical byte for byte across re-runs. */
    size_t n = strlen(label);
    uint8_t buf[8 + 256 + 1];
    if (n > 256)
        return sim_errf(err, SIM_EINVAL, "key label longer than 256 bytes");
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(seed >> (56 - 8 * i));
    memcpy(buf + 8, label, n);
    for (uint8_t ctr = 0; ctr < 16; ctr++) {
        buf[8 + n] = ctr;
        mkt_keccak256(buf, 8 + n + 1, k->priv);
        if (secp256k1_ec_seckey_verify(secp256k1_context_static, k->priv))
            return 0;
    }
    return sim_errf(err, SIM_EINVAL, "no valid key derived");
}

int mkt_key_from_hex(const char *hex, struct mkt_key *k, struct sim_err *err)
{
    if (parse_hex(hex, k->priv, 32))
        return sim_errf(err, SIM_EINVAL, "private key must be 64 hex digits");
    return key_check(k, err);
}

int mkt_key_save(const char *path, const struct mkt_key *k, struct sim_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sim_errf(err, SIM_EIO, "%s: %s", path, strerror(errno));
    char text[2 + 64 + 2] = "0x";
    format_hex(k->priv, 32, text + 2);
    strcat(text, "\n");
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = (w == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    memset(text, 0, sizeof text);
    if (rc) {
        unlink(path);
        return sim_errf(err, SIM_EIO, "%s: write failed", path);
    }
    return 0;
}

int mkt_key_load(const char *path, struct mkt_key *k, struct sim_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sim_errf(err, SIM_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return sim_errf(err, SIM_EIO, "%s: %s", path, strerror(errno));
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return sim_errf(err, SIM_EINVAL,
                        "%s: key file is accessible by group or others (mode %04o); "
                        "chmod 600 it",
                        path, (unsigned)(st.st_mode & 07777));
    }
    char text[128];
    ssize_t r = read(fd, text, sizeof text - 1);
    close(fd);
    if (r < 0)
        return sim_errf(err, SIM_EIO, "%s: %s", path, strerror(errno));
    text[r] = 0;
    while (r > 0 && (text[r - 1] == '\n' || text[r - 1] == '\r' || text[r - 1] == ' '))
        text[--r] = 0;
    int rc = mkt_key_from_hex(text, k, err);
    memset(text, 0, sizeof text);
    if (rc)
        return sim_errf(err, rc, "%s: not a key file (64 hex digits expected)", path);
    return 0;
}

static void pubkey_address(const secp256k1_pubkey *pk, uint8_t addr[20])
{
    uint8_t ser[65];
    size_t len = sizeof ser;
    secp256k1_ec_pubkey_serialize(secp256k1_context_static, ser, &len, pk,
                                  SECP256K1_EC_UNCOMPRESSED);
    uint8_t h[32];
    mkt_keccak256(ser + 1, 64, h);
    memcpy(addr, h + 12, 20);
}

int mkt_key_address(const struct mkt_key *k, uint8_t addr[20], struct sim_err *err)
{
    int rc = key_check(k, err);
    if (rc)
        return rc;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!ctx)
        return sim_errf(err, SIM_ENOMEM, "secp256k1 context");
    secp256k1_pubkey pk;
    int ok = secp256k1_ec_pubkey_create(ctx, &pk, k->priv);
    secp256k1_context_destroy(ctx);
    if (!ok)
        return sim_errf(err, SIM_EINVAL, "invalid private key");
    pubkey_address(&pk, addr);
    return 0;
}

char *mkt_address_format(const uint8_t addr[20], char out[MKT_ADDR_STRLEN])
{
    char lower[41];
    format_hex(addr, 20, lower);
    uint8_t h[32];
    mkt_keccak256(lower, 40, h);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        int nib = (h[i / 2] >> (i % 2 ? 0 : 4)) & 15;
        char c = lower[i];
        out[2 + i] = (c >= 'a' && nib >= 8) ? (char)(c - 'a' + 'A') : c;
    }
    out[42] = 0;
    return out;
}

int mkt_address_parse(const char *s, uint8_t addr[20], struct sim_err *err)
{
    if (!s || s[0] != '0' || s[1] != 'x' || parse_hex(s, addr, 20))
        return sim_errf(err, SIM_EINVAL, "address must be 0x followed by 40 hex digits");
    int lower = 0, upper = 0;
    for (int i = 2; i < 42; i++) {
        lower |= (s[i] >= 'a' && s[i] <= 'f');
        upper |= (s[i] >= 'A' && s[i] <= 'F');
    }
    if (lower && upper) {
        char want[MKT_ADDR_STRLEN];
        mkt_address_format(addr, want);
        if (strcmp(want, s))
            return sim_errf(err, SIM_EINVAL, "address %s fails its EIP-55 checksum", s);
    }
    return 0;
}

void mkt_eip191_hash(const void *msg, size_t n, uint8_t out[32])
{
    /* The prefix and length are hashed together with the message; a stack
     * buffer for small messages avoids an allocation per signature. */
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix,
                        "\x19"
                        "Ethereum Signed Message:\n%zu",
                        n);
    uint8_t stackbuf[4096];
    size_t total = (size_t)plen + n;
    uint8_t *buf = total <= sizeof stackbuf ? stackbuf : malloc(total);
    if (!buf) {
        memset(out, 0, 32); /* unreachable in practice; a zero hash never verifies */
        return;
    }
    memcpy(buf, prefix, (size_t)plen);
    memcpy(buf + plen, msg, n);
    mkt_keccak256(buf, total, out);
    if (buf != stackbuf)
        free(buf);
}

int mkt_sign_message(const struct mkt_key *k, const void *msg, size_t n, uint8_t sig[MKT_SIG_LEN],
                     struct sim_err *err)
{
    int rc = key_check(k, err);
    if (rc)
        return rc;
    uint8_t h[32];
    mkt_eip191_hash(msg, n, h);
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!ctx)
        return sim_errf(err, SIM_ENOMEM, "secp256k1 context");
    /* Randomising the context blinds the signing against side channels; the
     * signature itself stays RFC 6979 deterministic. */
    uint8_t seed[32];
    if (getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed &&
        !secp256k1_context_randomize(ctx, seed)) {
        secp256k1_context_destroy(ctx);
        return sim_errf(err, SIM_EINVAL, "secp256k1 context randomisation failed");
    }
    secp256k1_ecdsa_recoverable_signature rs;
    int recid = 0;
    int ok = secp256k1_ecdsa_sign_recoverable(ctx, &rs, h, k->priv, NULL, NULL) &&
             secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs);
    secp256k1_context_destroy(ctx);
    if (!ok)
        return sim_errf(err, SIM_EINVAL, "signing failed");
    sig[64] = (uint8_t)(27 + recid);
    return 0;
}

int mkt_recover_signer(const void *msg, size_t n, const uint8_t sig[MKT_SIG_LEN], uint8_t addr[20],
                       struct sim_err *err)
{
    int v = sig[64];
    if (v >= 27)
        v -= 27;
    if (v != 0 && v != 1)
        return sim_errf(err, SIM_EINVAL, "signature v must be 27 or 28");
    const secp256k1_context *ctx = secp256k1_context_static;
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig, v))
        return sim_errf(err, SIM_EINVAL, "signature r or s out of range");
    /* EIP-2: s must be in the lower half of the order; normalize reports
     * whether it had to flip s, which means the signature was high-s. */
    secp256k1_ecdsa_signature plain;
    secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs);
    if (secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain))
        return sim_errf(err, SIM_EINVAL, "signature has a high s value (EIP-2 requires low s)");
    uint8_t h[32];
    mkt_eip191_hash(msg, n, h);
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(ctx, &pk, &rs, h))
        return sim_errf(err, SIM_EINVAL, "signature does not recover a public key");
    pubkey_address(&pk, addr);
    return 0;
}

char *mkt_sig_format(const uint8_t sig[MKT_SIG_LEN], char out[MKT_SIG_STRLEN])
{
    out[0] = '0';
    out[1] = 'x';
    format_hex(sig, MKT_SIG_LEN, out + 2);
    return out;
}

int mkt_sig_parse(const char *s, uint8_t sig[MKT_SIG_LEN], struct sim_err *err)
{
    if (!s || parse_hex(s, sig, MKT_SIG_LEN))
        return sim_errf(err, SIM_EINVAL, "signature must be 0x followed by 130 hex digits");
    return 0;
}
