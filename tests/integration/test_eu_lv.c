/*
 * test_eu_lv.c: `flexbed run scenarios/eu-lv-feeder.json`, the IEEE
 * European LV Test Feeder for a day with batteries and EVs on it.
 *
 * Runs the scenario through the binary into a temporary database and
 * checks, from the database:
 *  - the run completed, with 1440 one-minute samples of the transformer's
 *    per-phase P and Q, every step converged, no alarm;
 *  - at 09:26 (minute 566) and 00:01 (minute 1), when every asset is idle,
 *    the recorded voltages at loads 1, 32 and 53 equal the published
 *    OpenDSS solution (tests/data/feeder/reference/, 1e-4 pu) and the
 *    transformer's per-phase P and Q equal Table II of the feeder's
 *    description (0.1 %); the 00:00 sample uses the profiles' last point,
 *    which is the published 1440-minute snapshot;
 *  - at every minute the demand the feeder carries (loads_kw) is the 55
 *    household profiles at that minute (read from the scenario's own copy
 *    of the files) plus what the six assets report (their p_kw), and the
 *    transformer's HV power is that demand plus the losses; the assets
 *    really draw and inject (evening charging above 20 kW, discharge);
 *  - `flexbed plot` draws the feeder's chart (when gnuplot is installed).
 */
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proc.h"

#define SCENARIO FLEXBED_SOURCE_DIR "/scenarios/eu-lv-feeder.json"
#define PROFILES FLEXBED_SOURCE_DIR "/scenarios/data/eu-lv/Daily_1min_100profiles"
#define REF FLEXBED_TEST_DATA "/feeder/reference"
#define NMIN 1440
#define NLOADS 55
#define VBASE (416.0 / 1.7320508075688772) /* LV phase-to-neutral base, V */

static sqlite3 *db;
static long long t_start;

/* Every sample of one signal, in time order, into v[NMIN] (by minute). */
static int series(const char *name, double *v)
{
    for (int i = 0; i < NMIN; i++)
        v[i] = NAN;
    sqlite3_stmt *st;
    const char *q = "SELECT x.t_us, x.value FROM samples x JOIN signals s ON s.id = x.signal_id "
                    "WHERE s.name = ?1 ORDER BY x.t_us";
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int n = 0, bad = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long t = sqlite3_column_int64(st, 0);
        long long k = (t - t_start) / 60000000LL;
        if ((t - t_start) % 60000000LL || k < 0 || k >= NMIN || !isnan(v[k]))
            bad++;
        else
            v[k] = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1);
        n++;
    }
    sqlite3_finalize(st);
    CHECK(bad == 0, "%s: %d samples off the one-minute grid or repeated", name, bad);
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

/* Voltage magnitude of bus/node in a reference snapshot, pu. */
static double ref_voltage(int minute, const char *bus, int node)
{
    char path[PATH_MAX], line[1024];
    snprintf(path, sizeof path, REF "/minute%d_voltages.csv", minute);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return NAN;
    double v = NAN;
    size_t bl = strlen(bus);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, bus, bl) != 0 || line[bl] != ',')
            continue;
        /* Bus, BasekV, then (Node, Magnitude, Angle, pu) per node */
        char *save = NULL, *tok = strtok_r(line, ",", &save);
        int col = 0, cur = -1;
        while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
            col++;
            if (col >= 2 && (col - 2) % 4 == 0)
                cur = atoi(tok);
            else if (col >= 2 && (col - 2) % 4 == 1 && cur == node)
                v = atof(tok) / VBASE;
        }
        break;
    }
    fclose(f);
    CHECK(!isnan(v), "bus %s node %d not in %s", bus, node, path);
    return v;
}

/* The sum of the 55 household profiles at each point 1..1440 (index 0 is
 * point 1); all loads are kW=1 with the profile as multiplier. */
static void household_demand(double *sum)
{
    for (int i = 0; i < NMIN; i++)
        sum[i] = 0;
    for (int l = 1; l <= NLOADS; l++) {
        char path[PATH_MAX], line[128];
        snprintf(path, sizeof path, PROFILES "/load_profile_%d.txt", l);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL, "cannot open %s", path);
        if (!f)
            continue;
        int n = 0;
        while (n < NMIN && fgets(line, sizeof line, f))
            sum[n++] += atof(line);
        fclose(f);
        CHECK_INT(n, NMIN);
    }
}

static double pa[NMIN], pb[NMIN], pc[NMIN], qa[NMIN], qb[NMIN], qc[NMIN];
static double v1[NMIN], v32[NMIN], v53[NMIN], loads[NMIN], phv[NMIN], loss[NMIN], conv[NMIN];
static double asset[NMIN], tmp[NMIN], demand[NMIN];

static void check_snapshot(int k, int minute, int table_row)
{
    /* Table II of feeder-description.txt, OpenDSS (P kW, Q kvar per phase) */
    static const double table2[3][2][3] = {
        {{1.0572, 0.927, 0.8153}, {0.3475, 0.3044, 0.2678}},
        {{17.9072, 35.2927, 6.1837}, {5.4897, 11.5328, 2.0971}},
        {{3.7201, 3.6648, 2.3369}, {1.2189, 1.2048, 0.7678}},
    };
    struct {
        const char *name, *bus;
        int node;
        const double *v;
    } loadv[] = {{"LOAD1", "34", 1, v1}, {"LOAD32", "614", 3, v32}, {"LOAD53", "899", 2, v53}};
    for (int i = 0; i < 3; i++) {
        double ref = ref_voltage(minute, loadv[i].bus, loadv[i].node);
        printf("minute %4d (sample %02d:%02d) %s: %.6f pu, OpenDSS %.6f pu\n", minute, k / 60,
               k % 60, loadv[i].name, loadv[i].v[k], ref);
        CHECK(fabs(loadv[i].v[k] - ref) <= 1e-4, "minute %d %s: %.6f pu vs reference %.6f", minute,
              loadv[i].name, loadv[i].v[k], ref);
    }
    const double *p[3] = {pa, pb, pc}, *q[3] = {qa, qb, qc};
    for (int ph = 0; ph < 3; ph++) {
        double tp = table2[table_row][0][ph], tq = table2[table_row][1][ph];
        CHECK(fabs(p[ph][k] - tp) <= fmax(1e-3 * tp, 1e-4) &&
                  fabs(q[ph][k] - tq) <= fmax(1e-3 * tq, 1e-4),
              "minute %d phase %c: P %.4f Q %.4f, Table II %.4f / %.4f", minute, 'a' + ph, p[ph][k],
              q[ph][k], tp, tq);
    }
}

int main(void)
{
    char tmpdir[] = "/tmp/flexbed-test-eu-lv-XXXXXX";
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    char dbp[256], plots[256];
    snprintf(dbp, sizeof dbp, "%s/eu.db", tmpdir);
    snprintf(plots, sizeof plots, "%s/plots", tmpdir);

    struct proc_result r;
    double t0 = proc_now();
    flexbed_run(tmpdir, 120, &r, "run", SCENARIO, "--out", dbp, "--quiet", NULL);
    printf("flexbed run: exit %d in %.2f s\n%s", r.exit_code, proc_now() - t0, r.out);
    CHECK_INT(r.exit_code, 0);
    CHECK(r.errs[0] == '\0', "stderr: %.500s", r.errs);
    if (r.exit_code != 0 || sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rm_tree(tmpdir);
        return check_done("test_eu_lv");
    }
    CHECK_INT(scalar("SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
    t_start = scalar("SELECT sim_start_us FROM runs");
    CHECK_INT(scalar("SELECT count(*) FROM events WHERE severity = 2"), 0);
    CHECK(scalar("SELECT count(*) FROM events WHERE component = 'feeder' AND kind = "
                 "'dss_skipped'") >= 5,
          "the skipped output-only OpenDSS commands are reported");

    /* 1440 samples of the transformer's per-phase P and Q */
    static const char *const pq[6] = {"feeder.p_a_kw",   "feeder.p_b_kw",   "feeder.p_c_kw",
                                      "feeder.q_a_kvar", "feeder.q_b_kvar", "feeder.q_c_kvar"};
    double *pqv[6] = {pa, pb, pc, qa, qb, qc};
    for (int i = 0; i < 6; i++) {
        CHECK_INT(series(pq[i], pqv[i]), NMIN);
        int nan = 0;
        for (int k = 0; k < NMIN; k++)
            nan += isnan(pqv[i][k]);
        CHECK_INT(nan, 0);
    }
    CHECK_INT(series("feeder.v_LOAD1_a_pu", v1), NMIN);
    CHECK_INT(series("feeder.v_LOAD32_c_pu", v32), NMIN);
    CHECK_INT(series("feeder.v_LOAD53_b_pu", v53), NMIN);
    CHECK_INT(series("feeder.loads_kw", loads), NMIN);
    CHECK_INT(series("feeder.p_hv_kw", phv), NMIN);
    CHECK_INT(series("feeder.losses_kw", loss), NMIN);
    CHECK_INT(series("feeder.converged", conv), NMIN);

    /* the published snapshots, at minutes where every asset is idle */
    check_snapshot(566, 566, 1);
    check_snapshot(1, 1, 0);
    check_snapshot(0, 1440, 2);

    /* demand = households + assets at every minute; HV = demand + losses */
    static const char *const assets[] = {"battery1.p_kw", "battery2.p_kw", "ev1.p_kw",
                                         "ev2.p_kw",      "ev3.p_kw",      "ev4.p_kw"};
    for (int k = 0; k < NMIN; k++)
        asset[k] = 0;
    double asset_max = 0, asset_min = 0;
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
        CHECK_INT(series(assets[i], tmp), NMIN);
        for (int k = 0; k < NMIN; k++)
            asset[k] += tmp[k];
    }
    household_demand(demand);
    int bad_demand = 0, bad_balance = 0, not_conv = 0;
    double worst = 0;
    for (int k = 0; k < NMIN; k++) {
        double house = demand[k == 0 ? NMIN - 1 : k - 1]; /* minute k: point k, 0 -> 1440 */
        double err = fabs(loads[k] - (house + asset[k]));
        worst = fmax(worst, err);
        bad_demand += !(err <= 1e-6);
        bad_balance += !(fabs(phv[k] - (loads[k] + loss[k])) <= 1e-6);
        not_conv += conv[k] != 1;
        asset_max = fmax(asset_max, asset[k]);
        asset_min = fmin(asset_min, asset[k]);
    }
    printf("demand vs profiles + assets: worst %.2e kW; assets %.2f .. %.2f kW\n", worst, asset_min,
           asset_max);
    CHECK_INT(bad_demand, 0);
    CHECK_INT(bad_balance, 0);
    CHECK_INT(not_conv, 0);
    CHECK(asset_max > 20, "evening charging: assets at most %.2f kW", asset_max);
    CHECK(asset_min < -3, "discharge: assets at least %.2f kW", asset_min);
    sqlite3_close(db);

    /* the plots, when gnuplot is there */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        flexbed_run(tmpdir, 120, &r, "plot", dbp, "--out", plots, NULL);
        CHECK_INT(r.exit_code, 0);
        char png[512];
        snprintf(png, sizeof png, "%s/run1-feeder.png", plots);
        struct stat st;
        CHECK(stat(png, &st) == 0 && st.st_size > 10000, "%s written", png);
    } else {
        printf("gnuplot not installed: plots not checked\n");
    }
    rm_tree(tmpdir);
    return check_done("test_eu_lv");
}
