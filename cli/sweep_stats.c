/*
 * sweep_stats.c: the Monte Carlo table of a sweep with "monte_carlo":
 * for every combination of the other parameters, over its runs with
 * different seeds, each numeric output's mean, sample standard deviation
 * and confidence interval of the mean (Student's t with n - 1 degrees of
 * freedom, GSL). Computed from the summary table's strings, so a sweep run
 * by -j and by MPI give the same file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

#include "sweep_stats.h"

#define CELL(t, r, c) ((t)[r] && (t)[r][c] ? (t)[r][c] : "")

/* A whole cell as a finite number. */
static int number(const char *s, double *v)
{
    char *end;
    if (!*s)
        return 0;
    errno = 0;
    *v = strtod(s, &end);
    return !errno && !*end && isfinite(*v);
}

void sweep_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void field(FILE *f, const char *s, int last)
{
    sweep_csv_field(f, s);
    fputc(last ? '\n' : ',', f);
}

/* ",v" or "," when there is no value. */
static void num(FILE *f, double v, int ok)
{
    fputc(',', f);
    if (ok)
        fprintf(f, "%.10g", v);
}

/* Rows r0..r1-1 share every parameter but the seed. */
static int same_group(char ***t, long a, long b, const struct sweep_stats_shape *s)
{
    for (int c = 1; c <= s->nparams; c++)
        if (c != s->seed_col && strcmp(CELL(t, a, c), CELL(t, b, c)))
            return 0;
    return 1;
}

int sweep_stats_write(FILE *f, char ***t, long nrows, const struct sweep_stats_shape *s)
{
    int first_out = 1 + s->nparams, status_col = first_out + s->noutputs;
    /* an output is summarised when every completed run gave a number */
    int *numeric = calloc((size_t)s->noutputs + 1, sizeof *numeric);
    double *x = calloc((size_t)nrows + 1, sizeof *x);
    if (!numeric || !x) {
        free(numeric);
        free(x);
        return -1;
    }
    for (int o = 0; o < s->noutputs; o++) {
        numeric[o] = 1;
        for (long r = 1; r < nrows; r++) {
            double v;
            if (!strcmp(CELL(t, r, status_col), "completed") &&
                !number(CELL(t, r, first_out + o), &v))
                numeric[o] = 0;
        }
    }
    /* header */
    for (int c = 1; c <= s->nparams; c++)
        if (c != s->seed_col)
            field(f, CELL(t, 0, c), 0);
    fputs("runs", f);
    for (int o = 0; o < s->noutputs; o++) {
        if (!numeric[o])
            continue;
        const char *n = CELL(t, 0, first_out + o);
        fprintf(f, ",%s_mean,%s_sd,%s_ci_low,%s_ci_high", n, n, n, n);
    }
    fputc('\n', f);
    double tq = 0;
    for (long g = 1; g < nrows;) {
        long end = g + 1;
        while (end < nrows && same_group(t, g, end, s))
            end++;
        for (int c = 1; c <= s->nparams; c++)
            if (c != s->seed_col)
                field(f, CELL(t, g, c), 0);
        long n = 0;
        for (long r = g; r < end; r++)
            n += !strcmp(CELL(t, r, status_col), "completed");
        fprintf(f, "%ld", n);
        if (n >= 2)
            tq = gsl_cdf_tdist_Pinv(0.5 + s->confidence / 2.0, (double)(n - 1));
        for (int o = 0; o < s->noutputs; o++) {
            if (!numeric[o])
                continue;
            size_t k = 0;
            for (long r = g; r < end; r++)
                if (!strcmp(CELL(t, r, status_col), "completed") &&
                    number(CELL(t, r, first_out + o), &x[k]))
                    k++;
            double mean = k ? gsl_stats_mean(x, 1, k) : 0;
            double sd = k >= 2 ? gsl_stats_sd_m(x, 1, k, mean) : 0;
            double half = k >= 2 ? tq * sd / sqrt((double)k) : 0;
            num(f, mean, k >= 1);
            num(f, sd, k >= 2);
            num(f, mean - half, k >= 2);
            num(f, mean + half, k >= 2);
        }
        fputc('\n', f);
        g = end;
    }
    free(numeric);
    free(x);
    return ferror(f) ? -1 : 0;
}
