/*
 * test_feeder_timeseries.c: daily runs with the controls in time mode
 * (fdr_solve_time) against OpenDSS's own daily runs of the same circuits
 * (tests/data/feeder/timeseries/, copied from the reference set
 * opendss-solutions/timeseries with its origin in tests/data/feeder/README.md).
 *
 * As OpenDSS was run: a snapshot with static controls at base load, then
 * 1440 one-minute (or 96 fifteen-minute) steps of the built-in daily shape
 * with controlmode=time. At every step every regulator's tap position and
 * every switched capacitor's state must be OpenDSS's:
 *  - IEEE 123 (seven regulators, Delay 15/30 s, one tap per change), both
 *    step sizes: every step, and OpenDSS's 39 tap changes;
 *  - IEEE 8500 (twelve regulators, nine switched capacitors with kvar
 *    control and voltage override), one-minute steps: the same 238 tap
 *    changes and 29 capacitor switchings, all but at most 2 of the 1440
 *    steps identical (one tap of one regulator one minute apart, where the
 *    decision sits on the edge of the band); fifteen-minute steps, where
 *    OpenDSS's own controls hunt from 01:00 to 09:00: the same 472 tap
 *    changes and 216 switchings, at most 4 of 96 steps differing;
 *  - the source power within 2e-4 of OpenDSS's at every step (its own
 *    tolerance is 1e-4 per iteration).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "models/feeder/feeder.h"

#define DATA FLEXBED_TEST_DATA "/feeder"
#define MAXCOL 64

/* One row of an OpenDSS steps.csv: source P, the tap positions (columns
 * tap_*) and capacitor steps (cap_*) in file order. */
struct row {
    double p;
    int tap[MAXCOL], ntap;
    int cap[MAXCOL], ncap;
};

static int load_steps(const char *file, struct row *rows, int max, char names[][32], int *ncap)
{
    char path[PATH_MAX], line[4096];
    snprintf(path, sizeof path, DATA "/timeseries/%s", file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return 0;
    int kind[128] = {0}, ncol = 0, n = 0, pcol = -1;
    *ncap = 0;
    if (fgets(line, sizeof line, f)) {
        char *save = NULL;
        for (char *t = strtok_r(line, ",\n", &save); t && ncol < 128;
             t = strtok_r(NULL, ",\n", &save), ncol++) {
            if (!strcmp(t, "source_P_kW"))
                pcol = ncol;
            kind[ncol] = !strncmp(t, "tap_", 4) ? 1 : !strncmp(t, "cap_", 4) ? 2 : 0;
            if (kind[ncol] == 2 && *ncap < MAXCOL)
                snprintf(names[(*ncap)++], 32, "%s", t + 4);
        }
    }
    while (n < max && fgets(line, sizeof line, f)) {
        struct row *r = &rows[n];
        r->ntap = r->ncap = 0;
        char *save = NULL;
        int col = 0;
        for (char *t = strtok_r(line, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save), col++) {
            if (col == pcol)
                r->p = atof(t);
            else if (kind[col] == 1 && r->ntap < MAXCOL)
                r->tap[r->ntap++] = atoi(t);
            else if (kind[col] == 2 && r->ncap < MAXCOL)
                r->cap[r->ncap++] = atoi(t);
        }
        n++;
    }
    fclose(f);
    return n;
}

static struct row ref[1440];

static void run(const char *dss, const char *steps_csv, double step_min, int nsteps, long want_taps,
                long want_switchings, int max_bad_steps)
{
    static char capname[MAXCOL][32];
    int ncap = 0;
    int n = load_steps(steps_csv, ref, nsteps, capname, &ncap);
    CHECK_INT(n, nsteps);
    char path[PATH_MAX];
    snprintf(path, sizeof path, DATA "/%s", dss);
    struct sim_err err = {{0}};
    fdr_circuit *c = fdr_load_dss(path, NULL, &err);
    CHECK(c != NULL, "%s: %s", dss, err.msg);
    if (!c)
        return;
    fdr_solver *s = fdr_solver_new(c, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (!s) {
        fdr_circuit_free(c);
        return;
    }
    /* the references' capacitor columns that have a CapControl, in order */
    int capcol[MAXCOL], ncc = fdr_capcontrol_count(c);
    for (int k = 0; k < ncc && k < MAXCOL; k++) {
        capcol[k] = -1;
        char want[64];
        for (int j = 0; j < ncap; j++) {
            snprintf(want, sizeof want, "%s_ctrl", capname[j]);
            if (!strcasecmp(fdr_capcontrol_name(c, k), want))
                capcol[k] = j;
        }
        CHECK(capcol[k] >= 0, "CapControl %s has no column", fdr_capcontrol_name(c, k));
    }
    CHECK_INT(fdr_solve(s, NULL, &err), 0);
    long taps0 = fdr_solver_tap_changes(s), sw0 = fdr_solver_cap_switchings(s);
    int bad = 0, first_bad = -1;
    double worst_p = 0;
    for (int k = 1; k <= nsteps; k++) {
        double minute = k * step_min;
        fdr_apply_loadshapes(s, minute, fmod(minute, 1440.0));
        if (fdr_solve_time(s, minute * 60.0, NULL, &err)) {
            CHECK(0, "%s step %d: %s", dss, k, err.msg);
            break;
        }
        const struct row *r = &ref[k - 1];
        int same = r->ntap == fdr_regulator_count(c);
        for (int g = 0; same && g < r->ntap; g++)
            same = lround((fdr_regulator_tap(s, g) - 1.0) / 0.00625) == r->tap[g];
        for (int g = 0; same && g < ncc; g++)
            same = capcol[g] < 0 || fdr_capcontrol_steps(s, g) == r->cap[capcol[g]];
        if (!same) {
            bad++;
            if (first_bad < 0)
                first_bad = k;
        }
        double p;
        fdr_source_pq(s, &p, NULL);
        worst_p = fmax(worst_p, fabs(p - r->p) / r->p);
    }
    long taps = fdr_solver_tap_changes(s) - taps0, sw = fdr_solver_cap_switchings(s) - sw0;
    printf("%s, %g-minute steps: %ld tap changes (OpenDSS %ld), %ld capacitor switchings "
           "(OpenDSS %ld), %d of %d steps differ (first %d), source P within %.1e\n",
           dss, step_min, taps, want_taps, sw, want_switchings, bad, nsteps, first_bad, worst_p);
    CHECK(taps == want_taps, "%s: %ld tap changes, OpenDSS %ld", dss, taps, want_taps);
    CHECK(sw == want_switchings, "%s: %ld switchings, OpenDSS %ld", dss, sw, want_switchings);
    CHECK(bad <= max_bad_steps, "%s: %d steps differ", dss, bad);
    CHECK(worst_p < 2e-4, "%s: source P off by %.2e", dss, worst_p);
    fdr_solver_free(s);
    fdr_circuit_free(c);
}

int main(void)
{
    run("ieee-dist/123Bus/daily-opendss-run.dss", "ieee123-1min-opendss-steps.csv", 1, 1440, 39, 0,
        0);
    run("ieee-dist/123Bus/daily-opendss-run.dss", "ieee123-15min-opendss-steps.csv", 15, 96, 39, 0,
        0);
    run("ieee-8500/daily-opendss-run.dss", "ieee8500-1min-opendss-steps.csv", 1, 1440, 238, 29, 2);
    run("ieee-8500/daily-opendss-run.dss", "ieee8500-15min-opendss-steps.csv", 15, 96, 472, 216, 4);
    return check_done("test_feeder_timeseries");
}
