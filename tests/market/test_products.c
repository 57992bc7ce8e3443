/*
 * test_products.c: availability and utilisation payments, the floors below
 * which they are lost, merit order over both prices, pay-as-clear with
 * availability, and gate closure (issue 14; docs/market.md "Products and
 * payments"), each on hand-computed figures.
 *
 * The window is 45 minutes. Offer A (battery): -10 kW at EUR 0.10/kWh with
 * a reservation price of EUR 0.02 per kW per hour; offer B (V2G): -10 kW at
 * EUR 0.09/kWh, reservation EUR 0.05/kW/h. Ranked by energy + availability
 * price, A (0.12) comes before B (0.14) though its energy is dearer.
 *   A alone:  utilisation amount 10 kW x 0.75 h x 0.10 = EUR 0.75,
 *             availability      10 kW x 0.75 h x 0.02 = EUR 0.15,
 *             escrow EUR 0.90.
 *   delivered 7208 Wh, rate 96.1067 %: utilisation EUR 0.7208, availability
 *             0.15 x 0.961067 = EUR 0.144160, refund EUR 0.035040;
 *   with floors 50 % (utilisation) and 90 % (availability):
 *             3000 Wh (40 %): nothing paid, EUR 0.90 back;
 *             6000 Wh (80 %): EUR 0.60 utilisation, no availability,
 *             EUR 0.30 back; 7208 Wh: as without floors.
 *   pay-as-clear over A and B (20 kW): energy at the clearing EUR 0.10 for
 *             both (B: EUR 0.75), availability as bid (B: 10 x 0.75 x 0.05 =
 *             EUR 0.375).
 *   a request capping availability at EUR 0.04 leaves B out.
 *   gate closure 30 min: offers, requests, matching and purchase refused
 *             inside the last 30 minutes before the window.
 * And a database in the schema of the version before these columns (and
 * the measurement tables) still verifies, while dropping a column to hide
 * a payment the ledger makes is caught.
 */
#include "fixture.h"

#define MIN FX_MIN

static int64_t offer_av(struct fx *f, const struct mkt_key *k, int64_t asset, int64_t w0,
                        int64_t w1, int64_t price, int64_t avail, sim_time_us now, int *rc_out)
{
    struct mkt_offer o = {.asset_id = asset, .start = w0, .end = w1, .valid_until = w0,
                          .p_w = -10000, .price_ueur_per_kwh = price,
                          .availability_ueur_per_kw_h = avail};
    struct sim_err err;
    int64_t id = 0;
    *rc_out = mkt_do_offer_add(f->e, k, &o, now, &id, &err);
    return id;
}

static int request_av(struct fx *f, int64_t w0, int64_t w1, int64_t p_w, int64_t max_avail,
                      sim_time_us now, int64_t *id)
{
    struct mkt_request r = {.start = w0, .end = w1, .p_w = p_w, .max_price_ueur_per_kwh = 210000,
                            .max_availability_ueur_per_kw_h = max_avail};
    snprintf(r.location, sizeof r.location, "bus-1");
    struct sim_err err;
    return mkt_do_request_add(f->e, &f->dso, &r, now, id, &err);
}

/* Market with offers A and B; returns the request id, bought. */
static int64_t setup(struct fx *f, const struct mkt_params *p, int64_t need_w, int64_t max_avail,
                     int64_t *w1_out)
{
    fx_open(f, p, 10 * FX_EUR, 0);
    struct sim_err err;
    int64_t w0 = f->t0 + 60 * MIN, w1 = w0 + 45 * MIN, rid = 0;
    int64_t a = fx_asset(f, &f->fsp1, MKT_ASSET_BATTERY, "battery", "bus-1", 10000);
    int64_t b = fx_asset(f, &f->fsp2, MKT_ASSET_EV, "v2g", "bus-1", 10000);
    int rc;
    offer_av(f, &f->fsp1, a, w0, w1, 100000, 20000, f->t0, &rc);
    CHECK_INT(rc, 0);
    offer_av(f, &f->fsp2, b, w0, w1, 90000, 50000, f->t0, &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(request_av(f, w0, w1, need_w, max_avail, f->t0, &rid), 0);
    CHECK_INT(mkt_do_match(f->e, &f->dso, rid, f->t0, NULL, &err), 0);
    int64_t before = fx_balance(f, f->a_dso);
    struct mkt_receipt rcpt;
    CHECK_INT(mkt_do_purchase(f->e, &f->dso, rid, f->t0, &rcpt, &err), 0);
    CHECK_INT(before - fx_balance(f, f->a_dso), rcpt.amount_ueur);
    *w1_out = w1;
    return rid;
}

/* Deliver e_wh on every match of rid, settle, and check match 1's figures. */
static void settle_case(const char *name, const struct mkt_params *p, int64_t e_wh,
                        int64_t want_util, int64_t want_avail)
{
    struct fx f;
    struct sim_err err;
    int64_t w1;
    int64_t rid = setup(&f, p, -10000, 60000, &w1);
    struct mkt_match m;
    size_t n = 0;
    CHECK_INT(mkt_matches_of_request(f.e, rid, &m, 1, &n, &err), 0);
    CHECK_INT((int64_t)n, 1);
    CHECK(m.price_ueur_per_kwh == 100000, "%s: A first in merit order (price %lld)", name,
          (long long)m.price_ueur_per_kwh);
    CHECK_INT(m.amount_ueur, 750000);
    CHECK_INT(m.availability_ueur, 150000);
    int64_t fsp0 = fx_balance(&f, f.a_fsp1), dso0 = fx_balance(&f, f.a_dso);
    CHECK_INT(mkt_do_delivery(f.e, &f.dso, m.id, e_wh, w1, &err), 0);
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, w1 + MIN, NULL, &err), 0);
    CHECK_INT(mkt_match_get(f.e, m.id, &m, &err), 0);
    CHECK(m.payout_ueur == want_util + want_avail && m.availability_paid_ueur == want_avail,
          "%s: paid %lld (availability %lld), want %lld + %lld", name, (long long)m.payout_ueur,
          (long long)m.availability_paid_ueur, (long long)want_util, (long long)want_avail);
    CHECK(fx_balance(&f, f.a_fsp1) - fsp0 == want_util + want_avail, "%s: the FSP got %lld", name,
          (long long)(fx_balance(&f, f.a_fsp1) - fsp0));
    CHECK(fx_balance(&f, f.a_dso) - dso0 == 900000 - want_util - want_avail,
          "%s: the DSO got %lld back", name, (long long)(fx_balance(&f, f.a_dso) - dso0));
    fx_check_conserved(&f, name);
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok && rep.state_ok, "%s: verify: %s", name, rep.reason);
    fx_close(&f);
}

/* A database written before these columns existed still verifies; one
 * whose column was dropped to hide a payment does not. */
static void test_older_schema(void)
{
    struct fx f;
    struct sim_err err;
    int64_t w1;
    struct mkt_params p;
    mkt_params_default(&p);
    int64_t rid = setup(&f, &p, -10000, 60000, &w1);
    struct mkt_match m;
    size_t n = 0;
    CHECK_INT(mkt_matches_of_request(f.e, rid, &m, 1, &n, &err), 0);
    CHECK_INT(mkt_do_delivery(f.e, &f.dso, m.id, 7208, w1, &err), 0);
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, w1 + MIN, NULL, &err), 0);
    struct mkt_verify_report rep;
    /* hiding the availability payment: the ledger makes it, the column is gone */
    CHECK_INT(sqlite3_exec(f.db, "ALTER TABLE mkt_matches DROP COLUMN availability_paid_ueur",
                           NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(!rep.ok && strstr(rep.reason, "availability_paid_ueur is not in the database"),
          "a dropped column hides nothing: %s", rep.reason);
    fx_close(&f);

    /* a market without reservations, baselines or measurements, stored in
     * the schema of the version before them */
    fx_open(&f, &p, 10 * FX_EUR, 0);
    int64_t w0 = f.t0 + 60 * MIN, oid;
    w1 = w0 + 45 * MIN;
    int64_t a = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "bus-1", 10000);
    CHECK_INT(fx_offer(&f, &f.fsp1, a, w0, w1, -10000, 100000, &oid, &err), 0);
    CHECK_INT(fx_request(&f, "bus-1", w0, w1, -10000, 210000, &rid, &err), 0);
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, f.t0, NULL, &err), 0);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, f.t0, NULL, &err), 0);
    CHECK_INT(mkt_matches_of_request(f.e, rid, &m, 1, &n, &err), 0);
    CHECK_INT(mkt_do_delivery(f.e, &f.dso, m.id, 7208, w1, &err), 0);
    CHECK_INT(mkt_do_settle(f.e, &f.dso, rid, w1 + MIN, NULL, &err), 0);
    static const char *const older[] = {
        "ALTER TABLE mkt_matches DROP COLUMN availability_paid_ueur",
        "ALTER TABLE mkt_matches DROP COLUMN availability_ueur",
        "ALTER TABLE mkt_matches DROP COLUMN availability_ueur_per_kw_h",
        "ALTER TABLE mkt_offers DROP COLUMN availability_ueur_per_kw_h",
        "ALTER TABLE mkt_requests DROP COLUMN max_availability_ueur_per_kw_h",
        "ALTER TABLE mkt_deliveries DROP COLUMN baseline_wh",
        "ALTER TABLE mkt_deliveries DROP COLUMN measured_wh",
        "DROP TABLE mkt_meter",
        "DROP TABLE mkt_prognoses",
    };
    for (size_t i = 0; i < sizeof older / sizeof older[0]; i++)
        CHECK(sqlite3_exec(f.db, older[i], NULL, NULL, NULL) == SQLITE_OK, "%s", older[i]);
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok && rep.state_ok, "the older schema verifies: %s", rep.reason);
    /* and a column nobody knows is still refused */
    CHECK_INT(sqlite3_exec(f.db, "ALTER TABLE mkt_offers ADD COLUMN bonus INTEGER", NULL, NULL,
                           NULL),
              SQLITE_OK);
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(!rep.ok && strstr(rep.reason, "a column was added"), "an added column: %s", rep.reason);
    fx_close(&f);
}

static void test_payments(void)
{
    struct mkt_params p;
    mkt_params_default(&p);
    settle_case("no floors, 96 %", &p, 7208, 720800, 144160);
    p.utilisation_floor_ppm = 500000;
    p.availability_floor_ppm = 900000;
    settle_case("floors, 40 %", &p, 3000, 0, 0);
    settle_case("floors, 80 %", &p, 6000, 600000, 0);
    settle_case("floors, 96 %", &p, 7208, 720800, 144160);
    /* over-delivery: availability at most the whole, utilisation capped */
    settle_case("floors, 110 %", &p, 8250, 750000, 150000);
}

static void test_clear_and_cap(void)
{
    struct fx f;
    struct sim_err err;
    int64_t w1;
    struct mkt_params p;
    mkt_params_default(&p);
    p.pricing = MKT_PAY_AS_CLEAR;
    int64_t rid = setup(&f, &p, -20000, 60000, &w1);
    struct mkt_match m[2];
    size_t n = 0;
    CHECK_INT(mkt_matches_of_request(f.e, rid, m, 2, &n, &err), 0);
    CHECK_INT((int64_t)n, 2);
    CHECK(m[0].availability_ueur_per_kw_h == 20000 && m[1].availability_ueur_per_kw_h == 50000,
          "merit by energy + availability: A then B");
    CHECK_INT(m[1].price_ueur_per_kwh, 100000); /* cleared */
    CHECK_INT(m[1].amount_ueur, 750000);
    CHECK_INT(m[1].availability_ueur, 375000); /* as bid */
    fx_close(&f);

    /* a cap on availability leaves B out: 10 of the 20 kW unmet */
    mkt_params_default(&p);
    fx_open(&f, &p, 10 * FX_EUR, 0);
    int64_t w0 = f.t0 + 60 * MIN;
    w1 = w0 + 45 * MIN;
    int64_t a = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "bus-1", 10000);
    int64_t b = fx_asset(&f, &f.fsp2, MKT_ASSET_EV, "v2g", "bus-1", 10000);
    int rc;
    offer_av(&f, &f.fsp1, a, w0, w1, 100000, 20000, f.t0, &rc);
    offer_av(&f, &f.fsp2, b, w0, w1, 90000, 50000, f.t0, &rc);
    CHECK_INT(request_av(&f, w0, w1, -20000, 40000, f.t0, &rid), 0);
    struct mkt_receipt rcpt;
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, f.t0, &rcpt, &err), 0);
    CHECK_INT(rcpt.n_matches, 1);
    CHECK_INT(rcpt.unmet_w, 10000);
    /* a negative price is refused */
    offer_av(&f, &f.fsp2, b, w0, w1, 90000, -1, f.t0, &rc);
    CHECK_INT(rc, SIM_EINVAL);
    fx_close(&f);
}

static void test_gate_closure(void)
{
    struct fx f;
    struct sim_err err;
    struct mkt_params p;
    mkt_params_default(&p);
    p.gate_closure_us = 30 * MIN;
    fx_open(&f, &p, 10 * FX_EUR, 0);
    int64_t w0 = f.t0 + 60 * MIN, w1 = w0 + 45 * MIN, rid, late;
    int64_t a = fx_asset(&f, &f.fsp1, MKT_ASSET_BATTERY, "battery", "bus-1", 10000);
    int rc;
    offer_av(&f, &f.fsp1, a, w0, w1, 100000, 0, w0 - 20 * MIN, &rc);
    CHECK_INT(rc, SIM_ESTATE);
    offer_av(&f, &f.fsp1, a, w0, w1, 100000, 0, w0 - 30 * MIN, &rc); /* at the gate: open */
    CHECK_INT(rc, 0);
    CHECK_INT(request_av(&f, w0, w1, -10000, 0, w0 - 29 * MIN, &late), SIM_ESTATE);
    CHECK_INT(request_av(&f, w0, w1, -10000, 0, w0 - 40 * MIN, &rid), 0);
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, w0 - 25 * MIN, NULL, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "gate closed 30 min before"), "match: %s", err.msg);
    CHECK_INT(mkt_do_match(f.e, &f.dso, rid, w0 - 35 * MIN, NULL, &err), 0);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, w0 - 10 * MIN, NULL, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_purchase(f.e, &f.dso, rid, w0 - 31 * MIN, NULL, &err), 0);
    /* the rule is in the genesis, so a replay applies it */
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(f.db, &rep, &err), 0);
    CHECK(rep.ok && rep.state_ok, "gate: verify: %s", rep.reason);
    fx_close(&f);
}

int main(void)
{
    test_payments();
    test_clear_and_cap();
    test_gate_closure();
    test_older_schema();
    return check_done("test_products");
}
