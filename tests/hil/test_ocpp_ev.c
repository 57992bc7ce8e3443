/*
 * test_ocpp_ev.c: the "ev" asset on the OCPP backend inside a paced kernel.
 *
 * Three EV assets share the kernel's central system: EV1 behind the
 * emulated V2G charge point, EV2 behind one that accepts profiles and
 * ignores them, EV3 whose charge point never connects. A setpoint source
 * asks for 6 kW of discharge after two wall seconds. Proves that EV1
 * publishes the EV model's signals from MeterValues and follows the
 * setpoint through SetChargingProfile, that EV2's disobedience is logged
 * ("profile_ignored"), that EV3 goes stale and then failed ("device_lost")
 * with zero power, and that the central system's wire events reach the
 * kernel's log under the right asset. The charge points run in a thread
 * of their own; the run lasts about eight wall seconds. Its journal then
 * replays, as fast as possible and without any socket, to the same
 * published values.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hil/hil_ocpp.h"

#define START INT64_C(1696251600000000) /* 2023-10-02T13:00:00Z */
#define SPEED 4.0
#define RUN_S 32 /* simulated seconds: 8 wall seconds */

/* A setpoint source: 0 kW, then -6 kW from START + 8 s (2 wall seconds). */
struct ctl {
    sim_kernel *k;
    int id, sig;
};

static int ctl_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)err;
    struct ctl *c = self;
    sim_bus_set(k, c->sig, now >= START + 8 * SIM_US_PER_S ? -6.0 : 0.0);
    return 0;
}

static void ctl_destroy(void *self)
{
    free(self);
}

static const struct sim_component_ops ctl_ops = {
    .type = "test_ctl", .step = ctl_step, .destroy = ctl_destroy};

/* What the hooks saw. */
static double last[64];
static int nsig;
static char kinds[256][40], comps[256][40];
static int nev;

static int on_sample(void *ctx, sim_time_us t, const double *v, int n)
{
    (void)ctx;
    (void)t;
    nsig = n < 64 ? n : 64;
    memcpy(last, v, (size_t)nsig * sizeof *v);
    return 0;
}

static int on_event(void *ctx, sim_time_us t, const char *component, const char *kind,
                    enum sim_severity sev, double value, const char *message)
{
    (void)ctx;
    (void)t;
    (void)sev;
    (void)value;
    if (getenv("TEST_OCPP_DUMP"))
        fprintf(stderr, "event %s %s: %s\n", component, kind, message);
    if (nev < 256) {
        snprintf(kinds[nev], sizeof kinds[nev], "%s", kind);
        snprintf(comps[nev], sizeof comps[nev], "%s", component);
        nev++;
    }
    return 0;
}

static sim_recording *REC; /* the recorded run's journal */
static long n_journal;

static int on_journal(void *ctx, sim_time_us t, const char *component, enum sim_journal_dir dir,
                      const char *channel, double value, const char *text)
{
    (void)ctx;
    n_journal++;
    return REC ? sim_recording_add(REC, t, component, dir, channel, value, text) : 0;
}

static int saw(const char *comp, const char *kind)
{
    for (int i = 0; i < nev; i++)
        if (!strcmp(comps[i], comp) && !strcmp(kinds[i], kind))
            return 1;
    return 0;
}

static double sig(sim_kernel *k, const char *name)
{
    int s = sim_bus_find(k, name);
    CHECK(s >= 0 && s < nsig, "no signal %s", name);
    return s >= 0 && s < nsig ? last[s] : NAN;
}

/* The charge points, serviced by their own thread. */
static hil_ocpp_cp_pool *POOL;
static atomic_int stop_pool;

static void *pool_main(void *arg)
{
    (void)arg;
    struct sim_err err = {{0}};
    while (!stop_pool)
        if (hil_ocpp_cp_pool_service(POOL, &err) != 0)
            fprintf(stderr, "pool: %s\n", err.msg);
    return NULL;
}

static int add_ev(struct scn_ctx *ctx, const char *name, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    struct scn_obj o;
    struct sim_err err = {{0}};
    int rc = scn_obj_init(&o, "test.json", name, j, &err);
    if (!rc)
        rc = hil_ocpp_ev_create(ctx, &o, name, &err);
    CHECK(rc == 0, "%s: %s", name, err.msg);
    cJSON_Delete(j);
    return rc;
}

static void test_bad_config(void)
{
    struct sim_config kc = {.start = START, .end = START + SIM_US_PER_S, .seed = 1};
    sim_kernel *k = sim_kernel_new(&kc);
    struct scn_scenario sc = {.step = SIM_US_PER_S};
    struct scn_ctx ctx = {.file = "test.json", .dir = ".", .kernel = k, .scenario = &sc};
    struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"capacity_kwh\":60,\"p_charge_max_kw\":11}", "charge_point_id"},
        {"{\"charge_point_id\":\"a/b\",\"capacity_kwh\":60,\"p_charge_max_kw\":11}", "without '/'"},
        {"{\"charge_point_id\":\"X\",\"capacity_kwh\":60,\"p_charge_max_kw\":11,\"colour\":1}",
         "colour: unknown key"},
        {"{\"backend\":\"modbus\",\"charge_point_id\":\"X\"}", "expected \"ocpp\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i].json);
        struct scn_obj o;
        struct sim_err err = {{0}};
        int rc = scn_obj_init(&o, "test.json", "components[0]", j, &err);
        if (!rc)
            rc = hil_ocpp_ev_create(&ctx, &o, "ev", &err);
        CHECK(rc == SIM_EINVAL, "%s accepted", bad[i].json);
        CHECK_STR_CONTAINS(err.msg, bad[i].msg);
        cJSON_Delete(j);
    }
    /* Two assets must agree on the central system. */
    CHECK_INT(add_ev(&ctx, "a",
                     "{\"charge_point_id\":\"A\",\"ocpp_port\":0,\"capacity_kwh\":60,"
                     "\"p_charge_max_kw\":11}"),
              0);
    CHECK_INT(hil_ocpp_kernel_cs_port(k), -1); /* it listens from init on */
    struct scn_obj o;
    struct sim_err err = {{0}};
    cJSON *j = cJSON_Parse("{\"charge_point_id\":\"A\",\"ocpp_port\":0,\"capacity_kwh\":60,"
                           "\"p_charge_max_kw\":11}");
    scn_obj_init(&o, "test.json", "components[1]", j, &err);
    CHECK_INT(hil_ocpp_ev_create(&ctx, &o, "b", &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "already the charge point of a");
    cJSON_Delete(j);
    j = cJSON_Parse("{\"charge_point_id\":\"B\",\"ocpp_port\":1,\"capacity_kwh\":60,"
                    "\"p_charge_max_kw\":11}");
    scn_obj_init(&o, "test.json", "components[1]", j, &err);
    CHECK_INT(hil_ocpp_ev_create(&ctx, &o, "b", &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "components[1].ocpp_port: all OCPP assets share");
    cJSON_Delete(j);
    sim_kernel_free(k);
}

/* The scenario: the setpoint source and three OCPP EVs; NULL on failure. */
static sim_kernel *build(void)
{
    struct sim_config kc = {.start = START, .end = START + RUN_S * SIM_US_PER_S, .seed = 1};
    sim_kernel *k = sim_kernel_new(&kc);
    struct scn_scenario sc = {.step = SIM_US_PER_S};
    struct scn_ctx ctx = {.file = "test.json", .dir = ".", .kernel = k, .scenario = &sc};
    struct sim_err err = {{0}};
    struct ctl *c = calloc(1, sizeof *c);
    c->k = k;
    CHECK_INT(sim_kernel_add(k, "ctl", &ctl_ops, c, SIM_US_PER_S, &c->id, &err), 0);
    CHECK_INT(sim_bus_publish(k, c->id, "sp", "kW", SIM_SIG_RECORD, 0, &c->sig, &err), 0);
    const char *common =
        "\"capacity_kwh\":60,\"p_charge_max_kw\":11,\"p_discharge_max_kw\":11,"
        "\"soc_min_discharge\":0.2,\"setpoint\":\"ctl.sp\",\"timeout\":\"2s\","
        "\"lost_after\":\"3s\",\"follow_grace\":\"2s\",\"arrival\":"
        "\"2023-10-02T16:00:00+03:00\",\"departure\":\"2023-10-02T18:00:00+03:00\","
        "\"soc_arrival\":0.5,\"policy\":\"auto\"";
    char j1[1024], j2[1024], j3[1024];
    snprintf(j1, sizeof j1, "{\"backend\":\"ocpp\",\"charge_point_id\":\"EV1\",\"ocpp_port\":0,%s}",
             common);
    snprintf(j2, sizeof j2, "{\"charge_point_id\":\"EV2\",\"ocpp_port\":0,%s}", common);
    snprintf(j3, sizeof j3, "{\"charge_point_id\":\"EV3\",\"ocpp_port\":0,%s}", common);
    if (add_ev(&ctx, "ev1", j1) || add_ev(&ctx, "ev2", j2) || add_ev(&ctx, "ev3", j3)) {
        sim_kernel_free(k);
        return NULL;
    }
    return k;
}

static const char *const compared[] = {
    "connected", "p_kw",     "setpoint_kw", "soc",
    "e_kwh",     "e_in_kwh", "e_out_kwh",   "available_discharge_kw",
    "stale",     "failed",   NULL};

static void test_run(void)
{
    sim_kernel *k = build();
    if (!k)
        return;
    struct sim_err err = {{0}};
    REC = sim_recording_new();
    struct sim_hooks h = {.sample = on_sample, .event = on_event, .journal = on_journal};
    sim_kernel_set_hooks(k, &h);
    sim_kernel_set_speed(k, SPEED);
    int rc = sim_kernel_init(k, &err);
    CHECK(rc == 0, "init: %s", err.msg);
    int port = hil_ocpp_kernel_cs_port(k);
    CHECK(port > 0, "port %d", port);

    /* The emulated charge points for EV1 and EV2 (EV3 never comes). */
    CHECK_INT(hil_ocpp_cp_pool_new(NULL, &POOL, &err), 0);
    hil_ocpp_ev_device *dev[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        struct hil_ocpp_ev_params ep;
        hil_ocpp_ev_params_default(&ep);
        CHECK_INT(hil_ocpp_ev_device_new(&ep, &dev[i], &err), 0);
        struct hil_ocpp_cp_device ops;
        hil_ocpp_ev_device_ops(dev[i], &ops);
        struct hil_ocpp_cp_config cc;
        hil_ocpp_cp_config_default(&cc);
        char url[128];
        snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp/EV%d", port, i + 1);
        cc.url = url;
        cc.meter_interval_ms = 250;
        cc.reconnect_min_ms = 100;
        cc.ignore_profiles = i == 1;
        CHECK_INT(hil_ocpp_cp_add(POOL, &cc, &ops, NULL, &err), 0);
    }
    pthread_t th;
    stop_pool = 0;
    pthread_create(&th, NULL, pool_main, NULL);
    if (!rc) {
        rc = sim_kernel_run(k, &err);
        CHECK(rc == 0, "run: %s", err.msg);
    }
    stop_pool = 1;
    pthread_join(th, NULL);

    /* EV1 follows the discharge setpoint. */
    CHECK_NEAR(sig(k, "ev1.setpoint_kw"), -6, 1e-9);
    CHECK_NEAR(sig(k, "ev1.p_kw"), -6, 0.01);
    CHECK_NEAR(sig(k, "ev1.connected"), 1, 0);
    CHECK_NEAR(sig(k, "ev1.stale"), 0, 0);
    CHECK_NEAR(sig(k, "ev1.failed"), 0, 0);
    CHECK(sig(k, "ev1.e_in_kwh") > 0.001 && sig(k, "ev1.e_out_kwh") > 0.005,
          "energies in %g out %g", sig(k, "ev1.e_in_kwh"), sig(k, "ev1.e_out_kwh"));
    CHECK(sig(k, "ev1.soc") > 0.49 && sig(k, "ev1.soc") < 0.5, "soc %g", sig(k, "ev1.soc"));
    CHECK_NEAR(sig(k, "ev1.e_kwh"), sig(k, "ev1.soc") * 60, 1e-9);
    CHECK_NEAR(sig(k, "ev1.available_discharge_kw"), 11, 1e-9);
    /* The emulator's own books agree with what reached the kernel. */
    struct mdl_sto_state st;
    hil_ocpp_ev_device_state(dev[0], &st);
    CHECK_NEAR(sig(k, "ev1.e_out_kwh"), st.e_out_kwh, 0.003);
    /* EV2 ignores its profile: still charging, and logged. */
    CHECK_NEAR(sig(k, "ev2.p_kw"), 11, 0.01);
    CHECK(saw("ev2", "profile_ignored"), "no profile_ignored for ev2");
    CHECK(!saw("ev1", "profile_ignored"), "ev1 falsely accused");
    /* EV3 never came: stale, failed, zero. */
    CHECK_NEAR(sig(k, "ev3.stale"), 1, 0);
    CHECK_NEAR(sig(k, "ev3.failed"), 1, 0);
    CHECK_NEAR(sig(k, "ev3.p_kw"), 0, 0);
    CHECK_NEAR(sig(k, "ev3.connected"), 0, 0);
    CHECK(saw("ev3", "device_lost"), "no device_lost for ev3");
    /* Wire events reach the log under their asset. */
    CHECK(saw("ev1", "ocpp_connected") && saw("ev1", "ocpp_tx_start"), "ev1 wire events");
    CHECK(saw("ev2", "ocpp_boot"), "ev2 wire events");

    hil_ocpp_cp_pool_free(POOL);
    POOL = NULL;
    hil_ocpp_ev_device_free(dev[0]);
    hil_ocpp_ev_device_free(dev[1]);

    /* Replay the journal: no central system, as fast as possible, the
     * same published values to the last bit. */
    double recorded[3][16];
    for (int e = 0; e < 3; e++)
        for (int i = 0; compared[i]; i++) {
            char name[64];
            snprintf(name, sizeof name, "ev%d.%s", e + 1, compared[i]);
            recorded[e][i] = sig(k, name);
        }
    sim_kernel_free(k);
    CHECK(n_journal > 20, "only %ld journal entries", n_journal);
    sim_kernel *r = build();
    if (!r)
        return;
    struct sim_replay_ops ops;
    CHECK_INT(sim_recording_replay(REC, &ops), 0);
    nev = 0;
    struct sim_hooks h2 = {.sample = on_sample, .event = on_event};
    sim_kernel_set_hooks(r, &h2);
    sim_kernel_set_replay(r, &ops);
    rc = sim_kernel_init(r, &err);
    CHECK(rc == 0, "replay init: %s", err.msg);
    CHECK_INT(hil_ocpp_kernel_cs_port(r), -1);
    if (!rc) {
        rc = sim_kernel_run(r, &err);
        CHECK(rc == 0, "replay run: %s", err.msg);
    }
    for (int e = 0; e < 3; e++)
        for (int i = 0; compared[i]; i++) {
            char name[64];
            snprintf(name, sizeof name, "ev%d.%s", e + 1, compared[i]);
            double v = sig(r, name);
            CHECK(v == recorded[e][i], "%s: replay %.17g, recorded %.17g", name, v, recorded[e][i]);
        }
    CHECK(saw("ev1", "replay") && !saw("ev1", "replay_diverged"), "replay events");
    sim_kernel_free(r);
    sim_recording_free(REC);
    REC = NULL;
}

int main(void)
{
    test_bad_config();
    test_run();
    return check_done("test_ocpp_ev");
}
