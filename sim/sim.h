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

/* Local wall-clock time: the UTC offsets of a time zone, tabulated once at
 * set-up (the C library's tz database, or one fixed offset) so that a
 * lookup during a run is a binary search with no allocation and no global
 * state. Offsets are seconds east of UTC; off_s[i] holds from at[i] on
 * (at[0] = INT64_MIN). */
struct sim_tz {
    int n, cap;
    sim_time_us *at;
    int *off_s;
    char name[64]; /* IANA name, "" for a fixed offset */
};
/* One fixed offset, no daylight saving. */
int sim_tz_fixed(struct sim_tz *tz, int offset_s, struct sim_err *err);
/* The IANA zone `name` ("Europe/Istanbul") from /usr/share/zoneinfo,
 * its offsets over [from, to] (a day's margin each side); SIM_EINVAL
 * naming the zone when there is no such zone. */
int sim_tz_load(struct sim_tz *tz, const char *name, sim_time_us from, sim_time_us to,
                struct sim_err *err);
int sim_tz_copy(struct sim_tz *dst, const struct sim_tz *src, struct sim_err *err);
void sim_tz_clear(struct sim_tz *tz);
/* The offset in force at t. */
int sim_tz_offset(const struct sim_tz *tz, sim_time_us t);
/* The local calendar year of t. */
long long sim_tz_year(const struct sim_tz *tz, sim_time_us t);
/* The local wall-clock time of t as minutes since its local midnight and
 * since 1 January 00:00 of `year` (local). Across a daylight-saving change
 * the wall clock jumps: a 23-hour day skips an hour, a 25-hour day
 * repeats one. */
void sim_tz_minutes(const struct sim_tz *tz, sim_time_us t, long long year, double *min_of_day,
                    double *min_of_year);

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

/* Direction of a journal entry (see "Journal and replay" below). */
enum sim_journal_dir {
    SIM_JOURNAL_IN = 0,  /* a value that came from a device */
    SIM_JOURNAL_OUT = 1, /* a command sent to a device */
};

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
    /* A component journaled a device value or command (sim_journal) at
     * simulated time t. text may be NULL. Return non-zero to fail. */
    int (*journal)(void *ctx, sim_time_us t, const char *component, enum sim_journal_dir dir,
                   const char *channel, double value, const char *text);
};

void sim_kernel_set_hooks(sim_kernel *k, const struct sim_hooks *hooks);

/* Log an event from component `comp` at the current time: a violation, a
 * SoC limit reached, a market action. `kind` is a short machine-readable
 * word ("soc_min", "overload"). Forwarded to the event hook. */
int sim_log(sim_kernel *k, int comp, const char *kind, enum sim_severity sev, double value,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ------------------------------------------------------------------ */
/* Journal and replay (sim/journal.c; docs/hil.md).                    */
/*                                                                      */
/* A component that talks to a device journals every value it got from */
/* the device (IN) and every command it sent (OUT) on named channels of */
/* its choice ("soc", "p_kw", "setpoint_kw"); the kernel stamps them    */
/* with the simulated time and hands them to the journal hook, and a    */
/* run stores them. A replay gives the kernel a replay source holding   */
/* a recorded journal: the component then contacts no device and       */
/* publishes, at each of its steps, what the journal says the device    */
/* gave by then.                                                        */
/* ------------------------------------------------------------------ */

/* Journal one entry of component comp at the current simulated time.
 * text may be NULL. Returns 0, or SIM_EIO when the journal hook failed
 * (a run error: the record would be incomplete). Never allocates. */
int sim_journal(sim_kernel *k, int comp, enum sim_journal_dir dir, const char *channel,
                double value, const char *text);

/* A replay source: a recorded journal, searchable by channel. A channel is
 * the entries of one (component, direction, channel name) in time order;
 * each handle keeps a cursor, so a component that asks with non-decreasing
 * times costs O(1) per lookup. sim_recording (below) is the in-memory
 * implementation. */
struct sim_replay_ops {
    void *ctx;
    /* Handle (>= 0) of a channel, or SIM_ENOENT when it has no entry. May
     * search; call it at init. */
    int (*find)(void *ctx, const char *component, enum sim_journal_dir dir, const char *channel);
    /* The last entry at or before t: 0 with *value (and *text, may be
     * NULL, borrowed until the source is freed), or SIM_ENOENT when none.
     * Moves the cursor past every entry at or before t. */
    int (*at)(void *ctx, int h, sim_time_us t, double *value, const char **text);
    /* The next entry not yet passed, if it lies at or before t: 0 with *te,
     * *value and *text, and the cursor moves past it; SIM_ENOENT when none.
     * For event-like channels where every entry counts. */
    int (*next)(void *ctx, int h, sim_time_us t, sim_time_us *te, double *value, const char **text);
    /* Number of entries of a component (both directions). */
    long (*count)(void *ctx, const char *component);
};

/* Replay from ops (copied; ops->ctx must outlive the run), or stop
 * replaying with NULL. Set it after the scenario is loaded and before
 * sim_kernel_init, so that components see it in their init. */
void sim_kernel_set_replay(sim_kernel *k, const struct sim_replay_ops *ops);
/* Non-zero when the kernel replays a journal: device components must not
 * contact their devices. */
int sim_kernel_replaying(const sim_kernel *k);
/* The replay source, NULL when not replaying. */
const struct sim_replay_ops *sim_kernel_replay_ops(const sim_kernel *k);

/* Component-side helpers over the kernel's replay source. */
/* *h gets the handle of comp's channel; SIM_ENOENT (and *h = -1) when the
 * journal has no such entry, SIM_ESTATE when not replaying. */
int sim_replay_find(sim_kernel *k, int comp, enum sim_journal_dir dir, const char *channel, int *h);
/* ops->at and ops->next through the kernel; a handle < 0 is SIM_ENOENT.
 * Never allocate. */
int sim_replay_at(sim_kernel *k, int h, sim_time_us t, double *value, const char **text);
int sim_replay_next(sim_kernel *k, int h, sim_time_us t, sim_time_us *te, double *value,
                    const char **text);
/* Entries journaled by comp in the recording (0 when not replaying). */
long sim_replay_count(sim_kernel *k, int comp);

/* An in-memory journal, e.g. loaded from a result database
 * (res_journal_load) before a replay. Loading allocates; lookups do not. */
typedef struct sim_recording sim_recording;

sim_recording *sim_recording_new(void);
void sim_recording_free(sim_recording *r);
/* Append one entry (strings are copied). Entries of one channel should
 * come in time order; equal times keep their order. Returns 0 or
 * SIM_ENOMEM / SIM_EINVAL (empty component or channel). */
int sim_recording_add(sim_recording *r, sim_time_us t, const char *component,
                      enum sim_journal_dir dir, const char *channel, double value,
                      const char *text);
size_t sim_recording_size(const sim_recording *r);
/* Index r and fill *ops with a replay source reading it (r must outlive
 * its use; every cursor starts at the beginning). Returns 0 or SIM_EINVAL. */
int sim_recording_replay(sim_recording *r, struct sim_replay_ops *ops);
/* Move every cursor back to the start (to replay r again). */
void sim_recording_rewind(sim_recording *r);

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
