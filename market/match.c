/*
 * match.c: pairing a DSO's requests with FSPs' offers.
 *
 * For one request the eligible offers are the open ones at the same
 * location, in the same direction (sign of the power), whose window covers
 * the request's, whose price is at most the request's maximum and whose
 * validity has not run out. They are taken in merit order (price, then
 * submission sequence, then id) until the request's volume is met: with
 * partial fills an offer may be partly taken, without them an offer that
 * does not fit whole into the remaining need is skipped. Pay-as-bid pays
 * each offer its own price; pay-as-clear pays every match of the request
 * the highest accepted price. What is left is reported as unmet volume.
 * An offer may also ask a reservation (availability) price per kW per hour,
 * which the request caps; merit order then ranks by energy price plus
 * availability price, and availability is always paid as bid.
 *
 * Matches are proposals until the DSO buys them (settle.c); re-matching a
 * matched request, or withdrawing it, first gives the proposed volume back
 * to its offers (mkt__release_matches).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One offer taken (wholly or partly) for a request. */
struct take {
    int64_t offer_id, asset_id, take_w, price, availability;
    char fsp[MKT_ADDR_STRLEN];
};

/* Micro-euros for |p_w| W over dur_us at price ueur/kWh:
 * W x us x ueur/kWh / (1000 W/kW x 3.6e9 us/h). */
static int amount_of(int64_t p_w, int64_t dur_us, int64_t price, int64_t *amount,
                     struct sim_err *err)
{
    mkt_i128 num = (mkt_i128)(p_w < 0 ? -p_w : p_w) * dur_us * price;
    mkt_i128 q = num / ((mkt_i128)3600 * 1000000000);
    if (q > ((mkt_i128)1 << 53))
        return sim_errf(err, SIM_ERANGE, "amount: a match would cost more than 2^53 ueur");
    *amount = mkt__div_round(num, (mkt_i128)3600 * 1000000000);
    return 0;
}

int mkt__release_matches(mkt_engine *e, int64_t request_id, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(e->db, &st, err,
                       "SELECT offer_id, p_w FROM mkt_matches WHERE request_id=? AND state=?", "ii",
                       request_id, (int64_t)MKT_MATCHED);
    if (rc)
        return rc;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        int64_t oid = sqlite3_column_int64(st, 0), p = sqlite3_column_int64(st, 1);
        /* A withdrawn offer keeps nothing: its released volume is not reopened. */
        rc = mkt__sql(e->db, err,
                      "UPDATE mkt_offers SET remaining_w = remaining_w + ?, state = ?"
                      " WHERE id=? AND state IN (?, ?)",
                      "iiiii", p, (int64_t)MKT_OPEN, oid, (int64_t)MKT_OPEN, (int64_t)MKT_MATCHED);
    }
    mkt__finish(st);
    if (!rc)
        rc = mkt__sql(e->db, err, "DELETE FROM mkt_matches WHERE request_id=? AND state=?", "ii",
                      request_id, (int64_t)MKT_MATCHED);
    if (!rc)
        rc = mkt__sql(e->db, err, "UPDATE mkt_requests SET unmet_w = p_w, state=? WHERE id=?", "ii",
                      (int64_t)MKT_OPEN, request_id);
    return rc;
}

/* Match one request of the sender. */
static int match_one(struct mkt_txctx *c, int64_t rid, struct sim_err *err)
{
    mkt_engine *e = c->e;
    struct mkt_request r;
    int rc = mkt_request_get(e, rid, &r, err);
    if (rc)
        return sim_errf(err, rc, "request_id: no request %lld", (long long)rid);
    if (memcmp(r.dso, c->from, 20)) {
        char a[MKT_ADDR_STRLEN];
        return sim_errf(err, SIM_ESTATE, "request_id: request %lld belongs to %s", (long long)rid,
                        mkt_address_format(r.dso, a));
    }
    if (r.state != MKT_OPEN && r.state != MKT_MATCHED)
        return sim_errf(err, SIM_ESTATE, "request_id: request %lld is %s and cannot be matched",
                        (long long)rid, mkt_state_name(r.state));
    if (c->now >= r.end)
        return sim_errf(err, SIM_ESTATE, "request_id: the window of request %lld is over",
                        (long long)rid);
    if ((rc = mkt__gate_open(e, c->now, r.start, "request_id", err)))
        return rc;
    if (r.state == MKT_MATCHED && (rc = mkt__release_matches(e, rid, err)))
        return rc;

    int64_t sign = r.p_w < 0 ? -1 : 1, need = r.p_w * sign, dur = r.end - r.start;
    sqlite3_stmt *st;
    rc = mkt__stmt(e->db, &st, err,
                   "SELECT id, asset_id, fsp, remaining_w, price_ueur_per_kwh,"
                   " availability_ueur_per_kw_h FROM mkt_offers"
                   " WHERE state=? AND location=? AND start_us<=? AND end_us>=?"
                   " AND price_ueur_per_kwh<=? AND valid_until_us>=? AND remaining_w * ? > 0"
                   " AND availability_ueur_per_kw_h<=?"
                   " ORDER BY price_ueur_per_kwh + availability_ueur_per_kw_h, seq, id",
                   "isiiiiii", (int64_t)MKT_OPEN, r.location, r.start, r.end,
                   r.max_price_ueur_per_kwh, c->now, sign, r.max_availability_ueur_per_kw_h);
    if (rc)
        return rc;
    struct take *takes = NULL;
    size_t n = 0, cap = 0;
    int sr;
    while (need > 0 && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t avail = sqlite3_column_int64(st, 3) * sign;
        int64_t take = avail < need ? avail : need;
        if (!e->params.partial_fills && take < avail)
            continue; /* whole or not at all: a later, smaller offer may fit */
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            struct take *t = realloc(takes, nc * sizeof *t);
            if (!t) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                break;
            }
            takes = t;
            cap = nc;
        }
        struct take *t = &takes[n++];
        t->offer_id = sqlite3_column_int64(st, 0);
        t->asset_id = sqlite3_column_int64(st, 1);
        snprintf(t->fsp, sizeof t->fsp, "%s", (const char *)sqlite3_column_text(st, 2));
        t->take_w = take;
        t->price = sqlite3_column_int64(st, 4);
        t->availability = sqlite3_column_int64(st, 5);
        need -= take;
    }
    mkt__finish(st);

    /* Pay-as-clear: the marginal (highest) accepted price for every match. */
    int64_t clear = 0;
    for (size_t i = 0; i < n; i++)
        if (takes[i].price > clear)
            clear = takes[i].price;
    char dso[MKT_ADDR_STRLEN];
    mkt_address_format(r.dso, dso);
    for (size_t i = 0; !rc && i < n; i++) {
        struct take *t = &takes[i];
        int64_t price = e->params.pricing == MKT_PAY_AS_CLEAR ? clear : t->price, amount = 0;
        int64_t avail = 0; /* availability: always the offer's own price */
        if ((rc = amount_of(t->take_w, dur, price, &amount, err)) ||
            (rc = amount_of(t->take_w, dur, t->availability, &avail, err)))
            break;
        rc = mkt__sql(e->db, err,
                      "INSERT INTO mkt_matches(request_id, offer_id, asset_id, fsp, dso, start_us,"
                      " end_us, p_w, price_ueur_per_kwh, amount_ueur, state, merit, seq,"
                      " availability_ueur_per_kw_h, availability_ueur)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      "iiissiiiiiiiiii", rid, t->offer_id, t->asset_id, t->fsp, dso, r.start,
                      r.end, t->take_w * sign, price, amount, (int64_t)MKT_MATCHED, (int64_t)i,
                      c->seq, t->availability, avail);
        if (!rc)
            rc = mkt__sql(e->db, err,
                          "UPDATE mkt_offers SET remaining_w = remaining_w - ?,"
                          " state = CASE WHEN remaining_w - ? = 0 THEN ? ELSE state END"
                          " WHERE id=?",
                          "iiii", t->take_w * sign, t->take_w * sign, (int64_t)MKT_MATCHED,
                          t->offer_id);
        c->rc->matched_w += t->take_w;
    }
    free(takes);
    if (rc)
        return rc;
    c->rc->n_matches += (int)n;
    c->rc->unmet_w += need;
    return mkt__sql(e->db, err, "UPDATE mkt_requests SET unmet_w=?, state=? WHERE id=?", "iii",
                    need * sign, (int64_t)(n ? MKT_MATCHED : MKT_OPEN), rid);
}

int mkt__act_match(struct mkt_txctx *c, struct sim_err *err)
{
    int64_t rid;
    int present;
    int rc = mkt__get_int_opt(c->root, "request_id", &rid, &present, err);
    if (rc)
        return rc;
    if (present) {
        c->rc->id = rid;
        return match_one(c, rid, err);
    }
    /* Every open request of the sender whose window is not over, in
     * submission order: earlier requests have first pick of the offers. */
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    sqlite3_stmt *st;
    rc = mkt__stmt(
        c->e->db, &st, err,
        "SELECT id FROM mkt_requests WHERE dso=? AND state=? AND end_us>? ORDER BY seq, id", "sii",
        me, (int64_t)MKT_OPEN, c->now);
    if (rc)
        return rc;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            int64_t *p = realloc(ids, nc * sizeof *p);
            if (!p) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                break;
            }
            ids = p;
            cap = nc;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    mkt__finish(st);
    for (size_t i = 0; !rc && i < n; i++)
        rc = match_one(c, ids[i], err);
    free(ids);
    return rc;
}
