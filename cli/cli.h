/*
 * cli.h: what the command-line files share. Each command is one function
 * taking the arguments after its name and returning the process exit code:
 * 0 success, 1 a failed (or verification-failed) run, 2 bad input or usage,
 * 130 interrupted.
 */
#ifndef FLEXBED_CLI_H
#define FLEXBED_CLI_H

#include <stdio.h>

#include "../sim/scenario.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_emulate(int argc, char **argv);   /* cmd_emulate.c: device emulators */
int cmd_ledger(int argc, char **argv);    /* cmd_ledger.c: ledger verify|replay */
int cmd_serve(int argc, char **argv);     /* cmd_serve.c: the market's HTTP API */
int cmd_keygen(int argc, char **argv);    /* cmd_keygen.c: a new key file */
int cmd_sign(int argc, char **argv);      /* cmd_keygen.c: sign a market action */
int cmd_sweep(int argc, char **argv);     /* cmd_sweep.c: parameter sweeps */
int cmd_powerflow(int argc, char **argv); /* cmd_powerflow.c: solve an OpenDSS circuit */
int cmd_generate(int argc, char **argv);  /* cmd_generate.c: write a city scenario */

/* The scenario registry: every component type and section flexbed knows.
 * Filled at run time (the types are objects in other modules). */
struct cli_registry {
    struct scn_type types[32];
    struct scn_section sections[8];
    struct scn_registry reg;
};
void cli_registry_init(struct cli_registry *r);

/* "battery" and "ev" with their "backend" key (cli/backends.c). */
extern const struct scn_type cli_battery_type, cli_ev_type;

/* Map a SIM_E* code to an exit code. */
int cli_exit_code(int rc);

/* The whole report of a run database, as `flexbed report` writes it: the
 * flexibility table (text) or members (JSON) when it holds a market, then
 * every run; brief as --brief (cli/cmd_report.c). 0 or the error code. */
struct res_store;
int cli_report_write(struct res_store *s, int fmt, FILE *out, int brief, struct sim_err *err);

#endif
