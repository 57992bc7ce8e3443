/*
 * storage.c: the energy-storage core shared by the battery and the V2G EV
 * (see storage.h for the contract).
 *
 * An advance is cut into segments inside which the grid-side power is
 * p(tau) = p0 + slope * tau with one sign: segment ends are the step end,
 * the next command taking effect, the end of a ramp and a zero crossing of
 * the power. Each segment restarts CVODE at tau = 0 from the mirrored
 * state, so the right-hand side is a smooth (linear) function of time and
 * Adams integrates it to round-off. The SoC floor and ceiling are root
 * functions with a direction (falling through the floor, rising through the
 * ceiling); a root ends the segment early and clamps the power.
 *
 * At the floor the store no longer discharges; its standby loss is then
 * drawn from the grid (p = standby / eta_charge, so E stays at the floor)
 * and the power may only rise from there. At the ceiling the power may be
 * at most that same holding power. Both flags are re-derived from E at
 * every segment start (with a tolerance of 1e-9 of the capacity, far above
 * CVODE's root error), so leaving a limit needs no event.
 */
#include "storage.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include "../sim/scenario.h"
#include "models.h"

/* State vector: stored energy, cumulative loss, grid energy in, grid
 * energy out (kWh). */
enum { Y_E = 0, Y_LOSS, Y_IN, Y_OUT, NY };

#define RTOL 1e-10
#define ATOL 1e-10          /* kWh */
#define LIMIT_TOL 1e-9      /* of capacity: "at the limit" band */
#define TIME_EPS 1e-9       /* s: shorter segments are not integrated */
#define MAX_SEGMENTS 100000 /* per advance; guards against a planning bug */

struct cmd {
    sim_time_us t_eff; /* when it takes effect */
    double p_kw;       /* limited grid-side power request */
    double ceiling_soc;
};

struct mdl_sto {
    struct mdl_sto_params p;
    sim_time_us t0;   /* origin of the internal clock */
    sim_time_us t_us; /* the model's time (end of the last advance) */
    double t_s;       /* the same in seconds since t0 */
    double y[NY];     /* mirrored state at t_s */
    double p_now;     /* actual power just after t_s */
    struct cmd cur;   /* command in effect */
    struct cmd *ring; /* pending commands, ordered by t_eff */
    size_t cap, head, n;
    int online, floor, ceil;
    double e_ext;
    long steps, rhs_evals; /* CVODE's counters, summed over restarts */
    /* Inputs of the segment being integrated, read by the callbacks. */
    double seg_p0, seg_slope;
    int seg_sign; /* +1: charging (or idle), -1: discharging */
    int root_floor_on, root_ceil_on;
    double root_emin, root_emax;
    /* CVODE, allocated once. */
    SUNContext ctx;
    N_Vector yv;
    SUNNonlinearSolver nls;
    void *mem;
    char last_error[256];
};

const char *mdl_sto_params_invalid(const struct mdl_sto_params *p)
{
    if (!(p->capacity_kwh > 0) || !isfinite(p->capacity_kwh))
        return "capacity_kwh";
    if (!(p->p_charge_max_kw >= 0) || !isfinite(p->p_charge_max_kw))
        return "p_charge_max_kw";
    if (!(p->p_discharge_max_kw >= 0) || !isfinite(p->p_discharge_max_kw))
        return "p_discharge_max_kw";
    if (!(p->soc_min >= 0 && p->soc_min < 1))
        return "soc_min";
    if (!(p->soc_max > p->soc_min && p->soc_max <= 1))
        return "soc_max";
    if (!(p->eta_charge > 0 && p->eta_charge <= 1))
        return "eta_charge";
    if (!(p->eta_discharge > 0 && p->eta_discharge <= 1))
        return "eta_discharge";
    if (!(p->standby_loss_kw >= 0) || !isfinite(p->standby_loss_kw))
        return "standby_loss_kw";
    if (!(p->ramp_kw_per_s >= 0) || !isfinite(p->ramp_kw_per_s))
        return "ramp_kw_per_s";
    if (p->latency_us < 0)
        return "latency";
    return NULL;
}

static double to_s(const mdl_sto *s, sim_time_us t)
{
    return (double)(t - s->t0) / (double)SIM_US_PER_S;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Grid power that keeps E constant against the standby loss. */
static double hold_kw(const mdl_sto *s)
{
    return s->p.standby_loss_kw / s->p.eta_charge;
}

static double e_floor(const mdl_sto *s)
{
    return s->p.soc_min * s->p.capacity_kwh;
}

static double e_ceiling(const mdl_sto *s)
{
    double c = s->cur.ceiling_soc < s->p.soc_max ? s->cur.ceiling_soc : s->p.soc_max;
    return c * s->p.capacity_kwh;
}

/* ------------------------------------------------------------------ */
/* CVODE callbacks                                                     */
/* ------------------------------------------------------------------ */

/* Rates in kWh per second for grid power p (kW) of the segment's sign. */
static int rhs(sunrealtype tau, N_Vector y, N_Vector ydot, void *user)
{
    (void)y;
    const mdl_sto *s = user;
    sunrealtype *d = N_VGetArrayPointer(ydot);
    double p = s->seg_p0 + s->seg_slope * tau, sb = s->p.standby_loss_kw;
    if (s->seg_sign >= 0) {
        d[Y_E] = s->p.eta_charge * p - sb;
        d[Y_LOSS] = (1.0 - s->p.eta_charge) * p + sb;
        d[Y_IN] = p;
        d[Y_OUT] = 0;
    } else {
        double q = -p; /* discharge magnitude at the grid */
        d[Y_E] = -q / s->p.eta_discharge - sb;
        d[Y_LOSS] = q * (1.0 / s->p.eta_discharge - 1.0) + sb;
        d[Y_IN] = 0;
        d[Y_OUT] = q;
    }
    for (int i = 0; i < NY; i++)
        d[i] /= 3600.0;
    return 0;
}

/* Disabled roots return a constant of the sign that never crosses. */
static int roots(sunrealtype tau, N_Vector y, sunrealtype *g, void *user)
{
    (void)tau;
    const mdl_sto *s = user;
    const sunrealtype *v = N_VGetArrayPointer(y);
    g[0] = s->root_floor_on ? v[Y_E] - s->root_emin : 1.0;
    g[1] = s->root_ceil_on ? v[Y_E] - s->root_emax : -1.0;
    return 0;
}

/* Keep CVODE's messages instead of letting it print them. */
static void on_cvode_error(int code, const char *module, const char *function, char *msg,
                           void *user)
{
    mdl_sto *s = user;
    snprintf(s->last_error, sizeof s->last_error, "%s/%s (%d): %s", module ? module : "?",
             function ? function : "?", code, msg ? msg : "");
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

void mdl_sto_free(mdl_sto *s)
{
    if (!s)
        return;
    if (s->mem)
        CVodeFree(&s->mem);
    if (s->nls)
        SUNNonlinSolFree(s->nls);
    if (s->yv)
        N_VDestroy(s->yv);
    if (s->ctx)
        SUNContext_Free(&s->ctx);
    free(s->ring);
    free(s);
}

int mdl_sto_new(const struct mdl_sto_params *p, double soc0, sim_time_us t0, size_t queue_len,
                mdl_sto **out, struct sim_err *err)
{
    *out = NULL;
    const char *bad = mdl_sto_params_invalid(p);
    if (bad)
        return sim_errf(err, SIM_EINVAL, "storage: parameter %s out of range", bad);
    if (!(soc0 >= 0 && soc0 <= 1))
        return sim_errf(err, SIM_EINVAL, "storage: initial SoC %g not in [0, 1]", soc0);
    if (queue_len < 1)
        queue_len = 1;
    mdl_sto *s = calloc(1, sizeof *s);
    if (!s)
        return sim_errf(err, SIM_ENOMEM, "storage: out of memory");
    s->p = *p;
    s->t0 = s->t_us = t0;
    s->y[Y_E] = soc0 * p->capacity_kwh;
    s->online = 1;
    s->cur = (struct cmd){t0, 0.0, 1.0};
    s->cap = queue_len;
    s->ring = calloc(queue_len, sizeof *s->ring);
    const char *what = NULL;
    if (!s->ring) {
        free(s);
        return sim_errf(err, SIM_ENOMEM, "storage: out of memory");
    }
    if (SUNContext_Create(NULL, &s->ctx) != 0) {
        what = "SUNContext_Create";
        goto fail;
    }
    s->yv = N_VNew_Serial(NY, s->ctx);
    s->nls = s->yv ? SUNNonlinSol_FixedPoint(s->yv, 0, s->ctx) : NULL;
    s->mem = s->nls ? CVodeCreate(CV_ADAMS, s->ctx) : NULL;
    if (!s->mem) {
        what = "allocating the CVODE objects";
        goto fail;
    }
    memcpy(N_VGetArrayPointer(s->yv), s->y, sizeof s->y);
    int dirs[2] = {-1, +1}; /* falling to the floor, rising to the ceiling */
    if (CVodeSetErrHandlerFn(s->mem, on_cvode_error, s) != CV_SUCCESS ||
        CVodeInit(s->mem, rhs, 0.0, s->yv) != CV_SUCCESS ||
        CVodeSetUserData(s->mem, s) != CV_SUCCESS ||
        CVodeSStolerances(s->mem, RTOL, ATOL) != CV_SUCCESS ||
        CVodeSetNonlinearSolver(s->mem, s->nls) != CV_SUCCESS ||
        CVodeSetMaxNumSteps(s->mem, 100000) != CV_SUCCESS ||
        CVodeRootInit(s->mem, 2, roots) != CV_SUCCESS ||
        CVodeSetRootDirection(s->mem, dirs) != CV_SUCCESS ||
        CVodeSetNoInactiveRootWarn(s->mem) != CV_SUCCESS) {
        what = "configuring CVODE";
        goto fail;
    }
    *out = s;
    return 0;
fail:;
    int code = sim_errf(err, SIM_EFAIL, "storage: %s failed%s%s", what,
                        s->last_error[0] ? ": " : "", s->last_error);
    mdl_sto_free(s);
    return code;
}

/* ------------------------------------------------------------------ */
/* Commands and limits                                                 */
/* ------------------------------------------------------------------ */

/* Move every pending command that is in effect at the model's time to cur. */
static void pop_due(mdl_sto *s)
{
    while (s->n && to_s(s, s->ring[s->head].t_eff) <= s->t_s) {
        s->cur = s->ring[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
    }
}

/* Re-derive the floor and ceiling flags from E. */
static void update_limits(mdl_sto *s)
{
    double tol = LIMIT_TOL * s->p.capacity_kwh, e = s->y[Y_E];
    s->floor = e <= e_floor(s) + tol;
    s->ceil = e >= e_ceiling(s) - tol;
}

/* Where the power is heading: the command limited by the converter, the
 * SoC flags and the connection. */
static double target_kw(const mdl_sto *s)
{
    if (!s->online)
        return 0.0;
    double t = clampd(s->cur.p_kw, -s->p.p_discharge_max_kw, s->p.p_charge_max_kw);
    double h = hold_kw(s);
    if (s->floor && t < h)
        t = h;
    if (s->ceil && t > h)
        t = h;
    return t;
}

/* Bring p_now in line with the flags at the current instant: an instant
 * change without ramp, clamps and the connection always. */
static void settle(mdl_sto *s)
{
    pop_due(s);
    update_limits(s);
    double h = hold_kw(s);
    if (!s->online)
        s->p_now = 0.0;
    else if (s->p.ramp_kw_per_s <= 0)
        s->p_now = target_kw(s);
    else {
        if (s->floor && s->p_now < h)
            s->p_now = h;
        if (s->ceil && s->p_now > h)
            s->p_now = h;
    }
}

int mdl_sto_command(mdl_sto *s, double p_kw, double ceiling_soc, struct sim_err *err)
{
    if (!isfinite(p_kw) || !isfinite(ceiling_soc))
        return sim_errf(err, SIM_EINVAL, "storage: non-finite command (%g kW, ceiling %g)", p_kw,
                        ceiling_soc);
    pop_due(s);
    ceiling_soc = clampd(ceiling_soc, 0.0, 1.0);
    const struct cmd *last = s->n ? &s->ring[(s->head + s->n - 1) % s->cap] : &s->cur;
    if (last->p_kw == p_kw && last->ceiling_soc == ceiling_soc)
        return 0;
    if (s->n == s->cap)
        return sim_errf(err, SIM_ERANGE,
                        "storage: %zu commands pending within the latency (queue full)", s->n);
    s->ring[(s->head + s->n) % s->cap] = (struct cmd){s->t_us + s->p.latency_us, p_kw, ceiling_soc};
    s->n++;
    settle(s);
    return 0;
}

void mdl_sto_set_online(mdl_sto *s, int online)
{
    online = online != 0;
    if (online && !s->online) {
        s->n = 0;
        s->cur = (struct cmd){s->t_us, 0.0, 1.0};
    }
    s->online = online;
    if (!online)
        s->p_now = 0.0;
    settle(s);
}

void mdl_sto_set_soc(mdl_sto *s, double soc)
{
    double e = clampd(soc, 0.0, 1.0) * s->p.capacity_kwh;
    s->e_ext += e - s->y[Y_E];
    s->y[Y_E] = e;
    settle(s);
}

void mdl_sto_set_soc_min(mdl_sto *s, double soc_min)
{
    if (soc_min >= 0 && soc_min < s->p.soc_max)
        s->p.soc_min = soc_min;
    settle(s);
}

/* ------------------------------------------------------------------ */
/* Integration                                                         */
/* ------------------------------------------------------------------ */

/* Integrate one segment of length len (s) with p(tau) = p0 + slope tau.
 * Returns 0 with *tau_end the time reached (< len when a root stopped it)
 * and *root 0, 1 (floor) or 2 (ceiling). */
static int integrate(mdl_sto *s, double len, double p0, double slope, double *tau_end, int *root,
                     struct sim_err *err)
{
    *root = 0;
    *tau_end = len;
    double pmid = p0 + slope * len / 2;
    s->seg_p0 = p0;
    s->seg_slope = slope;
    s->seg_sign = pmid < 0 ? -1 : +1;
    s->root_floor_on = !s->floor;
    s->root_ceil_on = !s->ceil;
    s->root_emin = e_floor(s);
    s->root_emax = e_ceiling(s);
    memcpy(N_VGetArrayPointer(s->yv), s->y, sizeof s->y);
    /* The whole segment as the first step: with constant power the
     * solution is linear and the step is exact (and accepted); a ramp's
     * quadratic is handled by CVODE's error control cutting it down. */
    if (CVodeReInit(s->mem, 0.0, s->yv) != CV_SUCCESS ||
        CVodeSetInitStep(s->mem, len) != CV_SUCCESS || CVodeSetStopTime(s->mem, len) != CV_SUCCESS)
        return sim_errf(err, SIM_EFAIL, "storage: CVODE restart failed: %s", s->last_error);
    double tret = 0;
    for (;;) {
        int rc = CVode(s->mem, len, s->yv, &tret, CV_NORMAL);
        if (rc < 0)
            return sim_errf(err, SIM_EFAIL, "storage: CVODE failed %.6g s into a segment: %s", tret,
                            s->last_error);
        if (rc == CV_ROOT_RETURN) {
            int found[2] = {0, 0};
            CVodeGetRootInfo(s->mem, found);
            *root = found[0] ? 1 : 2;
            *tau_end = tret;
            break;
        }
        if (tret >= len)
            break;
    }
    long n = 0, f = 0;
    CVodeGetNumSteps(s->mem, &n);
    CVodeGetNumRhsEvals(s->mem, &f);
    s->steps += n;
    s->rhs_evals += f;
    memcpy(s->y, N_VGetArrayPointer(s->yv), sizeof s->y);
    return 0;
}

int mdl_sto_advance(mdl_sto *s, sim_time_us t, struct mdl_sto_event *ev, int max_ev, int *nev,
                    struct sim_err *err)
{
    int count = 0;
    if (nev)
        *nev = 0;
    if (t < s->t_us)
        return sim_errf(err, SIM_EINVAL, "storage: cannot advance back in time (%lld us < %lld us)",
                        (long long)t, (long long)s->t_us);
    double t_to = to_s(s, t), r = s->p.ramp_kw_per_s;
    settle(s);
    for (int iter = 0; s->t_s < t_to; iter++) {
        if (iter >= MAX_SEGMENTS)
            return sim_errf(err, SIM_EFAIL, "storage: more than %d segments in one advance",
                            MAX_SEGMENTS);
        /* Segment end: the target time or the next command's effect. */
        double end = t_to;
        if (s->n) {
            double te = to_s(s, s->ring[s->head].t_eff);
            if (te < end)
                end = te;
        }
        double target = target_kw(s), p0 = s->p_now, slope = 0;
        int ramp_done = 0;
        if (r > 0 && p0 != target) {
            slope = target > p0 ? r : -r;
            double t_ramp = s->t_s + fabs(target - p0) / r;
            if (t_ramp <= end) {
                end = t_ramp;
                ramp_done = 1;
            }
            /* A sign change splits the segment (losses differ by sign). */
            if ((p0 < 0 && target > 0) || (p0 > 0 && target < 0)) {
                double t_zero = s->t_s + fabs(p0) / r;
                if (t_zero < end) {
                    end = t_zero;
                    ramp_done = 2;
                }
            }
        }
        double len = end - s->t_s, reached = len;
        int root = 0, rc;
        if (len > TIME_EPS && (rc = integrate(s, len, p0, slope, &reached, &root, err)) != 0)
            return rc;
        s->t_s = root ? s->t_s + reached : end;
        s->p_now = ramp_done == 1 && !root   ? target
                   : ramp_done == 2 && !root ? 0.0
                                             : p0 + slope * (root ? reached : len);
        if (root) {
            double soc = s->y[Y_E] / s->p.capacity_kwh;
            if (root == 1)
                s->floor = 1;
            else
                s->ceil = 1;
            if (ev && count < max_ev) {
                struct mdl_sto_event *e = &ev[count];
                e->t_s = s->t_s;
                e->t = s->t0 + llround(s->t_s * (double)SIM_US_PER_S);
                if (e->t > t)
                    e->t = t;
                e->kind = root == 1 ? MDL_STO_SOC_MIN : MDL_STO_SOC_MAX;
                e->soc = soc;
                e->ceiling_soc = e_ceiling(s) / s->p.capacity_kwh;
            }
            count++;
            /* Clamp at once: the battery management cuts, it does not ramp. */
            double h = hold_kw(s);
            if (root == 1 && s->p_now < h)
                s->p_now = h;
            if (root == 2 && s->p_now > h)
                s->p_now = h;
        }
        pop_due(s);
        /* Flags from E, but a root just found stays set. */
        int fl = s->floor, ce = s->ceil;
        update_limits(s);
        if (root == 1)
            s->floor = fl;
        if (root == 2)
            s->ceil = ce;
        if (r <= 0)
            s->p_now = target_kw(s);
    }
    s->t_s = t_to;
    s->t_us = t;
    settle(s);
    if (nev)
        *nev = count;
    return 0;
}

void mdl_sto_state(const mdl_sto *s, struct mdl_sto_state *st)
{
    st->t = s->t_us;
    st->p_kw = s->p_now;
    st->command_kw =
        s->online ? clampd(s->cur.p_kw, -s->p.p_discharge_max_kw, s->p.p_charge_max_kw) : 0.0;
    st->e_kwh = s->y[Y_E];
    st->soc = s->y[Y_E] / s->p.capacity_kwh;
    st->loss_kwh = s->y[Y_LOSS];
    st->e_in_kwh = s->y[Y_IN];
    st->e_out_kwh = s->y[Y_OUT];
    st->e_external_kwh = s->e_ext;
    st->online = s->online;
    st->at_floor = s->floor;
    st->at_ceiling = s->ceil;
}

const struct mdl_sto_params *mdl_sto_params_of(const mdl_sto *s)
{
    return &s->p;
}

void mdl_sto_stats(const mdl_sto *s, long *steps, long *rhs_evals)
{
    if (steps)
        *steps = s->steps;
    if (rhs_evals)
        *rhs_evals = s->rhs_evals;
}

/* ------------------------------------------------------------------ */
/* Component glue                                                      */
/* ------------------------------------------------------------------ */

static int log_now(sim_kernel *k, int id, const struct mdl_log_item *it, struct sim_err *err)
{
    if (sim_log(k, id, it->kind, it->sev, it->value, "%s", it->msg))
        return sim_errf(err, SIM_EIO, "%s: the event hook failed",
                        sim_kernel_component_name(k, id));
    return 0;
}

int mdl_log_defer(struct mdl_log_fifo *f, sim_kernel *k, int id, sim_time_us t, const char *kind,
                  enum sim_severity sev, double value, struct sim_err *err, const char *fmt, ...)
{
    struct mdl_log_item tmp,
        *it = f->n < MDL_LOG_MAX ? &f->item[(f->head + f->n) % MDL_LOG_MAX] : &tmp;
    sim_time_us now = sim_kernel_now(k);
    it->t = t < now ? now : t;
    it->kind = kind;
    it->sev = sev;
    it->value = value;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->msg, sizeof it->msg, fmt, ap);
    va_end(ap);
    if (it == &tmp || it->t >= sim_kernel_config(k)->end)
        return log_now(k, id, it, err);
    int rc = sim_kernel_schedule(k, id, it->t, 0, MDL_LOG_EVENT, 0, NULL);
    if (rc)
        return sim_errf(err, rc, "%s: cannot schedule the %s event: %s",
                        sim_kernel_component_name(k, id), kind, sim_strerror(rc));
    f->n++;
    return 0;
}

int mdl_log_fire(struct mdl_log_fifo *f, sim_kernel *k, int id, struct sim_err *err)
{
    if (!f->n)
        return 0;
    struct mdl_log_item *it = &f->item[f->head];
    f->head = (f->head + 1) % MDL_LOG_MAX;
    f->n--;
    return log_now(k, id, it, err);
}

int mdl_log_flush(struct mdl_log_fifo *f, sim_kernel *k, int id, struct sim_err *err)
{
    int rc = 0;
    while (f->n && !rc)
        rc = mdl_log_fire(f, k, id, err);
    return rc;
}

char *mdl_clock_format(sim_time_us t, int offset_s, char *buf, size_t n)
{
    char iso[64];
    sim_time_format(t, offset_s, iso, sizeof iso);
    /* Keep "HH:MM:SS[.ffffff]" from "YYYY-MM-DDTHH:MM:SS[.ffffff]+hh:mm". */
    const char *c = strchr(iso, 'T');
    c = c ? c + 1 : iso;
    size_t len = strcspn(c, "Z+-");
    snprintf(buf, n, "%.*s", (int)len, c);
    return buf;
}

int mdl_sto_read_common(struct scn_obj *cfg, struct mdl_sto_params *p, const char **setpoint,
                        struct sim_err *err)
{
    int rc;
    if ((rc = scn_number(cfg, "capacity_kwh", 1, 0, 0, MDL_MAX_ENERGY_KWH, &p->capacity_kwh,
                         err)) != 0)
        return rc;
    if (!(p->capacity_kwh > 0))
        return scn_errf(cfg, "capacity_kwh", err, "expected a number > 0, got 0");
    if ((rc = scn_number(cfg, "p_charge_max_kw", 1, 0, 0, MDL_MAX_POWER_KW, &p->p_charge_max_kw,
                         err)) != 0 ||
        (rc = scn_number(cfg, "p_discharge_max_kw", 0, 0, 0, MDL_MAX_POWER_KW,
                         &p->p_discharge_max_kw, err)) != 0 ||
        (rc = scn_number(cfg, "ramp_kw_per_s", 0, 0, 0, MDL_MAX_RAMP_KW_PER_S, &p->ramp_kw_per_s,
                         err)) != 0 ||
        (rc = scn_duration(cfg, "latency", 0, 0, 0, SIM_US_PER_H, &p->latency_us, err)) != 0 ||
        (rc = scn_string(cfg, "setpoint", 0, NULL, setpoint, err)) != 0)
        return rc;
    if (*setpoint && !strchr(*setpoint, '.'))
        return scn_errf(cfg, "setpoint", err,
                        "expected a full signal name \"component.signal\", got \"%s\"", *setpoint);
    return 0;
}

size_t mdl_sto_queue_len(sim_time_us latency, sim_time_us period, size_t extra)
{
    if (period <= 0)
        period = SIM_US_PER_S;
    return (size_t)(latency / period) + 2 + extra;
}

/* ------------------------------------------------------------------ */
/* Signals shared by the storage components                            */
/* ------------------------------------------------------------------ */

int mdl_sto_sigs_publish(sim_kernel *k, int comp, double soc0, double e0, double avail0,
                         struct mdl_sto_sigs *s, struct sim_err *err)
{
    const unsigned R = SIM_SIG_RECORD, RS = SIM_SIG_RECORD | SIM_SIG_STATE;
    int rc;
    if ((rc = sim_bus_publish(k, comp, "p_kw", "kW", R, 0, &s->p, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "p_avg_kw", "kW", R, 0, &s->avg, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "setpoint_kw", "kW", R, 0, &s->sp, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "soc", "1", RS, soc0, &s->soc, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "e_kwh", "kWh", RS, e0, &s->e, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "loss_kwh", "kWh", RS, 0, &s->loss, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "e_in_kwh", "kWh", RS, 0, &s->in, err)) != 0 ||
        (rc = sim_bus_publish(k, comp, "e_out_kwh", "kWh", RS, 0, &s->out, err)) != 0)
        return rc;
    return sim_bus_publish(k, comp, "available_discharge_kw", "kW", R, avail0, &s->avail, err);
}

void mdl_sto_sigs_set(sim_kernel *k, struct mdl_sto_sigs *s, const struct mdl_sto_state *st,
                      double avail_kw)
{
    double net = st->e_in_kwh - st->e_out_kwh;
    sim_bus_set(k, s->p, st->p_kw);
    if (st->t > s->avg_t)
        sim_bus_set(k, s->avg,
                    (net - s->avg_net_kwh) / ((double)(st->t - s->avg_t) / (double)SIM_US_PER_H));
    s->avg_t = st->t;
    s->avg_net_kwh = net;
    sim_bus_set(k, s->soc, st->soc);
    sim_bus_set(k, s->e, st->e_kwh);
    sim_bus_set(k, s->loss, st->loss_kwh);
    sim_bus_set(k, s->in, st->e_in_kwh);
    sim_bus_set(k, s->out, st->e_out_kwh);
    sim_bus_set(k, s->avail, avail_kw);
}

int mdl_named(sim_kernel *k, int id, int rc, struct sim_err *err)
{
    if (rc && err) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        sim_errf(err, rc, "%s: %s", sim_kernel_component_name(k, id), inner);
    }
    return rc;
}
