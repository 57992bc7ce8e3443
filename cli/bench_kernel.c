/*
 * bench_kernel.c: `flexbed bench kernel`, the classic hold model on the
 * event queue: fill it with N pending events, then repeat "pop the first,
 * push one at its time plus a random increment" and report operations
 * (one pop + one push) per second. The increments are drawn before the
 * clock starts (GSL exponential, mean 1 s), so the figure is the queue's,
 * not the random generator's. A second figure runs the same load through
 * the whole kernel (one-shot events dispatched to a component that
 * reschedules itself), which is what a simulation actually pays.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>

#include "../sim/sim.h"
#include "bench.h"

#define NINC 4096 /* increments cycled through (a power of two) */

static int hold_queue(size_t n, long ops, const sim_time_us *inc, double *rate)
{
    sim_queue *q = sim_queue_new(n + 1);
    if (!q)
        return SIM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct sim_event ev = {inc[i % NINC] * (sim_time_us)(1 + i % 7), 0, 0, NULL, i};
        if (sim_queue_push(q, &ev, NULL)) {
            sim_queue_free(q);
            return SIM_ENOMEM;
        }
    }
    struct sim_event ev;
    double t0 = bench_now_s();
    for (long i = 0; i < ops; i++) {
        sim_queue_pop(q, &ev);
        ev.t += inc[i & (NINC - 1)];
        sim_queue_push(q, &ev, NULL);
    }
    double dt = bench_now_s() - t0;
    *rate = (double)ops / dt;
    sim_queue_free(q);
    return SIM_OK;
}

/* The kernel variant: one component whose event handler reschedules. */
struct holder {
    int id;
    const sim_time_us *inc;
    long count;
};

static int holder_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                        struct sim_err *err)
{
    (void)kind;
    (void)err;
    struct holder *h = self;
    h->count++;
    return sim_kernel_schedule(k, h->id, now + h->inc[(uint64_t)h->count & (NINC - 1)], 0, 0, data,
                               NULL);
}

static const struct sim_component_ops holder_ops = {.type = "bench", .event = holder_event};

static int hold_kernel(size_t n, long ops, const sim_time_us *inc, double *rate)
{
    /* With n events pending and increments of mean 1 s (initial times of
     * mean 1 s too), the kernel handles about n events per simulated
     * second, so ending at ops / n seconds gives about `ops` events; the
     * rate uses the count actually handled. */
    sim_time_us end = (sim_time_us)((double)ops / (double)n * 1e6);
    struct sim_config cfg = {0, end > 0 ? end : 1, 1};
    sim_kernel *k = sim_kernel_new(&cfg);
    struct holder h = {0, inc, 0};
    struct sim_err err;
    if (!k || sim_kernel_add(k, "holder", &holder_ops, &h, 0, &h.id, &err) ||
        sim_kernel_init(k, &err)) {
        sim_kernel_free(k);
        return SIM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (sim_kernel_schedule(k, h.id, inc[i % NINC], 0, 0, i, NULL)) {
            sim_kernel_free(k);
            return SIM_ENOMEM;
        }
    double t0 = bench_now_s();
    int rc = sim_kernel_run(k, &err);
    double dt = bench_now_s() - t0;
    *rate = (double)h.count / dt;
    sim_kernel_free(k);
    return rc;
}

static void usage(FILE *f)
{
    fputs("usage: flexbed bench kernel [--ops N] [--sizes A,B,...]\n"
          "\n"
          "Hold model on the event queue: keep N events pending, pop the first and\n"
          "push one at its time plus an exponential increment (mean 1 s); report\n"
          "millions of pop+push pairs per second, and of queue operations (each\n"
          "pop and each push counted), and events per second through the kernel's\n"
          "dispatch (pop, call the component, which schedules the next one).\n"
          "\n"
          "  --ops N        pop+push pairs per size (default 20000000)\n"
          "  --sizes LIST   pending-event counts (default 1000,100000,1000000)\n",
          f);
}

int bench_kernel(int argc, char **argv, FILE *out)
{
    long ops = 20000000;
    char sizes_buf[256] = "1000,100000,1000000";
    static const struct option opts[] = {
        {"ops", required_argument, NULL, 'o'},
        {"sizes", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'o':
            ops = strtol(optarg, &end, 10);
            if (*end || ops <= 0) {
                fprintf(stderr, "flexbed bench kernel: --ops: expected a positive integer\n");
                return 2;
            }
            break;
        case 's':
            snprintf(sizes_buf, sizeof sizes_buf, "%s", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "flexbed bench kernel: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    sim_time_us *inc = malloc(NINC * sizeof *inc);
    if (!r || !inc) {
        gsl_rng_free(r);
        free(inc);
        return 1;
    }
    gsl_rng_set(r, 1);
    for (int i = 0; i < NINC; i++)
        inc[i] = (sim_time_us)(gsl_ran_exponential(r, 1.0) * 1e6) + 1;
    gsl_rng_free(r);

    fprintf(out, "hold model, %ld pop+push operations per size\n", ops);
    fprintf(out, "%10s %16s %16s %18s\n", "pending", "M pop+push/s", "M queue ops/s",
            "kernel M events/s");
    int rc = 0;
    for (char *tok = strtok(sizes_buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long n = strtol(tok, &end, 10);
        if (*end || n <= 0) {
            fprintf(stderr, "flexbed bench kernel: --sizes: \"%s\" is not a positive integer\n",
                    tok);
            rc = 2;
            break;
        }
        double qrate = 0, krate = 0;
        if (hold_queue((size_t)n, ops, inc, &qrate) || hold_kernel((size_t)n, ops, inc, &krate)) {
            fprintf(stderr, "flexbed bench kernel: out of memory at N = %ld\n", n);
            rc = 1;
            break;
        }
        fprintf(out, "%10ld %16.2f %16.2f %18.2f\n", n, qrate / 1e6, 2 * qrate / 1e6, krate / 1e6);
        fflush(out);
    }
    free(inc);
    return rc;
}
