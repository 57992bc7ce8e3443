/*
 * queue.c: the kernel's event queue, a 4-ary min-heap of pooled nodes.
 *
 * Ordering is by (time, priority, insertion sequence), so two events with
 * the same time and priority pop in the order they were pushed; a run is
 * reproducible whatever the heap's internal layout.
 *
 * The heap array holds the sort key next to the node index, so sifting
 * compares contiguous memory and only touches a node to update its heap
 * position (needed for O(log n) cancel). Nodes live in a pool with a free
 * list: once the pool has grown to the peak number of pending events,
 * push and pop never allocate. A handle is the node index plus a generation
 * count bumped every time the node is released, so a stale handle (event
 * already fired or cancelled) is recognised instead of cancelling a
 * stranger.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define ARITY 4
#define NO_POS UINT32_MAX
/* The heap starts at this index so that each group of 4 siblings (16-byte
 * entries) fills exactly one 64-byte cache line. */
#define OFF 3

/* 16 bytes: the insertion sequence, needed only to break exact ties, lives
 * beside the node instead. */
struct entry {
    sim_time_us t;
    int32_t prio;
    uint32_t node;
};

/* Nodes are kept as parallel arrays: sifting writes only pos[], a small
 * array that stays in cache, and the payload is touched at push and pop. */
struct sim_queue {
    struct entry *mem;   /* allocation behind heap */
    struct entry *heap;  /* heap[0] is the first event */
    uint32_t *pos;       /* node -> heap index, NO_POS when free */
    uint32_t *gen;       /* node -> generation, part of the handle */
    uint32_t *next;      /* free-list links */
    uint64_t *seq;       /* node -> insertion sequence */
    struct sim_event *ev; /* node -> payload */
    size_t n;            /* pending events */
    size_t cap;          /* capacity of heap and node arrays */
    uint32_t free;       /* head of the free list, NO_POS when empty */
    uint32_t used;       /* nodes ever handed out (high-water mark) */
    uint64_t nseq;
};

static inline int before(const sim_queue *q, const struct entry *a, const struct entry *b)
{
    if (a->t != b->t)
        return a->t < b->t;
    if (a->prio != b->prio)
        return a->prio < b->prio;
    return q->seq[a->node] < q->seq[b->node];
}

static int resize(sim_queue *q, size_t cap)
{
    if (cap > (size_t)UINT32_MAX - 1)
        return SIM_ENOMEM;
    /* 64-byte aligned so that sibling groups share a cache line. */
    struct entry *mem = aligned_alloc(64, ((cap + OFF) * sizeof *mem + 63) / 64 * 64);
    if (!mem)
        return SIM_ENOMEM;
    if (q->mem)
        memcpy(mem + OFF, q->heap, q->n * sizeof *mem);
    free(q->mem);
    q->mem = mem;
    q->heap = mem + OFF;
#define GROW(field)                                                   \
    do {                                                              \
        void *p_ = realloc(q->field, cap * sizeof *q->field);         \
        if (!p_)                                                      \
            return SIM_ENOMEM;                                        \
        q->field = p_;                                                \
    } while (0)
    GROW(pos);
    GROW(gen);
    GROW(next);
    GROW(seq);
    GROW(ev);
#undef GROW
    q->cap = cap;
    return SIM_OK;
}

sim_queue *sim_queue_new(size_t capacity)
{
    sim_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->free = NO_POS;
    if (resize(q, capacity < 64 ? 64 : capacity)) {
        sim_queue_free(q);
        return NULL;
    }
    return q;
}

void sim_queue_free(sim_queue *q)
{
    if (!q)
        return;
    free(q->mem);
    free(q->pos);
    free(q->gen);
    free(q->next);
    free(q->seq);
    free(q->ev);
    free(q);
}

size_t sim_queue_size(const sim_queue *q)
{
    return q->n;
}

/* Move the entry e up from hole position i. */
static void sift_up(sim_queue *q, size_t i, struct entry e)
{
    struct entry *h = q->heap;
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!before(q, &e, &h[parent]))
            break;
        h[i] = h[parent];
        q->pos[h[i].node] = (uint32_t)i;
        i = parent;
    }
    h[i] = e;
    q->pos[e.node] = (uint32_t)i;
}

static void sift_down(sim_queue *q, size_t i, struct entry e)
{
    struct entry *h = q->heap;
    size_t n = q->n;
    for (;;) {
        size_t first = i * ARITY + 1;
        if (first >= n)
            break;
        size_t best = first;
        size_t last = first + ARITY < n ? first + ARITY : n;
        for (size_t c = first + 1; c < last; c++)
            if (before(q, &h[c], &h[best]))
                best = c;
        if (!before(q, &h[best], &e))
            break;
        h[i] = h[best];
        q->pos[h[i].node] = (uint32_t)i;
        i = best;
    }
    h[i] = e;
    q->pos[e.node] = (uint32_t)i;
}

int sim_queue_push(sim_queue *q, const struct sim_event *ev, sim_handle *hd)
{
    uint32_t id;
    if (q->free != NO_POS) {
        id = q->free;
        q->free = q->next[id];
    } else {
        if (q->used == q->cap && resize(q, q->cap * 2))
            return SIM_ENOMEM;
        id = q->used++;
        q->gen[id] = 1;
    }
    q->ev[id] = *ev;
    q->seq[id] = q->nseq++;
    struct entry e = {ev->t, ev->prio, id};
    q->n++;
    sift_up(q, q->n - 1, e);
    if (hd)
        *hd = ((uint64_t)q->gen[id] << 32) | (uint64_t)(id + 1);
    return SIM_OK;
}

static void release(sim_queue *q, uint32_t id)
{
    q->pos[id] = NO_POS;
    if (++q->gen[id] == 0) /* keep 0 out of handles after 2^32 reuses */
        q->gen[id] = 1;
    q->next[id] = q->free;
    q->free = id;
}

/* Remove the entry at heap position i. */
static void remove_at(sim_queue *q, size_t i)
{
    q->n--;
    if (i == q->n)
        return;
    struct entry last = q->heap[q->n];
    if (i > 0 && before(q, &last, &q->heap[(i - 1) / ARITY]))
        sift_up(q, i, last);
    else
        sift_down(q, i, last);
}

int sim_queue_pop(sim_queue *q, struct sim_event *ev)
{
    if (q->n == 0)
        return SIM_ENOENT;
    uint32_t id = q->heap[0].node;
    *ev = q->ev[id];
    remove_at(q, 0);
    release(q, id);
    return SIM_OK;
}

const struct sim_event *sim_queue_peek(const sim_queue *q)
{
    if (q->n == 0)
        return NULL;
    return &q->ev[q->heap[0].node];
}

int sim_queue_cancel(sim_queue *q, sim_handle h)
{
    uint64_t low = h & 0xffffffffu;
    if (low == 0 || low > q->used)
        return SIM_ENOENT;
    uint32_t id = (uint32_t)(low - 1);
    if (q->pos[id] == NO_POS || q->gen[id] != (uint32_t)(h >> 32))
        return SIM_ENOENT;
    remove_at(q, q->pos[id]);
    release(q, id);
    return SIM_OK;
}
