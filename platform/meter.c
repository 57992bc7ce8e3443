/*
 * meter.c: the "meter" component, one measuring point of the demo's IoT
 * platform.
 *
 * A meter samples a power signal at its own period (1 min in the demo) and
 * keeps an energy register from those samples, the way a monitoring
 * platform that polls once a minute sees an asset: a ramp or a late start
 * inside a minute is seen only at the next sample. That makes metering
 * resolution a named, visible cause of measured shortfall instead of a
 * hidden fudge. With "import" (and "export") registers instead of
 * "signal" the meter reads an asset's own cumulative energy counters, as a
 * real energy meter (or OCPP's Energy.Active.Import/Export.Register) does:
 * exact at every sample.
 *
 * Publishes <name>.p_kw (the last sample) and <name>.e_kwh (cumulative
 * energy since the start of the run, consumption positive). The delivery
 * over a window is the difference of two readings (meter_energy_between).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

enum integration { INT_LEFT = 0, INT_TRAPEZOID = 1 };

struct meter {
    int id;
    int ref;              /* power signal or import register */
    int ref_out;          /* export register, -1 if none */
    int is_register;
    enum integration integ;
    double resolution_kw; /* quantisation of each sample, 0 = none */
    sim_time_us period;
    int sig_p, sig_e;
    int have_prev;
    double prev_p;
    double e_kwh;
    double reg0;          /* register reading at the first sample */
    /* Readings at each sample, for energy over any window afterwards:
     * sized at init for the whole run. */
    sim_time_us t0;
    double *e_at;
    size_t n_at, cap_at;
};

static void meter_destroy(void *self)
{
    struct meter *m = self;
    if (!m)
        return;
    free(m->e_at);
    free(m);
}

static int meter_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct meter *m = self;
    const struct sim_config *cfg = sim_kernel_config(k);
    m->t0 = cfg->start;
    m->cap_at = (size_t)((cfg->end - cfg->start) / m->period) + 2;
    m->e_at = calloc(m->cap_at, sizeof *m->e_at);
    if (!m->e_at)
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", sim_kernel_component_name(k, m->id));
    return SIM_OK;
}

static int meter_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)err;
    struct meter *m = self;
    double v = sim_bus_get_ref(k, m->ref);
    if (m->is_register && m->ref_out >= 0)
        v -= sim_bus_get_ref(k, m->ref_out);
    if (m->is_register) {
        if (!m->have_prev) {
            m->reg0 = v;
            m->have_prev = 1;
        }
        double e = v - m->reg0;
        double dt_h = (double)m->period / 3.6e9;
        sim_bus_set(k, m->sig_p, m->n_at ? (e - m->e_kwh) / dt_h : 0.0);
        m->e_kwh = e;
    } else {
        double p = v;
        if (m->resolution_kw > 0)
            p = round(p / m->resolution_kw) * m->resolution_kw;
        /* The energy of the interval that just ended, from its samples. */
        if (m->have_prev) {
            double dt_h = (double)m->period / 3.6e9;
            m->e_kwh += (m->integ == INT_TRAPEZOID ? 0.5 * (m->prev_p + p) : m->prev_p) * dt_h;
        }
        m->prev_p = p;
        m->have_prev = 1;
        sim_bus_set(k, m->sig_p, p);
    }
    sim_bus_set(k, m->sig_e, m->e_kwh);
    size_t i = (size_t)((now - m->t0) / m->period);
    if (i < m->cap_at) {
        m->e_at[i] = m->e_kwh;
        if (i + 1 > m->n_at)
            m->n_at = i + 1;
    }
    return SIM_OK;
}

static const struct sim_component_ops meter_ops = {
    .type = "meter",
    .init = meter_init,
    .step = meter_step,
    .destroy = meter_destroy,
};

int plt_meter_energy_between(const void *self, sim_time_us a, sim_time_us b, double *kwh)
{
    const struct meter *m = self;
    if (!m->e_at || a < m->t0 || b < a || (a - m->t0) % m->period || (b - m->t0) % m->period)
        return SIM_ERANGE;
    size_t ia = (size_t)((a - m->t0) / m->period), ib = (size_t)((b - m->t0) / m->period);
    if (ib >= m->n_at)
        return SIM_ERANGE;
    *kwh = m->e_at[ib] - m->e_at[ia];
    return SIM_OK;
}

static int meter_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                        struct sim_err *err)
{
    struct meter *m = calloc(1, sizeof *m);
    if (!m)
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", ctx->file);
    const char *sig = NULL, *reg = NULL, *reg_out = NULL;
    static const char *const integs[] = {"left", "trapezoid", NULL};
    int integ = 0, rc;
    if ((rc = scn_string(cfg, "signal", 0, NULL, &sig, err)) ||
        (rc = scn_string(cfg, "import", 0, NULL, &reg, err)) ||
        (rc = scn_string(cfg, "export", 0, NULL, &reg_out, err)) ||
        (rc = scn_duration(cfg, "period", 0, ctx->scenario->step, 1, INT64_MAX / 4, &m->period,
                           err)) ||
        (rc = scn_enum(cfg, "integration", 0, integs, INT_LEFT, &integ, err)) ||
        (rc = scn_number(cfg, "resolution_kw", 0, 0, 0, 1e6, &m->resolution_kw, err)))
        goto fail;
    if (!sig == !reg) {
        rc = scn_errf(cfg, NULL, err, "give exactly one of \"signal\" (power, kW) and "
                                      "\"import\" (cumulative energy register, kWh)");
        goto fail;
    }
    if (reg_out && !reg) {
        rc = scn_errf(cfg, "export", err, "an export register needs an import register");
        goto fail;
    }
    if (m->period % ctx->scenario->step) {
        rc = scn_errf(cfg, "period", err, "must be a multiple of the scenario step");
        goto fail;
    }
    if ((rc = scn_obj_finish(cfg, err)))
        goto fail;
    m->integ = (enum integration)integ;
    m->is_register = reg != NULL;
    m->ref_out = -1;
    char full[160], origin[SCN_PATH_MAX + 64];
    scn_signal_name(sig ? sig : reg, sig ? "p_kw" : "e_in_kwh", full, sizeof full);
    snprintf(origin, sizeof origin, "%s: %s.%s", ctx->file, cfg->path, sig ? "signal" : "import");
    if ((rc = sim_kernel_add(ctx->kernel, name, &meter_ops, m, m->period, &m->id, err)))
        return rc;
    if (reg_out) {
        char full_out[160], origin_out[SCN_PATH_MAX + 64];
        scn_signal_name(reg_out, "e_out_kwh", full_out, sizeof full_out);
        snprintf(origin_out, sizeof origin_out, "%s: %s.export", ctx->file, cfg->path);
        if ((rc = sim_bus_read(ctx->kernel, m->id, full_out, SIM_READ_NOW, origin_out, &m->ref_out,
                               err)))
            return rc;
    }
    if ((rc = sim_bus_read(ctx->kernel, m->id, full, SIM_READ_NOW, origin, &m->ref, err)) ||
        (rc = sim_bus_publish(ctx->kernel, m->id, "p_kw", "kW", SIM_SIG_RECORD, 0, &m->sig_p,
                              err)) ||
        (rc = sim_bus_publish(ctx->kernel, m->id, "e_kwh", "kWh", SIM_SIG_RECORD | SIM_SIG_STATE,
                              0, &m->sig_e, err)))
        return rc;
    return SIM_OK;
fail:
    meter_destroy(m);
    return rc;
}

const struct scn_type plt_meter_type = {
    .type = "meter",
    .summary = "IoT-platform meter: samples a power signal, or reads import/export energy "
               "registers, at its period and keeps an energy register",
    .create = meter_create,
};
