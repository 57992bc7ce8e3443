/*
 * test_cli.c: the command line as a user meets it. Runs the real flexbed
 * binary on the demo slice and on broken scenarios and checks exit codes,
 * messages, the database it leaves (or does not leave), determinism across
 * two runs with one seed, clean interruption by SIGINT, reports and plots.
 */
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "check.h"
#include "proc.h"

#define DEMO FLEXBED_SOURCE_DIR "/scenarios/demo-2023-10-02.json"
#define DATA FLEXBED_TEST_DATA "/integration"

static double query_double(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    double v = NAN;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_double(st, 0);
        else
            fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(h));
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static void query_text(const char *db, const char *sql, char *out, size_t n)
{
    sqlite3 *h = NULL;
    out[0] = '\0';
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
}

/* A digest of every result table that must be identical across runs:
 * signals, samples and events (the runs table holds wall-clock times). */
static unsigned long long result_digest(const char *db, long *rows)
{
    static const char *const sqls[] = {
        "SELECT name || '|' || unit || '|' || component FROM signals ORDER BY id",
        "SELECT s.name || '|' || x.t_us || '|' || printf('%.17g', x.value) FROM samples x "
        "JOIN signals s ON s.id = x.signal_id ORDER BY x.rowid",
        "SELECT t_us || '|' || component || '|' || kind || '|' || severity || '|' || "
        "printf('%.17g', value) || '|' || message FROM events ORDER BY id",
    };
    unsigned long long h = 1469598103934665603ULL;
    sqlite3 *db_h = NULL;
    *rows = 0;
    if (sqlite3_open_v2(db, &db_h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 0;
    for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db_h, sqls[i], -1, &st, NULL) != SQLITE_OK) {
            fprintf(stderr, "digest query failed: %s\n", sqlite3_errmsg(db_h));
            continue;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            for (; t && *t; t++)
                h = (h ^ *t) * 1099511628211ULL;
            h = (h ^ '\n') * 1099511628211ULL;
            (*rows)++;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db_h);
    return h;
}

static void test_help(const char *tmp)
{
    struct proc_result r;
    flexbed_run(tmp, 10, &r, "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "run SCENARIO");
    flexbed_run(tmp, 10, &r, "run", "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "--realtime");
    flexbed_run(tmp, 10, &r, "report", "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "--format");
    flexbed_run(tmp, 10, &r, "frobnicate", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "unknown command");
    flexbed_run(tmp, 10, &r, "run", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "missing SCENARIO");
    flexbed_run(tmp, 10, &r, "run", DEMO, "--seed", "minus-one", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--seed");
}

static void test_bad_input(const char *tmp)
{
    struct proc_result r;
    char db[512];
    snprintf(db, sizeof db, "%s/bad.db", tmp);

    flexbed_run(tmp, 10, &r, "run", DATA "/bad-key.json", "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "bad-key.json: components[0].scael: unknown key");
    CHECK(!file_exists(db), "a bad scenario must not leave a database behind");

    flexbed_run(tmp, 10, &r, "run", DATA "/dangling.json", "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "components[1].loads[1]");
    CHECK_STR_CONTAINS(r.errs, "lod");
    CHECK(!file_exists(db), "a dangling reference must not leave a database behind");

    flexbed_run(tmp, 10, &r, "run", DATA "/does-not-exist.json", "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "does-not-exist.json");

    flexbed_run(tmp, 10, &r, "report", DATA "/bad-key.json", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "bad-key.json");

    /* record.signals: only what the patterns name is stored; a pattern
     * that names nothing is exit 2 before anything is written */
    flexbed_run(tmp, 30, &r, "run", DATA "/record-signals.json", "--out", db, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "recorded   3 signals, 540 samples");
    CHECK(query_double(db, "SELECT count(*) FROM signals WHERE name IN ('transformer.p_kw',"
                           " 'battery.soc', 'battery.setpoint_kw')") == 3,
          "the three signals named");
    CHECK(query_double(db, "SELECT count(*) FROM signals") == 3, "nothing else");
    remove(db);
    flexbed_run(tmp, 30, &r, "run", DATA "/record-typo.json", "--out", db, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "record.signals[2]: \"transfomer.theta_hs_degc\" matches no signal");
    CHECK(!file_exists(db), "a record typo must not leave a database behind");

    /* bench powerflow: a library that is not OpenDSS, a bad controls mode */
    flexbed_run(tmp, 30, &r, "bench", "powerflow", "--steps", "1", "--repeat", "1", "--opendss",
                DATA "/bad-key.json", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--opendss: cannot load");
    CHECK_STR_CONTAINS(r.out, "power flow:"); /* flexbed's own figures still come */
    flexbed_run(tmp, 10, &r, "bench", "powerflow", "--controls", "dynamic", NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "--controls dynamic: expected static or time");
}

static void test_demo_slice(const char *tmp)
{
    struct proc_result r;
    char db1[512], db2[512], db3[512];
    snprintf(db1, sizeof db1, "%s/one.db", tmp);
    snprintf(db2, sizeof db2, "%s/two.db", tmp);
    snprintf(db3, sizeof db3, "%s/three.db", tmp);

    flexbed_run(tmp, 60, &r, "run", DEMO, "--out", db1, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "completed");
    CHECK(r.errs[0] == '\0', "piped run must print nothing on stderr, got: %s", r.errs);

    char status[64];
    query_text(db1, "SELECT group_concat(variant || ':' || status, ' ') FROM runs", status,
               sizeof status);
    CHECK(!strcmp(status, "main:completed counterfactual:completed"), "runs %s", status);
    /* One day of one-minute steps: 1440 samples of the transformer. */
    double n = query_double(db1, "SELECT count(*) FROM samples x JOIN signals s ON "
                                 "s.id = x.signal_id WHERE s.name = 'transformer.p_kw' AND "
                                 "s.run_id = 1");
    CHECK_NEAR(n, 1440, 0);
    /* The reconstructed base load averages about 111 kW over the window
     * 16:00-16:45 local (13:00-13:45 UTC). */
    double mean = query_double(
        db1, "SELECT avg(x.value) FROM samples x JOIN signals s ON s.id = x.signal_id "
             "WHERE s.name = 'base_load.p_kw' AND s.run_id = 1 AND x.t_us >= 1696251600000000 "
             "AND x.t_us < 1696254300000000");
    CHECK_NEAR(mean, 111.0, 0.5);
    /* The transformer carries exactly the loads it feeds, assets included
     * (power balance at every sample of the main run). */
    double dmax =
        query_double(db1, "SELECT max(abs(t.value - b.value - c.value - e.value)) FROM samples t "
                          "JOIN signals st ON st.id = t.signal_id AND st.run_id = 1 "
                          "AND st.name = 'transformer.p_kw' "
                          "JOIN signals sb ON sb.run_id = 1 AND sb.name = 'base_load.p_kw' "
                          "JOIN samples b ON b.signal_id = sb.id AND b.t_us = t.t_us "
                          "JOIN signals sc ON sc.run_id = 1 AND sc.name = 'battery.p_kw' "
                          "JOIN samples c ON c.signal_id = sc.id AND c.t_us = t.t_us "
                          "JOIN signals se ON se.run_id = 1 AND se.name = 'ev.p_kw' "
                          "JOIN samples e ON e.signal_id = se.id AND e.t_us = t.t_us");
    CHECK(dmax < 1e-9, "transformer.p_kw differs from the sum of its loads by %g kW", dmax);

    /* Same seed, same bytes; another seed still runs. */
    flexbed_run(tmp, 60, &r, "run", DEMO, "--out", db2, NULL);
    CHECK_INT(r.exit_code, 0);
    long rows1 = 0, rows2 = 0;
    unsigned long long d1 = result_digest(db1, &rows1);
    unsigned long long d2 = result_digest(db2, &rows2);
    CHECK(rows1 > 1440, "digest saw only %ld rows", rows1);
    CHECK(d1 == d2 && rows1 == rows2,
          "two runs with one seed differ: %llx (%ld rows) vs %llx "
          "(%ld rows)",
          d1, rows1, d2, rows2);
    flexbed_run(tmp, 60, &r, "run", DEMO, "--out", db3, "--seed", "7", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_NEAR(query_double(db3, "SELECT seed FROM runs WHERE id = 1"), 7, 0);

    /* Reports. */
    flexbed_run(tmp, 30, &r, "report", db1, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "transformer.p_kw");
    flexbed_run(tmp, 30, &r, "report", db1, "--format", "json", NULL);
    CHECK_INT(r.exit_code, 0);
    cJSON *j = cJSON_Parse(r.out);
    CHECK(j != NULL, "report --format json is not JSON: %.200s", r.out);
    cJSON_Delete(j);
    flexbed_run(tmp, 30, &r, "report", db1, "--format", "csv", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "transformer.p_kw");
    flexbed_run(tmp, 30, &r, "report", db1, "--format", "xml", NULL);
    CHECK_INT(r.exit_code, 2);

    /* Plots, when gnuplot is installed (make test installs it). */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/plots", tmp);
        flexbed_run(tmp, 60, &r, "plot", db1, "--out", dir, NULL);
        CHECK_INT(r.exit_code, 0);
        CHECK_STR_CONTAINS(r.out, ".png");
        CHECK_STR_CONTAINS(r.out, ".svg");
    }
}

static void test_interrupt(const char *tmp)
{
    char db[512];
    snprintf(db, sizeof db, "%s/int.db", tmp);
    /* At 3600x the demo day takes 24 s of wall time: stop it after ~1 s. */
    char *argv[] = {
        (char *)FLEXBED_BINARY, "run", (char *)DEMO, "--out", db, "--speed", "3600", NULL};
    pid_t pid = proc_start(tmp, argv);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    kill(pid, SIGINT);
    struct proc_result r;
    proc_wait(tmp, pid, 10, &r);
    CHECK_INT(r.exit_code, 130);
    CHECK_STR_CONTAINS(r.out, "interrupted");
    char status[64];
    query_text(db, "SELECT group_concat(status, ' ') FROM runs", status, sizeof status);
    CHECK(!strcmp(status, "interrupted"), "status after SIGINT: %s", status);
    double n = query_double(db, "SELECT count(*) FROM samples x JOIN signals s ON "
                                "s.id = x.signal_id WHERE s.name = 'transformer.p_kw'");
    CHECK(n > 0 && n < 1440, "samples kept after interruption: %g", n);
    double reached =
        query_double(db, "SELECT sim_reached_us - sim_start_us FROM runs WHERE id = 1");
    CHECK(reached > 0 && reached < 86400e6, "sim_reached after interruption: %g", reached);
}

/* kill -9 of a long run: the database opens, passes PRAGMA integrity_check,
 * keeps what the run stored (it commits at least every 2 s of wall time),
 * the run is not marked completed, and the report says its figures are
 * partial. */
static void test_kill9(const char *tmp)
{
    char db[512];
    snprintf(db, sizeof db, "%s/killed.db", tmp);
    char *argv[] = {(char *)FLEXBED_BINARY,
                    "run",
                    FLEXBED_SOURCE_DIR "/scenarios/scale/eu-lv-year.json",
                    "--out",
                    db,
                    NULL};
    pid_t pid = proc_start(tmp, argv);
    CHECK(pid > 0, "start the run");
    if (pid <= 0)
        return;
    /* until something is committed (bounded: 60 s), then at once */
    double t0 = proc_now();
    double n = 0;
    while (proc_now() - t0 < 60 && n <= 0) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (file_exists(db))
            n = query_double(db, "SELECT count(*) FROM samples");
        if (isnan(n))
            n = 0;
    }
    kill(pid, SIGKILL);
    struct proc_result r;
    proc_wait(tmp, pid, 10, &r);
    CHECK(n > 0, "nothing was committed within 60 s");
    char text[64];
    query_text(db, "PRAGMA integrity_check", text, sizeof text);
    CHECK(!strcmp(text, "ok"), "integrity_check: %s", text);
    query_text(db, "SELECT status FROM runs WHERE id = 1", text, sizeof text);
    CHECK(strcmp(text, "completed"), "a killed run is marked %s", text);
    CHECK(query_double(db, "SELECT count(*) FROM samples") > 0, "the committed samples are kept");
    flexbed_run(tmp, 60, &r, "report", db, NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "stopped without finishing (killed, crashed): the figures below are "
                              "partial");
}

int main(void)
{
    char tmp[] = "/tmp/flexbed-cli-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_help(tmp);
    test_bad_input(tmp);
    test_demo_slice(tmp);
    test_interrupt(tmp);
    test_kill9(tmp);
    rm_tree(tmp);
    return check_done("test_cli");
}
