/*
 * test_loadshape_calendar.c: an OpenDSS feeder's load shapes follow the
 * calendar, not the run's start.
 *
 * The IEEE European LV feeder with use_loadshapes is run (through the
 * binary, no assets) from several starts, and every bus-phase voltage it
 * records at a local time of day is compared with OpenDSS's own solution
 * of the feeder at that minute of its daily run (tests/data/feeder/
 * opendss-eu-lv/, origin in its README):
 *  - from 09:00, at 09:26: the 566-minute solution (a run that indexed the
 *    shapes by the time since its start showed the 26th point there:
 *    5.8 kW of load instead of 57.4 kW, voltages 0.057 pu off);
 *  - across midnight (from 23:50), at 00:01: the 1-minute solution;
 *  - in a zone with daylight saving (Europe/London on 31 March 2024, the
 *    clocks going from 01:00 GMT to 02:00 BST), from 00:00 GMT, at 09:26
 *    BST: the 566-minute solution (a fixed offset would give 08:26);
 *  - with "loadshape_day_start": "1h", at 10:26: the 566-minute solution;
 *  - with "loadshape_clock": "utc" and a +03:00 start, at 09:26 UTC (12:26
 *    local): the 566-minute solution, while the local clock's 12:26 is
 *    another point of the shapes.
 * A time_zone whose offset at the start is not the start's own, and an
 * unknown zone, are exit status 2 naming the key.
 */
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proc.h"
#include "sim/sim.h"

#define MASTER FLEXBED_SOURCE_DIR "/scenarios/data/eu-lv/Master-constpq.dss"
#define REF FLEXBED_TEST_DATA "/feeder/opendss-eu-lv"
#define NREF 2721 /* bus-phases of the feeder in the reference files */

struct refv {
    char name[48]; /* the signal flexbed records: feeder.v_<bus>_<phase>_pu */
    double pu;
};

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const struct refv *)a)->name, ((const struct refv *)b)->name);
}

/* The reference voltages of one OpenDSS solution, sorted by signal name. */
static int load_ref(const char *file, struct refv *out, int max)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, REF "/%s", file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return 0;
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        char bus[32];
        int node;
        double kv, vm, va, pu;
        if (sscanf(line, "%31[^,],%d,%lf,%lf,%lf,%lf", bus, &node, &kv, &vm, &va, &pu) != 6 ||
            node < 1 || node > 3)
            continue; /* the header */
        snprintf(out[n].name, sizeof out[n].name, "feeder.v_%s_%c_pu", bus, "abc"[node - 1]);
        out[n].pu = pu;
        n++;
    }
    fclose(f);
    qsort(out, (size_t)n, sizeof *out, cmp_ref);
    return n;
}

/* Run the feeder alone from start to end with extra scenario keys; return
 * the largest |V - Vref| (pu) over every recorded bus-phase at `at`, and
 * the count compared in *n. NAN when the run failed. */
static double run_at(const char *tmp, const char *start, const char *end, const char *top_extra,
                     const char *feeder_extra, const char *at, const struct refv *ref, int nref,
                     int *n)
{
    char scn[PATH_MAX], db[PATH_MAX];
    snprintf(scn, sizeof scn, "%s/cal.json", tmp);
    snprintf(db, sizeof db, "%s/cal.db", tmp);
    FILE *f = fopen(scn, "w");
    if (!f)
        return NAN;
    fprintf(f,
            "{\"name\": \"calendar\", \"start\": \"%s\", \"end\": \"%s\", \"step\": \"1min\",\n"
            " \"seed\": 1, \"record\": {\"period\": \"2min\"}%s,\n"
            " \"components\": [{\"name\": \"feeder\", \"type\": \"feeder\", \"circuit\": \"" MASTER
            "\",\n"
            "   \"use_loadshapes\": true, \"tolerance\": 1e-9, \"record_buses\": \"all\"%s}]}\n",
            start, end, top_extra, feeder_extra);
    fclose(f);
    struct proc_result r;
    flexbed_run(tmp, 120, &r, "run", scn, "--out", db, "--quiet", NULL);
    CHECK(r.exit_code == 0, "run from %s: exit %d: %s", start, r.exit_code, r.errs);
    *n = 0;
    if (r.exit_code != 0)
        return NAN;
    sim_time_us t;
    CHECK_INT(sim_time_parse(at, &t, NULL), 0);
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return NAN;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(h,
                       "SELECT g.name, s.value FROM samples s JOIN signals g ON g.id = "
                       "s.signal_id WHERE s.t_us = ? AND g.name LIKE 'feeder.v\\_%' ESCAPE '\\'",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, t);
    double worst = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct refv key;
        snprintf(key.name, sizeof key.name, "%s", (const char *)sqlite3_column_text(st, 0));
        const struct refv *rv = bsearch(&key, ref, (size_t)nref, sizeof *ref, cmp_ref);
        if (!rv)
            continue; /* v_min_pu, v_max_pu */
        worst = fmax(worst, fabs(sqlite3_column_double(st, 1) - rv->pu));
        (*n)++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    unlink(db);
    return worst;
}

int main(void)
{
    char tmp[] = "/tmp/flexbed-calendar-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    static struct refv r566[NREF + 8], r1[NREF + 8];
    int n566 = load_ref("voltages_min566_constPQ.csv", r566, NREF + 8);
    int n1 = load_ref("voltages_min1_constPQ.csv", r1, NREF + 8);
    CHECK_INT(n566, NREF);
    CHECK_INT(n1, NREF);
    const double tol = 2e-5; /* pu; the runs agree to about 2e-6 */
    int n;
    double w;

    w = run_at(tmp, "2024-01-15T09:00:00+00:00", "2024-01-15T09:30:00+00:00", "", "",
               "2024-01-15T09:26:00+00:00", r566, n566, &n);
    printf("from 09:00, at 09:26: %d bus-phases, worst %.2e pu\n", n, w);
    CHECK_INT(n, NREF);
    CHECK(w <= tol, "from 09:00, at 09:26: worst %.3g pu off OpenDSS's minute 566", w);

    /* from 23:51, recorded every 2 min: 00:01 is on the grid */
    w = run_at(tmp, "2024-01-14T23:51:00+00:00", "2024-01-15T00:06:00+00:00", "", "",
               "2024-01-15T00:01:00+00:00", r1, n1, &n);
    printf("from 23:51, at 00:01: %d bus-phases, worst %.2e pu\n", n, w);
    CHECK_INT(n, NREF);
    CHECK(w <= tol, "across midnight, at 00:01: worst %.3g pu off OpenDSS's minute 1", w);

    w = run_at(tmp, "2024-03-31T00:00:00+00:00", "2024-03-31T09:30:00+01:00",
               ", \"time_zone\": \"Europe/London\"", "", "2024-03-31T09:26:00+01:00", r566, n566,
               &n);
    printf("daylight saving (Europe/London, 31 March), at 09:26 BST: %d bus-phases, worst "
           "%.2e pu\n",
           n, w);
    CHECK_INT(n, NREF);
    CHECK(w <= tol, "across the change to summer time, at 09:26 BST: worst %.3g pu", w);

    w = run_at(tmp, "2024-01-15T10:00:00+00:00", "2024-01-15T10:30:00+00:00", "",
               ", \"loadshape_day_start\": \"1h\"", "2024-01-15T10:26:00+00:00", r566, n566, &n);
    printf("loadshape_day_start 1h, at 10:26: %d bus-phases, worst %.2e pu\n", n, w);
    CHECK_INT(n, NREF);
    CHECK(w <= tol, "loadshape_day_start 1h, at 10:26: worst %.3g pu", w);

    w = run_at(tmp, "2024-01-15T12:00:00+03:00", "2024-01-15T12:30:00+03:00", "",
               ", \"loadshape_clock\": \"utc\"", "2024-01-15T12:26:00+03:00", r566, n566, &n);
    printf("loadshape_clock utc, at 09:26 UTC: %d bus-phases, worst %.2e pu\n", n, w);
    CHECK_INT(n, NREF);
    CHECK(w <= tol, "loadshape_clock utc: worst %.3g pu", w);
    w = run_at(tmp, "2024-01-15T12:00:00+03:00", "2024-01-15T12:30:00+03:00", "", "",
               "2024-01-15T12:26:00+03:00", r566, n566, &n);
    CHECK(w > 1e-3, "the local clock's 12:26 is another point (worst %.3g pu)", w);

    /* Bad zones: exit 2 naming the key. */
    char scn[PATH_MAX];
    snprintf(scn, sizeof scn, "%s/bad.json", tmp);
    static const struct {
        const char *start, *zone, *msg;
    } bad[] = {
        {"2024-03-31T09:00:00+00:00", "Europe/London", "bad.json: start: its UTC offset is not"},
        {"2024-01-15T09:00:00+00:00", "Europe/Nowhere", "bad.json: time_zone: unknown time zone"},
        {"2024-01-15T09:00:00+00:00", "../../etc/passwd", "time_zone: unknown time zone"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(scn, "w");
        if (!f)
            break;
        fprintf(f,
                "{\"name\": \"bad\", \"start\": \"%s\", \"end\": \"2024-12-31T00:00:00+00:00\",\n"
                " \"time_zone\": \"%s\", \"components\": []}\n",
                bad[i].start, bad[i].zone);
        fclose(f);
        struct proc_result r;
        flexbed_run(tmp, 30, &r, "run", scn, "--out", scn, NULL);
        CHECK_INT(r.exit_code, 2);
        CHECK_STR_CONTAINS(r.errs, bad[i].msg);
    }
    rm_tree(tmp);
    return check_done("test_loadshape_calendar");
}
