/*
 * battery.h: the stationary battery's model, without the kernel.
 *
 * The battery is the storage core of storage.h with its own defaults:
 * tests, the "battery" scenario component (models/battery.c) and the Modbus
 * battery emulator of hil/ all drive the same mdl_sto object, so a battery
 * behaves the same in a simulated run and behind a protocol. What the model
 * does (limits, efficiencies, standby loss, ramp, latency, SoC floor and
 * ceiling as CVODE roots, energy books) is described in storage.h and in
 * docs/models.md ("Battery").
 */
#ifndef FLEXBED_MODELS_BATTERY_H
#define FLEXBED_MODELS_BATTERY_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults for every key a scenario may omit: SoC window [0, 1],
 * efficiencies 0.95 each way, no standby loss, no ramp limit, no latency.
 * capacity_kwh and the power limits are zero: a caller must set them. */
void mdl_battery_params_default(struct mdl_sto_params *p);

/* Split a round-trip efficiency equally: eta_charge = eta_discharge =
 * sqrt(round_trip). Returns 0, or SIM_EINVAL when rt is not in (0, 1]. */
int mdl_battery_round_trip(double round_trip, struct mdl_sto_params *p);

/* A battery model at time t0 with SoC soc0 (fraction); a thin name for
 * mdl_sto_new so that callers read as what they mean. */
int mdl_battery_new(const struct mdl_sto_params *p, double soc0, sim_time_us t0, size_t queue_len,
                    mdl_sto **out, struct sim_err *err);

/* The power a battery could offer for discharge now (kW, >= 0): the
 * discharge limit while SoC is above the floor, else 0 (DEMO.md: the demo
 * battery offers its full 10 kW only above 20 % SoC). */
double mdl_battery_available_discharge_kw(const mdl_sto *b);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_MODELS_BATTERY_H */
