/*
 * battery.c: the stationary battery, its pure helpers (battery.h) and the
 * "battery" scenario component.
 *
 * The component reads a grid-side power request (its `setpoint` signal,
 * negative = discharge; absent = 0) at every step, hands it to the storage
 * core (storage.h), which applies latency, ramp and limits, and publishes
 * what the battery actually does. It integrates one step ahead (see the
 * glue section of storage.h): the values published at step t are the state
 * at t, and a SoC limit reached inside the next step is logged by a kernel
 * event at the root's own time ("soc_min" warning, "soc_max" info, the
 * value being the SoC as a fraction).
 *
 * Published signals "<name>.<local>": p_kw (actual grid-side power just
 * after t), p_avg_kw (mean grid-side power over the step that ended at t,
 * from the exact energy counters: what a 1-minute meter reports),
 * setpoint_kw (as read), soc (fraction, unit "1"), e_kwh,
 * loss_kwh, e_in_kwh, e_out_kwh (cumulative), available_discharge_kw.
 */
#include "battery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

void mdl_battery_params_default(struct mdl_sto_params *p)
{
    memset(p, 0, sizeof *p);
    p->soc_min = 0.0;
    p->soc_max = 1.0;
    p->eta_charge = 0.95;
    p->eta_discharge = 0.95;
}

int mdl_battery_round_trip(double round_trip, struct mdl_sto_params *p)
{
    if (!(round_trip > 0 && round_trip <= 1))
        return SIM_EINVAL;
    p->eta_charge = p->eta_discharge = sqrt(round_trip);
    return 0;
}

int mdl_battery_new(const struct mdl_sto_params *p, double soc0, sim_time_us t0, size_t queue_len,
                    mdl_sto **out, struct sim_err *err)
{
    return mdl_sto_new(p, soc0, t0, queue_len, out, err);
}

double mdl_battery_available_discharge_kw(const mdl_sto *b)
{
    struct mdl_sto_state st;
    mdl_sto_state(b, &st);
    return st.online && !st.at_floor ? mdl_sto_params_of(b)->p_discharge_max_kw : 0.0;
}

/* ------------------------------------------------------------------ */
/* The component                                                       */
/* ------------------------------------------------------------------ */

#define BAT_MAX_EVENTS 8

struct bat {
    sim_kernel *k;
    int id;
    struct mdl_sto_params p;
    double soc0;
    int sp_ref; /* -1: no setpoint signal */
    sim_time_us period;
    int utc_offset_s;
    mdl_sto *m;
    struct mdl_sto_sigs sig;
    struct mdl_log_fifo logs;
};

static void bat_destroy(void *self)
{
    struct bat *b = self;
    if (!b)
        return;
    mdl_sto_free(b->m);
    free(b);
}

/* Prefix err's message with the component's name. */
static int named(struct bat *b, int rc, struct sim_err *err)
{
    return mdl_named(b->k, b->id, rc, err);
}

static int bat_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct bat *b = self;
    size_t q = mdl_sto_queue_len(b->p.latency_us, b->period, 1);
    b->sig.avg_t = sim_kernel_config(k)->start;
    return named(b, mdl_battery_new(&b->p, b->soc0, sim_kernel_config(k)->start, q, &b->m, err),
                 err);
}

static void publish_state(struct bat *b)
{
    struct mdl_sto_state st;
    mdl_sto_state(b->m, &st);
    mdl_sto_sigs_set(b->k, &b->sig, &st, mdl_battery_available_discharge_kw(b->m));
}

/* Advance the model to t and queue a log for every limit it reached. */
static int advance(struct bat *b, sim_time_us t, struct sim_err *err)
{
    struct mdl_sto_event ev[BAT_MAX_EVENTS];
    int n = 0, rc = mdl_sto_advance(b->m, t, ev, BAT_MAX_EVENTS, &n, err);
    if (rc)
        return named(b, rc, err);
    for (int i = 0; i < n && i < BAT_MAX_EVENTS && !rc; i++) {
        char at[48];
        mdl_clock_format(ev[i].t, b->utc_offset_s, at, sizeof at);
        if (ev[i].kind == MDL_STO_SOC_MIN)
            rc =
                mdl_log_defer(&b->logs, b->k, b->id, ev[i].t, "soc_min", SIM_WARNING, ev[i].soc,
                              err, "SoC %.2f %% reached the %.2f %% floor at %s: discharge stopped",
                              100 * ev[i].soc, 100 * b->p.soc_min, at);
        else
            rc = mdl_log_defer(&b->logs, b->k, b->id, ev[i].t, "soc_max", SIM_INFO, ev[i].soc, err,
                               "SoC %.2f %% reached the %.2f %% ceiling at %s: charge stopped",
                               100 * ev[i].soc, 100 * ev[i].ceiling_soc, at);
    }
    if (!rc && n > BAT_MAX_EVENTS)
        rc = sim_log(b->k, b->id, "soc_limit", SIM_WARNING, n,
                     "%d SoC limit events in one step, only %d logged", n, BAT_MAX_EVENTS)
                 ? sim_errf(err, SIM_EIO, "%s: the event hook failed",
                            sim_kernel_component_name(b->k, b->id))
                 : 0;
    return rc;
}

static int bat_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct bat *b = self;
    struct mdl_sto_state st;
    int rc;
    mdl_sto_state(b->m, &st);
    if (st.t < now && (rc = advance(b, now, err)) != 0) /* a missed step */
        return rc;
    double sp = b->sp_ref >= 0 ? sim_bus_get_ref(k, b->sp_ref) : 0.0;
    if (!isfinite(sp))
        return sim_errf(err, SIM_EFAIL, "%s: setpoint is not a number (%g)",
                        sim_kernel_component_name(k, b->id), sp);
    if ((rc = mdl_sto_command(b->m, sp, 1.0, err)) != 0)
        return named(b, rc, err);
    sim_bus_set(k, b->sig.sp, sp);
    publish_state(b);
    sim_time_us next = now + b->period, end = sim_kernel_config(k)->end;
    return advance(b, next < end ? next : end, err);
}

static int bat_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                     struct sim_err *err)
{
    (void)now;
    (void)data;
    struct bat *b = self;
    return kind == MDL_LOG_EVENT ? mdl_log_fire(&b->logs, k, b->id, err) : 0;
}

static int bat_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct bat *b = self;
    if (!b->m)
        return 0;
    struct mdl_sto_state st;
    mdl_sto_state(b->m, &st);
    int rc = 0;
    if (st.t < now)
        rc = advance(b, now, err);
    /* An interrupted run may leave the model ahead of now: the published
     * totals then include the rest of the step being integrated. */
    if (!rc)
        publish_state(b);
    int rc2 = mdl_log_flush(&b->logs, k, b->id, err);
    return rc ? rc : rc2;
}

static const struct sim_component_ops bat_ops = {
    .type = "battery",
    .init = bat_init,
    .step = bat_step,
    .event = bat_event,
    .finish = bat_finish,
    .destroy = bat_destroy,
};

/* ------------------------------------------------------------------ */
/* Factory                                                             */
/* ------------------------------------------------------------------ */

static int bat_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                      struct sim_err *err)
{
    struct bat *b = calloc(1, sizeof *b);
    if (!b)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    struct mdl_sto_params *p = &b->p;
    mdl_battery_params_default(p);
    const char *setpoint = NULL;
    double rt = 0;
    int rc;
    b->sp_ref = -1;
    if ((rc = mdl_sto_read_common(cfg, p, &setpoint, err)) != 0 ||
        (rc = scn_number(cfg, "soc_initial", 1, 0, 0, 1, &b->soc0, err)) != 0 ||
        (rc = scn_number(cfg, "soc_min", 0, p->soc_min, 0, 1, &p->soc_min, err)) != 0 ||
        (rc = scn_number(cfg, "soc_max", 0, p->soc_max, 0, 1, &p->soc_max, err)) != 0 ||
        (rc = scn_number(cfg, "standby_loss_kw", 0, 0, 0, MDL_MAX_POWER_KW, &p->standby_loss_kw,
                         err)) != 0)
        goto fail;
    if (!(p->soc_max > p->soc_min)) {
        rc = scn_errf(cfg, "soc_max", err, "expected a number > soc_min (%g), got %g", p->soc_min,
                      p->soc_max);
        goto fail;
    }
    /* Efficiency: per direction, or one round-trip figure, not both. */
    int has_rt = cJSON_GetObjectItemCaseSensitive(cfg->json, "round_trip_efficiency") != NULL;
    if (has_rt && (cJSON_GetObjectItemCaseSensitive(cfg->json, "eta_charge") ||
                   cJSON_GetObjectItemCaseSensitive(cfg->json, "eta_discharge"))) {
        rc = scn_errf(cfg, "round_trip_efficiency", err,
                      "give either round_trip_efficiency or eta_charge/eta_discharge, not both");
        goto fail;
    }
    if (has_rt) {
        if ((rc = scn_number(cfg, "round_trip_efficiency", 1, 1, 0.01, 1, &rt, err)) != 0)
            goto fail;
        mdl_battery_round_trip(rt, p);
    } else if ((rc = scn_number(cfg, "eta_charge", 0, p->eta_charge, 0.01, 1, &p->eta_charge,
                                err)) != 0 ||
               (rc = scn_number(cfg, "eta_discharge", 0, p->eta_discharge, 0.01, 1,
                                &p->eta_discharge, err)) != 0) {
        goto fail;
    }
    const char *bad = mdl_sto_params_invalid(p);
    if (bad) {
        rc = scn_errf(cfg, bad, err, "value out of range");
        goto fail;
    }
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;

    b->k = ctx->kernel;
    b->period = ctx->scenario->step;
    b->utc_offset_s = ctx->scenario->utc_offset_s;
    /* From here on the kernel owns b (it destroys it even on failure). */
    if ((rc = sim_kernel_add(ctx->kernel, name, &bat_ops, b, b->period, &b->id, err)) != 0)
        return rc;
    if ((rc = mdl_sto_sigs_publish(ctx->kernel, b->id, b->soc0, b->soc0 * p->capacity_kwh,
                                   b->soc0 > p->soc_min ? p->p_discharge_max_kw : 0, &b->sig,
                                   err)) != 0)
        return rc;
    if (setpoint) {
        char path[SCN_PATH_MAX], origin[SCN_PATH_MAX + 256];
        scn_path_join(path, sizeof path, cfg->path, "setpoint");
        snprintf(origin, sizeof origin, "%s: %s", ctx->file, path);
        if ((rc = sim_bus_read(ctx->kernel, b->id, setpoint, SIM_READ_NOW, origin, &b->sp_ref,
                               err)) != 0)
            return rc;
    }
    return 0;
fail:
    bat_destroy(b);
    return rc;
}

const struct scn_type mdl_battery_type = {
    .type = "battery",
    .summary = "stationary battery: limits, efficiencies, standby loss, ramp, latency, "
               "SoC limits as CVODE roots",
    .create = bat_create,
};
