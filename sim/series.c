/*
 * series.c: time series read from CSV files (load profiles, prices,
 * ambient temperatures) and sampled by components at every step.
 *
 * The CSV has a header row naming its columns, a timestamp column in
 * ISO 8601 with an offset and a numeric value column; '#' comment lines and
 * blank lines are skipped. Everything is checked at load time (strictly
 * increasing times, parseable values) so that scn_series_at, called in the
 * per-step loop, cannot fail and never allocates.
 *
 * Between samples a series is either interpolated linearly (GSL's
 * gsl_interp_linear with an accelerator, which makes the common sequential
 * look-up O(1)) or held at the last sample (a step function, e.g. tariffs).
 * Outside its span it holds the first / last value, unless it repeats with
 * a period, in which case time is wrapped into [t0, t0 + repeat).
 *
 * Abscissae are microseconds relative to the first sample, as doubles: exact
 * for spans up to 2^53 us (285 years), so a sample time and a query at the
 * same instant compare equal.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_interp.h>

#include "scenario.h"

struct scn_series {
    size_t n;
    double *x;          /* us since t0, strictly increasing */
    double *y;          /* values, already multiplied by scale */
    sim_time_us t0, t1; /* first and last sample */
    sim_time_us repeat; /* 0: no repetition */
    enum scn_series_mode mode;
    gsl_interp *interp; /* NULL when n == 1 or in hold mode */
    gsl_interp_accel *acc;
};

void scn_series_free(struct scn_series *s)
{
    if (!s)
        return;
    if (s->interp)
        gsl_interp_free(s->interp);
    if (s->acc)
        gsl_interp_accel_free(s->acc);
    free(s->x);
    free(s->y);
    free(s);
}

size_t scn_series_len(const struct scn_series *s)
{
    return s ? s->n : 0;
}

double scn_series_at(struct scn_series *s, sim_time_us t)
{
    if (s->repeat > 0) {
        sim_time_us r = (t - s->t0) % s->repeat;
        if (r < 0)
            r += s->repeat;
        t = s->t0 + r;
    }
    if (t <= s->t0)
        return s->y[0];
    if (t >= s->t1)
        return s->y[s->n - 1];
    const double x = (double)(t - s->t0);
    if (s->mode == SCN_SERIES_HOLD)
        return s->y[gsl_interp_accel_find(s->acc, s->x, s->n, x)];
    return gsl_interp_eval(s->interp, s->x, s->y, x, s->acc);
}

/* ------------------------------------------------------------------ */
/* CSV reading                                                         */
/* ------------------------------------------------------------------ */

#define MAX_FIELDS 64

/* Split a line in place at commas. Fields are trimmed of blanks and of one
 * pair of surrounding double quotes. Returns the field count, or -1 when
 * there are more than MAX_FIELDS. */
static int split_fields(char *line, char **f)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_FIELDS)
            return -1;
        char *end = strchr(p, ',');
        if (end)
            *end = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        char *e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
            *--e = '\0';
        if (e - p >= 2 && p[0] == '"' && e[-1] == '"') {
            e[-1] = '\0';
            p++;
        }
        f[n++] = p;
        if (!end)
            return n;
        p = end + 1;
    }
}

/* A line that holds nothing but blanks. */
static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

static int column_index(char **f, int nf, const char *name)
{
    for (int i = 0; i < nf; i++)
        if (strcmp(f[i], name) == 0)
            return i;
    return -1;
}

/* Append a sample (time into *ts, value into s->y), growing both arrays
 * geometrically; load time only. */
static int push(struct scn_series *s, size_t *cap, sim_time_us **ts, sim_time_us tv, double y)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        double *ny = realloc(s->y, nc * sizeof *ny);
        if (!ny)
            return SIM_ENOMEM;
        s->y = ny;
        sim_time_us *nt = realloc(*ts, nc * sizeof *nt);
        if (!nt)
            return SIM_ENOMEM;
        *ts = nt;
        *cap = nc;
    }
    (*ts)[s->n] = tv;
    s->y[s->n] = y;
    s->n++;
    return 0;
}

int scn_series_read_csv(FILE *f, const char *csv_path, const char *time_column,
                        const char *value_column, enum scn_series_mode mode, double scale,
                        sim_time_us repeat, struct scn_series **out, struct sim_err *err)
{
    *out = NULL;
    if (!time_column || !value_column)
        return sim_errf(err, SIM_EINVAL, "%s: no time or value column given", csv_path);
    if (!isfinite(scale))
        return sim_errf(err, SIM_EINVAL, "%s: scale must be a finite number", csv_path);
    if (repeat < 0)
        return sim_errf(err, SIM_EINVAL, "%s: repeat must not be negative", csv_path);

    struct scn_series *s = calloc(1, sizeof *s);
    sim_time_us *ts = NULL;
    char *line = NULL;
    size_t linecap = 0, cap = 0;
    int rc = 0;
    if (!s) {
        rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", csv_path);
        goto done;
    }
    s->mode = mode;
    s->repeat = repeat;

    int lineno = 0, tcol = -1, vcol = -1, need = 0;
    char prev_time[64] = "";
    ssize_t got;
    while ((got = getline(&line, &linecap, f)) != -1) {
        lineno++;
        if (line[0] == '#' || blank(line))
            continue;
        if ((size_t)got != strlen(line)) {
            rc = sim_errf(err, SIM_EINVAL, "%s:%d: line contains a NUL byte", csv_path, lineno);
            goto done;
        }
        char *fld[MAX_FIELDS];
        int nf = split_fields(line, fld);
        if (nf < 0) {
            rc = sim_errf(err, SIM_EINVAL, "%s:%d: more than %d columns", csv_path, lineno,
                          MAX_FIELDS);
            goto done;
        }
        if (tcol < 0) { /* the header */
            tcol = column_index(fld, nf, time_column);
            vcol = column_index(fld, nf, value_column);
            if (tcol < 0 || vcol < 0) {
                char cols[256];
                size_t len = 0;
                cols[0] = '\0';
                for (int i = 0; i < nf && len < sizeof cols; i++)
                    len += (size_t)snprintf(cols + len, sizeof cols - len, "%s%s", i ? ", " : "",
                                            fld[i]);
                rc =
                    sim_errf(err, SIM_EINVAL, "%s:%d: no column \"%s\" in the header (columns: %s)",
                             csv_path, lineno, tcol < 0 ? time_column : value_column, cols);
                goto done;
            }
            need = (tcol > vcol ? tcol : vcol) + 1;
            continue;
        }
        if (nf < need) {
            rc = sim_errf(err, SIM_EINVAL, "%s:%d: expected at least %d columns, got %d", csv_path,
                          lineno, need, nf);
            goto done;
        }
        sim_time_us t;
        if (sim_time_parse(fld[tcol], &t, NULL) != 0) {
            rc = sim_errf(
                err, SIM_EINVAL,
                "%s:%d: column \"%s\": expected an ISO 8601 time with offset, got \"%.60s\"",
                csv_path, lineno, time_column, fld[tcol]);
            goto done;
        }
        char *end;
        errno = 0;
        double v = strtod(fld[vcol], &end);
        if (end == fld[vcol] || *end != '\0' || !isfinite(v) || errno == ERANGE) {
            rc = sim_errf(err, SIM_EINVAL, "%s:%d: column \"%s\": expected a number, got \"%.60s\"",
                          csv_path, lineno, value_column, fld[vcol]);
            goto done;
        }
        if (s->n > 0 && t <= ts[s->n - 1]) {
            rc = sim_errf(err, SIM_EINVAL, "%s:%d: time %s is not after the previous row (%s)",
                          csv_path, lineno, fld[tcol], prev_time);
            goto done;
        }
        snprintf(prev_time, sizeof prev_time, "%s", fld[tcol]);
        if (push(s, &cap, &ts, t, v * scale) != 0) {
            rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", csv_path);
            goto done;
        }
    }
    if (ferror(f)) {
        rc = sim_errf(err, SIM_EINVAL, "%s: cannot read: %s", csv_path, strerror(errno));
        goto done;
    }
    if (tcol < 0) {
        rc = sim_errf(err, SIM_EINVAL, "%s: no header row", csv_path);
        goto done;
    }
    if (s->n == 0) {
        rc = sim_errf(err, SIM_EINVAL, "%s: no data rows", csv_path);
        goto done;
    }
    s->t0 = ts[0];
    s->t1 = ts[s->n - 1];
    if (s->t1 - s->t0 >= (INT64_C(1) << 53)) {
        rc = sim_errf(err, SIM_EINVAL, "%s: the series spans more than 285 years", csv_path);
        goto done;
    }
    if (repeat > 0 && repeat < s->t1 - s->t0) {
        char a[32], b[32];
        sim_duration_format(repeat, a, sizeof a);
        sim_duration_format(s->t1 - s->t0, b, sizeof b);
        rc = sim_errf(err, SIM_EINVAL, "%s: repeat %s is shorter than the series' span %s",
                      csv_path, a, b);
        goto done;
    }
    s->x = malloc(s->n * sizeof *s->x);
    s->acc = gsl_interp_accel_alloc();
    if (!s->x || !s->acc) {
        rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", csv_path);
        goto done;
    }
    for (size_t i = 0; i < s->n; i++)
        s->x[i] = (double)(ts[i] - s->t0);
    if (mode == SCN_SERIES_INTERPOLATE && s->n >= 2) {
        s->interp = gsl_interp_alloc(gsl_interp_linear, s->n);
        if (!s->interp) {
            rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", csv_path);
            goto done;
        }
        gsl_interp_init(s->interp, s->x, s->y, s->n);
    }

done:
    free(line);
    free(ts);
    if (rc) {
        scn_series_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int scn_series_load_csv(const char *csv_path, const char *time_column, const char *value_column,
                        enum scn_series_mode mode, double scale, sim_time_us repeat,
                        struct scn_series **out, struct sim_err *err)
{
    *out = NULL;
    FILE *f = fopen(csv_path, "r");
    if (!f)
        return sim_errf(err, SIM_EINVAL, "%s: cannot read: %s", csv_path, strerror(errno));
    int rc = scn_series_read_csv(f, csv_path, time_column, value_column, mode, scale, repeat, out,
                                 err);
    fclose(f);
    return rc;
}

int scn_series_load(struct scn_obj *o, const char *dir, struct scn_series **out,
                    struct sim_err *err)
{
    static const char *const modes[] = {"interpolate", "hold", NULL};
    char file[4096];
    const char *tcol, *vcol;
    int mode;
    double scale;
    sim_time_us repeat;
    *out = NULL;
    int rc = scn_file(o, dir, "file", 1, file, sizeof file, err);
    if (!rc)
        rc = scn_string(o, "time_column", 0, "time", &tcol, err);
    if (!rc)
        rc = scn_string(o, "value_column", 1, NULL, &vcol, err);
    if (!rc)
        rc = scn_enum(o, "mode", 0, modes, SCN_SERIES_INTERPOLATE, &mode, err);
    if (!rc)
        rc = scn_number(o, "scale", 0, 1.0, -HUGE_VAL, HUGE_VAL, &scale, err);
    if (!rc)
        rc = scn_duration(o, "repeat", 0, 0, 1, INT64_MAX, &repeat, err);
    if (!rc)
        rc = scn_obj_finish(o, err);
    if (rc)
        return rc;
    struct sim_err inner = {{0}};
    rc = scn_series_load_csv(file, tcol, vcol, (enum scn_series_mode)mode, scale, repeat, out,
                             &inner);
    if (rc) {
        /* Say which scenario entry the CSV belongs to, then what is wrong in it. */
        int code = rc;
        scn_errf(o, NULL, err, "%s", inner.msg);
        return code;
    }
    return 0;
}
