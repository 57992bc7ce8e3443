/*
 * fsp.c: the "fsp" component, a flexibility service provider's policy for
 * one asset.
 *
 * At the start of the run the FSP registers its asset on the market; at
 * each offer's posting time it checks the asset's condition on the bus
 * (DEMO.md: the battery offers only while its SoC is above 20 %, the V2G
 * EV only at 30 % or more) and posts the offer, signed with its key. A
 * condition not met, or a refusal by the market, is logged and the run
 * goes on: an FSP that cannot offer is a result, not a crash.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define FSP_MAX_OFFERS 32
#define EV_REGISTER 1u
#define EV_OFFER 2u

struct fsp_offer {
    sim_time_us post_at, start, end, valid_until;
    double p_kw, price_eur_per_kwh;
    double availability_eur_per_kw_h; /* reservation price (0: none) */
    sim_time_us repeat; /* a standing offer: posted again this much later (0: once) */
    int occurrence;
    int has_baseline; /* a nominated baseline (prognosis) sent with the offer */
    double baseline_kw;
    int has_req;
    char req_signal[160];
    double req_min;
    int req_ref;
};

struct fsp {
    struct plt_context *c;
    int id;
    char participant[PLT_NAME_MAX];
    int part; /* index in c->part, after init */
    int asset; /* index in c->asset */
    struct mkt_asset a;
    struct fsp_offer offer[FSP_MAX_OFFERS];
    int noffers;
    int sig_offered;
    double offered_kw;
    int utc_offset_s; /* for messages in local time */
};

static int fsp_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct fsp *f = self;
    const char *me = sim_kernel_component_name(k, f->id);
    f->part = plt_participant_find(f->c, f->participant);
    if (!f->c->has_market)
        return sim_errf(err, SIM_EINVAL, "%s: an fsp needs a \"market\" section", me);
    if (f->part < 0)
        return sim_errf(err, SIM_EINVAL, "%s: participant \"%s\" is not in market.participants",
                        me, f->participant);
    if (f->c->part[f->part].role != MKT_ROLE_FSP)
        return sim_errf(err, SIM_EINVAL, "%s: participant \"%s\" does not have role \"fsp\"", me,
                        f->participant);
    memcpy(f->a.owner, f->c->part[f->part].addr, 20);
    f->c->asset[f->asset].fsp = f->part;
    if (sim_kernel_find(k, f->c->asset[f->asset].component) < 0)
        return sim_errf(err, SIM_EINVAL, "%s: asset.component: no component named \"%s\"", me,
                        f->c->asset[f->asset].component);
    if (!f->c->enabled)
        return SIM_OK;
    int rc = sim_kernel_schedule(k, f->id, sim_kernel_config(k)->start, INT32_MIN + 1,
                                 EV_REGISTER, 0, NULL);
    for (int i = 0; i < f->noffers && !rc; i++)
        rc = sim_kernel_schedule(k, f->id, f->offer[i].post_at, -10, EV_OFFER, (uint64_t)i, NULL);
    return rc ? sim_errf(err, rc, "%s: cannot schedule its offers (post_at before start?)", me)
              : SIM_OK;
}

static int fsp_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                     struct sim_err *err)
{
    struct fsp *f = self;
    struct plt_context *c = f->c;
    const struct mkt_key *key = &c->part[f->part].key;
    struct sim_err merr;
    if (!c->engine)
        return sim_errf(err, SIM_ESTATE, "the market is not open");
    if (kind == EV_REGISTER) {
        int64_t id = 0;
        if (mkt_do_asset_add(c->engine, key, &f->a, now, &id, &merr)) {
            sim_log(k, f->id, "refused", SIM_WARNING, 0, "asset_add refused: %s", merr.msg);
            return SIM_OK;
        }
        c->asset[f->asset].market_id = id;
        sim_log(k, f->id, "asset_added", SIM_INFO, (double)id, "registered %s \"%s\" at %s as asset %lld",
                mkt_asset_type_name(f->a.type), f->a.name, f->a.location, (long long)id);
        return SIM_OK;
    }
    struct fsp_offer *o = &f->offer[data];
    /* a standing offer: this occurrence's times, and the next one queued */
    struct fsp_offer cur = *o;
    o = &cur;
    if (f->offer[data].repeat > 0) {
        struct fsp_offer *nx = &f->offer[data];
        nx->post_at += nx->repeat;
        nx->start += nx->repeat;
        nx->end += nx->repeat;
        if (nx->valid_until)
            nx->valid_until += nx->repeat;
        nx->occurrence++;
        if (nx->post_at < sim_kernel_config(k)->end) {
            int rc = sim_kernel_schedule(k, f->id, nx->post_at, -10, EV_OFFER, data, NULL);
            if (rc)
                return sim_errf(err, rc, "scheduling the next occurrence of an offer");
        }
    }
    if (c->asset[f->asset].market_id == 0) {
        sim_log(k, f->id, "offer_skipped", SIM_WARNING, o->p_kw,
                "asset \"%s\" is not registered; no offer", f->a.name);
        return SIM_OK;
    }
    if (o->has_req) {
        double v = sim_bus_get_ref(k, o->req_ref);
        if (!(v >= o->req_min)) {
            sim_log(k, f->id, "offer_skipped", SIM_WARNING, v,
                    "%s = %g is below %g: no offer for %s", o->req_signal, v, o->req_min,
                    f->a.name);
            return SIM_OK;
        }
    }
    struct mkt_offer mo = {0};
    mo.asset_id = c->asset[f->asset].market_id;
    mo.start = o->start;
    mo.end = o->end;
    mo.valid_until = o->valid_until ? o->valid_until : o->start;
    mo.p_w = (int64_t)llround(o->p_kw * 1000.0);
    mo.price_ueur_per_kwh = plt_ueur(o->price_eur_per_kwh);
    mo.availability_ueur_per_kw_h = plt_ueur(o->availability_eur_per_kw_h);
    int64_t id = 0;
    if (mkt_do_offer_add(c->engine, key, &mo, now, &id, &merr)) {
        sim_log(k, f->id, "refused", SIM_WARNING, o->p_kw, "offer_add refused: %s", merr.msg);
        return SIM_OK;
    }
    if (o->occurrence == 0) { /* a standing offer counts once */
        f->offered_kw += o->p_kw;
        sim_bus_set(k, f->sig_offered, f->offered_kw);
    }
    /* the FSP's own baseline for the window (USEF's D-prognosis), which a
     * market with baseline "nominated" measures the delivery against */
    if (o->has_baseline &&
        mkt_do_prognosis(c->engine, key, mo.asset_id, o->start, o->end,
                         (int64_t)llround(o->baseline_kw * 1000.0), now, &merr))
        sim_log(k, f->id, "refused", SIM_WARNING, o->baseline_kw, "prognosis refused: %s",
                merr.msg);
    char t0[48], t1[48];
    sim_log(k, f->id, "offer_posted", SIM_INFO, o->p_kw,
            "offer %lld: %s %.3g kW %s .. %s at EUR %.4g/kWh", (long long)id, f->a.name, o->p_kw,
            sim_time_format(o->start, f->utc_offset_s, t0, sizeof t0),
            sim_time_format(o->end, f->utc_offset_s, t1, sizeof t1),
            o->price_eur_per_kwh);
    return SIM_OK;
}

static void fsp_destroy(void *self)
{
    free(self);
}

static const struct sim_component_ops fsp_ops = {
    .type = "fsp",
    .init = fsp_init,
    .event = fsp_event,
    .destroy = fsp_destroy,
};

static int read_asset(struct scn_ctx *ctx, struct plt_context *c, struct fsp *f,
                      struct scn_obj *cfg, struct sim_err *err)
{
    struct scn_obj o;
    int rc = scn_child(cfg, "asset", 1, &o, NULL, err);
    if (rc)
        return rc;
    static const char *const types[] = {"battery", "ev", "other", NULL};
    const char *comp = NULL, *name = NULL, *loc = NULL;
    int type = 0;
    double pmin = 0, pmax = 0, smin = 0, smax = 1;
    if ((rc = scn_string(&o, "component", 1, NULL, &comp, err)) ||
        (rc = scn_string(&o, "name", 0, NULL, &name, err)) ||
        (rc = scn_enum(&o, "type", 1, types, 0, &type, err)) ||
        (rc = scn_string(&o, "location", 1, NULL, &loc, err)) ||
        (rc = scn_number(&o, "p_min_kw", 1, 0, -1e6, 0, &pmin, err)) ||
        (rc = scn_number(&o, "p_max_kw", 1, 0, 0, 1e6, &pmax, err)) ||
        (rc = scn_number(&o, "soc_min", 0, 0, 0, 1, &smin, err)) ||
        (rc = scn_number(&o, "soc_max", 0, 1, 0, 1, &smax, err)) ||
        (rc = scn_obj_finish(&o, err)))
        return rc;
    if (smin > smax)
        return scn_errf(&o, "soc_min", err, "must not exceed soc_max");
    if (strlen(comp) >= PLT_NAME_MAX || (name && strlen(name) >= sizeof f->a.name) ||
        strlen(loc) >= sizeof f->a.location)
        return scn_errf(&o, NULL, err, "names are limited to %d characters", PLT_NAME_MAX - 1);
    if (plt_asset_find(c, comp, 0) >= 0)
        return scn_errf(&o, "component", err, "\"%s\" is already offered by another fsp", comp);
    if (c->nasset == PLT_MAX_ASSETS)
        return scn_errf(&o, NULL, err, "at most %d market assets", PLT_MAX_ASSETS);
    if (plt_grow((void **)&c->asset, &c->cap_asset, c->nasset, sizeof *c->asset))
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    f->asset = c->nasset++;
    struct plt_asset *pa = &c->asset[f->asset];
    memset(pa, 0, sizeof *pa);
    pa->dispatch = -1;
    snprintf(pa->component, sizeof pa->component, "%s", comp);
    snprintf(pa->name, sizeof pa->name, "%s", name ? name : comp);
    f->a.type = type == 0 ? MKT_ASSET_BATTERY : type == 1 ? MKT_ASSET_EV : MKT_ASSET_OTHER;
    snprintf(f->a.name, sizeof f->a.name, "%s", pa->name);
    snprintf(f->a.location, sizeof f->a.location, "%s", loc);
    f->a.p_min_w = (int64_t)llround(pmin * 1000.0);
    f->a.p_max_w = (int64_t)llround(pmax * 1000.0);
    f->a.soc_min_ppm = (int64_t)llround(smin * 1e6);
    f->a.soc_max_ppm = (int64_t)llround(smax * 1e6);
    (void)ctx;
    return SIM_OK;
}

static int read_offer(struct scn_ctx *ctx, struct scn_obj *cfg, const cJSON *item, int i,
                      struct fsp_offer *of, struct sim_err *err)
{
    struct scn_obj o, r;
    int rc = scn_obj_init_item(&o, cfg, "offers", i, item, err), has_req = 0;
    if (rc)
        return rc;
    memset(of, 0, sizeof *of);
    if ((rc = scn_time(&o, "post_at", 1, 0, &of->post_at, NULL, err)) ||
        (rc = scn_time(&o, "start", 1, 0, &of->start, NULL, err)) ||
        (rc = scn_time(&o, "end", 1, 0, &of->end, NULL, err)) ||
        (rc = scn_time(&o, "valid_until", 0, 0, &of->valid_until, NULL, err)) ||
        (rc = scn_number(&o, "p_kw", 1, 0, -1e6, 1e6, &of->p_kw, err)) ||
        (rc = scn_number(&o, "price_eur_per_kwh", 1, 0, 0, 1e3, &of->price_eur_per_kwh, err)) ||
        (rc = scn_number(&o, "availability_eur_per_kw_h", 0, 0, 0, 1e3,
                         &of->availability_eur_per_kw_h, err)) ||
        (rc = scn_child(&o, "require", 0, &r, &has_req, err)))
        return rc;
    if ((rc = scn_duration(&o, "repeat", 0, 0, SIM_US_PER_MIN, 366 * 24 * SIM_US_PER_H,
                           &of->repeat, err)))
        return rc;
    of->has_baseline = cJSON_GetObjectItemCaseSensitive(item, "baseline_kw") != NULL;
    if ((rc = scn_number(&o, "baseline_kw", 0, 0, -1e6, 1e6, &of->baseline_kw, err)))
        return rc;
    if (has_req) {
        const char *sig = NULL;
        if ((rc = scn_string(&r, "signal", 1, NULL, &sig, err)) ||
            (rc = scn_number(&r, "min", 1, 0, -1e12, 1e12, &of->req_min, err)) ||
            (rc = scn_obj_finish(&r, err)))
            return rc;
        of->has_req = 1;
        snprintf(of->req_signal, sizeof of->req_signal, "%s", sig);
    }
    if ((rc = scn_obj_finish(&o, err)))
        return rc;
    if (of->end <= of->start)
        return scn_errf(&o, "end", err, "must be after start");
    if (of->post_at > of->start || (of->has_baseline && of->post_at == of->start))
        return scn_errf(&o, "post_at", err, "an offer must be posted before its window starts");
    if (of->p_kw == 0)
        return scn_errf(&o, "p_kw", err, "must not be 0");
    if (of->post_at < ctx->scenario->start || of->post_at >= ctx->scenario->end)
        return scn_errf(&o, "post_at", err, "must lie inside the run");
    return SIM_OK;
}

static int fsp_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                      struct sim_err *err)
{
    struct plt_context *c = plt_context_of(ctx, cfg, err);
    if (!c)
        return SIM_EINVAL;
    struct fsp *f = calloc(1, sizeof *f);
    if (!f)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    f->c = c;
    f->utc_offset_s = ctx->scenario->utc_offset_s;
    const char *part = NULL;
    const cJSON *offers = NULL;
    int rc;
    if ((rc = scn_string(cfg, "participant", 1, NULL, &part, err)) ||
        (rc = read_asset(ctx, c, f, cfg, err)) ||
        (rc = scn_array(cfg, "offers", 0, &offers, err)))
        goto fail;
    snprintf(f->participant, sizeof f->participant, "%s", part);
    if (offers) {
        int i = 0;
        for (const cJSON *it = offers->child; it; it = it->next, i++) {
            if (i == FSP_MAX_OFFERS) {
                rc = scn_errf(cfg, "offers", err, "at most %d offers", FSP_MAX_OFFERS);
                goto fail;
            }
            if ((rc = read_offer(ctx, cfg, it, i, &f->offer[i], err)))
                goto fail;
            f->noffers++;
        }
    }
    if ((rc = scn_obj_finish(cfg, err)))
        goto fail;
    if ((rc = sim_kernel_add(ctx->kernel, name, &fsp_ops, f, 0, &f->id, err)))
        return rc;
    for (int i = 0; i < f->noffers; i++) {
        struct fsp_offer *o = &f->offer[i];
        if (!o->has_req)
            continue;
        char origin[SCN_PATH_MAX + 64];
        snprintf(origin, sizeof origin, "%s: %s.offers[%d].require.signal", ctx->file, cfg->path,
                 i);
        if ((rc = sim_bus_read(ctx->kernel, f->id, o->req_signal, SIM_READ_PREV, origin,
                               &o->req_ref, err)))
            return rc;
    }
    return sim_bus_publish(ctx->kernel, f->id, "offered_kw", "kW", SIM_SIG_RECORD | SIM_SIG_STATE,
                           0, &f->sig_offered, err);
fail:
    free(f);
    return rc;
}

const struct scn_type plt_fsp_type = {
    .type = "fsp",
    .summary = "flexibility service provider: registers one asset and posts its offers",
    .create = fsp_create,
};
