/*
 * test_match.c: matching cases one by one: no offers, price caps, windows
 * that do not cover, other locations and directions, expired offers,
 * ties, partial fills on and off, pay-as-bid vs pay-as-clear, re-matching,
 * and several requests competing for the same offers.
 */
#include "fixture.h"

#define LOC "Eskisehir"

struct setup {
    struct fx f;
    int64_t bat, v2g, w0, w1;
};

static void open_setup(struct setup *s, int partial, enum mkt_pricing pricing)
{
    struct mkt_params p;
    mkt_params_default(&p);
    p.partial_fills = partial;
    p.pricing = pricing;
    fx_open(&s->f, &p, 100 * FX_EUR, 0);
    s->bat = fx_asset(&s->f, &s->f.fsp1, MKT_ASSET_BATTERY, "battery", LOC, 50000);
    s->v2g = fx_asset(&s->f, &s->f.fsp2, MKT_ASSET_EV, "v2g", LOC, 50000);
    s->w0 = s->f.t0 + 60 * FX_MIN;
    s->w1 = s->w0 + 45 * FX_MIN;
}

static int64_t offer(struct setup *s, int second, int64_t start, int64_t end, int64_t p_w,
                     int64_t price)
{
    struct sim_err err;
    int64_t id = 0;
    int rc = fx_offer(&s->f, second ? &s->f.fsp2 : &s->f.fsp1, second ? s->v2g : s->bat, start,
                      end, p_w, price, &id, &err);
    CHECK(rc == 0, "offer: %s", err.msg);
    return id;
}

static int64_t request(struct setup *s, int64_t p_w, int64_t max_price)
{
    struct sim_err err;
    int64_t id = 0;
    int rc = fx_request(&s->f, LOC, s->w0, s->w1, p_w, max_price, &id, &err);
    CHECK(rc == 0, "request: %s", err.msg);
    return id;
}

/* Matches of request rid as (offer id, |p|, price) triples. */
static size_t matches(struct setup *s, int64_t rid, struct mkt_match *m, size_t max)
{
    struct sim_err err;
    size_t n = 0;
    CHECK_INT(mkt_matches_of_request(s->f.e, rid, m, max, &n, &err), 0);
    return n;
}

static void test_no_offers_and_filters(void)
{
    struct setup s;
    open_setup(&s, 1, MKT_PAY_AS_BID);
    struct sim_err err;
    struct mkt_receipt rc;
    int64_t rid = request(&s, -20000, 210000);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, rid, s.f.t0, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 0);
    CHECK_INT(rc.unmet_w, 20000);
    struct mkt_request r;
    mkt_request_get(s.f.e, rid, &r, &err);
    CHECK_INT(r.state, MKT_OPEN);
    CHECK_INT(r.unmet_w, -20000);
    /* None of these is eligible. */
    offer(&s, 0, s.w0, s.w1, -10000, 210001);                 /* above the cap */
    offer(&s, 0, s.w0 + FX_MIN, s.w1, -10000, 1000);           /* starts late */
    offer(&s, 0, s.w0, s.w1 - FX_MIN, -10000, 1000);           /* ends early */
    offer(&s, 0, s.w0, s.w1, 10000, 1000);                     /* wrong direction */
    struct mkt_offer o = {.asset_id = s.bat, .start = s.w0, .end = s.w1,
                          .valid_until = s.f.t0 + FX_MIN, .p_w = -10000,
                          .price_ueur_per_kwh = 1000};
    int64_t expired;
    CHECK_INT(mkt_do_offer_add(s.f.e, &s.f.fsp1, &o, s.f.t0, &expired, &err), 0);
    int64_t elsewhere = fx_asset(&s.f, &s.f.fsp2, MKT_ASSET_EV, "ev2", "Ankara", 10000);
    CHECK_INT(fx_offer(&s.f, &s.f.fsp2, elsewhere, s.w0, s.w1, -10000, 1000, NULL, &err), 0);
    /* Eligible: a wider window at exactly the cap, valid long enough. */
    int64_t ok = offer(&s, 1, s.w0 - 30 * FX_MIN, s.w1 + 30 * FX_MIN, -5000, 210000);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, rid, s.f.t0 + 2 * FX_MIN, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 1);
    CHECK_INT(rc.matched_w, 5000);
    CHECK_INT(rc.unmet_w, 15000);
    struct mkt_match m[8];
    CHECK_INT(matches(&s, rid, m, 8), 1);
    CHECK_INT(m[0].offer_id, ok);
    CHECK_INT(m[0].p_w, -5000);
    CHECK_INT(m[0].start, s.w0);
    CHECK_INT(m[0].end, s.w1);
    /* 5 kW x 0.75 h x 0.21 EUR/kWh */
    CHECK_INT(m[0].amount_ueur, 787500);
    mkt_request_get(s.f.e, rid, &r, &err);
    CHECK_INT(r.state, MKT_MATCHED);
    CHECK_INT(r.unmet_w, -15000);
    /* The expired offer would have been eligible before its validity ran out. */
    struct mkt_offer got;
    mkt_offer_get(s.f.e, expired, &got, &err);
    CHECK_INT(got.remaining_w, -10000);
    fx_close(&s.f);
}

static void test_merit_ties_partial(void)
{
    struct setup s;
    open_setup(&s, 1, MKT_PAY_AS_BID);
    struct sim_err err;
    struct mkt_receipt rc;
    int64_t a = offer(&s, 1, s.w0, s.w1, -15000, 120000); /* tie on price, earlier */
    int64_t b = offer(&s, 0, s.w0, s.w1, -10000, 120000); /* tie on price, later */
    int64_t c = offer(&s, 0, s.w0, s.w1, -8000, 90000);   /* cheapest */
    offer(&s, 1, s.w0, s.w1, -8000, 200000);              /* never reached */
    int64_t rid = request(&s, -30000, 210000);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, rid, s.f.t0, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 3);
    CHECK_INT(rc.unmet_w, 0);
    struct mkt_match m[8];
    CHECK_INT(matches(&s, rid, m, 8), 3);
    CHECK_INT(m[0].offer_id, c);
    CHECK_INT(m[0].p_w, -8000);
    CHECK_INT(m[1].offer_id, a);
    CHECK_INT(m[1].p_w, -15000);
    CHECK_INT(m[2].offer_id, b);
    CHECK_INT(m[2].p_w, -7000); /* partly taken */
    CHECK_INT(m[2].price_ueur_per_kwh, 120000);
    struct mkt_offer o;
    mkt_offer_get(s.f.e, b, &o, &err);
    CHECK_INT(o.remaining_w, -3000);
    CHECK_INT(o.state, MKT_OPEN);
    mkt_offer_get(s.f.e, a, &o, &err);
    CHECK_INT(o.remaining_w, 0);
    CHECK_INT(o.state, MKT_MATCHED);
    /* Re-matching releases and redoes the same match. */
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, rid, s.f.t0, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 3);
    CHECK_INT(matches(&s, rid, m, 8), 3);
    CHECK_INT(m[2].p_w, -7000);
    mkt_offer_get(s.f.e, b, &o, &err);
    CHECK_INT(o.remaining_w, -3000);
    /* A second request gets the rest of b, then the expensive one. */
    int64_t r2 = request(&s, -5000, 210000);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, r2, s.f.t0, &rc, &err), 0);
    CHECK_INT(matches(&s, r2, m, 8), 2);
    CHECK_INT(m[0].offer_id, b);
    CHECK_INT(m[0].p_w, -3000);
    CHECK_INT(m[1].p_w, -2000);
    CHECK_INT(m[1].price_ueur_per_kwh, 200000);
    fx_close(&s.f);
}

static void test_no_partial_fills(void)
{
    struct setup s;
    open_setup(&s, 0, MKT_PAY_AS_BID);
    struct sim_err err;
    struct mkt_receipt rc;
    offer(&s, 0, s.w0, s.w1, -15000, 80000);
    int64_t big = offer(&s, 1, s.w0, s.w1, -10000, 90000); /* does not fit the 5 kW left */
    int64_t small = offer(&s, 0, s.w0, s.w1, -4000, 95000);
    int64_t rid = request(&s, -20000, 210000);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, rid, s.f.t0, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 2);
    CHECK_INT(rc.matched_w, 19000);
    CHECK_INT(rc.unmet_w, 1000);
    struct mkt_match m[4];
    CHECK_INT(matches(&s, rid, m, 4), 2);
    CHECK_INT(m[0].p_w, -15000);
    CHECK_INT(m[1].offer_id, small);
    CHECK_INT(m[1].p_w, -4000);
    struct mkt_offer o;
    mkt_offer_get(s.f.e, big, &o, &err);
    CHECK_INT(o.remaining_w, -10000);
    fx_close(&s.f);
}

static void test_pay_as_clear(void)
{
    struct setup s;
    open_setup(&s, 1, MKT_PAY_AS_CLEAR);
    struct sim_err err;
    struct mkt_receipt rc;
    offer(&s, 0, s.w0, s.w1, -10000, 80000);
    offer(&s, 1, s.w0, s.w1, -10000, 100000);
    offer(&s, 1, s.w0, s.w1, -10000, 150000); /* not needed: does not set the price */
    int64_t rid = request(&s, -20000, 210000);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, rid, s.f.t0, &rc, &err), 0);
    struct mkt_match m[4];
    CHECK_INT(matches(&s, rid, m, 4), 2);
    CHECK_INT(m[0].price_ueur_per_kwh, 100000);
    CHECK_INT(m[1].price_ueur_per_kwh, 100000);
    CHECK_INT(m[0].amount_ueur, 750000);
    CHECK_INT(mkt_do_purchase(s.f.e, &s.f.dso, rid, s.f.t0, &rc, &err), 0);
    CHECK_INT(rc.amount_ueur, 1500000);
    fx_check_conserved(&s.f, "pay as clear");
    fx_close(&s.f);
}

/* Match without a request id: every open request of the DSO in submission
 * order; the earlier one has first pick. Another DSO's request is untouched. */
static void test_match_all(void)
{
    struct setup s;
    open_setup(&s, 1, MKT_PAY_AS_BID);
    struct sim_err err;
    struct mkt_receipt rc;
    struct mkt_key dso2;
    uint8_t a2[20];
    mkt_key_derive(7, "dso2", &dso2, &err);
    mkt_key_address(&dso2, a2, &err);
    CHECK_INT(mkt_do_participant_add(s.f.e, &s.f.op, a2, MKT_ROLE_DSO, "other", s.f.t0, &err), 0);
    int64_t cheap = offer(&s, 0, s.w0, s.w1, -10000, 50000);
    int64_t dear = offer(&s, 1, s.w0, s.w1, -10000, 60000);
    int64_t r1 = request(&s, -10000, 210000);
    int64_t r2 = request(&s, -15000, 210000);
    struct mkt_request other = {.start = s.w0, .end = s.w1, .p_w = -5000,
                                .max_price_ueur_per_kwh = 210000, .location = LOC};
    int64_t r3;
    CHECK_INT(mkt_do_request_add(s.f.e, &dso2, &other, s.f.t0, &r3, &err), 0);
    /* dso2 cannot match or buy the first DSO's request. */
    CHECK_INT(mkt_do_match(s.f.e, &dso2, r1, s.f.t0, NULL, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_match(s.f.e, &s.f.dso, 0, s.f.t0, &rc, &err), 0);
    CHECK_INT(rc.n_matches, 2);
    CHECK_INT(rc.matched_w, 20000);
    CHECK_INT(rc.unmet_w, 5000);
    struct mkt_match m[4];
    CHECK_INT(matches(&s, r1, m, 4), 1);
    CHECK_INT(m[0].offer_id, cheap);
    CHECK_INT(matches(&s, r2, m, 4), 1);
    CHECK_INT(m[0].offer_id, dear);
    CHECK_INT(matches(&s, r3, m, 4), 0);
    CHECK_INT(mkt_do_purchase(s.f.e, &dso2, r1, s.f.t0, NULL, &err), SIM_ESTATE);
    /* A request whose window is over is not matched. */
    CHECK_INT(mkt_do_match(s.f.e, &dso2, r3, s.w1, NULL, &err), SIM_ESTATE);
    CHECK_STR_CONTAINS(err.msg, "over");
    fx_close(&s.f);
}

int main(void)
{
    test_no_offers_and_filters();
    test_merit_ties_partial();
    test_no_partial_fills();
    test_pay_as_clear();
    test_match_all();
    return check_done("test_match");
}
