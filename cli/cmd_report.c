/*
 * cmd_report.c: `flexbed report DB` and `flexbed plot DB`, thin shells over
 * results/: open the run database read-only and hand it to the report
 * writer or the plotter.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../platform/platform.h"
#include "../results/results.h"
#include "cli.h"

static void report_usage(FILE *f)
{
    fputs("usage: flexbed report DB [--format text|json|csv] [--brief]\n"
          "\n"
          "Summarise a run database written by `flexbed run`: the run (scenario,\n"
          "seed, status, simulated span in the scenario's local time), every\n"
          "recorded signal (unit, min, mean, max) and the logged events. A run with\n"
          "a market starts with its flexibility table: per asset the accepted power,\n"
          "delivered energy, delivery rate and final payment beside the published\n"
          "figures the scenario's \"report\" section gives, the load reduction\n"
          "against the counterfactual run, and whether the ledger verifies.\n"
          "\n"
          "  --format F   text (default, for people), json (stable keys, see\n"
          "               docs/results.md) or csv (one row per signal)\n"
          "  --brief      text: when the database holds a market, print the\n"
          "               flexibility table alone (what `make demo` shows);\n"
          "               json: each run without its signal and event lists\n"
          "               (their counts stay), then the flexibility members\n"
          "\n"
          "Runs are named by variant: \"main\", \"counterfactual\" (the same scenario\n"
          "with the market switched off, the base of the load reduction),\n"
          "\"market-off\" (--no-market), \"replay\" (run --replay).\n",
          f);
}

static void plot_usage(FILE *f)
{
    fputs("usage: flexbed plot DB [--out DIR]\n"
          "\n"
          "Draw the run's signals as PNG and SVG charts with gnuplot (run as a\n"
          "subprocess; install it with scripts/install-deps or apt-get install\n"
          "gnuplot-nox). Times are shown in the scenario's local time. A run with a\n"
          "market also gets the demo paper's two figures: fig11-transformer-load\n"
          "(load with and without the delivered flexibility) and\n"
          "fig10-asset-discharge (each asset's discharge power and SoC).\n"
          "\n"
          "  --out DIR    where to write the charts (created if missing);\n"
          "               default: DB's path without .db, followed by -plots\n",
          f);
}

static int open_db(const char *cmd, const char *path, res_store **s)
{
    struct sim_err err = {{0}};
    int rc = res_store_open(path, RES_OPEN_READ, s, &err);
    if (rc) {
        fprintf(stderr, "flexbed %s: %s\n", cmd, err.msg);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_report_write(res_store *s, int fmt, FILE *out, int brief, struct sim_err *err)
{
    char *members = NULL;
    int rc = fmt == RES_CSV ? SIM_ENOENT
                            : plt_report(res_store_db(s), (enum res_format)fmt, out, &members, err);
    if (rc && rc != SIM_ENOENT)
        return rc;
    /* text --brief: the flexibility table alone, when there is one */
    if (brief && fmt == RES_TEXT && rc == 0)
        return 0;
    rc = brief ? res_report_brief(s, (enum res_format)fmt, out, members, err)
               : res_report_ex(s, (enum res_format)fmt, out, members, err);
    cJSON_free(members);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"brief", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum res_format fmt = RES_TEXT;
    int c, brief = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:bh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brief = 1;
            break;
        case 'f':
            if (!strcmp(optarg, "text"))
                fmt = RES_TEXT;
            else if (!strcmp(optarg, "json"))
                fmt = RES_JSON;
            else if (!strcmp(optarg, "csv"))
                fmt = RES_CSV;
            else {
                fprintf(stderr,
                        "flexbed report: --format: expected text, json or csv, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'h':
            report_usage(stdout);
            return CLI_OK;
        default:
            report_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(optind >= argc ? "flexbed report: missing DB\n"
                             : "flexbed report: too many arguments\n",
              stderr);
        report_usage(stderr);
        return CLI_USAGE;
    }
    res_store *s = NULL;
    int ec = open_db("report", argv[optind], &s);
    if (ec)
        return ec;
    struct sim_err err = {{0}};
    /* A run with a market gets its flexibility table first (text) or its
     * members in the same JSON object. */
    int rc = cli_report_write(s, fmt, stdout, brief, &err);
    res_store_close(s);
    if (rc) {
        fprintf(stderr, "flexbed report: %s\n", err.msg);
        return cli_exit_code(rc);
    }
    return CLI_OK;
}

int cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *outdir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            outdir = optarg;
            break;
        case 'h':
            plot_usage(stdout);
            return CLI_OK;
        default:
            plot_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(optind >= argc ? "flexbed plot: missing DB\n" : "flexbed plot: too many arguments\n",
              stderr);
        plot_usage(stderr);
        return CLI_USAGE;
    }
    const char *db = argv[optind];
    char def[PATH_MAX];
    if (!outdir) {
        size_t n = strlen(db);
        if (n > 3 && !strcmp(db + n - 3, ".db"))
            n -= 3;
        snprintf(def, sizeof def, "%.*s-plots", (int)n, db);
        outdir = def;
    }
    res_store *s = NULL;
    int ec = open_db("plot", db, &s);
    if (ec)
        return ec;
    struct sim_err err = {{0}};
    int rc = plt_plot(res_store_db(s), outdir, stdout, &err);
    if (rc == SIM_ENOENT && strstr(err.msg, "gnuplot"))
        goto fail;
    rc = res_plot(s, outdir, stdout, &err);
fail:
    res_store_close(s);
    if (rc) {
        fprintf(stderr, "flexbed plot: %s\n", err.msg);
        return rc == SIM_ENOENT ? CLI_FAIL : cli_exit_code(rc);
    }
    return CLI_OK;
}
