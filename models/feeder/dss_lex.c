/*
 * dss_lex.c: the OpenDSS reader's lexical layer: errors and warnings that
 * name file and line, the tokenizer (name=value pairs, quotes and
 * brackets), OpenDSS's inline reverse-Polish math, typed property values
 * and the resolution of file names (case-insensitive where the exact
 * name does not exist).
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

#include "dss_impl.h"

int dss_perr(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int dss_perr(struct pctx *p, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sim_errf(p->err, SIM_EINVAL, "%s:%d: %s", p->c->files[p->file], p->line, buf);
}

void dss_pwarn(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void dss_pwarn(struct pctx *p, const char *fmt, ...)
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
int dss_tokenize(struct pctx *p, char *s, struct tok *t, int max, int *n)
{
    int k = 0, unbalanced = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        if (k == max)
            return dss_perr(p, "too many parameters on one command (max %d)", max);
        if (*s == '=')
            return dss_perr(p, "'=' without a property name");
        char *end;
        char *w = read_word(&s, &end, &unbalanced);
        if (unbalanced)
            return dss_perr(p, "unbalanced quote or bracket");
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
                    return dss_perr(p, "unbalanced quote or bracket");
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
int dss_match_name(const char *const *list, const char *name)
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

int dss_get_num(struct pctx *p, const char *prop, const char *v, double *out)
{
    char why[96];
    int r = rpn_eval(v, out, why, sizeof why);
    if (r < 0)
        return dss_perr(p, "%s: '%s': %s", prop, v, why);
    if (r > 0)
        return 0;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == v || *end || errno || !isfinite(d))
        return dss_perr(p, "%s: '%s' is not a number", prop, v);
    *out = d;
    return 0;
}

int dss_get_int(struct pctx *p, const char *prop, const char *v, int *out)
{
    double d = 0;
    int rc = dss_get_num(p, prop, v, &d);
    if (rc)
        return rc;
    if (d != floor(d) || fabs(d) > 1e9)
        return dss_perr(p, "%s: '%s' is not an integer", prop, v);
    *out = (int)d;
    return 0;
}

int dss_get_bool(struct pctx *p, const char *prop, const char *v, int *out)
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
    return dss_perr(p, "%s: '%s' is not yes/no", prop, v);
}

/* Split a list value ("11 .416", "0.2,0.2", "1 | 0.5 1") into items in
 * place. */
int dss_split_list(char *v, char **items, int max)
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

int dss_get_nums(struct pctx *p, const char *prop, const char *v, double *out, int max, int *n)
{
    char buf[1024];
    char *items[64];
    if (strlen(v) >= sizeof buf)
        return dss_perr(p, "%s: list too long", prop);
    strcpy(buf, v);
    int k = dss_split_list(buf, items, max < 64 ? max : 64);
    if (k < 0)
        return dss_perr(p, "%s: more than %d values", prop, max);
    for (int i = 0; i < k; i++) {
        int rc = dss_get_num(p, prop, items[i], &out[i]);
        if (rc)
            return rc;
    }
    *n = k;
    return 0;
}

int dss_get_units(struct pctx *p, const char *prop, const char *v, int *out)
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
    return dss_perr(p, "%s: unknown length unit '%s'", prop, v);
}

int dss_get_conn(struct pctx *p, const char *prop, const char *v, int *out)
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
    return dss_perr(p, "%s: unknown connection '%s'", prop, v);
}

int dss_copy_name(struct pctx *p, char *dst, size_t n, const char *src, const char *what)
{
    if (strlen(src) >= n)
        return dss_perr(p, "%s '%s' is too long (max %zu chars)", what, src, n - 1);
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

int dss_resolve_path(struct pctx *p, const char *rel, char *out, size_t n)
{
    char tmp[PATH_MAX];
    if (strlen(rel) >= sizeof tmp)
        return dss_perr(p, "path too long");
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
        return dss_perr(p, "path too long");
    match_case(out, n);
    return 0;
}

int dss_grow(void **arr, int *cap, int need, size_t elem)
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

int dss_add_file(fdr_circuit *c, const char *path)
{
    if (dss_grow((void **)&c->files, &c->files_cap, c->nfiles + 1, sizeof *c->files))
        return SIM_ENOMEM;
    c->files[c->nfiles] = strdup(path);
    if (!c->files[c->nfiles])
        return SIM_ENOMEM;
    return c->nfiles++;
}

int dss_not_modelled(struct pctx *p, const char *cls, const char *prop)
{
    return dss_perr(p, "%s property '%s' is not supported (it would change the circuit)", cls,
                    prop);
}

int dss_check_enabled(struct pctx *p, const char *cls, const char *prop, const char *v)
{
    int b = 0;
    int rc = dss_get_bool(p, prop, v, &b);
    if (rc)
        return rc;
    return b ? 0 : dss_not_modelled(p, cls, "enabled=false");
}
