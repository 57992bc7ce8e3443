/*
 * ocpp_frame.c: parse and build OCPP-J CALL / CALLRESULT / CALLERROR arrays.
 *
 * Parsing is strict about the array's shape (element count and types) and
 * lenient about nothing else: the payload's content is the schema
 * validator's business (ocpp_schema.c). The message id is read as early as
 * possible so that even a broken frame can be answered by id.
 */
#include "ocpp_frame.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_names[HIL_OCPP_E_COUNT] = {
    [HIL_OCPP_E_NONE] = "",
    [HIL_OCPP_E_NOT_IMPLEMENTED] = "NotImplemented",
    [HIL_OCPP_E_NOT_SUPPORTED] = "NotSupported",
    [HIL_OCPP_E_INTERNAL_ERROR] = "InternalError",
    [HIL_OCPP_E_PROTOCOL_ERROR] = "ProtocolError",
    [HIL_OCPP_E_SECURITY_ERROR] = "SecurityError",
    [HIL_OCPP_E_FORMATION_VIOLATION] = "FormationViolation",
    [HIL_OCPP_E_PROPERTY_CONSTRAINT] = "PropertyConstraintViolation",
    [HIL_OCPP_E_OCCURENCE_CONSTRAINT] = "OccurenceConstraintViolation",
    [HIL_OCPP_E_TYPE_CONSTRAINT] = "TypeConstraintViolation",
    [HIL_OCPP_E_GENERIC_ERROR] = "GenericError",
};

const char *hil_ocpp_error_name(int code)
{
    if (code < 0 || code >= HIL_OCPP_E_COUNT)
        return error_names[HIL_OCPP_E_GENERIC_ERROR];
    return error_names[code];
}

int hil_ocpp_error_parse(const char *name)
{
    if (!name || !*name)
        return -1;
    for (int i = 1; i < HIL_OCPP_E_COUNT; i++)
        if (!strcmp(name, error_names[i]))
            return i;
    return -1;
}

void hil_ocpp_frame_clear(struct hil_ocpp_frame *f)
{
    if (!f)
        return;
    cJSON_Delete(f->root);
    memset(f, 0, sizeof *f);
}

static int bad(int *reply, int code, struct sim_err *err, const char *what)
{
    *reply = code;
    return sim_errf(err, SIM_EINVAL, "%s", what);
}

int hil_ocpp_frame_parse(const char *text, size_t len, struct hil_ocpp_frame *f, int *reply,
                         struct sim_err *err)
{
    int dummy;
    if (!reply)
        reply = &dummy;
    *reply = HIL_OCPP_E_NONE;
    memset(f, 0, sizeof *f);
    f->root = cJSON_ParseWithLength(text, len);
    if (!f->root)
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err, "not JSON");
    if (!cJSON_IsArray(f->root))
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err, "not a JSON array");
    int n = cJSON_GetArraySize(f->root);
    const cJSON *t = cJSON_GetArrayItem(f->root, 0);
    const cJSON *id = cJSON_GetArrayItem(f->root, 1);
    /* Read the id first: every later complaint can then be answered. */
    if (id && cJSON_IsString(id)) {
        if (strlen(id->valuestring) > HIL_OCPP_ID_MAX) {
            snprintf(f->id, sizeof f->id, "%.*s", HIL_OCPP_ID_MAX, id->valuestring);
            return bad(reply, HIL_OCPP_E_PROPERTY_CONSTRAINT, err,
                       "message id longer than 36 characters");
        }
        snprintf(f->id, sizeof f->id, "%s", id->valuestring);
    }
    if (!t || !cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble))
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                   "first element is not a message type number");
    if (t->valuedouble == 2 || t->valuedouble == 3 || t->valuedouble == 4)
        f->type = (int)t->valuedouble;
    else
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                   "unknown message type (expected 2, 3 or 4)");
    if (!id || !cJSON_IsString(id))
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err, "message id is not a string");
    if (!*f->id)
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err, "message id is empty");

    switch (f->type) {
    case HIL_OCPP_CALL: {
        const cJSON *a = cJSON_GetArrayItem(f->root, 2);
        if (n != 4)
            return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                       "a CALL has 4 elements [2, id, action, payload]");
        if (!cJSON_IsString(a) || !*a->valuestring)
            return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err, "action is not a string");
        if (strlen(a->valuestring) > HIL_OCPP_ACTION_MAX)
            return bad(reply, HIL_OCPP_E_NOT_IMPLEMENTED, err, "action name too long");
        snprintf(f->action, sizeof f->action, "%s", a->valuestring);
        f->payload = cJSON_GetArrayItem(f->root, 3);
        break;
    }
    case HIL_OCPP_CALLRESULT:
        if (n != 3)
            return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                       "a CALLRESULT has 3 elements [3, id, payload]");
        f->payload = cJSON_GetArrayItem(f->root, 2);
        break;
    default: {
        const cJSON *c = cJSON_GetArrayItem(f->root, 2), *d = cJSON_GetArrayItem(f->root, 3);
        if (n != 5)
            return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                       "a CALLERROR has 5 elements [4, id, code, description, details]");
        if (!cJSON_IsString(c) || !cJSON_IsString(d))
            return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                       "CALLERROR code or description is not a string");
        snprintf(f->error_name, sizeof f->error_name, "%s", c->valuestring);
        snprintf(f->error_desc, sizeof f->error_desc, "%s", d->valuestring);
        int code = hil_ocpp_error_parse(c->valuestring);
        /* An unknown code is still an error answer: keep it as generic. */
        f->error = code > 0 ? code : HIL_OCPP_E_GENERIC_ERROR;
        f->payload = cJSON_GetArrayItem(f->root, 4);
        break;
    }
    }
    if (!cJSON_IsObject(f->payload))
        return bad(reply, HIL_OCPP_E_FORMATION_VIOLATION, err,
                   f->type == HIL_OCPP_CALLERROR ? "error details are not a JSON object"
                                                 : "payload is not a JSON object");
    return 0;
}

/* Append a copy of obj (or {}) to arr; 0 or -1. */
static int add_object(cJSON *arr, const cJSON *obj)
{
    cJSON *c = obj ? cJSON_Duplicate(obj, 1) : cJSON_CreateObject();
    if (!c)
        return -1;
    if (!cJSON_AddItemToArray(arr, c)) {
        cJSON_Delete(c);
        return -1;
    }
    return 0;
}

static int add_string(cJSON *arr, const char *s)
{
    cJSON *c = cJSON_CreateString(s ? s : "");
    if (!c)
        return -1;
    if (!cJSON_AddItemToArray(arr, c)) {
        cJSON_Delete(c);
        return -1;
    }
    return 0;
}

static int add_number(cJSON *arr, double v)
{
    cJSON *c = cJSON_CreateNumber(v);
    if (!c)
        return -1;
    if (!cJSON_AddItemToArray(arr, c)) {
        cJSON_Delete(c);
        return -1;
    }
    return 0;
}

static char *finish(cJSON *arr, int failed)
{
    char *s = failed ? NULL : cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
}

char *hil_ocpp_frame_call(const char *id, const char *action, const cJSON *payload)
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return NULL;
    int failed = add_number(a, HIL_OCPP_CALL) || add_string(a, id) || add_string(a, action) ||
                 add_object(a, payload);
    return finish(a, failed);
}

char *hil_ocpp_frame_result(const char *id, const cJSON *payload)
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return NULL;
    int failed = add_number(a, HIL_OCPP_CALLRESULT) || add_string(a, id) || add_object(a, payload);
    return finish(a, failed);
}

char *hil_ocpp_frame_error(const char *id, int code, const char *desc, const cJSON *details)
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return NULL;
    if (code <= HIL_OCPP_E_NONE || code >= HIL_OCPP_E_COUNT)
        code = HIL_OCPP_E_GENERIC_ERROR;
    int failed = add_number(a, HIL_OCPP_CALLERROR) || add_string(a, id) ||
                 add_string(a, hil_ocpp_error_name(code)) || add_string(a, desc) ||
                 add_object(a, details);
    return finish(a, failed);
}

int hil_ocpp_rx_append(char **buf, size_t *len, size_t *cap, const void *in, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, in, n);
    *len += n;
    return 0;
}
