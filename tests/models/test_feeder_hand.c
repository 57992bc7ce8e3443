/*
 * test_feeder_hand.c: the feeder solver on circuits small enough to solve
 * by hand.
 *
 * Each case is a closed-form answer: a voltage divider for constant-
 * impedance loads, the root of V^2 - E V + R P = 0 for a constant-power
 * load on a resistive line, E - R I for constant current, the vminpu
 * fallback to constant impedance, a phase-to-phase load, a Dyn
 * transformer (ratio, 30 degree shift, leakage drop, losses), load shapes
 * and a case that cannot converge. Everything is built from OpenDSS text
 * with fdr_load_dss_string().
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "models/feeder/feeder.h"

#define DEG (M_PI / 180.0)

static fdr_circuit *load(const char *text)
{
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss_string(text, "hand.dss", NULL, NULL, &err);
    CHECK(c != NULL, "parse: %s", err.msg);
    return c;
}

static fdr_solver *solve(fdr_circuit *c)
{
    struct sim_err err = {{0}};
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "solver: %s", err.msg);
    if (!s)
        return NULL;
    int it = 0;
    int rc = fdr_solve(s, &it, &err);
    CHECK(rc == 0, "solve: %s", err.msg);
    return s;
}

#define CHECK_C(a, b, tol)                                                                         \
    do {                                                                                           \
        double complex ca_ = (a), cb_ = (b);                                                       \
        CHECK(cabs(ca_ - cb_) <= (tol), "%s = %.9g%+.9gj, expected %.9g%+.9gj", #a, creal(ca_),    \
              cimag(ca_), creal(cb_), cimag(cb_));                                                 \
    } while (0)

static const double E = 400.0 / 1.7320508075688772; /* 0.4 kV source, volts to ground */

/* One line with mutual coupling, one single-phase constant-Z load. */
static void case_const_z(void)
{
    fdr_circuit *c =
        load("Clear\n"
             "New Circuit.hand basekv=0.4 pu=1 r1=0 x1=0 r0=0 x0=0\n"
             "New Linecode.lc nphases=3 r1=0.2 x1=0.1 r0=0.5 x0=0.3 c1=0 c0=0 units=km\n"
             "New Line.L1 bus1=sourcebus bus2=b linecode=lc length=500 units=m\n"
             "New Load.LD bus1=b.1 phases=1 kV=0.23 kW=10 pf=1 model=2\n"
             "Set voltagebases=[0.4]\nCalcv\nSolve\n");
    if (!c)
        return;
    fdr_solver *s = solve(c);
    if (!s) {
        fdr_circuit_free(c);
        return;
    }
    double complex z1 = (0.2 + 0.1 * I) * 0.5, z0 = (0.5 + 0.3 * I) * 0.5;
    double complex zs = (2.0 * z1 + z0) / 3.0, zm = (z0 - z1) / 3.0;
    double rl = 230.0 * 230.0 / 10000.0;
    double complex e2 = E * cexp(-I * 120 * DEG), e3 = E * cexp(I * 120 * DEG);
    double complex i1 = E / (zs + rl);
    int b = fdr_bus_find(c, "B");
    int l = fdr_line_find(c, "l1");
    CHECK(b >= 0 && l >= 0, "bus b / line L1 not found");
    CHECK_C(fdr_bus_v(s, b, 1), i1 * rl, 1e-9);
    CHECK_C(fdr_bus_v(s, b, 2), e2 - zm * i1, 1e-9);
    CHECK_C(fdr_bus_v(s, b, 3), e3 - zm * i1, 1e-9);
    CHECK_C(fdr_line_i(s, l, 1, 1), i1, 1e-9);
    CHECK_C(fdr_line_i(s, l, 2, 1), -i1, 1e-9);
    CHECK_C(fdr_line_i(s, l, 1, 2), 0, 1e-12);
    CHECK_C(fdr_line_i(s, l, 1, 0), i1, 1e-9);
    CHECK_C(fdr_load_i(s, 0, 1), i1, 1e-9);
    CHECK_C(fdr_load_i(s, 0, 2), -i1, 1e-9);
    double p, q;
    fdr_load_pq(s, 0, &p, &q);
    CHECK_NEAR(p, cabs(i1) * cabs(i1) * rl / 1000.0, 1e-9);
    CHECK_NEAR(q, 0, 1e-12);
    struct fdr_losses lo;
    fdr_losses(s, &lo);
    CHECK_NEAR(lo.lines_kw, cabs(i1) * cabs(i1) * creal(zs) / 1000.0, 1e-9);
    CHECK_NEAR(lo.lines_kvar, cabs(i1) * cabs(i1) * cimag(zs) / 1000.0, 1e-9);
    fdr_source_pq(s, &p, &q);
    CHECK_NEAR(p, creal(E * conj(i1)) / 1000.0, 1e-9);
    CHECK_NEAR(creal(fdr_bus_v_pu(s, b, 1)), creal(i1 * rl) / E, 1e-12);
    CHECK_NEAR(fdr_bus_kv_base(c, b), 0.4, 1e-12);
    CHECK_INT(fdr_bus_phases(c, b), 7);
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* Constant P on a resistive line: V = (E + sqrt(E^2 - 4 R P)) / 2; then
 * constant current, and the vminpu fallback. */
static void case_pq_i_vmin(void)
{
    static const char *base = "New Circuit.hand basekv=0.4 pu=1 r1=0 x1=0 r0=0 x0=0\n"
                              "New Line.L1 bus1=sourcebus bus2=b r1=0.1 x1=0 r0=0.1 x0=0 "
                              "c1=0 c0=0 length=1\n";
    char text[1024];
    const double r = 0.1, pw = 20000.0;

    snprintf(text, sizeof text, "%sNew Load.LD bus1=b.1 phases=1 kV=0.23 kW=20 pf=1 vminpu=0.5\n",
             base);
    fdr_circuit *c = load(text);
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        int b = fdr_bus_find(c, "b");
        double v = (E + sqrt(E * E - 4 * r * pw)) / 2;
        CHECK_C(fdr_bus_v(s, b, 1), v, 1e-7);
        double p, q;
        fdr_load_pq(s, 0, &p, &q);
        CHECK_NEAR(p, 20.0, 1e-9);
        /* a new demand, warm start */
        CHECK_INT(fdr_set_load(s, 0, 5.0, 0.0), 0);
        CHECK_INT(fdr_set_load(s, 1, 5.0, 0.0), SIM_ERANGE);
        struct sim_err err = {{0}};
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        v = (E + sqrt(E * E - 4 * r * 5000.0)) / 2;
        CHECK_C(fdr_bus_v(s, b, 1), v, 1e-7);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* model 5: |I| = P0 / Vbase in phase with V */
    snprintf(text, sizeof text, "%sNew Load.LD bus1=b.1 phases=1 kV=0.23 kW=20 pf=1 model=5\n",
             base);
    c = load(text);
    s = c ? solve(c) : NULL;
    if (s) {
        int b = fdr_bus_find(c, "b");
        CHECK_C(fdr_bus_v(s, b, 1), E - r * pw / 230.0, 1e-7);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* constant P would sit at 0.965 pu < vminpu 0.99: OpenDSS's low-voltage rule makes the
     * current magnitude linear in |V| between vlow = 0.5 pu (the nominal admittance's
     * current there) and vminpu (the nominal power's current there): with pf 1 and a pure
     * resistance V = E - r (Il + m (V - 0.5 Vb)) */
    snprintf(text, sizeof text, "%sNew Load.LD bus1=b.1 phases=1 kV=0.23 kW=20 pf=1 vminpu=0.99\n",
             base);
    c = load(text);
    s = c ? solve(c) : NULL;
    if (s) {
        int b = fdr_bus_find(c, "b");
        double vb = 230.0, il = 0.5 * pw / vb, i95 = pw / (0.99 * vb);
        double m = (i95 - il) / ((0.99 - 0.5) * vb);
        double v = (E - r * il + r * m * 0.5 * vb) / (1.0 + r * m);
        CHECK(v < 0.99 * vb, "the case must be below vminpu: %g V", v);
        CHECK_C(fdr_bus_v(s, b, 1), v, 1e-7);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* ZIP (model 8): the power drawn follows the polynomial at the solved voltage */
    snprintf(text, sizeof text,
             "%sNew Load.LD bus1=b.2 phases=1 kV=0.23 kW=20 kvar=5 model=8 "
             "zipv=[0.5 0.3 0.2 0.1 0.2 0.7 0]\n",
             base);
    c = load(text);
    s = c ? solve(c) : NULL;
    if (s) {
        int b = fdr_bus_find(c, "b");
        double v = cabs(fdr_bus_v(s, b, 2)) / 230.0;
        double p, q;
        fdr_load_pq(s, 0, &p, &q);
        CHECK_NEAR(p, 20.0 * (0.5 * v * v + 0.3 * v + 0.2), 1e-7);
        CHECK_NEAR(q, 5.0 * (0.1 * v * v + 0.2 * v + 0.7), 1e-7);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* phase-to-phase load (1-phase delta, bus.1.2), constant Z */
    snprintf(text, sizeof text,
             "%sNew Load.LD bus1=b.1.2 phases=1 conn=delta kV=0.4 kW=10 pf=1 model=2\n", base);
    c = load(text);
    s = c ? solve(c) : NULL;
    if (s) {
        int b = fdr_bus_find(c, "b");
        double complex e12 = E - E * cexp(-I * 120 * DEG);
        double rl = 400.0 * 400.0 / 10000.0;
        double complex i = e12 / (2 * r + rl);
        CHECK_C(fdr_bus_v(s, b, 1) - fdr_bus_v(s, b, 2), i * rl, 1e-7);
        CHECK_C(fdr_load_i(s, 0, 1), i, 1e-9);
        CHECK_C(fdr_load_i(s, 0, 2), -i, 1e-9);
        CHECK_C(fdr_bus_v(s, b, 3), E * cexp(I * 120 * DEG), 1e-9);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* balanced three-phase delta load: conductor currents sum to zero */
    snprintf(text, sizeof text,
             "%sNew Load.LD bus1=b phases=3 conn=delta kV=0.4 kW=30 pf=0.9 model=1\n", base);
    c = load(text);
    s = c ? solve(c) : NULL;
    if (s) {
        double complex sum = fdr_load_i(s, 0, 1) + fdr_load_i(s, 0, 2) + fdr_load_i(s, 0, 3);
        CHECK_C(sum, 0, 1e-9);
        double p, q;
        fdr_load_pq(s, 0, &p, &q);
        CHECK_NEAR(p, 30.0, 1e-9);
        CHECK_NEAR(q, 30.0 * sqrt(1 - 0.81) / 0.9, 1e-9);
        /* balanced: each line current equals |I_delta| * sqrt(3) */
        CHECK_NEAR(cabs(fdr_load_i(s, 0, 1)), cabs(fdr_load_i(s, 0, 2)), 1e-9);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* Delta / grounded-wye transformer feeding a balanced constant-Z load. */
static void case_transformer(const char *leadlag, double shift_deg)
{
    char text[1024];
    snprintf(text, sizeof text,
             "New Circuit.hand basekv=11 pu=1 r1=0 x1=0 r0=0 x0=0\n"
             "New Transformer.T buses=[sourcebus lv] conns=[delta wye] kVs=[11 0.416] "
             "kVAs=[800 800] %%Rs=[0.2 0.2] XHL=4 %s\n"
             "New Load.LD bus1=lv phases=3 kV=0.416 kW=300 pf=1 model=2\n"
             "Set voltagebases=[11 .416]\nCalcvoltagebases\n",
             leadlag);
    fdr_circuit *c = load(text);
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        double vlv = 416.0 / sqrt(3.0);
        double complex zt = (0.004 + 0.04 * I) * 0.416 * 0.416 / 0.8;
        double rl = vlv * vlv / 100000.0;
        double complex vnl = vlv * cexp(I * shift_deg * DEG);
        double complex va = vnl * rl / (rl + zt);
        int lv = fdr_bus_find(c, "LV");
        CHECK_NEAR(fdr_bus_kv_base(c, lv), 0.416, 1e-12);
        CHECK_C(fdr_bus_v(s, lv, 1), va, 1e-7);
        CHECK_C(fdr_bus_v(s, lv, 2), va * cexp(-I * 120 * DEG), 1e-7);
        CHECK_C(fdr_bus_v_pu(s, lv, 1), va / vlv, 1e-9);
        double complex ia = va / rl;
        CHECK_C(fdr_xfmr_i(s, 0, 2, 1), -ia, 1e-7);
        CHECK_C(fdr_xfmr_i(s, 0, 2, 4), 0, 1e-7); /* balanced: no neutral current */
        /* HV line current: sqrt(3) * ratio * |Ia|, 30 degrees the other way */
        double ratio = vlv / 11000.0;
        CHECK_C(fdr_xfmr_i(s, 0, 1, 1), sqrt(3.0) * ratio * ia * cexp(-I * shift_deg * DEG), 1e-8);
        struct fdr_losses lo;
        fdr_losses(s, &lo);
        CHECK_NEAR(lo.xfmr_kw, 3 * cabs(ia) * cabs(ia) * creal(zt) / 1000.0, 1e-8);
        CHECK_NEAR(lo.xfmr_kvar, 3 * cabs(ia) * cabs(ia) * cimag(zt) / 1000.0, 1e-8);
        double p1 = 0, p2 = 0, p, q;
        for (int k = 1; k <= 3; k++) {
            fdr_xfmr_pq(s, 0, 1, k, &p, &q);
            p1 += p;
            fdr_xfmr_pq(s, 0, 2, k, &p, &q);
            p2 += p;
        }
        CHECK_NEAR(p1 + p2, lo.xfmr_kw, 1e-8);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* Line capacitance: an open-ended, lossless line draws j w C E at 50 Hz. */
static void case_shunt(void)
{
    fdr_circuit *c = load("Set DefaultBaseFrequency=50\n"
                          "New Circuit.hand basekv=0.4 pu=1 r1=0 x1=0 r0=0 x0=0\n"
                          "New Linecode.cc nphases=3 r1=0 x1=0 r0=0 x0=0 c1=300 c0=300 "
                          "units=km\n"
                          "New Line.L1 bus1=sourcebus bus2=b linecode=cc length=2 units=km\n");
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        double complex y = I * 2 * M_PI * 50 * 600e-9;
        CHECK_C(fdr_line_i(s, 0, 1, 1), y * E, 1e-12);
        CHECK_C(fdr_line_i(s, 0, 2, 1), 0, 1e-12); /* open end: nothing flows in */
        struct fdr_losses lo;
        fdr_losses(s, &lo);
        CHECK_NEAR(lo.lines_kvar, -3 * cabs(y) * E * E / 1000.0, 1e-9);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* A four-wire line code reduced to three phases (kron=yes): the drop of a
 * single-phase load follows Z' = Zpp - Zpn Znp / Znn. */
static void case_kron(void)
{
    fdr_circuit *c = load("New Circuit.hand basekv=0.4 pu=1 r1=0 x1=0 r0=0 x0=0\n"
                          "New Linecode.q4 nphases=4 units=km kron=yes\n"
                          "~ rmatrix=[0.3 | 0.05 0.3 | 0.05 0.05 0.3 | 0.05 0.05 0.05 0.4]\n"
                          "~ xmatrix=[0.8 | 0.5 0.8 | 0.45 0.5 0.8 | 0.48 0.46 0.44 0.82]\n"
                          "New Line.L1 bus1=sourcebus bus2=b linecode=q4 length=0.1\n"
                          "New Load.LD bus1=b.1 phases=1 kV=0.23 kW=10 pf=1 model=2\n");
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        double complex z11 = 0.3 + 0.8 * I, z21 = 0.05 + 0.5 * I, z31 = 0.05 + 0.45 * I;
        double complex z14 = 0.05 + 0.48 * I, z24 = 0.05 + 0.46 * I, z34 = 0.05 + 0.44 * I;
        double complex z44 = 0.4 + 0.82 * I;
        double complex k11 = (z11 - z14 * z14 / z44) * 0.1, k21 = (z21 - z24 * z14 / z44) * 0.1,
                       k31 = (z31 - z34 * z14 / z44) * 0.1;
        double rl = 230.0 * 230.0 / 10000.0;
        double complex i1 = E / (k11 + rl);
        int b = fdr_bus_find(c, "b");
        CHECK_C(fdr_bus_v(s, b, 1), i1 * rl, 1e-9);
        CHECK_C(fdr_bus_v(s, b, 2), E * cexp(-I * 120 * DEG) - k21 * i1, 1e-9);
        CHECK_C(fdr_bus_v(s, b, 3), E * cexp(I * 120 * DEG) - k31 * i1, 1e-9);
        CHECK_INT(fdr_line_phases(c, 0), 3);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* Load shapes: point round(t / interval), 1-based, wrapping. */
static void case_shapes(void)
{
    fdr_circuit *c = load("New Circuit.hand basekv=0.4 pu=1 r1=0 x1=0 r0=0 x0=0\n"
                          "New Line.L1 bus1=sourcebus bus2=b r1=0.01 x1=0 r0=0.01 x0=0 c1=0 "
                          "c0=0\n"
                          "New Loadshape.s npts=4 minterval=15 mult=(0.1 0.2 0.3 0.4)\n"
                          "New Loadshape.a npts=4 interval=0.25 mult=[1 2 3 4] useactual=yes\n"
                          "New Load.A bus1=b.1 phases=1 kV=0.23 kW=10 pf=0.8 daily=s\n"
                          "New Load.B bus1=b.2 phases=1 kV=0.23 kW=10 pf=1 yearly=a\n"
                          "New Load.C bus1=b.3 phases=1 kV=0.23 kW=7 kvar=1\n");
    if (!c)
        return;
    struct sim_err err = {{0}};
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) {
        fdr_circuit_free(c);
        return;
    }
    static const struct {
        double minute, mult;
    } pts[] = {{15, 0.1}, {30, 0.2}, {44, 0.3}, {60, 0.4}, {75, 0.1}, {7, 0.4}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        fdr_apply_loadshapes(s, pts[i].minute, pts[i].minute);
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        double p, q;
        fdr_load_pq(s, 0, &p, &q);
        CHECK_NEAR(p, 10 * pts[i].mult, 1e-9);
        CHECK_NEAR(q, 10 * pts[i].mult * 0.75, 1e-9);
        fdr_load_pq(s, 1, &p, &q);
        CHECK_NEAR(p, 10 * pts[i].mult, 1e-9); /* useactual: the value is kW */
        fdr_load_pq(s, 2, &p, &q);
        CHECK_NEAR(p, 7, 1e-9); /* no shape: nominal */
        CHECK_NEAR(q, 1, 1e-9);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* A constant-power demand beyond the line's transfer limit E^2 / 4R has no
 * solution: solve must return a status, not crash or loop. */
static void case_no_convergence(void)
{
    fdr_circuit *c = load("New Circuit.hand basekv=0.4 pu=1 r1=0 x1=0 r0=0 x0=0\n"
                          "New Line.L1 bus1=sourcebus bus2=b r1=0.1 x1=0 r0=0.1 x0=0 c1=0 "
                          "c0=0\n"
                          "New Load.LD bus1=b.1 phases=1 kV=0.23 kW=200 pf=1 vminpu=0\n");
    if (!c)
        return;
    struct sim_err err = {{0}};
    fdr_solver *s = fdr_solver_new(c, &err);
    if (s) {
        int it = 0;
        int rc = fdr_solve(s, &it, &err);
        CHECK_INT(rc, SIM_EFAIL);
        CHECK(strstr(err.msg, "converge") || strstr(err.msg, "diverged"), "message: %s", err.msg);
        CHECK(it >= 1 && it <= 100, "iterations %d", it);
        /* a solvable demand with a cap of one sweep: not converged either */
        fdr_set_load(s, 0, 1.0, 0.0);
        fdr_solver_set_tolerance(s, 1e-12, 1);
        rc = fdr_solve(s, &it, &err);
        CHECK_INT(rc, SIM_EFAIL);
        CHECK_STR_CONTAINS(err.msg, "did not converge in 1 sweeps");
        /* and with a sensible cap it recovers */
        fdr_solver_set_tolerance(s, 1e-9, 100);
        CHECK_INT(fdr_solve(s, &it, &err), 0);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

int main(void)
{
    case_const_z();
    case_pq_i_vmin();
    case_transformer("", -30.0);
    case_transformer("leadlag=euro", 30.0);
    case_shunt();
    case_kron();
    case_shapes();
    case_no_convergence();
    return check_done("test_feeder_hand");
}
