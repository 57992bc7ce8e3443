/*
 * ocpp_frame.h: OCPP-J message framing (OCPP 1.6 JSON over WebSocket).
 *
 * Every OCPP-J WebSocket text message is a JSON array of one of three
 * shapes (OCPP-J 1.6, section 4):
 *
 *   [2, "<id>", "<Action>", {payload}]                    CALL
 *   [3, "<id>", {payload}]                                CALLRESULT
 *   [4, "<id>", "<ErrorCode>", "<description>", {details}] CALLERROR
 *
 * The id is a string of at most 36 characters chosen by the caller; a
 * CALLRESULT or CALLERROR repeats the id of the CALL it answers. This module
 * parses and builds those arrays with cJSON and names the specification's
 * error codes; it knows nothing about sockets or actions (see ocpp_cs.h and
 * ocpp_schema.h). Thread-safe: no state.
 */
#ifndef FLEXBED_HIL_OCPP_FRAME_H
#define FLEXBED_HIL_OCPP_FRAME_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hil_ocpp_msg_type {
    HIL_OCPP_CALL = 2,
    HIL_OCPP_CALLRESULT = 3,
    HIL_OCPP_CALLERROR = 4,
};

/* The CALLERROR codes of OCPP-J 1.6 (section 4.2.3), with the
 * specification's spelling ("OccurenceConstraintViolation" has one r). */
enum hil_ocpp_error {
    HIL_OCPP_E_NONE = 0,
    HIL_OCPP_E_NOT_IMPLEMENTED,      /* action not known to the receiver */
    HIL_OCPP_E_NOT_SUPPORTED,        /* action known but not supported */
    HIL_OCPP_E_INTERNAL_ERROR,       /* receiver failed while handling it */
    HIL_OCPP_E_PROTOCOL_ERROR,       /* payload incomplete */
    HIL_OCPP_E_SECURITY_ERROR,       /* security issue during processing */
    HIL_OCPP_E_FORMATION_VIOLATION,  /* syntactically wrong or not a PDU */
    HIL_OCPP_E_PROPERTY_CONSTRAINT,  /* a field holds an invalid value */
    HIL_OCPP_E_OCCURENCE_CONSTRAINT, /* a field missing or too often */
    HIL_OCPP_E_TYPE_CONSTRAINT,      /* a field of the wrong data type */
    HIL_OCPP_E_GENERIC_ERROR,        /* anything else */
    HIL_OCPP_E_COUNT
};

/* "NotImplemented", ...; "" for HIL_OCPP_E_NONE, "GenericError" for an
 * out-of-range code. Never NULL. */
const char *hil_ocpp_error_name(int code);

/* The code named `name`, or -1 when it is not one of the specification's. */
int hil_ocpp_error_parse(const char *name);

#define HIL_OCPP_ID_MAX 36     /* unique message id, characters */
#define HIL_OCPP_ACTION_MAX 64 /* longest action name we keep */

/* One parsed frame. The payload points into root (owned by the frame):
 * the CALL or CALLRESULT payload, or the CALLERROR details. */
struct hil_ocpp_frame {
    int type;                             /* enum hil_ocpp_msg_type, 0: unknown */
    char id[HIL_OCPP_ID_MAX + 1];         /* "" when it could not be read */
    char action[HIL_OCPP_ACTION_MAX + 1]; /* CALL only */
    int error;                            /* CALLERROR: enum hil_ocpp_error */
    char error_name[48];                  /* CALLERROR: the code as received */
    char error_desc[256];                 /* CALLERROR: description (truncated) */
    cJSON *payload;                       /* borrowed from root */
    cJSON *root;                          /* owned; free with hil_ocpp_frame_clear */
};

/* Parse one WebSocket text message of len bytes (need not be
 * NUL-terminated). Returns 0, or SIM_EINVAL with *reply set to the error
 * code the receiver should answer with (FormationViolation for anything
 * that is not a well-formed frame, PropertyConstraintViolation for an id
 * longer than 36 characters) and err saying why; f->id and f->type are
 * filled whenever they could be read, so that a CALLERROR can name the
 * offending message. SIM_ENOMEM when out of memory. f must be cleared with
 * hil_ocpp_frame_clear in every case. */
int hil_ocpp_frame_parse(const char *text, size_t len, struct hil_ocpp_frame *f, int *reply,
                         struct sim_err *err);
void hil_ocpp_frame_clear(struct hil_ocpp_frame *f);

/* Build frames as compact JSON text, malloc'd (the caller frees), or NULL
 * when out of memory. payload / details are copied, never taken; NULL
 * stands for {}. */
char *hil_ocpp_frame_call(const char *id, const char *action, const cJSON *payload);
char *hil_ocpp_frame_result(const char *id, const cJSON *payload);
char *hil_ocpp_frame_error(const char *id, int code, const char *desc, const cJSON *details);

/* The id to answer a frame whose own id could not be read (OCPP 2.0.1
 * makes "-1" the rule; 1.6 is silent, and we follow 2.0.1). */
#define HIL_OCPP_UNKNOWN_ID "-1"

/* Append n bytes to a growing receive buffer (*buf of *len bytes in *cap),
 * keeping room for a terminating NUL; the buffer doubles from 1 KiB. Both
 * ends of a websocket use it to gather a message's fragments. Returns 0 or
 * -1 when out of memory (the buffer is left as it was). */
int hil_ocpp_rx_append(char **buf, size_t *len, size_t *cap, const void *in, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_OCPP_FRAME_H */
