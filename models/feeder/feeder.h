/*
 * feeder.h: unbalanced three-phase power flow of a distribution feeder.
 *
 * A pure library (no kernel): fdr_load_dss() reads a circuit written in
 * OpenDSS's language (the subset in docs/models.md: enough for the IEEE
 * European LV Test Feeder and the IEEE 4-, 34-, 37-, 123- and 8500-node
 * feeders as OpenDSS ships them), fdr_solver_new() sizes every buffer once,
 * and fdr_solve() runs either a backward/forward sweep (radial feeders it
 * can model) or a nodal current-injection iteration on a sparse admittance
 * matrix factored by KLU (everything else), with regulators and capacitor
 * controls in OpenDSS's static mode. Set-up allocates; set_load /
 * apply_loadshapes / solve and the accessors never do, so a component can
 * call them every step.
 *
 * Network model (docs/models.md, section "Feeder"):
 *  - phase frame, nodes 1..3 per bus measured to a perfect ground (node 0).
 *    Lines given by sequence data or 3x3 matrices are the Kron-reduced
 *    equivalent of a multigrounded four-wire line; the return (neutral plus
 *    earth) current is reported as the residual, as OpenDSS does;
 *  - where the circuit gives it, an explicit neutral, node 4: it starts at
 *    a transformer's LV star point (bus.1.2.3.4, earthed solidly or through
 *    rneut/xneut, or isolated with rneut < 0), runs along 4-wire lines
 *    (nphases=4, kron=no) and is earthed at other buses through
 *    `Reactor bus1=b.4 bus2=b.0 R= X=`; wye loads may have their star
 *    point on it (bus.1.4, bus.1.2.3.4);
 *  - one Vsource (Thevenin source from ISC3/ISC1, MVAsc or R1..X0);
 *  - transformers: on the sweep, two-winding three-phase units (upstream
 *    winding delta or grounded wye, downstream grounded wye) and banks of
 *    single-phase wye-wye units; on the nodal solver, one or three phases,
 *    two or three windings, any connection; delta windings follow OpenDSS's
 *    LeadLag (default ANSI: the LV side lags the HV side by 30 degrees);
 *  - loads: ZIP (OpenDSS model 1, 2, 3, 5, 6, 7, 8), wye or delta, one to
 *    three phases; below vminpu a load becomes constant impedance.
 *
 * Element indices are 0-based; phases and conductors are 1-based as in
 * OpenDSS. Currents follow OpenDSS: the current flowing INTO the element at
 * the given terminal and conductor.
 */
#ifndef FLEXBED_FEEDER_H
#define FLEXBED_FEEDER_H

#include <complex.h>
#include <stddef.h>

#include "../../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fdr_circuit fdr_circuit;
typedef struct fdr_solver fdr_solver;

/* Warnings the parser collected (skipped output-only commands). The caller
 * owns the struct (zero-initialise it) and frees its contents with
 * fdr_warnings_free(). Each message is one line, "file:line: text". */
struct fdr_warnings {
    char **msg;
    size_t count;
    size_t cap;
};
void fdr_warnings_free(struct fdr_warnings *w);

/* ------------------------------------------------------------------ */
/* Circuit                                                             */
/* ------------------------------------------------------------------ */

/* Read master_path (and what it redirects) and build the radial topology.
 * warn may be NULL (warnings are then dropped). Returns NULL with err
 * filled ("file:line: ...") on any unsupported or invalid input. */
fdr_circuit *fdr_load_dss(const char *master_path, struct fdr_warnings *warn, struct sim_err *err);

/* Same from a string; name is used in messages, base_dir (may be NULL for
 * ".") resolves Redirect and file= paths. */
fdr_circuit *fdr_load_dss_string(const char *text, const char *name, const char *base_dir,
                                 struct fdr_warnings *warn, struct sim_err *err);

void fdr_circuit_free(fdr_circuit *c);

/* Which solver a circuit is compiled for: "sweep" (radial backward/forward
 * sweep, the default where it applies) or "nodal" (sparse nodal
 * admittance matrix factored by KLU: meshes, delta secondaries,
 * line-to-line and three-winding units). */
const char *fdr_circuit_method(const fdr_circuit *c);
/* Recompile c for the nodal solver even where the sweep could solve it
 * (solvers made from c before must be freed first). Returns 0 or a SIM_E*
 * code with err filled. */
int fdr_circuit_use_nodal(fdr_circuit *c, struct sim_err *err);

/* Names are returned as written in the first definition (borrowed, valid
 * until fdr_circuit_free). find() compares case-insensitively, returns -1
 * if absent. */
int fdr_bus_count(const fdr_circuit *c);
const char *fdr_bus_name(const fdr_circuit *c, int bus);
int fdr_bus_find(const fdr_circuit *c, const char *name);
double fdr_bus_kv_base(const fdr_circuit *c, int bus);  /* line-to-line kV */
unsigned fdr_bus_phases(const fdr_circuit *c, int bus); /* bit p-1 set: phase p present */
/* 1 if the bus has an explicit neutral node 4 (see fdr_bus_v), else 0. */
int fdr_bus_has_neutral(const fdr_circuit *c, int bus);
/* 0 if the bus is dead (reached only through open switches: its voltages
 * are 0 and its loads draw nothing), else 1. */
int fdr_bus_energised(const fdr_circuit *c, int bus);

int fdr_line_count(const fdr_circuit *c);
const char *fdr_line_name(const fdr_circuit *c, int line);
int fdr_line_find(const fdr_circuit *c, const char *name);
int fdr_line_phases(const fdr_circuit *c, int line);

int fdr_xfmr_count(const fdr_circuit *c);
const char *fdr_xfmr_name(const fdr_circuit *c, int x);
int fdr_xfmr_find(const fdr_circuit *c, const char *name);

int fdr_load_count(const fdr_circuit *c);
const char *fdr_load_name(const fdr_circuit *c, int load);
int fdr_load_find(const fdr_circuit *c, const char *name);
int fdr_load_bus(const fdr_circuit *c, int load);
/* Nominal (snapshot) demand of a load: kW and kvar as the file gives them. */
void fdr_load_nominal(const fdr_circuit *c, int load, double *p_kw, double *q_kvar);

/* ------------------------------------------------------------------ */
/* Solver                                                              */
/* ------------------------------------------------------------------ */

/* Allocate everything a solve needs. c is borrowed and must outlive the
 * solver. Loads start at their nominal demand. */
fdr_solver *fdr_solver_new(const fdr_circuit *c, struct sim_err *err);
void fdr_solver_free(fdr_solver *s);

/* Convergence: largest voltage change of a sweep, pu of the bus base
 * (default 1e-9), and iteration cap (default 100). */
void fdr_solver_set_tolerance(fdr_solver *s, double tol_pu, int max_iter);

/* Demand of one load (total over its phases), taking effect at the next
 * solve. Returns 0 or SIM_ERANGE for a bad index. */
int fdr_set_load(fdr_solver *s, int load, double p_kw, double q_kvar);

/* Set every load that has a yearly LoadShape to its value at
 * minute_of_year (minutes since 1 January 00:00), and every load that has
 * only a daily one to its value at minute_of_day (minutes since midnight):
 * as OpenDSS, the time t uses point round(t / interval) (half to even, as
 * Pascal's Round), 1-based, wrapping around the shape (t = 0 is the last
 * point). Loads without a shape keep
 * their last demand. Returns 0. */
int fdr_apply_loadshapes(fdr_solver *s, double minute_of_year, double minute_of_day);
/* Diversity between copies of one circuit: load i's shape is read
 * shift_min[i] minutes later (negative: earlier) and its power scaled by
 * scale[i] (either array NULL: none). Copied. 0 or SIM_ENOMEM. */
int fdr_set_load_diversity(fdr_solver *s, const double *shift_min, const double *scale);

/* Solve. Returns 0 with *iterations (may be NULL) = sweeps used, or
 * SIM_EFAIL when the sweep does not converge within the cap or diverges
 * (voltages are then the last iterate, err says which). Warm-starts from
 * the previous solution. */
int fdr_solve(fdr_solver *s, int *iterations, struct sim_err *err);
/* Solve at simulation time t_s (seconds, increasing from call to call)
 * with the controls in OpenDSS's time mode (controlmode=time): regulators
 * and capacitor controls act when their Delay (then TapDelay between taps)
 * has passed since they first wanted to, one tap or one capacitor step per
 * action, as in a daily run of OpenDSS. Otherwise as fdr_solve. */
int fdr_solve_time(fdr_solver *s, double t_s, int *iterations, struct sim_err *err);
/* Tap changes and capacitor step switchings made so far by the controls
 * (both modes). */
long fdr_solver_tap_changes(const fdr_solver *s);
long fdr_solver_cap_switchings(const fdr_solver *s);
/* CapControls (definition order): count, name, and its capacitor's steps
 * in service now. */
int fdr_capcontrol_count(const fdr_circuit *c);
const char *fdr_capcontrol_name(const fdr_circuit *c, int k);
int fdr_capcontrol_steps(const fdr_solver *s, int k);

/* Control iterations of the last solve (1 without regulators). */
int fdr_solver_control_iterations(const fdr_solver *s);
/* Regulators (RegControl, in definition order): count, name, and the
 * present tap of the one with index reg on its tapped winding (pu). */
int fdr_regulator_count(const fdr_circuit *c);
const char *fdr_regulator_name(const fdr_circuit *c, int reg);
double fdr_regulator_tap(const fdr_solver *s, int reg);

/* Node voltage to ground, volts, and in pu of the bus base (kV_LL/sqrt 3).
 * Phase 4 is the explicit neutral node where the bus has one
 * (fdr_bus_has_neutral). 0 for an absent phase or bad index. */
double complex fdr_bus_v(const fdr_solver *s, int bus, int phase);
double complex fdr_bus_v_pu(const fdr_solver *s, int bus, int phase);

/* Current from the bus's explicit neutral into earth (through a Reactor,
 * or a transformer star point's earthing), amps; 0 where none. */
double complex fdr_bus_earth_i(const fdr_solver *s, int bus);

/* Line current into terminal (1: bus1, 2: bus2) on conductor 1..phases,
 * amps, and 4 for the neutral of a 4-wire line; conductor 0 gives the
 * residual (sum of all conductors' currents: the earth return). */
double complex fdr_line_i(const fdr_solver *s, int line, int terminal, int cond);

/* Transformer current into winding 1 or 2 on conductor 1..3; conductor 4
 * of a wye winding is its neutral (grounded). */
double complex fdr_xfmr_i(const fdr_solver *s, int x, int winding, int cond);
/* Power into the transformer at winding / conductor 1..3 (node voltage to
 * ground times conjugate current), kW and kvar. */
void fdr_xfmr_pq(const fdr_solver *s, int x, int winding, int cond, double *p_kw, double *q_kvar);

/* Load current into the load on conductor 1..n (phases, then neutral for
 * wye) and the power it draws, kW / kvar (after ZIP and vminpu). */
double complex fdr_load_i(const fdr_solver *s, int load, int cond);
void fdr_load_pq(const fdr_solver *s, int load, double *p_kw, double *q_kvar);

/* Current the source delivers into its bus, phase 1..3, and the power it
 * delivers there (kW / kvar, all phases). */
double complex fdr_source_i(const fdr_solver *s, int phase);
void fdr_source_pq(const fdr_solver *s, double *p_kw, double *q_kvar);

struct fdr_losses {
    double lines_kw, lines_kvar; /* series and shunt of all lines */
    double xfmr_kw, xfmr_kvar;   /* all transformers */
    double total_kw, total_kvar;
};
void fdr_losses(const fdr_solver *s, struct fdr_losses *out);

/* Benchmark: load master_path (tol_pu > 0: the solver's tolerance;
 * time_mode: the steps' controls by fdr_solve_time, else fdr_solve;
 * *method, may be NULL: "sweep" or "nodal"); set up a solver and solve the snapshot
 * (nominal demand, regulators acting: *first_seconds, may be NULL, the
 * equivalent of OpenDSS's first solve after compile, which builds and
 * factors its Y matrix); then solve `steps` one-minute steps (minute
 * 1..steps) with the load shapes applied (*seconds: the stepping loop
 * only). Returns 0 or a SIM_E* code. */
int fdr_bench(const char *master_path, int steps, double tol_pu, int time_mode, double *seconds,
              double *first_seconds, const char **method, struct sim_err *err);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_FEEDER_H */
