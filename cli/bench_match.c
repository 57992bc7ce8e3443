/*
 * bench_match.c: `flexbed bench match`, how fast the market matches. An
 * in-memory market gets N open offers (default 10^4) from K FSPs at one
 * location, with prices spread over EUR 0.05-0.20/kWh and volumes of 1 to
 * 10 kW; then R DSO requests (-50 kW each, at most EUR 0.15/kWh) are
 * posted and matched one by one. Only the match transactions are timed
 * (signature check, merit-order selection over the open offers, state
 * changes, ledger row); the figures are requests matched per second and
 * offer matches (fills) per second, with the offer book size each match
 * ran against.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "../market/market.h"
#include "bench.h"

#define T0 INT64_C(1696251600000000) /* 2023-10-02T16:00:00+03:00 */

static void usage(FILE *f)
{
    fputs("usage: flexbed bench match [--offers N] [--requests R] [--fsps K]\n"
          "\n"
          "Fill an in-memory market with N open offers, then post and match R\n"
          "requests of -50 kW one at a time; report requests matched per second and\n"
          "offer fills per second (only the match transactions are timed).\n"
          "\n"
          "  --offers N    open offers (default 10000)\n"
          "  --requests R  requests matched (default 200)\n"
          "  --fsps K      offering participants (default 50)\n",
          f);
}

int bench_match(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {
        {"offers", required_argument, NULL, 'n'},
        {"requests", required_argument, NULL, 'r'},
        {"fsps", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long noffers = 10000, nreq = 200, nfsp = 50;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:r:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (bench_count("match", "--offers", optarg, 1, 1000000, &noffers))
                return 2;
            break;
        case 'r':
            if (bench_count("match", "--requests", optarg, 1, 100000, &nreq))
                return 2;
            break;
        case 'k':
            if (bench_count("match", "--fsps", optarg, 1, 1000, &nfsp))
                return 2;
            break;
        case 'h':
            usage(out);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("match", argc, argv, NULL))
        return 2;

    int ret = 1;
    struct sim_err err = {{0}};
    sqlite3 *db = NULL;
    mkt_engine *e = NULL;
    struct mkt_key op, dso, *fsp = calloc((size_t)nfsp, sizeof *fsp);
    int64_t *asset = calloc((size_t)nfsp, sizeof *asset);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!fsp || !asset || !rng || sqlite3_open(":memory:", &db) != SQLITE_OK) {
        fputs("flexbed bench match: out of memory\n", stderr);
        goto done;
    }
    gsl_rng_set(rng, 1);
    uint8_t addr[20];
    struct mkt_params p;
    mkt_params_default(&p);
    sim_time_us now = T0 - 2 * SIM_US_PER_H;
    if (mkt_engine_new(db, &e, &err) || mkt_key_derive(1, "bench-operator", &op, &err) ||
        mkt_key_derive(1, "bench-dso", &dso, &err) || mkt_do_genesis(e, &op, &p, now, &err) ||
        mkt_key_address(&dso, addr, &err) ||
        mkt_do_participant_add(e, &op, addr, MKT_ROLE_DSO, "dso", now, &err) ||
        mkt_do_deposit(e, &op, addr, INT64_C(1000000000000), now, &err))
        goto fail;
    for (long long i = 0; i < nfsp; i++) {
        char label[32];
        snprintf(label, sizeof label, "bench-fsp-%lld", i);
        struct mkt_asset a = {0};
        a.type = MKT_ASSET_BATTERY;
        snprintf(a.name, sizeof a.name, "battery %lld", i);
        snprintf(a.location, sizeof a.location, "bench");
        a.p_min_w = -10000000;
        a.p_max_w = 10000000;
        a.soc_max_ppm = 1000000;
        if (mkt_key_derive(1, label, &fsp[i], &err) || mkt_key_address(&fsp[i], addr, &err) ||
            mkt_do_participant_add(e, &op, addr, MKT_ROLE_FSP, label, now, &err) ||
            mkt_do_asset_add(e, &fsp[i], &a, now, &asset[i], &err))
            goto fail;
    }
    fprintf(out, "posting %lld offers from %lld FSPs ...\n", noffers, nfsp);
    fflush(out);
    for (long long i = 0; i < noffers; i++) {
        struct mkt_offer o = {0};
        o.asset_id = asset[i % nfsp];
        o.start = T0 - SIM_US_PER_H;
        o.end = T0 + 3 * SIM_US_PER_H;
        o.valid_until = T0 - SIM_US_PER_H;
        o.p_w = -(1000 + (int64_t)gsl_rng_uniform_int(rng, 9001));
        o.price_ueur_per_kwh = 50000 + (int64_t)gsl_rng_uniform_int(rng, 150001);
        if (mkt_do_offer_add(e, &fsp[i % nfsp], &o, now, NULL, &err))
            goto fail;
    }
    int64_t *req = calloc((size_t)nreq, sizeof *req);
    if (!req)
        goto fail;
    for (long long i = 0; i < nreq; i++) {
        struct mkt_request r = {0};
        snprintf(r.location, sizeof r.location, "bench");
        r.start = T0 + (i % 4) * (SIM_US_PER_H / 2);
        r.end = r.start + SIM_US_PER_H / 2;
        r.p_w = -50000;
        r.max_price_ueur_per_kwh = 150000;
        if (mkt_do_request_add(e, &dso, &r, now, &req[i], &err)) {
            free(req);
            goto fail;
        }
    }
    long long fills = 0;
    double t0 = bench_now_s();
    for (long long i = 0; i < nreq; i++) {
        struct mkt_receipt rc;
        if (mkt_do_match(e, &dso, req[i], now, &rc, &err)) {
            free(req);
            goto fail;
        }
        fills += rc.n_matches;
    }
    double dt = bench_now_s() - t0;
    free(req);
    /* The bound, measured in the same run: each match is a signed
     * transaction whose signer the market recovers (libsecp256k1). */
    enum { NSIG = 2000 };
    static char msgs[NSIG][96];
    static uint8_t sigs[NSIG][MKT_SIG_LEN];
    for (int i = 0; i < NSIG; i++) {
        snprintf(msgs[i], sizeof msgs[i], "{\"action\":\"match\",\"nonce\":%d,\"request\":%d}", i,
                 i + 1);
        if (mkt_sign_message(&dso, msgs[i], strlen(msgs[i]), sigs[i], &err))
            goto fail;
    }
    double r0 = bench_now_s();
    for (int i = 0; i < NSIG; i++) {
        uint8_t a[20];
        if (mkt_recover_signer(msgs[i], strlen(msgs[i]), sigs[i], a, &err))
            goto fail;
    }
    double rec = NSIG / (bench_now_s() - r0);
    fprintf(out, "%lld requests matched against %lld open offers in %.3f s\n", nreq, noffers, dt);
    fprintf(out, "  %10.0f requests matched per second (%.2f of signer recovery, %.0f/s here)\n",
            (double)nreq / dt, (double)nreq / dt / rec, rec);
    fprintf(out, "  %10.0f offer fills per second (%lld fills)\n", (double)fills / dt, fills);
    ret = 0;
    goto done;
fail:
    fprintf(stderr, "flexbed bench match: %s\n", err.msg);
done:
    mkt_engine_free(e);
    if (db)
        sqlite3_close(db);
    gsl_rng_free(rng);
    free(fsp);
    free(asset);
    return ret;
}
