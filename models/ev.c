/*
 * ev.c: the V2G EV, its pure model (ev.h) and the "ev" scenario component.
 *
 * The component owns one car and its charging sessions. Sessions come from
 * the scenario: fixed arrival and departure times, or times drawn from GSL
 * distributions with the component's own kernel stream (so a scenario seed
 * reproduces them and adding another component changes nothing), optionally
 * repeating every `repeat`. A session is drawn when the previous one ends.
 *
 * Like the battery (battery.c) the component integrates one step ahead:
 * at step t it reads the setpoint, asks the charger for the policy's
 * answer, publishes the state at t and advances to t + step, connecting or
 * disconnecting the car at the exact arrival and departure times on the
 * way. Arrivals, departures and limit roots are logged by kernel events at
 * their own times: "arrival" and "departure" (info, value SoC), "soc_min"
 * (warning: the V2G floor stopped a discharge), "soc_target" / "soc_max"
 * (info: charging stopped), "target_missed" (warning at departure),
 * "session_skipped" (info: a drawn departure not after its arrival).
 *
 * Published signals "<name>.<local>": connected (0/1), p_kw (just after t),
 * p_avg_kw (mean over the step that ended at t), setpoint_kw,
 * soc (fraction, unit "1"), e_kwh, loss_kwh, e_in_kwh, e_out_kwh,
 * available_discharge_kw.
 */
#include "ev.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "models.h"

/* ------------------------------------------------------------------ */
/* The pure model                                                      */
/* ------------------------------------------------------------------ */

struct mdl_ev {
    struct mdl_ev_params p;
    mdl_sto *sto;
};

void mdl_ev_params_default(struct mdl_ev_params *p)
{
    memset(p, 0, sizeof *p);
    p->sto.soc_min = 0.0;
    p->sto.soc_max = 1.0;
    p->sto.eta_charge = p->sto.eta_discharge = 0.92;
    p->soc_target = 0.8;
    p->phases = 3;
    p->voltage_v = 230;
    p->granularity = MDL_EV_WATTS;
    p->min_current_a = 6;
    p->policy = MDL_EV_AUTO;
}

const char *mdl_ev_params_invalid(const struct mdl_ev_params *p)
{
    const char *bad = mdl_sto_params_invalid(&p->sto);
    if (bad)
        return strcmp(bad, "soc_min") == 0 ? "soc_min_discharge"
               : strcmp(bad, "eta_charge") == 0 || strcmp(bad, "eta_discharge") == 0 ? "efficiency"
                                                                                     : bad;
    if (p->sto.eta_charge != p->sto.eta_discharge)
        return "efficiency";
    if (!(p->soc_target >= 0 && p->soc_target <= p->sto.soc_max))
        return "soc_target";
    if (p->phases != 1 && p->phases != 3)
        return "phases";
    if (!(p->voltage_v > 0) || !isfinite(p->voltage_v))
        return "voltage_v";
    if (p->granularity != MDL_EV_WATTS && p->granularity != MDL_EV_AMPS)
        return "granularity";
    if (!(p->min_current_a >= 0) || !isfinite(p->min_current_a))
        return "min_current_a";
    if (p->policy < MDL_EV_AUTO || p->policy > MDL_EV_CHARGE)
        return "policy";
    return NULL;
}

double mdl_ev_quantize_kw(const struct mdl_ev_params *p, double p_kw)
{
    if (!isfinite(p_kw))
        return 0.0;
    double lim = p_kw < 0 ? p->sto.p_discharge_max_kw : p->sto.p_charge_max_kw;
    double w = fabs(p_kw) < lim ? fabs(p_kw) * 1000.0 : lim * 1000.0;
    double per_amp = p->phases * p->voltage_v; /* W per ampere per phase */
    /* A relative 1e-9 keeps an exact product (4.14 kW = 6 A) from falling
     * one unit short by round-off. */
    if (p->granularity == MDL_EV_AMPS)
        w = floor(w / per_amp * (1 + 1e-9)) * per_amp;
    else
        w = floor(w * (1 + 1e-12));
    if (w < p->min_current_a * per_amp * (1 - 1e-9))
        w = 0;
    return p_kw < 0 ? -w / 1000.0 : w / 1000.0;
}

void mdl_ev_resolve(const struct mdl_ev_params *p, int has_setpoint, double setpoint_kw,
                    double *p_kw, double *ceiling_soc)
{
    int follow = p->policy == MDL_EV_SETPOINT ||
                 (p->policy == MDL_EV_AUTO && has_setpoint && setpoint_kw != 0);
    if (follow) {
        *p_kw = has_setpoint ? setpoint_kw : 0.0;
        *ceiling_soc = p->sto.soc_max;
    } else {
        *p_kw = p->sto.p_charge_max_kw;
        *ceiling_soc = p->soc_target;
    }
}

int mdl_ev_new(const struct mdl_ev_params *p, sim_time_us t0, size_t queue_len, mdl_ev **out,
               struct sim_err *err)
{
    *out = NULL;
    const char *bad = mdl_ev_params_invalid(p);
    if (bad)
        return sim_errf(err, SIM_EINVAL, "ev: parameter %s out of range", bad);
    mdl_ev *ev = calloc(1, sizeof *ev);
    if (!ev)
        return sim_errf(err, SIM_ENOMEM, "ev: out of memory");
    ev->p = *p;
    ev->p.sto.standby_loss_kw = 0;
    int rc = mdl_sto_new(&ev->p.sto, 0.0, t0, queue_len, &ev->sto, err);
    if (rc) {
        free(ev);
        return rc;
    }
    mdl_sto_set_online(ev->sto, 0);
    *out = ev;
    return 0;
}

void mdl_ev_free(mdl_ev *ev)
{
    if (!ev)
        return;
    mdl_sto_free(ev->sto);
    free(ev);
}

void mdl_ev_arrive(mdl_ev *ev, double soc)
{
    mdl_sto_set_soc(ev->sto, soc);
    mdl_sto_set_online(ev->sto, 1);
}

void mdl_ev_depart(mdl_ev *ev)
{
    mdl_sto_set_online(ev->sto, 0);
}

int mdl_ev_command(mdl_ev *ev, int has_setpoint, double setpoint_kw, struct sim_err *err)
{
    struct mdl_sto_state st;
    mdl_sto_state(ev->sto, &st);
    if (!st.online)
        return 0;
    double p, ceiling;
    mdl_ev_resolve(&ev->p, has_setpoint, setpoint_kw, &p, &ceiling);
    return mdl_sto_command(ev->sto, mdl_ev_quantize_kw(&ev->p, p), ceiling, err);
}

int mdl_ev_advance(mdl_ev *ev, sim_time_us t, struct mdl_sto_event *evs, int max_ev, int *nev,
                   struct sim_err *err)
{
    return mdl_sto_advance(ev->sto, t, evs, max_ev, nev, err);
}

void mdl_ev_state(const mdl_ev *ev, struct mdl_sto_state *st)
{
    mdl_sto_state(ev->sto, st);
}

double mdl_ev_available_discharge_kw(const mdl_ev *ev)
{
    struct mdl_sto_state st;
    mdl_sto_state(ev->sto, &st);
    if (!st.online || st.at_floor)
        return 0.0;
    return -mdl_ev_quantize_kw(&ev->p, -ev->p.sto.p_discharge_max_kw);
}

const struct mdl_ev_params *mdl_ev_params_of(const mdl_ev *ev)
{
    return &ev->p;
}

sim_time_us mdl_time_draw(const struct mdl_time_dist *d, gsl_rng *r)
{
    double off_s = 0; /* seconds from d->t */
    double spread_s = (double)d->spread / (double)SIM_US_PER_S;
    switch (d->kind) {
    case MDL_DIST_NORMAL:
        off_s = gsl_ran_gaussian(r, spread_s);
        break;
    case MDL_DIST_UNIFORM:
        off_s = gsl_ran_flat(r, 0.0, spread_s);
        break;
    default:
        return d->t;
    }
    return d->t + (sim_time_us)llround(off_s) * SIM_US_PER_S;
}

double mdl_num_draw(const struct mdl_num_dist *d, gsl_rng *r)
{
    double x = d->a;
    if (d->kind == MDL_DIST_NORMAL)
        x = d->a + gsl_ran_gaussian(r, d->b);
    else if (d->kind == MDL_DIST_UNIFORM)
        x = gsl_ran_flat(r, d->a, d->b);
    return x < d->lo ? d->lo : x > d->hi ? d->hi : x;
}

void mdl_ev_session_draw(const struct mdl_ev_sessions *s, int k, gsl_rng *r,
                         struct mdl_ev_session *out)
{
    sim_time_us shift = (sim_time_us)k * s->repeat;
    out->arrival = mdl_time_draw(&s->arrival, r) + shift;
    out->departure = mdl_time_draw(&s->departure, r) + shift;
    out->soc = mdl_num_draw(&s->soc, r);
}

/* ------------------------------------------------------------------ */
/* The component                                                       */
/* ------------------------------------------------------------------ */

#define EV_MAX_EVENTS 8
#define EV_MAX_SKIPS 1000 /* consecutive empty sessions before giving up */

struct evc {
    sim_kernel *k;
    int id;
    struct mdl_ev_params p;
    struct mdl_ev_sessions sessions;
    int sp_ref; /* -1: no setpoint signal */
    double sp_last;
    sim_time_us period, end;
    int utc_offset_s;
    mdl_ev *m;
    gsl_rng *rng; /* the kernel's stream for this component */
    int k_next;   /* index of the next session to draw */
    struct mdl_ev_session sess;
    int sess_valid, connected;
    int sig_conn;
    struct mdl_sto_sigs sig;
    struct mdl_log_fifo logs;
};

static void ev_destroy(void *self)
{
    struct evc *e = self;
    if (!e)
        return;
    mdl_ev_free(e->m);
    free(e);
}

static int named(struct evc *e, int rc, struct sim_err *err)
{
    return mdl_named(e->k, e->id, rc, err);
}

static const char *clock_at(const struct evc *e, sim_time_us t, char *buf, size_t n)
{
    return mdl_clock_format(t, e->utc_offset_s, buf, n);
}

/* Draw the next session that starts no earlier than `after` and ends
 * after it starts; sessions that end before they start are logged and
 * skipped. sess_valid is 0 when there are no more sessions in the run. */
static int next_session(struct evc *e, sim_time_us after, struct sim_err *err)
{
    e->sess_valid = 0;
    for (int skips = 0; skips < EV_MAX_SKIPS; skips++) {
        if (e->k_next > 0 && e->sessions.repeat <= 0)
            return 0;
        struct mdl_ev_session s;
        mdl_ev_session_draw(&e->sessions, e->k_next++, e->rng, &s);
        if (s.arrival < after)
            s.arrival = after;
        if (s.arrival >= e->end)
            return 0;
        if (s.departure > s.arrival) {
            e->sess = s;
            e->sess_valid = 1;
            return 0;
        }
        char a[48], d[48];
        int rc = mdl_log_defer(
            &e->logs, e->k, e->id, s.arrival, "session_skipped", SIM_INFO, e->k_next - 1, err,
            "session %d skipped: departure %s is not after arrival %s", e->k_next - 1,
            clock_at(e, s.departure, d, sizeof d), clock_at(e, s.arrival, a, sizeof a));
        if (rc)
            return rc;
    }
    return 0;
}

/* Connect or disconnect the car when the model's time t is an arrival or
 * a departure. */
static int apply_changes(struct evc *e, sim_time_us t, struct sim_err *err)
{
    char at[48];
    int rc;
    for (;;) {
        if (e->connected && e->sess.departure <= t) {
            struct mdl_sto_state st;
            mdl_ev_state(e->m, &st);
            mdl_ev_depart(e->m);
            e->connected = 0;
            clock_at(e, t, at, sizeof at);
            rc = mdl_log_defer(&e->logs, e->k, e->id, t, "departure", SIM_INFO, st.soc, err,
                               "departed at %s with SoC %.1f %% (target %.1f %%)", at, 100 * st.soc,
                               100 * e->p.soc_target);
            if (!rc && st.soc < e->p.soc_target - 1e-6)
                rc = mdl_log_defer(&e->logs, e->k, e->id, t, "target_missed", SIM_WARNING,
                                   e->p.soc_target - st.soc, err,
                                   "left at %s %.2f kWh short of the %.1f %% target", at,
                                   (e->p.soc_target - st.soc) * e->p.sto.capacity_kwh,
                                   100 * e->p.soc_target);
            if (!rc)
                rc = next_session(e, t, err);
            if (rc)
                return rc;
            continue;
        }
        if (!e->connected && e->sess_valid && e->sess.arrival <= t) {
            mdl_ev_arrive(e->m, e->sess.soc);
            e->connected = 1;
            clock_at(e, t, at, sizeof at);
            rc =
                mdl_log_defer(&e->logs, e->k, e->id, t, "arrival", SIM_INFO, e->sess.soc, err,
                              "arrived at %s with SoC %.1f %%, leaving at %s", at,
                              100 * e->sess.soc, clock_at(e, e->sess.departure, (char[48]){0}, 48));
            if (!rc)
                rc = named(e, mdl_ev_command(e->m, e->sp_ref >= 0, e->sp_last, err), err);
            if (rc)
                return rc;
            continue;
        }
        return 0;
    }
}

static int log_roots(struct evc *e, const struct mdl_sto_event *ev, int n, struct sim_err *err)
{
    int rc = 0;
    for (int i = 0; i < n && i < EV_MAX_EVENTS && !rc; i++) {
        char at[48];
        clock_at(e, ev[i].t, at, sizeof at);
        if (ev[i].kind == MDL_STO_SOC_MIN)
            rc = mdl_log_defer(&e->logs, e->k, e->id, ev[i].t, "soc_min", SIM_WARNING, ev[i].soc,
                               err,
                               "SoC %.2f %% reached the %.2f %% V2G floor at %s: discharge "
                               "stopped",
                               100 * ev[i].soc, 100 * e->p.sto.soc_min, at);
        else if (ev[i].ceiling_soc < e->p.sto.soc_max - 1e-12)
            rc = mdl_log_defer(&e->logs, e->k, e->id, ev[i].t, "soc_target", SIM_INFO, ev[i].soc,
                               err, "charged to the %.2f %% target at %s", 100 * ev[i].soc, at);
        else
            rc = mdl_log_defer(&e->logs, e->k, e->id, ev[i].t, "soc_max", SIM_INFO, ev[i].soc, err,
                               "SoC %.2f %% reached the %.2f %% ceiling at %s: charge stopped",
                               100 * ev[i].soc, 100 * ev[i].ceiling_soc, at);
    }
    return rc;
}

/* Advance to t, connecting and disconnecting on the way. */
static int ahead_to(struct evc *e, sim_time_us t, struct sim_err *err)
{
    struct mdl_sto_state st;
    int rc;
    for (;;) {
        mdl_ev_state(e->m, &st);
        if ((rc = apply_changes(e, st.t, err)) != 0)
            return rc;
        if (st.t >= t)
            return 0;
        sim_time_us tc = e->connected    ? e->sess.departure
                         : e->sess_valid ? e->sess.arrival
                                         : SIM_TIME_NEVER;
        sim_time_us to = tc < t ? tc : t;
        struct mdl_sto_event ev[EV_MAX_EVENTS];
        int n = 0;
        if ((rc = mdl_ev_advance(e->m, to, ev, EV_MAX_EVENTS, &n, err)) != 0)
            return named(e, rc, err);
        if ((rc = log_roots(e, ev, n, err)) != 0)
            return rc;
    }
}

static int ev_init(void *self, sim_kernel *k, struct sim_err *err)
{
    struct evc *e = self;
    const struct sim_config *cfg = sim_kernel_config(k);
    e->end = cfg->end;
    e->sig.avg_t = cfg->start;
    e->rng = sim_kernel_rng(k, e->id);
    if (!e->rng)
        return sim_errf(err, SIM_ENOMEM, "%s: no random stream",
                        sim_kernel_component_name(k, e->id));
    /* Two extra slots: the command given at an arrival between steps. */
    size_t q = mdl_sto_queue_len(e->p.sto.latency_us, e->period, 2);
    int rc = mdl_ev_new(&e->p, cfg->start, q, &e->m, err);
    if (rc)
        return named(e, rc, err);
    return next_session(e, cfg->start, err);
}

static void publish_state(struct evc *e)
{
    struct mdl_sto_state st;
    mdl_ev_state(e->m, &st);
    sim_bus_set(e->k, e->sig_conn, st.online ? 1.0 : 0.0);
    mdl_sto_sigs_set(e->k, &e->sig, &st, mdl_ev_available_discharge_kw(e->m));
}

static int ev_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct evc *e = self;
    int rc;
    if ((rc = ahead_to(e, now, err)) != 0) /* normally already there */
        return rc;
    double sp = e->sp_ref >= 0 ? sim_bus_get_ref(k, e->sp_ref) : 0.0;
    if (!isfinite(sp))
        return sim_errf(err, SIM_EFAIL, "%s: setpoint is not a number (%g)",
                        sim_kernel_component_name(k, e->id), sp);
    e->sp_last = sp;
    if ((rc = mdl_ev_command(e->m, e->sp_ref >= 0, sp, err)) != 0)
        return named(e, rc, err);
    sim_bus_set(k, e->sig.sp, sp);
    publish_state(e);
    sim_time_us next = now + e->period;
    return ahead_to(e, next < e->end ? next : e->end, err);
}

static int ev_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                    struct sim_err *err)
{
    (void)now;
    (void)data;
    struct evc *e = self;
    return kind == MDL_LOG_EVENT ? mdl_log_fire(&e->logs, k, e->id, err) : 0;
}

static int ev_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct evc *e = self;
    if (!e->m)
        return 0;
    struct mdl_sto_state st;
    mdl_ev_state(e->m, &st);
    int rc = st.t < now ? ahead_to(e, now, err) : 0;
    if (!rc)
        publish_state(e);
    int rc2 = mdl_log_flush(&e->logs, k, e->id, err);
    return rc ? rc : rc2;
}

static const struct sim_component_ops ev_ops = {
    .type = "ev",
    .init = ev_init,
    .step = ev_step,
    .event = ev_event,
    .finish = ev_finish,
    .destroy = ev_destroy,
};

/* ------------------------------------------------------------------ */
/* Factory                                                             */
/* ------------------------------------------------------------------ */

/* The distribution object under `key`: exactly one of "normal" or
 * "uniform". *which gets MDL_DIST_NORMAL or MDL_DIST_UNIFORM and *d the
 * object's reader. */
static int dist_child(struct scn_obj *o, const char *key, struct scn_obj *d, int *which,
                      struct sim_err *err)
{
    struct scn_obj c;
    int rc = scn_child(o, key, 1, &c, NULL, err);
    if (rc)
        return rc;
    int has_n = cJSON_GetObjectItemCaseSensitive(c.json, "normal") != NULL;
    int has_u = cJSON_GetObjectItemCaseSensitive(c.json, "uniform") != NULL;
    if (has_n == has_u)
        return scn_errf(o, key, err,
                        "expected a value or an object with one of \"normal\" or \"uniform\"");
    *which = has_n ? MDL_DIST_NORMAL : MDL_DIST_UNIFORM;
    if ((rc = scn_child(&c, has_n ? "normal" : "uniform", 1, d, NULL, err)) != 0)
        return rc;
    return scn_obj_finish(&c, err);
}

/* A time: an ISO 8601 string, {"normal": {"mean": T, "sd": D}} or
 * {"uniform": {"min": T, "max": T}}. */
static int read_time_dist(struct scn_obj *o, const char *key, struct mdl_time_dist *out,
                          struct sim_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o->json, key);
    memset(out, 0, sizeof *out);
    if (!j || !cJSON_IsObject(j)) {
        out->kind = MDL_DIST_FIXED;
        return scn_time(o, key, 1, 0, &out->t, NULL, err);
    }
    struct scn_obj d;
    int rc = dist_child(o, key, &d, &out->kind, err);
    if (rc)
        return rc;
    if (out->kind == MDL_DIST_NORMAL) {
        if ((rc = scn_time(&d, "mean", 1, 0, &out->t, NULL, err)) != 0 ||
            (rc = scn_duration(&d, "sd", 1, 0, 0, 30 * 24 * SIM_US_PER_H, &out->spread, err)) != 0)
            return rc;
    } else {
        sim_time_us hi;
        if ((rc = scn_time(&d, "min", 1, 0, &out->t, NULL, err)) != 0 ||
            (rc = scn_time(&d, "max", 1, 0, &hi, NULL, err)) != 0)
            return rc;
        if (hi < out->t)
            return scn_errf(&d, "max", err, "expected a time not before min");
        out->spread = hi - out->t;
    }
    return scn_obj_finish(&d, err);
}

/* A number in [lo, hi]: a value, {"normal": {"mean", "sd"}} (draws clamped
 * to [lo, hi]) or {"uniform": {"min", "max"}}. */
static int read_num_dist(struct scn_obj *o, const char *key, double lo, double hi,
                         struct mdl_num_dist *out, struct sim_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o->json, key);
    *out = (struct mdl_num_dist){MDL_DIST_FIXED, 0, 0, lo, hi};
    if (!j || !cJSON_IsObject(j))
        return scn_number(o, key, 1, 0, lo, hi, &out->a, err);
    struct scn_obj d;
    int rc = dist_child(o, key, &d, &out->kind, err);
    if (rc)
        return rc;
    if (out->kind == MDL_DIST_NORMAL) {
        if ((rc = scn_number(&d, "mean", 1, 0, lo, hi, &out->a, err)) != 0 ||
            (rc = scn_number(&d, "sd", 1, 0, 0, HUGE_VAL, &out->b, err)) != 0)
            return rc;
    } else {
        if ((rc = scn_number(&d, "min", 1, 0, lo, hi, &out->a, err)) != 0 ||
            (rc = scn_number(&d, "max", 1, 0, lo, hi, &out->b, err)) != 0)
            return rc;
        if (out->b < out->a)
            return scn_errf(&d, "max", err, "expected a number >= min (%g), got %g", out->a,
                            out->b);
    }
    return scn_obj_finish(&d, err);
}

static int ev_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                     struct sim_err *err)
{
    struct evc *e = calloc(1, sizeof *e);
    if (!e)
        return sim_errf(err, SIM_ENOMEM, "%s: %s: out of memory", ctx->file, cfg->path);
    struct mdl_ev_params *p = &e->p;
    mdl_ev_params_default(p);
    static const char *const grains[] = {"watts", "amps", NULL};
    static const char *const policies[] = {"auto", "setpoint", "charge", NULL};
    const char *setpoint = NULL;
    long long phases = 3;
    double eff = p->sto.eta_charge;
    int rc;
    e->sp_ref = -1;
    if ((rc = mdl_sto_read_common(cfg, &p->sto, &setpoint, err)) != 0 ||
        (rc = read_time_dist(cfg, "arrival", &e->sessions.arrival, err)) != 0 ||
        (rc = read_time_dist(cfg, "departure", &e->sessions.departure, err)) != 0 ||
        (rc = scn_duration(cfg, "repeat", 0, 0, SIM_US_PER_MIN, 366 * 24 * SIM_US_PER_H,
                           &e->sessions.repeat, err)) != 0 ||
        (rc = read_num_dist(cfg, "soc_arrival", 0, 1, &e->sessions.soc, err)) != 0 ||
        (rc = scn_number(cfg, "soc_max", 0, 1.0, 0, 1, &p->sto.soc_max, err)) != 0 ||
        (rc = scn_number(cfg, "soc_target", 0, p->soc_target, 0, 1, &p->soc_target, err)) != 0 ||
        (rc = scn_number(cfg, "soc_min_discharge", 0, 0, 0, 1, &p->sto.soc_min, err)) != 0 ||
        (rc = scn_number(cfg, "efficiency", 0, eff, 0.01, 1, &eff, err)) != 0 ||
        (rc = scn_int(cfg, "phases", 0, 3, 1, 3, &phases, err)) != 0 ||
        (rc = scn_number(cfg, "voltage_v", 0, 230, 1, 1000, &p->voltage_v, err)) != 0 ||
        (rc = scn_enum(cfg, "granularity", 0, grains, MDL_EV_WATTS, &p->granularity, err)) != 0 ||
        (rc = scn_number(cfg, "min_current_a", 0, 6, 0, 1000, &p->min_current_a, err)) != 0 ||
        (rc = scn_enum(cfg, "policy", 0, policies, MDL_EV_AUTO, &p->policy, err)) != 0)
        goto fail;
    p->phases = (int)phases;
    p->sto.eta_charge = p->sto.eta_discharge = eff;
    /* Drawn arrival SoCs are clamped to [0, soc_max]. */
    e->sessions.soc.hi = p->sto.soc_max;
    if (e->sessions.soc.kind == MDL_DIST_FIXED && e->sessions.soc.a > p->sto.soc_max) {
        rc = scn_errf(cfg, "soc_arrival", err, "expected a number <= soc_max (%g), got %g",
                      p->sto.soc_max, e->sessions.soc.a);
        goto fail;
    }
    if (p->phases == 2) {
        rc = scn_errf(cfg, "phases", err, "expected 1 or 3, got 2");
        goto fail;
    }
    if (!(p->sto.soc_max > p->sto.soc_min)) {
        rc = scn_errf(cfg, "soc_max", err, "expected a number > soc_min_discharge (%g), got %g",
                      p->sto.soc_min, p->sto.soc_max);
        goto fail;
    }
    if (p->soc_target > p->sto.soc_max) {
        rc = scn_errf(cfg, "soc_target", err, "expected a number <= soc_max (%g), got %g",
                      p->sto.soc_max, p->soc_target);
        goto fail;
    }
    if (p->policy == MDL_EV_CHARGE && setpoint) {
        rc = scn_errf(cfg, "setpoint", err,
                      "policy \"charge\" ignores setpoints: remove it or use policy \"auto\"");
        goto fail;
    }
    if (p->policy == MDL_EV_SETPOINT && !setpoint) {
        rc = scn_errf(cfg, "policy", err, "policy \"setpoint\" needs a setpoint signal");
        goto fail;
    }
    const char *bad = mdl_ev_params_invalid(p);
    if (bad) {
        rc = scn_errf(cfg, bad, err, "value out of range");
        goto fail;
    }
    if ((rc = scn_obj_finish(cfg, err)) != 0)
        goto fail;

    e->k = ctx->kernel;
    e->period = ctx->scenario->step;
    e->utc_offset_s = ctx->scenario->utc_offset_s;
    /* From here on the kernel owns e (it destroys it even on failure). */
    if ((rc = sim_kernel_add(ctx->kernel, name, &ev_ops, e, e->period, &e->id, err)) != 0)
        return rc;
    if ((rc = sim_bus_publish(ctx->kernel, e->id, "connected", "1", SIM_SIG_RECORD | SIM_SIG_STATE,
                              0, &e->sig_conn, err)) != 0 ||
        (rc = mdl_sto_sigs_publish(ctx->kernel, e->id, 0, 0, 0, &e->sig, err)) != 0)
        return rc;
    if (setpoint) {
        char path[SCN_PATH_MAX], origin[SCN_PATH_MAX + 256];
        scn_path_join(path, sizeof path, cfg->path, "setpoint");
        snprintf(origin, sizeof origin, "%s: %s", ctx->file, path);
        if ((rc = sim_bus_read(ctx->kernel, e->id, setpoint, SIM_READ_NOW, origin, &e->sp_ref,
                               err)) != 0)
            return rc;
    }
    return 0;
fail:
    ev_destroy(e);
    return rc;
}

const struct scn_type mdl_ev_type = {
    .type = "ev",
    .summary = "V2G electric vehicle: sessions (fixed or drawn), charger granularity, "
               "policy, V2G floor, latency and ramp",
    .create = ev_create,
};
