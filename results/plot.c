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

#include "internal.h"

extern char **environ;

#define PLOT_MAX_POINTS 20000 /* per signal and chart, after thinning */
#define PLOT_TIMEOUT_S 300
#define PLOT_MAX_PANELS 12 /* components stacked in the overview */
#define PLOT_MAX_KEY 16    /* more signals than this: no legend */

/* A component's plotted signals (indices into the run's signal rows). */
struct plot_group {
    char *name; /* component name as shown */
    char *file; /* sanitized, unique within the run */
    int *sig;
    int nsig;
};

struct plot_run {
    const struct res_run_row *run;
    struct res_signal_row *sig;
    int nsig;
    int *block; /* data file index block of each signal, -1: not plotted */
    struct plot_group *grp;
    int ngrp;
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
    }
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

/* Write signal i's samples as one index block: every sample when there are
 * few, else the min and the max of each of PLOT_MAX_POINTS/2 buckets. A
 * NULL value (NaN written) breaks the line with a blank line. */
static int write_block(res_store *s, const struct plot_run *p, int i, FILE *f, struct sim_err *err)
{
    const struct res_signal_row *g = &p->sig[i];
    int off = p->run->utc_offset_s;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(res_store_db(s),
                           "SELECT t_us, value FROM samples WHERE signal_id = ?1 ORDER BY t_us", -1,
                           &st, NULL) != SQLITE_OK)
        return sim_errf(err, SIM_EIO, "%s: read samples: %s", res_store_path(s),
                        sqlite3_errmsg(res_store_db(s)));
    sqlite3_bind_int64(st, 1, g->id);
    fprintf(f, "# %s [%s]\n", g->name, g->unit);
    int64_t bucket = 1;
    if (g->samples > PLOT_MAX_POINTS)
        bucket = (g->samples + PLOT_MAX_POINTS / 2 - 1) / (PLOT_MAX_POINTS / 2);
    int64_t k = 0;
    int have = 0, gap = 0;
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
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sim_errf(err, SIM_EIO, "%s: read samples: %s", res_store_path(s),
                        sqlite3_errmsg(res_store_db(s)));
    fputs("\n\n", f); /* end of this index block */
    return 0;
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

/* The y axes and plot command for one group. Two units get an axis each;
 * more share the left axis, named by the unit of every signal. */
static void gp_group(FILE *f, const struct plot_run *p, const struct plot_group *g,
                     const char *data, int panel)
{
    const char *u[3];
    int nu = group_units(p, g, u, 2);
    fputs("unset y2tics\nunset y2label\nset ytics mirror\n", f);
    if (nu == 2) {
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
        fputs("set title ", f);
        gp_str(f, g->name);
        fputc('\n', f);
    }
    fputs(g->nsig > PLOT_MAX_KEY ? "unset key\n" : "set key outside right top\n", f);
    fputs("plot ", f);
    for (int j = 0; j < g->nsig; j++) {
        const struct res_signal_row *r = &p->sig[g->sig[j]];
        char title[600];
        snprintf(title, sizeof title, "%s [%s]", r->name, r->unit);
        fprintf(f, "%s", j ? ", \\\n     " : "");
        gp_str(f, data);
        fprintf(f, " index %d using ($1):($2) with lines lw 1.5%s title ", p->block[g->sig[j]],
                nu == 2 && strcmp(r->unit, u[1]) == 0 ? " axes x1y2" : "");
        gp_str(f, title);
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
                              const char *outdir, const char *data, const char *title)
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
            struct plot_group sub = {name, g->file, sig, 0};
            for (int i = j; i < g->nsig; i++)
                if (strcmp(p->sig[g->sig[i]].unit, unit) == 0)
                    sig[sub.nsig++] = g->sig[i];
            snprintf(name, sizeof name, "%s [%s]", g->name, unit);
            gp_group(f, p, &sub, data, 1);
        }
        fputs("unset multiplot\nset output\nunset title\n", f);
    }
    free(sig);
}

static void write_script(FILE *f, const struct plot_run *p, const char *outdir, const char *data)
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

    fputs("# written by flexbed plot; reads the data file beside it\n"
          "pngterm = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n"
          "set encoding utf8\nset xdata time\nset grid\nset border 3\n"
          "set xtics nomirror\nset key noenhanced\n",
          f);
    /* One day or less: clock time; longer: the date as well. */
    if (end - r->sim_start <= 24 * SIM_US_PER_H)
        fputs("set format x '%H:%M'\n", f);
    else
        fputs("set format x \"%m-%d\\n%H:%M\"\n", f);
    if (end > r->sim_start)
        fprintf(f, "set xrange [%.6f:%.6f]\n", p->x0, p->x1);
    fprintf(f, "set xlabel 'local time (%s)'\n", off);

    /* One chart per component, once per format. */
    for (int gi = 0; gi < p->ngrp; gi++) {
        const struct plot_group *g = &p->grp[gi];
        snprintf(title, sizeof title, "%s, run %" PRId64 ": %s (%s .. %s)", r->scenario_name, r->id,
                 g->name, a, b);
        const char *u2[3];
        if (group_units(p, g, u2, 2) > 2) {
            write_unit_panels(f, p, g, outdir, data, title);
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
            gp_group(f, p, g, data, 0);
            fputs("set output\n", f);
        }
    }

    /* Overview: the components stacked, sharing the time axis. */
    int panels = p->ngrp < PLOT_MAX_PANELS ? p->ngrp : PLOT_MAX_PANELS;
    snprintf(title, sizeof title, "%s, run %" PRId64 " (seed %" PRIu64 ", %s): %s .. %s%s",
             r->scenario_name, r->id, r->seed, r->status, a, b,
             panels < p->ngrp ? " - first components only" : "");
    for (int e = 0; e < 2; e++) {
        gp_terminal(f, e, 1200, 80 + 260 * panels);
        chart_path(path, sizeof path, outdir, p, NULL, chart_ext[e]);
        fputs("set output ", f);
        gp_str(f, path);
        fprintf(f, "\nset multiplot layout %d,1 title ", panels);
        gp_str(f, title);
        fputc('\n', f);
        for (int gi = 0; gi < panels; gi++)
            gp_group(f, p, &p->grp[gi], data, 1);
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
    char data[PATH_MAX] = "", script[PATH_MAX] = "", log[PATH_MAX] = "";
    FILE *f = NULL;
    int rc = res_signals_load(s, run->id, 1, &p.sig, &p.nsig, err);
    if (rc)
        return rc;
    if ((rc = group_signals(&p, err)) || p.ngrp == 0)
        goto done;
    sim_time_us end = run->sim_reached != SIM_TIME_NEVER && run->sim_reached > run->sim_start
                          ? run->sim_reached
                          : run->sim_end;
    p.x0 = (double)run->sim_start / (double)SIM_US_PER_S + run->utc_offset_s;
    p.x1 = (double)end / (double)SIM_US_PER_S + run->utc_offset_s;

    if (!(f = temp_file(outdir, ".dat", data, sizeof data, err))) {
        rc = SIM_EIO;
        goto done;
    }
    int nb = 0;
    for (int i = 0; i < p.nsig; i++) {
        if (p.sig[i].values == 0)
            continue;
        if ((rc = write_block(s, &p, i, f, err)))
            goto done;
        p.block[i] = nb++;
    }
    rc = close_file(f, data, err);
    f = NULL;
    if (rc)
        goto done;

    if (!(f = temp_file(outdir, ".gp", script, sizeof script, err))) {
        rc = SIM_EIO;
        goto done;
    }
    write_script(f, &p, outdir, data);
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
    if (data[0])
        unlink(data);
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
