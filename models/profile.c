/*
 * profile.c: the "profile" scenario component, a load (or generation) that
 * follows a time series.
 *
 * A profile is how measured or reconstructed curves enter a run: the demo's
 * base load behind the transformer is one (scenarios/demo-2023-10-02.json).
 * At every scenario step it publishes "<name>.p_kw" = series(now), and,
 * when the scenario gives a reactive part ("q_series", or "power_factor"),
 * "<name>.q_kvar". Reading, interpolation, scaling and repetition are the
 * series' business (scn_series_*), so a profile holds no data of its own.
 */
#include <math.h>
#include <stdlib.h>

#include "models.h"

struct profile {
    struct scn_series *p, *q; /* owned; q may be NULL */
    int has_q;
    double tan_phi; /* q = p tan(phi) when q is NULL */
    int sig_p, sig_q;
};

static void profile_destroy(void *self)
{
    struct profile *pr = self;
    if (!pr)
        return;
    scn_series_free(pr->p);
    scn_series_free(pr->q);
    free(pr);
}

static double q_at(struct profile *pr, sim_time_us t, double p)
{
    return pr->q ? scn_series_at(pr->q, t) : p * pr->tan_phi;
}

static int profile_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)err;
    struct profile *pr = self;
    double p = scn_series_at(pr->p, now);
    sim_bus_set(k, pr->sig_p, p);
    if (pr->has_q)
        sim_bus_set(k, pr->sig_q, q_at(pr, now, p));
    return 0;
}

static const struct sim_component_ops profile_ops = {
    .type = "profile",
    .step = profile_step,
    .destroy = profile_destroy,
};

static int profile_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                          struct sim_err *err)
{
    struct profile *pr = calloc(1, sizeof *pr);
    if (!pr)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    struct scn_obj so;
    int has_qs = 0, rc;
    double pf = 1.0;

    if ((rc = scn_child(cfg, "series", 1, &so, NULL, err)) != 0 ||
        (rc = scn_series_load(&so, ctx->dir, &pr->p, err)) != 0)
        goto fail;
    if ((rc = scn_child(cfg, "q_series", 0, &so, &has_qs, err)) != 0)
        goto fail;
    if (has_qs) {
        if (cJSON_GetObjectItemCaseSensitive(cfg->json, "power_factor")) {
            rc = scn_errf(cfg, "power_factor", err,
                          "give either q_series or power_factor, not both");
            goto fail;
        }
        if ((rc = scn_series_load(&so, ctx->dir, &pr->q, err)) != 0)
            goto fail;
    }
    pr->has_q = has_qs || cJSON_GetObjectItemCaseSensitive(cfg->json, "power_factor") != NULL;
    if ((rc = scn_number(cfg, "power_factor", 0, 1.0, 0.01, 1.0, &pf, err)) != 0)
        goto fail;
    pr->tan_phi = tan(acos(pf)); /* lagging: q has the sign of p */
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;

    /* From here on the kernel owns pr (it destroys it even on failure). */
    int id;
    if ((rc = sim_kernel_add(ctx->kernel, name, &profile_ops, pr, ctx->scenario->step, &id, err)) !=
        0)
        return rc;
    double p0 = scn_series_at(pr->p, ctx->scenario->start);
    if ((rc = sim_bus_publish(ctx->kernel, id, "p_kw", "kW", SIM_SIG_RECORD, p0, &pr->sig_p,
                              err)) != 0)
        return rc;
    if (pr->has_q &&
        (rc = sim_bus_publish(ctx->kernel, id, "q_kvar", "kvar", SIM_SIG_RECORD,
                              q_at(pr, ctx->scenario->start, p0), &pr->sig_q, err)) != 0)
        return rc;
    return 0;
fail:
    profile_destroy(pr);
    return rc;
}

const struct scn_type mdl_profile_type = {
    .type = "profile",
    .summary = "load or generation following a CSV time series (p_kw, optional q_kvar)",
    .create = profile_create,
};
