/*
 * kernel.c: the simulation kernel: components, the signal bus, step order,
 * the run loop, pacing, random streams and observer hooks.
 *
 * Periodic steps do not put one event per component in the queue. The
 * kernel keeps each periodic component's next due time and one internal
 * STEP event for the earliest of them; when it fires, every component due
 * at that instant steps, in bus order (writers before their readers). So
 * an instant's steps always run together, in a defined order, at priority
 * 0: one-shot events with a negative priority run before them, positive
 * after, and equal priorities in insertion order.
 *
 * The bus is a flat array of doubles indexed by signal; components keep
 * the indices they got at publish time and read through references that
 * init resolves, so a step costs an array access, never a name lookup.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define NAME_MAX_LEN 63

struct component {
    char name[NAME_MAX_LEN + 1];
    const struct sim_component_ops *ops;
    void *self;
    sim_time_us period;
    sim_time_us next_due; /* SIM_TIME_NEVER when not periodic */
    gsl_rng *rng;
};

struct signal {
    char *name; /* "<component>.<local>" */
    char unit[16];
    unsigned flags;
    int owner;
};

struct read {
    int comp;
    char *name;
    char *origin;
    enum sim_read_mode mode;
    int sig; /* resolved at init, -1 before */
};

struct user_event {
    uint32_t kind;
    uint64_t data;
};

struct sim_kernel {
    struct sim_config cfg;
    struct component *comps;
    int ncomps, capcomps;
    int *order; /* step order, after init */

    struct signal *sigs;
    double *values;
    int nsigs, capsigs;

    struct read *reads;
    int nreads, capreads;

    sim_queue *q;
    sim_time_us now;
    int initialised, running;
    int stop;
    volatile int *stop_flag;

    struct sim_hooks hooks;

    /* Replay source (sim_kernel_set_replay); replaying is 0 without one. */
    struct sim_replay_ops replay;
    int replaying;

    double speed;
    struct timespec wall0;
    double last_progress_wall;
    double last_lag_log;
    struct sim_stats stats;
};

/* ------------------------------------------------------------------ */
/* Lifetime                                                            */
/* ------------------------------------------------------------------ */

sim_kernel *sim_kernel_new(const struct sim_config *cfg)
{
    sim_kernel *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->cfg = *cfg;
    k->now = cfg->start;
    k->q = sim_queue_new(256);
    if (!k->q) {
        free(k);
        return NULL;
    }
    k->last_lag_log = -1e9;
    return k;
}

void sim_kernel_free(sim_kernel *k)
{
    if (!k)
        return;
    for (int i = 0; i < k->ncomps; i++) {
        if (k->comps[i].ops->destroy)
            k->comps[i].ops->destroy(k->comps[i].self);
        if (k->comps[i].rng)
            gsl_rng_free(k->comps[i].rng);
    }
    for (int i = 0; i < k->nsigs; i++)
        free(k->sigs[i].name);
    for (int i = 0; i < k->nreads; i++) {
        free(k->reads[i].name);
        free(k->reads[i].origin);
    }
    free(k->comps);
    free(k->order);
    free(k->sigs);
    free(k->values);
    free(k->reads);
    sim_queue_free(k->q);
    free(k);
}

static int valid_name(const char *s, int allow_dot)
{
    if (!s || !*s || strlen(s) > NAME_MAX_LEN)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || (allow_dot && c == '.')))
            return 0;
    }
    return 1;
}

int sim_kernel_add(sim_kernel *k, const char *name, const struct sim_component_ops *ops,
                   void *self, sim_time_us period, int *id, struct sim_err *err)
{
    int rc = SIM_OK;
    if (k->initialised) {
        rc = sim_errf(err, SIM_ESTATE, "cannot add component \"%s\" after init", name);
    } else if (!ops) {
        rc = sim_errf(err, SIM_EINVAL, "component \"%s\" has no operations", name);
    } else if (!valid_name(name, 0)) {
        rc = sim_errf(err, SIM_EINVAL,
                      "invalid component name \"%s\": use 1 to %d letters, digits, '_' or '-'",
                      name ? name : "", NAME_MAX_LEN);
    } else if (sim_kernel_find(k, name) >= 0) {
        rc = sim_errf(err, SIM_EEXIST, "component name \"%s\" is used twice", name);
    } else if (period < 0) {
        rc = sim_errf(err, SIM_EINVAL, "component \"%s\": negative step period", name);
    }
    if (!rc && k->ncomps == k->capcomps) {
        int cap = k->capcomps ? k->capcomps * 2 : 16;
        struct component *c = realloc(k->comps, (size_t)cap * sizeof *c);
        if (!c)
            rc = sim_errf(err, SIM_ENOMEM, "out of memory adding component \"%s\"", name);
        else {
            k->comps = c;
            k->capcomps = cap;
        }
    }
    if (rc) {
        if (ops && ops->destroy)
            ops->destroy(self);
        return rc;
    }
    struct component *c = &k->comps[k->ncomps];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->ops = ops;
    c->self = self;
    c->period = period;
    c->next_due = SIM_TIME_NEVER;
    if (id)
        *id = k->ncomps;
    k->ncomps++;
    return SIM_OK;
}

int sim_kernel_component_count(const sim_kernel *k)
{
    return k->ncomps;
}

const char *sim_kernel_component_name(const sim_kernel *k, int id)
{
    return id >= 0 && id < k->ncomps ? k->comps[id].name : NULL;
}

const char *sim_kernel_component_type(const sim_kernel *k, int id)
{
    return id >= 0 && id < k->ncomps ? k->comps[id].ops->type : NULL;
}

void *sim_kernel_component_self(const sim_kernel *k, int id)
{
    return id >= 0 && id < k->ncomps ? k->comps[id].self : NULL;
}

int sim_kernel_find(const sim_kernel *k, const char *name)
{
    for (int i = 0; i < k->ncomps; i++)
        if (strcmp(k->comps[i].name, name) == 0)
            return i;
    return -1;
}

const struct sim_config *sim_kernel_config(const sim_kernel *k)
{
    return &k->cfg;
}

sim_time_us sim_kernel_now(const sim_kernel *k)
{
    return k->now;
}

/* ------------------------------------------------------------------ */
/* Random streams                                                      */
/* ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t sim_seed_for(uint64_t seed, const char *name)
{
    /* FNV-1a of the name, mixed with the scenario seed: a component's
     * stream depends on nothing but these two. */
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= UINT64_C(0x100000001b3);
    }
    return splitmix64(seed ^ splitmix64(h));
}

gsl_rng *sim_kernel_rng(sim_kernel *k, int id)
{
    if (id < 0 || id >= k->ncomps)
        return NULL;
    struct component *c = &k->comps[id];
    if (!c->rng) {
        c->rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!c->rng)
            return NULL;
        /* mt19937 takes 32 bits of seed; fold the 64-bit one, avoid 0
         * (GSL maps seed 0 to its default seed). */
        uint64_t s = sim_seed_for(k->cfg.seed, c->name);
        unsigned long s32 = (unsigned long)((s ^ (s >> 32)) & 0xffffffffu);
        gsl_rng_set(c->rng, s32 ? s32 : 1);
    }
    return c->rng;
}

/* ------------------------------------------------------------------ */
/* Signal bus                                                          */
/* ------------------------------------------------------------------ */

int sim_bus_find(const sim_kernel *k, const char *name)
{
    for (int i = 0; i < k->nsigs; i++)
        if (strcmp(k->sigs[i].name, name) == 0)
            return i;
    return -1;
}

int sim_bus_publish(sim_kernel *k, int comp, const char *local, const char *unit,
                    unsigned flags, double initial, int *sig, struct sim_err *err)
{
    if (k->initialised)
        return sim_errf(err, SIM_ESTATE, "cannot publish a signal after init");
    if (comp < 0 || comp >= k->ncomps)
        return sim_errf(err, SIM_EINVAL, "publish: no component %d", comp);
    if (!valid_name(local, 1))
        return sim_errf(err, SIM_EINVAL, "%s: invalid signal name \"%s\"", k->comps[comp].name,
                        local ? local : "");
    if (!unit || strlen(unit) >= sizeof k->sigs[0].unit)
        return sim_errf(err, SIM_EINVAL, "%s.%s: invalid unit", k->comps[comp].name, local);
    size_t len = strlen(k->comps[comp].name) + 1 + strlen(local) + 1;
    char *full = malloc(len);
    if (!full)
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    snprintf(full, len, "%s.%s", k->comps[comp].name, local);
    if (sim_bus_find(k, full) >= 0) {
        int rc = sim_errf(err, SIM_EEXIST, "signal \"%s\" is published twice", full);
        free(full);
        return rc;
    }
    if (k->nsigs == k->capsigs) {
        int cap = k->capsigs ? k->capsigs * 2 : 32;
        struct signal *s = realloc(k->sigs, (size_t)cap * sizeof *s);
        if (s)
            k->sigs = s;
        double *v = s ? realloc(k->values, (size_t)cap * sizeof *v) : NULL;
        if (v)
            k->values = v;
        if (!s || !v) {
            free(full);
            return sim_errf(err, SIM_ENOMEM, "out of memory");
        }
        k->capsigs = cap;
    }
    struct signal *s = &k->sigs[k->nsigs];
    s->name = full;
    snprintf(s->unit, sizeof s->unit, "%s", unit);
    s->flags = flags;
    s->owner = comp;
    k->values[k->nsigs] = initial;
    if (sig)
        *sig = k->nsigs;
    k->nsigs++;
    return SIM_OK;
}

int sim_bus_read(sim_kernel *k, int comp, const char *name, enum sim_read_mode mode,
                 const char *origin, int *ref, struct sim_err *err)
{
    if (k->initialised)
        return sim_errf(err, SIM_ESTATE, "cannot declare a read after init");
    if (comp < 0 || comp >= k->ncomps)
        return sim_errf(err, SIM_EINVAL, "read: no component %d", comp);
    if (k->nreads == k->capreads) {
        int cap = k->capreads ? k->capreads * 2 : 32;
        struct read *r = realloc(k->reads, (size_t)cap * sizeof *r);
        if (!r)
            return sim_errf(err, SIM_ENOMEM, "out of memory");
        k->reads = r;
        k->capreads = cap;
    }
    struct read *r = &k->reads[k->nreads];
    r->comp = comp;
    r->mode = mode;
    r->sig = -1;
    r->name = strdup(name ? name : "");
    r->origin = strdup(origin ? origin : k->comps[comp].name);
    if (!r->name || !r->origin) {
        free(r->name);
        free(r->origin);
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    }
    if (ref)
        *ref = k->nreads;
    k->nreads++;
    return SIM_OK;
}

int sim_bus_ref_signal(const sim_kernel *k, int ref)
{
    return ref >= 0 && ref < k->nreads ? k->reads[ref].sig : -1;
}

double sim_bus_get(const sim_kernel *k, int sig)
{
    return k->values[sig];
}

void sim_bus_set(sim_kernel *k, int sig, double v)
{
    k->values[sig] = v;
}

double sim_bus_get_ref(const sim_kernel *k, int ref)
{
    return k->values[k->reads[ref].sig];
}

int sim_bus_count(const sim_kernel *k)
{
    return k->nsigs;
}

const char *sim_bus_name(const sim_kernel *k, int sig)
{
    return sig >= 0 && sig < k->nsigs ? k->sigs[sig].name : NULL;
}

const char *sim_bus_unit(const sim_kernel *k, int sig)
{
    return sig >= 0 && sig < k->nsigs ? k->sigs[sig].unit : NULL;
}

unsigned sim_bus_flags(const sim_kernel *k, int sig)
{
    return sig >= 0 && sig < k->nsigs ? k->sigs[sig].flags : 0;
}

int sim_bus_owner(const sim_kernel *k, int sig)
{
    return sig >= 0 && sig < k->nsigs ? k->sigs[sig].owner : -1;
}

void sim_kernel_step_order(const sim_kernel *k, int *order)
{
    for (int i = 0; i < k->ncomps; i++)
        order[i] = k->order ? k->order[i] : i;
}

/* ------------------------------------------------------------------ */
/* Init: resolve reads, order components                               */
/* ------------------------------------------------------------------ */

/* Does component a have to step before b (b reads a's signal NOW)? The
 * answer for every pair is kept in an n x n matrix built once at init. */
static int order_components(sim_kernel *k, struct sim_err *err)
{
    int n = k->ncomps;
    k->order = malloc((size_t)(n ? n : 1) * sizeof *k->order);
    unsigned char *edge = calloc((size_t)n * (size_t)n + 1, 1);
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    unsigned char *done = calloc((size_t)n + 1, 1);
    int rc = SIM_OK;
    if (!k->order || !edge || !indeg || !done) {
        rc = sim_errf(err, SIM_ENOMEM, "out of memory ordering components");
        goto out;
    }
    for (int i = 0; i < k->nreads; i++) {
        const struct read *r = &k->reads[i];
        int w = k->sigs[r->sig].owner;
        if (r->mode != SIM_READ_NOW || w == r->comp)
            continue;
        if (!edge[(size_t)w * (size_t)n + (size_t)r->comp]) {
            edge[(size_t)w * (size_t)n + (size_t)r->comp] = 1;
            indeg[r->comp]++;
        }
    }
    /* Kahn's algorithm, always taking the lowest-numbered ready component:
     * the order is a function of the scenario alone. */
    for (int pos = 0; pos < n; pos++) {
        int pick = -1;
        for (int i = 0; i < n && pick < 0; i++)
            if (!done[i] && indeg[i] == 0)
                pick = i;
        if (pick < 0) {
            /* A cycle among the remaining components: walk back along
             * edges from any of them until a component repeats. */
            int start = -1;
            for (int i = 0; i < n && start < 0; i++)
                if (!done[i])
                    start = i;
            int *seen = calloc((size_t)n, sizeof *seen);
            int *path = malloc((size_t)n * sizeof *path);
            if (!seen || !path) {
                free(seen);
                free(path);
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                goto out;
            }
            int len = 0, cur = start;
            while (!seen[cur]) {
                seen[cur] = len + 1;
                path[len++] = cur;
                int prev = -1;
                for (int w = 0; w < n && prev < 0; w++)
                    if (!done[w] && edge[(size_t)w * (size_t)n + (size_t)cur])
                        prev = w;
                cur = prev;
            }
            /* path[seen[cur]-1 .. len-1] walks from readers to writers;
             * print it writer first, starting at the lowest-numbered
             * member so the message does not depend on where the walk
             * began. */
            int first = seen[cur] - 1, m = len - first, j0 = 0;
            for (int j = 1; j < m; j++)
                if (path[len - 1 - j] < path[len - 1 - j0])
                    j0 = j;
            char msg[400] = "";
            size_t used = 0;
            for (int j = 0; j <= m && used < sizeof msg; j++)
                used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s",
                                         j ? " -> " : "",
                                         k->comps[path[len - 1 - (j0 + j) % m]].name);
            rc = sim_errf(err, SIM_ECYCLE,
                          "signal bus cycle: %s (each reads the previous one's signal in the "
                          "same step; make one read \"prev\" to break the loop)",
                          msg);
            free(seen);
            free(path);
            goto out;
        }
        done[pick] = 1;
        k->order[pos] = pick;
        for (int j = 0; j < n; j++)
            if (edge[(size_t)pick * (size_t)n + (size_t)j])
                indeg[j]--;
    }
out:
    free(edge);
    free(indeg);
    free(done);
    return rc;
}

int sim_kernel_init(sim_kernel *k, struct sim_err *err)
{
    if (k->initialised)
        return sim_errf(err, SIM_ESTATE, "kernel already initialised");
    if (k->cfg.end <= k->cfg.start)
        return sim_errf(err, SIM_EINVAL, "end must be after start");
    for (int i = 0; i < k->nreads; i++) {
        struct read *r = &k->reads[i];
        r->sig = sim_bus_find(k, r->name);
        if (r->sig < 0) {
            /* A close match helps with typos: same component, say. */
            return sim_errf(err, SIM_EINVAL, "%s: no signal named \"%s\"", r->origin, r->name);
        }
    }
    int rc = order_components(k, err);
    if (rc)
        return rc;
    k->initialised = 1;
    for (int p = 0; p < k->ncomps; p++) {
        int i = k->order[p];
        struct component *c = &k->comps[i];
        if (c->ops->init) {
            k->now = k->cfg.start;
            rc = c->ops->init(c->self, k, err);
            if (rc)
                return rc;
        }
        if (c->period > 0 && c->ops->step)
            c->next_due = k->cfg.start;
    }
    struct sim_event ev = {k->cfg.start, 0, 0, NULL, 0};
    for (int i = 0; i < k->ncomps; i++)
        if (k->comps[i].next_due != SIM_TIME_NEVER)
            return sim_queue_push(k->q, &ev, NULL) ? sim_errf(err, SIM_ENOMEM, "out of memory")
                                                   : SIM_OK;
    return SIM_OK;
}

/* ------------------------------------------------------------------ */
/* Scheduling                                                          */
/* ------------------------------------------------------------------ */

int sim_kernel_schedule(sim_kernel *k, int id, sim_time_us t, int32_t prio, uint32_t kind,
                        uint64_t data, sim_handle *h)
{
    if (id < 0 || id >= k->ncomps)
        return SIM_EINVAL;
    if (t < k->now)
        return SIM_ERANGE;
    /* A user event carries its component as id + 1 in ptr; the kernel's
     * own STEP events have ptr NULL. */
    struct sim_event ev = {t, prio, kind, (void *)(uintptr_t)(id + 1), data};
    return sim_queue_push(k->q, &ev, h);
}

int sim_kernel_cancel(sim_kernel *k, sim_handle h)
{
    return sim_queue_cancel(k->q, h);
}

void sim_kernel_set_hooks(sim_kernel *k, const struct sim_hooks *hooks)
{
    if (hooks)
        k->hooks = *hooks;
    else
        memset(&k->hooks, 0, sizeof k->hooks);
}

int sim_log(sim_kernel *k, int comp, const char *kind, enum sim_severity sev, double value,
            const char *fmt, ...)
{
    if (!k->hooks.event)
        return SIM_OK;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = comp >= 0 && comp < k->ncomps ? k->comps[comp].name : "kernel";
    return k->hooks.event(k->hooks.ctx, k->now, name, kind, sev, value, msg) ? SIM_EIO
                                                                             : SIM_OK;
}

/* ------------------------------------------------------------------ */
/* Journal and replay (the in-memory source is in journal.c)           */
/* ------------------------------------------------------------------ */

int sim_journal(sim_kernel *k, int comp, enum sim_journal_dir dir, const char *channel,
                double value, const char *text)
{
    if (!k->hooks.journal)
        return SIM_OK;
    const char *name = comp >= 0 && comp < k->ncomps ? k->comps[comp].name : "kernel";
    return k->hooks.journal(k->hooks.ctx, k->now, name, dir, channel, value, text) ? SIM_EIO
                                                                                   : SIM_OK;
}

void sim_kernel_set_replay(sim_kernel *k, const struct sim_replay_ops *ops)
{
    if (ops) {
        k->replay = *ops;
        k->replaying = 1;
    } else {
        memset(&k->replay, 0, sizeof k->replay);
        k->replaying = 0;
    }
}

int sim_kernel_replaying(const sim_kernel *k)
{
    return k->replaying;
}

const struct sim_replay_ops *sim_kernel_replay_ops(const sim_kernel *k)
{
    return k->replaying ? &k->replay : NULL;
}

/* ------------------------------------------------------------------ */
/* Pacing                                                              */
/* ------------------------------------------------------------------ */

void sim_kernel_set_speed(sim_kernel *k, double speed)
{
    k->speed = speed > 0 && isfinite(speed) ? speed : 0;
}

static double wall_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

double sim_kernel_wall_s(const sim_kernel *k)
{
    return k->running ? wall_since(&k->wall0) : k->stats.wall_s;
}

void sim_kernel_stats(const sim_kernel *k, struct sim_stats *st)
{
    *st = k->stats;
    if (k->running)
        st->wall_s = wall_since(&k->wall0);
}

void sim_kernel_request_stop(sim_kernel *k)
{
    k->stop = 1;
}

void sim_kernel_set_stop_flag(sim_kernel *k, volatile int *flag)
{
    k->stop_flag = flag;
}

static int stop_wanted(const sim_kernel *k)
{
    return k->stop || (k->stop_flag && *k->stop_flag);
}

static void maybe_progress(sim_kernel *k, double wall, double lag)
{
    if (!k->hooks.progress)
        return;
    double every = k->hooks.progress_every_ms > 0 ? k->hooks.progress_every_ms * 1e-3 : 0.1;
    if (wall - k->last_progress_wall >= every) {
        k->last_progress_wall = wall;
        k->hooks.progress(k->hooks.ctx, k->now, wall, lag);
    }
}

/* Hold simulated time t until the wall clock allows it (speed > 0). Sleeps
 * in slices of at most 50 ms so a stop request is honoured promptly. */
static void pace(sim_kernel *k, sim_time_us t)
{
    double target = (double)(t - k->cfg.start) * 1e-6 / k->speed;
    for (;;) {
        double wall = wall_since(&k->wall0);
        double ahead = target - wall;
        if (ahead <= 0) {
            double lag = -ahead;
            if (lag > k->stats.max_lag_s)
                k->stats.max_lag_s = lag;
            if (lag > 1.0 && wall - k->last_lag_log >= 10.0) {
                k->last_lag_log = wall;
                sim_log(k, -1, "lag", SIM_WARNING, lag,
                        "simulation is %.1f s of wall time behind the requested speed", lag);
            }
            maybe_progress(k, wall, lag);
            return;
        }
        maybe_progress(k, wall, 0);
        if (stop_wanted(k))
            return;
        double slice = ahead < 0.05 ? ahead : 0.05;
        struct timespec ts = {(time_t)slice, (long)((slice - (double)(time_t)slice) * 1e9)};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop_wanted(k))
            ;
    }
}

/* ------------------------------------------------------------------ */
/* The run loop                                                        */
/* ------------------------------------------------------------------ */

static int fail_in(sim_kernel *k, int comp, const char *what, int rc, struct sim_err *err)
{
    if (err) {
        char ts[48], inner[sizeof err->msg];
        memcpy(inner, err->msg, sizeof inner);
        sim_time_format(k->now, 0, ts, sizeof ts);
        sim_errf(err, rc, "%s (%s) %s at %s: %s", k->comps[comp].name, k->comps[comp].ops->type,
                 what, ts, inner);
    }
    return rc;
}

static int run_steps(sim_kernel *k, sim_time_us t, struct sim_err *err)
{
    sim_time_us next = SIM_TIME_NEVER;
    for (int p = 0; p < k->ncomps; p++) {
        struct component *c = &k->comps[k->order[p]];
        if (c->next_due == t) {
            if (err)
                err->msg[0] = '\0';
            int rc = c->ops->step(c->self, k, t, err);
            if (rc)
                return fail_in(k, k->order[p], "step", rc, err);
            k->stats.events++;
            c->next_due = t + c->period;
        }
        if (c->next_due < next)
            next = c->next_due;
    }
    if (k->hooks.sample && k->hooks.sample(k->hooks.ctx, t, k->values, k->nsigs))
        return sim_errf(err, SIM_EIO, "writing samples at simulated time failed");
    if (next < k->cfg.end) {
        struct sim_event ev = {next, 0, 0, NULL, 0};
        if (sim_queue_push(k->q, &ev, NULL))
            return sim_errf(err, SIM_ENOMEM, "out of memory");
    }
    return SIM_OK;
}

static int finish_all(sim_kernel *k, int rc_run, struct sim_err *err)
{
    int rc = SIM_OK;
    struct sim_err ferr;
    for (int p = 0; p < k->ncomps; p++) {
        struct component *c = &k->comps[k->order[p]];
        if (!c->ops->finish)
            continue;
        ferr.msg[0] = '\0';
        int r = c->ops->finish(c->self, k, k->now, &ferr);
        if (r && !rc) {
            rc = r;
            if (!rc_run && err) {
                *err = ferr;
                fail_in(k, k->order[p], "finish", r, err);
            }
        }
    }
    return rc;
}

int sim_kernel_run(sim_kernel *k, struct sim_err *err)
{
    if (!k->initialised)
        return sim_errf(err, SIM_ESTATE, "sim_kernel_run before sim_kernel_init");
    if (k->running)
        return sim_errf(err, SIM_ESTATE, "kernel is already running");
    k->running = 1;
    memset(&k->stats, 0, sizeof k->stats);
    clock_gettime(CLOCK_MONOTONIC, &k->wall0);
    k->last_progress_wall = 0;
    int rc = SIM_OK;
    sim_time_us last_instant = SIM_TIME_NEVER;
    struct sim_event ev;

    for (;;) {
        if (stop_wanted(k)) {
            rc = sim_errf(err, SIM_EINTR, "stopped on request");
            break;
        }
        const struct sim_event *top = sim_queue_peek(k->q);
        if (!top || top->t >= k->cfg.end) {
            k->now = k->cfg.end;
            break;
        }
        if (k->speed > 0)
            pace(k, top->t);
        else if ((k->stats.events & 1023) == 0 && k->hooks.progress)
            maybe_progress(k, wall_since(&k->wall0), 0);
        if (stop_wanted(k)) {
            rc = sim_errf(err, SIM_EINTR, "stopped on request");
            break;
        }
        sim_queue_pop(k->q, &ev);
        k->now = ev.t;
        if (ev.t != last_instant) {
            k->stats.instants++;
            last_instant = ev.t;
        }
        if (ev.ptr == NULL) {
            rc = run_steps(k, ev.t, err);
        } else {
            int id = (int)((uintptr_t)ev.ptr - 1);
            uint32_t kind = ev.kind;
            k->stats.events++;
            struct component *c = &k->comps[id];
            if (c->ops->event) {
                if (err)
                    err->msg[0] = '\0';
                rc = c->ops->event(c->self, k, ev.t, kind, ev.data, err);
                if (rc)
                    rc = fail_in(k, id, "event", rc, err);
            }
        }
        if (rc)
            break;
    }
    int frc = finish_all(k, rc, err);
    if (!rc)
        rc = frc;
    k->stats.wall_s = wall_since(&k->wall0);
    if (k->hooks.progress)
        k->hooks.progress(k->hooks.ctx, k->now, k->stats.wall_s, 0);
    k->running = 0;
    return rc;
}
