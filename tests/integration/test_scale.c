/*
 * test_scale.c: the scale studies' pieces that a test can run quickly.
 *
 *  - scenarios/scale/eu-lv-year.json, cut to its first two days through a
 *    sweep (end = 3 January): it runs, stores exactly its four signals
 *    every 15 minutes (2 x 96 samples each, the end instant not included), the cars come back on
 * the second day (their sessions repeat) and the feeder's peak is the same order as a single day's;
 *  - `flexbed bench city --feeders 2` runs and reports its figures;
 *  - `flexbed bench year` refuses a bad argument (the year itself is a
 *    benchmark, not a test: docs/scale.md).
 */
#include <math.h>
#include <sqlite3.h>

#include "check.h"
#include "proc.h"

#define YEAR FLEXBED_SOURCE_DIR "/scenarios/scale/eu-lv-year.json"

static double q(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    double v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

int main(void)
{
    char tmpl[] = "/tmp/flexbed-scale-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_scale");
    char sweep[512], out[512], db[600];
    snprintf(sweep, sizeof sweep, "%s/two-days.json", tmp);
    FILE *f = fopen(sweep, "w");
    CHECK(f != NULL, "write %s", sweep);
    if (f) {
        fputs(
            "{\"name\": \"two-days\", \"scenario\": \"" YEAR "\",\n"
            " \"parameters\": [{\"path\": \"end\", \"values\": [\"2024-01-03T00:00:00+00:00\"]}],\n"
            " \"outputs\": [{\"name\": \"peak_kw\", \"signal\": \"feeder.p_kw\", \"stat\": "
            "\"max\"}]}\n",
            f);
        fclose(f);
    }
    snprintf(out, sizeof out, "%s/out", tmp);
    struct proc_result r;
    flexbed_run(tmp, 120, &r, "sweep", sweep, "--out", out, NULL);
    CHECK(r.exit_code == 0, "sweep: exit %d: %s", r.exit_code, r.errs);
    snprintf(db, sizeof db, "%s/run-0001.db", out);
    /* 4 recorded signals and 9 daily aggregates (feeder power: max, mean,
     * integral; losses: integral; lowest voltage: min; 4 cars: delta) */
    CHECK(q(db, "SELECT count(*) FROM signals WHERE name NOT LIKE '%\\_1d' ESCAPE '\\'") == 4,
          "4 signals stored");
    CHECK(q(db, "SELECT count(*) FROM signals WHERE name LIKE '%\\_1d' ESCAPE '\\'") == 9,
          "9 daily aggregates");
    CHECK(q(db, "SELECT count(*) FROM samples x JOIN signals s ON s.id = x.signal_id"
                " WHERE s.name = 'feeder.p_kw.max_1d'") == 2,
          "one value per day");
    /* the day's energy is its mean power times 24 h; the day's peak is at
     * least every 15-minute sample of that day */
    double e = q(db, "SELECT sum(x.value) FROM samples x JOIN signals s ON s.id = x.signal_id"
                     " WHERE s.name = 'feeder.p_kw.integral_1d'"),
           m = q(db, "SELECT sum(x.value) FROM samples x JOIN signals s ON s.id = x.signal_id"
                     " WHERE s.name = 'feeder.p_kw.mean_1d'");
    CHECK(e > 100 && fabs(e - 24 * m) < 1e-9 * e, "energy %g kWh, mean %g kW", e, m);
    CHECK(q(db, "SELECT count(*) FROM samples x JOIN signals s ON s.id = x.signal_id"
                " JOIN samples y ON y.t_us / 86400000000 = x.t_us / 86400000000"
                " JOIN signals r ON r.id = y.signal_id"
                " WHERE s.name = 'feeder.p_kw.max_1d' AND r.name = 'feeder.p_kw'"
                " AND y.value > x.value") == 0,
          "a recorded sample above its day's peak");
    CHECK(q(db, "SELECT min(x.value) FROM samples x JOIN signals s ON s.id = x.signal_id"
                " WHERE s.name LIKE 'ev_.e_in_kwh.delta_1d'") > 0,
          "every car charged every day");
    CHECK(q(db, "SELECT count(*) FROM samples x JOIN signals s ON s.id = x.signal_id"
                " WHERE s.name = 'feeder.v_min_pu'") == 192,
          "every 15 minutes for two days");
    CHECK(q(db, "SELECT count(*) FROM events WHERE component='ev1' AND kind='arrival'") == 2,
          "ev1 arrives on both days");
    double peak = q(db, "SELECT max(x.value) FROM samples x JOIN signals s ON s.id = x.signal_id"
                        " WHERE s.name = 'feeder.p_kw'");
    CHECK(peak > 40 && peak < 200, "peak %g kW", peak);

    flexbed_run(tmp, 180, &r, "bench", "city", "--feeders", "2", NULL);
    CHECK(r.exit_code == 0, "bench city: exit %d: %s", r.exit_code, r.errs);
    CHECK_STR_CONTAINS(r.out, "city: 2 IEEE European LV feeders (110 households, 40 EVs");
    CHECK_STR_CONTAINS(r.out, "peak memory");
    flexbed_run(tmp, 30, &r, "bench", "year", "--frobnicate", NULL);
    CHECK_INT(r.exit_code, 2);
    flexbed_run(tmp, 30, &r, "bench", "year", "--help", NULL);
    CHECK_INT(r.exit_code, 0);
    CHECK_STR_CONTAINS(r.out, "eu-lv-year.json");
    rm_tree(tmp);
    return check_done("test_scale");
}
