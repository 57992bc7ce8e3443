/*
 * cmd_serve.c: `flexbed serve`, the market as a service. Opens (or
 * creates) the market database, loads the operator key if given, and runs
 * the HTTP/JSON + websocket server of market/api.c until SIGINT or SIGTERM,
 * which stop it cleanly: the connections are closed, the database is
 * closed, nothing is left half-written (every action is one SQLite
 * savepoint). The endpoints are documented in docs/api.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "../market/api.h"
#include "cli.h"

/* The server a signal must stop; set only while mkt_api_run runs. */
static mkt_api *volatile serving;

static void on_signal(int sig)
{
    (void)sig;
    mkt_api_stop(serving); /* an atomic store: async-signal-safe */
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    char ts[40];
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    sim_time_format((sim_time_us)t.tv_sec * SIM_US_PER_S, 0, ts, sizeof ts);
    fprintf(stderr, "%s %s\n", ts, line);
}

/* --clock / --clock-rate: a lab clock that starts at t0 when the server
 * starts and runs rate times as fast as the wall clock. */
struct lab_clock {
    sim_time_us t0;
    double rate;
    struct timespec m0;
};

static sim_time_us lab_now(void *ctx)
{
    const struct lab_clock *c = ctx;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double s = (double)(t.tv_sec - c->m0.tv_sec) + (double)(t.tv_nsec - c->m0.tv_nsec) * 1e-9;
    return c->t0 + (sim_time_us)(s * c->rate * 1e6);
}

static void usage(FILE *f)
{
    fputs("usage: flexbed serve [--http PORT] [--db PATH] [--bind ADDR]\n"
          "                     [--operator-key PATH] [--seal-every SECONDS]\n"
          "                     [--max-body BYTES] [--clock TIME [--clock-rate X]]\n"
          "                     [--quiet]\n"
          "\n"
          "Run the flexibility market as an HTTP/JSON service with a websocket\n"
          "notification channel (docs/api.md). Every action is a transaction signed by\n"
          "its participant (`flexbed keygen`, `flexbed sign`); the state and the ledger\n"
          "live in the SQLite database, so a restarted server carries on. The same\n"
          "port serves a web dashboard at / (market, monitoring of the runs the\n"
          "database holds, ledger; docs/dashboard.md).\n"
          "\n"
          "  --http PORT          TCP port (default 8080; 0 picks a free one, printed)\n"
          "  --db PATH            market database, created if missing (default market.db)\n"
          "  --bind ADDR          address to listen on (default 127.0.0.1, loopback only)\n"
          "  --operator-key PATH  the operator's key file (mode 0600): enables\n"
          "                       POST /api/seal and --seal-every, and a genesis must\n"
          "                       then be signed by this key\n"
          "  --seal-every SECONDS seal pending transactions into a block this often\n"
          "                       (a number of seconds or a duration such as 30s, 5min)\n"
          "  --max-body BYTES     larger request bodies get 413 (default 65536)\n"
          "  --clock TIME         the market's clock starts at TIME (ISO 8601 with its\n"
          "                       offset, e.g. 2023-10-02T15:00:00+03:00) instead of\n"
          "                       the wall clock's now: for lab sessions and tests\n"
          "                       that replay a day (windows, deliveries, seals)\n"
          "  --clock-rate X       with --clock: it runs X times as fast as the wall\n"
          "                       clock (default 1)\n"
          "  --quiet              no request log on stderr\n"
          "\n"
          "Ctrl-C (SIGINT) or SIGTERM stops the server cleanly.\n"
          "Exit status: 0 stopped, 1 server failure, 2 bad input or usage.\n",
          f);
}

static int parse_port(const char *s, int *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* SECONDS as a plain number, or a duration with a unit (sim_duration_parse). */
static int parse_period(const char *s, sim_time_us *d)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!errno && end != s && !*end && v > 0 && v < 1e9) {
        *d = (sim_time_us)(v * 1e6);
        return *d > 0 ? 0 : -1;
    }
    return sim_duration_parse(s, d) == 0 && *d > 0 ? 0 : -1;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"http", required_argument, NULL, 'p'},
        {"db", required_argument, NULL, 'd'},
        {"bind", required_argument, NULL, 'b'},
        {"operator-key", required_argument, NULL, 'k'},
        {"seal-every", required_argument, NULL, 's'},
        {"max-body", required_argument, NULL, 'm'},
        {"quiet", no_argument, NULL, 'q'},
        {"clock", required_argument, NULL, 'c'},
        {"clock-rate", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int port = 8080, quiet = 0;
    const char *db_path = "market.db", *bind = "127.0.0.1", *key_path = NULL;
    sim_time_us seal_every = 0;
    struct lab_clock lab = {.rate = 1.0};
    int have_clock = 0, have_rate = 0;
    long long max_body = (long long)MKT_API_MAX_BODY_DEFAULT;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:d:b:k:s:m:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_port(optarg, &port)) {
                fprintf(stderr, "flexbed serve: --http: expected a port 0-65535, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'd':
            db_path = optarg;
            break;
        case 'b':
            bind = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 's':
            if (parse_period(optarg, &seal_every)) {
                fprintf(stderr,
                        "flexbed serve: --seal-every: expected a positive number of seconds "
                        "or a duration, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'm': {
            char *end;
            max_body = strtoll(optarg, &end, 10);
            if (!*optarg || *end || max_body < 64 || max_body > (16LL << 20)) {
                fprintf(stderr,
                        "flexbed serve: --max-body: expected 64 to 16777216 bytes, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case 'c': {
            int off;
            if (sim_time_parse(optarg, &lab.t0, &off)) {
                fprintf(stderr,
                        "flexbed serve: --clock: expected an ISO 8601 time with its offset "
                        "(2023-10-02T15:00:00+03:00), got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            have_clock = 1;
            break;
        }
        case 'r': {
            char *end;
            errno = 0;
            lab.rate = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(lab.rate > 0) || lab.rate > 1e6) {
                fprintf(stderr,
                        "flexbed serve: --clock-rate: expected a number above 0 and at most "
                        "1e6, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            have_rate = 1;
            break;
        }
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "flexbed serve: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return CLI_USAGE;
    }
    if (have_rate && !have_clock) {
        fputs("flexbed serve: --clock-rate goes with --clock TIME\n", stderr);
        return CLI_USAGE;
    }
    if (seal_every > 0 && !key_path) {
        fputs("flexbed serve: --seal-every needs --operator-key (blocks are signed by the "
              "operator)\n",
              stderr);
        return CLI_USAGE;
    }

    int exit_code = CLI_FAIL;
    struct sim_err err = {{0}};
    struct mkt_key key;
    int have_key = 0;
    sqlite3 *db = NULL;
    mkt_engine *e = NULL;
    mkt_api *api = NULL;

    if (key_path) {
        int rc = mkt_key_load(key_path, &key, &err);
        if (rc) {
            fprintf(stderr, "flexbed serve: --operator-key: %s\n", err.msg);
            return CLI_USAGE;
        }
        have_key = 1;
    }
    /* A database this command creates is removed again if the server
     * never starts (a bad --bind, a busy port): a failed start leaves
     * nothing behind. */
    struct stat db_st;
    int created = stat(db_path, &db_st) != 0 && errno == ENOENT;
    int served = 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "flexbed serve: %s: %s\n", db_path,
                db ? sqlite3_errmsg(db) : "cannot open");
        exit_code = CLI_USAGE;
        goto done;
    }
    sqlite3_busy_timeout(db, 5000);
    /* WAL lets `flexbed ledger verify` read the database while we serve. */
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "flexbed serve: %s: %s\n", db_path, sqlite3_errmsg(db));
        exit_code = CLI_USAGE;
        goto done;
    }
    int rc = mkt_engine_new(db, &e, &err);
    if (rc) {
        fprintf(stderr, "flexbed serve: %s: %s\n", db_path, err.msg);
        exit_code = cli_exit_code(rc);
        goto done;
    }

    /* libwebsockets logs to stderr itself; keep only its errors. */
    lws_set_log_level(LLL_ERR, NULL);
    struct mkt_api_config cfg = {
        .bind = bind,
        .port = port,
        .max_body = (size_t)max_body,
        .operator_key = have_key ? &key : NULL,
        .seal_every = seal_every,
        .log = quiet ? NULL : log_line,
    };
    if (have_clock) {
        clock_gettime(CLOCK_MONOTONIC, &lab.m0);
        cfg.clock = lab_now;
        cfg.clock_ctx = &lab;
    }
    rc = mkt_api_new(e, &cfg, &api, &err);
    if (rc) {
        fprintf(stderr, "flexbed serve: %s\n", err.msg);
        exit_code = rc == SIM_EINVAL ? CLI_USAGE : CLI_FAIL;
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    serving = api;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(bind, "127.0.0.1") && strcmp(bind, "::1") && strcmp(bind, "localhost"))
        fprintf(stderr,
                "flexbed serve: warning: listening on %s, not loopback; the API has "
                "no TLS and no access control beyond signatures\n",
                bind);
    char clk[96] = "";
    if (have_clock) {
        char ts[48];
        sim_time_format(lab.t0, 0, ts, sizeof ts);
        snprintf(clk, sizeof clk, ", clock from %s x%g", ts, lab.rate);
    }
    printf("flexbed serve: listening on http://%s:%d (database %s%s%s)\n",
           strchr(bind, ':') ? "[::1]" : bind, mkt_api_port(api), db_path,
           have_key ? ", sealing enabled" : "", clk);
    fflush(stdout);

    served = 1;
    rc = mkt_api_run(api, &err);
    serving = NULL;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    struct mkt_api_stats st;
    mkt_api_stats(api, &st);
    printf("flexbed serve: stopped after %lld requests (%lld transactions accepted, %lld "
           "refused, %lld blocks sealed)\n",
           st.requests, st.accepted_tx, st.refused_tx, st.blocks);
    if (rc) {
        fprintf(stderr, "flexbed serve: %s\n", err.msg);
        goto done;
    }
    exit_code = CLI_OK;

done:
    mkt_api_free(api);
    mkt_engine_free(e);
    if (db)
        sqlite3_close(db);
    if (created && !served) {
        static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
            char p[PATH_MAX];
            if (snprintf(p, sizeof p, "%s%s", db_path, sfx[i]) < (int)sizeof p)
                unlink(p);
        }
    }
    memset(&key, 0, sizeof key);
    return exit_code;
}
