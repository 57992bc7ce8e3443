/*
 * feeder_impl.h: private data of the feeder library (models/feeder/ only).
 *
 * A circuit holds two layers: the element definitions as the parser
 * collected them (dss_*.c), and the compiled radial topology the solver
 * walks (topology.c): buses with phase slots 0..2 and, where the circuit
 * has an explicit neutral, slot 3 (node 4); branches in breadth-first
 * order from the source, load elements between two slots or a slot and
 * ground.
 */
#ifndef FLEXBED_FEEDER_IMPL_H
#define FLEXBED_FEEDER_IMPL_H

#include <complex.h>
#include <stddef.h>

/* C11's CMPLX: glibc defines it only for GCC >= 4.7, and clang presents
 * itself as GCC 4.2, so clang builds get it from the same builtin. */
#if !defined(CMPLX) && defined(__has_builtin)
#if __has_builtin(__builtin_complex)
#define CMPLX(x, y) __builtin_complex((double)(x), (double)(y))
#endif
#endif

#include "feeder.h"

#define FDR_NAME_MAX 64
#define FDR_BUSSPEC_MAX 128
#define FDR_SQRT3 1.7320508075688772

/* Case-insensitive name -> index map (open addressing, FNV-1a). */
struct fdr_names {
    char **key;
    int *val;
    size_t cap, n;
};
int fdr_names_put(struct fdr_names *m, const char *name, int val); /* 0 / SIM_ENOMEM */
int fdr_names_get(const struct fdr_names *m, const char *name);    /* -1 if absent */
void fdr_names_free(struct fdr_names *m);

/* Where a definition was written, for messages. */
struct fdr_loc {
    int file; /* index into fdr_circuit.files */
    int line;
};

enum { FDR_U_NONE, FDR_U_MI, FDR_U_KFT, FDR_U_KM, FDR_U_M, FDR_U_FT, FDR_U_IN, FDR_U_CM, FDR_U_MM };
enum { FDR_WYE = 0, FDR_DELTA = 1 };

/* Impedance per unit length of a line or line code. */
struct fdr_zdef {
    int nph;
    int units;
    int matrix; /* 1: rm/xm/cm (nph x nph, row-major), 0: sequence values */
    int kron;   /* reduce the last conductor (neutral) away */
    double r1, x1, r0, x0, c1_nf, c0_nf;
    double rm[16], xm[16], cm[16];
};

/* Overhead-line constants (line_constants.c) ------------------------- */

#define FDR_LC_MAX 8 /* conductors of a LineGeometry */
enum { FDR_EARTH_DERI = 0, FDR_EARTH_CARSON, FDR_EARTH_FULLCARSON };

/* One conductor, SI units: position (m), resistance (ohm/m), GMR and
 * radius (m). */
struct fdr_lc_cond {
    double x_m, h_m, rdc, rac, gmr_m, radius_m;
    /* a concentric-neutral cable (cn = 1, a phase conductor): k strands of
     * GMR gmr_strand_m and r_strand (ohm/m) on a circle of radius rad_cn_m;
     * insulation of relative permittivity epsr between radii r_in_m and
     * r_out_m */
    int cn, k;
    double r_strand, gmr_strand_m, rad_cn_m, epsr, r_in_m, r_out_m;
    int ts; /* the screen is a tape (k = 1): other cores see it at the centres' distance */
};

/* Series impedance (ohm/m, np x np row-major into zout) and shunt
 * capacitance (nF/m into c_nf_out) of nc conductors of which the first np
 * are phases (the rest Kron-reduced away), at frequency freq (Hz) over
 * earth of resistivity rho (ohm m) with earth model `model`. Returns 0, or
 * -1 with the reason in why. */
int fdr_line_constants(int nc, int np, const struct fdr_lc_cond *cd, double rho, double freq,
                       int model, double complex *zout, double *c_nf_out, char *why, size_t nwhy);

/* WireData: values as written, in their own units (converted when a line
 * is compiled, so the order of properties does not matter); < 0: not
 * given. */
struct fdr_wire {
    char name[FDR_NAME_MAX];
    double rdc, rac, gmr, radius;
    int r_units, gmr_units, rad_units;
    /* CNData (cn = 1): k strands of dia_strand (GMR gmr_strand, r_strand
     * per length) around the insulation (dia_ins, ins_layer thick, epsr)
     * of a cable of dia_cable; < 0: not given. Units as the wire's. */
    int cn, k;
    double dia_strand, gmr_strand, r_strand, epsr, ins_layer, dia_ins, dia_cable;
    /* TSData (ts = 1): a copper tape shield of outer diameter dia_shield,
     * tape_layer thick, lapped tape_lap % */
    int ts;
    double dia_shield, tape_layer, tape_lap;
    struct fdr_loc at;
};

/* LineGeometry: conductors' wires and positions. */
struct fdr_geometry {
    char name[FDR_NAME_MAX];
    int nconds, nphases, reduce;
    int active;           /* conductor the next wire / x / h / units apply to (0-based) */
    int wire[FDR_LC_MAX]; /* WireData index, -1: not given */
    double x[FDR_LC_MAX], h[FDR_LC_MAX];
    int units[FDR_LC_MAX]; /* of x and h */
    struct fdr_loc at;
};

struct fdr_linecode {
    char name[FDR_NAME_MAX];
    struct fdr_zdef z;
    struct fdr_loc at;
};

struct fdr_linedef {
    char name[FDR_NAME_MAX];
    char code[FDR_NAME_MAX]; /* linecode used, "" if none (for messages) */
    char bus[2][FDR_BUSSPEC_MAX];
    int phases;
    double length;
    int len_units;
    struct fdr_zdef z;
    int disabled;  /* enabled=false: not part of the circuit (dropped before compiling) */
    int open_term; /* bit 0 / 1: terminal 1 / 2 open (Open command, SwtControl) */
    int geometry;  /* LineGeometry index, -1: impedances from z */
    int spacing;   /* LineSpacing index (with wire[]), -1: none */
    int wire[FDR_LC_MAX], nwire, ncn; /* spacing's wires: cables (ncn) first */
    double rho;                       /* earth resistivity for the geometry, ohm m */
    int earth; /* FDR_EARTH_*, the circuit's model when the line was defined */
    struct fdr_loc at;
};

struct fdr_shape {
    char name[FDR_NAME_MAX];
    int npts;
    double interval_h;
    double *mult;  /* npts values (owned) */
    double *qmult; /* NULL or npts values */
    int useactual;
    struct fdr_loc at;
};

struct fdr_loaddef {
    char name[FDR_NAME_MAX];
    char bus[FDR_BUSSPEC_MAX];
    int phases, conn, model;
    double kv, kw, kvar, pf;
    int q_from_pf;         /* last of pf / kvar given wins */
    double vminpu, vmaxpu; /* vmaxpu 0: no upper limit */
    double zipv[7];
    double cvrwatts, cvrvars; /* model 4: P = P0 v^cvrwatts, Q = Q0 v^cvrvars */
    int yearly, daily;        /* shape indices or -1 */
    int fixed;                /* status=fixed: ignores shapes */
    int capacitor;            /* a shunt Capacitor (constant impedance, its rated kvar at kV) */
    int gen_kind;             /* 1 Generator, 2 PVSystem, 3 Storage: a fixed injection (kw < 0) */
    double g_kw, g_kvar, g_irr, g_pmpp, g_pct, g_kva, g_kwrated, g_pctdis, g_pctch;
    int g_state, g_kw_given; /* Storage: 1 discharging, -1 charging, 0 idling */
    int disabled;            /* enabled=false: not part of the circuit */
    double cap_kvar[16];     /* its steps ... */
    int cap_state[16];       /* ... in or out */
    int cap_nsteps;
    struct fdr_loc at;
};

struct fdr_wdg {
    char bus[FDR_BUSSPEC_MAX];
    int conn;
    double kv, kva, r_pct, tap;
    double rneut, xneut;   /* star point to earth, ohm; rneut < 0: isolated; 0, 0: solid */
    double maxtap, mintap; /* tap range, pu (OpenDSS: 1.1, 0.9) ... */
    int numtaps;           /* ... in this many steps (32) */
};

/* RegControl: a voltage regulator's control of one transformer winding's
 * tap (static control mode: see fdr_solve_controls). */
struct fdr_regdef {
    char name[FDR_NAME_MAX];
    char xfmr[FDR_NAME_MAX];
    int winding, tapwinding; /* 1-based; the monitored winding and the tapped one */
    double vreg, band, ptratio, ctprim, r, x;
    int maxtapchange;
    double delay;    /* s: before the first tap (time mode); orders actions (static mode) */
    double tapdelay; /* s: between taps of one change (time mode) */
    struct fdr_loc at;
};

/* CapControl: switches a Capacitor's steps on what a monitored element's
 * terminal measures (static control mode, see fdr_solve). */
enum { FDR_CC_CURRENT, FDR_CC_VOLTAGE, FDR_CC_KVAR };
struct fdr_capctrldef {
    char name[FDR_NAME_MAX];
    char element[2 * FDR_NAME_MAX]; /* "Line.name" or "Transformer.name" */
    char capacitor[FDR_NAME_MAX];
    int terminal, type;
    double ptratio, ctratio, on, off, delay, delayoff, vmax, vmin;
    double deadtime; /* s: after opening, before closing again (time mode) */
    int voltoverride;
    int ptphase, ctphase; /* 1-based conductor; 0: average, -1: max, -2: min */
    struct fdr_loc at;
    /* compiled */
    int cap;        /* its Capacitor (index into loads) */
    int line, xfmr; /* the monitored element, -1 for the other kind */
};

/* A neutral earthing resistor / reactor: New Reactor.x bus1=b.4 bus2=b.0
 * R=.. X=.. (the only Reactor form accepted). */
struct fdr_reactordef {
    char name[FDR_NAME_MAX];
    char bus[2][FDR_BUSSPEC_MAX];
    int phases;
    double r, x;
    struct fdr_loc at;
};

struct fdr_xfmrdef {
    char name[FDR_NAME_MAX];
    int phases, nw, active;
    struct fdr_wdg w[3];
    double xhl_pct, xht_pct, xlt_pct; /* leakage reactances 1-2, 1-3, 2-3, % */
    double imag_pct, noloadloss_pct;  /* magnetising branch, % (on winding 2) */
    double ppm;                       /* anti-float shunt, parts per million */
    int lead;                         /* LeadLag=lead/euro */
    struct fdr_loc at;
};

struct fdr_vsource {
    char name[FDR_NAME_MAX];
    char bus[FDR_BUSSPEC_MAX];
    int phases, zspec; /* 1 MVAsc, 2 Isc, 3 R/X */
    double basekv, pu, angle_deg;
    double mvasc3, mvasc1, isc3, isc1, x1r1, x0r0, r1, x1, r0, x0;
    struct fdr_loc at;
};

/* Compiled topology ---------------------------------------------------- */

/* A terminal as written: "name.n1.n2..." */
#define FDR_TERM_NODES 8
struct fdr_term {
    int bus;
    int nn; /* nodes written in the spec */
    int node[FDR_TERM_NODES];
};

struct fdr_nodal; /* the nodal network (nodal.c), when the sweep cannot solve the circuit */

struct fdr_bus {
    char name[FDR_NAME_MAX];
    double kv_ll;      /* voltage base, line-to-line kV */
    double vbase;      /* line-to-neutral volts */
    double kv_nominal; /* propagated from the source through transformers */
    unsigned mask;     /* phase slots present; bit 3: neutral node 4 (slot 3) */
    int parent;        /* feeding branch, -1 at the root */
    int nroot;         /* bus with the transformer star point feeding this neutral, -1: none */
    double complex yg; /* earthing admittance of the neutral (reactors), S */
};

enum { FDR_BR_LINE, FDR_BR_XFMR };

struct fdr_branch {
    int kind, elem;         /* index into lines / xfmrs */
    int from, to;           /* buses; `from` is nearer the source */
    int reversed;           /* line: bus2 is upstream */
    int nc;                 /* conductors (phases, plus slot 3 for a 4-wire line) */
    int fnode[4], tnode[4]; /* slots 0..3 at from / to */
    /* line with equal self and equal mutual impedances (sequence data):
     * drop_m = zd I_m + zo sum(I), fewer products than the full matrix */
    int sym;
    double complex zd, zo;
    double complex z[4][4]; /* line: series impedance, ohm; xfmr: z[0][0] = leakage per winding, ohm
                               on side 2 */
    int has_y;
    double complex yh[4][4]; /* line: half the shunt admittance, S */
    /* transformer: side 2 winding k sees ratio * (V1[k] - V1[dother[k]]) (delta) or ratio * V1[k]
     */
    double ratio;
    int delta1;
    int dother[3];
    /* transformer, per conductor: turns ratio, leakage impedance on side 2
     * and the transformer (a bank of single-phase units between the same
     * two buses is one branch, each unit its own conductor) */
    double rat[3];
    double complex zw[3];
    int xf[3];
    /* transformer whose LV star point is node 4 of `to`: earthed solidly
     * (solid), or through yt (transformer rneut/xneut plus reactors at
     * `to`; 0 if isolated); ytot adds every earthing admittance on the
     * neutral it feeds */
    int star_n, solid;
    double complex yt, ytot;
};

struct fdr_lelem {
    int load, bus;
    int a, b; /* phase slots; b = -1: ground */
    double vbase;
};

struct fdr_circuit {
    /* files read, for messages */
    char **files;
    int nfiles, files_cap;

    /* definitions */
    struct fdr_vsource src;
    int have_circuit;
    struct fdr_linecode *codes;
    int ncodes, codes_cap;
    struct fdr_linedef *lines;
    int nlines, lines_cap;
    struct fdr_loaddef *loads;
    int nloads, loads_cap;
    struct fdr_shape *shapes;
    int nshapes, shapes_cap;
    struct fdr_xfmrdef *xfmrs;
    int nxfmrs, xfmrs_cap;
    struct fdr_reactordef *reactors;
    int nreactors, reactors_cap;
    struct fdr_wire *wires;
    int nwires, wires_cap;
    struct fdr_regdef *regs;
    int nregs, regs_cap;
    struct fdr_xfmrdef *xfcodes; /* XfmrCode: transformer templates */
    int nxfcodes, xfcodes_cap;
    struct fdr_capctrldef *capctrls;
    int ncapctrls, capctrls_cap;
    struct fdr_swtdef {
        char name[FDR_NAME_MAX];
        char obj[2 * FDR_NAME_MAX]; /* "Line.name" */
        int term;
        int action, normal, state; /* 1 open, 0 closed, -1 not given */
        struct fdr_loc at;
    } * swts;
    int nswts, swts_cap;
    struct fdr_geometry *geoms;
    int ngeoms, geoms_cap;
    struct fdr_geometry *spacings; /* LineSpacing: positions, no wires */
    int nspacings, spacings_cap;
    int earth_model; /* Set EarthModel=, FDR_EARTH_* (OpenDSS's default: Deri) */
    /* name -> index maps; cap_ix: Capacitor name -> its element in loads;
     * gen_ix: Class.NAME of Generators, PVSystems, Storages (in loads) */
    struct fdr_names code_ix, line_ix, load_ix, shape_ix, xfmr_ix, bus_ix, reactor_ix, wire_ix,
        geom_ix, cap_ix, reg_ix, xfcode_ix, capctrl_ix, swt_ix, gen_ix, cn_ix, spacing_ix, ts_ix;
    double vbases[16];
    int nvbases;
    double base_freq;
    double loadmult;

    /* compiled */
    struct fdr_bus *buses;
    int nbuses, buses_cap;
    struct fdr_branch *br; /* breadth-first order */
    int nbr;
    int *line_br, *xfmr_br; /* element -> branch */
    int *xfmr_c0;           /* transformer -> its first conductor in its branch */
    /* regulators, compiled: the unit (branch, conductor) each controls */
    struct fdr_regc {
        int reg, xf, br, m;
        double basev; /* monitored winding's rated voltage, V */
        double inc, mintap, maxtap;
        double tap1, tap2; /* the windings' taps as defined */
        int nc;            /* conductors it moves: 1 (a unit), 3 (ganged three-phase) */
    } * regc;
    int nregc;
    int max_control_iter;
    int controls_off; /* Set controlmode=off: regulators and capacitor controls do nothing */
    struct fdr_lelem *lel;
    int nlel;
    int *load_el0, *load_nel; /* load -> first element, count */
    int *load_ncond;          /* load -> conductors (phases + neutral for wye) */
    int *gnd_bus;             /* buses earthed through a reactor that are not a star-point bus */
    int ngnd;
    int has_neutral; /* any node 4 in use */
    int root;
    int need_nodal;          /* the radial compile refused something the nodal solver takes */
    struct fdr_nodal *nod;   /* non-NULL: solved by the nodal solver (nodal.c) */
    double complex e[3];     /* source EMF, volts */
    double complex zs[3][3]; /* source impedance, ohm */
};

/* Shared by the radial (topology.c) and nodal (nodal.c) compiles. */
int fdr_err_at(const fdr_circuit *c, struct sim_err *err, struct fdr_loc at, const char *fmt,
               const char *a, const char *b);
int fdr_nomem(struct sim_err *err);
void fdr_free_compiled(fdr_circuit *c);
int fdr_term_parse_opt(fdr_circuit *c, const char *spec, struct fdr_term *t, struct fdr_loc at,
                       int create, struct sim_err *err);
int fdr_term_phases_n(const fdr_circuit *c, const struct fdr_term *t, int np, int has_neutral,
                      int *slot, int *nslot, struct fdr_loc at, const char *spec,
                      struct sim_err *err);
int fdr_cinv(double complex *a, int n);
int fdr_line_matrices(const fdr_circuit *c, const struct fdr_linedef *l, int neutral,
                      double complex z[4][4], double complex yh[4][4], int *has_y,
                      struct sim_err *err);
int fdr_source_matrices(fdr_circuit *c, struct sim_err *err);
/* Loads' phase elements (c->lel ...) from their parsed terminals; needs
 * the buses' masks. */
int fdr_compile_loads(fdr_circuit *c, const struct fdr_term *ldt, struct sim_err *err);
/* Every bus's voltage base from its kv_nominal and Set voltagebases. */
void fdr_voltage_bases(fdr_circuit *c);
/* Regulators: check each RegControl and size c->regc (compile fills br/m). */
int fdr_compile_regulators(fdr_circuit *c, struct sim_err *err);
/* CapControls: find each one's capacitor and monitored element. */
int fdr_compile_capctrls(fdr_circuit *c, struct sim_err *err);

/* The nodal compile: every element's primitive admittance on a node
 * numbering of (bus, node 1..4); meshes, delta secondaries, line-to-line
 * units, three-winding units. Replaces whatever was compiled. */
int fdr_compile_nodal(fdr_circuit *c, struct sim_err *err);
void fdr_nodal_free(struct fdr_nodal *n);

/* Clear the definitions and compiled data (keeps nothing but the arrays). */
void fdr_circuit_reset(fdr_circuit *c);
/* Build the compiled topology from the definitions. */
int fdr_compile(fdr_circuit *c, struct sim_err *err);
/* "file:line" of a definition. */
const char *fdr_file_name(const fdr_circuit *c, struct fdr_loc at);

/* Unit length in metres (0 for none). */
double fdr_unit_m(int units);

#endif /* FLEXBED_FEEDER_IMPL_H */
