/*
 * bench_report.c: `flexbed bench report`, what reporting and plotting a
 * large run cost beside the run that made it. It runs a scenario (by
 * default scenarios/scale/eu-lv-week-40.json: the IEEE EU LV feeder for
 * seven days with 20 batteries and 20 EVs, about 4 million samples) into a
 * temporary database, then times `flexbed report` as text and as JSON and
 * `flexbed plot` on it, and prints each against the run's own time.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../platform/platform.h"
#include "../results/results.h"
#include "bench.h"
#include "cli.h"
#include "runner.h"

static void usage(FILE *f)
{
    fputs("usage: flexbed bench report [--scenario PATH] [--no-plot]\n"
          "\n"
          "Run a scenario into a temporary database, then time the text and JSON\n"
          "reports and the plots of it, each beside the run's own wall time.\n"
          "\n"
          "  --scenario PATH  default scenarios/scale/eu-lv-week-40.json (7 days,\n"
          "                   IEEE EU LV feeder, 20 batteries, 20 EVs)\n"
          "  --no-plot        skip the plots (gnuplot not installed)\n",
          f);
}

int bench_report(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {
        {"scenario", required_argument, NULL, 's'},
        {"no-plot", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *scenario = FLEXBED_SOURCE_DIR "/scenarios/scale/eu-lv-week-40.json";
    int plot = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            scenario = optarg;
            break;
        case 'P':
            plot = 0;
            break;
        case 'h':
            usage(out);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("report", argc, argv, usage))
        return 2;
    char dir[] = "/tmp/flexbed-bench-report-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("flexbed bench report: mkdtemp");
        return 1;
    }
    char db[64], plots[64];
    snprintf(db, sizeof db, "%s/run.db", dir);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    int code = 1;
    res_store *s = NULL;
    FILE *null = NULL;

    struct run_opts o = {.quiet = 1};
    struct runner_job job = {.path = scenario, .no_counterfactual = 0, .out_path = db};
    double t0 = bench_now_s();
    int rc = runner_run(&job, &o);
    double t_run = bench_now_s() - t0;
    if (rc) {
        fprintf(stderr, "flexbed bench report: the run of %s failed (exit %d)\n", scenario, rc);
        code = rc == 2 ? 2 : 1;
        goto done;
    }
    struct stat st;
    stat(db, &st);
    struct sim_err err = {{0}};
    if (res_store_open(db, RES_OPEN_READ, &s, &err)) {
        fprintf(stderr, "flexbed bench report: %s\n", err.msg);
        goto done;
    }
    sqlite3_stmt *q = NULL;
    long long samples = 0;
    if (sqlite3_prepare_v2(res_store_db(s), "SELECT count(*) FROM samples", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        samples = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    fprintf(out, "scenario  %s\n", scenario);
    fprintf(out, "run       %8.2f s  (%lld samples, database %.0f MB)\n", t_run, samples,
            (double)st.st_size / 1e6);
    if (!(null = fopen("/dev/null", "w")))
        goto done;
    static const struct {
        enum res_format fmt;
        const char *name;
    } fmts[] = {{RES_TEXT, "report    "}, {RES_JSON, "report -f json"}};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        t0 = bench_now_s();
        if (cli_report_write(s, fmts[i].fmt, null, 0, &err)) {
            fprintf(stderr, "flexbed bench report: %s\n", err.msg);
            goto done;
        }
        double t = bench_now_s() - t0;
        fprintf(out, "%-14s %8.3f s  (%.4f x the run)\n", fmts[i].name, t, t / t_run);
    }
    if (plot) {
        FILE *written = fopen("/dev/null", "w");
        t0 = bench_now_s();
        rc = plt_plot(res_store_db(s), plots, written, &err);
        if (!rc || rc == SIM_ENOENT)
            rc = res_plot(s, plots, written, &err);
        double t = bench_now_s() - t0;
        if (written)
            fclose(written);
        if (rc) {
            fprintf(stderr, "flexbed bench report: plot: %s\n", err.msg);
            goto done;
        }
        fprintf(out, "%-14s %8.3f s  (%.4f x the run)\n", "plot", t, t / t_run);
    }
    code = 0;
done:
    if (null)
        fclose(null);
    res_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "flexbed bench report: could not remove %s\n", dir);
    return code;
}
