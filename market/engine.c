/*
 * engine.c: the market engine's front door: the one function that changes
 * state (mkt_submit), the role rules of DEMO.md Table II, refusal logging,
 * transaction fees, and the simple actions (participants, money, assets,
 * offers, requests). Matching lives in match.c, payment and settlement in
 * settle.c, blocks and verification in ledger.c.
 *
 * Each accepted action runs inside one SQLite savepoint together with its
 * ledger row, so a state change and its transaction are both written or
 * neither; a savepoint (not BEGIN) lets the market share a connection on
 * which the result store may already hold a transaction open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const action_names[MKT_ACT_COUNT] = {
    "genesis",     "participant_add", "deposit",          "withdraw",   "asset_add",
    "asset_edit",  "asset_remove",    "offer_add",        "offer_edit", "offer_withdraw",
    "request_add", "request_edit",    "request_withdraw", "match",      "purchase",
    "delivery",    "settle",          "meter",            "prognosis",
};

const char *mkt_action_name(enum mkt_action a)
{
    return (unsigned)a < MKT_ACT_COUNT ? action_names[a] : "unknown";
}

int mkt_action_parse(const char *s, enum mkt_action *out)
{
    for (int i = 0; i < MKT_ACT_COUNT; i++)
        if (!strcmp(s, action_names[i])) {
            *out = (enum mkt_action)i;
            return 0;
        }
    return SIM_EINVAL;
}

const char *mkt_role_name(enum mkt_role r)
{
    switch (r) {
    case MKT_ROLE_OPERATOR:
        return "operator";
    case MKT_ROLE_DSO:
        return "DSO";
    case MKT_ROLE_FSP:
        return "FSP";
    }
    return "unknown";
}

static int role_parse(const char *s, enum mkt_role *r)
{
    if (!strcmp(s, "DSO"))
        *r = MKT_ROLE_DSO;
    else if (!strcmp(s, "FSP"))
        *r = MKT_ROLE_FSP;
    else
        return SIM_EINVAL;
    return 0;
}

const char *mkt_asset_type_name(enum mkt_asset_type t)
{
    switch (t) {
    case MKT_ASSET_BATTERY:
        return "battery";
    case MKT_ASSET_EV:
        return "ev";
    case MKT_ASSET_OTHER:
        return "other";
    }
    return "unknown";
}

static int asset_type_parse(const char *s, enum mkt_asset_type *t)
{
    for (int i = 0; i <= MKT_ASSET_OTHER; i++)
        if (!strcmp(s, mkt_asset_type_name((enum mkt_asset_type)i))) {
            *t = (enum mkt_asset_type)i;
            return 0;
        }
    return SIM_EINVAL;
}

const char *mkt_state_name(enum mkt_state s)
{
    switch (s) {
    case MKT_OPEN:
        return "open";
    case MKT_MATCHED:
        return "matched";
    case MKT_PURCHASED:
        return "purchased";
    case MKT_DELIVERED:
        return "delivered";
    case MKT_SETTLED:
        return "settled";
    case MKT_WITHDRAWN:
        return "withdrawn";
    }
    return "unknown";
}

/* Table II of the demo paper, plus the operator's platform actions. */
int mkt_role_may(enum mkt_role role, enum mkt_action a)
{
    switch (a) {
    case MKT_ACT_GENESIS:
    case MKT_ACT_PARTICIPANT_ADD:
    case MKT_ACT_DEPOSIT:
        return role == MKT_ROLE_OPERATOR;
    case MKT_ACT_WITHDRAW:
        return 1;
    case MKT_ACT_ASSET_ADD:
    case MKT_ACT_ASSET_EDIT:
    case MKT_ACT_ASSET_REMOVE:
        return role == MKT_ROLE_FSP || role == MKT_ROLE_DSO;
    case MKT_ACT_OFFER_ADD:
    case MKT_ACT_OFFER_EDIT:
    case MKT_ACT_OFFER_WITHDRAW:
        return role == MKT_ROLE_FSP;
    case MKT_ACT_REQUEST_ADD:
    case MKT_ACT_REQUEST_EDIT:
    case MKT_ACT_REQUEST_WITHDRAW:
    case MKT_ACT_MATCH:
    case MKT_ACT_PURCHASE:
    case MKT_ACT_SETTLE:
        return role == MKT_ROLE_DSO;
    case MKT_ACT_DELIVERY:
    case MKT_ACT_METER:
        return role == MKT_ROLE_DSO || role == MKT_ROLE_OPERATOR;
    case MKT_ACT_PROGNOSIS:
        return role == MKT_ROLE_FSP;
    case MKT_ACT_COUNT:
        break;
    }
    return 0;
}

void mkt_params_default(struct mkt_params *p)
{
    memset(p, 0, sizeof *p);
    p->tx_fee_ueur = 0;
    p->fee_actions = (1u << MKT_ACT_OFFER_ADD) | (1u << MKT_ACT_REQUEST_ADD);
    p->partial_fills = 1;
    p->pricing = MKT_PAY_AS_BID;
    p->payout_rule = MKT_PAY_AS_DELIVERED;
    p->settle_fee_ppm = 0;
    p->payout_fee_ueur = 0;
    p->penalty_threshold_ppm = 900000;
    p->penalty_ppm = 100000;
    p->baseline = MKT_BASELINE_METERED;
    p->baseline_us = INT64_C(15) * 60 * 1000000;
    p->baseline_x = 4;
    p->baseline_y = 5;
}

int mkt_pricing_parse(const char *s, enum mkt_pricing *out)
{
    if (!strcmp(s, "pay_as_bid"))
        *out = MKT_PAY_AS_BID;
    else if (!strcmp(s, "pay_as_clear"))
        *out = MKT_PAY_AS_CLEAR;
    else
        return SIM_EINVAL;
    return 0;
}

int mkt_payout_rule_parse(const char *s, enum mkt_payout_rule *out)
{
    if (!strcmp(s, "pay_as_delivered"))
        *out = MKT_PAY_AS_DELIVERED;
    else if (!strcmp(s, "pro_rata_with_penalty"))
        *out = MKT_PRO_RATA_WITH_PENALTY;
    else
        return SIM_EINVAL;
    return 0;
}

static const char *pricing_name(enum mkt_pricing p)
{
    return p == MKT_PAY_AS_CLEAR ? "pay_as_clear" : "pay_as_bid";
}

static const char *payout_rule_name(enum mkt_payout_rule r)
{
    return r == MKT_PRO_RATA_WITH_PENALTY ? "pro_rata_with_penalty" : "pay_as_delivered";
}

/* Rules from the genesis action's "params" object. */
static int params_from_json(const cJSON *o, struct mkt_params *p, struct sim_err *err)
{
    mkt_params_default(p);
    if (!cJSON_IsObject(o))
        return sim_errf(err, SIM_EINVAL, "params: must be an object");
    int64_t v;
    int present, rc;
    if ((rc = mkt__get_int_opt(o, "tx_fee_ueur", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0)
            return sim_errf(err, SIM_EINVAL, "params.tx_fee_ueur: must be >= 0");
        p->tx_fee_ueur = v;
    }
    if ((rc = mkt__get_int_opt(o, "partial_fills", &v, &present, err)))
        return rc;
    if (present)
        p->partial_fills = v != 0;
    if ((rc = mkt__get_int_opt(o, "settle_fee_ppm", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0 || v > 1000000)
            return sim_errf(err, SIM_EINVAL, "params.settle_fee_ppm: must be in 0..1000000");
        p->settle_fee_ppm = v;
    }
    if ((rc = mkt__get_int_opt(o, "payout_fee_ueur", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0)
            return sim_errf(err, SIM_EINVAL, "params.payout_fee_ueur: must be >= 0");
        p->payout_fee_ueur = v;
    }
    if ((rc = mkt__get_int_opt(o, "penalty_threshold_ppm", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0 || v > 1000000)
            return sim_errf(err, SIM_EINVAL, "params.penalty_threshold_ppm: must be in 0..1000000");
        p->penalty_threshold_ppm = v;
    }
    if ((rc = mkt__get_int_opt(o, "penalty_ppm", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0 || v > 1000000)
            return sim_errf(err, SIM_EINVAL, "params.penalty_ppm: must be in 0..1000000");
        p->penalty_ppm = v;
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "pricing");
    if (it && (!cJSON_IsString(it) || mkt_pricing_parse(it->valuestring, &p->pricing)))
        return sim_errf(err, SIM_EINVAL,
                        "params.pricing: must be \"pay_as_bid\" or \"pay_as_clear\"");
    it = cJSON_GetObjectItemCaseSensitive(o, "payout_rule");
    if (it && (!cJSON_IsString(it) || mkt_payout_rule_parse(it->valuestring, &p->payout_rule)))
        return sim_errf(err, SIM_EINVAL,
                        "params.payout_rule: must be \"pay_as_delivered\" or "
                        "\"pro_rata_with_penalty\"");
    if ((rc = mkt__get_int_opt(o, "gate_closure_us", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0 || v > 7 * INT64_C(86400000000))
            return sim_errf(err, SIM_EINVAL, "params.gate_closure_us: must be 0 to 7 days");
        p->gate_closure_us = v;
    }
    if ((rc = mkt__get_int_opt(o, "utilisation_floor_ppm", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0 || v > 1000000)
            return sim_errf(err, SIM_EINVAL, "params.utilisation_floor_ppm: must be in 0..1000000");
        p->utilisation_floor_ppm = v;
    }
    if ((rc = mkt__get_int_opt(o, "availability_floor_ppm", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 0 || v > 1000000)
            return sim_errf(err, SIM_EINVAL,
                            "params.availability_floor_ppm: must be in 0..1000000");
        p->availability_floor_ppm = v;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "baseline");
    if (it && (!cJSON_IsString(it) || mkt_baseline_parse(it->valuestring, &p->baseline)))
        return sim_errf(err, SIM_EINVAL,
                        "params.baseline: must be \"metered\", \"meter_before\", "
                        "\"meter_before_after\", \"x_of_y\" or \"nominated\"");
    if ((rc = mkt__get_int_opt(o, "baseline_us", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 60 * INT64_C(1000000) || v > 7 * INT64_C(86400000000))
            return sim_errf(err, SIM_EINVAL, "params.baseline_us: must be 1 min to 7 days");
        p->baseline_us = v;
    }
    if ((rc = mkt__get_int_opt(o, "baseline_y", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 1 || v > MKT_BASELINE_MAX_Y)
            return sim_errf(err, SIM_EINVAL, "params.baseline_y: must be in 1..%d",
                            MKT_BASELINE_MAX_Y);
        p->baseline_y = (int)v;
    }
    if ((rc = mkt__get_int_opt(o, "baseline_x", &v, &present, err)))
        return rc;
    if (present) {
        if (v < 1 || v > p->baseline_y)
            return sim_errf(err, SIM_EINVAL, "params.baseline_x: must be in 1..baseline_y (%d)",
                            p->baseline_y);
        p->baseline_x = (int)v;
    } else if (p->baseline_x > p->baseline_y) {
        return sim_errf(err, SIM_EINVAL, "params.baseline_x: must be given when baseline_y < %d",
                        p->baseline_x);
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "fee_actions");
    if (it) {
        if (!cJSON_IsArray(it))
            return sim_errf(err, SIM_EINVAL, "params.fee_actions: must be an array of actions");
        p->fee_actions = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, it)
        {
            enum mkt_action a;
            if (!cJSON_IsString(c) || mkt_action_parse(c->valuestring, &a))
                return sim_errf(err, SIM_EINVAL, "params.fee_actions: unknown action");
            p->fee_actions |= 1u << a;
        }
    }
    return 0;
}

cJSON *mkt_params_json(const struct mkt_params *p, int every)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "tx_fee_ueur", (double)p->tx_fee_ueur);
    cJSON *arr = cJSON_AddArrayToObject(o, "fee_actions");
    for (int i = 0; i < MKT_ACT_COUNT; i++)
        if (p->fee_actions & (1u << i))
            cJSON_AddItemToArray(arr, cJSON_CreateString(action_names[i]));
    cJSON_AddBoolToObject(o, "partial_fills", p->partial_fills != 0);
    cJSON_AddStringToObject(o, "pricing", pricing_name(p->pricing));
    cJSON_AddStringToObject(o, "payout_rule", payout_rule_name(p->payout_rule));
    cJSON_AddNumberToObject(o, "settle_fee_ppm", (double)p->settle_fee_ppm);
    cJSON_AddNumberToObject(o, "payout_fee_ueur", (double)p->payout_fee_ueur);
    cJSON_AddNumberToObject(o, "penalty_threshold_ppm", (double)p->penalty_threshold_ppm);
    cJSON_AddNumberToObject(o, "penalty_ppm", (double)p->penalty_ppm);
    /* Rules added since the demo are written into a genesis only when they
     * differ from their defaults: a market without them has the genesis it
     * always had. */
    if (every || p->gate_closure_us)
        cJSON_AddNumberToObject(o, "gate_closure_us", (double)p->gate_closure_us);
    if (every || p->utilisation_floor_ppm)
        cJSON_AddNumberToObject(o, "utilisation_floor_ppm", (double)p->utilisation_floor_ppm);
    if (every || p->availability_floor_ppm)
        cJSON_AddNumberToObject(o, "availability_floor_ppm", (double)p->availability_floor_ppm);
    if (every || p->baseline != MKT_BASELINE_METERED)
        cJSON_AddStringToObject(o, "baseline", mkt_baseline_name(p->baseline));
    if (every || p->baseline == MKT_BASELINE_METER_BEFORE ||
        p->baseline == MKT_BASELINE_METER_BEFORE_AFTER)
        cJSON_AddNumberToObject(o, "baseline_us", (double)p->baseline_us);
    if (every || p->baseline == MKT_BASELINE_X_OF_Y) {
        cJSON_AddNumberToObject(o, "baseline_x", p->baseline_x);
        cJSON_AddNumberToObject(o, "baseline_y", p->baseline_y);
    }
    return o;
}

/* Load the rules and operator of an existing ledger (reopened database). */
static int load_genesis(mkt_engine *e, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err,
                       "SELECT json FROM mkt_tx WHERE action='genesis' ORDER BY seq LIMIT 1", "");
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *root = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
        rc = root ? params_from_json(cJSON_GetObjectItemCaseSensitive(root, "params"), &e->params,
                                     err)
                  : sim_errf(err, SIM_EINVAL, "genesis transaction is not JSON");
        if (!rc)
            rc = mkt__get_addr(root, "from", e->operator_addr, err);
        cJSON_Delete(root);
        if (!rc)
            e->has_genesis = 1;
    }
    mkt__finish(st);
    if (rc)
        return rc;
    int64_t v = 0;
    rc = mkt__sql_int(e->db, &v, err, "SELECT coalesce(max(seq), 0) FROM mkt_tx", "");
    e->last_seq = v;
    return rc;
}

int mkt_engine_new(sqlite3 *db, mkt_engine **out, struct sim_err *err)
{
    *out = NULL;
    if (!db)
        return sim_errf(err, SIM_EINVAL, "market: no database");
    mkt_engine *e = calloc(1, sizeof *e);
    if (!e)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    e->db = db;
    e->refusal_tokens = MKT_REFUSAL_BURST;
    e->refusal_last_us = INT64_MIN;
    mkt_params_default(&e->params);
    mkt__cache_open(db);
    int rc = mkt__schema(db, err);
    if (!rc)
        rc = load_genesis(e, err);
    if (rc) {
        mkt__cache_close(db);
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int mkt_engine_reload(mkt_engine *e, struct sim_err *err)
{
    if (e->batch)
        return sim_errf(err, SIM_ESTATE, "market: a batch is open");
    mkt_params_default(&e->params);
    e->has_genesis = 0;
    return load_genesis(e, err);
}

void mkt_engine_free(mkt_engine *e)
{
    if (!e)
        return;
    if (e->batch_owned) {
        struct sim_err err;
        mkt_batch_end(e, &err);
    }
    mkt__cache_close(e->db);
    free(e);
}

int mkt_batch_begin(mkt_engine *e, struct sim_err *err)
{
    if (e->batch)
        return sim_errf(err, SIM_ESTATE, "market: a batch is already open");
    int own = sqlite3_get_autocommit(e->db);
    if (own) {
        int rc = mkt__exec(e->db, "BEGIN IMMEDIATE", err);
        if (rc)
            return rc;
    }
    e->batch = 1;
    e->batch_owned = own;
    return 0;
}

int mkt_batch_end(mkt_engine *e, struct sim_err *err)
{
    if (!e->batch)
        return sim_errf(err, SIM_ESTATE, "market: no batch is open");
    int own = e->batch_owned;
    e->batch = e->batch_owned = 0;
    if (!own)
        return 0;
    int rc = mkt__exec(e->db, "COMMIT", err);
    if (rc) {
        /* nothing of the batch is kept: the engine forgets it too */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        struct sim_err e2;
        if (!sqlite3_get_autocommit(e->db))
            mkt__exec(e->db, "ROLLBACK", &e2);
        e->has_genesis = 0;
        mkt_params_default(&e->params);
        load_genesis(e, &e2);
        rc = sim_errf(err, SIM_EIO, "market: group commit failed, the batch is lost: %s", why);
    }
    return rc;
}

const struct mkt_params *mkt_engine_params(const mkt_engine *e)
{
    return &e->params;
}

sqlite3 *mkt_engine_db(mkt_engine *e)
{
    return e->db;
}

/* ------------------------------------------------------------------ */
/* Simple actions                                                      */
/* ------------------------------------------------------------------ */

static int act_genesis(struct mkt_txctx *c, struct sim_err *err)
{
    mkt_engine *e = c->e;
    struct mkt_params p;
    int rc = params_from_json(cJSON_GetObjectItemCaseSensitive(c->root, "params"), &p, err);
    if (rc)
        return rc;
    char a[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, a);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c->root, "name");
    rc = mkt__sql(e->db, err,
                  "INSERT INTO mkt_participants(address, role, name, seq) VALUES (?,?,?,?)", "sisi",
                  a, (int64_t)MKT_ROLE_OPERATOR,
                  cJSON_IsString(name) ? name->valuestring : "operator", c->seq);
    if (rc)
        return rc;
    e->params = p;
    memcpy(e->operator_addr, c->from, 20);
    e->has_genesis = 1;
    return 0;
}

static int act_participant_add(struct mkt_txctx *c, struct sim_err *err)
{
    uint8_t addr[20];
    const char *role_s, *name;
    enum mkt_role role;
    int rc;
    if ((rc = mkt__get_addr(c->root, "address", addr, err)) ||
        (rc = mkt__get_str(c->root, "role", &role_s, err)) ||
        (rc = mkt__get_str(c->root, "name", &name, err)))
        return rc;
    if (role_parse(role_s, &role))
        return sim_errf(err, SIM_EINVAL, "role: must be \"DSO\" or \"FSP\"");
    char a[MKT_ADDR_STRLEN];
    mkt_address_format(addr, a);
    int64_t dummy;
    if (mkt__sql_int(c->e->db, &dummy, err, "SELECT 1 FROM mkt_participants WHERE address=?", "s",
                     a) == 0)
        return sim_errf(err, SIM_EEXIST, "address: %s is already a participant", a);
    return mkt__sql(c->e->db, err,
                    "INSERT INTO mkt_participants(address, role, name, seq) VALUES (?,?,?,?)",
                    "sisi", a, (int64_t)role, name, c->seq);
}

static int money_total_add(mkt_engine *e, int64_t delta, struct sim_err *err)
{
    return mkt__sql(e->db, err, "UPDATE mkt_totals SET deposited_ueur = deposited_ueur + ?", "i",
                    delta);
}

static int act_deposit(struct mkt_txctx *c, struct sim_err *err)
{
    uint8_t addr[20];
    int64_t amount;
    int rc;
    if ((rc = mkt__get_addr(c->root, "address", addr, err)) ||
        (rc = mkt__get_int(c->root, "amount_ueur", &amount, err)))
        return rc;
    if (amount <= 0)
        return sim_errf(err, SIM_EINVAL, "amount_ueur: must be > 0");
    if ((rc = mkt__wallet_add(c->e, addr, amount, err)))
        return rc;
    c->rc->amount_ueur = amount;
    return money_total_add(c->e, amount, err);
}

static int act_withdraw(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t amount;
    int rc = mkt__get_int(c->root, "amount_ueur", &amount, err);
    if (rc)
        return rc;
    if (amount <= 0)
        return sim_errf(err, SIM_EINVAL, "amount_ueur: must be > 0");
    if ((rc = mkt__wallet_add(c->e, c->from, -amount, err)))
        return rc;
    c->rc->amount_ueur = amount;
    return money_total_add(c->e, -amount, err);
}

/* Asset fields shared by add and edit. */
struct asset_fields {
    const char *type, *name, *location;
    int64_t p_min_w, p_max_w, soc_min_ppm, soc_max_ppm;
};

static int asset_fields(const cJSON *o, struct asset_fields *f, struct sim_err *err)
{
    int rc;
    if ((rc = mkt__get_str(o, "type", &f->type, err)) ||
        (rc = mkt__get_str(o, "name", &f->name, err)) ||
        (rc = mkt__get_str(o, "location", &f->location, err)) ||
        (rc = mkt__get_int(o, "p_min_w", &f->p_min_w, err)) ||
        (rc = mkt__get_int(o, "p_max_w", &f->p_max_w, err)) ||
        (rc = mkt__get_int(o, "soc_min_ppm", &f->soc_min_ppm, err)) ||
        (rc = mkt__get_int(o, "soc_max_ppm", &f->soc_max_ppm, err)))
        return rc;
    enum mkt_asset_type t;
    if (asset_type_parse(f->type, &t))
        return sim_errf(err, SIM_EINVAL, "type: must be \"battery\", \"ev\" or \"other\"");
    if (!f->location[0] || strlen(f->location) >= 64)
        return sim_errf(err, SIM_EINVAL, "location: must be 1 to 63 bytes");
    if (strlen(f->name) >= 64)
        return sim_errf(err, SIM_EINVAL, "name: must be shorter than 64 bytes");
    if (f->p_min_w > f->p_max_w)
        return sim_errf(err, SIM_EINVAL, "p_min_w: must be <= p_max_w");
    if (f->soc_min_ppm < 0 || f->soc_min_ppm > f->soc_max_ppm || f->soc_max_ppm > 1000000)
        return sim_errf(err, SIM_EINVAL,
                        "soc_min_ppm: must satisfy 0 <= soc_min_ppm <= soc_max_ppm <= 1000000");
    return 0;
}

static int act_asset_add(struct mkt_txctx *c, struct sim_err *err)
{
    struct asset_fields f;
    int rc = asset_fields(c->root, &f, err);
    if (rc)
        return rc;
    enum mkt_asset_type t = MKT_ASSET_OTHER;
    asset_type_parse(f.type, &t); /* checked by asset_fields */
    char a[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, a);
    rc = mkt__sql(c->e->db, err,
                  "INSERT INTO mkt_assets(owner, type, name, location, p_min_w, p_max_w,"
                  " soc_min_ppm, soc_max_ppm, seq) VALUES (?,?,?,?,?,?,?,?,?)",
                  "sissiiiii", a, (int64_t)t, f.name, f.location, f.p_min_w, f.p_max_w,
                  f.soc_min_ppm, f.soc_max_ppm, c->seq);
    c->rc->id = sqlite3_last_insert_rowid(c->e->db);
    return rc;
}

/* The id member must name an object of table owned (column owner_col) by
 * the sender; *state gets its state column when state_col is given. */
static int owned(struct mkt_txctx *c, const char *what, const char *table, const char *owner_col,
                 int64_t *id, struct sim_err *err)
{
    int rc = mkt__get_int(c->root, "id", id, err);
    if (rc)
        return rc;
    char sql[160], owner[MKT_ADDR_STRLEN], me[MKT_ADDR_STRLEN];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE id=?", owner_col, table);
    sqlite3_stmt *st;
    if ((rc = mkt__stmt(c->e->db, &st, err, sql, "i", *id)))
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        mkt__finish(st);
        return sim_errf(err, SIM_ENOENT, "id: no %s %lld", what, (long long)*id);
    }
    snprintf(owner, sizeof owner, "%s", (const char *)sqlite3_column_text(st, 0));
    mkt__finish(st);
    if (strcmp(owner, mkt_address_format(c->from, me)))
        return sim_errf(err, SIM_ESTATE, "id: %s %lld belongs to %s, not to %s", what,
                        (long long)*id, owner, me);
    c->rc->id = *id;
    return 0;
}

static int act_asset_edit(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t id, removed = 0;
    struct asset_fields f;
    int rc;
    if ((rc = owned(c, "asset", "mkt_assets", "owner", &id, err)) ||
        (rc = asset_fields(c->root, &f, err)))
        return rc;
    mkt__sql_int(c->e->db, &removed, err, "SELECT removed FROM mkt_assets WHERE id=?", "i", id);
    if (removed)
        return sim_errf(err, SIM_ESTATE, "id: asset %lld was removed", (long long)id);
    enum mkt_asset_type t = MKT_ASSET_OTHER;
    asset_type_parse(f.type, &t); /* checked by asset_fields */
    return mkt__sql(c->e->db, err,
                    "UPDATE mkt_assets SET type=?, name=?, location=?, p_min_w=?, p_max_w=?,"
                    " soc_min_ppm=?, soc_max_ppm=? WHERE id=?",
                    "issiiiii", (int64_t)t, f.name, f.location, f.p_min_w, f.p_max_w, f.soc_min_ppm,
                    f.soc_max_ppm, id);
}

static int act_asset_remove(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t id, n = 0;
    int rc = owned(c, "asset", "mkt_assets", "owner", &id, err);
    if (rc)
        return rc;
    mkt__sql_int(c->e->db, &n, err, "SELECT count(*) FROM mkt_offers WHERE asset_id=? AND state=?",
                 "ii", id, (int64_t)MKT_OPEN);
    if (n)
        return sim_errf(err, SIM_ESTATE, "id: asset %lld still has %lld open offer(s)",
                        (long long)id, (long long)n);
    return mkt__sql(c->e->db, err, "UPDATE mkt_assets SET removed=1 WHERE id=?", "i", id);
}

/* Gate closure: trading for a window closes gate_closure_us before it
 * starts. 0, or SIM_ESTATE naming the gate. */
int mkt__gate_open(const mkt_engine *e, sim_time_us now, sim_time_us start, const char *what,
                   struct sim_err *err)
{
    int64_t g = e->params.gate_closure_us;
    if (g > 0 && now > start - g)
        return sim_errf(err, SIM_ESTATE,
                        "%s: the gate closed %lld min before the window starts (%lld s ago)", what,
                        (long long)(g / SIM_US_PER_MIN), (long long)((now - (start - g)) / 1000000));
    return 0;
}

/* An optional non-negative price member (0 when absent). */
static int opt_price(const cJSON *o, const char *name, int64_t *v, struct sim_err *err)
{
    int present, rc = mkt__get_int_opt(o, name, v, &present, err);
    if (rc)
        return rc;
    if (!present)
        *v = 0;
    if (*v < 0 || *v > INT64_C(1000000000))
        return sim_errf(err, SIM_EINVAL, "%s: must be in 0..1e9", name);
    return 0;
}

/* Window, power and price members shared by offers and requests. */
static int window_fields(const cJSON *o, sim_time_us now, int64_t *start, int64_t *end,
                         int64_t *p_w, struct sim_err *err)
{
    int rc;
    if ((rc = mkt__get_int(o, "start_us", start, err)) ||
        (rc = mkt__get_int(o, "end_us", end, err)) || (rc = mkt__get_int(o, "p_w", p_w, err)))
        return rc;
    if (*end <= *start)
        return sim_errf(err, SIM_EINVAL, "end_us: window must end after it starts");
    if (*end <= now)
        return sim_errf(err, SIM_EINVAL, "end_us: window is already over");
    if (*p_w == 0)
        return sim_errf(err, SIM_EINVAL, "p_w: volume must not be zero");
    if (*p_w > INT64_C(1000000000000) || *p_w < -INT64_C(1000000000000))
        return sim_errf(err, SIM_EINVAL, "p_w: volume out of range");
    if (*end - *start > INT64_C(366) * 24 * SIM_US_PER_H)
        return sim_errf(err, SIM_EINVAL, "end_us: window longer than a year");
    return 0;
}

struct offer_fields {
    int64_t asset_id, start, end, valid_until, p_w, price, availability;
    char location[64];
};

static int offer_fields(struct mkt_txctx *c, struct offer_fields *f, struct sim_err *err)
{
    int rc, present;
    if ((rc = mkt__get_int(c->root, "asset_id", &f->asset_id, err)) ||
        (rc = window_fields(c->root, c->now, &f->start, &f->end, &f->p_w, err)) ||
        (rc = mkt__get_int(c->root, "price_ueur_per_kwh", &f->price, err)) ||
        (rc = mkt__get_int_opt(c->root, "valid_until_us", &f->valid_until, &present, err)) ||
        (rc = opt_price(c->root, "availability_ueur_per_kw_h", &f->availability, err)) ||
        (rc = mkt__gate_open(c->e, c->now, f->start, "start_us", err)))
        return rc;
    if (!present)
        f->valid_until = f->start;
    if (f->price < 0 || f->price > INT64_C(1000000000))
        return sim_errf(err, SIM_EINVAL, "price_ueur_per_kwh: must be in 0..1e9");
    sqlite3_stmt *st;
    if ((rc = mkt__stmt(
             c->e->db, &st, err,
             "SELECT owner, location, p_min_w, p_max_w, removed FROM mkt_assets WHERE id=?", "i",
             f->asset_id)))
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        mkt__finish(st);
        return sim_errf(err, SIM_ENOENT, "asset_id: no asset %lld", (long long)f->asset_id);
    }
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    int mine = !strcmp((const char *)sqlite3_column_text(st, 0), me);
    snprintf(f->location, sizeof f->location, "%s", (const char *)sqlite3_column_text(st, 1));
    int64_t pmin = sqlite3_column_int64(st, 2), pmax = sqlite3_column_int64(st, 3);
    int removed = sqlite3_column_int(st, 4);
    mkt__finish(st);
    if (!mine)
        return sim_errf(err, SIM_ESTATE, "asset_id: asset %lld belongs to another participant",
                        (long long)f->asset_id);
    if (removed)
        return sim_errf(err, SIM_ESTATE, "asset_id: asset %lld was removed",
                        (long long)f->asset_id);
    /* Metered: the offer is the asset's power, within its limits. Against
     * a baseline it is a change from what the asset would do, at most the
     * asset's whole range (an EV charging at 7 kW that can discharge 7 kW
     * offers up to 14 kW of reduction). */
    if (c->e->params.baseline == MKT_BASELINE_METERED) {
        if (f->p_w < pmin || f->p_w > pmax)
            return sim_errf(err, SIM_EINVAL,
                            "p_w: %lld W is outside the asset's limits [%lld, %lld] W",
                            (long long)f->p_w, (long long)pmin, (long long)pmax);
    } else if (f->p_w < -(pmax - pmin) || f->p_w > pmax - pmin) {
        return sim_errf(err, SIM_EINVAL,
                        "p_w: a change of %lld W is more than the asset's range [%lld, %lld] W "
                        "allows",
                        (long long)f->p_w, (long long)pmin, (long long)pmax);
    }
    return 0;
}

static int act_offer_add(struct mkt_txctx *c, struct sim_err *err)
{
    struct offer_fields f;
    int rc = offer_fields(c, &f, err);
    if (rc)
        return rc;
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    rc = mkt__sql(c->e->db, err,
                  "INSERT INTO mkt_offers(asset_id, fsp, location, start_us, end_us,"
                  " valid_until_us, p_w, price_ueur_per_kwh, remaining_w, state, seq,"
                  " availability_ueur_per_kw_h) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                  "issiiiiiiiii", f.asset_id, me, f.location, f.start, f.end, f.valid_until,
                  f.p_w, f.price, f.p_w, (int64_t)MKT_OPEN, c->seq, f.availability);
    c->rc->id = sqlite3_last_insert_rowid(c->e->db);
    return rc;
}

static int offer_untouched(struct mkt_txctx *c, int64_t id, struct sim_err *err)
{
    int64_t state = -1, untouched = 0;
    mkt__sql_int(c->e->db, &state, err, "SELECT state FROM mkt_offers WHERE id=?", "i", id);
    mkt__sql_int(c->e->db, &untouched, err, "SELECT remaining_w = p_w FROM mkt_offers WHERE id=?",
                 "i", id);
    if (state != MKT_OPEN)
        return sim_errf(err, SIM_ESTATE, "id: offer %lld is %s", (long long)id,
                        mkt_state_name((enum mkt_state)state));
    if (!untouched)
        return sim_errf(err, SIM_ESTATE, "id: offer %lld is already (partly) matched",
                        (long long)id);
    return 0;
}

static int act_offer_edit(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t id;
    struct offer_fields f;
    int rc;
    if ((rc = owned(c, "offer", "mkt_offers", "fsp", &id, err)) ||
        (rc = offer_untouched(c, id, err)) || (rc = offer_fields(c, &f, err)))
        return rc;
    return mkt__sql(c->e->db, err,
                    "UPDATE mkt_offers SET asset_id=?, location=?, start_us=?, end_us=?,"
                    " valid_until_us=?, p_w=?, price_ueur_per_kwh=?, remaining_w=?,"
                    " availability_ueur_per_kw_h=? WHERE id=?",
                    "isiiiiiiii", f.asset_id, f.location, f.start, f.end, f.valid_until, f.p_w,
                    f.price, f.p_w, f.availability, id);
}

static int act_offer_withdraw(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t id, state = -1;
    int rc = owned(c, "offer", "mkt_offers", "fsp", &id, err);
    if (rc)
        return rc;
    mkt__sql_int(c->e->db, &state, err, "SELECT state FROM mkt_offers WHERE id=?", "i", id);
    if (state != MKT_OPEN)
        return sim_errf(err, SIM_ESTATE, "id: offer %lld is %s, not open", (long long)id,
                        mkt_state_name((enum mkt_state)state));
    /* Matches already made stand; only the unmatched remainder is withdrawn. */
    return mkt__sql(c->e->db, err, "UPDATE mkt_offers SET state=?, remaining_w=0 WHERE id=?", "ii",
                    (int64_t)MKT_WITHDRAWN, id);
}

struct request_fields {
    const char *location;
    int64_t start, end, p_w, max_price, max_availability;
};

static int request_fields(struct mkt_txctx *c, struct request_fields *f, struct sim_err *err)
{
    int rc;
    if ((rc = mkt__get_str(c->root, "location", &f->location, err)) ||
        (rc = window_fields(c->root, c->now, &f->start, &f->end, &f->p_w, err)) ||
        (rc = mkt__get_int(c->root, "max_price_ueur_per_kwh", &f->max_price, err)) ||
        (rc = opt_price(c->root, "max_availability_ueur_per_kw_h", &f->max_availability, err)) ||
        (rc = mkt__gate_open(c->e, c->now, f->start, "start_us", err)))
        return rc;
    if (!f->location[0] || strlen(f->location) >= 64)
        return sim_errf(err, SIM_EINVAL, "location: must be 1 to 63 bytes");
    if (f->max_price < 0 || f->max_price > INT64_C(1000000000))
        return sim_errf(err, SIM_EINVAL, "max_price_ueur_per_kwh: must be in 0..1e9");
    return 0;
}

static int act_request_add(struct mkt_txctx *c, struct sim_err *err)
{
    struct request_fields f;
    int rc = request_fields(c, &f, err);
    if (rc)
        return rc;
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    rc = mkt__sql(c->e->db, err,
                  "INSERT INTO mkt_requests(dso, location, start_us, end_us, p_w,"
                  " max_price_ueur_per_kwh, unmet_w, state, seq, max_availability_ueur_per_kw_h)"
                  " VALUES (?,?,?,?,?,?,?,?,?,?)",
                  "ssiiiiiiii", me, f.location, f.start, f.end, f.p_w, f.max_price, f.p_w,
                  (int64_t)MKT_OPEN, c->seq, f.max_availability);
    c->rc->id = sqlite3_last_insert_rowid(c->e->db);
    return rc;
}

static int act_request_edit(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t id, state = -1, n = 0;
    struct request_fields f;
    int rc;
    if ((rc = owned(c, "request", "mkt_requests", "dso", &id, err)))
        return rc;
    mkt__sql_int(c->e->db, &state, err, "SELECT state FROM mkt_requests WHERE id=?", "i", id);
    mkt__sql_int(c->e->db, &n, err, "SELECT count(*) FROM mkt_matches WHERE request_id=?", "i", id);
    if (state != MKT_OPEN || n)
        return sim_errf(err, SIM_ESTATE, "id: request %lld is already matched or closed",
                        (long long)id);
    if ((rc = request_fields(c, &f, err)))
        return rc;
    return mkt__sql(c->e->db, err,
                    "UPDATE mkt_requests SET location=?, start_us=?, end_us=?, p_w=?,"
                    " max_price_ueur_per_kwh=?, unmet_w=?, max_availability_ueur_per_kw_h=?"
                    " WHERE id=?",
                    "siiiiiii", f.location, f.start, f.end, f.p_w, f.max_price, f.p_w,
                    f.max_availability, id);
}

static int act_request_withdraw(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t id, state = -1;
    int rc = owned(c, "request", "mkt_requests", "dso", &id, err);
    if (rc)
        return rc;
    mkt__sql_int(c->e->db, &state, err, "SELECT state FROM mkt_requests WHERE id=?", "i", id);
    if (state != MKT_OPEN && state != MKT_MATCHED)
        return sim_errf(err, SIM_ESTATE, "id: request %lld is %s and cannot be withdrawn",
                        (long long)id, mkt_state_name((enum mkt_state)state));
    if ((rc = mkt__release_matches(c->e, id, err)))
        return rc;
    return mkt__sql(c->e->db, err, "UPDATE mkt_requests SET state=? WHERE id=?", "ii",
                    (int64_t)MKT_WITHDRAWN, id);
}

typedef int (*act_fn)(struct mkt_txctx *c, struct sim_err *err);
static const act_fn handlers[MKT_ACT_COUNT] = {
    act_genesis,          act_participant_add, act_deposit,       act_withdraw,
    act_asset_add,        act_asset_edit,      act_asset_remove,  act_offer_add,
    act_offer_edit,       act_offer_withdraw,  act_request_add,   act_request_edit,
    act_request_withdraw, mkt__act_match,      mkt__act_purchase, mkt__act_delivery,
    mkt__act_settle,      mkt__act_meter,      mkt__act_prognosis,
};

/* ------------------------------------------------------------------ */
/* Submission                                                          */
/* ------------------------------------------------------------------ */

/* Whether a refusal at `now` may be recorded (token bucket). */
static int refusal_admit(mkt_engine *e, sim_time_us now)
{
    if (e->refusal_last_us != INT64_MIN && now > e->refusal_last_us)
        e->refusal_tokens += (double)(now - e->refusal_last_us) / 1e6 * MKT_REFUSAL_RATE;
    e->refusal_last_us = now;
    if (e->refusal_tokens > MKT_REFUSAL_BURST)
        e->refusal_tokens = MKT_REFUSAL_BURST;
    if (e->refusal_tokens < 1) {
        e->refusals_unrecorded++;
        e->refusals_unrecorded_new++;
        return 0;
    }
    e->refusal_tokens -= 1;
    return 1;
}

/* A refusal changes no state but is itself recorded (with the recovered
 * signer when there is one), in its own statement after the rollback, at
 * most at the rate refusal_admit allows; a recorded refusal says how many
 * went unrecorded before it. */
static int refuse(mkt_engine *e, sim_time_us now, const uint8_t *signer, const char *action,
                  const char *json, int code, struct sim_err *err)
{
    if (!refusal_admit(e, now))
        return code;
    char why[sizeof err->msg + 96];
    snprintf(why, sizeof why, "%s", err ? err->msg : sim_strerror(code));
    if (e->refusals_unrecorded_new > 0) {
        size_t n = strlen(why);
        snprintf(why + n, sizeof why - n, " (after %lld refusals not recorded: rate limit)",
                 (long long)e->refusals_unrecorded_new);
        e->refusals_unrecorded_new = 0;
    }
    char a[MKT_ADDR_STRLEN] = "";
    if (signer)
        mkt_address_format(signer, a);
    struct sim_err e2;
    sqlite3_stmt *st;
    if (mkt__stmt(e->db, &st, &e2,
                  "INSERT INTO mkt_refusals(t_us, sender, action, code, reason, json)"
                  " VALUES (?,?,?,?,?,?)",
                  "i", (int64_t)now) == 0) {
        if (signer)
            sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
        if (action)
            sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, code);
        sqlite3_bind_text(st, 5, why, -1, SQLITE_STATIC);
        if (json)
            sqlite3_bind_text(st, 6, json, (int)strnlen(json, 65536), SQLITE_STATIC);
        sqlite3_step(st);
        mkt__finish(st);
    }
    return code;
}

int mkt_submit(mkt_engine *e, const char *json, const uint8_t sig_in[MKT_SIG_LEN], sim_time_us now,
               struct mkt_receipt *rcpt, struct sim_err *err)
{
    struct sim_err local;
    if (!err)
        err = &local;
    struct mkt_receipt dummy;
    if (!rcpt)
        rcpt = &dummy;
    memset(rcpt, 0, sizeof *rcpt);
    if (!json || !sig_in)
        return sim_errf(err, SIM_EINVAL, "no action or signature");
    /* One canonical encoding: v = 0/1 (as some signers write it) becomes
     * 27/28, so a transaction has one stored form and one hash. */
    uint8_t sig[MKT_SIG_LEN];
    memcpy(sig, sig_in, MKT_SIG_LEN);
    if (sig[64] == 0 || sig[64] == 1)
        sig[64] = (uint8_t)(sig[64] + 27);

    cJSON *root = NULL;
    char *canon = NULL;
    uint8_t signer[20], from[20];
    int have_signer = 0, rc;
    const char *action_s = NULL;
    enum mkt_action action = MKT_ACT_COUNT;
    int64_t nonce = 0;
    size_t json_len = strlen(json);

    if (json_len > 65536) {
        rc = sim_errf(err, SIM_EINVAL, "action: longer than 64 KiB");
        goto refused;
    }
    root = cJSON_ParseWithOpts(json, NULL, 1);
    if (!root || !cJSON_IsObject(root)) {
        rc = sim_errf(err, SIM_EINVAL, "action: not a JSON object");
        goto refused;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "action");
    if (cJSON_IsString(act))
        action_s = act->valuestring;
    if ((rc = mkt__canon_print(root, &canon, err)))
        goto refused;
    if (strcmp(canon, json)) {
        rc = sim_errf(err, SIM_EINVAL,
                      "action: not in canonical form (sorted keys, no whitespace, integers)");
        goto refused;
    }
    if (mkt_recover_signer(json, json_len, sig, signer, err)) {
        rc = SIM_EINVAL;
        goto refused;
    }
    have_signer = 1;
    if (!action_s || mkt_action_parse(action_s, &action)) {
        rc = sim_errf(err, SIM_EINVAL, "action: missing or unknown action");
        goto refused;
    }
    if ((rc = mkt__get_addr(root, "from", from, err)) ||
        (rc = mkt__get_int(root, "nonce", &nonce, err)))
        goto refused;
    if (memcmp(from, signer, 20)) {
        char a[MKT_ADDR_STRLEN], b[MKT_ADDR_STRLEN];
        rc = sim_errf(err, SIM_EINVAL, "signature: signed by %s, but from is %s",
                      mkt_address_format(signer, a), mkt_address_format(from, b));
        goto refused;
    }

    enum mkt_role role = MKT_ROLE_OPERATOR;
    int64_t want_nonce = 0;
    char fa[MKT_ADDR_STRLEN];
    mkt_address_format(from, fa);
    if (action == MKT_ACT_GENESIS) {
        if (e->has_genesis) {
            rc = sim_errf(err, SIM_ESTATE, "genesis: the ledger already has a genesis");
            goto refused;
        }
    } else {
        if (!e->has_genesis) {
            rc = sim_errf(err, SIM_ESTATE, "%s: the market has no genesis yet", action_s);
            goto refused;
        }
        sqlite3_stmt *st;
        if ((rc = mkt__stmt(e->db, &st, err,
                            "SELECT role, nonce FROM mkt_participants WHERE address=?", "s", fa)))
            goto refused;
        if (sqlite3_step(st) != SQLITE_ROW) {
            mkt__finish(st);
            rc = sim_errf(err, SIM_ESTATE, "from: %s is not a participant", fa);
            goto refused;
        }
        role = (enum mkt_role)sqlite3_column_int(st, 0);
        want_nonce = sqlite3_column_int64(st, 1);
        mkt__finish(st);
    }
    if (!mkt_role_may(role, action)) {
        rc = sim_errf(err, SIM_ESTATE, "%s: not allowed for the %s role", action_s,
                      mkt_role_name(role));
        goto refused;
    }
    if (nonce != want_nonce) {
        rc = sim_errf(err, SIM_EINVAL, "nonce: is %lld, expected %lld (replayed or out of order)",
                      (long long)nonce, (long long)want_nonce);
        goto refused;
    }

    if ((rc = mkt__sql(e->db, err, "SAVEPOINT mkt_action", "")))
        goto refused;
    struct mkt_txctx c = {.e = e,
                          .root = root,
                          .action = action,
                          .role = role,
                          .now = now,
                          .seq = e->last_seq + 1,
                          .rc = rcpt};
    memcpy(c.from, from, 20);
    rcpt->tx_seq = c.seq;
    rc = handlers[action](&c, err);
    if (!rc && e->params.tx_fee_ueur > 0 && (e->params.fee_actions & (1u << action)) &&
        memcmp(from, e->operator_addr, 20)) {
        rc = mkt__wallet_add(e, from, -e->params.tx_fee_ueur, err);
        if (!rc)
            rc = mkt__wallet_add(e, e->operator_addr, e->params.tx_fee_ueur, err);
        if (rc == SIM_ESTATE) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg); /* sim_errf must not read what it writes */
            rc = sim_errf(err, SIM_ESTATE, "fee: %s", why);
        }
        rcpt->fee_ueur = e->params.tx_fee_ueur;
    }
    if (!rc)
        rc = mkt__sql(e->db, err, "UPDATE mkt_participants SET nonce=nonce+1 WHERE address=?", "s",
                      fa);
    if (!rc) {
        mkt__tx_hash(json, json_len, sig, now, rcpt->hash);
        rc = mkt__tx_insert(e, c.seq, now, from, action, nonce, json, sig, rcpt->hash, err);
    }
    if (!rc)
        rc = mkt__sql(e->db, err, "RELEASE mkt_action", "");
    if (rc) {
        struct sim_err e2;
        mkt__exec(e->db, "ROLLBACK TO mkt_action; RELEASE mkt_action", &e2);
        if (action == MKT_ACT_GENESIS) {
            e->has_genesis = 0;
            mkt_params_default(&e->params);
        }
        memset(rcpt, 0, sizeof *rcpt);
        goto refused;
    }
    e->last_seq = c.seq;
    cJSON_Delete(root);
    free(canon);
    return 0;

refused:
    refuse(e, now, have_signer ? signer : NULL, action_s, json, rc, err);
    cJSON_Delete(root);
    free(canon);
    return rc;
}

int mkt_sign_submit(mkt_engine *e, const struct mkt_key *k, const char *json, sim_time_us now,
                    struct mkt_receipt *rc, struct sim_err *err)
{
    uint8_t addr[20];
    int r = mkt_key_address(k, addr, err);
    if (r)
        return r;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sim_errf(err, SIM_EINVAL, "action: not a JSON object");
    }
    char a[MKT_ADDR_STRLEN];
    mkt_address_format(addr, a);
    if (!cJSON_GetObjectItemCaseSensitive(root, "from"))
        cJSON_AddStringToObject(root, "from", a);
    if (!cJSON_GetObjectItemCaseSensitive(root, "nonce")) {
        int64_t nonce = 0;
        struct sim_err e2;
        mkt__sql_int(e->db, &nonce, &e2, "SELECT nonce FROM mkt_participants WHERE address=?", "s",
                     a);
        cJSON_AddNumberToObject(root, "nonce", (double)nonce);
    }
    char *canon = NULL;
    r = mkt__canon_print(root, &canon, err);
    cJSON_Delete(root);
    if (r)
        return r;
    uint8_t sig[MKT_SIG_LEN];
    r = mkt_sign_message(k, canon, strlen(canon), sig, err);
    if (!r)
        r = mkt_submit(e, canon, sig, now, rc, err);
    free(canon);
    return r;
}

/* ------------------------------------------------------------------ */
/* Typed helpers                                                       */
/* ------------------------------------------------------------------ */

/* Submit a cJSON object built by a helper; takes ownership of o. */
static int submit_obj(mkt_engine *e, const struct mkt_key *k, cJSON *o, sim_time_us now,
                      struct mkt_receipt *rc, struct sim_err *err)
{
    if (!o)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    int r = mkt_sign_submit(e, k, txt, now, rc, err);
    cJSON_free(txt);
    return r;
}

static cJSON *action_obj(enum mkt_action a)
{
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "action", action_names[a]);
    return o;
}

static void add_int(cJSON *o, const char *name, int64_t v)
{
    cJSON_AddNumberToObject(o, name, (double)v);
}

int mkt_do_genesis(mkt_engine *e, const struct mkt_key *op, const struct mkt_params *p,
                   sim_time_us now, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_GENESIS);
    cJSON_AddItemToObject(o, "params", mkt_params_json(p, 0));
    cJSON_AddStringToObject(o, "name", "operator");
    return submit_obj(e, op, o, now, NULL, err);
}

int mkt_do_participant_add(mkt_engine *e, const struct mkt_key *op, const uint8_t addr[20],
                           enum mkt_role role, const char *name, sim_time_us now,
                           struct sim_err *err)
{
    char a[MKT_ADDR_STRLEN];
    cJSON *o = action_obj(MKT_ACT_PARTICIPANT_ADD);
    cJSON_AddStringToObject(o, "address", mkt_address_format(addr, a));
    cJSON_AddStringToObject(o, "role", mkt_role_name(role));
    cJSON_AddStringToObject(o, "name", name ? name : "");
    return submit_obj(e, op, o, now, NULL, err);
}

int mkt_do_deposit(mkt_engine *e, const struct mkt_key *op, const uint8_t addr[20],
                   int64_t amount_ueur, sim_time_us now, struct sim_err *err)
{
    char a[MKT_ADDR_STRLEN];
    cJSON *o = action_obj(MKT_ACT_DEPOSIT);
    cJSON_AddStringToObject(o, "address", mkt_address_format(addr, a));
    add_int(o, "amount_ueur", amount_ueur);
    return submit_obj(e, op, o, now, NULL, err);
}

int mkt_do_asset_add(mkt_engine *e, const struct mkt_key *k, const struct mkt_asset *as,
                     sim_time_us now, int64_t *id, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_ASSET_ADD);
    cJSON_AddStringToObject(o, "type", mkt_asset_type_name(as->type));
    cJSON_AddStringToObject(o, "name", as->name);
    cJSON_AddStringToObject(o, "location", as->location);
    add_int(o, "p_min_w", as->p_min_w);
    add_int(o, "p_max_w", as->p_max_w);
    add_int(o, "soc_min_ppm", as->soc_min_ppm);
    add_int(o, "soc_max_ppm", as->soc_max_ppm);
    struct mkt_receipt rc;
    int r = submit_obj(e, k, o, now, &rc, err);
    if (!r && id)
        *id = rc.id;
    return r;
}

int mkt_do_offer_add(mkt_engine *e, const struct mkt_key *k, const struct mkt_offer *of,
                     sim_time_us now, int64_t *id, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_OFFER_ADD);
    add_int(o, "asset_id", of->asset_id);
    add_int(o, "start_us", of->start);
    add_int(o, "end_us", of->end);
    add_int(o, "valid_until_us", of->valid_until ? of->valid_until : of->start);
    add_int(o, "p_w", of->p_w);
    add_int(o, "price_ueur_per_kwh", of->price_ueur_per_kwh);
    if (of->availability_ueur_per_kw_h)
        add_int(o, "availability_ueur_per_kw_h", of->availability_ueur_per_kw_h);
    struct mkt_receipt rc;
    int r = submit_obj(e, k, o, now, &rc, err);
    if (!r && id)
        *id = rc.id;
    return r;
}

int mkt_do_request_add(mkt_engine *e, const struct mkt_key *k, const struct mkt_request *rq,
                       sim_time_us now, int64_t *id, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_REQUEST_ADD);
    cJSON_AddStringToObject(o, "location", rq->location);
    add_int(o, "start_us", rq->start);
    add_int(o, "end_us", rq->end);
    add_int(o, "p_w", rq->p_w);
    add_int(o, "max_price_ueur_per_kwh", rq->max_price_ueur_per_kwh);
    if (rq->max_availability_ueur_per_kw_h)
        add_int(o, "max_availability_ueur_per_kw_h", rq->max_availability_ueur_per_kw_h);
    struct mkt_receipt rc;
    int r = submit_obj(e, k, o, now, &rc, err);
    if (!r && id)
        *id = rc.id;
    return r;
}

int mkt_do_match(mkt_engine *e, const struct mkt_key *k, int64_t request_id, sim_time_us now,
                 struct mkt_receipt *rc, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_MATCH);
    if (request_id > 0)
        add_int(o, "request_id", request_id);
    return submit_obj(e, k, o, now, rc, err);
}

int mkt_do_purchase(mkt_engine *e, const struct mkt_key *k, int64_t request_id, sim_time_us now,
                    struct mkt_receipt *rc, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_PURCHASE);
    add_int(o, "request_id", request_id);
    return submit_obj(e, k, o, now, rc, err);
}

int mkt_do_delivery(mkt_engine *e, const struct mkt_key *k, int64_t match_id, int64_t e_wh,
                    sim_time_us now, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_DELIVERY);
    add_int(o, "match_id", match_id);
    if (e_wh >= 0)
        add_int(o, "e_wh", e_wh);
    return submit_obj(e, k, o, now, NULL, err);
}

int mkt_do_meter(mkt_engine *e, const struct mkt_key *k, int64_t asset_id, sim_time_us start,
                 sim_time_us end, int64_t e_wh, sim_time_us now, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_METER);
    add_int(o, "asset_id", asset_id);
    add_int(o, "start_us", start);
    add_int(o, "end_us", end);
    add_int(o, "e_wh", e_wh);
    return submit_obj(e, k, o, now, NULL, err);
}

int mkt_do_prognosis(mkt_engine *e, const struct mkt_key *k, int64_t asset_id, sim_time_us start,
                     sim_time_us end, int64_t p_w, sim_time_us now, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_PROGNOSIS);
    add_int(o, "asset_id", asset_id);
    add_int(o, "start_us", start);
    add_int(o, "end_us", end);
    add_int(o, "p_w", p_w);
    return submit_obj(e, k, o, now, NULL, err);
}

int mkt_do_settle(mkt_engine *e, const struct mkt_key *k, int64_t request_id, sim_time_us now,
                  struct mkt_receipt *rc, struct sim_err *err)
{
    cJSON *o = action_obj(MKT_ACT_SETTLE);
    add_int(o, "request_id", request_id);
    return submit_obj(e, k, o, now, rc, err);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void col_addr(sqlite3_stmt *st, int col, uint8_t addr[20])
{
    struct sim_err e2;
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (!s || mkt_address_parse(s, addr, &e2))
        memset(addr, 0, 20);
}

static void col_text(sqlite3_stmt *st, int col, char *out, size_t n)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    snprintf(out, n, "%s", s ? s : "");
}

#define OFFER_COLS                                                                                 \
    "SELECT id, asset_id, fsp, start_us, end_us, valid_until_us, p_w, price_ueur_per_kwh,"         \
    " remaining_w, seq, state, location, availability_ueur_per_kw_h FROM mkt_offers "
#define REQUEST_COLS                                                                               \
    "SELECT id, dso, location, start_us, end_us, p_w, max_price_ueur_per_kwh, unmet_w, seq,"       \
    " state, max_availability_ueur_per_kw_h FROM mkt_requests "
#define ASSET_COLS                                                                                 \
    "SELECT id, owner, type, name, location, p_min_w, p_max_w, soc_min_ppm, soc_max_ppm,"          \
    " removed FROM mkt_assets "

static void offer_row(sqlite3_stmt *st, void *out)
{
    struct mkt_offer *o = out;
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    o->asset_id = sqlite3_column_int64(st, 1);
    col_addr(st, 2, o->fsp);
    o->start = sqlite3_column_int64(st, 3);
    o->end = sqlite3_column_int64(st, 4);
    o->valid_until = sqlite3_column_int64(st, 5);
    o->p_w = sqlite3_column_int64(st, 6);
    o->price_ueur_per_kwh = sqlite3_column_int64(st, 7);
    o->remaining_w = sqlite3_column_int64(st, 8);
    o->seq = sqlite3_column_int64(st, 9);
    o->state = (enum mkt_state)sqlite3_column_int(st, 10);
    col_text(st, 11, o->location, sizeof o->location);
    o->availability_ueur_per_kw_h = sqlite3_column_int64(st, 12);
}

static void request_row(sqlite3_stmt *st, void *out)
{
    struct mkt_request *r = out;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    col_addr(st, 1, r->dso);
    col_text(st, 2, r->location, sizeof r->location);
    r->start = sqlite3_column_int64(st, 3);
    r->end = sqlite3_column_int64(st, 4);
    r->p_w = sqlite3_column_int64(st, 5);
    r->max_price_ueur_per_kwh = sqlite3_column_int64(st, 6);
    r->unmet_w = sqlite3_column_int64(st, 7);
    r->seq = sqlite3_column_int64(st, 8);
    r->state = (enum mkt_state)sqlite3_column_int(st, 9);
    r->max_availability_ueur_per_kw_h = sqlite3_column_int64(st, 10);
}

static void asset_row(sqlite3_stmt *st, void *out)
{
    struct mkt_asset *a = out;
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    col_addr(st, 1, a->owner);
    a->type = (enum mkt_asset_type)sqlite3_column_int(st, 2);
    col_text(st, 3, a->name, sizeof a->name);
    col_text(st, 4, a->location, sizeof a->location);
    a->p_min_w = sqlite3_column_int64(st, 5);
    a->p_max_w = sqlite3_column_int64(st, 6);
    a->soc_min_ppm = sqlite3_column_int64(st, 7);
    a->soc_max_ppm = sqlite3_column_int64(st, 8);
    a->removed = sqlite3_column_int(st, 9);
}

/* One row by id through a row decoder. */
static int get_one(mkt_engine *e, const char *cols, const char *what, int64_t id,
                   void (*row)(sqlite3_stmt *, void *), void *out, struct sim_err *err)
{
    char sql[512];
    snprintf(sql, sizeof sql, "%sWHERE id=?", cols);
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err, sql, "i", id);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        row(st, out);
    else
        rc = sim_errf(err, SIM_ENOENT, "no %s %lld", what, (long long)id);
    mkt__finish(st);
    return rc;
}

int mkt_offer_get(mkt_engine *e, int64_t id, struct mkt_offer *o, struct sim_err *err)
{
    return get_one(e, OFFER_COLS, "offer", id, offer_row, o, err);
}

int mkt_request_get(mkt_engine *e, int64_t id, struct mkt_request *r, struct sim_err *err)
{
    return get_one(e, REQUEST_COLS, "request", id, request_row, r, err);
}

int mkt_asset_get(mkt_engine *e, int64_t id, struct mkt_asset *a, struct sim_err *err)
{
    return get_one(e, ASSET_COLS, "asset", id, asset_row, a, err);
}

/* Listing (Table II's "list"): reads change no state, but the role rule
 * applies and a refused listing is logged like a refused action. The
 * operator (the platform) sees everything; others see their own. */
static int list_rows(mkt_engine *e, const uint8_t viewer[20], enum mkt_action as, const char *what,
                     const char *cols, const char *owner_col, int64_t after_id,
                     void (*row)(sqlite3_stmt *, void *), void *out, size_t size, size_t max,
                     size_t *n, sim_time_us now, struct sim_err *err)
{
    *n = 0;
    char me[MKT_ADDR_STRLEN], action[32];
    mkt_address_format(viewer, me);
    snprintf(action, sizeof action, "list_%s", what);
    int64_t role = -1;
    struct sim_err e2;
    if (mkt__sql_int(e->db, &role, &e2, "SELECT role FROM mkt_participants WHERE address=?", "s",
                     me))
        return refuse(e, now, viewer, action, NULL,
                      sim_errf(err, SIM_ESTATE, "%s: %s is not a participant", action, me), err);
    if (role != MKT_ROLE_OPERATOR && !mkt_role_may((enum mkt_role)role, as))
        return refuse(e, now, viewer, action, NULL,
                      sim_errf(err, SIM_ESTATE, "%s: not allowed for the %s role", action,
                               mkt_role_name((enum mkt_role)role)),
                      err);
    char sql[512];
    snprintf(sql, sizeof sql, "%sWHERE id>? AND (? OR %s=?) ORDER BY id LIMIT ?", cols, owner_col);
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err, sql, "iisi", after_id, (int64_t)(role == MKT_ROLE_OPERATOR),
                       me, (int64_t)max);
    if (rc)
        return rc;
    size_t k = 0;
    while (k < max && sqlite3_step(st) == SQLITE_ROW)
        row(st, (char *)out + size * k++);
    mkt__finish(st);
    *n = k;
    return 0;
}

int mkt_asset_list(mkt_engine *e, const uint8_t viewer[20], int64_t after_id, struct mkt_asset *out,
                   size_t max, size_t *n, sim_time_us now, struct sim_err *err)
{
    return list_rows(e, viewer, MKT_ACT_ASSET_ADD, "assets", ASSET_COLS, "owner", after_id,
                     asset_row, out, sizeof *out, max, n, now, err);
}

int mkt_offer_list(mkt_engine *e, const uint8_t viewer[20], int64_t after_id, struct mkt_offer *out,
                   size_t max, size_t *n, sim_time_us now, struct sim_err *err)
{
    return list_rows(e, viewer, MKT_ACT_OFFER_ADD, "offers", OFFER_COLS, "fsp", after_id, offer_row,
                     out, sizeof *out, max, n, now, err);
}

int mkt_request_list(mkt_engine *e, const uint8_t viewer[20], int64_t after_id,
                     struct mkt_request *out, size_t max, size_t *n, sim_time_us now,
                     struct sim_err *err)
{
    return list_rows(e, viewer, MKT_ACT_REQUEST_ADD, "requests", REQUEST_COLS, "dso", after_id,
                     request_row, out, sizeof *out, max, n, now, err);
}

#define MATCH_COLS                                                                                 \
    "SELECT id, request_id, offer_id, asset_id, fsp, dso, start_us, end_us, p_w,"                  \
    " price_ueur_per_kwh, amount_ueur, state, delivered_wh, rate_ppm, payout_ueur,"                \
    " settle_fee_ueur, refund_ueur, merit, availability_ueur_per_kw_h, availability_ueur,"         \
    " availability_paid_ueur FROM mkt_matches "

static void match_row(sqlite3_stmt *st, struct mkt_match *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    m->request_id = sqlite3_column_int64(st, 1);
    m->offer_id = sqlite3_column_int64(st, 2);
    m->asset_id = sqlite3_column_int64(st, 3);
    col_addr(st, 4, m->fsp);
    col_addr(st, 5, m->dso);
    m->start = sqlite3_column_int64(st, 6);
    m->end = sqlite3_column_int64(st, 7);
    m->p_w = sqlite3_column_int64(st, 8);
    m->price_ueur_per_kwh = sqlite3_column_int64(st, 9);
    m->amount_ueur = sqlite3_column_int64(st, 10);
    m->state = (enum mkt_state)sqlite3_column_int(st, 11);
    m->delivered_wh = sqlite3_column_int64(st, 12);
    m->rate_ppm = sqlite3_column_int64(st, 13);
    m->payout_ueur = sqlite3_column_int64(st, 14);
    m->settle_fee_ueur = sqlite3_column_int64(st, 15);
    m->refund_ueur = sqlite3_column_int64(st, 16);
    m->merit = (int)sqlite3_column_int(st, 17);
    m->availability_ueur_per_kw_h = sqlite3_column_int64(st, 18);
    m->availability_ueur = sqlite3_column_int64(st, 19);
    m->availability_paid_ueur = sqlite3_column_int64(st, 20);
}

int mkt_match_get(mkt_engine *e, int64_t id, struct mkt_match *m, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err, MATCH_COLS "WHERE id=?", "i", id);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        match_row(st, m);
    else
        rc = sim_errf(err, SIM_ENOENT, "no match %lld", (long long)id);
    mkt__finish(st);
    return rc;
}

int mkt_matches_of_request(mkt_engine *e, int64_t request_id, struct mkt_match *out, size_t max,
                           size_t *n, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err, MATCH_COLS "WHERE request_id=? ORDER BY merit, id", "i",
                       request_id);
    if (rc)
        return rc;
    size_t k = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (k < max)
            match_row(st, &out[k]);
        k++;
    }
    if (r != SQLITE_DONE)
        rc = sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(e->db));
    mkt__finish(st);
    *n = k;
    return rc;
}

int mkt_dispatch_list(mkt_engine *e, int64_t after_id, struct mkt_dispatch *out, size_t max,
                      size_t *n, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err,
                       "SELECT id, match_id, asset_id, start_us, end_us, p_w FROM mkt_dispatch"
                       " WHERE id>? ORDER BY id LIMIT ?",
                       "ii", after_id, (int64_t)max);
    if (rc)
        return rc;
    size_t k = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct mkt_dispatch *d = &out[k++];
        d->id = sqlite3_column_int64(st, 0);
        d->match_id = sqlite3_column_int64(st, 1);
        d->asset_id = sqlite3_column_int64(st, 2);
        d->start = sqlite3_column_int64(st, 3);
        d->end = sqlite3_column_int64(st, 4);
        d->p_w = sqlite3_column_int64(st, 5);
    }
    mkt__finish(st);
    *n = k;
    return 0;
}

int mkt_balance(mkt_engine *e, const uint8_t addr[20], int64_t *ueur, struct sim_err *err)
{
    return mkt__wallet_get(e, addr, ueur, err);
}

int mkt_money_totals(mkt_engine *e, int64_t *wallets_ueur, int64_t *escrow_ueur,
                     int64_t *deposited_ueur, struct sim_err *err)
{
    int rc;
    if ((rc = mkt__sql_int(e->db, wallets_ueur, err,
                           "SELECT coalesce(sum(balance_ueur), 0) FROM mkt_participants", "")) ||
        (rc = mkt__sql_int(e->db, escrow_ueur, err,
                           "SELECT coalesce(sum(escrow_ueur), 0) FROM mkt_purchases", "")) ||
        (rc =
             mkt__sql_int(e->db, deposited_ueur, err, "SELECT deposited_ueur FROM mkt_totals", "")))
        return rc;
    return 0;
}

int64_t mkt_refusal_count(mkt_engine *e)
{
    int64_t n = 0;
    struct sim_err e2;
    mkt__sql_int(e->db, &n, &e2, "SELECT count(*) FROM mkt_refusals", "");
    return n + e->refusals_unrecorded;
}
