/*
 * test_profile.c: the profile component on the kernel, and a transformer
 * fed by it.
 *
 * Loads small scenarios written to a temporary directory, runs them and
 * watches the bus through the sample hook: the profile must publish its
 * series (interpolated, scaled) and the reactive power asked for; the
 * transformer must sum its loads, start in steady state, integrate loss of
 * life over the whole run, log threshold events once per crossing, and
 * scenario mistakes must come back as errors naming the JSON path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "models/models.h"
#include "models/transformer.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    check_write_file(path, text);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Filled in main: the factories are extern objects, not constants. */
static struct scn_type types[2];
static struct scn_registry reg;

/* What the hooks saw. */
#define MAX_SAMPLES 400
#define NWATCH 12
struct seen {
    int sig[NWATCH];
    int nsamples;
    sim_time_us t[MAX_SAMPLES];
    double v[MAX_SAMPLES][NWATCH];
    int nevents;
    struct {
        sim_time_us t;
        char comp[32], kind[32];
        enum sim_severity sev;
        double value;
    } ev[32];
};

static int on_sample(void *ctx, sim_time_us t, const double *values, int n)
{
    struct seen *s = ctx;
    if (s->nsamples >= MAX_SAMPLES)
        return 0;
    s->t[s->nsamples] = t;
    for (int i = 0; i < NWATCH; i++)
        s->v[s->nsamples][i] = s->sig[i] >= 0 && s->sig[i] < n ? values[s->sig[i]] : NAN;
    s->nsamples++;
    return 0;
}

static int on_event(void *ctx, sim_time_us t, const char *comp, const char *kind,
                    enum sim_severity sev, double value, const char *msg)
{
    (void)msg;
    struct seen *s = ctx;
    if (s->nevents < 32) {
        s->ev[s->nevents].t = t;
        snprintf(s->ev[s->nevents].comp, sizeof s->ev[0].comp, "%s", comp);
        snprintf(s->ev[s->nevents].kind, sizeof s->ev[0].kind, "%s", kind);
        s->ev[s->nevents].sev = sev;
        s->ev[s->nevents].value = value;
    }
    s->nevents++;
    return 0;
}

static int count_events(const struct seen *s, const char *comp, const char *kind)
{
    int n = 0;
    for (int i = 0; i < s->nevents && i < 32; i++)
        n += !strcmp(s->ev[i].comp, comp) && !strcmp(s->ev[i].kind, kind);
    return n;
}

static double event_value(const struct seen *s, const char *comp, const char *kind)
{
    for (int i = 0; i < s->nevents && i < 32; i++)
        if (!strcmp(s->ev[i].comp, comp) && !strcmp(s->ev[i].kind, kind))
            return s->ev[i].value;
    return NAN;
}

/* Load the scenario text and return the error code; err gets the message. */
static int load(const char *json, sim_kernel **k, struct scn_scenario *sc, struct sim_err *err)
{
    char path[256];
    write_file("s.json", json);
    snprintf(path, sizeof path, "%s/s.json", dir);
    return scn_load(path, &reg, NULL, NULL, k, sc, err);
}

static const char *const base_csv = "time,p_kw\n"
                                    "2023-10-02T00:00:00+03:00,100\n"
                                    "2023-10-02T01:00:00+03:00,160\n";
static const char *const flat_csv = "time,p_kw\n"
                                    "2023-10-02T00:00:00+03:00,250\n";

static void test_run(void)
{
    write_file("base.csv", base_csv);
    write_file("flat.csv", flat_csv);
    const char *json =
        "{\"name\": \"t\", \"start\": \"2023-10-02T00:00:00+03:00\",\n"
        " \"end\": \"2023-10-02T06:00:00+03:00\", \"step\": \"1min\",\n"
        " \"components\": [\n"
        "  {\"name\": \"base\", \"type\": \"profile\", \"power_factor\": 0.8,\n"
        "   \"series\": {\"file\": \"base.csv\", \"value_column\": \"p_kw\", \"scale\": 2}},\n"
        "  {\"name\": \"flat\", \"type\": \"profile\",\n"
        "   \"series\": {\"file\": \"flat.csv\", \"value_column\": \"p_kw\"}},\n"
        "  {\"name\": \"t1\", \"type\": \"transformer\", \"rating_kva\": 250,\n"
        "   \"loads\": [\"base\"], \"loads_q\": [\"base\"], \"ambient_degc\": 17},\n"
        "  {\"name\": \"t2\", \"type\": \"transformer\", \"rating_kva\": 250,\n"
        "   \"loads\": [\"flat.p_kw\"], \"power_factor\": 1, \"hot_spot_alarm_degc\": 97}\n"
        " ]}\n";
    sim_kernel *k = NULL;
    struct scn_scenario sc;
    struct sim_err err = {{0}};
    int rc = load(json, &k, &sc, &err);
    CHECK(rc == 0, "scn_load: %s", err.msg);
    if (rc)
        return;
    /* flat publishes no q: it was not asked for. */
    const char *names[NWATCH] = {"base.p_kw",        "base.q_kvar",     "t1.s_kva",
                                 "t1.loading_pct",   "t1.top_oil_degc", "t2.top_oil_degc",
                                 "t2.hot_spot_degc", "t2.ageing_rate",  "t2.loss_of_life_h",
                                 "t2.loss_kw",       "t2.q_kvar",       "flat.q_kvar"};
    static struct seen seen;
    memset(&seen, 0, sizeof seen);
    struct sim_hooks hooks = {.ctx = &seen, .sample = on_sample, .event = on_event};
    sim_kernel_set_hooks(k, &hooks);
    rc = sim_kernel_init(k, &err);
    CHECK(rc == 0, "init: %s", err.msg);
    if (rc)
        goto out;
    for (int i = 0; i < NWATCH; i++)
        seen.sig[i] = sim_bus_find(k, names[i]);
    for (int i = 0; i < NWATCH - 1; i++)
        CHECK(seen.sig[i] >= 0, "signal %s not published", names[i]);
    CHECK_INT(seen.sig[NWATCH - 1], -1);
    CHECK_STR_CONTAINS(sim_bus_unit(k, seen.sig[0]), "kW");
    CHECK(sim_bus_flags(k, seen.sig[0]) & SIM_SIG_RECORD, "p_kw not recorded");
    CHECK_STR_CONTAINS(sim_bus_unit(k, seen.sig[4]), "degC");

    rc = sim_kernel_run(k, &err);
    CHECK(rc == 0, "run: %s", err.msg);
    CHECK_INT(seen.nsamples, 360);
    if (seen.nsamples < 60)
        goto out;

    /* Profile: 2 x (100 + t/60 x 60) kW for t < 60 min, q = 0.75 p. */
    for (int i = 0; i < seen.nsamples; i++) {
        double m = (double)(seen.t[i] - sc.start) / (double)SIM_US_PER_MIN;
        double p = 2 * (100 + (m < 60 ? m : 60));
        CHECK_NEAR(seen.v[i][0], p, 1e-9);
        CHECK_NEAR(seen.v[i][1], 0.75 * p, 1e-9);
        CHECK_NEAR(seen.v[i][2], 1.25 * p, 1e-9); /* t1 read both */
        CHECK_NEAR(seen.v[i][3], 100 * 1.25 * p / 250, 1e-9);
    }
    /* t1 starts in steady state for its first load (K = 1) at 17 degC. */
    struct mdl_xfm_params par;
    mdl_xfm_params_default(&par);
    CHECK_NEAR(seen.v[0][4], 17 + mdl_xfm_top_oil_rise_ss(&par, 1.0), 1e-9);
    CHECK(seen.v[359][4] > seen.v[0][4] + 20, "t1 did not heat up under 160 %% load");

    /* t2: rated load at 20 degC throughout, so 75 / 98 degC, V = 1, and
     * 6 h of loss of life at the end. */
    for (int i = 0; i < seen.nsamples; i++) {
        double m = (double)(seen.t[i] - sc.start) / (double)SIM_US_PER_MIN;
        CHECK_NEAR(seen.v[i][5], 75.0, 1e-6);
        CHECK_NEAR(seen.v[i][6], 98.0, 1e-6);
        CHECK_NEAR(seen.v[i][7], 1.0, 1e-6);
        CHECK_NEAR(seen.v[i][8], m / 60.0, 1e-5);
        CHECK_NEAR(seen.v[i][9], 4.4, 1e-9);
        CHECK_NEAR(seen.v[i][10], 0.0, 1e-9);
    }
    CHECK_INT(count_events(&seen, "t2", "loss_of_life"), 1);
    CHECK_NEAR(event_value(&seen, "t2", "loss_of_life"), 6.0, 1e-4);
    CHECK_INT(count_events(&seen, "t2", "hot_spot"), 1); /* 98 > 97, once */
    CHECK_INT(count_events(&seen, "t2", "overload"), 0); /* 100 % is not > 100 % */

    /* t1: overloaded from the first minute after start (K > 1), once; hot
     * spot above 120 degC at some point; loss of life far above 6 h. */
    CHECK_INT(count_events(&seen, "t1", "overload"), 1);
    CHECK_INT(count_events(&seen, "t1", "overload_end"), 0);
    CHECK_INT(count_events(&seen, "t1", "hot_spot"), 1);
    CHECK(event_value(&seen, "t1", "loss_of_life") > 6.0, "t1 loss of life %g h",
          event_value(&seen, "t1", "loss_of_life"));
    for (int i = 0; i < seen.nevents && i < 32; i++)
        if (!strcmp(seen.ev[i].kind, "overload"))
            CHECK(seen.ev[i].sev == SIM_WARNING && seen.ev[i].t == sc.start + SIM_US_PER_MIN,
                  "overload event at wrong time or severity");
out:
    sim_kernel_free(k);
    scn_scenario_clear(&sc);
    remove_file("base.csv");
    remove_file("flat.csv");
}

/* A scenario with one mistake must fail, naming where. */
static void expect_error(const char *what, const char *components, int at_init, const char *needle)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"name\": \"e\", \"start\": \"2023-10-02T00:00:00+03:00\",\n"
             " \"end\": \"2023-10-02T01:00:00+03:00\", \"components\": [%s]}\n",
             components);
    sim_kernel *k = NULL;
    struct scn_scenario sc;
    struct sim_err err = {{0}};
    int rc = load(json, &k, &sc, &err);
    if (at_init) {
        CHECK(rc == 0, "%s: scn_load: %s", what, err.msg);
        if (rc == 0)
            rc = sim_kernel_init(k, &err);
        sim_kernel_free(k);
        scn_scenario_clear(&sc);
    } else {
        CHECK(k == NULL, "%s: kernel left on failure", what);
    }
    CHECK(rc != 0, "%s: accepted", what);
    CHECK_STR_CONTAINS(err.msg, needle);
}

static void test_errors(void)
{
    write_file("base.csv", base_csv);
    const char *prof =
        "{\"name\": \"base\", \"type\": \"profile\", \"series\": {\"file\": \"base.csv\", "
        "\"value_column\": \"p_kw\"}}";
    char buf[1024];

    expect_error("no series", "{\"name\": \"p\", \"type\": \"profile\"}", 0,
                 "components[0].series");
    expect_error("q twice",
                 "{\"name\": \"p\", \"type\": \"profile\", \"power_factor\": 0.9, "
                 "\"series\": {\"file\": \"base.csv\", \"value_column\": \"p_kw\"}, "
                 "\"q_series\": {\"file\": \"base.csv\", \"value_column\": \"p_kw\"}}",
                 0, "components[0].power_factor");
    expect_error("bad pf",
                 "{\"name\": \"p\", \"type\": \"profile\", \"power_factor\": 1.5, "
                 "\"series\": {\"file\": \"base.csv\", \"value_column\": \"p_kw\"}}",
                 0, "components[0].power_factor");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"loads\": [\"base\"]}",
             prof);
    expect_error("no rating", buf, 0, "components[1].rating_kva");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 0, \"loads\": [\"base\"]}",
             prof);
    expect_error("zero rating", buf, 0, "components[1].rating_kva");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 250, \"loads\": [\"base\", 3]}",
             prof);
    expect_error("non-string load", buf, 0, "components[1].loads[1]");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 250, \"loads\": [\"base\"], \"tau_o\": 3}",
             prof);
    expect_error("unknown key", buf, 0, "components[1].tau_o");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 250, \"loads\": [\"base\"], \"k21\": 0.5}",
             prof);
    expect_error("k21 < 1", buf, 0, "components[1].k21");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 250, \"loads\": [\"base\"], "
             "\"loads_q\": [\"base\"], \"power_factor\": 0.9}",
             prof);
    expect_error("q twice (transformer)", buf, 0, "components[1].power_factor");
    /* Dangling names are found by the kernel at init, with our origin. */
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 250, \"loads\": [\"base\", \"nosuch\"]}",
             prof);
    expect_error("dangling load", buf, 1, "components[1].loads[1]");
    snprintf(buf, sizeof buf,
             "%s, {\"name\": \"t\", \"type\": \"transformer\", "
             "\"rating_kva\": 250, \"loads\": [\"base\"], "
             "\"loads_q\": [\"base\"]}",
             prof);
    expect_error("q not published", buf, 1, "components[1].loads_q[0]");
    remove_file("base.csv");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/flexbed-profile-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    types[0] = mdl_profile_type;
    types[1] = mdl_transformer_type;
    reg = (struct scn_registry){types, 2, NULL, 0};
    test_run();
    test_errors();
    remove_file("s.json");
    if (rmdir(dir) != 0)
        perror("rmdir");
    return check_done("test_profile");
}
