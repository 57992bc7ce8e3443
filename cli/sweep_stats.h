/*
 * sweep_stats.h: the Monte Carlo table of `flexbed sweep` (sweep_stats.c).
 */
#ifndef FLEXBED_SWEEP_STATS_H
#define FLEXBED_SWEEP_STATS_H

#include <stdio.h>

/* The summary table's layout: column 0 the run number, then nparams
 * parameter columns (seed_col among them, 1-based), noutputs output
 * columns and the status. */
struct sweep_stats_shape {
    int nparams, seed_col, noutputs;
    double confidence; /* of the interval, e.g. 0.95 */
};

/* Write to f one CSV row per combination of the parameters other than the
 * seed (consecutive rows of t, row 0 the header): the combination, the
 * number of completed runs, and for each output that every completed run
 * gave as a number: mean, sample standard deviation and the confidence
 * interval of the mean. 0 or -1. */
int sweep_stats_write(FILE *f, char ***t, long nrows, const struct sweep_stats_shape *s);

/* One CSV field, quoted (and its quotes doubled) when it must be. */
void sweep_csv_field(FILE *f, const char *s);

#endif
