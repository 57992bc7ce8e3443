/*
 * test_scenario.c: the strict reader (scn_*) and the scenario loader.
 *
 * The loader is tested with a registry of two fake component types and a
 * fake "market" section defined here, so that the test depends on sim/
 * only. Every class of error is provoked and its message checked: unknown
 * key, wrong type, out of range, missing key, missing file, bad time, bad
 * duration, duplicate name, unknown type, invalid JSON. Bad scenarios are
 * written into a fresh temporary directory, removed at the end; running
 * under ASan also proves that failed loads free everything.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "sim/scenario.h"

#define DATA FLEXBED_TEST_DATA "/scenario"

/* ------------------------------------------------------------------ */
/* A fake registry                                                     */
/* ------------------------------------------------------------------ */

struct fake {
    double gain;
    struct scn_series *series;
};

static void fake_destroy(void *self)
{
    struct fake *f = self;
    scn_series_free(f->series);
    free(f);
}

static const struct sim_component_ops fake_ops = {.type = "fake", .destroy = fake_destroy};
static const struct sim_component_ops other_ops = {.type = "other", .destroy = free};

/* "fake": gain (required, [0, 1]), optional series object. */
static int fake_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                       struct sim_err *err)
{
    double gain;
    struct scn_obj sobj;
    int has_series, rc;
    struct scn_series *series = NULL;
    if ((rc = scn_number(cfg, "gain", 1, 0, 0, 1, &gain, err)) != 0 ||
        (rc = scn_child(cfg, "series", 0, &sobj, &has_series, err)) != 0)
        return rc;
    if (has_series && (rc = scn_series_load(&sobj, ctx->dir, &series, err)) != 0)
        return rc;
    if ((rc = scn_obj_finish(cfg, err)) != 0) {
        scn_series_free(series);
        return rc;
    }
    struct fake *f = calloc(1, sizeof *f);
    if (!f) {
        scn_series_free(series);
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    }
    f->gain = gain;
    f->series = series;
    int id, sig;
    rc = sim_kernel_add(ctx->kernel, name, &fake_ops, f, ctx->scenario->step, &id, err);
    if (!rc)
        rc = sim_bus_publish(ctx->kernel, id, "p_kw", "kW", SIM_SIG_RECORD, gain, &sig, err);
    return rc;
}

/* "other": no keys; fails when its name is "fail" (to test clean-up after
 * some components were already created). */
static int other_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                        struct sim_err *err)
{
    int rc = scn_obj_finish(cfg, err);
    if (rc)
        return rc;
    if (strcmp(name, "fail") == 0)
        return scn_errf(cfg, NULL, err, "refused by the factory");
    void *self = malloc(1);
    int id;
    return sim_kernel_add(ctx->kernel, name, &other_ops, self, 0, &id, err);
}

struct user {
    int section_calls;
    int components_seen;
    double fee;
};

static int market_load(struct scn_ctx *ctx, struct scn_obj *cfg, struct sim_err *err)
{
    struct user *u = ctx->user;
    u->section_calls++;
    u->components_seen = sim_kernel_component_count(ctx->kernel);
    return scn_number(cfg, "fee", 1, 0, 0, HUGE_VAL, &u->fee, err);
}

static const struct scn_type types[] = {
    {"fake", "a test component with a gain", fake_create},
    {"other", "a test component without keys", other_create},
};
static const struct scn_section sections[] = {{"market", market_load}};
static const struct scn_registry reg = {types, 2, sections, 1};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char tmpdir[64];
static char written[64][128];
static int nwritten;

static const char *write_tmp(const char *name, const char *text)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    int i = 0;
    while (i < nwritten && strcmp(written[i], buf) != 0) /* rewritten files are listed once */
        i++;
    char *path = written[i];
    if (i == nwritten)
        memcpy(written[nwritten++], buf, sizeof buf);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* The common head of a valid scenario; tests append or replace keys. */
#define HEAD                                                                                       \
    "\"name\": \"t\", \"start\": \"2023-10-02T00:00:00+03:00\", "                                  \
    "\"end\": \"2023-10-02T01:00:00+03:00\""

/* Load JSON text written to tmpdir/bad.json; expect SIM_EINVAL and a message
 * containing want (after the file name). */
static void load_bad(const char *json, const char *want)
{
    const char *path = write_tmp("bad.json", json);
    sim_kernel *k = (sim_kernel *)&k; /* must be reset to NULL */
    struct scn_scenario sc;
    struct sim_err err = {{0}};
    struct user u = {0};
    int rc = scn_load(path, &reg, NULL, &u, &k, &sc, &err);
    CHECK(rc == SIM_EINVAL, "expected SIM_EINVAL for %s, got %d (%s)", json, rc, err.msg);
    CHECK(k == NULL, "a failed load must leave *k NULL");
    CHECK(sc.name == NULL && sc.text == NULL && sc.path == NULL,
          "a failed load must leave no strings");
    char full[600];
    snprintf(full, sizeof full, "bad.json: %s", want);
    CHECK_STR_CONTAINS(err.msg, full);
    if (!rc) {
        sim_kernel_free(k);
        scn_scenario_clear(&sc);
    }
}

/* ------------------------------------------------------------------ */
/* The reader on its own                                               */
/* ------------------------------------------------------------------ */

static void test_path_join(void)
{
    char out[64];
    scn_path_join(out, sizeof out, "components[1]", "soc");
    CHECK(strcmp(out, "components[1].soc") == 0, "got %s", out);
    scn_path_join(out, sizeof out, "", "start");
    CHECK(strcmp(out, "start") == 0, "got %s", out);
    scn_path_join(out, sizeof out, "x", "[2]");
    CHECK(strcmp(out, "x[2]") == 0, "got %s", out);
    scn_path_join(out, sizeof out, "x", NULL);
    CHECK(strcmp(out, "x") == 0, "got %s", out);
}

static void test_reader(void)
{
    cJSON *doc = cJSON_Parse("{\"n\": 2.5, \"i\": 7, \"f\": 1.5, \"b\": true, \"s\": \"hi\","
                             " \"e\": \"hold\", \"a\": [1, 2], \"o\": {\"x\": null},"
                             " \"t\": \"2023-10-02T16:00:00+03:00\", \"d\": \"90s\", \"z\": 0}");
    struct scn_obj o;
    struct sim_err err = {{0}};
    CHECK_INT(scn_obj_init(&o, "r.json", "comp", doc, &err), 0);
    CHECK_INT(o.nkeys, 11);

    double n;
    long long i;
    int b, e, present, off;
    const char *s;
    const cJSON *a;
    sim_time_us t, d;
    struct scn_obj child;
    static const char *const modes[] = {"interpolate", "hold", NULL};

    CHECK_INT(scn_number(&o, "n", 1, 0, 0, 10, &n, &err), 0);
    CHECK_NEAR(n, 2.5, 0);
    CHECK_INT(scn_number(&o, "absent", 0, 3.25, 0, 10, &n, &err), 0);
    CHECK_NEAR(n, 3.25, 0);
    CHECK_INT(scn_int(&o, "i", 1, 0, 0, 10, &i, &err), 0);
    CHECK_INT(i, 7);
    CHECK_INT(scn_int(&o, "f", 1, 0, 0, 10, &i, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.f: expected an integer in [0, 10], got 1.5");
    CHECK_INT(scn_bool(&o, "b", 1, 0, &b, &err), 0);
    CHECK_INT(b, 1);
    CHECK_INT(scn_bool(&o, "s", 1, 0, &b, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.s: expected true or false, got \"hi\"");
    CHECK_INT(scn_string(&o, "s", 1, NULL, &s, &err), 0);
    CHECK(strcmp(s, "hi") == 0, "got %s", s);
    CHECK_INT(scn_string(&o, "n", 1, NULL, &s, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.n: expected a string, got 2.5");
    CHECK_INT(scn_enum(&o, "e", 1, modes, 0, &e, &err), 0);
    CHECK_INT(e, 1);
    CHECK_INT(scn_enum(&o, "missing", 0, modes, 0, &e, &err), 0);
    CHECK_INT(e, 0);
    CHECK_INT(scn_array(&o, "a", 1, &a, &err), 0);
    CHECK(a && cJSON_GetArraySize(a) == 2, "array of 2 expected");
    CHECK_INT(scn_array(&o, "o", 1, &a, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.o: expected an array, got an object");
    CHECK_INT(scn_child(&o, "o", 1, &child, &present, &err), 0);
    CHECK_INT(present, 1);
    CHECK(strcmp(child.path, "comp.o") == 0, "child path %s", child.path);
    CHECK_INT(scn_number(&child, "x", 1, 0, 0, 1, &n, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.o.x: expected a number in [0, 1], got null");
    CHECK_INT(scn_child(&o, "a", 1, &child, &present, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.a: expected an object, got an array");
    CHECK_INT(scn_child(&o, "nochild", 0, &child, &present, &err), 0);
    CHECK_INT(present, 0);
    CHECK_INT(scn_obj_finish(&child, &err), 0);
    CHECK_INT(scn_time(&o, "t", 1, 0, &t, &off, &err), 0);
    CHECK_INT(off, 3 * 3600);
    CHECK_INT(scn_duration(&o, "d", 1, 0, 0, 60 * SIM_US_PER_S, &d, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.d: expected a duration in [0s, 1min], got \"90s\"");
    CHECK_INT(scn_duration(&o, "d", 1, 0, 0, INT64_MAX, &d, &err), 0);
    CHECK_INT(d, 90 * SIM_US_PER_S);
    CHECK_INT(scn_number(&o, "z", 1, 0, 1, HUGE_VAL, &n, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: comp.z: expected a number >= 1, got 0");

    /* Every key was asked for, so nothing is unknown. */
    CHECK_INT(scn_obj_finish(&o, &err), 0);
    cJSON_Delete(doc);

    doc = cJSON_Parse("{\"a\": 1, \"b\": 2, \"a\": 3}");
    CHECK_INT(scn_obj_init(&o, "r.json", "", doc, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: a: duplicate key");
    cJSON_Delete(doc);

    doc = cJSON_Parse("{\"a\": 1, \"b\": 2}");
    CHECK_INT(scn_obj_init(&o, "r.json", "", doc, &err), 0);
    CHECK(scn_take(&o, "a") != NULL, "take a");
    CHECK(scn_take(&o, "c") == NULL, "take c");
    CHECK_INT(scn_obj_finish(&o, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: b: unknown key");
    CHECK_INT(scn_errf(&o, NULL, &err, "whole %d", 1), SIM_EINVAL);
    CHECK(strcmp(err.msg, "r.json: whole 1") == 0, "got %s", err.msg);
    cJSON_Delete(doc);

    doc = cJSON_Parse("[1]");
    CHECK_INT(scn_obj_init(&o, "r.json", "components[3]", doc, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "r.json: components[3]: expected an object, got an array");
    cJSON_Delete(doc);
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

static void test_good(void)
{
    sim_kernel *k = NULL;
    struct scn_scenario sc;
    struct sim_err err = {{0}};
    struct user u = {0};
    int rc = scn_load(DATA "/good.json", &reg, NULL, &u, &k, &sc, &err);
    CHECK(rc == 0 && k, "good.json failed: %s", err.msg);
    if (rc)
        return;
    CHECK(strcmp(sc.path, DATA "/good.json") == 0, "path %s", sc.path);
    CHECK(strcmp(sc.name, "good-1.0") == 0, "name %s", sc.name);
    CHECK(strcmp(sc.description, "A valid scenario for tests/sim/test_scenario.c:\ntwo lines.") ==
              0,
          "description %s", sc.description);
    CHECK(sc.text && strstr(sc.text, "\"good-1.0\""), "text kept");
    sim_time_us t0;
    sim_time_parse("2023-10-02T00:00:00+03:00", &t0, NULL);
    CHECK_INT(sc.start, t0);
    CHECK_INT(sc.end, t0 + 6 * SIM_US_PER_H);
    CHECK_INT(sc.step, 15 * SIM_US_PER_MIN);
    CHECK_INT(sc.record_period, 30 * SIM_US_PER_MIN);
    CHECK_INT(sc.utc_offset_s, 3 * 3600);
    CHECK_INT(sc.seed, 42);
    CHECK_INT(sim_kernel_config(k)->seed, 42);
    CHECK_INT(sim_kernel_config(k)->start, sc.start);
    CHECK_INT(sim_kernel_config(k)->end, sc.end);
    CHECK_INT(sim_kernel_component_count(k), 2);
    CHECK_INT(sim_kernel_find(k, "load_a"), 0);
    CHECK_INT(sim_kernel_find(k, "load-b"), 1);
    CHECK(strcmp(sim_kernel_component_type(k, 1), "other") == 0, "type of load-b");
    CHECK(sim_bus_find(k, "load_a.p_kw") >= 0, "load_a published p_kw");
    struct fake *f = sim_kernel_component_self(k, 0);
    CHECK(f && f->series && scn_series_len(f->series) == 3, "series loaded");
    if (f && f->series)
        CHECK_NEAR(scn_series_at(f->series, t0 + 90 * SIM_US_PER_MIN), 20, 0); /* hold */
    CHECK_INT(u.section_calls, 1);
    CHECK_INT(u.components_seen, 2);
    CHECK_NEAR(u.fee, 0.25, 0);
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    CHECK(sc.name == NULL && sc.path == NULL, "clear resets");

    /* Defaults, a negative offset, a seed override. */
    uint64_t seed = 7;
    rc = scn_load(DATA "/minimal.json", &reg, &seed, NULL, &k, &sc, &err);
    CHECK(rc == 0 && k, "minimal.json failed: %s", err.msg);
    if (rc)
        return;
    CHECK_INT(sc.step, SIM_US_PER_MIN);
    CHECK_INT(sc.record_period, SIM_US_PER_MIN);
    CHECK(scn_records(&sc, "anything.at_all"), "no record.signals: every signal is stored");
    CHECK_INT(sc.seed, 7);
    CHECK_INT(sim_kernel_config(k)->seed, 7);
    CHECK_INT(sc.utc_offset_s, -5 * 3600);
    CHECK_INT(sc.end - sc.start, 24 * SIM_US_PER_H); /* 29 Feb 2024 exists */
    CHECK(sc.description && sc.description[0] == '\0', "absent description is empty");
    CHECK_INT(sim_kernel_component_count(k), 0);
    sim_kernel_free(k);
    scn_scenario_clear(&sc);

    /* The seed default, and a file name without a directory part. */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    write_tmp("plain.json",
              "{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\","
              " \"gain\": 1, \"series\": {\"file\": \"s.csv\", \"value_column\": \"v\"}}]}");
    write_tmp("s.csv", "time,v\n2023-10-02T00:00:00+03:00,4\n");
    CHECK(chdir(tmpdir) == 0, "chdir");
    rc = scn_load("plain.json", &reg, NULL, NULL, &k, &sc, &err);
    CHECK(rc == 0, "plain.json failed: %s", err.msg);
    if (!rc) {
        CHECK_INT(sc.seed, 1);
        sim_kernel_free(k);
        scn_scenario_clear(&sc);
    }
    CHECK(chdir(cwd) == 0, "chdir back");
}

/* record.signals: glob patterns, kept in order; a signal is stored when any
 * matches. */
static void test_record_signals(void)
{
    const char *path = write_tmp("rec.json", "{" HEAD ", \"components\": [], \"record\": "
                                             "{\"period\": \"1min\", \"signals\": "
                                             "[\"feeder*.p_kw\", \"ev?.soc\", \"dso.x\"], "
                                             "\"aggregates\": [{\"signal\": \"f*.p_kw\", "
                                             "\"stats\": [\"max\", \"integral\"]}]}}");
    sim_kernel *k = NULL;
    struct scn_scenario sc;
    struct sim_err err = {{0}};
    struct user u = {0};
    int rc = scn_load(path, &reg, NULL, &u, &k, &sc, &err);
    CHECK(rc == 0, "rec.json: %s", err.msg);
    if (rc)
        return;
    CHECK_INT(sc.nrecord_signals, 3);
    CHECK(scn_records(&sc, "feeder.p_kw") && scn_records(&sc, "feeder12.p_kw"), "feeder*.p_kw");
    CHECK(!scn_records(&sc, "feeder12.q_kvar"), "q_kvar is not asked for");
    CHECK(scn_records(&sc, "ev1.soc") && !scn_records(&sc, "ev12.soc"), "ev?.soc");
    CHECK(scn_records(&sc, "dso.x") && !scn_records(&sc, "dso.xy"), "a plain name");
    CHECK_INT(sc.naggregates, 1);
    if (sc.naggregates == 1) {
        CHECK(!strcmp(sc.aggregates[0].signal, "f*.p_kw"), "aggregate signal");
        CHECK_INT(sc.aggregates[0].every, 24 * SIM_US_PER_H); /* the default: a day */
        CHECK_INT(sc.aggregates[0].stats, (1u << SCN_AGG_MAX) | (1u << SCN_AGG_INTEGRAL));
    }
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    CHECK(sc.record_signals == NULL && sc.nrecord_signals == 0, "clear frees the patterns");
}

static void test_errors(void)
{
    /* Unknown keys: in a component, at the top, in a section, in record. */
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1,"
             " \"scael\": 2}]}",
             "components[0].scael: unknown key");
    load_bad("{" HEAD ", \"sede\": 3, \"components\": []}", "sede: unknown key");
    load_bad("{" HEAD ", \"components\": [], \"market\": {\"fee\": 1, \"x\": 2}}",
             "market.x: unknown key");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"every\": \"1min\"}}",
             "record.every: unknown key");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"signals\": []}}",
             "record.signals: expected a non-empty array");
    /* a file that is a device could be read forever */
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1,"
             " \"series\": {\"file\": \"/dev/zero\", \"value_column\": \"v\"}}]}",
             "components[0].series.file: \"/dev/zero\" is not a regular file");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"signals\": [\"a.p_kw\", 3]}}",
             "record.signals[1]: expected a signal name or glob pattern");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"signals\": \"a.p_kw\"}}",
             "record.signals: expected an array");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"aggregates\": [{\"signal\": "
             "\"a.p_kw\", \"stats\": [\"peak\"]}]}}",
             "record.aggregates[0].stats[0]: expected min, max, mean, integral, last or delta");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"aggregates\": [{\"stats\": "
             "[\"max\"]}]}}",
             "record.aggregates[0].signal");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"aggregates\": [{\"signal\": "
             "\"a.p_kw\", \"every\": \"7s\", \"stats\": [\"max\"]}]}}",
             "record.aggregates[0].every");
    load_bad("{" HEAD ", \"components\": [], \"record\": {\"aggregates\": [{\"signal\": "
             "\"a.p_kw\", \"stats\": [\"max\"], \"per\": 1}]}}",
             "record.aggregates[0].per: unknown key");

    /* Wrong types, each JSON type named as it should be. */
    const char *comp =
        "{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": %s}]}";
    struct {
        const char *value, *got;
    } types_got[] = {
        {"\"high\"", "got \"high\""}, {"{}", "got an object"}, {"[1]", "got an array"},
        {"true", "got true"},         {"null", "got null"},    {"1.5", "got 1.5"},
        {"-0.25", "got -0.25"},
    };
    for (size_t i = 0; i < sizeof types_got / sizeof types_got[0]; i++) {
        char json[512], want[128];
        snprintf(json, sizeof json, comp, types_got[i].value);
        snprintf(want, sizeof want, "components[0].gain: expected a number in [0, 1], %s",
                 types_got[i].got);
        load_bad(json, want);
    }
    load_bad("{" HEAD ", \"components\": {}}", "components: expected an array, got an object");
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1}, 3]}",
             "components[1]: expected an object, got 3");
    load_bad("{\"name\": 5, \"start\": \"2023-10-02T00:00:00Z\", \"end\": \"2023-10-03T00:00:00Z\","
             " \"components\": []}",
             "name: expected a string, got 5");
    load_bad("{" HEAD ", \"description\": [\"ok\", 1], \"components\": []}",
             "description[1]: expected a string, got 1");
    load_bad("{" HEAD ", \"description\": {}, \"components\": []}",
             "description: expected a string or an array of strings, got an object");
    load_bad("[1, 2]", "expected an object, got an array");

    /* Out of range / invalid values. */
    load_bad("{\"name\": \"my scenario\", \"start\": \"2023-10-02T00:00:00Z\","
             " \"end\": \"2023-10-03T00:00:00Z\", \"components\": []}",
             "name: expected a name of letters, digits, '_', '.' and '-', got \"my scenario\"");
    load_bad("{" HEAD ", \"seed\": -1, \"components\": []}",
             "seed: expected an integer in [0, 9007199254740992], got -1");
    load_bad("{" HEAD ", \"seed\": 1.5, \"components\": []}", "seed: expected an integer");
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a b\", \"type\": \"fake\"}]}",
             "components[0].name: expected a name of letters, digits, '_' and '-', got \"a b\"");
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a.b\", \"type\": \"fake\"}]}",
             "components[0].name: expected a name");

    /* Missing required keys. */
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\"}]}",
             "components[0].gain: missing required key");
    load_bad("{" HEAD ", \"components\": [{\"type\": \"fake\"}]}",
             "components[0].name: missing required key");
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\"}]}",
             "components[0].type: missing required key");
    load_bad("{\"name\": \"t\", \"end\": \"2023-10-02T00:00:00Z\", \"components\": []}",
             "start: missing required key");
    load_bad("{" HEAD "}", "components: missing required key");
    load_bad("{" HEAD ", \"components\": [], \"market\": {}}", "market.fee: missing required key");

    /* Missing data file, relative to the scenario's directory. */
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1,"
             " \"series\": {\"file\": \"data/x.csv\", \"value_column\": \"v\"}}]}",
             "components[0].series.file: cannot read \"data/x.csv\": No such file or directory");
    /* Bad CSV content: scenario path, then CSV file and line. */
    write_tmp("bad.csv", "time,v\n2023-10-02T00:00:00Z,1\n2023-10-02T00:00:00Z,2\n");
    {
        char want[256];
        snprintf(want, sizeof want,
                 "components[0].series: %s/bad.csv:3: time 2023-10-02T00:00:00Z is not after "
                 "the previous row",
                 tmpdir);
        load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1,"
                 " \"series\": {\"file\": \"bad.csv\", \"value_column\": \"v\"}}]}",
                 want);
    }

    /* Times. */
    load_bad("{\"name\": \"t\", \"start\": \"2023-10-02T00:00:00\", \"end\": "
             "\"2023-10-03T00:00:00Z\", \"components\": []}",
             "start: expected an ISO 8601 time with offset like \"2023-10-02T16:00:00+03:00\", got "
             "\"2023-10-02T00:00:00\"");
    load_bad("{\"name\": \"t\", \"start\": \"2023-10-02T00:00:00Z\", \"end\": "
             "\"2023-02-29T00:00:00Z\", \"components\": []}",
             "end: expected an ISO 8601 time with offset");
    load_bad("{\"name\": \"t\", \"start\": \"2023-10-02T03:00:00+03:00\", \"end\": "
             "\"2023-10-02T00:00:00Z\", \"components\": []}",
             "end: expected a time after start, got \"2023-10-02T00:00:00Z\" (start is "
             "2023-10-02T03:00:00+03:00)");

    /* Durations. */
    load_bad(
        "{" HEAD ", \"step\": \"1 min\", \"components\": []}",
        "step: expected a duration like \"15min\" (units us, ms, s, min, h, d), got \"1 min\"");
    load_bad("{" HEAD ", \"step\": \"-1s\", \"components\": []}",
             "step: expected a duration like \"15min\"");
    load_bad("{" HEAD ", \"step\": 60, \"components\": []}",
             "step: expected a duration like \"15min\" (units us, ms, s, min, h, d), got 60");
    load_bad("{" HEAD ", \"step\": \"0s\", \"components\": []}",
             "step: expected a duration >= 1us, got \"0s\"");
    load_bad("{" HEAD ", \"record\": {\"period\": \"90s\"}, \"components\": []}",
             "record.period: expected a multiple of step (1min), got \"90s\"");

    /* Names and types. */
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1},"
             " {\"name\": \"b\", \"type\": \"other\"}, {\"name\": \"a\", \"type\": \"other\"}]}",
             "components[2].name: \"a\" is already the name of components[0]");
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"batt\"}]}",
             "components[0].type: unknown type \"batt\" (known types: fake, other)");

    /* A factory failing after another component was created. */
    load_bad("{" HEAD ", \"components\": [{\"name\": \"a\", \"type\": \"fake\", \"gain\": 1,"
             " \"series\": {\"file\": \"" DATA
             "/data/series.csv\", \"value_column\": \"load_kw\"}},"
             " {\"name\": \"fail\", \"type\": \"other\"}]}",
             "components[1]: refused by the factory");
}

static void test_file_errors(void)
{
    sim_kernel *k = NULL;
    struct scn_scenario sc;
    struct sim_err err = {{0}};
    char path[128];

    /* Invalid JSON: the position of the error. */
    int rc = scn_load(DATA "/invalid.json", &reg, NULL, NULL, &k, &sc, &err);
    CHECK_INT(rc, SIM_EINVAL);
    CHECK(k == NULL, "no kernel");
    CHECK_STR_CONTAINS(err.msg, DATA "/invalid.json: line 3, column ");
    CHECK_STR_CONTAINS(err.msg, ": invalid JSON");
    const char *p = write_tmp("trunc.json", "{\n\"name\": \"x\",\n\n   \"start\": ");
    rc = scn_load(p, &reg, NULL, NULL, &k, &sc, &err);
    CHECK_INT(rc, SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "trunc.json: line 4, column 13: invalid JSON");
    p = write_tmp("empty.json", "");
    rc = scn_load(p, &reg, NULL, NULL, &k, &sc, &err);
    CHECK_INT(rc, SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "empty.json: line 1, column 1: invalid JSON");

    /* A file that is not there. */
    snprintf(path, sizeof path, "%s/does-not-exist.json", tmpdir);
    rc = scn_load(path, &reg, NULL, NULL, &k, &sc, &err);
    CHECK_INT(rc, SIM_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
    CHECK_STR_CONTAINS(err.msg, want);
    CHECK(k == NULL && sc.path == NULL, "nothing left");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/flexbed-scenario-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_path_join();
    test_reader();
    test_good();
    test_errors();
    test_record_signals();
    test_file_errors();
    for (int i = 0; i < nwritten; i++)
        unlink(written[i]);
    rmdir(tmpdir);
    return check_done("test_scenario");
}
