/*
 * ocpp_cs.h: flexbed's OCPP 1.6J central system.
 *
 * A WebSocket server (libwebsockets) on 127.0.0.1 by default, subprotocol
 * "ocpp1.6", one connection per charge point at ws://HOST:PORT/ocpp/<id>.
 * It answers what a charge point sends (BootNotification, Heartbeat,
 * StatusNotification, Authorize, StartTransaction, StopTransaction,
 * MeterValues, DataTransfer and the diagnostics/firmware/security
 * notifications), keeps the latest state and meter values of every charge
 * point, and sends any CS-to-CP action on request (SetChargingProfile,
 * ClearChargingProfile, RemoteStart/StopTransaction, Get/ChangeConfiguration,
 * TriggerMessage, ...), one CALL in flight per charge point as OCPP-J
 * requires, the rest queued.
 *
 * Every message is validated against the OCPP 1.6 schemas in both
 * directions: an invalid CALL from a charge point is answered with the
 * CALLERROR the schema violation maps to, an unknown action with
 * NotImplemented, a malformed frame with FormationViolation; an invalid
 * answer to one of our CALLs fails that call; and nothing we send leaves
 * unvalidated. Duplicate CALLs (same id as the previous one) get the same
 * answer again without being processed twice; late or unknown CALLRESULTs
 * are dropped. Each of these is an event (see hil_ocpp_cs_next_event).
 * Security profile 1 (HTTP Basic authentication, user = charge point id)
 * is optional.
 *
 * Threads: the central system is serviced by one thread, either its own
 * (hil_ocpp_cs_start) or the caller's (hil_ocpp_cs_service). Every other
 * function may be called from any thread at any time: state is behind one
 * mutex and new work wakes the service loop with lws_cancel_service.
 * Wall-clock times are CLOCK_REALTIME microseconds; timeouts use
 * CLOCK_MONOTONIC.
 */
#ifndef FLEXBED_HIL_OCPP_CS_H
#define FLEXBED_HIL_OCPP_CS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HIL_OCPP_CP_ID_MAX 48     /* charge point identity, characters */
#define HIL_OCPP_MAX_CONNECTORS 4 /* connectors 0 (the charge point) .. 3 */
#define HIL_OCPP_SUBPROTOCOL "ocpp1.6"
#define HIL_OCPP_PATH_PREFIX "/ocpp/"

/* ------------------------------------------------------------------ */
/* Events: what happened on the wire, for the run's log and for tests  */
/* ------------------------------------------------------------------ */

struct hil_ocpp_event {
    int64_t wall_us;                    /* CLOCK_REALTIME */
    int severity;                       /* enum sim_severity */
    char cp_id[HIL_OCPP_CP_ID_MAX + 1]; /* "" when not tied to one */
    char kind[24];                      /* "connected", "malformed", ... */
    char text[200];
};

/* Event kinds of the central system (docs/hil.md lists them):
 * connected, disconnected, replaced, refused, auth_refused, boot, status,
 * tx_start, tx_stop, data_transfer, malformed, invalid_call, not_implemented,
 * not_supported, duplicate_call, late_result, unknown_result, call_error,
 * call_timeout, call_failed, invalid_result, profile_rejected, internal. */

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

typedef struct hil_ocpp_cs hil_ocpp_cs;

struct hil_ocpp_cs_config {
    const char *host;          /* address to listen on; NULL: "127.0.0.1";
                                  "0.0.0.0": every interface */
    int port;                  /* 0: any free port (hil_ocpp_cs_port tells) */
    const char *auth_password; /* Basic auth (profile 1); NULL or "": none */
    const char *auth_user;     /* NULL: the user must be the charge point id */
    int heartbeat_interval_s;  /* told in BootNotification.conf (default 300) */
    int call_timeout_ms;       /* CALL unanswered after this fails (30000) */
    int ping_interval_s;       /* WebSocket ping when idle, 0: never (60) */
    int max_charge_points;     /* distinct ids remembered (4096) */
    int event_capacity;        /* events kept until read (1024; oldest dropped) */
};

void hil_ocpp_cs_config_default(struct hil_ocpp_cs_config *c);

/* Create the central system and start listening (strings are copied).
 * Returns 0, SIM_EINVAL (bad config), SIM_EIO (cannot listen: the message
 * names host and port) or SIM_ENOMEM. Nothing is serviced until
 * hil_ocpp_cs_start or hil_ocpp_cs_service. */
int hil_ocpp_cs_new(const struct hil_ocpp_cs_config *c, hil_ocpp_cs **out, struct sim_err *err);

/* The TCP port it listens on. */
int hil_ocpp_cs_port(const hil_ocpp_cs *cs);

/* Service in a thread of its own until hil_ocpp_cs_stop / _free. */
int hil_ocpp_cs_start(hil_ocpp_cs *cs, struct sim_err *err);
void hil_ocpp_cs_stop(hil_ocpp_cs *cs);

/* Or service from the caller's thread: one round of the event loop (waits
 * at most about 100 ms). Not together with hil_ocpp_cs_start. */
int hil_ocpp_cs_service(hil_ocpp_cs *cs);

/* Stop, close every connection and free. NULL is fine. */
void hil_ocpp_cs_free(hil_ocpp_cs *cs);

/* ------------------------------------------------------------------ */
/* State of the charge points                                          */
/* ------------------------------------------------------------------ */

struct hil_ocpp_connector_state {
    char status[24]; /* last StatusNotification status, "" before any */
    char error_code[32];
    int tx_id; /* active transaction, 0: none */
    char id_tag[21];
    int64_t meter_start_wh;
    /* Last MeterValues on this connector (NAN until reported): registers
     * in Wh, powers in W (>= 0 each way), SoC in percent. */
    double e_import_wh, e_export_wh, p_import_w, p_export_w, soc_pct;
    int64_t meter_ts_us;   /* the samples' own timestamp */
    int64_t meter_wall_us; /* when they arrived; 0: never */
    uint64_t n_meter;      /* MeterValues received */
};

struct hil_ocpp_cp_state {
    int connected; /* a WebSocket is open */
    int booted;    /* BootNotification accepted on this connection */
    char vendor[21], model[21];
    uint64_t n_connects, n_msgs_in, n_msgs_out;
    int64_t last_seen_wall_us;
    struct hil_ocpp_connector_state conn[HIL_OCPP_MAX_CONNECTORS];
};

/* Snapshot of charge point cp_id. Returns 0, or SIM_ENOENT when it never
 * connected. */
int hil_ocpp_cs_cp_state(hil_ocpp_cs *cs, const char *cp_id, struct hil_ocpp_cp_state *st);

/* Close the charge point's connection (it is expected to reconnect). */
int hil_ocpp_cs_disconnect(hil_ocpp_cs *cs, const char *cp_id);

/* Handle text (len bytes) as if charge point cp_id had sent it, on the
 * caller's thread, exactly as a received WebSocket message is handled
 * (frame, schema, action, state, events); the answers it queues are
 * dropped unless the charge point is connected. For fuzzing and tests
 * without sockets; not while the service thread runs. Returns 0, or -1
 * when cp_id cannot be admitted (max_charge_points). */
int hil_ocpp_cs_receive(hil_ocpp_cs *cs, const char *cp_id, const char *text, size_t len);

/* ------------------------------------------------------------------ */
/* Calls to a charge point                                             */
/* ------------------------------------------------------------------ */

enum hil_ocpp_call_status {
    HIL_OCPP_CALL_UNKNOWN = 0, /* no such call (or forgotten: too old) */
    HIL_OCPP_CALL_QUEUED,      /* waiting for its turn or for the charge point */
    HIL_OCPP_CALL_SENT,        /* in flight */
    HIL_OCPP_CALL_DONE,        /* CALLRESULT received and valid */
    HIL_OCPP_CALL_ERROR,       /* CALLERROR received */
    HIL_OCPP_CALL_FAILED,      /* timeout, disconnect or invalid CALLRESULT */
};

/* Queue CALL `action` with a copy of payload for charge point cp_id
 * (which need not be connected yet: the call waits). The payload is
 * validated first. Returns 0 and *call (may be NULL) the handle, SIM_EINVAL
 * (schema violation, err names the path), SIM_ENOENT (no such action) or
 * SIM_ERANGE (too many calls pending). */
int hil_ocpp_cs_call(hil_ocpp_cs *cs, const char *cp_id, const char *action, const cJSON *payload,
                     uint32_t *call, struct sim_err *err);

/* Same with the payload as JSON text. */
int hil_ocpp_cs_call_json(hil_ocpp_cs *cs, const char *cp_id, const char *action, const char *json,
                          uint32_t *call, struct sim_err *err);

/* Status of a call. When *result is non-NULL and the call is DONE or
 * ERROR it receives a copy of the CALLRESULT payload (or the CALLERROR
 * details) that the caller frees with cJSON_Delete; why (may be NULL)
 * receives the error code and description or the failure reason. */
int hil_ocpp_cs_call_status(hil_ocpp_cs *cs, uint32_t call, cJSON **result, char *why,
                            size_t why_n);

/* SetChargingProfile for a power limit on a connector, in W (chargingRateUnit
 * W, rounded to whole watts). A negative limit asks for discharge of that
 * magnitude (the convention of docs/hil.md). With a transaction running it
 * is a TxProfile for that transaction, otherwise a TxDefaultProfile; kind
 * Relative with one period from 0 s, stack level 0, profile id
 * HIL_OCPP_PROFILE_ID + connector, so a new limit replaces the previous
 * one. */
#define HIL_OCPP_PROFILE_ID 4200
int hil_ocpp_cs_set_limit(hil_ocpp_cs *cs, const char *cp_id, int connector, double limit_w,
                          uint32_t *call, struct sim_err *err);

/* ClearChargingProfile of the profile hil_ocpp_cs_set_limit installs. */
int hil_ocpp_cs_clear_limit(hil_ocpp_cs *cs, const char *cp_id, int connector, uint32_t *call,
                            struct sim_err *err);

/* ------------------------------------------------------------------ */
/* Events and statistics                                               */
/* ------------------------------------------------------------------ */

/* Pop the oldest event into *ev. Returns 1, or 0 when there is none. */
int hil_ocpp_cs_next_event(hil_ocpp_cs *cs, struct hil_ocpp_event *ev);

struct hil_ocpp_cs_stats {
    uint64_t connects, disconnects, refused;
    uint64_t msgs_in, msgs_out;
    uint64_t calls_in;   /* CALLs from charge points */
    uint64_t errors_out; /* CALLERRORs we sent */
    uint64_t calls_out, results_in, errors_in, timeouts, late_results;
    uint64_t events_dropped; /* overwritten before they were read */
    int charge_points, connected;
};

void hil_ocpp_cs_stats(hil_ocpp_cs *cs, struct hil_ocpp_cs_stats *st);

/* Silence libwebsockets' own stderr logging (process-wide; it has no
 * per-context setting); FLEXBED_LWS_LOG=<LLL_* mask> turns it back on for
 * debugging. Called by every OCPP context constructor. */
void hil_ocpp_lws_quiet(void);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_OCPP_CS_H */
