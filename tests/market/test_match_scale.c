/*
 * test_match_scale.c: several requests against hundreds of random offers
 * (three locations, overlapping windows, both directions, tied prices,
 * expired offers), matched by the engine in one "match all" action and
 * compared match by match with a brute-force reference written here from
 * the rules alone: for each request in submission order, the eligible
 * offers sorted by (price, submission order), filled greedily. Run with
 * partial fills + pay-as-bid and with whole offers + pay-as-clear.
 */
#include "fixture.h"

#define N_OFFERS 400
#define N_REQ 8
#define N_ASSETS 6

__extension__ typedef __int128 i128;

struct roffer {
    int64_t id, asset, start, end, valid_until, p_w, price, remaining;
    int loc;
};
struct rreq {
    int64_t id, start, end, p_w, max_price;
    int loc;
};
struct rmatch {
    int64_t offer_id, p_w, price, amount;
};

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static int64_t rnd(int64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int64_t)(rng % (uint64_t)n);
}

static const char *const locs[3] = {"Eskisehir", "Ankara", "Izmir"};

static int cmp_merit(const void *a, const void *b)
{
    const struct roffer *x = *(const struct roffer *const *)a, *y = *(const struct roffer *const *)b;
    if (x->price != y->price)
        return x->price < y->price ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int64_t amount(int64_t p, int64_t dur, int64_t price)
{
    i128 num = (i128)(p < 0 ? -p : p) * dur * price, den = (i128)3600000000 * 1000;
    return (int64_t)((num + den / 2) / den);
}

static void run(int partial, enum mkt_pricing pricing)
{
    struct mkt_params p;
    mkt_params_default(&p);
    p.partial_fills = partial;
    p.pricing = pricing;
    struct fx f;
    fx_open(&f, &p, 0, 0);
    struct sim_err err;
    int64_t w0 = f.t0 + 60 * FX_MIN, t_match = f.t0 + 5 * FX_MIN;
    int64_t asset_id[N_ASSETS];
    int asset_loc[N_ASSETS];
    for (int i = 0; i < N_ASSETS; i++) {
        asset_loc[i] = i % 3;
        asset_id[i] = fx_asset(&f, i < 3 ? &f.fsp1 : &f.fsp2, MKT_ASSET_OTHER, "a",
                               locs[asset_loc[i]], 50000);
    }
    static const int64_t starts[3] = {-15, 0, 15}, ends[3] = {30, 45, 60};
    static struct roffer off[N_OFFERS];
    for (int i = 0; i < N_OFFERS; i++) {
        struct roffer *o = &off[i];
        int a = (int)rnd(N_ASSETS);
        o->asset = asset_id[a];
        o->loc = asset_loc[a];
        o->start = w0 + starts[rnd(3)] * FX_MIN;
        o->end = w0 + ends[rnd(3)] * FX_MIN;
        o->p_w = -(500 + 500 * rnd(40));
        if (rnd(10) == 0)
            o->p_w = -o->p_w;
        o->price = 50000 + 5000 * rnd(30);
        o->valid_until = rnd(10) == 0 ? f.t0 + FX_MIN : o->start;
        o->remaining = o->p_w;
        struct mkt_offer mo = {.asset_id = o->asset, .start = o->start, .end = o->end,
                               .valid_until = o->valid_until, .p_w = o->p_w,
                               .price_ueur_per_kwh = o->price};
        int rc = mkt_do_offer_add(f.e, a < 3 ? &f.fsp1 : &f.fsp2, &mo, f.t0, &o->id, &err);
        CHECK(rc == 0, "offer %d: %s", i, err.msg);
    }
    static struct rreq req[N_REQ];
    for (int i = 0; i < N_REQ; i++) {
        struct rreq *r = &req[i];
        r->loc = (int)rnd(3);
        r->start = w0 + (rnd(2) ? 0 : 15 * FX_MIN);
        r->end = w0 + 45 * FX_MIN;
        r->p_w = -(20000 + 2500 * rnd(80));
        if (i == N_REQ - 1)
            r->p_w = 30000; /* one request to increase consumption */
        r->max_price = 80000 + 5000 * rnd(25);
        int rc = fx_request(&f, locs[r->loc], r->start, r->end, r->p_w, r->max_price, &r->id, &err);
        CHECK(rc == 0, "request %d: %s", i, err.msg);
    }
    struct mkt_receipt rc;
    CHECK_INT(mkt_do_match(f.e, &f.dso, 0, t_match, &rc, &err), 0);

    /* The reference, request by request. */
    static const struct roffer *elig[N_OFFERS];
    static struct rmatch want[N_OFFERS];
    static struct mkt_match got[N_OFFERS];
    int total_matches = 0;
    int64_t total_unmet = 0;
    for (int i = 0; i < N_REQ; i++) {
        struct rreq *r = &req[i];
        int64_t sign = r->p_w < 0 ? -1 : 1, need = r->p_w * sign;
        size_t ne = 0, nw = 0;
        for (int j = 0; j < N_OFFERS; j++) {
            struct roffer *o = &off[j];
            if (o->loc == r->loc && o->start <= r->start && o->end >= r->end &&
                o->price <= r->max_price && o->valid_until >= t_match && o->remaining * sign > 0)
                elig[ne++] = o;
        }
        qsort(elig, ne, sizeof elig[0], cmp_merit);
        for (size_t j = 0; j < ne && need > 0; j++) {
            struct roffer *o = (struct roffer *)elig[j];
            int64_t avail = o->remaining * sign, take = avail < need ? avail : need;
            if (!partial && take < avail)
                continue;
            want[nw++] = (struct rmatch){o->id, take * sign, o->price, 0};
            o->remaining -= take * sign;
            need -= take;
        }
        int64_t clear = 0;
        for (size_t j = 0; j < nw; j++)
            clear = want[j].price > clear ? want[j].price : clear;
        for (size_t j = 0; j < nw; j++) {
            if (pricing == MKT_PAY_AS_CLEAR)
                want[j].price = clear;
            want[j].amount = amount(want[j].p_w, r->end - r->start, want[j].price);
        }
        total_matches += (int)nw;
        total_unmet += need;

        size_t ng = 0;
        CHECK_INT(mkt_matches_of_request(f.e, r->id, got, N_OFFERS, &ng, &err), 0);
        CHECK(ng == nw, "request %d: %zu matches, reference %zu", i, ng, nw);
        for (size_t j = 0; j < ng && j < nw; j++) {
            CHECK(got[j].offer_id == want[j].offer_id && got[j].p_w == want[j].p_w &&
                      got[j].price_ueur_per_kwh == want[j].price &&
                      got[j].amount_ueur == want[j].amount,
                  "request %d match %zu: offer %lld %lld W %lld ueur/kWh %lld ueur, reference "
                  "offer %lld %lld W %lld ueur/kWh %lld ueur",
                  i, j, (long long)got[j].offer_id, (long long)got[j].p_w,
                  (long long)got[j].price_ueur_per_kwh, (long long)got[j].amount_ueur,
                  (long long)want[j].offer_id, (long long)want[j].p_w, (long long)want[j].price,
                  (long long)want[j].amount);
        }
        struct mkt_request mr;
        CHECK_INT(mkt_request_get(f.e, r->id, &mr, &err), 0);
        CHECK_INT(mr.unmet_w, need * sign);
    }
    CHECK_INT(rc.n_matches, total_matches);
    CHECK_INT(rc.unmet_w, total_unmet);
    CHECK(total_matches > 20, "the random market should produce many matches (%d)",
          total_matches);
    for (int j = 0; j < N_OFFERS; j++) {
        struct mkt_offer o;
        CHECK_INT(mkt_offer_get(f.e, off[j].id, &o, &err), 0);
        CHECK(o.remaining_w == off[j].remaining, "offer %lld remaining %lld, reference %lld",
              (long long)off[j].id, (long long)o.remaining_w, (long long)off[j].remaining);
    }
    printf("partial=%d pricing=%d: %d offers, %d requests, %d matches, %lld W unmet\n", partial,
           (int)pricing, N_OFFERS, N_REQ, total_matches, (long long)total_unmet);
    fx_close(&f);
}

int main(void)
{
    run(1, MKT_PAY_AS_BID);
    run(0, MKT_PAY_AS_CLEAR);
    return check_done("test_match_scale");
}
