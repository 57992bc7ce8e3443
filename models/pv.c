/*
 * pv.c: the "pv" scenario component, a photovoltaic system driven by an
 * irradiance or a per-unit power profile.
 *
 * The model is the one planners use for LV studies: DC power proportional
 * to plane-of-array irradiance G (W/m2) against standard test conditions
 * (1000 W/m2), a linear temperature derating of the cell temperature
 * (NOCT model), a lumped system derate (wiring, soiling, mismatch), and an
 * inverter that clips at its AC rating and converts at a fixed efficiency:
 *
 *   T_cell = T_amb + (NOCT - 20) / 800 * G
 *   P_dc   = P_peak * G / 1000 * (1 + gamma * (T_cell - 25)) * derate
 *   P_ac   = min(P_dc * eta_inv, P_ac_max)
 *
 * Alternatively the series gives power per unit of peak power directly
 * ("per_unit": true), e.g. a measured PV profile. Generation is published
 * as negative consumption (flexbed's sign convention), so a PV system can
 * be one of a transformer's or feeder's loads as it is.
 */
#include <math.h>
#include <stdlib.h>

#include "models.h"

struct pv {
    struct scn_series *s; /* irradiance W/m2, or per-unit power */
    int per_unit;
    double peak_kw, ac_max_kw, eta_inv, derate, gamma, noct, t_amb;
    int sig_p, sig_g;
};

static void pv_destroy(void *self)
{
    struct pv *pv = self;
    if (!pv)
        return;
    scn_series_free(pv->s);
    free(pv);
}

/* AC output in kW (>= 0) for the series value x. */
static double pv_power(const struct pv *pv, double x)
{
    if (!(x > 0))
        return 0.0;
    double p;
    if (pv->per_unit) {
        p = pv->peak_kw * x;
    } else {
        double t_cell = pv->t_amb + (pv->noct - 20.0) / 800.0 * x;
        p = pv->peak_kw * x / 1000.0 * (1.0 + pv->gamma * (t_cell - 25.0)) * pv->derate *
            pv->eta_inv;
    }
    if (p > pv->ac_max_kw)
        p = pv->ac_max_kw;
    return p > 0 ? p : 0.0;
}

static int pv_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)err;
    struct pv *pv = self;
    double x = scn_series_at(pv->s, now);
    sim_bus_set(k, pv->sig_g, x);
    sim_bus_set(k, pv->sig_p, -pv_power(pv, x));
    return SIM_OK;
}

static const struct sim_component_ops pv_ops = {
    .type = "pv",
    .step = pv_step,
    .destroy = pv_destroy,
};

static int pv_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                     struct sim_err *err)
{
    struct pv *pv = calloc(1, sizeof *pv);
    if (!pv)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    struct scn_obj so;
    int rc;
    if ((rc = scn_child(cfg, "series", 1, &so, NULL, err)) ||
        (rc = scn_series_load(&so, ctx->dir, &pv->s, err)) ||
        (rc = scn_bool(cfg, "per_unit", 0, 0, &pv->per_unit, err)) ||
        (rc = scn_number(cfg, "peak_kw", 1, 0, 0, 1e6, &pv->peak_kw, err)) ||
        (rc = scn_number(cfg, "ac_max_kw", 0, pv->peak_kw, 0, 1e6, &pv->ac_max_kw, err)) ||
        (rc = scn_number(cfg, "inverter_efficiency", 0, 0.96, 0.01, 1, &pv->eta_inv, err)) ||
        (rc = scn_number(cfg, "derate", 0, 0.9, 0.01, 1, &pv->derate, err)) ||
        (rc = scn_number(cfg, "temp_coeff_per_degc", 0, -0.004, -0.02, 0, &pv->gamma, err)) ||
        (rc = scn_number(cfg, "noct_degc", 0, 45, 20, 80, &pv->noct, err)) ||
        (rc = scn_number(cfg, "ambient_degc", 0, 20, -50, 60, &pv->t_amb, err)) ||
        (rc = scn_obj_finish(cfg, err)))
        goto fail;
    if (pv->per_unit) {
        /* Irradiance-only keys make no sense on a per-unit profile. */
        static const char *const irr_only[] = {"derate", "temp_coeff_per_degc", "noct_degc",
                                               "ambient_degc", "inverter_efficiency"};
        for (size_t i = 0; i < sizeof irr_only / sizeof irr_only[0]; i++)
            if (cJSON_GetObjectItemCaseSensitive(cfg->json, irr_only[i])) {
                rc = scn_errf(cfg, irr_only[i], err,
                              "applies to an irradiance series only (per_unit is true)");
                goto fail;
            }
    }
    int id;
    if ((rc = sim_kernel_add(ctx->kernel, name, &pv_ops, pv, ctx->scenario->step, &id, err)))
        return rc;
    double x0 = scn_series_at(pv->s, ctx->scenario->start);
    if ((rc = sim_bus_publish(ctx->kernel, id, "p_kw", "kW", SIM_SIG_RECORD, -pv_power(pv, x0),
                              &pv->sig_p, err)))
        return rc;
    return sim_bus_publish(ctx->kernel, id, pv->per_unit ? "p_pu" : "irradiance_w_m2",
                           pv->per_unit ? "1" : "W/m2", SIM_SIG_RECORD, x0, &pv->sig_g, err);
fail:
    pv_destroy(pv);
    return rc;
}

const struct scn_type mdl_pv_type = {
    .type = "pv",
    .summary = "photovoltaic system from an irradiance (W/m2) or per-unit power series; "
               "generation is negative p_kw",
    .create = pv_create,
};
