/*
 * scenario.h: loading scenario files into a kernel.
 *
 * A scenario is one JSON file (see docs/scenarios.md). The loader is strict:
 * every key is consumed by somebody, and anything unknown, of the wrong
 * type, out of range, missing or dangling is an error that names the file
 * and the JSON path ("demo.json: components[1].soc_min: expected a number in
 * [0, 1], got \"high\""). Paths inside a scenario are relative to the
 * scenario file.
 *
 * Component types are not known to sim/: each module registers factories
 * (struct scn_type) that read their own JSON object through the strict
 * reader below and add components to the kernel. Top-level sections other
 * than the core ones (e.g. "market") are registered the same way.
 */
#ifndef FLEXBED_SCENARIO_H
#define FLEXBED_SCENARIO_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The strict reader over one JSON object                              */
/* ------------------------------------------------------------------ */

#define SCN_MAX_KEYS 128
#define SCN_PATH_MAX 256

/* A view of one JSON object that remembers which keys were consumed.
 * Plain data; borrows json and file (they must outlive it). */
struct scn_obj {
    const cJSON *json;
    const char *file;        /* display name of the scenario file */
    char path[SCN_PATH_MAX]; /* JSON path of this object, "" for the root */
    unsigned char used[SCN_MAX_KEYS];
    int nkeys;
};

/* Start reading `json` found at `path` in `file`. Fails with SIM_EINVAL
 * when json is not an object (or has more than SCN_MAX_KEYS keys). */
int scn_obj_init(struct scn_obj *o, const char *file, const char *path, const cJSON *json,
                 struct sim_err *err);

/* Every getter: `required` non-zero makes absence an error; when absent and
 * not required, *out gets the default and 0 is returned. Wrong types and
 * out-of-range values are SIM_EINVAL with "file: path.key: expected ...,
 * got ..." in err. A present key is marked consumed. */
int scn_number(struct scn_obj *o, const char *key, int required, double def, double min, double max,
               double *out, struct sim_err *err);
int scn_int(struct scn_obj *o, const char *key, int required, long long def, long long min,
            long long max, long long *out, struct sim_err *err);
int scn_bool(struct scn_obj *o, const char *key, int required, int def, int *out,
             struct sim_err *err);
/* *out borrows the cJSON string (valid while the document lives). */
int scn_string(struct scn_obj *o, const char *key, int required, const char *def, const char **out,
               struct sim_err *err);
/* One of `choices` (NULL-terminated); *out is its index. */
int scn_enum(struct scn_obj *o, const char *key, int required, const char *const *choices, int def,
             int *out, struct sim_err *err);
/* ISO 8601 with offset; offset_s may be NULL. */
int scn_time(struct scn_obj *o, const char *key, int required, sim_time_us def, sim_time_us *out,
             int *offset_s, struct sim_err *err);
/* Duration string ("15min"); must lie in [min, max]. */
int scn_duration(struct scn_obj *o, const char *key, int required, sim_time_us def, sim_time_us min,
                 sim_time_us max, sim_time_us *out, struct sim_err *err);
/* A file path relative to the scenario's directory; the file must exist
 * and be readable. out gets the resolved path. */
int scn_file(struct scn_obj *o, const char *dir, const char *key, int required, char *out, size_t n,
             struct sim_err *err);
/* A nested object: child is initialised at path "path.key". *present
 * (may be NULL) tells whether it was there. */
int scn_child(struct scn_obj *o, const char *key, int required, struct scn_obj *child, int *present,
              struct sim_err *err);
/* A JSON array; *arr is NULL when absent and not required. */
int scn_array(struct scn_obj *o, const char *key, int required, const cJSON **arr,
              struct sim_err *err);
/* Mark a key consumed without reading it (e.g. "description"). Returns the
 * item or NULL. */
const cJSON *scn_take(struct scn_obj *o, const char *key);

/* Start reading element i of the array `key` of `parent` (path
 * "parent.key[i]"); as scn_obj_init. */
int scn_obj_init_item(struct scn_obj *o, const struct scn_obj *parent, const char *key, int i,
                      const cJSON *item, struct sim_err *err);

/* The signal a scenario names: "battery" means "battery.<local>", a name
 * with a dot ("battery.e_out_kwh") is taken as it is. */
void scn_signal_name(const char *name, const char *local, char *out, size_t n);

/* After all getters: the first key nobody consumed is an error ("unknown
 * key"). Call last. */
int scn_obj_finish(struct scn_obj *o, struct sim_err *err);

/* Build "file: path.key: message" into err and return SIM_EINVAL. key may
 * be NULL (the object itself) or "[3]"-style. */
int scn_errf(const struct scn_obj *o, const char *key, struct sim_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Join a path and a key the way messages show it: "components[1]" + "soc"
 * -> "components[1].soc"; "" + "start" -> "start"; "x" + "[2]" -> "x[2]". */
void scn_path_join(char *out, size_t n, const char *path, const char *key);

/* ------------------------------------------------------------------ */
/* Time series from CSV files                                          */
/* ------------------------------------------------------------------ */

/* A time series read from a CSV file with a header row, a timestamp column
 * (ISO 8601 with offset, strictly increasing) and a value column, either
 * interpolated linearly (GSL) or held (step) between samples. Outside its
 * span it holds the first/last value, or repeats with `repeat` period. */
struct scn_series;

enum scn_series_mode { SCN_SERIES_INTERPOLATE = 0, SCN_SERIES_HOLD = 1 };

/* Read the series described by object o (keys: "file", "time_column",
 * "value_column", "mode", "scale", "repeat"; see docs/scenarios.md).
 * `dir` is the scenario's directory. Errors name the scenario path and,
 * for bad CSV content, the CSV file and line. */
int scn_series_load(struct scn_obj *o, const char *dir, struct scn_series **out,
                    struct sim_err *err);
/* Same, directly from a CSV file (tests, tools). */
int scn_series_load_csv(const char *csv_path, const char *time_column, const char *value_column,
                        enum scn_series_mode mode, double scale, sim_time_us repeat,
                        struct scn_series **out, struct sim_err *err);
/* The same from an open stream (not closed); csv_path only names it in
 * messages. */
int scn_series_read_csv(FILE *f, const char *csv_path, const char *time_column,
                        const char *value_column, enum scn_series_mode mode, double scale,
                        sim_time_us repeat, struct scn_series **out, struct sim_err *err);
/* Value at t. Never allocates. Not thread-safe per series (accelerator). */
double scn_series_at(struct scn_series *s, sim_time_us t);
size_t scn_series_len(const struct scn_series *s);
void scn_series_free(struct scn_series *s);

/* ------------------------------------------------------------------ */
/* Scenarios                                                           */
/* ------------------------------------------------------------------ */

/* What the loader hands a factory. */
struct scn_ctx {
    const char *file;   /* display name of the scenario file */
    const char *dir;    /* its directory, for relative paths */
    sim_kernel *kernel; /* add components here */
    const struct scn_scenario *scenario;
    void *user; /* the caller's (e.g. the market engine) */
};

/* A component factory: read `cfg` (its "name" and "type" already consumed)
 * and add one component (or more) named `name` to ctx->kernel. Must call
 * scn_obj_finish(cfg) so that unknown keys are reported. */
struct scn_type {
    const char *type;    /* value of "type" in the scenario */
    const char *summary; /* one line for docs and --help */
    int (*create)(struct scn_ctx *ctx, struct scn_obj *cfg, const char *name, struct sim_err *err);
};

/* A top-level section handler (e.g. "market"): called after all components
 * were created, with the section's object. */
struct scn_section {
    const char *key;
    int (*load)(struct scn_ctx *ctx, struct scn_obj *cfg, struct sim_err *err);
};

struct scn_registry {
    const struct scn_type *types;
    size_t ntypes;
    const struct scn_section *sections;
    size_t nsections;
};

/* "record.aggregates": per period, statistics of the signals matching a
 * pattern, stored as signals of their own ("<signal>.<stat>_<every>"). */
enum scn_agg_stat {
    SCN_AGG_MIN,
    SCN_AGG_MAX,
    SCN_AGG_MEAN,
    SCN_AGG_INTEGRAL, /* sum of value x step, in the unit times hours */
    SCN_AGG_LAST,
    SCN_AGG_DELTA, /* last less first of the period */
    SCN_AGG_NSTATS
};
extern const char *const scn_agg_stat_names[SCN_AGG_NSTATS];
struct scn_aggregate {
    char *signal;      /* name or glob pattern (fnmatch) */
    sim_time_us every; /* the period, a multiple of step */
    unsigned stats;    /* bit 1 << scn_agg_stat */
};

/* A loaded scenario. Plain data with owned strings; free with
 * scn_scenario_clear. */
struct scn_scenario {
    char *path; /* as given */
    char *text; /* the whole file */
    char *name;
    char *description;
    sim_time_us start, end, step;
    int utc_offset_s; /* of "start": reports show local time in it */
    struct sim_tz tz; /* "time_zone" (daylight saving included), else the
                         fixed offset of "start": the calendar of load shapes */
    uint64_t seed;
    sim_time_us record_period; /* samples are stored at this period */
    char **record_signals;     /* "record.signals": glob patterns of the signals
                                  to store (fnmatch); NULL: every signal */
    int nrecord_signals;
    struct scn_aggregate *aggregates; /* "record.aggregates" */
    int naggregates;
};

/* Whether the signal `name` is stored under sc's "record.signals" (every
 * signal when there is no such list). */
int scn_records(const struct scn_scenario *sc, const char *name);

/* Load `path`, create a kernel and every component through the registry.
 * seed_override (may be NULL) replaces the scenario's seed. On success
 * *k is a kernel ready for sim_kernel_init and *sc is filled. On failure
 * nothing is left allocated. */
int scn_load(const char *path, const struct scn_registry *reg, const uint64_t *seed_override,
             void *user, sim_kernel **k, struct scn_scenario *sc, struct sim_err *err);

/* The same from scenario text already in memory (e.g. runs.scenario_text
 * of a recorded run): `path` is the name messages and sc->path show (the
 * original file's path), `dir` the directory relative paths inside the
 * scenario resolve against (NULL: path's directory). */
int scn_load_text(const char *text, const char *path, const char *dir,
                  const struct scn_registry *reg, const uint64_t *seed_override, void *user,
                  sim_kernel **k, struct scn_scenario *sc, struct sim_err *err);

void scn_scenario_clear(struct scn_scenario *sc);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_SCENARIO_H */
