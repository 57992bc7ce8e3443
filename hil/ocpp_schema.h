/*
 * ocpp_schema.h: validate OCPP 1.6 payloads against the official JSON
 * schemas.
 *
 * The schemas (hil/ocpp16-schemas/, one "<Action>.json" request and one
 * "<Action>Response.json" response schema per action, 28 core and 11
 * security-extension actions) are embedded in the library at build time,
 * so a binary validates without any file at run time; a directory of
 * schema files can be loaded instead (tests, a newer schema set).
 *
 * The validator implements the part of JSON Schema draft-04 that these
 * schemas use, and refuses at load time a schema with any other keyword,
 * so nothing is ever silently skipped: type (one name or a list), properties,
 * required, additionalProperties (false or a schema), enum, minLength,
 * maxLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
 * multipleOf, items (a schema or a list), additionalItems, minItems,
 * maxItems, format "date-time" (RFC 3339: seconds and offset required;
 * other formats are not asserted, as draft-04 allows), $ref to
 * "#/definitions/...". Annotations ($schema, $id, id, title, description,
 * javaType, definitions, default) are ignored.
 *
 * A violation names the JSON path and maps to the OCPP-J error code a
 * receiver should answer with:
 *   wrong JSON type                        TypeConstraintViolation
 *   required property missing, too few or
 *   too many array items                   OccurenceConstraintViolation
 *   bad enum value, length, range,
 *   multipleOf, date-time                  PropertyConstraintViolation
 *   property the schema does not allow     FormationViolation
 * The loaded set is immutable, so one set may serve several threads.
 */
#ifndef FLEXBED_HIL_OCPP_SCHEMA_H
#define FLEXBED_HIL_OCPP_SCHEMA_H

#include <cjson/cJSON.h>

#include "../sim/sim.h"
#include "ocpp_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hil_ocpp_schemas hil_ocpp_schemas;

/* The embedded set. Returns 0, SIM_ENOMEM, or SIM_EINVAL naming a schema
 * that does not parse or uses an unsupported keyword. Free with
 * hil_ocpp_schemas_free. */
int hil_ocpp_schemas_new(hil_ocpp_schemas **out, struct sim_err *err);

/* Every "*.json" file of directory dir (same checks; SIM_EIO when the
 * directory or a file cannot be read). */
int hil_ocpp_schemas_load_dir(const char *dir, hil_ocpp_schemas **out, struct sim_err *err);

void hil_ocpp_schemas_free(hil_ocpp_schemas *s);

/* Number of schemas loaded. */
int hil_ocpp_schemas_count(const hil_ocpp_schemas *s);

/* The schema of an action's request (response 0) or response (1), or
 * NULL when the set has none. Borrowed from s. */
const cJSON *hil_ocpp_schema_find(const hil_ocpp_schemas *s, const char *action, int response);

/* Validate payload against the action's request or response schema.
 * Returns 0; SIM_ENOENT when there is no such schema (*code =
 * NotImplemented); SIM_EINVAL when the payload violates it, with *code
 * (may be NULL) the OCPP error code and err "Action.req: path: what" (or
 * ".conf" for a response, the specification's names). */
int hil_ocpp_validate(const hil_ocpp_schemas *s, const char *action, int response,
                      const cJSON *payload, int *code, struct sim_err *err);

/* Validate instance against one schema object (root: the document holding
 * it, for $ref). Same returns as hil_ocpp_validate, err "path: what". */
int hil_ocpp_schema_check(const cJSON *root, const cJSON *schema, const cJSON *instance, int *code,
                          struct sim_err *err);

/* RFC 3339 date-time ("2023-10-02T13:00:00Z", "...T16:00:00.123+03:00").
 * Returns 1 when s is one. */
int hil_ocpp_is_date_time(const char *s);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_OCPP_SCHEMA_H */
