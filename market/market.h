/*
 * market.h: the public API of flexbed's flexibility market and settlement
 * engine, with its signed, hash-chained ledger.
 *
 * The engine reproduces the EFLEX platform of the 2 October 2023 demo
 * (docs/market.md): DSOs post requests, FSPs post offers for their assets,
 * the DSO matches, buys (funds go to escrow), dispatch instructions go out,
 * metered deliveries come back and the DSO settles (escrow released to the
 * FSPs, the remainder back to the DSO, fees to the operator).
 *
 * Every state change is a transaction: the canonical JSON of the action,
 * signed by the acting participant with an Ethereum-compatible (EIP-191
 * personal_sign, secp256k1, low-s) signature. mkt_submit() is the one entry
 * point that changes state; the mkt_do_*() helpers build, sign and submit
 * the common actions for code that holds the key (a simulation). The state
 * lives in SQLite tables prefixed mkt_ on a connection the caller owns, so
 * the market can sit in a run's result database or in a file of its own.
 *
 * The market knows nothing of the simulation kernel: time is an argument.
 * Money is integer micro-euros (ueur); power integer watts; energy integer
 * watt-hours; prices integer micro-euros per kWh. No global mutable state:
 * several engines may coexist in one process.
 */
#ifndef FLEXBED_MARKET_H
#define FLEXBED_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "../sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Hashing, keys, addresses, signatures (keccak.c, keys.c)             */
/* ------------------------------------------------------------------ */

/* Keccak-256 as Ethereum uses it (original padding 0x01, not SHA3's 0x06). */
void mkt_keccak256(const void *data, size_t n, uint8_t out[32]);

/* A private key; plain data, wipe it when done. */
struct mkt_key {
    uint8_t priv[32];
};

/* Address text: "0x" + 40 hex digits (EIP-55 mixed case) + NUL. */
#define MKT_ADDR_STRLEN 43
/* Signature: r (32) || s (32) || v (1, 27 or 28), Ethereum's layout. */
#define MKT_SIG_LEN 65
/* Signature text: "0x" + 130 hex digits + NUL. */
#define MKT_SIG_STRLEN 133

/* A fresh random key from the kernel's CSPRNG (getrandom). */
int mkt_key_generate(struct mkt_key *k, struct sim_err *err);
/* A deterministic key from a seed and a label (keccak-derived; for
 * reproducible simulations only, never for real money). */
int mkt_key_derive(uint64_t seed, const char *label, struct mkt_key *k, struct sim_err *err);
/* Parse 64 hex digits (optional "0x"); checks the key is valid. */
int mkt_key_from_hex(const char *hex, struct mkt_key *k, struct sim_err *err);
/* Write the key as hex to a new file created with mode 0600 (fails if the
 * file exists). */
int mkt_key_save(const char *path, const struct mkt_key *k, struct sim_err *err);
/* Read a key file; refuses a file readable or writable by group or others. */
int mkt_key_load(const char *path, struct mkt_key *k, struct sim_err *err);
/* The 20-byte address of a key: last 20 bytes of keccak256(X || Y). */
int mkt_key_address(const struct mkt_key *k, uint8_t addr[20], struct sim_err *err);

/* EIP-55 checksummed text of an address. Returns out. */
char *mkt_address_format(const uint8_t addr[20], char out[MKT_ADDR_STRLEN]);
/* Parse "0x" + 40 hex digits. All-lower or all-upper digits are accepted;
 * mixed case must carry a valid EIP-55 checksum. */
int mkt_address_parse(const char *s, uint8_t addr[20], struct sim_err *err);

/* keccak256("\x19Ethereum Signed Message:\n" + decimal(n) + msg). */
void mkt_eip191_hash(const void *msg, size_t n, uint8_t out[32]);
/* personal_sign: sign the EIP-191 hash of msg (RFC 6979, low-s), giving
 * r || s || v with v = 27 + recovery id. */
int mkt_sign_message(const struct mkt_key *k, const void *msg, size_t n, uint8_t sig[MKT_SIG_LEN],
                     struct sim_err *err);
/* Recover the signer's address of a personal_sign signature. v may be 27/28
 * or 0/1; a high-s signature (EIP-2) is rejected with SIM_EINVAL. */
int mkt_recover_signer(const void *msg, size_t n, const uint8_t sig[MKT_SIG_LEN], uint8_t addr[20],
                       struct sim_err *err);
/* Hex text of a signature ("0x..."), and its parse. */
char *mkt_sig_format(const uint8_t sig[MKT_SIG_LEN], char out[MKT_SIG_STRLEN]);
int mkt_sig_parse(const char *s, uint8_t sig[MKT_SIG_LEN], struct sim_err *err);

/* ------------------------------------------------------------------ */
/* Canonical JSON (canon.c)                                            */
/* ------------------------------------------------------------------ */

/* Canonical form of a JSON text: objects with keys sorted by byte value,
 * no whitespace, numbers only as integers in [-2^53, 2^53] printed in
 * decimal, strings escaped as cJSON escapes them. Returns a malloc'd string
 * (caller frees) in *out, or SIM_EINVAL naming what is not allowed. */
int mkt_canonical_json(const char *json, char **out, struct sim_err *err);

/* ------------------------------------------------------------------ */
/* The engine                                                          */
/* ------------------------------------------------------------------ */

typedef struct mkt_engine mkt_engine;

enum mkt_role { MKT_ROLE_OPERATOR = 0, MKT_ROLE_DSO = 1, MKT_ROLE_FSP = 2 };
const char *mkt_role_name(enum mkt_role r);

enum mkt_pricing { MKT_PAY_AS_BID = 0, MKT_PAY_AS_CLEAR = 1 };
enum mkt_payout_rule { MKT_PAY_AS_DELIVERED = 0, MKT_PRO_RATA_WITH_PENALTY = 1 };

/* How delivery is measured (baseline.c, docs/market.md "Measurement and
 * verification"). */
enum mkt_baseline {
    MKT_BASELINE_METERED = 0,        /* the report's e_wh (the demo's rule) */
    MKT_BASELINE_METER_BEFORE,       /* mean power over baseline_us before the window */
    MKT_BASELINE_METER_BEFORE_AFTER, /* mean of before and the same span after */
    MKT_BASELINE_X_OF_Y,             /* mean of the X highest of the Y days before */
    MKT_BASELINE_NOMINATED,          /* the FSP's prognosis, before the window */
};
#define MKT_BASELINE_MAX_Y 60
const char *mkt_baseline_name(enum mkt_baseline b);
int mkt_baseline_parse(const char *s, enum mkt_baseline *out);

/* Market rules, fixed at genesis and recorded in the genesis transaction
 * (so a replay applies the same rules). All integers. */
struct mkt_params {
    int64_t tx_fee_ueur;      /* fee per charged action, to the operator */
    unsigned fee_actions;     /* bit set of (1u << MKT_ACT_*) charged the fee */
    int partial_fills;        /* 1: an offer may be partly taken; 0: whole or not */
    enum mkt_pricing pricing; /* pay-as-bid (default) or pay-as-clear */
    enum mkt_payout_rule payout_rule;
    int64_t settle_fee_ppm;        /* fee on each gross payout, parts per million ... */
    int64_t payout_fee_ueur;       /* ... plus this flat fee per payout (capped at the payout);
                                      both withheld from the FSP and paid to the operator */
    int64_t penalty_threshold_ppm; /* pro rata: delivery rate below this ... */
    int64_t penalty_ppm;           /* ... loses this share of the payout */
    enum mkt_baseline baseline;    /* measurement and verification */
    int64_t baseline_us;           /* meter_before(_after): the span measured */
    int baseline_x, baseline_y;    /* x_of_y: X of the Y days before */
    /* Products and gate closure (docs/market.md "Products and payments") */
    int64_t gate_closure_us;       /* offers, requests, matching and purchase close
                                      this long before a window starts (0: no gate) */
    int64_t utilisation_floor_ppm; /* below this delivery rate no utilisation payment */
    int64_t availability_floor_ppm; /* below it no availability payment; above, pro rata */
};

/* Defaults: no fees (fee_actions = offer_add and request_add, charged only
 * once tx_fee_ueur > 0), partial fills on, pay-as-bid, pay-as-delivered,
 * penalty 90 % threshold / 10 % penalty (used only by the pro-rata rule). */
void mkt_params_default(struct mkt_params *p);
/* Parse/format rule names: "pay_as_bid"/"pay_as_clear",
 * "pay_as_delivered"/"pro_rata_with_penalty". */
/* The rules as the genesis's "params" object (every = 0: the members
 * added since the demo only where they differ from their defaults, so an
 * older market's genesis is unchanged) or with every member (every = 1,
 * GET /api/market). A new cJSON object (the caller owns it), NULL when out
 * of memory. */
struct cJSON;
struct cJSON *mkt_params_json(const struct mkt_params *p, int every);
int mkt_pricing_parse(const char *s, enum mkt_pricing *out);
int mkt_payout_rule_parse(const char *s, enum mkt_payout_rule *out);

/* Action types: the "action" member of a transaction's JSON. */
enum mkt_action {
    MKT_ACT_GENESIS = 0,      /* operator: market rules, creates the ledger */
    MKT_ACT_PARTICIPANT_ADD,  /* operator: admit an address with a role */
    MKT_ACT_DEPOSIT,          /* operator: credit a wallet (money enters) */
    MKT_ACT_WITHDRAW,         /* any participant: debit own wallet (money leaves) */
    MKT_ACT_ASSET_ADD,        /* FSP, DSO */
    MKT_ACT_ASSET_EDIT,       /* FSP, DSO (own assets) */
    MKT_ACT_ASSET_REMOVE,     /* FSP, DSO (own assets) */
    MKT_ACT_OFFER_ADD,        /* FSP */
    MKT_ACT_OFFER_EDIT,       /* FSP (own, untouched offers) */
    MKT_ACT_OFFER_WITHDRAW,   /* FSP (own) */
    MKT_ACT_REQUEST_ADD,      /* DSO */
    MKT_ACT_REQUEST_EDIT,     /* DSO (own, unmatched requests) */
    MKT_ACT_REQUEST_WITHDRAW, /* DSO (own, not purchased) */
    MKT_ACT_MATCH,            /* DSO */
    MKT_ACT_PURCHASE,         /* DSO: payment into escrow, dispatch */
    MKT_ACT_DELIVERY,         /* DSO or operator (the metering platform) */
    MKT_ACT_SETTLE,           /* DSO */
    MKT_ACT_METER,            /* DSO or operator: an asset's metered net energy */
    MKT_ACT_PROGNOSIS,        /* FSP (own assets): a nominated baseline */
    MKT_ACT_COUNT
};
const char *mkt_action_name(enum mkt_action a);
int mkt_action_parse(const char *s, enum mkt_action *out);
/* Whether role may perform action (DEMO.md Table II, plus the operator's
 * own actions). */
int mkt_role_may(enum mkt_role role, enum mkt_action a);

/* Open the market on db (borrowed; must outlive the engine), creating its
 * tables if missing. A new market has no ledger until a genesis transaction
 * is submitted (mkt_do_genesis). Returns 0 or SIM_EIO/SIM_ENOMEM. */
int mkt_engine_new(sqlite3 *db, mkt_engine **out, struct sim_err *err);
void mkt_engine_free(mkt_engine *e);
/* Read the rules, operator and last sequence number again from the
 * database, after another connection (a running simulation) changed it.
 * For a reader (`flexbed run --serve`); not while a batch is open. */
int mkt_engine_reload(mkt_engine *e, struct sim_err *err);
/* The rules in force (defaults before genesis). */
const struct mkt_params *mkt_engine_params(const mkt_engine *e);
/* The db the engine works on (borrowed). */
sqlite3 *mkt_engine_db(mkt_engine *e);

/* What an accepted transaction did. */
struct mkt_receipt {
    int64_t tx_seq;      /* ledger sequence number of the transaction */
    int64_t id;          /* id of the created/affected object (asset, offer, ...) */
    int64_t fee_ueur;    /* transaction fee charged */
    int n_matches;       /* match: matches created */
    int64_t matched_w;   /* match: power matched, |W| summed over requests */
    int64_t unmet_w;     /* match: |W| of request volume left unmet */
    int64_t amount_ueur; /* purchase: escrowed; settle: paid to FSPs (net) */
    uint8_t hash[32];    /* transaction hash */
};

/* Submit a signed action at time now. json must be canonical
 * (mkt_canonical_json); sig is the personal_sign signature of exactly
 * those bytes. The signer is recovered and must equal the "from" member,
 * be a participant whose role may perform the action, and use its next
 * nonce. On success the state change and the transaction are written in
 * one SQLite savepoint, *rc (may be NULL) is filled and 0 returned. On
 * refusal nothing changes but one row in mkt_refusals, and a negative
 * code is returned with the reason in err (SIM_EINVAL bad input, SIM_ESTATE
 * not allowed (role, state, funds), SIM_ENOENT unknown id). */
int mkt_submit(mkt_engine *e, const char *json, const uint8_t sig[MKT_SIG_LEN], sim_time_us now,
               struct mkt_receipt *rc, struct sim_err *err);

/* Group commit. The actions submitted (and blocks sealed) between
 * mkt_batch_begin and mkt_batch_end share one SQLite transaction: one
 * commit, one write to disk, instead of one per action. Each action is
 * still atomic on its own (its savepoint: a refused action leaves nothing,
 * the others in the batch are kept) and the ledger verifies exactly as
 * without batching. A crash or a failed commit loses the whole open batch,
 * never part of an action: answer submitters only after mkt_batch_end
 * returned 0. When the connection already has a transaction open (a
 * simulation's result store), the batch joins it and commits nothing.
 * mkt_batch_end on a failed commit rolls the batch back, reloads the
 * engine's state from the database and returns SIM_EIO. */
int mkt_batch_begin(mkt_engine *e, struct sim_err *err);
int mkt_batch_end(mkt_engine *e, struct sim_err *err);

/* Sign with k and submit a JSON object; "from" and "nonce" are filled in
 * if absent, then the text is canonicalised. For simulations and tests. */
int mkt_sign_submit(mkt_engine *e, const struct mkt_key *k, const char *json, sim_time_us now,
                    struct mkt_receipt *rc, struct sim_err *err);

/* ---- typed helpers: build the action JSON, sign with k, submit ---- */

int mkt_do_genesis(mkt_engine *e, const struct mkt_key *op, const struct mkt_params *p,
                   sim_time_us now, struct sim_err *err);
int mkt_do_participant_add(mkt_engine *e, const struct mkt_key *op, const uint8_t addr[20],
                           enum mkt_role role, const char *name, sim_time_us now,
                           struct sim_err *err);
int mkt_do_deposit(mkt_engine *e, const struct mkt_key *op, const uint8_t addr[20],
                   int64_t amount_ueur, sim_time_us now, struct sim_err *err);

enum mkt_asset_type { MKT_ASSET_BATTERY = 0, MKT_ASSET_EV = 1, MKT_ASSET_OTHER = 2 };
const char *mkt_asset_type_name(enum mkt_asset_type t);

struct mkt_asset {
    int64_t id;
    uint8_t owner[20];
    enum mkt_asset_type type;
    char name[64];
    char location[64];                /* location or feeder bus; matched by equality */
    int64_t p_min_w, p_max_w;         /* power limits (consumption positive) */
    int64_t soc_min_ppm, soc_max_ppm; /* SoC limits, parts per million */
    int removed;
};
int mkt_do_asset_add(mkt_engine *e, const struct mkt_key *k, const struct mkt_asset *a,
                     sim_time_us now, int64_t *id, struct sim_err *err);

enum mkt_state {
    MKT_OPEN = 0,      /* offer/request: can be matched */
    MKT_MATCHED = 1,   /* request: matched, not yet bought; offer: fully taken */
    MKT_PURCHASED = 2, /* request/match: bought, funds in escrow */
    MKT_DELIVERED = 3, /* match: metered delivery recorded */
    MKT_SETTLED = 4,   /* request/match: escrow released */
    MKT_WITHDRAWN = 5, /* offer/request withdrawn by its owner */
};
const char *mkt_state_name(enum mkt_state s);

struct mkt_offer {
    int64_t id;
    int64_t asset_id;
    uint8_t fsp[20];
    sim_time_us start, end;  /* window [start, end) */
    sim_time_us valid_until; /* not matched after this time */
    int64_t p_w;             /* negative = reduce consumption */
    int64_t price_ueur_per_kwh;
    int64_t availability_ueur_per_kw_h; /* reservation price per kW per hour (0: none) */
    int64_t remaining_w; /* not yet matched, same sign as p_w */
    int64_t seq;         /* submission order (ledger sequence) */
    enum mkt_state state;
    char location[64]; /* the asset's, at submission */
};
/* Fields used: asset_id, start, end, valid_until, p_w, price_ueur_per_kwh. */
int mkt_do_offer_add(mkt_engine *e, const struct mkt_key *k, const struct mkt_offer *o,
                     sim_time_us now, int64_t *id, struct sim_err *err);

struct mkt_request {
    int64_t id;
    uint8_t dso[20];
    char location[64];
    sim_time_us start, end;
    int64_t p_w; /* negative = reduce consumption */
    int64_t max_price_ueur_per_kwh;
    int64_t max_availability_ueur_per_kw_h; /* offers above it are not matched */
    int64_t unmet_w; /* after matching, same sign as p_w */
    int64_t seq;
    enum mkt_state state;
};
/* Fields used: location, start, end, p_w, max_price_ueur_per_kwh. */
int mkt_do_request_add(mkt_engine *e, const struct mkt_key *k, const struct mkt_request *r,
                       sim_time_us now, int64_t *id, struct sim_err *err);
/* Match one request (request_id > 0) or all the DSO's open requests (0). */
int mkt_do_match(mkt_engine *e, const struct mkt_key *k, int64_t request_id, sim_time_us now,
                 struct mkt_receipt *rc, struct sim_err *err);
/* Buy every proposed match of a request: funds to escrow, dispatch out. */
int mkt_do_purchase(mkt_engine *e, const struct mkt_key *k, int64_t request_id, sim_time_us now,
                    struct mkt_receipt *rc, struct sim_err *err);
/* Record the metered energy delivered for a match (Wh, >= 0, magnitude in
 * the match's direction). Under a baseline rule (params.baseline other than
 * metered) the market computes it from the meter readings: pass e_wh < 0
 * to leave it out. */
int mkt_do_delivery(mkt_engine *e, const struct mkt_key *k, int64_t match_id, int64_t e_wh,
                    sim_time_us now, struct sim_err *err);
/* A meter reading: asset's net energy (import positive, Wh) over
 * [start, end), which must be over. */
int mkt_do_meter(mkt_engine *e, const struct mkt_key *k, int64_t asset_id, sim_time_us start,
                 sim_time_us end, int64_t e_wh, sim_time_us now, struct sim_err *err);
/* A prognosis (nominated baseline): the asset's net power p_w (import
 * positive) over [start, end), before start. */
int mkt_do_prognosis(mkt_engine *e, const struct mkt_key *k, int64_t asset_id, sim_time_us start,
                     sim_time_us end, int64_t p_w, sim_time_us now, struct sim_err *err);
/* Settle a purchased request whose matches all have deliveries. */
int mkt_do_settle(mkt_engine *e, const struct mkt_key *k, int64_t request_id, sim_time_us now,
                  struct mkt_receipt *rc, struct sim_err *err);

/* ---- reading the state ---- */

struct mkt_match {
    int64_t id;
    int64_t request_id, offer_id, asset_id;
    uint8_t fsp[20], dso[20];
    sim_time_us start, end;     /* the request's window */
    int64_t p_w;                /* accepted power, request's sign */
    int64_t price_ueur_per_kwh; /* paid price (bid or clearing) */
    int64_t amount_ueur;        /* |p| x window x price, escrowed on purchase */
    int64_t availability_ueur_per_kw_h; /* the offer's reservation price */
    int64_t availability_ueur;  /* |p| x window x that price, escrowed too */
    int64_t availability_paid_ueur; /* the part of the payout paid for availability */
    enum mkt_state state;
    int64_t delivered_wh;    /* -1 until a delivery is recorded */
    int64_t rate_ppm;        /* delivered / accepted energy, ppm */
    int64_t payout_ueur;     /* gross payout (before settlement fee) */
    int64_t settle_fee_ueur; /* fee withheld from the payout */
    int64_t refund_ueur;     /* returned to the DSO */
    int merit;               /* rank in the request's merit order (0: first) */
};

int mkt_offer_get(mkt_engine *e, int64_t id, struct mkt_offer *o, struct sim_err *err);
int mkt_request_get(mkt_engine *e, int64_t id, struct mkt_request *r, struct sim_err *err);
int mkt_asset_get(mkt_engine *e, int64_t id, struct mkt_asset *a, struct sim_err *err);
int mkt_match_get(mkt_engine *e, int64_t id, struct mkt_match *m, struct sim_err *err);
/* Table II's "list": the viewer's own assets / offers / requests with
 * id > after_id (for paging), up to max; the operator sees all. A role
 * that may not list them (an FSP listing requests, a DSO listing offers)
 * is refused with SIM_ESTATE and the refusal logged at time now. */
int mkt_asset_list(mkt_engine *e, const uint8_t viewer[20], int64_t after_id, struct mkt_asset *out,
                   size_t max, size_t *n, sim_time_us now, struct sim_err *err);
int mkt_offer_list(mkt_engine *e, const uint8_t viewer[20], int64_t after_id, struct mkt_offer *out,
                   size_t max, size_t *n, sim_time_us now, struct sim_err *err);
int mkt_request_list(mkt_engine *e, const uint8_t viewer[20], int64_t after_id,
                     struct mkt_request *out, size_t max, size_t *n, sim_time_us now,
                     struct sim_err *err);
/* Matches of a request, in merit order: up to max into out, *n = how many
 * exist (may exceed max). */
int mkt_matches_of_request(mkt_engine *e, int64_t request_id, struct mkt_match *out, size_t max,
                           size_t *n, struct sim_err *err);

/* A dispatch instruction: the setpoint the EV management platform sends
 * to an asset on purchase (paper step 4). */
struct mkt_dispatch {
    int64_t id, match_id, asset_id;
    sim_time_us start, end;
    int64_t p_w; /* power change requested of the asset */
};
/* Dispatch instructions with id > after_id (for polling), up to max. */
int mkt_dispatch_list(mkt_engine *e, int64_t after_id, struct mkt_dispatch *out, size_t max,
                      size_t *n, struct sim_err *err);

/* Wallet balance of a participant (the operator's wallet is the fee
 * account). SIM_ENOENT if not a participant. */
int mkt_balance(mkt_engine *e, const uint8_t addr[20], int64_t *ueur, struct sim_err *err);
/* Money totals: wallets, funds in escrow, deposits minus withdrawals.
 * wallets + escrow == deposited always holds. */
int mkt_money_totals(mkt_engine *e, int64_t *wallets_ueur, int64_t *escrow_ueur,
                     int64_t *deposited_ueur, struct sim_err *err);
/* Number of refused actions: the rows of mkt_refusals plus those this
 * engine refused but did not record. Refusals are recorded at most
 * MKT_REFUSAL_BURST back to back, then MKT_REFUSAL_RATE per second of the
 * actions' time; a recorded one says how many went unrecorded before it. */
int64_t mkt_refusal_count(mkt_engine *e);
#define MKT_REFUSAL_BURST 100.0 /* refusals recorded back to back ... */
#define MKT_REFUSAL_RATE 10.0   /* ... then this many per second */

/* ------------------------------------------------------------------ */
/* Ledger (ledger.c)                                                   */
/* ------------------------------------------------------------------ */

/* Seal every pending transaction into one new block signed by the
 * operator key (must be the genesis operator). *height gets the new
 * block's height, or -1 when nothing was pending. The block and its
 * transactions' assignment are written in one savepoint. */
int mkt_seal(mkt_engine *e, const struct mkt_key *op, sim_time_us now, int64_t *height,
             struct sim_err *err);

struct mkt_verify_report {
    int ok;             /* 1 when everything verified */
    int64_t blocks;     /* blocks checked */
    int64_t txs;        /* transactions checked (sealed + pending) */
    int64_t pending;    /* transactions not yet in a block */
    int64_t bad_height; /* first block that failed, -1 if none/pending */
    int64_t bad_tx_seq; /* first transaction that failed, -1 if none */
    int bad_tx_index;   /* its index in the block, -1 if none */
    int state_ok;       /* the state tables equal the ledger's replay */
    int64_t state_rows; /* state rows compared */
    char reason[256];   /* what failed */
};
/* Re-check every transaction's canonical form, signature (low-s, signer =
 * "from", role allowed, nonce order), hash, and that its sender, action,
 * nonce, block_height and idx columns say what is signed; every block's
 * columns against its signed header, Merkle root, sealer signature and
 * link to its predecessor (docs/market.md, "How to verify"); then, when
 * all that holds, that the market's state tables are exactly what the
 * ledger makes them (mkt_ledger_replay). Returns 0 when the ledger could
 * be read (then rep->ok tells the verdict), SIM_EIO/SIM_EINVAL
 * when db holds no market ledger. */
int mkt_ledger_verify(sqlite3 *db, struct mkt_verify_report *rep, struct sim_err *err);

struct mkt_replay_report {
    int ok;               /* 1 when the replayed balances equal the stored */
    int64_t txs;          /* transactions replayed */
    int64_t participants; /* wallets compared */
    int64_t rows;         /* state rows compared, every column */
    char reason[256];     /* first difference */
};
/* Replay the ledger from genesis into a fresh in-memory market and compare
 * every wallet balance, the money totals, and then every column of every
 * row of every market state table (all mkt_ tables but mkt_tx, mkt_blocks
 * and the unsigned refusal log) with db's; the first difference names the
 * table, the row's key and the column. */
int mkt_ledger_replay(sqlite3 *db, struct mkt_replay_report *rep, struct sim_err *err);

/* Merkle root of n 32-byte leaves stored back to back (keccak256 of left || right; an odd last
 * node is carried up unchanged; the root of one leaf is the leaf; of zero
 * leaves, 32 zero bytes). */
void mkt_merkle_root(const uint8_t *leaves, size_t n, uint8_t root[32]);

#ifdef __cplusplus
}
#endif

#endif
