/*
 * backends.c: an asset's "backend" key. The scenario says "type":
 * "battery" whatever drives the battery; "backend" picks its model ("sim",
 * the default) or a device: "modbus" for a battery inverter with a SunSpec
 * map, "ocpp" for a V2G charge point on flexbed's OCPP central system.
 * The rest of the scenario (setpoints, meters, market) is unchanged,
 * because every backend publishes the same signals.
 *
 * This lives in cli/ because it is the one place that sees both models/
 * and hil/ (hil/ depends on models/, not the other way round).
 */
#include <string.h>

#include "../hil/hil.h"
#include "../hil/hil_ocpp.h"
#include "../models/models.h"
#include "cli.h"

/* The backend named in cfg, consumed; -1 with err set if unknown. */
static int backend_of(struct scn_obj *cfg, const char *const *names, struct sim_err *err)
{
    int which = 0;
    return scn_enum(cfg, "backend", 0, names, 0, &which, err) ? -1 : which;
}

static int battery_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                          struct sim_err *err)
{
    static const char *const names[] = {"sim", "modbus", NULL};
    switch (backend_of(cfg, names, err)) {
    case 0:
        return mdl_battery_type.create(ctx, cfg, name, err);
    case 1:
        return hil_modbus_battery_create(ctx, cfg, name, err);
    default:
        return SIM_EINVAL;
    }
}

static int ev_create(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name,
                     struct sim_err *err)
{
    static const char *const names[] = {"sim", "ocpp", NULL};
    switch (backend_of(cfg, names, err)) {
    case 0:
        return mdl_ev_type.create(ctx, cfg, name, err);
    case 1:
        return hil_ocpp_ev_create(ctx, cfg, name, err);
    default:
        return SIM_EINVAL;
    }
}

const struct scn_type cli_battery_type = {
    .type = "battery",
    .summary = "stationary battery: its model (backend \"sim\") or a Modbus TCP inverter with a "
               "SunSpec map (backend \"modbus\")",
    .create = battery_create,
};

const struct scn_type cli_ev_type = {
    .type = "ev",
    .summary = "V2G electric vehicle and charger: its model (backend \"sim\") or a charge point "
               "on flexbed's OCPP 1.6J central system (backend \"ocpp\")",
    .create = ev_create,
};
