/*
 * transformer_thermal.c: the IEC 60076-7 thermal model and its CVODE
 * integrator (the kernel-free half of the transformer, see transformer.h).
 *
 * The model is the loading guide's differential-equation form: one
 * first-order lag for the top-oil temperature and two for the hot-spot rise
 * over top oil, whose difference reproduces the overshoot of the hot spot
 * that follows a load step while the oil flow has not caught up yet. A
 * fourth state integrates the relative ageing rate into loss of life, so the
 * solver's error control covers it as well.
 *
 * The inputs (load factor, ambient) are held constant over each call to
 * advance; CVODE is told to stop exactly at the interval's end and is
 * re-initialised whenever an input changed, because its BDF history is not
 * valid across a jump in the right-hand side. Re-initialisation reuses the
 * memory allocated once in mdl_xfm_solver_new.
 */
#include "transformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

/* Default per-unit losses of a 250 kVA 20/0.4 kV ONAN unit (pandapower
 * standard type "0.25 MVA 20/0.4 kV": P0 = 0.8 kW, vkr = 1.44 %). */
#define DEFAULT_P0_PU 0.0032
#define DEFAULT_PK_PU 0.0144

#define RTOL 1e-7
#define ATOL 1e-8
#define LN2 0.69314718055994530942

void mdl_xfm_params_default(struct mdl_xfm_params *p)
{
    memset(p, 0, sizeof *p);
    p->rating_kva = 250.0;
    /* IEC 60076-7 thermal characteristics of ONAN distribution
     * transformers: 20 degC + 55 K + 23 K = 98 degC hot spot at rated load,
     * i.e. an ageing rate of 1 at rated conditions. */
    p->top_oil_rise_k = 55.0;
    p->hot_spot_rise_k = 23.0;
    p->x = 0.8;
    p->y = 1.6;
    p->k11 = 1.0;
    p->k21 = 1.0;
    p->k22 = 2.0;
    p->tau_o_min = 180.0;
    p->tau_w_min = 4.0;
    mdl_xfm_params_scale_losses(p);
}

void mdl_xfm_params_scale_losses(struct mdl_xfm_params *p)
{
    p->no_load_loss_kw = DEFAULT_P0_PU * p->rating_kva;
    p->load_loss_kw = DEFAULT_PK_PU * p->rating_kva;
}

const char *mdl_xfm_params_invalid(const struct mdl_xfm_params *p)
{
    /* Written as !(v > 0) so that NaN is rejected too. */
    if (!(p->rating_kva > 0) || !isfinite(p->rating_kva))
        return "rating_kva";
    if (!(p->no_load_loss_kw > 0) || !isfinite(p->no_load_loss_kw))
        return "no_load_loss_kw"; /* R = Pk / P0 needs P0 > 0 */
    if (!(p->load_loss_kw >= 0) || !isfinite(p->load_loss_kw))
        return "load_loss_kw";
    if (!(p->top_oil_rise_k >= 0) || !isfinite(p->top_oil_rise_k))
        return "top_oil_rise_k";
    if (!(p->hot_spot_rise_k >= 0) || !isfinite(p->hot_spot_rise_k))
        return "hot_spot_rise_k";
    if (!(p->x > 0) || !isfinite(p->x))
        return "x";
    if (!(p->y > 0) || !isfinite(p->y))
        return "y";
    if (!(p->k11 > 0) || !isfinite(p->k11))
        return "k11";
    if (!(p->k21 >= 1) || !isfinite(p->k21))
        return "k21"; /* (k21 - 1) scales the second hot-spot lag */
    if (!(p->k22 > 0) || !isfinite(p->k22))
        return "k22";
    if (!(p->tau_o_min > 0) || !isfinite(p->tau_o_min))
        return "tau_o_min";
    if (!(p->tau_w_min > 0) || !isfinite(p->tau_w_min))
        return "tau_w_min";
    return NULL;
}

double mdl_xfm_loss_ratio(const struct mdl_xfm_params *p)
{
    return p->load_loss_kw / p->no_load_loss_kw;
}

double mdl_xfm_losses_kw(const struct mdl_xfm_params *p, double k)
{
    return p->no_load_loss_kw + p->load_loss_kw * k * k;
}

double mdl_xfm_top_oil_rise_ss(const struct mdl_xfm_params *p, double k)
{
    double r = mdl_xfm_loss_ratio(p);
    return p->top_oil_rise_k * pow((1.0 + r * k * k) / (1.0 + r), p->x);
}

double mdl_xfm_hot_spot_rise_ss(const struct mdl_xfm_params *p, double k)
{
    return p->hot_spot_rise_k * pow(fabs(k), p->y);
}

double mdl_xfm_ageing_rate(double theta_h_degc)
{
    double e = (theta_h_degc - 98.0) / 6.0;
    /* Trial iterates of the solver may be wild; keep V finite. */
    if (e > 500.0)
        e = 500.0;
    if (e < -500.0)
        e = -500.0;
    return exp2(e);
}

double mdl_xfm_hot_spot_degc(const struct mdl_xfm_state *s)
{
    return s->top_oil_degc + s->dh1_k - s->dh2_k;
}

void mdl_xfm_steady_state(const struct mdl_xfm_params *p, double k, double ambient_degc,
                          struct mdl_xfm_state *s)
{
    double hk = p->hot_spot_rise_k * pow(fabs(k), p->y);
    s->top_oil_degc = ambient_degc + mdl_xfm_top_oil_rise_ss(p, k);
    s->dh1_k = p->k21 * hk;
    s->dh2_k = (p->k21 - 1.0) * hk;
    s->loss_of_life_h = 0.0;
}

/* The IEC 60076-7 equations, solved for the derivatives:
 *   k11 tau_o dtheta_o/dt = dtheta_or ((1 + R K^2)/(1 + R))^x - (theta_o - theta_a)
 *   k22 tau_w  ddh1/dt    = k21 dtheta_hr K^y - dh1
 *   tau_o/k22  ddh2/dt    = (k21 - 1) dtheta_hr K^y - dh2
 *   dL/dt = V(theta_o + dh1 - dh2) / 60     (hours per minute) */
void mdl_xfm_derivs(const struct mdl_xfm_params *p, double k, double ambient_degc,
                    const struct mdl_xfm_state *s, struct mdl_xfm_state *d)
{
    double hk = p->hot_spot_rise_k * pow(fabs(k), p->y);
    d->top_oil_degc = (mdl_xfm_top_oil_rise_ss(p, k) - (s->top_oil_degc - ambient_degc)) /
                      (p->k11 * p->tau_o_min);
    d->dh1_k = (p->k21 * hk - s->dh1_k) / (p->k22 * p->tau_w_min);
    d->dh2_k = ((p->k21 - 1.0) * hk - s->dh2_k) / (p->tau_o_min / p->k22);
    d->loss_of_life_h = mdl_xfm_ageing_rate(mdl_xfm_hot_spot_degc(s)) / 60.0;
}

/* ------------------------------------------------------------------ */
/* Solver                                                              */
/* ------------------------------------------------------------------ */

struct mdl_xfm_solver {
    struct mdl_xfm_params p;
    /* Inputs over the current interval, read by the callbacks. */
    double k, ambient_degc;
    int fresh; /* CVODE must be (re)initialised before the next step */
    double t_min;
    struct mdl_xfm_state st;
    SUNContext ctx;
    N_Vector y;
    SUNMatrix a;
    SUNLinearSolver ls;
    void *mem;
    char last_error[256]; /* CVODE's last message, never printed */
};

static void to_state(N_Vector v, struct mdl_xfm_state *s)
{
    const sunrealtype *y = N_VGetArrayPointer(v);
    s->top_oil_degc = y[0];
    s->dh1_k = y[1];
    s->dh2_k = y[2];
    s->loss_of_life_h = y[3];
}

static void from_state(const struct mdl_xfm_state *s, N_Vector v)
{
    sunrealtype *y = N_VGetArrayPointer(v);
    y[0] = s->top_oil_degc;
    y[1] = s->dh1_k;
    y[2] = s->dh2_k;
    y[3] = s->loss_of_life_h;
}

static int rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user)
{
    (void)t;
    const struct mdl_xfm_solver *s = user;
    struct mdl_xfm_state st, d;
    to_state(y, &st);
    mdl_xfm_derivs(&s->p, s->k, s->ambient_degc, &st, &d);
    from_state(&d, ydot);
    return 0;
}

/* The system is linear in the three temperatures; only the ageing row
 * depends on the state, through dV/dtheta_h = V ln2 / 6. */
static int jac(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix j, void *user, N_Vector t1,
               N_Vector t2, N_Vector t3)
{
    (void)t;
    (void)fy;
    (void)t1;
    (void)t2;
    (void)t3;
    const struct mdl_xfm_solver *s = user;
    struct mdl_xfm_state st;
    to_state(y, &st);
    double dv = mdl_xfm_ageing_rate(mdl_xfm_hot_spot_degc(&st)) * LN2 / 6.0 / 60.0;
    SUNMatZero(j);
    SM_ELEMENT_D(j, 0, 0) = -1.0 / (s->p.k11 * s->p.tau_o_min);
    SM_ELEMENT_D(j, 1, 1) = -1.0 / (s->p.k22 * s->p.tau_w_min);
    SM_ELEMENT_D(j, 2, 2) = -s->p.k22 / s->p.tau_o_min;
    SM_ELEMENT_D(j, 3, 0) = dv;
    SM_ELEMENT_D(j, 3, 1) = dv;
    SM_ELEMENT_D(j, 3, 2) = -dv;
    return 0;
}

/* Keep CVODE's messages instead of letting it print them. */
static void on_cvode_error(int code, const char *module, const char *function, char *msg,
                           void *user)
{
    struct mdl_xfm_solver *s = user;
    snprintf(s->last_error, sizeof s->last_error, "%s/%s (%d): %s", module ? module : "?",
             function ? function : "?", code, msg ? msg : "");
}

void mdl_xfm_solver_free(mdl_xfm_solver *s)
{
    if (!s)
        return;
    if (s->mem)
        CVodeFree(&s->mem);
    if (s->ls)
        SUNLinSolFree(s->ls);
    if (s->a)
        SUNMatDestroy(s->a);
    if (s->y)
        N_VDestroy(s->y);
    if (s->ctx)
        SUNContext_Free(&s->ctx);
    free(s);
}

int mdl_xfm_solver_new(const struct mdl_xfm_params *p, const struct mdl_xfm_state *init,
                       mdl_xfm_solver **out, struct sim_err *err)
{
    *out = NULL;
    const char *bad = mdl_xfm_params_invalid(p);
    if (bad)
        return sim_errf(err, SIM_EINVAL, "transformer: parameter %s out of range", bad);
    struct mdl_xfm_solver *s = calloc(1, sizeof *s);
    if (!s)
        return sim_errf(err, SIM_ENOMEM, "transformer: out of memory");
    s->p = *p;
    s->st = *init;
    s->fresh = 1;
    const char *what = NULL;
    if (SUNContext_Create(NULL, &s->ctx) != 0) {
        what = "SUNContext_Create";
        goto fail;
    }
    s->y = N_VNew_Serial(MDL_XFM_NSTATE, s->ctx);
    s->a = s->y ? SUNDenseMatrix(MDL_XFM_NSTATE, MDL_XFM_NSTATE, s->ctx) : NULL;
    s->ls = s->a ? SUNLinSol_Dense(s->y, s->a, s->ctx) : NULL;
    s->mem = s->ls ? CVodeCreate(CV_BDF, s->ctx) : NULL;
    if (!s->mem) {
        what = "allocating the CVODE objects";
        goto fail;
    }
    from_state(init, s->y);
    if (CVodeSetErrHandlerFn(s->mem, on_cvode_error, s) != CV_SUCCESS) {
        what = "CVodeSetErrHandlerFn";
        goto fail;
    }
    if (CVodeInit(s->mem, rhs, 0.0, s->y) != CV_SUCCESS) {
        what = "CVodeInit";
        goto fail;
    }
    if (CVodeSetUserData(s->mem, s) != CV_SUCCESS ||
        CVodeSStolerances(s->mem, RTOL, ATOL) != CV_SUCCESS ||
        CVodeSetLinearSolver(s->mem, s->ls, s->a) != CV_SUCCESS ||
        CVodeSetJacFn(s->mem, jac) != CV_SUCCESS ||
        CVodeSetMaxNumSteps(s->mem, 100000) != CV_SUCCESS) {
        what = "configuring CVODE";
        goto fail;
    }
    *out = s;
    return 0;
fail:;
    int code = sim_errf(err, SIM_EFAIL, "transformer: %s failed%s%s", what,
                        s->last_error[0] ? ": " : "", s->last_error);
    mdl_xfm_solver_free(s);
    return code;
}

int mdl_xfm_solver_reset(mdl_xfm_solver *s, const struct mdl_xfm_state *st, struct sim_err *err)
{
    (void)err;
    s->st = *st;
    from_state(st, s->y);
    s->fresh = 1;
    return 0;
}

int mdl_xfm_solver_advance(mdl_xfm_solver *s, double dt_min, double k, double ambient_degc,
                           struct mdl_xfm_state *out, struct sim_err *err)
{
    if (!(dt_min >= 0) || !isfinite(k) || !isfinite(ambient_degc))
        return sim_errf(err, SIM_EINVAL,
                        "transformer: bad interval or input (dt %g min, K %g, ambient %g degC)",
                        dt_min, k, ambient_degc);
    if (dt_min > 0) {
        if (k != s->k || ambient_degc != s->ambient_degc)
            s->fresh = 1;
        s->k = k;
        s->ambient_degc = ambient_degc;
        if (s->fresh) {
            if (CVodeReInit(s->mem, s->t_min, s->y) != CV_SUCCESS)
                return sim_errf(err, SIM_EFAIL, "transformer: CVodeReInit failed: %s",
                                s->last_error);
            s->fresh = 0;
        }
        double tout = s->t_min + dt_min, tret = s->t_min;
        int rc = CVodeSetStopTime(s->mem, tout);
        if (rc == CV_SUCCESS)
            rc = CVode(s->mem, tout, s->y, &tret, CV_NORMAL);
        if (rc < 0) {
            s->fresh = 1; /* start clean next time */
            return sim_errf(err, SIM_EFAIL,
                            "transformer: CVODE failed at t = %.6g min (K %.4g, ambient %.4g "
                            "degC): %s",
                            tret, k, ambient_degc, s->last_error);
        }
        s->t_min = tout;
        to_state(s->y, &s->st);
    }
    if (out)
        *out = s->st;
    return 0;
}

const struct mdl_xfm_state *mdl_xfm_solver_state(const mdl_xfm_solver *s)
{
    return &s->st;
}

void mdl_xfm_solver_stats(const mdl_xfm_solver *s, long *steps, long *rhs_evals)
{
    long n = 0, f = 0;
    CVodeGetNumSteps(s->mem, &n);
    CVodeGetNumRhsEvals(s->mem, &f);
    if (steps)
        *steps = n;
    if (rhs_evals)
        *rhs_evals = f;
}
