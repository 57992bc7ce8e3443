/*
 * scenario.c: the strict JSON reader (scn_*) and the scenario loader.
 *
 * A scenario file is read once with cJSON. Every object in it is walked
 * through a struct scn_obj, which remembers which keys somebody asked for;
 * scn_obj_finish then reports the first key nobody consumed. That makes a
 * typo ("scael") an error that names the file and JSON path instead of a
 * silently ignored setting. Every message has the form
 *
 *     file: json.path.key: what is wrong
 *
 * and names what was expected and what was found, so a user can fix the
 * file without reading the source.
 *
 * scn_load reads the core keys (name, start, end, step, ...), creates the
 * kernel, checks every component's name and type, then hands each
 * component's object to its type's factory and each registered top-level
 * section to its handler. On any failure everything is freed.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scenario.h"

/* ------------------------------------------------------------------ */
/* Paths and messages                                                  */
/* ------------------------------------------------------------------ */

void scn_path_join(char *out, size_t n, const char *path, const char *key)
{
    if (!out || n == 0)
        return;
    if (!path)
        path = "";
    /* Built by hand, cut at n - 1 bytes: a path longer than the buffer
     * still gives a readable message. */
    size_t used = 0;
    const char *parts[3] = {path, "", key ? key : ""};
    if (*path && key && *key && key[0] != '[')
        parts[1] = ".";
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && used + 1 < n; p++)
            out[used++] = *p;
    out[used] = '\0';
}

int scn_obj_init_item(struct scn_obj *o, const struct scn_obj *parent, const char *key, int i,
                      const cJSON *item, struct sim_err *err)
{
    char base[SCN_PATH_MAX], idx[24], path[SCN_PATH_MAX];
    scn_path_join(base, sizeof base, parent->path, key);
    snprintf(idx, sizeof idx, "[%d]", i);
    scn_path_join(path, sizeof path, base, idx);
    return scn_obj_init(o, parent->file, path, item, err);
}

void scn_signal_name(const char *name, const char *local, char *out, size_t n)
{
    if (strchr(name, '.'))
        snprintf(out, n, "%s", name);
    else
        snprintf(out, n, "%s.%s", name, local);
}

static int vscn_errf(const char *file, const char *path, const char *key, struct sim_err *err,
                     const char *fmt, va_list ap)
{
    if (!err)
        return SIM_EINVAL;
    char full[SCN_PATH_MAX + 64];
    scn_path_join(full, sizeof full, path, key);
    /* Prefix first, then the message in what is left (long messages are
     * cut, never overflowed). */
    int len = *full ? snprintf(err->msg, sizeof err->msg, "%s: %s: ", file ? file : "", full)
                    : snprintf(err->msg, sizeof err->msg, "%s: ", file ? file : "");
    if (len >= 0 && (size_t)len < sizeof err->msg)
        vsnprintf(err->msg + len, sizeof err->msg - (size_t)len, fmt, ap);
    return SIM_EINVAL;
}

int scn_errf(const struct scn_obj *o, const char *key, struct sim_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vscn_errf(o ? o->file : "", o ? o->path : "", key, err, fmt, ap);
    va_end(ap);
    return rc;
}

/* How a JSON value reads in "got ..." (strings quoted and shortened). */
static void describe(const cJSON *v, char *out, size_t n)
{
    if (!v) {
        snprintf(out, n, "nothing");
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t len = strlen(s);
        if (len > 60)
            snprintf(out, n, "\"%.57s...\"", s);
        else
            snprintf(out, n, "\"%s\"", s);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, n, "%.15g", v->valuedouble);
    } else if (cJSON_IsObject(v)) {
        snprintf(out, n, "an object");
    } else if (cJSON_IsArray(v)) {
        snprintf(out, n, "an array");
    } else if (cJSON_IsTrue(v)) {
        snprintf(out, n, "true");
    } else if (cJSON_IsFalse(v)) {
        snprintf(out, n, "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(out, n, "null");
    } else {
        snprintf(out, n, "an unreadable value");
    }
}

/* "file: path.key: expected <what>, got <value>". */
static int expected(const struct scn_obj *o, const char *key, const cJSON *v, struct sim_err *err,
                    const char *what)
{
    char got[96];
    describe(v, got, sizeof got);
    return scn_errf(o, key, err, "expected %s, got %s", what, got);
}

/* ------------------------------------------------------------------ */
/* The strict reader                                                   */
/* ------------------------------------------------------------------ */

int scn_obj_init(struct scn_obj *o, const char *file, const char *path, const cJSON *json,
                 struct sim_err *err)
{
    memset(o, 0, sizeof *o);
    o->file = file ? file : "";
    snprintf(o->path, sizeof o->path, "%s", path ? path : "");
    if (!cJSON_IsObject(json))
        return expected(o, NULL, json, err, "an object");
    o->json = json;
    int n = 0;
    for (const cJSON *c = json->child; c; c = c->next, n++) {
        if (n >= SCN_MAX_KEYS)
            return scn_errf(o, NULL, err, "too many keys (at most %d)", SCN_MAX_KEYS);
        /* cJSON keeps duplicate keys; the reader would see only the first. */
        for (const cJSON *d = json->child; d != c; d = d->next)
            if (strcmp(d->string, c->string) == 0)
                return scn_errf(o, c->string, err, "duplicate key");
    }
    o->nkeys = n;
    return 0;
}

/* Find `key` and mark it consumed; NULL when absent. */
static const cJSON *lookup(struct scn_obj *o, const char *key)
{
    if (!o->json)
        return NULL;
    int i = 0;
    for (const cJSON *c = o->json->child; c && i < SCN_MAX_KEYS; c = c->next, i++)
        if (strcmp(c->string, key) == 0) {
            o->used[i] = 1;
            return c;
        }
    return NULL;
}

static int missing(const struct scn_obj *o, const char *key, struct sim_err *err)
{
    return scn_errf(o, key, err, "missing required key");
}

const cJSON *scn_take(struct scn_obj *o, const char *key)
{
    return lookup(o, key);
}

int scn_obj_finish(struct scn_obj *o, struct sim_err *err)
{
    if (!o->json)
        return 0;
    int i = 0;
    for (const cJSON *c = o->json->child; c && i < SCN_MAX_KEYS; c = c->next, i++)
        if (!o->used[i])
            return scn_errf(o, c->string, err, "unknown key");
    return 0;
}

/* "a number in [0, 1]", "a number >= 0", "a number". */
static void range_text(char *out, size_t n, double min, double max)
{
    const int has_lo = min > -HUGE_VAL, has_hi = max < HUGE_VAL;
    if (has_lo && has_hi)
        snprintf(out, n, "a number in [%.15g, %.15g]", min, max);
    else if (has_lo)
        snprintf(out, n, "a number >= %.15g", min);
    else if (has_hi)
        snprintf(out, n, "a number <= %.15g", max);
    else
        snprintf(out, n, "a number");
}

/* The same for integers, printed exactly. */
static void int_range_text(char *out, size_t n, long long min, long long max)
{
    const int has_lo = min > LLONG_MIN, has_hi = max < LLONG_MAX;
    if (has_lo && has_hi)
        snprintf(out, n, "an integer in [%lld, %lld]", min, max);
    else if (has_lo)
        snprintf(out, n, "an integer >= %lld", min);
    else if (has_hi)
        snprintf(out, n, "an integer <= %lld", max);
    else
        snprintf(out, n, "an integer");
}

int scn_number(struct scn_obj *o, const char *key, int required, double def, double min, double max,
               double *out, struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        return 0;
    }
    char what[96];
    range_text(what, sizeof what, min, max);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max))
        return expected(o, key, v, err, what);
    *out = v->valuedouble;
    return 0;
}

int scn_int(struct scn_obj *o, const char *key, int required, long long def, long long min,
            long long max, long long *out, struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        return 0;
    }
    char what[96];
    int_range_text(what, sizeof what, min, max);
    if (!cJSON_IsNumber(v))
        return expected(o, key, v, err, what);
    const double x = v->valuedouble;
    /* Integral and representable: beyond 2^63 the cast would be undefined. */
    if (x != floor(x) || x < -9.2233720368547758e18 || x >= 9.2233720368547758e18)
        return expected(o, key, v, err, what);
    const long long i = (long long)x;
    if (i < min || i > max)
        return expected(o, key, v, err, what);
    *out = i;
    return 0;
}

int scn_bool(struct scn_obj *o, const char *key, int required, int def, int *out,
             struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return expected(o, key, v, err, "true or false");
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

int scn_string(struct scn_obj *o, const char *key, int required, const char *def, const char **out,
               struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        return 0;
    }
    if (!cJSON_IsString(v))
        return expected(o, key, v, err, "a string");
    *out = v->valuestring;
    return 0;
}

int scn_enum(struct scn_obj *o, const char *key, int required, const char *const *choices, int def,
             int *out, struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        return 0;
    }
    if (cJSON_IsString(v))
        for (int i = 0; choices[i]; i++)
            if (strcmp(choices[i], v->valuestring) == 0) {
                *out = i;
                return 0;
            }
    char what[256];
    size_t len = (size_t)snprintf(what, sizeof what, "one of");
    for (int i = 0; choices[i] && len < sizeof what; i++)
        len +=
            (size_t)snprintf(what + len, sizeof what - len, "%s \"%s\"", i ? "," : "", choices[i]);
    return expected(o, key, v, err, what);
}

#define TIME_EXAMPLE "an ISO 8601 time with offset like \"2023-10-02T16:00:00+03:00\""
#define DURATION_EXAMPLE "a duration like \"15min\" (units us, ms, s, min, h, d)"

int scn_time(struct scn_obj *o, const char *key, int required, sim_time_us def, sim_time_us *out,
             int *offset_s, struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        if (offset_s)
            *offset_s = 0;
        return 0;
    }
    if (!cJSON_IsString(v) || sim_time_parse(v->valuestring, out, offset_s) != 0)
        return expected(o, key, v, err, TIME_EXAMPLE);
    return 0;
}

int scn_duration(struct scn_obj *o, const char *key, int required, sim_time_us def, sim_time_us min,
                 sim_time_us max, sim_time_us *out, struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        *out = def;
        return 0;
    }
    sim_time_us d;
    if (!cJSON_IsString(v) || sim_duration_parse(v->valuestring, &d) != 0)
        return expected(o, key, v, err, DURATION_EXAMPLE);
    if (d < min || d > max) {
        char a[32], b[32], what[96];
        sim_duration_format(min, a, sizeof a);
        sim_duration_format(max, b, sizeof b);
        if (max == SIM_TIME_NEVER || max == INT64_MAX)
            snprintf(what, sizeof what, "a duration >= %s", a);
        else
            snprintf(what, sizeof what, "a duration in [%s, %s]", a, b);
        return expected(o, key, v, err, what);
    }
    *out = d;
    return 0;
}

/* dir + "/" + rel, or rel alone when it is absolute or dir is "." / "". */
static int resolve_path(const char *dir, const char *rel, char *out, size_t n)
{
    int len;
    if (rel[0] == '/' || !dir || !*dir || strcmp(dir, ".") == 0)
        len = snprintf(out, n, "%s", rel);
    else if (dir[strlen(dir) - 1] == '/')
        len = snprintf(out, n, "%s%s", dir, rel);
    else
        len = snprintf(out, n, "%s/%s", dir, rel);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

int scn_file(struct scn_obj *o, const char *dir, const char *key, int required, char *out, size_t n,
             struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    if (!v) {
        if (required)
            return missing(o, key, err);
        if (n)
            out[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v) || !*v->valuestring)
        return expected(o, key, v, err, "a file path");
    const char *rel = v->valuestring;
    if (resolve_path(dir, rel, out, n) != 0)
        return scn_errf(o, key, err, "path \"%s\" is too long", rel);
    struct stat st;
    if (stat(out, &st) != 0)
        return scn_errf(o, key, err, "cannot read \"%s\": %s", rel, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return scn_errf(o, key, err, "cannot read \"%s\": %s", rel, strerror(EISDIR));
    if (!S_ISREG(st.st_mode)) /* a device or a pipe could be read forever */
        return scn_errf(o, key, err, "\"%s\" is not a regular file", rel);
    FILE *f = fopen(out, "rb");
    if (!f)
        return scn_errf(o, key, err, "cannot read \"%s\": %s", rel, strerror(errno));
    fclose(f);
    return 0;
}

int scn_child(struct scn_obj *o, const char *key, int required, struct scn_obj *child, int *present,
              struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    char path[SCN_PATH_MAX];
    scn_path_join(path, sizeof path, o->path, key);
    if (present)
        *present = v != NULL;
    if (!v) {
        /* An empty view: getters return defaults, finish finds nothing. */
        memset(child, 0, sizeof *child);
        child->file = o->file;
        snprintf(child->path, sizeof child->path, "%s", path);
        return required ? missing(o, key, err) : 0;
    }
    return scn_obj_init(child, o->file, path, v, err);
}

int scn_array(struct scn_obj *o, const char *key, int required, const cJSON **arr,
              struct sim_err *err)
{
    const cJSON *v = lookup(o, key);
    *arr = NULL;
    if (!v)
        return required ? missing(o, key, err) : 0;
    if (!cJSON_IsArray(v))
        return expected(o, key, v, err, "an array");
    *arr = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The loader                                                          */
/* ------------------------------------------------------------------ */

void scn_scenario_clear(struct scn_scenario *sc)
{
    if (!sc)
        return;
    free(sc->path);
    free(sc->text);
    free(sc->name);
    free(sc->description);
    for (int i = 0; i < sc->nrecord_signals; i++)
        free(sc->record_signals[i]);
    free(sc->record_signals);
    for (int i = 0; i < sc->naggregates; i++)
        free(sc->aggregates[i].signal);
    free(sc->aggregates);
    sim_tz_clear(&sc->tz);
    memset(sc, 0, sizeof *sc);
}

const char *const scn_agg_stat_names[SCN_AGG_NSTATS] = {"min",      "max",  "mean",
                                                        "integral", "last", "delta"};

/* record.aggregates[i]: {"signal", "every" (default 1d), "stats": [...]} */
static int read_aggregate(const struct scn_obj *rec, const cJSON *v, int i, sim_time_us step,
                          struct scn_aggregate *a, struct sim_err *err)
{
    struct scn_obj o;
    int rc = scn_obj_init_item(&o, rec, "aggregates", i, v, err);
    if (rc)
        return rc;
    const char *sig = NULL;
    const cJSON *stats = NULL;
    if ((rc = scn_string(&o, "signal", 1, NULL, &sig, err)) ||
        (rc = scn_duration(&o, "every", 0, 24 * SIM_US_PER_H, step, INT64_MAX, &a->every, err)) ||
        (rc = scn_array(&o, "stats", 1, &stats, err)))
        return rc;
    if (a->every % step)
        return expected(&o, "every", cJSON_GetObjectItemCaseSensitive(v, "every"), err,
                        "a multiple of step");
    int j = 0;
    for (const cJSON *st = stats->child; st; st = st->next, j++) {
        int k = 0;
        while (k < SCN_AGG_NSTATS &&
               !(cJSON_IsString(st) && !strcmp(st->valuestring, scn_agg_stat_names[k])))
            k++;
        if (k == SCN_AGG_NSTATS) {
            char sk[24];
            snprintf(sk, sizeof sk, "stats[%d]", j);
            return expected(&o, sk, st, err, "min, max, mean, integral, last or delta");
        }
        a->stats |= 1u << k;
    }
    if (!a->stats)
        return expected(&o, "stats", stats, err,
                        "at least one of min, max, mean, integral, "
                        "last, delta");
    if ((rc = scn_obj_finish(&o, err)))
        return rc;
    if (!(a->signal = strdup(sig)))
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    return 0;
}

int scn_records(const struct scn_scenario *sc, const char *name)
{
    if (!sc->record_signals)
        return 1;
    for (int i = 0; i < sc->nrecord_signals; i++)
        if (fnmatch(sc->record_signals[i], name, 0) == 0)
            return 1;
    return 0;
}

/* Whole file as a NUL-terminated string. */
static int read_text(const char *path, char **text, struct sim_err *err)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sim_errf(err, SIM_EINVAL, "%s: cannot read: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        free(buf);
        return sim_errf(err, SIM_EINVAL, "%s: cannot read: %s", path, strerror(saved));
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        return sim_errf(err, SIM_EINVAL, "%s: not a text file (contains a NUL byte)", path);
    }
    *text = buf;
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Non-empty and every character in [A-Za-z0-9] or in `extra`. */
static int valid_name(const char *s, const char *extra)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        const char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(extra, c)))
            return 0;
    }
    return 1;
}

/* "description": a string, or an array of strings joined with '\n'. */
static int read_description(struct scn_obj *root, char **out, struct sim_err *err)
{
    const cJSON *v = scn_take(root, "description");
    if (!v) {
        *out = dup_str("");
    } else if (cJSON_IsString(v)) {
        *out = dup_str(v->valuestring);
    } else if (cJSON_IsArray(v)) {
        size_t len = 0;
        int i = 0;
        for (const cJSON *line = v->child; line; line = line->next, i++) {
            if (!cJSON_IsString(line)) {
                char key[32];
                snprintf(key, sizeof key, "description[%d]", i);
                return expected(root, key, line, err, "a string");
            }
            len += strlen(line->valuestring) + 1;
        }
        *out = malloc(len + 1);
        if (*out) {
            char *p = *out;
            for (const cJSON *line = v->child; line; line = line->next) {
                size_t l = strlen(line->valuestring);
                memcpy(p, line->valuestring, l);
                p += l;
                if (line->next)
                    *p++ = '\n';
            }
            *p = '\0';
        }
    } else {
        return expected(root, "description", v, err, "a string or an array of strings");
    }
    return *out ? 0 : sim_errf(err, SIM_ENOMEM, "%s: out of memory", root->file);
}

static const struct scn_type *find_type(const struct scn_registry *reg, const char *type)
{
    for (size_t i = 0; i < reg->ntypes; i++)
        if (strcmp(reg->types[i].type, type) == 0)
            return &reg->types[i];
    return NULL;
}

static int is_section(const struct scn_registry *reg, const char *key)
{
    for (size_t i = 0; i < reg->nsections; i++)
        if (strcmp(reg->sections[i].key, key) == 0)
            return 1;
    return 0;
}

/* Check components[i]'s name and type (unique name, known type). */
static int check_component(const struct scn_registry *reg, const char *file, const cJSON *list,
                           const cJSON *item, int i, const struct scn_type **type,
                           struct sim_err *err)
{
    char path[32];
    struct scn_obj c;
    snprintf(path, sizeof path, "components[%d]", i);
    int rc = scn_obj_init(&c, file, path, item, err);
    const char *name = NULL, *tname = NULL;
    if (!rc)
        rc = scn_string(&c, "name", 1, NULL, &name, err);
    if (!rc)
        rc = scn_string(&c, "type", 1, NULL, &tname, err);
    if (rc)
        return rc;
    if (!valid_name(name, "_-"))
        return expected(&c, "name", cJSON_GetObjectItemCaseSensitive(item, "name"), err,
                        "a name of letters, digits, '_' and '-'");
    int j = 0;
    for (const cJSON *prev = list->child; prev != item; prev = prev->next, j++) {
        const cJSON *pn = cJSON_GetObjectItemCaseSensitive(prev, "name");
        if (cJSON_IsString(pn) && strcmp(pn->valuestring, name) == 0)
            return scn_errf(&c, "name", err, "\"%s\" is already the name of components[%d]", name,
                            j);
    }
    *type = find_type(reg, tname);
    if (!*type) {
        char known[256];
        size_t len = 0;
        known[0] = '\0';
        for (size_t t = 0; t < reg->ntypes && len < sizeof known; t++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", t ? ", " : "",
                                    reg->types[t].type);
        return scn_errf(&c, "type", err, "unknown type \"%s\" (known types: %s)", tname,
                        reg->ntypes ? known : "none");
    }
    return 0;
}

/* The seed is read as a JSON number, exact up to 2^53. */
#define SEED_MAX (INT64_C(1) << 53)

/* scn_load and scn_load_text: the text is read from path when text_in is
 * NULL; relative paths resolve against dir_in, or path's directory when
 * dir_in is NULL. */
static int load(const char *path, const char *text_in, const char *dir_in,
                const struct scn_registry *reg, const uint64_t *seed_override, void *user,
                sim_kernel **k, struct scn_scenario *sc, struct sim_err *err)
{
    sim_kernel *kern = NULL;
    cJSON *doc = NULL;
    char *dir = NULL;
    int rc;
    static const struct scn_registry empty_reg = {0};
    if (!reg)
        reg = &empty_reg;

    *k = NULL;
    memset(sc, 0, sizeof *sc);
    sc->path = dup_str(path);
    if (!sc->path)
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
    if (text_in) {
        if (!(sc->text = dup_str(text_in))) {
            rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
    } else if ((rc = read_text(path, &sc->text, err)) != 0) {
        goto fail;
    }

    /* Parse; on failure cJSON points at the offending byte. */
    const char *end = NULL;
    doc = cJSON_ParseWithOpts(sc->text, &end, 1);
    if (!doc) {
        int line = 1, col = 1;
        const char *stop = end ? end : sc->text;
        for (const char *p = sc->text; *p && p < stop; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        rc = sim_errf(err, SIM_EINVAL, "%s: line %d, column %d: invalid JSON", path, line, col);
        goto fail;
    }

    /* The scenario's directory, for relative paths. */
    const char *slash = strrchr(path, '/');
    if (dir_in)
        dir = dup_str(*dir_in ? dir_in : ".");
    else if (!slash)
        dir = dup_str(".");
    else if (slash == path)
        dir = dup_str("/");
    else if ((dir = malloc((size_t)(slash - path) + 1)) != NULL) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    if (!dir) {
        rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
        goto fail;
    }

    struct scn_obj root;
    rc = scn_obj_init(&root, path, "", doc, err);
    if (rc)
        goto fail;

    /* Core keys. */
    const char *name;
    rc = scn_string(&root, "name", 1, NULL, &name, err);
    if (rc)
        goto fail;
    if (!valid_name(name, "_.-")) {
        rc = expected(&root, "name", cJSON_GetObjectItemCaseSensitive(doc, "name"), err,
                      "a name of letters, digits, '_', '.' and '-'");
        goto fail;
    }
    if (!(sc->name = dup_str(name))) {
        rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((rc = read_description(&root, &sc->description, err)) != 0)
        goto fail;
    if ((rc = scn_time(&root, "start", 1, 0, &sc->start, &sc->utc_offset_s, err)) != 0 ||
        (rc = scn_time(&root, "end", 1, 0, &sc->end, NULL, err)) != 0)
        goto fail;
    if (sc->end <= sc->start) {
        char t0[48];
        sim_time_format(sc->start, sc->utc_offset_s, t0, sizeof t0);
        rc = expected(&root, "end", cJSON_GetObjectItemCaseSensitive(doc, "end"), err,
                      "a time after start");
        /* Say which start was meant: append it. */
        size_t len = strlen(err ? err->msg : "");
        if (err && len < sizeof err->msg)
            snprintf(err->msg + len, sizeof err->msg - len, " (start is %s)", t0);
        goto fail;
    }
    if ((rc = scn_duration(&root, "step", 0, SIM_US_PER_MIN, 1, INT64_MAX, &sc->step, err)) != 0)
        goto fail;
    /* The calendar: an IANA zone, whose offset at start must be start's
     * (so the file says one local time), or start's fixed offset. */
    const char *zone = NULL;
    if ((rc = scn_string(&root, "time_zone", 0, NULL, &zone, err)) != 0)
        goto fail;
    if (zone) {
        struct sim_err e2;
        if (sim_tz_load(&sc->tz, zone, sc->start, sc->end, &e2)) {
            rc = scn_errf(&root, "time_zone", err, "%s", e2.msg);
            goto fail;
        }
        int off = sim_tz_offset(&sc->tz, sc->start);
        if (off != sc->utc_offset_s) {
            char t0[48];
            sim_time_format(sc->start, off, t0, sizeof t0);
            rc = scn_errf(&root, "start", err,
                          "its UTC offset is not that of time_zone \"%s\" at that instant "
                          "(%s there)",
                          zone, t0);
            goto fail;
        }
    } else if ((rc = sim_tz_fixed(&sc->tz, sc->utc_offset_s, err)) != 0) {
        goto fail;
    }
    long long seed;
    if ((rc = scn_int(&root, "seed", 0, 1, 0, SEED_MAX, &seed, err)) != 0)
        goto fail;
    sc->seed = seed_override ? *seed_override : (uint64_t)seed;

    struct scn_obj rec;
    const cJSON *rsig = NULL, *ragg = NULL;
    if ((rc = scn_child(&root, "record", 0, &rec, NULL, err)) != 0 ||
        (rc = scn_duration(&rec, "period", 0, sc->step, 1, INT64_MAX, &sc->record_period, err)) !=
            0 ||
        (rc = scn_array(&rec, "signals", 0, &rsig, err)) != 0 ||
        (rc = scn_array(&rec, "aggregates", 0, &ragg, err)) != 0 ||
        (rc = scn_obj_finish(&rec, err)) != 0)
        goto fail;
    if (ragg) {
        int n = cJSON_GetArraySize(ragg);
        if (n > 0 && !(sc->aggregates = calloc((size_t)n, sizeof *sc->aggregates))) {
            rc = sim_errf(err, SIM_ENOMEM, "out of memory");
            goto fail;
        }
        int i = 0;
        for (const cJSON *v = ragg->child; v; v = v->next, i++) {
            if ((rc = read_aggregate(&rec, v, i, sc->step, &sc->aggregates[i], err)) != 0)
                goto fail;
            sc->naggregates = i + 1;
        }
    }
    if (rsig) {
        int n = cJSON_GetArraySize(rsig);
        if (n == 0) {
            rc = expected(&rec, "signals", rsig, err,
                          "a non-empty array of signal names or patterns (leave it out to record "
                          "every signal)");
            goto fail;
        }
        if (!(sc->record_signals = calloc((size_t)n, sizeof *sc->record_signals))) {
            rc = sim_errf(err, SIM_ENOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            const cJSON *v = cJSON_GetArrayItem(rsig, i);
            if (!cJSON_IsString(v) || !*v->valuestring) {
                char key[32];
                snprintf(key, sizeof key, "signals[%d]", i);
                rc =
                    expected(&rec, key, v, err, "a signal name or glob pattern (\"feeder*.p_kw\")");
                goto fail;
            }
            if (!(sc->record_signals[i] = strdup(v->valuestring))) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                goto fail;
            }
            sc->nrecord_signals = i + 1;
        }
    }
    if (sc->record_period % sc->step != 0) {
        char st[32], what[64];
        sim_duration_format(sc->step, st, sizeof st);
        snprintf(what, sizeof what, "a multiple of step (%s)", st);
        rc = expected(&rec, "period", cJSON_GetObjectItemCaseSensitive(rec.json, "period"), err,
                      what);
        goto fail;
    }

    const cJSON *comps;
    if ((rc = scn_array(&root, "components", 1, &comps, err)) != 0)
        goto fail;

    /* Unknown top-level keys before any factory runs: a typo at the top
     * should not hide behind a component's complaint. */
    {
        int i = 0;
        for (const cJSON *c = doc->child; c; c = c->next, i++)
            if (!root.used[i] && !is_section(reg, c->string)) {
                rc = scn_errf(&root, c->string, err, "unknown key");
                goto fail;
            }
    }

    /* Names and types of all components first, so that a duplicate or an
     * unknown type is reported before any factory complains. */
    {
        int i = 0;
        for (const cJSON *item = comps->child; item; item = item->next, i++) {
            const struct scn_type *t;
            if ((rc = check_component(reg, path, comps, item, i, &t, err)) != 0)
                goto fail;
        }
    }

    kern = sim_kernel_new(&(struct sim_config){sc->start, sc->end, sc->seed});
    if (!kern) {
        rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    struct scn_ctx ctx = {path, dir, kern, sc, user};

    int i = 0;
    for (const cJSON *item = comps->child; item; item = item->next, i++) {
        char cpath[32];
        struct scn_obj c;
        snprintf(cpath, sizeof cpath, "components[%d]", i);
        if ((rc = scn_obj_init(&c, path, cpath, item, err)) != 0)
            goto fail;
        const cJSON *nm = scn_take(&c, "name");
        const struct scn_type *t = find_type(reg, scn_take(&c, "type")->valuestring);
        rc = t->create(&ctx, &c, nm->valuestring, err);
        /* The factory must finish; doing it again is harmless and catches
         * one that forgot. */
        if (!rc)
            rc = scn_obj_finish(&c, err);
        if (rc) {
            if (rc > 0) /* a factory returning a positive code is a bug; keep it an error */
                rc = SIM_EINVAL;
            goto fail;
        }
    }

    /* Registered sections, in registry order, when present. */
    for (size_t s = 0; s < reg->nsections; s++) {
        struct scn_obj sec;
        int present;
        if ((rc = scn_child(&root, reg->sections[s].key, 0, &sec, &present, err)) != 0)
            goto fail;
        if (!present)
            continue;
        if ((rc = reg->sections[s].load(&ctx, &sec, err)) != 0 ||
            (rc = scn_obj_finish(&sec, err)) != 0)
            goto fail;
    }
    if ((rc = scn_obj_finish(&root, err)) != 0)
        goto fail;

    cJSON_Delete(doc);
    free(dir);
    *k = kern;
    return 0;

fail:
    sim_kernel_free(kern);
    cJSON_Delete(doc);
    free(dir);
    scn_scenario_clear(sc);
    return rc < 0 ? rc : SIM_EINVAL;
}

int scn_load(const char *path, const struct scn_registry *reg, const uint64_t *seed_override,
             void *user, sim_kernel **k, struct scn_scenario *sc, struct sim_err *err)
{
    return load(path, NULL, NULL, reg, seed_override, user, k, sc, err);
}

int scn_load_text(const char *text, const char *path, const char *dir,
                  const struct scn_registry *reg, const uint64_t *seed_override, void *user,
                  sim_kernel **k, struct scn_scenario *sc, struct sim_err *err)
{
    if (!text || !path) {
        *k = NULL;
        memset(sc, 0, sizeof *sc);
        return sim_errf(err, SIM_EINVAL, "scenario: no text or no name");
    }
    return load(path, text, dir, reg, seed_override, user, k, sc, err);
}
