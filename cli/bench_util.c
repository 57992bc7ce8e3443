/*
 * bench_util.c: what every benchmark needs: a monotonic clock in seconds
 * and a strict integer option parser with the benchmark's name in its
 * error message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bench_count(const char *bench, const char *opt, const char *s, long long min, long long max,
                long long *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < min || x > max) {
        fprintf(stderr, "flexbed bench %s: %s: expected an integer from %lld to %lld, got \"%s\"\n",
                bench, opt, min, max, s);
        return -1;
    }
    *v = x;
    return 0;
}

int bench_no_operands(const char *bench, int argc, char **argv, void (*usage)(FILE *))
{
    if (optind == argc)
        return 0;
    fprintf(stderr, "flexbed bench %s: unexpected argument \"%s\"\n", bench, argv[optind]);
    if (usage)
        usage(stderr);
    return -1;
}
