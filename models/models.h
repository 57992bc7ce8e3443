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
