/*
 * test_baseline.c: measurement and verification against a baseline
 * (market/baseline.c, issue 14), each rule on hand-computed cases.
 *
 * The case of the issue: an EV was charging at 7 kW; the DSO buys a 10 kW
 * reduction for 45 minutes at EUR 0.10/kWh (EUR 0.75 escrowed); the EV
 * stops charging and discharges 3 kW. Its meter: +1750 Wh in the 15
 * minutes before the window (7 kW), -2250 Wh in the window (-3 kW),
 * +2000 Wh in the 15 minutes after (8 kW). By hand:
 *   metered (export alone)   2250 Wh          EUR 0.225  (paid for 3 kW)
 *   meter_before, 15 min     1750 x 3 = 5250 baseline, 5250 + 2250 = 7500 Wh
 *                            EUR 0.75 (paid for 10 kW)
 *   meter_before_after       (1750 + 2000) / 2 x 3 = 5625, 7875 Wh, rate
 *                            105 %, EUR 0.75 (the escrow caps it)
 *   x_of_y, 2 of 3           the same window on the three days before:
 *                            5000, 5400, 4800 Wh -> (5400 + 5000) / 2 =
 *                            5200, 7450 Wh, EUR 0.745
 *   nominated                the FSP's prognosis of 7 kW over the window,
 *                            sent before it: 5250, 7500 Wh, EUR 0.75
 *   meter_before from one    a 30-minute reading of 3500 Wh before the
 *   longer reading           window counts half: 1750, so 7500 Wh again
 * and the refusals: a computed market takes no e_wh, a metered one needs
 * it; readings that do not cover the spans, of the future, overlapping,
 * by an FSP; prognoses late, of another's asset, by a DSO; bad rules. The
 * ledger verifies and replays after each case.
 */
#include "fixture.h"

#define MIN FX_MIN
#define DAY (24 * 60 * FX_MIN)

struct bcase {
    struct fx f;
    int64_t ev, mid, rid, w0, w1;
};

static void open_case(struct bcase *b, enum mkt_baseline rule, int x, int y)
{
    struct mkt_params p;
    mkt_params_default(&p);
    p.baseline = rule;
    if (x)
        p.baseline_x = x, p.baseline_y = y;
    fx_open(&b->f, &p, 10 * FX_EUR, 0);
    struct sim_err err;
    b->w0 = b->f.t0 + 60 * MIN;
    b->w1 = b->w0 + 45 * MIN;
    b->ev = fx_asset(&b->f, &b->f.fsp2, MKT_ASSET_EV, "ev", "bus-1", 11000);
    int64_t oid;
    CHECK_INT(fx_offer(&b->f, &b->f.fsp2, b->ev, b->w0, b->w1, -10000, 100000, &oid, &err), 0);
    CHECK_INT(fx_request(&b->f, "bus-1", b->w0, b->w1, -10000, 210000, &b->rid, &err), 0);
    CHECK_INT(mkt_do_match(b->f.e, &b->f.dso, b->rid, b->f.t0, NULL, &err), 0);
    CHECK_INT(mkt_do_purchase(b->f.e, &b->f.dso, b->rid, b->f.t0, NULL, &err), 0);
    struct mkt_match m;
    size_t n = 0;
    CHECK_INT(mkt_matches_of_request(b->f.e, b->rid, &m, 1, &n, &err), 0);
    CHECK_INT((int64_t)n, 1);
    b->mid = m.id;
    CHECK_INT(m.amount_ueur, 750000);
}

/* The operator's meter readings of the EV, sent at time now. */
static int meter(struct bcase *b, int64_t start, int64_t end, int64_t e_wh, int64_t now)
{
    struct sim_err err;
    int rc = mkt_do_meter(b->f.e, &b->f.op, b->ev, start, end, e_wh, now, &err);
    if (rc)
        fprintf(stderr, "  (meter: %s)\n", err.msg);
    return rc;
}

static void readings(struct bcase *b, int with_before, int with_after)
{
    int64_t now = b->w1 + 30 * MIN;
    if (with_before)
        CHECK_INT(meter(b, b->w0 - 15 * MIN, b->w0, 1750, now), 0);
    CHECK_INT(meter(b, b->w0, b->w1, -2250, now), 0);
    if (with_after)
        CHECK_INT(meter(b, b->w1, b->w1 + 15 * MIN, 2000, now), 0);
}

/* Deliver (e_wh < 0: computed), settle, and check the figures. */
static void deliver_and_settle(struct bcase *b, const char *rule, int64_t e_wh, int64_t want_wh,
                               int64_t want_base, int64_t want_meas, int64_t want_gross)
{
    struct sim_err err;
    int64_t now = b->w1 + 30 * MIN;
    int rc = mkt_do_delivery(b->f.e, &b->f.dso, b->mid, e_wh, now, &err);
    CHECK(rc == 0, "%s: delivery: %s", rule, err.msg);
    struct mkt_match m;
    CHECK_INT(mkt_match_get(b->f.e, b->mid, &m, &err), 0);
    CHECK(m.delivered_wh == want_wh, "%s: delivered %lld Wh, want %lld", rule,
          (long long)m.delivered_wh, (long long)want_wh);
    int64_t base = -1, meas = -1;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(b->f.db,
                       "SELECT coalesce(baseline_wh, -1), coalesce(measured_wh, -1)"
                       " FROM mkt_deliveries WHERE match_id=?",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, b->mid);
    if (sqlite3_step(st) == SQLITE_ROW) {
        base = sqlite3_column_int64(st, 0);
        meas = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    CHECK(base == want_base && meas == want_meas, "%s: baseline %lld measured %lld, want %lld %lld",
          rule, (long long)base, (long long)meas, (long long)want_base, (long long)want_meas);
    CHECK_INT(mkt_do_settle(b->f.e, &b->f.dso, b->rid, now, NULL, &err), 0);
    CHECK_INT(mkt_match_get(b->f.e, b->mid, &m, &err), 0);
    CHECK(m.payout_ueur == want_gross, "%s: gross payout %lld ueur, want %lld", rule,
          (long long)m.payout_ueur, (long long)want_gross);
    fx_check_conserved(&b->f, rule);
    struct mkt_verify_report rep;
    CHECK_INT(mkt_ledger_verify(b->f.db, &rep, &err), 0);
    CHECK(rep.ok && rep.state_ok, "%s: ledger verify: %s", rule, rep.reason);
}

static void test_metered(void)
{
    struct bcase b;
    struct sim_err err;
    open_case(&b, MKT_BASELINE_METERED, 0, 0);
    CHECK_INT(mkt_do_delivery(b.f.e, &b.f.dso, b.mid, -1, b.w1 + MIN, &err), SIM_EINVAL);
    CHECK(strstr(err.msg, "e_wh: missing"), "metered: %s", err.msg);
    deliver_and_settle(&b, "metered", 2250, 2250, -1, -1, 225000);
    fx_close(&b.f);
}

static void test_meter_before(void)
{
    struct bcase b;
    struct sim_err err;
    open_case(&b, MKT_BASELINE_METER_BEFORE, 0, 0);
    int64_t now = b.w1 + 30 * MIN;
    /* the window's reading alone: the baseline's span is not covered */
    readings(&b, 0, 0);
    CHECK_INT(mkt_do_delivery(b.f.e, &b.f.dso, b.mid, -1, now, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "cover 0 of the 900 s"), "uncovered: %s", err.msg);
    CHECK_INT(meter(&b, b.w0 - 15 * MIN, b.w0, 1750, now), 0);
    /* a computed market takes no reported energy */
    CHECK_INT(mkt_do_delivery(b.f.e, &b.f.dso, b.mid, 7500, now, &err), SIM_EINVAL);
    CHECK(strstr(err.msg, "leave e_wh out"), "e_wh given: %s", err.msg);
    /* readings are of the past, do not overlap, and come from the
     * metering side */
    CHECK_INT(mkt_do_meter(b.f.e, &b.f.op, b.ev, now, now + MIN, 1, now, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "of the past"), "future reading: %s", err.msg);
    CHECK_INT(mkt_do_meter(b.f.e, &b.f.op, b.ev, b.w0 - 5 * MIN, b.w0 + 5 * MIN, 1, now, &err),
              SIM_ESTATE);
    CHECK(strstr(err.msg, "overlaps meter reading"), "overlap: %s", err.msg);
    CHECK_INT(mkt_do_meter(b.f.e, &b.f.fsp2, b.ev, b.w1, b.w1 + MIN, 1, now, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_meter(b.f.e, &b.f.op, b.ev, b.w1 + MIN, b.w1, 1, now, &err), SIM_EINVAL);
    CHECK_INT(mkt_do_meter(b.f.e, &b.f.op, 99, b.w1, b.w1 + MIN, 1, now, &err), SIM_ENOENT);
    /* the EV: paid for 10 kW, not 3 */
    deliver_and_settle(&b, "meter_before", -1, 7500, 5250, -2250, 750000);
    fx_close(&b.f);

    /* one longer reading counts pro rata */
    open_case(&b, MKT_BASELINE_METER_BEFORE, 0, 0);
    CHECK_INT(meter(&b, b.w0 - 30 * MIN, b.w0, 3500, now), 0);
    CHECK_INT(meter(&b, b.w0, b.w1, -2250, now), 0);
    deliver_and_settle(&b, "meter_before pro rata", -1, 7500, 5250, -2250, 750000);
    fx_close(&b.f);
}

static void test_meter_before_after(void)
{
    struct bcase b;
    struct sim_err err;
    open_case(&b, MKT_BASELINE_METER_BEFORE_AFTER, 0, 0);
    readings(&b, 1, 1);
    CHECK_INT(mkt_do_delivery(b.f.e, &b.f.dso, b.mid, -1, b.w1 + 10 * MIN, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "after the window"), "too early: %s", err.msg);
    deliver_and_settle(&b, "meter_before_after", -1, 7875, 5625, -2250, 750000);
    struct mkt_match m;
    CHECK_INT(mkt_match_get(b.f.e, b.mid, &m, &err), 0);
    CHECK_INT(m.rate_ppm, 1050000);
    fx_close(&b.f);
}

static void test_x_of_y(void)
{
    struct bcase b;
    open_case(&b, MKT_BASELINE_X_OF_Y, 2, 3);
    int64_t now = b.w1 + 30 * MIN;
    readings(&b, 0, 0);
    static const int64_t day_wh[3] = {5000, 5400, 4800};
    for (int k = 1; k <= 2; k++)
        CHECK_INT(meter(&b, b.w0 - k * DAY, b.w1 - k * DAY, day_wh[k - 1], now), 0);
    struct sim_err err;
    CHECK_INT(mkt_do_delivery(b.f.e, &b.f.dso, b.mid, -1, now, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "cover 0 of the 2700 s"), "day -3 missing: %s", err.msg);
    CHECK_INT(meter(&b, b.w0 - 3 * DAY, b.w1 - 3 * DAY, day_wh[2], now), 0);
    deliver_and_settle(&b, "x_of_y", -1, 7450, 5200, -2250, 745000);
    fx_close(&b.f);
}

static void test_nominated(void)
{
    struct bcase b;
    struct sim_err err;
    open_case(&b, MKT_BASELINE_NOMINATED, 0, 0);
    int64_t t = b.f.t0;
    /* only the asset's FSP, and only before the span starts */
    CHECK_INT(mkt_do_prognosis(b.f.e, &b.f.dso, b.ev, b.w0, b.w1, 7000, t, &err), SIM_ESTATE);
    CHECK_INT(mkt_do_prognosis(b.f.e, &b.f.fsp1, b.ev, b.w0, b.w1, 7000, t, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "not one of yours"), "another's asset: %s", err.msg);
    CHECK_INT(mkt_do_prognosis(b.f.e, &b.f.fsp2, b.ev, b.w0, b.w1, 7000, b.w0, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "gate closure"), "late: %s", err.msg);
    CHECK_INT(mkt_do_prognosis(b.f.e, &b.f.fsp2, b.ev, b.w0, b.w0 + 20 * MIN, 7000, t, &err), 0);
    CHECK_INT(mkt_do_prognosis(b.f.e, &b.f.fsp2, b.ev, b.w0 + 10 * MIN, b.w1, 7000, t, &err),
              SIM_ESTATE);
    CHECK(strstr(err.msg, "overlaps prognosis"), "overlap: %s", err.msg);
    readings(&b, 0, 0);
    /* 20 of the 45 minutes nominated: not covered */
    CHECK_INT(mkt_do_delivery(b.f.e, &b.f.dso, b.mid, -1, b.w1 + 30 * MIN, &err), SIM_ESTATE);
    CHECK(strstr(err.msg, "prognoses of asset"), "uncovered: %s", err.msg);
    CHECK_INT(mkt_do_prognosis(b.f.e, &b.f.fsp2, b.ev, b.w0 + 20 * MIN, b.w1, 7000, t, &err), 0);
    deliver_and_settle(&b, "nominated", -1, 7500, 5250, -2250, 750000);
    fx_close(&b.f);
}

/* Rules are checked at genesis; a metered market's genesis is unchanged. */
static void test_params(void)
{
    struct fx f;
    struct sim_err err;
    fx_open(&f, NULL, 0, 0);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(f.db, "SELECT json FROM mkt_tx WHERE action='genesis'", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW &&
              !strstr((const char *)sqlite3_column_text(st, 0), "baseline"),
          "a metered market's genesis names no baseline");
    sqlite3_finalize(st);
    fx_close(&f);
    static const char *const bad[] = {
        "{\"baseline\":\"typical_day\"}",
        "{\"baseline\":\"x_of_y\",\"baseline_x\":4,\"baseline_y\":3}",
        "{\"baseline\":\"x_of_y\",\"baseline_y\":3}",
        "{\"baseline\":\"meter_before\",\"baseline_us\":1000}",
        "{\"baseline\":\"x_of_y\",\"baseline_x\":1,\"baseline_y\":61}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sqlite3 *db;
        mkt_engine *e;
        sqlite3_open(":memory:", &db);
        CHECK_INT(mkt_engine_new(db, &e, &err), 0);
        struct mkt_key op;
        mkt_key_derive(7, "operator", &op, &err);
        char json[256];
        snprintf(json, sizeof json, "{\"action\":\"genesis\",\"name\":\"m\",\"params\":%s}", bad[i]);
        struct mkt_receipt rc;
        int r = mkt_sign_submit(e, &op, json, FX_T0, &rc, &err);
        CHECK(r == SIM_EINVAL && strstr(err.msg, "params.baseline"), "%s: %d %s", bad[i], r,
              err.msg);
        mkt_engine_free(e);
        sqlite3_close(db);
    }
}

int main(void)
{
    test_metered();
    test_meter_before();
    test_meter_before_after();
    test_x_of_y();
    test_nominated();
    test_params();
    return check_done("test_baseline");
}
