/*
 * canon.c: the canonical JSON form that transactions are signed in.
 *
 * A signature covers bytes, so every action has exactly one text: objects
 * with their keys sorted by byte value (strcmp), no whitespace, numbers
 * only as integers in [-2^53, 2^53] printed in plain decimal (no float
 * money, no exponents, no "-0"), strings escaped as cJSON escapes them
 * (", \ and control characters; UTF-8 passed through), true/false/null as
 * themselves, duplicate keys refused. cJSON parses; this file prints,
 * because cJSON's own printer uses exponents for integers past 2^31.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mkt__buf_put(struct mkt_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static int key_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int put_string(struct mkt_buf *b, const char *s, struct sim_err *err)
{
    cJSON *tmp = cJSON_CreateString(s);
    char *txt = tmp ? cJSON_PrintUnformatted(tmp) : NULL;
    cJSON_Delete(tmp);
    if (!txt)
        return sim_errf(err, SIM_ENOMEM, "out of memory printing a string");
    mkt__buf_put(b, txt, strlen(txt));
    cJSON_free(txt);
    return 0;
}

static int put_item(struct mkt_buf *b, const cJSON *it, const char *path, int depth,
                    struct sim_err *err)
{
    if (depth > 32)
        return sim_errf(err, SIM_EINVAL, "%s: nested too deeply", path);
    char num[32];
    if (cJSON_IsNull(it)) {
        mkt__buf_put(b, "null", 4);
    } else if (cJSON_IsTrue(it)) {
        mkt__buf_put(b, "true", 4);
    } else if (cJSON_IsFalse(it)) {
        mkt__buf_put(b, "false", 5);
    } else if (cJSON_IsNumber(it)) {
        double v = it->valuedouble;
        if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0)
            return sim_errf(err, SIM_EINVAL,
                            "%s: numbers must be integers within +-2^53 (use integer units: "
                            "W, Wh, micro-euros, microseconds)",
                            path);
        int n = snprintf(num, sizeof num, "%lld", (long long)v);
        mkt__buf_put(b, num, (size_t)n);
    } else if (cJSON_IsString(it)) {
        int rc = put_string(b, it->valuestring, err);
        if (rc)
            return rc;
    } else if (cJSON_IsArray(it)) {
        mkt__buf_put(b, "[", 1);
        int i = 0;
        for (const cJSON *c = it->child; c; c = c->next, i++) {
            if (i)
                mkt__buf_put(b, ",", 1);
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            int rc = put_item(b, c, sub, depth + 1, err);
            if (rc)
                return rc;
        }
        mkt__buf_put(b, "]", 1);
    } else if (cJSON_IsObject(it)) {
        size_t n = 0;
        for (const cJSON *c = it->child; c; c = c->next)
            n++;
        const cJSON **kids = malloc((n ? n : 1) * sizeof *kids);
        if (!kids)
            return sim_errf(err, SIM_ENOMEM, "out of memory");
        n = 0;
        for (const cJSON *c = it->child; c; c = c->next)
            kids[n++] = c;
        qsort(kids, n, sizeof *kids, key_cmp);
        mkt__buf_put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, kids[i]->string);
            if (i && !strcmp(kids[i]->string, kids[i - 1]->string)) {
                free(kids);
                return sim_errf(err, SIM_EINVAL, "%s: duplicate key", sub);
            }
            if (i)
                mkt__buf_put(b, ",", 1);
            int rc = put_string(b, kids[i]->string, err);
            mkt__buf_put(b, ":", 1);
            if (!rc)
                rc = put_item(b, kids[i], sub, depth + 1, err);
            if (rc) {
                free(kids);
                return rc;
            }
        }
        free(kids);
        mkt__buf_put(b, "}", 1);
    } else {
        return sim_errf(err, SIM_EINVAL, "%s: unsupported JSON value", path);
    }
    return 0;
}

int mkt__canon_print(const cJSON *item, char **out, struct sim_err *err)
{
    struct mkt_buf b = {0};
    int rc = put_item(&b, item, "$", 0, err);
    if (!rc && b.oom)
        rc = sim_errf(err, SIM_ENOMEM, "out of memory");
    if (!rc && !b.p)
        rc = sim_errf(err, SIM_EINVAL, "empty JSON");
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

int mkt_canonical_json(const char *json, char **out, struct sim_err *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root)
        return sim_errf(err, SIM_EINVAL, "malformed JSON near byte %ld",
                        end ? (long)(end - json) : 0L);
    int rc = mkt__canon_print(root, out, err);
    cJSON_Delete(root);
    return rc;
}
