/*
 * plot.c: `flexbed plot`, charts of a result database drawn by gnuplot.
 *
 * gnuplot is run as a program (found on PATH), not linked: it is the
 * plotting tool people already know, it writes both PNG and SVG, and a
 * missing gnuplot then costs only the plots, with a clear message. For each
 * run with recorded values this writes, into outdir:
 *   run<ID>.png/.svg              overview: one stacked panel per component
 *   run<ID>-<component>.png/.svg  that component's signals over time
 * The x axis is the scenario's local time (runs.utc_offset_s), "%H:%M" for
 * runs up to a day; the y axes carry the signals' units.
 *
 * Samples are copied into one temporary data file per run (one gnuplot
 * "index" block per signal) next to a generated script; gnuplot reads the
 * script file with stdin on /dev/null, so it can never sit waiting for
 * input, and is killed if it still runs after PLOT_TIMEOUT_S. The temporary
 * files are removed whatever happens. Long runs are thinned to at most
 * PLOT_MAX_POINTS points per signal keeping each bucket's min and max, so
 * peaks stay visible.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"

extern char **environ;

#define PLOT_MAX_POINTS 1600 /* per signal, after thinning: min and max of each pixel column */
#define PLOT_TIMEOUT_S 300
#define PLOT_MAX_PANELS 14 /* panels stacked in the overview */
#define PLOT_MAX_KEY 10    /* lines named in a legend; the rest are counted */
/* Every chart's plot area ends at the same place (so stacked panels share
 * the time axis) and its legend, one column, starts right of the second
 * axis's tics and label. */
#define MARGINS "set lmargin at screen 0.07\nset rmargin at screen 0.72\n"
#define KEY_AT "set key at screen 0.80, graph 1 left top Left reverse font ',9' maxcols 1\n"

/* A component's plotted signals (indices into the run's signal rows). */
struct plot_group {
    char *name; /* component name as shown */
    char *file; /* sanitized, unique within the run */
    char *type; /* the component's type in the scenario, or NULL */
    int *sig;
    int nsig;
};

/* Several assets of one type (20 batteries) drawn in one overview panel:
 * each one's power thin, their sum thick, their SoC on the second axis. */
struct plot_agg {
    const char *type; /* borrowed from the first member group */
    int *p;           /* the members' <name>.p_kw signals */
    int np;
    int *soc; /* the members' <name>.soc signals */
    int nsoc;
    int sum_block; /* data block of the summed power, -1 if none */
};

struct plot_run {
    const struct res_run_row *run;
    struct res_signal_row *sig;
    int nsig;
    int *block; /* data block ($d<N>) of each signal, -1: not plotted */
    struct plot_group *grp;
    int ngrp;
    struct plot_agg *agg;
    int nagg;
    int nblocks;
    double x0, x1; /* local-time x range, seconds */
};

/* ------------------------------------------------------------------ */
/* Finding gnuplot, making the output directory                        */
/* ------------------------------------------------------------------ */

static int find_gnuplot(char *buf, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (1) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        /* An empty PATH entry means the current directory. */
        int w =
            len ? snprintf(buf, n, "%.*s/gnuplot", (int)len, path) : snprintf(buf, n, "./gnuplot");
        struct stat st;
        if (w > 0 && (size_t)w < n && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
            access(buf, X_OK) == 0)
            return 1;
        if (!end)
            return 0;
        path = end + 1;
    }
}

/* mkdir -p */
static int make_dirs(const char *dir, struct sim_err *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return sim_errf(err, SIM_EINVAL, "plot: bad output directory \"%s\"", dir);
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return sim_errf(err, SIM_EIO, "%s: cannot create directory: %s", buf,
                                strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sim_errf(err, SIM_EIO, "%s: not a directory", dir);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Grouping signals by component                                       */
/* ------------------------------------------------------------------ */

static void plot_run_free(struct plot_run *p)
{
    for (int i = 0; i < p->ngrp; i++) {
        free(p->grp[i].name);
        free(p->grp[i].file);
        free(p->grp[i].sig);
        free(p->grp[i].type);
    }
    for (int i = 0; i < p->nagg; i++) {
        free(p->agg[i].p);
        free(p->agg[i].soc);
    }
    free(p->agg);
    free(p->grp);
    free(p->block);
    res_signals_free(p->sig, p->nsig);
}

/* The component a signal is drawn with: its component column, else the
 * part of its name before the first dot ("battery.soc" -> "battery"). */
static char *component_of(const struct res_signal_row *g)
{
    if (g->component && *g->component)
        return strdup(g->component);
    const char *dot = strchr(g->name, '.');
    if (!dot || dot == g->name)
        return strdup("signals");
    return strndup(g->name, (size_t)(dot - g->name));
}

/* A file-name-safe version of name, unique among the first n groups. */
static char *file_name_for(const char *name, const struct plot_group *grp, int n)
{
    size_t len = strlen(name);
    char *f = malloc(len + 16);
    if (!f)
        return NULL;
    for (size_t i = 0; i <= len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '\0';
        f[i] = ok ? c : '_';
    }
    if (f[0] == '.')
        f[0] = '_';
    for (int k = 2;; k++) {
        int clash = 0;
        for (int i = 0; i < n && !clash; i++)
            clash = strcmp(grp[i].file, f) == 0;
        if (!clash)
            return f;
        snprintf(f, len + 16, "%.*s-%d", (int)len, name, k);
        for (size_t i = 0; f[i]; i++)
            if (f[i] == '/' || f[i] == ' ' || f[i] == '\'' || f[i] == '"')
                f[i] = '_';
    }
}

static int group_signals(struct plot_run *p, struct sim_err *err)
{
    p->block = malloc((size_t)(p->nsig ? p->nsig : 1) * sizeof *p->block);
    p->grp = calloc((size_t)(p->nsig ? p->nsig : 1), sizeof *p->grp);
    if (!p->block || !p->grp)
        goto nomem;
    for (int i = 0; i < p->nsig; i++) {
        p->block[i] = -1;
        if (p->sig[i].values == 0)
            continue; /* nothing to draw */
        char *comp = component_of(&p->sig[i]);
        if (!comp)
            goto nomem;
        int g = 0;
        while (g < p->ngrp && strcmp(p->grp[g].name, comp) != 0)
            g++;
        if (g == p->ngrp) {
            p->grp[g].name = comp;
            p->grp[g].sig = malloc((size_t)p->nsig * sizeof(int));
            p->grp[g].file = file_name_for(comp, p->grp, g);
            p->ngrp++;
            if (!p->grp[g].sig || !p->grp[g].file)
                goto nomem;
        } else {
            free(comp);
        }
        p->grp[g].sig[p->grp[g].nsig++] = i;
    }
    return 0;
nomem:
    return sim_errf(err, SIM_ENOMEM, "plot: out of memory");
}

/* The scenario's type of each group's component ("battery", "feeder"),
 * from the run's scenario text; unknown types stay NULL. */
static void load_types(res_store *s, struct plot_run *p)
{
    sqlite3_stmt *st = NULL;
    cJSON *root = NULL;
    if (sqlite3_prepare_v2(res_store_db(s), "SELECT scenario_text FROM runs WHERE id = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, p->run->id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            root = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    const cJSON *c, *comps = root ? cJSON_GetObjectItemCaseSensitive(root, "components") : NULL;
    cJSON_ArrayForEach(c, comps)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        if (!cJSON_IsString(n) || !cJSON_IsString(t))
            continue;
        for (int g = 0; g < p->ngrp; g++)
            if (!p->grp[g].type && !strcmp(p->grp[g].name, n->valuestring))
                p->grp[g].type = strdup(t->valuestring);
    }
    cJSON_Delete(root);
}

/* Signal "<component>.<local>" of group g, or -1. */
static int group_signal(const struct plot_run *p, const struct plot_group *g, const char *local)
{
    size_t n = strlen(g->name);
    for (int j = 0; j < g->nsig; j++) {
        const char *name = p->sig[g->sig[j]].name;
        if (!strncmp(name, g->name, n) && name[n] == '.' && !strcmp(name + n + 1, local))
            return g->sig[j];
    }
    return -1;
}

#define PLOT_AGG_MIN 3 /* assets of one type drawn together from this many on */

/* Assets of one type with a power signal, PLOT_AGG_MIN or more of them:
 * one aggregate each. Returns 0 or SIM_ENOMEM. */
static int find_aggregates(struct plot_run *p)
{
    p->agg = calloc((size_t)(p->ngrp ? p->ngrp : 1), sizeof *p->agg);
    if (!p->agg)
        return SIM_ENOMEM;
    for (int g = 0; g < p->ngrp; g++) {
        const char *type = p->grp[g].type;
        if (!type || group_signal(p, &p->grp[g], "p_kw") < 0)
            continue;
        int seen = 0, count = 0;
        for (int a = 0; a < p->nagg && !seen; a++)
            seen = !strcmp(p->agg[a].type, type);
        for (int h = g; h < p->ngrp && !seen; h++)
            count += p->grp[h].type && !strcmp(p->grp[h].type, type) &&
                     group_signal(p, &p->grp[h], "p_kw") >= 0;
        if (seen || count < PLOT_AGG_MIN)
            continue;
        struct plot_agg *a = &p->agg[p->nagg++];
        a->type = type;
        a->sum_block = -1;
        a->p = malloc((size_t)count * sizeof *a->p);
        a->soc = malloc((size_t)count * sizeof *a->soc);
        if (!a->p || !a->soc)
            return SIM_ENOMEM;
        for (int h = g; h < p->ngrp; h++) {
            if (!p->grp[h].type || strcmp(p->grp[h].type, type))
                continue;
            int ps = group_signal(p, &p->grp[h], "p_kw");
            int ss = group_signal(p, &p->grp[h], "soc");
            if (ps >= 0)
                a->p[a->np++] = ps;
            if (ps >= 0 && ss >= 0)
                a->soc[a->nsoc++] = ss;
        }
    }
    return 0;
}

/* Whether group g is drawn in an aggregate's panels of the overview. */
static int in_aggregate(const struct plot_run *p, int g)
{
    const char *type = p->grp[g].type;
    for (int a = 0; type && a < p->nagg; a++)
        if (!strcmp(p->agg[a].type, type) && group_signal(p, &p->grp[g], "p_kw") >= 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Data file                                                            */
/* ------------------------------------------------------------------ */

static void put_point(FILE *f, sim_time_us t, int offset_s, double v)
{
    /* Local time as seconds since the epoch: gnuplot formats it as is. */
    sim_time_us local = t + (sim_time_us)offset_s * SIM_US_PER_S;
    if (local % SIM_US_PER_S == 0)
        fprintf(f, "%" PRId64 " %.10g\n", local / SIM_US_PER_S, v);
    else
        fprintf(f, "%.6f %.10g\n", (double)local / (double)SIM_US_PER_S, v);
}

/* A thinned bucket: its min and its max point, in time order. */
static void put_extremes(FILE *f, int off, sim_time_us tmin, double vmin, sim_time_us tmax,
                         double vmax)
{
    if (tmin > tmax) {
        put_point(f, tmax, off, vmax);
        put_point(f, tmin, off, vmin);
    } else {
        put_point(f, tmin, off, vmin);
        if (tmax != tmin)
            put_point(f, tmax, off, vmax);
    }
}

/* Write the (t_us, value) rows of st (n of them) as the gnuplot datablock
 * $d<block>: every row when there are few, else the min and the max of
 * each of PLOT_MAX_POINTS/2 buckets, so peaks stay visible. A NULL value
 * (NaN written) breaks the line with a blank line. */
static int write_block(res_store *s, sqlite3_stmt *st, int64_t n, int off, int block,
                       const char *what, FILE *f, struct sim_err *err)
{
    fprintf(f, "# %s\n$d%d << EOD\n", what, block);
    int64_t bucket = 1;
    if (n > PLOT_MAX_POINTS)
        bucket = (n + PLOT_MAX_POINTS / 2 - 1) / (PLOT_MAX_POINTS / 2);
    int64_t k = 0;
    int have = 0, gap = 1;
    sim_time_us tmin = 0, tmax = 0;
    double vmin = 0, vmax = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sim_time_us t = sqlite3_column_int64(st, 0);
        int null = sqlite3_column_type(st, 1) == SQLITE_NULL;
        double v = sqlite3_column_double(st, 1);
        if (bucket == 1) {
            if (null) {
                if (!gap)
                    fputc('\n', f);
                gap = 1;
            } else {
                put_point(f, t, off, v);
                gap = 0;
            }
            continue;
        }
        if (!null) {
            if (!have || v < vmin) {
                vmin = v;
                tmin = t;
            }
            if (!have || v > vmax) {
                vmax = v;
                tmax = t;
            }
            have = 1;
        }
        if (++k % bucket == 0 && have) {
            put_extremes(f, off, tmin, vmin, tmax, vmax);
            have = 0;
        }
    }
    if (have)
        put_extremes(f, off, tmin, vmin, tmax, vmax);
    fputs("EOD\n", f);
    if (rc != SQLITE_DONE)
        return sim_errf(err, SIM_EIO, "%s: read samples: %s", res_store_path(s),
                        sqlite3_errmsg(res_store_db(s)));
    return 0;
}

/* Signal i's samples as a datablock. */
static int write_signal(res_store *s, const struct plot_run *p, int i, FILE *f, struct sim_err *err)
{
    const struct res_signal_row *g = &p->sig[i];
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(res_store_db(s),
                           "SELECT t_us, value FROM samples WHERE signal_id = ?1 ORDER BY t_us", -1,
                           &st, NULL) != SQLITE_OK)
        return sim_errf(err, SIM_EIO, "%s: read samples: %s", res_store_path(s),
                        sqlite3_errmsg(res_store_db(s)));
    sqlite3_bind_int64(st, 1, g->id);
    char what[300];
    snprintf(what, sizeof what, "%.200s [%.60s]", g->name, g->unit);
    int rc = write_block(s, st, g->samples, p->run->utc_offset_s, p->block[i], what, f, err);
    sqlite3_finalize(st);
    return rc;
}

/* The sum of an aggregate's powers at each time, as a datablock. */
static int write_sum(res_store *s, const struct plot_run *p, const struct plot_agg *a, FILE *f,
                     struct sim_err *err)
{
    /* The ids as a literal list: they are integers from the database. */
    size_t cap = 64 + (size_t)a->np * 24;
    char *sql = malloc(cap);
    if (!sql)
        return sim_errf(err, SIM_ENOMEM, "plot: out of memory");
    size_t n =
        (size_t)snprintf(sql, cap, "SELECT t_us, sum(value) FROM samples WHERE signal_id IN (");
    int64_t samples = 0;
    for (int j = 0; j < a->np; j++) {
        n += (size_t)snprintf(sql + n, cap - n, "%s%" PRId64, j ? "," : "", p->sig[a->p[j]].id);
        if (p->sig[a->p[j]].samples > samples)
            samples = p->sig[a->p[j]].samples;
    }
    snprintf(sql + n, cap - n, ") GROUP BY t_us ORDER BY t_us");
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(res_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        rc = sim_errf(err, SIM_EIO, "%s: read samples: %s", res_store_path(s),
                      sqlite3_errmsg(res_store_db(s)));
    free(sql);
    if (rc)
        return rc;
    char what[128];
    snprintf(what, sizeof what, "sum of the %d %s powers", a->np, a->type);
    rc = write_block(s, st, samples, p->run->utc_offset_s, a->sum_block, what, f, err);
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Script                                                               */
/* ------------------------------------------------------------------ */

/* A gnuplot single-quoted string: '' stands for a quote; line breaks,
 * which a string cannot hold, become spaces. */
static void gp_str(FILE *f, const char *v)
{
    fputc('\'', f);
    for (const char *c = v ? v : ""; *c; c++) {
        if (*c == '\'')
            fputs("''", f);
        else if (*c == '\n' || *c == '\r')
            fputc(' ', f);
        else
            fputc(*c, f);
    }
    fputc('\'', f);
}

/* Distinct units of a group, in signal order; returns how many (<= max). */
static int group_units(const struct plot_run *p, const struct plot_group *g, const char **u,
                       int max)
{
    int n = 0;
    for (int j = 0; j < g->nsig; j++) {
        const char *unit = p->sig[g->sig[j]].unit;
        int seen = 0;
        for (int k = 0; k < n && !seen; k++)
            seen = strcmp(u[k], unit) == 0;
        if (!seen) {
            if (n == max)
                return max + 1;
            u[n++] = unit;
        }
    }
    return n;
}

/* One line of a plot command: datablock, axes, style, title. */
static void gp_line(FILE *f, int first, int block, int y2, const char *style, const char *title)
{
    fprintf(f, "%s$d%d using ($1):($2) with lines %s%s ", first ? "" : ", \\\n     ", block, style,
            y2 ? " axes x1y2" : "");
    if (title) {
        fputs("title ", f);
        gp_str(f, title);
    } else {
        fputs("notitle", f);
    }
}

/* The y axes and plot command for one group. Two units get an axis each;
 * with more, the overview (panel) draws the first two units' signals and
 * names the chart that has the rest, a component chart (not panel) puts
 * them on one axis named by the legend (write_unit_panels avoids that).
 * At most PLOT_MAX_KEY lines are named in the legend; the rest are
 * counted in one more entry. */
static void gp_group(FILE *f, const struct plot_run *p, const struct plot_group *g, int panel)
{
    const char *u[3];
    int nu = group_units(p, g, u, 2);
    fputs("unset y2tics\nunset y2label\nset ytics mirror\n", f);
    if (nu >= 2 && (nu == 2 || panel)) {
        fputs("set ylabel ", f);
        gp_str(f, u[0]);
        fputs("\nset y2label ", f);
        gp_str(f, u[1]);
        fputs("\nset ytics nomirror\nset y2tics\n", f);
    } else if (nu == 1) {
        fputs("set ylabel ", f);
        gp_str(f, u[0]);
        fputc('\n', f);
    } else {
        fputs("set ylabel 'mixed units (see legend)'\n", f);
    }
    if (panel) {
        char t[600];
        snprintf(t, sizeof t, "%s%s", g->name,
                 nu > 2 ? " (first two units; every signal in its own chart)" : "");
        fputs("set title ", f);
        gp_str(f, t);
        fputc('\n', f);
    }
    fputs(KEY_AT "plot ", f);
    int named = 0, hidden = 0, first = 1;
    for (int j = 0; j < g->nsig; j++) {
        const struct res_signal_row *r = &p->sig[g->sig[j]];
        int y2 = nu >= 2 && strcmp(r->unit, u[1]) == 0;
        if (panel && nu > 2 && !y2 && strcmp(r->unit, u[0]))
            continue; /* a third unit: in the component's own chart */
        char title[600];
        snprintf(title, sizeof title, "%s [%s]", r->name, r->unit);
        int name_it = named < PLOT_MAX_KEY;
        gp_line(f, first, p->block[g->sig[j]], y2, "lw 1.5", name_it ? title : NULL);
        named += name_it;
        hidden += !name_it;
        first = 0;
    }
    if (hidden)
        fprintf(f, ", \\\n     NaN with lines lc rgb '#ffffff' title '+%d more'", hidden);
    fputc('\n', f);
}

/* An aggregate's overview panel: every member's power thin and their sum
 * thick (soc = 0, kW), or every member's state of charge (soc = 1). */
static void gp_aggregate(FILE *f, const struct plot_run *p, const struct plot_agg *a, int soc)
{
    char t[200];
    int n = soc ? a->nsoc : a->np;
    const int *sig = soc ? a->soc : a->p;
    snprintf(t, sizeof t,
             soc ? "%d %s assets: state of charge (each)"
                 : "%d %s assets: power (each, and their sum)",
             n, a->type);
    fprintf(f, "unset y2tics\nunset y2label\nset ytics mirror\nset ylabel '%s'\nset title ",
            soc ? "SoC" : "kW");
    gp_str(f, t);
    fputs("\n" KEY_AT "plot ", f);
    snprintf(t, sizeof t, "each %s.%s", a->type, soc ? "soc" : "p_kw");
    for (int j = 0; j < n; j++)
        gp_line(f, j == 0, p->block[sig[j]], 0,
                soc ? "lw 0.8 lc rgb '#fd8d3c'" : "lw 0.8 lc rgb '#9ecae1'", j ? NULL : t);
    if (!soc && a->sum_block >= 0) {
        snprintf(t, sizeof t, "sum of %d", a->np);
        gp_line(f, 0, a->sum_block, 0, "lw 2 lc rgb '#08306b'", t);
    }
    fputc('\n', f);
}

/* "UTC+03:00" */
static void offset_label(int off, char *buf, size_t n)
{
    int a = off < 0 ? -off : off;
    snprintf(buf, n, "UTC%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* Output path of a chart ("dir/run3-battery.png"). */
static void chart_path(char *buf, size_t n, const char *dir, const struct plot_run *p,
                       const struct plot_group *g, const char *ext)
{
    if (g)
        snprintf(buf, n, "%s/run%" PRId64 "-%s.%s", dir, p->run->id, g->file, ext);
    else
        snprintf(buf, n, "%s/run%" PRId64 ".%s", dir, p->run->id, ext);
}

static const char *const chart_ext[2] = {"png", "svg"};

static void gp_terminal(FILE *f, int svg, int w, int h)
{
    if (svg)
        fprintf(f, "set terminal svg size %d,%d noenhanced font 'sans,11' background '#ffffff'\n",
                w, h);
    else
        fprintf(f, "set terminal @pngterm size %d,%d noenhanced\n", w, h);
}

/* A component whose signals have more than two units (a feeder: kW, kvar,
 * %, pu, ...) would share one meaningless axis: its chart becomes one
 * stacked panel per unit instead, in the order the units first appear. */
static void write_unit_panels(FILE *f, const struct plot_run *p, const struct plot_group *g,
                              const char *outdir, const char *title)
{
    int *sig = malloc((size_t)g->nsig * sizeof *sig);
    if (!sig)
        return;
    int npanels = 0;
    for (int j = 0; j < g->nsig; j++) {
        int first = 1;
        for (int i = 0; i < j && first; i++)
            first = strcmp(p->sig[g->sig[i]].unit, p->sig[g->sig[j]].unit) != 0;
        npanels += first;
    }
    char path[PATH_MAX + 64], name[600];
    for (int e = 0; e < 2; e++) {
        gp_terminal(f, e, 1200, 80 + 260 * npanels);
        chart_path(path, sizeof path, outdir, p, g, chart_ext[e]);
        fputs("set output ", f);
        gp_str(f, path);
        fputs("\nset multiplot layout ", f);
        fprintf(f, "%d,1 title ", npanels);
        gp_str(f, title);
        fputc('\n', f);
        for (int j = 0; j < g->nsig; j++) {
            const char *unit = p->sig[g->sig[j]].unit;
            int first = 1;
            for (int i = 0; i < j && first; i++)
                first = strcmp(p->sig[g->sig[i]].unit, unit) != 0;
            if (!first)
                continue;
            struct plot_group sub = {name, g->file, NULL, sig, 0};
            for (int i = j; i < g->nsig; i++)
                if (strcmp(p->sig[g->sig[i]].unit, unit) == 0)
                    sig[sub.nsig++] = g->sig[i];
            snprintf(name, sizeof name, "%s [%s]", g->name, unit);
            gp_group(f, p, &sub, 1);
        }
        fputs("unset multiplot\nset output\nunset title\n", f);
    }
    free(sig);
}

/* Time tics a person can read at 1200 px: every 1-2 h up to a day, days
 * up to ten, weeks after that. */
static void gp_xtics(FILE *f, sim_time_us span)
{
    double h = (double)span / (double)SIM_US_PER_H;
    if (h <= 6)
        fputs("set format x '%H:%M'\nset xtics 3600\n", f);
    else if (h <= 24)
        fputs("set format x '%H:%M'\nset xtics 7200\n", f);
    else if (h <= 10 * 24)
        fputs("set format x \"%a %d %b\"\nset xtics 86400\nset mxtics 4\n", f);
    else if (h <= 120 * 24)
        fputs("set format x \"%d %b\"\nset xtics 604800\nset mxtics 7\n", f);
    else
        fputs("set format x \"%b %Y\"\n", f);
}

/* The overview's panels, in order: the feeder and the transformer always
 * first, then the assets drawn together by type, then every other
 * component, at most PLOT_MAX_PANELS. A panel is a group (>= 0) or an
 * aggregate's power (-1 - a) or state of charge (-1000 - a). */
static int overview_panels(const struct plot_run *p, int *panel, int *left_out)
{
    int n = 0, total = 0;
    static const char *const first[] = {"feeder", "transformer"};
    for (int k = 0; k < 2; k++)
        for (int g = 0; g < p->ngrp; g++)
            if (p->grp[g].type && !strcmp(p->grp[g].type, first[k])) {
                total++;
                if (n < PLOT_MAX_PANELS)
                    panel[n++] = g;
            }
    for (int a = 0; a < p->nagg; a++) {
        total += 1 + (p->agg[a].nsoc > 0);
        if (n < PLOT_MAX_PANELS)
            panel[n++] = -1 - a;
        if (p->agg[a].nsoc > 0 && n < PLOT_MAX_PANELS)
            panel[n++] = -1000 - a;
    }
    for (int g = 0; g < p->ngrp; g++) {
        const char *t = p->grp[g].type;
        if ((t && (!strcmp(t, "feeder") || !strcmp(t, "transformer"))) || in_aggregate(p, g))
            continue;
        total++;
        if (n < PLOT_MAX_PANELS)
            panel[n++] = g;
    }
    *left_out = total - n;
    return n;
}

static void write_script(FILE *f, const struct plot_run *p, const char *outdir)
{
    const struct res_run_row *r = p->run;
    char a[64], b[64], off[32], title[1024], path[PATH_MAX + 64];
    offset_label(r->utc_offset_s, off, sizeof off);
    sim_time_us end = r->sim_reached != SIM_TIME_NEVER && r->sim_reached > r->sim_start
                          ? r->sim_reached
                          : r->sim_end;
    sim_time_format(r->sim_start, r->utc_offset_s, a, sizeof a);
    sim_time_format(end, r->utc_offset_s, b, sizeof b);
    a[10] = b[10] = ' '; /* "2023-10-02 00:00:00+03:00" reads better in a title */

    fputs("# written by flexbed plot; the data are the datablocks above\n"
          "pngterm = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n"
          "set encoding utf8\nset xdata time\nset grid\nset border 3\n"
          "set xtics nomirror\nset key noenhanced\n",
          f);
    gp_xtics(f, end - r->sim_start);
    if (end > r->sim_start)
        fprintf(f, "set xrange [%.6f:%.6f]\n", p->x0, p->x1);
    fprintf(f, "set xlabel 'local time (%s)'\n", off);
    fputs(MARGINS, f);

    /* One chart per component, once per format. */
    for (int gi = 0; gi < p->ngrp; gi++) {
        const struct plot_group *g = &p->grp[gi];
        snprintf(title, sizeof title, "%s, run %" PRId64 ": %s (%s .. %s)", r->scenario_name, r->id,
                 g->name, a, b);
        const char *u2[3];
        if (group_units(p, g, u2, 2) > 2) {
            write_unit_panels(f, p, g, outdir, title);
            continue;
        }
        for (int e = 0; e < 2; e++) {
            gp_terminal(f, e, 1200, 600);
            chart_path(path, sizeof path, outdir, p, g, chart_ext[e]);
            fputs("set output ", f);
            gp_str(f, path);
            fputs("\nset title ", f);
            gp_str(f, title);
            fputc('\n', f);
            gp_group(f, p, g, 0);
            fputs("set output\n", f);
        }
    }

    /* Overview: the panels stacked, sharing the time axis and the same
     * plot width (fixed margins, legends outside on the right). */
    int panel[PLOT_MAX_PANELS], left_out = 0;
    int panels = overview_panels(p, panel, &left_out);
    char more[96] = "";
    if (left_out)
        snprintf(more, sizeof more, " - %d more panel%s in the per-component charts", left_out,
                 left_out == 1 ? "" : "s");
    snprintf(title, sizeof title, "%s, run %" PRId64 " (seed %" PRIu64 ", %s): %s .. %s%s",
             r->scenario_name, r->id, r->seed, r->status, a, b, more);
    for (int e = 0; e < 2; e++) {
        gp_terminal(f, e, 1400, 90 + 250 * panels);
        chart_path(path, sizeof path, outdir, p, NULL, chart_ext[e]);
        fputs("set output ", f);
        gp_str(f, path);
        fprintf(f, "\nset multiplot layout %d,1 title ", panels);
        gp_str(f, title);
        fputs("\n" MARGINS "unset xlabel\n", f);
        for (int k = 0; k < panels; k++) {
            if (k == panels - 1)
                fprintf(f, "set xlabel 'local time (%s)'\n", off);
            if (panel[k] >= 0)
                gp_group(f, p, &p->grp[panel[k]], 1);
            else if (panel[k] <= -1000)
                gp_aggregate(f, p, &p->agg[-1000 - panel[k]], 1);
            else
                gp_aggregate(f, p, &p->agg[-1 - panel[k]], 0);
        }
        fputs("unset multiplot\nset output\nunset title\n", f);
    }
}

/* ------------------------------------------------------------------ */
/* Running gnuplot                                                      */
/* ------------------------------------------------------------------ */

/* First line of gnuplot's complaint, for the error message. */
static void read_log(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t k = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[k] = '\0';
    /* gnuplot echoes the offending line first; keep two lines at most. */
    char *nl = strchr(buf, '\n');
    if (nl && (nl = strchr(nl + 1, '\n')))
        *nl = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
}

static int run_gnuplot(const char *gp, const char *script, const char *log, struct sim_err *err)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return sim_errf(err, SIM_ENOMEM, "plot: out of memory");
    int e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!e)
        e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!e)
        e = posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    char *argv[] = {(char *)gp, (char *)script, NULL};
    if (!e)
        e = posix_spawn(&pid, gp, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        return sim_errf(err, SIM_EIO, "%s: cannot run: %s", gp, strerror(e));

    /* Poll rather than block, so a stuck gnuplot cannot hang the caller. */
    struct timespec nap = {0, 20 * 1000 * 1000};
    int status = 0, waited = 0;
    long long naps = 0, max_naps = (long long)PLOT_TIMEOUT_S * 50;
    while (1) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            waited = 1;
            break;
        }
        if (w < 0 && errno != EINTR)
            break; /* SIGCHLD ignored by the caller: the status is gone */
        if (++naps > max_naps) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return sim_errf(err, SIM_EIO, "%s: still running after %d s, killed", gp,
                            PLOT_TIMEOUT_S);
        }
        nanosleep(&nap, NULL);
    }
    if (waited && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char msg[320];
        read_log(log, msg, sizeof msg);
        if (WIFSIGNALED(status))
            return sim_errf(err, SIM_EIO, "%s: killed by signal %d %s", gp, WTERMSIG(status), msg);
        return sim_errf(err, SIM_EIO, "%s %s: failed (exit %d): %s", gp, script,
                        WEXITSTATUS(status), msg);
    }
    return 0;
}

/* A temporary file in dir named .flexbed-plot-XXXXXX<suffix>. */
static FILE *temp_file(const char *dir, const char *suffix, char *path, size_t n,
                       struct sim_err *err)
{
    if ((size_t)snprintf(path, n, "%s/.flexbed-plot-XXXXXX%s", dir, suffix) >= n) {
        path[0] = '\0';
        sim_errf(err, SIM_EINVAL, "%s: path too long", dir);
        return NULL;
    }
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0) {
        sim_errf(err, SIM_EIO, "%s: cannot create a temporary file: %s", dir, strerror(errno));
        path[0] = '\0';
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        sim_errf(err, SIM_EIO, "%s: %s", path, strerror(errno));
    }
    return f;
}

static int close_file(FILE *f, const char *path, struct sim_err *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sim_errf(err, SIM_EIO, "%s: write failed", path);
    return 0;
}

/* Every chart of one run, or nothing when the run has no values. */
static int plot_one_run(res_store *s, const char *gp, const char *outdir,
                        const struct res_run_row *run, FILE *written, struct sim_err *err)
{
    struct plot_run p = {.run = run};
    char script[PATH_MAX] = "", log[PATH_MAX] = "";
    FILE *f = NULL;
    int rc = res_signals_load(s, run->id, 1, &p.sig, &p.nsig, err);
    if (rc)
        return rc;
    if ((rc = group_signals(&p, err)) || p.ngrp == 0)
        goto done;
    load_types(s, &p);
    if (find_aggregates(&p)) {
        rc = sim_errf(err, SIM_ENOMEM, "plot: out of memory");
        goto done;
    }
    sim_time_us end = run->sim_reached != SIM_TIME_NEVER && run->sim_reached > run->sim_start
                          ? run->sim_reached
                          : run->sim_end;
    p.x0 = (double)run->sim_start / (double)SIM_US_PER_S + run->utc_offset_s;
    p.x1 = (double)end / (double)SIM_US_PER_S + run->utc_offset_s;

    /* The data, thinned, as datablocks at the top of the script: gnuplot
     * keeps them in memory, so no chart rescans a data file. */
    if (!(f = temp_file(outdir, ".gp", script, sizeof script, err))) {
        rc = SIM_EIO;
        goto done;
    }
    for (int i = 0; i < p.nsig; i++) {
        if (p.sig[i].values == 0)
            continue;
        p.block[i] = p.nblocks++;
        if ((rc = write_signal(s, &p, i, f, err)))
            goto done;
    }
    for (int a = 0; a < p.nagg; a++) {
        p.agg[a].sum_block = p.nblocks++;
        if ((rc = write_sum(s, &p, &p.agg[a], f, err)))
            goto done;
    }
    write_script(f, &p, outdir);
    rc = close_file(f, script, err);
    f = NULL;
    if (rc)
        goto done;
    FILE *lf = temp_file(outdir, ".log", log, sizeof log, err);
    if (!lf) {
        rc = SIM_EIO;
        goto done;
    }
    fclose(lf);

    if ((rc = run_gnuplot(gp, script, log, err)))
        goto done;

    /* Report what is really there: every chart must exist and be non-empty. */
    char path[PATH_MAX + 64];
    for (int gi = -1; gi < p.ngrp; gi++) {
        for (int e = 0; e < 2; e++) {
            chart_path(path, sizeof path, outdir, &p, gi < 0 ? NULL : &p.grp[gi], chart_ext[e]);
            struct stat st;
            if (stat(path, &st) != 0 || st.st_size == 0) {
                char msg[320];
                read_log(log, msg, sizeof msg);
                rc = sim_errf(err, SIM_EIO, "%s: gnuplot did not write it%s%s", path,
                              msg[0] ? ": " : "", msg);
                goto done;
            }
            if (written)
                fprintf(written, "%s\n", path);
        }
    }
done:
    if (f)
        fclose(f);
    if (script[0])
        unlink(script);
    if (log[0])
        unlink(log);
    plot_run_free(&p);
    return rc;
}

int res_plot(res_store *s, const char *outdir, FILE *written, struct sim_err *err)
{
    if (!s || !outdir || !*outdir)
        return sim_errf(err, SIM_EINVAL, "plot: no result store or output directory");
    char gp[PATH_MAX];
    if (!find_gnuplot(gp, sizeof gp))
        return sim_errf(err, SIM_ENOENT, "gnuplot is not installed (apt-get install gnuplot-nox)");
    int rc = make_dirs(outdir, err);
    if (rc)
        return rc;
    struct res_run_row *runs = NULL;
    int nruns = 0;
    if ((rc = res_runs_load(s, &runs, &nruns, err)))
        return rc;
    for (int i = 0; i < nruns && rc == 0; i++)
        rc = plot_one_run(s, gp, outdir, &runs[i], written, err);
    res_runs_free(runs, nruns);
    if (rc == 0 && written)
        fflush(written);
    return rc;
}

int res_gnuplot_run(const char *script, struct sim_err *err)
{
    char gp[PATH_MAX];
    if (!find_gnuplot(gp, sizeof gp))
        return sim_errf(err, SIM_ENOENT, "gnuplot is not installed (apt-get install gnuplot-nox)");
    char log[PATH_MAX + 8];
    snprintf(log, sizeof log, "%s.log", script);
    int rc = run_gnuplot(gp, script, log, err);
    unlink(log);
    return rc;
}

int res_make_dirs(const char *dir, struct sim_err *err)
{
    return make_dirs(dir, err);
}
