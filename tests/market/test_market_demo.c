/*
 * test_demo.c: the 2 October 2023 demo (shared/docs/DEMO.md) through the
 * market engine alone, and which settlement rule reproduces its Table III.
 *
 * Request TRD602602611REQ0255: Eskisehir, 16:00-16:45 +03:00, -20 kW, at
 * most EUR 0.21/kWh. Offers: battery -10 kW and V2G -10 kW at EUR 0.10/kWh
 * (the total row: EUR 1.50 for 15 kWh). Metered: 7.21 and 6.97 kWh.
 * Table III pays 0.70 / 0.67 / 1.37 EUR. The engine computes; the test
 * only states what each rule gives and which parameters reproduce the
 * table (docs/market.md, "The demo's payouts").
 */
#include "fixture.h"

/* 2023-10-02T16:00:00+03:00 and 16:45 (date -u -d ... +%s). */
#define DEMO_W0 (INT64_C(1696251600) * SIM_US_PER_S)
#define DEMO_W1 (DEMO_W0 + 45 * FX_MIN)

struct outcome {
    int64_t escrow, net[2], fee[2], refund[2], rate[2], dso_back, op_fees;
};

static void run(const struct mkt_params *p, struct outcome *out)
{
    struct fx f;
    fx_open(&f, p, 10 * FX_EUR, 0);
    struct sim_err err;
    int64_t t = f.t0, rid, o[2];
    int64_t bat = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery storage", "Eskisehir", 10000);
    int64_t v2g = fx_asset(&f, &f.fsp2, MKT_ASSET_EV, "V2G charger", "Eskisehir", 10000);
    CHECK_INT(fx_offer(&f, &f.fsp1, bat, DEMO_W0, DEMO_W1, -10000, 100000, &o[0], &err), 0);
    CHECK_INT(fx_offer(&f, &f.fsp2, v2g, DEMO_W0, DEMO_W1, -10000, 100000, &o[1], &err), 0);
    CHECK_INT(fx_request(&f, "Eskisehir", DEMO_W0, DEMO_W1, -20000, 210000, &rid, &err), 0);
    struct mkt_receipt rc;
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, t + 30 * FX_MIN, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 2);
    CHECK_INT(rc.unmet_w, 0);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, t + 31 * FX_MIN, &rc, &err), 0);
    out->escrow = rc.amount_ueur;
    struct mkt_match m[2];
    size_t n;
    CHECK_INT(mkt_matches_of_request(f.e, rid, m, 2, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_INT(m[0].offer_id, o[0]); /* equal prices: submission order */
    CHECK_INT(m[1].offer_id, o[1]);
    struct mkt_dispatch d[2];
    CHECK_INT(mkt_dispatch_list(f.e, 0, d, 2, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK(d[0].asset_id == bat && d[0].p_w == -10000 && d[0].start == DEMO_W0 &&
              d[0].end == DEMO_W1,
          "battery setpoint");
    CHECK(d[1].asset_id == v2g && d[1].p_w == -10000, "V2G setpoint");
    CHECK_INT(mkt_do_delivery(f.e, &f.op, m[0].id, 7210, DEMO_W1 + FX_MIN, &err), 0);
    CHECK_INT(mkt_do_delivery(f.e, &f.op, m[1].id, 6970, DEMO_W1 + FX_MIN, &err), 0);
    int64_t dso0 = fx_balance(&f, f.a_dso), op0 = fx_balance(&f, f.a_op);
    int64_t b0[2] = {fx_balance(&f, f.a_fsp1), fx_balance(&f, f.a_fsp2)};
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, DEMO_W1 + 2 * FX_MIN, &rc, &err), 0);
    CHECK_INT(mkt_matches_of_request(f.e, rid, m, 2, &n, &err), 0);
    const uint8_t *fsp[2] = {f.a_fsp1, f.a_fsp2};
    for (int i = 0; i < 2; i++) {
        out->net[i] = fx_balance(&f, fsp[i]) - b0[i];
        out->fee[i] = m[i].settle_fee_ueur;
        out->refund[i] = m[i].refund_ueur;
        out->rate[i] = m[i].rate_ppm;
        CHECK_INT(out->net[i], m[i].payout_ueur - m[i].settle_fee_ueur);
    }
    out->dso_back = fx_balance(&f, f.a_dso) - dso0;
    out->op_fees = fx_balance(&f, f.a_op) - op0;
    CHECK_INT(rc.amount_ueur, out->net[0] + out->net[1]);
    /* Every micro-euro of the escrow went somewhere. */
    CHECK_INT(out->net[0] + out->net[1] + out->op_fees + out->dso_back, out->escrow);
    fx_check_conserved(&f, "demo");
    fx_close(&f);
}

/* Micro-euros to whole cents, half away from zero, as the paper prints. */
static int64_t cents(int64_t ueur) { return (ueur + 5000) / 10000; }

/* Whether an outcome prints as Table III: 0.70, 0.67, total 1.37. */
static int table3(const struct outcome *o)
{
    return cents(o->net[0]) == 70 && cents(o->net[1]) == 67 && cents(o->net[0] + o->net[1]) == 137;
}

int main(void)
{
    struct mkt_params p;
    struct outcome o;

    /* Default rule: pay-as-delivered, no fee. */
    mkt_params_default(&p);
    run(&p, &o);
    CHECK_INT(o.escrow, 1500000);     /* EUR 1.50 for 15 kWh: the totals row */
    CHECK_INT(o.rate[0], 961333);     /* 7.21 / 7.5 = 96 % */
    CHECK_INT(o.rate[1], 929333);     /* 6.97 / 7.5 = 93 % */
    CHECK_INT(o.net[0], 721000);      /* 7.21 kWh x 0.10 */
    CHECK_INT(o.net[1], 697000);      /* 6.97 kWh x 0.10 */
    CHECK_INT(o.dso_back, 82000);     /* 1.50 - 1.418 */
    CHECK_INT(cents(o.net[0]), 72);
    CHECK_INT(cents(o.net[1]), 70);
    CHECK(!table3(&o), "plain pay-as-delivered does not give Table III");
    printf("pay-as-delivered, no fee:      %.6f %.6f total %.6f EUR\n", o.net[0] / 1e6,
           o.net[1] / 1e6, (o.net[0] + o.net[1]) / 1e6);

    /* Pay-as-delivered less a proportional settlement fee of 3.4 %. */
    p.settle_fee_ppm = 34000;
    run(&p, &o);
    CHECK_INT(o.net[0], 696486); /* 721000 - round(721000 x 0.034) */
    CHECK_INT(o.net[1], 673302);
    CHECK_INT(o.op_fees, 24514 + 23698);
    CHECK(table3(&o), "3.4 %% fee: %lld %lld", (long long)o.net[0], (long long)o.net[1]);
    printf("pay-as-delivered, 3.4 %% fee:   %.6f %.6f total %.6f EUR\n", o.net[0] / 1e6,
           o.net[1] / 1e6, (o.net[0] + o.net[1]) / 1e6);
    /* The bracket: 3.0 % and 3.8 % do not print as Table III. */
    p.settle_fee_ppm = 30000;
    run(&p, &o);
    CHECK(!table3(&o), "3.0 %% must not reproduce the table");
    p.settle_fee_ppm = 38000;
    run(&p, &o);
    CHECK(!table3(&o), "3.8 %% must not reproduce the table");

    /* Pay-as-delivered less a flat EUR 0.025 per payout (one transaction fee). */
    p.settle_fee_ppm = 0;
    p.payout_fee_ueur = 25000;
    run(&p, &o);
    CHECK_INT(o.net[0], 696000);
    CHECK_INT(o.net[1], 672000);
    CHECK(table3(&o), "flat fee: %lld %lld", (long long)o.net[0], (long long)o.net[1]);
    printf("pay-as-delivered, EUR 0.025/payout: %.6f %.6f total %.6f EUR\n", o.net[0] / 1e6,
           o.net[1] / 1e6, (o.net[0] + o.net[1]) / 1e6);

    /* Pro rata with the usual 90 % threshold: both rates are above it, so it
     * pays what pay-as-delivered pays. With a 100 % threshold and a 3.4 %
     * penalty it reproduces the table too, the penalty going back to the DSO. */
    mkt_params_default(&p);
    p.payout_rule = MKT_PRO_RATA_WITH_PENALTY;
    run(&p, &o);
    CHECK_INT(o.net[0], 721000);
    CHECK_INT(o.net[1], 697000);
    p.penalty_threshold_ppm = 1000000;
    p.penalty_ppm = 34000;
    run(&p, &o);
    CHECK(table3(&o), "pro rata, 3.4 %% penalty: %lld %lld", (long long)o.net[0],
          (long long)o.net[1]);
    CHECK_INT(o.op_fees, 0);
    CHECK_INT(o.dso_back, 1500000 - o.net[0] - o.net[1]);

    /* Pay-as-clear changes nothing here: both offers have the same price. */
    mkt_params_default(&p);
    p.pricing = MKT_PAY_AS_CLEAR;
    run(&p, &o);
    CHECK_INT(o.escrow, 1500000);
    CHECK_INT(o.net[0] + o.net[1], 1418000);
    return check_done("test_market_demo");
}
