/*
 * test_feeder_neutral.c: the feeder's explicit neutral conductor and its
 * earthing, against a hand solution of the small linear circuit.
 *
 * Circuit: stiff 11 kV source, Dyn transformer (LV star point on node 4,
 * earthed solidly or through rneut), one 4-wire line with a diagonal 4x4
 * impedance matrix, a constant-impedance load from phase a to the neutral
 * at the far end, and the far neutral earthed through a Reactor R_g. Only
 * phase a and the neutral/earth carry current, so with a = 1 + R_t / R_g
 * (the star point sits at -R_t I_g):
 *     E = Zs I + a Vn              (phase loop)
 *     I = Vn (a / z_n + 1 / R_g)   (KCL at the far neutral)
 * with Zs = leakage + z_a + Z_load, solved as a 2x2 system. Also: R_g very
 * large (all the return current in the neutral), an isolated star point
 * (the only earth then carries nothing), the Kron-reduced neutral against
 * the old three-wire path, and the inputs that are still refused.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "models/feeder/feeder.h"

#define DEG (M_PI / 180.0)

/* line: 0.2 km of 0.5+0.2j (phases), 0.6+0.25j (neutral) ohm/km */
static const double complex ZA = (0.5 + 0.2 * I) * 0.2;
static const double complex ZN = (0.6 + 0.25 * I) * 0.2;
/* transformer: XHL 4 % on 100 kVA, 0.4 kV: 0.064 ohm on the LV side */
static const double complex ZT = 0.04 * I * 0.4 * 0.4 * 1000.0 / 100.0;
static const double ZL = 230.0 * 230.0 / 5000.0; /* 5 kW at 230 V, constant Z */

/* No-load LV phase-a voltage: Dyn, ANSI (LV lags 30 degrees). */
static double complex lv_emf(void)
{
    return 400.0 / sqrt(3.0) * cexp(-I * 30.0 * DEG);
}

#define CHECK_REL(a, b, rel)                                                                       \
    do {                                                                                           \
        double complex ca_ = (a), cb_ = (b);                                                       \
        CHECK(cabs(ca_ - cb_) <= (rel)*cabs(cb_), "%s = %.12g%+.12gj, expected %.12g%+.12gj", #a,  \
              creal(ca_), cimag(ca_), creal(cb_), cimag(cb_));                                     \
    } while (0)

static fdr_circuit *load(const char *text, struct sim_err *err)
{
    return fdr_load_dss_string(text, "neutral.dss", NULL, NULL, err);
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
    CHECK(it < 60, "%d sweeps", it);
    return s;
}

/* The test circuit. rneut: transformer star-point earthing ("0" solid,
 * "-1" isolated); rg: far-end earthing resistor; rn, xn: neutral's
 * per-km impedance; kron: reduce the neutral away (old path). */
static fdr_circuit *circuit(const char *rneut, double rg, double rn, double xn, int kron)
{
    char text[2048];
    const char *n = kron ? "" : ".4";
    snprintf(text, sizeof text,
             "New Circuit.n basekv=11 pu=1 r1=0 x1=0 r0=0 x0=0\n"
             "New Transformer.T buses=[sourcebus lv.1.2.3%s] conns=[delta wye] kVs=[11 0.4]\n"
             "~ kVAs=[100 100] %%Rs=[0 0] XHL=4 wdg=2 rneut=%s\n"
             "New Linecode.n4 nphases=4 units=km kron=%s\n"
             "~ rmatrix=[0.5 | 0 0.5 | 0 0 0.5 | 0 0 0 %.17g]\n"
             "~ xmatrix=[0.2 | 0 0.2 | 0 0 0.2 | 0 0 0 %.17g]\n"
             "New Line.L1 bus1=lv.1.2.3%s bus2=far.1.2.3%s linecode=n4 length=200 units=m\n"
             "New Load.LD bus1=far.1%s phases=1 kV=0.23 kW=5 pf=1 model=2 vminpu=0.5\n"
             "%s%.17g\n"
             "Set voltagebases=[11 0.4]\nCalcvoltagebases\n",
             n, kron ? "0" : rneut, kron ? "yes" : "no", rn, xn, n, n, n,
             kron ? "! no earthing resistor " : "New Reactor.G bus1=far.4 bus2=far.0 X=0 R=", rg);
    struct sim_err err = {{0}};
    fdr_circuit *c = load(text, &err);
    CHECK(c != NULL, "parse: %s", err.msg);
    return c;
}

/* Star point earthed through rt (0: solid), far end through rg. */
static void case_earthed(double rt, double rg)
{
    char rneut[32];
    snprintf(rneut, sizeof rneut, "%.17g", rt);
    fdr_circuit *c = circuit(rneut, rg, 0.6, 0.25, 0);
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        /* 2x2: [Zs a; -1 yn] [I; Vn] = [E; 0] */
        double complex e = lv_emf(), zs = ZT + ZA + ZL;
        double a = 1.0 + rt / rg;
        double complex yn = a / ZN + 1.0 / rg;
        double complex det = zs * yn + a;
        double complex il = e * yn / det, vn = e / det;
        double complex in = (a * vn) / ZN; /* far neutral -> star point, in the line */
        double complex ig = vn / rg;
        int lv = fdr_bus_find(c, "lv"), far = fdr_bus_find(c, "far");
        CHECK_INT(fdr_bus_phases(c, far), 7);
        CHECK_INT(fdr_bus_has_neutral(c, far), 1);
        CHECK_INT(fdr_line_phases(c, 0), 3);
        CHECK_REL(fdr_bus_v(s, far, 4), vn, 1e-6);
        CHECK_REL(fdr_bus_v(s, lv, 4), -rt * ig + 0.0, 1e-6);
        CHECK_REL(fdr_load_i(s, 0, 1), il, 1e-6);
        CHECK_REL(fdr_load_i(s, 0, 2), -il, 1e-6);
        /* current split at the far neutral: line neutral and earth */
        CHECK_REL(fdr_line_i(s, 0, 2, 4), in, 1e-6);
        CHECK_REL(fdr_line_i(s, 0, 1, 4), -in, 1e-6);
        CHECK_REL(fdr_bus_earth_i(s, far), ig, 1e-6);
        CHECK_REL(fdr_bus_earth_i(s, far) + fdr_line_i(s, 0, 2, 4), il, 1e-6);
        /* the earth current comes back through the star point's earthing */
        CHECK_REL(fdr_bus_earth_i(s, lv), -ig, 1e-6);
        CHECK_REL(fdr_line_i(s, 0, 2, 0), -ig, 1e-6); /* residual: the earth return */
        CHECK_REL(fdr_line_i(s, 0, 2, 1), -il, 1e-6);
        CHECK_REL(fdr_bus_v(s, far, 1), e - rt * ig - (ZT + ZA) * il, 1e-6);
        CHECK_REL(fdr_bus_v(s, far, 2), e * cexp(-I * 120 * DEG) - rt * ig, 1e-6);
        CHECK_REL(fdr_xfmr_i(s, 0, 2, 4), il, 1e-6); /* star point takes back phase a */
        struct fdr_losses lo;
        fdr_losses(s, &lo);
        double ia2 = creal(il * conj(il)), in2 = creal(in * conj(in));
        CHECK_NEAR(lo.lines_kw, (ia2 * creal(ZA) + in2 * creal(ZN)) / 1000.0, 1e-9);
        CHECK_NEAR(lo.xfmr_kw, 0.0, 1e-9);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* R_g very large: every amp of the load returns in the neutral. */
static void case_open_earth(void)
{
    fdr_circuit *c = circuit("0", 1e12, 0.6, 0.25, 0);
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        double complex il = lv_emf() / (ZT + ZA + ZL + ZN);
        CHECK_REL(fdr_line_i(s, 0, 2, 4), fdr_load_i(s, 0, 1), 1e-6);
        CHECK_REL(fdr_load_i(s, 0, 1), il, 1e-6);
        CHECK_REL(fdr_bus_v(s, fdr_bus_find(c, "far"), 4), il * ZN, 1e-6);
        CHECK(cabs(fdr_bus_earth_i(s, fdr_bus_find(c, "far"))) < 1e-9 * cabs(il), "earth current");
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* Isolated star point, one earth at the far end: with no other path the
 * earth carries nothing and the far neutral sits at earth potential. */
static void case_isolated(void)
{
    fdr_circuit *c = circuit("-1", 5.0, 0.6, 0.25, 0);
    fdr_solver *s = c ? solve(c) : NULL;
    if (s) {
        double complex il = lv_emf() / (ZT + ZA + ZL + ZN);
        int lv = fdr_bus_find(c, "lv"), far = fdr_bus_find(c, "far");
        CHECK_REL(fdr_load_i(s, 0, 1), il, 1e-6);
        CHECK(cabs(fdr_bus_v(s, far, 4)) < 1e-6 * cabs(il * ZN), "far neutral %g V",
              cabs(fdr_bus_v(s, far, 4)));
        CHECK_REL(fdr_bus_v(s, lv, 4), -il * ZN, 1e-6);
        CHECK_REL(fdr_line_i(s, 0, 2, 4), il, 1e-6);
        CHECK(cabs(fdr_bus_earth_i(s, lv)) == 0, "isolated star point carries current");
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* Kron-reduced neutral (old path) against the hand value and against the
 * explicit neutral with zero impedance. */
static void case_kron(void)
{
    fdr_circuit *ck = circuit("0", 0, 0.6, 0.25, 1);
    fdr_circuit *cz = circuit("0", 5.0, 0.0, 0.0, 0);
    fdr_solver *sk = ck ? solve(ck) : NULL;
    fdr_solver *sz = cz ? solve(cz) : NULL;
    if (sk && sz) {
        double complex il = lv_emf() / (ZT + ZA + ZL);
        CHECK_INT(fdr_bus_has_neutral(ck, fdr_bus_find(ck, "far")), 0);
        CHECK_REL(fdr_load_i(sk, 0, 1), il, 1e-6);
        for (int p = 1; p <= 3; p++) {
            CHECK_REL(fdr_bus_v(sz, fdr_bus_find(cz, "far"), p),
                      fdr_bus_v(sk, fdr_bus_find(ck, "far"), p), 1e-12);
            CHECK_REL(fdr_line_i(sz, 0, 1, p) + 1e-30, fdr_line_i(sk, 0, 1, p) + 1e-30, 1e-12);
        }
        CHECK(fdr_bus_v(sz, fdr_bus_find(cz, "far"), 4) == 0, "zero-impedance neutral");
        CHECK(fdr_bus_v(sk, fdr_bus_find(ck, "far"), 4) == 0, "no node 4 on the Kron path");
    }
    fdr_solver_free(sk);
    fdr_solver_free(sz);
    fdr_circuit_free(ck);
    fdr_circuit_free(cz);
}

static void expect_error(const char *body, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text,
             "New Circuit.n basekv=11 pu=1 r1=0 x1=0 r0=0 x0=0\n"
             "New Linecode.n4 nphases=4 units=km kron=no\n"
             "~ rmatrix=[0.5 | 0 0.5 | 0 0 0.5 | 0 0 0 0.6]\n"
             "~ xmatrix=[0.2 | 0 0.2 | 0 0 0.2 | 0 0 0 0.25]\n"
             "%s",
             body);
    struct sim_err err = {{0}};
    fdr_circuit *c = load(text, &err);
    CHECK(c == NULL, "accepted: %s", body);
    CHECK_STR_CONTAINS(err.msg, want);
    fdr_circuit_free(c);
}

static void errors(void)
{
    const char *xn = "New Transformer.T buses=[sourcebus lv.1.2.3.4] conns=[delta wye] "
                     "kVs=[11 0.4]\n";
    const char *x0 = "New Transformer.T buses=[sourcebus lv] conns=[delta wye] kVs=[11 0.4]\n";
    char b[1024];
    /* line 5 onwards is the body */
    snprintf(b, sizeof b, "%sNew Reactor.G bus1=lv.4 bus2=lv.0 R=5 phases=4\n", xn);
    expect_error(b, "neutral.dss:6: Reactor phases=4: one to three phases are supported");
    snprintf(b, sizeof b, "%sNew Reactor.G bus1=lv.4 bus2=lv.0 kvar=5\n", xn);
    expect_error(b, "neutral.dss:6: Reactor property 'kvar' is not supported");
    snprintf(b, sizeof b, "%sNew Reactor.G bus1=lv.4 bus2=lv.0 R=0 X=0\n", xn);
    expect_error(b, "neutral.dss:6: New Reactor.G: R and X are both 0");
    snprintf(b, sizeof b, "%sNew Reactor.G bus1=lv.4 bus2=lv.0 R=5\n", x0);
    expect_error(b, "neutral.dss:6: New Reactor.G: bus lv has no neutral");
    snprintf(b, sizeof b, "%sNew Line.L bus1=lv.1.2.3.4 bus2=far.1.2.3.4 linecode=n4\n", x0);
    expect_error(b, "bus lv node 4 has no path to ground or to the source");
    snprintf(b, sizeof b, "%sNew Line.L bus1=lv.1.2.3.4 bus2=far linecode=n4\n", xn);
    expect_error(b, "neutral.dss:6: LineCode n4 has 4 conductors: give it kron=yes");
    snprintf(b, sizeof b, "%sNew Load.LD bus1=lv.1.4 phases=1 kV=0.23 kW=1\n", x0);
    expect_error(b, "neutral.dss:6: Load.LD: bus lv has no neutral (node 4)");
    snprintf(b, sizeof b, "%s~ wdg=2 rneut=-1\n", xn);
    expect_error(b, "neutral.dss:5: Transformer.T: the neutral at bus lv is earthed nowhere");
    expect_error("New Transformer.T buses=[sourcebus.1.2.3.4 lv] conns=[wye wye] kVs=[11 0.4]\n",
                 "neutral.dss:5: bus 'sourcebus.1.2.3.4': the neutral must be node 0");
}

int main(void)
{
    case_earthed(0.0, 5.0); /* solid star point */
    case_earthed(0.0, 0.5); /* earth path comparable to the neutral */
    case_earthed(2.0, 5.0); /* star point through 2 ohm */
    case_open_earth();
    case_isolated();
    case_kron();
    errors();
    return check_done("test_feeder_neutral");
}
