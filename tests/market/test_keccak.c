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

int main(void)
{
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
