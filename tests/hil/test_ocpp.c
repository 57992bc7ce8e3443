/*
 * test_ocpp.c: the OCPP 1.6J central system and the emulated V2G charge
 * point, against each other on loopback in one process.
 *
 * The central system runs in its own service thread; the charge points are
 * serviced by this thread between checks. Every wait is bounded (a few
 * seconds), so a broken exchange fails the test instead of hanging it.
 * Proves: boot, status, transaction start, MeterValues with the five
 * measurands; a discharge profile (negative limit in W) that the emulated
 * EV's power follows, a charge limit, clearing it; GetConfiguration,
 * ChangeConfiguration, TriggerMessage, Remote Stop/Start; NotImplemented
 * for an unknown action, FormationViolation for a malformed frame, schema
 * violations in both directions; duplicate CALLs answered once; a call
 * that times out and whose answer arrives late; a charge point that
 * ignores profiles; reconnection after the charge point drops, after the
 * central system drops it, and after the central system restarts on the
 * same port; Basic authentication refusing a wrong password and a wrong
 * path.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hil/hil_ocpp.h"

static hil_ocpp_cs *CS;
static hil_ocpp_cp_pool *POOL;

#define MAX_LOG 8192
static struct hil_ocpp_event cs_log[MAX_LOG], cp_log[MAX_LOG];
static int n_cs_log, n_cp_log;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One round: service the charge points and collect both sides' events. */
static void pump(void)
{
    struct sim_err err = {{0}};
    if (POOL) {
        int rc = hil_ocpp_cp_pool_service(POOL, &err);
        if (rc)
            CHECK(rc == 0, "pool service: %s", err.msg);
    }
    struct hil_ocpp_event e;
    while (CS && hil_ocpp_cs_next_event(CS, &e))
        if (n_cs_log < MAX_LOG)
            cs_log[n_cs_log++] = e;
    while (POOL && hil_ocpp_cp_next_event(POOL, &e))
        if (n_cp_log < MAX_LOG)
            cp_log[n_cp_log++] = e;
}

/* Pump until cond holds or ms pass. */
#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        int64_t dl_ = now_ms() + (ms);                                                             \
        while (!(cond) && now_ms() < dl_)                                                          \
            pump();                                                                                \
    } while (0)

/* Wait for cond, then check it. */
#define CHECK_WAIT(cond, ms, ...)                                                                  \
    do {                                                                                           \
        WAIT_FOR(cond, ms);                                                                        \
        CHECK(cond, __VA_ARGS__);                                                                  \
    } while (0)

static int count(const struct hil_ocpp_event *log, int n, const char *cp, const char *kind)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(log[i].kind, kind) && (!cp || !strcmp(log[i].cp_id, cp)))
            c++;
    return c;
}

static int cs_count(const char *cp, const char *kind)
{
    pump();
    return count(cs_log, n_cs_log, cp, kind);
}

static int cp_count(const char *cp, const char *kind)
{
    return count(cp_log, n_cp_log, cp, kind);
}

static struct hil_ocpp_cp_state state(const char *id)
{
    struct hil_ocpp_cp_state st;
    memset(&st, 0, sizeof st);
    hil_ocpp_cs_cp_state(CS, id, &st);
    return st;
}

static struct hil_ocpp_cp_info info(hil_ocpp_cp *cp)
{
    struct hil_ocpp_cp_info i;
    hil_ocpp_cp_info(cp, &i);
    return i;
}

/* Wait for a call to finish; returns its status, *status_out the payload's
 * "status" when there is one. */
static int wait_call(uint32_t call, char *status_out, size_t n, cJSON **result)
{
    int st = HIL_OCPP_CALL_QUEUED;
    WAIT_FOR((st = hil_ocpp_cs_call_status(CS, call, NULL, NULL, 0)) != HIL_OCPP_CALL_QUEUED &&
                 st != HIL_OCPP_CALL_SENT,
             5000);
    cJSON *r = NULL;
    char why[256];
    st = hil_ocpp_cs_call_status(CS, call, &r, why, sizeof why);
    if (status_out && n) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "status");
        snprintf(status_out, n, "%s", cJSON_IsString(s) ? s->valuestring : why);
    }
    if (result)
        *result = r;
    else
        cJSON_Delete(r);
    return st;
}

/* A fresh MeterValues after now (wall clock) on connector 1. */
static int fresh_meter(const char *id, int64_t after_wall_us)
{
    struct hil_ocpp_cp_state st = state(id);
    return st.conn[1].meter_wall_us > after_wall_us;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Power seen by the central system, W (+ import, - export). */
static double cs_power(const char *id)
{
    struct hil_ocpp_cp_state st = state(id);
    return st.conn[1].p_import_w - st.conn[1].p_export_w;
}

/* Wait until the central system sees power p_w (within tol) in a meter
 * value sent after now. */
static int wait_power(const char *id, double p_w, double tol)
{
    int64_t t0 = wall_us();
    WAIT_FOR(fresh_meter(id, t0) && fabs(cs_power(id) - p_w) <= tol, 5000);
    return fresh_meter(id, t0) && fabs(cs_power(id) - p_w) <= tol;
}

static void start_cs(int port, const char *password, hil_ocpp_cs **out)
{
    struct hil_ocpp_cs_config c;
    hil_ocpp_cs_config_default(&c);
    c.port = port;
    c.auth_password = password;
    c.call_timeout_ms = 1500;
    c.heartbeat_interval_s = 2;
    struct sim_err err = {{0}};
    int rc = hil_ocpp_cs_new(&c, out, &err);
    CHECK(rc == 0, "central system: %s", err.msg);
    if (!rc) {
        rc = hil_ocpp_cs_start(*out, &err);
        CHECK(rc == 0, "start: %s", err.msg);
    }
}

static hil_ocpp_cp *add_cp(const char *path_id, int port, const char *password, int ignore,
                           int delay_ms, hil_ocpp_ev_device **dev)
{
    struct sim_err err = {{0}};
    struct hil_ocpp_ev_params ep;
    hil_ocpp_ev_params_default(&ep);
    ep.soc_arrival = 0.5;
    int rc = hil_ocpp_ev_device_new(&ep, dev, &err);
    CHECK(rc == 0, "ev device: %s", err.msg);
    if (rc)
        return NULL;
    struct hil_ocpp_cp_device ops;
    hil_ocpp_ev_device_ops(*dev, &ops);
    struct hil_ocpp_cp_config c;
    hil_ocpp_cp_config_default(&c);
    char url[160];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, path_id);
    c.url = url;
    c.password = password;
    c.meter_interval_ms = 200;
    c.reconnect_min_ms = 200;
    c.reconnect_max_ms = 400;
    c.call_timeout_ms = 3000;
    c.ignore_profiles = ignore;
    c.answer_delay_ms = delay_ms;
    hil_ocpp_cp *cp = NULL;
    rc = hil_ocpp_cp_add(POOL, &c, &ops, &cp, &err);
    CHECK(rc == 0, "add: %s", err.msg);
    return cp;
}

static void test_session(void)
{
    hil_ocpp_ev_device *dev = NULL, *dev3 = NULL, *dev4 = NULL;
    start_cs(0, NULL, &CS);
    if (!CS)
        return;
    int port = hil_ocpp_cs_port(CS);
    CHECK(port > 0, "port %d", port);
    struct sim_err err = {{0}};
    CHECK_INT(hil_ocpp_cp_pool_new(NULL, &POOL, &err), 0);
    hil_ocpp_cp *cp = add_cp("/ocpp/CP1", port, NULL, 0, 0, &dev);
    if (!cp)
        return;

    /* Boot, status, transaction, meter values: the EV charges on its own
     * account at the charger's 11 kW. */
    CHECK_WAIT(state("CP1").booted && state("CP1").conn[1].tx_id > 0 &&
                   state("CP1").conn[1].n_meter >= 2,
               5000, "CP1 did not boot, start a transaction and send meter values");
    struct hil_ocpp_cp_state st = state("CP1");
    CHECK(!strcmp(st.vendor, "flexbed"), "vendor %s", st.vendor);
    CHECK(!strcmp(st.conn[1].status, "Charging"), "status %s", st.conn[1].status);
    CHECK(wait_power("CP1", 11000, 1), "charging power %g W, expected 11000", cs_power("CP1"));
    st = state("CP1");
    CHECK_NEAR(st.conn[1].soc_pct, 50, 1);
    CHECK(st.conn[1].e_import_wh >= 0 && st.conn[1].e_export_wh == 0, "registers %g %g",
          st.conn[1].e_import_wh, st.conn[1].e_export_wh);
    CHECK(cs_count("CP1", "boot") == 1 && cs_count("CP1", "tx_start") == 1, "events");
    int tx = st.conn[1].tx_id;

    /* Discharge at 7 kW: a TxProfile with limit -7000 W. */
    uint32_t call = 0;
    char status[64];
    CHECK_INT(hil_ocpp_cs_set_limit(CS, "CP1", 1, -7000, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "SetChargingProfile: %s", status);
    CHECK(wait_power("CP1", -7000, 1), "discharge power %g W, expected -7000", cs_power("CP1"));
    CHECK(info(cp).has_limit && info(cp).limit_w == -7000, "cp limit %g", info(cp).limit_w);
    double e0 = state("CP1").conn[1].e_export_wh, soc0 = state("CP1").conn[1].soc_pct;
    CHECK_WAIT(state("CP1").conn[1].e_export_wh > e0 + 2, 3000, "export register did not grow: %g",
               state("CP1").conn[1].e_export_wh);
    CHECK(state("CP1").conn[1].soc_pct < soc0, "SoC %g did not fall from %g",
          state("CP1").conn[1].soc_pct, soc0);

    /* Charge at 5 kW (3 kW would be under the 6 A x 3 phase minimum of
     * IEC 61851 and give 0), then clear: back to the EV's own 11 kW. */
    CHECK_INT(hil_ocpp_cs_set_limit(CS, "CP1", 1, 3000, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(wait_power("CP1", 0, 1), "power %g W, expected 0 under the minimum current",
          cs_power("CP1"));
    CHECK_INT(hil_ocpp_cs_set_limit(CS, "CP1", 1, 5000, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(wait_power("CP1", 5000, 1), "charge power %g W, expected 5000", cs_power("CP1"));
    CHECK_INT(hil_ocpp_cs_clear_limit(CS, "CP1", 1, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "ClearChargingProfile: %s", status);
    CHECK(wait_power("CP1", 11000, 1), "power %g W after clearing", cs_power("CP1"));
    /* A profile in amperes: 10 A x 3 phases x 230 V = 6.9 kW. */
    CHECK_INT(hil_ocpp_cs_call_json(
                  CS, "CP1", "SetChargingProfile",
                  "{\"connectorId\":1,\"csChargingProfiles\":{\"chargingProfileId\":7,"
                  "\"stackLevel\":1,\"chargingProfilePurpose\":\"TxDefaultProfile\","
                  "\"chargingProfileKind\":\"Relative\",\"chargingSchedule\":{"
                  "\"chargingRateUnit\":\"A\",\"chargingSchedulePeriod\":[{\"startPeriod\":0,"
                  "\"limit\":10}]}}}",
                  &call, &err),
              0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(wait_power("CP1", 6900, 1), "power %g W, expected 6900 (10 A)", cs_power("CP1"));
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "ClearChargingProfile", "{}", &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(wait_power("CP1", 11000, 1), "power %g W after clearing all", cs_power("CP1"));
    /* An Absolute schedule of two periods: discharge now, charge 2 s later
     * (the emulator runs on the wall clock here). */
    char abs_json[640], at[48];
    int64_t t_abs = wall_us();
    sim_time_format(t_abs - t_abs % SIM_US_PER_S, 0, at, sizeof at);
    snprintf(abs_json, sizeof abs_json,
             "{\"connectorId\":1,\"csChargingProfiles\":{\"chargingProfileId\":9,"
             "\"transactionId\":%d,\"stackLevel\":2,\"chargingProfilePurpose\":\"TxProfile\","
             "\"chargingProfileKind\":\"Absolute\",\"chargingSchedule\":{\"startSchedule\":"
             "\"%s\",\"duration\":60,\"chargingRateUnit\":\"W\",\"chargingSchedulePeriod\":"
             "[{\"startPeriod\":0,\"limit\":-5000.5},{\"startPeriod\":3,\"limit\":6000}]}}}",
             tx, at);
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "SetChargingProfile", abs_json, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "Absolute profile: %s", status);
    CHECK(wait_power("CP1", -5000, 1), "first period: %g W, expected -5000", cs_power("CP1"));
    CHECK(wait_power("CP1", 6000, 1), "second period: %g W, expected 6000", cs_power("CP1"));
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "ClearChargingProfile",
                                    "{\"chargingProfilePurpose\":\"TxProfile\",\"stackLevel\":2}",
                                    &call, &err),
              0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "clear by purpose and level: %s", status);
    CHECK(wait_power("CP1", 11000, 1), "power %g W after clearing", cs_power("CP1"));
    /* A TxProfile for another transaction is refused by the charge point. */
    char bad_tx[512];
    snprintf(bad_tx, sizeof bad_tx,
             "{\"connectorId\":1,\"csChargingProfiles\":{\"chargingProfileId\":8,"
             "\"transactionId\":%d,\"stackLevel\":0,\"chargingProfilePurpose\":\"TxProfile\","
             "\"chargingProfileKind\":\"Relative\",\"chargingSchedule\":{\"chargingRateUnit\":"
             "\"W\",\"chargingSchedulePeriod\":[{\"startPeriod\":0,\"limit\":1000}]}}}",
             tx + 100);
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "SetChargingProfile", bad_tx, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Rejected"), "foreign TxProfile: %s", status);
    CHECK(cs_count("CP1", "profile_rejected") >= 1, "profile_rejected event");

    /* Configuration and triggers. */
    cJSON *r = NULL;
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "GetConfiguration",
                                    "{\"key\":[\"MeterValueSampleInterval\",\"Nope\"]}", &call,
                                    &err),
              0);
    CHECK_INT(wait_call(call, NULL, 0, &r), HIL_OCPP_CALL_DONE);
    char *txt = r ? cJSON_PrintUnformatted(r) : NULL;
    CHECK(txt && strstr(txt, "\"key\":\"MeterValueSampleInterval\"") &&
              strstr(txt, "\"unknownKey\":[\"Nope\"]"),
          "GetConfiguration: %s", txt ? txt : "(null)");
    free(txt);
    cJSON_Delete(r);
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "ChangeConfiguration",
                                    "{\"key\":\"MeterValueSampleInterval\",\"value\":\"1\"}", &call,
                                    &err),
              0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted") && info(cp).meter_interval_ms == 1000, "%s %d", status,
          info(cp).meter_interval_ms);
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "ChangeConfiguration",
                                    "{\"key\":\"NumberOfConnectors\",\"value\":\"2\"}", &call,
                                    &err),
              0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Rejected"), "read-only key: %s", status);
    uint64_t nm = state("CP1").conn[1].n_meter;
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "TriggerMessage",
                                    "{\"requestedMessage\":\"MeterValues\",\"connectorId\":1}",
                                    &call, &err),
              0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "TriggerMessage: %s", status);
    CHECK_WAIT(state("CP1").conn[1].n_meter > nm, 900, "triggered MeterValues missing");
    /* An action the charge point knows but does not support. */
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "Reset", "{\"type\":\"Soft\"}", &call, &err), 0);
    char why[256];
    CHECK_INT(wait_call(call, why, sizeof why, NULL), HIL_OCPP_CALL_ERROR);
    CHECK_STR_CONTAINS(why, "NotSupported");
    /* We never send what the schema forbids. */
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "Reset", "{\"type\":\"Hard!\"}", &call, &err),
              SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "Reset.req: type");
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "Frobnicate", "{}", &call, &err), SIM_ENOENT);

    /* Remote stop, then remote start: a new transaction. */
    char stop[64];
    snprintf(stop, sizeof stop, "{\"transactionId\":%d}", tx);
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "RemoteStopTransaction", stop, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "RemoteStop: %s", status);
    CHECK_WAIT(state("CP1").conn[1].tx_id == 0, 3000, "transaction %d not stopped",
               state("CP1").conn[1].tx_id);
    CHECK_INT(hil_ocpp_cs_call_json(CS, "CP1", "RemoteStartTransaction",
                                    "{\"connectorId\":1,\"idTag\":\"REMOTE1\"}", &call, &err),
              0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "RemoteStart: %s", status);
    CHECK_WAIT(state("CP1").conn[1].tx_id > tx, 3000, "no new transaction");
    CHECK(!strcmp(state("CP1").conn[1].id_tag, "REMOTE1"), "idTag %s", state("CP1").conn[1].id_tag);
    tx = state("CP1").conn[1].tx_id;

    /* What the central system answers to broken input. */
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[2,\"t1\",\"FooBar\",{}]"), 0);
    CHECK_WAIT(strstr(info(cp).last_error, "NotImplemented") != NULL, 2000, "got \"%s\"",
               info(cp).last_error);
    CHECK(cs_count("CP1", "not_implemented") == 1, "not_implemented event");
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[2,\"t2\",\"Heartbeat\""), 0);
    CHECK_WAIT(strstr(info(cp).last_error, "FormationViolation") != NULL, 2000, "got \"%s\"",
               info(cp).last_error);
    CHECK(cs_count("CP1", "malformed") == 1, "malformed event");
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[2,\"t3\",\"BootNotification\",{\"chargePointVendor\":"
                                       "\"V\"}]"),
              0);
    CHECK_WAIT(strstr(info(cp).last_error, "OccurenceConstraintViolation") != NULL, 2000,
               "got \"%s\"", info(cp).last_error);
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[2,\"t4\",\"Heartbeat\",{\"x\":1}]"), 0);
    CHECK_WAIT(strstr(info(cp).last_error, "FormationViolation: Heartbeat.req: x") != NULL, 2000,
               "got \"%s\"", info(cp).last_error);
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[2,\"t5\",\"Authorize\",{\"idTag\":42}]"), 0);
    CHECK_WAIT(strstr(info(cp).last_error, "TypeConstraintViolation") != NULL, 2000, "got \"%s\"",
               info(cp).last_error);
    /* A CS-to-CP action sent by the charge point. */
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[2,\"t6\",\"Reset\",{\"type\":\"Soft\"}]"), 0);
    CHECK_WAIT(strstr(info(cp).last_error, "NotSupported") != NULL, 2000, "got \"%s\"",
               info(cp).last_error);
    /* A duplicate CALL is answered again, not processed again. */
    const char *dup = "[2,\"dup1\",\"StartTransaction\",{\"connectorId\":2,\"idTag\":\"D\","
                      "\"meterStart\":0,\"timestamp\":\"2023-10-02T13:00:00Z\"}]";
    int starts = cs_count("CP1", "tx_start");
    CHECK_INT(hil_ocpp_cp_send_raw(cp, dup), 0);
    CHECK_INT(hil_ocpp_cp_send_raw(cp, dup), 0);
    CHECK_WAIT(cs_count("CP1", "duplicate_call") == 1, 2000, "duplicate_call event");
    CHECK_INT(cs_count("CP1", "tx_start"), starts + 1);
    /* An answer nobody waits for. */
    struct hil_ocpp_cs_stats s0, s1;
    hil_ocpp_cs_stats(CS, &s0);
    CHECK_INT(hil_ocpp_cp_send_raw(cp, "[3,\"cs-99999\",{}]"), 0);
    CHECK_WAIT(cs_count("CP1", "unknown_result") == 1, 2000, "unknown_result event");
    hil_ocpp_cs_stats(CS, &s1);
    CHECK_INT(s1.late_results, s0.late_results + 1);
    CHECK(state("CP1").connected && state("CP1").conn[1].tx_id == tx,
          "broken input must not cost the session");

    /* A slow charge point: our call times out, its answer comes late. */
    hil_ocpp_cp *cp3 = add_cp("/ocpp/SLOW", port, NULL, 0, 2500, &dev3);
    CHECK_WAIT(state("SLOW").booted, 5000, "SLOW did not boot");
    CHECK_INT(hil_ocpp_cs_call_json(CS, "SLOW", "GetConfiguration", "{}", &call, &err), 0);
    CHECK_INT(wait_call(call, why, sizeof why, NULL), HIL_OCPP_CALL_FAILED);
    CHECK_STR_CONTAINS(why, "timeout");
    CHECK_WAIT(cs_count("SLOW", "late_result") == 1, 3000, "late_result event");
    CHECK_INT(hil_ocpp_cs_call_status(CS, call, NULL, NULL, 0), HIL_OCPP_CALL_FAILED);
    (void)cp3;

    /* A charge point that accepts a profile and ignores it. */
    hil_ocpp_cp *cp4 = add_cp("/ocpp/DEAF", port, NULL, 1, 0, &dev4);
    CHECK_WAIT(state("DEAF").conn[1].tx_id > 0, 5000, "DEAF did not start");
    CHECK_INT(hil_ocpp_cs_set_limit(CS, "DEAF", 1, -5000, &call, &err), 0);
    CHECK_INT(wait_call(call, status, sizeof status, NULL), HIL_OCPP_CALL_DONE);
    CHECK(!strcmp(status, "Accepted"), "%s", status);
    CHECK(wait_power("DEAF", 11000, 1), "DEAF power %g W", cs_power("DEAF"));
    CHECK(cp4 && info(cp4).profiles == 1 && !info(cp4).has_limit, "DEAF applied its profile");

    /* Reconnection: the charge point drops, comes back, boots again and the
     * transaction goes on with its meter values. */
    CHECK_INT(hil_ocpp_cs_set_limit(CS, "CP1", 1, -4500, &call, &err), 0);
    CHECK_INT(wait_call(call, NULL, 0, NULL), HIL_OCPP_CALL_DONE);
    hil_ocpp_cp_drop(cp);
    CHECK_WAIT(!state("CP1").connected, 2000, "CP1 still connected");
    CHECK_WAIT(state("CP1").connected && state("CP1").booted, 5000, "CP1 did not come back");
    CHECK_INT(state("CP1").n_connects, 2);
    CHECK_INT(state("CP1").conn[1].tx_id, tx);
    CHECK(wait_power("CP1", -4500, 1), "after reconnect: %g W", cs_power("CP1"));
    /* The central system drops it. */
    CHECK_INT(hil_ocpp_cs_disconnect(CS, "CP1"), 0);
    CHECK_WAIT(state("CP1").n_connects == 3 && state("CP1").booted, 5000,
               "CP1 did not reconnect after the central system closed it");
    CHECK(cs_count("CP1", "disconnected") >= 2, "disconnected events");
    /* The central system restarts on the same port. */
    uint64_t meters = cp ? info(cp).n_meter_values : 0;
    hil_ocpp_cs_free(CS);
    CS = NULL;
    WAIT_FOR(!info(cp).connected, 2000);
    CHECK(!info(cp).connected, "CP1 connected to a dead central system");
    WAIT_FOR(cp_count("CP1", "connect_failed") >= 1, 2000);
    CHECK(cp_count("CP1", "connect_failed") >= 1, "no failed reconnection while it was away");
    start_cs(port, NULL, &CS);
    CHECK_WAIT(CS && state("CP1").booted && state("CP1").conn[1].n_meter >= 1, 6000,
               "CP1 did not find the restarted central system");
    CHECK_WAIT(info(cp).n_meter_values > meters, 3000, "meter values stopped");

    hil_ocpp_cp_pool_free(POOL);
    POOL = NULL;
    hil_ocpp_ev_device_free(dev);
    hil_ocpp_ev_device_free(dev3);
    hil_ocpp_ev_device_free(dev4);
    hil_ocpp_cs_free(CS);
    CS = NULL;
}

/* Security profile 1: Basic authentication with the charge point id. */
static void test_auth(void)
{
    hil_ocpp_ev_device *d1 = NULL, *d2 = NULL, *d3 = NULL;
    n_cs_log = n_cp_log = 0;
    start_cs(0, "0123456789abcdef", &CS);
    if (!CS)
        return;
    int port = hil_ocpp_cs_port(CS);
    struct sim_err err = {{0}};
    CHECK_INT(hil_ocpp_cp_pool_new(NULL, &POOL, &err), 0);
    hil_ocpp_cp *bad = add_cp("/ocpp/CPX", port, "wrong-password", 0, 0, &d1);
    hil_ocpp_cp *good = add_cp("/ocpp/CPY", port, "0123456789abcdef", 0, 0, &d2);
    hil_ocpp_cp *lost = add_cp("/elsewhere/CPZ", port, "0123456789abcdef", 0, 0, &d3);
    CHECK_WAIT(state("CPY").booted, 5000, "CPY with the right password did not boot");
    CHECK_WAIT(cs_count("CPX", "auth_refused") >= 2, 5000, "CPX not refused twice");
    CHECK(bad && info(bad).n_connects == 0 && info(bad).last_connect_error[0],
          "CPX connected (%llu) or no error", (unsigned long long)info(bad).n_connects);
    CHECK(hil_ocpp_cs_cp_state(CS, "CPX", &(struct hil_ocpp_cp_state){0}) == SIM_ENOENT,
          "CPX known to the central system");
    CHECK_WAIT(cs_count(NULL, "refused") >= 1, 3000, "wrong path not refused");
    CHECK(lost && info(lost).n_connects == 0, "CPZ connected on a wrong path");
    CHECK(good && info(good).n_connects == 1, "CPY connects %llu",
          (unsigned long long)info(good).n_connects);
    hil_ocpp_cp_pool_free(POOL);
    POOL = NULL;
    hil_ocpp_ev_device_free(d1);
    hil_ocpp_ev_device_free(d2);
    hil_ocpp_ev_device_free(d3);
    hil_ocpp_cs_free(CS);
    CS = NULL;
}

static void dump(void)
{
    if (!getenv("TEST_OCPP_DUMP"))
        return;
    for (int i = 0; i < n_cs_log; i++)
        fprintf(stderr, "CS %lld %s %s: %s\n", (long long)cs_log[i].wall_us / 1000 % 100000,
                cs_log[i].cp_id, cs_log[i].kind, cs_log[i].text);
    for (int i = 0; i < n_cp_log; i++)
        fprintf(stderr, "CP %lld %s %s: %s\n", (long long)cp_log[i].wall_us / 1000 % 100000,
                cp_log[i].cp_id, cp_log[i].kind, cp_log[i].text);
}

int main(void)
{
    test_session();
    dump();
    test_auth();
    return check_done("test_ocpp");
}
