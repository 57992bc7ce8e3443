/*
 * test_feeder_nodal.c: the nodal solver (models/feeder/nodal*.c).
 *
 *  - The IEEE test feeders the radial sweep cannot take, exactly as OpenDSS
 *    ships them (tests/data/feeder/ieee-4bus/ and ieee-dist/, origins in
 *    tests/data/feeder/README.md), against OpenDSS's own solution of each
 *    at every bus-node: the 4-node grounded-wye/delta, wye/delta and
 *    open-wye/open-delta (balanced and unbalanced) cases, IEEE 37 (delta,
 *    three-wire, an open-delta regulator with line-drop compensation) and
 *    IEEE 123 (a three-phase and three banks of single-phase regulators,
 *    a delta/delta transformer, every load model). Where a winding is an
 *    ungrounded delta only line-to-line voltages are physical, so those
 *    circuits are compared line to line; the source power is compared
 *    with OpenDSS's total;
 *  - IEEE 34 solved by both solvers: the nodal one forced onto a feeder the
 *    sweep takes must give the sweep's answer and the same taps;
 *  - physics the answer cannot fake: two equal parallel lines (a mesh)
 *    against one line of half the length, solved by the sweep; an
 *    unloaded transformer draws its magnetising branch's %noloadloss and
 *    %imag; a centre-tapped three-winding unit gives two 120 V halves in
 *    opposition and balances its power.
 */
#include <complex.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "models/feeder/feeder.h"
#include "opendss_ref.h"

#define DATA FLEXBED_TEST_DATA "/feeder"

/* OpenDSS's total source power (kW, delivered: its sign flipped) from a
 * summary.json of the reference set. */
static double ref_power_kw(const char *file)
{
    char path[PATH_MAX], buf[4096];
    snprintf(path, sizeof path, DATA "/%s", file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return NAN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "\"total_power_kW\":");
    CHECK(p != NULL, "%s: no total_power_kW", file);
    return p ? -strtod(p + strlen("\"total_power_kW\":"), NULL) : NAN;
}

static fdr_circuit *load(const char *dss)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, DATA "/%s", dss);
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss(path, NULL, &err);
    CHECK(c != NULL, "%s: %s", dss, err.msg);
    return c;
}

/* Solve a circuit and compare every bus-node with OpenDSS's solution:
 * phase to ground (ll = 0) or line to line (ll = 1) in pu of the bus base.
 * Returns the worst error; *nodes counts the comparisons. */
static double check_circuit(const char *dss, const char *name, int ll, int force_nodal,
                            double tol_pu, int *nodes)
{
    char refcsv[256], summary[256];
    const char *slash = strrchr(dss, '/');
    size_t dirlen = slash ? (size_t)(slash - dss) : 0;
    snprintf(refcsv, sizeof refcsv, "%.*s/%s-opendss-voltages.csv", (int)dirlen, dss, name);
    snprintf(summary, sizeof summary, "%.*s/%s-opendss-summary.json", (int)dirlen, dss, name);
    *nodes = 0;
    fdr_circuit *c = load(dss);
    if (!c)
        return INFINITY;
    struct sim_err err = {{0}};
    if (force_nodal > 0)
        CHECK_INT(fdr_circuit_use_nodal(c, &err), 0);
    if (force_nodal >= 0)
        CHECK(!strcmp(fdr_circuit_method(c), "nodal"), "method %s, want nodal",
              fdr_circuit_method(c));
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s: %s", dss, err.msg);
    static struct ref r[9000];
    int nr = load_ref(DATA, refcsv, r, 9000);
    int it = 0;
    if (s && tol_pu > 0)
        fdr_solver_set_tolerance(s, tol_pu, 0);
    CHECK_INT(s ? fdr_solve(s, &it, &err) : -1, 0);
    double worst = 0;
    for (int b = 0; s && b < fdr_bus_count(c); b++) {
        const char *bus = fdr_bus_name(c, b);
        double base = fdr_bus_kv_base(c, b) * 1000.0 / (ll ? 1.0 : sqrt(3.0));
        for (int ph = 1; ph <= 3; ph++) {
            double complex want = ref_v(r, nr, bus, ph), got = fdr_bus_v(s, b, ph);
            if (isnan(creal(want)))
                continue;
            if (ll) {
                /* to the next phase the bus has */
                int q = 0;
                for (int k = 1; k <= 2 && !q; k++) {
                    int cand = (ph + k - 1) % 3 + 1;
                    if (!isnan(creal(ref_v(r, nr, bus, cand))))
                        q = cand;
                }
                if (!q)
                    continue;
                want -= ref_v(r, nr, bus, q);
                got -= fdr_bus_v(s, b, q);
            }
            worst = fmax(worst, cabs(got - want) / base);
            (*nodes)++;
        }
    }
    double p = 0, q = 0, pref = ref_power_kw(summary);
    if (s)
        fdr_source_pq(s, &p, &q);
    printf("%s: %d %s voltages vs OpenDSS, worst %.2e pu; source %.3f kW (OpenDSS %.3f); %d "
           "iterations, %d control iterations\n",
           dss, *nodes, ll ? "line-to-line" : "node", worst, p, pref, it,
           s ? fdr_solver_control_iterations(s) : 0);
    for (int g = 0; s && g < fdr_regulator_count(c); g++)
        printf("  %s tap %.5f\n", fdr_regulator_name(c, g), fdr_regulator_tap(s, g));
    CHECK(fabs(p - pref) < 5e-4 * pref, "%s: source %.3f kW, OpenDSS %.3f kW", dss, p, pref);
    fdr_solver_free(s);
    fdr_circuit_free(c);
    return worst;
}

static void test_opendss(void)
{
    /* OpenDSS stops at a voltage change of 1e-4 per iteration, so its own
     * answer is only that close to the solution */
    static const struct {
        const char *dss, *name;
        int ll, nodes;
        double tol;
    } cases[] = {
        {"ieee-4bus/4Bus-GrdYD-Bal.DSS", "4bus-grdyd-bal", 1, 12, 2e-4},
        {"ieee-4bus/4Bus-YD-Bal.DSS", "4bus-yd-bal", 1, 12, 2e-4},
        {"ieee-4bus/4Bus-OYOD-Bal.DSS", "4bus-oyod-bal", 1, 12, 2e-4},
        {"ieee-4bus/4bus-OYOD-UnBal.dss", "4bus-oyod-unbal", 1, 12, 2e-4},
        {"ieee-dist/37Bus/ieee37.dss", "ieee37", 1, 117, 5e-5},
        {"ieee-dist/123Bus/IEEE123Master.dss", "ieee123", 0, 278, 5e-5},
        {"ieee-dist/123Bus/IEEE123Switches.dss", "ieee123sw", 0, 274, 5e-5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = 0;
        double w = check_circuit(cases[i].dss, cases[i].name, cases[i].ll, 0, 0, &n);
        CHECK(w < cases[i].tol, "%s: worst %.2e pu", cases[i].dss, w);
        CHECK_INT(n, cases[i].nodes);
    }
    int n = 0;
    double w = check_circuit("ieee-dist/34Bus/ieee34Mod1.dss", "ieee34", 0, 1, 0, &n);
    CHECK(w < 2e-4, "IEEE 34 (nodal): worst %.2e pu", w);
    CHECK_INT(n, 95);
    /* IEEE 34 "Mod 2" (the distributed loads at mid-line buses): the sweep */
    w = check_circuit("ieee-dist/34Bus/ieee34Mod2.dss", "ieee34m2", 0, -1, 0, &n);
    CHECK(w < 2e-4, "IEEE 34 Mod 2: worst %.2e pu", w);
    CHECK_INT(n, 138);
    /* IEEE 13 as OpenDSS ships it (the sweep takes it; its line codes are
     * redirected to as IEEELineCodes.dss), and forced nodal */
    w = check_circuit("ieee-13/IEEE13Nodeckt.dss", "ieee13", 0, -1, 0, &n);
    CHECK(w < 5e-5, "IEEE 13: worst %.2e pu", w);
    CHECK_INT(n, 41);
    w = check_circuit("ieee-13/IEEE13Nodeckt.dss", "ieee13", 0, 1, 0, &n);
    CHECK(w < 5e-5, "IEEE 13 (nodal): worst %.2e pu", w);
    /* IEEE 8500 (4876 buses, split-phase secondaries on centre-tapped
     * units, four regulator banks, nine switched capacitors): OpenDSS's own
     * answer is up to 2e-4 pu from the converged solution, because it
     * stops at a change of 1e-4 per iteration; stopped there too, the same
     * iteration reproduces its answer far closer */
    w = check_circuit("ieee-8500/Master.dss", "ieee8500", 0, 0, 0, &n);
    CHECK(w < 3e-4, "IEEE 8500: worst %.2e pu", w);
    CHECK_INT(n, 8531);
    w = check_circuit("ieee-8500/Master.dss", "ieee8500", 0, 0, 1e-4, &n);
    CHECK(w < 3e-5, "IEEE 8500 at OpenDSS's tolerance: worst %.2e pu", w);
    /* the same feeder with its lines from LineGeometry / WireData: 8561
     * bus-nodes (the geometry version keeps some neutrals) */
    w = check_circuit("ieee-8500/Master-geometry.dss", "ieee8500geom", 0, 0, 0, &n);
    CHECK(w < 3e-4, "IEEE 8500 (geometries): worst %.2e pu", w);
    CHECK_INT(n, 8561);
    w = check_circuit("ieee-8500/Master-geometry.dss", "ieee8500geom", 0, 0, 1e-4, &n);
    CHECK(w < 5e-5, "IEEE 8500 (geometries) at OpenDSS's tolerance: worst %.2e pu", w);
}

/* IEEE 34 by both solvers. */
static void test_both_solvers(void)
{
    fdr_circuit *a = load("ieee-dist/34Bus/ieee34Mod1.dss");
    fdr_circuit *b = load("ieee-dist/34Bus/ieee34Mod1.dss");
    if (!a || !b)
        return;
    struct sim_err err = {{0}};
    CHECK(!strcmp(fdr_circuit_method(a), "sweep"), "method %s, want %s", fdr_circuit_method(a),
          "sweep");
    CHECK_INT(fdr_circuit_use_nodal(b, &err), 0);
    fdr_solver *sa = fdr_solver_new(a, &err), *sb = fdr_solver_new(b, &err);
    CHECK(sa && sb, "%s", err.msg);
    if (sa && sb) {
        CHECK_INT(fdr_solve(sa, NULL, &err), 0);
        CHECK_INT(fdr_solve(sb, NULL, &err), 0);
        double worst = 0;
        for (int k = 0; k < fdr_bus_count(a); k++)
            for (int ph = 1; ph <= 3; ph++)
                worst = fmax(worst, cabs(fdr_bus_v_pu(sa, k, ph) - fdr_bus_v_pu(sb, k, ph)));
        printf("IEEE 34, sweep vs nodal: worst %.2e pu\n", worst);
        /* the nodal model adds OpenDSS's anti-float shunts (1 ppm of each
         * winding's base admittance), which the sweep leaves out */
        CHECK(worst < 2e-5, "sweep and nodal differ by %.2e pu", worst);
        for (int g = 0; g < fdr_regulator_count(a); g++)
            CHECK(fdr_regulator_tap(sa, g) == fdr_regulator_tap(sb, g), "%s: tap %g vs %g",
                  fdr_regulator_name(a, g), fdr_regulator_tap(sa, g), fdr_regulator_tap(sb, g));
        struct fdr_losses la, lb;
        fdr_losses(sa, &la);
        fdr_losses(sb, &lb);
        CHECK(fabs(la.total_kw - lb.total_kw) < 1e-5 * la.total_kw, "losses %.4f vs %.4f kW",
              la.total_kw, lb.total_kw);
        double complex ia = fdr_line_i(sa, 5, 1, 1), ib = fdr_line_i(sb, 5, 1, 1);
        CHECK(cabs(ia - ib) < 1e-4 * cabs(ia), "line current %g vs %g A", cabs(ia), cabs(ib));
    }
    fdr_solver_free(sa);
    fdr_solver_free(sb);
    fdr_circuit_free(a);
    fdr_circuit_free(b);
}

static const char *head =
    "Clear\n"
    "New Circuit.t basekv=12.47 pu=1.0 mvasc3=200 mvasc1=210\n"
    "Set voltagebases=[12.47 0.208]\n"
    "New Linecode.lc nphases=3 r1=0.3 x1=0.6 r0=0.6 x0=1.2 c1=0 c0=0 units=km\n";

static fdr_solver *solve_text(const char *body, fdr_circuit **out, const char *want_method)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", head, body);
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss_string(text, "case.dss", NULL, NULL, &err);
    CHECK(c != NULL, "%s", err.msg);
    *out = c;
    if (!c)
        return NULL;
    CHECK(!strcmp(fdr_circuit_method(c), want_method), "method %s, want %s", fdr_circuit_method(c),
          want_method);
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (s)
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
    return s;
}

/* Two equal lines in parallel (a loop) = one line of half the length. */
static void test_mesh(void)
{
    const char *load = "New Load.l bus1=c phases=3 kV=12.47 kW=3000 kvar=1200\n";
    char mesh[1024], radial[1024];
    snprintf(mesh, sizeof mesh,
             "New Line.a bus1=sourcebus bus2=b linecode=lc length=2\n"
             "New Line.p1 bus1=b bus2=c linecode=lc length=3\n"
             "New Line.p2 bus1=c bus2=b linecode=lc length=3\n%s",
             load);
    snprintf(radial, sizeof radial,
             "New Line.a bus1=sourcebus bus2=b linecode=lc length=2\n"
             "New Line.p1 bus1=b bus2=c linecode=lc length=1.5\n%s",
             load);
    fdr_circuit *cm = NULL, *cr = NULL;
    fdr_solver *sm = solve_text(mesh, &cm, "nodal"), *sr = solve_text(radial, &cr, "sweep");
    if (sm && sr) {
        int bm = fdr_bus_find(cm, "c"), br = fdr_bus_find(cr, "c");
        double worst = 0;
        for (int ph = 1; ph <= 3; ph++)
            worst = fmax(worst, cabs(fdr_bus_v_pu(sm, bm, ph) - fdr_bus_v_pu(sr, br, ph)));
        printf("mesh of two parallel lines vs one of half the length: %.2e pu (drop %.4f pu)\n",
               worst, 1.0 - cabs(fdr_bus_v_pu(sr, br, 1)));
        CHECK(worst < 1e-8, "mesh vs radial: %.2e pu", worst);
        /* each parallel line carries half */
        double complex i1 = fdr_line_i(sm, 1, 1, 1), i2 = fdr_line_i(sm, 2, 2, 1);
        CHECK(cabs(i1 - i2) < 1e-6 * cabs(i1), "parallel currents %g vs %g", cabs(i1), cabs(i2));
        CHECK(cabs(i1 + i1 - fdr_line_i(sr, 1, 1, 1)) < 1e-6 * cabs(i1), "half the current");
    }
    fdr_solver_free(sm);
    fdr_solver_free(sr);
    fdr_circuit_free(cm);
    fdr_circuit_free(cr);
}

/* An unloaded 500 kVA transformer draws its no-load loss and magnetising
 * current: P = 0.2 %, Q = 0.5 % of its rating at rated voltage (the
 * source is stiff, so the voltage is within 1e-4 of rated). */
static void test_magnetising(void)
{
    fdr_circuit *c = NULL;
    fdr_solver *s = solve_text("New Transformer.t buses=[sourcebus lv] conns=[delta wye] "
                               "kvs=[12.47 0.208] kvas=[500 500] xhl=2 %noloadloss=0.2 "
                               "%imag=0.5\n",
                               &c, "nodal");
    if (s) {
        double p, q;
        fdr_source_pq(s, &p, &q);
        printf("magnetising branch: %.4f kW, %.4f kvar from the source\n", p, q);
        CHECK(fabs(p - 1.0) < 2e-3, "no-load loss %.4f kW, want 1.0", p);
        CHECK(fabs(q - 2.5) < 5e-3, "magnetising %.4f kvar, want 2.5", q);
        struct fdr_losses l;
        fdr_losses(s, &l);
        CHECK(fabs(l.xfmr_kw - p) < 1e-6, "transformer losses %.6f vs source %.6f", l.xfmr_kw, p);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* A centre-tapped unit (windings 2 and 3 in series, polarity reversed by
 * their node order as the 8500-node feeder writes it). */
static void test_centre_tap(void)
{
    const char *xf = "New Transformer.ct phases=1 windings=3 buses=[sourcebus.1 x.1.0 x.0.2] "
                     "kvs=[7.2 0.12 0.12] kvas=[25 25 25] %rs=[0.6 1.2 1.2] xhl=2.04 xht=2.04 "
                     "xlt=1.36\n";
    fdr_circuit *c = NULL;
    fdr_solver *s = solve_text(xf, &c, "nodal");
    if (s) {
        int x = fdr_bus_find(c, "x");
        double complex v1 = fdr_bus_v(s, x, 1), v2 = fdr_bus_v(s, x, 2);
        double complex vp = fdr_bus_v(s, fdr_bus_find(c, "sourcebus"), 1);
        printf("centre tap unloaded: %.3f V / %.3f V, %.3f degrees apart\n", cabs(v1), cabs(v2),
               carg(v1 / v2) * 180 / M_PI);
        CHECK(fabs(cabs(v1) - cabs(vp) * 120.0 / 7200.0) < 1e-3, "half 1 %.4f V", cabs(v1));
        CHECK(cabs(v1 + v2) < 1e-3, "halves not in opposition: %g", cabs(v1 + v2));
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
    /* loaded unevenly: 120 V loads on each half and a 240 V one across */
    char body[1024];
    snprintf(body, sizeof body,
             "%sNew Load.a bus1=x.1 phases=1 kV=0.12 kW=6 kvar=2\n"
             "New Load.b bus1=x.2 phases=1 kV=0.12 kW=2 kvar=1\n"
             "New Load.c bus1=x.1.2 phases=1 conn=delta kV=0.24 kW=8 kvar=3\n",
             xf);
    s = solve_text(body, &c, "nodal");
    if (s) {
        double p, q, pl = 0;
        fdr_source_pq(s, &p, &q);
        for (int k = 0; k < fdr_load_count(c); k++) {
            double a, b;
            fdr_load_pq(s, k, &a, &b);
            pl += a;
            (void)b;
        }
        struct fdr_losses l;
        fdr_losses(s, &l);
        printf("centre tap loaded: source %.4f kW, loads %.4f kW, transformer %.4f kW\n", p, pl,
               l.xfmr_kw);
        CHECK(fabs(pl - 16.0) < 1e-6, "loads draw %.6f kW", pl);
        CHECK(fabs(p - pl - l.total_kw) < 1e-6, "power balance %.6f", p - pl - l.total_kw);
        CHECK(l.xfmr_kw > 0.05 && l.xfmr_kw < 1.0, "transformer losses %.4f kW", l.xfmr_kw);
        int x = fdr_bus_find(c, "x");
        CHECK(cabs(fdr_bus_v(s, x, 1)) < 120.0 && cabs(fdr_bus_v(s, x, 2)) < 120.0,
              "loaded halves must drop");
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/* A CapControl (voltage type, with and without a heavy load) on the
 * sweep's radial feeder and on the same feeder made nodal: an open
 * capacitor closes below ONsetting (PT volts), and stays open above it. */
static void test_capcontrol(void)
{
    static const char *body =
        "New Line.a bus1=sourcebus bus2=b linecode=lc length=8\n"
        "New Capacitor.c1 bus1=b kv=12.47 kvar=600 states=[0]\n"
        "New CapControl.cc1 capacitor=c1 element=line.a terminal=2 type=voltage ptratio=60 "
        "onsetting=117 offsetting=125 delay=30\n"
        "New Load.l bus1=b phases=3 kV=12.47 kW=%g kvar=%g\n";
    for (int heavy = 0; heavy < 2; heavy++)
        for (int nodal = 0; nodal < 2; nodal++) {
            char text[2048];
            snprintf(text, sizeof text, "%s", head);
            size_t len = strlen(text);
            snprintf(text + len, sizeof text - len, body, heavy ? 4000.0 : 500.0,
                     heavy ? 2000.0 : 200.0);
            struct sim_err err = {{0}};
            fdr_circuit *c = fdr_load_dss_string(text, "case.dss", NULL, NULL, &err);
            CHECK(c != NULL, "%s", err.msg);
            if (!c)
                continue;
            if (nodal)
                CHECK_INT(fdr_circuit_use_nodal(c, &err), 0);
            fdr_solver *s = fdr_solver_new(c, &err);
            double q = 0, v = 0;
            if (s) {
                CHECK_INT(fdr_solve(s, NULL, &err), 0);
                /* capacitors are load elements (constant impedance) */
                for (int k = 0; k < fdr_load_count(c); k++)
                    if (!strcmp(fdr_load_name(c, k), "Capacitor.c1"))
                        fdr_load_pq(s, k, NULL, &q);
                v = cabs(fdr_bus_v(s, fdr_bus_find(c, "b"), 1)) / 60.0;
                printf(
                    "capcontrol (%s, %s load): %.2f V on the PT, capacitor %.1f kvar, %d control "
                    "iterations\n",
                    fdr_circuit_method(c), heavy ? "heavy" : "light", v, q,
                    fdr_solver_control_iterations(s));
                if (heavy) {
                    CHECK(q < -400, "the capacitor should be in: %.1f kvar",
                          q); /* 600 kvar at 0.88 pu */
                    CHECK_INT(fdr_solver_control_iterations(s), 2);
                } else {
                    CHECK(q == 0, "the capacitor should stay out: %.1f kvar", q);
                    CHECK(v > 117, "light load: %.2f V", v);
                }
            }
            fdr_solver_free(s);
            fdr_circuit_free(c);
        }
}

/* Open switches: Open / Close commands and SwtControl. A feeder
 * source - a - b (100 kW) - sw - c (50 kW), and a ring closed through a
 * normally-open point. */
static double complex bus_v(fdr_solver *s, fdr_circuit *c, const char *bus)
{
    return fdr_bus_v(s, fdr_bus_find(c, bus), 1);
}

static void test_switches(void)
{
    static const char *feeder = "New Line.a bus1=sourcebus bus2=b linecode=lc length=1\n"
                                "New Load.lb bus1=b phases=3 kV=12.47 kW=100 kvar=0 vmaxpu=2\n"
                                "New Line.sw bus1=b bus2=c switch=yes\n"
                                "New Load.lc bus1=c phases=3 kV=12.47 kW=50 kvar=0 vmaxpu=2\n";
    static const struct {
        const char *extra, *method;
        int c_dead;
    } cases[] = {
        {"", "sweep", 0},
        {"Open Line.sw term=1\n", "nodal", 1},
        {"Open Line.sw 2\n", "nodal", 1},
        {"New SwtControl.s1 SwitchedObj=Line.sw SwitchedTerm=1 Action=Open\n", "nodal", 1},
        {"Open Line.sw\nClose Line.sw\n", "sweep", 0},
        {"New SwtControl.s1 SwitchedObj=Line.sw Normal=open State=close\n", "sweep", 0},
        {"New Fuse.f1 MonitoredObj=Line.a\n", "sweep", 0},
    };
    double p_closed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body, "%s%s", feeder, cases[i].extra);
        fdr_circuit *c = NULL;
        fdr_solver *s = solve_text(body, &c, cases[i].method);
        if (!s) {
            fdr_circuit_free(c);
            continue;
        }
        double p, lc;
        fdr_source_pq(s, &p, NULL);
        fdr_load_pq(s, fdr_load_find(c, "lc"), &lc, NULL);
        double complex vc = bus_v(s, c, "c");
        printf("switch case %zu (%s): source %.3f kW, load c %.3f kW, |V(c)| %.1f V\n", i,
               fdr_circuit_method(c), p, lc, cabs(vc));
        if (i == 0)
            p_closed = p;
        if (cases[i].c_dead) {
            CHECK(vc == 0 && lc == 0, "case %zu: bus c must be dead", i);
            CHECK(fdr_bus_phases(c, fdr_bus_find(c, "c")) == 7u, "a dead bus keeps its phases");
            CHECK(!fdr_bus_energised(c, fdr_bus_find(c, "c")) &&
                      fdr_bus_energised(c, fdr_bus_find(c, "b")),
                  "case %zu: b live, c dead", i);
            CHECK(fabs(p - (p_closed - 50)) < 0.5, "case %zu: %.3f kW", i, p);
            CHECK_INT(fdr_line_i(s, fdr_line_find(c, "sw"), 1, 1) == 0, 1);
        } else {
            CHECK(cabs(vc) > 7000 && fabs(lc - 50) < 1e-6, "case %zu: c live", i);
            CHECK(fabs(p - p_closed) < 1e-9, "case %zu: %.6f kW vs %.6f", i, p, p_closed);
        }
        fdr_solver_free(s);
        fdr_circuit_free(c);
    }
    /* a ring b - c - d - b with its tie d - b open is the radial b - c - d */
    static const char *ring = "New Line.a bus1=sourcebus bus2=b linecode=lc length=1\n"
                              "New Line.bc bus1=b bus2=c linecode=lc length=1\n"
                              "New Line.cd bus1=c bus2=d linecode=lc length=1\n"
                              "New Line.tie bus1=d bus2=b linecode=lc length=1\n"
                              "New Load.ld bus1=d phases=3 kV=12.47 kW=900 kvar=300\n";
    char body[1024];
    snprintf(body, sizeof body, "%sOpen Line.tie 1\n", ring);
    fdr_circuit *c1 = NULL, *c2 = NULL, *c3 = NULL;
    fdr_solver *s1 = solve_text(body, &c1, "nodal");
    fdr_solver *s3 = solve_text(ring, &c3, "nodal");
    char radial[1024];
    snprintf(radial, sizeof radial, "%s", ring);
    *strstr(radial, "New Line.tie") = '\0';
    strcat(radial, "New Load.ld bus1=d phases=3 kV=12.47 kW=900 kvar=300\n");
    fdr_solver *s2 = solve_text(radial, &c2, "sweep");
    if (s1 && s2 && s3) {
        double d = cabs(bus_v(s1, c1, "d") - bus_v(s2, c2, "d"));
        double meshed = cabs(bus_v(s3, c3, "d")) - cabs(bus_v(s2, c2, "d"));
        printf(
            "ring with its tie open vs radial: %.2e V at d; closing the tie raises d by %.1f V\n",
            d, meshed);
        CHECK(d < 1e-6, "open ring vs radial: %.3e V", d);
        CHECK(meshed > 1.0, "the closed ring must hold d higher: %.3f V", meshed);
    }
    fdr_solver_free(s1);
    fdr_solver_free(s2);
    fdr_solver_free(s3);
    fdr_circuit_free(c1);
    fdr_circuit_free(c2);
    fdr_circuit_free(c3);
    /* errors */
    struct sim_err err = {{0}};
    char text[2048];
    snprintf(text, sizeof text, "%s%sOpen Transformer.t\n", head, feeder);
    fdr_circuit *c = fdr_load_dss_string(text, "case.dss", NULL, NULL, &err);
    CHECK(c == NULL, "opening a transformer accepted");
    CHECK_STR_CONTAINS(err.msg, "only lines can be opened or closed");
    fdr_circuit_free(c);
    snprintf(text, sizeof text, "%s%sNew SwtControl.s SwitchedObj=Line.nope Action=open\n", head,
             feeder);
    c = fdr_load_dss_string(text, "case.dss", NULL, NULL, &err);
    CHECK(c == NULL, "a switch on no line accepted");
    CHECK_STR_CONTAINS(err.msg, "SwitchedObj 'Line.nope' is not a defined Line");
    fdr_circuit_free(c);
}

/* Generator, PVSystem and Storage as fixed injections. */
static void test_der(void)
{
    static const char *base = "New Line.a bus1=sourcebus bus2=b linecode=lc length=2\n"
                              "New Load.l bus1=b phases=3 kV=12.47 kW=1000 kvar=300 vmaxpu=2\n";
    static const struct {
        const char *der;
        double p_kw, q_kvar; /* the element's own draw (negative: injection) */
    } cases[] = {
        {"New Generator.g bus1=b kV=12.47 kW=400 pf=1\n", -400, 0},
        {"New Generator.g bus1=b kV=12.47 kW=400 kvar=100\n", -400, -100},
        {"New PVSystem.pv bus1=b kV=12.47 pmpp=300 irradiance=0.5\n", -150, 0},
        {"New PVSystem.pv bus1=b kV=12.47 pmpp=300 %pmpp=50 irradiance=1 kva=100\n", -100, 0},
        {"New Storage.s bus1=b kV=12.47 kwrated=200 state=discharging\n", -200, 0},
        {"New Storage.s bus1=b kV=12.47 kwrated=200 %charge=50 state=charging\n", 100, 0},
        {"New Storage.s bus1=b kV=12.47 kwrated=200\n", 0, 0},
        {"New Generator.g bus1=b kV=12.47 kW=400 pf=1\nNew Generator.g2 like=g kW=50\n", -450, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body, "%s%s", base, cases[i].der);
        fdr_circuit *c = NULL;
        fdr_solver *s = solve_text(body, &c, "sweep");
        if (s) {
            double p, q, pd = 0, qd = 0;
            fdr_source_pq(s, &p, &q);
            for (int k = 0; k < fdr_load_count(c); k++) {
                double a, b;
                fdr_load_pq(s, k, &a, &b);
                if (strcmp(fdr_load_name(c, k), "l")) {
                    pd += a;
                    qd += b;
                }
            }
            struct fdr_losses l;
            fdr_losses(s, &l);
            printf("DER case %zu: elements %.3f kW %.3f kvar, source %.3f kW\n", i, pd, qd, p);
            CHECK(fabs(pd - cases[i].p_kw) < 1e-6 && fabs(qd - cases[i].q_kvar) < 1e-6,
                  "case %zu: %.6f kW %.6f kvar", i, pd, qd);
            CHECK(fabs(p - (1000 + pd + l.total_kw)) < 1e-6, "case %zu: balance", i);
        }
        fdr_solver_free(s);
        fdr_circuit_free(c);
    }
    /* a daily shape on a generator scales its output */
    char body[1024];
    snprintf(body, sizeof body,
             "%sNew Loadshape.sun npts=24 interval=1 mult=(0 0 0 0 0 0 .1 .3 .5 .7 .9 1 1 .9 .7 "
             ".5 .3 .1 0 0 0 0 0 0)\nNew Generator.g bus1=b kV=12.47 kW=400 pf=1 daily=sun\n",
             base);
    fdr_circuit *c = NULL;
    fdr_solver *s = solve_text(body, &c, "sweep");
    if (s) {
        struct sim_err err = {{0}};
        fdr_apply_loadshapes(s, 12 * 60, 12 * 60); /* noon: point 12 */
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        double pg;
        fdr_load_pq(s, fdr_load_count(c) - 1, &pg, NULL);
        CHECK(fabs(pg + 400) < 1e-6, "noon: %.6f kW", pg);
        fdr_apply_loadshapes(s, 8 * 60, 8 * 60); /* 08:00: point 8, 0.3 */
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        fdr_load_pq(s, fdr_load_count(c) - 1, &pg, NULL);
        CHECK(fabs(pg + 120) < 1e-6, "08:00: %.6f kW", pg);
    }
    fdr_solver_free(s);
    fdr_circuit_free(c);
    /* what is not modelled is refused */
    static const struct {
        const char *der, *want;
    } bad[] = {
        {"New Generator.g bus1=b model=3\n", "only model 1"},
        {"New PVSystem.pv bus1=b EffCurve=eff\n", "PVSystem property 'EffCurve' is not"},
        {"New Storage.s bus1=b dispmode=follow\n", "only the fixed State dispatch"},
        {"New Storage.s bus1=b state=floating\n", "idling, charging or discharging"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "%s%s%s", head, base, bad[i].der);
        struct sim_err err = {{0}};
        fdr_circuit *cb = fdr_load_dss_string(text, "case.dss", NULL, NULL, &err);
        CHECK(cb == NULL, "accepted: %s", bad[i].der);
        CHECK_STR_CONTAINS(err.msg, bad[i].want);
        fdr_circuit_free(cb);
    }
}

int main(void)
{
    test_opendss();
    test_both_solvers();
    test_mesh();
    test_magnetising();
    test_centre_tap();
    test_capcontrol();
    test_switches();
    test_der();
    return check_done("test_feeder_nodal");
}
