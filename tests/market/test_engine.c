/*
 * test_engine.c: the market engine's actions and role rules (DEMO.md
 * Table II), refusals and their log, transaction fees, the whole
 * request -> match -> purchase -> dispatch -> delivery -> settlement flow,
 * both payout rules, and money conservation at every step.
 */
#include <ctype.h>

#include "fixture.h"

static int64_t refusals_with(struct fx *f, const char *needle)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    sqlite3_prepare_v2(f->db, "SELECT count(*) FROM mkt_refusals WHERE instr(reason, ?) > 0", -1,
                       &st, NULL);
    sqlite3_bind_text(st, 1, needle, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int64_t count_tx(struct fx *f)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    sqlite3_prepare_v2(f->db, "SELECT count(*) FROM mkt_tx", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_table2(void)
{
    /* Table II: FSP assets+offers; DSO assets+requests+matching+payment+settlement. */
    static const struct {
        enum mkt_action a;
        int fsp, dso, op;
    } t[] = {
        {MKT_ACT_ASSET_ADD, 1, 1, 0},        {MKT_ACT_ASSET_EDIT, 1, 1, 0},
        {MKT_ACT_ASSET_REMOVE, 1, 1, 0},     {MKT_ACT_OFFER_ADD, 1, 0, 0},
        {MKT_ACT_OFFER_EDIT, 1, 0, 0},       {MKT_ACT_OFFER_WITHDRAW, 1, 0, 0},
        {MKT_ACT_REQUEST_ADD, 0, 1, 0},      {MKT_ACT_REQUEST_EDIT, 0, 1, 0},
        {MKT_ACT_REQUEST_WITHDRAW, 0, 1, 0}, {MKT_ACT_MATCH, 0, 1, 0},
        {MKT_ACT_PURCHASE, 0, 1, 0},         {MKT_ACT_SETTLE, 0, 1, 0},
        {MKT_ACT_DELIVERY, 0, 1, 1},         {MKT_ACT_GENESIS, 0, 0, 1},
        {MKT_ACT_PARTICIPANT_ADD, 0, 0, 1},  {MKT_ACT_DEPOSIT, 0, 0, 1},
        /* measurement: readings from the metering side, prognoses from FSPs */
        {MKT_ACT_METER, 0, 1, 1},            {MKT_ACT_PROGNOSIS, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECK(mkt_role_may(MKT_ROLE_FSP, t[i].a) == t[i].fsp, "FSP %s", mkt_action_name(t[i].a));
        CHECK(mkt_role_may(MKT_ROLE_DSO, t[i].a) == t[i].dso, "DSO %s", mkt_action_name(t[i].a));
        CHECK(mkt_role_may(MKT_ROLE_OPERATOR, t[i].a) == t[i].op, "operator %s",
              mkt_action_name(t[i].a));
    }
}

static void test_refusals(void)
{
    struct fx f;
    fx_open(&f, NULL, 10 * FX_EUR, 0);
    struct sim_err err;
    int64_t t = f.t0, win0 = f.t0 + 60 * FX_MIN, win1 = win0 + 45 * FX_MIN, id;
    int64_t bat = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "Eskisehir", 10000);
    int64_t n0 = mkt_refusal_count(f.e), tx0 = count_tx(&f);

    /* FSP posts a request: Table II says no. */
    char json[512];
    snprintf(json, sizeof json,
             "{\"action\":\"request_add\",\"location\":\"Eskisehir\",\"start_us\":%lld,"
             "\"end_us\":%lld,\"p_w\":-20000,\"max_price_ueur_per_kwh\":210000}",
             (long long)win0, (long long)win1);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "not allowed for the FSP role");
    /* DSO posts an offer: no. */
    snprintf(json, sizeof json,
             "{\"action\":\"offer_add\",\"asset_id\":%lld,\"start_us\":%lld,\"end_us\":%lld,"
             "\"p_w\":-10000,\"price_ueur_per_kwh\":100000}",
             (long long)bat, (long long)win0, (long long)win1);
    CHECK_INT(mkt_sign_submit(f.e, &f.dso, json, t, NULL, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "not allowed for the DSO role");
    /* FSP matches, buys, settles: no. */
    CHECK_INT(mkt_do_match(f.e, &f.fsp1, 0, t, NULL, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_purchase(f.e, &f.fsp1, 1, t, NULL, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_settle(f.e, &f.fsp2, 1, t, NULL, &err), SIM_ESTATE);
    /* DSO deposits money for itself: operator only. */
    CHECK_INT(mkt_do_deposit(f.e, &f.dso, f.a_dso, FX_EUR, t, &err), SIM_ESTATE);
    /* The DSO offers on the FSP's asset (role refused before ownership). */
    CHECK_INT(fx_offer(&f, &f.dso, bat, win0, win1, -10000, 100000, &id, &err), SIM_ESTATE);
    /* An FSP offers on another FSP's asset. */
    CHECK_INT(fx_offer(&f, &f.fsp2, bat, win0, win1, -10000, 100000, &id, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "belongs to another participant");
    /* Beyond the asset's power limits. */
    CHECK_INT(fx_offer(&f, &f.fsp1, bat, win0, win1, -11000, 100000, &id, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "outside the asset's limits");
    /* Unknown asset. */
    CHECK_INT(fx_offer(&f, &f.fsp1, 999, win0, win1, -10000, 100000, &id, &err), SIM_ENOENT);
    /* Window already over, empty window, zero volume. */
    CHECK_INT(fx_request(&f, "Eskisehir", t - 60 * FX_MIN, t - FX_MIN, -1000, 1, &id, &err),
              SIM_EINVAL);
    CHECK_INT(fx_request(&f, "Eskisehir", win0, win0, -1000, 1, &id, &err), SIM_EINVAL);
    CHECK_INT(fx_request(&f, "Eskisehir", win0, win1, 0, 1, &id, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "p_w");
    /* A stranger (not admitted) acts. */
    struct mkt_key stranger;
    mkt_key_derive(99, "stranger", &stranger, &err);
    CHECK_INT(fx_asset(&f, &f.fsp1, MKT_ASSET_EV, "ev", "Eskisehir", 10000) > 0, 1);
    struct mkt_asset a = {.type = MKT_ASSET_OTHER,
                          .p_min_w = -1,
                          .p_max_w = 1,
                          .soc_max_ppm = 1000000,
                          .name = "x",
                          .location = "y"};
    CHECK_INT(mkt_do_asset_add(f.e, &stranger, &a, t, &id, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "not a participant");

    /* Raw submissions: signature by someone else, non-canonical, replay. */
    char canon[512];
    uint8_t sig[MKT_SIG_LEN];
    char fa[MKT_ADDR_STRLEN];
    mkt_address_format(f.a_fsp1, fa);
    snprintf(canon, sizeof canon,
             "{\"action\":\"asset_add\",\"from\":\"%s\",\"location\":\"L\",\"name\":\"n\","
             "\"nonce\":%d,\"p_max_w\":1,\"p_min_w\":-1,\"soc_max_ppm\":1,\"soc_min_ppm\":0,"
             "\"type\":\"other\"}",
             fa, 2); /* fsp1 has made two accepted actions (nonces 0, 1) */
    mkt_sign_message(&f.fsp2, canon, strlen(canon), sig, &err);
    CHECK_INT(mkt_submit(f.e, canon, sig, t, NULL, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "signed by");
    mkt_sign_message(&f.fsp1, canon, strlen(canon), sig, &err);
    CHECK_INT(mkt_submit(f.e, canon, sig, t, NULL, &err), 0);
    CHECK_INT(mkt_submit(f.e, canon, sig, t, NULL, &err), SIM_EINVAL); /* replay */
    CHECK_STR_CONTAINS(err.msg, "nonce");
    char spaced[600];
    snprintf(spaced, sizeof spaced, "%s ", canon);
    CHECK_INT(mkt_submit(f.e, spaced, sig, t, NULL, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "canonical");
    CHECK_INT(mkt_submit(f.e, "not json", sig, t, NULL, &err), SIM_EINVAL);

    int64_t n1 = mkt_refusal_count(f.e);
    CHECK_INT(n1 - n0, 18);
    CHECK(refusals_with(&f, "not allowed for the FSP role") >= 4, "FSP refusals logged");
    CHECK(refusals_with(&f, "not allowed for the DSO role") >= 2, "DSO refusals logged");
    /* Refusals are logged with the recovered signer and the action name. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(f.db,
                       "SELECT sender, action FROM mkt_refusals WHERE reason LIKE '%FSP role%'"
                       " ORDER BY id LIMIT 1",
                       -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW, "refusal row");
    CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), fa), "refusal names the signer");
    CHECK(!strcmp((const char *)sqlite3_column_text(st, 1), "request_add"), "refusal action");
    sqlite3_finalize(st);
    /* Only the two accepted actions (ev asset, raw asset) reached the ledger. */
    CHECK_INT(count_tx(&f) - tx0, 2);
    fx_check_conserved(&f, "refusals");
    fx_close(&f);
}

static void test_edit_withdraw(void)
{
    struct fx f;
    fx_open(&f, NULL, 10 * FX_EUR, 0);
    struct sim_err err;
    int64_t t = f.t0, w0 = f.t0 + 60 * FX_MIN, w1 = w0 + 45 * FX_MIN, oid, rid;
    int64_t bat = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "Eskisehir", 10000);
    CHECK_INT(fx_offer(&f, &f.fsp1, bat, w0, w1, -10000, 100000, &oid, &err), 0);
    char json[512];
    snprintf(json, sizeof json,
             "{\"action\":\"offer_edit\",\"id\":%lld,\"asset_id\":%lld,\"start_us\":%lld,"
             "\"end_us\":%lld,\"p_w\":-8000,\"price_ueur_per_kwh\":90000}",
             (long long)oid, (long long)bat, (long long)w0, (long long)w1);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp2, json, t, NULL, &err), SIM_ESTATE); /* not owner */
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), 0);
    struct mkt_offer o;
    CHECK_INT(mkt_offer_get(f.e, oid, &o, &err), 0);
    CHECK_INT(o.p_w, -8000);
    CHECK_INT(o.remaining_w, -8000);
    CHECK_INT(o.price_ueur_per_kwh, 90000);
    /* Asset with an open offer cannot be removed; edit works. */
    snprintf(json, sizeof json, "{\"action\":\"asset_remove\",\"id\":%lld}", (long long)bat);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "open offer");
    /* Request, edit, match (takes the offer), withdraw (releases it). */
    CHECK_INT(fx_request(&f, "Eskisehir", w0, w1, -20000, 210000, &rid, &err), 0);
    snprintf(
        json, sizeof json,
        "{\"action\":\"request_edit\",\"id\":%lld,\"location\":\"Eskisehir\",\"start_us\":%lld,"
        "\"end_us\":%lld,\"p_w\":-5000,\"max_price_ueur_per_kwh\":210000}",
        (long long)rid, (long long)w0, (long long)w1);
    CHECK_INT(mkt_sign_submit(f.e, &f.dso, json, t, NULL, &err), 0);
    struct mkt_receipt rc;
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, t, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 1);
    CHECK_INT(mkt_offer_get(f.e, oid, &o, &err), 0);
    CHECK_INT(o.remaining_w, -3000);
    /* A partly matched offer cannot be edited; a matched request neither. */
    snprintf(json, sizeof json,
             "{\"action\":\"offer_edit\",\"id\":%lld,\"asset_id\":%lld,\"start_us\":%lld,"
             "\"end_us\":%lld,\"p_w\":-8000,\"price_ueur_per_kwh\":1}",
             (long long)oid, (long long)bat, (long long)w0, (long long)w1);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), SIM_ESTATE);
    snprintf(json, sizeof json, "{\"action\":\"request_withdraw\",\"id\":%lld}", (long long)rid);
    CHECK_INT(mkt_sign_submit(f.e, &f.dso, json, t, NULL, &err), 0);
    CHECK_INT(mkt_offer_get(f.e, oid, &o, &err), 0);
    CHECK_INT(o.remaining_w, -8000);
    CHECK_INT(o.state, MKT_OPEN);
    struct mkt_request r;
    CHECK_INT(mkt_request_get(f.e, rid, &r, &err), 0);
    CHECK_INT(r.state, MKT_WITHDRAWN);
    size_t n;
    CHECK_INT(mkt_matches_of_request(f.e, rid, NULL, 0, &n, &err), 0);
    CHECK_INT(n, 0);
    /* Offer withdraw; then asset remove succeeds; offers on it refused. */
    snprintf(json, sizeof json, "{\"action\":\"offer_withdraw\",\"id\":%lld}", (long long)oid);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), 0);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), SIM_ESTATE);
    snprintf(json, sizeof json, "{\"action\":\"asset_remove\",\"id\":%lld}", (long long)bat);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, t, NULL, &err), 0);
    CHECK_INT(fx_offer(&f, &f.fsp1, bat, w0, w1, -10000, 100000, &oid, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "removed");
    fx_close(&f);
}

/* Fees per action to the operator; an action its sender cannot pay for is refused whole. */
static void test_fees(void)
{
    struct mkt_params p;
    mkt_params_default(&p);
    p.tx_fee_ueur = 2500;
    p.fee_actions = (1u << MKT_ACT_OFFER_ADD) | (1u << MKT_ACT_REQUEST_ADD) |
                    (1u << MKT_ACT_ASSET_ADD) | (1u << MKT_ACT_MATCH);
    struct fx f;
    fx_open(&f, &p, 0, 0);
    struct sim_err err;
    int64_t t = f.t0, w0 = f.t0 + 60 * FX_MIN, w1 = w0 + 45 * FX_MIN, id;
    CHECK_INT(mkt_engine_params(f.e)->tx_fee_ueur, 2500);
    /* Unfunded FSP: the asset cannot be added, nothing changes. */
    struct mkt_asset a = {.type = MKT_ASSET_BATTERY,
                          .p_min_w = -10000,
                          .p_max_w = 10000,
                          .soc_max_ppm = 1000000,
                          .name = "b",
                          .location = "Eskisehir"};
    CHECK_INT(mkt_do_asset_add(f.e, &f.fsp1, &a, t, &id, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "fee");
    struct mkt_asset got;
    CHECK_INT(mkt_asset_get(f.e, 1, &got, &err), SIM_ENOENT);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_fsp1, 6000, t, &err), 0);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_dso, 100000, t, &err), 0);
    CHECK_INT(mkt_do_asset_add(f.e, &f.fsp1, &a, t, &id, &err), 0);
    CHECK_INT(fx_offer(&f, &f.fsp1, id, w0, w1, -10000, 100000, &id, &err), 0);
    CHECK_INT(fx_balance(&f, f.a_fsp1), 1000);
    CHECK_INT(fx_offer(&f, &f.fsp1, 1, w0, w1, -10000, 100000, &id, &err), SIM_ESTATE);
    CHECK_INT(fx_request(&f, "Eskisehir", w0, w1, -20000, 210000, &id, &err), 0);
    struct mkt_receipt rc;
    CHECK_INT(mkt_do_match(f.e, &f.dso, id, t, &rc, &err), 0);
    CHECK_INT(rc.fee_ueur, 2500);
    CHECK_INT(fx_balance(&f, f.a_dso), 100000 - 5000);
    CHECK_INT(fx_balance(&f, f.a_op), 4 * 2500);
    fx_check_conserved(&f, "fees");
    fx_close(&f);
}

/* The whole flow with two FSPs; sums checked at every step. */
static void test_flow(enum mkt_payout_rule rule)
{
    struct mkt_params p;
    mkt_params_default(&p);
    p.payout_rule = rule;
    p.settle_fee_ppm = 10000; /* 1 % */
    p.payout_fee_ueur = 1000;
    p.penalty_threshold_ppm = 950000;
    p.penalty_ppm = 200000;
    struct fx f;
    fx_open(&f, &p, 5 * FX_EUR, 1);
    struct sim_err err;
    int64_t t = f.t0, w0 = f.t0 + 60 * FX_MIN, w1 = w0 + 60 * FX_MIN, o1, o2, rid;
    int64_t bat = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "Eskisehir", 10000);
    int64_t v2g = fx_asset(&f, &f.fsp2, MKT_ASSET_EV, "v2g", "Eskisehir", 10000);
    CHECK_INT(fx_offer(&f, &f.fsp1, bat, w0, w1, -10000, 100000, &o1, &err), 0);
    CHECK_INT(fx_offer(&f, &f.fsp2, v2g, w0, w1, -10000, 150000, &o2, &err), 0);
    CHECK_INT(fx_request(&f, "Eskisehir", w0, w1, -20000, 210000, &rid, &err), 0);
    /* Purchase before matching, settle before purchase: refused. */
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, t, NULL, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, t, NULL, &err), SIM_ESTATE);
    struct mkt_receipt rc;
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, t, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 2);
    CHECK_INT(rc.matched_w, 20000);
    CHECK_INT(rc.unmet_w, 0);
    struct mkt_match m[2];
    size_t n;
    CHECK_INT(mkt_matches_of_request(f.e, rid, m, 2, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_INT(m[0].offer_id, o1);         /* cheaper first */
    CHECK_INT(m[0].amount_ueur, 1000000); /* 10 kWh x 0.10 */
    CHECK_INT(m[1].amount_ueur, 1500000);
    int64_t dso0 = fx_balance(&f, f.a_dso);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, t, &rc, &err), 0);
    CHECK_INT(rc.amount_ueur, 2500000);
    CHECK_INT(fx_balance(&f, f.a_dso), dso0 - 2500000);
    int64_t w, esc, dep;
    mkt_money_totals(f.e, &w, &esc, &dep, &err);
    CHECK_INT(esc, 2500000);
    fx_check_conserved(&f, "after purchase");
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, t, NULL, &err), SIM_ESTATE); /* twice */
    /* Dispatch instructions, one per match, for the asset and window. */
    struct mkt_dispatch d[4];
    CHECK_INT(mkt_dispatch_list(f.e, 0, d, 4, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_INT(d[0].asset_id, bat);
    CHECK_INT(d[0].p_w, -10000);
    CHECK_INT(d[0].start, w0);
    CHECK_INT(d[1].asset_id, v2g);
    CHECK_INT(mkt_dispatch_list(f.e, d[0].id, d, 4, &n, &err), 0);
    CHECK_INT(n, 1);
    /* Delivery: not before the window ends, not by an FSP, only once. */
    CHECK_INT(mkt_do_delivery(f.e, &f.dso, m[0].id, 9800, w1 - 1, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_delivery(f.e, &f.fsp1, m[0].id, 9800, w1, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_delivery(f.e, &f.dso, m[0].id, 9800, w1, &err), 0);
    CHECK_INT(mkt_do_delivery(f.e, &f.dso, m[0].id, 9800, w1, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, w1, NULL, &err), SIM_ESTATE); /* one missing */
    CHECK_STR_CONTAINS(err.msg, "no delivery");
    CHECK_INT(mkt_do_delivery(f.e, &f.op, m[1].id, 8000, w1, &err), 0); /* the metering side */
    int64_t f1 = fx_balance(&f, f.a_fsp1), f2 = fx_balance(&f, f.a_fsp2);
    int64_t op0 = fx_balance(&f, f.a_op), dso1 = fx_balance(&f, f.a_dso);
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, w1 + FX_MIN, &rc, &err), 0);
    CHECK_INT(mkt_matches_of_request(f.e, rid, m, 2, &n, &err), 0);
    CHECK_INT(m[0].rate_ppm, 980000);
    CHECK_INT(m[1].rate_ppm, 800000);
    int64_t g1, g2;
    if (rule == MKT_PAY_AS_DELIVERED) {
        g1 = 980000;  /* 9.8 kWh x 0.10 */
        g2 = 1200000; /* 8.0 kWh x 0.15 */
    } else {
        g1 = 980000;           /* 98 % of 1.00, above the threshold */
        g2 = 1200000 - 240000; /* 80 % of 1.50 less a 20 % penalty */
    }
    int64_t fee1 = g1 / 100 + 1000, fee2 = g2 / 100 + 1000;
    CHECK_INT(m[0].payout_ueur, g1);
    CHECK_INT(m[1].payout_ueur, g2);
    CHECK_INT(m[0].settle_fee_ueur, fee1);
    CHECK_INT(m[1].refund_ueur, 1500000 - g2);
    CHECK_INT(fx_balance(&f, f.a_fsp1) - f1, g1 - fee1);
    CHECK_INT(fx_balance(&f, f.a_fsp2) - f2, g2 - fee2);
    CHECK_INT(fx_balance(&f, f.a_op) - op0, fee1 + fee2);
    CHECK_INT(fx_balance(&f, f.a_dso) - dso1, 2500000 - g1 - g2);
    CHECK_INT(rc.amount_ueur, g1 - fee1 + g2 - fee2);
    mkt_money_totals(f.e, &w, &esc, &dep, &err);
    CHECK_INT(esc, 0);
    CHECK_INT(dep, 15 * FX_EUR);
    fx_check_conserved(&f, "after settlement");
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, w1 + FX_MIN, NULL, &err), SIM_ESTATE); /* twice */
    struct mkt_request r;
    CHECK_INT(mkt_request_get(f.e, rid, &r, &err), 0);
    CHECK_INT(r.state, MKT_SETTLED);

    /* Reopen: the rules come back from the genesis transaction and the
     * market carries on. */
    mkt_engine_free(f.e);
    CHECK_INT(mkt_engine_new(f.db, &f.e, &err), 0);
    CHECK_INT(mkt_engine_params(f.e)->payout_rule, rule);
    CHECK_INT(mkt_engine_params(f.e)->payout_fee_ueur, 1000);
    CHECK_INT(mkt_engine_params(f.e)->settle_fee_ppm, 10000);
    /* Withdraw: money leaves the market; deposited follows. */
    char json[128];
    snprintf(json, sizeof json, "{\"action\":\"withdraw\",\"amount_ueur\":%lld}",
             (long long)FX_EUR);
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, w1 + 2 * FX_MIN, NULL, &err), 0);
    mkt_money_totals(f.e, &w, &esc, &dep, &err);
    CHECK_INT(dep, 14 * FX_EUR);
    fx_check_conserved(&f, "after withdraw");
    snprintf(json, sizeof json, "{\"action\":\"withdraw\",\"amount_ueur\":%lld}",
             (long long)(100 * FX_EUR));
    CHECK_INT(mkt_sign_submit(f.e, &f.fsp1, json, w1 + 2 * FX_MIN, NULL, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "insufficient funds");
    fx_close(&f);
}

/* A DSO that cannot pay cannot buy; the matches stay proposals. */
static void test_purchase_funds(void)
{
    struct fx f;
    fx_open(&f, NULL, 0, 0);
    struct sim_err err;
    int64_t t = f.t0, w0 = f.t0 + 60 * FX_MIN, w1 = w0 + 60 * FX_MIN, oid, rid;
    int64_t bat = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "Eskisehir", 10000);
    CHECK_INT(fx_offer(&f, &f.fsp1, bat, w0, w1, -10000, 100000, &oid, &err), 0);
    CHECK_INT(fx_request(&f, "Eskisehir", w0, w1, -10000, 210000, &rid, &err), 0);
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, t, NULL, &err), 0);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, t, NULL, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "insufficient funds");
    struct mkt_request r;
    mkt_request_get(f.e, rid, &r, &err);
    CHECK_INT(r.state, MKT_MATCHED);
    size_t n;
    struct mkt_dispatch d[1];
    mkt_dispatch_list(f.e, 0, d, 1, &n, &err);
    CHECK_INT(n, 0);
    CHECK_INT(mkt_do_deposit(f.e, &f.op, f.a_dso, FX_EUR, t, &err), 0);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, w1, NULL, &err), SIM_ESTATE); /* too late */
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, t, NULL, &err), 0);
    fx_check_conserved(&f, "purchase");
    fx_close(&f);
}

/* Table II's list column: own objects only; the wrong role is refused and logged. */
static void test_lists(void)
{
    struct fx f;
    fx_open(&f, NULL, FX_EUR, 0);
    struct sim_err err;
    int64_t w0 = f.t0 + 60 * FX_MIN, w1 = w0 + 45 * FX_MIN, id;
    int64_t b1 = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "b1", "Eskisehir", 10000);
    int64_t b2 = fx_asset(&f, &f.fsp2, MKT_ASSET_EV, "b2", "Eskisehir", 10000);
    int64_t d1 = fx_asset(&f, &f.dso, MKT_ASSET_OTHER, "transformer", "Eskisehir", 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(fx_offer(&f, &f.fsp1, b1, w0, w1, -1000 * (i + 1), 100000, &id, &err), 0);
    CHECK_INT(fx_offer(&f, &f.fsp2, b2, w0, w1, -1000, 100000, &id, &err), 0);
    CHECK_INT(fx_request(&f, "Eskisehir", w0, w1, -2000, 100000, &id, &err), 0);
    struct mkt_offer o[8];
    struct mkt_asset a[8];
    struct mkt_request r[8];
    size_t n;
    CHECK_INT(mkt_offer_list(f.e, f.a_fsp1, 0, o, 8, &n, f.t0, &err), 0);
    CHECK_INT(n, 3);
    CHECK_INT(o[2].p_w, -3000);
    CHECK_INT(mkt_offer_list(f.e, f.a_fsp1, o[0].id, o, 1, &n, f.t0, &err), 0); /* paging */
    CHECK_INT(n, 1);
    CHECK_INT(o[0].p_w, -2000);
    CHECK_INT(mkt_offer_list(f.e, f.a_op, 0, o, 8, &n, f.t0, &err), 0);
    CHECK_INT(n, 4);
    CHECK_INT(mkt_asset_list(f.e, f.a_dso, 0, a, 8, &n, f.t0, &err), 0);
    CHECK_INT(n, 1);
    CHECK_INT(a[0].id, d1);
    CHECK_INT(mkt_asset_list(f.e, f.a_fsp2, 0, a, 8, &n, f.t0, &err), 0);
    CHECK_INT(n, 1);
    CHECK_INT(a[0].id, b2);
    CHECK_INT(mkt_request_list(f.e, f.a_dso, 0, r, 8, &n, f.t0, &err), 0);
    CHECK_INT(n, 1);
    CHECK_INT(r[0].p_w, -2000);
    int64_t n0 = mkt_refusal_count(f.e);
    CHECK_INT(mkt_offer_list(f.e, f.a_dso, 0, o, 8, &n, f.t0, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "not allowed for the DSO role");
    CHECK_INT(mkt_request_list(f.e, f.a_fsp1, 0, r, 8, &n, f.t0, &err), SIM_ESTATE);
    CHECK_INT(n, 0);
    CHECK_INT(mkt_refusal_count(f.e), n0 + 2);
    fx_close(&f);
}

/* One canonical form: a signature with v = 0/1 is stored as 27/28 (one
 * transaction, one hash), and an address in any case inside an action is
 * taken and stored checksummed. */
static void test_encodings(void)
{
    struct fx f;
    fx_open(&f, NULL, FX_EUR, 0);
    struct sim_err err;
    char from[MKT_ADDR_STRLEN], lower[MKT_ADDR_STRLEN], json[256];
    mkt_address_format(f.a_fsp1, from);
    for (int i = 0; from[i]; i++)
        lower[i] = (char)(from[i] >= 'A' && from[i] <= 'F' ? from[i] + 32 : from[i]);
    lower[42] = 0;
    CHECK(strcmp(lower, from) != 0, "the test address has capitals");

    /* v = 0/1: accepted, stored as 27/28 */
    snprintf(json, sizeof json,
             "{\"action\":\"withdraw\",\"amount_ueur\":1,\"from\":\"%s\",\"nonce\":0}", from);
    uint8_t sig[MKT_SIG_LEN];
    CHECK_INT(mkt_sign_message(&f.fsp1, json, strlen(json), sig, &err), 0);
    uint8_t v = sig[64];
    CHECK(v == 27 || v == 28, "signer writes v %d", v);
    sig[64] = (uint8_t)(v - 27);
    struct mkt_receipt rc;
    CHECK_INT(mkt_submit(f.e, json, sig, f.t0, &rc, &err), 0);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(f.db, "SELECT sig, hash, sender FROM mkt_tx WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, rc.tx_seq);
    CHECK(sqlite3_step(st) == SQLITE_ROW, "tx stored");
    const uint8_t *stored = sqlite3_column_blob(st, 0);
    CHECK(stored && stored[64] == v, "v stored as %d, expected %d", stored ? stored[64] : -1, v);
    uint8_t want[32];
    sig[64] = v;
    {
        /* keccak256(json || sig || t_us big-endian), docs/market.md */
        uint8_t buf[512];
        size_t n = strlen(json);
        memcpy(buf, json, n);
        memcpy(buf + n, sig, MKT_SIG_LEN);
        for (int i = 0; i < 8; i++)
            buf[n + MKT_SIG_LEN + i] = (uint8_t)((uint64_t)f.t0 >> (56 - 8 * i));
        mkt_keccak256(buf, n + MKT_SIG_LEN + 8, want);
    }
    CHECK(!memcmp(sqlite3_column_blob(st, 1), want, 32), "hash is not that of the canonical form");
    sqlite3_finalize(st);
    /* the same transaction in its other encoding is a replay */
    CHECK(mkt_submit(f.e, json, sig, f.t0, NULL, &err) != 0, "the other encoding was taken too");

    /* an all-lower-case from: taken, stored checksummed */
    snprintf(json, sizeof json,
             "{\"action\":\"withdraw\",\"amount_ueur\":1,\"from\":\"%s\",\"nonce\":1}", lower);
    CHECK_INT(mkt_sign_message(&f.fsp1, json, strlen(json), sig, &err), 0);
    CHECK_INT(mkt_submit(f.e, json, sig, f.t0, &rc, &err), 0);
    sqlite3_prepare_v2(f.db, "SELECT sender FROM mkt_tx WHERE seq=?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, rc.tx_seq);
    CHECK(sqlite3_step(st) == SQLITE_ROW, "tx stored");
    CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), from), "sender stored as %s",
          (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    /* a participant added by a lower-case address is the checksummed one */
    struct mkt_key k;
    uint8_t a[20];
    char ca[MKT_ADDR_STRLEN], la[MKT_ADDR_STRLEN];
    mkt_key_derive(9, "another fsp", &k, &err);
    mkt_key_address(&k, a, &err);
    mkt_address_format(a, ca);
    for (int i = 0; i < 43; i++)
        la[i] = (char)(ca[i] >= 'A' && ca[i] <= 'F' ? ca[i] + 32 : ca[i]);
    snprintf(json, sizeof json,
             "{\"action\":\"participant_add\",\"address\":\"%s\",\"name\":\"x\",\"role\":"
             "\"FSP\"}",
             la);
    CHECK_INT(mkt_sign_submit(f.e, &f.op, json, f.t0, NULL, &err), 0);
    sqlite3_prepare_v2(f.db, "SELECT count(*) FROM mkt_participants WHERE address=?", -1, &st,
                       NULL);
    sqlite3_bind_text(st, 1, ca, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1,
          "participant not stored as %s", ca);
    sqlite3_finalize(st);
    /* a mixed-case address with a wrong checksum is refused: the
     * checksummed form with one letter's case flipped */
    char bad[MKT_ADDR_STRLEN];
    memcpy(bad, ca, sizeof bad);
    int letters = 0, flipped = 0;
    for (int i = 2; i < 42; i++)
        if (isalpha((unsigned char)bad[i]))
            letters++;
    for (int i = 2; i < 42 && !flipped; i++)
        if (isalpha((unsigned char)bad[i])) {
            bad[i] = (char)(isupper((unsigned char)bad[i]) ? tolower((unsigned char)bad[i])
                                                           : toupper((unsigned char)bad[i]));
            flipped = 1;
        }
    snprintf(json, sizeof json, "{\"action\":\"deposit\",\"address\":\"%s\",\"amount_ueur\":1}",
             bad);
    if (letters >= 2) {
        CHECK(mkt_sign_submit(f.e, &f.op, json, f.t0, NULL, &err) != 0, "bad checksum taken");
        CHECK_STR_CONTAINS(err.msg, "checksum");
    }
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok, "verify: %s", rep.reason);
    fx_close(&f);
}

int main(void)
{
    test_lists();
    test_table2();
    test_refusals();
    test_encodings();
    test_edit_withdraw();
    test_fees();
    test_flow(MKT_PAY_AS_DELIVERED);
    test_flow(MKT_PRO_RATA_WITH_PENALTY);
    test_purchase_funds();
    return check_done("test_engine");
}
