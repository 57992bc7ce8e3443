/*
 * keccak.c: Keccak-256 as Ethereum uses it.
 *
 * Ethereum hashes with the Keccak submission to the SHA-3 competition,
 * whose padding byte is 0x01; FIPS 202 SHA3-256 later changed it to 0x06,
 * so the two give different digests and no Debian library offers the
 * former. This is Keccak-f[1600] over a 1088-bit rate, its rounds written
 * out lane by lane (every signed transaction is hashed three times: the
 * personal_sign digest, the signer's address, the ledger hash), checked
 * against the standard known-answer vectors in tests/market/test_keccak.c
 * and against the reference loop form kept there.
 */
#include <string.h>

#include "market.h"

static const uint64_t keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};
/* Keccak-f[1600]: theta, rho and pi, chi and iota, the 25 lanes held in
 * locals (a[x + 5y]) and every step written out, so nothing is indexed at
 * run time. b[y + 5((2x + 3y) mod 5)] = ROTL(a[x + 5y] ^ d[x], r[x][y]). */
#define ROTL(x, s) (((x) << (s)) | ((x) >> (64 - (s))))

static void keccak_f1600(uint64_t st[25])
{
    uint64_t a0 = st[0];
    uint64_t a1 = st[1];
    uint64_t a2 = st[2];
    uint64_t a3 = st[3];
    uint64_t a4 = st[4];
    uint64_t a5 = st[5];
    uint64_t a6 = st[6];
    uint64_t a7 = st[7];
    uint64_t a8 = st[8];
    uint64_t a9 = st[9];
    uint64_t a10 = st[10];
    uint64_t a11 = st[11];
    uint64_t a12 = st[12];
    uint64_t a13 = st[13];
    uint64_t a14 = st[14];
    uint64_t a15 = st[15];
    uint64_t a16 = st[16];
    uint64_t a17 = st[17];
    uint64_t a18 = st[18];
    uint64_t a19 = st[19];
    uint64_t a20 = st[20];
    uint64_t a21 = st[21];
    uint64_t a22 = st[22];
    uint64_t a23 = st[23];
    uint64_t a24 = st[24];
    for (int round = 0; round < 24; round++) {
        uint64_t c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20;
        uint64_t c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21;
        uint64_t c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22;
        uint64_t c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23;
        uint64_t c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24;
        uint64_t d0 = c4 ^ ROTL(c1, 1);
        uint64_t d1 = c0 ^ ROTL(c2, 1);
        uint64_t d2 = c1 ^ ROTL(c3, 1);
        uint64_t d3 = c2 ^ ROTL(c4, 1);
        uint64_t d4 = c3 ^ ROTL(c0, 1);
        uint64_t b0 = (a0 ^ d0);
        uint64_t b1 = ROTL(a6 ^ d1, 44);
        uint64_t b2 = ROTL(a12 ^ d2, 43);
        uint64_t b3 = ROTL(a18 ^ d3, 21);
        uint64_t b4 = ROTL(a24 ^ d4, 14);
        uint64_t b5 = ROTL(a3 ^ d3, 28);
        uint64_t b6 = ROTL(a9 ^ d4, 20);
        uint64_t b7 = ROTL(a10 ^ d0, 3);
        uint64_t b8 = ROTL(a16 ^ d1, 45);
        uint64_t b9 = ROTL(a22 ^ d2, 61);
        uint64_t b10 = ROTL(a1 ^ d1, 1);
        uint64_t b11 = ROTL(a7 ^ d2, 6);
        uint64_t b12 = ROTL(a13 ^ d3, 25);
        uint64_t b13 = ROTL(a19 ^ d4, 8);
        uint64_t b14 = ROTL(a20 ^ d0, 18);
        uint64_t b15 = ROTL(a4 ^ d4, 27);
        uint64_t b16 = ROTL(a5 ^ d0, 36);
        uint64_t b17 = ROTL(a11 ^ d1, 10);
        uint64_t b18 = ROTL(a17 ^ d2, 15);
        uint64_t b19 = ROTL(a23 ^ d3, 56);
        uint64_t b20 = ROTL(a2 ^ d2, 62);
        uint64_t b21 = ROTL(a8 ^ d3, 55);
        uint64_t b22 = ROTL(a14 ^ d4, 39);
        uint64_t b23 = ROTL(a15 ^ d0, 41);
        uint64_t b24 = ROTL(a21 ^ d1, 2);
        a0 = b0 ^ (~b1 & b2);
        a1 = b1 ^ (~b2 & b3);
        a2 = b2 ^ (~b3 & b4);
        a3 = b3 ^ (~b4 & b0);
        a4 = b4 ^ (~b0 & b1);
        a5 = b5 ^ (~b6 & b7);
        a6 = b6 ^ (~b7 & b8);
        a7 = b7 ^ (~b8 & b9);
        a8 = b8 ^ (~b9 & b5);
        a9 = b9 ^ (~b5 & b6);
        a10 = b10 ^ (~b11 & b12);
        a11 = b11 ^ (~b12 & b13);
        a12 = b12 ^ (~b13 & b14);
        a13 = b13 ^ (~b14 & b10);
        a14 = b14 ^ (~b10 & b11);
        a15 = b15 ^ (~b16 & b17);
        a16 = b16 ^ (~b17 & b18);
        a17 = b17 ^ (~b18 & b19);
        a18 = b18 ^ (~b19 & b15);
        a19 = b19 ^ (~b15 & b16);
        a20 = b20 ^ (~b21 & b22);
        a21 = b21 ^ (~b22 & b23);
        a22 = b22 ^ (~b23 & b24);
        a23 = b23 ^ (~b24 & b20);
        a24 = b24 ^ (~b20 & b21);
        a0 ^= keccak_rc[round];
    }
    st[0] = a0;
    st[1] = a1;
    st[2] = a2;
    st[3] = a3;
    st[4] = a4;
    st[5] = a5;
    st[6] = a6;
    st[7] = a7;
    st[8] = a8;
    st[9] = a9;
    st[10] = a10;
    st[11] = a11;
    st[12] = a12;
    st[13] = a13;
    st[14] = a14;
    st[15] = a15;
    st[16] = a16;
    st[17] = a17;
    st[18] = a18;
    st[19] = a19;
    st[20] = a20;
    st[21] = a21;
    st[22] = a22;
    st[23] = a23;
    st[24] = a24;
}
#undef ROTL

/* Lanes are little-endian: bytes are assembled explicitly, which keeps
 * this independent of the host's byte order (and compiles to one load on
 * a little-endian one). */
static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

void mkt_keccak256(const void *data, size_t n, uint8_t out[32])
{
    enum { RATE = 136, LANES = RATE / 8 };
    uint64_t st[25] = {0};
    const uint8_t *p = data;
    while (n >= RATE) {
        for (size_t i = 0; i < LANES; i++)
            st[i] ^= load_le64(p + 8 * i);
        keccak_f1600(st);
        p += RATE;
        n -= RATE;
    }
    uint8_t last[RATE] = {0};
    if (n)
        memcpy(last, p, n);
    last[n] ^= 0x01;
    last[RATE - 1] ^= 0x80;
    for (size_t i = 0; i < LANES; i++)
        st[i] ^= load_le64(last + 8 * i);
    keccak_f1600(st);
    for (size_t i = 0; i < 32; i++)
        out[i] = (uint8_t)(st[i / 8] >> (8 * (i % 8)));
}
