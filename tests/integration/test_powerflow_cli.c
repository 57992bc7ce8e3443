/*
 * test_powerflow_cli.c: `flexbed powerflow`, as a planner meets it with a
 * feeder as OpenDSS ships it.
 *
 *  - IEEE 13 (tests/data/feeder/ieee-13/): exit 0, the summary names the
 *    solver, the source power and the taps OpenDSS reaches, and the --csv
 *    file, read back as a user would, holds every bus-node within 5e-5 pu
 *    of OpenDSS's own solution of the file (the reference CSV beside it,
 *    same columns);
 *  - IEEE 37 (a three-wire delta feeder): the line-to-line extremes;
 *  - --controls off leaves the regulators at tap 1;
 *  - bad input exits 2 naming file:line, an unwritable --csv exits 2 before
 *    any work, and a failed run leaves an existing CSV as it was.
 */
#include <complex.h>
#include <math.h>

#include "check.h"
#include "proc.h"

#define FDATA FLEXBED_TEST_DATA "/feeder"
#define IEEE13 FDATA "/ieee-13/IEEE13Nodeckt.dss"

struct row {
    char bus[64];
    int node;
    double complex v;
};

/* bus,node,kVbase_LN,Vmag_V,Vang_deg,Vmag_pu,Vre_V,Vim_V rows; *kv the base. */
static int read_csv(const char *path, struct row *r, double *kv, int max)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    char line[512];
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        double kvb, vm, va, pu, re, im;
        if (sscanf(line, "%63[^,],%d,%lf,%lf,%lf,%lf,%lf,%lf", r[n].bus, &r[n].node, &kvb, &vm, &va,
                   &pu, &re, &im) == 8) {
            r[n].v = re + I * im;
            if (kv)
                kv[n] = kvb;
            n++;
        }
    }
    if (f)
        fclose(f);
    return n;
}

static void test_ieee13(const char *tmp)
{
    struct proc_result r;
    char csv[512];
    snprintf(csv, sizeof csv, "%s/ieee13.csv", tmp);
    flexbed_run(tmp, 30, &r, "powerflow", IEEE13, "--csv", csv, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "16 buses (41 bus-nodes)");
    CHECK_STR_CONTAINS(r.out, "sweep solver");
    CHECK_STR_CONTAINS(r.out, "source: 3567.0");
    CHECK_STR_CONTAINS(r.out, "regulator Reg1: tap 1.05625"); /* OpenDSS: 9 steps */
    CHECK_STR_CONTAINS(r.out, "regulator Reg2: tap 1.03750"); /* 6 */
    CHECK_STR_CONTAINS(r.out, "voltages: ");
    CHECK_STR_CONTAINS(r.errs, "skipped 'buscoords'");
    static struct row got[64], want[64];
    static double kv[64];
    int ng = read_csv(csv, got, kv, 64);
    int nw = read_csv(FDATA "/ieee-13/ieee13-opendss-voltages.csv", want, NULL, 64);
    CHECK_INT(ng, 41);
    CHECK_INT(nw, 41);
    double worst = 0;
    int matched = 0;
    for (int i = 0; i < ng; i++)
        for (int j = 0; j < nw; j++)
            if (!strcasecmp(got[i].bus, want[j].bus) && got[i].node == want[j].node) {
                worst = fmax(worst, cabs(got[i].v - want[j].v) / (kv[i] * 1000.0));
                matched++;
            }
    printf("IEEE 13 from `flexbed powerflow --csv`: %d bus-nodes, worst %.2e pu from OpenDSS\n",
           matched, worst);
    CHECK_INT(matched, 41);
    CHECK(worst < 5e-5, "worst %.2e pu", worst);

    flexbed_run(tmp, 30, &r, "powerflow", IEEE13, "--controls", "off", "--quiet", "--nodal", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "nodal solver");
    CHECK_STR_CONTAINS(r.out, "regulator Reg1: tap 1.00000");
    CHECK(!strstr(r.errs, "warning"), "--quiet: %s", r.errs);
}

static void test_ieee37(const char *tmp)
{
    struct proc_result r;
    flexbed_run(tmp, 30, &r, "powerflow", FDATA "/ieee-dist/37Bus/ieee37.dss", "--quiet", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "nodal solver");
    CHECK_STR_CONTAINS(r.out, "line to line: lowest 0.923");
    CHECK_STR_CONTAINS(r.out, "regulator creg1a: tap 1.10000");
}

static void test_errors(const char *tmp)
{
    struct proc_result r;
    char bad[512], csv[512];
    snprintf(bad, sizeof bad, "%s/bad.dss", tmp);
    snprintf(csv, sizeof csv, "%s/keep.csv", tmp);
    FILE *f = fopen(bad, "w");
    CHECK(f != NULL, "write %s", bad);
    if (f) {
        fputs("New Circuit.x bus1=a basekv=12\nNew Line.l1 bus1=a bus2=b wibble=3\n", f);
        fclose(f);
    }
    f = fopen(csv, "w");
    if (f) {
        fputs("earlier results\n", f);
        fclose(f);
    }
    flexbed_run(tmp, 10, &r, "powerflow", bad, "--csv", csv, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "bad.dss:2: Line has no property 'wibble'");
    CHECK(!strcmp(proc_slurp(csv), "earlier results\n"), "a failed run changed %s", csv);

    flexbed_run(tmp, 10, &r, "powerflow", IEEE13, "--csv", "/nonexistent-dir/v.csv", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--csv /nonexistent-dir/v.csv");
    CHECK(!strstr(r.out, "solved"), "solved before checking the output: %s", r.out);

    flexbed_run(tmp, 10, &r, "powerflow", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "which circuit?");
    flexbed_run(tmp, 10, &r, "powerflow", IEEE13, "--controls", "dynamic", NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 10, &r, "powerflow", IEEE13, "--tolerance", "2", NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 10, &r, "powerflow", FDATA "/no-such.dss", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "no-such.dss");
    flexbed_run(tmp, 10, &r, "powerflow", "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "--csv OUT");
}

int main(void)
{
    char tmp[] = "/tmp/flexbed-pf-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_ieee13(tmp);
    test_ieee37(tmp);
    test_errors(tmp);
    rm_tree(tmp);
    return check_done("test_powerflow_cli");
}
