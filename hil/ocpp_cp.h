/*
 * ocpp_cp.h: an OCPP 1.6J charge point client, for emulators and benches.
 *
 * A pool holds any number of charge points on one libwebsockets client
 * context (the benchmark runs a thousand). Each charge point connects to
 * ws://HOST:PORT/<path>/<id> with subprotocol "ocpp1.6" (and Basic
 * credentials when given), boots, reports its status, starts a transaction
 * when a car is plugged in, sends MeterValues (Energy.Active.Import/Export
 * .Register, Power.Active.Import/Export, SoC) every MeterValueSampleInterval
 * and Heartbeats, stops the transaction when the car leaves, and
 * reconnects with exponential backoff whenever the connection drops.
 * Transaction messages wait in the queue across a disconnect, as OCPP asks.
 *
 * From the central system it accepts SetChargingProfile (TxProfile,
 * TxDefaultProfile, ChargePointMaxProfile; Absolute, Relative and Recurring
 * schedules; W or A), ClearChargingProfile, RemoteStart/StopTransaction,
 * GetConfiguration, ChangeConfiguration (HeartbeatInterval,
 * MeterValueSampleInterval) and TriggerMessage; other known actions get
 * CALLERROR NotSupported, unknown ones NotImplemented. Every message is
 * validated against the schemas in both directions, like the central
 * system does. The limit in force (a signed power in W: negative asks for
 * discharge, see docs/hil.md) is handed to the device behind the charge
 * point, whatever it is: the V2G EV model (ocpp_cp_ev.c) or the benchmark's
 * constant meter.
 *
 * Threads: a pool and its charge points belong to the one thread that
 * calls hil_ocpp_cp_pool_service; nothing here locks.
 */
#ifndef FLEXBED_HIL_OCPP_CP_H
#define FLEXBED_HIL_OCPP_CP_H

#include <stddef.h>
#include <stdint.h>

#include "../sim/sim.h"
#include "ocpp_cs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the device behind a charge point reports. */
struct hil_ocpp_meter {
    int plugged;                     /* a car is connected */
    double p_w;                      /* grid-side power: + charging, - discharging */
    double e_import_wh, e_export_wh; /* energy registers, never decreasing */
    double soc_pct;                  /* NAN: unknown (not sent) */
};

/* The device: a vtable over `self` (borrowed; outlives the charge point).
 * Times are CLOCK_MONOTONIC microseconds. */
struct hil_ocpp_cp_device {
    void *self;
    /* Advance to mono_us and report. */
    int (*sample)(void *self, int64_t mono_us, struct hil_ocpp_meter *m, struct sim_err *err);
    /* The limit in force changed: none (has_limit 0: the car charges on its
     * own account) or limit_w (signed, W). */
    int (*set_limit)(void *self, int64_t mono_us, int has_limit, double limit_w,
                     struct sim_err *err);
    /* The device's clock (us since the epoch) at mono_us, for timestamps
     * and absolute schedules; NULL: the wall clock. */
    int64_t (*clock)(void *self, int64_t mono_us);
};

struct hil_ocpp_cp_config {
    const char *url;      /* ws://host[:port]/path/<chargePointId> (no TLS) */
    const char *password; /* Basic auth (user = id), NULL: none */
    const char *vendor, *model, *serial, *id_tag; /* NULL: flexbed defaults */
    int meter_interval_ms;                        /* MeterValueSampleInterval (10000); 0: none */
    int heartbeat_interval_s;                     /* until BootNotification.conf says (300) */
    int reconnect_min_ms, reconnect_max_ms;       /* backoff (500, 30000) */
    int call_timeout_ms;                          /* our CALL unanswered: given up (30000) */
    int ignore_profiles;                          /* accept profiles, never apply them (a
                                                     misbehaving charger, for tests) */
    int phases;          /* for limits in A: W = A * phases * voltage (3) */
    double voltage_v;    /* (230) */
    int auto_start;      /* start a transaction on plug-in (1) */
    int answer_delay_ms; /* answer the central system's CALLs this late
                            (a slow charger, for tests; 0) */
};

void hil_ocpp_cp_config_default(struct hil_ocpp_cp_config *c);

typedef struct hil_ocpp_cp_pool hil_ocpp_cp_pool;
typedef struct hil_ocpp_cp hil_ocpp_cp;

struct hil_ocpp_cp_pool_config {
    int tick_ms;             /* timer period: sampling, schedules (100) */
    int connects_per_tick;   /* new connections opened per tick (50) */
    size_t latency_capacity; /* CALL round trips kept (0: none) */
    int event_capacity;      /* (1024; oldest dropped) */
};

void hil_ocpp_cp_pool_config_default(struct hil_ocpp_cp_pool_config *c);

/* c may be NULL for the defaults. Returns 0, SIM_ENOMEM or SIM_EIO. */
int hil_ocpp_cp_pool_new(const struct hil_ocpp_cp_pool_config *c, hil_ocpp_cp_pool **out,
                         struct sim_err *err);

/* Add a charge point (it connects at the next tick). Strings are copied.
 * Returns 0 and *out (may be NULL; owned by the pool), or SIM_EINVAL for a
 * URL that is not ws://host[:port]/.../<id>. */
int hil_ocpp_cp_add(hil_ocpp_cp_pool *pool, const struct hil_ocpp_cp_config *c,
                    const struct hil_ocpp_cp_device *dev, hil_ocpp_cp **out, struct sim_err *err);

/* One round of the event loop (returns within about tick_ms). Returns 0,
 * or the first device error (the charge point goes on). */
int hil_ocpp_cp_pool_service(hil_ocpp_cp_pool *pool, struct sim_err *err);

/* Close every connection and free. NULL is fine. */
void hil_ocpp_cp_pool_free(hil_ocpp_cp_pool *pool);

int hil_ocpp_cp_count(const hil_ocpp_cp_pool *pool);
hil_ocpp_cp *hil_ocpp_cp_at(hil_ocpp_cp_pool *pool, int i);

/* What a charge point knows about itself. */
struct hil_ocpp_cp_info {
    char id[HIL_OCPP_CP_ID_MAX + 1];
    int connected, booted;
    int tx_id;       /* transaction running, 0: none */
    char status[24]; /* connector 1's last reported status */
    int has_limit;   /* a charging profile is in force */
    double limit_w;  /* its limit now (signed) */
    int profiles;    /* installed charging profiles */
    int meter_interval_ms, heartbeat_interval_s;
    struct hil_ocpp_meter meter; /* last sample */
    uint64_t n_connects, n_meter_values, n_calls, n_errors_in;
    char last_error[160];         /* last CALLERROR received: "Code: text" */
    char last_connect_error[160]; /* why the last connection attempt failed */
};

void hil_ocpp_cp_info(const hil_ocpp_cp *cp, struct hil_ocpp_cp_info *info);

/* Close the connection now, as a charger losing its network would; it
 * reconnects after the backoff. */
void hil_ocpp_cp_drop(hil_ocpp_cp *cp);

/* Send text as one WebSocket message, unchecked (tests: malformed frames,
 * unknown actions). Any answer shows in the events and last_error. */
int hil_ocpp_cp_send_raw(hil_ocpp_cp *cp, const char *text);

/* Handle text (len bytes) as if the central system had sent it, exactly as
 * a received WebSocket message is handled; the answers it queues are
 * dropped unless the charge point is online. For fuzzing and tests without
 * sockets, on the pool's thread. */
void hil_ocpp_cp_receive(hil_ocpp_cp *cp, const char *text, size_t len);

/* Pop the oldest event of the pool. Returns 1, or 0 when there is none. */
int hil_ocpp_cp_next_event(hil_ocpp_cp_pool *pool, struct hil_ocpp_event *ev);

struct hil_ocpp_cp_pool_stats {
    uint64_t connects, connect_failures, disconnects;
    uint64_t msgs_in, msgs_out;
    uint64_t calls_out, results_in, errors_in, timeouts, late_results;
    uint64_t calls_in, dropped; /* CS CALLs answered; our CALLs dropped (queue full) */
};

void hil_ocpp_cp_pool_stats(const hil_ocpp_cp_pool *pool, struct hil_ocpp_cp_pool_stats *st);

/* Round trips (us) of our CALLs answered since the last reset, in
 * arrival order (at most latency_capacity). Borrowed. */
void hil_ocpp_cp_pool_latencies(const hil_ocpp_cp_pool *pool, const int64_t **lat, size_t *n);
void hil_ocpp_cp_pool_reset_stats(hil_ocpp_cp_pool *pool);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_OCPP_CP_H */
