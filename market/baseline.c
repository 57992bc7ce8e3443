/*
 * baseline.c: measurement and verification. Meter readings and FSP
 * prognoses as signed actions, and the delivered energy of a match
 * measured against the baseline the market's rules name (params.baseline,
 * fixed at genesis):
 *
 *   metered             the delivery report's e_wh is the delivered energy
 *                       (the demo's rule: the asset's metered export)
 *   meter_before        the asset's mean power over baseline_us before the
 *                       window, held over the window
 *   meter_before_after  the mean of that and of the same span after the
 *                       window
 *   x_of_y              the mean energy, over the same window, of the X days
 *                       of the Y days before (24 h apart) with the highest
 *                       net consumption ("high X of Y")
 *   nominated           the FSP's prognosis (USEF's D-prognosis) for the
 *                       asset, submitted before the window starts
 *
 * Energies are the asset's net import (consumption positive). For a
 * request to reduce consumption (p_w < 0) the delivered energy is
 * baseline - measured; to increase it, measured - baseline; never below
 * zero. So an EV that was charging at 7 kW and, asked to reduce by 10 kW,
 * stops and discharges 3 kW has delivered 10 kW against meter_before,
 * where the metered export alone would credit 3.
 *
 * A meter reading is the net energy of one asset over [start, end), in the
 * past; a prognosis a constant power over [start, end), in the future.
 * Neither may overlap another of the same asset, so a span is covered when
 * the overlaps add up to its length; a reading that crosses a span's edge
 * counts pro rata (uniform within the reading). Everything is integer:
 * energies in W x us (Wh x 3.6e9) in 128 bits, rounded to Wh at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WUS_PER_WH INT64_C(3600000000)
#define DAY_US (INT64_C(86400) * 1000000)
#define MAX_SPAN_US (INT64_C(31) * DAY_US)

static const char *const baseline_names[] = {"metered", "meter_before", "meter_before_after",
                                             "x_of_y", "nominated"};

const char *mkt_baseline_name(enum mkt_baseline b)
{
    return (unsigned)b < sizeof baseline_names / sizeof baseline_names[0] ? baseline_names[b]
                                                                         : "unknown";
}

int mkt_baseline_parse(const char *s, enum mkt_baseline *out)
{
    for (size_t i = 0; i < sizeof baseline_names / sizeof baseline_names[0]; i++)
        if (!strcmp(s, baseline_names[i])) {
            *out = (enum mkt_baseline)i;
            return 0;
        }
    return SIM_EINVAL;
}

/* num / den rounded half away from zero, den > 0, in 128 bits. */
static mkt_i128 rdiv(mkt_i128 num, mkt_i128 den)
{
    return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

/* The interval [start_us, end_us) of an action, checked. */
static int get_span(const cJSON *root, int64_t *start, int64_t *end, struct sim_err *err)
{
    int rc;
    if ((rc = mkt__get_int(root, "start_us", start, err)) ||
        (rc = mkt__get_int(root, "end_us", end, err)))
        return rc;
    if (*end <= *start)
        return sim_errf(err, SIM_EINVAL, "end_us: must be after start_us");
    if (*end - *start > MAX_SPAN_US)
        return sim_errf(err, SIM_EINVAL, "end_us: a span is at most 31 days");
    return 0;
}

/* Is [start, end) free of the asset's rows in table (mkt_meter or
 * mkt_prognoses)? 0, or SIM_ESTATE naming the row in the way. */
static int no_overlap(mkt_engine *e, const char *sql, const char *what, int64_t asset,
                      int64_t start, int64_t end, struct sim_err *err)
{
    int64_t id = 0;
    int rc = mkt__sql_int(e->db, &id, err, sql, "iii", asset, end, start);
    if (rc == SIM_ENOENT)
        return 0;
    if (rc)
        return rc;
    return sim_errf(err, SIM_ESTATE, "start_us: overlaps %s %lld of asset %lld", what,
                    (long long)id, (long long)asset);
}

int mkt__act_meter(struct mkt_txctx *c, struct sim_err *err)
{
    mkt_engine *e = c->e;
    int64_t asset, start, end, e_wh;
    int rc;
    if ((rc = mkt__get_int(c->root, "asset_id", &asset, err)) ||
        (rc = get_span(c->root, &start, &end, err)) ||
        (rc = mkt__get_int(c->root, "e_wh", &e_wh, err)))
        return rc;
    struct mkt_asset a;
    if ((rc = mkt_asset_get(e, asset, &a, err)))
        return sim_errf(err, rc, "asset_id: no asset %lld", (long long)asset);
    c->rc->id = asset;
    if (end > c->now)
        return sim_errf(err, SIM_ESTATE, "end_us: a meter reading is of the past; %lld is ahead "
                        "of now (%lld)", (long long)end, (long long)c->now);
    if (e_wh < -INT64_C(1000000000000) || e_wh > INT64_C(1000000000000))
        return sim_errf(err, SIM_EINVAL, "e_wh: must be within +-1e12 Wh");
    if ((rc = no_overlap(e,
                         "SELECT id FROM mkt_meter WHERE asset_id=? AND start_us<? AND end_us>?"
                         " ORDER BY id LIMIT 1",
                         "meter reading", asset, start, end, err)))
        return rc;
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    return mkt__sql(e->db, err,
                    "INSERT INTO mkt_meter(asset_id, start_us, end_us, e_wh, reporter, seq)"
                    " VALUES (?,?,?,?,?,?)",
                    "iiiisi", asset, start, end, e_wh, me, c->seq);
}

int mkt__act_prognosis(struct mkt_txctx *c, struct sim_err *err)
{
    mkt_engine *e = c->e;
    int64_t asset, start, end, p_w;
    int rc;
    if ((rc = mkt__get_int(c->root, "asset_id", &asset, err)) ||
        (rc = get_span(c->root, &start, &end, err)) ||
        (rc = mkt__get_int(c->root, "p_w", &p_w, err)))
        return rc;
    struct mkt_asset a;
    if ((rc = mkt_asset_get(e, asset, &a, err)))
        return sim_errf(err, rc, "asset_id: no asset %lld", (long long)asset);
    c->rc->id = asset;
    if (memcmp(a.owner, c->from, 20) || a.removed)
        return sim_errf(err, SIM_ESTATE, "asset_id: asset %lld is not one of yours",
                        (long long)asset);
    if (c->now >= start)
        return sim_errf(err, SIM_ESTATE, "start_us: a prognosis must come before its span starts "
                        "(gate closure)");
    if (p_w < -INT64_C(1000000000) || p_w > INT64_C(1000000000))
        return sim_errf(err, SIM_EINVAL, "p_w: must be within +-1e9 W");
    if ((rc = no_overlap(e,
                         "SELECT id FROM mkt_prognoses WHERE asset_id=? AND start_us<? AND end_us>?"
                         " ORDER BY id LIMIT 1",
                         "prognosis", asset, start, end, err)))
        return rc;
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    return mkt__sql(e->db, err,
                    "INSERT INTO mkt_prognoses(asset_id, start_us, end_us, p_w, fsp, seq)"
                    " VALUES (?,?,?,?,?,?)",
                    "iiiisi", asset, start, end, p_w, me, c->seq);
}

/* The asset's net energy over [a, b) in W x us, from its meter readings
 * (prognosis = 0) or its prognoses (1). SIM_ESTATE naming the span when
 * the rows do not cover it. */
static int span_energy(mkt_engine *e, int64_t asset, int64_t a, int64_t b, int prognosis,
                       const char *what, mkt_i128 *wus, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err,
                       prognosis ? "SELECT start_us, end_us, p_w FROM mkt_prognoses"
                                   " WHERE asset_id=? AND start_us<? AND end_us>?"
                                 : "SELECT start_us, end_us, e_wh FROM mkt_meter"
                                   " WHERE asset_id=? AND start_us<? AND end_us>?",
                       "iii", asset, b, a);
    if (rc)
        return rc;
    mkt_i128 sum = 0;
    int64_t covered = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t s = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 1),
                v = sqlite3_column_int64(st, 2);
        int64_t lo = s > a ? s : a, hi = t < b ? t : b;
        covered += hi - lo;
        if (prognosis)
            sum += (mkt_i128)v * (hi - lo);
        else if (hi - lo == t - s)
            sum += (mkt_i128)v * WUS_PER_WH;
        else
            sum += rdiv((mkt_i128)v * WUS_PER_WH * (hi - lo), t - s);
    }
    mkt__finish(st);
    if (r != SQLITE_DONE)
        return sim_errf(err, SIM_EIO, "market database: %s", sqlite3_errmsg(e->db));
    if (covered != b - a)
        return sim_errf(err, SIM_ESTATE,
                        "match_id: the %s of asset %lld cover %lld of the %lld s of [%lld, %lld)"
                        " that the baseline needs",
                        what, (long long)asset, (long long)(covered / 1000000),
                        (long long)((b - a) / 1000000), (long long)a, (long long)b);
    *wus = sum;
    return 0;
}

static int cmp_desc(const void *x, const void *y)
{
    mkt_i128 a = *(const mkt_i128 *)x, b = *(const mkt_i128 *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

int mkt__baseline_delivery(mkt_engine *e, const struct mkt_match *m, sim_time_us now,
                           int64_t *delivered_wh, int64_t *baseline_wh, int64_t *measured_wh,
                           struct sim_err *err)
{
    const struct mkt_params *p = &e->params;
    int64_t s = m->start, t = m->end, d = t - s, B = p->baseline_us;
    mkt_i128 base = 0, meas = 0, x;
    int rc;
    switch (p->baseline) {
    case MKT_BASELINE_METER_BEFORE:
        if ((rc = span_energy(e, m->asset_id, s - B, s, 0, "meter readings", &x, err)))
            return rc;
        base = rdiv(x * d, B);
        break;
    case MKT_BASELINE_METER_BEFORE_AFTER: {
        if (now < t + B)
            return sim_errf(err, SIM_ESTATE,
                            "match_id: the baseline needs the %lld s after the window of match "
                            "%lld; report after them",
                            (long long)(B / 1000000), (long long)m->id);
        mkt_i128 after;
        if ((rc = span_energy(e, m->asset_id, s - B, s, 0, "meter readings", &x, err)) ||
            (rc = span_energy(e, m->asset_id, t, t + B, 0, "meter readings", &after, err)))
            return rc;
        base = rdiv((x + after) * d, 2 * B);
        break;
    }
    case MKT_BASELINE_X_OF_Y: {
        mkt_i128 day[MKT_BASELINE_MAX_Y];
        for (int k = 1; k <= p->baseline_y; k++)
            if ((rc = span_energy(e, m->asset_id, s - k * DAY_US, t - k * DAY_US, 0,
                                  "meter readings", &day[k - 1], err)))
                return rc;
        qsort(day, (size_t)p->baseline_y, sizeof day[0], cmp_desc);
        for (int k = 0; k < p->baseline_x; k++)
            base += day[k];
        base = rdiv(base, p->baseline_x);
        break;
    }
    case MKT_BASELINE_NOMINATED:
        if ((rc = span_energy(e, m->asset_id, s, t, 1, "prognoses", &base, err)))
            return rc;
        break;
    case MKT_BASELINE_METERED:
    default:
        return sim_errf(err, SIM_EINVAL, "baseline: the market reports metered energy");
    }
    if ((rc = span_energy(e, m->asset_id, s, t, 0, "meter readings", &meas, err)))
        return rc;
    *baseline_wh = (int64_t)rdiv(base, WUS_PER_WH);
    *measured_wh = (int64_t)rdiv(meas, WUS_PER_WH);
    mkt_i128 del = m->p_w < 0 ? base - meas : meas - base;
    *delivered_wh = del > 0 ? (int64_t)rdiv(del, WUS_PER_WH) : 0;
    return 0;
}
