/*
 * results.h: the result store (SQLite), reports and plots.
 *
 * One database per run (or per sweep: several runs in one file). The schema
 * is documented in docs/results.md. Samples are written through prepared
 * statements inside batched transactions, so a run writes as it goes and an
 * interrupted run leaves a consistent database. Nothing here prints to the
 * terminal: reports are written to a FILE* the caller gives.
 */
#ifndef FLEXBED_RESULTS_H
#define FLEXBED_RESULTS_H

#include <stdio.h>

#include <sqlite3.h>

#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct res_store res_store;

enum res_open_mode {
    RES_OPEN_READ = 0,   /* existing database, read-only */
    RES_OPEN_CREATE = 1, /* new run database: replaces an existing file */
    RES_OPEN_APPEND = 2, /* create if missing, keep existing runs */
};

/* Open (and for CREATE/APPEND, create the schema of) the database at path.
 * Returns 0 or SIM_EIO / SIM_EINVAL (not a flexbed database) with err. */
int res_store_open(const char *path, enum res_open_mode mode, res_store **out,
                   struct sim_err *err);
/* Commit whatever is pending and close. NULL is ok. */
void res_store_close(res_store *s);
/* The underlying connection, for modules that add their own tables
 * (market, ledger). Borrowed. */
sqlite3 *res_store_db(res_store *s);

enum res_status {
    RES_RUNNING = 0,
    RES_COMPLETED = 1,
    RES_INTERRUPTED = 2,
    RES_FAILED = 3,
};
const char *res_status_name(enum res_status st);

struct res_run_info {
    const char *scenario_name;
    const char *scenario_path;
    const char *scenario_text;
    uint64_t seed;
    sim_time_us sim_start, sim_end, step;
    int utc_offset_s;
    const char *version; /* flexbed version */
    const char *variant; /* "main" (NULL) or e.g. "counterfactual": the
                            same scenario run with the market switched off */
};

/* Insert a runs row with status 'running'. */
int res_run_begin(res_store *s, const struct res_run_info *info, int64_t *run_id,
                  struct sim_err *err);
/* Record a signal of the run; *signal_id is its id in the signals table. */
int res_signal_add(res_store *s, int64_t run_id, const char *name, const char *unit,
                   const char *component, int64_t *signal_id, struct sim_err *err);
/* Append samples of n signals at time t (ids[i] with values[i]). Batched:
 * committed every `batch` rows (default 50000) and on flush/close. Never
 * allocates. */
int res_samples(res_store *s, sim_time_us t, const int64_t *ids, const double *values, int n,
                struct sim_err *err);
int res_event(res_store *s, int64_t run_id, sim_time_us t, const char *component,
              const char *kind, int severity, double value, const char *message,
              struct sim_err *err);
/* Journal one device value (SIM_JOURNAL_IN) or command (SIM_JOURNAL_OUT)
 * of run_id: seq numbers the run's entries from 1 in the order they were
 * made (the kernel's journal hook, sim.h). Batched like samples; text may
 * be NULL, a NaN value is stored as NULL. */
int res_journal(res_store *s, int64_t run_id, int64_t seq, sim_time_us t, const char *component,
                enum sim_journal_dir dir, const char *channel, double value, const char *text,
                struct sim_err *err);
/* Commit the pending batch. */
int res_flush(res_store *s, struct sim_err *err);
/* Mark the run finished with its status and the simulated time reached. */
int res_run_end(res_store *s, int64_t run_id, enum res_status st, sim_time_us reached,
                const char *message, struct sim_err *err);
/* Set the batch size in rows (>= 1). */
void res_set_batch(res_store *s, int rows);

/* ------------------------------------------------------------------ */
/* Replay: reading a recorded run back                                  */
/* ------------------------------------------------------------------ */

/* The run `flexbed run --replay` repeats: the database's first run that is
 * not a counterfactual. Strings owned (res_recorded_run_clear). */
struct res_recorded_run {
    int64_t id;
    char *scenario_path; /* as the run was given it; may be NULL */
    char *scenario_text;
    char *variant;   /* "main", "market-off", "replay", ... */
    char status[16]; /* "completed", "interrupted", ... */
    uint64_t seed;
    int64_t journal_rows;
};
int res_recorded_run(res_store *s, struct res_recorded_run *out, struct sim_err *err);
void res_recorded_run_clear(struct res_recorded_run *r);

/* Append run_id's journal, in seq order, to rec (sim.h); *count (may be
 * NULL) gets the number of entries. A database without a journal table
 * has an empty journal. */
int res_journal_load(res_store *s, int64_t run_id, sim_recording *rec, long *count,
                     struct sim_err *err);

/* ------------------------------------------------------------------ */
/* Reports and plots                                                    */
/* ------------------------------------------------------------------ */

enum res_format { RES_TEXT = 0, RES_JSON = 1, RES_CSV = 2 };

/* Report on every run in the database (summary, signals with min, mean,
 * max, events) in the given format. */
int res_report(res_store *s, enum res_format fmt, FILE *out, struct sim_err *err);

/* Draw plots of the database's runs into outdir (created if missing) as PNG
 * and SVG, by running the gnuplot program. The names of the files written
 * are appended to `written` (may be NULL), one per line. Returns SIM_ENOENT
 * with a clear message when gnuplot is not installed. */
int res_plot(res_store *s, const char *outdir, FILE *written, struct sim_err *err);

/* The report with more top-level members for the JSON format: `members`
 * is JSON text of the form "\"key\":value,..." placed after "runs" (NULL
 * for none). res_report(s, f, out, err) is res_report_ex(s, f, out, NULL,
 * err). */
int res_report_ex(res_store *s, enum res_format fmt, FILE *out, const char *members,
                  struct sim_err *err);
/* The same, brief: JSON runs without their signal and event lists (the
 * counts stay); text and CSV unchanged. */
int res_report_brief(res_store *s, enum res_format fmt, FILE *out, const char *members,
                     struct sim_err *err);
/* What a run's variant means, for reports ("counterfactual: ..."), or NULL
 * for "main". */
const char *res_variant_note(const char *variant);

/* Run the gnuplot program on a script file: stdin from /dev/null, killed
 * after a timeout, its complaint in the error. SIM_ENOENT with an install
 * hint when gnuplot is missing. For modules that draw their own charts. */
int res_gnuplot_run(const char *script, struct sim_err *err);
/* mkdir -p. */
int res_make_dirs(const char *dir, struct sim_err *err);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_RESULTS_H */
