/*
 * bench_ocpp.c: `flexbed bench ocpp`, many charge points on one central
 * system.
 *
 * Starts flexbed's OCPP 1.6J central system on loopback (its own service
 * thread) and connects N emulated charge points to it from this thread
 * (one libwebsockets client context). Each boots, reports its status,
 * starts a transaction and sends MeterValues (five measurands) every
 * --interval, as a charger at a car would; every message is framed, parsed
 * and schema-validated on both sides. The charge points connect at N per
 * interval, which spreads their MeterValues evenly over the interval. Once
 * all of them are in a transaction the counters are reset and the bench
 * measures for --duration: messages per second through the central
 * system, round trips of the charge points' CALLs (from the write of the
 * CALL to the arrival of its CALLRESULT: both event loops, the network
 * stack and the validation on each side), failures, and the CPU the
 * process used. The meter behind each charge point is a constant 7.4 kW
 * draw, so that the figures are the protocol's, not a model's.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../hil/hil_ocpp.h"
#include "bench.h"

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* The constant meter behind every charge point. */
struct meter {
    double p_w, e_wh;
    int64_t last_us;
};

static int meter_sample(void *self, int64_t mono_us, struct hil_ocpp_meter *m, struct sim_err *err)
{
    (void)err;
    struct meter *d = self;
    if (d->last_us)
        d->e_wh += d->p_w * (double)(mono_us - d->last_us) / 3.6e9;
    d->last_us = mono_us;
    m->plugged = 1;
    m->p_w = d->p_w;
    m->e_import_wh = d->e_wh;
    m->e_export_wh = 0;
    m->soc_pct = 50;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    i = i ? i - 1 : 0;
    return (double)v[i < n ? i : n - 1] / 1000.0;
}

static void usage(FILE *f)
{
    fputs("usage: flexbed bench ocpp [--charge-points N] [--interval DUR] [--duration DUR]\n"
          "                          [--port P] [--connect-timeout DUR]\n"
          "\n"
          "N emulated charge points (1000) on one in-process central system on\n"
          "127.0.0.1, each sending MeterValues every --interval (10s); measures for\n"
          "--duration (60s) once all are in a transaction and reports messages per\n"
          "second and CALL round-trip percentiles.\n",
          f);
}

/* Make room for 2 sockets per charge point (both ends are ours). */
static int ensure_fds(long need, FILE *err)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if ((long)rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= need) {
        rl.rlim_cur = (rlim_t)need;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return 0;
    }
    fprintf(err,
            "flexbed bench ocpp: %ld file descriptors needed, the limit is %ld "
            "(ulimit -n)\n",
            need, (long)rl.rlim_cur);
    return -1;
}

int bench_ocpp(int argc, char **argv, FILE *out)
{
    long n = 1000, port = 0;
    sim_time_us interval = 10 * SIM_US_PER_S, duration = 60 * SIM_US_PER_S, connect_timeout = 0;
    static const struct option opts[] = {
        {"charge-points", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},
        {"duration", required_argument, NULL, 'd'},
        {"port", required_argument, NULL, 'p'},
        {"connect-timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        int bad = 0;
        switch (c) {
        case 'n':
            n = strtol(optarg, &end, 10);
            bad = !end || *end || n < 1 || n > 20000;
            break;
        case 'p':
            port = strtol(optarg, &end, 10);
            bad = !end || *end || port < 0 || port > 65535;
            break;
        case 'i':
            bad = sim_duration_parse(optarg, &interval) != 0 || interval < SIM_US_PER_S / 10;
            break;
        case 'd':
            bad = sim_duration_parse(optarg, &duration) != 0 || duration < SIM_US_PER_S;
            break;
        case 't':
            bad =
                sim_duration_parse(optarg, &connect_timeout) != 0 || connect_timeout < SIM_US_PER_S;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "flexbed bench ocpp: bad value \"%s\"\n", optarg);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "flexbed bench ocpp: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (ensure_fds(2 * n + 256, stderr))
        return 1;
    if (!connect_timeout)
        connect_timeout = 2 * interval + 30 * SIM_US_PER_S;

    struct sim_err err = {{0}};
    hil_ocpp_cs *cs = NULL;
    hil_ocpp_cp_pool *pool = NULL;
    struct meter *meters = calloc((size_t)n, sizeof *meters);
    int status = 1;
    struct hil_ocpp_cs_config csc;
    hil_ocpp_cs_config_default(&csc);
    csc.port = (int)port;
    csc.max_charge_points = (int)n + 16;
    csc.event_capacity = 256; /* nobody reads them here: keep the ring small */
    int interval_ms = (int)(interval / 1000);
    double measure_s = (double)duration / 1e6;
    /* CALLs per charge point while measuring: MeterValues, heartbeats. */
    size_t lat_cap = (size_t)n * (size_t)(measure_s / ((double)interval_ms / 1000.0) + 4) + 1024;
    struct hil_ocpp_cp_pool_config pc;
    hil_ocpp_cp_pool_config_default(&pc);
    /* N connections per interval, at least 20 a second. */
    double rate = (double)n / ((double)interval_ms / 1000.0);
    if (rate < 20)
        rate = 20;
    pc.connects_per_tick = (int)ceil(rate * pc.tick_ms / 1000.0);
    pc.latency_capacity = lat_cap;
    pc.event_capacity = 256;
    if (!meters) {
        fprintf(stderr, "flexbed bench ocpp: out of memory\n");
        goto done;
    }
    if (hil_ocpp_cs_new(&csc, &cs, &err) || hil_ocpp_cs_start(cs, &err) ||
        hil_ocpp_cp_pool_new(&pc, &pool, &err)) {
        fprintf(stderr, "flexbed bench ocpp: %s\n", err.msg);
        goto done;
    }
    int p = hil_ocpp_cs_port(cs);
    for (long i = 0; i < n; i++) {
        char url[96];
        snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp/BENCH%05ld", p, i);
        struct hil_ocpp_cp_config cc;
        hil_ocpp_cp_config_default(&cc);
        cc.url = url;
        cc.meter_interval_ms = interval_ms;
        cc.reconnect_min_ms = 1000;
        meters[i].p_w = 7400;
        struct hil_ocpp_cp_device dev = {.self = &meters[i], .sample = meter_sample};
        if (hil_ocpp_cp_add(pool, &cc, &dev, NULL, &err)) {
            fprintf(stderr, "flexbed bench ocpp: %s\n", err.msg);
            goto done;
        }
    }
    fprintf(out,
            "OCPP 1.6J: %ld charge points -> central system on 127.0.0.1:%d, MeterValues "
            "every %.3g s\n",
            n, p, (double)interval_ms / 1000.0);
    fflush(out);

    /* Connect phase: until every charge point is in a transaction. */
    double t0 = bench_now_s(), deadline = t0 + (double)connect_timeout / 1e6;
    long in_tx = 0;
    double next_check = t0;
    while (bench_now_s() < deadline) {
        if (hil_ocpp_cp_pool_service(pool, &err)) {
            fprintf(stderr, "flexbed bench ocpp: %s\n", err.msg);
            goto done;
        }
        if (bench_now_s() < next_check)
            continue;
        next_check = bench_now_s() + 0.2;
        in_tx = 0;
        for (long i = 0; i < n; i++) {
            struct hil_ocpp_cp_info inf;
            hil_ocpp_cp_info(hil_ocpp_cp_at(pool, (int)i), &inf);
            in_tx += inf.tx_id > 0;
        }
        if (in_tx == n)
            break;
    }
    double t_conn = bench_now_s() - t0;
    fprintf(out, "connect phase: %ld of %ld in a transaction after %.2f s\n", in_tx, n, t_conn);
    if (in_tx < n) {
        fprintf(stderr,
                "flexbed bench ocpp: only %ld of %ld charge points started a "
                "transaction\n",
                in_tx, n);
        goto done;
    }

    /* Measure. */
    struct hil_ocpp_cs_stats s0, s1;
    struct hil_ocpp_cp_pool_stats ps;
    hil_ocpp_cp_pool_reset_stats(pool);
    hil_ocpp_cs_stats(cs, &s0);
    double c0 = cpu_s(), m0 = bench_now_s();
    while (bench_now_s() - m0 < measure_s) {
        if (hil_ocpp_cp_pool_service(pool, &err)) {
            fprintf(stderr, "flexbed bench ocpp: %s\n", err.msg);
            goto done;
        }
    }
    double wall = bench_now_s() - m0, cpu = cpu_s() - c0;
    hil_ocpp_cs_stats(cs, &s1);
    hil_ocpp_cp_pool_stats(pool, &ps);
    const int64_t *lat0;
    size_t nlat;
    hil_ocpp_cp_pool_latencies(pool, &lat0, &nlat);
    int64_t *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
    if (!lat) {
        fprintf(stderr, "flexbed bench ocpp: out of memory\n");
        goto done;
    }
    memcpy(lat, lat0, nlat * sizeof *lat);
    qsort(lat, nlat, sizeof *lat, cmp_i64);
    double msgs = (double)(s1.msgs_in - s0.msgs_in + s1.msgs_out - s0.msgs_out);
    double calls = (double)(s1.calls_in - s0.calls_in);
    fprintf(out, "measured %.1f s with %d of %ld connected\n", wall, s1.connected, n);
    fprintf(out, "  central system: %.0f messages/s (%.0f CALLs/s in, %.0f answers/s out)\n",
            msgs / wall, calls / wall, (double)(s1.msgs_out - s0.msgs_out) / wall);
    fprintf(out, "  expected CALLs/s from the charge points: %.0f\n",
            (double)n / ((double)interval_ms / 1000.0));
    fprintf(out,
            "  round trip of %zu CALLs (ms): p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  "
            "max %.2f\n",
            nlat, pct_ms(lat, nlat, 50), pct_ms(lat, nlat, 90), pct_ms(lat, nlat, 99),
            pct_ms(lat, nlat, 99.9), nlat ? (double)lat[nlat - 1] / 1000.0 : NAN);
    fprintf(out, "  failures: %llu timeouts, %llu CALLERRORs, %llu disconnects, %llu dropped\n",
            (unsigned long long)ps.timeouts, (unsigned long long)ps.errors_in,
            (unsigned long long)ps.disconnects, (unsigned long long)ps.dropped);
    fprintf(out, "  CPU: %.2f s in %.1f s (%.0f %% of one core, both sides in this process)\n", cpu,
            wall, 100.0 * cpu / wall);
    free(lat);
    status = ps.timeouts || ps.errors_in || ps.disconnects || (size_t)s1.connected < (size_t)n;
done:
    hil_ocpp_cp_pool_free(pool);
    hil_ocpp_cs_free(cs);
    free(meters);
    return status;
}
