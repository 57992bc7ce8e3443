/*
 * test_report.c: reports say what the database holds, in all three
 * formats, and plots come out as real PNG and SVG files.
 *
 * A database with two runs (one completed with 4 signals and 25 events in
 * a +03:00 scenario, one left running) is reported as text (looked for),
 * JSON (parsed back with cJSON, numbers compared exactly) and CSV (parsed
 * back field by field, quoting included). Plotting draws the expected
 * charts when gnuplot is on PATH (skipped with a message otherwise), leaves
 * no temporary file behind, and without gnuplot fails with SIM_ENOENT and
 * the install hint.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "results/results.h"

static char dir[64];

static const sim_time_us T0 = INT64_C(1696204800) * SIM_US_PER_S; /* 2023-10-02T00:00Z */
#define N1 121                                                    /* instants of run 1 */
#define N2 50000                                                  /* instants of run 2 */
#define ODD_NAME "odd,\"name\""

/* Expected statistics of run 1's first three signals. */
static double emin[3], emax[3], emean[3];

static double value_of(int k, int i)
{
    switch (k) {
    case 0:
        return sin(i * 0.1) * 7.3;
    case 1:
        return 50.0 + i * 0.1;
    default:
        return (i % 10) - 4.5;
    }
}

static void remove_tree(const char *d)
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
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(dp);
    rmdir(d);
}

static int build_db(const char *path)
{
    struct sim_err err = {{0}};
    res_store *s = NULL;
    int rc = res_store_open(path, RES_OPEN_CREATE, &s, &err);
    struct res_run_info a = {
        .scenario_name = "demo",
        .scenario_path = "scenarios/demo.json",
        .seed = UINT64_MAX,
        .sim_start = T0,
        .sim_end = T0 + 2 * SIM_US_PER_H,
        .step = SIM_US_PER_MIN,
        .utc_offset_s = 3 * 3600,
        .version = "0.1.0",
    };
    int64_t run, ids[4];
    if (!rc)
        rc = res_run_begin(s, &a, &run, &err);
    if (!rc)
        rc = res_signal_add(s, run, "battery.p_kw", "kW", "battery", &ids[0], &err);
    if (!rc)
        rc = res_signal_add(s, run, "battery.soc", "%", "battery", &ids[1], &err);
    if (!rc)
        rc = res_signal_add(s, run, "grid.p_kw", "kW", "grid", &ids[2], &err);
    if (!rc)
        rc = res_signal_add(s, run, ODD_NAME, "1", NULL, &ids[3], &err);
    for (int k = 0; k < 3; k++) {
        emin[k] = INFINITY;
        emax[k] = -INFINITY;
        emean[k] = 0;
    }
    for (int i = 0; i < N1 && !rc; i++) {
        double v[4];
        for (int k = 0; k < 3; k++) {
            v[k] = value_of(k, i);
            emin[k] = fmin(emin[k], v[k]);
            emax[k] = fmax(emax[k], v[k]);
            emean[k] += v[k] / N1;
        }
        v[3] = NAN;
        rc = res_samples(s, T0 + i * SIM_US_PER_MIN, ids, v, 4, &err);
    }
    for (int i = 0; i < 25 && !rc; i++)
        rc = res_event(s, run, T0 + i * SIM_US_PER_MIN, i % 2 ? "battery" : NULL,
                       i % 3 == 2 ? "overload" : "soc_min", i % 3, i * 0.5,
                       i == 0 ? "first, \"quoted\"" : NULL, &err);
    if (!rc)
        rc = res_run_end(s, run, RES_COMPLETED, T0 + 2 * SIM_US_PER_H, NULL, &err);

    /* Run 2: left running (closed without res_run_end), many samples. */
    struct res_run_info b = {
        .scenario_name = "second",
        .seed = 5,
        .sim_start = T0,
        .sim_end = T0 + N2 * SIM_US_PER_S,
        .step = SIM_US_PER_S,
        .utc_offset_s = 0,
    };
    if (!rc)
        rc = res_run_begin(s, &b, &run, &err);
    if (!rc)
        rc = res_signal_add(s, run, "pv.p_kw", "kW", "pv", &ids[0], &err);
    for (int i = 0; i < N2 && !rc; i++) {
        double v = (i % 600) * 0.01;
        rc = res_samples(s, T0 + i * SIM_US_PER_S, ids, &v, 1, &err);
    }
    res_store_close(s);
    CHECK(rc == 0, "build_db: %s", err.msg);
    return rc;
}

/* Run res_report into a string (caller frees). */
static char *report(res_store *s, enum res_format fmt)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    struct sim_err err = {{0}};
    int rc = res_report(s, fmt, f, &err);
    fclose(f);
    CHECK(rc == 0, "report %d: %s", (int)fmt, err.msg);
    return buf;
}

static void test_text(res_store *s)
{
    char *t = report(s, RES_TEXT);
    CHECK_STR_CONTAINS(t, "run 1: demo\n");
    CHECK_STR_CONTAINS(t, "seed        18446744073709551615\n");
    CHECK_STR_CONTAINS(t, "status      completed\n");
    CHECK_STR_CONTAINS(t, "2023-10-02T03:00:00+03:00 .. 2023-10-02T05:00:00+03:00");
    CHECK_STR_CONTAINS(t, "samples     484 in 4 signals\n");
    CHECK_STR_CONTAINS(t, "battery.p_kw");
    CHECK_STR_CONTAINS(t, "events      25 (info 9, warning 8, alarm 8)\n");
    CHECK_STR_CONTAINS(t, "2023-10-02T03:00:00+03:00  info     -  soc_min 0: first, \"quoted\"");
    CHECK_STR_CONTAINS(t, "... 5 more");
    CHECK_STR_CONTAINS(t, "run 2: second\n");
    CHECK_STR_CONTAINS(t, "status      running, or stopped without finishing (killed, crashed): "
                          "the figures below are partial\n");
    CHECK_STR_CONTAINS(t, "samples     50000 in 1 signal\n");
    free(t);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "(not a string)";
}

static void test_json(res_store *s)
{
    char *t = report(s, RES_JSON);
    cJSON *root = cJSON_Parse(t);
    CHECK(root != NULL, "JSON does not parse: %.200s", t ? t : "");
    /* The seed is written as exact digits. */
    CHECK_STR_CONTAINS(t, "\"seed\":18446744073709551615,");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    CHECK(cJSON_IsArray(runs) && cJSON_GetArraySize(runs) == 2, "runs");
    const cJSON *r = cJSON_GetArrayItem(runs, 0);
    if (r) {
        CHECK_INT(num(r, "id"), 1);
        CHECK(!strcmp(str(r, "scenario"), "demo"), "scenario %s", str(r, "scenario"));
        CHECK(!strcmp(str(r, "status"), "completed"), "status");
        CHECK(!strcmp(str(r, "start"), "2023-10-02T03:00:00+03:00"), "start %s", str(r, "start"));
        CHECK(!strcmp(str(r, "end"), "2023-10-02T05:00:00+03:00"), "end %s", str(r, "end"));
        CHECK(!strcmp(str(r, "reached"), "2023-10-02T05:00:00+03:00"), "reached");
        CHECK_INT(num(r, "utc_offset_s"), 10800);
        CHECK_INT(num(r, "samples"), 4 * N1);
        CHECK(num(r, "step_s") == 60.0, "step_s");
        const cJSON *sig = cJSON_GetObjectItemCaseSensitive(r, "signals");
        CHECK(cJSON_GetArraySize(sig) == 4, "4 signals");
        for (int k = 0; k < 3; k++) {
            const cJSON *g = cJSON_GetArrayItem(sig, k);
            if (!g)
                break;
            CHECK(num(g, "min") == emin[k], "signal %d min %.17g != %.17g", k, num(g, "min"),
                  emin[k]);
            CHECK(num(g, "max") == emax[k], "signal %d max %.17g != %.17g", k, num(g, "max"),
                  emax[k]);
            CHECK_NEAR(num(g, "mean"), emean[k], 1e-9);
            CHECK_INT(num(g, "samples"), N1);
        }
        const cJSON *g0 = cJSON_GetArrayItem(sig, 0), *g3 = cJSON_GetArrayItem(sig, 3);
        if (g0 && g3) {
            CHECK(!strcmp(str(g0, "name"), "battery.p_kw") && !strcmp(str(g0, "unit"), "kW"),
                  "signal 0 name/unit");
            CHECK(!strcmp(str(g3, "name"), ODD_NAME), "odd name %s", str(g3, "name"));
            CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g3, "min")), "NaN min -> null");
            CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g3, "mean")), "mean null");
            CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g3, "component")), "component");
            CHECK_INT(num(g3, "samples"), N1);
        }
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "events");
        CHECK(cJSON_GetArraySize(ev) == 25, "25 events");
        const cJSON *e0 = cJSON_GetArrayItem(ev, 0), *e5 = cJSON_GetArrayItem(ev, 5);
        if (e0 && e5) {
            CHECK(!strcmp(str(e0, "t"), "2023-10-02T03:00:00+03:00"), "event t");
            CHECK(!strcmp(str(e0, "severity"), "info"), "severity");
            CHECK(!strcmp(str(e0, "message"), "first, \"quoted\""), "message");
            CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e0, "component")), "null comp");
            CHECK(!strcmp(str(e5, "severity"), "alarm") && !strcmp(str(e5, "kind"), "overload"),
                  "event 5");
            CHECK(num(e5, "value") == 2.5, "event value");
        }
        const cJSON *ec = cJSON_GetObjectItemCaseSensitive(r, "event_counts");
        CHECK(num(ec, "info") == 9 && num(ec, "warning") == 8 && num(ec, "alarm") == 8,
              "event counts");
    }
    const cJSON *r2 = cJSON_GetArrayItem(runs, 1);
    if (r2) {
        CHECK(!strcmp(str(r2, "status"), "running"), "run 2 status");
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r2, "reached")), "reached null");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r2, "events")) == 0, "events");
        CHECK_INT(num(r2, "seed"), 5);
    }
    cJSON_Delete(root);
    free(t);
}

/* Split one CSV record (RFC 4180) at *p into fields; returns the count. */
static int csv_record(const char **p, char fields[][64], int max)
{
    int n = 0;
    const char *c = *p;
    while (n < max) {
        size_t k = 0;
        if (*c == '"') {
            c++;
            while (*c && !(*c == '"' && c[1] != '"')) {
                if (*c == '"')
                    c++;
                if (k < 63)
                    fields[n][k++] = *c;
                c++;
            }
            if (*c == '"')
                c++;
        } else {
            while (*c && *c != ',' && *c != '\n')
                if (k < 63)
                    fields[n][k++] = *c++;
        }
        fields[n++][k] = '\0';
        if (*c == ',') {
            c++;
            continue;
        }
        break;
    }
    if (*c == '\n')
        c++;
    *p = c;
    return n;
}

static void test_csv(res_store *s)
{
    char *t = report(s, RES_CSV);
    const char *p = t ? t : "";
    char f[9][64], *g[7];
    CHECK(csv_record(&p, f, 9) == 8 && !strcmp(f[0], "run_id") && !strcmp(f[1], "variant") &&
              !strcmp(f[7], "max"),
          "header");
    int rows = 0;
    while (*p) {
        int n = csv_record(&p, f, 9);
        CHECK_INT(n, 8);
        CHECK(!strcmp(f[1], "main"), "variant %s", f[1]);
        for (int c = 0; c < 7; c++) /* the columns after the variant, as before it came */
            g[c] = c == 0 ? f[0] : f[c + 1];
        rows++;
        if (rows <= 3) {
            int k = rows - 1;
            CHECK(!strcmp(g[0], "1"), "run id %s", g[0]);
            CHECK_INT(atoll(g[3]), N1);
            CHECK(strtod(g[4], NULL) == emin[k], "min %s", g[4]);
            CHECK(strtod(g[6], NULL) == emax[k], "max %s", g[6]);
            CHECK_NEAR(strtod(g[5], NULL), emean[k], 1e-9);
        } else if (rows == 4) {
            CHECK(!strcmp(g[1], ODD_NAME), "quoted name back: %s", g[1]);
            CHECK(!g[4][0] && !g[5][0] && !g[6][0], "no values: empty fields");
        } else if (rows == 5) {
            CHECK(!strcmp(g[0], "2") && !strcmp(g[1], "pv.p_kw") && !strcmp(g[2], "kW"), "pv");
            CHECK_INT(atoll(g[3]), N2);
            CHECK(strtod(g[6], NULL) == 599 * 0.01, "pv max %s", g[6]);
        }
    }
    CHECK_INT(rows, 5);
    free(t);
}

static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)len, path);
        if (access(buf, X_OK) == 0)
            return 1;
        if (!end)
            break;
        path = end + 1;
    }
    return 0;
}

static int file_starts(const char *path, const char *magic, size_t n, long *size)
{
    FILE *f = fopen(path, "rb");
    char buf[512] = {0};
    *size = 0;
    if (!f)
        return 0;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fclose(f);
    if (n)
        return k >= n && memcmp(buf, magic, n) == 0;
    return strstr(buf, magic) != NULL;
}

static void test_plot(res_store *s)
{
    char out[128];
    snprintf(out, sizeof out, "%s/plots/sub", dir);
    struct sim_err err = {{0}};

    /* Without gnuplot on PATH: SIM_ENOENT and the install hint. */
    char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", "/nonexistent-flexbed", 1);
    CHECK_INT(res_plot(s, out, NULL, &err), SIM_ENOENT);
    CHECK_STR_CONTAINS(err.msg, "gnuplot is not installed (apt-get install gnuplot-nox)");
    if (saved)
        setenv("PATH", saved, 1);
    else
        unsetenv("PATH");
    free(saved);

    if (!have_gnuplot()) {
        printf("test_report: gnuplot not on PATH, plot test skipped\n");
        return;
    }
    char *list = NULL;
    size_t n = 0;
    FILE *w = open_memstream(&list, &n);
    int rc = res_plot(s, out, w, &err);
    fclose(w);
    CHECK(rc == 0, "res_plot: %s", err.msg);
    static const char *const want[] = {"run1-battery", "run1-grid", "run1", "run2-pv", "run2"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        for (int e = 0; e < 2; e++) {
            char path[256], line[260];
            snprintf(path, sizeof path, "%s/%s.%s", out, want[i], e ? "svg" : "png");
            snprintf(line, sizeof line, "%s\n", path);
            CHECK_STR_CONTAINS(list, line);
            long size;
            int ok = e ? file_starts(path, "<svg", 0, &size)
                       : file_starts(path, "\x89PNG\r\n", 6, &size);
            CHECK(ok && size > 1000, "%s: not a %s file (%ld bytes)", path, e ? "SVG" : "PNG",
                  size);
        }
    }
    /* 5 charts x 2 formats, and nothing else (no temporary files left). */
    int lines = 0;
    for (const char *c = list; c && *c; c++)
        lines += *c == '\n';
    CHECK_INT(lines, 10);
    int files = 0;
    DIR *dp = opendir(out);
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
            continue;
        CHECK(strncmp(e->d_name, ".flexbed-plot-", 14) != 0, "left behind: %s", e->d_name);
        files++;
    }
    if (dp)
        closedir(dp);
    CHECK_INT(files, 10);
    free(list);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/flexbed-test-report-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/run.db", dir);
    if (build_db(path) == 0) {
        res_store *s = NULL;
        struct sim_err err = {{0}};
        CHECK_INT(res_store_open(path, RES_OPEN_READ, &s, &err), 0);
        if (s) {
            test_text(s);
            test_json(s);
            test_csv(s);
            test_plot(s);
            res_store_close(s);
        }
    }
    remove_tree(dir);
    return check_done("test_report");
}
