/*
 * dss_parse.c: the subset of OpenDSS's scripting language the feeder
 * library understands.
 *
 * Enough to read a distribution feeder such as the IEEE European LV Test
 * Feeder from its own Master.dss: Clear, New/Edit/More ('~')/BatchEdit of
 * Circuit (Vsource), LineCode, Line, Load, LoadShape and Transformer,
 * Redirect/Compile, Set voltagebases/basefrequency/loadmult, Calcvoltagebases
 * and Solve (markers). Comments: '!', '//' and slash-star blocks.
 *
 * The rule that keeps results honest: a command or property that only
 * shapes output (monitors, meters, plots, reports, solution mode) is
 * skipped with one warning; anything else we do not model is an error
 * naming file and line, never silently ignored. Commands and property
 * names match OpenDSS's way: case-insensitive, exact name or unique prefix;
 * properties may also be positional in OpenDSS's property order.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "feeder_impl.h"

#define MAX_TOKENS 256
#define MAX_DEPTH 16

enum {
    CL_NONE,
    CL_SKIP,
    CL_CIRCUIT,
    CL_VSOURCE,
    CL_LINECODE,
    CL_LINE,
    CL_LOAD,
    CL_SHAPE,
    CL_XFMR,
    CL_REACTOR,
    CL_WIRE,
    CL_GEOM,
    CL_CAP,
    CL_REG,
    CL_XFCODE,
    CL_CAPCTRL,
    CL_SWT,
    CL_GEN, /* Generator, PVSystem, Storage: fixed injections in loads */
    CL_PV,
    CL_STOR,
    CL_CN,      /* CNData: concentric-neutral cables, kept in wires */
    CL_SPACING, /* LineSpacing: positions only, kept in geoms */
    CL_TS       /* TSData: tape-shielded cables, kept in wires */
};

struct tok {
    char *name; /* NULL for a positional value */
    char *value;
};

struct pctx {
    fdr_circuit *c;
    struct fdr_warnings *warn;
    struct sim_err *err;
    int depth;
    int file, line;
    char dir[PATH_MAX];     /* folder of the file being read, for relative names */
    int act_class, act_idx; /* object that '~' / More edits */
    int act_lastprop;       /* for positional properties */
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static int perr(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct pctx *p, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sim_errf(p->err, SIM_EINVAL, "%s:%d: %s", p->c->files[p->file], p->line, buf);
}

static void pwarn(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pwarn(struct pctx *p, const char *fmt, ...)
{
    struct fdr_warnings *w = p->warn;
    if (!w)
        return;
    char buf[400], line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s:%d: %s", p->c->files[p->file], p->line, buf);
    if (w->count == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 16;
        char **nm = realloc(w->msg, ncap * sizeof *nm);
        if (!nm)
            return; /* a lost warning is not worth failing the load */
        w->msg = nm;
        w->cap = ncap;
    }
    char *s = strdup(line);
    if (s)
        w->msg[w->count++] = s;
}

void fdr_warnings_free(struct fdr_warnings *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++)
        free(w->msg[i]);
    free(w->msg);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------------ */
/* Tokens and values                                                   */
/* ------------------------------------------------------------------ */

static int is_delim(char ch)
{
    return ch == ' ' || ch == '\t' || ch == ',' || ch == '=';
}

static char closing(char ch)
{
    switch (ch) {
    case '"':
        return '"';
    case '\'':
        return '\'';
    case '(':
        return ')';
    case '[':
        return ']';
    case '{':
        return '}';
    default:
        return 0;
    }
}

/* Read one word at *s: a quoted / bracketed group (delimiters stripped) or
 * a run up to a delimiter. Leaves *s at the char after the word and *end at
 * the char to overwrite with the terminator. */
static char *read_word(char **s, char **end, int *unbalanced)
{
    char *w = *s;
    char close = closing(*w);
    if (close) {
        char open = *w;
        int depth = 1;
        char *q = w + 1;
        for (; *q; q++) {
            if (*q == close && --depth == 0)
                break;
            if (*q == open && open != close)
                depth++;
        }
        if (!*q) {
            *unbalanced = 1;
            *end = q;
            *s = q;
            return w + 1;
        }
        *end = q;
        *s = q + 1;
        return w + 1;
    }
    char *q = w;
    while (*q && !is_delim(*q))
        q++;
    *end = q;
    *s = q;
    return w;
}

/* Split a command line into name=value pairs and positional values. */
static int tokenize(struct pctx *p, char *s, struct tok *t, int max, int *n)
{
    int k = 0, unbalanced = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        if (k == max)
            return perr(p, "too many parameters on one command (max %d)", max);
        if (*s == '=')
            return perr(p, "'=' without a property name");
        char *end;
        char *w = read_word(&s, &end, &unbalanced);
        if (unbalanced)
            return perr(p, "unbalanced quote or bracket");
        char *q = s;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '=') {
            *end = '\0';
            q++;
            while (*q == ' ' || *q == '\t')
                q++;
            s = q;
            char *vend;
            char *v = "";
            if (*s && *s != ',') {
                v = read_word(&s, &vend, &unbalanced);
                if (unbalanced)
                    return perr(p, "unbalanced quote or bracket");
                if (s == vend && *s)
                    s++; /* past the delimiter we are about to overwrite */
                *vend = '\0';
            }
            t[k].name = w;
            t[k].value = v;
        } else {
            if (s == end && *s)
                s++;
            *end = '\0';
            t[k].name = NULL;
            t[k].value = w;
        }
        k++;
    }
    *n = k;
    return 0;
}

/* Index of `name` in `list` (NULL-terminated): exact match, else unique
 * prefix. -1 unknown, -2 ambiguous. */
static int match_name(const char *const *list, const char *name)
{
    size_t len = strlen(name);
    int found = -1;
    if (!len)
        return -1;
    for (int i = 0; list[i]; i++)
        if (!strcasecmp(list[i], name))
            return i;
    for (int i = 0; list[i]; i++) {
        if (!strncasecmp(list[i], name, len)) {
            if (found >= 0)
                return -2;
            found = i;
        }
    }
    return found;
}

/*
 * OpenDSS's inline math: a value in parentheses, e.g. Tap=(0.00625 12 * 1
 * +), where a single number is expected, is a reverse-Polish expression: numbers are pushed,
 * operators pop their operands (+ - * / ^, sqr sqrt inv ln exp log10, pi; trigonometry in degrees
 * as OpenDSS: sin cos tan asin acos atan, atan2). Returns 1 and the value when v is such an
 * expression, 0 when it is not one, -1 with the reason in why when it is a bad one.
 */
static int rpn_eval(const char *v, double *out, char *why, size_t nwhy)
{
    /* The tokenizer has taken the parentheses off: an expression is a
     * value of several words. A single word is a number or nothing. */
    while (*v == ' ' || *v == '\t' || *v == '(')
        v++;
    if (!strpbrk(v, " \t,"))
        return 0;
    const char *close = v + strlen(v);
    while (close > v && (close[-1] == ' ' || close[-1] == '\t' || close[-1] == ')'))
        close--;
    double st[32];
    int n = 0;
    const double deg = M_PI / 180.0;
    for (const char *q = v; q < close;) {
        while (q < close && (*q == ' ' || *q == '\t' || *q == ','))
            q++;
        if (q >= close)
            break;
        size_t len = 0;
        while (q + len < close && q[len] != ' ' && q[len] != '\t' && q[len] != ',')
            len++;
        char tok[32];
        if (len >= sizeof tok) {
            snprintf(why, nwhy, "'%.*s' is too long", (int)len, q);
            return -1;
        }
        memcpy(tok, q, len);
        tok[len] = '\0';
        q += len;
        char *end;
        double d = strtod(tok, &end);
        if (end != tok && !*end) {
            if (n == 32) {
                snprintf(why, nwhy, "more than 32 values");
                return -1;
            }
            st[n++] = d;
            continue;
        }
        static const char *const bin[] = {"+", "-", "*", "/", "^", "atan2", NULL};
        static const char *const un[] = {"sqr", "sqrt", "inv",  "ln",   "exp",  "log10", "sin",
                                         "cos", "tan",  "asin", "acos", "atan", NULL};
        int b = -1, u = -1;
        for (int i = 0; bin[i]; i++)
            if (!strcasecmp(tok, bin[i]))
                b = i;
        for (int i = 0; un[i]; i++)
            if (!strcasecmp(tok, un[i]))
                u = i;
        if (!strcasecmp(tok, "pi")) {
            if (n == 32) {
                snprintf(why, nwhy, "more than 32 values");
                return -1;
            }
            st[n++] = M_PI;
        } else if (b >= 0) {
            if (n < 2) {
                snprintf(why, nwhy, "'%s' needs two values before it", tok);
                return -1;
            }
            double y = st[--n], x = st[n - 1], r;
            switch (b) {
            case 0:
                r = x + y;
                break;
            case 1:
                r = x - y;
                break;
            case 2:
                r = x * y;
                break;
            case 3:
                r = x / y;
                break;
            case 4:
                r = pow(x, y);
                break;
            default:
                r = atan2(x, y) / deg;
                break;
            }
            st[n - 1] = r;
        } else if (u >= 0) {
            if (n < 1) {
                snprintf(why, nwhy, "'%s' needs a value before it", tok);
                return -1;
            }
            double x = st[n - 1], r;
            switch (u) {
            case 0:
                r = x * x;
                break;
            case 1:
                r = sqrt(x);
                break;
            case 2:
                r = 1.0 / x;
                break;
            case 3:
                r = log(x);
                break;
            case 4:
                r = exp(x);
                break;
            case 5:
                r = log10(x);
                break;
            case 6:
                r = sin(x * deg);
                break;
            case 7:
                r = cos(x * deg);
                break;
            case 8:
                r = tan(x * deg);
                break;
            case 9:
                r = asin(x) / deg;
                break;
            case 10:
                r = acos(x) / deg;
                break;
            default:
                r = atan(x) / deg;
                break;
            }
            st[n - 1] = r;
        } else {
            snprintf(why, nwhy, "'%s' is not a number or an operator", tok);
            return -1;
        }
    }
    if (n != 1) {
        snprintf(why, nwhy, "%s", n ? "more values than operators" : "no value");
        return -1;
    }
    if (!isfinite(st[0])) {
        snprintf(why, nwhy, "the result is not a finite number");
        return -1;
    }
    *out = st[0];
    return 1;
}

static int get_num(struct pctx *p, const char *prop, const char *v, double *out)
{
    char why[96];
    int r = rpn_eval(v, out, why, sizeof why);
    if (r < 0)
        return perr(p, "%s: '%s': %s", prop, v, why);
    if (r > 0)
        return 0;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == v || *end || errno || !isfinite(d))
        return perr(p, "%s: '%s' is not a number", prop, v);
    *out = d;
    return 0;
}

static int get_int(struct pctx *p, const char *prop, const char *v, int *out)
{
    double d = 0;
    int rc = get_num(p, prop, v, &d);
    if (rc)
        return rc;
    if (d != floor(d) || fabs(d) > 1e9)
        return perr(p, "%s: '%s' is not an integer", prop, v);
    *out = (int)d;
    return 0;
}

static int get_bool(struct pctx *p, const char *prop, const char *v, int *out)
{
    char ch = (char)tolower((unsigned char)v[0]);
    if (ch == 'y' || ch == 't' || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (ch == 'n' || ch == 'f' || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return perr(p, "%s: '%s' is not yes/no", prop, v);
}

/* Split a list value ("11 .416", "0.2,0.2", "1 | 0.5 1") into items in
 * place. */
static int split_list(char *v, char **items, int max)
{
    int n = 0;
    for (;;) {
        while (*v == ' ' || *v == '\t' || *v == ',' || *v == '|')
            v++;
        if (!*v)
            break;
        if (n == max)
            return -1;
        items[n++] = v;
        while (*v && *v != ' ' && *v != '\t' && *v != ',' && *v != '|')
            v++;
        if (*v)
            *v++ = '\0';
    }
    return n;
}

static int get_nums(struct pctx *p, const char *prop, const char *v, double *out, int max, int *n)
{
    char buf[1024];
    char *items[64];
    if (strlen(v) >= sizeof buf)
        return perr(p, "%s: list too long", prop);
    strcpy(buf, v);
    int k = split_list(buf, items, max < 64 ? max : 64);
    if (k < 0)
        return perr(p, "%s: more than %d values", prop, max);
    for (int i = 0; i < k; i++) {
        int rc = get_num(p, prop, items[i], &out[i]);
        if (rc)
            return rc;
    }
    *n = k;
    return 0;
}

static int get_units(struct pctx *p, const char *prop, const char *v, int *out)
{
    static const char *const names[] = {"none", "mi", "kft", "km", "m",
                                        "ft",   "in", "cm",  "mm", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcasecmp(v, names[i])) {
            *out = i;
            return 0;
        }
    if (!strcasecmp(v, "meter") || !strcasecmp(v, "meters")) {
        *out = FDR_U_M;
        return 0;
    }
    return perr(p, "%s: unknown length unit '%s'", prop, v);
}

static int get_conn(struct pctx *p, const char *prop, const char *v, int *out)
{
    if (!strcasecmp(v, "wye") || !strcasecmp(v, "y") || !strcasecmp(v, "ln") ||
        !strcasecmp(v, "star")) {
        *out = FDR_WYE;
        return 0;
    }
    if (!strcasecmp(v, "delta") || !strcasecmp(v, "d") || !strcasecmp(v, "ll")) {
        *out = FDR_DELTA;
        return 0;
    }
    return perr(p, "%s: unknown connection '%s'", prop, v);
}

static int copy_name(struct pctx *p, char *dst, size_t n, const char *src, const char *what)
{
    if (strlen(src) >= n)
        return perr(p, "%s '%s' is too long (max %zu chars)", what, src, n - 1);
    strcpy(dst, src);
    return 0;
}

/* Path of `rel` relative to the current file's directory; backslashes are
 * read as separators (files written on Windows). */
/* OpenDSS's files come from Windows, where names match in any case
 * ("redirect IEEELineCodes.dss" for IEEELineCodes.DSS): where a path does
 * not exist as written, each component that does not is looked up in its
 * directory case-insensitively (the first match). */
static void match_case(char *path, size_t n)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return;
    char out[PATH_MAX];
    size_t ol = 0;
    const char *s = path;
    if (*s == '/') {
        out[ol++] = '/';
        s++;
    }
    out[ol] = '\0';
    while (*s) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char comp[256];
        if (len >= sizeof comp || ol + len + 2 >= sizeof out)
            return;
        memcpy(comp, s, len);
        comp[len] = '\0';
        char cand[PATH_MAX];
        memcpy(cand, out, ol);
        memcpy(cand + ol, comp, len + 1); /* ol + len + 2 < PATH_MAX: checked above */
        if (stat(cand, &st) != 0) {
            DIR *d = opendir(ol ? out : ".");
            struct dirent *de;
            while (d && (de = readdir(d)) != NULL)
                if (!strcasecmp(de->d_name, comp) && strlen(de->d_name) == len) {
                    memcpy(comp, de->d_name, len);
                    break;
                }
            if (d)
                closedir(d);
        }
        memcpy(out + ol, comp, len);
        ol += len;
        if (e)
            out[ol++] = '/';
        out[ol] = '\0';
        s = e ? e + 1 : s + len;
    }
    if (stat(out, &st) == 0 && strlen(out) < n)
        memcpy(path, out, strlen(out) + 1);
}

static int resolve_path(struct pctx *p, const char *rel, char *out, size_t n)
{
    char tmp[PATH_MAX];
    if (strlen(rel) >= sizeof tmp)
        return perr(p, "path too long");
    strcpy(tmp, rel);
    for (char *q = tmp; *q; q++)
        if (*q == '\\')
            *q = '/';
    int w;
    if (tmp[0] == '/' || !p->dir[0])
        w = snprintf(out, n, "%s", tmp);
    else
        w = snprintf(out, n, "%s/%s", p->dir, tmp);
    if (w < 0 || (size_t)w >= n)
        return perr(p, "path too long");
    match_case(out, n);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Growing arrays                                                      */
/* ------------------------------------------------------------------ */

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 32;
    while (ncap < need)
        ncap *= 2;
    void *na = realloc(*arr, (size_t)ncap * elem);
    if (!na)
        return SIM_ENOMEM;
    memset((char *)na + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *arr = na;
    *cap = ncap;
    return 0;
}

static int add_file(fdr_circuit *c, const char *path)
{
    if (grow((void **)&c->files, &c->files_cap, c->nfiles + 1, sizeof *c->files))
        return SIM_ENOMEM;
    c->files[c->nfiles] = strdup(path);
    if (!c->files[c->nfiles])
        return SIM_ENOMEM;
    return c->nfiles++;
}

/* ------------------------------------------------------------------ */
/* Element defaults                                                    */
/* ------------------------------------------------------------------ */

static void zdef_default(struct fdr_zdef *z)
{
    /* OpenDSS's default line: per kft, 336 MCM ACSR-like. */
    memset(z, 0, sizeof *z);
    z->nph = 3;
    z->units = FDR_U_NONE;
    z->r1 = 0.058;
    z->x1 = 0.1206;
    z->r0 = 0.1784;
    z->x0 = 0.4047;
    z->c1_nf = 3.4;
    z->c0_nf = 1.6;
}

static void vsource_default(struct fdr_vsource *v, const char *name)
{
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    strcpy(v->bus, "sourcebus");
    v->phases = 3;
    v->zspec = 1;
    v->basekv = 115.0;
    v->pu = 1.0;
    v->mvasc3 = 2000.0;
    v->mvasc1 = 2100.0;
    v->isc3 = 10000.0;
    v->isc1 = 10500.0;
    v->x1r1 = 4.0;
    v->x0r0 = 3.0;
    v->r1 = 1.65;
    v->x1 = 6.6;
    v->r0 = 1.9;
    v->x0 = 5.7;
}

static void load_default(struct fdr_loaddef *l)
{
    memset(l, 0, sizeof *l);
    l->phases = 3;
    l->conn = FDR_WYE;
    l->model = 1;
    l->kv = 12.47;
    l->kw = 10.0;
    l->pf = 0.88;
    l->q_from_pf = 1;
    l->vminpu = 0.95;
    l->vmaxpu = 1.05; /* OpenDSS's default */
    l->yearly = l->daily = -1;
    l->cvrwatts = 1.0; /* model 4's exponents, OpenDSS's defaults */
    l->cvrvars = 2.0;
}

static void xfmr_default(struct fdr_xfmrdef *x)
{
    memset(x, 0, sizeof *x);
    x->phases = 3;
    x->nw = 2;
    x->xhl_pct = 7.0;
    x->xht_pct = 35.0; /* OpenDSS's defaults */
    x->xlt_pct = 30.0;
    x->ppm = 1.0;
    for (int i = 0; i < 3; i++) {
        x->w[i].conn = FDR_WYE;
        x->w[i].kv = 12.47;
        x->w[i].kva = 1000.0;
        x->w[i].r_pct = 0.2;
        x->w[i].tap = 1.0;
        x->w[i].maxtap = 1.1;
        x->w[i].mintap = 0.9;
        x->w[i].numtaps = 32;
    }
}

/* ------------------------------------------------------------------ */
/* Property tables (OpenDSS property order, so positional values work) */
/* ------------------------------------------------------------------ */

static const char *const vsrc_props[] = {
    "bus1",     "basekv",   "pu",     "angle", "frequency", "phases", "mvasc3",   "mvasc1",
    "x1r1",     "x0r0",     "isc3",   "isc1",  "r1",        "x1",     "r0",       "x0",
    "scantype", "sequence", "bus2",   "z1",    "z0",        "z2",     "puz1",     "puz0",
    "puz2",     "basemva",  "yearly", "daily", "duty",      "model",  "puzideal", "spectrum",
    "basefreq", "enabled",  "like",   NULL};
enum {
    VS_BUS1,
    VS_BASEKV,
    VS_PU,
    VS_ANGLE,
    VS_FREQ,
    VS_PHASES,
    VS_MVASC3,
    VS_MVASC1,
    VS_X1R1,
    VS_X0R0,
    VS_ISC3,
    VS_ISC1,
    VS_R1,
    VS_X1,
    VS_R0,
    VS_X0,
    VS_SCANTYPE,
    VS_SEQUENCE,
    VS_BUS2,
    VS_SPECTRUM = 31,
    VS_BASEFREQ,
    VS_ENABLED,
    VS_LIKE
};

static const char *const code_props[] = {
    "nphases", "r1",      "x1",       "r0",       "x0",       "c1",        "c0",        "units",
    "rmatrix", "xmatrix", "cmatrix",  "basefreq", "normamps", "emergamps", "faultrate", "pctperm",
    "repair",  "kron",    "rg",       "xg",       "rho",      "neutral",   "b1",        "b0",
    "seasons", "ratings", "linetype", "like",     NULL};
enum {
    LC_NPH,
    LC_R1,
    LC_X1,
    LC_R0,
    LC_X0,
    LC_C1,
    LC_C0,
    LC_UNITS,
    LC_RM,
    LC_XM,
    LC_CM,
    LC_BASEFREQ,
    LC_NORMAMPS,
    LC_EMERGAMPS,
    LC_FAULTRATE,
    LC_PCTPERM,
    LC_REPAIR,
    LC_KRON,
    LC_RG,
    LC_XG,
    LC_RHO,
    LC_NEUTRAL,
    LC_B1,
    LC_B0,
    LC_SEASONS,
    LC_RATINGS,
    LC_LINETYPE,
    LC_LIKE
};

static const char *const line_props[] = {
    "bus1",     "bus2",       "linecode", "length",    "phases",    "r1",      "x1",
    "r0",       "x0",         "c1",       "c0",        "rmatrix",   "xmatrix", "cmatrix",
    "switch",   "rg",         "xg",       "rho",       "geometry",  "units",   "spacing",
    "wires",    "earthmodel", "cncables", "tscables",  "b1",        "b0",      "seasons",
    "ratings",  "linetype",   "normamps", "emergamps", "faultrate", "pctperm", "repair",
    "basefreq", "enabled",    "like",     NULL};
enum {
    LN_BUS1,
    LN_BUS2,
    LN_CODE,
    LN_LENGTH,
    LN_PHASES,
    LN_R1,
    LN_X1,
    LN_R0,
    LN_X0,
    LN_C1,
    LN_C0,
    LN_RM,
    LN_XM,
    LN_CM,
    LN_SWITCH,
    LN_RG,
    LN_XG,
    LN_RHO,
    LN_GEOMETRY,
    LN_UNITS,
    LN_SPACING,
    LN_WIRES,
    LN_EARTHMODEL,
    LN_CNCABLES,
    LN_TSCABLES,
    LN_B1,
    LN_B0,
    LN_SEASONS,
    LN_RATINGS,
    LN_LINETYPE,
    LN_NORMAMPS,
    LN_EMERGAMPS,
    LN_FAULTRATE,
    LN_PCTPERM,
    LN_REPAIR,
    LN_BASEFREQ,
    LN_ENABLED,
    LN_LIKE
};

static const char *const load_props[] = {"bus1",      "phases",
                                         "kv",        "kw",
                                         "pf",        "model",
                                         "yearly",    "daily",
                                         "duty",      "growth",
                                         "conn",      "kvar",
                                         "rneut",     "xneut",
                                         "status",    "class",
                                         "vminpu",    "vmaxpu",
                                         "vminnorm",  "vminemerg",
                                         "xfkva",     "allocationfactor",
                                         "kva",       "%mean",
                                         "%stddev",   "cvrwatts",
                                         "cvrvars",   "kwh",
                                         "kwhdays",   "cfactor",
                                         "cvrcurve",  "numcust",
                                         "zipv",      "%seriesrl",
                                         "relweight", "vlowpu",
                                         "puxharm",   "xrharm",
                                         "spectrum",  "basefreq",
                                         "enabled",   "like",
                                         NULL};
enum {
    LD_BUS1,
    LD_PHASES,
    LD_KV,
    LD_KW,
    LD_PF,
    LD_MODEL,
    LD_YEARLY,
    LD_DAILY,
    LD_DUTY,
    LD_GROWTH,
    LD_CONN,
    LD_KVAR,
    LD_RNEUT,
    LD_XNEUT,
    LD_STATUS,
    LD_CLASS,
    LD_VMINPU,
    LD_VMAXPU,
    LD_VMINNORM,
    LD_VMINEMERG,
    LD_XFKVA,
    LD_ALLOC,
    LD_KVA,
    LD_MEAN,
    LD_STDDEV,
    LD_CVRW,
    LD_CVRV,
    LD_KWH,
    LD_KWHDAYS,
    LD_CFACTOR,
    LD_CVRCURVE,
    LD_NUMCUST,
    LD_ZIPV,
    LD_SERIESRL,
    LD_RELWEIGHT,
    LD_VLOWPU,
    LD_PUXHARM,
    LD_XRHARM,
    LD_SPECTRUM,
    LD_BASEFREQ,
    LD_ENABLED,
    LD_LIKE
};

static const char *const shape_props[] = {
    "npts",    "interval",  "mult",          "hour",      "mean",  "stddev",
    "csvfile", "sngfile",   "dblfile",       "action",    "qmult", "useactual",
    "pmax",    "qmax",      "sinterval",     "minterval", "pbase", "qbase",
    "pmult",   "pqcsvfile", "memorymapping", "like",      NULL};
enum {
    SH_NPTS,
    SH_INTERVAL,
    SH_MULT,
    SH_HOUR,
    SH_MEAN,
    SH_STDDEV,
    SH_CSVFILE,
    SH_SNGFILE,
    SH_DBLFILE,
    SH_ACTION,
    SH_QMULT,
    SH_USEACTUAL,
    SH_PMAX,
    SH_QMAX,
    SH_SINTERVAL,
    SH_MINTERVAL,
    SH_PBASE,
    SH_QBASE,
    SH_PMULT,
    SH_PQCSVFILE,
    SH_MEMMAP,
    SH_LIKE
};

static const char *const xfmr_props[] = {
    "phases",   "windings",  "wdg",         "bus",       "conn",      "kv",
    "kva",      "tap",       "%r",          "rneut",     "xneut",     "buses",
    "conns",    "kvs",       "kvas",        "taps",      "xhl",       "xht",
    "xlt",      "xscarray",  "thermal",     "n",         "m",         "flrise",
    "hsrise",   "%loadloss", "%noloadloss", "normhkva",  "emerghkva", "sub",
    "maxtap",   "mintap",    "numtaps",     "subname",   "%imag",     "ppm_antifloat",
    "%rs",      "bank",      "xfmrcode",    "xrconst",   "x12",       "x13",
    "x23",      "leadlag",   "wdgcurrents", "core",      "rdcohms",   "seasons",
    "ratings",  "normamps",  "emergamps",   "faultrate", "pctperm",   "repair",
    "basefreq", "enabled",   "like",        NULL};
enum {
    TR_PHASES,
    TR_WINDINGS,
    TR_WDG,
    TR_BUS,
    TR_CONN,
    TR_KV,
    TR_KVA,
    TR_TAP,
    TR_R,
    TR_RNEUT,
    TR_XNEUT,
    TR_BUSES,
    TR_CONNS,
    TR_KVS,
    TR_KVAS,
    TR_TAPS,
    TR_XHL,
    TR_XHT,
    TR_XLT,
    TR_XSCARRAY,
    TR_THERMAL,
    TR_N,
    TR_M,
    TR_FLRISE,
    TR_HSRISE,
    TR_LOADLOSS,
    TR_NOLOADLOSS,
    TR_NORMHKVA,
    TR_EMERGHKVA,
    TR_SUB,
    TR_MAXTAP,
    TR_MINTAP,
    TR_NUMTAPS,
    TR_SUBNAME,
    TR_IMAG,
    TR_PPM,
    TR_RS,
    TR_BANK,
    TR_XFMRCODE,
    TR_XRCONST,
    TR_X12,
    TR_X13,
    TR_X23,
    TR_LEADLAG,
    TR_WDGCURRENTS,
    TR_CORE,
    TR_RDCOHMS,
    TR_SEASONS,
    TR_RATINGS,
    TR_NORMAMPS,
    TR_EMERGAMPS,
    TR_FAULTRATE,
    TR_PCTPERM,
    TR_REPAIR,
    TR_BASEFREQ,
    TR_ENABLED,
    TR_LIKE
};

static const char *const reactor_props[] = {
    "bus1",     "bus2",   "kv",       "kvar",    "conn",     "rmatrix",   "xmatrix",
    "parallel", "r",      "x",        "rp",      "z1",       "z2",        "z0",
    "z",        "rcurve", "lcurve",   "lmh",     "normamps", "emergamps", "faultrate",
    "pctperm",  "repair", "basefreq", "enabled", "like",     "phases",    NULL};
enum {
    RX_BUS1,
    RX_BUS2,
    RX_R = 8,
    RX_X = 9,
    RX_NORMAMPS = 18,
    RX_EMERGAMPS,
    RX_FAULTRATE,
    RX_PCTPERM,
    RX_REPAIR,
    RX_BASEFREQ,
    RX_ENABLED,
    RX_LIKE,
    RX_PHASES
};

static int not_modelled(struct pctx *p, const char *cls, const char *prop)
{
    return perr(p, "%s property '%s' is not supported (it would change the circuit)", cls, prop);
}

static int check_enabled(struct pctx *p, const char *cls, const char *prop, const char *v)
{
    int b = 0;
    int rc = get_bool(p, prop, v, &b);
    if (rc)
        return rc;
    return b ? 0 : not_modelled(p, cls, "enabled=false");
}

static const char *const wire_props[] = {
    "rdc",       "rac",  "runits",  "gmrac",   "gmrunits",  "radius", "radunits", "normamps",
    "emergamps", "diam", "seasons", "ratings", "capradius", "like",   NULL};
enum {
    WD_RDC,
    WD_RAC,
    WD_RUNITS,
    WD_GMR,
    WD_GMRUNITS,
    WD_RADIUS,
    WD_RADUNITS,
    WD_NORMAMPS,
    WD_EMERGAMPS,
    WD_DIAM,
    WD_SEASONS,
    WD_RATINGS,
    WD_CAPRADIUS,
    WD_LIKE
};

static const char *const cap_props[] = {
    "bus1",      "bus2",      "phases",  "kvar",     "kv",       "conn",   "cmatrix",
    "cuf",       "r",         "xl",      "harm",     "numsteps", "states", "normamps",
    "emergamps", "faultrate", "pctperm", "basefreq", "enabled",  "like",   NULL};
enum {
    CP_BUS1,
    CP_BUS2,
    CP_PHASES,
    CP_KVAR,
    CP_KV,
    CP_CONN,
    CP_CMATRIX,
    CP_CUF,
    CP_R,
    CP_XL,
    CP_HARM,
    CP_NUMSTEPS,
    CP_STATES,
    CP_NORMAMPS,
    CP_EMERGAMPS,
    CP_FAULTRATE,
    CP_PCTPERM,
    CP_BASEFREQ,
    CP_ENABLED,
    CP_LIKE
};

static const char *const reg_props[] = {
    "transformer", "winding",    "vreg",          "band",     "ptratio",      "ctprim",
    "r",           "x",          "bus",           "delay",    "reversible",   "revvreg",
    "revband",     "revr",       "revx",          "tapdelay", "debugtrace",   "maxtapchange",
    "inversetime", "tapwinding", "vlimit",        "ptphase",  "revthreshold", "revdelay",
    "revneutral",  "eventlog",   "remoteptratio", "tapnum",   "reset",        "ldc_z",
    "rev_z",       "cogen",      "basefreq",      "enabled",  "like",         NULL};
enum {
    RG_XFMR,
    RG_WINDING,
    RG_VREG,
    RG_BAND,
    RG_PTRATIO,
    RG_CTPRIM,
    RG_R,
    RG_X,
    RG_BUS,
    RG_DELAY,
    RG_REVERSIBLE,
    RG_REVVREG,
    RG_REVBAND,
    RG_REVR,
    RG_REVX,
    RG_TAPDELAY,
    RG_DEBUGTRACE,
    RG_MAXTAPCHANGE,
    RG_INVERSETIME,
    RG_TAPWINDING,
    RG_VLIMIT,
    RG_PTPHASE,
    RG_REVTHRESHOLD,
    RG_REVDELAY,
    RG_REVNEUTRAL,
    RG_EVENTLOG,
    RG_REMOTEPTRATIO,
    RG_TAPNUM,
    RG_RESET,
    RG_LDCZ,
    RG_REVZ,
    RG_COGEN,
    RG_BASEFREQ,
    RG_ENABLED,
    RG_LIKE
};

static const char *const geom_props[] = {
    "nconds",   "nphases",   "cond",    "wire",    "x",        "h",       "units",
    "normamps", "emergamps", "reduce",  "spacing", "wires",    "cncable", "tscable",
    "cncables", "tscables",  "seasons", "ratings", "linetype", "like",    NULL};
enum {
    LG_NCONDS,
    LG_NPHASES,
    LG_COND,
    LG_WIRE,
    LG_X,
    LG_H,
    LG_UNITS,
    LG_NORMAMPS,
    LG_EMERGAMPS,
    LG_REDUCE,
    LG_SPACING,
    LG_WIRES,
    LG_CNCABLE,
    LG_TSCABLE,
    LG_CNCABLES,
    LG_TSCABLES,
    LG_SEASONS,
    LG_RATINGS,
    LG_LINETYPE,
    LG_LIKE
};

/* ------------------------------------------------------------------ */
/* Setters: one per class                                              */
/* ------------------------------------------------------------------ */

static int set_vsource(struct pctx *p, struct fdr_vsource *v, int id, const char *pn,
                       const char *val)
{
    switch (id) {
    case VS_BUS1:
        return copy_name(p, v->bus, sizeof v->bus, val, "bus");
    case VS_BASEKV:
        return get_num(p, pn, val, &v->basekv);
    case VS_PU:
        return get_num(p, pn, val, &v->pu);
    case VS_ANGLE:
        return get_num(p, pn, val, &v->angle_deg);
    case VS_FREQ: {
        double f = 0;
        return get_num(p, pn, val, &f); /* impedances are given at base frequency */
    }
    case VS_PHASES:
        return get_int(p, pn, val, &v->phases);
    case VS_MVASC3:
        v->zspec = 1;
        return get_num(p, pn, val, &v->mvasc3);
    case VS_MVASC1:
        v->zspec = 1;
        return get_num(p, pn, val, &v->mvasc1);
    case VS_X1R1:
        return get_num(p, pn, val, &v->x1r1);
    case VS_X0R0:
        return get_num(p, pn, val, &v->x0r0);
    case VS_ISC3:
        v->zspec = 2;
        return get_num(p, pn, val, &v->isc3);
    case VS_ISC1:
        v->zspec = 2;
        return get_num(p, pn, val, &v->isc1);
    case VS_R1:
        v->zspec = 3;
        return get_num(p, pn, val, &v->r1);
    case VS_X1:
        v->zspec = 3;
        return get_num(p, pn, val, &v->x1);
    case VS_R0:
        v->zspec = 3;
        return get_num(p, pn, val, &v->r0);
    case VS_X0:
        v->zspec = 3;
        return get_num(p, pn, val, &v->x0);
    case VS_SCANTYPE:
    case VS_SEQUENCE:
    case VS_SPECTRUM:
    case VS_BASEFREQ:
        return 0; /* harmonics / display only */
    case VS_BUS2: {
        const char *dot = strchr(val, '.');
        for (const char *q = dot; q && *q; q++)
            if (*q != '.' && *q != '0')
                return not_modelled(p, "Vsource", "bus2 (ungrounded source)");
        if (!dot)
            return not_modelled(p, "Vsource", "bus2 (ungrounded source)");
        return 0;
    }
    case VS_ENABLED:
        return check_enabled(p, "Vsource", pn, val);
    default:
        return not_modelled(p, "Vsource", pn);
    }
}

/* Fill an n x n row-major matrix from a full or lower-triangular list. */
static int get_matrix(struct pctx *p, const char *pn, const char *val, int n, double *m)
{
    double vals[64];
    int k = 0;
    if (n < 1 || n > 4)
        return perr(p, "%s: nphases %d not supported (1..4)", pn, n);
    int rc = get_nums(p, pn, val, vals, 64, &k);
    if (rc)
        return rc;
    if (k == n * n) {
        memcpy(m, vals, sizeof(double) * (size_t)(n * n));
        return 0;
    }
    if (k != n * (n + 1) / 2)
        return perr(p, "%s: %d values for a %dx%d matrix", pn, k, n, n);
    int q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            m[i * n + j] = vals[q];
            m[j * n + i] = vals[q];
            q++;
        }
    return 0;
}

/* Properties a line and a line code share (impedance data). Returns 1 if
 * `name` was not one of them. */
static int set_zdef(struct pctx *p, struct fdr_zdef *z, const char *pn, const char *val,
                    int *handled)
{
    double d = 0;
    int rc = 0;
    *handled = 1;
    if (!strcasecmp(pn, "r1") || !strcasecmp(pn, "x1") || !strcasecmp(pn, "r0") ||
        !strcasecmp(pn, "x0") || !strcasecmp(pn, "c1") || !strcasecmp(pn, "c0") ||
        !strcasecmp(pn, "b1") || !strcasecmp(pn, "b0")) {
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        if (z->matrix) {
            /* switching back to sequence data: OpenDSS recomputes from the
             * current sequence values, so start from them */
            z->matrix = 0;
        }
        double w = 2.0 * M_PI * (p->c->base_freq > 0 ? p->c->base_freq : 60.0);
        switch (tolower((unsigned char)pn[0])) {
        case 'r':
            *(pn[1] == '1' ? &z->r1 : &z->r0) = d;
            break;
        case 'x':
            *(pn[1] == '1' ? &z->x1 : &z->x0) = d;
            break;
        case 'c':
            *(pn[1] == '1' ? &z->c1_nf : &z->c0_nf) = d;
            break;
        default:
            *(pn[1] == '1' ? &z->c1_nf : &z->c0_nf) = d / w * 1e3;
            break; /* uS -> nF */
        }
        return 0;
    }
    if (!strcasecmp(pn, "rmatrix") || !strcasecmp(pn, "xmatrix") || !strcasecmp(pn, "cmatrix")) {
        double *m = pn[0] == 'r' || pn[0] == 'R'   ? z->rm
                    : pn[0] == 'x' || pn[0] == 'X' ? z->xm
                                                   : z->cm;
        if (!z->matrix) {
            /* first matrix property: the others start at zero */
            memset(z->rm, 0, sizeof z->rm);
            memset(z->xm, 0, sizeof z->xm);
            memset(z->cm, 0, sizeof z->cm);
            z->matrix = 1;
        }
        return get_matrix(p, pn, val, z->nph, m);
    }
    *handled = 0;
    return 0;
}

static int set_linecode(struct pctx *p, struct fdr_linecode *lc, int id, const char *pn,
                        const char *val)
{
    struct fdr_zdef *z = &lc->z;
    int handled, rc;
    switch (id) {
    case LC_NPH:
        if ((rc = get_int(p, pn, val, &z->nph)))
            return rc;
        if (z->nph < 1 || z->nph > 4)
            return perr(p, "nphases=%d: 1 to 4 supported", z->nph);
        z->matrix = 0;
        return 0;
    case LC_UNITS:
        return get_units(p, pn, val, &z->units);
    case LC_KRON:
        return get_bool(p, pn, val, &z->kron);
    case LC_NEUTRAL: {
        int nn = 0;
        if ((rc = get_int(p, pn, val, &nn)))
            return rc;
        if (nn != z->nph)
            return perr(p, "neutral=%d: only the last conductor can be the neutral", nn);
        return 0;
    }
    case LC_BASEFREQ:
    case LC_NORMAMPS:
    case LC_EMERGAMPS:
    case LC_FAULTRATE:
    case LC_PCTPERM:
    case LC_REPAIR:
    case LC_RG:
    case LC_XG:
    case LC_RHO:
    case LC_SEASONS:
    case LC_RATINGS:
    case LC_LINETYPE:
        return 0; /* ratings, reliability, frequency scaling: no effect at base frequency */
    case LC_LIKE:
        return not_modelled(p, "LineCode", pn);
    default:
        rc = set_zdef(p, z, code_props[id], val, &handled);
        if (!handled)
            return not_modelled(p, "LineCode", pn);
        return rc;
    }
}

/*
 * A shunt Capacitor is a constant-impedance element that draws -kvar at its
 * rated kV (the sum of its steps in state 1), wye to earth or delta: kept
 * as a load element (capacitor = 1, fixed, never driven by shapes).
 */
static void cap_update(struct fdr_loaddef *l)
{
    double q = 0;
    for (int i = 0; i < l->cap_nsteps; i++)
        q += l->cap_state[i] ? l->cap_kvar[i] : 0;
    l->kvar = -q;
}

static int set_cap(struct pctx *p, struct fdr_loaddef *l, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    switch (id) {
    case CP_BUS1:
        return copy_name(p, l->bus, sizeof l->bus, val, "bus");
    case CP_BUS2: {
        /* only the earth end of a wye bank: bus1's name with nodes .0 */
        const char *dot = strchr(val, '.');
        size_t n = dot ? (size_t)(dot - val) : strlen(val);
        const char *b1 = l->bus, *d1 = strchr(b1, '.');
        size_t n1 = d1 ? (size_t)(d1 - b1) : strlen(b1);
        int earth = dot != NULL;
        for (const char *q = dot; earth && q && *q; q++)
            earth = *q == '.' || *q == '0';
        if (n == n1 && !strncasecmp(val, b1, n) && earth)
            return 0;
        return perr(p,
                    "%s: bus2=%s: series and ungrounded capacitors are not supported (bus2 may "
                    "only be bus1's nodes .0)",
                    l->name, val);
    }
    case CP_PHASES:
        if ((rc = get_int(p, pn, val, &l->phases)))
            return rc;
        return l->phases >= 1 && l->phases <= 3 ? 0 : perr(p, "phases=%d: 1 to 3", l->phases);
    case CP_KVAR: {
        double k[16];
        int n = 0;
        if ((rc = get_nums(p, pn, val, k, 16, &n)))
            return rc;
        for (int i = 0; i < n; i++)
            l->cap_kvar[i] = k[i];
        for (int i = l->cap_nsteps; i < n; i++)
            l->cap_state[i] = 1;
        l->cap_nsteps = n;
        cap_update(l);
        return 0;
    }
    case CP_STATES: {
        double st[16];
        int n = 0;
        if ((rc = get_nums(p, pn, val, st, 16, &n)))
            return rc;
        for (int i = 0; i < n && i < 16; i++)
            l->cap_state[i] = st[i] != 0;
        cap_update(l);
        return 0;
    }
    case CP_NUMSTEPS: {
        int n = 0;
        if ((rc = get_int(p, pn, val, &n)))
            return rc;
        if (n < 1 || n > 16)
            return perr(p, "numsteps=%d: 1 to 16", n);
        /* OpenDSS splits the kvar given so far equally over the steps */
        double total = 0;
        for (int i = 0; i < l->cap_nsteps; i++)
            total += l->cap_kvar[i];
        for (int i = 0; i < n; i++) {
            l->cap_kvar[i] = total / n;
            l->cap_state[i] = 1;
        }
        l->cap_nsteps = n;
        cap_update(l);
        return 0;
    }
    case CP_KV:
        if ((rc = get_num(p, pn, val, &l->kv)))
            return rc;
        return l->kv > 0 ? 0 : perr(p, "kv must be > 0");
    case CP_CONN:
        return get_conn(p, pn, val, &l->conn);
    case CP_R:
    case CP_XL:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        return d == 0 ? 0 : not_modelled(p, "Capacitor", pn);
    case CP_HARM:
    case CP_NORMAMPS:
    case CP_EMERGAMPS:
    case CP_FAULTRATE:
    case CP_PCTPERM:
    case CP_BASEFREQ:
        return 0;
    case CP_ENABLED:
        if ((rc = get_bool(p, pn, val, &l->disabled)))
            return rc;
        l->disabled = !l->disabled;
        return 0;
    default:
        return not_modelled(p, "Capacitor", pn);
    }
}

static int set_reg(struct pctx *p, struct fdr_regdef *r, int id, const char *pn, const char *val)
{
    int rc, b = 0;
    double d = 0;
    switch (id) {
    case RG_XFMR:
        return copy_name(p, r->xfmr, sizeof r->xfmr, val, "transformer");
    case RG_WINDING:
    case RG_TAPWINDING: {
        int w = 0;
        if ((rc = get_int(p, pn, val, &w)))
            return rc;
        if (w < 1 || w > 2)
            return perr(p, "%s=%d: windings 1 and 2 only", pn, w);
        if (id == RG_WINDING)
            r->winding = r->tapwinding = w; /* OpenDSS: tapwinding follows winding */
        else
            r->tapwinding = w;
        return 0;
    }
    case RG_VREG:
    case RG_BAND:
    case RG_PTRATIO:
    case RG_CTPRIM:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        if (!(d > 0))
            return perr(p, "%s must be > 0", pn);
        *(id == RG_VREG      ? &r->vreg
          : id == RG_BAND    ? &r->band
          : id == RG_PTRATIO ? &r->ptratio
                             : &r->ctprim) = d;
        return 0;
    case RG_R:
        return get_num(p, pn, val, &r->r);
    case RG_X:
        return get_num(p, pn, val, &r->x);
    case RG_MAXTAPCHANGE:
        if ((rc = get_int(p, pn, val, &r->maxtapchange)))
            return rc;
        return r->maxtapchange >= 0 ? 0 : perr(p, "maxtapchange must be >= 0");
    case RG_BUS:
        return *val ? not_modelled(p, "RegControl", "bus (a remote regulated bus)") : 0;
    case RG_REVERSIBLE:
    case RG_INVERSETIME:
    case RG_COGEN:
        if ((rc = get_bool(p, pn, val, &b)))
            return rc;
        return b ? not_modelled(p, "RegControl", pn) : 0;
    case RG_VLIMIT:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        return d > 0 ? not_modelled(p, "RegControl", "vlimit") : 0;
    case RG_PTPHASE: {
        int ph = 0;
        if ((rc = get_int(p, pn, val, &ph)))
            return rc;
        return ph == 1 ? 0 : not_modelled(p, "RegControl", "ptphase other than 1");
    }
    case RG_DELAY:
        return get_num(p, pn, val, &r->delay);
    case RG_TAPDELAY:
        return get_num(p, pn, val, &r->tapdelay);
    case RG_REVVREG:
    case RG_REVBAND:
    case RG_REVR:
    case RG_REVX:
    case RG_DEBUGTRACE:
    case RG_REVTHRESHOLD:
    case RG_REVDELAY:
    case RG_REVNEUTRAL:
    case RG_EVENTLOG:
    case RG_REMOTEPTRATIO:
    case RG_BASEFREQ:
        return 0; /* time constants and reverse-mode settings: static control ignores them */
    case RG_ENABLED:
        return check_enabled(p, "RegControl", pn, val);
    default:
        return not_modelled(p, "RegControl", pn);
    }
}

static int get_earth_model(struct pctx *p, const char *prop, const char *v, int *out)
{
    if (!strcasecmp(v, "carson"))
        *out = FDR_EARTH_CARSON;
    else if (!strcasecmp(v, "fullcarson"))
        *out = FDR_EARTH_FULLCARSON;
    else if (!strcasecmp(v, "deri"))
        *out = FDR_EARTH_DERI;
    else
        return perr(p, "%s: expected Carson, FullCarson or Deri, got '%s'", prop, v);
    return 0;
}

static int set_wire(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    switch (id) {
    case WD_RDC:
    case WD_RAC:
    case WD_GMR:
    case WD_RADIUS:
    case WD_DIAM:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        if (!(d > 0))
            return perr(p, "WireData.%s: %s must be > 0", w->name, pn);
        *(id == WD_RDC   ? &w->rdc
          : id == WD_RAC ? &w->rac
          : id == WD_GMR ? &w->gmr
                         : &w->radius) = id == WD_DIAM ? d / 2.0 : d;
        return 0;
    case WD_RUNITS:
        return get_units(p, pn, val, &w->r_units);
    case WD_GMRUNITS:
        return get_units(p, pn, val, &w->gmr_units);
    case WD_RADUNITS:
        return get_units(p, pn, val, &w->rad_units);
    case WD_NORMAMPS:
    case WD_EMERGAMPS:
    case WD_SEASONS:
    case WD_RATINGS:
    case WD_CAPRADIUS: /* only for insulated cables */
        return 0;
    default:
        return not_modelled(p, "WireData", pn);
    }
}

static const char *const spacing_props[] = {"nconds", "nphases", "x", "h", "units", "like", NULL};

/* LineSpacing: the conductors' positions (x=[...] h=[...]), no wires. */
static int set_spacing(struct pctx *p, struct fdr_geometry *g, int id, const char *pn,
                       const char *val)
{
    int rc;
    switch (id) {
    case 0:
    case 1: {
        int n = 0;
        if ((rc = get_int(p, pn, val, &n)))
            return rc;
        if (n < 1 || n > FDR_LC_MAX)
            return perr(p, "%s=%d: 1 to %d conductors supported", pn, n, FDR_LC_MAX);
        *(id == 0 ? &g->nconds : &g->nphases) = n;
        return 0;
    }
    case 2:
    case 3: {
        double v[FDR_LC_MAX];
        int n = 0;
        if ((rc = get_nums(p, pn, val, v, FDR_LC_MAX, &n)))
            return rc;
        if (n > g->nconds)
            return perr(p, "%s: %d values for nconds=%d", pn, n, g->nconds);
        for (int k = 0; k < n; k++)
            (id == 2 ? g->x : g->h)[k] = v[k];
        return 0;
    }
    case 4:
        if ((rc = get_units(p, pn, val, &g->units[0])))
            return rc;
        for (int k = 1; k < FDR_LC_MAX; k++)
            g->units[k] = g->units[0];
        return 0;
    default:
        return not_modelled(p, "LineSpacing", pn);
    }
}

/* Line wires=[...] / cncables=[...]: the wires of its spacing's conductors
 * (cable phases first, then the bare wires). */
static int line_wires(struct pctx *p, struct fdr_linedef *l, int cn, const char *pn,
                      const char *val)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", val);
    int n = cn ? 0 : l->ncn, k = 0;
    for (char *tok = strtok(buf, "[](){}\"' ,\t"); tok; tok = strtok(NULL, "[](){}\"' ,\t")) {
        if (n >= FDR_LC_MAX)
            return perr(p, "%s: more than %d conductors", pn, FDR_LC_MAX);
        int w = fdr_names_get(cn ? &p->c->cn_ix : &p->c->wire_ix, tok);
        if (w < 0)
            return perr(p, "%s '%s' is not defined", cn ? "CNData" : "WireData", tok);
        l->wire[n++] = w;
        k++;
    }
    if (cn)
        l->ncn = k;
    l->nwire = n > l->nwire ? n : l->nwire;
    return 0;
}

/* TSData: WireData's properties plus the tape shield's and the insulation's
 * (OpenDSS's order). */
/* clang-format off */
static const char *const ts_props[] = {
    "diashield", "tapelayer", "tapelap", "epsr", "inslayer", "diains", "diacable", "rdc", "rac",
    "runits", "gmrac", "gmrunits", "radius", "radunits", "normamps", "emergamps", "diam",
    "seasons", "ratings", "capradius", "like", NULL};
/* clang-format on */

static int set_ts(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    if (id >= 7)
        return set_wire(p, w, match_name(wire_props, ts_props[id]), pn, val);
    if ((rc = get_num(p, pn, val, &d)))
        return rc;
    if (id == 2) {
        if (d < 0 || d >= 100)
            return perr(p, "TSData.%s: TapeLap=%g: 0 to 100 %%", w->name, d);
        w->tape_lap = d;
        return 0;
    }
    if (!(d > 0))
        return perr(p, "TSData.%s: %s must be > 0", w->name, pn);
    double *dst[7] = {&w->dia_shield, &w->tape_layer, NULL,         &w->epsr,
                      &w->ins_layer,  &w->dia_ins,    &w->dia_cable};
    *dst[id] = d;
    return 0;
}

/* CNData: WireData's properties plus the concentric neutral's and the
 * insulation's (OpenDSS's order). */
/* clang-format off */
static const char *const cn_props[] = {
    "k", "diastrand", "gmrstrand", "rstrand", "epsr", "inslayer", "diains", "diacable", "rdc",
    "rac", "runits", "gmrac", "gmrunits", "radius", "radunits", "normamps", "emergamps", "diam",
    "seasons", "ratings", "capradius", "like", NULL};
/* clang-format on */

static int set_cn(struct pctx *p, struct fdr_wire *w, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    if (id >= 8) /* the WireData part */
        return set_wire(p, w, match_name(wire_props, cn_props[id]), pn, val);
    if (id == 0) {
        if ((rc = get_int(p, pn, val, &w->k)))
            return rc;
        return w->k >= 1 ? 0 : perr(p, "CNData.%s: k must be >= 1", w->name);
    }
    if ((rc = get_num(p, pn, val, &d)))
        return rc;
    if (!(d > 0))
        return perr(p, "CNData.%s: %s must be > 0", w->name, pn);
    double *dst[8] = {NULL,     &w->dia_strand, &w->gmr_strand, &w->r_strand,
                      &w->epsr, &w->ins_layer,  &w->dia_ins,    &w->dia_cable};
    *dst[id] = d;
    return 0;
}

static int set_geometry(struct pctx *p, struct fdr_geometry *g, int id, const char *pn,
                        const char *val)
{
    int rc, k;
    switch (id) {
    case LG_NCONDS:
        if ((rc = get_int(p, pn, val, &g->nconds)))
            return rc;
        if (g->nconds < 1 || g->nconds > FDR_LC_MAX)
            return perr(p, "nconds=%d: 1 to %d conductors supported", g->nconds, FDR_LC_MAX);
        if (g->nphases > g->nconds || g->nphases == 0)
            g->nphases = g->nconds;
        return 0;
    case LG_NPHASES:
        if ((rc = get_int(p, pn, val, &g->nphases)))
            return rc;
        if (g->nphases < 1 || g->nphases > 3)
            return perr(p, "nphases=%d: 1 to 3 phases supported", g->nphases);
        return 0;
    case LG_COND:
        if ((rc = get_int(p, pn, val, &k)))
            return rc;
        if (k < 1 || k > g->nconds)
            return perr(p, "cond=%d: the geometry has %d conductors (give nconds first)", k,
                        g->nconds);
        g->active = k - 1;
        return 0;
    case LG_WIRE:
    case LG_CNCABLE:
    case LG_TSCABLE: {
        const char *what = id == LG_WIRE ? "WireData" : id == LG_CNCABLE ? "CNData" : "TSData";
        int w = fdr_names_get(id == LG_WIRE      ? &p->c->wire_ix
                              : id == LG_CNCABLE ? &p->c->cn_ix
                                                 : &p->c->ts_ix,
                              val);
        if (w < 0)
            return perr(p, "%s '%s' is not defined", what, val);
        g->wire[g->active] = w;
        return 0;
    }
    case LG_WIRES:
    case LG_CNCABLES:
    case LG_TSCABLES: {
        /* wires=[a b c n]: one per conductor (cncables: the first ones) */
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", val);
        int n = 0;
        for (char *tok = strtok(buf, "[](){}\"' ,\t"); tok; tok = strtok(NULL, "[](){}\"' ,\t")) {
            if (n >= g->nconds)
                return perr(p, "wires: more wires than nconds=%d", g->nconds);
            int w = fdr_names_get(id == LG_WIRES      ? &p->c->wire_ix
                                  : id == LG_CNCABLES ? &p->c->cn_ix
                                                      : &p->c->ts_ix,
                                  tok);
            if (w < 0)
                return perr(p, "%s '%s' is not defined",
                            id == LG_WIRES      ? "WireData"
                            : id == LG_CNCABLES ? "CNData"
                                                : "TSData",
                            tok);
            g->wire[n++] = w;
        }
        return 0;
    }
    case LG_X:
    case LG_H:
        return get_num(p, pn, val, id == LG_X ? &g->x[g->active] : &g->h[g->active]);
    case LG_UNITS:
        /* the active conductor's, and the default of those after it */
        if ((rc = get_units(p, pn, val, &g->units[g->active])))
            return rc;
        for (k = g->active + 1; k < FDR_LC_MAX; k++)
            g->units[k] = g->units[g->active];
        return 0;
    case LG_REDUCE:
        return get_bool(p, pn, val, &g->reduce);
    case LG_NORMAMPS:
    case LG_EMERGAMPS:
    case LG_SEASONS:
    case LG_RATINGS:
    case LG_LINETYPE:
        return 0;
    default:
        return not_modelled(p, "LineGeometry", pn);
    }
}

static int set_line(struct pctx *p, struct fdr_linedef *l, int id, const char *pn, const char *val)
{
    int handled, rc;
    switch (id) {
    case LN_BUS1:
        return copy_name(p, l->bus[0], sizeof l->bus[0], val, "bus");
    case LN_BUS2:
        return copy_name(p, l->bus[1], sizeof l->bus[1], val, "bus");
    case LN_CODE: {
        int k = fdr_names_get(&p->c->code_ix, val);
        if (k < 0)
            return perr(p, "LineCode '%s' is not defined", val);
        l->z = p->c->codes[k].z;
        snprintf(l->code, sizeof l->code, "%s", p->c->codes[k].name);
        /* nphases=4 without kron: three phases and an explicit neutral
         * (topology.c checks that both ends connect it to node 4) */
        l->phases = l->z.kron || l->z.nph == 4 ? l->z.nph - 1 : l->z.nph;
        return 0;
    }
    case LN_LENGTH:
        return get_num(p, pn, val, &l->length);
    case LN_PHASES:
        if ((rc = get_int(p, pn, val, &l->phases)))
            return rc;
        if (l->phases < 1 || l->phases > 3)
            return perr(p, "phases=%d: lines of 1 to 3 phases supported", l->phases);
        if (!l->z.matrix)
            l->z.nph = l->phases;
        return 0;
    case LN_UNITS:
        return get_units(p, pn, val, &l->len_units);
    case LN_SWITCH: {
        int b = 0;
        if ((rc = get_bool(p, pn, val, &b)))
            return rc;
        if (!b)
            return 0;
        /* as OpenDSS: a closed switch is a short line of 1 + j1 ohm per
         * unit length (both sequences), c1 1.1 nF, c0 1 nF, 0.001 long,
         * units none; later properties may still change it */
        l->geometry = l->spacing = -1;
        l->code[0] = '\0';
        memset(&l->z, 0, sizeof l->z);
        l->z.nph = l->phases;
        l->z.r1 = l->z.x1 = l->z.r0 = l->z.x0 = 1.0;
        l->z.c1_nf = 1.1;
        l->z.c0_nf = 1.0;
        l->z.units = FDR_U_NONE;
        l->length = 0.001;
        l->len_units = FDR_U_NONE;
        return 0;
    }
    case LN_RHO:
        if ((rc = get_num(p, pn, val, &l->rho)))
            return rc;
        return l->rho > 0 ? 0 : perr(p, "rho: earth resistivity must be > 0");
    case LN_EARTHMODEL:
        return get_earth_model(p, pn, val, &l->earth);
    case LN_GEOMETRY: {
        int k = fdr_names_get(&p->c->geom_ix, val);
        if (k < 0)
            return perr(p, "LineGeometry '%s' is not defined", val);
        const struct fdr_geometry *g = &p->c->geoms[k];
        l->geometry = k;
        l->spacing = -1;
        l->phases = g->reduce ? g->nphases : g->nconds;
        return 0;
    }
    case LN_RG:
    case LN_XG:
    case LN_SEASONS:
    case LN_RATINGS:
    case LN_LINETYPE:
    case LN_NORMAMPS:
    case LN_EMERGAMPS:
    case LN_FAULTRATE:
    case LN_PCTPERM:
    case LN_REPAIR:
    case LN_BASEFREQ:
        return 0;
    case LN_ENABLED:
        if ((rc = get_bool(p, pn, val, &l->disabled)))
            return rc;
        l->disabled = !l->disabled;
        return 0;
    case LN_SPACING: {
        int k = fdr_names_get(&p->c->spacing_ix, val);
        if (k < 0)
            return perr(p, "LineSpacing '%s' is not defined", val);
        l->spacing = k;
        l->geometry = -1;
        l->phases = p->c->spacings[k].nphases;
        return 0;
    }
    case LN_WIRES:
    case LN_CNCABLES:
        return line_wires(p, l, id == LN_CNCABLES, pn, val);
    case LN_TSCABLES:
    case LN_LIKE:
        return not_modelled(p, "Line", pn);
    default:
        rc = set_zdef(p, &l->z, line_props[id], val, &handled);
        if (!handled)
            return not_modelled(p, "Line", pn);
        return rc;
    }
}

static int object(struct pctx *p, int cl, const char *name, int create, int *idx);

/* OpenDSS defines LoadShape.default in every circuit (its Executive creates
 * it after each Clear): 24 hourly points. Made here when first named and
 * not defined by the file itself. */
static int default_shape(struct pctx *p, int *out)
{
    static const double mult[24] = {0.677, 0.6256, 0.6087, 0.5833, 0.58028, 0.6025, 0.657,  0.7477,
                                    0.832, 0.88,   0.94,   0.989,  0.985,   0.98,   0.9898, 0.999,
                                    1,     0.958,  0.936,  0.913,  0.876,   0.876,  0.828,  0.756};
    int k, rc = object(p, CL_SHAPE, "default", 1, &k);
    if (rc)
        return rc;
    struct fdr_shape *sh = &p->c->shapes[k];
    sh->mult = malloc(sizeof mult);
    if (!sh->mult)
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    memcpy(sh->mult, mult, sizeof mult);
    sh->npts = 24;
    sh->interval_h = 1.0;
    *out = k;
    return 0;
}

static int get_shape_ref(struct pctx *p, const char *val, int *out)
{
    if (!*val || !strcasecmp(val, "none")) {
        *out = -1;
        return 0;
    }
    int k = fdr_names_get(&p->c->shape_ix, val);
    if (k < 0 && !strcasecmp(val, "default"))
        return default_shape(p, out);
    if (k < 0)
        return perr(p, "LoadShape '%s' is not defined", val);
    *out = k;
    return 0;
}

static int set_load(struct pctx *p, struct fdr_loaddef *l, int id, const char *pn, const char *val)
{
    int rc, n = 0;
    double d = 0;
    switch (id) {
    case LD_BUS1:
        return copy_name(p, l->bus, sizeof l->bus, val, "bus");
    case LD_PHASES:
        if ((rc = get_int(p, pn, val, &l->phases)))
            return rc;
        if (l->phases < 1 || l->phases > 3)
            return perr(p, "phases=%d: loads of 1 to 3 phases supported", l->phases);
        return 0;
    case LD_KV:
        return get_num(p, pn, val, &l->kv);
    case LD_KW:
        return get_num(p, pn, val, &l->kw);
    case LD_PF:
        if ((rc = get_num(p, pn, val, &l->pf)))
            return rc;
        if (l->pf == 0.0 || fabs(l->pf) > 1.0)
            return perr(p, "pf=%g: must be in [-1, 1] and not 0", l->pf);
        l->q_from_pf = 1;
        return 0;
    case LD_KVAR:
        l->q_from_pf = 0;
        return get_num(p, pn, val, &l->kvar);
    case LD_KVA:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        l->kw = d * fabs(l->pf);
        l->q_from_pf = 1;
        return 0;
    case LD_MODEL:
        if ((rc = get_int(p, pn, val, &l->model)))
            return rc;
        if (l->model < 1 || l->model > 8)
            return perr(p, "model=%d is not supported (1 to 8 are)", l->model);
        return 0;
    case LD_CVRW:
        return get_num(p, pn, val, &l->cvrwatts);
    case LD_CVRV:
        return get_num(p, pn, val, &l->cvrvars);
    case LD_YEARLY:
        return get_shape_ref(p, val, &l->yearly);
    case LD_DAILY:
        return get_shape_ref(p, val, &l->daily);
    case LD_DUTY:
        return 0; /* duty cycle mode is not a mode we run */
    case LD_CONN:
        return get_conn(p, pn, val, &l->conn);
    case LD_RNEUT:
    case LD_XNEUT:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        return d > 0 ? not_modelled(p, "Load", pn) : 0; /* < 0: none, 0: solid */
    case LD_STATUS:
        if (!strncasecmp(val, "fixed", 1)) {
            l->fixed = 1;
            return 0;
        }
        if (!strncasecmp(val, "variable", 1)) {
            l->fixed = 0;
            return 0;
        }
        return not_modelled(p, "Load", "status=exempt");
    case LD_VMINPU:
        return get_num(p, pn, val, &l->vminpu);
    case LD_VMAXPU:
        return get_num(p, pn, val, &l->vmaxpu);
    case LD_ZIPV:
        if ((rc = get_nums(p, pn, val, l->zipv, 7, &n)))
            return rc;
        if (n != 7)
            return perr(p, "zipv needs 7 values, got %d", n);
        return 0;
    case LD_GROWTH:
    case LD_CLASS:
    case LD_VMINNORM:
    case LD_VMINEMERG:
    case LD_XFKVA:
    case LD_ALLOC:
    case LD_MEAN:
    case LD_STDDEV:
    case LD_KWH:
    case LD_KWHDAYS:
    case LD_CFACTOR:
    case LD_CVRCURVE:
    case LD_NUMCUST:
    case LD_SERIESRL:
    case LD_RELWEIGHT:
    case LD_VLOWPU:
    case LD_PUXHARM:
    case LD_XRHARM:
    case LD_SPECTRUM:
    case LD_BASEFREQ:
        return 0; /* allocation, reliability, harmonics, CVR (model 4 only) */
    case LD_ENABLED:
        if ((rc = get_bool(p, pn, val, &l->disabled)))
            return rc;
        l->disabled = !l->disabled;
        return 0;
    default:
        return not_modelled(p, "Load", pn);
    }
}

/* Read multipliers from a file, one value per line (first field). */
static int read_mult_file(struct pctx *p, const char *rel, int npts_spec, double **out, int *n)
{
    char path[PATH_MAX];
    int rc = resolve_path(p, rel, path, sizeof path);
    if (rc)
        return rc;
    FILE *f = fopen(path, "r");
    if (!f)
        return perr(p, "cannot open load shape file '%s': %s", path, strerror(errno));
    int cap = npts_spec > 0 ? npts_spec : 1024, k = 0;
    double *v = malloc((size_t)cap * sizeof *v);
    char *buf = NULL; /* lines of any length (a CSV row may be long) */
    size_t bufcap = 0;
    if (!v) {
        fclose(f);
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    }
    int ln = 0;
    while (getline(&buf, &bufcap, f) != -1) {
        ln++;
        char *s = buf;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '\n' || *s == '\r')
            continue;
        if (npts_spec > 0 && k == npts_spec)
            break;
        char *end;
        double d = strtod(s, &end);
        if (end == s) {
            free(v);
            free(buf);
            fclose(f);
            return perr(p, "%s:%d: not a number", path, ln);
        }
        if (k == cap) {
            cap *= 2;
            double *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                free(v);
                free(buf);
                fclose(f);
                return sim_errf(p->err, SIM_ENOMEM, "out of memory");
            }
            v = nv;
        }
        v[k++] = d;
    }
    free(buf);
    fclose(f);
    if (npts_spec > 0 && k < npts_spec) {
        free(v);
        return perr(p, "load shape file '%s' has %d values, npts=%d", path, k, npts_spec);
    }
    *out = v;
    *n = k;
    return 0;
}

static int set_mult(struct pctx *p, struct fdr_shape *sh, const char *pn, const char *val,
                    double **dst, int is_file)
{
    double *v = NULL;
    int n = 0, rc;
    while (*val == ' ')
        val++;
    if (is_file || !strncasecmp(val, "file=", 5)) {
        rc = read_mult_file(p, is_file ? val : val + 5, sh->npts, &v, &n);
        if (rc)
            return rc;
    } else if (!strncasecmp(val, "sngfile=", 8) || !strncasecmp(val, "dblfile=", 8)) {
        return not_modelled(p, "LoadShape", "binary mult files");
    } else {
        size_t len = strlen(val);
        char *buf = malloc(len + 1);
        char **items = malloc((len / 2 + 2) * sizeof *items);
        if (!buf || !items) {
            free(buf);
            free(items);
            return sim_errf(p->err, SIM_ENOMEM, "out of memory");
        }
        strcpy(buf, val);
        n = split_list(buf, items, (int)(len / 2 + 2));
        v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
        rc = v ? 0 : SIM_ENOMEM;
        for (int i = 0; i < n && !rc; i++)
            rc = get_num(p, pn, items[i], &v[i]);
        free(buf);
        free(items);
        if (rc) {
            free(v);
            return rc == SIM_ENOMEM ? sim_errf(p->err, rc, "out of memory") : rc;
        }
        if (sh->npts > 0 && n > sh->npts)
            n = sh->npts;
        if (sh->npts > 0 && n < sh->npts) {
            free(v);
            return perr(p, "%s: %d values, npts=%d", pn, n, sh->npts);
        }
    }
    if (n == 0) {
        free(v);
        return perr(p, "%s: no values", pn);
    }
    free(*dst);
    *dst = v;
    if (dst == &sh->mult)
        sh->npts = n;
    else if (n != sh->npts) {
        return perr(p, "%s: %d values but mult has %d", pn, n, sh->npts);
    }
    return 0;
}

static int set_shape(struct pctx *p, struct fdr_shape *sh, int id, const char *pn, const char *val)
{
    int rc;
    double d = 0;
    switch (id) {
    case SH_NPTS: {
        int n = 0;
        if ((rc = get_int(p, pn, val, &n)))
            return rc;
        if (n < 1)
            return perr(p, "npts=%d", n);
        if (sh->mult && n != sh->npts)
            return perr(p, "npts=%d after mult with %d values", n, sh->npts);
        sh->npts = n;
        return 0;
    }
    case SH_INTERVAL:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        if (d <= 0)
            return not_modelled(p, "LoadShape", "interval=0 (hour= arrays)");
        sh->interval_h = d;
        return 0;
    case SH_MINTERVAL:
    case SH_SINTERVAL:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        if (d <= 0)
            return perr(p, "%s must be > 0", pn);
        sh->interval_h = id == SH_MINTERVAL ? d / 60.0 : d / 3600.0;
        return 0;
    case SH_MULT:
    case SH_PMULT:
        return set_mult(p, sh, pn, val, &sh->mult, 0);
    case SH_CSVFILE:
        return set_mult(p, sh, pn, val, &sh->mult, 1);
    case SH_QMULT:
        return set_mult(p, sh, pn, val, &sh->qmult, 0);
    case SH_USEACTUAL:
        return get_bool(p, pn, val, &sh->useactual);
    case SH_ACTION:
        if (!strncasecmp(val, "normalize", 1)) {
            double mx = 0;
            for (int i = 0; sh->mult && i < sh->npts; i++)
                mx = fmax(mx, fabs(sh->mult[i]));
            for (int i = 0; mx > 0 && i < sh->npts; i++)
                sh->mult[i] /= mx;
            return 0;
        }
        return not_modelled(p, "LoadShape", "action");
    case SH_PMAX:
    case SH_QMAX:
    case SH_PBASE:
    case SH_QBASE:
    case SH_MEAN:
    case SH_STDDEV:
    case SH_MEMMAP:
        return 0;
    default:
        return not_modelled(p, "LoadShape", pn);
    }
}

/* Per-winding array properties ("Buses=[a b]"). */
static int xfmr_array(struct pctx *p, struct fdr_xfmrdef *x, int id, const char *pn,
                      const char *val)
{
    char buf[1024];
    char *items[8];
    if (strlen(val) >= sizeof buf)
        return perr(p, "%s: list too long", pn);
    strcpy(buf, val);
    int n = split_list(buf, items, 8);
    if (n < 0 || n > x->nw)
        return perr(p, "%s: more values than windings (%d)", pn, x->nw);
    for (int i = 0; i < n; i++) {
        struct fdr_wdg *w = &x->w[i];
        int rc = 0;
        switch (id) {
        case TR_BUSES:
            rc = copy_name(p, w->bus, sizeof w->bus, items[i], "bus");
            break;
        case TR_CONNS:
            rc = get_conn(p, pn, items[i], &w->conn);
            break;
        case TR_KVS:
            rc = get_num(p, pn, items[i], &w->kv);
            break;
        case TR_KVAS:
            rc = get_num(p, pn, items[i], &w->kva);
            break;
        case TR_TAPS:
            rc = get_num(p, pn, items[i], &w->tap);
            break;
        default:
            rc = get_num(p, pn, items[i], &w->r_pct);
            break; /* %Rs */
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* XscArray: the short-circuit reactances 1-2 (1-3, 2-3), %. */
static int xfmr_xsc(struct pctx *p, struct fdr_xfmrdef *x, const char *pn, const char *val)
{
    char buf[1024];
    char *items[8];
    if (strlen(val) >= sizeof buf)
        return perr(p, "%s: list too long", pn);
    strcpy(buf, val);
    int n = split_list(buf, items, 8);
    if (n < 0 || n > (x->nw == 3 ? 3 : 1))
        return perr(p, "%s: more values than winding pairs", pn);
    double *dst[3] = {&x->xhl_pct, &x->xht_pct, &x->xlt_pct};
    for (int i = 0; i < n; i++) {
        int rc = get_num(p, pn, items[i], dst[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *const capctrl_props[] = {
    "element",    "terminal", "capacitor",    "type",     "ptratio",   "ctratio",  "onsetting",
    "offsetting", "delay",    "voltoverride", "vmax",     "vmin",      "delayoff", "deadtime",
    "ctphase",    "ptphase",  "vbus",         "eventlog", "usermodel", "userdata", "pctminkvar",
    "reset",      "basefreq", "enabled",      "like",     NULL};
enum {
    CC_ELEMENT,
    CC_TERMINAL,
    CC_CAPACITOR,
    CC_TYPE,
    CC_PTRATIO,
    CC_CTRATIO,
    CC_ON,
    CC_OFF,
    CC_DELAY,
    CC_VOLTOVERRIDE,
    CC_VMAX,
    CC_VMIN,
    CC_DELAYOFF,
    CC_DEADTIME,
    CC_CTPHASE,
    CC_PTPHASE,
    CC_VBUS,
    CC_EVENTLOG,
    CC_USERMODEL,
    CC_USERDATA,
    CC_PCTMINKVAR,
    CC_RESET,
    CC_BASEFREQ,
    CC_ENABLED
};

/* ctphase / ptphase: a conductor number, or AVG, MAX, MIN */
static int get_phase_sel(struct pctx *p, const char *pn, const char *val, int *out)
{
    if (!strcasecmp(val, "avg"))
        *out = 0;
    else if (!strcasecmp(val, "max"))
        *out = -1;
    else if (!strcasecmp(val, "min"))
        *out = -2;
    else {
        int rc = get_int(p, pn, val, out);
        if (rc)
            return rc;
        if (*out < 1 || *out > 3)
            return perr(p, "%s=%d: 1 to 3, AVG, MAX or MIN", pn, *out);
    }
    return 0;
}

static int set_capctrl(struct pctx *p, struct fdr_capctrldef *d, int id, const char *pn,
                       const char *val)
{
    int b = 0;
    switch (id) {
    case CC_ELEMENT:
        return copy_name(p, d->element, sizeof d->element, val, "element");
    case CC_CAPACITOR:
        return copy_name(p, d->capacitor, sizeof d->capacitor, val, "capacitor");
    case CC_TERMINAL:
        return get_int(p, pn, val, &d->terminal);
    case CC_TYPE:
        if (!strncasecmp(val, "current", 1))
            d->type = FDR_CC_CURRENT;
        else if (!strncasecmp(val, "voltage", 1))
            d->type = FDR_CC_VOLTAGE;
        else if (!strncasecmp(val, "kvar", 1))
            d->type = FDR_CC_KVAR;
        else
            return perr(p, "CapControl type=%s is not supported (current, voltage and kvar are)",
                        val);
        return 0;
    case CC_PTRATIO:
        return get_num(p, pn, val, &d->ptratio);
    case CC_CTRATIO:
        return get_num(p, pn, val, &d->ctratio);
    case CC_ON:
        return get_num(p, pn, val, &d->on);
    case CC_OFF:
        return get_num(p, pn, val, &d->off);
    case CC_DELAY:
        return get_num(p, pn, val, &d->delay);
    case CC_DELAYOFF:
        return get_num(p, pn, val, &d->delayoff);
    case CC_VOLTOVERRIDE: {
        int rc = get_bool(p, pn, val, &b);
        d->voltoverride = b;
        return rc;
    }
    case CC_VMAX:
        return get_num(p, pn, val, &d->vmax);
    case CC_VMIN:
        return get_num(p, pn, val, &d->vmin);
    case CC_CTPHASE:
        return get_phase_sel(p, pn, val, &d->ctphase);
    case CC_PTPHASE:
        return get_phase_sel(p, pn, val, &d->ptphase);
    case CC_VBUS:
        return *val ? not_modelled(p, "CapControl", "vbus (a remote voltage bus)") : 0;
    case CC_USERMODEL:
    case CC_USERDATA:
        return *val ? not_modelled(p, "CapControl", pn) : 0;
    case CC_DEADTIME:
        return get_num(p, pn, val, &d->deadtime);
    case CC_EVENTLOG:
    case CC_PCTMINKVAR:
    case CC_RESET:
    case CC_BASEFREQ:
        return 0; /* time-mode and logging settings: static control ignores them */
    case CC_ENABLED:
        return check_enabled(p, "CapControl", pn, val);
    default:
        return not_modelled(p, "CapControl", pn);
    }
}

static const char *const swt_props[] = {"switchedobj", "switchedterm", "action", "lock",
                                        "delay",       "normal",       "state",  "reset",
                                        "basefreq",    "enabled",      "like",   NULL};
enum {
    SW_OBJ,
    SW_TERM,
    SW_ACTION,
    SW_LOCK,
    SW_DELAY,
    SW_NORMAL,
    SW_STATE,
    SW_RESET,
    SW_BASEFREQ,
    SW_ENABLED
};

/* open / o / close / c as 1 / 0 */
static int get_open(struct pctx *p, const char *pn, const char *val, int *out)
{
    if (!strncasecmp(val, "o", 1))
        *out = 1;
    else if (!strncasecmp(val, "c", 1))
        *out = 0;
    else
        return perr(p, "%s: '%s' (open or close)", pn, val);
    return 0;
}

static int set_swt(struct pctx *p, struct fdr_swtdef *d, int id, const char *pn, const char *val)
{
    switch (id) {
    case SW_OBJ:
        return copy_name(p, d->obj, sizeof d->obj, val, "switchedobj");
    case SW_TERM:
        return get_int(p, pn, val, &d->term);
    case SW_ACTION:
        return get_open(p, pn, val, &d->action);
    case SW_NORMAL:
        return get_open(p, pn, val, &d->normal);
    case SW_STATE:
        return get_open(p, pn, val, &d->state);
    case SW_LOCK:
    case SW_DELAY:
    case SW_RESET:
    case SW_BASEFREQ:
        return 0; /* time-mode behaviour: the switch keeps its state here */
    case SW_ENABLED:
        return check_enabled(p, "SwtControl", pn, val);
    default:
        return not_modelled(p, "SwtControl", pn);
    }
}

/* Generator, PVSystem and Storage: fixed injections, kept as elements of
 * loads with a negative demand (p_kw < 0 injects), named Class.NAME. Only
 * the properties that set the injection are read; the ones for dynamics,
 * harmonics, fuel and inverter controls are accepted and ignored;
 * anything that would change the steady-state injection and is not
 * modelled is an error. */
/* clang-format off */
static const char *const gen_props[] = {
    "phases", "bus1", "kv", "kw", "pf", "kvar", "model", "vminpu", "vmaxpu", "yearly", "daily",
    "duty", "dispmode", "dispvalue", "conn", "rneut", "xneut", "status", "class", "vpu",
    "maxkvar", "minkvar", "pvfactor", "forceon", "kva", "mva", "xd", "xdp", "xdpp", "h", "d",
    "usermodel", "userdata", "shaftmodel", "shaftdata", "dutystart", "debugtrace", "balanced",
    "xrdp", "usefuel", "fuelkwh", "%fuel", "%reserve", "refuel", "spectrum", "basefreq",
    "enabled", "like", NULL};
/* clang-format on */
/* clang-format off */
static const char *const pv_props[] = {
    "phases", "bus1", "kv", "irradiance", "pmpp", "%pmpp", "temperature", "pf", "conn", "kvar",
    "kva", "%cutin", "%cutout", "effcurve", "p-tcurve", "%r", "%x", "model", "vminpu", "vmaxpu",
    "balanced", "limitcurrent", "yearly", "daily", "duty", "tyearly", "tdaily", "tduty", "class",
    "usermodel", "userdata", "debugtrace", "varfollowinverter", "dutystart", "wattpriority",
    "pfpriority", "%pminnovars", "%pminkvarmax", "kvarmax", "kvarmaxabs", "kvdc", "kp", "pitol",
    "safevoltage", "safemode", "dynamiceq", "dynout", "controlmode", "amplimit", "amplimitgain",
    "spectrum", "basefreq", "enabled", "like", NULL};
/* clang-format on */
/* clang-format off */
static const char *const stor_props[] = {
    "phases", "bus1", "kv", "conn", "kw", "kvar", "pf", "kva", "%cutin", "%cutout", "effcurve",
    "varfollowinverter", "kvarmax", "kvarmaxabs", "wattpriority", "pfpriority", "%pminnovars",
    "%pminkvarmax", "kwrated", "%kwrated", "kwhrated", "kwhstored", "%stored", "%reserve",
    "state", "%discharge", "%charge", "%effcharge", "%effdischarge", "%idlingkw", "%idlingkvar",
    "%r", "%x", "model", "vminpu", "vmaxpu", "balanced", "limitcurrent", "yearly", "daily",
    "duty", "dispmode", "dischargetrigger", "chargetrigger", "timechargetrig", "class", "dynadll",
    "dynadata", "usermodel", "userdata", "debugtrace", "kvdc", "kp", "pitol", "safevoltage",
    "safemode", "dynamiceq", "dynout", "controlmode", "amplimit", "amplimitgain", "spectrum",
    "basefreq", "enabled", "like", NULL};
/* clang-format on */

/* The injection a Generator / PVSystem / Storage's properties set. */
static void gen_update(struct fdr_loaddef *l)
{
    double p = 0;
    switch (l->gen_kind) {
    case 1:
        p = l->g_kw;
        break;
    case 2:
        p = l->g_pmpp * l->g_pct / 100.0 * l->g_irr;
        if (l->g_kva > 0 && p > l->g_kva)
            p = l->g_kva;
        break;
    default: /* storage: idling 0, discharging +, charging - (as an output) */
        if (l->g_state > 0)
            p = l->g_kw_given ? fabs(l->g_kw) : l->g_kwrated * l->g_pctdis / 100.0;
        else if (l->g_state < 0)
            p = -(l->g_kw_given ? fabs(l->g_kw) : l->g_kwrated * l->g_pctch / 100.0);
        break;
    }
    l->kw = -p; /* as a load: negative = injection */
    if (!l->q_from_pf)
        l->kvar = -l->g_kvar;
}

static int set_gen(struct pctx *p, int cl, struct fdr_loaddef *l, int id, const char *pn,
                   const char *val)
{
    const char *const *props = cl == CL_GEN ? gen_props : cl == CL_PV ? pv_props : stor_props;
    const char *nm = props[id];
    const char *cls = cl == CL_GEN ? "Generator" : cl == CL_PV ? "PVSystem" : "Storage";
    int rc = 0, b = 0;
    if (!strcmp(nm, "phases")) {
        if ((rc = get_int(p, pn, val, &l->phases)))
            return rc;
        return l->phases >= 1 && l->phases <= 3 ? 0 : perr(p, "phases=%d: 1 to 3", l->phases);
    }
    if (!strcmp(nm, "bus1"))
        return copy_name(p, l->bus, sizeof l->bus, val, "bus");
    if (!strcmp(nm, "kv")) {
        if ((rc = get_num(p, pn, val, &l->kv)))
            return rc;
        return l->kv > 0 ? 0 : perr(p, "kv must be > 0");
    }
    if (!strcmp(nm, "conn"))
        return get_conn(p, pn, val, &l->conn);
    if (!strcmp(nm, "vminpu"))
        return get_num(p, pn, val, &l->vminpu);
    if (!strcmp(nm, "vmaxpu"))
        return get_num(p, pn, val, &l->vmaxpu);
    if (!strcmp(nm, "yearly"))
        return get_shape_ref(p, val, &l->yearly);
    if (!strcmp(nm, "daily"))
        return get_shape_ref(p, val, &l->daily);
    if (!strcmp(nm, "pf")) {
        if ((rc = get_num(p, pn, val, &l->pf)))
            return rc;
        if (l->pf == 0 || fabs(l->pf) > 1)
            return perr(p, "pf=%g: expected 0 < |pf| <= 1", l->pf);
        l->q_from_pf = 1;
        gen_update(l);
        return 0;
    }
    if (!strcmp(nm, "kvar")) {
        if ((rc = get_num(p, pn, val, &l->g_kvar)))
            return rc;
        l->q_from_pf = 0;
        gen_update(l);
        return 0;
    }
    if (!strcmp(nm, "model")) {
        int m = 0;
        if ((rc = get_int(p, pn, val, &m)))
            return rc;
        return m == 1
                   ? 0
                   : perr(p, "%s model=%d: only model 1 (constant P and Q) is supported", cls, m);
    }
    if (!strcmp(nm, "enabled")) {
        if ((rc = get_bool(p, pn, val, &b)))
            return rc;
        l->disabled = !b;
        return 0;
    }
    if (!strcmp(nm, "status")) {
        l->fixed = !strncasecmp(val, "fixed", 1);
        return 0;
    }
    if (!strcmp(nm, "usermodel") || !strcmp(nm, "effcurve") || !strcmp(nm, "p-tcurve") ||
        !strcmp(nm, "dynadll") || !strcmp(nm, "shaftmodel"))
        return *val ? not_modelled(p, cls, pn) : 0;
    double *dst = NULL;
    if (cl == CL_GEN && !strcmp(nm, "kw"))
        dst = &l->g_kw;
    else if (cl == CL_PV && !strcmp(nm, "irradiance"))
        dst = &l->g_irr;
    else if (cl == CL_PV && !strcmp(nm, "pmpp"))
        dst = &l->g_pmpp;
    else if (cl == CL_PV && !strcmp(nm, "%pmpp"))
        dst = &l->g_pct;
    else if (cl != CL_GEN && !strcmp(nm, "kva"))
        dst = &l->g_kva;
    else if (cl == CL_STOR && !strcmp(nm, "kwrated"))
        dst = &l->g_kwrated;
    else if (cl == CL_STOR && !strcmp(nm, "%discharge"))
        dst = &l->g_pctdis;
    else if (cl == CL_STOR && !strcmp(nm, "%charge"))
        dst = &l->g_pctch;
    else if (cl == CL_STOR && !strcmp(nm, "kw")) {
        dst = &l->g_kw;
        l->g_kw_given = 1;
    }
    if (dst) {
        if ((rc = get_num(p, pn, val, dst)))
            return rc;
        gen_update(l);
        return 0;
    }
    if (cl == CL_STOR && !strcmp(nm, "state")) {
        if (!strncasecmp(val, "idl", 3))
            l->g_state = 0;
        else if (!strncasecmp(val, "dis", 3))
            l->g_state = 1;
        else if (!strncasecmp(val, "cha", 3))
            l->g_state = -1;
        else
            return perr(p, "state=%s: idling, charging or discharging", val);
        gen_update(l);
        return 0;
    }
    if (cl == CL_STOR && !strcmp(nm, "dispmode") && strncasecmp(val, "default", 3))
        return perr(p,
                    "Storage dispmode=%s: only the fixed State dispatch is modelled (bind the "
                    "element to a flexbed battery for anything else)",
                    val);
    return 0; /* duty cycles, temperatures, ratings, dynamics, harmonics, fuel, inverter */
}

/* XfmrCode's properties, in OpenDSS's order (the same names as
 * Transformer's, which set_xfmr handles). */
static const char *const xfcode_props[] = {
    "phases", "windings", "wdg",       "conn",          "kv",       "kva",       "tap",
    "%r",     "rneut",    "xneut",     "conns",         "kvs",      "kvas",      "taps",
    "xhl",    "xht",      "xlt",       "xscarray",      "thermal",  "n",         "m",
    "flrise", "hsrise",   "%loadloss", "%noloadloss",   "normhkva", "emerghkva", "maxtap",
    "mintap", "numtaps",  "%imag",     "ppm_antifloat", "%rs",      "x12",       "x13",
    "x23",    "rdcohms",  "seasons",   "ratings",       "like",     NULL};

static int set_xfmr(struct pctx *p, struct fdr_xfmrdef *x, int id, const char *pn, const char *val)
{
    int rc, n = 0;
    double d = 0;
    struct fdr_wdg *w = &x->w[x->active];
    switch (id) {
    case TR_XFMRCODE: {
        /* the code's ratings and impedances; the buses stay */
        int k = fdr_names_get(&p->c->xfcode_ix, val);
        if (k < 0)
            return perr(p, "XfmrCode '%s' is not defined", val);
        const struct fdr_xfmrdef *code = &p->c->xfcodes[k];
        char bus[3][FDR_BUSSPEC_MAX];
        for (int i = 0; i < 3; i++)
            memcpy(bus[i], x->w[i].bus, sizeof bus[i]);
        x->phases = code->phases;
        x->nw = code->nw;
        memcpy(x->w, code->w, sizeof x->w);
        for (int i = 0; i < 3; i++)
            memcpy(x->w[i].bus, bus[i], sizeof bus[i]);
        x->xhl_pct = code->xhl_pct;
        x->xht_pct = code->xht_pct;
        x->xlt_pct = code->xlt_pct;
        x->imag_pct = code->imag_pct;
        x->noloadloss_pct = code->noloadloss_pct;
        x->ppm = code->ppm;
        x->lead = code->lead;
        if (x->active >= x->nw)
            x->active = 0;
        return 0;
    }
    case TR_PHASES:
        return get_int(p, pn, val, &x->phases);
    case TR_WINDINGS:
        if ((rc = get_int(p, pn, val, &n)))
            return rc;
        if (n != 2 && n != 3)
            return perr(p, "windings=%d: transformers of two or three windings are supported", n);
        x->nw = n;
        if (x->active >= n)
            x->active = 0;
        return 0;
    case TR_WDG:
        if ((rc = get_int(p, pn, val, &n)))
            return rc;
        if (n < 1 || n > x->nw)
            return perr(p, "wdg=%d: transformer has %d windings", n, x->nw);
        x->active = n - 1;
        return 0;
    case TR_BUS:
        return copy_name(p, w->bus, sizeof w->bus, val, "bus");
    case TR_CONN:
        return get_conn(p, pn, val, &w->conn);
    case TR_KV:
        return get_num(p, pn, val, &w->kv);
    case TR_KVA:
        return get_num(p, pn, val, &w->kva);
    case TR_TAP:
        return get_num(p, pn, val, &w->tap);
    case TR_R:
        return get_num(p, pn, val, &w->r_pct);
    case TR_RNEUT:
        return get_num(p, pn, val, &w->rneut); /* used for a star point on node 4 only */
    case TR_XNEUT:
        return get_num(p, pn, val, &w->xneut);
    case TR_BUSES:
    case TR_CONNS:
    case TR_KVS:
    case TR_KVAS:
    case TR_TAPS:
    case TR_RS:
        return xfmr_array(p, x, id, pn, val);
    case TR_XHL:
    case TR_X12:
        return get_num(p, pn, val, &x->xhl_pct);
    case TR_LOADLOSS:
        if ((rc = get_num(p, pn, val, &d)))
            return rc;
        x->w[0].r_pct = x->w[1].r_pct = d / 2.0;
        return 0;
    case TR_NOLOADLOSS:
        return get_num(p, pn, val, &x->noloadloss_pct);
    case TR_IMAG:
        return get_num(p, pn, val, &x->imag_pct);
    case TR_PPM:
        return get_num(p, pn, val, &x->ppm);
    case TR_XHT:
    case TR_X13:
        return get_num(p, pn, val, &x->xht_pct);
    case TR_XLT:
    case TR_X23:
        return get_num(p, pn, val, &x->xlt_pct);
    case TR_XSCARRAY:
        return xfmr_xsc(p, x, pn, val);
    case TR_LEADLAG:
        if (!strcasecmp(val, "lag") || !strcasecmp(val, "ansi"))
            x->lead = 0;
        else if (!strcasecmp(val, "lead") || !strcasecmp(val, "euro"))
            x->lead = 1;
        else
            return perr(p, "leadlag: '%s' (lead, lag, ansi or euro)", val);
        return 0;
    case TR_THERMAL:
    case TR_N:
    case TR_M:
    case TR_FLRISE:
    case TR_HSRISE:
    case TR_NORMHKVA:
    case TR_EMERGHKVA:
    case TR_MAXTAP:
        return get_num(p, pn, val, &w->maxtap);
    case TR_MINTAP:
        return get_num(p, pn, val, &w->mintap);
    case TR_NUMTAPS:
        if ((rc = get_int(p, pn, val, &w->numtaps)))
            return rc;
        return w->numtaps >= 1 ? 0 : perr(p, "numtaps must be >= 1");
    case TR_SUB:
    case TR_SUBNAME:
    case TR_BANK:
    case TR_XRCONST:
    case TR_WDGCURRENTS:
    case TR_SEASONS:
    case TR_RATINGS:
    case TR_NORMAMPS:
    case TR_EMERGAMPS:
    case TR_FAULTRATE:
    case TR_PCTPERM:
    case TR_REPAIR:
    case TR_BASEFREQ:
        return 0; /* thermal data, bank and substation names, ratings */
    case TR_ENABLED:
        return check_enabled(p, "Transformer", pn, val);
    default:
        return not_modelled(p, "Transformer", pn);
    }
}

/* Reactor: only a neutral earthing impedance (topology.c checks the buses). */
static int set_reactor(struct pctx *p, struct fdr_reactordef *r, int id, const char *pn,
                       const char *val)
{
    int rc;
    switch (id) {
    case RX_BUS1:
        return copy_name(p, r->bus[0], sizeof r->bus[0], val, "bus");
    case RX_BUS2:
        return copy_name(p, r->bus[1], sizeof r->bus[1], val, "bus");
    case RX_R:
        return get_num(p, pn, val, &r->r);
    case RX_X:
        return get_num(p, pn, val, &r->x);
    case RX_PHASES:
        if ((rc = get_int(p, pn, val, &r->phases)))
            return rc;
        return r->phases >= 1 && r->phases <= 3
                   ? 0
                   : perr(p, "Reactor phases=%d: one to three phases are supported", r->phases);
    case RX_NORMAMPS:
    case RX_EMERGAMPS:
    case RX_FAULTRATE:
    case RX_PCTPERM:
    case RX_REPAIR:
    case RX_BASEFREQ:
        return 0; /* ratings, reliability */
    case RX_ENABLED:
        return check_enabled(p, "Reactor", pn, val);
    default:
        return not_modelled(p, "Reactor", pn);
    }
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */
/* ------------------------------------------------------------------ */

static const char *const *class_props(int cl)
{
    switch (cl) {
    case CL_CIRCUIT:
    case CL_VSOURCE:
        return vsrc_props;
    case CL_LINECODE:
        return code_props;
    case CL_LINE:
        return line_props;
    case CL_LOAD:
        return load_props;
    case CL_SHAPE:
        return shape_props;
    case CL_XFMR:
        return xfmr_props;
    case CL_REACTOR:
        return reactor_props;
    case CL_WIRE:
        return wire_props;
    case CL_CN:
        return cn_props;
    case CL_SPACING:
        return spacing_props;
    case CL_TS:
        return ts_props;
    case CL_GEOM:
        return geom_props;
    case CL_CAP:
        return cap_props;
    case CL_REG:
        return reg_props;
    case CL_XFCODE:
        return xfcode_props;
    case CL_CAPCTRL:
        return capctrl_props;
    case CL_SWT:
        return swt_props;
    case CL_GEN:
        return gen_props;
    case CL_PV:
        return pv_props;
    case CL_STOR:
        return stor_props;
    default:
        return NULL;
    }
}

static const char *class_name(int cl)
{
    static const char *const n[] = {
        "",          "",           "Circuit",     "Vsource",     "LineCode",   "Line",
        "Load",      "LoadShape",  "Transformer", "Reactor",     "WireData",   "LineGeometry",
        "Capacitor", "RegControl", "XfmrCode",    "CapControl",  "SwtControl", "Generator",
        "PVSystem",  "Storage",    "CNData",      "LineSpacing", "TSData"};
    return n[cl];
}

/* Class of "Line.name" prefixes. Output-only classes give CL_SKIP. */
static int class_of(const char *cls)
{
    static const struct {
        const char *name;
        int cl;
    } map[] = {{"circuit", CL_CIRCUIT},   {"vsource", CL_VSOURCE},     {"linecode", CL_LINECODE},
               {"line", CL_LINE},         {"load", CL_LOAD},           {"loadshape", CL_SHAPE},
               {"transformer", CL_XFMR},  {"monitor", CL_SKIP},        {"energymeter", CL_SKIP},
               {"sensor", CL_SKIP},       {"reactor", CL_REACTOR},     {"wiredata", CL_WIRE},
               {"linegeometry", CL_GEOM}, {"capacitor", CL_CAP},       {"regcontrol", CL_REG},
               {"xfmrcode", CL_XFCODE},   {"capcontrol", CL_CAPCTRL},  {"swtcontrol", CL_SWT},
               {"fuse", CL_SKIP},         {"recloser", CL_SKIP},       {"relay", CL_SKIP},
               {"generator", CL_GEN},     {"pvsystem", CL_PV},         {"storage", CL_STOR},
               {"cndata", CL_CN},         {"linespacing", CL_SPACING}, {"tsdata", CL_TS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(cls, map[i].name))
            return map[i].cl;
    return CL_NONE;
}

/* like=NAME: the element becomes a copy of NAME of the same class (its
 * own name and location kept); the properties after it edit the copy. */
static int make_like(struct pctx *p, int cl, int idx, const char *other)
{
    fdr_circuit *c = p->c;
    const struct fdr_names *ix = cl == CL_LINECODE  ? &c->code_ix
                                 : cl == CL_LINE    ? &c->line_ix
                                 : cl == CL_LOAD    ? &c->load_ix
                                 : cl == CL_SHAPE   ? &c->shape_ix
                                 : cl == CL_XFMR    ? &c->xfmr_ix
                                 : cl == CL_REACTOR ? &c->reactor_ix
                                 : cl == CL_WIRE    ? &c->wire_ix
                                 : cl == CL_GEOM    ? &c->geom_ix
                                 : cl == CL_CAP     ? &c->cap_ix
                                 : cl == CL_XFCODE  ? &c->xfcode_ix
                                 : cl == CL_CAPCTRL ? &c->capctrl_ix
                                 : cl == CL_SWT     ? &c->swt_ix
                                 : cl == CL_CN      ? &c->cn_ix
                                 : cl == CL_SPACING ? &c->spacing_ix
                                 : cl == CL_TS      ? &c->ts_ix
                                 : cl >= CL_GEN     ? &c->gen_ix
                                                    : &c->reg_ix;
    char full[2 * FDR_NAME_MAX];
    if (cl == CL_GEN || cl == CL_PV ||
        cl == CL_STOR) { /* kept under Class.NAME (loads hold several classes) */
        snprintf(full, sizeof full, "%s.%s", class_name(cl), other);
        other = full;
    }
    int k = fdr_names_get(ix, other);
    if (k < 0)
        return perr(p, "like=%s: %s.%s is not defined", other, class_name(cl), other);
    if (k == idx)
        return 0;
#define LIKE(arr)                                                                                  \
    do {                                                                                           \
        char name[FDR_NAME_MAX];                                                                   \
        struct fdr_loc at = c->arr[idx].at;                                                        \
        memcpy(name, c->arr[idx].name, sizeof name);                                               \
        c->arr[idx] = c->arr[k];                                                                   \
        memcpy(c->arr[idx].name, name, sizeof name);                                               \
        c->arr[idx].at = at;                                                                       \
    } while (0)
    switch (cl) {
    case CL_LINECODE:
        LIKE(codes);
        break;
    case CL_LINE:
        LIKE(lines);
        break;
    case CL_LOAD:
        LIKE(loads);
        break;
    case CL_XFMR:
        LIKE(xfmrs);
        break;
    case CL_REACTOR:
        LIKE(reactors);
        break;
    case CL_WIRE:
    case CL_CN:
    case CL_TS:
        LIKE(wires);
        break;
    case CL_SPACING:
        LIKE(spacings);
        break;
    case CL_GEOM:
        LIKE(geoms);
        break;
    case CL_CAP:
    case CL_GEN:
    case CL_PV:
    case CL_STOR:
        LIKE(loads);
        break;
    case CL_REG:
        LIKE(regs);
        break;
    case CL_XFCODE:
        LIKE(xfcodes);
        break;
    case CL_CAPCTRL:
        LIKE(capctrls);
        break;
    case CL_SWT:
        LIKE(swts);
        break;
    case CL_SHAPE: {
        /* the multipliers are owned: copy them */
        struct fdr_shape *d = &c->shapes[idx];
        const struct fdr_shape *src = &c->shapes[k];
        double *m = NULL, *q = NULL;
        if (src->mult && !(m = malloc((size_t)src->npts * sizeof *m)))
            return sim_errf(p->err, SIM_ENOMEM, "out of memory");
        if (src->qmult && !(q = malloc((size_t)src->npts * sizeof *q))) {
            free(m);
            return sim_errf(p->err, SIM_ENOMEM, "out of memory");
        }
        if (m)
            memcpy(m, src->mult, (size_t)src->npts * sizeof *m);
        if (q)
            memcpy(q, src->qmult, (size_t)src->npts * sizeof *q);
        free(d->mult);
        free(d->qmult);
        LIKE(shapes);
        d->mult = m;
        d->qmult = q;
        break;
    }
    default:
        return perr(p, "like= is not supported for %s", class_name(cl));
    }
#undef LIKE
    return 0;
}

static int apply_props(struct pctx *p, int cl, int idx, struct tok *t, int n)
{
    const char *const *props = class_props(cl);
    fdr_circuit *c = p->c;
    for (int i = 0; i < n; i++) {
        int id;
        const char *pn;
        if (t[i].name) {
            id = match_name(props, t[i].name);
            if (id == -2)
                return perr(p, "%s property '%s' is ambiguous", class_name(cl), t[i].name);
            if (id < 0)
                return perr(p, "%s has no property '%s'", class_name(cl), t[i].name);
            pn = t[i].name;
        } else {
            id = p->act_lastprop + 1;
            if (!props[id])
                return perr(p, "too many positional values for %s", class_name(cl));
            pn = props[id];
        }
        p->act_lastprop = id;
        int rc;
        if (!strcmp(props[id], "like") && cl != CL_CIRCUIT && cl != CL_VSOURCE) {
            if ((rc = make_like(p, cl, idx, t[i].value)))
                return rc;
            continue;
        }
        switch (cl) {
        case CL_CIRCUIT:
        case CL_VSOURCE:
            rc = set_vsource(p, &c->src, id, pn, t[i].value);
            break;
        case CL_LINECODE:
            rc = set_linecode(p, &c->codes[idx], id, pn, t[i].value);
            break;
        case CL_LINE:
            rc = set_line(p, &c->lines[idx], id, pn, t[i].value);
            break;
        case CL_LOAD:
            rc = set_load(p, &c->loads[idx], id, pn, t[i].value);
            break;
        case CL_SHAPE:
            rc = set_shape(p, &c->shapes[idx], id, pn, t[i].value);
            break;
        case CL_REACTOR:
            rc = set_reactor(p, &c->reactors[idx], id, pn, t[i].value);
            break;
        case CL_WIRE:
            rc = set_wire(p, &c->wires[idx], id, pn, t[i].value);
            break;
        case CL_CN:
            rc = set_cn(p, &c->wires[idx], id, pn, t[i].value);
            break;
        case CL_SPACING:
            rc = set_spacing(p, &c->spacings[idx], id, pn, t[i].value);
            break;
        case CL_TS:
            rc = set_ts(p, &c->wires[idx], id, pn, t[i].value);
            break;
        case CL_GEOM:
            rc = set_geometry(p, &c->geoms[idx], id, pn, t[i].value);
            break;
        case CL_CAP:
            rc = set_cap(p, &c->loads[idx], id, pn, t[i].value);
            break;
        case CL_GEN:
        case CL_PV:
        case CL_STOR:
            rc = set_gen(p, cl, &c->loads[idx], id, pn, t[i].value);
            break;
        case CL_REG:
            rc = set_reg(p, &c->regs[idx], id, pn, t[i].value);
            break;
        case CL_XFCODE:
            rc = set_xfmr(p, &c->xfcodes[idx], match_name(xfmr_props, props[id]), pn, t[i].value);
            break;
        case CL_CAPCTRL:
            rc = set_capctrl(p, &c->capctrls[idx], id, pn, t[i].value);
            break;
        case CL_SWT:
            rc = set_swt(p, &c->swts[idx], id, pn, t[i].value);
            break;
        default:
            rc = set_xfmr(p, &c->xfmrs[idx], id, pn, t[i].value);
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Find (create=0) or create (create=1) an object. Returns index or <0. */
static int object(struct pctx *p, int cl, const char *name, int create, int *idx)
{
    fdr_circuit *c = p->c;
    struct fdr_names *ix;
    struct fdr_loc at = {p->file, p->line};
    switch (cl) {
    case CL_LINECODE:
        ix = &c->code_ix;
        break;
    case CL_LINE:
        ix = &c->line_ix;
        break;
    case CL_LOAD:
        ix = &c->load_ix;
        break;
    case CL_SHAPE:
        ix = &c->shape_ix;
        break;
    case CL_XFMR:
        ix = &c->xfmr_ix;
        break;
    case CL_REACTOR:
        ix = &c->reactor_ix;
        break;
    case CL_WIRE:
        ix = &c->wire_ix;
        break;
    case CL_CN:
        ix = &c->cn_ix;
        break;
    case CL_SPACING:
        ix = &c->spacing_ix;
        break;
    case CL_TS:
        ix = &c->ts_ix;
        break;
    case CL_GEOM:
        ix = &c->geom_ix;
        break;
    case CL_CAP:
        ix = &c->cap_ix;
        break;
    case CL_GEN:
    case CL_PV:
    case CL_STOR:
        ix = &c->gen_ix;
        break;
    case CL_REG:
        ix = &c->reg_ix;
        break;
    case CL_XFCODE:
        ix = &c->xfcode_ix;
        break;
    case CL_CAPCTRL:
        ix = &c->capctrl_ix;
        break;
    case CL_SWT:
        ix = &c->swt_ix;
        break;
    default: {
        /* the circuit's Vsource */
        if (!c->have_circuit)
            return perr(p, "no circuit defined yet (New Circuit.name first)");
        if (cl == CL_VSOURCE && strcasecmp(name, c->src.name))
            return perr(p, "Vsource.%s: only the circuit's source (Vsource.%s) is supported", name,
                        c->src.name);
        *idx = 0;
        return 0;
    }
    }
    if (strlen(name) >= FDR_NAME_MAX)
        return perr(p, "name '%s' is too long", name);
    if (!*name)
        return perr(p, "%s without a name", class_name(cl));
    char full[FDR_NAME_MAX];
    const char *key = name;
    if (cl == CL_GEN || cl == CL_PV || cl == CL_STOR) {
        /* an element of loads, named and indexed as Class.NAME */
        int w = snprintf(full, sizeof full, "%s.%s", class_name(cl), name);
        if (w < 0 || (size_t)w >= sizeof full)
            return perr(p, "name '%s' is too long", name);
        key = full;
    }
    int k = fdr_names_get(ix, key);
    if (k >= 0) {
        if (create)
            pwarn(p, "%s.%s defined again: editing the existing one", class_name(cl), name);
        *idx = k;
        return 0;
    }
    if (!create)
        return perr(p, "%s.%s is not defined", class_name(cl), name);
    if (!c->have_circuit)
        return perr(p, "no circuit defined yet (New Circuit.name first)");
    int rc = 0;
    switch (cl) {
    case CL_LINECODE:
        rc = grow((void **)&c->codes, &c->codes_cap, c->ncodes + 1, sizeof *c->codes);
        if (!rc) {
            k = c->ncodes++;
            struct fdr_linecode *lc = &c->codes[k];
            memset(lc, 0, sizeof *lc);
            strcpy(lc->name, name);
            zdef_default(&lc->z);
            lc->at = at;
        }
        break;
    case CL_LINE:
        rc = grow((void **)&c->lines, &c->lines_cap, c->nlines + 1, sizeof *c->lines);
        if (!rc) {
            k = c->nlines++;
            struct fdr_linedef *l = &c->lines[k];
            memset(l, 0, sizeof *l);
            strcpy(l->name, name);
            zdef_default(&l->z);
            l->phases = 3;
            l->length = 1.0;
            l->geometry = l->spacing = -1;
            l->rho = 100.0;
            l->earth = c->earth_model;
            l->at = at;
        }
        break;
    case CL_LOAD:
        rc = grow((void **)&c->loads, &c->loads_cap, c->nloads + 1, sizeof *c->loads);
        if (!rc) {
            k = c->nloads++;
            load_default(&c->loads[k]);
            strcpy(c->loads[k].name, name);
            c->loads[k].at = at;
        }
        break;
    case CL_SHAPE:
        rc = grow((void **)&c->shapes, &c->shapes_cap, c->nshapes + 1, sizeof *c->shapes);
        if (!rc) {
            k = c->nshapes++;
            struct fdr_shape *sh = &c->shapes[k];
            memset(sh, 0, sizeof *sh);
            strcpy(sh->name, name);
            sh->interval_h = 1.0;
            sh->at = at;
        }
        break;
    case CL_REACTOR:
        rc = grow((void **)&c->reactors, &c->reactors_cap, c->nreactors + 1, sizeof *c->reactors);
        if (!rc) {
            k = c->nreactors++;
            struct fdr_reactordef *r = &c->reactors[k];
            memset(r, 0, sizeof *r);
            strcpy(r->name, name);
            r->phases = 3; /* OpenDSS's default */
            r->at = at;
        }
        break;
    case CL_WIRE:
    case CL_CN:
    case CL_TS:
        rc = grow((void **)&c->wires, &c->wires_cap, c->nwires + 1, sizeof *c->wires);
        if (!rc) {
            k = c->nwires++;
            struct fdr_wire *w = &c->wires[k];
            memset(w, 0, sizeof *w);
            strcpy(w->name, name);
            w->rdc = w->rac = w->gmr = w->radius = -1;
            w->cn = cl == CL_CN;
            w->ts = cl == CL_TS;
            w->tape_lap = 20; /* OpenDSS's default, % */
            w->dia_shield = w->tape_layer = -1;
            w->k = 2; /* OpenDSS's defaults */
            w->epsr = 2.3;
            w->dia_strand = w->gmr_strand = w->r_strand = w->ins_layer = w->dia_ins = w->dia_cable =
                -1;
            w->at = at;
        }
        break;
    case CL_GEN:
    case CL_PV:
    case CL_STOR:
        rc = grow((void **)&c->loads, &c->loads_cap, c->nloads + 1, sizeof *c->loads);
        if (!rc) {
            k = c->nloads++;
            struct fdr_loaddef *l = &c->loads[k];
            load_default(l);
            snprintf(l->name, sizeof l->name, "%s", key);
            l->gen_kind = cl == CL_GEN ? 1 : cl == CL_PV ? 2 : 3;
            /* OpenDSS's defaults */
            l->vminpu = 0.9;
            l->vmaxpu = 1.1;
            l->g_kw = 1000;
            l->pf = cl == CL_GEN ? 0.8 : 1.0;
            l->q_from_pf = 1;
            l->g_irr = 1;
            l->g_pmpp = 500;
            l->g_pct = 100;
            l->g_kva = cl == CL_PV ? 500 : 25;
            l->g_kwrated = 25;
            l->g_pctdis = l->g_pctch = 100;
            gen_update(l);
            l->at = at;
        }
        break;
    case CL_CAP:
        /* an element of loads, named Capacitor.NAME (OpenDSS keeps
         * classes apart: a Load may have the same name) */
        if (strlen(name) + 10 >= FDR_NAME_MAX)
            return perr(p, "name '%s' is too long", name);
        rc = grow((void **)&c->loads, &c->loads_cap, c->nloads + 1, sizeof *c->loads);
        if (!rc) {
            k = c->nloads++;
            struct fdr_loaddef *l = &c->loads[k];
            load_default(l);
            snprintf(l->name, sizeof l->name, "Capacitor.%s", name);
            l->capacitor = 1;
            l->fixed = 1;
            l->model = 2; /* constant impedance */
            l->kw = 0;
            l->q_from_pf = 0;
            l->vminpu = 0;
            l->cap_kvar[0] = 1200; /* OpenDSS's default */
            l->cap_state[0] = 1;
            l->cap_nsteps = 1;
            l->kvar = -1200;
            l->at = at;
        }
        break;
    case CL_REG:
        rc = grow((void **)&c->regs, &c->regs_cap, c->nregs + 1, sizeof *c->regs);
        if (!rc) {
            k = c->nregs++;
            struct fdr_regdef *r = &c->regs[k];
            memset(r, 0, sizeof *r);
            strcpy(r->name, name);
            /* OpenDSS's defaults */
            r->winding = r->tapwinding = 1;
            r->vreg = 120;
            r->band = 3;
            r->ptratio = 60;
            r->ctprim = 300;
            r->maxtapchange = 16;
            r->delay = 15;
            r->tapdelay = 2;
            r->at = at;
        }
        break;
    case CL_SPACING:
        rc = grow((void **)&c->spacings, &c->spacings_cap, c->nspacings + 1, sizeof *c->spacings);
        if (!rc) {
            k = c->nspacings++;
            struct fdr_geometry *g = &c->spacings[k];
            memset(g, 0, sizeof *g);
            strcpy(g->name, name);
            g->nconds = g->nphases = 3;
            g->reduce = 1;
            for (int j = 0; j < FDR_LC_MAX; j++) {
                g->wire[j] = -1;
                g->units[j] = FDR_U_FT;
            }
            g->at = at;
        }
        break;
    case CL_GEOM:
        rc = grow((void **)&c->geoms, &c->geoms_cap, c->ngeoms + 1, sizeof *c->geoms);
        if (!rc) {
            k = c->ngeoms++;
            struct fdr_geometry *g = &c->geoms[k];
            memset(g, 0, sizeof *g);
            strcpy(g->name, name);
            g->nconds = g->nphases = 3;
            for (int j = 0; j < FDR_LC_MAX; j++) {
                g->wire[j] = -1;
                g->units[j] = FDR_U_FT; /* OpenDSS's initial default */
            }
            g->at = at;
        }
        break;
    case CL_SWT:
        rc = grow((void **)&c->swts, &c->swts_cap, c->nswts + 1, sizeof *c->swts);
        if (!rc) {
            k = c->nswts++;
            struct fdr_swtdef *d = &c->swts[k];
            memset(d, 0, sizeof *d);
            strcpy(d->name, name);
            d->term = 1;
            d->action = d->normal = d->state = -1;
            d->at = at;
        }
        break;
    case CL_CAPCTRL:
        rc = grow((void **)&c->capctrls, &c->capctrls_cap, c->ncapctrls + 1, sizeof *c->capctrls);
        if (!rc) {
            k = c->ncapctrls++;
            struct fdr_capctrldef *d = &c->capctrls[k];
            memset(d, 0, sizeof *d);
            strcpy(d->name, name);
            /* OpenDSS's defaults */
            d->terminal = 1;
            d->type = FDR_CC_CURRENT;
            d->ptratio = d->ctratio = 60;
            d->on = 300;
            d->off = 200;
            d->delay = d->delayoff = 15;
            d->deadtime = 300;
            d->vmax = 126;
            d->vmin = 115;
            d->ptphase = d->ctphase = 1;
            d->at = at;
        }
        break;
    case CL_XFCODE:
        rc = grow((void **)&c->xfcodes, &c->xfcodes_cap, c->nxfcodes + 1, sizeof *c->xfcodes);
        if (!rc) {
            k = c->nxfcodes++;
            xfmr_default(&c->xfcodes[k]);
            strcpy(c->xfcodes[k].name, name);
            c->xfcodes[k].at = at;
        }
        break;
    default:
        rc = grow((void **)&c->xfmrs, &c->xfmrs_cap, c->nxfmrs + 1, sizeof *c->xfmrs);
        if (!rc) {
            k = c->nxfmrs++;
            xfmr_default(&c->xfmrs[k]);
            strcpy(c->xfmrs[k].name, name);
            c->xfmrs[k].at = at;
        }
        break;
    }
    if (rc || fdr_names_put(ix, key, k))
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    *idx = k;
    return 0;
}

/* Split "Class.name" in place. */
static int split_object(struct pctx *p, char *spec, char **cls, char **name)
{
    char *dot = strchr(spec, '.');
    if (!dot)
        return perr(p, "'%s': expected Class.name", spec);
    *dot = '\0';
    *cls = spec;
    *name = dot + 1;
    return 0;
}

/* New / Edit: tokens after the verb. */
static int cmd_new_edit(struct pctx *p, struct tok *t, int n, int create, const char *verb)
{
    if (n < 1)
        return perr(p, "%s: missing Class.name", verb);
    int first = 0;
    char *spec = t[0].value;
    if (t[0].name) {
        if (strcasecmp(t[0].name, "object"))
            return perr(p, "%s: expected Class.name, got '%s='", verb, t[0].name);
    }
    first = 1;
    char specbuf[256];
    snprintf(specbuf, sizeof specbuf, "%s", spec);
    char *cls = NULL, *name = NULL;
    int rc = split_object(p, specbuf, &cls, &name);
    if (rc)
        return rc;
    int cl = class_of(cls);
    if (cl == CL_NONE)
        return perr(p, "%s %s.%s: element class '%s' is not supported", verb, cls, name, cls);
    if (cl == CL_SKIP) {
        if (!strcasecmp(cls, "fuse") || !strcasecmp(cls, "recloser") || !strcasecmp(cls, "relay"))
            pwarn(p, "skipped '%s %s.%s' (a protective device: closed, no faults are simulated)",
                  verb, cls, name);
        else
            pwarn(p, "skipped '%s %s.%s' (output only)", verb, cls, name);
        p->act_class = CL_SKIP;
        return 0;
    }
    int idx = 0;
    p->act_lastprop = -1;
    if (cl == CL_CIRCUIT) {
        if (!create)
            cl = CL_VSOURCE;
        else {
            if (p->c->have_circuit)
                return perr(p, "a second circuit (use Clear first)");
            if (strlen(name) >= FDR_NAME_MAX)
                return perr(p, "name '%s' is too long", name);
            p->c->have_circuit = 1;
            vsource_default(&p->c->src, "source");
            p->c->src.at.file = p->file;
            p->c->src.at.line = p->line;
        }
    } else if (cl == CL_VSOURCE && create) {
        return perr(p, "New Vsource.%s: only the circuit's own source is supported", name);
    }
    if (cl != CL_CIRCUIT && (rc = object(p, cl, name, create, &idx)))
        return rc;
    p->act_class = cl;
    p->act_idx = idx;
    return apply_props(p, cl, idx, t + first, n - first);
}

static int cmd_more(struct pctx *p, struct tok *t, int n)
{
    if (p->act_class == CL_SKIP)
        return 0; /* continuation of a skipped object: warned already */
    if (p->act_class == CL_NONE)
        return perr(p, "'~' / More without an object to continue");
    return apply_props(p, p->act_class, p->act_idx, t, n);
}

static int cmd_batchedit(struct pctx *p, struct tok *t, int n)
{
    if (n < 1 || t[0].name)
        return perr(p, "BatchEdit: missing Class.pattern");
    char specbuf[256];
    snprintf(specbuf, sizeof specbuf, "%s", t[0].value);
    char *cls = NULL, *pat = NULL;
    int rc = split_object(p, specbuf, &cls, &pat);
    if (rc)
        return rc;
    int cl = class_of(cls);
    if (cl == CL_SKIP) {
        pwarn(p, "skipped 'BatchEdit %s.%s' (output only)", cls, pat);
        return 0;
    }
    if (cl == CL_NONE || cl == CL_CIRCUIT || cl == CL_VSOURCE || cl == CL_REACTOR)
        return perr(p, "BatchEdit of class '%s' is not supported", cls);
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB))
        return perr(p, "BatchEdit: bad pattern '%s'", pat);
    fdr_circuit *c = p->c;
    int count = cl == CL_LINECODE ? c->ncodes
                : cl == CL_LINE   ? c->nlines
                : cl == CL_LOAD   ? c->nloads
                : cl == CL_SHAPE  ? c->nshapes
                                  : c->nxfmrs;
    for (int i = 0; i < count && !rc; i++) {
        const char *nm = cl == CL_LINECODE ? c->codes[i].name
                         : cl == CL_LINE   ? c->lines[i].name
                         : cl == CL_LOAD   ? c->loads[i].name
                         : cl == CL_SHAPE  ? c->shapes[i].name
                                           : c->xfmrs[i].name;
        if (regexec(&re, nm, 0, NULL, 0))
            continue;
        /* tokenizing wrote terminators in place; values stay valid */
        p->act_lastprop = -1;
        rc = apply_props(p, cl, i, t + 1, n - 1);
    }
    regfree(&re);
    return rc;
}

static int cmd_set(struct pctx *p, struct tok *t, int n)
{
    static const char *const opts[] = {
        "voltagebases", "defaultbasefrequency", "basefrequency", "loadmult",
        /* solution / output options we skip */
        "mode", "number", "stepsize", "year", "hour", "sec", "time", "h", "m", "s", "demand",
        "diverbose", "overloadreport", "voltexcept", "casename", "datapath", "editor", "log",
        "trace", "markercode", "nodewidth", "showexport", "keeplist", "normvminpu", "normvmaxpu",
        "emergvminpu", "emergvmaxpu", "lossweight", "ueweight", "lossregs", "ueregs", "controlmode",
        "maxcontroliter", "algorithm", "random", "allowduplicates", "zonelock", "markswitches",
        "marktransformers", "tolerance", "maxiterations", "miniterations", "loadmodel", "totaltime",
        "stepsizeh", "stepsizem", "capkvar", "genkw", "genpf", "genmult", "cktmodel", "addtype",
        "allocationfactors", "autobuslist", "earthmodel", "recorder", "voltexceptionreport",
        "sampleenergymeters", "returnresults", "terminal", "bus", "class", "element", "object",
        "pricesignal", "pricecurve", "defaultdaily", "defaultyearly", "ldcurve", "%growth", "%mean",
        "%stddev", "pvmult", NULL};
    char skipped[512] = "";
    for (int i = 0; i < n; i++) {
        if (!t[i].name)
            return perr(p, "Set: '%s' without a value", t[i].value);
        size_t nl = strlen(t[i].name);
        if (!strncasecmp(t[i].name, "mark", 4) ||
            (nl > 10 && !strcasecmp(t[i].name + nl - 10, "markersize")) ||
            (nl > 10 && !strcasecmp(t[i].name + nl - 10, "markercode"))) {
            /* plot markers (markCapacitors, CapMarkerSize, ...): output only */
            size_t len = strlen(skipped);
            snprintf(skipped + len, sizeof skipped - len, "%s%s=%s", len ? " " : "", t[i].name,
                     t[i].value);
            continue;
        }
        int id = match_name(opts, t[i].name);
        if (id < 0)
            return perr(p, "Set %s: option is %s", t[i].name,
                        id == -2 ? "ambiguous" : "not supported");
        const char *on = opts[id];
        int rc;
        if (!strcmp(on, "controlmode")) {
            /* OFF disables the controls; the others are the caller's choice
             * (fdr_solve: static, fdr_solve_time: time) */
            p->c->controls_off = !strcasecmp(t[i].value, "off");
            if (p->c->controls_off)
                continue;
        }
        if (!strcmp(on, "voltagebases")) {
            if ((rc = get_nums(p, on, t[i].value, p->c->vbases, 16, &p->c->nvbases)))
                return rc;
            for (int k = 0; k < p->c->nvbases; k++)
                if (p->c->vbases[k] <= 0)
                    return perr(p, "voltagebases: %g is not > 0", p->c->vbases[k]);
        } else if (!strcmp(on, "defaultbasefrequency") || !strcmp(on, "basefrequency")) {
            if ((rc = get_num(p, on, t[i].value, &p->c->base_freq)))
                return rc;
        } else if (!strcmp(on, "loadmult")) {
            if ((rc = get_num(p, on, t[i].value, &p->c->loadmult)))
                return rc;
        } else if (!strcmp(on, "maxcontroliter")) {
            double d = 0;
            if ((rc = get_num(p, on, t[i].value, &d)))
                return rc;
            if (d < 1 || d > 1000)
                return perr(p, "maxcontroliter: 1 to 1000");
            p->c->max_control_iter = (int)d;
        } else if (!strcmp(on, "earthmodel")) {
            if ((rc = get_earth_model(p, on, t[i].value, &p->c->earth_model)))
                return rc;
        } else if (!strcmp(on, "loadmodel") || !strcmp(on, "cktmodel") ||
                   !strcmp(on, "defaultdaily") || !strcmp(on, "defaultyearly") ||
                   !strcmp(on, "allocationfactors") || !strcmp(on, "capkvar") ||
                   !strcmp(on, "%growth")) {
            return perr(p, "Set %s: option is not supported (it would change the circuit)", on);
        } else {
            size_t len = strlen(skipped);
            snprintf(skipped + len, sizeof skipped - len, "%s%s=%s", len ? " " : "", t[i].name,
                     t[i].value);
        }
    }
    if (skipped[0])
        pwarn(p, "skipped 'Set %s' (solution/output option)", skipped);
    return 0;
}

static int run_file(struct pctx *p, const char *path);

static int cmd_redirect(struct pctx *p, struct tok *t, int n, const char *verb)
{
    if (n < 1)
        return perr(p, "%s: missing file name", verb);
    char path[PATH_MAX];
    int rc = resolve_path(p, t[0].value, path, sizeof path);
    if (rc)
        return rc;
    if (p->depth >= MAX_DEPTH)
        return perr(p, "%s: nested more than %d deep", verb, MAX_DEPTH);
    return run_file(p, path);
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

enum {
    CMD_NEW,
    CMD_EDIT,
    CMD_MORE,
    CMD_CLEAR,
    CMD_CLEARALL,
    CMD_SET,
    CMD_REDIRECT,
    CMD_COMPILE,
    CMD_CALCV,
    CMD_SOLVE,
    CMD_BATCHEDIT,
    CMD_OPEN,
    CMD_CLOSE,
    CMD_FIRST_SKIP, /* the rest only shape outputs */
};
/* Open / Close Line.name [term=]N [cond]: the line's terminal N (default
 * 1) opened or closed; all its conductors (a single conductor is not
 * modelled). */
static int line_switch(struct pctx *p, const char *obj, int term, int open)
{
    const char *dot = strchr(obj, '.');
    if (!dot || (size_t)(dot - obj) != 4 || strncasecmp(obj, "line", 4))
        return perr(p, "%s: only lines can be opened or closed (Line.name)", obj);
    int k = fdr_names_get(&p->c->line_ix, dot + 1);
    if (k < 0)
        return perr(p, "%s is not defined", obj);
    if (term < 1 || term > 2)
        return perr(p, "%s: terminal %d (1 or 2)", obj, term);
    if (open)
        p->c->lines[k].open_term |= 1 << (term - 1);
    else
        p->c->lines[k].open_term &= ~(1 << (term - 1));
    return 0;
}

static int cmd_open_close(struct pctx *p, struct tok *t, int n, int open)
{
    const char *obj = NULL;
    int term = 1, rc;
    for (int i = 0; i < n; i++) {
        if (!t[i].name || !strcasecmp(t[i].name, "object")) {
            if (!obj) {
                obj = t[i].value;
                continue;
            }
            if (i == 1) {
                if ((rc = get_int(p, "terminal", t[i].value, &term)))
                    return rc;
                continue;
            }
            if (strcmp(t[i].value, "0"))
                return perr(p, "%s: opening single conductors is not supported", obj);
        } else if (!strncasecmp(t[i].name, "term", 4)) {
            if ((rc = get_int(p, "terminal", t[i].value, &term)))
                return rc;
        } else if (!strncasecmp(t[i].name, "cond", 4)) {
            if (strcmp(t[i].value, "0"))
                return perr(p, "%s: opening single conductors is not supported", obj ? obj : "");
        } else {
            return perr(p, "%s: unknown parameter '%s'", open ? "Open" : "Close", t[i].name);
        }
    }
    if (!obj)
        return perr(p, "%s: which element?", open ? "Open" : "Close");
    return line_switch(p, obj, term, open);
}

static const char *const commands[] = {"new",         "edit",          "more",
                                       "clear",       "clearall",      "set",
                                       "redirect",    "compile",       "calcvoltagebases",
                                       "solve",       "batchedit",     "open",
                                       "close",       "show",          "plot",
                                       "export",      "buscoords",     "closedi",
                                       "sample",      "visualize",     "summary",
                                       "help",        "totals",        "dump",
                                       "fileedit",    "get",           "guids",
                                       "cleanup",     "reset",         "interpolate",
                                       "lossexpl",    "makebuslist",   "currents",
                                       "voltages",    "powers",        "losses",
                                       "phaselosses", "capacity",      "setbusxy",
                                       "var",         "updatestorage", "zsc",
                                       "zsc10",       "zscrefresh",    "ysc",
                                       "seqcurrents", "seqpowers",     "seqvoltages",
                                       "vdiffs",      "celldetails",   NULL};

static int run_command(struct pctx *p, char *line)
{
    struct tok t[MAX_TOKENS];
    int n = 0, rc;
    char *s = line;
    int more = 0;
    if (*s == '~') {
        more = 1;
        s++;
    }
    if ((rc = tokenize(p, s, t, MAX_TOKENS, &n)))
        return rc;
    if (more)
        return cmd_more(p, t, n);
    if (n == 0)
        return 0;
    if (t[0].name) {
        /* Class.name.property=value ... : OpenDSS's implicit Edit */
        char *last = strrchr(t[0].name, '.');
        if (!last || last == strchr(t[0].name, '.'))
            return perr(p, "'%s=%s': a command was expected", t[0].name, t[0].value);
        if (n + 1 > MAX_TOKENS)
            return perr(p, "too many parameters on one command (max %d)", MAX_TOKENS - 1);
        *last = '\0';
        struct tok e[MAX_TOKENS];
        e[0] = (struct tok){.name = NULL, .value = t[0].name};
        e[1] = (struct tok){.name = last + 1, .value = t[0].value};
        for (int i = 1; i < n; i++)
            e[i + 1] = t[i];
        return cmd_new_edit(p, e, n + 1, 0, "Edit");
    }
    const char *verb = t[0].value;
    int id = match_name(commands, verb);
    if (id == -2)
        return perr(p, "command '%s' is ambiguous", verb);
    if (id < 0)
        return perr(p, "command '%s' is not supported", verb);
    struct tok *args = t + 1;
    int na = n - 1;
    switch (id) {
    case CMD_NEW:
        return cmd_new_edit(p, args, na, 1, "New");
    case CMD_EDIT:
        return cmd_new_edit(p, args, na, 0, "Edit");
    case CMD_MORE:
        return cmd_more(p, args, na);
    case CMD_CLEAR:
    case CMD_CLEARALL:
        fdr_circuit_reset(p->c);
        p->act_class = CL_NONE;
        return 0;
    case CMD_SET:
        return cmd_set(p, args, na);
    case CMD_REDIRECT:
        return cmd_redirect(p, args, na, "Redirect");
    case CMD_COMPILE:
        return cmd_redirect(p, args, na, "Compile");
    case CMD_CALCV: /* voltage bases are assigned when the topology is built */
    case CMD_SOLVE: /* the caller solves; Solve marks a solution point only */
        return 0;
    case CMD_BATCHEDIT:
        return cmd_batchedit(p, args, na);
    case CMD_OPEN:
    case CMD_CLOSE:
        return cmd_open_close(p, args, na, id == CMD_OPEN);
    default:
        pwarn(p, "skipped '%s' (output only)", commands[id]);
        return 0;
    }
}

/* Strip a '!' or '//' comment outside quotes. */
static void strip_comment(char *s)
{
    char q = 0;
    for (; *s; s++) {
        if (q) {
            if (*s == q)
                q = 0;
            continue;
        }
        if (*s == '"' || *s == '\'') {
            q = *s;
            continue;
        }
        if (*s == '!' || (s[0] == '/' && s[1] == '/')) {
            *s = '\0';
            return;
        }
    }
}

static int run_text(struct pctx *p, char *text)
{
    int in_block = 0;
    char *s = text;
    p->line = 0;
    while (s && *s) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        p->line++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
            s[--len] = '\0';
        char *q = s;
        while (*q == ' ' || *q == '\t')
            q++;
        if (in_block) {
            if (strstr(q, "*/"))
                in_block = 0;
        } else if (q[0] == '/' && q[1] == '*') {
            if (!strstr(q + 2, "*/"))
                in_block = 1;
        } else {
            strip_comment(q);
            int rc = run_command(p, q);
            if (rc)
                return rc;
        }
        s = nl ? nl + 1 : NULL;
    }
    return 0;
}

static int run_file(struct pctx *p, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (p->depth == 0)
            return sim_errf(p->err, SIM_EIO, "%s: cannot open: %s", path, strerror(errno));
        return perr(p, "cannot open '%s': %s", path, strerror(errno));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return sim_errf(p->err, SIM_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr) {
        free(buf);
        return sim_errf(p->err, SIM_EIO, "%s: read error", path);
    }
    buf[len] = '\0';

    int fi = add_file(p->c, path);
    if (fi < 0) {
        free(buf);
        return sim_errf(p->err, SIM_ENOMEM, "out of memory");
    }
    struct pctx saved = *p;
    p->file = fi;
    p->depth++;
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) >= sizeof p->dir) {
        free(buf);
        return sim_errf(p->err, SIM_EINVAL, "%s: path too long", path);
    }
    if (slash)
        snprintf(p->dir, sizeof p->dir, "%.*s", (int)(slash - path), path);
    else
        p->dir[0] = '\0';
    int rc = run_text(p, buf);
    free(buf);
    if (rc)
        return rc;
    p->file = saved.file;
    p->line = saved.line;
    p->depth = saved.depth;
    memcpy(p->dir, saved.dir, sizeof p->dir);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static fdr_circuit *new_circuit(void)
{
    fdr_circuit *c = calloc(1, sizeof *c);
    if (c) {
        c->base_freq = 60.0;
        c->loadmult = 1.0;
    }
    return c;
}

/* Drop the lines and loads defined with enabled=false (OpenDSS leaves
 * them out of the circuit) and index the rest again. */
static int drop_disabled(fdr_circuit *c)
{
    int n = 0, changed = 0;
    for (int i = 0; i < c->nlines; i++) {
        if (c->lines[i].disabled) {
            changed = 1;
            continue;
        }
        c->lines[n++] = c->lines[i];
    }
    c->nlines = n;
    if (changed) {
        fdr_names_free(&c->line_ix);
        for (int i = 0; i < c->nlines; i++)
            if (fdr_names_put(&c->line_ix, c->lines[i].name, i))
                return SIM_ENOMEM;
    }
    n = changed = 0;
    for (int i = 0; i < c->nloads; i++) {
        if (c->loads[i].disabled) {
            changed = 1;
            continue;
        }
        c->loads[n++] = c->loads[i];
    }
    c->nloads = n;
    if (changed) {
        fdr_names_free(&c->load_ix);
        fdr_names_free(&c->cap_ix);
        fdr_names_free(&c->gen_ix);
        for (int i = 0; i < c->nloads; i++) {
            const char *name = c->loads[i].name;
            int rc = c->loads[i].capacitor
                         ? fdr_names_put(&c->cap_ix, name + strlen("Capacitor."), i)
                     : c->loads[i].gen_kind ? fdr_names_put(&c->gen_ix, name, i)
                                            : fdr_names_put(&c->load_ix, name, i);
            if (rc)
                return SIM_ENOMEM;
        }
    }
    return 0;
}

static fdr_circuit *finish(fdr_circuit *c, int rc, struct sim_err *err)
{
    if (!rc && drop_disabled(c))
        rc = sim_errf(err, SIM_ENOMEM, "out of memory");
    if (!rc && !c->have_circuit)
        rc = sim_errf(err, SIM_EINVAL, "%s: no circuit defined (New Circuit.name)",
                      c->nfiles ? c->files[0] : "input");
    if (!rc)
        rc = fdr_compile(c, err);
    if (rc) {
        fdr_circuit_free(c);
        return NULL;
    }
    return c;
}

fdr_circuit *fdr_load_dss(const char *master_path, struct fdr_warnings *warn, struct sim_err *err)
{
    fdr_circuit *c = new_circuit();
    if (!c) {
        sim_errf(err, SIM_ENOMEM, "out of memory");
        return NULL;
    }
    struct pctx p = {.c = c, .warn = warn, .err = err, .file = -1};
    int rc = run_file(&p, master_path);
    return finish(c, rc, err);
}

fdr_circuit *fdr_load_dss_string(const char *text, const char *name, const char *base_dir,
                                 struct fdr_warnings *warn, struct sim_err *err)
{
    fdr_circuit *c = new_circuit();
    char *buf = strdup(text);
    int fi = c && buf ? add_file(c, name ? name : "<string>") : -1;
    if (fi < 0) {
        free(buf);
        fdr_circuit_free(c);
        sim_errf(err, SIM_ENOMEM, "out of memory");
        return NULL;
    }
    struct pctx p = {.c = c, .warn = warn, .err = err, .file = fi, .depth = 1};
    snprintf(p.dir, sizeof p.dir, "%s", base_dir ? base_dir : "");
    int rc = run_text(&p, buf);
    free(buf);
    return finish(c, rc, err);
}
