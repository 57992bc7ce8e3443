/*
 * hil.h: hardware in the loop. Device adapters that put real equipment on
 * the kernel's signal bus in place of a model, and emulators that put
 * flexbed's models behind the same protocols so that every path runs on
 * loopback without hardware. See docs/hil.md.
 *
 * Modbus TCP battery (SunSpec map in hil/sunspec.h):
 *   - client: the "hil_modbus_battery" component (modbus_battery.c)
 *   - emulator: `flexbed emulate battery` (emulator_battery.c), also usable
 *     in-process (tests) through the hil_emu_battery_* functions.
 * OCPP 1.6J charge points: hil/ocpp_*.c.
 */
#ifndef FLEXBED_HIL_H
#define FLEXBED_HIL_H

#include "../models/storage.h"
#include "../sim/scenario.h"
#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Modbus battery client                                               */
/* ------------------------------------------------------------------ */

/* Scenario type "hil_modbus_battery": a battery inverter reached over
 * Modbus TCP. Publishes what the "battery" model publishes (p_kw,
 * setpoint_kw, soc, e_kwh, e_in_kwh, e_out_kwh, loss_kwh,
 * available_discharge_kw) plus stale and failed (0/1). Keys: docs/hil.md. */
extern const struct scn_type hil_modbus_battery_type;

/* The same factory, for a "battery" object with "backend": "modbus": it
 * consumes "backend" if still present, the Modbus keys, and the battery
 * model's keys (the device's nameplate rules; a scenario capacity or power
 * limit that differs from it by more than 1 % is logged at the first
 * connection as "nameplate_mismatch"). */
int hil_modbus_battery_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                              struct sim_err *err);

/* Non-zero when a component of k talks to a device (its type starts with
 * "hil_"): such runs must be paced (sim_kernel_set_speed > 0). */
int hil_kernel_has_devices(const sim_kernel *k);

/* 1 when every device component of k can replay a journal instead of
 * contacting its device (sim_kernel_set_replay); else 0 with why (may be
 * NULL) naming the first that cannot. Call before sim_kernel_init. */
int hil_kernel_replayable(const sim_kernel *k, char *why, size_t n);

/* ------------------------------------------------------------------ */
/* Modbus battery emulator                                             */
/* ------------------------------------------------------------------ */

typedef struct hil_emu_battery hil_emu_battery;

/* Faults a test can switch on and off while the emulator runs (from any
 * thread). */
enum hil_emu_fault {
    HIL_EMU_MUTE = 1,    /* read requests, never answer (client timeouts) */
    HIL_EMU_DROP = 2,    /* one shot: close every client connection */
    HIL_EMU_REFUSE = 3,  /* refuse writes with ILLEGAL DATA VALUE, LocRemCtl
                            reads LOCAL */
    HIL_EMU_BAD_SOC = 4, /* report SoC 150 % (a value out of range) */
};

struct hil_emu_battery_cfg {
    const char *bind;        /* address to listen on, default "127.0.0.1" */
    int port;                /* 0: an ephemeral port (hil_emu_battery_port) */
    int unit;                /* Modbus unit id answered (0 and 255 always) */
    int base;                /* SunS marker address: 40000, 0 or 50000 */
    double speed;            /* device time runs `speed` times the wall clock */
    sim_time_us t0;          /* device time at start; 0: the wall clock's now */
    struct mdl_sto_params p; /* the battery (models/battery.h) */
    double soc0;
    double v_nom;       /* nominal DC voltage for currents, default 400 V */
    const char *serial; /* model 1 serial number */
    /* Where the emulator tells what happens (connections, setpoints, SoC
     * limits); NULL: silent. Called with the emulator's lock held. */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
};

/* Defaults: 127.0.0.1:1502 unit 1 base 40000 speed 1, a 20 kWh battery
 * with 10 kW each way at SoC 0.5 (battery.h defaults otherwise). */
void hil_emu_battery_defaults(struct hil_emu_battery_cfg *c);

/* Create the battery model, build the map and listen. Returns 0,
 * SIM_EINVAL (a bad parameter, named), SIM_EIO (bind/listen failed,
 * e.g. address in use), SIM_ENOMEM. */
int hil_emu_battery_new(const struct hil_emu_battery_cfg *c, hil_emu_battery **out,
                        struct sim_err *err);

/* The port actually listened on. */
int hil_emu_battery_port(const hil_emu_battery *e);

/* Serve for at most timeout_ms: accept, answer requests, advance the
 * model to the device time. Returns 0 or an error (poll failed). */
int hil_emu_battery_poll(hil_emu_battery *e, int timeout_ms, struct sim_err *err);

/* Serve until hil_emu_battery_stop is called or *stop_flag (may be NULL)
 * becomes non-zero. Returns 0 or the first error of poll. */
int hil_emu_battery_run(hil_emu_battery *e, const volatile int *stop_flag, struct sim_err *err);

/* Thread-safe controls. */
void hil_emu_battery_stop(hil_emu_battery *e);
void hil_emu_battery_fault(hil_emu_battery *e, enum hil_emu_fault f, int on);
/* The model's state at the last advance. */
void hil_emu_battery_state(hil_emu_battery *e, struct mdl_sto_state *st);
/* Number of requests answered so far (tests use it to wait for a poll). */
unsigned long hil_emu_battery_requests(hil_emu_battery *e);

/* Close every socket and free. NULL is ok. Not while run is running. */
void hil_emu_battery_free(hil_emu_battery *e);

/* ------------------------------------------------------------------ */
/* Command-line entry points (argv[0] is "battery" / "charger");       */
/* they print and return an exit code (0, 1 failed, 2 usage).          */
/* ------------------------------------------------------------------ */

int hil_emulate_battery(int argc, char **argv); /* emulator_battery.c */
int hil_emulate_charger(int argc, char **argv); /* ocpp emulator */

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_HIL_H */
