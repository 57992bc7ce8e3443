/*
 * test_keys.c: secp256k1 keys, Ethereum addresses (EIP-55) and
 * personal_sign signatures (EIP-191, low-s per EIP-2) against the widely
 * published known answers, plus key files (0600, refused when others can
 * read them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "market/market.h"

static const char *KAT_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
static const char *KAT_ADDR = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
static const char *KAT_SIG =
    "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2"
    "da167c747ef045e5d18a5f5d4300f8e1a0291c";

/* n - s for the secp256k1 group order n, big-endian 32 bytes. */
static void negate_s(uint8_t s[32])
{
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

int main(void)
{
    struct sim_err err;
    struct mkt_key k;
    uint8_t addr[20], addr2[20];
    char txt[MKT_ADDR_STRLEN], stxt[MKT_SIG_STRLEN];

    CHECK_INT(mkt_key_from_hex(KAT_KEY, &k, &err), 0);
    CHECK_INT(mkt_key_address(&k, addr, &err), 0);
    CHECK(!strcmp(mkt_address_format(addr, txt), KAT_ADDR), "address %s, expected %s", txt,
          KAT_ADDR);

    /* EIP-55 parse: exact, all-lower and all-upper accepted, bad checksum refused. */
    CHECK_INT(mkt_address_parse(KAT_ADDR, addr2, &err), 0);
    CHECK(!memcmp(addr, addr2, 20), "parse(format(a)) == a");
    CHECK_INT(mkt_address_parse("0x2c7536e3605d9c16a7a3d7b1898e529396a65c23", addr2, &err), 0);
    CHECK_INT(mkt_address_parse("0x2C7536E3605D9C16A7A3D7B1898E529396A65C23", addr2, &err), 0);
    CHECK_INT(mkt_address_parse("0x2c7536E3605D9C16a7a3D7b1898e529396a65C23", addr2, &err),
              SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "EIP-55");
    CHECK_INT(mkt_address_parse("0x2c7536E3605D9C16a7a3D7b1898e529396a65c2", addr2, &err),
              SIM_EINVAL);
    /* EIP-55 spec examples. */
    uint8_t a3[20];
    CHECK_INT(mkt_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", a3, &err), 0);
    CHECK(!strcmp(mkt_address_format(a3, txt), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
          "EIP-55 example gave %s", txt);
    CHECK_INT(mkt_address_parse("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359", a3, &err), 0);
    CHECK(!strcmp(mkt_address_format(a3, txt), "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
          "EIP-55 example gave %s", txt);

    /* personal_sign("Some data") known answer: r, s, v = 28. */
    uint8_t sig[MKT_SIG_LEN];
    CHECK_INT(mkt_sign_message(&k, "Some data", 9, sig, &err), 0);
    CHECK(!strcmp(mkt_sig_format(sig, stxt), KAT_SIG), "signature %s, expected %s", stxt, KAT_SIG);
    CHECK_INT(sig[64], 28);
    uint8_t h[32], hk[32];
    mkt_eip191_hash("Some data", 9, h);
    const char *pre = "\x19" "Ethereum Signed Message:\n9Some data";
    mkt_keccak256(pre, strlen(pre), hk);
    CHECK(!memcmp(h, hk, 32), "EIP-191 hash = keccak(prefix || len || msg)");

    /* Recovery gives the signer; a changed message gives someone else. */
    uint8_t ksig[MKT_SIG_LEN];
    CHECK_INT(mkt_sig_parse(KAT_SIG, ksig, &err), 0);
    CHECK_INT(mkt_recover_signer("Some data", 9, ksig, addr2, &err), 0);
    CHECK(!memcmp(addr, addr2, 20), "recovered signer must be the key's address");
    CHECK_INT(mkt_recover_signer("Some datA", 9, ksig, addr2, &err), 0);
    CHECK(memcmp(addr, addr2, 20) != 0, "a different message must not recover the signer");
    /* v given as 0/1 is accepted; 29 is not. */
    ksig[64] = 1;
    CHECK_INT(mkt_recover_signer("Some data", 9, ksig, addr2, &err), 0);
    CHECK(!memcmp(addr, addr2, 20), "v = 1 recovers the same signer");
    ksig[64] = 29;
    CHECK_INT(mkt_recover_signer("Some data", 9, ksig, addr2, &err), SIM_EINVAL);

    /* EIP-2: (r, n - s, v ^ 1) is the same ECDSA signature in high-s form;
     * it must be refused, not accepted. */
    CHECK_INT(mkt_sig_parse(KAT_SIG, ksig, &err), 0);
    negate_s(ksig + 32);
    ksig[64] = 27;
    CHECK_INT(mkt_recover_signer("Some data", 9, ksig, addr2, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "high s");

    /* Fresh keys: signatures are low-s and recover. */
    for (int i = 0; i < 8; i++) {
        struct mkt_key r;
        CHECK_INT(mkt_key_generate(&r, &err), 0);
        CHECK_INT(mkt_key_address(&r, addr, &err), 0);
        CHECK_INT(mkt_sign_message(&r, "x", 1, sig, &err), 0);
        CHECK(!(sig[32] & 0x80), "s must be in the lower half");
        CHECK_INT(mkt_recover_signer("x", 1, sig, addr2, &err), 0);
        CHECK(!memcmp(addr, addr2, 20), "round trip %d", i);
    }
    /* Derived keys are deterministic and label-dependent. */
    struct mkt_key d1, d2, d3;
    CHECK_INT(mkt_key_derive(42, "dso", &d1, &err), 0);
    CHECK_INT(mkt_key_derive(42, "dso", &d2, &err), 0);
    CHECK_INT(mkt_key_derive(42, "fsp", &d3, &err), 0);
    CHECK(!memcmp(d1.priv, d2.priv, 32) && memcmp(d1.priv, d3.priv, 32), "derive");

    /* Invalid keys. */
    CHECK_INT(mkt_key_from_hex("00", &k, &err), SIM_EINVAL);
    CHECK_INT(mkt_key_from_hex("0x0000000000000000000000000000000000000000000000000000000000000000",
                               &k, &err),
              SIM_EINVAL);

    /* Key files: created 0600, loaded back, refused when readable by others. */
    char dir[] = "/tmp/flexbed_keys_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/op.key", dir);
    CHECK_INT(mkt_key_from_hex(KAT_KEY, &k, &err), 0);
    CHECK_INT(mkt_key_save(path, &k, &err), 0);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(mkt_key_save(path, &k, &err), SIM_EIO); /* never overwrites */
    struct mkt_key k2;
    CHECK_INT(mkt_key_load(path, &k2, &err), 0);
    CHECK(!memcmp(k.priv, k2.priv, 32), "load(save(k)) == k");
    CHECK_INT(chmod(path, 0644), 0);
    CHECK_INT(mkt_key_load(path, &k2, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "chmod 600");
    unlink(path);
    rmdir(dir);
    return check_done("test_keys");
}
