/*
 * fuzz.h: what the libFuzzer targets in fuzz/ share.
 */
#ifndef FLEXBED_FUZZ_H
#define FLEXBED_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The n bytes at data as a NUL-terminated string (malloc'd; the caller
 * frees), or NULL when out of memory. An embedded NUL ends the text early,
 * as it would for the C reader being fuzzed. */
static inline char *fuzz_text(const uint8_t *data, size_t n)
{
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, data, n);
        t[n] = '\0';
    }
    return t;
}

#endif
