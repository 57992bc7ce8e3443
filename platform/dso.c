/*
 * dso.c: the "dso" component, the distribution system operator's policy.
 *
 * The demo's DSO had no forecast: it set its need by hand from transformer
 * load thresholds. Two policies, which may be combined:
 *   - fixed requests: posted at post_at, matched and bought at match_at
 *     (the demo: -20 kW, 16:00-16:45, at most EUR 0.21/kWh);
 *   - a threshold: when the measured load of a signal (e.g. the
 *     transformer's p_kw) exceeds limit_kw, post a request starting `lead`
 *     later for `duration`, match and buy it `match_after` later, and stay
 *     quiet until that window has ended;
 *   - a forecast: the DSO learns the signal's daily profile from what it
 *     measures (seasonal naive: the same time a season ago; seasonal EWMA:
 *     an exponentially weighted mean of that time over past seasons) and,
 *     every day at `day_ahead_at`, posts a request for each stretch of the
 *     next day where the forecast is above limit_kw, sized to the forecast
 *     excess; intraday, every `intraday_every`, it corrects the forecast by
 *     its latest error and posts for the stretches `intraday_lead` ahead
 *     that are over the limit and not yet covered.
 * After each bought window the DSO settles `settle_after` the window's end,
 * once the IoT platform has reported the deliveries (retrying each step
 * for up to an hour if they are late).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define DSO_MAX_REQ 4096
#define DSO_FIXED_MAX 32
#define EV_POST 1u
#define EV_MATCH 2u
#define EV_SETTLE 3u

struct dso_req {
    char label[64];
    char location[64];
    sim_time_us post_at, match_at, start, end;
    double p_kw, max_price, max_availability;
    int64_t market_id;
    int settle_tries;
};

struct dso {
    struct plt_context *c;
    int id;
    char participant[PLT_NAME_MAX];
    int part;
    int utc_offset_s;
    sim_time_us step;
    sim_time_us settle_after;
    struct dso_req *req; /* nreq of them (malloc'd, grows) */
    int nreq, nfixed, cap_req;
    /* threshold policy */
    int has_thr;
    char thr_signal[160];
    int thr_ref;
    double thr_limit_kw;
    struct dso_req thr_tmpl; /* p_kw, max_price, location; times relative */
    sim_time_us thr_lead, thr_duration, thr_match_after;
    sim_time_us quiet_until;
    int sig_requested, sig_bought;
    double bought_kw;
    /* forecast policy */
    int has_fc;
    char fc_signal[160];
    int fc_ref;
    double fc_limit_kw, fc_alpha, fc_margin_kw, fc_min_kw, fc_max_kw;
    struct dso_req fc_tmpl; /* location, prices */
    int fc_method;          /* FC_NAIVE or FC_EWMA */
    int fc_intraday;
    sim_time_us fc_season, fc_day_ahead_at, fc_match_after, fc_block;
    sim_time_us fc_intraday_lead, fc_intraday_every;
    sim_time_us start; /* the run's, for the profile's slots */
    double *profile;   /* per slot of the season: the forecast */
    unsigned char *seen;
    size_t nslots, nseen;
    double last_error_kw; /* latest measured - forecast, for intraday */
    int sig_forecast;
};

enum { FC_NAIVE = 0, FC_EWMA = 1 };

static int schedule(struct dso *d, sim_kernel *k, sim_time_us t, uint32_t kind, int i,
                    struct sim_err *err)
{
    int rc = sim_kernel_schedule(k, d->id, t, -5, kind, (uint64_t)i, NULL);
    return rc ? sim_errf(err, rc, "%s: cannot schedule a market action at a past time",
                         sim_kernel_component_name(k, d->id))
              : SIM_OK;
}

static int dso_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct dso *d = self;
    const char *me = sim_kernel_component_name(k, d->id);
    if (!d->c->has_market)
        return sim_errf(err, SIM_EINVAL, "%s: a dso needs a \"market\" section", me);
    d->part = plt_participant_find(d->c, d->participant);
    if (d->part < 0)
        return sim_errf(err, SIM_EINVAL, "%s: participant \"%s\" is not in market.participants",
                        me, d->participant);
    if (d->c->part[d->part].role != MKT_ROLE_DSO)
        return sim_errf(err, SIM_EINVAL, "%s: participant \"%s\" does not have role \"dso\"", me,
                        d->participant);
    if (!d->c->enabled)
        return SIM_OK;
    for (int i = 0; i < d->nfixed; i++) {
        int rc = schedule(d, k, d->req[i].post_at, EV_POST, i, err);
        if (!rc)
            rc = schedule(d, k, d->req[i].match_at, EV_MATCH, i, err);
        if (rc)
            return rc;
    }
    return SIM_OK;
}

static const char *clock_of(const struct dso *d, sim_time_us t, char *buf, size_t n)
{
    return sim_time_format(t, d->utc_offset_s, buf, n);
}

static int post(struct dso *d, sim_kernel *k, sim_time_us now, int i)
{
    struct dso_req *r = &d->req[i];
    struct mkt_request mr = {0};
    snprintf(mr.location, sizeof mr.location, "%s", r->location);
    mr.start = r->start;
    mr.end = r->end;
    mr.p_w = (int64_t)llround(r->p_kw * 1000.0);
    mr.max_price_ueur_per_kwh = plt_ueur(r->max_price);
    mr.max_availability_ueur_per_kw_h = plt_ueur(r->max_availability);
    struct sim_err merr;
    if (mkt_do_request_add(d->c->engine, &d->c->part[d->part].key, &mr, now, &r->market_id,
                           &merr)) {
        sim_log(k, d->id, "refused", SIM_WARNING, r->p_kw, "request %s refused: %s", r->label,
                merr.msg);
        return SIM_OK;
    }
    char t0[48], t1[48];
    sim_bus_set(k, d->sig_requested, sim_bus_get(k, d->sig_requested) + r->p_kw);
    sim_log(k, d->id, "request_posted", SIM_INFO, r->p_kw,
            "request %lld (%s): %.3g kW at %s, %s .. %s, at most EUR %.4g/kWh",
            (long long)r->market_id, r->label, r->p_kw, r->location,
            clock_of(d, r->start, t0, sizeof t0), clock_of(d, r->end, t1, sizeof t1),
            r->max_price);
    return SIM_OK;
}

static int match_and_buy(struct dso *d, sim_kernel *k, sim_time_us now, int i,
                         struct sim_err *err)
{
    struct dso_req *r = &d->req[i];
    if (r->market_id <= 0)
        return SIM_OK; /* its posting was refused: nothing to match */
    const struct mkt_key *key = &d->c->part[d->part].key;
    struct mkt_receipt rc;
    struct sim_err merr;
    if (mkt_do_match(d->c->engine, key, r->market_id, now, &rc, &merr)) {
        sim_log(k, d->id, "refused", SIM_WARNING, 0, "match of request %lld refused: %s",
                (long long)r->market_id, merr.msg);
        return SIM_OK;
    }
    sim_log(k, d->id, "matched", rc.unmet_w ? SIM_WARNING : SIM_INFO, (double)rc.matched_w / 1e3,
            "request %lld: %d offers matched for %.3g kW, %.3g kW unmet", (long long)r->market_id,
            rc.n_matches, (double)rc.matched_w / 1e3, (double)rc.unmet_w / 1e3);
    if (rc.n_matches == 0)
        return SIM_OK;
    if (mkt_do_purchase(d->c->engine, key, r->market_id, now, &rc, &merr)) {
        sim_log(k, d->id, "refused", SIM_WARNING, 0, "purchase of request %lld refused: %s",
                (long long)r->market_id, merr.msg);
        return SIM_OK;
    }
    struct mkt_request mr;
    if (!mkt_request_get(d->c->engine, r->market_id, &mr, &merr)) {
        d->bought_kw += (double)(mr.p_w - mr.unmet_w) / 1e3;
        sim_bus_set(k, d->sig_bought, d->bought_kw);
    }
    sim_log(k, d->id, "purchased", SIM_INFO, (double)rc.amount_ueur / 1e6,
            "request %lld bought: EUR %.2f in escrow", (long long)r->market_id,
            (double)rc.amount_ueur / 1e6);
    return schedule(d, k, r->end + d->settle_after, EV_SETTLE, i, err);
}

static int settle(struct dso *d, sim_kernel *k, sim_time_us now, int i, struct sim_err *err)
{
    struct dso_req *r = &d->req[i];
    struct mkt_receipt rc;
    struct sim_err merr;
    if (mkt_do_settle(d->c->engine, &d->c->part[d->part].key, r->market_id, now, &rc, &merr)) {
        /* Most likely a delivery not reported yet: try again next step,
         * for an hour at most. */
        if (++r->settle_tries * d->step < SIM_US_PER_H && now + d->step < sim_kernel_config(k)->end)
            return schedule(d, k, now + d->step, EV_SETTLE, i, err);
        sim_log(k, d->id, "settle_failed", SIM_ALARM, 0, "request %lld not settled: %s",
                (long long)r->market_id, merr.msg);
        return SIM_OK;
    }
    sim_log(k, d->id, "settled", SIM_INFO, (double)rc.amount_ueur / 1e6,
            "request %lld settled: EUR %.2f paid to FSPs", (long long)r->market_id,
            (double)rc.amount_ueur / 1e6);
    return SIM_OK;
}

static int dso_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                     struct sim_err *err)
{
    struct dso *d = self;
    if (!d->c->engine)
        return sim_errf(err, SIM_ESTATE, "the market is not open");
    int i = (int)data;
    switch (kind) {
    case EV_POST: return post(d, k, now, i);
    case EV_MATCH: return match_and_buy(d, k, now, i, err);
    case EV_SETTLE: return settle(d, k, now, i, err);
    default: return SIM_OK;
    }
}

/* Room for one more request: its index, or -1 (the limit was logged). */
static int new_request(struct dso *d, sim_kernel *k, double value)
{
    if (d->nreq == DSO_MAX_REQ) {
        if (d->quiet_until != SIM_TIME_NEVER)
            sim_log(k, d->id, "request_limit", SIM_WARNING, value,
                    "%d requests were already posted; no more", DSO_MAX_REQ);
        d->quiet_until = SIM_TIME_NEVER;
        return -1;
    }
    if (plt_grow((void **)&d->req, &d->cap_req, d->nreq, sizeof *d->req))
        return -1;
    memset(&d->req[d->nreq], 0, sizeof d->req[d->nreq]);
    return d->nreq++;
}

/* ---- the forecast policy ---- */

static size_t slot_of(const struct dso *d, sim_time_us t)
{
    int64_t i = (t - d->start) / d->step % (int64_t)d->nslots;
    return (size_t)(i < 0 ? i + (int64_t)d->nslots : i);
}

/* Learn from the value measured at time t (the previous step). */
static void fc_learn(struct dso *d, sim_time_us t, double y)
{
    if (!isfinite(y))
        return;
    size_t i = slot_of(d, t);
    if (d->seen[i]) {
        d->last_error_kw = y - d->profile[i];
        d->profile[i] = d->fc_method == FC_NAIVE ? y
                                                 : d->fc_alpha * y + (1 - d->fc_alpha) * d->profile[i];
    } else {
        d->profile[i] = y;
        d->seen[i] = 1;
        d->nseen++;
    }
}

/* Is [a, b) free of the requests already posted? */
static int fc_uncovered(const struct dso *d, sim_time_us a, sim_time_us b)
{
    for (int i = 0; i < d->nreq; i++)
        if (d->req[i].market_id > 0 && d->req[i].start < b && d->req[i].end > a)
            return 0;
    return 1;
}

/* Post (and schedule the purchase of) a request for every stretch of
 * [a, b) whose forecast, plus `correction`, is above the limit, in blocks;
 * `uncovered_only`: skip blocks an earlier request covers. */
static int fc_plan(struct dso *d, sim_kernel *k, sim_time_us now, sim_time_us a, sim_time_us b,
                   double correction, int uncovered_only, const char *kind, sim_time_us match_at,
                   struct sim_err *err)
{
    sim_time_us w0 = 0;
    double excess = 0;
    for (sim_time_us t = a; t <= b; t += d->fc_block) {
        double peak = -INFINITY;
        for (sim_time_us u = t; t < b && u < t + d->fc_block; u += d->step)
            peak = fmax(peak, d->profile[slot_of(d, u)] + correction);
        /* the margin allows for the forecast's error: plan as if the load
         * were that much higher */
        double over_kw = peak + d->fc_margin_kw - d->fc_limit_kw;
        int over = t < b && over_kw >= d->fc_min_kw &&
                   (!uncovered_only || fc_uncovered(d, t, t + d->fc_block));
        if (over) {
            if (!w0)
                w0 = t, excess = 0;
            excess = fmax(excess, over_kw);
            continue;
        }
        if (!w0)
            continue;
        /* the stretch [w0, t) is over the limit: ask for the excess */
        int i = new_request(d, k, excess);
        if (i < 0)
            return SIM_OK;
        struct dso_req *r = &d->req[i];
        *r = d->fc_tmpl;
        r->start = w0;
        r->end = t;
        r->p_kw = -fmin(ceil(excess), d->fc_max_kw);
        snprintf(r->label, sizeof r->label, "%s-%d", kind, i - d->nfixed + 1);
        char t0[48], t1[48];
        sim_log(k, d->id, "forecast", SIM_INFO, excess,
                "%s: %s forecast %.1f kW over %.1f kW (margin %.1f kW) from %s to %s", kind,
                d->fc_signal, excess, d->fc_limit_kw, d->fc_margin_kw,
                clock_of(d, w0, t0, sizeof t0),
                clock_of(d, t, t1, sizeof t1));
        int rc = post(d, k, now, i);
        if (!rc)
            rc = schedule(d, k, match_at, EV_MATCH, i, err);
        if (rc)
            return rc;
        w0 = 0;
    }
    return SIM_OK;
}

static int fc_step(struct dso *d, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    if (now > d->start)
        fc_learn(d, now - d->step, sim_bus_get_ref(k, d->fc_ref));
    /* the forecast for now, recorded beside the measurement */
    size_t si = slot_of(d, now);
    sim_bus_set(k, d->sig_forecast, d->seen[si] ? d->profile[si] : NAN);
    if (d->nseen < d->nslots)
        return SIM_OK; /* a whole season must be seen first */
    const sim_time_us day = 24 * SIM_US_PER_H;
    sim_time_us local = now + (sim_time_us)d->utc_offset_s * SIM_US_PER_S;
    sim_time_us tod = (local % day + day) % day;
    if (tod == d->fc_day_ahead_at) {
        sim_time_us next = now - tod + day; /* the next local midnight */
        int rc = fc_plan(d, k, now, next, next + day, 0, 0, "day-ahead", now + d->fc_match_after,
                         err);
        if (rc)
            return rc;
    }
    if (d->fc_intraday && (now - d->start) % d->fc_intraday_every == 0) {
        sim_time_us a = now + d->fc_intraday_lead;
        int rc = fc_plan(d, k, now, a, a + d->fc_intraday_every, d->last_error_kw, 1, "intraday",
                         now, err);
        if (rc)
            return rc;
    }
    return SIM_OK;
}

/* The threshold policy looks at the measured load once per step. */
static int dso_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct dso *d = self;
    if (d->has_fc && d->c->enabled && d->c->engine) {
        int rc = fc_step(d, k, now, err);
        if (rc)
            return rc;
    }
    if (!d->has_thr || !d->c->enabled || now < d->quiet_until)
        return SIM_OK;
    double load = sim_bus_get_ref(k, d->thr_ref);
    if (!(load > d->thr_limit_kw))
        return SIM_OK;
    int i = new_request(d, k, load);
    if (i < 0)
        return SIM_OK;
    struct dso_req *r = &d->req[i];
    *r = d->thr_tmpl;
    r->start = now + d->thr_lead;
    r->end = r->start + d->thr_duration;
    snprintf(r->label, sizeof r->label, "threshold-%d", i - d->nfixed + 1);
    d->quiet_until = r->end;
    sim_log(k, d->id, "threshold", SIM_INFO, load, "%s = %.1f kW is over %.1f kW", d->thr_signal,
            load, d->thr_limit_kw);
    if (!d->c->engine)
        return sim_errf(err, SIM_ESTATE, "the market is not open");
    int rc = post(d, k, now, i);
    if (!rc)
        rc = schedule(d, k, now + d->thr_match_after, EV_MATCH, i, err);
    return rc;
}

static void dso_destroy(void *self)
{
    struct dso *d = self;
    if (!d)
        return;
    free(d->req);
    free(d->profile);
    free(d->seen);
    free(d);
}

static const struct sim_component_ops dso_ops = {
    .type = "dso",
    .init = dso_init,
    .step = dso_step,
    .event = dso_event,
    .destroy = dso_destroy,
};

static int read_common(struct scn_obj *o, struct dso_req *r, struct sim_err *err)
{
    const char *loc = NULL;
    int rc;
    if ((rc = scn_string(o, "location", 1, NULL, &loc, err)) ||
        (rc = scn_number(o, "p_kw", 1, 0, -1e6, 1e6, &r->p_kw, err)) ||
        (rc = scn_number(o, "max_price_eur_per_kwh", 1, 0, 0, 1e3, &r->max_price, err)) ||
        (rc = scn_number(o, "max_availability_eur_per_kw_h", 0, 0, 0, 1e3, &r->max_availability,
                         err)))
        return rc;
    if (strlen(loc) >= sizeof r->location)
        return scn_errf(o, "location", err, "at most %zu characters", sizeof r->location - 1);
    if (r->p_kw == 0)
        return scn_errf(o, "p_kw", err, "must not be 0");
    snprintf(r->location, sizeof r->location, "%s", loc);
    return SIM_OK;
}

static int read_request(struct scn_ctx *ctx, struct scn_obj *cfg, const cJSON *item, int i,
                        struct dso_req *r, struct sim_err *err)
{
    struct scn_obj o;
    int rc = scn_obj_init_item(&o, cfg, "requests", i, item, err);
    if (rc)
        return rc;
    const char *label = NULL;
    memset(r, 0, sizeof *r);
    if ((rc = scn_string(&o, "label", 0, "", &label, err)) || (rc = read_common(&o, r, err)) ||
        (rc = scn_time(&o, "start", 1, 0, &r->start, NULL, err)) ||
        (rc = scn_time(&o, "end", 1, 0, &r->end, NULL, err)) ||
        (rc = scn_time(&o, "post_at", 1, 0, &r->post_at, NULL, err)) ||
        (rc = scn_time(&o, "match_at", 1, 0, &r->match_at, NULL, err)) ||
        (rc = scn_obj_finish(&o, err)))
        return rc;
    snprintf(r->label, sizeof r->label, "%s", label);
    if (r->end <= r->start)
        return scn_errf(&o, "end", err, "must be after start");
    if (r->post_at < ctx->scenario->start || r->post_at >= ctx->scenario->end)
        return scn_errf(&o, "post_at", err, "must lie inside the run");
    if (r->match_at < r->post_at)
        return scn_errf(&o, "match_at", err, "must not be before post_at");
    if (r->match_at > r->start)
        return scn_errf(&o, "match_at", err, "must not be after the window's start");
    return SIM_OK;
}

/* The "forecast" policy's settings (docs/platform.md). */
static int read_forecast(struct scn_ctx *ctx, struct scn_obj *cfg, struct dso *d,
                         struct sim_err *err)
{
    struct scn_obj f;
    int rc = scn_child(cfg, "forecast", 0, &f, &d->has_fc, err);
    if (rc || !d->has_fc)
        return rc;
    static const char *const methods[] = {"seasonal_naive", "seasonal_ewma", NULL};
    const char *sig = NULL;
    sim_time_us step = d->step, day = 24 * SIM_US_PER_H;
    if ((rc = scn_string(&f, "signal", 1, NULL, &sig, err)) ||
        (rc = scn_number(&f, "limit_kw", 1, 0, -1e9, 1e9, &d->fc_limit_kw, err)) ||
        (rc = scn_enum(&f, "method", 0, methods, FC_EWMA, &d->fc_method, err)) ||
        (rc = scn_number(&f, "alpha", 0, 0.3, 0.01, 1, &d->fc_alpha, err)) ||
        (rc = scn_duration(&f, "season", 0, day, step, 7 * day, &d->fc_season, err)) ||
        (rc = scn_duration(&f, "day_ahead_at", 0, 12 * SIM_US_PER_H, 0, day - step,
                           &d->fc_day_ahead_at, err)) ||
        (rc = scn_duration(&f, "match_after", 0, SIM_US_PER_H, 0, 11 * SIM_US_PER_H,
                           &d->fc_match_after, err)) ||
        (rc = scn_duration(&f, "block", 0, 15 * SIM_US_PER_MIN, step, day, &d->fc_block, err)) ||
        (rc = scn_bool(&f, "intraday", 0, 1, &d->fc_intraday, err)) ||
        (rc = scn_duration(&f, "intraday_lead", 0, SIM_US_PER_H, step, day,
                           &d->fc_intraday_lead, err)) ||
        (rc = scn_duration(&f, "intraday_every", 0, SIM_US_PER_H, step, day,
                           &d->fc_intraday_every, err)) ||
        (rc = scn_number(&f, "margin_kw", 0, 0, 0, 1e9, &d->fc_margin_kw, err)) ||
        (rc = scn_number(&f, "min_kw", 0, 1, 0, 1e9, &d->fc_min_kw, err)) ||
        (rc = scn_number(&f, "max_kw", 0, 1e9, 0.001, 1e9, &d->fc_max_kw, err)))
        return rc;
    /* location and prices as a fixed request's; p_kw comes from the forecast */
    const char *loc = NULL;
    if ((rc = scn_string(&f, "location", 1, NULL, &loc, err)) ||
        (rc = scn_number(&f, "max_price_eur_per_kwh", 1, 0, 0, 1e3, &d->fc_tmpl.max_price,
                         err)) ||
        (rc = scn_number(&f, "max_availability_eur_per_kw_h", 0, 0, 0, 1e3,
                         &d->fc_tmpl.max_availability, err)) ||
        (rc = scn_obj_finish(&f, err)))
        return rc;
    if (strlen(loc) >= sizeof d->fc_tmpl.location)
        return scn_errf(&f, "location", err, "at most %zu characters",
                        sizeof d->fc_tmpl.location - 1);
    snprintf(d->fc_tmpl.location, sizeof d->fc_tmpl.location, "%s", loc);
    const char *bad = d->fc_season % step         ? "season"
                      : d->fc_day_ahead_at % step ? "day_ahead_at"
                      : d->fc_block % step        ? "block"
                      : d->fc_intraday_lead % step ? "intraday_lead"
                      : d->fc_intraday_every % step ? "intraday_every"
                                                    : NULL;
    if (bad)
        return scn_errf(&f, bad, err, "must be a multiple of the step");
    d->start = ctx->scenario->start;
    d->nslots = (size_t)(d->fc_season / step);
    d->profile = calloc(d->nslots, sizeof *d->profile);
    d->seen = calloc(d->nslots, 1);
    if (!d->profile || !d->seen)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    scn_signal_name(sig, "p_kw", d->fc_signal, sizeof d->fc_signal);
    return SIM_OK;
}

static int dso_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                      struct sim_err *err)
{
    struct plt_context *c = plt_context_of(ctx, cfg, err);
    if (!c)
        return SIM_EINVAL;
    struct dso *d = calloc(1, sizeof *d);
    if (!d)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    d->c = c;
    d->utc_offset_s = ctx->scenario->utc_offset_s;
    d->step = ctx->scenario->step;
    const char *part = NULL;
    const cJSON *reqs = NULL;
    struct scn_obj t;
    int rc;
    if ((rc = scn_string(cfg, "participant", 1, NULL, &part, err)) ||
        (rc = scn_array(cfg, "requests", 0, &reqs, err)) ||
        (rc = scn_duration(cfg, "settle_after", 0, 15 * SIM_US_PER_MIN, 0, 7 * 24 * SIM_US_PER_H,
                           &d->settle_after, err)) ||
        (rc = scn_child(cfg, "threshold", 0, &t, &d->has_thr, err)) ||
        (rc = read_forecast(ctx, cfg, d, err)))
        goto fail;
    snprintf(d->participant, sizeof d->participant, "%s", part);
    if (reqs) {
        int i = 0;
        for (const cJSON *it = reqs->child; it; it = it->next, i++) {
            if (i == DSO_FIXED_MAX) {
                rc = scn_errf(cfg, "requests", err, "at most %d requests", DSO_FIXED_MAX);
                goto fail;
            }
            if (plt_grow((void **)&d->req, &d->cap_req, i, sizeof *d->req)) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                goto fail;
            }
            memset(&d->req[i], 0, sizeof d->req[i]);
            if ((rc = read_request(ctx, cfg, it, i, &d->req[i], err)))
                goto fail;
            d->nreq = d->nfixed = i + 1;
        }
    }
    if (d->has_thr) {
        const char *sig = NULL;
        if ((rc = scn_string(&t, "signal", 1, NULL, &sig, err)) ||
            (rc = scn_number(&t, "limit_kw", 1, 0, -1e9, 1e9, &d->thr_limit_kw, err)) ||
            (rc = read_common(&t, &d->thr_tmpl, err)) ||
            (rc = scn_duration(&t, "duration", 1, 0, d->step, 7 * 24 * SIM_US_PER_H,
                               &d->thr_duration, err)) ||
            (rc = scn_duration(&t, "lead", 0, SIM_US_PER_H, 0, 7 * 24 * SIM_US_PER_H, &d->thr_lead,
                               err)) ||
            (rc = scn_duration(&t, "match_after", 0, 0, 0, 7 * 24 * SIM_US_PER_H,
                               &d->thr_match_after, err)) ||
            (rc = scn_obj_finish(&t, err)))
            goto fail;
        if (d->thr_match_after > d->thr_lead) {
            rc = scn_errf(&t, "match_after", err, "must not exceed lead (matching happens before "
                                                  "the window starts)");
            goto fail;
        }
        if (d->thr_lead % d->step || d->thr_duration % d->step) {
            rc = scn_errf(&t, "lead", err, "lead and duration must be multiples of the step");
            goto fail;
        }
        scn_signal_name(sig, "p_kw", d->thr_signal, sizeof d->thr_signal);
    }
    if ((rc = scn_obj_finish(cfg, err)))
        goto fail;
    if ((rc = sim_kernel_add(ctx->kernel, name, &dso_ops, d,
                             d->has_thr || d->has_fc ? d->step : 0, &d->id, err)))
        return rc;
    if (d->has_fc) {
        char origin[SCN_PATH_MAX + 64];
        snprintf(origin, sizeof origin, "%s: %s.forecast.signal", ctx->file, cfg->path);
        if ((rc = sim_bus_read(ctx->kernel, d->id, d->fc_signal, SIM_READ_PREV, origin,
                               &d->fc_ref, err)) ||
            (rc = sim_bus_publish(ctx->kernel, d->id, "forecast_kw", "kW", SIM_SIG_RECORD, NAN,
                                  &d->sig_forecast, err)))
            return rc;
    }
    if (d->has_thr) {
        char origin[SCN_PATH_MAX + 64];
        snprintf(origin, sizeof origin, "%s: %s.threshold.signal", ctx->file, cfg->path);
        if ((rc = sim_bus_read(ctx->kernel, d->id, d->thr_signal, SIM_READ_PREV, origin,
                               &d->thr_ref, err)))
            return rc;
    }
    if ((rc = sim_bus_publish(ctx->kernel, d->id, "requested_kw", "kW",
                              SIM_SIG_RECORD | SIM_SIG_STATE, 0, &d->sig_requested, err)))
        return rc;
    return sim_bus_publish(ctx->kernel, d->id, "bought_kw", "kW", SIM_SIG_RECORD | SIM_SIG_STATE,
                           0, &d->sig_bought, err);
fail:
    dso_destroy(d);
    return rc;
}

const struct scn_type plt_dso_type = {
    .type = "dso",
    .summary = "DSO policy: fixed flexibility requests and/or a load threshold; matches, buys, "
               "settles",
    .create = dso_create,
};
