/*
 * bench_store.c: `flexbed bench store`, how fast the result store takes
 * samples. It writes K signals x (N / K) steps through res_samples, the way
 * a run does, then ends the run (which builds the samples index) and reports
 * the write rate, the index build rate and the two together. The figures
 * quoted in docs/results.md and README.md come from this.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../results/results.h"
#include "bench.h"

static void usage(FILE *f)
{
    fputs("usage: flexbed bench store [--samples N] [--signals K] [--batch B] [--out PATH]\n"
          "\n"
          "Write N samples (K signals x N/K steps of 1 s) to a result database, end\n"
          "the run (which builds the samples index) and report samples per second\n"
          "for the writes, for the index build and for both.\n"
          "\n"
          "  --samples N  samples to write (default 5000000)\n"
          "  --signals K  signals per step (default 100)\n"
          "  --batch B    rows per transaction (default 50000)\n"
          "  --out PATH   database to write (replaced); default a temporary file\n"
          "               that is removed afterwards\n",
          f);
}

int bench_store(int argc, char **argv, FILE *out)
{
    static const struct option opts[] = {
        {"samples", required_argument, NULL, 'n'}, {"signals", required_argument, NULL, 'k'},
        {"batch", required_argument, NULL, 'b'},   {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    long long nsamples = 5000000, nsignals = 100, batch = 50000;
    const char *out_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:k:b:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (bench_count("store", "--samples", optarg, 1, LLONG_MAX, &nsamples))
                return 2;
            break;
        case 'k':
            if (bench_count("store", "--signals", optarg, 1, LLONG_MAX, &nsignals))
                return 2;
            if (nsignals > 100000) {
                fputs("flexbed bench store: --signals: at most 100000\n", stderr);
                return 2;
            }
            break;
        case 'b':
            if (bench_count("store", "--batch", optarg, 1, LLONG_MAX, &batch))
                return 2;
            if (batch > INT_MAX)
                batch = INT_MAX;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            usage(out);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (bench_no_operands("store", argc, argv, usage))
        return 2;

    char tmpdir[PATH_MAX] = "";
    char path[PATH_MAX + 16];
    if (!out_path) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/flexbed-bench-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "flexbed bench store: cannot create a temporary directory: %s\n",
                    strerror(errno));
            return 1;
        }
        snprintf(path, sizeof path, "%s/bench.db", tmpdir);
        out_path = path;
    }

    int ret = 1;
    struct sim_err err = {{0}};
    res_store *s = NULL;
    int64_t *ids = malloc((size_t)nsignals * sizeof *ids);
    double *vals = malloc((size_t)nsignals * sizeof *vals);
    if (!ids || !vals) {
        fputs("flexbed bench store: out of memory\n", stderr);
        goto done;
    }
    long long steps = (nsamples + nsignals - 1) / nsignals;
    long long written = steps * nsignals;
    const sim_time_us t0 = INT64_C(1696204800) * SIM_US_PER_S; /* 2023-10-02T00:00Z */

    if (res_store_open(out_path, RES_OPEN_CREATE, &s, &err))
        goto store_fail;
    res_set_batch(s, (int)batch);
    struct res_run_info info = {
        .scenario_name = "bench-store",
        .seed = 1,
        .sim_start = t0,
        .sim_end = t0 + steps * SIM_US_PER_S,
        .step = SIM_US_PER_S,
        .utc_offset_s = 0,
        .version = FLEXBED_VERSION,
    };
    int64_t run_id;
    if (res_run_begin(s, &info, &run_id, &err))
        goto store_fail;
    for (long long k = 0; k < nsignals; k++) {
        char name[32];
        snprintf(name, sizeof name, "bench.s%lld", k);
        if (res_signal_add(s, run_id, name, "kW", "bench", &ids[k], &err))
            goto store_fail;
    }
    if (res_flush(s, &err))
        goto store_fail;

    double w0 = bench_now_s();
    for (long long i = 0; i < steps; i++) {
        for (long long k = 0; k < nsignals; k++)
            vals[k] = (double)(i % 1000) * 0.25 + (double)k;
        if (res_samples(s, t0 + i * SIM_US_PER_S, ids, vals, (int)nsignals, &err))
            goto store_fail;
    }
    if (res_flush(s, &err))
        goto store_fail;
    double w1 = bench_now_s();
    if (res_run_end(s, run_id, RES_COMPLETED, info.sim_end, NULL, &err))
        goto store_fail;
    double w2 = bench_now_s();
    res_store_close(s);
    s = NULL;
    double w3 = bench_now_s();

    struct stat st;
    double mib = stat(out_path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0.0;
    double n = (double)written;
    fprintf(out, "store: %lld samples (%lld signals x %lld steps), batch %lld\n", written, nsignals,
            steps, batch);
    fprintf(out, "  write        %8.3f s  %12.0f samples/s\n", w1 - w0, n / (w1 - w0));
    fprintf(out, "  index build  %8.3f s  %12.0f samples/s\n", w2 - w1, n / (w2 - w1));
    fprintf(out, "  close        %8.3f s  (checkpoint)\n", w3 - w2);
    fprintf(out, "  total        %8.3f s  %12.0f samples/s\n", w3 - w0, n / (w3 - w0));
    fprintf(out, "  database     %.1f MiB (%.1f bytes/sample)%s\n", mib, mib * 1024.0 * 1024.0 / n,
            tmpdir[0] ? ", removed" : "");
    ret = 0;
    goto done;

store_fail:
    fprintf(stderr, "flexbed bench store: %s\n", err.msg);
done:
    res_store_close(s);
    free(ids);
    free(vals);
    if (tmpdir[0]) {
        static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
        char f[PATH_MAX + 16];
        for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
            snprintf(f, sizeof f, "%s%s", path, suffix[i]);
            unlink(f);
        }
        rmdir(tmpdir);
    }
    return ret;
}
