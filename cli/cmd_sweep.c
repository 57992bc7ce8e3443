/*
 * cmd_sweep.c: `flexbed sweep SWEEP.json [-j N] [--out DIR]`, a parameter
 * sweep over one scenario. The sweep file names a base scenario, values for
 * places in its JSON ("components[name=oedas].threshold.limit_kw", "seed")
 * and the figures wanted from each run. The cartesian product of the values
 * gives the runs; each run is the base scenario's JSON with those values
 * put in, run exactly like `flexbed run` (runner.c) into DIR/run-NNNN.db.
 *
 * One process per run: the runs are independent, so the parent forks up to
 * N workers, collects each one's exit status and figures (written back on a
 * pipe), and writes DIR/summary.csv and a table at the end. A failed run is
 * reported and the sweep goes on. Ctrl-C (or SIGTERM) reaches the workers,
 * which stop after their current instant and mark their run 'interrupted';
 * no new run starts. Under an MPI launcher rank 0 hands the same units
 * out to the other ranks instead (sweep_mpi.c).
 *
 * Everything in the sweep file (keys, paths, output definitions) is checked
 * before the first run starts: a bad one is exit status 2 with a message
 * naming the file and the JSON path of the offending key.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "runner.h"
#include "sweep_mpi.h"
#include "sweep_stats.h"

#define SWEEP_MAX_RUNS 10000
#define SWEEP_MAX_VALUE 256 /* characters of one output value */

enum stat_kind { STAT_MIN, STAT_MAX, STAT_MEAN, STAT_LAST };

struct sw_param {
    const char *path;
    const cJSON *values; /* array, inside the sweep file's tree */
    int n;
};

struct sw_output {
    const char *name;
    const char *signal; /* with stat, or NULL */
    enum stat_kind stat;
    const char *report; /* key path in the report's JSON, or NULL */
};

struct sweep {
    const char *file;
    cJSON *root; /* the sweep file */
    const char *name;
    char scenario[PATH_MAX]; /* base scenario path, as messages show it */
    cJSON *base;             /* the base scenario's JSON */
    struct sw_param *p;
    int np;
    struct sw_output *o;
    int no;
    long nruns;
    int mc_seeds;   /* "monte_carlo": replicate runs per combination, or 0 */
    double mc_conf; /* and the confidence of their intervals */
};

/* One run as the parent sees it. */
struct sw_run {
    pid_t pid;
    int fd;        /* read end of the worker's pipe */
    int state;     /* 0 not run, 1 running, 2 done */
    int exit_code; /* CLI_* of the worker */
    char **values; /* no output values (malloc'd strings, "" when missing) */
};

static volatile sig_atomic_t sweep_stop;
static int sweep_mpi; /* this process is an MPI rank */

static void on_stop(int sig)
{
    sweep_stop = sig;
}

static void usage(FILE *f)
{
    fputs("usage: flexbed sweep SWEEP.json [-j N] [--out DIR]\n"
          "\n"
          "Run a scenario once per combination of parameter values and tabulate\n"
          "chosen figures of each run (docs/sweeps.md). The sweep file names the\n"
          "base scenario, the values to put at places in its JSON and the outputs:\n"
          "\n"
          "  {\"name\": \"threshold-sweep\", \"scenario\": \"../variants/demo-threshold.json\",\n"
          "   \"parameters\": [{\"path\": \"components[name=oedas].threshold.limit_kw\",\n"
          "                   \"values\": [120, 140]}, {\"path\": \"seed\", \"values\": [1, 2]}],\n"
          "   \"outputs\": [{\"name\": \"peak_kw\", \"signal\": \"transformer.p_kw\", \"stat\": "
          "\"max\"},\n"
          "               {\"name\": \"delivered_kwh\", \"report\": \"total.delivered_kwh\"}]}\n"
          "\n"
          "Each run is exactly `flexbed run` of the modified scenario (with its\n"
          "counterfactual when it has a market) into DIR/run-0001.db, ...; then\n"
          "DIR/summary.csv (run, parameters, outputs, status) is written and the\n"
          "same table printed.\n"
          "\n"
          "  -j, --jobs N  run N runs at a time, one process each (default 1)\n"
          "  --out DIR     where the databases and summary.csv go (created);\n"
          "                default: results/NAME, NAME being the sweep's name\n"
          "\n"
          "Parameter paths: dotted keys, [i] for an array index, [name=X] for the\n"
          "array element whose \"name\" is X. Outputs: \"signal\" with \"stat\" min,\n"
          "max, mean or last over the main run's samples, or \"report\", a key path\n"
          "into `flexbed report --format json` (e.g. transformer.load_reduction_pct).\n"
          "On a terminal, progress goes to stderr. A failed run is reported and the\n"
          "sweep goes on; Ctrl-C stops every run cleanly.\n"
          "\n"
          "\"monte_carlo\": {\"seeds\": N} runs each combination with N seeds and writes\n"
          "DIR/summary-ci.csv: per combination, each output's mean, sd and confidence\n"
          "interval over the seeds.\n"
          "\n"
          "Under MPI (mpirun -np N flexbed sweep ..., or srun) rank 0 hands the runs\n"
          "out to the other ranks as they ask; DIR must be shared by all of them; the\n"
          "summary is the same as a -j sweep's (docs/sweeps.md).\n"
          "\n"
          "Exit status: 0 every run completed, 1 a run failed, 2 bad input,\n"
          "130 interrupted.\n",
          f);
}

/* Whole file into a malloc'd string; NULL with errno set. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/*
 * The value `path` addresses under root: dotted keys, [i] indexes and
 * [key=X] (the array element whose string member key is X). *parent gets
 * its container. NULL when it does not resolve, with the reason in why.
 */
static cJSON *path_get(cJSON *root, const char *path, cJSON **parent, char *why, size_t nwhy)
{
    cJSON *cur = root, *par = NULL;
    const char *s = path;
    if (!*s) {
        snprintf(why, nwhy, "empty path");
        return NULL;
    }
    while (*s) {
        cJSON *next = NULL;
        if (*s == '[') {
            const char *close = strchr(s, ']');
            if (!close) {
                snprintf(why, nwhy, "'[' without ']'");
                return NULL;
            }
            int len = (int)(close - s - 1);
            const char *in = s + 1, *eq = memchr(in, '=', (size_t)len);
            if (!cJSON_IsArray(cur)) {
                snprintf(why, nwhy, "\"%.*s\" is not an array", (int)(s - path), path);
                return NULL;
            }
            if (eq) {
                int klen = (int)(eq - in);
                const char *val = eq + 1;
                int vlen = (int)(close - val);
                const cJSON *el;
                cJSON_ArrayForEach(el, cur)
                {
                    const cJSON *m = NULL;
                    for (m = el->child; m; m = m->next)
                        if (m->string && (int)strlen(m->string) == klen &&
                            !strncmp(m->string, in, (size_t)klen))
                            break;
                    if (cJSON_IsString(m) && (int)strlen(m->valuestring) == vlen &&
                        !strncmp(m->valuestring, val, (size_t)vlen)) {
                        next = (cJSON *)el;
                        break;
                    }
                }
                if (!next) {
                    snprintf(why, nwhy, "\"%.*s\" has no element with \"%.*s\" \"%.*s\"",
                             (int)(s - path), path, klen, in, vlen, val);
                    return NULL;
                }
            } else {
                char *end;
                long i = len > 0 ? strtol(in, &end, 10) : -1;
                if (len <= 0 || end != close || i < 0) {
                    snprintf(why, nwhy, "\"[%.*s]\": expected [INDEX] or [name=X]", len, in);
                    return NULL;
                }
                if (!(next = cJSON_GetArrayItem(cur, (int)i))) {
                    snprintf(why, nwhy, "\"%.*s\" has %d elements, no [%ld]", (int)(s - path), path,
                             cJSON_GetArraySize(cur), i);
                    return NULL;
                }
            }
            s = close + 1;
        } else {
            if (*s == '.' && s != path)
                s++;
            size_t klen = strcspn(s, ".[");
            if (klen == 0) {
                snprintf(why, nwhy, "empty key at \"%s\"", s);
                return NULL;
            }
            if (!cJSON_IsObject(cur)) {
                snprintf(why, nwhy, "\"%.*s\" is not an object", (int)(s - path - 1), path);
                return NULL;
            }
            for (cJSON *m = cur->child; m; m = m->next)
                if (m->string && strlen(m->string) == klen && !strncmp(m->string, s, klen)) {
                    next = m;
                    break;
                }
            if (!next) {
                if (s == path)
                    snprintf(why, nwhy, "no key \"%.*s\"", (int)klen, s);
                else
                    snprintf(why, nwhy, "no key \"%.*s\" in \"%.*s\"", (int)klen, s,
                             (int)(s - path - 1), path);
                return NULL;
            }
            s += klen;
        }
        par = cur;
        cur = next;
    }
    if (parent)
        *parent = par;
    return cur;
}

/* Put a copy of value where path points under root. */
static int path_set(cJSON *root, const char *path, const cJSON *value, char *why, size_t nwhy)
{
    cJSON *parent = NULL, *item = path_get(root, path, &parent, why, nwhy);
    if (!item)
        return -1;
    cJSON *copy = cJSON_Duplicate(value, 1);
    if (!copy) {
        snprintf(why, nwhy, "out of memory");
        return -1;
    }
    /* ReplaceItemViaPointer does not carry the member name over. */
    if (item->string && !(copy->string = strdup(item->string))) {
        cJSON_Delete(copy);
        snprintf(why, nwhy, "out of memory");
        return -1;
    }
    cJSON_ReplaceItemViaPointer(parent, item, copy);
    return 0;
}

static const char *known(const cJSON *obj, const char *const *keys)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        int ok = 0;
        for (int i = 0; keys[i]; i++)
            ok |= !strcmp(m->string, keys[i]);
        if (!ok)
            return m->string;
    }
    return NULL;
}

static const char *get_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static void sweep_clear(struct sweep *sw)
{
    cJSON_Delete(sw->root);
    cJSON_Delete(sw->base);
    free(sw->p);
    free(sw->o);
    memset(sw, 0, sizeof *sw);
}

/* Read and check the sweep file and its base scenario; prints the error.
 * Returns 0 or an exit code. */
static int sweep_load(const char *file, struct sweep *sw)
{
    static const char *const top_keys[] = {"name",    "description", "scenario", "parameters",
                                           "outputs", "monte_carlo", NULL};
    static const char *const mc_keys[] = {"seeds", "first_seed", "confidence", NULL};
    static const char *const param_keys[] = {"path", "values", NULL};
    static const char *const out_keys[] = {"name", "signal", "stat", "report", NULL};
    memset(sw, 0, sizeof *sw);
    sw->file = file;
    char *text = slurp(file);
    if (!text) {
        fprintf(stderr, "flexbed sweep: %s: %s\n", file, strerror(errno));
        return CLI_USAGE;
    }
    sw->root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(sw->root)) {
        fprintf(stderr, "flexbed sweep: %s: not a JSON object\n", file);
        return CLI_USAGE;
    }
    const char *bad = known(sw->root, top_keys);
    if (bad) {
        fprintf(stderr, "flexbed sweep: %s: unknown key \"%s\"\n", file, bad);
        return CLI_USAGE;
    }
    sw->name = get_string(sw->root, "name");
    if (!sw->name ||
        strspn(sw->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_.-") != strlen(sw->name) ||
        sw->name[0] == '.') {
        fprintf(stderr,
                "flexbed sweep: %s: name: expected a string of letters, digits, '_', '.' and "
                "'-' (it names the result directory)\n",
                file);
        return CLI_USAGE;
    }
    const char *scn = get_string(sw->root, "scenario");
    if (!scn) {
        fprintf(stderr, "flexbed sweep: %s: scenario: expected the path of a scenario file\n",
                file);
        return CLI_USAGE;
    }
    /* The scenario path is relative to the sweep file's directory. */
    const char *slash = strrchr(file, '/');
    int n = scn[0] == '/' || !slash ? snprintf(sw->scenario, sizeof sw->scenario, "%s", scn)
                                    : snprintf(sw->scenario, sizeof sw->scenario, "%.*s/%s",
                                               (int)(slash - file), file, scn);
    if (n < 0 || (size_t)n >= sizeof sw->scenario) {
        fprintf(stderr, "flexbed sweep: %s: scenario: path too long\n", file);
        return CLI_USAGE;
    }
    if (!(text = slurp(sw->scenario))) {
        fprintf(stderr, "flexbed sweep: %s: scenario: %s: %s\n", file, sw->scenario,
                strerror(errno));
        return CLI_USAGE;
    }
    sw->base = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(sw->base)) {
        fprintf(stderr, "flexbed sweep: %s: scenario %s is not a JSON object\n", file,
                sw->scenario);
        return CLI_USAGE;
    }

    /* Monte Carlo: each combination run with `seeds` seeds (first_seed,
     * first_seed + 1, ...), added as the last parameter, "seed" */
    cJSON *mc = cJSON_GetObjectItemCaseSensitive(sw->root, "monte_carlo");
    cJSON *seeds = NULL;
    if (mc) {
        const cJSON *nj = cJSON_GetObjectItemCaseSensitive(mc, "seeds");
        const cJSON *fj = cJSON_GetObjectItemCaseSensitive(mc, "first_seed");
        const cJSON *cj = cJSON_GetObjectItemCaseSensitive(mc, "confidence");
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(sw->base, "seed");
        if (!cJSON_IsObject(mc) || (bad = known(mc, mc_keys))) {
            fprintf(stderr, "flexbed sweep: %s: monte_carlo: %s%s%s\n", file,
                    bad ? "unknown key \"" : "expected an object with \"seeds\"", bad ? bad : "",
                    bad ? "\"" : "");
            return CLI_USAGE;
        }
        if (!cJSON_IsNumber(nj) || nj->valuedouble != (int)nj->valuedouble || nj->valueint < 2 ||
            nj->valueint > SWEEP_MAX_RUNS) {
            fprintf(stderr, "flexbed sweep: %s: monte_carlo.seeds: expected a whole number 2..%d\n",
                    file, SWEEP_MAX_RUNS);
            return CLI_USAGE;
        }
        if (fj && (!cJSON_IsNumber(fj) || fj->valuedouble != floor(fj->valuedouble) ||
                   fj->valuedouble < 0 || fj->valuedouble > 4e9)) {
            fprintf(stderr,
                    "flexbed sweep: %s: monte_carlo.first_seed: expected a whole number "
                    "0..4000000000\n",
                    file);
            return CLI_USAGE;
        }
        sw->mc_conf = cj ? cj->valuedouble : 0.95;
        if (cj && (!cJSON_IsNumber(cj) || !(sw->mc_conf > 0 && sw->mc_conf < 1))) {
            fprintf(stderr,
                    "flexbed sweep: %s: monte_carlo.confidence: expected a number in (0, 1), "
                    "e.g. 0.95\n",
                    file);
            return CLI_USAGE;
        }
        double first = fj ? fj->valuedouble : cJSON_IsNumber(sj) ? sj->valuedouble : 1;
        sw->mc_seeds = nj->valueint;
        if (!(seeds = cJSON_AddArrayToObject(mc, "_values"))) {
            fputs("flexbed sweep: out of memory\n", stderr);
            return CLI_FAIL;
        }
        for (int k = 0; k < sw->mc_seeds; k++)
            cJSON_AddItemToArray(seeds, cJSON_CreateNumber(first + k));
    }

    const cJSON *params = cJSON_GetObjectItemCaseSensitive(sw->root, "parameters");
    if ((!mc || params) && (!cJSON_IsArray(params) || cJSON_GetArraySize(params) == 0)) {
        fprintf(stderr, "flexbed sweep: %s: parameters: expected a non-empty array\n", file);
        return CLI_USAGE;
    }
    sw->np = cJSON_GetArraySize(params);
    if (!(sw->p = calloc((size_t)sw->np + 1, sizeof *sw->p))) {
        fputs("flexbed sweep: out of memory\n", stderr);
        return CLI_FAIL;
    }
    sw->nruns = 1;
    for (int i = 0; i < sw->np; i++) {
        const cJSON *pj = cJSON_GetArrayItem(params, i);
        struct sw_param *p = &sw->p[i];
        char why[512];
        if (!cJSON_IsObject(pj) || (bad = known(pj, param_keys))) {
            fprintf(stderr, "flexbed sweep: %s: parameters[%d]: %s%s%s\n", file, i,
                    bad ? "unknown key \"" : "expected an object with \"path\" and \"values\"",
                    bad ? bad : "", bad ? "\"" : "");
            return CLI_USAGE;
        }
        if (!(p->path = get_string(pj, "path"))) {
            fprintf(stderr, "flexbed sweep: %s: parameters[%d].path: expected a string\n", file, i);
            return CLI_USAGE;
        }
        if (!path_get(sw->base, p->path, NULL, why, sizeof why)) {
            fprintf(stderr,
                    "flexbed sweep: %s: parameters[%d].path: \"%s\" does not resolve in %s: %s\n",
                    file, i, p->path, sw->scenario, why);
            return CLI_USAGE;
        }
        p->values = cJSON_GetObjectItemCaseSensitive(pj, "values");
        if (!cJSON_IsArray(p->values) || (p->n = cJSON_GetArraySize(p->values)) == 0) {
            fprintf(stderr,
                    "flexbed sweep: %s: parameters[%d].values: expected a non-empty array\n", file,
                    i);
            return CLI_USAGE;
        }
        if (sw->nruns * p->n > SWEEP_MAX_RUNS) {
            fprintf(stderr,
                    "flexbed sweep: %s: parameters: the combinations of values make more than %d "
                    "runs; split the sweep\n",
                    file, SWEEP_MAX_RUNS);
            return CLI_USAGE;
        }
        sw->nruns *= p->n;
        if (mc && !strcmp(p->path, "seed")) {
            fprintf(stderr,
                    "flexbed sweep: %s: parameters[%d]: \"seed\" with monte_carlo, which draws "
                    "the seeds itself; remove one of them\n",
                    file, i);
            return CLI_USAGE;
        }
    }
    if (mc) {
        struct sw_param *p = &sw->p[sw->np++];
        p->path = "seed";
        p->values = seeds;
        p->n = sw->mc_seeds;
        if (sw->nruns * p->n > SWEEP_MAX_RUNS) {
            fprintf(stderr,
                    "flexbed sweep: %s: monte_carlo.seeds: with the parameters' combinations "
                    "that makes more than %d runs; split the sweep\n",
                    file, SWEEP_MAX_RUNS);
            return CLI_USAGE;
        }
        sw->nruns *= p->n;
    }

    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(sw->root, "outputs");
    if (outs && !cJSON_IsArray(outs)) {
        fprintf(stderr, "flexbed sweep: %s: outputs: expected an array\n", file);
        return CLI_USAGE;
    }
    sw->no = cJSON_GetArraySize(outs);
    if (sw->no > 0 && !(sw->o = calloc((size_t)sw->no, sizeof *sw->o))) {
        fputs("flexbed sweep: out of memory\n", stderr);
        return CLI_FAIL;
    }
    for (int i = 0; i < sw->no; i++) {
        const cJSON *oj = cJSON_GetArrayItem(outs, i);
        struct sw_output *o = &sw->o[i];
        if (!cJSON_IsObject(oj) || (bad = known(oj, out_keys))) {
            fprintf(stderr, "flexbed sweep: %s: outputs[%d]: %s%s%s\n", file, i,
                    bad ? "unknown key \"" : "expected an object", bad ? bad : "", bad ? "\"" : "");
            return CLI_USAGE;
        }
        o->name = get_string(oj, "name");
        o->signal = get_string(oj, "signal");
        o->report = get_string(oj, "report");
        const char *stat = get_string(oj, "stat");
        if (!o->name || strpbrk(o->name, ",\"\n")) {
            fprintf(stderr,
                    "flexbed sweep: %s: outputs[%d].name: expected a string without commas or "
                    "quotes\n",
                    file, i);
            return CLI_USAGE;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(sw->o[j].name, o->name)) {
                fprintf(stderr, "flexbed sweep: %s: outputs[%d].name: \"%s\" is used twice\n", file,
                        i, o->name);
                return CLI_USAGE;
            }
        if (!o->signal == !o->report) {
            fprintf(stderr,
                    "flexbed sweep: %s: outputs[%d]: give either \"signal\" (with \"stat\") or "
                    "\"report\"\n",
                    file, i);
            return CLI_USAGE;
        }
        if (o->report && stat) {
            fprintf(stderr, "flexbed sweep: %s: outputs[%d].stat: goes with \"signal\"\n", file, i);
            return CLI_USAGE;
        }
        if (o->signal) {
            if (stat && !strcmp(stat, "min"))
                o->stat = STAT_MIN;
            else if (stat && !strcmp(stat, "max"))
                o->stat = STAT_MAX;
            else if (stat && !strcmp(stat, "mean"))
                o->stat = STAT_MEAN;
            else if (stat && !strcmp(stat, "last"))
                o->stat = STAT_LAST;
            else {
                fprintf(stderr,
                        "flexbed sweep: %s: outputs[%d].stat: expected min, max, mean or last\n",
                        file, i);
                return CLI_USAGE;
            }
        }
    }
    return CLI_OK;
}

/* Index of parameter i's value in run r (0-based; the last parameter
 * varies fastest). */
static int value_index(const struct sweep *sw, long r, int i)
{
    for (int j = sw->np - 1; j > i; j--)
        r /= sw->p[j].n;
    return (int)(r % sw->p[i].n);
}

/* A value as a table cell: strings without their quotes. */
static char *cell_of(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.10g", v->valuedouble);
        return strdup(buf);
    }
    return cJSON_PrintUnformatted(v);
}

/* ---- in the worker ---------------------------------------------------- */

/* One signal statistic of the main run; 0 with *found = 0 when the run
 * has no such signal or no samples. */
static int signal_stat(sqlite3 *db, int64_t run_id, const struct sw_output *o, double *v,
                       int *found)
{
    static const char *const sql[] = {
        [STAT_MIN] = "SELECT MIN(s.value) FROM samples s JOIN signals g ON s.signal_id = g.id "
                     "WHERE g.run_id = ?1 AND g.name = ?2",
        [STAT_MAX] = "SELECT MAX(s.value) FROM samples s JOIN signals g ON s.signal_id = g.id "
                     "WHERE g.run_id = ?1 AND g.name = ?2",
        [STAT_MEAN] = "SELECT AVG(s.value) FROM samples s JOIN signals g ON s.signal_id = g.id "
                      "WHERE g.run_id = ?1 AND g.name = ?2",
        [STAT_LAST] = "SELECT s.value FROM samples s JOIN signals g ON s.signal_id = g.id "
                      "WHERE g.run_id = ?1 AND g.name = ?2 ORDER BY s.t_us DESC LIMIT 1",
    };
    sqlite3_stmt *st = NULL;
    *found = 0;
    if (sqlite3_prepare_v2(db, sql[o->stat], -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, o->signal, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *v = sqlite3_column_double(st, 0);
        *found = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* `flexbed report --format json` of the database, parsed. */
static cJSON *report_json(res_store *s, struct sim_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        sim_errf(err, SIM_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = cli_report_write(s, RES_JSON, mem, 0, err);
    fclose(mem);
    cJSON *j = rc ? NULL : cJSON_Parse(buf);
    if (!rc && !j)
        sim_errf(err, SIM_EINVAL, "the report is not valid JSON");
    free(buf);
    return j;
}

/* Compute the run's outputs from its database and write them to fd, one
 * line each ("" for a missing value). Messages go to stderr. */
static void write_outputs(const struct sweep *sw, long r, const char *db_path, int fd)
{
    struct sim_err err = {{0}};
    res_store *s = NULL;
    cJSON *report = NULL;
    FILE *out = fdopen(fd, "w");
    if (!out)
        return;
    /* Read-write (APPEND writes nothing to an existing database) so that
     * closing the last connection removes the -wal and -shm files. */
    if (res_store_open(db_path, RES_OPEN_APPEND, &s, &err)) {
        fprintf(stderr, "flexbed sweep: run %ld: %s\n", r + 1, err.msg);
        fclose(out);
        return;
    }
    sqlite3 *db = res_store_db(s);
    int64_t run_id = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id FROM runs WHERE variant IN ('main','market-off') "
                           "ORDER BY id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        run_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (int i = 0; i < sw->no; i++) {
        const struct sw_output *o = &sw->o[i];
        char val[SWEEP_MAX_VALUE] = "";
        if (o->signal) {
            double v;
            int found;
            if (signal_stat(db, run_id, o, &v, &found))
                fprintf(stderr, "flexbed sweep: run %ld: %s: %s\n", r + 1, o->name,
                        sqlite3_errmsg(db));
            else if (!found)
                fprintf(stderr, "flexbed sweep: run %ld: outputs[%d]: no samples of \"%s\"\n",
                        r + 1, i, o->signal);
            else
                snprintf(val, sizeof val, "%.10g", v);
        } else {
            if (!report && !(report = report_json(s, &err))) {
                fprintf(stderr, "flexbed sweep: run %ld: report: %s\n", r + 1, err.msg);
                break;
            }
            char why[256];
            const cJSON *v = path_get(report, o->report, NULL, why, sizeof why);
            char *c = v && !cJSON_IsNull(v) ? cell_of(v) : NULL;
            if (c) {
                snprintf(val, sizeof val, "%s", c);
                cJSON_free(c);
            }
        }
        val[strcspn(val, "\n")] = '\0';
        fprintf(out, "%s\n", val);
    }
    cJSON_Delete(report);
    res_store_close(s);
    fclose(out);
}

/* The worker: run r of the sweep; returns the process's exit code. */
/* The scenario text of run r (cJSON_free), or NULL with *code set and the
 * reason printed. */
static char *run_text(const struct sweep *sw, long r, int *code)
{
    cJSON *scn = cJSON_Duplicate(sw->base, 1);
    char why[512];
    *code = CLI_FAIL;
    if (!scn) {
        fputs("flexbed sweep: out of memory\n", stderr);
        return NULL;
    }
    for (int i = 0; i < sw->np; i++) {
        const cJSON *v = cJSON_GetArrayItem(sw->p[i].values, value_index(sw, r, i));
        if (path_set(scn, sw->p[i].path, v, why, sizeof why)) {
            fprintf(stderr, "flexbed sweep: run %ld: parameters[%d].path \"%s\": %s\n", r + 1, i,
                    sw->p[i].path, why);
            cJSON_Delete(scn);
            *code = CLI_USAGE;
            return NULL;
        }
    }
    char *text = cJSON_PrintUnformatted(scn);
    cJSON_Delete(scn);
    if (!text)
        fputs("flexbed sweep: out of memory\n", stderr);
    return text;
}

/*
 * Before any run: every output must name something a run can have. A
 * signal must be published by the base scenario (loaded and initialised,
 * not run); a report key path must exist in the report's
 * structure (checked against the report of an empty database with the
 * flexibility members of a report where nothing was bought; inside an
 * array, whose elements only a run makes, the rest of the path is not
 * checked). Returns CLI_OK or the exit code, the reason printed.
 */
static int check_outputs(const struct sweep *sw)
{
    int code = CLI_OK;
    int need_signals = 0, need_report = 0;
    for (int i = 0; i < sw->no; i++) {
        need_signals |= sw->o[i].signal != NULL;
        need_report |= sw->o[i].report != NULL;
    }
    if (need_signals) {
        /* the base scenario: a run's values may fail on their own, which
         * that run reports */
        char *text = cJSON_PrintUnformatted(sw->base);
        if (!text)
            return CLI_FAIL;
        struct cli_registry reg;
        cli_registry_init(&reg);
        struct plt_context pc;
        plt_context_init(&pc);
        sim_kernel *k = NULL;
        struct scn_scenario sc;
        memset(&sc, 0, sizeof sc);
        code = runner_prepare(sw->scenario, text, NULL, &reg, NULL, &pc, &k, &sc);
        cJSON_free(text);
        for (int i = 0; code == CLI_OK && i < sw->no; i++) {
            if (!sw->o[i].signal || sim_bus_find(k, sw->o[i].signal) >= 0)
                continue;
            fprintf(stderr,
                    "flexbed sweep: %s: outputs[%d].signal: the scenario publishes no signal "
                    "\"%s\"; it has:",
                    sw->file, i, sw->o[i].signal);
            int n = sim_bus_count(k);
            for (int j = 0; j < n && j < 40; j++)
                fprintf(stderr, "%s %s", j ? "," : "", sim_bus_name(k, j));
            fputs(n > 40 ? ", ...\n" : "\n", stderr);
            code = CLI_USAGE;
        }
        sim_kernel_free(k);
        plt_context_clear(&pc);
        scn_scenario_clear(&sc);
        if (code != CLI_OK)
            return code;
    }
    if (!need_report)
        return CLI_OK;
    struct sim_err err = {{0}};
    res_store *s = NULL;
    char *members = plt_report_skeleton(), *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    cJSON *skel = NULL;
    if (members && mem && res_store_open(":memory:", RES_OPEN_APPEND, &s, &err) == 0 &&
        res_report_ex(s, RES_JSON, mem, members, &err) == 0) {
        fflush(mem);
        skel = cJSON_Parse(buf);
    }
    if (mem)
        fclose(mem);
    free(buf);
    cJSON_free(members);
    res_store_close(s);
    if (!skel) {
        fprintf(stderr, "flexbed sweep: cannot build the report's structure: %s\n",
                err.msg[0] ? err.msg : "out of memory");
        return CLI_FAIL;
    }
    for (int i = 0; code == CLI_OK && i < sw->no; i++) {
        if (!sw->o[i].report)
            continue;
        char why[256];
        if (path_get(skel, sw->o[i].report, NULL, why, sizeof why))
            continue;
        /* an element a run would make: "has no element ..." / "has 0
         * elements" on an empty array */
        if (strstr(why, "has no element") || strstr(why, "has 0 elements"))
            continue;
        fprintf(stderr,
                "flexbed sweep: %s: outputs[%d].report \"%s\": %s (docs/results.md lists the "
                "report's keys)\n",
                sw->file, i, sw->o[i].report, why);
        code = CLI_USAGE;
    }
    cJSON_Delete(skel);
    return code;
}

static int worker(const struct sweep *sw, long r, const char *db_path, int fd)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int code;
    char *text = run_text(sw, r, &code);
    if (!text) {
        close(fd);
        return code;
    }
    struct run_opts o = {.quiet = 1};
    struct runner_job job = {
        .path = sw->scenario,
        .text = text,
        .out_path = db_path,
    };
    code = runner_run(&job, &o);
    cJSON_free(text);
    if (code == CLI_OK)
        write_outputs(sw, r, db_path, fd);
    else
        close(fd);
    return code;
}

/* ---- in the parent ---------------------------------------------------- */

static void run_path(char *buf, size_t n, const char *dir, long r)
{
    /* The output directory was checked to fit (PATH_MAX less the name). */
    snprintf(buf, n, "%.4000s/run-%04ld.db", dir, (r + 1) % 100000);
}

static int start_run(const struct sweep *sw, struct sw_run *run, long r, const char *dir)
{
    char db_path[PATH_MAX];
    int fds[2];
    run_path(db_path, sizeof db_path, dir, r);
    if (pipe(fds)) {
        fprintf(stderr, "flexbed sweep: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "flexbed sweep: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        int code = worker(sw, r, db_path, fds[1]);
        if (sweep_mpi) {
            /* the child of an MPI rank must not run MPI's exit handlers
             * (they would tear down the rank's shared state) */
            fflush(NULL);
            _exit(code);
        }
        exit(code);
    }
    close(fds[1]);
    run->pid = pid;
    run->fd = fds[0];
    run->state = 1;
    return 0;
}

/* Read a finished worker's output lines. */
static void collect(const struct sweep *sw, struct sw_run *run)
{
    FILE *in = fdopen(run->fd, "r");
    char line[SWEEP_MAX_VALUE + 2];
    for (int i = 0; i < sw->no; i++) {
        const char *v = "";
        if (in && fgets(line, sizeof line, in)) {
            line[strcspn(line, "\n")] = '\0';
            v = line;
        }
        run->values[i] = strdup(v);
    }
    if (in)
        fclose(in);
    else
        close(run->fd);
    run->fd = -1;
}

static const char *status_name(const struct sw_run *run)
{
    if (run->state != 2)
        return "not run";
    switch (run->exit_code) {
    case CLI_OK:
        return "completed";
    case CLI_INTERRUPTED:
        return "interrupted";
    default:
        return "failed";
    }
}

/* The table: a header row and one row per run, as strings. */
static char ***make_table(const struct sweep *sw, const struct sw_run *runs, int *ncols)
{
    int nc = 1 + sw->np + sw->no + 1;
    char ***t = calloc((size_t)sw->nruns + 1, sizeof *t);
    if (!t)
        return NULL;
    for (long r = 0; r <= sw->nruns; r++) {
        if (!(t[r] = calloc((size_t)nc, sizeof **t)))
            continue;
        char buf[32];
        int c = 0;
        if (r == 0) {
            t[r][c++] = strdup("run");
            for (int i = 0; i < sw->np; i++)
                t[r][c++] = strdup(sw->p[i].path);
            for (int i = 0; i < sw->no; i++)
                t[r][c++] = strdup(sw->o[i].name);
            t[r][c++] = strdup("status");
            continue;
        }
        const struct sw_run *run = &runs[r - 1];
        snprintf(buf, sizeof buf, "%ld", r);
        t[r][c++] = strdup(buf);
        for (int i = 0; i < sw->np; i++)
            t[r][c++] = cell_of(cJSON_GetArrayItem(sw->p[i].values, value_index(sw, r - 1, i)));
        for (int i = 0; i < sw->no; i++)
            t[r][c++] = strdup(run->values && run->values[i] ? run->values[i] : "");
        t[r][c++] = strdup(status_name(run));
    }
    *ncols = nc;
    return t;
}

static void free_table(char ***t, long nrows, int nc)
{
    if (!t)
        return;
    for (long r = 0; r < nrows; r++) {
        for (int c = 0; t[r] && c < nc; c++)
            free(t[r][c]);
        free(t[r]);
    }
    free(t);
}

#define CELL(t, r, c) ((t)[r] && (t)[r][c] ? (t)[r][c] : "")

static int write_summary(const char *path, char ***t, long nrows, int nc)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "flexbed sweep: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (long r = 0; r < nrows; r++)
        for (int c = 0; c < nc; c++) {
            sweep_csv_field(f, CELL(t, r, c));
            fputc(c + 1 < nc ? ',' : '\n', f);
        }
    if (fclose(f)) {
        fprintf(stderr, "flexbed sweep: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_table(char ***t, long nrows, int nc)
{
    int *w = calloc((size_t)nc, sizeof *w);
    if (!w)
        return;
    for (long r = 0; r < nrows; r++)
        for (int c = 0; c < nc; c++) {
            int len = (int)strlen(CELL(t, r, c));
            if (len > w[c])
                w[c] = len;
        }
    for (long r = 0; r < nrows; r++)
        for (int c = 0; c < nc; c++)
            printf("%-*s%s", c + 1 < nc ? w[c] : 0, CELL(t, r, c), c + 1 < nc ? "  " : "\n");
    free(w);
}

/* ---- the runs: here (-j) or handed out to MPI ranks -------------------- */

struct sweep_state {
    const struct sweep *sw;
    struct sw_run *runs;
    const char *dir;
    int tty;
    long next, done, failed, completed;
    int start_failed;
};

/* Book run r's end (its exit code and values set). */
static void finish_run(struct sweep_state *st, long r)
{
    const struct sw_run *run = &st->runs[r];
    st->done++;
    if (st->tty)
        fputs("\r\033[K", stderr);
    if (run->exit_code == CLI_OK)
        st->completed++;
    else if (run->exit_code != CLI_INTERRUPTED) {
        st->failed++;
        fprintf(stderr, "flexbed sweep: run %ld failed (exit status %d), see above\n", r + 1,
                run->exit_code);
    }
    if (st->tty) {
        fprintf(stderr, "flexbed sweep: run %ld/%ld done", st->done, st->sw->nruns);
        fflush(stderr);
    }
}

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) && (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGTERM)
               ? CLI_INTERRUPTED
               : CLI_FAIL;
}

/* Up to `jobs` runs at a time, each a child process of this one. */
static void run_local(struct sweep_state *st, long jobs)
{
    const struct sweep *sw = st->sw;
    struct sw_run *runs = st->runs;
    int running = 0, forwarded = 0;
    for (;;) {
        while (!sweep_stop && !st->start_failed && running < jobs && st->next < sw->nruns) {
            if (start_run(sw, &runs[st->next], st->next, st->dir)) {
                st->start_failed = 1;
                break;
            }
            st->next++;
            running++;
        }
        if (sweep_stop && !forwarded) {
            /* A terminal's Ctrl-C reaches the workers too; kill(1) of
             * the parent alone does not. */
            for (long r = 0; r < st->next; r++)
                if (runs[r].state == 1)
                    kill(runs[r].pid, SIGINT);
            forwarded = 1;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "flexbed sweep: waitpid: %s\n", strerror(errno));
            break;
        }
        long r = 0;
        while (r < st->next && !(runs[r].state == 1 && runs[r].pid == pid))
            r++;
        if (r == st->next)
            continue;
        struct sw_run *run = &runs[r];
        run->state = 2;
        running--;
        run->exit_code = exit_code_of(status);
        run->values = calloc((size_t)sw->no + 1, sizeof *run->values);
        if (run->values)
            collect(sw, run);
        else
            close(run->fd);
        finish_run(st, r);
    }
}

/* Rank 0: the next run for a rank that asks. */
static long mpi_next(void *ctx)
{
    struct sweep_state *st = ctx;
    if (sweep_stop || st->next >= st->sw->nruns)
        return -1;
    st->runs[st->next].state = 1;
    return st->next++;
}

/* Rank 0: a rank's run ended. */
static void mpi_result(void *ctx, long r, int code, const char *values)
{
    struct sweep_state *st = ctx;
    if (r < 0 || r >= st->sw->nruns || st->runs[r].state != 1)
        return;
    struct sw_run *run = &st->runs[r];
    run->state = 2;
    run->exit_code = code;
    run->values = calloc((size_t)st->sw->no + 1, sizeof *run->values);
    for (int i = 0; run->values && i < st->sw->no; i++) {
        size_t n = strcspn(values, "\n");
        run->values[i] = strndup(values, n);
        values += n + (values[n] == '\n');
    }
    finish_run(st, r);
}

/* Any other rank: run r as a child process, as -j does. */
static int mpi_run(void *ctx, long r, char **values)
{
    struct sweep_state *st = ctx;
    const struct sweep *sw = st->sw;
    struct sw_run run = {0};
    if (start_run(sw, &run, r, st->dir))
        return CLI_FAIL;
    int status = 0, forwarded = 0;
    while (waitpid(run.pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = -1;
            break;
        }
        if (sweep_stop && !forwarded) {
            kill(run.pid, SIGINT);
            forwarded = 1;
        }
    }
    int code = status < 0 ? CLI_FAIL : exit_code_of(status);
    run.values = calloc((size_t)sw->no + 1, sizeof *run.values);
    if (!run.values) {
        close(run.fd);
        return code;
    }
    collect(sw, &run);
    size_t len = 1;
    for (int i = 0; i < sw->no; i++)
        len += strlen(run.values[i] ? run.values[i] : "") + 1;
    char *out = malloc(len), *p = out;
    for (int i = 0; i < sw->no; i++) {
        const char *v = run.values[i] ? run.values[i] : "";
        if (p) {
            size_t n = strlen(v);
            memcpy(p, v, n);
            p[n] = '\n';
            p += n + 1;
        }
        free(run.values[i]);
    }
    if (p)
        *p = '\0';
    free(run.values);
    *values = out;
    return code;
}

/* An MPI rank other than 0: the sweep (which rank 0 has checked), then
 * runs as rank 0 hands them out. */
static int mpi_worker_rank(const char *file, const char *out_dir)
{
    struct sweep sw;
    int code = sweep_load(file, &sw);
    if (code)
        sweep_clear(&sw);
    if (!code) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", out_dir ? out_dir : "");
        if (!out_dir)
            snprintf(dir, sizeof dir, "results/%s", sw.name);
        struct sigaction sa = {0};
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        struct sweep_state st = {.sw = &sw, .dir = dir};
        struct swmpi_calls k = {.ctx = &st, .run = mpi_run};
        if (swmpi_work(&k))
            code = CLI_FAIL;
        sweep_clear(&sw);
    }
    swmpi_finalize();
    return code;
}

int cmd_sweep(int argc, char **argv)
{
    static const struct option opts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_dir = NULL;
    long jobs = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': {
            char *end;
            errno = 0;
            jobs = strtol(optarg, &end, 10);
            if (errno || *end || jobs < 1 || jobs > 1024) {
                fprintf(stderr,
                        "flexbed sweep: -j: expected a number of processes 1..1024, "
                        "got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        }
        case 'o':
            out_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(optind >= argc ? "flexbed sweep: missing SWEEP.json\n"
                             : "flexbed sweep: too many arguments\n",
              stderr);
        usage(stderr);
        return CLI_USAGE;
    }

    /* Under an MPI launcher rank 0 checks everything and hands out the
     * runs; the other ranks run them (cli/sweep_mpi.c). */
    int mpi_rank = 0, mpi_size = 1;
    if (swmpi_launched()) {
        if (swmpi_init(&mpi_rank, &mpi_size)) {
            fputs("flexbed sweep: started by an MPI launcher, but MPI_Init failed\n", stderr);
            return CLI_FAIL;
        }
        sweep_mpi = 1;
    }
    struct sweep sw;
    char dir[PATH_MAX];
    int code = CLI_OK;
    if (mpi_rank == 0) {
        if (mpi_size > 1 && jobs > 1) {
            fputs("flexbed sweep: -j: under MPI every rank runs one run at a time; start more "
                  "ranks instead\n",
                  stderr);
            code = CLI_USAGE;
        }
        if (!code) {
            code = sweep_load(argv[optind], &sw);
            if (!code)
                code = check_outputs(&sw);
            if (code)
                sweep_clear(&sw);
        }
        if (!code) {
            if (out_dir)
                snprintf(dir, sizeof dir, "%s", out_dir);
            else
                snprintf(dir, sizeof dir, "results/%s", sw.name);
            struct sim_err err = {{0}};
            if (strlen(dir) > 4000) {
                fputs("flexbed sweep: --out: the output directory's path is too long\n", stderr);
                code = CLI_USAGE;
            } else if (res_make_dirs(dir, &err)) {
                fprintf(stderr, "flexbed sweep: %s\n", err.msg);
                code = CLI_FAIL;
            }
            if (code)
                sweep_clear(&sw);
        }
    }
    if (mpi_size > 1)
        code = swmpi_bcast_int(code);
    if (code) {
        swmpi_finalize();
        return code;
    }
    if (mpi_rank > 0)
        return mpi_worker_rank(argv[optind], out_dir);
    struct sw_run *runs = calloc((size_t)sw.nruns, sizeof *runs);
    if (!runs) {
        fputs("flexbed sweep: out of memory\n", stderr);
        sweep_clear(&sw);
        return CLI_FAIL;
    }
    if (jobs > sw.nruns)
        jobs = sw.nruns;

    /* Ctrl-C: no new run starts, the running ones are told to stop. The
     * handler does not restart waitpid, so the loop sees it at once. */
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sweep_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    struct sweep_state st = {.sw = &sw, .runs = runs, .dir = dir, .tty = isatty(STDERR_FILENO)};
    int mpi_failed = 0;
    if (mpi_size > 1) {
        struct swmpi_calls k = {.ctx = &st, .next = mpi_next, .result = mpi_result};
        mpi_failed = swmpi_serve(&k, mpi_size) != 0;
        if (mpi_failed)
            fputs("flexbed sweep: MPI: lost contact with the other ranks\n", stderr);
    } else {
        run_local(&st, jobs);
    }
    if (st.tty)
        fputs("\r\033[K", stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    int nc = 0;
    char summary[PATH_MAX + 16];
    snprintf(summary, sizeof summary, "%s/summary.csv", dir);
    char ***t = make_table(&sw, runs, &nc);
    if (!t) {
        fputs("flexbed sweep: out of memory\n", stderr);
        code = CLI_FAIL;
    } else {
        print_table(t, sw.nruns + 1, nc);
        code = write_summary(summary, t, sw.nruns + 1, nc) ? CLI_FAIL : CLI_OK;
    }
    char ci[PATH_MAX + 16] = "";
    if (t && sw.mc_seeds) {
        /* the Monte Carlo table, beside the summary and on stdout */
        struct sweep_stats_shape sh = {sw.np, sw.np, sw.no, sw.mc_conf};
        snprintf(ci, sizeof ci, "%s/summary-ci.csv", dir);
        FILE *f = fopen(ci, "w");
        if (!f || sweep_stats_write(f, t, sw.nruns + 1, &sh) || fclose(f)) {
            fprintf(stderr, "flexbed sweep: %s: %s\n", ci, strerror(errno));
            code = CLI_FAIL;
        }
        printf("\nover %d seeds, %.0f %% confidence intervals of the means:\n", sw.mc_seeds,
               100.0 * sw.mc_conf);
        sweep_stats_write(stdout, t, sw.nruns + 1, &sh);
    }
    free_table(t, sw.nruns + 1, nc);
    printf("%s: %ld of %ld runs completed%s; %s%s%s\n", sw.name, st.completed, sw.nruns,
           sweep_stop ? " (interrupted)" : "", summary, *ci ? ", " : "", ci);
    if (st.failed || st.start_failed || mpi_failed)
        code = CLI_FAIL;
    if (sweep_stop)
        code = CLI_INTERRUPTED;
    for (long r = 0; r < sw.nruns; r++) {
        for (int i = 0; runs[r].values && i < sw.no; i++)
            free(runs[r].values[i]);
        free(runs[r].values);
    }
    free(runs);
    sweep_clear(&sw);
    swmpi_finalize();
    return code;
}
