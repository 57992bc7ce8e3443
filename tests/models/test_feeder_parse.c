/*
 * test_feeder_parse.c: the OpenDSS-subset parser's contract.
 *
 * Anything that would change the circuit and is not modelled is an error
 * naming file:line (also inside a redirected file); output-only commands
 * are skipped with one warning each; comments, '~' continuation,
 * positional properties, abbreviations and bus.node specs are read as
 * OpenDSS reads them; loops, islands and missing definitions are refused.
 * Files go to a mkdtemp directory that is removed at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <complex.h>

#include "check.h"
#include "models/feeder/feeder.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    check_write_file(path, text);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static const char *head = "Clear\n"
                          "New Circuit.t basekv=0.4 pu=1.0 r1=0 x1=0 r0=0 x0=0\n"
                          "New Linecode.lc nphases=3 r1=0.2 x1=0.1 r0=0.5 x0=0.3 c1=0 c0=0 "
                          "units=km\n";

/* Parse `body` after the common head from a string; returns the circuit or
 * NULL with err filled. */
static fdr_circuit *parse(const char *body, struct fdr_warnings *w, struct sim_err *err)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", head, body);
    return fdr_load_dss_string(text, "case.dss", dir, w, err);
}

/* The body must fail with a message containing `want`. */
static void expect_error(const char *body, const char *want)
{
    struct sim_err err = {{0}};
    fdr_circuit *c = parse(body, NULL, &err);
    CHECK(c == NULL, "accepted: %s", body);
    CHECK_STR_CONTAINS(err.msg, want);
    fdr_circuit_free(c);
}

static void errors(void)
{
    /* line numbers count from the head's 3 lines */
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc\nFrobnicate all\n",
                 "case.dss:5: command 'Frobnicate' is not supported");
    expect_error("New CapControl.r1 capacitor=c1\n",
                 "case.dss:4: CapControl.r1: capacitor 'c1' is not defined");
    expect_error("New Capacitor.c1 bus1=sourcebus kvar=100\nNew CapControl.r1 capacitor=c1 "
                 "element=line.nope\n",
                 "case.dss:5: CapControl.r1: element 'line.nope' is not a defined Line");
    expect_error("New CapControl.r1 capacitor=c1 type=pf\n",
                 "case.dss:4: CapControl type=pf is not supported");
    expect_error("New Transformer.t buses=[sourcebus lv] xfmrcode=nope\n",
                 "case.dss:4: XfmrCode 'nope' is not defined");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc geometry=g1\n",
                 "case.dss:4: LineGeometry 'g1' is not defined");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc spacing=s1\n",
                 "case.dss:4: LineSpacing 's1' is not defined");
    expect_error("New WireData.w Rac=-1\n", "case.dss:4: WireData.w: Rac must be > 0");
    expect_error("New CNData.c k=13 DiaStrand=0.064 Rstrand=2.8 Rac=0.07 diam=0.5\n"
                 "New LineGeometry.g nconds=1 nphases=1 cond=1 cncable=c x=0 h=-1\n"
                 "New Line.a bus1=sourcebus.1 bus2=b.1 geometry=g length=1 phases=1\n",
                 "case.dss:4: CNData.c: k, DiaStrand, Rstrand, DiaCable, DiaIns and InsLayer must "
                 "all be given");
    expect_error("New LineGeometry.g nconds=1 nphases=1 cond=1 cncable=nope\n",
                 "case.dss:4: CNData 'nope' is not defined");
    expect_error("New LineGeometry.g nconds=1 nphases=1 tscable=t\n",
                 "case.dss:4: TSData 't' is not defined");
    expect_error("New TSData.t TapeLap=100\n", "case.dss:4: TSData.t: TapeLap=100: 0 to 100 %");
    expect_error("New LineGeometry.g nconds=2\n~ cond=3\n",
                 "case.dss:5: cond=3: the geometry has 2 conductors");
    expect_error("Set earthmodel=flat\n",
                 "case.dss:4: earthmodel: expected Carson, FullCarson or Deri, got 'flat'");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc foo=1\n",
                 "case.dss:4: Line has no property 'foo'");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=nope\n",
                 "case.dss:4: LineCode 'nope' is not defined");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc length=x1\n",
                 "case.dss:4: length: 'x1' is not a number");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc\n"
                 "New Line.b bus1=x bus2=y linecode=lc\n",
                 "case.dss:5: b: bus x is not connected to the source");
    expect_error("New Load.l bus1=b.1 phases=1 kV=0.23 kW=1\n",
                 "case.dss:4: Load.l: bus b is not connected to the source");
    expect_error("New Line.a bus1=sourcebus bus2=b linecode=lc\n"
                 "New Load.l bus1=b.4 phases=1 kV=0.23 kW=1\n",
                 "case.dss:5: bus 'b.4': phase conductors must be on nodes 1-3");
    expect_error("New Transformer.t buses=[sourcebus lv] windings=4\n",
                 "case.dss:4: windings=4: transformers of two or three windings are supported");
    expect_error("New Transformer.t phases=2 buses=[sourcebus lv]\n",
                 "case.dss:4: Transformer.t: transformers of 1 or 3 phases are supported");
    expect_error("New Load.l bus1=sourcebus.1 phases=1 kV=0.23 kW=1 model=9\n",
                 "case.dss:4: model=9 is not supported (1 to 8 are)");
    expect_error("New Line.a bus1=(sourcebus bus2=b\n", "case.dss:4: unbalanced");
    expect_error("New Linecode.q4 nphases=4 rmatrix=[1|0 1|0 0 1|0 0 0 1] xmatrix=[1|0 1|0 0 "
                 "1|0 0 0 1]\nNew Line.a bus1=sourcebus bus2=b linecode=q4\n",
                 "case.dss:5: LineCode q4 has 4 conductors: give it kron=yes");
    expect_error("Set loadmodel=admittance\n", "case.dss:4: Set loadmodel");
    expect_error("Set nosuchoption=1\n", "case.dss:4: Set nosuchoption: option is not supported");
    expect_error("New Loadshape.s npts=2 mult=(file=missing.txt)\n",
                 "case.dss:4: cannot open load shape file");

    /* an error inside a redirected file names that file and its line */
    write_file("sub.dss", "! a comment\n\nNew Reactor.r1 bus1=sourcebus\n");
    char body[256];
    snprintf(body, sizeof body, "Redirect sub.dss\n");
    struct sim_err err = {{0}};
    fdr_circuit *c = parse(body, NULL, &err);
    CHECK(c == NULL, "redirected error accepted");
    char want[128];
    snprintf(want, sizeof want, "%s/sub.dss:3: Reactor.r1: R and X are both 0", dir);
    CHECK_STR_CONTAINS(err.msg, want);
    fdr_circuit_free(c);
    remove_file("sub.dss");

    /* a missing master file */
    snprintf(want, sizeof want, "%s/nothere.dss", dir);
    c = fdr_load_dss(want, NULL, &err);
    CHECK(c == NULL, "missing file accepted");
    CHECK_STR_CONTAINS(err.msg, "nothere.dss: cannot open");
    fdr_circuit_free(c);

    /* a device is not read (it could be read forever), nor a directory */
    expect_error("Redirect /dev/zero\n", "'/dev/zero' is not a regular file");
    c = fdr_load_dss("/dev/null", NULL, &err);
    CHECK(c == NULL, "/dev/null accepted as a master file");
    CHECK_STR_CONTAINS(err.msg, "/dev/null: not a regular file");
    fdr_circuit_free(c);
    c = fdr_load_dss(dir, NULL, &err);
    CHECK(c == NULL, "a directory accepted as a master file");
    fdr_circuit_free(c);

    /* no circuit at all */
    c = fdr_load_dss_string("! nothing\n", "empty.dss", NULL, NULL, &err);
    CHECK(c == NULL, "empty input accepted");
    CHECK_STR_CONTAINS(err.msg, "no circuit defined");
}

static void accepted_syntax(void)
{
    /* the second row is a long CSV row (its first field is the value):
     * lines of any length are read whole */
    char shape[1200];
    snprintf(shape, sizeof shape, "0.5\n0.25");
    for (int i = 0; i < 200; i++)
        strcat(shape, ",x0");
    strcat(shape, "\r\n\n1.0\n0.75\n");
    write_file("shape.txt", shape);
    write_file("lines.dss", "New Line.L2 bus1=b bus2=c linecode=lc length=10 units=m\n");
    const char *body =
        "/* a block comment:\n"
        "New Load.ghost bus1=sourcebus.1 phases=1 kV=0.23 kW=1\n"
        "*/\n"
        "New Line.L1 bus1=sourcebus                 // continuation follows\n"
        "~ bus2=B phases=3 linecode=LC length=0.25  ! units are km\n"
        "redirect lines.dss\n"
        "New Line.L3 c d lc 5 units=m                ! positional bus1 bus2 linecode length\n"
        "New Loadshape.sh npts=4 interval=1 mult=(file=shape.txt)\n"
        "BatchEdit Loadshape..* useactual=no\n"
        "New Load.x bus1=d.3 ph=1 kV=0.23 kW=2 pf=0.95 yearly=sh\n"
        "New Load.y bus1=c.1.2 phases=1 conn=delta kV=0.4 kW=1 kvar=0.5\n"
        "New Monitor.m1 Line.L1 1 mode=0\n"
        "New EnergyMeter.em Line.L1 1\n"
        "Set voltagebases=[0.4] mode=daily number=24\n"
        "Calcv\n"
        "Show voltages\n"
        "Plot profile\n"
        "Export currents\n"
        "Solve\n";
    struct fdr_warnings w = {0};
    struct sim_err err = {{0}};
    fdr_circuit *c = parse(body, &w, &err);
    CHECK(c != NULL, "parse: %s", err.msg);
    if (!c)
        return;
    CHECK_INT(fdr_line_count(c), 3);
    CHECK_INT(fdr_load_count(c), 2);
    CHECK_INT(fdr_bus_count(c), 4);
    CHECK(fdr_load_find(c, "ghost") < 0, "block comment was parsed");
    CHECK(fdr_bus_find(c, "b") >= 0 && fdr_bus_find(c, "D") >= 0, "buses missing");
    CHECK_INT(fdr_load_bus(c, fdr_load_find(c, "X")), fdr_bus_find(c, "d"));
    double p, q;
    fdr_load_nominal(c, 1, &p, &q);
    CHECK_NEAR(p, 1.0, 1e-12);
    CHECK_NEAR(q, 0.5, 1e-12);
    /* one warning per skipped command, each naming file:line */
    CHECK_INT(w.count, 6);
    for (size_t i = 0; i < w.count; i++)
        CHECK_STR_CONTAINS(w.msg[i], "case.dss:");
    if (w.count == 6) {
        CHECK_STR_CONTAINS(w.msg[0], "case.dss:15: skipped 'New Monitor.m1'");
        CHECK_STR_CONTAINS(w.msg[2], "Set mode=daily number=24");
        CHECK_STR_CONTAINS(w.msg[5], "case.dss:21: skipped 'export'");
    }
    /* the shape file: 4 values (blank line, CRLF) and the load follows it */
    struct sim_err e2 = {{0}};
    fdr_solver *s = fdr_solver_new(c, &e2);
    CHECK(s != NULL, "%s", e2.msg);
    if (s) {
        fdr_apply_loadshapes(s, 120, 120); /* 2 h: point 2 = 0.25 */
        CHECK_INT(fdr_solve(s, NULL, &e2), 0);
        fdr_load_pq(s, 0, &p, &q);
        CHECK_NEAR(p, 0.5, 1e-9);
        fdr_apply_loadshapes(s, 180, 180); /* point 3 = 1.0, after the long row */
        CHECK_INT(fdr_solve(s, NULL, &e2), 0);
        fdr_load_pq(s, 0, &p, &q);
        CHECK_NEAR(p, 2.0, 1e-9);
        /* line L1: 0.25 km of lc; L3 5 m: check through the drop on L3 */
        CHECK_INT(fdr_line_phases(c, fdr_line_find(c, "l3")), 3);
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
    fdr_warnings_free(&w);
    remove_file("shape.txt");
    remove_file("lines.dss");

    /* a file with a Windows path in Redirect and CRLF endings */
    write_file("win.dss", "New Line.L1 bus1=sourcebus bus2=b linecode=lc\r\n");
    c = parse("Redirect .\\win.dss\r\n", NULL, &err);
    CHECK(c != NULL, "backslash redirect: %s", err.msg);
    fdr_circuit_free(c);
    remove_file("win.dss");
}

/* OpenDSS's inline RPN math and like= */
static void math_and_like(void)
{
    const char *body = "New Line.L1 bus1=sourcebus bus2=b linecode=lc length=(0.1 2 *) units=km\n"
                       "New Line.L2 like=L1 bus1=b bus2=c\n"
                       "New Loadshape.s1 npts=3 interval=1 mult=(0.5 1 0.25)\n"
                       "New Loadshape.s2 like=s1\n"
                       "New Load.a bus1=c.1 phases=1 kV=0.23 kW=(2 3 *) pf=(0.81 sqrt) yearly=s2\n"
                       "New Load.b like=a bus1=b.2 kW=(pi 2 / sin 4 *)\n";
    struct sim_err err = {{0}};
    fdr_circuit *c = parse(body, NULL, &err);
    CHECK(c != NULL, "parse: %s", err.msg);
    if (c) {
        CHECK_INT(fdr_line_count(c), 2);
        CHECK_INT(fdr_line_phases(c, fdr_line_find(c, "L2")), 3);
        double p, q;
        fdr_load_nominal(c, fdr_load_find(c, "a"), &p, &q);
        CHECK_NEAR(p, 6.0, 1e-12);                 /* (2 3 *) */
        CHECK_NEAR(q, 6.0 * tan(acos(0.9)), 1e-9); /* pf=(0.81 sqrt) = 0.9 */
        fdr_load_nominal(c, fdr_load_find(c, "b"), &p, &q);
        /* sin takes degrees in OpenDSS: sin(pi/2 deg) * 4 */
        CHECK_NEAR(p, 4.0 * sin(M_PI / 2 * M_PI / 180.0), 1e-12);
        CHECK_INT(fdr_load_bus(c, fdr_load_find(c, "b")), fdr_bus_find(c, "b"));
        /* the copied load shape drives the copied load */
        fdr_solver *s = fdr_solver_new(c, &err);
        CHECK(s != NULL, "%s", err.msg);
        if (s) {
            fdr_apply_loadshapes(s, 120, 120); /* point 2 = 1.0 */
            CHECK_INT(fdr_solve(s, NULL, &err), 0);
            fdr_load_pq(s, fdr_load_find(c, "a"), &p, &q);
            CHECK_NEAR(p, 6.0, 1e-9);
            fdr_solver_free(s);
        }
        fdr_circuit_free(c);
    }
    expect_error("New Load.a bus1=sourcebus.1 phases=1 kV=0.23 kW=(2 +)\n",
                 "case.dss:4: kW: '2 +': '+' needs two values before it");
    expect_error("New Load.a bus1=sourcebus.1 phases=1 kV=0.23 kW=(2 3 frob)\n",
                 "'frob' is not a number or an operator");
    expect_error("New Load.a bus1=sourcebus.1 phases=1 kV=0.23 kW=(2 3)\n",
                 "more values than operators");
    expect_error("New Load.a like=nobody\n", "case.dss:4: like=nobody: Load.nobody is not defined");
}

/* Capacitor: a constant-impedance shunt drawing -kvar at its kV */
static int load_named(const fdr_circuit *c, const char *name)
{
    for (int i = 0; i < fdr_load_count(c); i++)
        if (!strcasecmp(fdr_load_name(c, i), name))
            return i;
    return -1;
}

static void capacitors(void)
{
    const char *body = "New Line.L1 bus1=sourcebus bus2=b linecode=lc length=0.1 units=km\n"
                       "New Capacitor.C3 bus1=b phases=3 kvar=[10 20] states=[1 0] kv=0.4\n"
                       "New Capacitor.C1 bus1=b.2 bus2=b.0 phases=1 kvar=5 kv=0.23\n"
                       "New Capacitor.CD bus1=b conn=delta kvar=9 kv=0.4 numsteps=3\n"
                       "New Load.C3 bus1=b phases=3 kV=0.4 kW=30 pf=1 model=1\n"
                       "New Loadshape.s npts=2 interval=1 mult=(0 0)\n"
                       "BatchEdit Load..* yearly=s\n";
    struct sim_err err = {{0}};
    fdr_circuit *c = parse(body, NULL, &err);
    CHECK(c != NULL, "parse: %s", err.msg);
    if (!c)
        return;
    CHECK_INT(fdr_load_count(c), 4);
    int c3 = load_named(c, "Capacitor.C3"), c1 = load_named(c, "Capacitor.C1"),
        cd = load_named(c, "Capacitor.CD"), ld = fdr_load_find(c, "C3");
    CHECK(c3 >= 0 && c1 >= 0 && cd >= 0 && ld >= 0, "elements %d %d %d %d", c3, c1, cd, ld);
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (s && c3 >= 0 && c1 >= 0 && cd >= 0) {
        fdr_solver_set_tolerance(s, 1e-12, 100);
        fdr_apply_loadshapes(s, 60, 60); /* the load follows s (0), the capacitors do not */
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        int b = fdr_bus_find(c, "b");
        double v[4] = {0};
        for (int ph = 1; ph <= 3; ph++)
            v[ph] = cabs(fdr_bus_v_pu(s, b, ph));
        double p, q;
        /* 10 kvar in (the 20 kvar step is out), 3 phases, scaled by v^2 */
        fdr_load_pq(s, c3, &p, &q);
        CHECK_NEAR(p, 0, 1e-9);
        CHECK_NEAR(q, -10.0 * (v[1] * v[1] + v[2] * v[2] + v[3] * v[3]) / 3.0, 1e-6);
        fdr_load_pq(s, c1, &p, &q);
        double v2 = cabs(fdr_bus_v(s, b, 2)) / 230.0; /* in pu of its own 0.23 kV */
        CHECK_NEAR(q, -5.0 * v2 * v2, 1e-6);
        fdr_load_pq(s, cd, &p, &q);
        CHECK(q < -8.5 && q > -9.5, "delta capacitor: %g kvar", q);
        fdr_load_pq(s, ld, &p, &q);
        CHECK_NEAR(p, 0, 1e-9);
        CHECK(v[1] > 1.0 && v[2] > 1.0, "capacitors raise the voltage: %g %g", v[1], v[2]);
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
    expect_error("New Capacitor.x bus1=sourcebus bus2=b kvar=5\n",
                 "case.dss:4: Capacitor.x: bus2=b: series and ungrounded capacitors are not "
                 "supported");
    expect_error("New Capacitor.x bus1=sourcebus kvar=5 cuf=3\n",
                 "case.dss:4: Capacitor property 'cuf' is not supported");
    expect_error("New Capacitor.x bus1=sourcebus kvar=5 xl=0.5\n",
                 "Capacitor property 'xl' is not supported");
}

/* load model 4 (exponential CVR) and the implicit Edit Class.name.prop= */
static void model4_and_implicit_edit(void)
{
    const char *body = "New Line.L1 bus1=sourcebus bus2=b linecode=lc length=0.2 units=km\n"
                       "New Load.e bus1=b.1 phases=1 kV=0.23 kW=10 kvar=4 model=4\n"
                       "New Load.f bus1=b.2 phases=1 kV=0.23 kW=10 kvar=4 model=4 cvrwatts=0.8 "
                       "cvrvars=3\n"
                       "Load.f.kW=20 kvar=8\n";
    struct sim_err err = {{0}};
    fdr_circuit *c = parse(body, NULL, &err);
    CHECK(c != NULL, "parse: %s", err.msg);
    if (!c)
        return;
    double p, q;
    fdr_load_nominal(c, fdr_load_find(c, "f"), &p, &q);
    CHECK_NEAR(p, 20, 1e-12); /* the implicit Edit */
    CHECK_NEAR(q, 8, 1e-12);
    fdr_solver *s = fdr_solver_new(c, &err);
    if (s) {
        fdr_solver_set_tolerance(s, 1e-12, 200);
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        int b = fdr_bus_find(c, "b");
        double v1 = cabs(fdr_bus_v(s, b, 1)) / 230.0, v2 = cabs(fdr_bus_v(s, b, 2)) / 230.0;
        CHECK(v1 < 0.999 && v2 < 0.999, "the loads pull the voltage down: %g %g", v1, v2);
        fdr_load_pq(s, fdr_load_find(c, "e"), &p, &q);
        CHECK_NEAR(p, 10 * v1, 1e-6); /* defaults: P ~ v, Q ~ v^2 */
        CHECK_NEAR(q, 4 * v1 * v1, 1e-6);
        fdr_load_pq(s, fdr_load_find(c, "f"), &p, &q);
        CHECK_NEAR(p, 20 * pow(v2, 0.8), 1e-6);
        CHECK_NEAR(q, 8 * pow(v2, 3), 1e-6);
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
    expect_error("Load.nobody.kW=3\n", "case.dss:4: Load.nobody is not defined");

    /* enabled=false: the element is left out of the circuit */
    c = parse("New Line.a bus1=sourcebus bus2=b linecode=lc\n"
              "New Line.alt bus1=sourcebus bus2=b linecode=lc enabled=false\n"
              "New Load.l bus1=b phases=3 kV=0.4 kW=5\n"
              "New Load.off bus1=b phases=3 kV=0.4 kW=5 enabled=no\n"
              "New Capacitor.c bus1=b kvar=5 kv=0.4\n"
              "New Capacitor.coff bus1=b kvar=5 kv=0.4 enabled=false\n",
              NULL, &err);
    CHECK(c != NULL, "enabled=false: %s", err.msg); /* alt would close a loop */
    if (c) {
        CHECK_INT(fdr_line_count(c), 1);
        CHECK_INT(fdr_load_count(c), 2);
        CHECK(fdr_line_find(c, "alt") < 0 && fdr_load_find(c, "off") < 0, "disabled found");
        CHECK(fdr_load_find(c, "l") >= 0 && fdr_line_find(c, "a") >= 0, "enabled lost");
    }
    fdr_circuit_free(c);

    /* switch=yes: a short line of 1 + j1 ohm per unit, 0.001 long */
    c = parse("New Line.sw bus1=sourcebus bus2=b switch=yes\n"
              "New Load.l bus1=b.1 phases=1 kV=0.23 kW=20 pf=1 model=2\n",
              NULL, &err);
    CHECK(c != NULL, "switch: %s", err.msg);
    if (c && (s = fdr_solver_new(c, &err))) {
        fdr_solver_set_tolerance(s, 1e-12, 200);
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        int b = fdr_bus_find(c, "b"), src = fdr_bus_find(c, "sourcebus");
        double complex drop = fdr_bus_v(s, src, 1) - fdr_bus_v(s, b, 1);
        double complex il = fdr_line_i(s, fdr_line_find(c, "sw"), 1, 1);
        /* the drop over the switch: (zs - zm) I for a balanced-free phase
         * current with no return in the other phases: zs I */
        double complex zs = (2.0 * (1 + I) + (1 + I)) / 3.0 * 0.001;
        CHECK(cabs(drop - zs * il) < 1e-9 * cabs(fdr_bus_v(s, src, 1)),
              "switch drop %g V, expected %g V", cabs(drop), cabs(zs * il));
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
}

/* A bank of three single-phase units is the three-phase transformer with
 * the same per-phase data; a unit's own tap moves its own phase. */
static fdr_circuit *bank_case(const char *xfmr, struct sim_err *err)
{
    char body[2048];
    snprintf(body, sizeof body,
             "Clear\nNew Circuit.b basekv=12.47 pu=1.0 r1=0.01 x1=0.1 r0=0.01 x0=0.1\n"
             "New Linecode.lc nphases=3 r1=0.2 x1=0.4 r0=0.6 x0=1.2 c1=0 c0=0 units=km\n"
             "New Line.hv bus1=sourcebus bus2=a linecode=lc length=1 units=km\n"
             "%s"
             "New Line.lv bus1=b bus2=c linecode=lc length=0.3 units=km\n"
             "New Load.l1 bus1=c.1 phases=1 kV=2.4017 kW=300 kvar=100\n"
             "New Load.l2 bus1=c.2 phases=1 kV=2.4017 kW=200 kvar=50\n"
             "New Load.l3 bus1=c.3 phases=1 kV=2.4017 kW=350 kvar=120\n",
             xfmr);
    return fdr_load_dss_string(body, "bank.dss", dir, NULL, err);
}

static void banks(void)
{
    struct sim_err err = {{0}};
    fdr_circuit *c3 = bank_case("New Transformer.t phases=3 windings=2 xhl=6 buses=(a b) "
                                "conns=(wye wye) kvs=(12.47 4.16) kvas=(3000 3000) %rs=(0.5 0.5)\n",
                                &err);
    CHECK(c3 != NULL, "three-phase: %s", err.msg);
    const char *units = "New Transformer.ta phases=1 windings=2 xhl=6 buses=(a.1 b.1) "
                        "conns=(wye wye) kvs=(7.19956 2.40178) kvas=(1000 1000) %rs=(0.5 0.5)\n"
                        "New Transformer.tb like=ta buses=(a.2 b.2)\n"
                        "New Transformer.tc like=ta buses=(a.3 b.3)\n";
    fdr_circuit *c1 = bank_case(units, &err);
    CHECK(c1 != NULL, "bank: %s", err.msg);
    char tapped[1024];
    snprintf(tapped, sizeof tapped, "%sTransformer.tb.wdg=2 tap=1.0125\n", units);
    fdr_circuit *ct = bank_case(tapped, &err);
    CHECK(ct != NULL, "tapped bank: %s", err.msg);
    if (c3 && c1 && ct) {
        fdr_solver *s3 = fdr_solver_new(c3, &err), *s1 = fdr_solver_new(c1, &err),
                   *st = fdr_solver_new(ct, &err);
        fdr_solver_set_tolerance(s3, 1e-12, 200);
        fdr_solver_set_tolerance(s1, 1e-12, 200);
        fdr_solver_set_tolerance(st, 1e-12, 200);
        CHECK_INT(fdr_solve(s3, NULL, &err), 0);
        CHECK_INT(fdr_solve(s1, NULL, &err), 0);
        CHECK_INT(fdr_solve(st, NULL, &err), 0);
        CHECK_INT(fdr_xfmr_count(c1), 3);
        double worst = 0;
        for (int ph = 1; ph <= 3; ph++) {
            double complex v3 = fdr_bus_v(s3, fdr_bus_find(c3, "c"), ph);
            double complex v1 = fdr_bus_v(s1, fdr_bus_find(c1, "c"), ph);
            worst = fmax(worst, cabs(v1 - v3) / cabs(v3));
        }
        printf("bank of single-phase units vs three-phase transformer: worst %.2e\n", worst);
        CHECK(worst < 1e-5, "bank vs three-phase: %.2e", worst); /* kV given to 6 digits */
        /* each unit's own current and power: unit tb carries phase 2 */
        double p, q;
        fdr_xfmr_pq(s1, fdr_xfmr_find(c1, "tb"), 2, 1, &p, &q);
        CHECK(p < -190 && p > -210, "unit tb delivers phase 2's load: %g kW", p);
        /* the tap on tb raises phase 2 by about 1.25 %, the others barely move */
        int bc = fdr_bus_find(ct, "c"), b1 = fdr_bus_find(c1, "c");
        double r2 = cabs(fdr_bus_v(st, bc, 2)) / cabs(fdr_bus_v(s1, b1, 2));
        double r1 = cabs(fdr_bus_v(st, bc, 1)) / cabs(fdr_bus_v(s1, b1, 1));
        CHECK(r2 > 1.011 && r2 < 1.0135, "tap 1.0125 on phase 2: ratio %g", r2);
        CHECK(fabs(r1 - 1) < 0.002, "phase 1 moved by %g", r1 - 1);
        struct fdr_losses l3, l1;
        fdr_losses(s3, &l3);
        fdr_losses(s1, &l1);
        CHECK_NEAR(l1.xfmr_kw, l3.xfmr_kw, 1e-3 * fabs(l3.xfmr_kw) + 1e-6);
        fdr_solver_free(s3);
        fdr_solver_free(s1);
        fdr_solver_free(st);
    }
    fdr_circuit_free(c3);
    fdr_circuit_free(c1);
    fdr_circuit_free(ct);
}

/* RegControl (static mode): the bank's taps move until each phase's
 * voltage through the PT (with line-drop compensation) is within the band */
static fdr_circuit *reg_case(const char *regs, struct sim_err *err)
{
    char body[4096];
    snprintf(body, sizeof body,
             "Clear\nNew Circuit.r basekv=24.9 pu=1.0 r1=0.1 x1=1 r0=0.1 x0=1\n"
             "New Linecode.lc nphases=3 r1=0.3 x1=0.6 r0=0.9 x0=1.8 c1=0 c0=0 units=km\n"
             "New Line.feed bus1=sourcebus bus2=r linecode=lc length=12 units=km\n"
             "New Transformer.ra phases=1 windings=2 buses=(r.1 rr.1) conns=(wye wye) "
             "kvs=(14.376 14.376) kvas=(20000 20000) xhl=1 %%rs=(0.005 0.005)\n"
             "New Transformer.rb like=ra buses=(r.2 rr.2)\n"
             "New Transformer.rc like=ra buses=(r.3 rr.3)\n"
             "%s"
             "New Line.out bus1=rr bus2=e linecode=lc length=2 units=km\n"
             "New Load.la bus1=e.1 phases=1 kV=14.376 kW=900 kvar=300\n"
             "New Load.lb bus1=e.2 phases=1 kV=14.376 kW=700 kvar=200\n"
             "New Load.lc bus1=e.3 phases=1 kV=14.376 kW=1000 kvar=350\n",
             regs);
    return fdr_load_dss_string(body, "reg.dss", dir, NULL, err);
}

static void regulators(void)
{
    struct sim_err err = {{0}};
    const char *regs =
        "New RegControl.ca transformer=ra winding=2 vreg=122 band=2 ptratio=120 ctprim=100 "
        "R=3 X=2\n"
        "New RegControl.cb like=ca transformer=rb\n"
        "New RegControl.cc like=ca transformer=rc\n";
    fdr_circuit *c0 = reg_case("", &err), *c = reg_case(regs, &err);
    CHECK(c0 && c, "regulator case: %s", err.msg);
    if (!c0 || !c) {
        fdr_circuit_free(c0);
        fdr_circuit_free(c);
        return;
    }
    fdr_solver *s0 = fdr_solver_new(c0, &err), *s = fdr_solver_new(c, &err);
    fdr_solver_set_tolerance(s0, 1e-10, 200);
    fdr_solver_set_tolerance(s, 1e-10, 200);
    CHECK_INT(fdr_solve(s0, NULL, &err), 0);
    CHECK_INT(fdr_solve(s, NULL, &err), 0);
    CHECK_INT(fdr_regulator_count(c), 3);
    int rr = fdr_bus_find(c, "rr"), rr0 = fdr_bus_find(c0, "rr");
    for (int ph = 1; ph <= 3; ph++) {
        double before = cabs(fdr_bus_v(s0, rr0, ph)) / 120.0;
        CHECK(before < 121, "phase %d needs regulating: %.2f V on the PT", ph, before);
        int x = fdr_xfmr_find(c, ph == 1 ? "ra" : ph == 2 ? "rb" : "rc");
        double complex vc =
            fdr_bus_v(s, rr, ph) / 120.0 + (3.0 + 2.0 * I) * fdr_xfmr_i(s, x, 2, 1) / 100.0;
        double tap = fdr_regulator_tap(s, ph - 1);
        double steps = (tap - 1.0) / 0.00625;
        printf("regulator %d: %.2f V on the PT before, %.2f V (LDC) after, tap %.5f (%+.0f "
               "steps)\n",
               ph, before, cabs(vc), tap, steps);
        CHECK(fabs(cabs(vc) - 122) <= 1.0 + 1e-9, "phase %d: %.3f V outside 122 +- 1", ph,
              cabs(vc));
        CHECK(fabs(steps - round(steps)) < 1e-9 && steps > 0, "tap %.6f is not a step up", tap);
    }
    CHECK(fdr_solver_control_iterations(s) > 1, "no control iteration");
    fdr_solver_free(s);
    fdr_circuit_free(c);
    /* an unreachable set point: the taps stop at the end of their range */
    c = reg_case("Transformer.ra.wdg=2 maxtap=1.05 numtaps=16\n"
                 "New RegControl.ca transformer=ra winding=2 vreg=140 band=2 ptratio=120\n",
                 &err);
    CHECK(c != NULL, "%s", err.msg);
    if (c && (s = fdr_solver_new(c, &err))) {
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        CHECK_NEAR(fdr_regulator_tap(s, 0), 1.05, 1e-12); /* its own maxtap */
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
    fdr_solver_free(s0);
    fdr_circuit_free(c0);
    /* a three-phase regulator: ganged, sensing phase 1 */
    c = fdr_load_dss_string(
        "Clear\nNew Circuit.r basekv=24.9 pu=1.0 r1=0.1 x1=1 r0=0.1 x0=1\n"
        "New Linecode.lc nphases=3 r1=0.3 x1=0.6 r0=0.9 x0=1.8 c1=0 c0=0 units=km\n"
        "New Line.feed bus1=sourcebus bus2=r linecode=lc length=12 units=km\n"
        "New Transformer.reg phases=3 windings=2 buses=(r rr) conns=(wye wye) kvs=(24.9 24.9) "
        "kvas=(20000 20000) xhl=1\n"
        "New RegControl.c3 transformer=reg winding=2 vreg=122 band=2 ptratio=120\n"
        "New Load.l bus1=rr phases=3 kV=24.9 kW=2400 kvar=800\n",
        "reg3.dss", dir, NULL, &err);
    CHECK(c != NULL, "three-phase regulator: %s", err.msg);
    if (c && (s = fdr_solver_new(c, &err))) {
        fdr_solver_set_tolerance(s, 1e-10, 200);
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        int b = fdr_bus_find(c, "rr");
        double v1 = cabs(fdr_bus_v(s, b, 1)) / 120.0;
        double tap = fdr_regulator_tap(s, 0);
        printf("three-phase regulator: %.2f V on the PT, tap %.5f\n", v1, tap);
        CHECK(fabs(v1 - 122) <= 1.0 + 1e-9, "phase 1 at %.3f V", v1);
        CHECK(tap > 1.0, "no tap move: %g", tap);
        /* ganged: the balanced load sees the same boost on every phase */
        double v2 = cabs(fdr_bus_v(s, b, 2)) / 120.0, v3 = cabs(fdr_bus_v(s, b, 3)) / 120.0;
        CHECK(fabs(v2 - v1) < 0.01 && fabs(v3 - v1) < 0.01, "phases %g %g %g", v1, v2, v3);
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
    expect_error("New RegControl.r transformer=nothing\n",
                 "RegControl.r: transformer 'nothing' is not defined");
    expect_error("New RegControl.r transformer=t bus=x\n",
                 "RegControl property 'bus (a remote regulated bus)' is not supported");
}

/* OpenDSS's built-in LoadShape.default (24 hourly points) when a file names
 * it without defining it; a single-phase delta load given one node sits
 * between that phase and ground at its rated kV, as OpenDSS fills the
 * conductor the bus name leaves out with ground (node 0). */
static void default_shape_and_one_node_delta(void)
{
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss_string(
        "Clear\nNew Circuit.d basekv=0.4 pu=1.0 r1=1e-6 x1=1e-6 r0=1e-6 x0=1e-6\n"
        "New Linecode.lc nphases=3 r1=0.1 x1=0.1 r0=0.3 x0=0.3 c1=0 c0=0 units=km\n"
        "New Line.l bus1=sourcebus bus2=b linecode=lc length=0.001 units=km\n"
        "New Load.shaped bus1=b.1 phases=1 kV=0.23 kW=10 kvar=0 daily=default\n"
        "New Load.dz bus1=b.2 phases=1 conn=delta model=2 kV=0.4 kW=3 kvar=0\n"
        "New Load.dz2 bus1=b.3.0 phases=1 conn=delta model=2 kV=0.4 kW=3 kvar=0\n",
        "shape.dss", dir, NULL, &err);
    CHECK(c != NULL, "%s", err.msg);
    fdr_solver *s = c ? fdr_solver_new(c, &err) : NULL;
    CHECK(!c || s != NULL, "%s", err.msg);
    if (s) {
        double p, q;
        fdr_solver_set_tolerance(s, 1e-10, 100);
        fdr_apply_loadshapes(s, 300, 300); /* 05:00: point 5 of the default shape */
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        fdr_load_pq(s, fdr_load_find(c, "shaped"), &p, &q);
        CHECK_NEAR(p, 10 * 0.58028, 1e-9);
        fdr_apply_loadshapes(s, 17 * 60, 17 * 60); /* 17:00: point 17 = 1 */
        CHECK_INT(fdr_solve(s, NULL, &err), 0);
        fdr_load_pq(s, fdr_load_find(c, "shaped"), &p, &q);
        CHECK_NEAR(p, 10.0, 1e-9);
        /* constant impedance rated at 0.4 kV, across 0.4 / sqrt 3 kV: a third */
        int b = fdr_bus_find(c, "b");
        for (int k = 0; k < 2; k++) {
            int ph = 2 + k;
            double vln = cabs(fdr_bus_v(s, b, ph));
            fdr_load_pq(s, fdr_load_find(c, k ? "dz2" : "dz"), &p, &q);
            CHECK_NEAR(p, 3.0 * (vln / 400.0) * (vln / 400.0), 1e-6);
            CHECK(p < 1.05 && p > 0.95, "load %d: %.3f kW, not phase-to-ground", k, p);
        }
        fdr_solver_free(s);
    }
    fdr_circuit_free(c);
}

int main(void)
{
    strcpy(dir, "/tmp/fdr_parse_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    errors();
    accepted_syntax();
    math_and_like();
    capacitors();
    model4_and_implicit_edit();
    banks();
    regulators();
    default_shape_and_one_node_delta();
    /* whatever a failing case left behind */
    static const char *const files[] = {"sub.dss", "shape.txt", "lines.dss", "win.dss"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        remove_file(files[i]);
    CHECK(rmdir(dir) == 0, "temp dir %s not empty", dir);
    return check_done("test_feeder_parse");
}
