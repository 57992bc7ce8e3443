/*
 * bench_powerflow.c: `flexbed bench powerflow`, how fast the feeder power
 * flow steps through a day. It wraps fdr_bench (models/feeder/feeder.h):
 * load the circuit, time the solver's set-up and its first (snapshot)
 * solve with the controls acting (what OpenDSS's first solve after compile
 * does), then solve N one-minute steps with its load shapes applied,
 * timing the steps only; repeated R times. It prints the
 * best and median times, steps per second, and a year of one-minute steps
 * extrapolated from the best. The target: the IEEE European LV
 * Test Feeder (906 buses, 55 loads), 1440 steps in under 0.5 s.
 *
 * Without --circuit the feeder is looked up in the source tree the binary
 * was built from (FLEXBED_SOURCE_DIR), then relative to the current
 * directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../models/feeder/feeder.h"
#include "bench.h"

#ifndef FLEXBED_SOURCE_DIR
#define FLEXBED_SOURCE_DIR "."
#endif

#define FEEDER_REL "tests/data/feeder/opendss/Master.dss"
#define FEEDER_REL2 "scenarios/data/eu-lv/Master.dss"
#define YEAR_STEPS 525600.0 /* one-minute steps in 365 days */

static void usage(FILE *f)
{
    fputs("usage: flexbed bench powerflow [--circuit PATH] [--steps N] [--repeat R]\n"
          "                              [--tolerance PU] [--controls static|time]\n"
          "                              [--opendss LIBDSS_CAPI.so]\n"
          "\n"
          "Load an OpenDSS circuit and solve N one-minute steps of its load shapes\n"
          "(unbalanced three-phase: the radial sweep where it applies, else the nodal\n"
          "solver; the heading says which), R times; report the time of the solver's\n"
          "set-up and first snapshot solve with regulators and capacitor controls\n"
          "acting (as OpenDSS's first solve after compile), the time of the steps\n"
          "(loading excluded), steps per second and a year of one-minute steps\n"
          "extrapolated.\n"
          "\n"
          "  --circuit PATH  Master.dss to load (default: the IEEE European LV Test\n"
          "                  Feeder, " FEEDER_REL " in the source tree)\n"
          "  --steps N       steps per repetition (default 1440, one day)\n"
          "  --repeat R      repetitions (default 5)\n"
          "  --tolerance PU  convergence: largest voltage change of an iteration, pu\n"
          "                  (default 1e-9; OpenDSS's default is 1e-4)\n"
          "  --controls MODE static (default): each step's controls as OpenDSS's\n"
          "                  static mode; time: as its controlmode=time (delays, one\n"
          "                  tap per action), the steps being one minute apart\n"
          "  --opendss LIB   also time OpenDSS on the same circuit in the same run,\n"
          "                  through a DSS C-API shared library you have\n"
          "                  (dss-extensions' libdss_capi.so; not part of flexbed), and\n"
          "                  print the ratios. OpenDSS keeps its tolerance (1e-4): add\n"
          "                  --tolerance 1e-4 for like for like. A circuit file that\n"
          "                  solves as it is compiled gives OpenDSS its Y matrix before\n"
          "                  the timed first solve\n",
          f);
}

static int readable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_powerflow(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {
        {"circuit", required_argument, NULL, 'c'},  {"steps", required_argument, NULL, 'n'},
        {"repeat", required_argument, NULL, 'r'},   {"tolerance", required_argument, NULL, 't'},
        {"controls", required_argument, NULL, 'm'}, {"opendss", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *circuit = NULL;
    long long steps = 1440, repeat = 5;
    double tol = 0;
    int time_mode = 0;
    const char *odss_lib = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:n:r:t:m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            circuit = optarg;
            break;
        case 'n':
            if (bench_count("powerflow", "--steps", optarg, 1, 100000000, &steps))
                return 2;
            break;
        case 'r':
            if (bench_count("powerflow", "--repeat", optarg, 1, 1000, &repeat))
                return 2;
            break;
        case 't': {
            char *end;
            tol = strtod(optarg, &end);
            if (end == optarg || *end || !(tol > 0 && tol < 1)) {
                fprintf(stderr,
                        "flexbed bench powerflow: --tolerance %s: expected a number between 0 "
                        "and 1 (pu)\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'm':
            if (!strcmp(optarg, "static") || !strcmp(optarg, "time")) {
                time_mode = !strcmp(optarg, "time");
                break;
            }
            fprintf(stderr, "flexbed bench powerflow: --controls %s: expected static or time\n",
                    optarg);
            return 2;
        case 'o':
            odss_lib = optarg;
            break;
        case 'h':
            usage(out);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("powerflow", argc, argv, usage))
        return 2;
    static char found[4096];
    if (!circuit) {
        const char *tries[3] = {FLEXBED_SOURCE_DIR "/" FEEDER_REL, FEEDER_REL, FEEDER_REL2};
        for (int i = 0; i < 3 && !circuit; i++)
            if (readable(tries[i])) {
                snprintf(found, sizeof found, "%s", tries[i]);
                circuit = found;
            }
        if (!circuit) {
            fprintf(stderr,
                    "flexbed bench powerflow: the IEEE European LV Test Feeder was not found at "
                    "%s/%s nor at ./%s or ./%s; give --circuit PATH/Master.dss\n",
                    FLEXBED_SOURCE_DIR, FEEDER_REL, FEEDER_REL, FEEDER_REL2);
            return 2;
        }
    } else {
        struct stat st;
        if (stat(circuit, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "flexbed bench powerflow: %s: %s\n", circuit,
                    S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
            return 2;
        }
    }

    double *t = calloc((size_t)repeat, sizeof *t), *t1 = calloc((size_t)repeat, sizeof *t1);
    if (!t || !t1) {
        free(t);
        free(t1);
        fputs("flexbed bench powerflow: out of memory\n", stderr);
        return 1;
    }
    const char *method = "";
    for (long long r = 0; r < repeat; r++) {
        struct sim_err err = {{0}};
        int rc = fdr_bench(circuit, (int)steps, tol, time_mode, &t[r], &t1[r], &method, &err);
        if (rc) {
            fprintf(stderr, "flexbed bench powerflow: %s\n", err.msg);
            free(t);
            free(t1);
            return rc == SIM_EINVAL ? 2 : 1;
        }
    }
    /* the heading only once the circuit has loaded and solved */
    fprintf(out,
            "power flow: %s, %s solver, tolerance %g pu, %s controls, %lld one-minute steps x "
            "%lld\n",
            circuit, method, tol > 0 ? tol : 1e-9, time_mode ? "time-mode" : "static", steps,
            repeat);
    qsort(t, (size_t)repeat, sizeof *t, cmp_double);
    qsort(t1, (size_t)repeat, sizeof *t1, cmp_double);
    double best = t[0], median = t[repeat / 2];
    fprintf(out,
            "  snapshot: solver set-up and first solve, controls acting: best %.3f ms, "
            "median %.3f ms\n",
            1e3 * t1[0], 1e3 * t1[repeat / 2]);
    fprintf(out, "  best   %8.4f s for %lld steps  %10.0f steps/s  %7.1f us/step\n", best, steps,
            steps / best, 1e6 * best / steps);
    fprintf(out, "  median %8.4f s for %lld steps  %10.0f steps/s\n", median, steps,
            steps / median);
    if (steps != 1440)
        fprintf(out, "  1440 steps (one day)          %8.4f s (best, scaled)\n",
                best / steps * 1440);
    fprintf(out, "  a year of one-minute steps    %8.1f s (best, extrapolated)\n",
            best / steps * YEAR_STEPS);
    int rc = 0;
    if (odss_lib) {
        struct odss *o = NULL;
        char why[1024];
        double *u = calloc((size_t)repeat, sizeof *u), *u1 = calloc((size_t)repeat, sizeof *u1);
        if (!u || !u1 || bench_opendss_open(odss_lib, &o, why, sizeof why)) {
            fprintf(stderr, "flexbed bench powerflow: --opendss: %s\n",
                    !u || !u1 ? "out of memory" : why);
            rc = 2;
        }
        for (long long r = 0; !rc && r < repeat; r++)
            if (bench_opendss_time(o, circuit, steps, time_mode, &u1[r], &u[r], why, sizeof why)) {
                fprintf(stderr, "flexbed bench powerflow: --opendss: %s\n", why);
                rc = 1;
            }
        if (!rc) {
            qsort(u, (size_t)repeat, sizeof *u, cmp_double);
            qsort(u1, (size_t)repeat, sizeof *u1, cmp_double);
            fprintf(out, "OpenDSS, same run (%s):\n", bench_opendss_version(o));
            fprintf(out,
                    "  snapshot: first solve after compile, controls acting: best %.3f ms, "
                    "median %.3f ms: flexbed %.1fx faster (medians)\n",
                    1e3 * u1[0], 1e3 * u1[repeat / 2], u1[repeat / 2] / t1[repeat / 2]);
            fprintf(out,
                    "  %lld one-minute steps (yearly mode, %s controls): best %.4f s, median "
                    "%.4f s: flexbed %.1fx faster (medians)\n",
                    steps, time_mode ? "time" : "static", u[0], u[repeat / 2],
                    u[repeat / 2] / median);
        }
        free(u);
        free(u1);
    }
    free(t);
    free(t1);
    return rc;
}
