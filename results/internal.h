/*
 * internal.h: what the files of results/ share and nothing else includes.
 *
 * The report and the plotter both walk the runs table; the run rows they
 * need are read once into plain structs here, so the two stay consistent
 * about what a run is.
 */
#ifndef FLEXBED_RESULTS_INTERNAL_H
#define FLEXBED_RESULTS_INTERNAL_H

#include "results.h"

/* Current schema version, stored in meta.schema_version. */
#define RES_SCHEMA_VERSION 1

/* One runs row. Strings are owned by the row (res_runs_free). */
struct res_run_row {
    int64_t id;
    char *scenario_name, *scenario_path, *version, *started_at, *finished_at, *status, *message;
    char *variant; /* "main", "counterfactual", "market-off", "replay" */
    uint64_t seed;
    sim_time_us sim_start, sim_end, step;
    sim_time_us sim_reached; /* SIM_TIME_NEVER when unknown (NULL) */
    int utc_offset_s;
};

/* Read every runs row in id order into *rows (malloc'd, *n rows). */
int res_runs_load(res_store *s, struct res_run_row **rows, int *n, struct sim_err *err);
void res_runs_free(struct res_run_row *rows, int n);

/* One signals row of a run with, when asked for, statistics over its
 * samples (NULL values, i.e. NaN written, are counted in `samples` but not
 * in `values`, min, mean or max). Strings owned by the row. */
struct res_signal_row {
    int64_t id;
    char *name, *unit, *component; /* component may be NULL */
    int64_t samples;               /* rows in samples */
    int64_t values;                /* of which non-NULL */
    double min, mean, max;         /* NAN when values == 0 or not asked */
};

/* Read the signals of run_id in id order; with_stats also aggregates their
 * samples (one pass over the samples index). */
int res_signals_load(res_store *s, int64_t run_id, int with_stats, struct res_signal_row **rows,
                     int *n, struct sim_err *err);
void res_signals_free(struct res_signal_row *rows, int n);

/* "info", "warning", "alarm" for severities 0..2. */
const char *res_severity_name(int severity);

/* The database's path as given to res_store_open (for messages). */
const char *res_store_path(const res_store *s);

/* Shortest "%.*g" text of v that reads back to the same double. */
void res_fmt_double(double v, char *buf, size_t n);

/* strdup that treats NULL as NULL. */
char *res_strdup(const char *s);

#endif
