/*
 * bench_scale.c: the scale benchmarks of issue 12.
 *
 * `flexbed bench city`, a city of feeders for a day. It
 * writes a scenario with `flexbed generate city` (N IEEE European LV
 * feeders, their households, EVs, batteries, FSPs and DSOs under one
 * market) into a temporary directory, runs it as `flexbed run` does (the
 * main run; with --counterfactual also the market-off run a report
 * compares with), and prints the wall and CPU time, simulated time per
 * wall second, the peak memory of the process and the database's size.
 * The target: 100 feeders for a day in under 60 s on one core.
 *
 * `flexbed bench year`: scenarios/scale/eu-lv-year.json, the European LV
 * feeder with its batteries and cars for a year of one-minute steps
 * (525 600), recording four signals every 15 minutes; the same figures.
 * The target: under 60 s on one core.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "runner.h"

#ifndef FLEXBED_SOURCE_DIR
#define FLEXBED_SOURCE_DIR "."
#endif
#define YEAR_REL "scenarios/scale/eu-lv-year.json"

static void usage(FILE *f)
{
    fputs("usage: flexbed bench city [--feeders N] [--counterfactual] [--keep DIR]\n"
          "\n"
          "Generate a city of N IEEE European LV feeders (flexbed generate city, seed 1:\n"
          "55 households, 20 EVs with real sessions, 5 batteries each offered by an FSP,\n"
          "a DSO and a dispatch platform per feeder, one market) and run it for a day at\n"
          "one-minute steps; report wall and CPU time, the process's peak memory and the\n"
          "database's size.\n"
          "\n"
          "  --feeders N       feeders (default 100)\n"
          "  --counterfactual  also the market-off run (as flexbed run does by default)\n"
          "  --keep DIR        write the scenario and database into DIR and keep them\n"
          "                    (default: a temporary directory, removed)\n",
          f);
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The figures both benchmarks end with: CPU time, peak memory, the
 * database's size. */
static void print_costs(FILE *out, double cpu, const char *db, int keep)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct stat st;
    double mb = stat(db, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    fprintf(out, "  cpu           %8.1f s\n", cpu);
    fprintf(out, "  peak memory   %8.0f MB  (resident, the whole process)\n",
            (double)ru.ru_maxrss / 1024.0);
    fprintf(out, "  database      %8.1f MB  %s%s\n", mb, db, keep ? "" : " (removed)");
}

/* Remove the database (and its SQLite companions) and the directory. */
static void remove_run(const char *db, const char *dir)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
    if (dir && *dir)
        rmdir(dir);
}

int bench_city(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {{"feeders", required_argument, NULL, 'n'},
                                         {"counterfactual", no_argument, NULL, 'c'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long long feeders = 100;
    int counterfactual = 0, c;
    const char *keep = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (bench_count("city", "--feeders", optarg, 1, 999, &feeders))
                return 2;
            break;
        case 'c':
            counterfactual = 1;
            break;
        case 'k':
            keep = optarg;
            break;
        case 'h':
            usage(out);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("city", argc, argv, usage))
        return 2;
    char dir[PATH_MAX - 32];
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        if (mkdir(dir, 0755) && errno != EEXIST) {
            fprintf(stderr, "flexbed bench city: --keep %s: %s\n", dir, strerror(errno));
            return 2;
        }
    } else {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/flexbed-city-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "flexbed bench city: temporary directory: %s\n", strerror(errno));
            return 1;
        }
    }
    char scn[PATH_MAX], db[PATH_MAX], nf[32];
    snprintf(scn, sizeof scn, "%s/city.json", dir);
    snprintf(db, sizeof db, "%s/city.db", dir);
    snprintf(nf, sizeof nf, "%lld", feeders);
    char *gargv[] = {"generate", "city", "--feeders", nf, "--out", scn, NULL};
    fflush(out);
    int rc = cmd_generate(6, gargv);
    if (rc)
        return rc == CLI_USAGE ? 2 : 1;
    unlink(db);
    struct run_opts o = {.quiet = 1};
    struct runner_job job = {
        .path = scn, .out_path = db, .no_counterfactual = !counterfactual, .print = 0};
    double w0 = bench_now_s(), c0 = cpu_s();
    rc = runner_run(&job, &o);
    double wall = bench_now_s() - w0, cpu = cpu_s() - c0;
    if (rc) {
        fprintf(stderr, "flexbed bench city: the run failed (exit status %d)\n", rc);
    } else {
        fprintf(out,
                "city: %lld IEEE European LV feeders (%lld households, %lld EVs, %lld "
                "batteries and FSPs, %lld DSOs), one day at one-minute steps%s\n",
                feeders, 55 * feeders, 20 * feeders, 5 * feeders, feeders,
                counterfactual ? ", main and counterfactual runs" : "");
        fprintf(out, "  wall          %8.1f s  (%.0fx real time)\n", wall,
                86400.0 * (counterfactual ? 2 : 1) / wall);
        print_costs(out, cpu, db, keep != NULL);
    }
    if (!keep) {
        unlink(scn);
        remove_run(db, dir);
    }
    return rc ? 1 : 0;
}

static void year_usage(FILE *f)
{
    fputs("usage: flexbed bench year [--scenario PATH] [--keep DB]\n"
          "\n"
          "Run the European LV feeder with its two batteries and four cars for a year\n"
          "of one-minute steps (" YEAR_REL ", found in the source tree flexbed was\n"
          "built from, else relative to the current directory) and report wall and\n"
          "CPU time, steps per second, the process's peak memory and the database's\n"
          "size.\n"
          "\n"
          "  --scenario PATH  another scenario to time the same way\n"
          "  --keep DB        write the database there and keep it (default: a\n"
          "                   temporary file, removed)\n",
          f);
}

int bench_year(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {{"scenario", required_argument, NULL, 's'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *scn = NULL, *keep = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            scn = optarg;
            break;
        case 'k':
            keep = optarg;
            break;
        case 'h':
            year_usage(out);
            return 0;
        default:
            year_usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("year", argc, argv, year_usage))
        return 2;
    char sbuf[PATH_MAX];
    if (!scn) {
        snprintf(sbuf, sizeof sbuf, "%s/%s", FLEXBED_SOURCE_DIR, YEAR_REL);
        if (access(sbuf, R_OK))
            snprintf(sbuf, sizeof sbuf, "%s", YEAR_REL);
        scn = sbuf;
    }
    char dir[PATH_MAX - 32] = "", db[PATH_MAX];
    if (keep) {
        if (access(keep, F_OK) == 0) {
            fprintf(stderr, "flexbed bench year: --keep %s exists; give a new path\n", keep);
            return 2;
        }
        snprintf(db, sizeof db, "%s", keep);
    } else {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/flexbed-year-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "flexbed bench year: temporary directory: %s\n", strerror(errno));
            return 1;
        }
        snprintf(db, sizeof db, "%s/year.db", dir);
    }
    struct run_opts o = {.quiet = 1};
    struct runner_job job = {.path = scn, .out_path = db, .no_counterfactual = 1};
    double w0 = bench_now_s(), c0 = cpu_s();
    int rc = runner_run(&job, &o);
    double wall = bench_now_s() - w0, cpu = cpu_s() - c0;
    if (rc) {
        fprintf(stderr, "flexbed bench year: %s: the run failed (exit status %d)\n", scn, rc);
    } else {
        fprintf(out, "year: %s, one run\n", scn);
        fprintf(out, "  wall          %8.1f s  (%.0f one-minute steps per second if a year)\n",
                wall, 525600.0 / wall);
        print_costs(out, cpu, db, keep != NULL);
    }
    if (!keep)
        remove_run(db, dir);
    return rc ? 1 : 0;
}
