/*
 * bench_ledger.c: `flexbed bench ledger`, how fast the market takes and
 * checks signed transactions. On a fresh market database (WAL, as `flexbed
 * serve` runs it) with one operator and K FSPs it
 *
 *   1. builds and signs N asset_add actions (canonical JSON + EIP-191
 *      personal_sign, what a participant's wallet does),
 *   2. submits them with mkt_submit (canonical check, signer recovery,
 *      role and nonce checks, state change and ledger row in one savepoint),
 *      sealing a block every B transactions, G actions per SQLite
 *      transaction (group commit, mkt_batch_begin / mkt_batch_end; G = 1:
 *      a commit per action, as `flexbed serve` does today),
 *   3. verifies the whole ledger with mkt_ledger_verify,
 *   4. recovers the N signers alone (mkt_recover_signer: libsecp256k1's
 *      ECDSA recovery plus Keccak), the bound the two rates above compare
 *      with,
 *
 * and prints each as transactions per second. The figures in README.md
 * come from a Release build of this.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../market/market.h"
#include "bench.h"

#define NFSP_MAX 1000

static void usage(FILE *f)
{
    fputs("usage: flexbed bench ledger [--tx N] [--block B] [--batch G] [--fsps K]\n"
          "                            [--out PATH]\n"
          "\n"
          "Sign N transactions, submit them to a market database (sealing a block\n"
          "every B), verify the ledger, and recover every signer alone; report each\n"
          "as transactions per second. Signer recovery (libsecp256k1) bounds the\n"
          "submit and verify rates.\n"
          "\n"
          "  --tx N       transactions (default 20000)\n"
          "  --block B    transactions per block (default 1000)\n"
          "  --batch G    actions per SQLite transaction, group commit (default 1000;\n"
          "               1: a commit per action)\n"
          "  --fsps K     distinct signers (default 16)\n"
          "  --out PATH   market database to write (must not exist) and keep; default\n"
          "               a temporary file that is removed afterwards\n",
          f);
}

int bench_ledger(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {
        {"tx", required_argument, NULL, 'n'},
        {"block", required_argument, NULL, 'b'},
        {"fsps", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"batch", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long ntx = 20000, block = 1000, nfsp = 16, batch = 1000;
    const char *out_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:b:k:o:g:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (bench_count("ledger", "--tx", optarg, 1, 10000000, &ntx))
                return 2;
            break;
        case 'b':
            if (bench_count("ledger", "--block", optarg, 1, 10000000, &block))
                return 2;
            break;
        case 'g':
            if (bench_count("ledger", "--batch", optarg, 1, 10000000, &batch))
                return 2;
            break;
        case 'k':
            if (bench_count("ledger", "--fsps", optarg, 1, NFSP_MAX, &nfsp))
                return 2;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            usage(out);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("ledger", argc, argv, usage))
        return 2;
    if (out_path && access(out_path, F_OK) == 0) {
        fprintf(stderr, "flexbed bench ledger: --out: %s exists; give a new path\n", out_path);
        return 2;
    }

    char tmpdir[PATH_MAX - 32] = "";
    char path[PATH_MAX];
    if (!out_path) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/flexbed-bench-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "flexbed bench ledger: cannot create a temporary directory: %s\n",
                    strerror(errno));
            return 1;
        }
        snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
        out_path = path;
    }

    int ret = 1;
    struct sim_err err = {{0}};
    sqlite3 *db = NULL;
    mkt_engine *e = NULL;
    char **txt = calloc((size_t)ntx, sizeof *txt);
    uint8_t(*sigs)[MKT_SIG_LEN] = malloc((size_t)ntx * MKT_SIG_LEN);
    struct mkt_key *keys = calloc((size_t)nfsp + 1, sizeof *keys);
    char(*addrs)[MKT_ADDR_STRLEN] = calloc((size_t)nfsp + 1, MKT_ADDR_STRLEN);
    if (!txt || !sigs || !keys || !addrs) {
        fputs("flexbed bench ledger: out of memory\n", stderr);
        goto done;
    }
    if (sqlite3_open_v2(out_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "flexbed bench ledger: %s: %s\n", out_path,
                db ? sqlite3_errmsg(db) : "cannot open");
        goto done;
    }
    if (mkt_engine_new(db, &e, &err))
        goto fail;

    /* Deterministic keys: keys[0] the operator, then the FSPs. */
    const sim_time_us t0 = INT64_C(1696204800) * SIM_US_PER_S; /* 2023-10-02T00:00Z */
    sim_time_us t = t0;
    for (long long i = 0; i <= nfsp; i++) {
        char label[32];
        uint8_t a[20];
        if (i)
            snprintf(label, sizeof label, "fsp-%lld", i);
        else
            snprintf(label, sizeof label, "operator");
        if (mkt_key_derive(1, label, &keys[i], &err) || mkt_key_address(&keys[i], a, &err))
            goto fail;
        mkt_address_format(a, addrs[i]);
    }
    struct mkt_params p;
    mkt_params_default(&p);
    if (mkt_do_genesis(e, &keys[0], &p, t, &err))
        goto fail;
    for (long long i = 1; i <= nfsp; i++) {
        uint8_t a[20];
        char name[32];
        snprintf(name, sizeof name, "FSP %lld", i);
        if (mkt_key_address(&keys[i], a, &err) ||
            mkt_do_participant_add(e, &keys[0], a, MKT_ROLE_FSP, name, t, &err))
            goto fail;
    }
    int64_t h;
    if (mkt_seal(e, &keys[0], t, &h, &err))
        goto fail;

    /* 1. sign: the actions are already canonical (keys in byte order). */
    double s0 = bench_now_s();
    for (long long i = 0; i < ntx; i++) {
        long long f = 1 + i % nfsp, nonce = i / nfsp;
        char buf[512];
        int n = snprintf(buf, sizeof buf,
                         "{\"action\":\"asset_add\",\"from\":\"%s\",\"location\":\"bus-%lld\","
                         "\"name\":\"battery %lld\",\"nonce\":%lld,\"p_max_w\":10000,"
                         "\"p_min_w\":-10000,\"soc_max_ppm\":950000,\"soc_min_ppm\":50000,"
                         "\"type\":\"battery\"}",
                         addrs[f], i % 32, i, nonce);
        txt[i] = malloc((size_t)n + 1);
        if (!txt[i]) {
            fputs("flexbed bench ledger: out of memory\n", stderr);
            goto done;
        }
        memcpy(txt[i], buf, (size_t)n + 1);
        if (mkt_sign_message(&keys[f], txt[i], (size_t)n, sigs[i], &err))
            goto fail;
    }
    double s1 = bench_now_s();

    /* 2. submit, sealing every `block` transactions. */
    long long blocks = 0;
    for (long long i = 0; i < ntx; i++) {
        t += SIM_US_PER_S / 100;
        if (i % batch == 0 && mkt_batch_begin(e, &err))
            goto fail;
        if (mkt_submit(e, txt[i], sigs[i], t, NULL, &err))
            goto fail;
        if ((i + 1) % block == 0 || i + 1 == ntx) {
            if (mkt_seal(e, &keys[0], t, &h, &err))
                goto fail;
            blocks++;
        }
        if (((i + 1) % batch == 0 || i + 1 == ntx) && mkt_batch_end(e, &err))
            goto fail;
    }
    double s2 = bench_now_s();

    /* 3. verify the whole ledger. */
    struct mkt_verify_report rep;
    if (mkt_ledger_verify(db, &rep, &err))
        goto fail;
    double s3 = bench_now_s();
    if (!rep.ok) {
        fprintf(stderr, "flexbed bench ledger: the ledger does not verify: %s\n", rep.reason);
        goto done;
    }

    /* 4. signer recovery alone. */
    for (long long i = 0; i < ntx; i++) {
        uint8_t a[20];
        if (mkt_recover_signer(txt[i], strlen(txt[i]), sigs[i], a, &err))
            goto fail;
    }
    double s4 = bench_now_s();

    /* 5. Keccak-256 alone, over the transactions' texts (each submit hashes
     * its text for personal_sign, the recovered key for the address and
     * text + signature for the ledger). */
    size_t hashed = 0;
    uint8_t digest[32] = {0};
    for (int rep5 = 0; rep5 < 10; rep5++)
        for (long long i = 0; i < ntx; i++) {
            size_t len = strlen(txt[i]);
            mkt_keccak256(txt[i], len, digest);
            hashed += len + digest[0] % 2; /* keeps the loop from being optimised away */
        }
    double s5 = bench_now_s();

    double n = (double)ntx;
    fprintf(out,
            "ledger: %lld signed asset_add transactions from %lld signers, %lld blocks "
            "of <= %lld\n",
            ntx, nfsp, blocks, block);
    fprintf(out, "  sign            %8.3f s  %10.0f tx/s\n", s1 - s0, n / (s1 - s0));
    double rec = n / (s4 - s3);
    fprintf(out,
            "  submit + seal   %8.3f s  %10.0f tx/s  (%.2f of signer recovery; %lld per commit)\n",
            s2 - s1, n / (s2 - s1), n / (s2 - s1) / rec, batch);
    fprintf(out, "  sign + submit   %8.3f s  %10.0f tx/s\n", s2 - s0, n / (s2 - s0));
    fprintf(out,
            "  verify ledger   %8.3f s  %10.0f tx/s  (%.2f of signer recovery; %lld transactions, "
            "%lld blocks)\n",
            s3 - s2, (double)rep.txs / (s3 - s2), (double)rep.txs / (s3 - s2) / rec,
            (long long)rep.txs, (long long)rep.blocks);
    fprintf(out, "  recover signer  %8.3f s  %10.0f sig/s  (libsecp256k1 + Keccak: the bound)\n",
            s4 - s3, n / (s4 - s3));
    fprintf(out, "  keccak256       %8.3f s  %10.0f hashes/s  (%.0f ns per %.0f-byte text, %.1f MB/s)\n",
            s5 - s4, 10 * n / (s5 - s4), (s5 - s4) / (10 * n) * 1e9, (double)hashed / (10 * n),
            (double)hashed / (s5 - s4) / 1e6);
    fprintf(out, "  database        %s%s\n", out_path, tmpdir[0] ? " (removed)" : "");
    ret = 0;
    goto done;

fail:
    fprintf(stderr, "flexbed bench ledger: %s\n", err.msg);
done:
    mkt_engine_free(e);
    if (db)
        sqlite3_close(db);
    if (txt)
        for (long long i = 0; i < ntx; i++)
            free(txt[i]);
    free(txt);
    free(sigs);
    if (keys)
        memset(keys, 0, ((size_t)nfsp + 1) * sizeof *keys);
    free(keys);
    free(addrs);
    if (tmpdir[0]) {
        static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
        char f[PATH_MAX + 16];
        for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
            snprintf(f, sizeof f, "%s%s", path, suffix[i]);
            unlink(f);
        }
        rmdir(tmpdir);
    }
    return ret;
}
