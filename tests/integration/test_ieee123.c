/*
 * test_ieee123.c: `flexbed run scenarios/ieee123-flex.json`, the IEEE
 * 123-node feeder as OpenDSS ships it (nodal solver, seven regulators
 * acting every minute) with two community batteries and three V2G cars on
 * it and a DSO threshold policy on the feeder head.
 *
 * Checks, from the database of the run (main and counterfactual):
 *  - both runs completed, 1440 one-minute samples, every step converged,
 *    no alarm;
 *  - at every minute of both runs the power into the feeder head
 *    (reg1a's winding 1) is what the loads draw plus every loss, to 1 W;
 *  - the counterfactual run (no market) crosses the 3580 kW threshold; in
 *    the main run the DSO posted a request when it did, bought 400 kW from
 *    the batteries, and over the request's window the feeder head carries
 *    at least 350 kW less than in the counterfactual run; the minutes above
 *    the threshold go down; the deliveries were settled and the ledger
 *    verifies.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proc.h"

#define SCENARIO FLEXBED_SOURCE_DIR "/scenarios/ieee123-flex.json"
#define NMIN 1440

static sqlite3 *db;

static int series(int run, const char *name, double *v)
{
    for (int i = 0; i < NMIN; i++)
        v[i] = NAN;
    sqlite3_stmt *st;
    const char *q = "SELECT x.t_us, x.value, r.sim_start_us FROM samples x JOIN signals s ON s.id "
                    "= x.signal_id JOIN runs r ON r.id = s.run_id WHERE s.name = ?1 AND "
                    "s.run_id = ?2 ORDER BY x.t_us";
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, run);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long k = (sqlite3_column_int64(st, 0) - sqlite3_column_int64(st, 2)) / 60000000LL;
        if (k >= 0 && k < NMIN)
            v[k] = sqlite3_column_double(st, 1);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

static long long scalar(const char *q)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", q, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double head[2][NMIN], loads[NMIN], loss[NMIN], phv[NMIN], conv[NMIN];

int main(void)
{
    char tmpdir[] = "/tmp/flexbed-test-ieee123-XXXXXX";
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    char dbp[256];
    snprintf(dbp, sizeof dbp, "%s/ieee123.db", tmpdir);
    struct proc_result r;
    double t0 = proc_now();
    flexbed_run(tmpdir, 120, &r, "run", SCENARIO, "--out", dbp, "--quiet", NULL);
    printf("flexbed run: exit %d in %.2f s\n%s", r.exit_code, proc_now() - t0, r.out);
    CHECK_INT(r.exit_code, 0);
    CHECK(r.errs[0] == '\0', "stderr: %.500s", r.errs);
    if (r.exit_code != 0 || sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rm_tree(tmpdir);
        return check_done("test_ieee123");
    }
    CHECK_INT(scalar("SELECT count(*) FROM runs WHERE status = 'completed'"), 2);
    CHECK_INT(scalar("SELECT count(*) FROM events WHERE severity = 2"), 0);

    for (int run = 1; run <= 2; run++) {
        CHECK_INT(series(run, "feeder.p_kw", head[run - 1]), NMIN);
        CHECK_INT(series(run, "feeder.loads_kw", loads), NMIN);
        CHECK_INT(series(run, "feeder.losses_kw", loss), NMIN);
        CHECK_INT(series(run, "feeder.p_hv_kw", phv), NMIN);
        CHECK_INT(series(run, "feeder.converged", conv), NMIN);
        int not_conv = 0, bad_balance = 0;
        double worst = 0;
        for (int k = 0; k < NMIN; k++) {
            not_conv += conv[k] != 1;
            double e = fabs(phv[k] - (loads[k] + loss[k]));
            worst = fmax(worst, e);
            bad_balance += !(e <= 1e-3);
        }
        printf("run %d: head power vs loads + losses: worst %.2e kW\n", run, worst);
        CHECK_INT(not_conv, 0);
        CHECK_INT(bad_balance, 0);
    }

    /* the DSO's request: posted on the crossing, 400 kW bought */
    CHECK_INT(scalar("SELECT count(*) FROM events WHERE run_id = 1 AND component = 'dso' AND "
                     "kind = 'request_posted'"),
              1);
    CHECK_INT(scalar("SELECT count(*) FROM events WHERE run_id = 1 AND component = 'dso' AND "
                     "kind = 'matched' AND message LIKE '%for 400 kW, 0 kW unmet%'"),
              1);
    CHECK_INT(scalar("SELECT count(*) FROM events WHERE run_id = 1 AND component = 'dso' AND "
                     "kind = 'settled'"),
              1);
    /* the window: 30 minutes after the crossing, for two hours */
    long long posted = scalar("SELECT e.t_us - r.sim_start_us FROM events e JOIN runs r ON r.id "
                              "= e.run_id WHERE e.run_id = 1 AND e.kind = 'request_posted'");
    int k0 = (int)(posted / 60000000LL) + 30;
    double relief = 0;
    int n = 0;
    for (int k = k0 + 2; k < k0 + 118 && k < NMIN; k++, n++)
        relief += head[1][k] - head[0][k];
    relief /= n > 0 ? n : 1;
    int above[2] = {0, 0};
    for (int run = 0; run < 2; run++)
        for (int k = 0; k < NMIN; k++)
            above[run] += head[run][k] > 3580.0;
    printf("request posted at minute %d; over its window the head carries %.1f kW less; minutes "
           "above 3580 kW: %d with the market, %d without\n",
           (int)(posted / 60000000LL), relief, above[0], above[1]);
    CHECK(head[1][k0 - 30] > 3500.0, "the counterfactual load at the crossing: %.1f kW",
          head[1][k0 - 30]);
    CHECK(relief > 350.0 && relief < 450.0, "relief %.1f kW", relief);
    CHECK(above[1] > 60 && above[0] < above[1] / 2, "minutes above the threshold: %d vs %d",
          above[0], above[1]);
    /* regulator taps: one signal each, and a tap_change event whenever one
     * moves, whose value is the new tap the signal shows at that minute */
    CHECK_INT(scalar("SELECT count(*) FROM signals WHERE run_id = 1 AND name LIKE "
                     "'feeder.tap_%_pu'"),
              7);
    long long changes = scalar("SELECT count(*) FROM events WHERE run_id = 1 AND kind = "
                               "'tap_change'");
    long long consistent =
        scalar("SELECT count(*) FROM events e JOIN signals g ON g.run_id = e.run_id AND g.name = "
               "'feeder.tap_' || substr(e.message, 11, instr(e.message, ':') - 11) || '_pu' "
               "JOIN samples x ON x.signal_id = g.id AND x.t_us = e.t_us WHERE e.run_id = 1 AND "
               "e.kind = 'tap_change' AND abs(x.value - e.value) < 1e-12");
    printf("%lld tap changes logged, %lld matching the tap signals\n", changes, consistent);
    CHECK(changes > 10, "tap changes: %lld", changes);
    CHECK(consistent == changes, "%lld of %lld tap events match their signal", consistent, changes);
    sqlite3_close(db);

    flexbed_run(tmpdir, 60, &r, "ledger", "verify", dbp, NULL);
    CHECK_INT(r.exit_code, 0);
    rm_tree(tmpdir);
    return check_done("test_ieee123");
}
