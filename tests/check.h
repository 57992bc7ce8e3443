/*
 * check.h: the few macros flexbed's tests are written with.
 *
 * A failing CHECK prints where and what differed, counts the failure and
 * goes on, so one run shows every broken expectation; check_done() turns
 * the count into the exit status ctest reads.
 */
#ifndef FLEXBED_CHECK_H
#define FLEXBED_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        check_count++;                                                                  \
        if (!(cond)) {                                                                  \
            check_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

#define CHECK_INT(a, b)                                                                 \
    do {                                                                                \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                 \
        CHECK(check_a_ == check_b_, "%s = %lld, expected %lld", #a, check_a_, check_b_); \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double check_a_ = (double)(a), check_b_ = (double)(b);                          \
        CHECK(fabs(check_a_ - check_b_) <= (tol), "%s = %.9g, expected %.9g +- %g", #a, \
              check_a_, check_b_, (double)(tol));                                      \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                 \
    do {                                                                                \
        const char *check_h_ = (hay), *check_n_ = (needle);                             \
        CHECK(check_h_ && strstr(check_h_, check_n_), "\"%s\" does not contain \"%s\"",   \
              check_h_ ? check_h_ : "(null)", check_n_);                                \
    } while (0)

/* Write text to the file at path (replaced), a failed CHECK if it cannot. */
static inline void check_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        CHECK(fclose(f) == 0, "cannot write %s", path);
    }
}

/* Print a summary line ctest's log keeps and return the exit status. */
static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
