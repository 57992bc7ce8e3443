/*
 * test_series.c: CSV time series (sim/series.c).
 *
 * Values at known points for linear interpolation, hold (step), scale and
 * repeat, the one-sample case, the demo's base load over a whole day, and
 * every CSV error with the file:line it must name. Bad CSV files are written
 * to a fresh temporary directory, removed at the end.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "sim/scenario.h"

#define DATA FLEXBED_TEST_DATA "/scenario"
#define MIN (60 * SIM_US_PER_S)
#define HOUR SIM_US_PER_H

static char tmpdir[64];
static char written[16][128];
static int nwritten;

static const char *write_tmp(const char *name, const char *text)
{
    char *path = written[nwritten++];
    snprintf(path, sizeof written[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static sim_time_us at(const char *iso)
{
    sim_time_us t = 0;
    CHECK(sim_time_parse(iso, &t, NULL) == 0, "bad time in test: %s", iso);
    return t;
}

static struct scn_series *load(const char *file, const char *tcol, const char *vcol,
                               enum scn_series_mode mode, double scale, sim_time_us repeat)
{
    struct scn_series *s = NULL;
    struct sim_err err = {{0}};
    int rc = scn_series_load_csv(file, tcol, vcol, mode, scale, repeat, &s, &err);
    CHECK(rc == 0 && s, "loading %s failed: %s", file, err.msg);
    return s;
}

static void test_interpolate(void)
{
    struct scn_series *s =
        load(DATA "/data/series.csv", "time", "load_kw", SCN_SERIES_INTERPOLATE, 1, 0);
    if (!s)
        return;
    const sim_time_us t0 = at("2023-10-02T00:00:00+03:00");
    CHECK_INT(scn_series_len(s), 3);
    CHECK_NEAR(scn_series_at(s, t0), 10, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 30 * MIN), 15, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + HOUR), 20, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 2 * HOUR), 10, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 150 * MIN), 5, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 3 * HOUR), 0, 1e-12);
    /* Outside the span: first and last values held. */
    CHECK_NEAR(scn_series_at(s, t0 - 1), 10, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 - 100 * HOUR), 10, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 5 * HOUR), 0, 1e-12);
    /* Going backwards after forwards (the accelerator must cope). */
    CHECK_NEAR(scn_series_at(s, t0 + 15 * MIN), 12.5, 1e-12);
    /* One microsecond after a sample. */
    CHECK_NEAR(scn_series_at(s, t0 + HOUR + 1), 20 - 20.0 / (2 * HOUR), 1e-12);
    CHECK(scn_series_at(s, t0 + HOUR + 1) < 20, "1 us after a sample is not the sample");
    scn_series_free(s);

    /* Another column of the same file, and a scale. */
    s = load(DATA "/data/series.csv", "time", "price", SCN_SERIES_INTERPOLATE, 1000, 0);
    if (s) {
        CHECK_NEAR(scn_series_at(s, t0 + 2 * HOUR), 250, 1e-9);
        scn_series_free(s);
    }
}

static void test_hold(void)
{
    struct scn_series *s = load(DATA "/data/series.csv", "time", "load_kw", SCN_SERIES_HOLD, 1, 0);
    if (!s)
        return;
    const sim_time_us t0 = at("2023-10-02T00:00:00+03:00");
    CHECK_NEAR(scn_series_at(s, t0 - HOUR), 10, 0);
    CHECK_NEAR(scn_series_at(s, t0), 10, 0);
    CHECK_NEAR(scn_series_at(s, t0 + 30 * MIN), 10, 0);
    CHECK_NEAR(scn_series_at(s, t0 + HOUR - 1), 10, 0);
    CHECK_NEAR(scn_series_at(s, t0 + HOUR), 20, 0);
    CHECK_NEAR(scn_series_at(s, t0 + 3 * HOUR - 1), 20, 0);
    CHECK_NEAR(scn_series_at(s, t0 + 3 * HOUR), 0, 0);
    CHECK_NEAR(scn_series_at(s, t0 + 30 * HOUR), 0, 0);
    CHECK_NEAR(scn_series_at(s, t0 + 90 * MIN), 20, 0);
    CHECK_NEAR(scn_series_at(s, t0 + 10 * MIN), 10, 0);
    scn_series_free(s);
}

static void test_scale_and_repeat(void)
{
    const sim_time_us t0 = at("2023-10-02T00:00:00+03:00");
    struct scn_series *s =
        load(DATA "/data/series.csv", "time", "load_kw", SCN_SERIES_INTERPOLATE, -2, 4 * HOUR);
    if (!s)
        return;
    CHECK_NEAR(scn_series_at(s, t0 + 30 * MIN), -30, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 4 * HOUR + 30 * MIN), -30, 1e-12); /* next period */
    CHECK_NEAR(scn_series_at(s, t0 + 40 * HOUR + 30 * MIN), -30, 1e-12);
    CHECK_NEAR(scn_series_at(s, t0 + 3 * HOUR + 30 * MIN), 0, 1e-12); /* gap: last held */
    CHECK_NEAR(scn_series_at(s, t0 - 30 * MIN), 0, 1e-12);            /* wraps to 03:30 */
    CHECK_NEAR(scn_series_at(s, t0 - 4 * HOUR + HOUR), -40, 1e-12);   /* wraps to 01:00 */
    scn_series_free(s);

    /* repeat == span: the last sample's instant is the next period's first. */
    s = load(DATA "/data/series.csv", "time", "load_kw", SCN_SERIES_HOLD, 1, 3 * HOUR);
    if (s) {
        CHECK_NEAR(scn_series_at(s, t0 + 3 * HOUR), 10, 0);
        CHECK_NEAR(scn_series_at(s, t0 + 4 * HOUR), 20, 0);
        CHECK_NEAR(scn_series_at(s, t0 + 6 * HOUR - 1), 20, 0);
        scn_series_free(s);
    }
}

static void test_single_and_demo(void)
{
    struct scn_series *s =
        load(DATA "/data/single.csv", "stamp", "v", SCN_SERIES_INTERPOLATE, 1, 0);
    if (s) {
        CHECK_INT(scn_series_len(s), 1);
        CHECK_NEAR(scn_series_at(s, 0), 42.5, 0);
        CHECK_NEAR(scn_series_at(s, at("2023-10-02T00:00:00Z")), 42.5, 0);
        CHECK_NEAR(scn_series_at(s, at("2030-01-01T00:00:00Z")), 42.5, 0);
        scn_series_free(s);
    }
    /* The demo's base load: its 16:00-16:45 mean is 111 kW by construction
     * (scripts/make-base-load.py); a 1-min walk must reproduce it. */
    s = load(FLEXBED_SOURCE_DIR "/scenarios/data/demo-base-load.csv", "time", "p_kw",
             SCN_SERIES_INTERPOLATE, 1, 0);
    if (s) {
        const sim_time_us t0 = at("2023-10-02T00:00:00+03:00");
        double lo = 1e9, hi = -1e9;
        for (sim_time_us t = t0; t < t0 + 24 * HOUR; t += MIN) {
            double v = scn_series_at(s, t);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        CHECK(lo > 0 && hi < 250, "demo base load out of a plausible range: [%g, %g]", lo, hi);
        scn_series_free(s);
    }
}

static void load_bad(const char *file, const char *tcol, const char *vcol, sim_time_us repeat,
                     const char *want)
{
    struct scn_series *s = NULL;
    struct sim_err err = {{0}};
    int rc = scn_series_load_csv(file, tcol, vcol, SCN_SERIES_INTERPOLATE, 1, repeat, &s, &err);
    CHECK(rc == SIM_EINVAL, "%s should fail with SIM_EINVAL, got %d", file, rc);
    CHECK(s == NULL, "a failed load must leave no series");
    CHECK_STR_CONTAINS(err.msg, want);
    scn_series_free(s);
}

static void test_csv_errors(void)
{
    const char *p;
    char want[256];

    p = write_tmp("order.csv", "time,v\n"
                               "2023-10-02T00:00:00+03:00,1\n"
                               "2023-10-02T00:10:00+03:00,2\n"
                               "# comment\n"
                               "2023-10-02T00:05:00+03:00,3\n");
    snprintf(want, sizeof want,
             "%s:5: time 2023-10-02T00:05:00+03:00 is not after the previous row", p);
    load_bad(p, "time", "v", 0, want);

    p = write_tmp("dup.csv", "time,v\n2023-10-02T00:00:00Z,1\n2023-10-02T03:00:00+03:00,2\n");
    snprintf(want, sizeof want, "%s:3: time 2023-10-02T03:00:00+03:00 is not after", p);
    load_bad(p, "time", "v", 0, want);

    p = write_tmp("value.csv", "time,v\n2023-10-02T00:00:00Z,1\n2023-10-02T01:00:00Z,abc\n");
    snprintf(want, sizeof want, "%s:3: column \"v\": expected a number, got \"abc\"", p);
    load_bad(p, "time", "v", 0, want);

    p = write_tmp("empty-value.csv", "time,v\n2023-10-02T00:00:00Z,\n");
    snprintf(want, sizeof want, "%s:2: column \"v\": expected a number, got \"\"", p);
    load_bad(p, "time", "v", 0, want);

    p = write_tmp("time.csv", "v,time\n1,2023-10-02T00:00:00\n");
    snprintf(want, sizeof want,
             "%s:2: column \"time\": expected an ISO 8601 time with offset, got "
             "\"2023-10-02T00:00:00\"",
             p);
    load_bad(p, "time", "v", 0, want);

    p = write_tmp("column.csv", "# header next\ntime,p_kw\n2023-10-02T00:00:00Z,1\n");
    snprintf(want, sizeof want, "%s:2: no column \"load\" in the header (columns: time, p_kw)", p);
    load_bad(p, "time", "load", 0, want);

    p = write_tmp("short.csv", "time,a,b\n2023-10-02T00:00:00Z,1\n");
    snprintf(want, sizeof want, "%s:2: expected at least 3 columns, got 2", p);
    load_bad(p, "time", "b", 0, want);

    p = write_tmp("norows.csv", "# nothing\ntime,v\n\n");
    snprintf(want, sizeof want, "%s: no data rows", p);
    load_bad(p, "time", "v", 0, want);

    p = write_tmp("noheader.csv", "# only comments\n\n");
    snprintf(want, sizeof want, "%s: no header row", p);
    load_bad(p, "time", "v", 0, want);

    load_bad(DATA "/data/series.csv", "time", "load_kw", HOUR,
             "repeat 1h is shorter than the series' span 3h");

    snprintf(want, sizeof want, "%s/nope.csv: cannot read: No such file or directory", tmpdir);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope.csv", tmpdir);
    load_bad(missing, "time", "v", 0, want);
}

/* scn_series_load: the series object in a scenario, errors prefixed with
 * the scenario file and JSON path. */
static int series_from_json(const char *json, struct scn_series **s, struct sim_err *err)
{
    cJSON *doc = cJSON_Parse(json);
    CHECK(doc != NULL, "test JSON does not parse: %s", json);
    if (!doc)
        return -100;
    struct scn_obj o;
    int rc = scn_obj_init(&o, "demo.json", "components[0].series", doc, err);
    if (!rc)
        rc = scn_series_load(&o, DATA, s, err);
    cJSON_Delete(doc);
    return rc;
}

static void test_series_object(void)
{
    struct scn_series *s = NULL;
    struct sim_err err = {{0}};
    const sim_time_us t0 = at("2023-10-02T00:00:00+03:00");

    int rc = series_from_json("{\"file\": \"data/series.csv\", \"value_column\": \"load_kw\","
                              " \"mode\": \"hold\", \"scale\": 0.5, \"repeat\": \"1d\"}",
                              &s, &err);
    CHECK(rc == 0 && s, "series object failed: %s", err.msg);
    if (s) {
        CHECK_NEAR(scn_series_at(s, t0 + 24 * HOUR + 90 * MIN), 10, 0);
        scn_series_free(s);
        s = NULL;
    }
    rc = series_from_json("{\"file\": \"data/single.csv\", \"time_column\": \"stamp\","
                          " \"value_column\": \"v\"}",
                          &s, &err);
    CHECK(rc == 0 && s, "series object failed: %s", err.msg);
    scn_series_free(s);
    s = NULL;

    struct {
        const char *json, *want;
    } bad[] = {
        {"{\"file\": \"data/x.csv\", \"value_column\": \"v\"}",
         "demo.json: components[0].series.file: cannot read \"data/x.csv\": No such file or "
         "directory"},
        {"{\"value_column\": \"v\"}", "demo.json: components[0].series.file: missing required key"},
        {"{\"file\": \"data/series.csv\"}",
         "demo.json: components[0].series.value_column: missing required key"},
        {"{\"file\": \"data/series.csv\", \"value_column\": \"load_kw\", \"mode\": \"linear\"}",
         "demo.json: components[0].series.mode: expected one of \"interpolate\", \"hold\", got "
         "\"linear\""},
        {"{\"file\": \"data/series.csv\", \"value_column\": \"load_kw\", \"scale\": \"2\"}",
         "demo.json: components[0].series.scale: expected a number, got \"2\""},
        {"{\"file\": \"data/series.csv\", \"value_column\": \"load_kw\", \"repeat\": \"0s\"}",
         "demo.json: components[0].series.repeat: expected a duration >= 1us, got \"0s\""},
        {"{\"file\": \"data/series.csv\", \"value_column\": \"load_kw\", \"repeat\": 24}",
         "components[0].series.repeat: expected a duration like \"15min\""},
        {"{\"file\": \"data/series.csv\", \"value_column\": \"load_kw\", \"scael\": 2}",
         "demo.json: components[0].series.scael: unknown key"},
        {"{\"file\": \"data/series.csv\", \"value_column\": \"p_kw\"}",
         "demo.json: components[0].series: " DATA "/data/series.csv:3: no column \"p_kw\""},
        {"{\"file\": \"data\", \"value_column\": \"v\"}",
         "components[0].series.file: cannot read \"data\": Is a directory"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        rc = series_from_json(bad[i].json, &s, &err);
        CHECK(rc == SIM_EINVAL, "case %zu should fail, rc %d", i, rc);
        CHECK(s == NULL, "case %zu left a series", i);
        CHECK_STR_CONTAINS(err.msg, bad[i].want);
        scn_series_free(s);
        s = NULL;
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flexbed-series-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_interpolate();
    test_hold();
    test_scale_and_repeat();
    test_single_and_demo();
    test_csv_errors();
    test_series_object();
    for (int i = 0; i < nwritten; i++)
        unlink(written[i]);
    rmdir(tmpdir);
    return check_done("test_series");
}
