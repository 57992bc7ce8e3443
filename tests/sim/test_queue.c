/*
 * test_queue.c: the event queue against its contract: time order, ties
 * broken by priority then insertion order, cancellation through handles
 * (including stale ones), growth, and a million random operations checked
 * against a plain linear-scan reference.
 */
#include <stdlib.h>

#include "check.h"
#include "sim/sim.h"

static void test_order_and_ties(void)
{
    sim_queue *q = sim_queue_new(4);
    CHECK(q != NULL, "sim_queue_new");
    /* Pushed out of order, with ties in time and in priority. */
    struct sim_event in[] = {
        {30, 0, 1, NULL, 0}, {10, 0, 2, NULL, 0}, {10, -1, 3, NULL, 0},
        {20, 0, 4, NULL, 0}, {10, 0, 5, NULL, 0}, {10, 5, 6, NULL, 0},
        {-5, 0, 7, NULL, 0}, {10, 0, 8, NULL, 0},
    };
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++)
        CHECK_INT(sim_queue_push(q, &in[i], NULL), 0);
    CHECK_INT(sim_queue_size(q), n);
    CHECK_INT(sim_queue_peek(q)->kind, 7);
    /* Expected: t=-5; t=10 prio -1; t=10 prio 0 in insertion order 2,5,8;
     * t=10 prio 5; t=20; t=30. */
    unsigned want[] = {7, 3, 2, 5, 8, 6, 4, 1};
    for (int i = 0; i < n; i++) {
        struct sim_event ev;
        CHECK_INT(sim_queue_pop(q, &ev), 0);
        CHECK_INT(ev.kind, want[i]);
    }
    struct sim_event ev;
    CHECK_INT(sim_queue_pop(q, &ev), SIM_ENOENT);
    CHECK(sim_queue_peek(q) == NULL, "peek on empty queue");
    sim_queue_free(q);
}

static void test_cancel(void)
{
    sim_queue *q = sim_queue_new(0);
    sim_handle h[100];
    for (int i = 0; i < 100; i++) {
        struct sim_event ev = {(sim_time_us)(i * 7 % 100), 0, (uint32_t)i, NULL, (uint64_t)i};
        CHECK_INT(sim_queue_push(q, &ev, &h[i]), 0);
        CHECK(h[i] != 0, "zero handle issued");
    }
    /* Cancel every third event, then one twice. */
    for (int i = 0; i < 100; i += 3)
        CHECK_INT(sim_queue_cancel(q, h[i]), 0);
    CHECK_INT(sim_queue_cancel(q, h[0]), SIM_ENOENT);
    CHECK_INT(sim_queue_cancel(q, 0), SIM_ENOENT);
    CHECK_INT(sim_queue_cancel(q, (sim_handle)1 << 40 | 5000), SIM_ENOENT);
    CHECK_INT(sim_queue_size(q), 100 - 34);
    sim_time_us last = -1;
    int popped = 0;
    struct sim_event ev;
    while (sim_queue_pop(q, &ev) == 0) {
        CHECK(ev.data % 3 != 0, "cancelled event %llu popped", (unsigned long long)ev.data);
        CHECK(ev.t >= last, "out of order");
        last = ev.t;
        popped++;
    }
    CHECK_INT(popped, 66);
    /* A fired event's handle is stale, even after its node is reused. */
    struct sim_event e1 = {1, 0, 0, NULL, 0};
    sim_handle a, b;
    sim_queue_push(q, &e1, &a);
    sim_queue_pop(q, &ev);
    sim_queue_push(q, &e1, &b);
    CHECK(a != b, "reused node kept the same handle");
    CHECK_INT(sim_queue_cancel(q, a), SIM_ENOENT);
    CHECK_INT(sim_queue_size(q), 1);
    CHECK_INT(sim_queue_cancel(q, b), 0);
    CHECK_INT(sim_queue_size(q), 0);
    sim_queue_free(q);
}

/* The reference: an unsorted array, popped by linear scan. */
struct ref {
    sim_time_us t;
    int32_t prio;
    uint64_t seq;
    uint64_t id;
    sim_handle h;
};

static uint64_t rng_state = 88172645463325252ull;
static uint64_t xorshift(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int ref_min(const struct ref *r, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        const struct ref *a = &r[i], *b = &r[best];
        if (a->t < b->t || (a->t == b->t && (a->prio < b->prio ||
                                             (a->prio == b->prio && a->seq < b->seq))))
            best = i;
    }
    return best;
}

static void test_random_against_reference(void)
{
    enum { OPS = 1000000, MAXN = 400 };
    sim_queue *q = sim_queue_new(8);
    struct ref *r = malloc(MAXN * sizeof *r);
    int n = 0, mismatches = 0;
    uint64_t seq = 0;
    sim_time_us now = 0;
    for (long op = 0; op < OPS && mismatches < 5; op++) {
        unsigned dice = (unsigned)(xorshift() % 100);
        if ((dice < 50 && n < MAXN) || n == 0) {
            /* Few distinct times and priorities, so ties are common. */
            struct sim_event ev = {now + (sim_time_us)(xorshift() % 20),
                                   (int32_t)(xorshift() % 3) - 1, 0, NULL, seq};
            sim_handle h;
            if (sim_queue_push(q, &ev, &h)) {
                mismatches++;
                break;
            }
            r[n++] = (struct ref){ev.t, ev.prio, seq, seq, h};
            seq++;
        } else if (dice < 85) {
            struct sim_event ev;
            int m = ref_min(r, n);
            if (sim_queue_pop(q, &ev) || ev.data != r[m].id) {
                mismatches++;
                fprintf(stderr, "pop %ld: got id %llu, expected %llu\n", op,
                        (unsigned long long)ev.data, (unsigned long long)r[m].id);
            }
            now = r[m].t;
            r[m] = r[--n];
        } else {
            int m = (int)(xorshift() % (uint64_t)n);
            if (sim_queue_cancel(q, r[m].h)) {
                mismatches++;
                fprintf(stderr, "cancel %ld failed\n", op);
            }
            /* A second cancel of the same handle must be refused. */
            if (sim_queue_cancel(q, r[m].h) != SIM_ENOENT)
                mismatches++;
            r[m] = r[--n];
        }
        if (sim_queue_size(q) != (size_t)n)
            mismatches++;
    }
    CHECK_INT(mismatches, 0);
    /* Drain: the rest comes out in reference order. */
    while (n > 0) {
        struct sim_event ev;
        int m = ref_min(r, n);
        CHECK_INT(sim_queue_pop(q, &ev), 0);
        if (ev.data != r[m].id) {
            CHECK(0, "drain order differs");
            break;
        }
        r[m] = r[--n];
    }
    CHECK_INT(sim_queue_size(q), 0);
    free(r);
    sim_queue_free(q);
}

int main(void)
{
    test_order_and_ties();
    test_cancel();
    test_random_against_reference();
    return check_done("test_queue");
}
