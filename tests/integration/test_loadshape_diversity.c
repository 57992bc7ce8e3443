/*
 * test_loadshape_diversity.c: copies of one OpenDSS circuit in one run do
 * not have the same households (issue 12: the city's feeders shared the
 * circuit's 55 load shapes).
 *
 * Four IEEE European LV feeders run side by side for a day: f1 as the
 * circuit has it; f2 with "loadshape_diversity" (shapes shifted within +-60
 * minutes, scaled within 1 +- 0.2, per load, from the component's own
 * random stream); f3 with a shift and no scaling; f4 with a diversity of
 * zero. Checked: f4 is f1 to the last bit; f2 differs from f1 by kilowatts
 * at some minute and its peak is not f1's; f3's daily energy is f1's
 * within 1 % (a daily shape shifted in time keeps its energy; only the
 * losses move); a second run gives f2 the same series bit for bit; a
 * scale above 0.9 is exit 2 naming the key.
 */
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proc.h"

#define MASTER FLEXBED_SOURCE_DIR "/scenarios/data/eu-lv/Master-constpq.dss"
#define N 1440

static void write_scenario(const char *path, const char *f2_scale)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"name\": \"diversity\", \"start\": \"2024-01-15T00:00:00+00:00\","
             " \"end\": \"2024-01-16T00:00:00+00:00\", \"step\": \"1min\", \"seed\": 3,"
             " \"components\": ["
             "{\"name\": \"f1\", \"type\": \"feeder\", \"circuit\": \"%s\", \"use_loadshapes\": true,"
             " \"tolerance\": 1e-6},"
             "{\"name\": \"f2\", \"type\": \"feeder\", \"circuit\": \"%s\", \"use_loadshapes\": true,"
             " \"tolerance\": 1e-6, \"loadshape_diversity\": {\"shift\": \"60min\", \"scale\": %s}},"
             "{\"name\": \"f3\", \"type\": \"feeder\", \"circuit\": \"%s\", \"use_loadshapes\": true,"
             " \"tolerance\": 1e-6, \"loadshape_diversity\": {\"shift\": \"60min\"}},"
             "{\"name\": \"f4\", \"type\": \"feeder\", \"circuit\": \"%s\", \"use_loadshapes\": true,"
             " \"tolerance\": 1e-6, \"loadshape_diversity\": {\"shift\": \"0min\", \"scale\": 0}}]}",
             MASTER, MASTER, f2_scale, MASTER, MASTER);
    check_write_file(path, text);
}

/* The p_kw series of feeder f in db, N values. */
static int series(const char *db, const char *f, double *out)
{
    sqlite3 *h;
    int n = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return 0;
    }
    sqlite3_stmt *st;
    char name[32];
    snprintf(name, sizeof name, "%s.p_kw", f);
    if (sqlite3_prepare_v2(h,
                           "SELECT s.value FROM samples s JOIN signals g ON g.id = s.signal_id"
                           " WHERE g.name = ? ORDER BY s.t_us",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (n < N && sqlite3_step(st) == SQLITE_ROW)
            out[n++] = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

int main(void)
{
    char tmpl[] = "/tmp/flexbed-diversity-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp)
        return check_done("test_loadshape_diversity");
    char scn[PATH_MAX], db1[PATH_MAX], db2[PATH_MAX];
    snprintf(scn, sizeof scn, "%s/diversity.json", tmp);
    snprintf(db1, sizeof db1, "%s/one.db", tmp);
    snprintf(db2, sizeof db2, "%s/two.db", tmp);
    write_scenario(scn, "0.2");
    struct proc_result r;
    flexbed_run(tmp, 120, &r, "run", scn, "--out", db1, "--quiet", NULL);
    CHECK(r.exit_code == 0, "run: exit %d: %s", r.exit_code, r.errs);
    flexbed_run(tmp, 120, &r, "run", scn, "--out", db2, "--quiet", NULL);
    CHECK(r.exit_code == 0, "second run: exit %d: %s", r.exit_code, r.errs);

    static double f1[N], f2[N], f3[N], f4[N], f2b[N];
    CHECK_INT(series(db1, "f1", f1), N);
    CHECK_INT(series(db1, "f2", f2), N);
    CHECK_INT(series(db1, "f3", f3), N);
    CHECK_INT(series(db1, "f4", f4), N);
    CHECK_INT(series(db2, "f2", f2b), N);
    double maxdiff = 0, e1 = 0, e3 = 0, p1 = 0, p2 = 0;
    int same4 = 0, sameb = 0;
    for (int i = 0; i < N; i++) {
        maxdiff = fmax(maxdiff, fabs(f2[i] - f1[i]));
        e1 += f1[i] / 60;
        e3 += f3[i] / 60;
        p1 = fmax(p1, f1[i]);
        p2 = fmax(p2, f2[i]);
        same4 += f4[i] == f1[i];
        sameb += f2b[i] == f2[i];
    }
    CHECK(same4 == N, "a diversity of zero is the circuit as it is (%d of %d minutes equal)",
          same4, N);
    CHECK(maxdiff > 1, "diverse households: f2 differs from f1 by at most %.3f kW", maxdiff);
    CHECK(fabs(p2 - p1) > 0.1, "the peaks differ: %.2f and %.2f kW", p1, p2);
    CHECK(fabs(e3 - e1) / e1 < 0.01, "a shift keeps the day's energy: %.2f and %.2f kWh", e1, e3);
    CHECK(sameb == N, "reproducible: %d of %d minutes equal between two runs", sameb, N);

    write_scenario(scn, "0.95");
    flexbed_run(tmp, 60, &r, "run", scn, "--out", db1, NULL);
    CHECK_INT(r.exit_code, 2);
    CHECK_STR_CONTAINS(r.errs, "loadshape_diversity.scale");
    rm_tree(tmp);
    return check_done("test_loadshape_diversity");
}
