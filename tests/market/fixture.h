/*
 * fixture.h: a small market for the market tests: an operator, one DSO,
 * two FSPs (battery owner, V2G owner), deterministic keys, funded wallets,
 * and helpers to submit hand-written actions.
 */
#ifndef FLEXBED_TEST_MARKET_FIXTURE_H
#define FLEXBED_TEST_MARKET_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "market/market.h"

struct fx {
    char dir[64], path[128]; /* temp dir and db file ("" for in-memory) */
    sqlite3 *db;
    mkt_engine *e;
    struct mkt_key op, dso, fsp1, fsp2;
    uint8_t a_op[20], a_dso[20], a_fsp1[20], a_fsp2[20];
    int64_t t0;
};

/* 2023-10-02T15:00:00+03:00, one hour before the demo window. */
#define FX_T0 INT64_C(1696248000000000)
#define FX_MIN SIM_US_PER_MIN
#define FX_EUR INT64_C(1000000)

static inline void fx_die(const char *what, int rc, const struct sim_err *err)
{
    fprintf(stderr, "fixture: %s failed (%d): %s\n", what, rc, err->msg);
    exit(1);
}

/* Open a market (on a temp file when on_disk, else in memory), genesis
 * with p (defaults if NULL), admit the three participants and fund each
 * with `fund` micro-euros. */
static inline void fx_open(struct fx *f, const struct mkt_params *p, int64_t fund, int on_disk)
{
    memset(f, 0, sizeof *f);
    struct sim_err err = {"(no message)"};
    int rc;
    f->t0 = FX_T0;
    if (on_disk) {
        snprintf(f->dir, sizeof f->dir, "/tmp/flexbed_mkt_XXXXXX");
        if (!mkdtemp(f->dir))
            fx_die("mkdtemp", -1, &err);
        snprintf(f->path, sizeof f->path, "%s/market.db", f->dir);
    }
    if (sqlite3_open(on_disk ? f->path : ":memory:", &f->db) != SQLITE_OK)
        fx_die("sqlite3_open", -1, &err);
    sqlite3_exec(f->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    if ((rc = mkt_engine_new(f->db, &f->e, &err)))
        fx_die("engine_new", rc, &err);
    mkt_key_derive(7, "operator", &f->op, &err);
    mkt_key_derive(7, "dso", &f->dso, &err);
    mkt_key_derive(7, "fsp-battery", &f->fsp1, &err);
    mkt_key_derive(7, "fsp-v2g", &f->fsp2, &err);
    mkt_key_address(&f->op, f->a_op, &err);
    mkt_key_address(&f->dso, f->a_dso, &err);
    mkt_key_address(&f->fsp1, f->a_fsp1, &err);
    mkt_key_address(&f->fsp2, f->a_fsp2, &err);
    struct mkt_params def;
    mkt_params_default(&def);
    int64_t t = f->t0;
    if ((rc = mkt_do_genesis(f->e, &f->op, p ? p : &def, t, &err)) ||
        (rc = mkt_do_participant_add(f->e, &f->op, f->a_dso, MKT_ROLE_DSO, "OEDAS", t, &err)) ||
        (rc = mkt_do_participant_add(f->e, &f->op, f->a_fsp1, MKT_ROLE_FSP, "battery owner", t,
                                     &err)) ||
        (rc = mkt_do_participant_add(f->e, &f->op, f->a_fsp2, MKT_ROLE_FSP, "V2G owner", t,
                                     &err)))
        fx_die("setup", rc, &err);
    if (fund > 0 && ((rc = mkt_do_deposit(f->e, &f->op, f->a_dso, fund, t, &err)) ||
                     (rc = mkt_do_deposit(f->e, &f->op, f->a_fsp1, fund, t, &err)) ||
                     (rc = mkt_do_deposit(f->e, &f->op, f->a_fsp2, fund, t, &err))))
        fx_die("deposit", rc, &err);
}

static inline void fx_close(struct fx *f)
{
    mkt_engine_free(f->e);
    sqlite3_close(f->db);
    if (f->path[0]) {
        char p[160];
        unlink(f->path);
        snprintf(p, sizeof p, "%s-journal", f->path);
        unlink(p);
        rmdir(f->dir);
    }
}

/* An asset at location loc with power limits [-p, p] W. */
static inline int64_t fx_asset(struct fx *f, const struct mkt_key *k, enum mkt_asset_type type,
                               const char *name, const char *loc, int64_t p_w)
{
    struct mkt_asset a = {.type = type, .p_min_w = -p_w, .p_max_w = p_w, .soc_max_ppm = 1000000};
    snprintf(a.name, sizeof a.name, "%s", name);
    snprintf(a.location, sizeof a.location, "%s", loc);
    struct sim_err err;
    int64_t id = 0;
    int rc = mkt_do_asset_add(f->e, k, &a, f->t0, &id, &err);
    if (rc)
        fx_die("asset_add", rc, &err);
    return id;
}

static inline int fx_offer(struct fx *f, const struct mkt_key *k, int64_t asset, int64_t start,
                           int64_t end, int64_t p_w, int64_t price, int64_t *id,
                           struct sim_err *err)
{
    struct mkt_offer o = {.asset_id = asset, .start = start, .end = end, .valid_until = start,
                          .p_w = p_w, .price_ueur_per_kwh = price};
    return mkt_do_offer_add(f->e, k, &o, f->t0, id, err);
}

static inline int fx_request(struct fx *f, const char *loc, int64_t start, int64_t end,
                             int64_t p_w, int64_t max_price, int64_t *id, struct sim_err *err)
{
    struct mkt_request r = {.start = start, .end = end, .p_w = p_w,
                            .max_price_ueur_per_kwh = max_price};
    snprintf(r.location, sizeof r.location, "%s", loc);
    return mkt_do_request_add(f->e, &f->dso, &r, f->t0, id, err);
}

/* What the authorisation tests and fuzzers act on: the FSP's 10 kW
 * battery at "bus-1", its offer of -10 kW for [t0 + 60 min, + 45 min) at
 * EUR 0.10/kWh, and the DSO's request for the same window at up to
 * EUR 0.21/kWh. Returns 0 or the engine's code. */
static inline int fx_objects(struct fx *f, int64_t *asset, int64_t *oid, int64_t *rid,
                             struct sim_err *err)
{
    int64_t w0 = f->t0 + 60 * FX_MIN, w1 = w0 + 45 * FX_MIN;
    *asset = fx_asset(f, &f->fsp1, MKT_ASSET_BATTERY, "battery", "bus-1", 10000);
    int rc = fx_offer(f, &f->fsp1, *asset, w0, w1, -10000, 100000, oid, err);
    return rc ? rc : fx_request(f, "bus-1", w0, w1, -10000, 210000, rid, err);
}

/* The body of POST /api/tx for action json (an object without "from")
 * signed by k, with "nonce" (none when < 0); malloc'd, or NULL. */
static inline char *fx_signed_body(const struct mkt_key *k, const char *json, long long nonce)
{
    uint8_t a[20];
    char addr[MKT_ADDR_STRLEN], sigt[MKT_SIG_STRLEN];
    struct sim_err err;
    cJSON *o = cJSON_Parse(json);
    if (!o || mkt_key_address(k, a, &err)) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "from", mkt_address_format(a, addr));
    if (nonce >= 0)
        cJSON_AddNumberToObject(o, "nonce", (double)nonce);
    char *t = cJSON_PrintUnformatted(o), *canon = NULL, *body = NULL;
    cJSON_Delete(o);
    uint8_t sig[MKT_SIG_LEN];
    if (t && mkt_canonical_json(t, &canon, &err) == 0 &&
        mkt_sign_message(k, canon, strlen(canon), sig, &err) == 0) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "tx", canon);
        cJSON_AddStringToObject(b, "sig", mkt_sig_format(sig, sigt));
        body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
    }
    cJSON_free(t);
    free(canon);
    return body;
}

static inline int64_t fx_balance(struct fx *f, const uint8_t a[20])
{
    int64_t b = -1;
    struct sim_err err;
    mkt_balance(f->e, a, &b, &err);
    return b;
}

/* wallets + escrow == deposited: no micro-euro created or lost. */
static inline void fx_check_conserved(struct fx *f, const char *when)
{
    int64_t w = 0, e = 0, d = 0;
    struct sim_err err;
    CHECK_INT(mkt_money_totals(f->e, &w, &e, &d, &err), 0);
    CHECK(w + e == d, "%s: wallets %lld + escrow %lld != deposited %lld", when, (long long)w,
          (long long)e, (long long)d);
}

#endif
