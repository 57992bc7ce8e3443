/*
 * platform.h: the kernel components that stand for the demo's IoT and EV
 * management platforms and for the DSO's and FSPs' behaviour.
 *
 * They connect the market engine (market/, which knows nothing of the
 * kernel) to the assets on the signal bus:
 *   - meter: the IoT platform's measuring points (platform/meter.c);
 *   - the "market" scenario section: participants, keys and rules, and the
 *     engine itself on the run's database (platform/market_section.c);
 *   - dso and fsp: the policies that post requests and offers, match, buy
 *     and settle (platform/dso.c, platform/fsp.c);
 *   - dispatch: the EV management platform, turning purchased matches into
 *     setpoint signals the assets read, after a latency (platform/dispatch.c).
 */
#ifndef FLEXBED_PLATFORM_H
#define FLEXBED_PLATFORM_H

#include <stddef.h>

#include "../sim/scenario.h"
#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#include <sqlite3.h>

#include "../market/market.h"
#include "../results/results.h"

/* Bounds on what one scenario may hold (a city of feeders has hundreds of
 * each); the arrays grow as the scenario is read. */
#define PLT_MAX_PARTICIPANTS 100000
#define PLT_MAX_ASSETS 100000
#define PLT_NAME_MAX 64

/* A market participant as the scenario names it. */
struct plt_participant {
    char name[PLT_NAME_MAX];
    enum mkt_role role;
    struct mkt_key key; /* derived from the scenario seed, or read from a key file */
    uint8_t addr[20];
    int64_t deposit_ueur;
};

/* An asset an FSP component offers; filled when the FSP registers it. */
struct plt_asset {
    char component[PLT_NAME_MAX]; /* the asset's kernel component */
    char name[PLT_NAME_MAX];      /* its name on the market */
    int fsp;                      /* index of its owner in part[] */
    int dispatch;                 /* kernel id of the dispatch platform that
                                     controls it, or -1 */
    int64_t market_id;            /* 0 until registered */
};

/* What the platform components share during one run. The caller (cmd_run)
 * zero-initialises it with plt_context_init, passes it to scn_load as the
 * `user` pointer, sets db to the run's database before sim_kernel_run,
 * and clears it after sim_kernel_free. */
struct plt_context {
    sqlite3 *db;      /* borrowed; NULL: the market runs in memory */
    int enabled;      /* 0: counterfactual run, policies stand still */

    /* Filled by the "market" section. */
    int has_market;
    struct mkt_params params;
    struct plt_participant *part; /* npart of them (malloc'd) */
    int npart, cap_part;
    int op;           /* index of the operator in part[] */
    sim_time_us block_period;

    /* Filled at run time. */
    sqlite3 *own_db;
    mkt_engine *engine;
    struct plt_asset *asset; /* nasset of them (malloc'd) */
    int nasset, cap_asset;
};

void plt_context_init(struct plt_context *c);
/* Room for one more of n elements in *arr (capacity *cap); 0 or -1. */
int plt_grow(void **arr, int *cap, int n, size_t elem);
void plt_context_clear(struct plt_context *c);
/* Index of the participant named `name`, or -1. */
int plt_participant_find(const struct plt_context *c, const char *name);
/* Index of the asset whose component is `component` or whose market id
 * is market_id (when component is NULL); -1 if none. */
int plt_asset_find(const struct plt_context *c, const char *component, int64_t market_id);

/* Scenario component types and the "market" section. */
extern const struct scn_type plt_meter_type;    /* platform/meter.c */
extern const struct scn_type plt_fsp_type;      /* platform/fsp.c */
extern const struct scn_type plt_dso_type;      /* platform/dso.c */
extern const struct scn_type plt_dispatch_type; /* platform/dispatch.c */
extern const struct scn_section plt_market_section; /* platform/market_section.c */
extern const struct scn_section plt_report_section; /* platform/report.c */

/* The flexibility report of a run database that holds a market (Table III
 * of the demo paper, load reduction against the counterfactual run, the
 * ledger's verdict). Text goes to out; for JSON, *members gets the
 * top-level members to splice into res_report_ex's object (malloc'd, free
 * with cJSON_free). SIM_ENOENT when the database has no market. */
int plt_report(sqlite3 *db, enum res_format fmt, FILE *out, char **members, struct sim_err *err);
/* The members plt_report writes for JSON, of a report with nothing bought:
 * every key a report can have (arrays empty), for checking key paths
 * before a run (flexbed sweep's outputs). malloc'd; cJSON_free. */
char *plt_report_skeleton(void);
/* Fig. 10 and 11 of the paper as PNG and SVG into outdir; file names go
 * to `written`. SIM_ENOENT when there is no market or nothing was bought. */
int plt_plot(sqlite3 *db, const char *outdir, FILE *written, struct sim_err *err);

/* Energy measured by a meter component (its self pointer) between two of
 * its sample times a <= b, kWh, consumption positive. SIM_ERANGE when a or
 * b is not a sample time already reached. */
int plt_meter_energy_between(const void *meter_self, sim_time_us a, sim_time_us b, double *kwh);

/* The platform context from a scenario context, or an error naming the
 * component when the caller gave none. */
struct plt_context *plt_context_of(struct scn_ctx *ctx, struct scn_obj *cfg,
                                   struct sim_err *err);

/* Euros (a scenario number) to integer micro-euros, rounded. */
int64_t plt_ueur(double eur);

#ifdef __cplusplus
}
#endif
#endif
