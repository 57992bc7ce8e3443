/*
 * fuzz_ocpp.c: libFuzzer target for OCPP-J messages as both of flexbed's
 * OCPP ends receive them (hil/ocpp_cs.c, hil/ocpp_cp.c): frame parsing
 * (ocpp_frame.c), validation against the OCPP 1.6 schemas (ocpp_schema.c)
 * and the handling of each action (state, meter values, charging profiles).
 *
 * The first byte picks the receiver (even: the central system, as if a
 * charge point sent the rest; odd: a charge point, as if the central
 * system did); the rest is the WebSocket text message. Neither end is
 * connected: both are driven through their receive entry points, so no
 * socket is involved. The state they build up is reset every few thousand
 * inputs to bound memory.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "hil/ocpp_cp.h"
#include "hil/ocpp_cs.h"

static hil_ocpp_cs *cs;
static hil_ocpp_cp_pool *pool;
static hil_ocpp_cp *cp;
static long inputs;

/* The device behind the charge point: a car plugged in, idle. Whatever the
 * central system sends, the limit it is handed must be a number. */
static int dev_sample(void *self, int64_t mono_us, struct hil_ocpp_meter *m, struct sim_err *err)
{
    (void)self, (void)mono_us, (void)err;
    *m = (struct hil_ocpp_meter){.plugged = 1, .soc_pct = 50};
    return 0;
}

static int dev_set_limit(void *self, int64_t mono_us, int has_limit, double limit_w,
                         struct sim_err *err)
{
    (void)self, (void)mono_us, (void)err;
    if (has_limit && !isfinite(limit_w))
        abort();
    return 0;
}

static const struct hil_ocpp_cp_device dev = {.sample = dev_sample, .set_limit = dev_set_limit};

static void setup(void)
{
    struct sim_err err;
    struct hil_ocpp_cs_config c;
    hil_ocpp_cs_config_default(&c);
    c.max_charge_points = 8;
    c.event_capacity = 64;
    struct hil_ocpp_cp_pool_config pc;
    hil_ocpp_cp_pool_config_default(&pc);
    pc.event_capacity = 64;
    struct hil_ocpp_cp_config cc;
    hil_ocpp_cp_config_default(&cc);
    cc.url = "ws://127.0.0.1:9/ocpp/CP-FUZZ"; /* never connected */
    hil_ocpp_lws_quiet();
    if (hil_ocpp_cs_new(&c, &cs, &err) || hil_ocpp_cp_pool_new(&pc, &pool, &err) ||
        hil_ocpp_cp_add(pool, &cc, &dev, &cp, &err) || !cp)
        abort(); /* the harness itself is broken */
}

static void teardown(void)
{
    hil_ocpp_cp_pool_free(pool);
    hil_ocpp_cs_free(cs);
    cs = NULL;
    pool = NULL;
    cp = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    if (!cs)
        setup();
    char *text = fuzz_text(data + 1, size - 1);
    if (!text)
        return 0;
    if (data[0] & 1) {
        hil_ocpp_cp_receive(cp, text, size - 1);
    } else {
        char id[8] = "CP-0";
        id[3] = (char)('0' + (data[0] >> 1) % 4); /* a few charge points */
        hil_ocpp_cs_receive(cs, id, text, size - 1);
    }
    free(text);
    if (++inputs % 4096 == 0)
        teardown();
    return 0;
}
