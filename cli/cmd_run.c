/*
 * cmd_run.c: `flexbed run SCENARIO`, the one command that ties the modules
 * together: load the scenario into a kernel, open the result store, wire
 * the kernel's hooks to the store, run, and print a short summary.
 *
 * Order matters for "nothing written on bad input": the scenario is loaded
 * and the kernel initialised (which resolves every signal reference) before
 * the database is created, so a bad scenario leaves no file behind. Once
 * the run has started, samples go to the store in batched transactions, and
 * Ctrl-C (SIGINT/SIGTERM) stops the kernel after the current instant, runs
 * the components' finish callbacks and marks the run 'interrupted'.
 *
 * `flexbed run --replay DB` repeats a recorded run (a hardware-in-the-loop
 * session) as pure simulation: the scenario text and seed come from DB's
 * runs row, the devices' journal from its journal table (loaded into
 * memory first), and every device component publishes the journal's
 * values instead of contacting its device; no pacing. The new database's
 * run has the variant 'replay'.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../hil/hil.h"
#include "../platform/platform.h"
#include "../results/results.h"
#include "cli.h"

static volatile int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* State the kernel hooks need: the store and the recorded signals. */
struct run_ctx {
    res_store *store;
    int64_t run_id;
    const struct scn_scenario *sc;
    int nrec;
    int *rec_sig;      /* bus index of each recorded signal */
    int64_t *rec_id;   /* its id in the signals table */
    double *rec_val;   /* buffer for one instant */
    uint64_t samples;
    uint64_t events[3];
    int64_t jseq; /* journal entries written */
    int store_failed;
    struct sim_err store_err;
    int progress; /* draw a progress bar on stderr */
    int verbose;  /* echo events on stderr */
    sim_time_us last_drawn;
};

static int hook_sample(void *vctx, sim_time_us t, const double *values, int n)
{
    struct run_ctx *c = vctx;
    (void)n;
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
    int rc = res_event(c->store, c->run_id, t, component, kind, (int)sev, value, message,
                       &c->store_err);
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
    fprintf(stderr, "\r\033[K[%s] %3.0f%%  %s  wall %.1f s  x%.0f", bar, frac * 100.0, ts,
            wall_s, wall_s > 0 ? sim_s / wall_s : 0.0);
    if (lag_s > 1.0)
        fprintf(stderr, "  LAG %.1f s", lag_s);
    fflush(stderr);
    c->last_drawn = now;
}

static void usage(FILE *f)
{
    fputs("usage: flexbed run SCENARIO [--out DB] [--seed N] [--speed X | --realtime]\n"
          "                            [--quiet] [--verbose] [--no-market]\n"
          "                            [--no-counterfactual]\n"
          "       flexbed run --replay DB [--out NEW_DB] [--scenario-dir DIR]\n"
          "                            [--speed X | --realtime] [--quiet] [--verbose]\n"
          "\n"
          "Run a scenario file and write its results to a SQLite database.\n"
          "\n"
          "  --out DB      database to write (replaced if it exists);\n"
          "                default: results/NAME.db, NAME being the scenario's name\n"
          "  --seed N      use seed N instead of the scenario's \"seed\" (random\n"
          "                streams are derived from it and each component's name)\n"
          "  --speed X     pace simulated time at X times the wall clock\n"
          "  --realtime    same as --speed 1 (hardware in the loop)\n"
          "  --quiet       no progress bar, even on a terminal\n"
          "  --verbose     print every logged event on stderr\n"
          "  --no-market   run with the scenario's market switched off (policies\n"
          "                stand still): the counterfactual alone\n"
          "  --no-counterfactual\n"
          "                skip the second, market-off run that follows a run\n"
          "                with a market (it measures the load reduction)\n"
          "  --replay DB   repeat the run recorded in DB (a session with devices) as\n"
          "                pure simulation: its scenario and seed, and every device\n"
          "                component publishing its journaled values instead of\n"
          "                contacting the device; no pacing, no counterfactual.\n"
          "                --out defaults to DB with \"-replay.db\" for \".db\"; the\n"
          "                new run's variant is 'replay'\n"
          "  --scenario-dir DIR\n"
          "                with --replay: resolve the scenario's relative paths (CSV\n"
          "                series) against DIR instead of the directory of the\n"
          "                recorded scenario path\n"
          "\n"
          "On a terminal a progress bar (simulated time, wall time, speed-up) is drawn\n"
          "on stderr; otherwise only the summary is printed. Ctrl-C stops the run\n"
          "cleanly: what was simulated is in the database, marked 'interrupted'.\n"
          "A scenario with a \"market\" section is run twice into the same database:\n"
          "as written (variant 'main'), then with the market off ('counterfactual').\n"
          "Components that talk to devices journal every value they read and every\n"
          "command they send (the database's journal table): that is what --replay\n"
          "repeats (docs/hil.md).\n"
          "\n"
          "Exit status: 0 completed, 1 run failed, 2 bad input, 130 interrupted.\n",
          f);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
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
            return sim_errf(err, SIM_EIO, "%s: cannot create directory: %s", buf,
                            strerror(errno));
        *p = '/';
    }
    return 0;
}

/* Options that shape a run. */
struct run_opts {
    int quiet, verbose, have_speed;
    double speed;
};

/* Extra lines of the summary. */
static void print_journal(const char *verb, int64_t n)
{
    if (n > 0)
        printf("  journal    %" PRId64 " device entries %s\n", n, verb);
}

/* What one run (main or counterfactual) ended with. */
struct run_result {
    enum res_status status;
    int exit_code;
    struct sim_stats st;
    sim_time_us reached;
    int nrec;
    uint64_t samples, events[3];
    int64_t journaled;
};

/* Run an initialised kernel into the store as one runs row. Returns 0, or
 * non-zero when the store failed (the result says how the run ended). */
static void execute(sim_kernel *k, const struct scn_scenario *sc, res_store *store,
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
        if (!(sim_bus_flags(k, s) & SIM_SIG_RECORD))
            continue;
        int owner = sim_bus_owner(k, s);
        if ((rc = res_signal_add(store, ctx.run_id, sim_bus_name(k, s), sim_bus_unit(k, s),
                                 sim_kernel_component_name(k, owner), &ctx.rec_id[ctx.nrec],
                                 &err)))
            goto store_fail;
        ctx.rec_sig[ctx.nrec++] = s;
    }
    ctx.store = store;
    ctx.sc = sc;
    ctx.verbose = o->verbose;
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
}

static void print_summary(const struct scn_scenario *sc, const char *variant,
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
static int create_store(const char *out_path, res_store **store)
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
static void catch_stop_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
    stop_requested = 0;
}

/* Load and initialise the scenario into a kernel; prints the error. */
static int prepare(const char *path, const struct cli_registry *reg, const uint64_t *seed,
                   struct plt_context *pc, sim_kernel **k, struct scn_scenario *sc)
{
    struct sim_err err = {{0}};
    int rc = scn_load(path, &reg->reg, seed, pc, k, sc, &err);
    if (!rc && (rc = sim_kernel_init(*k, &err)) != 0) {
        sim_kernel_free(*k);
        *k = NULL;
        scn_scenario_clear(sc);
    }
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    return rc;
}

/* Is b the same file as a (which exists)? */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* `flexbed run --replay DB`. */
static int run_replay(const char *db_path, const char *out_path, const char *scenario_dir,
                      const struct run_opts *o)
{
    struct sim_err err = {{0}};
    struct res_recorded_run rr = {0};
    struct cli_registry reg;
    struct scn_scenario sc = {0};
    struct plt_context pc;
    sim_kernel *k = NULL;
    res_store *src = NULL, *store = NULL;
    sim_recording *rec = NULL;
    char default_out[PATH_MAX], dir[PATH_MAX];
    long nj = 0;
    int exit_code = CLI_USAGE, rc;
    cli_registry_init(&reg);
    plt_context_init(&pc);

    /* Everything is read from the recorded database, and it is closed,
     * before anything is written. */
    if ((rc = res_store_open(db_path, RES_OPEN_READ, &src, &err)) ||
        (rc = res_recorded_run(src, &rr, &err))) {
        fprintf(stderr, "flexbed run: --replay: %s\n", err.msg);
        goto done;
    }
    if (!(rec = sim_recording_new())) {
        fputs("flexbed run: out of memory\n", stderr);
        exit_code = CLI_FAIL;
        goto done;
    }
    if ((rc = res_journal_load(src, rr.id, rec, &nj, &err))) {
        fprintf(stderr, "flexbed run: --replay: %s\n", err.msg);
        exit_code = cli_exit_code(rc);
        goto done;
    }
    res_store_close(src);
    src = NULL;
    if (strcmp(rr.status, "completed"))
        fprintf(stderr,
                "flexbed run: --replay: the recorded run is '%s': past where it stopped the "
                "replay holds the devices' last journaled values\n",
                rr.status);

    /* The scenario as it was run: its text, seed and market switch; its
     * relative paths against the recorded scenario's directory. */
    const char *spath = rr.scenario_path ? rr.scenario_path : "scenario";
    if (scenario_dir) {
        snprintf(dir, sizeof dir, "%s", scenario_dir);
    } else {
        const char *slash = strrchr(spath, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else if (slash == spath)
            snprintf(dir, sizeof dir, "/");
        else
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - spath), spath);
    }
    int market_off = strstr(rr.variant, "market-off") != NULL;
    if (market_off)
        pc.enabled = 0;
    if ((rc =
             scn_load_text(rr.scenario_text, spath, dir, &reg.reg, &rr.seed, &pc, &k, &sc, &err))) {
        fprintf(stderr, "%s (the scenario recorded in %s%s)\n", err.msg, db_path,
                scenario_dir ? "" : "; --scenario-dir DIR resolves its relative paths elsewhere");
        exit_code = cli_exit_code(rc);
        goto done;
    }
    char why[256];
    if (!hil_kernel_replayable(k, why, sizeof why)) {
        fprintf(stderr, "flexbed run: --replay: %s: it would contact its device\n", why);
        goto done;
    }
    struct sim_replay_ops ops;
    sim_recording_replay(rec, &ops);
    sim_kernel_set_replay(k, &ops);
    if ((rc = sim_kernel_init(k, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        exit_code = cli_exit_code(rc);
        goto done;
    }

    if (!out_path) {
        size_t len = strlen(db_path);
        int has_db = len > 3 && !strcmp(db_path + len - 3, ".db");
        if ((size_t)snprintf(default_out, sizeof default_out, "%.*s-replay.db",
                             (int)(has_db ? len - 3 : len), db_path) >= sizeof default_out) {
            fprintf(stderr, "flexbed run: %s: path too long\n", db_path);
            goto done;
        }
        out_path = default_out;
    }
    if (same_file(db_path, out_path)) {
        fprintf(stderr, "flexbed run: --out %s is the recorded database itself\n", out_path);
        goto done;
    }
    if ((rc = create_store(out_path, &store)) != 0) {
        exit_code = rc;
        goto done;
    }
    pc.db = res_store_db(store);

    struct sigaction old_int, old_term;
    catch_stop_signals(&old_int, &old_term);

    const char *variant = market_off ? "replay-market-off" : "replay";
    struct run_result r1;
    execute(k, &sc, store, variant, o, &r1);
    print_summary(&sc, variant, o, &r1);
    printf("  replayed   %ld device entries of run %" PRId64 " ('%s') of %s\n", nj, rr.id,
           rr.variant, db_path);
    printf("  database   %s\n", out_path);
    exit_code = r1.exit_code;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    sim_kernel_free(k);
    plt_context_clear(&pc);
    res_store_close(store);
    res_store_close(src);
    scn_scenario_clear(&sc);
    sim_recording_free(rec);
    res_recorded_run_clear(&rr);
    return exit_code;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},    {"seed", required_argument, NULL, 's'},
        {"speed", required_argument, NULL, 'x'},  {"realtime", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},        {"verbose", no_argument, NULL, 'v'},
        {"no-market", no_argument, NULL, 'M'},    {"no-counterfactual", no_argument, NULL, 'C'},
        {"replay", required_argument, NULL, 'R'}, {"scenario-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL, *replay_db = NULL, *scenario_dir = NULL;
    uint64_t seed = 0;
    int have_seed = 0, no_market = 0, no_cf = 0;
    struct run_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:x:rqvh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 's':
            if (parse_u64(optarg, &seed)) {
                fprintf(stderr, "flexbed run: --seed: expected a non-negative integer, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            have_seed = 1;
            break;
        case 'x': {
            char *end;
            o.speed = strtod(optarg, &end);
            if (*end || !(o.speed > 0)) {
                fprintf(stderr, "flexbed run: --speed: expected a positive number, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            if (o.have_speed) {
                fputs("flexbed run: give --speed or --realtime, not both\n", stderr);
                return CLI_USAGE;
            }
            o.have_speed = 1;
            break;
        }
        case 'r':
            if (o.have_speed) {
                fputs("flexbed run: give --speed or --realtime, not both\n", stderr);
                return CLI_USAGE;
            }
            o.speed = 1.0;
            o.have_speed = 1;
            break;
        case 'q': o.quiet = 1; break;
        case 'v': o.verbose = 1; break;
        case 'M': no_market = 1; break;
        case 'C': no_cf = 1; break;
        case 'R': replay_db = optarg; break;
        case 'D': scenario_dir = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (replay_db) {
        if (optind != argc) {
            fputs("flexbed run: --replay takes the scenario from the database: no SCENARIO\n",
                  stderr);
            return CLI_USAGE;
        }
        if (have_seed || no_market) {
            fputs("flexbed run: --replay repeats the recorded seed and market: no --seed or "
                  "--no-market\n",
                  stderr);
            return CLI_USAGE;
        }
        return run_replay(replay_db, out_path, scenario_dir, &o);
    }
    if (scenario_dir) {
        fputs("flexbed run: --scenario-dir goes with --replay\n", stderr);
        return CLI_USAGE;
    }
    if (optind != argc - 1) {
        fputs(optind >= argc ? "flexbed run: missing SCENARIO\n"
                             : "flexbed run: too many arguments\n",
              stderr);
        usage(stderr);
        return CLI_USAGE;
    }
    const char *scenario_path = argv[optind];

    struct cli_registry reg;
    cli_registry_init(&reg);
    struct scn_scenario sc = {0};
    sim_kernel *k = NULL;
    res_store *store = NULL;
    char default_out[PATH_MAX];
    struct plt_context pc;
    plt_context_init(&pc);
    if (no_market)
        pc.enabled = 0;

    /* Everything about the input is checked before a file is written. */
    int rc = prepare(scenario_path, &reg, have_seed ? &seed : NULL, &pc, &k, &sc);
    if (rc) {
        plt_context_clear(&pc);
        return cli_exit_code(rc);
    }
    if (!out_path) {
        snprintf(default_out, sizeof default_out, "results/%s.db", sc.name);
        out_path = default_out;
    }
    int exit_code = CLI_FAIL;
    if ((rc = create_store(out_path, &store)) != 0) {
        exit_code = rc;
        goto done;
    }
    pc.db = res_store_db(store);

    struct sigaction old_int, old_term;
    catch_stop_signals(&old_int, &old_term);

    const char *variant = pc.enabled ? "main" : "market-off";
    struct run_result r1;
    execute(k, &sc, store, variant, &o, &r1);
    print_summary(&sc, variant, &o, &r1);
    exit_code = r1.exit_code;

    /* The counterfactual: the same scenario with the market switched off,
     * so the load reduction is measured against a run, not assumed. */
    if (r1.status == RES_COMPLETED && pc.has_market && pc.enabled && !no_cf) {
        sim_kernel_free(k);
        k = NULL;
        scn_scenario_clear(&sc);
        struct plt_context pc2;
        plt_context_init(&pc2);
        pc2.enabled = 0;
        pc2.db = pc.db;
        if (prepare(scenario_path, &reg, have_seed ? &seed : NULL, &pc2, &k, &sc) == 0) {
            struct run_result r2;
            execute(k, &sc, store, "counterfactual", &o, &r2);
            print_summary(&sc, "counterfactual", &o, &r2);
            exit_code = r2.exit_code;
        } else {
            exit_code = CLI_FAIL;
        }
        plt_context_clear(&pc2);
    }
    printf("  database   %s\n", out_path);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    /* Components first (they may hold the market), then the market, then
     * the store it writes to. */
    sim_kernel_free(k);
    plt_context_clear(&pc);
    res_store_close(store);
    scn_scenario_clear(&sc);
    return exit_code;
}
