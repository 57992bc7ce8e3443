/*
 * test_study_forecast.c: scripts/study-forecast.sh, the shipped comparison
 * of a threshold DSO and a forecasting DSO (issue 14), with two seeds per
 * policy and the binary under test: it exits 0, writes one row per policy
 * into comparison.csv with the outputs' means, draws study.png and writes
 * the summary. The figures are checked against the run databases
 * themselves: the cost is what the settlements paid out plus their fees,
 * and the minutes above the DSO's limit are counted here from the
 * transformer's recorded power; the forecasting DSO learned for a day
 * before its first request and bought day-ahead.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "proc.h"

static double q(const char *db, const char *sql)
{
    sqlite3 *h;
    double v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return v;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Field i (0-based) of the CSV line. */
static double field(const char *line, int i)
{
    const char *p = line;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return p ? atof(p) : -1;
}

int main(void)
{
    char tmpl[] = "/tmp/flexbed-study-fc-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_study_forecast");
    char out[512], path[700];
    snprintf(out, sizeof out, "%s/study", tmp);
    setenv("FLEXBED", FLEXBED_BINARY, 1);
    setenv("SEEDS", "2", 1);
    setenv("JOBS", "2", 1);
    char *argv[] = {"/bin/sh", FLEXBED_SOURCE_DIR "/scripts/study-forecast.sh", out, NULL};
    struct proc_result r;
    pid_t pid = proc_start(tmp, argv);
    proc_wait(tmp, pid, 300, &r);
    CHECK(r.exit_code == 0, "study: exit %d: %s", r.exit_code, r.errs);
    CHECK_STR_CONTAINS(r.out, "threshold: EUR");
    CHECK_STR_CONTAINS(r.out, "forecast: EUR");
    snprintf(path, sizeof path, "%s/study.png", out);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 1000, "no plot %s", path);

    snprintf(path, sizeof path, "%s/comparison.csv", out);
    const char *csv = proc_slurp(path);
    const char *rows[2] = {strstr(csv, "\nthreshold,"), strstr(csv, "\nforecast,")};
    CHECK(rows[0] && rows[1], "comparison.csv lacks a policy: %s", csv);
    static const char *const policy[2] = {"threshold", "forecast"};
    for (int i = 0; i < 2 && rows[0] && rows[1]; i++) {
        const char *row = rows[i] + 1;
        /* columns: policy, runs, then mean/sd/ci_low/ci_high per output */
        double cost = field(row, 2), minutes = field(row, 10), without = field(row, 14);
        double paid = 0, counted = 0, counted_cf = 0;
        for (int run = 1; run <= 2; run++) {
            char db[700];
            snprintf(db, sizeof db, "%s/%s/run-%04d.db", out, policy[i], run);
            double p = q(db, "SELECT (sum(payout_ueur) + sum(fee_ueur)) / 1e6 FROM mkt_settlements");
            CHECK(p > 0, "%s run %d: the DSO bought flexibility", policy[i], run);
            paid += p / 2;
            counted += q(db, "SELECT count(*) FROM samples s JOIN signals g ON g.id = s.signal_id"
                             " WHERE g.run_id = 1 AND g.name = 'transformer.p_kw'"
                             " AND s.value > 240") / 2;
            counted_cf += q(db, "SELECT count(*) FROM samples s JOIN signals g ON g.id ="
                                " s.signal_id WHERE g.run_id = 2 AND g.name ="
                                " 'transformer.p_kw' AND s.value > 240") / 2;
        }
        CHECK(fabs(cost - paid) < 1e-6, "%s: cost EUR %g, the settlements paid EUR %g",
              policy[i], cost, paid);
        CHECK(fabs(minutes - counted) <= 1 && fabs(without - counted_cf) <= 1,
              "%s: %g / %g min above 240 kW, counted %g / %g", policy[i], minutes, without,
              counted, counted_cf);
    }
    /* the forecasting DSO: nothing before a whole day was learned, then
     * day-ahead requests posted at 12:00 for the next day */
    char db[700];
    snprintf(db, sizeof db, "%s/forecast/run-0001.db", out);
    double first = q(db, "SELECT min(t_us) FROM events WHERE run_id = 1 AND kind = 'forecast'");
    double start = q(db, "SELECT sim_start_us FROM runs WHERE id = 1");
    CHECK(first >= start + 86400e6, "the first forecast request came after a day of learning");
    CHECK(q(db, "SELECT count(*) FROM events WHERE run_id = 1 AND kind = 'forecast'"
                " AND message LIKE 'day-ahead:%'") > 0,
          "day-ahead requests");
    CHECK(q(db, "SELECT count(*) FROM signals WHERE run_id = 1 AND name = 'dso.forecast_kw'") == 1,
          "the forecast is recorded beside the load");
    return check_done("test_study_forecast");
}
