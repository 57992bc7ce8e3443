/*
 * test_study.c: scripts/study-threshold-ev.sh, the shipped DSO threshold x
 * EV penetration study, on a 1 x 2 slice (40 % of households with an EV,
 * thresholds 70 and 90 kW) with the binary under test: it exits 0, joins
 * one row per run into study.csv, draws its four heat maps and writes the
 * planner's summary; a lower threshold buys at least as much and leaves
 * the substation above it no longer than without the market.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "check.h"
#include "proc.h"

int main(void)
{
    char tmpl[] = "/tmp/flexbed-study-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_study");
    char out[512], path[600];
    snprintf(out, sizeof out, "%s/study", tmp);
    setenv("FLEXBED", FLEXBED_BINARY, 1);
    setenv("SHARES", "0.4", 1);
    setenv("THRESHOLDS", "70 90", 1);
    setenv("JOBS", "2", 1);
    char *argv[] = {"/bin/sh", FLEXBED_SOURCE_DIR "/scripts/study-threshold-ev.sh", out, NULL};
    struct proc_result r;
    pid_t pid = proc_start(tmp, argv);
    proc_wait(tmp, pid, 300, &r);
    const char *so = r.out, *se = r.errs;
    CHECK(r.exit_code == 0, "study: exit %d: %s", r.exit_code, se);
    CHECK_STR_CONTAINS(so, "at 40 % EV penetration, a threshold of  70 kW");
    snprintf(path, sizeof path, "%s/study.csv", out);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "no %s", path);
    char line[3][512] = {{0}};
    int n = 0;
    while (f && n < 3 && fgets(line[n], sizeof line[n], f))
        n++;
    if (f)
        fclose(f);
    CHECK_INT(n, 3);
    CHECK_STR_CONTAINS(line[0], "ev_share,threshold_kw,peak_kw");
    double v[2][10] = {{0}};
    for (int i = 1; i < 3; i++) {
        char *p = line[i];
        for (int k = 0; k < 10 && p; k++) {
            v[i - 1][k] = atof(p);
            p = strchr(p, ',');
            if (p)
                p++;
        }
    }
    CHECK(v[0][1] == 70 && v[1][1] == 90, "thresholds %g %g", v[0][1], v[1][1]);
    for (int i = 0; i < 2; i++)
        CHECK(v[i][4] <= v[i][5], "minutes above %g, without the market %g", v[i][4], v[i][5]);
    CHECK(v[0][8] >= v[1][8], "70 kW bought %g kWh, 90 kW %g", v[0][8], v[1][8]);
    static const char *const png[] = {"heat-peak.png", "heat-minutes-above.png",
                                      "heat-loss-of-life.png", "heat-cost.png"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", out, png[i]);
        struct stat st;
        CHECK(stat(path, &st) == 0 && st.st_size > 1000, "%s missing or empty", path);
    }
    snprintf(path, sizeof path, "%s/summary.txt", out);
    CHECK_STR_CONTAINS(proc_slurp(path), "best value at 40 % EVs");
    rm_tree(tmp);
    return check_done("test_study");
}
