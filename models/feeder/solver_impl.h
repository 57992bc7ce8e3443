/*
 * solver_impl.h: the solver's private state, shared by the sweep
 * (solve.c) and the nodal solver (nodal_solve.c).
 */
#ifndef FLEXBED_SOLVER_IMPL_H
#define FLEXBED_SOLVER_IMPL_H

#include "feeder_impl.h"

/* Complex arithmetic without the C99 Annex G NaN/Inf recovery that makes
 * GCC call __muldc3 / __divdc3: the sweep's values are finite by
 * construction (a non-finite voltage ends the solve as divergence). */
static inline double complex cmul(double complex a, double complex b)
{
    return CMPLX(creal(a) * creal(b) - cimag(a) * cimag(b),
                 creal(a) * cimag(b) + cimag(a) * creal(b));
}

static inline double cabs2(double complex a)
{
    return creal(a) * creal(a) + cimag(a) * cimag(a);
}

/* conj(s / v): the current a power s draws at voltage v (v != 0). */
static inline double complex conj_div(double complex s, double complex v)
{
    double m = cabs2(v);
    return CMPLX((creal(s) * creal(v) + cimag(s) * cimag(v)) / m,
                 (creal(s) * cimag(v) - cimag(s) * creal(v)) / m);
}

/* ZIP coefficients of a load: P = P0 (zp v^2 + ip v + pp), likewise Q. */
struct zip {
    double zp, ip, pp, zq, iq, pq;
    int exponential; /* model 4: P0 v^ep, Q0 v^eq instead of the polynomial */
    double ep, eq;
    double vmin, vmax, cutoff; /* pu of the element's base; vmax 0: none */
    int const_pq;              /* pure constant power: the fast path */
    int pure_z;                /* model 2, capacitors: no voltage limits */
    int limits_as_p;           /* models 3, 4, 7: the whole load follows the constant-power
                                  rule outside the limits, as OpenDSS's motor and CVR models */
};

struct fdr_solver {
    const fdr_circuit *c;
    double tol;
    int max_iter;
    double complex (*v)[4];  /* per bus, volts to ground (slot 3: neutral node 4) */
    double complex (*j)[4];  /* per bus, current drawn from the bus by its loads and branches */
    double complex (*is)[4]; /* per branch, series current from `from` to `to`, per conductor */
    double complex *s0;      /* per load element, demand at 1 pu, VA */
    double complex *iel;     /* per load element, current from node a to node b */
    double *p_kw, *q_kvar;   /* per load, demand as set */
    double *div_shift_min;   /* per load, its shape's time shift (NULL: none) */
    double *div_scale;       /* per load, its shape's scale (NULL: none) */
    struct zip *zip;         /* per load */
    double *inv_vbase;       /* per bus */
    double (*rat)[3];        /* per branch and conductor: the transformers' ratios now */
    double complex (*zw)[3]; /* ... and their leakage impedances on side 2 now */
    double *tap;             /* per regulator: its present tap on the tapped winding */
    int control_iterations;  /* of the last solve */
    int *cap_steps;          /* per CapControl: its capacitor's steps in service */
    int *cap_dir;            /* ... and what it wants (scratch of fdr_solve) */
    int *reg_want;           /* per regulator: wants to move (scratch) ... */
    double *reg_nt;          /* ... to this tap */
    /* time-driven controls (fdr_solve_time): the action queue and each
     * control's state */
    struct fdr_ctl_action {
        double t;   /* due, s */
        int who;    /* regulator r, or nregc + CapControl k */
        int handle; /* for dropping it */
    } * q;
    int nq, qcap, qhandle;
    double *reg_pending; /* per regulator: the change it still wants, pu */
    int *reg_armed, *reg_handle;
    int *cap_armed, *cap_handle;
    double *cap_last_open;            /* s */
    long tap_changes, cap_switchings; /* actions taken so far */
    struct fdr_nsolve *ns;            /* the nodal solver's state, when the circuit is nodal */
};

struct fdr_nsolve;

/* Below this (pu of a load's kV) every load but a constant impedance is
 * its nominal admittance (OpenDSS's vlowpu default). */
#define FDR_VLOW_PU 0.5

/* Current of one load element for the voltage across it (ZIP, limits). */
double complex fdr_load_current(const struct zip *z, double complex s0, double complex vab,
                                double vbase);
/* One regulator's control step for the voltage va its relay reads
 * (PT-side volts, compensation included): 1 with *nt the new tap, 0 if it
 * stays at tap. */
int fdr_reg_step(const fdr_circuit *c, int r, double va, double tap, double *nt);

/* The sweep's power flow and regulators (solve.c). */
int fdr_sweep_power_flow(fdr_solver *s, int *iterations, struct sim_err *err);
double complex fdr_sweep_winding_v(const fdr_solver *s, int r);
void fdr_sweep_set_tap(fdr_solver *s, int r, double nt);
/* Voltage to ground at a line's or transformer's terminal conductor. */
double complex fdr_line_v(const fdr_solver *s, int line, int terminal, int cond);
double complex fdr_xfmr_v(const fdr_solver *s, int x, int winding, int cond);

/* The nodal solver (nodal_solve.c). */
int fdr_nsolve_new(fdr_solver *s, struct sim_err *err);
void fdr_nsolve_free(struct fdr_nsolve *ns);
int fdr_nsolve_power_flow(fdr_solver *s, int *iterations, struct sim_err *err);
double complex fdr_nsolve_winding_v(const fdr_solver *s, int r);
void fdr_nsolve_set_tap(fdr_solver *s, int r, double nt);
int fdr_nsolve_refactor(fdr_solver *s, struct sim_err *err);
double complex fdr_nsolve_line_v(const fdr_solver *s, int line, int terminal, int cond);
double complex fdr_nsolve_line_i(const fdr_solver *s, int line, int terminal, int cond);
double complex fdr_nsolve_xfmr_i(const fdr_solver *s, int x, int winding, int cond);
double complex fdr_nsolve_xfmr_v(const fdr_solver *s, int x, int winding, int cond);
double complex fdr_nsolve_source_i(const fdr_solver *s, int phase);
double complex fdr_nsolve_earth_i(const fdr_solver *s, int bus);
void fdr_nsolve_losses(const fdr_solver *s, struct fdr_losses *out);

#endif /* FLEXBED_SOLVER_IMPL_H */
