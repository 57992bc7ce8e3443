/*
 * hil_ocpp.h: flexbed's OCPP 1.6J side of hardware in the loop, in one
 * header: the central system (ocpp_cs.h), the charge point client
 * (ocpp_cp.h), the V2G EV behind an emulated charge point, the
 * `flexbed emulate charger` command and the kernel component that puts an
 * EV asset on OCPP ("type": "ev", "backend": "ocpp"). See docs/hil.md.
 */
#ifndef FLEXBED_HIL_OCPP_H
#define FLEXBED_HIL_OCPP_H

#include "../models/ev.h"
#include "../sim/scenario.h"
#include "../sim/sim.h"
#include "ocpp_cp.h"
#include "ocpp_cs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The V2G EV model as the device behind a charge point                */
/* (hil/ocpp_cp_ev.c)                                                  */
/* ------------------------------------------------------------------ */

struct hil_ocpp_ev_params {
    struct mdl_ev_params ev; /* the car and its charger (models/ev.h) */
    sim_time_us start;       /* model time at the first sample; 0: wall clock */
    double speed;            /* model seconds per wall second (1) */
    sim_time_us arrival;     /* model time the car plugs in; <= start: at once */
    sim_time_us departure;   /* model time it leaves; SIM_TIME_NEVER: never */
    double soc_arrival;      /* SoC when it plugs in (0.5) */
};

/* Defaults: a 60 kWh car on an 11 kW bidirectional 3-phase charger, V2G
 * floor 20 %, target 80 %, plugged in from the start, never leaving, real
 * time. */
void hil_ocpp_ev_params_default(struct hil_ocpp_ev_params *p);

typedef struct hil_ocpp_ev_device hil_ocpp_ev_device;

/* Returns 0, SIM_EINVAL (a parameter, named), SIM_ENOMEM or SIM_EFAIL. */
int hil_ocpp_ev_device_new(const struct hil_ocpp_ev_params *p, hil_ocpp_ev_device **out,
                           struct sim_err *err);
void hil_ocpp_ev_device_free(hil_ocpp_ev_device *d);

/* The vtable for hil_ocpp_cp_add (self = d). */
void hil_ocpp_ev_device_ops(hil_ocpp_ev_device *d, struct hil_ocpp_cp_device *ops);

/* The model's state (after the last sample). */
void hil_ocpp_ev_device_state(const hil_ocpp_ev_device *d, struct mdl_sto_state *st);

/* `flexbed emulate charger --url ws://127.0.0.1:PORT/ocpp/CP1 [options]`:
 * argv[0] is the command's name ("charger"), options follow (`--help`
 * lists them). Runs the V2G EV as a charge point until --duration has
 * passed or SIGINT/SIGTERM, printing the charge point's events. Returns
 * the process exit code: 0, 1 (failure) or 2 (bad arguments). */
int hil_emulate_charger(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* The EV asset on OCPP (hil/ocpp_ev.c)                                */
/* ------------------------------------------------------------------ */

/* Scenario factory for an "ev" component with "backend": "ocpp": the asset
 * is a real (or emulated) charge point connected to flexbed's central
 * system. Reads charge_point_id (required), connector (1), ocpp_host
 * ("127.0.0.1"), ocpp_port (8887; 0: any free port), ocpp_password (none),
 * timeout ("30s"), lost_after ("120s"), follow_grace ("30s") and the EV
 * model's own keys (they describe the car; its limits clamp setpoints),
 * publishes the EV model's signals from MeterValues plus stale and failed,
 * and turns its setpoint signal into SetChargingProfile. The component's
 * type is "hil_ocpp_ev". All OCPP assets of a kernel share one central
 * system, a component named "ocpp_cs" of type "hil_ocpp_cs" that listens
 * from sim_kernel_init on. Journals device values and commands, and
 * replays them when the kernel replays (sim_kernel_set_replay). */
int hil_ocpp_ev_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                       struct sim_err *err);

/* The port the kernel's central system listens on (after sim_kernel_init),
 * or -1 when k has no OCPP asset, is not initialised or replays. */
int hil_ocpp_kernel_cs_port(const sim_kernel *k);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_OCPP_H */
