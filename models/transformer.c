/*
 * transformer.c: the "transformer" scenario component.
 *
 * It sums the active (and reactive) power of the loads it feeds, turns the
 * apparent power into the load factor K = S / S_r, and drives the IEC
 * 60076-7 thermal model of transformer.h with it: top-oil and hot-spot
 * temperatures, the relative ageing rate and the loss of life. It is the
 * DSO's view of the demo site (paper Fig. 11: the transformer's load), and
 * the thresholds it logs are the DSO's reasons to ask for flexibility.
 *
 * Timing: at each step the thermal state is first advanced from the
 * previous step to now with the previous step's K and ambient held (a
 * zero-order hold), then this step's loads are read and published. finish()
 * advances to the end of the run, so loss of life covers all of it.
 */
#include "transformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

#define ORIGIN_MAX (SCN_PATH_MAX + 512)

struct xfm {
    sim_kernel *k;
    int id;
    struct mdl_xfm_params p;
    int nloads, nloads_q;
    int *p_ref, *q_ref; /* bus read references, nloads and nloads_q */
    double tan_phi;     /* q = p tan(phi) when there are no q reads */
    double ambient_degc;
    struct scn_series *ambient; /* owned; NULL: constant ambient_degc */
    double overload_pct, hot_spot_alarm_degc;
    int sig_p, sig_q, sig_s, sig_loading, sig_loss, sig_top, sig_hot, sig_v, sig_lol;
    mdl_xfm_solver *solver;
    /* Inputs held over the interval that starts at t_prev. */
    int started;
    sim_time_us t_prev;
    double k_prev, ambient_prev, loss_prev_kw;
    /* Threshold state and run totals. */
    int overload_on, hot_on;
    sim_time_us overload_since, hot_since;
    double max_loading_pct, max_hot_spot_degc, loss_kwh;
};

static void xfm_destroy(void *self)
{
    struct xfm *x = self;
    if (!x)
        return;
    mdl_xfm_solver_free(x->solver);
    scn_series_free(x->ambient);
    free(x->p_ref);
    free(x->q_ref);
    free(x);
}

static double ambient_at(struct xfm *x, sim_time_us t)
{
    return x->ambient ? scn_series_at(x->ambient, t) : x->ambient_degc;
}

static int xfm_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct xfm *x = self;
    struct mdl_xfm_state st;
    mdl_xfm_steady_state(&x->p, 0.0, x->ambient_degc, &st);
    /* The real initial state (steady state of the first step's load) is set
     * at the first step; everything CVODE needs is allocated here, once. */
    int rc = mdl_xfm_solver_new(&x->p, &st, &x->solver, err);
    if (rc) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        return sim_errf(err, rc, "%s: %s", sim_kernel_component_name(k, x->id), inner);
    }
    return 0;
}

/* Publish the thermal outputs of state st. */
static void publish_thermal(struct xfm *x, const struct mdl_xfm_state *st)
{
    double th = mdl_xfm_hot_spot_degc(st);
    sim_bus_set(x->k, x->sig_top, st->top_oil_degc);
    sim_bus_set(x->k, x->sig_hot, th);
    sim_bus_set(x->k, x->sig_v, mdl_xfm_ageing_rate(th));
    sim_bus_set(x->k, x->sig_lol, st->loss_of_life_h);
    if (th > x->max_hot_spot_degc)
        x->max_hot_spot_degc = th;
}

/* Advance the thermal state to `now` with the held inputs. */
static int advance_to(struct xfm *x, sim_time_us now, struct mdl_xfm_state *st, struct sim_err *err)
{
    double dt_min = (double)(now - x->t_prev) / (double)SIM_US_PER_MIN;
    int rc = mdl_xfm_solver_advance(x->solver, dt_min, x->k_prev, x->ambient_prev, st, err);
    if (rc) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        return sim_errf(err, rc, "%s: %s", sim_kernel_component_name(x->k, x->id), inner);
    }
    x->loss_kwh += x->loss_prev_kw * dt_min / 60.0;
    x->t_prev = now;
    return 0;
}

static int log_or_fail(int rc, struct xfm *x, struct sim_err *err)
{
    if (rc)
        return sim_errf(err, SIM_EIO, "%s: the event hook failed",
                        sim_kernel_component_name(x->k, x->id));
    return 0;
}

/* Threshold events: one on entering, one on leaving (with the duration in
 * minutes as value), never one per step. */
static int check_thresholds(struct xfm *x, sim_time_us now, double loading_pct, double th,
                            struct sim_err *err)
{
    int rc = 0;
    if (!x->overload_on && loading_pct > x->overload_pct) {
        x->overload_on = 1;
        x->overload_since = now;
        rc = sim_log(x->k, x->id, "overload", SIM_WARNING, loading_pct,
                     "loading %.1f %% exceeds %.1f %% of %.0f kVA", loading_pct, x->overload_pct,
                     x->p.rating_kva);
    } else if (x->overload_on && loading_pct <= x->overload_pct) {
        x->overload_on = 0;
        double min = (double)(now - x->overload_since) / (double)SIM_US_PER_MIN;
        rc = sim_log(x->k, x->id, "overload_end", SIM_INFO, min,
                     "loading back to %.1f %% after %.0f min", loading_pct, min);
    }
    if (rc)
        return log_or_fail(rc, x, err);
    if (!x->hot_on && th > x->hot_spot_alarm_degc) {
        x->hot_on = 1;
        x->hot_since = now;
        rc = sim_log(x->k, x->id, "hot_spot", SIM_ALARM, th,
                     "hot spot %.1f degC exceeds %.1f degC (ageing rate %.2f)", th,
                     x->hot_spot_alarm_degc, mdl_xfm_ageing_rate(th));
    } else if (x->hot_on && th <= x->hot_spot_alarm_degc) {
        x->hot_on = 0;
        double min = (double)(now - x->hot_since) / (double)SIM_US_PER_MIN;
        rc = sim_log(x->k, x->id, "hot_spot_end", SIM_INFO, min,
                     "hot spot back to %.1f degC after %.0f min", th, min);
    }
    return log_or_fail(rc, x, err);
}

static int xfm_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct xfm *x = self;
    struct mdl_xfm_state st;
    int rc;
    if (x->started && (rc = advance_to(x, now, &st, err)) != 0)
        return rc;

    double p = 0, q = 0;
    for (int i = 0; i < x->nloads; i++)
        p += sim_bus_get_ref(k, x->p_ref[i]);
    if (x->nloads_q)
        for (int i = 0; i < x->nloads_q; i++)
            q += sim_bus_get_ref(k, x->q_ref[i]);
    else
        q = p * x->tan_phi;
    double s = hypot(p, q), kf = s / x->p.rating_kva, ta = ambient_at(x, now);
    if (!isfinite(kf) || !isfinite(ta))
        return sim_errf(err, SIM_EFAIL, "%s: non-finite load (%g kVA) or ambient (%g degC)",
                        sim_kernel_component_name(k, x->id), s, ta);

    if (!x->started) {
        /* Start from the steady state of the first step's load. */
        mdl_xfm_steady_state(&x->p, kf, ta, &st);
        if ((rc = mdl_xfm_solver_reset(x->solver, &st, err)) != 0)
            return rc;
        x->started = 1;
        x->t_prev = now;
    }
    double loss = mdl_xfm_losses_kw(&x->p, kf), loading = 100.0 * kf;
    sim_bus_set(k, x->sig_p, p);
    sim_bus_set(k, x->sig_q, q);
    sim_bus_set(k, x->sig_s, s);
    sim_bus_set(k, x->sig_loading, loading);
    sim_bus_set(k, x->sig_loss, loss);
    publish_thermal(x, &st);
    if (loading > x->max_loading_pct)
        x->max_loading_pct = loading;
    x->k_prev = kf;
    x->ambient_prev = ta;
    x->loss_prev_kw = loss;
    return check_thresholds(x, now, loading, mdl_xfm_hot_spot_degc(&st), err);
}

static int xfm_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct xfm *x = self;
    if (!x->started)
        return 0;
    struct mdl_xfm_state st = *mdl_xfm_solver_state(x->solver);
    int rc;
    if (now > x->t_prev && (rc = advance_to(x, now, &st, err)) != 0)
        return rc;
    publish_thermal(x, &st);
    rc = sim_log(k, x->id, "loss_of_life", SIM_INFO, st.loss_of_life_h,
                 "loss of life %.4g h; max hot spot %.1f degC, max loading %.1f %%, "
                 "losses %.2f kWh",
                 st.loss_of_life_h, x->max_hot_spot_degc, x->max_loading_pct, x->loss_kwh);
    return log_or_fail(rc, x, err);
}

static const struct sim_component_ops xfm_ops = {
    .type = "transformer",
    .init = xfm_init,
    .step = xfm_step,
    .finish = xfm_finish,
    .destroy = xfm_destroy,
};

/* ------------------------------------------------------------------ */
/* Factory                                                             */
/* ------------------------------------------------------------------ */

/* Count the strings of an array, or complain naming the element. */
static int string_array(struct scn_obj *o, const char *key, const cJSON *arr, int *n,
                        struct sim_err *err)
{
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%s[%d]", key, i);
        if (!cJSON_IsString(e) || !e->valuestring[0])
            return scn_errf(o, sub, err, "expected a component or signal name");
    }
    if (i == 0)
        return scn_errf(o, key, err, "expected at least one name");
    *n = i;
    return 0;
}

/* Declare a read for every name of arr: "x" means "x.<local>", a name with
 * a dot is a full signal name. The origin names the JSON element so a
 * dangling name is reported where it was written. */
static int declare_reads(struct scn_ctx *ctx, struct scn_obj *o, struct xfm *x, const char *key,
                         const cJSON *arr, const char *local, int *refs, struct sim_err *err)
{
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char sub[64], path[SCN_PATH_MAX], origin[ORIGIN_MAX], sig[512];
        snprintf(sub, sizeof sub, "%s[%d]", key, i);
        scn_path_join(path, sizeof path, o->path, sub);
        snprintf(origin, sizeof origin, "%s: %s", ctx->file, path);
        scn_signal_name(e->valuestring, local, sig, sizeof sig);
        int rc = sim_bus_read(ctx->kernel, x->id, sig, SIM_READ_NOW, origin, &refs[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int publish(struct scn_ctx *ctx, struct xfm *x, const char *local, const char *unit,
                   unsigned flags, double initial, int *sig, struct sim_err *err)
{
    return sim_bus_publish(ctx->kernel, x->id, local, unit, SIM_SIG_RECORD | flags, initial, sig,
                           err);
}

static int xfm_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                      struct sim_err *err)
{
    struct xfm *x = calloc(1, sizeof *x);
    if (!x)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    struct mdl_xfm_params *p = &x->p;
    mdl_xfm_params_default(p);
    const cJSON *loads = NULL, *loads_q = NULL;
    double pf = 0.95;
    int rc;

    if ((rc = scn_number(cfg, "rating_kva", 1, 0, 0, MDL_MAX_RATING_KVA, &p->rating_kva, err)) != 0)
        goto fail;
    if (!(p->rating_kva > 0)) {
        rc = scn_errf(cfg, "rating_kva", err, "expected a number > 0, got 0");
        goto fail;
    }
    mdl_xfm_params_scale_losses(p);
    if ((rc = scn_array(cfg, "loads", 1, &loads, err)) != 0 ||
        (rc = string_array(cfg, "loads", loads, &x->nloads, err)) != 0)
        goto fail;
    if ((rc = scn_array(cfg, "loads_q", 0, &loads_q, err)) != 0 ||
        (loads_q && (rc = string_array(cfg, "loads_q", loads_q, &x->nloads_q, err)) != 0))
        goto fail;
    if (loads_q && cJSON_GetObjectItemCaseSensitive(cfg->json, "power_factor")) {
        rc = scn_errf(cfg, "power_factor", err, "give either loads_q or power_factor, not both");
        goto fail;
    }
    if ((rc = scn_number(cfg, "power_factor", 0, 0.95, 0.01, 1, &pf, err)) != 0)
        goto fail;
    x->tan_phi = tan(acos(pf)); /* lagging: q has the sign of p */

    /* Ambient: a constant, or a series object. */
    const cJSON *amb = cJSON_GetObjectItemCaseSensitive(cfg->json, "ambient_degc");
    x->ambient_degc = 20.0;
    if (amb && cJSON_IsObject(amb)) {
        struct scn_obj so;
        if ((rc = scn_child(cfg, "ambient_degc", 1, &so, NULL, err)) != 0 ||
            (rc = scn_series_load(&so, ctx->dir, &x->ambient, err)) != 0)
            goto fail;
        x->ambient_degc = scn_series_at(x->ambient, ctx->scenario->start);
    } else if ((rc = scn_number(cfg, "ambient_degc", 0, 20.0, -60, 60, &x->ambient_degc, err)) !=
               0) {
        goto fail;
    }

    /* Losses (defaults scale with the rating) and thermal parameters
     * (defaults: IEC 60076-7, ONAN distribution transformer). */
    struct {
        const char *key;
        double *v, min, max;
    } nums[] = {
        /* a loss above the rating is no transformer */
        {"no_load_loss_kw", &p->no_load_loss_kw, 0, p->rating_kva},
        {"load_loss_kw", &p->load_loss_kw, 0, p->rating_kva},
        {"top_oil_rise_k", &p->top_oil_rise_k, 0, 200},
        {"hot_spot_rise_k", &p->hot_spot_rise_k, 0, 200},
        {"x", &p->x, 0, 5},
        {"y", &p->y, 0, 5},
        {"k11", &p->k11, 0, 10},
        {"k21", &p->k21, 1, 10},
        {"k22", &p->k22, 0, 10},
        {"tau_o_min", &p->tau_o_min, 0, 10000},
        {"tau_w_min", &p->tau_w_min, 0, 1000},
        {"overload_pct", &x->overload_pct, 0, MDL_MAX_OVERLOAD_PCT},
        {"hot_spot_alarm_degc", &x->hot_spot_alarm_degc, -60, 400},
    };
    x->overload_pct = 100.0;
    x->hot_spot_alarm_degc = 120.0;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if ((rc = scn_number(cfg, nums[i].key, 0, *nums[i].v, nums[i].min, nums[i].max, nums[i].v,
                             err)) != 0)
            goto fail;
    const char *bad = mdl_xfm_params_invalid(p);
    if (bad) {
        rc = scn_errf(cfg, bad, err, "must be > 0");
        goto fail;
    }
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;

    x->p_ref = calloc((size_t)x->nloads, sizeof *x->p_ref);
    x->q_ref = x->nloads_q ? calloc((size_t)x->nloads_q, sizeof *x->q_ref) : NULL;
    if (!x->p_ref || (x->nloads_q && !x->q_ref)) {
        rc = sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
        goto fail;
    }

    x->k = ctx->kernel;
    /* From here on the kernel owns x (it destroys it even on failure). */
    if ((rc = sim_kernel_add(ctx->kernel, name, &xfm_ops, x, ctx->scenario->step, &x->id, err)) !=
        0)
        return rc;
    double ta = x->ambient_degc;
    if ((rc = publish(ctx, x, "p_kw", "kW", 0, 0, &x->sig_p, err)) != 0 ||
        (rc = publish(ctx, x, "q_kvar", "kvar", 0, 0, &x->sig_q, err)) != 0 ||
        (rc = publish(ctx, x, "s_kva", "kVA", 0, 0, &x->sig_s, err)) != 0 ||
        (rc = publish(ctx, x, "loading_pct", "%", 0, 0, &x->sig_loading, err)) != 0 ||
        (rc = publish(ctx, x, "loss_kw", "kW", 0, p->no_load_loss_kw, &x->sig_loss, err)) != 0 ||
        (rc = publish(ctx, x, "top_oil_degc", "degC", SIM_SIG_STATE, ta, &x->sig_top, err)) != 0 ||
        (rc = publish(ctx, x, "hot_spot_degc", "degC", SIM_SIG_STATE, ta, &x->sig_hot, err)) != 0 ||
        (rc = publish(ctx, x, "ageing_rate", "1", 0, mdl_xfm_ageing_rate(ta), &x->sig_v, err)) !=
            0 ||
        (rc = publish(ctx, x, "loss_of_life_h", "h", SIM_SIG_STATE, 0, &x->sig_lol, err)) != 0)
        return rc;
    if ((rc = declare_reads(ctx, cfg, x, "loads", loads, "p_kw", x->p_ref, err)) != 0)
        return rc;
    if (loads_q &&
        (rc = declare_reads(ctx, cfg, x, "loads_q", loads_q, "q_kvar", x->q_ref, err)) != 0)
        return rc;
    return 0;
fail:
    xfm_destroy(x);
    return rc;
}

const struct scn_type mdl_transformer_type = {
    .type = "transformer",
    .summary = "distribution transformer: loading, losses, IEC 60076-7 temperatures and ageing",
    .create = xfm_create,
};
