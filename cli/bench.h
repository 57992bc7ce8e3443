/*
 * bench.h: the benchmarks behind `flexbed bench NAME`. Each takes the
 * arguments after NAME, writes its figures to out and returns 0, 1 (failed)
 * or 2 (bad arguments).
 */
#ifndef FLEXBED_CLI_BENCH_H
#define FLEXBED_CLI_BENCH_H

#include <stdio.h>

int bench_kernel(int argc, char **argv, FILE *out);    /* cli/bench_kernel.c */
int bench_store(int argc, char **argv, FILE *out);     /* cli/bench_store.c */
int bench_ledger(int argc, char **argv, FILE *out);    /* cli/bench_ledger.c */
int bench_powerflow(int argc, char **argv, FILE *out); /* cli/bench_powerflow.c */
int bench_match(int argc, char **argv, FILE *out);     /* cli/bench_match.c */
int bench_ocpp(int argc, char **argv, FILE *out);      /* cli/bench_ocpp.c */
int bench_report(int argc, char **argv, FILE *out);    /* cli/bench_report.c */
int bench_city(int argc, char **argv, FILE *out);      /* cli/bench_scale.c */
int bench_year(int argc, char **argv, FILE *out);      /* cli/bench_scale.c */

/* cli/bench_util.c: a monotonic clock in seconds; an integer option in
 * [min, max] (prints "flexbed bench NAME: OPT: ..." and returns -1 when
 * it is not one). */
double bench_now_s(void);
int bench_count(const char *bench, const char *opt, const char *s, long long min, long long max,
                long long *v);
/* After getopt: 0 when no operand is left, else prints "flexbed bench NAME:
 * unexpected argument", the usage (when not NULL) and returns -1. */
int bench_no_operands(const char *bench, int argc, char **argv, void (*usage)(FILE *));

/* cli/bench_opendss.c: OpenDSS beside bench powerflow, loaded from a DSS
 * C-API shared library the user names (never shipped or built here). */
struct odss;
int bench_opendss_open(const char *lib, struct odss **o, char *why, size_t nwhy);
const char *bench_opendss_version(struct odss *o);
/* Compile circuit, time its first solve (*snap_s) and, steps > 0, that many
 * one-minute steps in yearly mode (*steps_s). 0, or -1 with why. */
int bench_opendss_time(struct odss *o, const char *circuit, long long steps, int time_mode,
                       double *snap_s, double *steps_s, char *why, size_t nwhy);

#endif
