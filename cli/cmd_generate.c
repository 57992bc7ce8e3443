/*
 * cmd_generate.c: `flexbed generate city`, a scenario of many LV feeders
 * under one market, written rather than typed.
 *
 * Each feeder is a copy of the IEEE European LV feeder (55 households with
 * their load shapes) with its own transformer thermal model, EVs and home
 * batteries placed on randomly chosen households (a seed and penetration
 * figures), one DSO with a load-threshold policy on the feeder's
 * substation power, one FSP per battery offering it for the evening, and
 * one dispatch platform per feeder. The EVs' sessions are real ones: drawn
 * from the Norwegian residential charging sessions (scenarios/data/
 * ev-sessions/, Sorensen et al. 2021), their plug-in time of day, duration
 * and energy becoming arrival, departure and arrival SoC.
 *
 * Everything drawn comes from one GSL stream seeded by --seed, so the same
 * options give the same file byte for byte.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "cli.h"

#ifndef FLEXBED_SOURCE_DIR
#define FLEXBED_SOURCE_DIR "."
#endif

#define EU_LV_LOADS 55
#define SESSIONS_REL "scenarios/data/ev-sessions/ev-charging-reports.csv"
#define CIRCUIT_REL "scenarios/data/eu-lv/Master-constpq.dss"

static void usage(FILE *f)
{
    fputs("usage: flexbed generate city --out FILE [--feeders N] [--ev-share F]\n"
          "                             [--battery-share F] [--threshold-kw X] [--date D]\n"
          "                             [--shape-shift D] [--shape-scale F]\n"
          "                             [--seed S] [--sessions CSV] [--circuit DSS]\n"
          "\n"
          "Write a scenario of N copies of the IEEE European LV feeder (55 households\n"
          "each, their load shapes) under one market: per feeder a transformer thermal\n"
          "model, EVs on a share of the households (sessions drawn from real charging\n"
          "sessions), home batteries on another share, each offered by its own FSP for\n"
          "the evening, a dispatch platform and a DSO buying flexibility when the\n"
          "feeder's substation power exceeds a threshold. One day at one-minute steps;\n"
          "the same options give the same file.\n"
          "\n"
          "  --out FILE         the scenario to write (its directory must exist)\n"
          "  --feeders N        feeders (default 100)\n"
          "  --ev-share F       EVs per household, 0..1 (default 0.364: 20 per feeder)\n"
          "  --battery-share F  batteries per household, 0..1 (default 0.091: 5 per feeder)\n"
          "  --threshold-kw X   the DSOs' load threshold (default 80)\n"
          "  --shape-shift D    each household's load shape shifted by a draw within\n"
          "                     +-D (default 60min) and ...\n"
          "  --shape-scale F    ... scaled by a draw within 1 +- F (default 0.2), per\n"
          "                     feeder, so that no two feeders have the same households\n"
          "                     (0min and 0: every feeder the circuit's 55 shapes)\n"
          "  --transformer-kva K  the thermal model's rating (default 800, the circuit's\n"
          "                     own unit; the power flow keeps the circuit's transformer)\n"
          "  --date D           the simulated day, YYYY-MM-DD (default 2024-01-15, UTC)\n"
          "  --seed S           placement, sessions and prices (default 1)\n"
          "  --sessions CSV     charging sessions (default " SESSIONS_REL ")\n"
          "  --circuit DSS      the feeder (default " CIRCUIT_REL ")\n"
          "\n"
          "Defaults are looked up in the source tree flexbed was built from, then\n"
          "relative to the current directory. Paths in the scenario are written\n"
          "relative to its own directory when they can be.\n",
          f);
}

/* A charging session: plug-in time of day (s), duration (s), energy (kWh). */
struct session {
    int tod_s;
    double dur_s, kwh;
};

/* "1,5" -> 1.5 */
static double comma_num(const char *s, int *ok)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    *ok = !errno && end != buf && *end == '\0' && isfinite(v);
    return v;
}

/* The sessions with a plug-out, at least 30 minutes and 1 kWh. */
static struct session *read_sessions(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "flexbed generate: --sessions %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    int cap_s = 0, lineno = 0, bad = 0;
    struct session *s = NULL;
    *n = 0;
    int c_start = -1, c_kwh = -1, c_dur = -1;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *field[16];
        int nf = 0;
        for (char *p = line, *t; nf < 16 && (t = strsep(&p, ";")) != NULL;)
            field[nf++] = t;
        if (lineno == 1) {
            for (int i = 0; i < nf; i++) {
                if (!strcmp(field[i], "Start_plugin"))
                    c_start = i;
                else if (!strcmp(field[i], "El_kWh"))
                    c_kwh = i;
                else if (!strcmp(field[i], "Duration_hours"))
                    c_dur = i;
            }
            if (c_start < 0 || c_kwh < 0 || c_dur < 0) {
                fprintf(stderr,
                        "flexbed generate: %s:1: expected the columns Start_plugin, El_kWh and "
                        "Duration_hours (semicolon-separated)\n",
                        path);
                break;
            }
            continue;
        }
        if (nf <= c_start || nf <= c_kwh || nf <= c_dur) {
            bad++;
            continue;
        }
        int d, mo, y, h, mi, ok1, ok2;
        double kwh = comma_num(field[c_kwh], &ok1), hours = comma_num(field[c_dur], &ok2);
        if (sscanf(field[c_start], "%d.%d.%d %d:%d", &d, &mo, &y, &h, &mi) != 5 || !ok1 || !ok2 ||
            h < 0 || h > 23 || mi < 0 || mi > 59) {
            bad++; /* e.g. a session without plug-out */
            continue;
        }
        if (hours < 0.5 || kwh < 1.0 || hours > 72)
            continue;
        if (*n == cap_s) {
            cap_s = cap_s ? 2 * cap_s : 1024;
            struct session *ns = realloc(s, (size_t)cap_s * sizeof *s);
            if (!ns) {
                free(s);
                s = NULL;
                break;
            }
            s = ns;
        }
        s[*n].tod_s = h * 3600 + mi * 60;
        s[*n].dur_s = hours * 3600.0;
        s[*n].kwh = kwh;
        (*n)++;
    }
    free(line);
    fclose(f);
    if (s && *n == 0) {
        fprintf(stderr, "flexbed generate: %s: no usable sessions (%d rows unreadable)\n", path,
                bad);
        free(s);
        s = NULL;
    }
    return s;
}

/* path if readable, else FLEXBED_SOURCE_DIR/path. */
static const char *find_default(const char *rel, char *buf, size_t n)
{
    FILE *f = fopen(rel, "r");
    if (f) {
        fclose(f);
        snprintf(buf, n, "%s", rel);
        return buf;
    }
    snprintf(buf, n, "%s/%s", FLEXBED_SOURCE_DIR, rel);
    return buf;
}

/* target as seen from the directory of `from` (both made absolute):
 * a relative path when they share a prefix, else the absolute one. */
static void relative_to(const char *target, const char *from, char *out, size_t n)
{
    char t[PATH_MAX], d[PATH_MAX], fdir[PATH_MAX];
    snprintf(fdir, sizeof fdir, "%s", from);
    char *slash = strrchr(fdir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(fdir, sizeof fdir, ".");
    if (!realpath(target, t) || !realpath(fdir, d)) {
        snprintf(out, n, "%s", target);
        return;
    }
    /* common directory prefix */
    size_t i = 0, last = 0;
    while (t[i] && d[i] && t[i] == d[i]) {
        if (t[i] == '/')
            last = i;
        i++;
    }
    if (!d[i] && t[i] == '/')
        last = i;
    out[0] = '\0';
    size_t len = 0;
    for (const char *p = d + last; *p; p++)
        if (*p == '/' && len + 4 < n) {
            memcpy(out + len, "../", 3);
            len += 3;
        }
    snprintf(out + len, n - len, "%s", t + last + 1);
}

static cJSON *add_obj(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, o);
    return o;
}

static void iso(char *buf, size_t n, const char *date, int s_of_day)
{
    int day = s_of_day / 86400, s = s_of_day % 86400;
    int y, m, d;
    sscanf(date, "%d-%d-%d", &y, &m, &d);
    /* days after the date: normalise through mktime in UTC terms */
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + day};
    time_t tt = timegm(&tm);
    gmtime_r(&tt, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, s / 3600 % 100, s / 60 % 60, s % 60);
}

int cmd_generate(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "city")) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            usage(stdout);
            return CLI_OK;
        }
        fprintf(stderr, "flexbed generate: %s\n",
                argc < 2 ? "what? (city)" : "unknown kind; the one there is: city");
        usage(stderr);
        return CLI_USAGE;
    }
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"feeders", required_argument, NULL, 'n'},
                                         {"ev-share", required_argument, NULL, 'e'},
                                         {"battery-share", required_argument, NULL, 'b'},
                                         {"threshold-kw", required_argument, NULL, 't'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"sessions", required_argument, NULL, 'S'},
                                         {"circuit", required_argument, NULL, 'c'},
                                         {"transformer-kva", required_argument, NULL, 'T'},
                                         {"shape-shift", required_argument, NULL, 'H'},
                                         {"shape-scale", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL, *date = "2024-01-15", *sessions_path = NULL, *circuit = NULL;
    long feeders = 100;
    unsigned long seed = 1;
    double ev_share = 20.0 / EU_LV_LOADS, bat_share = 5.0 / EU_LV_LOADS, threshold = 80, kva = 800;
    /* households differ between feeders: shapes shifted up to an hour and
     * scaled within 20 % (0 and 0: every feeder the same 55) */
    double shape_shift_min = 60, shape_scale = 0.2;
    int o;
    optind = 2;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        switch (o) {
        case 'o':
            out = optarg;
            break;
        case 'n':
            feeders = strtol(optarg, &end, 10);
            if (errno || *end || feeders < 1 || feeders > 999) {
                fprintf(stderr, "flexbed generate: --feeders %s: want 1..999\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'e':
        case 'b': {
            double v = strtod(optarg, &end);
            if (errno || *end || !(v >= 0 && v <= 1)) {
                fprintf(stderr, "flexbed generate: --%s %s: want a share in [0, 1]\n",
                        o == 'e' ? "ev-share" : "battery-share", optarg);
                return CLI_USAGE;
            }
            *(o == 'e' ? &ev_share : &bat_share) = v;
            break;
        }
        case 't':
            threshold = strtod(optarg, &end);
            if (errno || *end || !(threshold > 0)) {
                fprintf(stderr, "flexbed generate: --threshold-kw %s: want a power > 0\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'd': {
            int y, m, d;
            char extra;
            if (sscanf(optarg, "%d-%d-%d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 ||
                d > 31 || y < 1970 || y > 2100) {
                fprintf(stderr, "flexbed generate: --date %s: want YYYY-MM-DD\n", optarg);
                return CLI_USAGE;
            }
            date = optarg;
            break;
        }
        case 's':
            seed = strtoul(optarg, &end, 10);
            if (errno || *end || optarg[0] == '-') {
                fprintf(stderr, "flexbed generate: --seed %s: want a whole number\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'S':
            sessions_path = optarg;
            break;
        case 'T':
            kva = strtod(optarg, &end);
            if (errno || *end || !(kva >= 1 && kva <= 1e5)) {
                fprintf(stderr, "flexbed generate: --transformer-kva %s: want 1..100000\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'c':
            circuit = optarg;
            break;
        case 'H': {
            sim_time_us d;
            if (sim_duration_parse(optarg, &d) || d < 0 || d > 12 * SIM_US_PER_H) {
                fprintf(stderr,
                        "flexbed generate: --shape-shift %s: want a duration of 0 to 12h "
                        "(e.g. 60min)\n",
                        optarg);
                return CLI_USAGE;
            }
            shape_shift_min = (double)d / (double)SIM_US_PER_MIN;
            break;
        }
        case 'K':
            shape_scale = strtod(optarg, &end);
            if (errno || *end || !(shape_scale >= 0 && shape_scale <= 0.9)) {
                fprintf(stderr, "flexbed generate: --shape-scale %s: want 0..0.9\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            fprintf(stderr, "flexbed generate: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc || !out) {
        fprintf(stderr, "flexbed generate: %s\n",
                !out ? "--out FILE is required" : "unexpected argument");
        usage(stderr);
        return CLI_USAGE;
    }
    char sbuf[PATH_MAX], cbuf[PATH_MAX], crel[PATH_MAX];
    if (!sessions_path)
        sessions_path = find_default(SESSIONS_REL, sbuf, sizeof sbuf);
    if (!circuit)
        circuit = find_default(CIRCUIT_REL, cbuf, sizeof cbuf);
    FILE *cf = fopen(circuit, "r");
    if (!cf) {
        fprintf(stderr, "flexbed generate: --circuit %s: %s\n", circuit, strerror(errno));
        return CLI_USAGE;
    }
    fclose(cf);
    int nsess = 0;
    struct session *sess = read_sessions(sessions_path, &nsess);
    if (!sess)
        return CLI_USAGE;
    /* the scenario file first: a path that cannot be written is found
     * before any work */
    FILE *of = fopen(out, "w");
    if (!of) {
        fprintf(stderr, "flexbed generate: --out %s: %s\n", out, strerror(errno));
        free(sess);
        return CLI_USAGE;
    }
    relative_to(circuit, out, crel, sizeof crel);

    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    int nev = (int)lround(ev_share * EU_LV_LOADS), nbat = (int)lround(bat_share * EU_LV_LOADS);
    char start[40], end[40], tbuf[40];
    iso(start, sizeof start, date, 0);
    iso(end, sizeof end, date, 86400);

    cJSON *root = cJSON_CreateObject();
    char name[64], desc[512];
    snprintf(name, sizeof name, "city-%ld", feeders);
    cJSON_AddStringToObject(root, "name", name);
    snprintf(desc, sizeof desc,
             "Generated by `flexbed generate city --feeders %ld --ev-share %g --battery-share %g "
             "--threshold-kw %g --transformer-kva %g --date %s --seed %lu --shape-shift %gmin "
             "--shape-scale %g`: %ld IEEE European LV feeders, %d EVs and %d batteries each.",
             feeders, ev_share, bat_share, threshold, kva, date, seed, shape_shift_min, shape_scale,
             feeders, nev, nbat);
    cJSON_AddStringToObject(root, "description", desc);
    cJSON_AddStringToObject(root, "start", start);
    cJSON_AddStringToObject(root, "end", end);
    cJSON_AddStringToObject(root, "step", "1min");
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    cJSON *rec = cJSON_AddObjectToObject(root, "record");
    cJSON *rs = cJSON_AddArrayToObject(rec, "signals");
    /* feeders f001..., their transformers, the DSOs */
    static const char *const recorded[] = {"f[0-9][0-9][0-9].p_kw",
                                           "f[0-9][0-9][0-9].v_min_pu",
                                           "f[0-9][0-9][0-9]_tx.hot_spot_degc",
                                           "f[0-9][0-9][0-9]_tx.loss_of_life_h",
                                           "dso_*.requested_kw",
                                           "dso_*.bought_kw"};
    for (size_t i = 0; i < sizeof recorded / sizeof recorded[0]; i++)
        cJSON_AddItemToArray(rs, cJSON_CreateString(recorded[i]));
    cJSON *comps = cJSON_AddArrayToObject(root, "components");
    cJSON *market = cJSON_AddObjectToObject(root, "market");
    cJSON *parts = cJSON_AddArrayToObject(market, "participants");
    cJSON *p = add_obj(parts);
    cJSON_AddStringToObject(p, "name", "operator");
    cJSON_AddStringToObject(p, "role", "operator");

    int houses[EU_LV_LOADS];
    static const double cap_kwh[] = {40, 50, 60, 75};
    for (long fi = 1; fi <= feeders; fi++) {
        char fname[16], loc[24];
        snprintf(fname, sizeof fname, "f%03d", (int)(fi % 1000));
        snprintf(loc, sizeof loc, "feeder-%03d", (int)(fi % 1000));
        for (int i = 0; i < EU_LV_LOADS; i++)
            houses[i] = i + 1;
        gsl_ran_shuffle(rng, houses, EU_LV_LOADS, sizeof houses[0]);
        cJSON *conns = cJSON_CreateArray();
        cJSON *meters = cJSON_CreateObject();
        /* EVs: the first nev shuffled households */
        for (int k = 0; k < nev; k++) {
            const struct session *s = &sess[gsl_rng_uniform_int(rng, (unsigned long)nsess)];
            double cap = cap_kwh[gsl_rng_uniform_int(rng, 4)];
            int three = gsl_rng_uniform(rng) < 0.25;
            char ename[32], lname[16];
            snprintf(ename, sizeof ename, "%s_ev%02d", fname, k + 1);
            snprintf(lname, sizeof lname, "LOAD%d", houses[k]);
            cJSON *c = add_obj(comps);
            cJSON_AddStringToObject(c, "name", ename);
            cJSON_AddStringToObject(c, "type", "ev");
            cJSON_AddNumberToObject(c, "capacity_kwh", cap);
            cJSON_AddNumberToObject(c, "p_charge_max_kw", three ? 11 : 7.4);
            iso(tbuf, sizeof tbuf, date, s->tod_s);
            cJSON_AddStringToObject(c, "arrival", tbuf);
            iso(tbuf, sizeof tbuf, date, s->tod_s + (int)lround(s->dur_s));
            cJSON_AddStringToObject(c, "departure", tbuf);
            double soc = 0.9 - s->kwh / cap;
            cJSON_AddNumberToObject(c, "soc_arrival", round(fmax(soc, 0.05) * 1000) / 1000);
            cJSON_AddNumberToObject(c, "soc_target", 0.9);
            cJSON_AddNumberToObject(c, "phases", three ? 3 : 1);
            cJSON_AddStringToObject(c, "policy", "charge");
            cJSON *cn = add_obj(conns);
            cJSON_AddStringToObject(cn, "component", ename);
            cJSON_AddStringToObject(cn, "load", lname);
        }
        /* batteries: the next nbat households, each with a meter and an FSP */
        for (int k = 0; k < nbat; k++) {
            char bname[32], mname[40], lname[16], fsp[40], sp[64];
            snprintf(bname, sizeof bname, "%s_bat%d", fname, k + 1);
            snprintf(mname, sizeof mname, "%s_meter", bname);
            snprintf(fsp, sizeof fsp, "fsp_%s", bname);
            snprintf(lname, sizeof lname, "LOAD%d", houses[(nev + k) % EU_LV_LOADS]);
            snprintf(sp, sizeof sp, "%s_dispatch.%s_kw", fname, bname);
            cJSON *c = add_obj(comps);
            cJSON_AddStringToObject(c, "name", bname);
            cJSON_AddStringToObject(c, "type", "battery");
            cJSON_AddNumberToObject(c, "capacity_kwh", 13.5);
            cJSON_AddNumberToObject(c, "p_charge_max_kw", 5);
            cJSON_AddNumberToObject(c, "p_discharge_max_kw", 5);
            cJSON_AddNumberToObject(c, "soc_initial",
                                    round((0.5 + 0.4 * gsl_rng_uniform(rng)) * 100) / 100);
            cJSON_AddNumberToObject(c, "soc_min", 0.1);
            cJSON_AddNumberToObject(c, "soc_max", 0.95);
            cJSON_AddNumberToObject(c, "round_trip_efficiency", 0.9);
            cJSON_AddStringToObject(c, "setpoint", sp);
            cJSON *cn = add_obj(conns);
            cJSON_AddStringToObject(cn, "component", bname);
            cJSON_AddStringToObject(cn, "load", lname);
            cJSON *m = add_obj(comps);
            cJSON_AddStringToObject(m, "name", mname);
            cJSON_AddStringToObject(m, "type", "meter");
            cJSON_AddStringToObject(m, "import", bname);
            cJSON_AddStringToObject(m, "export", bname);
            cJSON_AddItemToObject(meters, bname, cJSON_CreateString(mname));
            cJSON *fc = add_obj(comps);
            cJSON_AddStringToObject(fc, "name", fsp);
            cJSON_AddStringToObject(fc, "type", "fsp");
            cJSON_AddStringToObject(fc, "participant", fsp);
            cJSON *a = cJSON_AddObjectToObject(fc, "asset");
            cJSON_AddStringToObject(a, "component", bname);
            cJSON_AddStringToObject(a, "type", "battery");
            cJSON_AddStringToObject(a, "location", loc);
            cJSON_AddNumberToObject(a, "p_min_kw", -5);
            cJSON_AddNumberToObject(a, "p_max_kw", 5);
            cJSON_AddNumberToObject(a, "soc_min", 0.1);
            cJSON_AddNumberToObject(a, "soc_max", 0.95);
            cJSON *offers = cJSON_AddArrayToObject(fc, "offers");
            cJSON *of1 = add_obj(offers);
            iso(tbuf, sizeof tbuf, date, 15 * 3600);
            cJSON_AddStringToObject(of1, "post_at", tbuf);
            iso(tbuf, sizeof tbuf, date, 16 * 3600);
            cJSON_AddStringToObject(of1, "start", tbuf);
            iso(tbuf, sizeof tbuf, date, 22 * 3600);
            cJSON_AddStringToObject(of1, "end", tbuf);
            cJSON_AddNumberToObject(of1, "p_kw", -5);
            cJSON_AddNumberToObject(of1, "price_eur_per_kwh",
                                    round((0.08 + 0.12 * gsl_rng_uniform(rng)) * 1000) / 1000);
            iso(tbuf, sizeof tbuf, date, 21 * 3600);
            cJSON_AddStringToObject(of1, "valid_until", tbuf);
            p = add_obj(parts);
            cJSON_AddStringToObject(p, "name", fsp);
            cJSON_AddStringToObject(p, "role", "fsp");
            cJSON_AddNumberToObject(p, "deposit_eur", 1);
        }
        /* the feeder, its transformer, dispatch and DSO */
        cJSON *fc = add_obj(comps);
        cJSON_AddStringToObject(fc, "name", fname);
        cJSON_AddStringToObject(fc, "type", "feeder");
        cJSON_AddStringToObject(fc, "circuit", crel);
        cJSON_AddBoolToObject(fc, "use_loadshapes", 1);
        if (shape_shift_min > 0 || shape_scale > 0) {
            cJSON *dv = cJSON_AddObjectToObject(fc, "loadshape_diversity");
            char sh[32];
            snprintf(sh, sizeof sh, "%gmin", shape_shift_min);
            cJSON_AddStringToObject(dv, "shift", sh);
            cJSON_AddNumberToObject(dv, "scale", shape_scale);
        }
        /* 1e-6 pu: far below OpenDSS's 1e-4, and a third faster than the
         * default 1e-9 */
        cJSON_AddNumberToObject(fc, "tolerance", 1e-6);
        cJSON_AddItemToObject(fc, "connections", conns);
        cJSON *tx = add_obj(comps);
        char txname[24], dname[32], dso[24];
        snprintf(txname, sizeof txname, "%s_tx", fname);
        snprintf(dname, sizeof dname, "%s_dispatch", fname);
        snprintf(dso, sizeof dso, "dso_%s", fname);
        cJSON_AddStringToObject(tx, "name", txname);
        cJSON_AddStringToObject(tx, "type", "transformer");
        cJSON_AddNumberToObject(tx, "rating_kva", kva);
        cJSON *tl = cJSON_AddArrayToObject(tx, "loads");
        cJSON_AddItemToArray(tl, cJSON_CreateString(fname));
        cJSON *dc = add_obj(comps);
        cJSON_AddStringToObject(dc, "name", dname);
        cJSON_AddStringToObject(dc, "type", "dispatch");
        cJSON_AddStringToObject(dc, "latency", "1min");
        cJSON_AddItemToObject(dc, "meters", meters);
        cJSON *dsc = add_obj(comps);
        cJSON_AddStringToObject(dsc, "name", dso);
        cJSON_AddStringToObject(dsc, "type", "dso");
        cJSON_AddStringToObject(dsc, "participant", dso);
        cJSON *th = cJSON_AddObjectToObject(dsc, "threshold");
        char sig[32];
        snprintf(sig, sizeof sig, "%s.p_kw", fname);
        cJSON_AddStringToObject(th, "signal", sig);
        cJSON_AddNumberToObject(th, "limit_kw", threshold);
        cJSON_AddStringToObject(th, "location", loc);
        cJSON_AddNumberToObject(th, "p_kw", -10);
        cJSON_AddNumberToObject(th, "max_price_eur_per_kwh", 0.25);
        cJSON_AddStringToObject(th, "duration", "1h");
        cJSON_AddStringToObject(th, "lead", "15min");
        cJSON_AddStringToObject(th, "match_after", "5min");
        p = add_obj(parts);
        cJSON_AddStringToObject(p, "name", dso);
        cJSON_AddStringToObject(p, "role", "dso");
        cJSON_AddNumberToObject(p, "deposit_eur", 100);
    }
    cJSON_AddNumberToObject(market, "tx_fee_eur", 0.0);
    cJSON_AddBoolToObject(market, "partial_fills", 1);
    cJSON_AddStringToObject(market, "block_period", "15min");
    cJSON *rep = cJSON_AddObjectToObject(root, "report");
    cJSON_AddStringToObject(rep, "load_signal", "f001.p_kw");

    char *text = cJSON_Print(root);
    int rc = CLI_OK;
    if (!text || fputs(text, of) < 0 || fputc('\n', of) < 0)
        rc = CLI_FAIL;
    if (fclose(of))
        rc = CLI_FAIL;
    if (rc)
        fprintf(stderr, "flexbed generate: %s: %s\n", out, strerror(errno));
    else
        printf("%s: %ld feeders, %ld households, %ld EVs, %ld batteries and FSPs, %ld DSOs; "
               "sessions drawn from %d of %s\n",
               out, feeders, feeders * EU_LV_LOADS, feeders * nev, feeders * nbat, feeders, nsess,
               sessions_path);
    cJSON_free(text);
    cJSON_Delete(root);
    gsl_rng_free(rng);
    free(sess);
    return rc;
}
