/*
 * storage.h: the continuous core that the stationary battery and the V2G EV
 * share, without the kernel.
 *
 * A store of energy behind a power converter: grid-side power p (kW,
 * positive when charging from the grid), stored energy E (kWh), charge and
 * discharge efficiencies, a standby loss, a ramp-rate limit and a command
 * latency. Commands are grid-side power requests that take effect `latency`
 * after they were given; the actual power then moves toward the (limited)
 * command at the ramp rate, so between two breakpoints it is linear in time.
 * CVODE (Adams, fixed-point iteration: the right-hand side does not depend
 * on the state) integrates E, the cumulative losses and the grid-side
 * energies with p as an input that is a function of time inside each
 * segment, so the delivered energy of a ramp is exact, not a step average.
 * Two CVODE root functions find the instants where E reaches the SoC floor
 * or ceiling; there power is clamped and an event is reported.
 *
 * Everything the solver needs, including the command ring buffer, is
 * allocated by mdl_sto_new; commands and advances never allocate.
 *
 * Time is sim_time_us at the interface (microseconds since the epoch) and
 * seconds since the model's origin inside. The books: e_in - e_out (grid
 * side) = (e - e_initial) - e_external + loss, where e_external is energy
 * that entered or left other than through the grid (an EV arriving with a
 * different SoC than it left with). See docs/models.md.
 */
#ifndef FLEXBED_MODELS_STORAGE_H
#define FLEXBED_MODELS_STORAGE_H

#include <stddef.h>

#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameters. Plain data; powers are magnitudes >= 0. */
struct mdl_sto_params {
    double capacity_kwh;       /* usable energy at SoC 1 */
    double p_charge_max_kw;    /* grid-side charge limit */
    double p_discharge_max_kw; /* grid-side discharge limit (magnitude) */
    double soc_min, soc_max;   /* fractions of capacity; discharge stops at
                                  soc_min, charge at soc_max */
    double eta_charge;         /* stored / grid energy while charging, (0, 1] */
    double eta_discharge;      /* grid / taken-from-store while discharging */
    double standby_loss_kw;    /* drawn from the store at all times; at the
                                  SoC floor it is drawn from the grid */
    double ramp_kw_per_s;      /* 0: power follows the command instantly */
    sim_time_us latency_us;    /* command to effect */
};

/* NULL when every parameter is usable, else the scenario key of the first
 * bad one ("capacity_kwh", "soc_max", ...). */
const char *mdl_sto_params_invalid(const struct mdl_sto_params *p);

/* Events found while advancing. */
enum mdl_sto_event_kind {
    MDL_STO_SOC_MIN = 1, /* E fell to the floor: discharge clamped */
    MDL_STO_SOC_MAX = 2, /* E rose to the ceiling: charge clamped */
};

struct mdl_sto_event {
    sim_time_us t;      /* the root's time, rounded to the microsecond */
    double t_s;         /* the same in seconds since the model's origin, unrounded */
    int kind;           /* enum mdl_sto_event_kind */
    double soc;         /* SoC at the root */
    double ceiling_soc; /* for MDL_STO_SOC_MAX: the ceiling that applied */
};

/* A snapshot of the model at its current time. */
struct mdl_sto_state {
    sim_time_us t;
    double p_kw;           /* actual grid-side power just after t (right limit) */
    double command_kw;     /* effective command at t (delayed, limited), before
                              ramp and SoC clamps */
    double soc;            /* e_kwh / capacity_kwh */
    double e_kwh;          /* stored energy */
    double loss_kwh;       /* cumulative conversion and standby losses */
    double e_in_kwh;       /* cumulative grid-side energy charged */
    double e_out_kwh;      /* cumulative grid-side energy discharged (>= 0) */
    double e_external_kwh; /* cumulative energy set from outside (EV trips) */
    int online;            /* 0: disconnected, power forced to 0 */
    int at_floor;          /* discharge blocked (SoC at or below soc_min) */
    int at_ceiling;        /* charge blocked (SoC at or above the ceiling) */
};

typedef struct mdl_sto mdl_sto;

/* Create a model at time t0 with stored energy soc0 * capacity, online,
 * with a zero command. queue_len is the number of commands that may be
 * pending (given but not yet in effect) at once: latency / command period
 * + 2 is enough when commands come at most once per period. Returns 0,
 * SIM_EINVAL (bad parameter, named in err), SIM_ENOMEM or SIM_EFAIL
 * (CVODE set-up). Free with mdl_sto_free. */
int mdl_sto_new(const struct mdl_sto_params *p, double soc0, sim_time_us t0, size_t queue_len,
                mdl_sto **out, struct sim_err *err);
void mdl_sto_free(mdl_sto *s);

/* Give a command at the model's current time: grid-side power p_kw
 * (negative = discharge), and the SoC ceiling that applies with it
 * (clamped to soc_max; the EV's charge policy uses its departure target).
 * It takes effect latency_us later. A command equal to the previous one is
 * dropped. Returns 0, SIM_EINVAL (non-finite) or SIM_ERANGE (queue full). */
int mdl_sto_command(mdl_sto *s, double p_kw, double ceiling_soc, struct sim_err *err);

/* Integrate from the current time to t (>= current time). Events found on
 * the way are written to ev[0 .. max_ev-1] in time order; *nev (may be
 * NULL) gets how many occurred (may exceed max_ev: the rest are lost).
 * Returns 0, SIM_EINVAL (t in the past) or SIM_EFAIL (CVODE failed). */
int mdl_sto_advance(mdl_sto *s, sim_time_us t, struct mdl_sto_event *ev, int max_ev, int *nev,
                    struct sim_err *err);

/* Connect (online = 1) or disconnect. Disconnecting forces power to 0 at
 * once; connecting clears every command (a new charging session starts
 * from a zero command) and lets power ramp from 0. */
void mdl_sto_set_online(mdl_sto *s, int online);

/* Replace the stored energy (an EV arriving after a trip); the difference
 * is booked as external energy. */
void mdl_sto_set_soc(mdl_sto *s, double soc);

/* Change the discharge floor (fraction), e.g. a V2G contract's minimum. */
void mdl_sto_set_soc_min(mdl_sto *s, double soc_min);

void mdl_sto_state(const mdl_sto *s, struct mdl_sto_state *st);
const struct mdl_sto_params *mdl_sto_params_of(const mdl_sto *s);

/* CVODE statistics for tests: internal steps and right-hand-side calls. */
void mdl_sto_stats(const mdl_sto *s, long *steps, long *rhs_evals);

/* ------------------------------------------------------------------ */
/* Component glue shared by battery.c and ev.c (kernel side).          */
/*                                                                     */
/* The components integrate one step ahead: at step t they take the    */
/* command read at t and advance to t + step, which is causal because  */
/* commands only change at steps and take effect no earlier than they  */
/* were given. Limit roots found on the way lie in the kernel's future, */
/* so they are queued here and logged by a one-shot kernel event at    */
/* their own time.                                                     */
/* ------------------------------------------------------------------ */

#define MDL_LOG_MAX 32
#define MDL_LOG_EVENT 0x4d4c4f47u /* event kind used for deferred logs */

struct mdl_log_item {
    sim_time_us t;
    const char *kind; /* static string */
    enum sim_severity sev;
    double value;
    char msg[224];
};

/* FIFO of logs waiting for their time; plain data, zero-initialise. */
struct mdl_log_fifo {
    struct mdl_log_item item[MDL_LOG_MAX];
    int head, n;
};

/* Queue a log for time t (>= the kernel's now) and schedule the kernel
 * event (kind MDL_LOG_EVENT) that will emit it. When the FIFO is full the
 * log is emitted at once (its message still names its time). Returns 0 or
 * an error with the component named. */
int mdl_log_defer(struct mdl_log_fifo *f, sim_kernel *k, int id, sim_time_us t, const char *kind,
                  enum sim_severity sev, double value, struct sim_err *err, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/* Emit the oldest queued log (call from the component's event callback on
 * MDL_LOG_EVENT). */
int mdl_log_fire(struct mdl_log_fifo *f, sim_kernel *k, int id, struct sim_err *err);

/* Emit every queued log now (from finish: events at or after the run's end
 * never fire). */
int mdl_log_flush(struct mdl_log_fifo *f, sim_kernel *k, int id, struct sim_err *err);

/* "16:38:12.345" in local time offset_s, for messages. Returns buf. */
char *mdl_clock_format(sim_time_us t, int offset_s, char *buf, size_t n);

/* Scenario keys both components share: capacity_kwh (required),
 * p_charge_max_kw (required), p_discharge_max_kw (default 0),
 * ramp_kw_per_s (default 0), latency (duration, default "0s") and
 * setpoint (a full signal name, NULL when absent). Other fields of p are
 * left alone. */
struct scn_obj;
int mdl_sto_read_common(struct scn_obj *cfg, struct mdl_sto_params *p, const char **setpoint,
                        struct sim_err *err);

/* The signals every storage component publishes, in this order:
 * p_kw, p_avg_kw, setpoint_kw, soc, e_kwh, loss_kwh, e_in_kwh, e_out_kwh,
 * available_discharge_kw. avg_t / avg_net_kwh remember the last sample
 * for p_avg_kw (set avg_t to the run's start at init). */
struct mdl_sto_sigs {
    int p, avg, sp, soc, e, loss, in, out, avail;
    sim_time_us avg_t;
    double avg_net_kwh;
};

/* Publish them for component `comp` with the initial SoC, stored energy
 * and available discharge power. */
int mdl_sto_sigs_publish(sim_kernel *k, int comp, double soc0, double e0, double avail0,
                         struct mdl_sto_sigs *s, struct sim_err *err);

/* Set them from a state (setpoint_kw excepted: it is what was read);
 * p_avg_kw is the mean grid power since the previous call. */
void mdl_sto_sigs_set(sim_kernel *k, struct mdl_sto_sigs *s, const struct mdl_sto_state *st,
                      double avail_kw);

/* Prefix err's message with the component's name; returns rc. */
int mdl_named(sim_kernel *k, int id, int rc, struct sim_err *err);

/* Ring size for commands given every `period` with latency `latency`,
 * plus `extra` commands given between steps. */
size_t mdl_sto_queue_len(sim_time_us latency, sim_time_us period, size_t extra);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_MODELS_STORAGE_H */
