/*
 * test_variants.c: the demo's variants (scenarios/variants/) run and show
 * the change each one is about: a later dispatch delivers less from both
 * assets, an EV that leaves early delivers less than half, a battery near
 * its floor stops at it (a soc_min event), and a DSO threshold posts its
 * own request on the evening peak.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "proc.h"

#define VAR FLEXBED_SOURCE_DIR "/scenarios/variants/"

static cJSON *run_and_report(const char *tmp, const char *name, char *db, size_t n)
{
    struct proc_result r;
    char path[512];
    snprintf(path, sizeof path, VAR "%s.json", name);
    snprintf(db, n, "%s/%s.db", tmp, name);
    flexbed_run(tmp, 120, &r, "run", path, "--out", db, NULL);
    CHECK(r.exit_code == 0, "%s: exit %d: %s", name, r.exit_code, r.errs);
    flexbed_run(tmp, 60, &r, "report", db, "--format", "json", NULL);
    CHECK_INT(r.exit_code, 0);
    cJSON *j = cJSON_Parse(r.out);
    CHECK(j != NULL, "%s: report is not JSON", name);
    return j;
}

static double asset(const cJSON *root, const char *name, const char *key)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(root, "assets"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, key);
            return cJSON_IsNumber(v) ? v->valuedouble : NAN;
        }
    }
    return NAN;
}

static int events_of(const char *db, const char *kind)
{
    sqlite3 *h;
    int n = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM events WHERE run_id = 1 AND kind = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

int main(void)
{
    char tmp[] = "/tmp/flexbed-variants-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char db[512];
    cJSON *j;

    j = run_and_report(tmp, "demo-late-dispatch", db, sizeof db);
    double b = asset(j, "battery storage", "delivered_kwh");
    double v = asset(j, "V2G charger", "delivered_kwh");
    CHECK(b > 5.4 && b < 6.0, "late dispatch: battery delivered %g kWh", b);
    CHECK(v > 5.2 && v < 5.8, "late dispatch: V2G delivered %g kWh", v);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "note") != NULL, "variant note missing");
    cJSON_Delete(j);

    j = run_and_report(tmp, "demo-ev-leaves-early", db, sizeof db);
    CHECK(asset(j, "V2G charger", "delivery_rate") < 0.5, "early departure: V2G rate %g",
          asset(j, "V2G charger", "delivery_rate"));
    CHECK_NEAR(asset(j, "battery storage", "delivered_kwh"), 7.21, 0.05);
    CHECK(events_of(db, "departure") >= 1, "no departure event");
    cJSON_Delete(j);

    j = run_and_report(tmp, "demo-battery-near-floor", db, sizeof db);
    CHECK(asset(j, "battery storage", "delivery_rate") < 0.4, "near floor: battery rate %g",
          asset(j, "battery storage", "delivery_rate"));
    CHECK(events_of(db, "soc_min") == 1, "near floor: %d soc_min events", events_of(db, "soc_min"));
    cJSON_Delete(j);

    j = run_and_report(tmp, "demo-threshold", db, sizeof db);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "transformer");
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(tr, "window_start");
    CHECK(cJSON_IsString(ws) && strncmp(ws->valuestring, "2023-10-02T16:00", 16) != 0,
          "threshold: the window did not move (%s)", cJSON_IsString(ws) ? ws->valuestring : "?");
    CHECK(events_of(db, "threshold") >= 1, "threshold: no threshold event");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(tr, "base_load_kw");
    CHECK(cJSON_IsNumber(base) && base->valuedouble > 140,
          "threshold: the bought window is not on the peak (base %g kW)",
          cJSON_IsNumber(base) ? base->valuedouble : NAN);
    cJSON_Delete(j);

    rm_tree(tmp);
    return check_done("test_variants");
}
