/*
 * test_feeder_published.c: the IEEE 4, 13, 34, 37, 123 and 8500-node feeders,
 * as OpenDSS ships them, against the working group's published solutions
 * (tests/data/feeder/ieee-published/: the voltage profiles of the DSA
 * subcommittee's reports and the 8500-node solution sheet, origin in
 * tests/data/feeder/README.md).
 *
 * The published numbers come from Kersting's own models of the feeders,
 * which OpenDSS's files follow only so far: they put a substation
 * transformer or a stiff source in front, lump distributed loads at
 * buses (IEEE 13: at bus 670, a third along 632-671; IEEE 34 Mod 1 at
 * the line ends, Mod 2 at mid-line buses), and let the regulators find
 * their own taps. So a file that solves exactly as OpenDSS solves it is
 * still 1e-2 pu from the published profile. Per circuit the test shows:
 *
 *  - as shipped (regulators acting): flexbed's distance from the published
 *    profile is OpenDSS's own (its solution of the same file) to within
 *    2e-4 pu and 0.02 degrees;
 *  - as published: the shipped file behind a Redirect, controls off and
 *    the regulators at the report's taps (IEEE 37 also with the report's
 *    ideal substation and regulators: the shipped file has a 2.5 MVA
 *    substation unit carrying 3 MVA, 799 at 0.92 pu). What is left is the
 *    models' other differences, and the bounds say how much that is.
 *
 * A bus behind a delta-delta unit (IEEE 123's 610) floats against ground,
 * so there the published and computed voltages are both turned into line
 * to line ones. Angles are compared after turning each solution so that
 * the first published node's phase A (A-B for the delta IEEE 37) has the
 * published angle: the files put the source angle where they like.
 *
 * The table it prints is the one in docs/models.md.
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
#define PUB DATA "/ieee-published"
#define DEG (180.0 / M_PI)

struct pub_row {
    char node[16];
    int has[3];
    double mag[3], ang[3];
};

/* The rows of a report's voltage profile: "NODE | m at a | m at a | m at a | mi". */
static int load_published(const char *file, struct pub_row *rows, int max)
{
    char path[PATH_MAX], line[256];
    snprintf(path, sizeof path, PUB "/%s", file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < max) {
        char *field[5];
        int nf = 0;
        for (char *p = line, *tok; nf < 5 && (tok = strsep(&p, "|")) != NULL;)
            field[nf++] = tok;
        if (nf < 5)
            continue;
        struct pub_row *r = &rows[n];
        if (sscanf(field[0], " %15s", r->node) != 1 || !strcmp(r->node, "NODE") ||
            strchr(r->node, '_'))
            continue;
        int any = 0;
        for (int k = 0; k < 3; k++) {
            r->has[k] = sscanf(field[k + 1], " %lf at %lf", &r->mag[k], &r->ang[k]) == 2;
            any |= r->has[k];
        }
        if (any)
            n++;
    }
    if (f)
        fclose(f);
    return n;
}

/* What a published node is called in the OpenDSS file: the regulators'
 * output buses have their own names there; the report's "XF" nodes (the
 * inside of an in-line transformer) have no bus in the OpenDSS models. */
struct node_map {
    const char *node, *bus; /* bus NULL: not in the OpenDSS model */
    int delta;              /* behind a delta-delta unit */
};

static const struct node_map *find_node(const char *node, const struct node_map *map)
{
    for (int i = 0; map && map[i].node; i++)
        if (!strcasecmp(node, map[i].node))
            return &map[i];
    return NULL;
}

static const char *dss_bus(const char *node, const struct node_map *map)
{
    const struct node_map *m = find_node(node, map);
    return m ? m->bus : node;
}

static int is_delta(const char *node, const struct node_map *map)
{
    const struct node_map *m = find_node(node, map);
    return m && m->delta;
}

struct errs {
    double mag, ang; /* worst |V| error (pu) and angle error (degrees) */
    char mag_at[64];
    int n;
};

/* The voltage (pu of the bus base; line to line when ll) of a published
 * column k at bus b, from node voltages v(node 1..3). */
static double complex column_v(double complex v[4], int k, int ll)
{
    return ll ? v[k + 1] - v[(k + 1) % 3 + 1] : v[k + 1];
}

/* Worst distance of one solution (got(ctx, bus name, node) in volts)
 * from the published rows. */
typedef double complex (*getv_fn)(void *ctx, const char *bus, int node);

static struct errs compare(const struct pub_row *rows, int nrows, const struct node_map *map,
                           int ll, const fdr_circuit *c, getv_fn get, void *ctx)
{
    struct errs e = {0, 0, "", 0};
    double rot = NAN; /* angle to add to the solution, degrees */
    for (int i = 0; i < nrows; i++) {
        const char *bus = dss_bus(rows[i].node, map);
        if (!bus)
            continue;
        int b = fdr_bus_find(c, bus);
        CHECK(b >= 0, "published node %s: no bus %s", rows[i].node, bus);
        if (b < 0)
            continue;
        double base = fdr_bus_kv_base(c, b) * 1000.0 / (ll ? 1.0 : sqrt(3.0));
        double complex v[4] = {0, get(ctx, bus, 1), get(ctx, bus, 2), get(ctx, bus, 3)};
        /* a bus behind a delta-delta unit floats against ground: only its
         * line-to-line voltages mean anything, on both sides */
        int delta = !ll && is_delta(rows[i].node, map);
        for (int k = 0; k < 3; k++) {
            if (!rows[i].has[k])
                continue;
            double complex got = column_v(v, k, ll) / base;
            double pm = rows[i].mag[k], pa = rows[i].ang[k];
            if (delta) {
                int q = (k + 1) % 3;
                double complex pk = pm * cexp(I * pa / DEG),
                               pq = rows[i].mag[q] * cexp(I * rows[i].ang[q] / DEG);
                got = column_v(v, k, 1) / base / sqrt(3.0);
                pm = cabs(pk - pq) / sqrt(3.0);
                pa = carg(pk - pq) * DEG;
            }
            CHECK(!isnan(creal(got)), "%s phase %d: no voltage", bus, k + 1);
            if (isnan(rot))
                rot = pa - carg(got) * DEG;
            double dm = fabs(cabs(got) - pm);
            double da = fabs(remainder(carg(got) * DEG + rot - pa, 360.0));
            if (getenv("PUB_DEBUG") && (dm > 5e-3 || da > 0.2))
                printf("      %s.%c %.4f %.2f pub %.4f %.2f\n", rows[i].node, "ABC"[k], cabs(got),
                       carg(got) * DEG + rot, pm, pa);
            if (dm > e.mag) {
                e.mag = dm;
                snprintf(e.mag_at, sizeof e.mag_at, "%s.%s", rows[i].node,
                         delta ? (const char *[]){"AB", "BC", "CA"}[k]
                               : (const char *[]){"A", "B", "C"}[k]);
            }
            e.ang = fmax(e.ang, da);
            e.n++;
        }
    }
    return e;
}

struct solved {
    const fdr_circuit *c;
    const fdr_solver *s;
};

static double complex get_flexbed(void *ctx, const char *bus, int node)
{
    const struct solved *x = ctx;
    int b = fdr_bus_find(x->c, bus);
    if (b < 0 || node < 1 || node > 3 || !(fdr_bus_phases(x->c, b) & (1u << (node - 1))))
        return NAN;
    return fdr_bus_v(x->s, b, node);
}

struct refset {
    const struct ref *r;
    int n;
};

static double complex get_opendss(void *ctx, const char *bus, int node)
{
    const struct refset *rs = ctx;
    return ref_v(rs->r, rs->n, bus, node);
}

struct circuit {
    const char *title, *dss, *dir, *refcsv, *pubfile;
    const struct node_map *map;
    int ll;
    /* as published: "Edit" lines setting each regulator's winding 2 to
     * the report's tap (and what else the report assumes) */
    const char *published;
    int nodes;          /* published voltages compared */
    double shipped_mag; /* bound as shipped, pu */
    double pub_mag;     /* bound as published, pu */
    double pub_ang;     /* and degrees */
};

static const struct node_map map13[] = {{"RG60", "rg60", 0}, {"XFXFM1", NULL, 0}, {NULL, NULL, 0}};
static const struct node_map map34[] = {
    {"RG10", "814r", 0}, {"RG11", "852r", 0}, {"XF10", NULL, 0}, {NULL, NULL, 0}};
static const struct node_map map37[] = {{"RG7", "799r", 0}, {"XF7", NULL, 0}, {NULL, NULL, 0}};
static const struct node_map map123[] = {{"RG1", "150r", 0}, {"RG2", "9r", 0}, {"RG3", "25r", 0},
                                         {"RG4", "160r", 0}, {"XF1", NULL, 0}, {"610", "610", 1},
                                         {NULL, NULL, 0}};

static void run_circuit(const struct circuit *k)
{
    static struct pub_row rows[200];
    static struct ref ref[400];
    int nrows = load_published(k->pubfile, rows, 200);
    CHECK(nrows > 10, "%s: %d published rows", k->pubfile, nrows);
    char path[PATH_MAX];
    snprintf(path, sizeof path, DATA "/%s/%s", k->dir, k->dss);
    struct sim_err err = {{0}};

    /* as shipped */
    fdr_circuit *c = fdr_load_dss(path, NULL, &err);
    CHECK(c != NULL, "%s: %s", k->dss, err.msg);
    if (!c)
        return;
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s: %s", k->dss, err.msg);
    CHECK_INT(s ? fdr_solve(s, NULL, &err) : -1, 0);
    char refdir[PATH_MAX];
    snprintf(refdir, sizeof refdir, DATA "/%s", k->dir);
    struct refset rs = {ref, load_ref(refdir, k->refcsv, ref, 400)};
    struct solved x = {c, s};
    struct errs ef = compare(rows, nrows, k->map, k->ll, c, get_flexbed, &x);
    struct errs eo = compare(rows, nrows, k->map, k->ll, c, get_opendss, &rs);
    printf("%-12s as shipped   flexbed %.4f pu (%s) %.2f deg | OpenDSS %.4f pu (%s) %.2f deg | "
           "%d voltages\n",
           k->title, ef.mag, ef.mag_at, ef.ang, eo.mag, eo.mag_at, eo.ang, ef.n);
    for (int g = 0; s && g < fdr_regulator_count(c); g++)
        printf("    %s tap %+d\n", fdr_regulator_name(c, g),
               (int)lrint((fdr_regulator_tap(s, g) - 1.0) / 0.00625));
    CHECK_INT(ef.n, k->nodes);
    CHECK_INT(eo.n, k->nodes);
    CHECK(fabs(ef.mag - eo.mag) < 2e-4, "%s: flexbed %.5f pu from the published, OpenDSS %.5f",
          k->title, ef.mag, eo.mag);
    CHECK(fabs(ef.ang - eo.ang) < 0.02, "%s: flexbed %.3f deg from the published, OpenDSS %.3f",
          k->title, ef.ang, eo.ang);
    CHECK(ef.mag < k->shipped_mag, "%s as shipped: %.4f pu from the published", k->title, ef.mag);
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* as published */
    char text[2048];
    snprintf(text, sizeof text, "Redirect %s\nSet controlmode=off\n%s", k->dss, k->published);
    c = fdr_load_dss_string(text, k->title, refdir, NULL, &err);
    CHECK(c != NULL, "%s as published: %s", k->dss, err.msg);
    if (!c)
        return;
    s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s: %s", k->dss, err.msg);
    CHECK_INT(s ? fdr_solve(s, NULL, &err) : -1, 0);
    struct solved y = {c, s};
    struct errs et = compare(rows, nrows, k->map, k->ll, c, get_flexbed, &y);
    printf("%-12s as published flexbed %.4f pu (%s) %.2f deg\n", k->title, et.mag, et.mag_at,
           et.ang);
    CHECK_INT(et.n, k->nodes);
    CHECK(et.mag < k->pub_mag, "%s as published: %.4f pu", k->title, et.mag);
    CHECK(et.ang < k->pub_ang, "%s as published: %.3f deg", k->title, et.ang);
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/*
 * IEEE 8500: the working group's solution sheet (Solution-Balanced.xls, by
 * OpenDSS's author), every bus-node. It is the feeder with its lines from
 * LineGeometry (single-phase lines keep their neutral as node 2 at 30
 * buses), so that version is compared: as shipped, and with the twelve
 * regulators at the sheet's taps and the controls off.
 */

struct pub8500 {
    char bus[48];
    int node;
    double base_v, mag, ang; /* base line to neutral, V; V; degrees */
};

static int load_8500(struct pub8500 *r, int max)
{
    FILE *f = fopen(PUB "/ieee8500-voltages.csv", "r");
    CHECK(f != NULL, "open ieee8500-voltages.csv");
    char line[256];
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        double kv, pu;
        if (sscanf(line, "%47[^,],%lf,%d,%lf,%lf,%lf", r[n].bus, &kv, &r[n].node, &r[n].mag,
                   &r[n].ang, &pu) == 6) {
            r[n].base_v = kv * 1000.0 / sqrt(3.0);
            n++;
        }
    }
    if (f)
        fclose(f);
    return n;
}

/* Worst magnitude (pu) and angle (degrees) error of a solution over the
 * published bus-nodes it has; *n counts them. */
static struct errs compare_8500(const struct pub8500 *r, int nr, const fdr_circuit *c, getv_fn get,
                                void *ctx)
{
    struct errs e = {0, 0, "", 0};
    for (int i = 0; i < nr; i++) {
        if (fdr_bus_find(c, r[i].bus) < 0)
            continue;
        double complex v = get(ctx, r[i].bus, r[i].node);
        if (isnan(creal(v)))
            continue;
        double dm = fabs(cabs(v) - r[i].mag) / r[i].base_v;
        double da = fabs(remainder(carg(v) * DEG - r[i].ang, 360.0));
        if (dm > e.mag) {
            e.mag = dm;
            snprintf(e.mag_at, sizeof e.mag_at, "%s.%d", r[i].bus, r[i].node);
        }
        e.ang = fmax(e.ang, da);
        e.n++;
    }
    return e;
}

static void run_8500(void)
{
    static struct pub8500 rows[9000];
    static struct ref ref[9000];
    int nr = load_8500(rows, 9000);
    CHECK_INT(nr, 8561);
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss(DATA "/ieee-8500/Master-geometry.dss", NULL, &err);
    CHECK(c != NULL, "IEEE 8500: %s", err.msg);
    if (!c)
        return;
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s", err.msg);
    CHECK_INT(s ? fdr_solve(s, NULL, &err) : -1, 0);
    struct refset rs = {
        ref, load_ref(DATA "/ieee-8500", "ieee8500geom-opendss-voltages.csv", ref, 9000)};
    struct solved x = {c, s};
    struct errs ef = compare_8500(rows, nr, c, get_flexbed, &x);
    struct errs eo = compare_8500(rows, nr, c, get_opendss, &rs);
    printf("%-12s as shipped   flexbed %.4f pu (%s) %.2f deg | OpenDSS %.4f pu (%s) %.2f deg | "
           "%d voltages\n",
           "IEEE 8500", ef.mag, ef.mag_at, ef.ang, eo.mag, eo.mag_at, eo.ang, ef.n);
    CHECK_INT(ef.n, 8561);
    CHECK_INT(eo.n, 8561);
    /* OpenDSS's own answer is up to 2.4e-4 pu from the converged one */
    CHECK(fabs(ef.mag - eo.mag) < 5e-4, "IEEE 8500: flexbed %.5f pu from the sheet, OpenDSS %.5f",
          ef.mag, eo.mag);
    CHECK(fabs(ef.ang - eo.ang) < 0.05, "IEEE 8500: flexbed %.3f deg from the sheet, OpenDSS %.3f",
          ef.ang, eo.ang);
    CHECK(ef.mag < 0.01, "IEEE 8500 as shipped: %.4f pu from the sheet", ef.mag);
    fdr_solver_free(s);
    fdr_circuit_free(c);

    /* at the sheet's taps */
    char text[4096] = "Redirect Master-geometry.dss\nSet controlmode=off\n";
    FILE *f = fopen(PUB "/ieee8500-taps.csv", "r");
    CHECK(f != NULL, "open ieee8500-taps.csv");
    char line[256], name[64];
    double tap;
    int ntaps = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%63[^,],%lf", name, &tap) == 2) {
            size_t l = strlen(text);
            snprintf(text + l, sizeof text - l, "Edit Transformer.%s wdg=2 tap=%.5f\n", name, tap);
            ntaps++;
        }
    if (f)
        fclose(f);
    CHECK_INT(ntaps, 12);
    c = fdr_load_dss_string(text, "IEEE 8500 at the published taps", DATA "/ieee-8500", NULL, &err);
    CHECK(c != NULL, "IEEE 8500 at the published taps: %s", err.msg);
    if (!c)
        return;
    s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s", err.msg);
    CHECK_INT(s ? fdr_solve(s, NULL, &err) : -1, 0);
    struct solved y = {c, s};
    struct errs et = compare_8500(rows, nr, c, get_flexbed, &y);
    printf("%-12s as published flexbed %.4f pu (%s) %.2f deg\n", "IEEE 8500", et.mag, et.mag_at,
           et.ang);
    CHECK_INT(et.n, 8561);
    CHECK(et.mag < 1e-3, "IEEE 8500 at the sheet's taps: %.4f pu", et.mag);
    CHECK(et.ang < 0.1, "IEEE 8500 at the sheet's taps: %.3f deg", et.ang);
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

/*
 * The IEEE 4-node feeder's balanced step-down cases (Y-Y, D-Y, Y-D), as
 * OpenDSS ships them, against the report's node voltages (in volts, to the
 * volt; ieee4-voltages.csv). The OpenDSS files follow the report's model,
 * so the answer must be the report's to its rounding: 1.5 V and 0.1 deg.
 */
static void run_4node(void)
{
    FILE *f = fopen(PUB "/ieee4-voltages.csv", "r");
    CHECK(f != NULL, "open ieee4-voltages.csv");
    char line[256], cas[8] = "", loaded[8] = "", bus[8], kind[4];
    double mag[3], ang[3], worst_v = 0, worst_a = 0;
    int n = 0;
    fdr_circuit *c = NULL;
    fdr_solver *s = NULL;
    struct sim_err err = {{0}};
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#' ||
            sscanf(line, "%7[^,],%7[^,],%3[^,],%lf,%lf,%lf,%lf,%lf,%lf", cas, bus, kind, &mag[0],
                   &mag[1], &mag[2], &ang[0], &ang[1], &ang[2]) != 9)
            continue;
        if (strcmp(cas, loaded)) {
            fdr_solver_free(s);
            fdr_circuit_free(c);
            s = NULL;
            char path[PATH_MAX];
            snprintf(path, sizeof path, DATA "/ieee-4bus/4Bus-%s-Bal.DSS", cas);
            c = fdr_load_dss(path, NULL, &err);
            CHECK(c != NULL, "%s: %s", path, err.msg);
            if (c && !(s = fdr_solver_new(c, &err)))
                CHECK(0, "%s: %s", path, err.msg);
            if (s)
                CHECK_INT(fdr_solve(s, NULL, &err), 0);
            snprintf(loaded, sizeof loaded, "%s", cas);
        }
        int b = c ? fdr_bus_find(c, bus) : -1;
        CHECK(b >= 0, "%s: no bus %s", cas, bus);
        if (b < 0 || !s)
            continue;
        double complex v[3] = {fdr_bus_v(s, b, 1), fdr_bus_v(s, b, 2), fdr_bus_v(s, b, 3)};
        for (int k = 0; k < 3; k++) {
            double complex got = strcmp(kind, "LL") ? v[k] : v[k] - v[(k + 1) % 3];
            double dv = fabs(cabs(got) - mag[k]);
            double da = fabs(remainder(carg(got) * DEG - ang[k], 360.0));
            worst_v = fmax(worst_v, dv);
            worst_a = fmax(worst_a, da);
            CHECK(dv <= 1.5 && da <= 0.1,
                  "4-node %s %s.%d (%s): %.1f V at %.2f deg, report %.0f at %.1f", cas, bus, k + 1,
                  kind, cabs(got), carg(got) * DEG, mag[k], ang[k]);
            n++;
        }
    }
    if (f)
        fclose(f);
    fdr_solver_free(s);
    fdr_circuit_free(c);
    printf("%-12s as shipped   flexbed %.1f V, %.2f deg from the report over %d voltages "
           "(Y-Y, D-Y, Y-D)\n",
           "IEEE 4-node", worst_v, worst_a, n);
    CHECK_INT(n, 27);
}

/* The report's taps of RG10 (12, 5, 5) and RG11 (13, 11, 12). */
#define TAPS34                                                                                     \
    "Edit Transformer.reg1a wdg=2 tap=1.075\n"                                                     \
    "Edit Transformer.reg1b wdg=2 tap=1.03125\n"                                                   \
    "Edit Transformer.reg1c wdg=2 tap=1.03125\n"                                                   \
    "Edit Transformer.reg2a wdg=2 tap=1.08125\n"                                                   \
    "Edit Transformer.reg2b wdg=2 tap=1.06875\n"                                                   \
    "Edit Transformer.reg2c wdg=2 tap=1.075\n"

int main(void)
{
    static const struct circuit circuits[] = {
        {"IEEE 13", "IEEE13Nodeckt.dss", "ieee-13", "ieee13-opendss-voltages.csv",
         "ieee13-voltages.txt", map13, 0,
         "Edit Transformer.Reg1 wdg=2 tap=1.0625\n"
         "Edit Transformer.Reg2 wdg=2 tap=1.05\n"
         "Edit Transformer.Reg3 wdg=2 tap=1.06875\n",
         35, 0.02, 2e-3, 0.1},
        {"IEEE 34 Mod1", "ieee34Mod1.dss", "ieee-dist/34Bus", "ieee34-opendss-voltages.csv",
         "ieee34-voltages.txt", map34, 0, TAPS34, 92, 0.02, 2e-3, 0.1},
        {"IEEE 34 Mod2", "ieee34Mod2.dss", "ieee-dist/34Bus", "ieee34m2-opendss-voltages.csv",
         "ieee34-voltages.txt", map34, 0, TAPS34, 92, 0.02, 5e-4, 0.06},
        {"IEEE 37", "ieee37.dss", "ieee-dist/37Bus", "ieee37-opendss-voltages.csv",
         "ieee37-voltages.txt", map37, 1,
         "Edit Transformer.reg1a wdg=2 tap=1.04375\n"
         "Edit Transformer.reg1c wdg=2 tap=1.025\n"
         "Edit Transformer.SubXF Xhl=0.0001 wdg=1 %r=0.00001 wdg=2 %r=0.00001\n"
         "Edit Transformer.reg1a Xhl=0.0001 wdg=1 %r=0.00001 wdg=2 %r=0.00001\n"
         "Edit Transformer.reg1c Xhl=0.0001 wdg=1 %r=0.00001 wdg=2 %r=0.00001\n",
         114, 0.09, 3e-4, 0.03},
        {"IEEE 123", "IEEE123Master.dss", "ieee-dist/123Bus", "ieee123-opendss-voltages.csv",
         "ieee123-voltages.txt", map123, 0,
         "Edit Transformer.reg1a wdg=2 tap=1.04375\n"
         "Edit Transformer.reg2a wdg=2 tap=0.99375\n"
         "Edit Transformer.reg3a wdg=2 tap=1.0\n"
         "Edit Transformer.reg3c wdg=2 tap=0.99375\n"
         "Edit Transformer.reg4a wdg=2 tap=1.05\n"
         "Edit Transformer.reg4b wdg=2 tap=1.00625\n"
         "Edit Transformer.reg4c wdg=2 tap=1.03125\n",
         271, 0.02, 2e-3, 0.15},
    };
    for (size_t i = 0; i < sizeof circuits / sizeof circuits[0]; i++)
        run_circuit(&circuits[i]);
    run_8500();
    run_4node();
    return check_done("test_feeder_published");
}
