/*
 * ev.h: the V2G electric vehicle on a bidirectional charger, without the
 * kernel.
 *
 * The EV is the storage core of storage.h (the car's battery behind the
 * charger's converter) plus what makes it an EV: it is only there between
 * arrival and departure (a disconnected EV has zero power whatever it is
 * told), it arrives with a SoC of its own, it should leave at a target
 * SoC, it may discharge only down to soc_min_discharge (the V2G floor), and
 * its charger accepts limits only in whole amperes per phase or in whole
 * watts, as OCPP 1.6 charging profiles do. A charging policy decides what
 * the charger is asked for; arrival and departure times and the arrival SoC
 * may be drawn from GSL distributions.
 *
 * Used by the "ev" scenario component (models/ev.c), by tests and by the
 * OCPP charger emulator of hil/. See docs/models.md ("V2G EV").
 */
#ifndef FLEXBED_MODELS_EV_H
#define FLEXBED_MODELS_EV_H

#include <gsl/gsl_rng.h>

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mdl_ev_granularity {
    MDL_EV_WATTS = 0, /* limits in whole watts */
    MDL_EV_AMPS = 1,  /* limits in whole amperes per phase */
};

enum mdl_ev_policy {
    MDL_EV_AUTO = 0,     /* follow a non-zero setpoint, else charge to target */
    MDL_EV_SETPOINT = 1, /* follow the setpoint, 0 when there is none */
    MDL_EV_CHARGE = 2,   /* charge at the maximum until the target SoC */
};

/* Parameters. Plain data. In sto: soc_min is the V2G floor
 * (soc_min_discharge), eta_charge = eta_discharge = the charger's
 * efficiency, standby_loss_kw = 0. */
struct mdl_ev_params {
    struct mdl_sto_params sto;
    double soc_target;    /* wanted at departure; the charge policy stops there */
    int phases;           /* 1 or 3 */
    double voltage_v;     /* phase-to-neutral voltage */
    int granularity;      /* enum mdl_ev_granularity */
    double min_current_a; /* smaller limits become 0 (IEC 61851: 6 A); 0: none */
    int policy;           /* enum mdl_ev_policy */
};

/* Defaults: a 3-phase 230 V charger, watt granularity, 6 A minimum
 * current, efficiency 0.92, SoC window [0, 1], target 0.8, policy auto.
 * capacity_kwh and the power limits are zero: a caller must set them. */
void mdl_ev_params_default(struct mdl_ev_params *p);

/* NULL when usable, else the scenario key of the first bad parameter. */
const char *mdl_ev_params_invalid(const struct mdl_ev_params *p);

/* What the charger can actually be set to for a request p_kw: clamped to
 * the power limits, then rounded toward zero to a whole number of amperes
 * per phase (n * phases * voltage_v W) or of watts; a magnitude under
 * min_current_a * phases * voltage_v becomes 0. Example: 10 kW, 3 phases,
 * 230 V, amperes: 14 A, 9.66 kW. */
double mdl_ev_quantize_kw(const struct mdl_ev_params *p, double p_kw);

/* The policy: the power to ask for (before quantisation) and the SoC at
 * which charging stops (the target when charging on the EV's own account,
 * soc_max when following a setpoint). */
void mdl_ev_resolve(const struct mdl_ev_params *p, int has_setpoint, double setpoint_kw,
                    double *p_kw, double *ceiling_soc);

typedef struct mdl_ev mdl_ev;

/* Create a disconnected EV at time t0 (SoC 0 until it arrives). queue_len
 * as for mdl_sto_new. Returns 0, SIM_EINVAL, SIM_ENOMEM or SIM_EFAIL. */
int mdl_ev_new(const struct mdl_ev_params *p, sim_time_us t0, size_t queue_len, mdl_ev **out,
               struct sim_err *err);
void mdl_ev_free(mdl_ev *ev);

/* The car plugs in at the model's current time with SoC soc. The charger
 * starts from a zero command: the next mdl_ev_command takes effect after
 * the latency. */
void mdl_ev_arrive(mdl_ev *ev, double soc);

/* The car leaves at the model's current time: power 0 at once. */
void mdl_ev_depart(mdl_ev *ev);

/* Ask the charger for the policy's answer to the setpoint (has_setpoint: a
 * setpoint signal exists), quantised. Ignored while disconnected. Returns
 * 0 or an error of mdl_sto_command. */
int mdl_ev_command(mdl_ev *ev, int has_setpoint, double setpoint_kw, struct sim_err *err);

/* mdl_sto_advance on the car's battery. */
int mdl_ev_advance(mdl_ev *ev, sim_time_us t, struct mdl_sto_event *evs, int max_ev, int *nev,
                   struct sim_err *err);

/* State; st->online is "connected". */
void mdl_ev_state(const mdl_ev *ev, struct mdl_sto_state *st);

/* What the EV could offer for discharge now (kW, >= 0): the quantised
 * discharge limit while connected and above the V2G floor, else 0. */
double mdl_ev_available_discharge_kw(const mdl_ev *ev);

const struct mdl_ev_params *mdl_ev_params_of(const mdl_ev *ev);

/* ------------------------------------------------------------------ */
/* Charging sessions drawn from distributions                          */
/* ------------------------------------------------------------------ */

enum mdl_dist_kind { MDL_DIST_FIXED = 0, MDL_DIST_NORMAL = 1, MDL_DIST_UNIFORM = 2 };

/* A time: fixed at t; normal with mean t and standard deviation spread;
 * uniform on [t, t + spread]. Draws are rounded to whole seconds. */
struct mdl_time_dist {
    int kind;
    sim_time_us t, spread;
};

/* A number: fixed a; normal mean a, sd b; uniform [a, b]; draws are
 * clamped to [lo, hi]. */
struct mdl_num_dist {
    int kind;
    double a, b, lo, hi;
};

sim_time_us mdl_time_draw(const struct mdl_time_dist *d, gsl_rng *r);
double mdl_num_draw(const struct mdl_num_dist *d, gsl_rng *r);

/* Session k of a series repeating every `repeat` (0: a single session):
 * arrival, departure and SoC drawn in that order (fixed parts draw
 * nothing), times shifted by k * repeat. Same stream state, same session. */
struct mdl_ev_sessions {
    struct mdl_time_dist arrival, departure;
    struct mdl_num_dist soc;
    sim_time_us repeat;
};

struct mdl_ev_session {
    sim_time_us arrival, departure;
    double soc;
};

void mdl_ev_session_draw(const struct mdl_ev_sessions *s, int k, gsl_rng *r,
                         struct mdl_ev_session *out);

#ifdef __cplusplus
}
#endif
#endif /* FLEXBED_MODELS_EV_H */
