/*
 * dispatch.c: the "dispatch" component, the demo's EV management platform
 * together with the IoT platform's delivery report.
 *
 * It polls the market's dispatch instructions (written when the DSO buys a
 * match), and for each one drives the asset's setpoint signal
 * "<name>.<asset component>_kw" from the window's start to its end, both
 * shifted by the platform's own latency. The assets read that signal
 * through their "setpoint" key, whatever their backend (model, Modbus,
 * OCPP), and add their own command latency and ramp. After the window, the
 * asset's meter gives the energy delivered, which goes back to the market
 * as a signed delivery report `report_delay` after the window's end.
 *
 * Setpoints change only at step times, so the platform latency must be a
 * multiple of the scenario step; a sub-step delay belongs to the asset's
 * own `latency`, which its model integrates exactly.
 *
 * In a market that measures delivery against a baseline (market.baseline,
 * docs/market.md "Measurement and verification") the platform is also the
 * metering side: every `meter_period` it sends each asset's net energy as
 * a signed meter reading, and after a window it asks the market for the
 * delivery instead of reporting one. Its instructions are then changes
 * from what the asset was doing when the window opened (setpoints
 * "relative"): an EV charging at 7 kW told to reduce by 10 kW gets -3 kW.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define DSP_MAX_ASSETS 32
#define DSP_MAX_INSTR 256
#define EV_ON 1u
#define EV_OFF 2u
#define EV_REPORT 3u

struct dsp_asset {
    char component[PLT_NAME_MAX];
    char meter[PLT_NAME_MAX];
    const void *meter_self;
    int sig;      /* the setpoint signal */
    int ctx_asset; /* index in c->asset, resolved at init */
    double active_kw;
    int sig_p;     /* relative setpoints: the asset's power, "<component>.p_kw" */
    double base_kw; /* ... as it was when the first active instruction began */
    int n_active;
    int meter_failed; /* a reading could not be taken (logged once) */
};

struct dsp_instr {
    struct mkt_dispatch d;
    int asset; /* index in a[] */
};

struct dispatch {
    struct plt_context *c;
    int id;
    sim_time_us latency, report_delay, poll_period;
    char reporter[PLT_NAME_MAX];
    int rep;
    struct dsp_asset a[DSP_MAX_ASSETS];
    int na;
    struct dsp_instr in[DSP_MAX_INSTR];
    int nin;
    int64_t last_id;
    int utc_offset_s;
    int setpoints;  /* SP_AUTO, SP_ABSOLUTE, SP_RELATIVE (resolved at init) */
    int measuring;  /* the market measures against a baseline */
    sim_time_us meter_period, meter_next;
    sim_time_us step; /* the scenario's */
};

enum { SP_AUTO = 0, SP_ABSOLUTE = 1, SP_RELATIVE = 2 };

static int dispatch_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct dispatch *d = self;
    const char *me = sim_kernel_component_name(k, d->id);
    if (!d->c->has_market)
        return sim_errf(err, SIM_EINVAL, "%s: dispatch needs a \"market\" section", me);
    d->rep = d->reporter[0] ? plt_participant_find(d->c, d->reporter) : d->c->op;
    if (d->rep < 0)
        return sim_errf(err, SIM_EINVAL, "%s: reporter \"%s\" is not in market.participants", me,
                        d->reporter);
    for (int i = 0; i < d->na; i++) {
        struct dsp_asset *a = &d->a[i];
        a->ctx_asset = plt_asset_find(d->c, a->component, 0);
        if (a->ctx_asset < 0)
            return sim_errf(err, SIM_EINVAL,
                            "%s: asset \"%s\" is not offered by any fsp component (asset.component)",
                            me, a->component);
        /* one platform per asset: several platforms (one per feeder, say)
         * share the market's instructions and each acts on its own */
        struct plt_asset *pa = &d->c->asset[a->ctx_asset];
        if (pa->dispatch >= 0 && pa->dispatch != d->id)
            return sim_errf(err, SIM_EINVAL, "%s: meters.%s: already controlled by %s", me,
                            a->component, sim_kernel_component_name(k, pa->dispatch));
        pa->dispatch = d->id;
        int m = sim_kernel_find(k, a->meter);
        if (m < 0 || strcmp(sim_kernel_component_type(k, m), "meter") != 0)
            return sim_errf(err, SIM_EINVAL, "%s: meters.%s: \"%s\" is not a meter component", me,
                            a->component, a->meter);
        a->meter_self = sim_kernel_component_self(k, m);
    }
    /* The market's rules are known now (the "market" section may follow
     * the components in the file). */
    d->measuring = d->c->params.baseline != MKT_BASELINE_METERED;
    if (d->setpoints == SP_AUTO)
        d->setpoints = d->measuring ? SP_RELATIVE : SP_ABSOLUTE;
    for (int i = 0; d->setpoints == SP_RELATIVE && i < d->na; i++) {
        char sig[PLT_NAME_MAX + 8];
        snprintf(sig, sizeof sig, "%s.p_kw", d->a[i].component);
        if ((d->a[i].sig_p = sim_bus_find(k, sig)) < 0)
            return sim_errf(err, SIM_EINVAL,
                            "%s: relative setpoints need the asset's power signal %s", me, sig);
    }
    d->meter_next = sim_kernel_config(k)->start + d->meter_period;
    return SIM_OK;
}

/* When a window's delivery can be asked for: report_delay after its end
 * (and after the span the baseline also needs after it), and not before
 * the meter reading that covers that span's end has been sent (one step
 * after the end of its metering period). */
static sim_time_us report_time(const struct dispatch *d, sim_kernel *k, sim_time_us end)
{
    sim_time_us t = end + d->report_delay;
    if (!d->measuring)
        return t;
    const struct mkt_params *p = &d->c->params;
    sim_time_us need = end + (p->baseline == MKT_BASELINE_METER_BEFORE_AFTER ? p->baseline_us : 0);
    sim_time_us t0 = sim_kernel_config(k)->start, P = d->meter_period;
    sim_time_us covered = t0 + (need - t0 + P - 1) / P * P + d->step;
    if (p->baseline == MKT_BASELINE_METER_BEFORE_AFTER)
        t += p->baseline_us;
    return t > covered ? t : covered;
}

/* Send the meter readings of every metering period that is over: each
 * asset's net energy (import positive) from its meter. */
static int send_readings(struct dispatch *d, sim_kernel *k, sim_time_us now)
{
    while (d->meter_next < now) {
        sim_time_us a = d->meter_next - d->meter_period, b = d->meter_next;
        d->meter_next += d->meter_period;
        for (int i = 0; i < d->na; i++) {
            struct dsp_asset *x = &d->a[i];
            int64_t asset = d->c->asset[x->ctx_asset].market_id;
            double kwh;
            if (asset <= 0)
                continue; /* not in the market yet */
            if (plt_meter_energy_between(x->meter_self, a, b, &kwh)) {
                if (!x->meter_failed++)
                    sim_log(k, d->id, "no_reading", SIM_ALARM, 0,
                            "%s: meter %s cannot give the energy of a %g min metering period "
                            "(its period must divide meter_period)",
                            x->component, x->meter, (double)d->meter_period / 6e7);
                continue;
            }
            struct sim_err merr;
            if (mkt_do_meter(d->c->engine, &d->c->part[d->rep].key, asset, a, b,
                             (int64_t)llround(kwh * 1000.0), now, &merr))
                sim_log(k, d->id, "refused", SIM_WARNING, kwh, "meter reading refused: %s",
                        merr.msg);
        }
    }
    return SIM_OK;
}

static int find_asset(const struct dispatch *d, int64_t market_id)
{
    for (int i = 0; i < d->na; i++)
        if (d->c->asset[d->a[i].ctx_asset].market_id == market_id)
            return i;
    return -1;
}

/* Poll the market for new instructions and schedule them. */
static int dispatch_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct dispatch *d = self;
    if (!d->c->engine)
        return SIM_OK;
    if (d->measuring)
        send_readings(d, k, now);
    struct mkt_dispatch buf[16];
    size_t n = 0;
    do {
        struct sim_err merr;
        if (mkt_dispatch_list(d->c->engine, d->last_id, buf, 16, &n, &merr))
            return sim_errf(err, SIM_EIO, "reading dispatch instructions: %s", merr.msg);
        size_t got = n < 16 ? n : 16;
        for (size_t j = 0; j < got; j++) {
            d->last_id = buf[j].id;
            int a = find_asset(d, buf[j].asset_id);
            if (a < 0) {
                int ca = plt_asset_find(d->c, NULL, buf[j].asset_id);
                if (ca >= 0 && d->c->asset[ca].dispatch >= 0)
                    continue; /* another platform's */
                sim_log(k, d->id, "unknown_asset", SIM_WARNING, (double)buf[j].asset_id,
                        "dispatch %lld for market asset %lld, which this platform does not "
                        "control",
                        (long long)buf[j].id, (long long)buf[j].asset_id);
                continue;
            }
            if (d->nin == DSP_MAX_INSTR) {
                sim_log(k, d->id, "dispatch_limit", SIM_ALARM, 0,
                        "more than %d dispatch instructions; ignoring the rest", DSP_MAX_INSTR);
                continue;
            }
            int i = d->nin++;
            d->in[i].d = buf[j];
            d->in[i].asset = a;
            sim_time_us on = buf[j].start + d->latency, off = buf[j].end + d->latency;
            if (on < now)
                on = now; /* bought late: start at once */
            char t0[48], t1[48];
            sim_log(k, d->id, "dispatch", SIM_INFO, (double)buf[j].p_w / 1e3,
                    "%s: %.3g kW from %s to %s (match %lld)", d->a[a].component,
                    (double)buf[j].p_w / 1e3, sim_time_format(on, d->utc_offset_s, t0, sizeof t0),
                    sim_time_format(off, d->utc_offset_s, t1, sizeof t1),
                    (long long)buf[j].match_id);
            /* Setpoint changes fire before the steps of their instant
             * (negative priority), so the asset sees them in that step. */
            int rc = sim_kernel_schedule(k, d->id, on, -20, EV_ON, (uint64_t)i, NULL);
            if (!rc && off < sim_kernel_config(k)->end)
                rc = sim_kernel_schedule(k, d->id, off, -20, EV_OFF, (uint64_t)i, NULL);
            if (d->measuring && ((buf[j].start - sim_kernel_config(k)->start) % d->meter_period ||
                                 (buf[j].end - sim_kernel_config(k)->start) % d->meter_period))
                sim_log(k, d->id, "unaligned", SIM_WARNING, 0,
                        "match %lld: its window does not align with the %g min metering "
                        "periods; the readings that cross its edges count pro rata",
                        (long long)buf[j].match_id, (double)d->meter_period / 6e7);
            sim_time_us rep = report_time(d, k, buf[j].end);
            if (!rc && rep < sim_kernel_config(k)->end)
                rc = sim_kernel_schedule(k, d->id, rep, 20, EV_REPORT, (uint64_t)i, NULL);
            if (rc)
                return sim_errf(err, rc, "scheduling dispatch %lld", (long long)buf[j].id);
        }
    } while (n > 16);
    return SIM_OK;
}

/* A market with a baseline computes the delivery from the readings. */
static int report_measured(struct dispatch *d, sim_kernel *k, sim_time_us now,
                           struct dsp_instr *in)
{
    struct dsp_asset *a = &d->a[in->asset];
    struct sim_err merr;
    struct mkt_match m;
    if (mkt_do_delivery(d->c->engine, &d->c->part[d->rep].key, in->d.match_id, -1, now, &merr) ||
        mkt_match_get(d->c->engine, in->d.match_id, &m, &merr)) {
        sim_log(k, d->id, "refused", SIM_WARNING, 0, "delivery refused: %s", merr.msg);
        return SIM_OK;
    }
    double accepted = fabs((double)in->d.p_w) / 1e3 * (double)(in->d.end - in->d.start) / 3.6e9;
    sim_log(k, d->id, "delivery", SIM_INFO, (double)m.delivered_wh / 1e3,
            "%s delivered %.2f kWh of %.2f kWh accepted (%.0f %%) against its %s baseline",
            a->component, (double)m.delivered_wh / 1e3, accepted,
            accepted > 0 ? 100.0 * (double)m.delivered_wh / 1e3 / accepted : 0,
            mkt_baseline_name(d->c->params.baseline));
    return SIM_OK;
}

static int report(struct dispatch *d, sim_kernel *k, sim_time_us now, struct dsp_instr *in)
{
    if (d->measuring)
        return report_measured(d, k, now, in);
    struct dsp_asset *a = &d->a[in->asset];
    double e_kwh = 0;
    if (plt_meter_energy_between(a->meter_self, in->d.start, in->d.end, &e_kwh)) {
        sim_log(k, d->id, "no_reading", SIM_ALARM, 0,
                "%s: meter %s has no readings for the window", a->component, a->meter);
        return SIM_OK;
    }
    /* The meter counts consumption positive; a delivery is energy in the
     * instruction's direction, never negative. */
    double delivered = in->d.p_w < 0 ? -e_kwh : e_kwh;
    if (delivered < 0)
        delivered = 0;
    int64_t e_wh = (int64_t)llround(delivered * 1000.0);
    struct sim_err merr;
    if (mkt_do_delivery(d->c->engine, &d->c->part[d->rep].key, in->d.match_id, e_wh, now,
                        &merr)) {
        sim_log(k, d->id, "refused", SIM_WARNING, delivered, "delivery report refused: %s",
                merr.msg);
        return SIM_OK;
    }
    double accepted = fabs((double)in->d.p_w) / 1e3 * (double)(in->d.end - in->d.start) / 3.6e9;
    sim_log(k, d->id, "delivery", SIM_INFO, (double)e_wh / 1e3,
            "%s delivered %.2f kWh of %.2f kWh accepted (%.0f %%), metered by %s", a->component,
            (double)e_wh / 1e3, accepted, accepted > 0 ? 100.0 * (double)e_wh / 1e3 / accepted : 0,
            a->meter);
    return SIM_OK;
}

static int dispatch_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind,
                          uint64_t data, struct sim_err *err)
{
    (void)err;
    struct dispatch *d = self;
    struct dsp_instr *in = &d->in[data];
    struct dsp_asset *a = &d->a[in->asset];
    switch (kind) {
    case EV_ON:
        /* relative: the change is from what the asset did when its first
         * active instruction began (the value of its power signal at the
         * last step) */
        if (a->n_active++ == 0 && d->setpoints == SP_RELATIVE)
            a->base_kw = sim_bus_get(k, a->sig_p);
        a->active_kw += (double)in->d.p_w / 1e3;
        break;
    case EV_OFF:
        a->active_kw -= (double)in->d.p_w / 1e3;
        if (a->n_active > 0)
            a->n_active--;
        break;
    case EV_REPORT: return report(d, k, now, in);
    default: return SIM_OK;
    }
    if (fabs(a->active_kw) < 1e-9)
        a->active_kw = 0;
    double sp = a->active_kw;
    if (d->setpoints == SP_RELATIVE)
        sp = a->n_active > 0 ? a->base_kw + a->active_kw : 0; /* 0: withdrawn */
    sim_bus_set(k, a->sig, sp);
    return SIM_OK;
}

static void dispatch_destroy(void *self)
{
    free(self);
}

static const struct sim_component_ops dispatch_ops = {
    .type = "dispatch",
    .init = dispatch_init,
    .step = dispatch_step,
    .event = dispatch_event,
    .destroy = dispatch_destroy,
};

static int dispatch_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                           struct sim_err *err)
{
    struct plt_context *c = plt_context_of(ctx, cfg, err);
    if (!c)
        return SIM_EINVAL;
    struct dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    d->c = c;
    d->utc_offset_s = ctx->scenario->utc_offset_s;
    sim_time_us step = ctx->scenario->step;
    d->step = step;
    struct scn_obj meters;
    const char *reporter = NULL;
    static const char *const setpoint_modes[] = {"auto", "absolute", "relative", NULL};
    int rc;
    if ((rc = scn_duration(cfg, "latency", 0, 0, 0, 24 * SIM_US_PER_H, &d->latency, err)) ||
        (rc = scn_duration(cfg, "report_delay", 0, 5 * SIM_US_PER_MIN, step, 24 * SIM_US_PER_H,
                           &d->report_delay, err)) ||
        (rc = scn_duration(cfg, "poll_period", 0, step, step, 24 * SIM_US_PER_H, &d->poll_period,
                           err)) ||
        (rc = scn_string(cfg, "reporter", 0, NULL, &reporter, err)) ||
        (rc = scn_enum(cfg, "setpoints", 0, setpoint_modes, SP_AUTO, &d->setpoints, err)) ||
        (rc = scn_duration(cfg, "meter_period", 0, 15 * SIM_US_PER_MIN, step, 24 * SIM_US_PER_H,
                           &d->meter_period, err)) ||
        (rc = scn_child(cfg, "meters", 1, &meters, NULL, err)))
        goto fail;
    if (d->latency % step || d->poll_period % step || d->meter_period % step) {
        rc = scn_errf(cfg,
                      d->latency % step       ? "latency"
                      : d->poll_period % step ? "poll_period"
                                              : "meter_period",
                      err,
                      "must be a multiple of the scenario step (a sub-step delay belongs to the "
                      "asset's own latency)");
        goto fail;
    }
    if (reporter)
        snprintf(d->reporter, sizeof d->reporter, "%s", reporter);
    /* meters: {"<asset component>": "<meter component>", ...} */
    for (const cJSON *it = meters.json->child; it; it = it->next) {
        const char *meter = NULL;
        if ((rc = scn_string(&meters, it->string, 1, NULL, &meter, err)))
            goto fail;
        if (d->na == DSP_MAX_ASSETS) {
            rc = scn_errf(&meters, NULL, err, "at most %d assets", DSP_MAX_ASSETS);
            goto fail;
        }
        if (strlen(it->string) >= PLT_NAME_MAX || strlen(meter) >= PLT_NAME_MAX) {
            rc = scn_errf(&meters, it->string, err, "name too long");
            goto fail;
        }
        snprintf(d->a[d->na].component, PLT_NAME_MAX, "%s", it->string);
        snprintf(d->a[d->na].meter, PLT_NAME_MAX, "%s", meter);
        d->na++;
    }
    if ((rc = scn_obj_finish(&meters, err)) || (rc = scn_obj_finish(cfg, err)))
        goto fail;
    if (d->na == 0) {
        rc = scn_errf(cfg, "meters", err, "name at least one asset and its meter");
        goto fail;
    }
    if ((rc = sim_kernel_add(ctx->kernel, name, &dispatch_ops, d, d->poll_period, &d->id, err)))
        return rc;
    for (int i = 0; i < d->na; i++) {
        char local[PLT_NAME_MAX + 8];
        snprintf(local, sizeof local, "%s_kw", d->a[i].component);
        if ((rc = sim_bus_publish(ctx->kernel, d->id, local, "kW", SIM_SIG_RECORD, 0, &d->a[i].sig,
                                  err)))
            return rc;
    }
    return SIM_OK;
fail:
    free(d);
    return rc;
}

const struct scn_type plt_dispatch_type = {
    .type = "dispatch",
    .summary = "EV management platform: turns bought matches into asset setpoints, reports "
               "metered deliveries",
    .create = dispatch_create,
};
