/*
 * cmd_bench.c: `flexbed bench NAME`, the dispatcher in front of the
 * benchmarks. Figures go to stdout; README.md lists the ones we measured.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

struct bench {
    const char *name;
    int (*fn)(int argc, char **argv, FILE *out);
    const char *what;
};

static const struct bench benches[] = {
    {"kernel", bench_kernel, "event queue hold model at N = 1e3, 1e5, 1e6 pending events"},
    {"store", bench_store, "samples written per second to the SQLite result store"},
    {"ledger", bench_ledger, "signed market transactions submitted and verified per second"},
    {"match", bench_match, "market matching: requests against 10^4 open offers"},
    {"powerflow", bench_powerflow, "IEEE European LV feeder power flow, 1440 one-minute steps"},
    {"ocpp", bench_ocpp, "OCPP 1.6J: N charge points' MeterValues through one central system"},
    {"report", bench_report, "report and plot of a 7-day, 40-asset run beside the run's time"},
    {"city", bench_city, "100 EU LV feeders with EVs, batteries and a market for a day"},
    {"year", bench_year, "the EU LV feeder with its assets for a year of one-minute steps"},
};

static void usage(FILE *f)
{
    fputs("usage: flexbed bench NAME [ARGS]\n\nbenchmarks:\n", f);
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].what);
    fputs("\n`flexbed bench NAME --help` lists a benchmark's options. Build in Release\n"
          "mode (make build) for figures worth quoting.\n",
          f);
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (!strcmp(argv[1], benches[i].name))
            return benches[i].fn(argc - 1, argv + 1, stdout);
    fprintf(stderr, "flexbed bench: unknown benchmark \"%s\"\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
