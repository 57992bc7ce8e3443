/*
 * runner.c: one scenario run as `flexbed run` does it (see runner.h): load
 * the scenario into a kernel, open the result store, wire the kernel's
 * hooks to the store, run, and print a short summary.
 *
 * Order matters for "nothing written on bad input": the scenario is loaded
 * and the kernel initialised (which resolves every signal reference) before
 * the database is created, so a bad scenario leaves no file behind. Once
 * the run has started, samples go to the store in batched transactions, and
 * Ctrl-C (SIGINT/SIGTERM) stops the kernel after the current instant, runs
 * the components' finish callbacks and marks the run 'interrupted'.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../hil/hil.h"
#include "../hil/ocpp_cs.h"
#include "../market/api.h"
#include "run_serve.h"
#include "runner.h"

static volatile int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* One aggregate of one signal over the current period: its statistics'
 * signal ids (0 where not asked for) and the accumulators. */
struct agg_inst {
    int bus;
    sim_time_us every, period_start;
    int64_t id[SCN_AGG_NSTATS];
    double min, max, sum, first, last;
    long count;
};

/* State the kernel hooks need: the store and the recorded signals. */
struct run_ctx {
    res_store *store;
    int64_t run_id;
    const struct scn_scenario *sc;
    int nrec;
    int *rec_sig;    /* bus index of each recorded signal */
    int64_t *rec_id; /* its id in the signals table */
    double *rec_val; /* buffer for one instant */
    uint64_t samples;
    uint64_t events[3];
    int64_t jseq; /* journal entries written */
    int store_failed;
    struct sim_err store_err;
    /* record.aggregates: one accumulator per (aggregate, matching signal) */
    struct agg_inst *agg;
    int nagg;
    struct run_inbox *inbox; /* --accept-tx: transactions for the market */
    int progress; /* draw a progress bar on stderr */
    int verbose;  /* echo events on stderr */
    sim_time_us last_drawn;
    double last_flush_s; /* wall time of the last periodic commit */
};

/* What a run has stored is committed at least this often (wall time), so
 * a killed run keeps all but the last seconds of it. */
#define FLUSH_EVERY_S 2.0

/* Store an aggregate's period (at its start) and start the next one. */
static int agg_flush(struct run_ctx *c, struct agg_inst *a)
{
    if (a->count == 0)
        return 0;
    double step_h = (double)c->sc->step / (double)SIM_US_PER_H;
    double v[SCN_AGG_NSTATS] = {a->min,          a->max,  a->sum / (double)a->count,
                                a->sum * step_h, a->last, a->last - a->first};
    int64_t ids[SCN_AGG_NSTATS];
    double vals[SCN_AGG_NSTATS];
    int n = 0;
    for (int k = 0; k < SCN_AGG_NSTATS; k++)
        if (a->id[k]) {
            ids[n] = a->id[k];
            vals[n++] = v[k];
        }
    a->count = 0;
    int rc = res_samples(c->store, a->period_start, ids, vals, n, &c->store_err);
    if (rc)
        c->store_failed = 1;
    else
        c->samples += (uint64_t)n;
    return rc;
}

static int hook_sample(void *vctx, sim_time_us t, const double *values, int n)
{
    struct run_ctx *c = vctx;
    (void)n;
    for (int i = 0; i < c->nagg; i++) {
        struct agg_inst *a = &c->agg[i];
        if (a->count && (t - c->sc->start) % a->every == 0) {
            int rc = agg_flush(c, a);
            if (rc)
                return rc;
        }
        double v = values[a->bus];
        if (a->count++ == 0) {
            a->period_start = t;
            a->min = a->max = a->first = v;
            a->sum = 0;
        }
        if (v < a->min)
            a->min = v;
        if (v > a->max)
            a->max = v;
        a->sum += v;
        a->last = v;
    }
    if (c->sc->record_period > 0 && (t - c->sc->start) % c->sc->record_period != 0)
        return 0;
    for (int i = 0; i < c->nrec; i++)
        c->rec_val[i] = values[c->rec_sig[i]];
    int rc = res_samples(c->store, t, c->rec_id, c->rec_val, c->nrec, &c->store_err);
    if (rc) {
        c->store_failed = 1;
        return rc;
    }
    c->samples += (uint64_t)c->nrec;
    return 0;
}

static int hook_event(void *vctx, sim_time_us t, const char *component, const char *kind,
                      enum sim_severity sev, double value, const char *message)
{
    struct run_ctx *c = vctx;
    if ((int)sev >= 0 && (int)sev < 3)
        c->events[sev]++;
    if (c->verbose) {
        char ts[48];
        static const char *const names[] = {"info", "warning", "alarm"};
        sim_time_format(t, c->sc->utc_offset_s, ts, sizeof ts);
        if (c->progress)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "%s %s %s %s: %s\n", ts, names[sev < 3 ? sev : 0], component, kind,
                message);
    }
    int rc =
        res_event(c->store, c->run_id, t, component, kind, (int)sev, value, message, &c->store_err);
    if (rc)
        c->store_failed = 1;
    return rc;
}

static int hook_journal(void *vctx, sim_time_us t, const char *component, enum sim_journal_dir dir,
                        const char *channel, double value, const char *text)
{
    struct run_ctx *c = vctx;
    int rc = res_journal(c->store, c->run_id, ++c->jseq, t, component, dir, channel, value, text,
                         &c->store_err);
    if (rc)
        c->store_failed = 1;
    return rc;
}

static void hook_progress(void *vctx, sim_time_us now, double wall_s, double lag_s)
{
    struct run_ctx *c = vctx;
    if (c->inbox)
        run_inbox_drain(c->inbox, now);
    if (wall_s - c->last_flush_s >= FLUSH_EVERY_S && !c->store_failed) {
        c->last_flush_s = wall_s;
        if (res_flush(c->store, &c->store_err))
            c->store_failed = 1;
    }
    if (!c->progress)
        return;
    const struct scn_scenario *sc = c->sc;
    double frac = (double)(now - sc->start) / (double)(sc->end - sc->start);
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    char bar[31];
    int filled = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    char ts[48];
    sim_time_format(now, sc->utc_offset_s, ts, sizeof ts);
    double sim_s = (double)(now - sc->start) / 1e6;
    fprintf(stderr, "\r\033[K[%s] %3.0f%%  %s  wall %.1f s  x%.0f", bar, frac * 100.0, ts, wall_s,
            wall_s > 0 ? sim_s / wall_s : 0.0);
    if (lag_s > 1.0)
        fprintf(stderr, "  LAG %.1f s", lag_s);
    fflush(stderr);
    c->last_drawn = now;
}

/* mkdir -p for the directory part of path. */
static int make_parent_dirs(const char *path, struct sim_err *err)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return sim_errf(err, SIM_EINVAL, "%s: path too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return sim_errf(err, SIM_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    return 0;
}

/* Extra lines of the summary. */
static void print_journal(const char *verb, int64_t n)
{
    if (n > 0)
        printf("  journal    %" PRId64 " device entries %s\n", n, verb);
}

/* Run an initialised kernel into the store as one runs row (the result
 * says how the run ended). */
void runner_execute(sim_kernel *k, const struct scn_scenario *sc, res_store *store,
                    const char *variant, const struct run_opts *o, struct run_result *res)
{
    struct sim_err err = {{0}};
    struct run_ctx ctx = {0};
    int rc;
    memset(res, 0, sizeof *res);
    res->status = RES_FAILED;
    res->exit_code = CLI_FAIL;
    if (o->have_speed) {
        sim_kernel_set_speed(k, o->speed);
    } else if (hil_kernel_has_devices(k) && !sim_kernel_replaying(k)) {
        /* Devices live on the wall clock: a run with one is real time
         * unless --speed says otherwise (an emulator can keep up). */
        sim_kernel_set_speed(k, 1.0);
        if (!o->quiet && isatty(STDERR_FILENO))
            fputs("flexbed run: the scenario talks to devices: real-time pacing (--speed to "
                  "change)\n",
                  stderr);
    }
    struct res_run_info info = {
        .scenario_name = sc->name,
        .scenario_path = sc->path,
        .scenario_text = sc->text,
        .seed = sc->seed,
        .sim_start = sc->start,
        .sim_end = sc->end,
        .step = sc->step,
        .utc_offset_s = sc->utc_offset_s,
        .version = FLEXBED_VERSION,
        .variant = variant,
    };
    if ((rc = res_run_begin(store, &info, &ctx.run_id, &err)))
        goto store_fail;

    /* The recorded signals, in bus order (deterministic). */
    int nsig = sim_bus_count(k);
    ctx.rec_sig = calloc((size_t)nsig + 1, sizeof *ctx.rec_sig);
    ctx.rec_id = calloc((size_t)nsig + 1, sizeof *ctx.rec_id);
    ctx.rec_val = calloc((size_t)nsig + 1, sizeof *ctx.rec_val);
    if (!ctx.rec_sig || !ctx.rec_id || !ctx.rec_val) {
        fputs("flexbed run: out of memory\n", stderr);
        goto done;
    }
    for (int s = 0; s < nsig; s++) {
        if (!(sim_bus_flags(k, s) & SIM_SIG_RECORD) || !scn_records(sc, sim_bus_name(k, s)))
            continue;
        int owner = sim_bus_owner(k, s);
        if ((rc = res_signal_add(store, ctx.run_id, sim_bus_name(k, s), sim_bus_unit(k, s),
                                 sim_kernel_component_name(k, owner), &ctx.rec_id[ctx.nrec], &err)))
            goto store_fail;
        ctx.rec_sig[ctx.nrec++] = s;
    }
    /* record.aggregates: for every signal a pattern matches, one signal
     * per statistic, "<signal>.<stat>_<every>" */
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        for (int g = 0; g < sc->naggregates; g++)
            for (int s = 0; s < nsig; s++) {
                if (!(sim_bus_flags(k, s) & SIM_SIG_RECORD) ||
                    fnmatch(sc->aggregates[g].signal, sim_bus_name(k, s), 0))
                    continue;
                if (pass == 1) {
                    struct agg_inst *a = &ctx.agg[n];
                    a->bus = s;
                    a->every = sc->aggregates[g].every;
                    char every[32], name[256], unit[40];
                    sim_duration_format(a->every, every, sizeof every);
                    const char *u = sim_bus_unit(k, s);
                    for (int st = 0; st < SCN_AGG_NSTATS; st++) {
                        if (!(sc->aggregates[g].stats & (1u << st)))
                            continue;
                        snprintf(name, sizeof name, "%s.%s_%s", sim_bus_name(k, s),
                                 scn_agg_stat_names[st], every);
                        if (st == SCN_AGG_INTEGRAL)
                            snprintf(unit, sizeof unit, "%s%s", u,
                                     !strcmp(u, "kW") || !strcmp(u, "kvar") ? "h" : "*h");
                        else
                            snprintf(unit, sizeof unit, "%s", u);
                        if ((rc = res_signal_add(store, ctx.run_id, name, unit,
                                                 sim_kernel_component_name(k, sim_bus_owner(k, s)),
                                                 &a->id[st], &err)))
                            goto store_fail;
                    }
                }
                n++;
            }
        if (pass == 0 && n > 0 && !(ctx.agg = calloc((size_t)n, sizeof *ctx.agg))) {
            fputs("flexbed run: out of memory\n", stderr);
            goto done;
        }
        ctx.nagg = n;
    }
    ctx.store = store;
    ctx.sc = sc;
    ctx.verbose = o->verbose;
    ctx.inbox = o->inbox;
    ctx.progress = !o->quiet && isatty(STDERR_FILENO);
    struct sim_hooks hooks = {
        .ctx = &ctx,
        .sample = hook_sample,
        .event = hook_event,
        .progress = hook_progress,
        .progress_every_ms = 100,
        .journal = hook_journal,
    };
    sim_kernel_set_hooks(k, &hooks);
    sim_kernel_set_stop_flag(k, &stop_requested);

    rc = sim_kernel_run(k, &err);
    /* the last (maybe partial) period of every aggregate */
    for (int i = 0; !rc && i < ctx.nagg; i++)
        if (agg_flush(&ctx, &ctx.agg[i])) {
            rc = SIM_EIO;
            snprintf(err.msg, sizeof err.msg, "%s", ctx.store_err.msg);
        }

    if (ctx.progress)
        fputs("\r\033[K", stderr);
    const char *message = NULL;
    if (rc == SIM_EINTR) {
        res->status = RES_INTERRUPTED;
        message = "stopped by signal";
        res->exit_code = CLI_INTERRUPTED;
    } else if (rc) {
        res->status = RES_FAILED;
        message = ctx.store_failed ? ctx.store_err.msg : err.msg;
        fprintf(stderr, "flexbed run: %s\n", message);
        res->exit_code = CLI_FAIL;
    } else {
        res->status = RES_COMPLETED;
        res->exit_code = CLI_OK;
    }
    struct sim_err end_err = {{0}};
    if (res_run_end(store, ctx.run_id, res->status, sim_kernel_now(k), message, &end_err)) {
        fprintf(stderr, "flexbed run: %s\n", end_err.msg);
        res->exit_code = CLI_FAIL;
        if (res->status == RES_COMPLETED)
            res->status = RES_FAILED; /* as res_run_end marked it, if it still could */
    }
    sim_kernel_stats(k, &res->st);
    res->reached = sim_kernel_now(k);
    res->nrec = ctx.nrec;
    res->samples = ctx.samples;
    res->journaled = ctx.jseq;
    memcpy(res->events, ctx.events, sizeof res->events);
    goto done;

store_fail:
    fprintf(stderr, "flexbed run: %s\n", err.msg);
    res->exit_code = CLI_FAIL;
done:
    free(ctx.rec_sig);
    free(ctx.rec_id);
    free(ctx.rec_val);
    free(ctx.agg);
}

void runner_print_summary(const struct scn_scenario *sc, const char *variant,
                          const struct run_opts *o, const struct run_result *r)
{
    char t0[48], t1[48], step[32], span[32];
    sim_time_format(sc->start, sc->utc_offset_s, t0, sizeof t0);
    sim_time_format(r->reached, sc->utc_offset_s, t1, sizeof t1);
    sim_duration_format(sc->step, step, sizeof step);
    sim_duration_format(r->reached - sc->start, span, sizeof span);
    double sim_s = (double)(r->reached - sc->start) / 1e6;
    printf("flexbed run: %s (seed %" PRIu64 ")%s%s\n", sc->name, sc->seed,
           strcmp(variant, "main") ? ", " : "", strcmp(variant, "main") ? variant : "");
    printf("  status     %s\n", res_status_name(r->status));
    printf("  simulated  %s .. %s (%s, step %s)\n", t0, t1, span, step);
    printf("  wall       %.3f s (%.0fx real time), %" PRIu64 " events\n", r->st.wall_s,
           r->st.wall_s > 0 ? sim_s / r->st.wall_s : 0.0, r->st.events);
    if (o->have_speed)
        printf("  pacing     %gx wall clock, max lag %.3f s\n", o->speed, r->st.max_lag_s);
    printf("  recorded   %d signals, %" PRIu64 " samples\n", r->nrec, r->samples);
    printf("  events     %" PRIu64 " info, %" PRIu64 " warnings, %" PRIu64 " alarms\n",
           r->events[0], r->events[1], r->events[2]);
    print_journal("journaled", r->journaled);
}

/* Create (replace) the result database at out_path, with its parent
 * directories; prints the error. Returns 0 or the exit code. */
int runner_create_store(const char *out_path, res_store **store)
{
    struct sim_err err = {{0}};
    int rc = make_parent_dirs(out_path, &err);
    if (!rc)
        rc = res_store_open(out_path, RES_OPEN_CREATE, store, &err);
    if (!rc)
        return 0;
    fprintf(stderr, "flexbed run: %s\n", err.msg);
    return cli_exit_code(rc) == CLI_USAGE ? CLI_USAGE : CLI_FAIL;
}

/* SIGINT and SIGTERM set stop_requested (the kernel stops after the
 * current instant); the previous handlers are kept for restoring. */
void runner_catch_stop_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
    stop_requested = 0;
}

/* Load and initialise the scenario into a kernel; prints the error. */
int runner_prepare(const char *path, const char *text, const char *dir,
                   const struct cli_registry *reg, const uint64_t *seed, struct plt_context *pc,
                   sim_kernel **k, struct scn_scenario *sc)
{
    struct sim_err err = {{0}};
    int rc = text ? scn_load_text(text, path, dir, &reg->reg, seed, pc, k, sc, &err)
                  : scn_load(path, &reg->reg, seed, pc, k, sc, &err);
    if (!rc && (rc = sim_kernel_init(*k, &err)) != 0) {
        sim_kernel_free(*k);
        *k = NULL;
        scn_scenario_clear(sc);
    }
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    return rc;
}

static void fmt_bytes(double b, char *out, size_t n)
{
    if (b >= 1e9)
        snprintf(out, n, "%.1f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(out, n, "%.1f MB", b / 1e6);
    else
        snprintf(out, n, "%.0f kB", b / 1e3);
}

/* The nearest existing folder of path's parent chain, for statvfs. */
static void existing_dir(const char *path, char *dir, size_t n)
{
    snprintf(dir, n, "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash) {
            snprintf(dir, n, ".");
            return;
        }
        if (slash == dir) {
            dir[1] = '\0';
            return;
        }
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return;
    }
}

/*
 * Before anything is written: the steps and recorded samples the run will
 * make, against the limits and the free disk space. An end in year 9999 or
 * a step of 1 us would otherwise write until the disk is full. Prints the
 * reason; returns 0 or CLI_USAGE.
 */
static int check_size(const struct scn_scenario *sc, sim_kernel *k, int runs, const char *out_path,
                      const struct run_opts *o)
{
    uint64_t max_steps = o->max_steps ? o->max_steps : RUNNER_MAX_STEPS;
    uint64_t max_samples = o->max_samples ? o->max_samples : RUNNER_MAX_SAMPLES;
    uint64_t span = (uint64_t)(sc->end - sc->start);
    uint64_t steps = span / (uint64_t)sc->step + (span % (uint64_t)sc->step != 0);
    uint64_t records = span / (uint64_t)sc->record_period + 1;
    uint64_t nrec = 0;
    for (int s = 0, n = sim_bus_count(k); s < n; s++)
        nrec += (sim_bus_flags(k, s) & SIM_SIG_RECORD) && scn_records(sc, sim_bus_name(k, s));
    for (int i = 0; i < sc->naggregates; i++) {
        int hit = 0;
        for (int s = 0, n = sim_bus_count(k); s < n && !hit; s++)
            hit = (sim_bus_flags(k, s) & SIM_SIG_RECORD) &&
                  fnmatch(sc->aggregates[i].signal, sim_bus_name(k, s), 0) == 0;
        if (!hit) {
            fprintf(stderr,
                    "flexbed run: %s: record.aggregates[%d].signal: \"%s\" matches no signal\n",
                    sc->path, i, sc->aggregates[i].signal);
            return CLI_USAGE;
        }
    }
    /* a pattern that selects nothing is a typo, not a wish to record less */
    for (int i = 0; i < sc->nrecord_signals; i++) {
        int hit = 0;
        for (int s = 0, n = sim_bus_count(k); s < n && !hit; s++)
            hit = (sim_bus_flags(k, s) & SIM_SIG_RECORD) &&
                  fnmatch(sc->record_signals[i], sim_bus_name(k, s), 0) == 0;
        if (!hit) {
            fprintf(stderr,
                    "flexbed run: %s: record.signals[%d]: \"%s\" matches no signal (signals are "
                    "named component.signal, e.g. feeder.p_kw; `flexbed report` lists a run's)\n",
                    sc->path, i, sc->record_signals[i]);
            return CLI_USAGE;
        }
    }
    /* saturating products: a span of millennia at 1 us overflows */
    uint64_t samples = nrec && records > UINT64_MAX / nrec ? UINT64_MAX : records * nrec;
    samples = samples > UINT64_MAX / (uint64_t)runs ? UINT64_MAX : samples * (uint64_t)runs;
    double bytes = (double)samples * RUNNER_BYTES_PER_SAMPLE;
    char size[32];
    fmt_bytes(bytes, size, sizeof size);
    char st[32], rp[32];
    sim_duration_format(sc->step, st, sizeof st);
    sim_duration_format(sc->record_period, rp, sizeof rp);
    if (steps > max_steps) {
        fprintf(stderr,
                "flexbed run: %s: %" PRIu64 " steps of %s from start to end, more than the limit "
                "of %" PRIu64 " (a run of years at a fine step?); check end and step, or allow "
                "it with --max-steps N\n",
                sc->path, steps, st, max_steps);
        return CLI_USAGE;
    }
    if (samples > max_samples) {
        fprintf(stderr,
                "flexbed run: %s: would record %" PRIu64 " samples (%" PRIu64 " signals every "
                "%s%s), about %s, more than the limit of %" PRIu64 " samples; record "
                "fewer signals or a longer record.period, or allow it with --max-samples N\n",
                sc->path, samples, nrec, rp, runs > 1 ? ", main and counterfactual runs" : "", size,
                max_samples);
        return CLI_USAGE;
    }
    char dir[PATH_MAX];
    struct statvfs vfs;
    existing_dir(out_path, dir, sizeof dir);
    if (statvfs(dir, &vfs) == 0) {
        double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
        if (bytes > avail) {
            char fs[32];
            fmt_bytes(avail, fs, sizeof fs);
            fprintf(stderr,
                    "flexbed run: %s: would record %" PRIu64 " samples, about %s, but %s has %s "
                    "free\n",
                    sc->path, samples, size, dir, fs);
            return CLI_USAGE;
        }
    }
    return 0;
}

int runner_run(const struct runner_job *job, const struct run_opts *o)
{
    struct cli_registry reg;
    cli_registry_init(&reg);
    struct scn_scenario sc = {0};
    sim_kernel *k = NULL;
    res_store *store = NULL;
    char default_out[PATH_MAX];
    const char *out_path = job->out_path;
    struct plt_context pc;
    struct run_server srv = {0};
    plt_context_init(&pc);
    if (job->no_market)
        pc.enabled = 0;

    /* Everything about the input is checked before a file is written. */
    int rc = runner_prepare(job->path, job->text, job->dir, &reg, job->seed, &pc, &k, &sc);
    if (rc) {
        plt_context_clear(&pc);
        return cli_exit_code(rc);
    }
    if (!out_path) {
        snprintf(default_out, sizeof default_out, "results/%s.db", sc.name);
        out_path = default_out;
    }
    int exit_code = CLI_FAIL;
    int runs = pc.has_market && pc.enabled && !job->no_counterfactual ? 2 : 1;
    if ((rc = check_size(&sc, k, runs, out_path, o)) != 0) {
        exit_code = rc;
        goto done;
    }
    if ((rc = runner_create_store(out_path, &store)) != 0) {
        exit_code = rc;
        goto done;
    }
    pc.db = res_store_db(store);
    if (o->serve &&
        (rc = run_serve_start(out_path, o->serve_port, o->accept_tx, sc.start, &srv)) != 0) {
        exit_code = rc;
        goto done;
    }
    /* --accept-tx: the main run's market takes the dashboard's transactions */
    struct run_opts main_o = *o;
    if (srv.accept_tx) {
        run_inbox_attach(&srv.inbox, &pc.engine, store);
        main_o.inbox = &srv.inbox;
    }

    struct sigaction old_int, old_term;
    runner_catch_stop_signals(&old_int, &old_term);

    const char *variant = pc.enabled ? "main" : "market-off";
    struct run_result r1;
    runner_execute(k, &sc, store, variant, &main_o, &r1);
    if (srv.accept_tx) /* from now on the server takes them itself */
        run_inbox_attach(&srv.inbox, NULL, NULL);
    if (job->print)
        runner_print_summary(&sc, variant, o, &r1);
    exit_code = r1.exit_code;

    /* The counterfactual: the same scenario with the market switched off,
     * so the load reduction is measured against a run, not assumed. */
    if (r1.status == RES_COMPLETED && pc.has_market && pc.enabled && !job->no_counterfactual) {
        sim_kernel_free(k);
        k = NULL;
        scn_scenario_clear(&sc);
        struct plt_context pc2;
        plt_context_init(&pc2);
        pc2.enabled = 0;
        pc2.db = pc.db;
        if (runner_prepare(job->path, job->text, job->dir, &reg, job->seed, &pc2, &k, &sc) == 0) {
            struct run_result r2;
            runner_execute(k, &sc, store, "counterfactual", o, &r2);
            if (job->print)
                runner_print_summary(&sc, "counterfactual", o, &r2);
            exit_code = r2.exit_code;
        } else {
            exit_code = CLI_FAIL;
        }
        plt_context_clear(&pc2);
    }
    if (job->print)
        printf("  database   %s\n", out_path);
    if (srv.running && !stop_requested) {
        /* The run is over; its dashboard stays until Ctrl-C. */
        printf("flexbed run: finished; the dashboard stays on http://127.0.0.1:%d/ until Ctrl-C\n",
               mkt_api_port(srv.api));
        fflush(stdout);
        while (!stop_requested) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    run_serve_stop(&srv);
    /* Components first (they may hold the market), then the market, then
     * the store it writes to. */
    sim_kernel_free(k);
    plt_context_clear(&pc);
    res_store_close(store);
    scn_scenario_clear(&sc);
    return exit_code;
}
