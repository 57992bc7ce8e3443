/*
 * models.h: flexbed's physics components.
 *
 * Each model is a pure part (state, parameters, functions of them) and a
 * component wrapper on the kernel's interface, created from a scenario
 * object by the factory its scn_type names. See docs/models.md.
 */
#ifndef FLEXBED_MODELS_H
#define FLEXBED_MODELS_H

#include "../sim/scenario.h"
#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Physical ranges of asset parameters (docs/models.md, "Parameter
 * ranges"): a scenario value outside them is bad input (exit 2), not a run
 * that reports inf or 1e297 kW of losses. Wide enough for any asset an LV
 * or MV study holds. */
#define MDL_MAX_ENERGY_KWH 1e6 /* storage capacity: 1 GWh */
#define MDL_MAX_POWER_KW 1e5   /* charge/discharge power, standby loss: 100 MW */
#define MDL_MAX_RAMP_KW_PER_S 1e5
#define MDL_MAX_RATING_KVA 1e6 /* transformer rating: 1000 MVA */
#define MDL_MAX_OVERLOAD_PCT 1000.0

/* Scenario component types (registered by cli/registry.c). */
extern const struct scn_type mdl_profile_type;     /* models/profile.c */
extern const struct scn_type mdl_transformer_type; /* models/transformer.c */
extern const struct scn_type mdl_battery_type;     /* models/battery.c */
extern const struct scn_type mdl_ev_type;          /* models/ev.c */
extern const struct scn_type mdl_feeder_type;      /* models/feeder_component.c */
extern const struct scn_type mdl_pv_type;          /* models/pv.c */

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_MODELS_H */
