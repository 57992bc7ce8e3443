/*
 * market_section.c: the scenario's "market" section and the component that
 * runs the market engine inside a simulation.
 *
 * The section names the participants (operator, DSOs, FSPs) with their
 * roles and opening deposits, and the market rules (fees, partial fills,
 * pricing, payout rule). Keys are derived from the scenario seed and each
 * participant's name (reproducible ledgers, for simulation only) unless a
 * participant names a key file (mode 0600, as `flexbed keygen` writes it).
 *
 * The engine needs the run's database, which the command line opens only
 * after the scenario has been loaded and checked (a bad scenario writes
 * nothing). So the "market" component creates the engine in a one-shot
 * event at the start of the run, before any other component acts there
 * (lowest priority value), writes the genesis block (rules, participants,
 * deposits), and then seals a block every block_period and at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define PRIO_MARKET_SETUP (INT32_MIN)

void plt_context_init(struct plt_context *c)
{
    memset(c, 0, sizeof *c);
    c->enabled = 1;
    c->op = -1;
    mkt_params_default(&c->params);
}

void plt_context_clear(struct plt_context *c)
{
    if (!c)
        return;
    mkt_engine_free(c->engine);
    c->engine = NULL;
    if (c->own_db)
        sqlite3_close(c->own_db);
    c->own_db = NULL;
    for (int i = 0; i < c->npart; i++)
        memset(&c->part[i].key, 0, sizeof c->part[i].key);
    free(c->part);
    free(c->asset);
    c->part = NULL;
    c->asset = NULL;
    c->npart = c->nasset = c->cap_part = c->cap_asset = 0;
}

/* Room for one more element of an array of *cap (doubling). 0 or -1. */
int plt_grow(void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return 0;
    int nc = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

int plt_participant_find(const struct plt_context *c, const char *name)
{
    for (int i = 0; i < c->npart; i++)
        if (strcmp(c->part[i].name, name) == 0)
            return i;
    return -1;
}

int plt_asset_find(const struct plt_context *c, const char *component, int64_t market_id)
{
    for (int i = 0; i < c->nasset; i++) {
        if (component ? strcmp(c->asset[i].component, component) == 0
                      : c->asset[i].market_id == market_id)
            return i;
    }
    return -1;
}

struct plt_context *plt_context_of(struct scn_ctx *ctx, struct scn_obj *cfg,
                                   struct sim_err *err)
{
    if (!ctx->user) {
        scn_errf(cfg, NULL, err, "market components need the platform context (internal error)");
        return NULL;
    }
    return ctx->user;
}

int64_t plt_ueur(double eur)
{
    return (int64_t)llround(eur * 1e6);
}

/* ------------------------------------------------------------------ */
/* The market component                                                */
/* ------------------------------------------------------------------ */

struct market_comp {
    struct plt_context *c;
    int id;
    int sig_blocks;
    int64_t blocks;
};

static int market_setup(struct market_comp *m, sim_kernel *k, sim_time_us now,
                        struct sim_err *err)
{
    struct plt_context *c = m->c;
    sqlite3 *db = c->db;
    if (!db) {
        if (sqlite3_open(":memory:", &c->own_db) != SQLITE_OK)
            return sim_errf(err, SIM_ENOMEM, "market: cannot open an in-memory database");
        db = c->own_db;
    }
    int rc = mkt_engine_new(db, &c->engine, err);
    if (rc)
        return rc;
    const struct plt_participant *op = &c->part[c->op];
    if ((rc = mkt_do_genesis(c->engine, &op->key, &c->params, now, err)))
        return rc;
    for (int i = 0; i < c->npart; i++) {
        const struct plt_participant *p = &c->part[i];
        if (i != c->op &&
            (rc = mkt_do_participant_add(c->engine, &op->key, p->addr, p->role, p->name, now, err)))
            return rc;
        if (p->deposit_ueur > 0 &&
            (rc = mkt_do_deposit(c->engine, &op->key, p->addr, p->deposit_ueur, now, err)))
            return rc;
    }
    char addr[MKT_ADDR_STRLEN];
    sim_log(k, m->id, "genesis", SIM_INFO, (double)c->npart,
            "market opened: %d participants, operator %s", c->npart,
            mkt_address_format(op->addr, addr));
    return SIM_OK;
}

static int market_seal(struct market_comp *m, sim_kernel *k, sim_time_us now,
                       struct sim_err *err)
{
    struct plt_context *c = m->c;
    if (!c->engine)
        return SIM_OK;
    int64_t height = -1;
    int rc = mkt_seal(c->engine, &c->part[c->op].key, now, &height, err);
    if (rc)
        return rc;
    if (height >= 0) {
        m->blocks = height + 1;
        sim_bus_set(k, m->sig_blocks, (double)m->blocks);
    }
    return SIM_OK;
}

static int market_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct market_comp *m = self;
    if (!m->c->enabled)
        return SIM_OK;
    int rc = sim_kernel_schedule(k, m->id, sim_kernel_config(k)->start, PRIO_MARKET_SETUP, 1, 0,
                                 NULL);
    return rc ? sim_errf(err, rc, "market: cannot schedule its opening") : SIM_OK;
}

static int market_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind,
                        uint64_t data, struct sim_err *err)
{
    (void)kind;
    (void)data;
    return market_setup(self, k, now, err);
}

static int market_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct market_comp *m = self;
    if (now == sim_kernel_config(k)->start)
        return SIM_OK; /* nothing to seal yet */
    return market_seal(m, k, now, err);
}

static int market_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    return market_seal(self, k, now, err);
}

static void market_destroy(void *self)
{
    free(self);
}

static const struct sim_component_ops market_ops = {
    .type = "market",
    .init = market_init,
    .step = market_step,
    .event = market_event,
    .finish = market_finish,
    .destroy = market_destroy,
};

/* ------------------------------------------------------------------ */
/* The section                                                         */
/* ------------------------------------------------------------------ */

static int read_participant(struct scn_ctx *ctx, struct plt_context *c, struct scn_obj *sec,
                            const cJSON *item, int i, struct sim_err *err)
{
    struct scn_obj o;
    int rc = scn_obj_init_item(&o, sec, "participants", i, item, err);
    if (rc)
        return rc;
    static const char *const roles[] = {"operator", "dso", "fsp", NULL};
    const char *name = NULL;
    int role = 0;
    double deposit = 0;
    char key_file[4096];
    int has_key_file = cJSON_GetObjectItemCaseSensitive(item, "key_file") != NULL;
    if ((rc = scn_string(&o, "name", 1, NULL, &name, err)) ||
        (rc = scn_enum(&o, "role", 1, roles, 0, &role, err)) ||
        (rc = scn_number(&o, "deposit_eur", 0, 0, 0, 1e9, &deposit, err)) ||
        (has_key_file && (rc = scn_file(&o, ctx->dir, "key_file", 1, key_file, sizeof key_file,
                                        err))) ||
        (rc = scn_obj_finish(&o, err)))
        return rc;
    if (strlen(name) == 0 || strlen(name) >= PLT_NAME_MAX)
        return scn_errf(&o, "name", err, "expected 1 to %d characters", PLT_NAME_MAX - 1);
    if (plt_participant_find(c, name) >= 0)
        return scn_errf(&o, "name", err, "participant \"%s\" is named twice", name);
    if (c->npart == PLT_MAX_PARTICIPANTS)
        return scn_errf(&o, NULL, err, "at most %d participants", PLT_MAX_PARTICIPANTS);
    if (plt_grow((void **)&c->part, &c->cap_part, c->npart, sizeof *c->part))
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    struct plt_participant *p = &c->part[c->npart];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->role = role == 0 ? MKT_ROLE_OPERATOR : role == 1 ? MKT_ROLE_DSO : MKT_ROLE_FSP;
    p->deposit_ueur = plt_ueur(deposit);
    struct sim_err kerr;
    if (has_key_file) {
        if (mkt_key_load(key_file, &p->key, &kerr))
            return scn_errf(&o, "key_file", err, "%s", kerr.msg);
    } else {
        char label[PLT_NAME_MAX + 32];
        snprintf(label, sizeof label, "flexbed-participant:%s", name);
        if (mkt_key_derive(ctx->scenario->seed, label, &p->key, &kerr))
            return scn_errf(&o, NULL, err, "%s", kerr.msg);
    }
    if (mkt_key_address(&p->key, p->addr, &kerr))
        return scn_errf(&o, NULL, err, "%s", kerr.msg);
    if (p->role == MKT_ROLE_OPERATOR) {
        if (c->op >= 0)
            return scn_errf(&o, "role", err, "there is already an operator (%s)",
                            c->part[c->op].name);
        c->op = c->npart;
    }
    c->npart++;
    return SIM_OK;
}

static int market_load(struct scn_ctx *ctx, struct scn_obj *sec, struct sim_err *err)
{
    struct plt_context *c = plt_context_of(ctx, sec, err);
    if (!c)
        return SIM_EINVAL;
    int rc, enabled = 1, partial = 1, pricing = 0, payout = 0, baseline = 0;
    long long bx = 4, by = 5;
    sim_time_us bspan = 15 * SIM_US_PER_MIN;
    static const char *const baselines[] = {"metered", "meter_before", "meter_before_after",
                                            "x_of_y", "nominated", NULL};
    double tx_fee = 0, settle_fee_pct = 0, payout_fee = 0, thr_pct = 90, pen_pct = 10;
    double util_floor_pct = 0, avail_floor_pct = 0;
    sim_time_us gate = 0;
    static const char *const pricings[] = {"pay_as_bid", "pay_as_clear", NULL};
    static const char *const payouts[] = {"pay_as_delivered", "pro_rata_with_penalty", NULL};
    const cJSON *parts = NULL, *fee_actions = NULL;
    if ((rc = scn_bool(sec, "enabled", 0, 1, &enabled, err)) ||
        (rc = scn_array(sec, "participants", 1, &parts, err)) ||
        (rc = scn_number(sec, "tx_fee_eur", 0, 0, 0, 1e6, &tx_fee, err)) ||
        (rc = scn_array(sec, "fee_actions", 0, &fee_actions, err)) ||
        (rc = scn_bool(sec, "partial_fills", 0, 1, &partial, err)) ||
        (rc = scn_enum(sec, "pricing", 0, pricings, 0, &pricing, err)) ||
        (rc = scn_enum(sec, "payout_rule", 0, payouts, 0, &payout, err)) ||
        (rc = scn_number(sec, "settle_fee_pct", 0, 0, 0, 100, &settle_fee_pct, err)) ||
        (rc = scn_number(sec, "payout_fee_eur", 0, 0, 0, 1e6, &payout_fee, err)) ||
        (rc = scn_number(sec, "penalty_threshold_pct", 0, 90, 0, 100, &thr_pct, err)) ||
        (rc = scn_number(sec, "penalty_pct", 0, 10, 0, 100, &pen_pct, err)) ||
        (rc = scn_duration(sec, "block_period", 0, 15 * SIM_US_PER_MIN, 1, INT64_MAX / 4,
                           &c->block_period, err)) ||
        (rc = scn_enum(sec, "baseline", 0, baselines, 0, &baseline, err)) ||
        (rc = scn_duration(sec, "baseline_span", 0, 15 * SIM_US_PER_MIN, SIM_US_PER_MIN,
                           7 * 24 * SIM_US_PER_H, &bspan, err)) ||
        (rc = scn_int(sec, "baseline_y", 0, 5, 1, MKT_BASELINE_MAX_Y, &by, err)) ||
        (rc = scn_int(sec, "baseline_x", 0, by < 4 ? by : 4, 1, by, &bx, err)) ||
        (rc = scn_duration(sec, "gate_closure", 0, 0, 0, 7 * 24 * SIM_US_PER_H, &gate, err)) ||
        (rc = scn_number(sec, "utilisation_floor_pct", 0, 0, 0, 100, &util_floor_pct, err)) ||
        (rc = scn_number(sec, "availability_floor_pct", 0, 0, 0, 100, &avail_floor_pct, err)))
        return rc;
    if (c->block_period % ctx->scenario->step)
        return scn_errf(sec, "block_period", err, "must be a multiple of the scenario step");
    struct mkt_params *p = &c->params;
    p->tx_fee_ueur = plt_ueur(tx_fee);
    p->partial_fills = partial;
    p->pricing = pricing ? MKT_PAY_AS_CLEAR : MKT_PAY_AS_BID;
    p->payout_rule = payout ? MKT_PRO_RATA_WITH_PENALTY : MKT_PAY_AS_DELIVERED;
    p->settle_fee_ppm = (int64_t)llround(settle_fee_pct * 1e4);
    p->payout_fee_ueur = plt_ueur(payout_fee);
    p->penalty_threshold_ppm = (int64_t)llround(thr_pct * 1e4);
    p->penalty_ppm = (int64_t)llround(pen_pct * 1e4);
    p->baseline = (enum mkt_baseline)baseline;
    p->baseline_us = bspan;
    p->baseline_x = (int)bx;
    p->baseline_y = (int)by;
    p->gate_closure_us = gate;
    p->utilisation_floor_ppm = (int64_t)llround(util_floor_pct * 1e4);
    p->availability_floor_ppm = (int64_t)llround(avail_floor_pct * 1e4);
    if (fee_actions) {
        p->fee_actions = 0;
        int i = 0;
        for (const cJSON *a = fee_actions->child; a; a = a->next, i++) {
            enum mkt_action act;
            char key[64];
            snprintf(key, sizeof key, "fee_actions[%d]", i);
            if (!cJSON_IsString(a) || mkt_action_parse(a->valuestring, &act))
                return scn_errf(sec, key, err, "expected an action name such as \"offer_add\"");
            p->fee_actions |= 1u << act;
        }
    }
    int i = 0;
    for (const cJSON *it = parts->child; it; it = it->next, i++)
        if ((rc = read_participant(ctx, c, sec, it, i, err)))
            return rc;
    if (c->op < 0)
        return scn_errf(sec, "participants", err, "one participant must have role \"operator\"");
    if ((rc = scn_obj_finish(sec, err)))
        return rc;
    c->has_market = 1;
    if (!enabled)
        c->enabled = 0;

    struct market_comp *m = calloc(1, sizeof *m);
    if (!m)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    m->c = c;
    if ((rc = sim_kernel_add(ctx->kernel, "market", &market_ops, m, c->block_period, &m->id,
                             err)))
        return rc;
    return sim_bus_publish(ctx->kernel, m->id, "blocks", "1", SIM_SIG_RECORD | SIM_SIG_STATE, 0,
                           &m->sig_blocks, err);
}

const struct scn_section plt_market_section = {
    .key = "market",
    .load = market_load,
};
