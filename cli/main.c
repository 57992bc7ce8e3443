/*
 * main.c: flexbed's command line. Dispatches to one function per command;
 * every command documents itself with --help.
 */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "bench.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("flexbed " FLEXBED_VERSION
          ": co-simulation and replay testbed for local flexibility trading\n"
          "\n"
          "usage: flexbed COMMAND [ARGS...]\n"
          "\n"
          "commands:\n"
          "  run SCENARIO [--out DB] [--seed N] [--speed X | --realtime]\n"
          "                          run a scenario file, write a result database\n"
          "  report DB [--format text|json|csv] [--brief]\n"
          "                          summarise a result database\n"
          "  plot DB [--out DIR]     draw a run's charts (PNG and SVG) with gnuplot\n"
          "  sweep SWEEP.json [-j N] [--out DIR]\n"
          "                          run a scenario over a grid of parameter values\n"
          "  powerflow FILE [--csv OUT]\n"
          "                          load an OpenDSS circuit, solve it, show the result\n"
          "  generate city --out FILE [--feeders N]\n"
          "                          write a scenario of many LV feeders under one market\n"
          "  bench NAME [ARGS]       measure speed: kernel, store, powerflow, ledger, match, ocpp\n"
          "  serve [--http PORT] [--db PATH] [--bind ADDR]\n"
          "                          run the market as an HTTP/JSON + websocket service\n"
          "  ledger verify|replay DB check a market ledger's signatures, links and balances\n"
          "  keygen PATH             write a new market key file (0600), print its address\n"
          "  sign --key PATH JSON    sign a market action for POST /api/tx\n"
          "  emulate battery|charger [ARGS]\n"
          "                          run a device emulator (Modbus battery, OCPP charger)\n"
          "  help [COMMAND]          this text, or a command's own help\n"
          "\n"
          "`flexbed COMMAND --help` documents every option of a command.\n"
          "Scenario format: docs/scenarios.md. Result schema: docs/results.md.\n"
          "\n"
          "Exit status: 0 success, 1 failed run, 2 bad input or usage,\n"
          "130 interrupted (Ctrl-C).\n",
          f);
}

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
    {"run", cmd_run},     {"report", cmd_report},       {"plot", cmd_plot},
    {"sweep", cmd_sweep}, {"bench", cmd_bench},         {"emulate", cmd_emulate},
    {"serve", cmd_serve}, {"ledger", cmd_ledger},       {"keygen", cmd_keygen},
    {"sign", cmd_sign},   {"powerflow", cmd_powerflow}, {"generate", cmd_generate},
};

int main(int argc, char **argv)
{
    /* GSL's default handler aborts; flexbed checks every status itself. */
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        puts("flexbed " FLEXBED_VERSION);
        return CLI_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            if (!strcmp(argv[2], commands[i].name)) {
                char *args[] = {argv[2], "--help", NULL};
                return commands[i].fn(2, args);
            }
        }
        fprintf(stderr, "flexbed: unknown command \"%s\"\n", argv[2]);
        return CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "flexbed: unknown command \"%s\" (try flexbed --help)\n", cmd);
    return CLI_USAGE;
}
