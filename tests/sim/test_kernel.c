/*
 * test_kernel.c: the kernel and its signal bus: step order from declared
 * reads, cycles named, dangling reads named, periodic steps and one-shot
 * events in a defined order, random streams independent per component,
 * stop requests, failures, logging and pacing.
 */
#include <stdlib.h>

#include "check.h"
#include "sim/sim.h"

#define T0 INT64_C(1696194000000000) /* 2023-10-02T00:00:00+03:00 */

/* A generic test component: publishes "out", reads whatever it was told,
 * records what it saw. */
struct tc {
    int id;
    int out;
    int ref;          /* read reference or -1 */
    double seen[64];  /* value read at each step */
    int steps;
    int events[16];
    sim_time_us event_t[16];
    int nevents;
    int finishes;
    int fail_at;      /* step number that fails, -1 never */
    int stop_at;
    int *trace;       /* shared log of (id) in call order */
    int *ntrace;
};

static int tc_step(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    struct tc *c = self;
    if (c->trace)
        c->trace[(*c->ntrace)++] = c->id;
    if (c->steps == c->fail_at)
        return sim_errf(err, SIM_EFAIL, "deliberate failure");
    if (c->stop_at == c->steps)
        sim_kernel_request_stop(k);
    if (c->ref >= 0 && c->steps < 64)
        c->seen[c->steps] = sim_bus_get_ref(k, c->ref);
    /* Publish a value that tells the step and the component apart. */
    sim_bus_set(k, c->out, (double)((now - T0) / SIM_US_PER_MIN) + 1000.0 * c->id);
    c->steps++;
    return SIM_OK;
}

static int tc_event(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                    struct sim_err *err)
{
    (void)k;
    (void)data;
    (void)err;
    struct tc *c = self;
    if (c->trace)
        c->trace[(*c->ntrace)++] = 100 + (int)kind;
    if (c->nevents < 16) {
        c->events[c->nevents] = (int)kind;
        c->event_t[c->nevents++] = now;
    }
    return SIM_OK;
}

static int tc_finish(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err)
{
    (void)k;
    (void)now;
    (void)err;
    ((struct tc *)self)->finishes++;
    return SIM_OK;
}

static const struct sim_component_ops tc_ops = {
    .type = "test", .step = tc_step, .event = tc_event, .finish = tc_finish};

static sim_kernel *new_kernel(int minutes, uint64_t seed)
{
    struct sim_config cfg = {T0, T0 + minutes * SIM_US_PER_MIN, seed};
    return sim_kernel_new(&cfg);
}

/* Add component `name` with its "out" signal; struct kept by the test. */
static struct tc *add(sim_kernel *k, const char *name, sim_time_us period, int *trace,
                      int *ntrace)
{
    struct tc *c = calloc(1, sizeof *c);
    c->ref = -1;
    c->fail_at = -1;
    c->stop_at = -1;
    c->trace = trace;
    c->ntrace = ntrace;
    struct sim_err err;
    /* The kernel does not own these (no destroy op), the test frees them. */
    if (sim_kernel_add(k, name, &tc_ops, c, period, &c->id, &err) ||
        sim_bus_publish(k, c->id, "out", "kW", SIM_SIG_RECORD, 0, &c->out, &err)) {
        fprintf(stderr, "add %s: %s\n", name, err.msg);
        exit(1);
    }
    return c;
}

static void test_order_from_reads(void)
{
    sim_kernel *k = new_kernel(5, 1);
    int trace[64], nt = 0;
    struct sim_err err;
    /* Added reader first: the kernel must step the writer before it. */
    struct tc *meter = add(k, "meter", SIM_US_PER_MIN, trace, &nt);
    struct tc *load = add(k, "load", SIM_US_PER_MIN, trace, &nt);
    CHECK_INT(sim_bus_read(k, meter->id, "load.out", SIM_READ_NOW, "x.json: meter", &meter->ref,
                           &err), 0);
    CHECK_INT(sim_kernel_init(k, &err), 0);
    int order[2];
    sim_kernel_step_order(k, order);
    CHECK_INT(order[0], load->id);
    CHECK_INT(order[1], meter->id);
    CHECK_INT(sim_kernel_run(k, &err), 0);
    CHECK_INT(meter->steps, 5);
    CHECK_INT(load->steps, 5);
    /* The meter saw this minute's value, not the previous one. */
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(meter->seen[i], 1000.0 * load->id + i, 0);
    CHECK_INT(nt, 10);
    CHECK_INT(trace[0], load->id);
    CHECK_INT(sim_bus_find(k, "load.out"), load->out);
    CHECK(strcmp(sim_bus_unit(k, load->out), "kW") == 0, "unit");
    CHECK_INT(meter->finishes, 1);
    sim_kernel_free(k);
    free(meter);
    free(load);
}

static void test_prev_breaks_loop(void)
{
    sim_kernel *k = new_kernel(3, 1);
    struct sim_err err;
    struct tc *a = add(k, "a", SIM_US_PER_MIN, NULL, NULL);
    struct tc *b = add(k, "b", SIM_US_PER_MIN, NULL, NULL);
    sim_bus_read(k, a->id, "b.out", SIM_READ_PREV, NULL, &a->ref, &err);
    sim_bus_read(k, b->id, "a.out", SIM_READ_NOW, NULL, &b->ref, &err);
    CHECK_INT(sim_kernel_init(k, &err), 0);
    CHECK_INT(sim_kernel_run(k, &err), 0);
    /* a steps first and sees b's value of the previous minute. */
    CHECK_NEAR(a->seen[0], 0.0, 0);
    CHECK_NEAR(a->seen[1], 1000.0 * b->id + 0, 0);
    CHECK_NEAR(b->seen[2], 1000.0 * a->id + 2, 0);
    sim_kernel_free(k);
    free(a);
    free(b);
}

static void test_cycle_named(void)
{
    sim_kernel *k = new_kernel(3, 1);
    struct sim_err err;
    struct tc *x = add(k, "free", SIM_US_PER_MIN, NULL, NULL);
    struct tc *a = add(k, "alpha", SIM_US_PER_MIN, NULL, NULL);
    struct tc *b = add(k, "beta", SIM_US_PER_MIN, NULL, NULL);
    struct tc *c = add(k, "gamma", SIM_US_PER_MIN, NULL, NULL);
    sim_bus_read(k, a->id, "gamma.out", SIM_READ_NOW, NULL, &a->ref, &err);
    sim_bus_read(k, b->id, "alpha.out", SIM_READ_NOW, NULL, &b->ref, &err);
    sim_bus_read(k, c->id, "beta.out", SIM_READ_NOW, NULL, &c->ref, &err);
    sim_bus_read(k, x->id, "beta.out", SIM_READ_NOW, NULL, &x->ref, &err);
    CHECK_INT(sim_kernel_init(k, &err), SIM_ECYCLE);
    CHECK_STR_CONTAINS(err.msg, "cycle");
    CHECK_STR_CONTAINS(err.msg, "alpha -> beta -> gamma -> alpha");
    CHECK(strstr(err.msg, "free") == NULL, "bystander named in cycle: %s", err.msg);
    sim_kernel_free(k);
    free(x);
    free(a);
    free(b);
    free(c);
}

static void test_dangling_and_names(void)
{
    sim_kernel *k = new_kernel(3, 1);
    struct sim_err err;
    struct tc *a = add(k, "a", SIM_US_PER_MIN, NULL, NULL);
    sim_bus_read(k, a->id, "lod.out", SIM_READ_NOW, "demo.json: components[1].loads[0]", &a->ref,
                 &err);
    CHECK_INT(sim_kernel_init(k, &err), SIM_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "demo.json: components[1].loads[0]: no signal named \"lod.out\"");
    int id;
    CHECK_INT(sim_kernel_add(k, "a", &tc_ops, NULL, 0, &id, &err), SIM_EEXIST);
    CHECK_STR_CONTAINS(err.msg, "\"a\"");
    CHECK_INT(sim_kernel_add(k, "bad name", &tc_ops, NULL, 0, &id, &err), SIM_EINVAL);
    CHECK_INT(sim_bus_publish(k, a->id, "out", "kW", 0, 0, NULL, &err), SIM_EEXIST);
    sim_kernel_free(k);
    free(a);
}

static void test_periods_and_events(void)
{
    sim_kernel *k = new_kernel(10, 1);
    int trace[256], nt = 0;
    struct sim_err err;
    struct tc *fast = add(k, "fast", SIM_US_PER_MIN, trace, &nt);
    struct tc *slow = add(k, "slow", 5 * SIM_US_PER_MIN, trace, &nt);
    struct tc *idle = add(k, "idle", 0, trace, &nt);
    CHECK_INT(sim_kernel_init(k, &err), 0);
    /* At minute 5: an early event (prio -1) before both steps, a late one
     * (prio 1) after them; a cancelled one never fires; one at the end
     * time never fires. */
    sim_handle h;
    CHECK_INT(sim_kernel_schedule(k, idle->id, T0 + 5 * SIM_US_PER_MIN, 1, 2, 0, NULL), 0);
    CHECK_INT(sim_kernel_schedule(k, idle->id, T0 + 5 * SIM_US_PER_MIN, -1, 1, 0, NULL), 0);
    CHECK_INT(sim_kernel_schedule(k, idle->id, T0 + 7 * SIM_US_PER_MIN, 0, 3, 0, &h), 0);
    CHECK_INT(sim_kernel_schedule(k, idle->id, T0 + 10 * SIM_US_PER_MIN, 0, 4, 0, NULL), 0);
    CHECK_INT(sim_kernel_cancel(k, h), 0);
    CHECK_INT(sim_kernel_run(k, &err), 0);
    CHECK_INT(fast->steps, 10);
    CHECK_INT(slow->steps, 2);
    CHECK_INT(idle->steps, 0);
    CHECK_INT(idle->nevents, 2);
    CHECK_INT(idle->events[0], 1);
    CHECK_INT(idle->events[1], 2);
    /* Trace around minute 5: f s f s ... find the early event. */
    int pos = -1;
    for (int i = 0; i < nt; i++)
        if (trace[i] == 101)
            pos = i;
    CHECK(pos > 0 && pos + 3 < nt, "event not traced");
    if (pos > 0 && pos + 3 < nt) {
        CHECK_INT(trace[pos + 1], fast->id);
        CHECK_INT(trace[pos + 2], slow->id);
        CHECK_INT(trace[pos + 3], 102);
    }
    struct sim_stats st;
    sim_kernel_stats(k, &st);
    CHECK_INT(st.instants, 10);
    CHECK_INT(st.events, 14);
    CHECK_INT(sim_kernel_now(k), T0 + 10 * SIM_US_PER_MIN);
    CHECK_INT(sim_kernel_schedule(k, idle->id, T0, 0, 1, 0, NULL), SIM_ERANGE);
    sim_kernel_free(k);
    free(fast);
    free(slow);
    free(idle);
}

static double first_draw(uint64_t seed, int with_other)
{
    sim_kernel *k = new_kernel(1, seed);
    struct tc *o = with_other ? add(k, "other", 0, NULL, NULL) : NULL;
    struct tc *x = add(k, "x", 0, NULL, NULL);
    if (o)
        gsl_rng_uniform(sim_kernel_rng(k, o->id));
    double v = gsl_rng_uniform(sim_kernel_rng(k, x->id));
    sim_kernel_free(k);
    free(o);
    free(x);
    return v;
}

static void test_rng_streams(void)
{
    double a = first_draw(42, 0), b = first_draw(42, 1), c = first_draw(43, 0);
    CHECK(a == b, "adding a component changed another's stream: %g vs %g", a, b);
    CHECK(a != c, "seed has no effect");
    CHECK(sim_seed_for(1, "a") != sim_seed_for(1, "b"), "names give the same seed");
    CHECK(sim_seed_for(1, "a") != sim_seed_for(2, "a"), "seeds give the same seed");
}

static int log_count;
static char log_last[256];
static int sample_count;

static int on_event(void *ctx, sim_time_us t, const char *component, const char *kind,
                    enum sim_severity sev, double value, const char *message)
{
    (void)ctx;
    (void)t;
    (void)sev;
    (void)value;
    log_count++;
    snprintf(log_last, sizeof log_last, "%s %s %s", component, kind, message);
    return 0;
}

static int on_sample(void *ctx, sim_time_us t, const double *values, int n)
{
    (void)ctx;
    (void)t;
    (void)values;
    (void)n;
    sample_count++;
    return 0;
}

static void test_stop_fail_log(void)
{
    struct sim_err err;
    /* Stop requested from inside a step: the instant completes, finish
     * runs once, run returns SIM_EINTR. */
    sim_kernel *k = new_kernel(60, 1);
    struct tc *a = add(k, "a", SIM_US_PER_MIN, NULL, NULL);
    a->stop_at = 4;
    struct sim_hooks hooks = {.sample = on_sample, .event = on_event};
    sim_kernel_set_hooks(k, &hooks);
    sample_count = 0;
    CHECK_INT(sim_kernel_init(k, &err), 0);
    CHECK_INT(sim_kernel_run(k, &err), SIM_EINTR);
    CHECK_INT(a->steps, 5);
    CHECK_INT(a->finishes, 1);
    CHECK_INT(sample_count, 5);
    CHECK_INT(sim_kernel_now(k), T0 + 4 * SIM_US_PER_MIN);
    log_count = 0;
    sim_log(k, a->id, "soc_min", SIM_WARNING, 0.2, "SoC at %d %%", 20);
    CHECK_INT(log_count, 1);
    CHECK_STR_CONTAINS(log_last, "a soc_min SoC at 20 %");
    sim_kernel_free(k);
    free(a);

    /* A stop flag set before the run stops it at once. */
    volatile int flag = 1;
    k = new_kernel(60, 1);
    a = add(k, "a", SIM_US_PER_MIN, NULL, NULL);
    sim_kernel_set_stop_flag(k, &flag);
    sim_kernel_init(k, &err);
    CHECK_INT(sim_kernel_run(k, &err), SIM_EINTR);
    CHECK_INT(a->steps, 0);
    sim_kernel_free(k);
    free(a);

    /* A failing step ends the run with its code and names the component. */
    k = new_kernel(60, 1);
    a = add(k, "broken", SIM_US_PER_MIN, NULL, NULL);
    a->fail_at = 2;
    sim_kernel_init(k, &err);
    CHECK_INT(sim_kernel_run(k, &err), SIM_EFAIL);
    CHECK_STR_CONTAINS(err.msg, "broken (test) step at");
    CHECK_STR_CONTAINS(err.msg, "deliberate failure");
    CHECK_INT(a->finishes, 1);
    sim_kernel_free(k);
    free(a);
}

static void test_pacing(void)
{
    /* One simulated hour at 36000x cannot finish in less than 0.1 s of
     * wall time (a lower bound only: no timing assertion on speed). */
    struct sim_err err;
    sim_kernel *k = new_kernel(60, 1);
    struct tc *a = add(k, "a", SIM_US_PER_MIN, NULL, NULL);
    sim_kernel_set_speed(k, 36000);
    sim_kernel_init(k, &err);
    CHECK_INT(sim_kernel_run(k, &err), 0);
    CHECK_INT(a->steps, 60);
    struct sim_stats st;
    sim_kernel_stats(k, &st);
    CHECK(st.wall_s >= 0.098, "paced run too fast: %g s", st.wall_s);
    sim_kernel_free(k);
    free(a);
}

int main(void)
{
    test_order_from_reads();
    test_prev_breaks_loop();
    test_cycle_named();
    test_dangling_and_names();
    test_periods_and_events();
    test_rng_streams();
    test_stop_fail_log();
    test_pacing();
    return check_done("test_kernel");
}
