/*
 * test_ocpp_schema.c: the OCPP 1.6 schema validator and OCPP-J framing.
 *
 * Proves that the embedded schema set is the project's copy of the official
 * schemas (hil/ocpp16-schemas/), that each draft-04 keyword the schemas use
 * is enforced with the OCPP-J error code a receiver must answer with, that
 * unsupported keywords are refused at load time, and that frames parse and
 * build as the OCPP-J specification writes them.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hil/ocpp_frame.h"
#include "hil/ocpp_schema.h"

static hil_ocpp_schemas *S;

/* Validate JSON text as action's request (resp 0) or response; returns the
 * OCPP error code (0 when valid) and copies the message. */
static int val(const char *action, int resp, const char *json, char *msg, size_t n)
{
    cJSON *p = cJSON_Parse(json);
    if (!p) {
        fprintf(stderr, "test bug: bad JSON %s\n", json);
        return -1;
    }
    struct sim_err err = {{0}};
    int code = -1;
    int rc = hil_ocpp_validate(S, action, resp, p, &code, &err);
    cJSON_Delete(p);
    if (msg)
        snprintf(msg, n, "%s", err.msg);
    if (rc == 0 && code != HIL_OCPP_E_NONE)
        return -2;
    return rc == 0 ? 0 : code;
}

static void test_sets(void)
{
    struct sim_err err = {{0}};
    CHECK_INT(hil_ocpp_schemas_new(&S, &err), 0);
    CHECK_INT(hil_ocpp_schemas_count(S), 78);
    hil_ocpp_schemas *d = NULL;
    CHECK_INT(hil_ocpp_schemas_load_dir(FLEXBED_SOURCE_DIR "/hil/ocpp16-schemas", &d, &err), 0);
    CHECK_INT(hil_ocpp_schemas_count(d), 78);
    /* The embedded text is the files' text, schema by schema. */
    static const char *const actions[] = {
        "BootNotification", "MeterValues", "SetChargingProfile", "GetLog", "DataTransfer",
        "TriggerMessage",   NULL};
    for (int i = 0; actions[i]; i++)
        for (int r = 0; r < 2; r++) {
            const cJSON *a = hil_ocpp_schema_find(S, actions[i], r);
            const cJSON *b = hil_ocpp_schema_find(d, actions[i], r);
            CHECK(a && b && cJSON_Compare(a, b, 1), "%s%s differs", actions[i],
                  r ? "Response" : "");
        }
    hil_ocpp_schemas_free(d);
    CHECK(hil_ocpp_schema_find(S, "FooBar", 0) == NULL, "unknown action found");
    CHECK_INT(hil_ocpp_schemas_load_dir("/nonexistent-flexbed", &d, &err), SIM_EIO);
}

static void test_keywords(void)
{
    char m[512];
    /* type, required, maxLength, additionalProperties */
    CHECK_INT(val("BootNotification", 0, "{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}",
                  m, sizeof m),
              0);
    CHECK_INT(val("BootNotification", 0, "{\"chargePointVendor\":\"V\"}", m, sizeof m),
              HIL_OCPP_E_OCCURENCE_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "BootNotification.req");
    CHECK_STR_CONTAINS(m, "chargePointModel");
    CHECK_INT(val("BootNotification", 0,
                  "{\"chargePointVendor\":\"ABCDEFGHIJKLMNOPQRSTU\",\"chargePointModel\":\"M\"}", m,
                  sizeof m),
              HIL_OCPP_E_PROPERTY_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "chargePointVendor: 21 characters");
    /* maxLength counts characters, not bytes: 20 two-byte characters pass. */
    CHECK_INT(val("BootNotification", 0,
                  "{\"chargePointVendor\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                  "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                  "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"chargePointModel\":\"M\"}",
                  m, sizeof m),
              0);
    CHECK_INT(val("BootNotification", 0,
                  "{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\",\"colour\":\"red\"}", m,
                  sizeof m),
              HIL_OCPP_E_FORMATION_VIOLATION);
    CHECK_STR_CONTAINS(m, "colour");
    CHECK_INT(val("BootNotification", 0, "{\"chargePointVendor\":7,\"chargePointModel\":\"M\"}", m,
                  sizeof m),
              HIL_OCPP_E_TYPE_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "expected string, got integer");
    /* integer vs number */
    CHECK_INT(val("StartTransaction", 0,
                  "{\"connectorId\":1,\"idTag\":\"T\",\"meterStart\":12.5,"
                  "\"timestamp\":\"2023-10-02T13:00:00Z\"}",
                  m, sizeof m),
              HIL_OCPP_E_TYPE_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "meterStart");
    CHECK_INT(val("StartTransaction", 0,
                  "{\"connectorId\":1,\"idTag\":\"T\",\"meterStart\":12,"
                  "\"timestamp\":\"2023-10-02T13:00:00Z\"}",
                  m, sizeof m),
              0);
    /* enum and date-time, nested paths, minItems */
    const char *mv_ok = "{\"connectorId\":1,\"transactionId\":5,\"meterValue\":[{\"timestamp\":"
                        "\"2023-10-02T16:00:00.250+03:00\",\"sampledValue\":[{\"value\":\"12.5\","
                        "\"measurand\":\"Power.Active.Export\",\"unit\":\"kW\"},{\"value\":\"57\","
                        "\"measurand\":\"SoC\",\"unit\":\"Percent\",\"location\":\"EV\"}]}]}";
    CHECK_INT(val("MeterValues", 0, mv_ok, m, sizeof m), 0);
    CHECK_INT(
        val("MeterValues", 0,
            "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2023-10-02T16:00:00Z\","
            "\"sampledValue\":[{\"value\":\"1\",\"measurand\":\"Power.Active.Discharge\"}]}]}",
            m, sizeof m),
        HIL_OCPP_E_PROPERTY_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "meterValue[0].sampledValue[0].measurand");
    CHECK_INT(val("MeterValues", 0,
                  "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2023-10-02 16:00\","
                  "\"sampledValue\":[{\"value\":\"1\"}]}]}",
                  m, sizeof m),
              HIL_OCPP_E_PROPERTY_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "date-time");
    CHECK_INT(val("MeterValues", 0, "{\"connectorId\":1,\"meterValue\":[]}", m, sizeof m),
              HIL_OCPP_E_OCCURENCE_CONSTRAINT);
    CHECK_INT(val("MeterValues", 0,
                  "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2023-10-02T16:00:00Z\"}]}",
                  m, sizeof m),
              HIL_OCPP_E_OCCURENCE_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "meterValue[0]: required property \"sampledValue\"");
    /* multipleOf 0.1 on a charging limit; negative limits are schema-valid */
    const char *scp = "{\"connectorId\":1,\"csChargingProfiles\":{\"chargingProfileId\":1,"
                      "\"stackLevel\":0,\"chargingProfilePurpose\":\"TxProfile\","
                      "\"chargingProfileKind\":\"Relative\",\"chargingSchedule\":{"
                      "\"chargingRateUnit\":\"W\",\"chargingSchedulePeriod\":[{\"startPeriod\":0,"
                      "\"limit\":%s}]}}}";
    const char *limits[] = {"-7000", "0.3", "1234.5", "-0.7", "11000.1", NULL};
    for (int i = 0; limits[i]; i++) {
        char j[1024];
        snprintf(j, sizeof j, scp, limits[i]);
        CHECK(val("SetChargingProfile", 0, j, m, sizeof m) == 0, "limit %s: %s", limits[i], m);
    }
    char j[1024];
    snprintf(j, sizeof j, scp, "7000.05");
    CHECK_INT(val("SetChargingProfile", 0, j, m, sizeof m), HIL_OCPP_E_PROPERTY_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "chargingSchedulePeriod[0].limit");
    CHECK_STR_CONTAINS(m, "multiple of 0.1");
    /* responses: enum of a CALLRESULT */
    CHECK_INT(val("SetChargingProfile", 1, "{\"status\":\"Accepted\"}", m, sizeof m), 0);
    CHECK_INT(val("SetChargingProfile", 1, "{\"status\":\"Maybe\"}", m, sizeof m),
              HIL_OCPP_E_PROPERTY_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "SetChargingProfile.conf: status");
    /* $ref into definitions (security extension schemas) */
    CHECK_INT(val("ExtendedTriggerMessage", 0, "{\"requestedMessage\":\"Heartbeat\"}", m, sizeof m),
              0);
    CHECK_INT(val("ExtendedTriggerMessage", 0, "{\"requestedMessage\":\"Coffee\"}", m, sizeof m),
              HIL_OCPP_E_PROPERTY_CONSTRAINT);
    CHECK_INT(val("GetLog", 0,
                  "{\"logType\":\"DiagnosticsLog\",\"requestId\":1,\"log\":{\"remoteLocation\":"
                  "\"ftp://x\"}}",
                  m, sizeof m),
              0);
    CHECK_INT(val("GetLog", 0, "{\"logType\":\"DiagnosticsLog\",\"requestId\":1,\"log\":{}}", m,
                  sizeof m),
              HIL_OCPP_E_OCCURENCE_CONSTRAINT);
    CHECK_STR_CONTAINS(m, "log: required property \"remoteLocation\"");
    /* unknown action */
    CHECK_INT(val("FooBar", 0, "{}", m, sizeof m), HIL_OCPP_E_NOT_IMPLEMENTED);
}

/* Keywords the OCPP schemas do not use but the validator supports, and
 * the load-time refusal of keywords it does not. */
static void test_custom(void)
{
    cJSON *s =
        cJSON_Parse("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\","
                    "\"minimum\":0,\"maximum\":10,\"exclusiveMaximum\":true},"
                    "\"s\":{\"type\":\"string\",\"minLength\":2},\"a\":{\"type\":"
                    "\"array\",\"maxItems\":2,\"items\":{\"type\":[\"integer\",\"null\"]}}}}");
    struct {
        const char *inst;
        int code;
    } cases[] = {
        {"{\"n\":0,\"s\":\"ab\",\"a\":[1,null]}", 0},
        {"{\"n\":-0.5}", HIL_OCPP_E_PROPERTY_CONSTRAINT},
        {"{\"n\":10}", HIL_OCPP_E_PROPERTY_CONSTRAINT},
        {"{\"n\":9.99}", 0},
        {"{\"s\":\"a\"}", HIL_OCPP_E_PROPERTY_CONSTRAINT},
        {"{\"a\":[1,2,3]}", HIL_OCPP_E_OCCURENCE_CONSTRAINT},
        {"{\"a\":[1.5]}", HIL_OCPP_E_TYPE_CONSTRAINT},
        {"[]", HIL_OCPP_E_TYPE_CONSTRAINT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *x = cJSON_Parse(cases[i].inst);
        int code = -1;
        struct sim_err err = {{0}};
        int rc = hil_ocpp_schema_check(s, s, x, &code, &err);
        CHECK(code == cases[i].code && (rc == 0) == (cases[i].code == 0), "%s: code %d rc %d (%s)",
              cases[i].inst, code, rc, err.msg);
        cJSON_Delete(x);
    }
    cJSON_Delete(s);

    /* A schema directory with an unsupported keyword or a dangling $ref. */
    char dir[] = "/tmp/flexbed-ocpp-schema-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/Odd.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"pattern\":\"a+\"}}}",
          f);
    fclose(f);
    hil_ocpp_schemas *d = NULL;
    struct sim_err err = {{0}};
    CHECK_INT(hil_ocpp_schemas_load_dir(dir, &d, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "unsupported schema keyword \"pattern\"");
    CHECK_STR_CONTAINS(err.msg, "Odd.json");
    f = fopen(path, "w");
    fputs("{\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":\"#/definitions/Nope\"}}}", f);
    fclose(f);
    CHECK_INT(hil_ocpp_schemas_load_dir(dir, &d, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "does not resolve");
    remove(path);
    remove(dir);
}

static void test_date_time(void)
{
    const char *good[] = {"2023-10-02T13:00:00Z", "2023-10-02T16:00:00+03:00",
                          "2024-02-29T23:59:60.5-01:30", "2023-10-02t13:00:00.123456z", NULL};
    const char *bad[] = {"2023-10-02T13:00Z",
                         "2023-10-02T13:00:00",
                         "2023-02-29T00:00:00Z",
                         "2023-13-01T00:00:00Z",
                         "2023-10-02T24:00:00Z",
                         "2023-10-02T13:00:00.Z",
                         "2023-10-02T13:00:00+0300",
                         "2023-10-02T13:00:00Zjunk",
                         "",
                         NULL};
    for (int i = 0; good[i]; i++)
        CHECK(hil_ocpp_is_date_time(good[i]), "%s refused", good[i]);
    for (int i = 0; bad[i]; i++)
        CHECK(!hil_ocpp_is_date_time(bad[i]), "%s accepted", bad[i]);
}

static int parse(const char *text, struct hil_ocpp_frame *f, int *reply)
{
    struct sim_err err = {{0}};
    return hil_ocpp_frame_parse(text, strlen(text), f, reply, &err);
}

static void test_frames(void)
{
    struct hil_ocpp_frame f;
    int reply = -1;
    CHECK_INT(
        parse("[2,\"19223201\",\"BootNotification\",{\"chargePointVendor\":\"V\"}]", &f, &reply),
        0);
    CHECK_INT(f.type, HIL_OCPP_CALL);
    CHECK(!strcmp(f.id, "19223201") && !strcmp(f.action, "BootNotification"), "%s %s", f.id,
          f.action);
    CHECK(cJSON_IsObject(f.payload), "payload");
    hil_ocpp_frame_clear(&f);
    CHECK_INT(parse("[3,\"a\",{\"status\":\"Accepted\"}]", &f, &reply), 0);
    CHECK_INT(f.type, HIL_OCPP_CALLRESULT);
    hil_ocpp_frame_clear(&f);
    CHECK_INT(parse("[4,\"b\",\"NotImplemented\",\"no\",{}]", &f, &reply), 0);
    CHECK_INT(f.type, HIL_OCPP_CALLERROR);
    CHECK_INT(f.error, HIL_OCPP_E_NOT_IMPLEMENTED);
    hil_ocpp_frame_clear(&f);
    CHECK_INT(parse("[4,\"b\",\"Weird\",\"no\",{}]", &f, &reply), 0);
    CHECK_INT(f.error, HIL_OCPP_E_GENERIC_ERROR);
    CHECK(!strcmp(f.error_name, "Weird"), "%s", f.error_name);
    hil_ocpp_frame_clear(&f);

    struct {
        const char *text;
        int reply;
        const char *id;
    } badf[] = {
        {"[2,\"x\",\"A\",{}", HIL_OCPP_E_FORMATION_VIOLATION, ""},
        {"{\"a\":1}", HIL_OCPP_E_FORMATION_VIOLATION, ""},
        {"[]", HIL_OCPP_E_FORMATION_VIOLATION, ""},
        {"[2,\"id1\"]", HIL_OCPP_E_FORMATION_VIOLATION, "id1"},
        {"[5,\"id2\",{}]", HIL_OCPP_E_FORMATION_VIOLATION, "id2"},
        {"[\"2\",\"id3\",\"A\",{}]", HIL_OCPP_E_FORMATION_VIOLATION, "id3"},
        {"[2,17,\"A\",{}]", HIL_OCPP_E_FORMATION_VIOLATION, ""},
        {"[2,\"id4\",\"A\",[]]", HIL_OCPP_E_FORMATION_VIOLATION, "id4"},
        {"[2,\"id5\",\"A\",{},1]", HIL_OCPP_E_FORMATION_VIOLATION, "id5"},
        {"[2,\"id6\",3,{}]", HIL_OCPP_E_FORMATION_VIOLATION, "id6"},
        {"[3,\"id7\",\"x\"]", HIL_OCPP_E_FORMATION_VIOLATION, "id7"},
        {"[4,\"id8\",\"GenericError\",{}]", HIL_OCPP_E_FORMATION_VIOLATION, "id8"},
        {"[2,\"0123456789012345678901234567890123456\",\"A\",{}]", HIL_OCPP_E_PROPERTY_CONSTRAINT,
         "012345678901234567890123456789012345"},
    };
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        reply = -1;
        int rc = parse(badf[i].text, &f, &reply);
        CHECK(rc == SIM_EINVAL && reply == badf[i].reply && !strcmp(f.id, badf[i].id),
              "%s: rc %d reply %d id \"%s\"", badf[i].text, rc, reply, f.id);
        hil_ocpp_frame_clear(&f);
    }

    /* Builders produce what the parser reads back. */
    cJSON *p = cJSON_Parse("{\"currentTime\":\"2023-10-02T13:00:00Z\"}");
    char *s = hil_ocpp_frame_call("c1", "Heartbeat", NULL);
    CHECK(s && !strcmp(s, "[2,\"c1\",\"Heartbeat\",{}]"), "%s", s ? s : "(null)");
    free(s);
    s = hil_ocpp_frame_result("c1", p);
    CHECK(s && !strcmp(s, "[3,\"c1\",{\"currentTime\":\"2023-10-02T13:00:00Z\"}]"), "%s",
          s ? s : "(null)");
    free(s);
    s = hil_ocpp_frame_error("c2", HIL_OCPP_E_OCCURENCE_CONSTRAINT, "missing \"x\"", NULL);
    CHECK(s && !strcmp(s, "[4,\"c2\",\"OccurenceConstraintViolation\",\"missing \\\"x\\\"\",{}]"),
          "%s", s ? s : "(null)");
    CHECK_INT(parse(s, &f, &reply), 0);
    CHECK_INT(f.error, HIL_OCPP_E_OCCURENCE_CONSTRAINT);
    CHECK(!strcmp(f.error_desc, "missing \"x\""), "%s", f.error_desc);
    hil_ocpp_frame_clear(&f);
    free(s);
    cJSON_Delete(p);
    for (int c = 1; c < HIL_OCPP_E_COUNT; c++)
        CHECK_INT(hil_ocpp_error_parse(hil_ocpp_error_name(c)), c);
    CHECK_INT(hil_ocpp_error_parse("OccurrenceConstraintViolation"), -1);
}

int main(void)
{
    test_sets();
    if (S) {
        test_keywords();
        hil_ocpp_schemas_free(S);
    }
    test_custom();
    test_date_time();
    test_frames();
    return check_done("test_ocpp_schema");
}
