/*
 * test_sweep.c: `flexbed sweep`. A 2x2 sweep (DSO threshold x seed) of the
 * demo-threshold variant with two workers writes four databases and a
 * summary.csv whose rows carry the parameters, the outputs and the status,
 * and a higher threshold moves the DSO's request window later. A run that
 * fails is reported while the others complete (exit 1), and a parameter
 * path that does not resolve is exit status 2 naming parameters[0].path,
 * before anything is written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proc.h"

#define SCN FLEXBED_SOURCE_DIR "/scenarios/variants/demo-threshold.json"
#define EULV FLEXBED_SOURCE_DIR "/scenarios/eu-lv-feeder.json"

/* Split one CSV line (no quoted fields here) into at most max cells. */
static int split(char *line, char **cells, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *s = line; n < max;) {
        cells[n++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

/* Monte Carlo: the EU LV feeder to 21:00 (its cars' sessions are drawn)
 * with three seeds; summary-ci.csv's mean, sd and 95 % interval must be
 * what the three rows of summary.csv give. */
static void test_monte_carlo(const char *tmp)
{
    char sweep[512], out[512], path[600];
    struct proc_result r;
    snprintf(sweep, sizeof sweep, "%s/mc.json", tmp);
    check_write_file(sweep, "{\"name\": \"mc\", \"scenario\": \"" EULV "\",\n"
                      " \"parameters\": [{\"path\": \"end\", \"values\": "
                      "[\"2024-01-15T21:00:00+00:00\"]}],\n"
                      " \"monte_carlo\": {\"seeds\": 3, \"first_seed\": 7},\n"
                      " \"outputs\": [{\"name\": \"ev_kwh\", \"signal\": \"ev1.e_in_kwh\","
                      " \"stat\": \"last\"},\n"
                      "   {\"name\": \"status_text\", \"report\": \"runs[0].status\"}]}\n");
    snprintf(out, sizeof out, "%s/mc", tmp);
    flexbed_run(tmp, 120, &r, "sweep", sweep, "-j", "2", "--out", out, NULL);
    CHECK(r.exit_code == 0, "monte carlo: exit %d: %s", r.exit_code, r.errs);
    CHECK_STR_CONTAINS(r.out, "over 3 seeds, 95 % confidence intervals");
    snprintf(path, sizeof path, "%s/summary.csv", out);
    FILE *f = fopen(path, "r");
    char line[1024];
    double x[3] = {0};
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *c[8];
        if (split(line, c, 8) == 6 && strcmp(c[0], "run")) {
            CHECK(!strcmp(c[2], n == 0 ? "7" : n == 1 ? "8" : "9"), "seed %s", c[2]);
            if (n < 3)
                x[n++] = atof(c[3]);
        }
    }
    if (f)
        fclose(f);
    CHECK_INT(n, 3);
    CHECK(x[0] != x[1] || x[1] != x[2], "three seeds gave the same EV energy %g", x[0]);
    double mean = (x[0] + x[1] + x[2]) / 3.0, ss = 0;
    for (int i = 0; i < 3; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(ss / 2.0), half = 4.302652729911275 * sd / sqrt(3.0); /* t(0.975, 2) */
    snprintf(path, sizeof path, "%s/summary-ci.csv", out);
    f = fopen(path, "r");
    CHECK(f != NULL, "no %s", path);
    char head[512] = "", row[512] = "";
    if (f) {
        if (!fgets(head, sizeof head, f) || !fgets(row, sizeof row, f))
            CHECK(0, "summary-ci.csv: fewer than 2 lines");
        CHECK(fgetc(f) == EOF, "summary-ci.csv: more than 2 lines");
        fclose(f);
    }
    /* the text output is not a number: left out */
    CHECK_STR_CONTAINS(head, "end,runs,ev_kwh_mean,ev_kwh_sd,ev_kwh_ci_low,ev_kwh_ci_high\n");
    char *c[8];
    CHECK_INT(split(row, c, 8), 6);
    CHECK(!strcmp(c[1], "3"), "runs %s", c[1]);
    CHECK(fabs(atof(c[2]) - mean) < 1e-8 * fabs(mean), "mean %s, want %.10g", c[2], mean);
    CHECK(fabs(atof(c[3]) - sd) < 1e-8 * sd, "sd %s, want %.10g", c[3], sd);
    CHECK(fabs(atof(c[4]) - (mean - half)) < 1e-8 * fabs(mean), "ci_low %s", c[4]);
    CHECK(fabs(atof(c[5]) - (mean + half)) < 1e-8 * fabs(mean), "ci_high %s", c[5]);

    /* a seed parameter besides monte_carlo, one seed: exit 2, nothing run */
    check_write_file(sweep, "{\"name\": \"mc2\", \"scenario\": \"" EULV "\",\n"
                      " \"parameters\": [{\"path\": \"seed\", \"values\": [1, 2]}],\n"
                      " \"monte_carlo\": {\"seeds\": 3}}\n");
    snprintf(out, sizeof out, "%s/mc2", tmp);
    flexbed_run(tmp, 30, &r, "sweep", sweep, "--out", out, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "parameters[0]: \"seed\" with monte_carlo");
    CHECK(!file_exists(out), "%s created", out);
    check_write_file(sweep, "{\"name\": \"mc3\", \"scenario\": \"" EULV "\",\n"
                      " \"monte_carlo\": {\"seeds\": 1}}\n");
    flexbed_run(tmp, 30, &r, "sweep", sweep, "--out", out, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "monte_carlo.seeds: expected a whole number 2..");
}

int main(void)
{
    char tmpl[] = "/tmp/flexbed-sweep-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_sweep");
    char sweep[512], out[512], path[600];
    struct proc_result r;

    /* 2 x 2, two workers. */
    snprintf(sweep, sizeof sweep, "%s/grid.json", tmp);
    check_write_file(sweep,
               "{\"name\": \"grid\", \"scenario\": \"" SCN "\",\n"
               " \"parameters\": [\n"
               "   {\"path\": \"components[name=oedas].threshold.limit_kw\", \"values\": [120, "
               "150]},\n"
               "   {\"path\": \"seed\", \"values\": [1, 2]}],\n"
               " \"outputs\": [\n"
               "   {\"name\": \"peak_kw\", \"signal\": \"transformer.p_kw\", \"stat\": \"max\"},\n"
               "   {\"name\": \"window_start\", \"report\": \"transformer.window_start\"},\n"
               "   {\"name\": \"delivered_kwh\", \"report\": \"total.delivered_kwh\"}]}\n");
    snprintf(out, sizeof out, "%s/out", tmp);
    double t0 = proc_now();
    flexbed_run(tmp, 60, &r, "sweep", sweep, "-j", "2", "--out", out, NULL);
    CHECK(r.exit_code == 0, "sweep: exit %d: %s", r.exit_code, r.errs);
    fprintf(stderr, "2x2 sweep: %.1f s\n", proc_now() - t0);
    CHECK_STR_CONTAINS(r.out, "grid: 4 of 4 runs completed");
    CHECK_STR_CONTAINS(r.out, "window_start");
    for (int i = 1; i <= 4; i++) {
        snprintf(path, sizeof path, "%s/run-%04d.db", out, i);
        CHECK(file_exists(path), "%s missing", path);
    }

    snprintf(path, sizeof path, "%s/summary.csv", out);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "no %s", path);
    char lines[5][512] = {{0}};
    int nl = 0;
    while (f && nl < 5 && fgets(lines[nl], sizeof lines[nl], f))
        nl++;
    CHECK(f && fgetc(f) == EOF, "summary.csv: more than 5 lines");
    if (f)
        fclose(f);
    CHECK_INT(nl, 5);
    CHECK_STR_CONTAINS(lines[0], "run,components[name=oedas].threshold.limit_kw,seed,peak_kw,"
                                 "window_start,delivered_kwh,status");
    char *c[5][8];
    for (int i = 0; i < nl; i++)
        CHECK_INT(split(lines[i], c[i], 8), 7);
    if (nl == 5) {
        /* Rows: the last parameter varies fastest. */
        static const char *const limit[] = {"120", "120", "150", "150"};
        static const char *const seed[] = {"1", "2", "1", "2"};
        for (int i = 1; i <= 4; i++) {
            char run[8];
            snprintf(run, sizeof run, "%d", i);
            CHECK(!strcmp(c[i][0], run), "row %d: run %s", i, c[i][0]);
            CHECK(!strcmp(c[i][1], limit[i - 1]), "row %d: limit %s", i, c[i][1]);
            CHECK(!strcmp(c[i][2], seed[i - 1]), "row %d: seed %s", i, c[i][2]);
            CHECK(!strcmp(c[i][6], "completed"), "row %d: status %s", i, c[i][6]);
            CHECK(atof(c[i][3]) > 100.0, "row %d: peak_kw %s", i, c[i][3]);
            CHECK(atof(c[i][5]) > 0.0, "row %d: delivered_kwh %s", i, c[i][5]);
            CHECK(strlen(c[i][4]) == 25, "row %d: window_start \"%s\"", i, c[i][4]);
        }
        /* A higher threshold: the load crosses it later, so the request's
         * window starts later (same seed). */
        for (int s = 1; s <= 2; s++)
            CHECK(strcmp(c[s + 2][4], c[s][4]) > 0, "seed %d: window at 150 kW %s, at 120 kW %s", s,
                  c[s + 2][4], c[s][4]);
    }

    /* A run that fails is reported; the others go on. */
    snprintf(sweep, sizeof sweep, "%s/fail.json", tmp);
    check_write_file(sweep, "{\"name\": \"fail\", \"scenario\": \"" SCN "\",\n"
                      " \"parameters\": [{\"path\": \"components[0].series.mode\",\n"
                      "                  \"values\": [\"bogus\", \"hold\"]}],\n"
                      " \"outputs\": [{\"name\": \"soc\", \"signal\": \"battery.soc\", "
                      "\"stat\": \"last\"}]}\n");
    snprintf(out, sizeof out, "%s/fail", tmp);
    flexbed_run(tmp, 60, &r, "sweep", sweep, "--out", out, NULL);
    CHECK_INT(r.exit_code, 1);
    CHECK_STR_CONTAINS(r.errs, "run 1 failed");
    CHECK_STR_CONTAINS(r.errs, "bogus");
    CHECK_STR_CONTAINS(r.out, "fail: 1 of 2 runs completed");
    snprintf(path, sizeof path, "%s/summary.csv", out);
    f = fopen(path, "r");
    CHECK(f != NULL, "no %s", path);
    char buf[1024] = "";
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    CHECK_STR_CONTAINS(buf, "1,bogus,,failed\n");
    CHECK_STR_CONTAINS(buf, "2,hold,0.");
    CHECK_STR_CONTAINS(buf, ",completed\n");

    /* A path that does not resolve: exit 2 before anything runs. */
    snprintf(sweep, sizeof sweep, "%s/bad.json", tmp);
    check_write_file(sweep, "{\"name\": \"bad\", \"scenario\": \"" SCN "\",\n"
                      " \"parameters\": [{\"path\": \"components[name=nobody].limit_kw\",\n"
                      "                  \"values\": [1, 2]}]}\n");
    snprintf(out, sizeof out, "%s/bad", tmp);
    flexbed_run(tmp, 30, &r, "sweep", sweep, "--out", out, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "bad.json: parameters[0].path");
    CHECK_STR_CONTAINS(r.errs, "nobody");
    CHECK(!file_exists(out), "%s created for a bad sweep", out);

    /* A threshold above the day's peak: nothing is bought, and no report
     * invents a window (it was 1970-01-01 before) */
    snprintf(sweep, sizeof sweep, "%s/nobuy.json", tmp);
    check_write_file(sweep, "{\"name\": \"nobuy\", \"scenario\": \"" SCN "\",\n"
                      " \"parameters\": [{\"path\": \"components[name=oedas].threshold.limit_kw\","
                      " \"values\": [200]}],\n"
                      " \"outputs\": [{\"name\": \"window_start\", \"report\":"
                      " \"transformer.window_start\"}]}\n");
    snprintf(out, sizeof out, "%s/nobuy", tmp);
    flexbed_run(tmp, 60, &r, "sweep", sweep, "--out", out, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK(strstr(r.out, "1970") == NULL, "sweep table shows 1970: %s", r.out);
    snprintf(path, sizeof path, "%s/summary.csv", out);
    f = fopen(path, "r");
    char nb[512] = "";
    if (f) {
        nb[fread(nb, 1, sizeof nb - 1, f)] = '\0';
        fclose(f);
    }
    CHECK_STR_CONTAINS(nb, "\n1,200,,completed\n");
    snprintf(path, sizeof path, "%s/run-0001.db", out);
    flexbed_run(tmp, 60, &r, "report", path, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK(strstr(r.out, "1970") == NULL, "text report shows 1970");
    CHECK_STR_CONTAINS(r.out, "flexibility delivered: none");
    flexbed_run(tmp, 60, &r, "report", path, "--format", "json", NULL);
    CHECK(strstr(r.out, "1970") == NULL, "JSON report shows 1970");
    CHECK_STR_CONTAINS(r.out, "\"window_start\":null");

    /* Outputs naming a signal or a report key that no run has: exit 2
     * naming the output, before anything runs. */
    static const struct {
        const char *output, *errs;
    } bad_out[] = {
        {"{\"name\": \"x\", \"signal\": \"transformer.p_kwx\", \"stat\": \"max\"}",
         "outputs[0].signal: the scenario publishes no signal \"transformer.p_kwx\""},
        {"{\"name\": \"x\", \"report\": \"total.delivered\"}",
         "outputs[0].report \"total.delivered\": no key \"delivered\" in \"total\""},
        {"{\"name\": \"x\", \"report\": \"nosuch\"}", "outputs[0].report \"nosuch\""},
    };
    for (size_t i = 0; i < sizeof bad_out / sizeof bad_out[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"name\": \"badout\", \"scenario\": \"" SCN "\",\n"
                 " \"parameters\": [{\"path\": \"seed\", \"values\": [1, 2]}],\n"
                 " \"outputs\": [%s]}\n",
                 bad_out[i].output);
        snprintf(sweep, sizeof sweep, "%s/badout.json", tmp);
        check_write_file(sweep, text);
        snprintf(out, sizeof out, "%s/badout", tmp);
        flexbed_run(tmp, 30, &r, "sweep", sweep, "--out", out, NULL);
        CHECK_INT(r.exit_code, 2);
        CHECK_STR_CONTAINS(r.errs, bad_out[i].errs);
        CHECK(!file_exists(out), "%s created for a sweep with a bad output", out);
    }
    /* ... while a key inside an array (which only a run fills) is taken. */
    snprintf(sweep, sizeof sweep, "%s/arrayout.json", tmp);
    check_write_file(sweep, "{\"name\": \"arrayout\", \"scenario\": \"" SCN "\",\n"
                      " \"parameters\": [{\"path\": \"seed\", \"values\": [1]}],\n"
                      " \"outputs\": [{\"name\": \"bat\", \"report\":"
                      " \"assets[name=battery storage].delivered_kwh\"}]}\n");
    snprintf(out, sizeof out, "%s/arrayout", tmp);
    flexbed_run(tmp, 60, &r, "sweep", sweep, "--out", out, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "7.208");

    test_monte_carlo(tmp);

    /* --help documents the command. */
    flexbed_run(tmp, 30, &r, "sweep", "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "usage: flexbed sweep SWEEP.json");

    rm_tree(tmp);
    return check_done("test_sweep");
}
