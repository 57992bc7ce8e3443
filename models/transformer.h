/*
 * transformer.h: the thermal model of an oil-immersed transformer, without
 * the kernel.
 *
 * This is the pure half of the "transformer" component (models/transformer.c):
 * parameters, the IEC 60076-7 differential equations, steady states, the
 * ageing rate, and a small CVODE-backed integrator that advances the state
 * over an interval with the load factor K and the ambient temperature held
 * constant. Tests and the feeder model use it directly; nothing here needs a
 * sim_kernel. See docs/models.md ("Transformer") for the equations, the
 * parameter sources and the defaults.
 *
 * Time inside the model is in minutes (the unit of the IEC time constants);
 * loss of life is in hours of equivalent ageing at the reference 98 degC.
 */
#ifndef FLEXBED_MODELS_TRANSFORMER_H
#define FLEXBED_MODELS_TRANSFORMER_H

#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nameplate and thermal parameters. Plain data. */
struct mdl_xfm_params {
    double rating_kva;      /* rated apparent power S_r */
    double no_load_loss_kw; /* P0, core losses, independent of load */
    double load_loss_kw;    /* Pk, winding losses at rated current */
    double top_oil_rise_k;  /* delta theta_or: top-oil rise at rated losses */
    double hot_spot_rise_k; /* delta theta_hr = H * g_r: hot-spot-to-top-oil
                               gradient at rated current */
    double x;               /* oil exponent */
    double y;               /* winding exponent */
    double k11, k21, k22;   /* thermal model constants */
    double tau_o_min;       /* average oil time constant */
    double tau_w_min;       /* winding time constant */
};

/* Defaults: a 250 kVA ONAN distribution transformer (IEC 60076-7 values for
 * distribution transformers, losses of a common 250 kVA 20/0.4 kV type; see
 * docs/models.md). Losses scale with rating_kva when the caller changes it
 * and calls mdl_xfm_params_scale_losses. */
void mdl_xfm_params_default(struct mdl_xfm_params *p);

/* Set P0 and Pk to the default per-unit losses (0.32 % and 1.44 % of the
 * rating) for p->rating_kva. */
void mdl_xfm_params_scale_losses(struct mdl_xfm_params *p);

/* NULL when every parameter is usable, else the name of the first bad one
 * (as it is spelled in a scenario, e.g. "tau_o_min"). */
const char *mdl_xfm_params_invalid(const struct mdl_xfm_params *p);

/* R: ratio of load losses at rated current to no-load losses. */
double mdl_xfm_loss_ratio(const struct mdl_xfm_params *p);

/* Total losses at load factor k: P0 + Pk k^2 (kW). */
double mdl_xfm_losses_kw(const struct mdl_xfm_params *p, double k);

/* Steady-state top-oil rise over ambient at load factor k (K):
 * delta theta_or * ((1 + R k^2) / (1 + R))^x. */
double mdl_xfm_top_oil_rise_ss(const struct mdl_xfm_params *p, double k);

/* Steady-state hot-spot rise over top oil at load factor k (K):
 * delta theta_hr * k^y (delta theta_h1 - delta theta_h2 at rest). */
double mdl_xfm_hot_spot_rise_ss(const struct mdl_xfm_params *p, double k);

/* Relative ageing rate of non-thermally-upgraded paper at hot-spot
 * temperature theta_h (IEC 60076-7): V = 2^((theta_h - 98) / 6). */
double mdl_xfm_ageing_rate(double theta_h_degc);

/* The integrated state. Plain data; the order is the ODE vector's. */
struct mdl_xfm_state {
    double top_oil_degc;   /* theta_o */
    double dh1_k;          /* delta theta_h1 */
    double dh2_k;          /* delta theta_h2 */
    double loss_of_life_h; /* integral of V dt, hours */
};
#define MDL_XFM_NSTATE 4

/* Hot-spot temperature of a state: theta_o + delta theta_h1 - delta theta_h2. */
double mdl_xfm_hot_spot_degc(const struct mdl_xfm_state *s);

/* The steady state at constant k and ambient; loss_of_life_h is 0. */
void mdl_xfm_steady_state(const struct mdl_xfm_params *p, double k, double ambient_degc,
                          struct mdl_xfm_state *s);

/* Time derivatives per minute of every state at load factor k and ambient
 * (d->loss_of_life_h is V / 60, hours per minute). */
void mdl_xfm_derivs(const struct mdl_xfm_params *p, double k, double ambient_degc,
                    const struct mdl_xfm_state *s, struct mdl_xfm_state *d);

/* ------------------------------------------------------------------ */
/* Integrator: CVODE (BDF, dense direct linear solver, analytic        */
/* Jacobian). Everything is allocated by mdl_xfm_solver_new; advance   */
/* and reset never allocate.                                           */
/* ------------------------------------------------------------------ */

typedef struct mdl_xfm_solver mdl_xfm_solver;

/* Create a solver for parameters *p (copied) starting at state *init.
 * Returns 0, SIM_EINVAL (bad parameter, named in err) or SIM_ENOMEM /
 * SIM_EFAIL (CVODE set-up failed). Free with mdl_xfm_solver_free. */
int mdl_xfm_solver_new(const struct mdl_xfm_params *p, const struct mdl_xfm_state *init,
                       mdl_xfm_solver **out, struct sim_err *err);
void mdl_xfm_solver_free(mdl_xfm_solver *s);

/* Restart from state *st (e.g. the steady state of the first step). */
int mdl_xfm_solver_reset(mdl_xfm_solver *s, const struct mdl_xfm_state *st, struct sim_err *err);

/* Integrate dt_min >= 0 minutes with k and ambient constant over the
 * interval (a zero-order hold of the inputs). *out (may be NULL) gets the
 * state at the end. Returns 0 or SIM_EFAIL with CVODE's complaint in err. */
int mdl_xfm_solver_advance(mdl_xfm_solver *s, double dt_min, double k, double ambient_degc,
                           struct mdl_xfm_state *out, struct sim_err *err);

/* The current state (owned by the solver). */
const struct mdl_xfm_state *mdl_xfm_solver_state(const mdl_xfm_solver *s);

/* Statistics for tests: CVODE steps and right-hand-side evaluations since
 * creation. */
void mdl_xfm_solver_stats(const mdl_xfm_solver *s, long *steps, long *rhs_evals);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_MODELS_TRANSFORMER_H */
