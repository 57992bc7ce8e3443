/*
 * journal.c: replaying recorded device journals.
 *
 * A run that talks to devices journals what each device said and what it
 * was told (sim_journal, kernel.c: the entries go to the journal hook and
 * from there to the result store). To replay the run, the journal is read
 * back into a sim_recording, which serves as the kernel's replay source:
 * device components ask it, at each step, for the last value of each of
 * their channels at or before the step's time, instead of asking the
 * device.
 *
 * Loading copies and indexes everything up front (entries sorted by
 * channel, then time, then arrival), so that a lookup during the run is a
 * cursor walk with no allocation and no string comparison: each channel
 * keeps a cursor, and since a component asks with non-decreasing times,
 * the walk over a whole run costs one pass over its entries. A lookup back
 * in time falls back to a binary search.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct entry {
    sim_time_us t;
    double value;
    char *text; /* owned; NULL when none */
    size_t seq; /* arrival order, the tie-break at equal times */
    int chan;
};

struct chan {
    char *component, *channel;
    enum sim_journal_dir dir;
    size_t first, n; /* its entries, after indexing */
    size_t cursor;   /* entries [0, cursor) are at or before the last lookup */
};

struct sim_recording {
    struct entry *e;
    size_t n, cap;
    struct chan *ch;
    int nch, capch;
    int last; /* channel of the last add: consecutive adds often share it */
    int indexed;
};

/* ------------------------------------------------------------------ */
/* Component-side helpers                                              */
/* ------------------------------------------------------------------ */

int sim_replay_find(sim_kernel *k, int comp, enum sim_journal_dir dir, const char *channel, int *h)
{
    *h = -1;
    const struct sim_replay_ops *ops = sim_kernel_replay_ops(k);
    if (!ops)
        return SIM_ESTATE;
    const char *name = sim_kernel_component_name(k, comp);
    if (!name || !channel || !ops->find)
        return SIM_ENOENT;
    int r = ops->find(ops->ctx, name, dir, channel);
    if (r < 0)
        return SIM_ENOENT;
    *h = r;
    return 0;
}

int sim_replay_at(sim_kernel *k, int h, sim_time_us t, double *value, const char **text)
{
    const struct sim_replay_ops *ops = sim_kernel_replay_ops(k);
    if (!ops || h < 0 || !ops->at)
        return SIM_ENOENT;
    return ops->at(ops->ctx, h, t, value, text);
}

int sim_replay_next(sim_kernel *k, int h, sim_time_us t, sim_time_us *te, double *value,
                    const char **text)
{
    const struct sim_replay_ops *ops = sim_kernel_replay_ops(k);
    if (!ops || h < 0 || !ops->next)
        return SIM_ENOENT;
    return ops->next(ops->ctx, h, t, te, value, text);
}

long sim_replay_count(sim_kernel *k, int comp)
{
    const struct sim_replay_ops *ops = sim_kernel_replay_ops(k);
    const char *name = sim_kernel_component_name(k, comp);
    if (!ops || !ops->count || !name)
        return 0;
    return ops->count(ops->ctx, name);
}

/* ------------------------------------------------------------------ */
/* The in-memory recording                                             */
/* ------------------------------------------------------------------ */

sim_recording *sim_recording_new(void)
{
    sim_recording *r = calloc(1, sizeof *r);
    if (r)
        r->last = -1;
    return r;
}

void sim_recording_free(sim_recording *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->e[i].text);
    for (int i = 0; i < r->nch; i++) {
        free(r->ch[i].component);
        free(r->ch[i].channel);
    }
    free(r->e);
    free(r->ch);
    free(r);
}

size_t sim_recording_size(const sim_recording *r)
{
    return r ? r->n : 0;
}

static int chan_is(const struct chan *c, const char *component, enum sim_journal_dir dir,
                   const char *channel)
{
    return c->dir == dir && !strcmp(c->channel, channel) && !strcmp(c->component, component);
}

static int chan_lookup(const sim_recording *r, const char *component, enum sim_journal_dir dir,
                       const char *channel)
{
    for (int i = 0; i < r->nch; i++)
        if (chan_is(&r->ch[i], component, dir, channel))
            return i;
    return -1;
}

static int chan_add(sim_recording *r, const char *component, enum sim_journal_dir dir,
                    const char *channel)
{
    if (r->nch == r->capch) {
        int ncap = r->capch ? r->capch * 2 : 16;
        struct chan *nc = realloc(r->ch, (size_t)ncap * sizeof *nc);
        if (!nc)
            return SIM_ENOMEM;
        r->ch = nc;
        r->capch = ncap;
    }
    struct chan *c = &r->ch[r->nch];
    memset(c, 0, sizeof *c);
    c->component = strdup(component);
    c->channel = strdup(channel);
    c->dir = dir;
    if (!c->component || !c->channel) {
        free(c->component);
        free(c->channel);
        return SIM_ENOMEM;
    }
    return r->nch++;
}

int sim_recording_add(sim_recording *r, sim_time_us t, const char *component,
                      enum sim_journal_dir dir, const char *channel, double value, const char *text)
{
    if (!r || !component || !*component || !channel || !*channel ||
        (dir != SIM_JOURNAL_IN && dir != SIM_JOURNAL_OUT))
        return SIM_EINVAL;
    int c = r->last >= 0 && chan_is(&r->ch[r->last], component, dir, channel)
                ? r->last
                : chan_lookup(r, component, dir, channel);
    if (c < 0 && (c = chan_add(r, component, dir, channel)) < 0)
        return c;
    r->last = c;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 1024;
        struct entry *ne = realloc(r->e, ncap * sizeof *ne);
        if (!ne)
            return SIM_ENOMEM;
        r->e = ne;
        r->cap = ncap;
    }
    struct entry *e = &r->e[r->n];
    e->t = t;
    e->value = value;
    e->text = NULL;
    if (text && !(e->text = strdup(text)))
        return SIM_ENOMEM;
    e->seq = r->n;
    e->chan = c;
    r->n++;
    r->indexed = 0;
    return 0;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    if (a->chan != b->chan)
        return a->chan < b->chan ? -1 : 1;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Group the entries by channel, each in time order. */
static void index_entries(sim_recording *r)
{
    if (r->indexed)
        return;
    if (r->n > 1)
        qsort(r->e, r->n, sizeof *r->e, entry_cmp);
    for (int c = 0; c < r->nch; c++) {
        r->ch[c].first = 0;
        r->ch[c].n = 0;
        r->ch[c].cursor = 0;
    }
    for (size_t i = r->n; i-- > 0;) {
        struct chan *c = &r->ch[r->e[i].chan];
        c->first = i;
        c->n++;
    }
    r->indexed = 1;
}

void sim_recording_rewind(sim_recording *r)
{
    for (int c = 0; r && c < r->nch; c++)
        r->ch[c].cursor = 0;
}

static int rec_find(void *ctx, const char *component, enum sim_journal_dir dir, const char *channel)
{
    sim_recording *r = ctx;
    index_entries(r);
    int c = chan_lookup(r, component, dir, channel);
    return c >= 0 && r->ch[c].n > 0 ? c : SIM_ENOENT;
}

static int rec_at(void *ctx, int h, sim_time_us t, double *value, const char **text)
{
    sim_recording *r = ctx;
    if (h < 0 || h >= r->nch || !r->indexed)
        return SIM_ENOENT;
    struct chan *c = &r->ch[h];
    const struct entry *e = r->e + c->first;
    if (c->cursor > 0 && e[c->cursor - 1].t > t) {
        /* Asked back in time: the first entry after t, by bisection. */
        size_t lo = 0, hi = c->cursor - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (e[mid].t <= t)
                lo = mid + 1;
            else
                hi = mid;
        }
        c->cursor = lo;
    }
    while (c->cursor < c->n && e[c->cursor].t <= t)
        c->cursor++;
    if (c->cursor == 0)
        return SIM_ENOENT;
    if (value)
        *value = e[c->cursor - 1].value;
    if (text)
        *text = e[c->cursor - 1].text;
    return 0;
}

static int rec_next(void *ctx, int h, sim_time_us t, sim_time_us *te, double *value,
                    const char **text)
{
    sim_recording *r = ctx;
    if (h < 0 || h >= r->nch || !r->indexed)
        return SIM_ENOENT;
    struct chan *c = &r->ch[h];
    const struct entry *e = r->e + c->first;
    if (c->cursor >= c->n || e[c->cursor].t > t)
        return SIM_ENOENT;
    if (te)
        *te = e[c->cursor].t;
    if (value)
        *value = e[c->cursor].value;
    if (text)
        *text = e[c->cursor].text;
    c->cursor++;
    return 0;
}

static long rec_count(void *ctx, const char *component)
{
    sim_recording *r = ctx;
    index_entries(r);
    long n = 0;
    for (int c = 0; c < r->nch; c++)
        if (!strcmp(r->ch[c].component, component))
            n += (long)r->ch[c].n;
    return n;
}

int sim_recording_replay(sim_recording *r, struct sim_replay_ops *ops)
{
    if (!r || !ops)
        return SIM_EINVAL;
    index_entries(r);
    sim_recording_rewind(r);
    ops->ctx = r;
    ops->find = rec_find;
    ops->at = rec_at;
    ops->next = rec_next;
    ops->count = rec_count;
    return 0;
}
