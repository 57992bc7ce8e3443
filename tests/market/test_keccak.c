/*
 * test_keccak.c: Keccak-256 (Ethereum's original padding) against known
 * answers, including inputs on and around the 136-byte rate boundary
 * (vectors from tests/data/market/keccak_ref.py, an independent
 * implementation that reproduces the published ones).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "market/market.h"

static const char *hexof(const uint8_t h[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    return out;
}

static void check_hash(const void *msg, size_t n, const char *want)
{
    uint8_t h[32];
    char txt[65];
    mkt_keccak256(msg, n, h);
    CHECK(!strcmp(hexof(h, txt), want), "keccak256 of %zu bytes = %s, expected %s", n, txt, want);
}

/* The reference form of Keccak-256 (the loops of the Keccak team's
 * description, byte-wise absorption), which market/keccak.c computed until
 * its rounds were written out: the two must agree on every input. */
static uint64_t ref_rotl(uint64_t x, unsigned s)
{
    return (x << s) | (x >> (64 - s));
}

static void ref_keccak256(const uint8_t *p, size_t n, uint8_t out[32])
{
    static const uint64_t rc[24] = {
        0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
        0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
        0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
        0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
        0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
        0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
        0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
        0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
    };
    static const unsigned rot[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                     27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
    static const unsigned pi[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                    15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};
    uint64_t st[25] = {0};
    size_t pos = 0;
    for (size_t k = 0; k <= n; k++) {
        /* absorb byte k (or, at k == n, the padding), then permute when
         * the rate is full or the message is done */
        if (k < n)
            st[pos / 8] ^= (uint64_t)p[k] << (8 * (pos % 8));
        else {
            st[pos / 8] ^= (uint64_t)0x01 << (8 * (pos % 8));
            st[135 / 8] ^= (uint64_t)0x80 << (8 * (135 % 8));
        }
        if (++pos < 136 && k < n)
            continue;
        for (int round = 0; round < 24; round++) {
            uint64_t bc[5], t;
            for (int i = 0; i < 5; i++)
                bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
            for (int i = 0; i < 5; i++) {
                t = bc[(i + 4) % 5] ^ ref_rotl(bc[(i + 1) % 5], 1);
                for (int j = 0; j < 25; j += 5)
                    st[j + i] ^= t;
            }
            t = st[1];
            for (int i = 0; i < 24; i++) {
                uint64_t tmp = st[pi[i]];
                st[pi[i]] = ref_rotl(t, rot[i]);
                t = tmp;
            }
            for (int j = 0; j < 25; j += 5) {
                for (int i = 0; i < 5; i++)
                    bc[i] = st[j + i];
                for (int i = 0; i < 5; i++)
                    st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
            }
            st[0] ^= rc[round];
        }
        pos = 0;
        if (k == n)
            break;
    }
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(st[i / 8] >> (8 * (i % 8)));
}

int main(void)
{
    /* the written-out rounds against the reference loops, on every length
     * 0..700 (five rates) of pseudo-random bytes */
    {
        uint8_t buf[700];
        uint32_t x = 12345;
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        int same = 0;
        for (size_t n = 0; n <= sizeof buf; n++) {
            uint8_t a[32], b[32];
            mkt_keccak256(buf, n, a);
            ref_keccak256(buf, n, b);
            same += !memcmp(a, b, 32);
        }
        CHECK_INT(same, (int)sizeof buf + 1);
    }
    check_hash("", 0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    check_hash("abc", 3, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    check_hash(fox, strlen(fox), "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
    /* Not SHA3-256: that standard's digest of "" is a7ffc6f8... */
    uint8_t h[32];
    mkt_keccak256("", 0, h);
    CHECK(h[0] != 0xa7, "keccak256 must use the 0x01 padding, not SHA3's 0x06");

    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {135, "00ef96af9cf4b24c7f269d922294444a197d0a33638c2e56634c57e892103a8f"},
        {136, "742061bcad767ed4c4f5883b1dcb1aad11afdcc140dc469d953759b127b9f9ed"},
        {137, "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a"},
        {272, "ac141fd7b0a0ffcd2e967254d508da3ec616596493c36fa304425647d90e6de5"},
        {1000, "80cdc8dd52cbb3dbaea8f383209893fa2bb52efbd5aedbb4b26dcfe307fcdc9b"},
    };
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)((i * 7 + 3) & 0xff);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_hash(buf, v[i].n, v[i].hex);

    /* Merkle root rules: none = zeros, one = the leaf, odd last carried up. */
    uint8_t leaves[3 * 32], root[32], pair[64], l01[32], want[32];
    for (int i = 0; i < 3 * 32; i++)
        leaves[i] = (uint8_t)i;
    mkt_merkle_root(leaves, 0, root);
    static const uint8_t zero[32];
    CHECK(!memcmp(root, zero, 32), "empty Merkle root must be zero");
    mkt_merkle_root(leaves, 1, root);
    CHECK(!memcmp(root, leaves, 32), "one-leaf Merkle root must be the leaf");
    mkt_keccak256(leaves, 64, l01);
    mkt_merkle_root(leaves, 2, root);
    CHECK(!memcmp(root, l01, 32), "two-leaf root = keccak(l0 || l1)");
    memcpy(pair, l01, 32);
    memcpy(pair + 32, leaves + 64, 32);
    mkt_keccak256(pair, 64, want);
    mkt_merkle_root(leaves, 3, root);
    CHECK(!memcmp(root, want, 32), "three-leaf root = keccak(keccak(l0||l1) || l2)");
    return check_done("test_keccak");
}
