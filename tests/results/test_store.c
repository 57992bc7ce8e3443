/*
 * test_store.c: the result store keeps what a run writes, exactly, and
 * stays consistent when the run does not end well.
 *
 * Proves: a round trip (runs, signals, samples bit for bit, events, every
 * end status) through a reopen in READ mode; that batches commit at the
 * batch size and not before; that closing without res_run_end, or dying
 * without closing, leaves a readable database whose run says 'running';
 * that foreign files are refused with "not a flexbed result database"
 * (and not deleted by CREATE); and that the result tables of two identical
 * runs are identical.
 */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "results/internal.h"

static char dir[64];

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static void remove_dir(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        unlink(p);
    }
    closedir(dp);
    rmdir(d);
}

/* One integer from a query on the store's connection (-1 on error). */
static long long query_int(res_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(res_store_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static long long count_in(const char *path, const char *sql)
{
    res_store *s = NULL;
    struct sim_err err = {{0}};
    if (res_store_open(path, RES_OPEN_READ, &s, &err)) {
        fprintf(stderr, "open %s: %s\n", path, err.msg);
        return -1;
    }
    long long v = query_int(s, sql);
    res_store_close(s);
    return v;
}

static const sim_time_us T0 = INT64_C(1696204800) * SIM_US_PER_S; /* 2023-10-02T00:00Z */

static struct res_run_info info_for(const char *name, uint64_t seed)
{
    struct res_run_info info = {
        .scenario_name = name,
        .scenario_path = "scenarios/demo.json",
        .scenario_text = "{\"name\": \"demo\"}",
        .seed = seed,
        .sim_start = T0,
        .sim_end = T0 + SIM_US_PER_H,
        .step = SIM_US_PER_MIN,
        .utc_offset_s = 3 * 3600,
        .version = "9.9.9",
    };
    return info;
}

/* Values that are hard to keep exactly: tiny, huge, repeating fractions. */
static const double vals[] = {0.1, -123.456, 1.0 / 3.0, 1e-300, DBL_MAX, 5e-324, 42.0, -7.25};
#define NVALS ((int)(sizeof vals / sizeof vals[0]))

static void test_round_trip(void)
{
    char path[128];
    path_in(path, sizeof path, "round.db");
    struct sim_err err = {{0}};
    res_store *s = NULL;
    CHECK_INT(res_store_open(path, RES_OPEN_CREATE, &s, &err), 0);
    if (!s)
        return;
    CHECK_INT(query_int(s, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);

    static const enum res_status ends[] = {RES_COMPLETED, RES_INTERRUPTED, RES_FAILED, RES_RUNNING};
    int64_t run[4], sig[4][3];
    for (int r = 0; r < 4; r++) {
        struct res_run_info info = info_for("demo", r == 0 ? UINT64_MAX : (uint64_t)r);
        CHECK_INT(res_run_begin(s, &info, &run[r], &err), 0);
        CHECK_INT(res_signal_add(s, run[r], "battery.p_kw", "kW", "battery", &sig[r][0], &err), 0);
        CHECK_INT(res_signal_add(s, run[r], "battery.soc", "%", "battery", &sig[r][1], &err), 0);
        CHECK_INT(res_signal_add(s, run[r], "grid.p_kw", "kW", NULL, &sig[r][2], &err), 0);
        for (int i = 0; i < NVALS; i++) {
            double v[3] = {vals[i], -vals[i], i == 3 ? NAN : (double)i};
            CHECK_INT(res_samples(s, T0 + i * SIM_US_PER_MIN, sig[r], v, 3, &err), 0);
        }
        CHECK_INT(res_event(s, run[r], T0 + 5 * SIM_US_PER_MIN, "battery", "soc_min", 1, 0.05,
                            "SoC at minimum", &err),
                  0);
        CHECK_INT(res_event(s, run[r], T0, NULL, "start", 0, NAN, NULL, &err), 0);
        CHECK_INT(res_run_end(s, run[r], ends[r], T0 + 30 * SIM_US_PER_MIN,
                              r == 2 ? "battery: step failed" : NULL, &err),
                  0);
    }
    /* Errors: duplicate signal, unknown run, bad severity. */
    int64_t dummy;
    CHECK_INT(res_signal_add(s, run[0], "battery.soc", "%", "battery", &dummy, &err), SIM_EEXIST);
    CHECK_STR_CONTAINS(err.msg, "battery.soc");
    CHECK_INT(res_signal_add(s, 999, "x.y", "1", "x", &dummy, &err), SIM_ENOENT);
    CHECK_INT(res_event(s, run[0], T0, "x", "k", 3, 0, NULL, &err), SIM_EINVAL);
    CHECK_INT(res_event(s, 999, T0, "x", "k", 0, 0, NULL, &err), SIM_ENOENT);
    CHECK_INT(res_run_end(s, 999, RES_COMPLETED, T0, NULL, &err), SIM_ENOENT);
    res_store_close(s);

    s = NULL;
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), 0);
    if (!s)
        return;
    CHECK_INT(query_int(s, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='schema_version'"),
              RES_SCHEMA_VERSION);
    CHECK_INT(query_int(s, "SELECT count(*) FROM sqlite_schema WHERE name='samples_signal_t'"), 1);
    CHECK_INT(query_int(s, "SELECT count(*) FROM samples"), 4 * 3 * NVALS);
    CHECK_INT(query_int(s, "SELECT count(*) FROM samples WHERE value IS NULL"), 4);
    CHECK_INT(query_int(s, "SELECT count(*) FROM events"), 8);

    struct res_run_row *rows = NULL;
    int n = 0;
    CHECK_INT(res_runs_load(s, &rows, &n, &err), 0);
    CHECK_INT(n, 4);
    for (int r = 0; r < n && r < 4; r++) {
        CHECK_INT(rows[r].id, run[r]);
        CHECK(!strcmp(rows[r].status, res_status_name(ends[r])), "run %d status %s", r,
              rows[r].status);
        CHECK(!strcmp(rows[r].scenario_name, "demo"), "%s", rows[r].scenario_name);
        CHECK(!strcmp(rows[r].version, "9.9.9"), "%s", rows[r].version);
        CHECK(rows[r].scenario_path && !strcmp(rows[r].scenario_path, "scenarios/demo.json"),
              "path");
        CHECK_INT(rows[r].sim_start, T0);
        CHECK_INT(rows[r].sim_end, T0 + SIM_US_PER_H);
        CHECK_INT(rows[r].step, SIM_US_PER_MIN);
        CHECK_INT(rows[r].sim_reached, T0 + 30 * SIM_US_PER_MIN);
        CHECK_INT(rows[r].utc_offset_s, 10800);
        CHECK(rows[r].started_at && strlen(rows[r].started_at) == 20, "started_at");
        CHECK(rows[r].finished_at != NULL, "finished_at");
    }
    if (n == 4) {
        CHECK(rows[0].seed == UINT64_MAX, "seed %llu", (unsigned long long)rows[0].seed);
        CHECK(rows[2].message && !strcmp(rows[2].message, "battery: step failed"), "message");
        CHECK(rows[0].message == NULL, "no message");
    }
    res_runs_free(rows, n);

    /* Samples come back bit for bit. */
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(res_store_db(s),
                       "SELECT t_us, value FROM samples WHERE signal_id = ?1 ORDER BY t_us", -1,
                       &st, NULL);
    for (int k = 0; k < 2; k++) {
        sqlite3_bind_int64(st, 1, sig[1][k]);
        int i = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            double want = k == 0 ? vals[i] : -vals[i];
            double got = sqlite3_column_double(st, 1);
            CHECK_INT(sqlite3_column_int64(st, 0), T0 + i * SIM_US_PER_MIN);
            CHECK(memcmp(&got, &want, sizeof got) == 0, "signal %d sample %d: %.17g != %.17g", k, i,
                  got, want);
            i++;
        }
        CHECK_INT(i, NVALS);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);

    struct res_signal_row *sg = NULL;
    int ns = 0;
    CHECK_INT(res_signals_load(s, run[0], 1, &sg, &ns, &err), 0);
    CHECK_INT(ns, 3);
    if (ns == 3) {
        CHECK(!strcmp(sg[1].name, "battery.soc") && !strcmp(sg[1].unit, "%"), "signal 1");
        CHECK(sg[2].component == NULL, "NULL component");
        CHECK_INT(sg[2].samples, NVALS);
        CHECK_INT(sg[2].values, NVALS - 1);
        CHECK(sg[0].max == DBL_MAX, "max %g", sg[0].max);
        CHECK(sg[0].min == -123.456, "min %g", sg[0].min);
    }
    res_signals_free(sg, ns);

    /* Events: NULL component, value and message stay NULL. */
    CHECK_INT(query_int(s, "SELECT count(*) FROM events WHERE kind='start' AND component IS NULL"
                           " AND value IS NULL AND message IS NULL AND severity = 0"),
              4);
    CHECK_INT(query_int(s, "SELECT count(*) FROM events WHERE kind='soc_min' AND value = 0.05"
                           " AND message = 'SoC at minimum' AND severity = 1"),
              4);

    /* A READ store refuses writes. */
    double v = 1;
    CHECK_INT(res_samples(s, T0, &sig[0][0], &v, 1, &err), SIM_ESTATE);
    res_store_close(s);
}

static void test_batches(void)
{
    char path[128];
    path_in(path, sizeof path, "batch.db");
    struct sim_err err = {{0}};
    res_store *s = NULL;
    CHECK_INT(res_store_open(path, RES_OPEN_CREATE, &s, &err), 0);
    if (!s)
        return;
    res_set_batch(s, 10);
    int64_t run, ids[3];
    struct res_run_info info = info_for("batch", 1);
    CHECK_INT(res_run_begin(s, &info, &run, &err), 0);
    /* The run row is committed at once. */
    CHECK_INT(count_in(path, "SELECT count(*) FROM runs"), 1);
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "c.s%d", k);
        CHECK_INT(res_signal_add(s, run, name, "kW", "c", &ids[k], &err), 0);
    }
    double v[3] = {1, 2, 3};
    /* 3 signals + 2 instants = 9 rows pending: below the batch of 10. */
    for (int i = 0; i < 2; i++)
        CHECK_INT(res_samples(s, T0 + i, ids, v, 3, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM signals"), 0);
    /* The 3rd instant reaches 12 rows: committed whole, never split. */
    CHECK_INT(res_samples(s, T0 + 2, ids, v, 3, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 9);
    CHECK_INT(count_in(path, "SELECT count(*) FROM signals"), 3);
    /* 9 more rows stay pending until a flush. */
    for (int i = 3; i < 6; i++)
        CHECK_INT(res_samples(s, T0 + i, ids, v, 3, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 9);
    CHECK_INT(res_flush(s, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 18);
    CHECK_INT(res_samples(s, T0 + 6, ids, v, 3, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 18);
    CHECK_INT(res_flush(s, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 21);
    /* Batch 1: every call commits. */
    res_set_batch(s, 0); /* clamped to 1 */
    CHECK_INT(res_samples(s, T0 + 7, ids, v, 1, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 22);
    CHECK_INT(res_event(s, run, T0 + 7, "c", "k", 0, 1, NULL, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM events"), 1);
    /* Another module on the same connection (res_store_db): its own
     * transaction, then a write that joins ours and commits it. */
    sqlite3 *db = res_store_db(s);
    CHECK_INT(sqlite3_exec(db,
                           "CREATE TABLE IF NOT EXISTS market_x(a);"
                           " BEGIN; INSERT INTO market_x VALUES (1); COMMIT",
                           NULL, NULL, NULL),
              SQLITE_OK);
    res_set_batch(s, 100);
    CHECK_INT(res_samples(s, T0 + 9, ids, v, 3, &err), 0);
    CHECK_INT(sqlite3_exec(db, "INSERT INTO market_x VALUES (2); COMMIT", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 25);
    CHECK_INT(res_samples(s, T0 + 10, ids, v, 3, &err), 0);
    CHECK_INT(res_flush(s, &err), 0);
    CHECK_INT(res_flush(s, &err), 0);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 28);
    CHECK_INT(count_in(path, "SELECT count(*) FROM market_x"), 2);
    CHECK_INT(res_samples(s, T0 + 8, ids, v, 0, &err), 0);
    CHECK_INT(res_samples(s, T0 + 8, ids, v, -1, &err), SIM_EINVAL);
    res_store_close(s);
}

/* Writes a run of 3 signals x steps instants with the given batch and
 * returns the store still open (or closed when close_it). */
static res_store *write_run(const char *path, int batch, int steps, int64_t *run)
{
    struct sim_err err = {{0}};
    res_store *s = NULL;
    if (res_store_open(path, RES_OPEN_CREATE, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    res_set_batch(s, batch);
    struct res_run_info info = info_for("interrupted", 7);
    int64_t ids[3];
    int rc = res_run_begin(s, &info, run, &err);
    for (int k = 0; k < 3 && !rc; k++) {
        char name[16];
        snprintf(name, sizeof name, "c.s%d", k);
        rc = res_signal_add(s, *run, name, "kW", "c", &ids[k], &err);
    }
    for (int i = 0; i < steps && !rc; i++) {
        double v[3] = {i, i * 0.5, -i};
        rc = res_samples(s, T0 + i * SIM_US_PER_MIN, ids, v, 3, &err);
        if (!rc && i % 7 == 0)
            rc = res_event(s, *run, T0 + i * SIM_US_PER_MIN, "c", "tick", i % 3, i, "tick", &err);
    }
    CHECK(rc == 0, "write_run: %s", err.msg);
    return s;
}

static void test_interrupted(void)
{
    char path[128];
    path_in(path, sizeof path, "int.db");
    struct sim_err err = {{0}};
    int64_t run = 0;

    /* Closed without res_run_end: everything kept, still 'running'. */
    res_store *s = write_run(path, 50, 100, &run);
    res_store_close(s);
    CHECK_INT(count_in(path, "SELECT count(*) FROM samples"), 300);
    CHECK_INT(count_in(path, "SELECT count(*) FROM runs WHERE status = 'running' AND"
                             " finished_at IS NULL AND sim_reached_us IS NULL"),
              1);
    CHECK_INT(count_in(path, "SELECT count(*) FROM sqlite_schema WHERE name='samples_signal_t'"),
              1);

    /* A later process marks it interrupted. */
    s = NULL;
    CHECK_INT(res_store_open(path, RES_OPEN_APPEND, &s, &err), 0);
    CHECK_INT(res_run_end(s, run, RES_INTERRUPTED, T0 + 99 * SIM_US_PER_MIN, "Ctrl-C", &err), 0);
    res_store_close(s);
    CHECK_INT(count_in(path, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND"
                             " message = 'Ctrl-C' AND finished_at IS NOT NULL"),
              1);

    /* Killed without closing: the committed batches survive, the database
     * is intact and the run row is there. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        res_store *c = write_run(path, 30, 100, &run);
        (void)c;
        _exit(c ? 0 : 1); /* no close: the pending batch is lost */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    long long n = count_in(path, "SELECT count(*) FROM samples");
    /* 3 rows per instant, commits whenever >= 30 pending (events count too). */
    CHECK(n > 0 && n < 300 && n % 3 == 0, "samples after a crash: %lld", n);
    CHECK_INT(count_in(path, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
    CHECK_INT(count_in(path, "SELECT count(*) FROM signals"), 3);
    s = NULL;
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), 0);
    if (s) {
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(res_store_db(s), "PRAGMA integrity_check", -1, &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW &&
                  !strcmp((const char *)sqlite3_column_text(st, 0), "ok"),
              "integrity_check");
        sqlite3_finalize(st);
        /* No samples index (the run never ended): reports still work. */
        CHECK_INT(query_int(s, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                               " AND name = 'samples_signal_t'"),
                  0);
        char *csv = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&csv, &len);
        CHECK_INT(res_report(s, RES_CSV, f, &err), 0);
        fclose(f);
        CHECK_STR_CONTAINS(csv, "\n1,main,c.s2,kW,");
        free(csv);
        res_store_close(s);
    }
}

static void test_not_flexbed(void)
{
    char path[128], msg[256];
    struct sim_err err = {{0}};
    res_store *s = NULL;

    path_in(path, sizeof path, "scenario.json");
    FILE *f = fopen(path, "w");
    fputs("{\"name\": \"this is a scenario, not a database, and long enough for a header\"}\n"
          "................................................................................\n",
          f);
    fclose(f);
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), SIM_EINVAL);
    snprintf(msg, sizeof msg, "%s: not a flexbed result database", path);
    CHECK_STR_CONTAINS(err.msg, msg);
    CHECK(s == NULL, "no store");
    /* CREATE does not delete it. */
    CHECK_INT(res_store_open(path, RES_OPEN_CREATE, &s, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "refusing to replace");
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 100, "scenario file kept");
    CHECK_INT(res_store_open(path, RES_OPEN_APPEND, &s, &err), SIM_EINVAL);

    /* Someone else's SQLite database. */
    path_in(path, sizeof path, "other.db");
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), SIM_EINVAL);
    snprintf(msg, sizeof msg, "%s: not a flexbed result database", path);
    CHECK_STR_CONTAINS(err.msg, msg);
    /* ... even with a meta table of its own. */
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "CREATE TABLE meta(key TEXT, value TEXT);"
                 " INSERT INTO meta VALUES ('application', 'other')",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, msg);

    /* An empty file, a missing file, a directory. */
    path_in(path, sizeof path, "empty.db");
    fclose(fopen(path, "w"));
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), SIM_EINVAL);
    snprintf(msg, sizeof msg, "%s: not a flexbed result database", path);
    CHECK_STR_CONTAINS(err.msg, msg);
    path_in(path, sizeof path, "missing.db");
    CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), SIM_EIO);
    CHECK_STR_CONTAINS(err.msg, "missing.db");
    CHECK_INT(res_store_open(dir, RES_OPEN_READ, &s, &err), SIM_EINVAL);
    CHECK_INT(res_store_open("/nonexistent-dir/x.db", RES_OPEN_CREATE, &s, &err), SIM_EIO);
    CHECK_STR_CONTAINS(err.msg, "does not exist");
}

/* Compare a table of two databases row by row, value by value (doubles
 * bit for bit). Returns the number of differences. */
static int diff_table(res_store *a, res_store *b, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY rowid", table);
    sqlite3_stmt *sa = NULL, *sb = NULL;
    sqlite3_prepare_v2(res_store_db(a), sql, -1, &sa, NULL);
    sqlite3_prepare_v2(res_store_db(b), sql, -1, &sb, NULL);
    int diffs = 0, rows = 0;
    while (1) {
        int ra = sqlite3_step(sa), rb = sqlite3_step(sb);
        if (ra != rb) {
            diffs++;
            break;
        }
        if (ra != SQLITE_ROW)
            break;
        rows++;
        for (int c = 0; c < sqlite3_column_count(sa); c++) {
            int ta = sqlite3_column_type(sa, c);
            if (ta != sqlite3_column_type(sb, c)) {
                diffs++;
                continue;
            }
            if (ta == SQLITE_FLOAT) {
                double x = sqlite3_column_double(sa, c), y = sqlite3_column_double(sb, c);
                diffs += memcmp(&x, &y, sizeof x) != 0;
            } else if (ta != SQLITE_NULL) {
                int na = sqlite3_column_bytes(sa, c), nb = sqlite3_column_bytes(sb, c);
                const void *pa = sqlite3_column_blob(sa, c), *pb = sqlite3_column_blob(sb, c);
                diffs += na != nb || memcmp(pa, pb, (size_t)na) != 0;
            }
        }
    }
    sqlite3_finalize(sa);
    sqlite3_finalize(sb);
    CHECK(rows > 0, "%s: no rows", table);
    return diffs;
}

static void test_deterministic(void)
{
    char p1[128], p2[128];
    path_in(p1, sizeof p1, "det1.db");
    path_in(p2, sizeof p2, "det2.db");
    int64_t r1, r2;
    res_store *s1 = write_run(p1, 17, 200, &r1);
    sleep(1); /* a different wall clock must not show in the result tables */
    res_store *s2 = write_run(p2, 17, 200, &r2);
    struct sim_err err = {{0}};
    CHECK_INT(res_run_end(s1, r1, RES_COMPLETED, T0 + SIM_US_PER_H, NULL, &err), 0);
    CHECK_INT(res_run_end(s2, r2, RES_COMPLETED, T0 + SIM_US_PER_H, NULL, &err), 0);
    res_store_close(s1);
    res_store_close(s2);
    s1 = s2 = NULL;
    res_store_open(p1, RES_OPEN_READ, &s1, &err);
    res_store_open(p2, RES_OPEN_READ, &s2, &err);
    if (s1 && s2) {
        CHECK_INT(diff_table(s1, s2, "signals"), 0);
        CHECK_INT(diff_table(s1, s2, "samples"), 0);
        CHECK_INT(diff_table(s1, s2, "events"), 0);
    }
    res_store_close(s1);
    res_store_close(s2);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/flexbed-test-store-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_batches();
    test_interrupted();
    test_not_flexbed();
    test_deterministic();
    remove_dir(dir);
    return check_done("test_store");
}
