/*
 * settle.c: payment, dispatch, metered delivery and settlement.
 *
 * Purchase: the DSO buys every proposed match of a request; the sum of the
 * matches' amounts leaves its wallet for the request's escrow, and one
 * dispatch instruction per match tells the asset what to do (the setpoint
 * the EV management platform forwards, paper step 4).
 * Delivery: after the window the metering side (the DSO or the operator)
 * records the energy each matched asset delivered, or, in a market that
 * measures against a baseline, asks the market to compute it from the
 * signed meter readings (baseline.c); the delivery rate is delivered /
 * accepted energy.
 * Settlement: per match a gross payout under the market's rule
 *   pay_as_delivered:       price x delivered energy, at most the escrowed amount;
 *   pro_rata_with_penalty:  amount x min(rate, 1), less penalty_ppm of it when
 *                           the rate is below penalty_threshold_ppm;
 *   nothing of either below utilisation_floor_ppm; plus, for an offer with a
 *   reservation price, availability x min(rate, 1), nothing below
 *   availability_floor_ppm;
 * then a settlement fee (settle_fee_ppm of the gross plus payout_fee_ueur,
 * capped at the gross) goes to the operator, the rest to the FSP, and what
 * the gross leaves of the amount returns to the DSO. Every micro-euro of
 * the escrow ends in exactly one wallet.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The request named by request_id, which must belong to the sender. */
static int own_request(struct mkt_txctx *c, struct mkt_request *r, struct sim_err *err)
{
    int64_t rid;
    int rc = mkt__get_int(c->root, "request_id", &rid, err);
    if (rc)
        return rc;
    if ((rc = mkt_request_get(c->e, rid, r, err)))
        return sim_errf(err, rc, "request_id: no request %lld", (long long)rid);
    if (memcmp(r->dso, c->from, 20)) {
        char a[MKT_ADDR_STRLEN];
        return sim_errf(err, SIM_ESTATE, "request_id: request %lld belongs to %s", (long long)rid,
                        mkt_address_format(r->dso, a));
    }
    c->rc->id = rid;
    return 0;
}

int mkt__act_purchase(struct mkt_txctx *c, struct sim_err *err)
{
    mkt_engine *e = c->e;
    struct mkt_request r;
    int rc = own_request(c, &r, err);
    if (rc)
        return rc;
    if (r.state != MKT_MATCHED)
        return sim_errf(err, SIM_ESTATE,
                        "request_id: request %lld is %s; only a matched request can be bought",
                        (long long)r.id, mkt_state_name(r.state));
    if (c->now >= r.end)
        return sim_errf(err, SIM_ESTATE, "request_id: the window of request %lld is over",
                        (long long)r.id);
    if ((rc = mkt__gate_open(e, c->now, r.start, "request_id", err)))
        return rc;
    int64_t total = 0;
    if ((rc = mkt__sql_int(e->db, &total, err,
                           "SELECT coalesce(sum(amount_ueur + availability_ueur), 0)"
                           " FROM mkt_matches WHERE request_id=? AND state=?",
                           "ii", r.id, (int64_t)MKT_MATCHED)))
        return rc;
    if ((rc = mkt__wallet_add(e, c->from, -total, err)))
        return rc;
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    if ((rc = mkt__sql(e->db, err,
                       "INSERT INTO mkt_purchases(request_id, dso, amount_ueur, escrow_ueur, seq)"
                       " VALUES (?,?,?,?,?)",
                       "isiii", r.id, me, total, total, c->seq)))
        return rc;
    /* One setpoint per match, in merit order. */
    if ((rc = mkt__sql(e->db, err,
                       "INSERT INTO mkt_dispatch(match_id, asset_id, start_us, end_us, p_w, seq)"
                       " SELECT id, asset_id, start_us, end_us, p_w, ? FROM mkt_matches"
                       " WHERE request_id=? AND state=? ORDER BY merit, id",
                       "iii", c->seq, r.id, (int64_t)MKT_MATCHED)) ||
        (rc = mkt__sql(e->db, err, "UPDATE mkt_matches SET state=? WHERE request_id=? AND state=?",
                       "iii", (int64_t)MKT_PURCHASED, r.id, (int64_t)MKT_MATCHED)) ||
        (rc = mkt__sql(e->db, err, "UPDATE mkt_requests SET state=? WHERE id=?", "ii",
                       (int64_t)MKT_PURCHASED, r.id)))
        return rc;
    c->rc->amount_ueur = total;
    return 0;
}

/* Accepted energy of a match in Wh x 3.6e9 (i.e. W x us): |p_w| x window. */
static mkt_i128 accepted_wus(const struct mkt_match *m)
{
    return (mkt_i128)(m->p_w < 0 ? -m->p_w : m->p_w) * (m->end - m->start);
}

int mkt__act_delivery(struct mkt_txctx *c, struct sim_err *err)
{
    mkt_engine *e = c->e;
    int64_t mid, e_wh = 0, base_wh = 0, meas_wh = 0;
    int rc, measured = e->params.baseline != MKT_BASELINE_METERED, has_e;
    if ((rc = mkt__get_int(c->root, "match_id", &mid, err)) ||
        (rc = mkt__get_int_opt(c->root, "e_wh", &e_wh, &has_e, err)))
        return rc;
    if (measured && has_e)
        return sim_errf(err, SIM_EINVAL,
                        "e_wh: this market measures delivery against its baseline (%s): the "
                        "delivered energy comes from the meter readings; leave e_wh out",
                        mkt_baseline_name(e->params.baseline));
    if (!measured && !has_e)
        return sim_errf(err, SIM_EINVAL, "e_wh: missing (the metered energy delivered, Wh)");
    struct mkt_match m;
    if ((rc = mkt_match_get(e, mid, &m, err)))
        return sim_errf(err, rc, "match_id: no match %lld", (long long)mid);
    c->rc->id = mid;
    if (c->role != MKT_ROLE_OPERATOR && memcmp(m.dso, c->from, 20))
        return sim_errf(err, SIM_ESTATE,
                        "match_id: only the buying DSO or the operator may report delivery "
                        "for match %lld",
                        (long long)mid);
    if (m.state == MKT_DELIVERED || m.state == MKT_SETTLED)
        return sim_errf(err, SIM_ESTATE, "match_id: delivery of match %lld is already recorded",
                        (long long)mid);
    if (m.state != MKT_PURCHASED)
        return sim_errf(err, SIM_ESTATE, "match_id: match %lld is %s, not purchased",
                        (long long)mid, mkt_state_name(m.state));
    if (c->now < m.end)
        return sim_errf(err, SIM_ESTATE,
                        "match_id: the window of match %lld is not over; meter after it ends",
                        (long long)mid);
    if (measured &&
        (rc = mkt__baseline_delivery(e, &m, c->now, &e_wh, &base_wh, &meas_wh, err)))
        return rc;
    if (e_wh < 0 || e_wh > INT64_C(1000000000000))
        return sim_errf(err, SIM_EINVAL, "e_wh: must be in 0..1e12 Wh");
    /* rate = e_wh x 3.6e9 us/h / (|p| x dur), in ppm */
    int64_t rate = mkt__div_round((mkt_i128)e_wh * 3600000000 * 1000000, accepted_wus(&m));
    char me[MKT_ADDR_STRLEN];
    mkt_address_format(c->from, me);
    if ((rc = measured ? mkt__sql(e->db, err,
                                  "INSERT INTO mkt_deliveries(match_id, e_wh, rate_ppm, reporter,"
                                  " seq, baseline_wh, measured_wh) VALUES (?,?,?,?,?,?,?)",
                                  "iiisiii", mid, e_wh, rate, me, c->seq, base_wh, meas_wh)
                       : mkt__sql(e->db, err,
                                  "INSERT INTO mkt_deliveries(match_id, e_wh, rate_ppm, reporter,"
                                  " seq) VALUES (?,?,?,?,?)",
                                  "iiisi", mid, e_wh, rate, me, c->seq)))
        return rc;
    return mkt__sql(e->db, err,
                    "UPDATE mkt_matches SET delivered_wh=?, rate_ppm=?, state=? WHERE id=?", "iiii",
                    e_wh, rate, (int64_t)MKT_DELIVERED, mid);
}

/* Gross utilisation payout of one delivered match under the market's
 * rule: nothing below the utilisation floor. */
static int64_t gross_payout(const struct mkt_params *p, const struct mkt_match *m)
{
    int64_t gross;
    if (m->rate_ppm < p->utilisation_floor_ppm)
        return 0;
    if (p->payout_rule == MKT_PAY_AS_DELIVERED) {
        gross = mkt__div_round((mkt_i128)m->price_ueur_per_kwh * m->delivered_wh, 1000);
    } else {
        mkt_i128 acc = accepted_wus(m), del = (mkt_i128)m->delivered_wh * 3600000000;
        if (del > acc)
            del = acc;
        gross = mkt__div_round((mkt_i128)m->amount_ueur * del, acc);
        if (m->rate_ppm < p->penalty_threshold_ppm)
            gross -= mkt__div_round((mkt_i128)gross * p->penalty_ppm, 1000000);
    }
    if (gross > m->amount_ueur)
        gross = m->amount_ueur; /* never more than was escrowed for the match */
    return gross < 0 ? 0 : gross;
}

/* The availability (reservation) payment of a delivered match: nothing
 * below the availability floor (the asset was not there), else pro rata
 * to the delivery rate, at most the whole. */
static int64_t availability_payout(const struct mkt_params *p, const struct mkt_match *m)
{
    if (m->availability_ueur <= 0 || m->rate_ppm < p->availability_floor_ppm)
        return 0;
    int64_t rate = m->rate_ppm < 1000000 ? m->rate_ppm : 1000000;
    return mkt__div_round((mkt_i128)m->availability_ueur * rate, 1000000);
}

int mkt__act_settle(struct mkt_txctx *c, struct sim_err *err)
{
    mkt_engine *e = c->e;
    struct mkt_request r;
    int rc = own_request(c, &r, err);
    if (rc)
        return rc;
    if (r.state != MKT_PURCHASED)
        return sim_errf(err, SIM_ESTATE,
                        "request_id: request %lld is %s; only a purchased request can be settled",
                        (long long)r.id, mkt_state_name(r.state));
    size_t n = 0;
    if ((rc = mkt_matches_of_request(e, r.id, NULL, 0, &n, err)))
        return rc;
    struct mkt_match *ms = calloc(n ? n : 1, sizeof *ms);
    if (!ms)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    if ((rc = mkt_matches_of_request(e, r.id, ms, n, &n, err)))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (ms[i].state != MKT_DELIVERED) {
            rc = sim_errf(err, SIM_ESTATE,
                          "request_id: match %lld of request %lld has no delivery recorded",
                          (long long)ms[i].id, (long long)r.id);
            goto out;
        }
    int64_t escrow = 0, paid = 0;
    if ((rc = mkt__sql_int(e->db, &escrow, err,
                           "SELECT escrow_ueur FROM mkt_purchases WHERE request_id=?", "i", r.id)))
        goto out;
    const struct mkt_params *p = &e->params;
    for (size_t i = 0; i < n && !rc; i++) {
        struct mkt_match *m = &ms[i];
        int64_t avail = availability_payout(p, m);
        int64_t gross = gross_payout(p, m) + avail;
        int64_t fee =
            mkt__div_round((mkt_i128)gross * p->settle_fee_ppm, 1000000) + p->payout_fee_ueur;
        if (fee > gross)
            fee = gross;
        int64_t held = m->amount_ueur + m->availability_ueur;
        int64_t net = gross - fee, refund = held - gross;
        char fsp[MKT_ADDR_STRLEN];
        mkt_address_format(m->fsp, fsp);
        escrow -= held;
        paid += net;
        if ((net && (rc = mkt__wallet_add(e, m->fsp, net, err))) ||
            (fee && (rc = mkt__wallet_add(e, e->operator_addr, fee, err))) ||
            (refund && (rc = mkt__wallet_add(e, c->from, refund, err))) ||
            (rc = mkt__sql(e->db, err,
                           "INSERT INTO mkt_settlements(request_id, match_id, fsp, payout_ueur,"
                           " fee_ueur, refund_ueur, seq) VALUES (?,?,?,?,?,?,?)",
                           "iisiiii", r.id, m->id, fsp, net, fee, refund, c->seq)) ||
            (rc = mkt__sql(e->db, err,
                           "UPDATE mkt_matches SET payout_ueur=?, settle_fee_ueur=?,"
                           " refund_ueur=?, state=?, availability_paid_ueur=? WHERE id=?",
                           "iiiiii", gross, fee, refund, (int64_t)MKT_SETTLED, avail, m->id)))
            break;
    }
    if (rc)
        goto out;
    /* The escrow held exactly the sum of the amounts; anything else means
     * the tables were changed behind the engine's back. */
    if (escrow != 0) {
        rc = sim_errf(err, SIM_ESTATE,
                      "request_id: escrow of request %lld does not equal its matches' amounts "
                      "(off by %lld ueur)",
                      (long long)r.id, (long long)escrow);
        goto out;
    }
    if ((rc = mkt__sql(e->db, err, "UPDATE mkt_purchases SET escrow_ueur=0 WHERE request_id=?", "i",
                       r.id)) ||
        (rc = mkt__sql(e->db, err, "UPDATE mkt_requests SET state=? WHERE id=?", "ii",
                       (int64_t)MKT_SETTLED, r.id)))
        goto out;
    c->rc->amount_ueur = paid;
out:
    free(ms);
    return rc;
}
