/*
 * names.c: case-insensitive name -> index map for the feeder parser.
 *
 * OpenDSS names (buses, elements, shapes) are case-insensitive; a feeder
 * has a few thousand of them, so an open-addressing table keeps parsing
 * and compiling linear instead of quadratic.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeder_impl.h"

static uint64_t hash_ci(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)tolower((unsigned char)*s);
        h *= 1099511628211ull;
    }
    return h;
}

static int eq_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static int grow(struct fdr_names *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    char **nkey = calloc(ncap, sizeof *nkey);
    int *nval = calloc(ncap, sizeof *nval);
    if (!nkey || !nval) {
        free(nkey);
        free(nval);
        return SIM_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->key[i])
            continue;
        size_t j = hash_ci(m->key[i]) & (ncap - 1);
        while (nkey[j])
            j = (j + 1) & (ncap - 1);
        nkey[j] = m->key[i];
        nval[j] = m->val[i];
    }
    free(m->key);
    free(m->val);
    m->key = nkey;
    m->val = nval;
    m->cap = ncap;
    return 0;
}

int fdr_names_put(struct fdr_names *m, const char *name, int val)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
        return SIM_ENOMEM;
    size_t j = hash_ci(name) & (m->cap - 1);
    while (m->key[j]) {
        if (eq_ci(m->key[j], name)) {
            m->val[j] = val;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->key[j] = strdup(name);
    if (!m->key[j])
        return SIM_ENOMEM;
    m->val[j] = val;
    m->n++;
    return 0;
}

int fdr_names_get(const struct fdr_names *m, const char *name)
{
    if (!m->cap)
        return -1;
    size_t j = hash_ci(name) & (m->cap - 1);
    while (m->key[j]) {
        if (eq_ci(m->key[j], name))
            return m->val[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void fdr_names_free(struct fdr_names *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}
