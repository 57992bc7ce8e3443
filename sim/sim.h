/*
 * sim.h: the public API of flexbed's simulation kernel.
 *
 * One kernel owns one clock (int64 microseconds since the Unix epoch, UTC),
 * one event queue, one signal bus and the components wired on it. Models,
 * market actors and hardware adapters are all components: a vtable of
 * callbacks plus a `self` pointer they own. The kernel never prints and never
 * exits; every fallible call returns 0 or a negative SIM_E* code and, when
 * given one, fills a caller-owned struct sim_err with a human message.
 *
 * Two kernels may coexist in one process: there is no global state.
 */
#ifndef FLEXBED_SIM_H
#define FLEXBED_SIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

enum {
    SIM_OK = 0,
    SIM_EINVAL = -1,  /* bad input: scenario, file, argument (exit code 2) */
    SIM_ENOMEM = -2,  /* allocation failed */
    SIM_EIO = -3,     /* file or database I/O failed */
    SIM_ECYCLE = -4,  /* signal bus dependency cycle */
    SIM_ENOENT = -5,  /* a named thing does not exist */
    SIM_ESTATE = -6,  /* call not allowed in the current state */
    SIM_EINTR = -7,   /* run stopped on request (Ctrl-C) */
    SIM_ERANGE = -8,  /* value out of range */
    SIM_EFAIL = -9,   /* a component's step failed (run failure, exit 1) */
    SIM_EEXIST = -10, /* a name is already taken */
};

/* Human message for an error; owned by the caller, 512 bytes is plenty for
 * "file: path.to.field: what is wrong". */
struct sim_err {
    char msg[512];
};

/* Name of an error code ("invalid input", ...); never NULL. */
const char *sim_strerror(int code);

/* Fill err (if non-NULL) with a printf-style message and return code. */
int sim_errf(struct sim_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

typedef int64_t sim_time_us; /* microseconds since 1970-01-01T00:00:00Z */

#define SIM_US_PER_S INT64_C(1000000)
#define SIM_US_PER_MIN (INT64_C(60) * SIM_US_PER_S)
#define SIM_US_PER_H (INT64_C(3600) * SIM_US_PER_S)
#define SIM_TIME_NEVER INT64_MAX

/* Parse ISO 8601 "YYYY-MM-DDTHH:MM[:SS[.ffffff]](Z|+HH:MM|-HH:MM)".
 * An offset is required. On success *t is UTC and, if offset_s is non-NULL,
 * *offset_s holds the offset in seconds east of UTC. Returns 0 or SIM_EINVAL. */
int sim_time_parse(const char *s, sim_time_us *t, int *offset_s);

/* Format t as ISO 8601 in the given offset ("2023-10-02T16:00:00+03:00");
 * fractional seconds are printed only when non-zero. Returns buf. */
char *sim_time_format(sim_time_us t, int offset_s, char *buf, size_t n);

/* Parse a duration: a number followed by a unit among us, ms, s, min, h, d
 * ("1s", "15min", "0.5h"). Must be >= 0 and an integer count of us.
 * Returns 0 or SIM_EINVAL. */
int sim_duration_parse(const char *s, sim_time_us *d);

/* Format a duration compactly ("15min", "1h", "1.5s"). Returns buf. */
char *sim_duration_format(sim_time_us d, char *buf, size_t n);

/* ------------------------------------------------------------------ */
/* Event queue: a 4-ary heap of pooled nodes ordered by                */
/* (time, priority, insertion sequence). Equal keys pop in insertion   */
/* order. Push, pop and cancel are O(log n); after the pool has grown  */
/* to the peak number of pending events nothing is allocated.          */
/* ------------------------------------------------------------------ */

typedef struct sim_queue sim_queue;

/* A handle names one pushed event for cancellation. It stays safe to use
 * after the event fired or was cancelled (a generation count makes stale
 * handles harmless). The zero handle is never issued. */
typedef uint64_t sim_handle;

struct sim_event {
    sim_time_us t;
    int32_t prio;  /* smaller fires first at equal time */
    uint32_t kind; /* free for the owner of the queue */
    void *ptr;     /* free for the owner of the queue */
    uint64_t data; /* free for the owner of the queue */
};

/* Create a queue with room for `capacity` pending events (grows as needed).
 * Returns NULL when out of memory. Free with sim_queue_free. */
sim_queue *sim_queue_new(size_t capacity);
void sim_queue_free(sim_queue *q);

/* Push a copy of *ev. Returns 0 or SIM_ENOMEM; *h (may be NULL) gets the
 * event's handle. */
int sim_queue_push(sim_queue *q, const struct sim_event *ev, sim_handle *h);

/* Pop the first event into *ev. Returns 0, or SIM_ENOENT when empty. */
int sim_queue_pop(sim_queue *q, struct sim_event *ev);

/* Peek at the first event without removing it; NULL when empty. */
const struct sim_event *sim_queue_peek(const sim_queue *q);

/* Cancel a pending event. Returns 0, or SIM_ENOENT when the handle is
 * stale (fired, cancelled, or never issued). */
int sim_queue_cancel(sim_queue *q, sim_handle h);

size_t sim_queue_size(const sim_queue *q);

/* ------------------------------------------------------------------ */
/* Kernel and components                                               */
/* ------------------------------------------------------------------ */

typedef struct sim_kernel sim_kernel;

/* The component interface. Every callback may be NULL. `self` is owned by
 * the component; the kernel calls destroy(self) exactly once from
 * sim_kernel_free, whether or not init ran. Callbacks return 0 or a
 * negative SIM_E* code with err filled; a failing step ends the run. */
struct sim_component_ops {
    const char *type; /* "battery", "profile", ... (static string) */
    /* Called once by sim_kernel_init after every component was added and
     * the bus was resolved; may schedule events and read bus pointers. */
    int (*init)(void *self, sim_kernel *k, struct sim_err *err);
    /* Periodic step at time now (see sim_kernel_add's period). Components
     * that share a time step in bus order: writers before their readers. */
    int (*step)(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err);
    /* A one-shot event this component scheduled with sim_kernel_schedule. */
    int (*event)(void *self, sim_kernel *k, sim_time_us now, uint32_t kind, uint64_t data,
                 struct sim_err *err);
    /* Called once at the end of the run (completed or interrupted) with the
     * time reached; last chance to publish totals or log events. */
    int (*finish)(void *self, sim_kernel *k, sim_time_us now, struct sim_err *err);
    void (*destroy)(void *self);
};

/* A run's fixed settings. */
struct sim_config {
    sim_time_us start;   /* first step time */
    sim_time_us end;     /* run stops before processing events at t >= end */
    uint64_t seed;       /* scenario seed for per-component random streams */
};

/* Create a kernel. Returns NULL when out of memory. */
sim_kernel *sim_kernel_new(const struct sim_config *cfg);

/* Destroy every component (destroy callback) and the kernel. NULL is ok. */
void sim_kernel_free(sim_kernel *k);

/* Add a component named `name` (unique; letters, digits, '_', '-').
 * period > 0: its step runs at start, start+period, ... < end.
 * period == 0: it never steps (event-driven only).
 * The kernel takes ownership of self (destroy is called even on error).
 * Returns 0 or SIM_EEXIST / SIM_EINVAL / SIM_ENOMEM; *id gets its index. */
int sim_kernel_add(sim_kernel *k, const char *name, const struct sim_component_ops *ops,
                   void *self, sim_time_us period, int *id, struct sim_err *err);

int sim_kernel_component_count(const sim_kernel *k);
const char *sim_kernel_component_name(const sim_kernel *k, int id);
const char *sim_kernel_component_type(const sim_kernel *k, int id);
void *sim_kernel_component_self(const sim_kernel *k, int id);
/* Index of the component named `name`, or -1. */
int sim_kernel_find(const sim_kernel *k, const char *name);

const struct sim_config *sim_kernel_config(const sim_kernel *k);

/* Resolve the bus (every read names a published signal), order the
 * components (a cycle is SIM_ECYCLE naming the components in it), call each
 * init, and schedule the periodic steps. */
int sim_kernel_init(sim_kernel *k, struct sim_err *err);

/* Run until `end`, a stop request or a failure. Returns 0 when the end was
 * reached, SIM_EINTR when stopped by sim_kernel_request_stop or *stop_flag,
 * or the failing callback's code. finish callbacks run in every case. */
int sim_kernel_run(sim_kernel *k, struct sim_err *err);

/* Ask a running kernel to stop after the current instant. Safe from a
 * signal handler when done through the flag: the kernel polls *flag
 * (if set with sim_kernel_set_stop_flag) between events. */
void sim_kernel_request_stop(sim_kernel *k);
void sim_kernel_set_stop_flag(sim_kernel *k, volatile int *flag);

/* Current simulated time (the time of the event being processed). */
sim_time_us sim_kernel_now(const sim_kernel *k);

/* Schedule a one-shot event for component `id` at time t (>= now) with the
 * given priority (0 is normal; negative fires earlier). Returns 0 or an
 * error; *h (may be NULL) can cancel it. */
int sim_kernel_schedule(sim_kernel *k, int id, sim_time_us t, int32_t prio, uint32_t kind,
                        uint64_t data, sim_handle *h);
int sim_kernel_cancel(sim_kernel *k, sim_handle h);

/* The component's own GSL random stream (mt19937), seeded from the scenario
 * seed and the component's name only: adding a component never changes
 * another's draws. Owned by the kernel; valid until sim_kernel_free. */
gsl_rng *sim_kernel_rng(sim_kernel *k, int id);

/* Seed derived from (seed, name); exposed for tests and for modules that
 * need a stream outside the kernel. */
uint64_t sim_seed_for(uint64_t seed, const char *name);

/* ------------------------------------------------------------------ */
/* Signal bus: named real-valued signals with units.                    */
/* A component publishes "<component>.<local>" and reads any signal by  */
/* its full name. Reads are resolved at sim_kernel_init.                */
/* ------------------------------------------------------------------ */

enum sim_signal_flags {
    SIM_SIG_RECORD = 1u << 0, /* store samples of this signal */
    SIM_SIG_STATE = 1u << 1,  /* a level (SoC, temperature), not a rate */
};

enum sim_read_mode {
    SIM_READ_NOW = 0,  /* needs this step's value: writer steps first */
    SIM_READ_PREV = 1, /* reads the value left by the previous instant:
                          no ordering edge, so feedback loops are allowed */
};

/* Publish a signal "<component name>.<local>" with a unit ("kW", "kWh",
 * "%", "V", "degC", "1" for dimensionless). Returns 0 or an error; *sig
 * gets the signal index for sim_bus_set/get. Initial value is `initial`. */
int sim_bus_publish(sim_kernel *k, int comp, const char *local, const char *unit,
                    unsigned flags, double initial, int *sig, struct sim_err *err);

/* Declare that component `comp` reads signal `name` (full name). `origin`
 * is copied and used in error messages when the name is unknown, e.g.
 * "demo.json: components[2].loads[0]". *ref gets a reference that
 * sim_bus_ref_signal turns into a signal index after sim_kernel_init. */
int sim_bus_read(sim_kernel *k, int comp, const char *name, enum sim_read_mode mode,
                 const char *origin, int *ref, struct sim_err *err);

/* After init: the signal index behind a read reference. */
int sim_bus_ref_signal(const sim_kernel *k, int ref);

/* Fast access, valid after sim_kernel_init and until sim_kernel_free. */
double sim_bus_get(const sim_kernel *k, int sig);
void sim_bus_set(sim_kernel *k, int sig, double v);
/* Value behind a read reference (after init). */
double sim_bus_get_ref(const sim_kernel *k, int ref);

int sim_bus_count(const sim_kernel *k);
const char *sim_bus_name(const sim_kernel *k, int sig);
const char *sim_bus_unit(const sim_kernel *k, int sig);
unsigned sim_bus_flags(const sim_kernel *k, int sig);
int sim_bus_owner(const sim_kernel *k, int sig);
/* Signal index by full name, or -1. */
int sim_bus_find(const sim_kernel *k, const char *name);

/* The order in which components step within one instant (after init):
 * writes n = count ids into order. */
void sim_kernel_step_order(const sim_kernel *k, int *order);

/* ------------------------------------------------------------------ */
/* Observers: how results leave the kernel (the kernel never writes     */
/* files). All hooks are optional.                                     */
/* ------------------------------------------------------------------ */

enum sim_severity { SIM_INFO = 0, SIM_WARNING = 1, SIM_ALARM = 2 };

struct sim_hooks {
    void *ctx;
    /* After every instant in which at least one component stepped, with the
     * whole bus (values[sig] for sig < n). Return non-zero to fail the run. */
    int (*sample)(void *ctx, sim_time_us t, const double *values, int n);
    /* A component logged an event (sim_log). */
    int (*event)(void *ctx, sim_time_us t, const char *component, const char *kind,
                 enum sim_severity sev, double value, const char *message);
    /* Progress, at most every `progress_every_ms` of wall time. */
    void (*progress)(void *ctx, sim_time_us now, double wall_s, double lag_s);
    int progress_every_ms;
};

void sim_kernel_set_hooks(sim_kernel *k, const struct sim_hooks *hooks);

/* Log an event from component `comp` at the current time: a violation, a
 * SoC limit reached, a market action. `kind` is a short machine-readable
 * word ("soc_min", "overload"). Forwarded to the event hook. */
int sim_log(sim_kernel *k, int comp, const char *kind, enum sim_severity sev, double value,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ------------------------------------------------------------------ */
/* Pacing                                                               */
/* ------------------------------------------------------------------ */

/* speed <= 0: as fast as possible (default). speed > 0: simulated time
 * advances at most `speed` times as fast as the monotonic wall clock
 * (1 = real time). When the run falls behind by more than one second the
 * kernel logs a "lag" warning event (at most once per 10 s of wall time). */
void sim_kernel_set_speed(sim_kernel *k, double speed);

/* Wall time spent in sim_kernel_run so far, seconds. */
double sim_kernel_wall_s(const sim_kernel *k);

/* Statistics of the last run. */
struct sim_stats {
    uint64_t events; /* events popped (steps + one-shots) */
    uint64_t instants;
    double wall_s;
    double max_lag_s;
};
void sim_kernel_stats(const sim_kernel *k, struct sim_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_SIM_H */
