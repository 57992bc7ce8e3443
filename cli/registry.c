/*
 * registry.c: the component types and scenario sections the command line
 * knows, gathered from every module. A new model or actor becomes usable
 * in scenario files by adding its scn_type here.
 */
#include "cli.h"

#include "../models/models.h"
#include "../platform/platform.h"

void cli_registry_init(struct cli_registry *r)
{
    size_t nt = 0, ns = 0;
    r->types[nt++] = mdl_profile_type;
    r->types[nt++] = mdl_transformer_type;
    r->types[nt++] = cli_battery_type; /* mdl_battery_type or a device */
    r->types[nt++] = cli_ev_type;      /* mdl_ev_type or a device */
    r->types[nt++] = mdl_feeder_type;
    r->types[nt++] = mdl_pv_type;
    r->types[nt++] = plt_meter_type;
    r->types[nt++] = plt_fsp_type;
    r->types[nt++] = plt_dso_type;
    r->types[nt++] = plt_dispatch_type;
    r->sections[ns++] = plt_market_section;
    r->sections[ns++] = plt_report_section;
    r->reg.types = r->types;
    r->reg.ntypes = nt;
    r->reg.sections = r->sections;
    r->reg.nsections = ns;
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case SIM_OK:
        return CLI_OK;
    case SIM_EINVAL:
    case SIM_ENOENT:
    case SIM_ECYCLE:
    case SIM_EEXIST:
    case SIM_ERANGE:
        return CLI_USAGE;
    case SIM_EINTR:
        return CLI_INTERRUPTED;
    default:
        return CLI_FAIL;
    }
}
