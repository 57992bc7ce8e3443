/*
 * cmd_run.c: `flexbed run SCENARIO`, the one command that ties the modules
 * together: load the scenario into a kernel, open the result store, wire
 * the kernel's hooks to the store, run, and print a short summary. The run
 * itself is runner.c's (shared with `flexbed sweep`); this file parses the
 * options and does --replay.
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
#include "runner.h"

static void usage(FILE *f)
{
    fputs("usage: flexbed run SCENARIO [--out DB] [--seed N] [--speed X | --realtime]\n"
          "                            [--quiet] [--verbose] [--no-market]\n"
          "                            [--no-counterfactual] [--max-steps N]\n"
          "                            [--max-samples N] [--serve PORT [--accept-tx]]\n"
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
          "  --max-steps N   refuse a run of more than N kernel steps (default 1e9)\n"
          "  --max-samples N refuse a run that would record more than N samples\n"
          "                (default 1e8, about 4 GB); \"none\" lifts either limit.\n"
          "                A run is also refused when its estimated database does\n"
          "                not fit in the free space of the output's file system\n"
          "  --serve PORT  serve the dashboard (docs/dashboard.md) on 127.0.0.1:PORT\n"
          "                (0: a free port, printed) while the run goes on, paced or\n"
          "                not, and after it until Ctrl-C; it watches the database\n"
          "                and takes no transactions, unless:\n"
          "  --accept-tx   with --serve: the run's market also takes signed\n"
          "                transactions from the dashboard and POST /api/tx, timed at\n"
          "                the simulation's clock (a request posted, matched and\n"
          "                bought in the page is dispatched to the simulated assets);\n"
          "                pace the run (--speed) to have time to act. After the run\n"
          "                they are taken at its end time\n"
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
    if ((rc = runner_create_store(out_path, &store)) != 0) {
        exit_code = rc;
        goto done;
    }
    pc.db = res_store_db(store);

    struct sigaction old_int, old_term;
    runner_catch_stop_signals(&old_int, &old_term);

    const char *variant = market_off ? "replay-market-off" : "replay";
    struct run_result r1;
    runner_execute(k, &sc, store, variant, o, &r1);
    runner_print_summary(&sc, variant, o, &r1);
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
        {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 's'},
        {"speed", required_argument, NULL, 'x'},
        {"realtime", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"no-market", no_argument, NULL, 'M'},
        {"no-counterfactual", no_argument, NULL, 'C'},
        {"replay", required_argument, NULL, 'R'},
        {"scenario-dir", required_argument, NULL, 'D'},
        {"max-steps", required_argument, NULL, 'S'},
        {"max-samples", required_argument, NULL, 'N'},
        {"serve", required_argument, NULL, 'P'},
        {"accept-tx", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL, *replay_db = NULL, *scenario_dir = NULL;
    uint64_t seed = 0;
    int have_seed = 0, no_market = 0, no_cf = 0;
    struct run_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:x:rqvh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 's':
            if (parse_u64(optarg, &seed)) {
                fprintf(stderr,
                        "flexbed run: --seed: expected a non-negative integer, got \"%s\"\n",
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
        case 'q':
            o.quiet = 1;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'M':
            no_market = 1;
            break;
        case 'C':
            no_cf = 1;
            break;
        case 'S':
        case 'N': {
            uint64_t v;
            if (!strcmp(optarg, "none")) {
                v = UINT64_MAX;
            } else if (parse_u64(optarg, &v) || v == 0) {
                fprintf(stderr,
                        "flexbed run: --%s: expected a positive integer or \"none\", got \"%s\"\n",
                        c == 'S' ? "max-steps" : "max-samples", optarg);
                return CLI_USAGE;
            }
            if (c == 'S')
                o.max_steps = v;
            else
                o.max_samples = v;
            break;
        }
        case 'P': {
            uint64_t v;
            if (parse_u64(optarg, &v) || v > 65535) {
                fprintf(stderr, "flexbed run: --serve: expected a TCP port (0-65535), got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            o.serve_port = (int)v;
            o.serve = 1;
            break;
        }
        case 'A':
            o.accept_tx = 1;
            break;
        case 'R':
            replay_db = optarg;
            break;
        case 'D':
            scenario_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (o.accept_tx && !o.serve) {
        fputs("flexbed run: --accept-tx goes with --serve PORT (the dashboard it takes "
              "transactions from)\n",
              stderr);
        return CLI_USAGE;
    }
    if (o.accept_tx && no_market) {
        fputs("flexbed run: --accept-tx needs the run's market; not with --no-market\n", stderr);
        return CLI_USAGE;
    }
    if (replay_db) {
        if (optind != argc) {
            fputs("flexbed run: --replay takes the scenario from the database: no SCENARIO\n",
                  stderr);
            return CLI_USAGE;
        }
        if (o.serve) {
            fputs("flexbed run: --serve goes with a scenario, not --replay (serve the replay's "
                  "database with flexbed serve)\n",
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
    struct runner_job job = {
        .path = argv[optind],
        .seed = have_seed ? &seed : NULL,
        .no_market = no_market,
        .no_counterfactual = no_cf,
        .print = 1,
        .out_path = out_path,
    };
    return runner_run(&job, &o);
}
