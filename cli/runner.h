/*
 * runner.h: one scenario run as `flexbed run` does it, shared by the
 * commands that run scenarios (cmd_run.c, cmd_sweep.c) so there is a single
 * code path: load and initialise the scenario (from a file or from text),
 * create the result database, run the main variant and, for a scenario
 * with a market, the counterfactual, with Ctrl-C stopping cleanly.
 */
#ifndef FLEXBED_CLI_RUNNER_H
#define FLEXBED_CLI_RUNNER_H

#include <signal.h>
#include <stdint.h>

#include "../platform/platform.h"
#include "../results/results.h"
#include "cli.h"

struct run_inbox;

/* Options that shape a run. */
struct run_opts {
    int quiet, verbose, have_speed;
    double speed;
    /* Bounds checked before a run writes anything (0: the defaults,
     * RUNNER_MAX_STEPS and RUNNER_MAX_SAMPLES; UINT64_MAX: none). */
    uint64_t max_steps, max_samples;
    /* With serve, the dashboard on 127.0.0.1:serve_port while running
     * (0: a free port). */
    int serve, serve_port;
    /* With serve: the run's market takes transactions from the dashboard
     * (run_serve.h); inbox is set by runner_run for the main run only. */
    int accept_tx;
    struct run_inbox *inbox;
};

#define RUNNER_MAX_STEPS UINT64_C(1000000000)  /* kernel steps of one run */
#define RUNNER_MAX_SAMPLES UINT64_C(100000000) /* recorded samples, all variants */
#define RUNNER_BYTES_PER_SAMPLE 40             /* on disk, index included (measured) */

/* What one run (main or counterfactual) ended with. */
struct run_result {
    enum res_status status;
    int exit_code;
    struct sim_stats st;
    sim_time_us reached;
    int nrec;
    uint64_t samples, events[3];
    int64_t journaled;
};

/* A whole `flexbed run SCENARIO`. */
struct runner_job {
    const char *path;     /* scenario file; with text: the name messages show */
    const char *text;     /* scenario text, or NULL to read path */
    const char *dir;      /* with text: base of its relative paths (NULL: path's dir) */
    const uint64_t *seed; /* seed override, or NULL */
    int no_market;        /* market switched off (variant 'market-off') */
    int no_counterfactual;
    int print;            /* print the run summaries on stdout */
    const char *out_path; /* database; NULL: results/NAME.db */
};

/* Run a job: everything about the input is checked before a file is
 * written. Errors go to stderr. Returns the exit code (CLI_*). */
int runner_run(const struct runner_job *job, const struct run_opts *o);

/* The parts, for `flexbed run --replay`. */

/* Load (scn_load, or scn_load_text when text is not NULL) and initialise
 * the scenario into a kernel; prints the error. */
int runner_prepare(const char *path, const char *text, const char *dir,
                   const struct cli_registry *reg, const uint64_t *seed, struct plt_context *pc,
                   sim_kernel **k, struct scn_scenario *sc);
/* Run an initialised kernel into the store as one runs row. */
void runner_execute(sim_kernel *k, const struct scn_scenario *sc, res_store *store,
                    const char *variant, const struct run_opts *o, struct run_result *res);
void runner_print_summary(const struct scn_scenario *sc, const char *variant,
                          const struct run_opts *o, const struct run_result *r);
/* Create (replace) the result database with its parent directories;
 * prints the error. Returns 0 or the exit code. */
int runner_create_store(const char *out_path, res_store **store);
/* SIGINT and SIGTERM stop the kernel after the current instant; the
 * previous handlers are kept for restoring. */
void runner_catch_stop_signals(struct sigaction *old_int, struct sigaction *old_term);

#endif
