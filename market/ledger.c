/*
 * ledger.c: the market's hash-chained ledger: transaction rows, blocks,
 * Merkle roots, verification and replay.
 *
 * A transaction is the canonical JSON of an action, its personal_sign
 * signature and the time it was applied; its hash is
 *   keccak256(json || sig (65 bytes) || t_us as 8 bytes big-endian).
 * mkt_submit writes each accepted transaction as "pending" (no block).
 * mkt_seal groups the pending ones into a block whose header is the
 * canonical JSON
 *   {"height":H,"merkle_root":"0x..","n_tx":N,"prev_hash":"0x..",
 *    "sealer":"0x<EIP-55>","t_us":T}
 * signed by the operator (personal_sign), the block hash being
 * keccak256(header). The block row and its transactions' assignment are
 * written in one savepoint: a block is all there or not at all.
 *
 * mkt_ledger_verify trusts nothing stored but the bytes it checks: it
 * recomputes every transaction hash and Merkle root, recovers every signer,
 * follows roles and nonces from the ledger itself (genesis, participant_add),
 * checks every stored column against what is signed, and reports the first
 * block / transaction that fails. mkt_ledger_replay
 * re-applies the whole ledger to an empty in-memory market and compares the
 * wallets, which shows that balances are a function of the ledger.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    *out++ = '0';
    *out++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *out++ = d[b[i] >> 4];
        *out++ = d[b[i] & 15];
    }
    *out = 0;
}

void mkt__tx_hash(const char *json, size_t n, const uint8_t sig[MKT_SIG_LEN], sim_time_us t,
                  uint8_t out[32])
{
    size_t total = n + MKT_SIG_LEN + 8;
    uint8_t stackbuf[2048];
    uint8_t *buf = total <= sizeof stackbuf ? stackbuf : malloc(total);
    if (!buf) {
        memset(out, 0, 32); /* a zero hash never verifies */
        return;
    }
    memcpy(buf, json, n);
    memcpy(buf + n, sig, MKT_SIG_LEN);
    uint64_t u = (uint64_t)t;
    for (int i = 0; i < 8; i++)
        buf[n + MKT_SIG_LEN + i] = (uint8_t)(u >> (56 - 8 * i));
    mkt_keccak256(buf, total, out);
    if (buf != stackbuf)
        free(buf);
}

int mkt__tx_insert(mkt_engine *e, int64_t seq, sim_time_us t, const uint8_t from[20],
                   enum mkt_action a, int64_t nonce, const char *json, const uint8_t sig[65],
                   const uint8_t hash[32], struct sim_err *err)
{
    char addr[MKT_ADDR_STRLEN];
    mkt_address_format(from, addr);
    return mkt__sql(e->db, err,
                    "INSERT INTO mkt_tx(seq, t_us, sender, action, nonce, json, sig, hash)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    "iissisbb", seq, (int64_t)t, addr, mkt_action_name(a), nonce, json, sig,
                    MKT_SIG_LEN, hash, 32);
}

void mkt_merkle_root(const uint8_t *leaves, size_t n, uint8_t root[32])
{
    if (n == 0) {
        memset(root, 0, 32);
        return;
    }
    if (n == 1) {
        memcpy(root, leaves, 32);
        return;
    }
    /* Reduce level by level in a scratch copy; on allocation failure give
     * the zero root, which no non-empty block carries. */
    uint8_t *lvl = malloc(n * 32);
    if (!lvl) {
        memset(root, 0, 32);
        return;
    }
    memcpy(lvl, leaves, n * 32);
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += 2, m++) {
            if (i + 1 < n)
                mkt_keccak256(lvl + 32 * i, 64, lvl + 32 * m); /* reads before it writes */
            else
                memmove(lvl + 32 * m, lvl + 32 * i, 32);
        }
        n = m;
    }
    memcpy(root, lvl, 32);
    free(lvl);
}

/* The canonical header text of a block. */
static void block_header(int64_t height, const uint8_t merkle[32], int64_t n_tx,
                         const uint8_t prev[32], const char *sealer, sim_time_us t, char *out,
                         size_t size)
{
    char m[67], p[67];
    hex(merkle, 32, m);
    hex(prev, 32, p);
    snprintf(out, size,
             "{\"height\":%lld,\"merkle_root\":\"%s\",\"n_tx\":%lld,\"prev_hash\":\"%s\","
             "\"sealer\":\"%s\",\"t_us\":%lld}",
             (long long)height, m, (long long)n_tx, p, sealer, (long long)t);
}

/* Height and hash of the last block; height -1 and a zero hash if none. */
static int last_block(sqlite3 *db, int64_t *height, uint8_t hash[32], sim_time_us *t,
                      struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(
        db, &st, err, "SELECT height, hash, t_us FROM mkt_blocks ORDER BY height DESC LIMIT 1", "");
    if (rc)
        return rc;
    *height = -1;
    *t = INT64_MIN;
    memset(hash, 0, 32);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *height = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == 32)
            memcpy(hash, sqlite3_column_blob(st, 1), 32);
        *t = sqlite3_column_int64(st, 2);
    }
    mkt__finish(st);
    return 0;
}

int mkt_seal(mkt_engine *e, const struct mkt_key *op, sim_time_us now, int64_t *height,
             struct sim_err *err)
{
    *height = -1;
    uint8_t addr[20];
    int rc = mkt_key_address(op, addr, err);
    if (rc)
        return rc;
    if (!e->has_genesis)
        return sim_errf(err, SIM_ESTATE, "seal: the market has no genesis yet");
    if (memcmp(addr, e->operator_addr, 20)) {
        char a[MKT_ADDR_STRLEN];
        return sim_errf(err, SIM_ESTATE, "seal: %s is not the market operator",
                        mkt_address_format(addr, a));
    }
    int64_t prev_h;
    uint8_t prev[32];
    sim_time_us prev_t;
    if ((rc = last_block(e->db, &prev_h, prev, &prev_t, err)))
        return rc;
    if (now < prev_t)
        return sim_errf(err, SIM_EINVAL, "seal: time goes backwards (last block at %lld us)",
                        (long long)prev_t);

    sqlite3_stmt *st;
    if ((rc = mkt__stmt(
             e->db, &st, err,
             "SELECT seq, hash, t_us FROM mkt_tx WHERE block_height IS NULL ORDER BY seq", "")))
        return rc;
    uint8_t *leaves = NULL;
    int64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            uint8_t *l = realloc(leaves, nc * 32);
            if (l)
                leaves = l;
            int64_t *s = realloc(seqs, nc * sizeof *s);
            if (s)
                seqs = s;
            if (!l || !s) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                break;
            }
            cap = nc;
        }
        seqs[n] = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) != 32)
            rc = sim_errf(err, SIM_EIO, "seal: transaction %lld has no valid hash",
                          (long long)seqs[n]);
        else
            memcpy(leaves + 32 * n, sqlite3_column_blob(st, 1), 32);
        if (sqlite3_column_int64(st, 2) > now)
            rc = sim_errf(err, SIM_EINVAL, "seal: transaction %lld is later than the block time",
                          (long long)seqs[n]);
        n++;
    }
    mkt__finish(st);
    if (rc || n == 0)
        goto out;

    uint8_t root[32], bhash[32], sig[MKT_SIG_LEN];
    mkt_merkle_root(leaves, n, root);
    char sealer[MKT_ADDR_STRLEN], header[512];
    mkt_address_format(addr, sealer);
    int64_t h = prev_h + 1;
    block_header(h, root, (int64_t)n, prev, sealer, now, header, sizeof header);
    mkt_keccak256(header, strlen(header), bhash);
    if ((rc = mkt_sign_message(op, header, strlen(header), sig, err)))
        goto out;

    if ((rc = mkt__exec(e->db, "SAVEPOINT mkt_seal", err)))
        goto out;
    rc = mkt__sql(e->db, err,
                  "INSERT INTO mkt_blocks(height, t_us, prev_hash, merkle_root, n_tx, sealer,"
                  " header, sig, hash) VALUES (?,?,?,?,?,?,?,?,?)",
                  "iibbissbb", h, (int64_t)now, prev, 32, root, 32, (int64_t)n, sealer, header, sig,
                  MKT_SIG_LEN, bhash, 32);
    for (size_t i = 0; !rc && i < n; i++)
        rc = mkt__sql(e->db, err, "UPDATE mkt_tx SET block_height=?, idx=? WHERE seq=?", "iii", h,
                      (int64_t)i, seqs[i]);
    if (!rc)
        rc = mkt__exec(e->db, "RELEASE mkt_seal", err);
    if (rc) {
        struct sim_err e2;
        mkt__exec(e->db, "ROLLBACK TO mkt_seal; RELEASE mkt_seal", &e2);
        goto out;
    }
    *height = h;
out:
    free(leaves);
    free(seqs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */
/* ------------------------------------------------------------------ */

/*
 * Every stored column of both ledger tables is checked against something
 * signed: a transaction's seq, t_us, json and sig are bound by its hash
 * and signature, and sender, action and nonce must say what the signed
 * JSON says; block_height and idx must be where the chain of signed block
 * headers (their n_tx, in height order) puts the transaction. A block's
 * columns must equal the fields of its header, the header hashes to the
 * stored hash and carries the operator's signature, and its Merkle root
 * is recomputed from the transactions. Verification runs in two passes:
 * the blocks by height (headers, hashes, signatures, links), then the
 * transactions by seq, each named with its block when it fails.
 */

/* Roles and nonces as the ledger itself establishes them. */
struct vparty {
    uint8_t addr[20];
    enum mkt_role role;
    int64_t nonce;
};

/* What the first pass keeps of a block for the second. */
struct vblock {
    int64_t height;
    sim_time_us t;
    int64_t n_tx;
    uint8_t merkle[32];
    uint8_t signer[20];
};

struct verifier {
    struct vparty *p;
    size_t n, cap;
    int64_t next_seq;
    int have_genesis;
    uint8_t operator_addr[20];
};

static struct vparty *vfind(struct verifier *v, const uint8_t addr[20])
{
    for (size_t i = 0; i < v->n; i++)
        if (!memcmp(v->p[i].addr, addr, 20))
            return &v->p[i];
    return NULL;
}

static struct vparty *vadd(struct verifier *v, const uint8_t addr[20], enum mkt_role role)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 16;
        struct vparty *p = realloc(v->p, nc * sizeof *p);
        if (!p)
            return NULL;
        v->p = p;
        v->cap = nc;
    }
    struct vparty *p = &v->p[v->n++];
    memcpy(p->addr, addr, 20);
    p->role = role;
    p->nonce = 0;
    return p;
}

/* Columns of TX_COLS, in order. */
enum { TX_SEQ, TX_T, TX_JSON, TX_SIG, TX_HASH, TX_IDX, TX_BLOCK, TX_SENDER, TX_ACTION, TX_NONCE };
#define TX_COLS                                                                                    \
    "SELECT seq, t_us, json, sig, hash, idx, block_height, sender, action, nonce FROM mkt_tx"      \
    " ORDER BY seq"

/* Check one stored transaction's own columns; on failure fill reason and
 * return 1. Returns a negative code only when out of memory. */
static int verify_tx(struct verifier *v, sqlite3_stmt *st, uint8_t hash[32], char *reason,
                     size_t rsize)
{
    int64_t seq = sqlite3_column_int64(st, TX_SEQ);
    sim_time_us t = sqlite3_column_int64(st, TX_T);
    const char *json = (const char *)sqlite3_column_text(st, TX_JSON);
    const void *sig = sqlite3_column_blob(st, TX_SIG);
    int sig_n = sqlite3_column_bytes(st, TX_SIG);
    const void *stored = sqlite3_column_blob(st, TX_HASH);
    int stored_n = sqlite3_column_bytes(st, TX_HASH);
    struct sim_err e2;

    if (sqlite3_column_type(st, TX_T) != SQLITE_INTEGER) {
        snprintf(reason, rsize, "t_us is not an integer");
        return 1;
    }
    if (!json || sqlite3_column_type(st, TX_JSON) != SQLITE_TEXT || sig_n != MKT_SIG_LEN ||
        sqlite3_column_type(st, TX_SIG) != SQLITE_BLOB) {
        snprintf(reason, rsize, "missing JSON or signature");
        return 1;
    }
    if (((const uint8_t *)sig)[64] != 27 && ((const uint8_t *)sig)[64] != 28) {
        snprintf(reason, rsize, "signature v is %d, not 27 or 28 (not the stored canonical form)",
                 ((const uint8_t *)sig)[64]);
        return 1;
    }
    size_t n = strlen(json);
    mkt__tx_hash(json, n, sig, t, hash);
    if (stored_n != 32 || sqlite3_column_type(st, TX_HASH) != SQLITE_BLOB ||
        memcmp(stored, hash, 32)) {
        snprintf(reason, rsize, "stored hash differs from the hash of its contents");
        return 1;
    }
    char *canon = NULL;
    if (mkt_canonical_json(json, &canon, &e2)) {
        snprintf(reason, rsize, "not canonical JSON: %.150s", e2.msg);
        return 1;
    }
    int same = !strcmp(canon, json);
    free(canon);
    if (!same) {
        snprintf(reason, rsize, "JSON is not in canonical form");
        return 1;
    }
    uint8_t signer[20], from[20];
    if (mkt_recover_signer(json, n, sig, signer, &e2)) {
        snprintf(reason, rsize, "bad signature: %.150s", e2.msg);
        return 1;
    }
    cJSON *root = cJSON_Parse(json);
    const char *action_s = NULL;
    enum mkt_action a = MKT_ACT_COUNT;
    int64_t nonce = -1;
    int bad = 1;
    if (!root) {
        snprintf(reason, rsize, "JSON does not parse");
        goto done;
    }
    if (mkt__get_str(root, "action", &action_s, &e2) || mkt_action_parse(action_s, &a)) {
        snprintf(reason, rsize, "missing or unknown action");
        goto done;
    }
    if (mkt__get_addr(root, "from", from, &e2) || mkt__get_int(root, "nonce", &nonce, &e2)) {
        snprintf(reason, rsize, "%.180s", e2.msg);
        goto done;
    }
    char x[MKT_ADDR_STRLEN], y[MKT_ADDR_STRLEN];
    if (memcmp(from, signer, 20)) {
        snprintf(reason, rsize, "signature recovers %s, but from is %s",
                 mkt_address_format(signer, x), mkt_address_format(from, y));
        goto done;
    }
    /* The columns readers list and filter by must say what was signed. */
    const char *sender = (const char *)sqlite3_column_text(st, TX_SENDER);
    mkt_address_format(from, x);
    if (sqlite3_column_type(st, TX_SENDER) != SQLITE_TEXT || !sender || strcmp(sender, x)) {
        snprintf(reason, rsize, "sender column \"%.60s\" differs from the signed from %s",
                 sender ? sender : "", x);
        goto done;
    }
    const char *action_col = (const char *)sqlite3_column_text(st, TX_ACTION);
    if (sqlite3_column_type(st, TX_ACTION) != SQLITE_TEXT || !action_col ||
        strcmp(action_col, mkt_action_name(a))) {
        snprintf(reason, rsize, "action column \"%.40s\" differs from the signed action %s",
                 action_col ? action_col : "", mkt_action_name(a));
        goto done;
    }
    if (sqlite3_column_type(st, TX_NONCE) != SQLITE_INTEGER ||
        sqlite3_column_int64(st, TX_NONCE) != nonce) {
        snprintf(reason, rsize, "nonce column differs from the signed nonce %lld",
                 (long long)nonce);
        goto done;
    }
    struct vparty *p;
    if (a == MKT_ACT_GENESIS) {
        if (v->have_genesis || seq != 1) {
            snprintf(reason, rsize, "genesis that is not the first transaction");
            goto done;
        }
        if (!(p = vadd(v, from, MKT_ROLE_OPERATOR))) {
            bad = SIM_ENOMEM;
            goto done;
        }
        v->have_genesis = 1;
        memcpy(v->operator_addr, from, 20);
    } else {
        if (!v->have_genesis) {
            snprintf(reason, rsize, "the ledger does not start with a genesis");
            goto done;
        }
        if (!(p = vfind(v, from))) {
            snprintf(reason, rsize, "signer is not a participant");
            goto done;
        }
    }
    if (!mkt_role_may(p->role, a)) {
        snprintf(reason, rsize, "%s is not allowed for the %s role", action_s,
                 mkt_role_name(p->role));
        goto done;
    }
    if (nonce != p->nonce) {
        snprintf(reason, rsize, "nonce %lld where %lld was expected", (long long)nonce,
                 (long long)p->nonce);
        goto done;
    }
    p->nonce++;
    if (a == MKT_ACT_PARTICIPANT_ADD) {
        uint8_t addr[20];
        const char *role_s;
        enum mkt_role role;
        if (mkt__get_addr(root, "address", addr, &e2) || mkt__get_str(root, "role", &role_s, &e2)) {
            snprintf(reason, rsize, "%.180s", e2.msg);
            goto done;
        }
        if (!strcmp(role_s, "DSO"))
            role = MKT_ROLE_DSO;
        else if (!strcmp(role_s, "FSP"))
            role = MKT_ROLE_FSP;
        else {
            snprintf(reason, rsize, "role: unknown role");
            goto done;
        }
        if (vfind(v, addr)) {
            snprintf(reason, rsize, "address: already a participant");
            goto done;
        }
        if (!vadd(v, addr, role)) {
            bad = SIM_ENOMEM;
            goto done;
        }
    }
    bad = 0;
done:
    cJSON_Delete(root);
    return bad;
}

static void fail(struct mkt_verify_report *rep, int64_t height, int64_t seq, int idx,
                 const char *why)
{
    if (!rep->ok)
        return;
    rep->ok = 0;
    rep->bad_height = height;
    rep->bad_tx_seq = seq;
    rep->bad_tx_index = idx;
    snprintf(rep->reason, sizeof rep->reason, "%s", why);
}

/* The first column of the block row st whose value is not the one its
 * signed header states, or NULL when all agree. */
static const char *block_column_vs_header(sqlite3_stmt *st, const char *header)
{
    cJSON *h = cJSON_Parse(header);
    const char *bad = "header";
    struct sim_err e2;
    int64_t height, n_tx, t;
    const char *merkle, *prev, *sealer;
    char mcol[67] = "", pcol[67] = "";
    if (!h || mkt__get_int(h, "height", &height, &e2) || mkt__get_int(h, "n_tx", &n_tx, &e2) ||
        mkt__get_int(h, "t_us", &t, &e2) || mkt__get_str(h, "merkle_root", &merkle, &e2) ||
        mkt__get_str(h, "prev_hash", &prev, &e2) || mkt__get_str(h, "sealer", &sealer, &e2))
        goto out;
    if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) != height) {
        bad = "height";
        goto out;
    }
    if (sqlite3_column_type(st, 1) != SQLITE_INTEGER || sqlite3_column_int64(st, 1) != t) {
        bad = "t_us";
        goto out;
    }
    if (sqlite3_column_type(st, 2) == SQLITE_BLOB && sqlite3_column_bytes(st, 2) == 32)
        hex(sqlite3_column_blob(st, 2), 32, pcol);
    if (strcmp(pcol, prev)) {
        bad = "prev_hash";
        goto out;
    }
    if (sqlite3_column_type(st, 3) == SQLITE_BLOB && sqlite3_column_bytes(st, 3) == 32)
        hex(sqlite3_column_blob(st, 3), 32, mcol);
    if (strcmp(mcol, merkle)) {
        bad = "merkle_root";
        goto out;
    }
    if (sqlite3_column_type(st, 4) != SQLITE_INTEGER || sqlite3_column_int64(st, 4) != n_tx) {
        bad = "n_tx";
        goto out;
    }
    const char *s = (const char *)sqlite3_column_text(st, 5);
    if (sqlite3_column_type(st, 5) != SQLITE_TEXT || !s || strcmp(s, sealer)) {
        bad = "sealer";
        goto out;
    }
    /* Every field agrees: the header must also be their canonical text. */
    uint8_t m[32], p[32];
    memcpy(m, sqlite3_column_blob(st, 3), 32);
    memcpy(p, sqlite3_column_blob(st, 2), 32);
    char want[512];
    block_header(height, m, n_tx, p, s, t, want, sizeof want);
    bad = strcmp(want, header) ? "header" : NULL;
out:
    cJSON_Delete(h);
    return bad;
}

/* First pass: the blocks by height. Fills *out (caller frees) and *nb. */
static int verify_blocks(sqlite3 *db, struct mkt_verify_report *rep, struct vblock **out,
                         size_t *nb, struct sim_err *err)
{
    sqlite3_stmt *st;
    int rc = mkt__stmt(db, &st, err,
                       "SELECT height, t_us, prev_hash, merkle_root, n_tx, sealer, header, sig,"
                       " hash FROM mkt_blocks ORDER BY height",
                       "");
    if (rc)
        return rc;
    struct vblock *b = NULL;
    size_t n = 0, cap = 0;
    uint8_t prev[32] = {0};
    sim_time_us prev_t = INT64_MIN;
    char why[200];
    while (rep->ok && sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        if (h != (int64_t)n) {
            snprintf(why, sizeof why,
                     "block height %lld where %lld was expected (a block is missing or "
                     "renumbered)",
                     (long long)h, (long long)n);
            fail(rep, h, -1, -1, why);
            break;
        }
        const char *header = (const char *)sqlite3_column_text(st, 6);
        uint8_t bhash[32], signer[20];
        struct sim_err e2;
        if (!header || sqlite3_column_type(st, 6) != SQLITE_TEXT) {
            fail(rep, h, -1, -1, "the block has no header text");
            break;
        }
        mkt_keccak256(header, strlen(header), bhash);
        if (sqlite3_column_type(st, 8) != SQLITE_BLOB || sqlite3_column_bytes(st, 8) != 32 ||
            memcmp(sqlite3_column_blob(st, 8), bhash, 32)) {
            fail(rep, h, -1, -1, "stored block hash differs from the hash of its header");
            break;
        }
        if (sqlite3_column_type(st, 7) != SQLITE_BLOB ||
            sqlite3_column_bytes(st, 7) != MKT_SIG_LEN ||
            mkt_recover_signer(header, strlen(header), sqlite3_column_blob(st, 7), signer, &e2)) {
            fail(rep, h, -1, -1, "block signature does not verify");
            break;
        }
        const char *col = block_column_vs_header(st, header);
        if (col) {
            snprintf(why, sizeof why, "%s differs from the signed header", col);
            fail(rep, h, -1, -1, why);
            break;
        }
        char sa[MKT_ADDR_STRLEN];
        if (strcmp((const char *)sqlite3_column_text(st, 5), mkt_address_format(signer, sa))) {
            fail(rep, h, -1, -1, "block signature is not the sealer's");
            break;
        }
        if (memcmp(sqlite3_column_blob(st, 2), prev, 32)) {
            fail(rep, h, -1, -1,
                 h ? "prev_hash does not link to the previous block's hash"
                   : "prev_hash of the first block is not zero");
            break;
        }
        sim_time_us t = sqlite3_column_int64(st, 1);
        if (t < prev_t) {
            fail(rep, h, -1, -1, "block time goes backwards");
            break;
        }
        int64_t n_tx = sqlite3_column_int64(st, 4);
        if (n_tx < 1) {
            fail(rep, h, -1, -1, "a block without transactions");
            break;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            struct vblock *nbk = realloc(b, nc * sizeof *nbk);
            if (!nbk) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                break;
            }
            b = nbk;
            cap = nc;
        }
        b[n] = (struct vblock){.height = h, .t = t, .n_tx = n_tx};
        memcpy(b[n].merkle, sqlite3_column_blob(st, 3), 32);
        memcpy(b[n].signer, signer, 20);
        n++;
        memcpy(prev, bhash, 32);
        prev_t = t;
    }
    mkt__finish(st);
    rep->blocks = (int64_t)n;
    *out = b;
    *nb = n;
    return rc;
}

int mkt_ledger_verify(sqlite3 *db, struct mkt_verify_report *rep, struct sim_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->ok = 1;
    rep->bad_height = -1;
    rep->bad_tx_seq = -1;
    rep->bad_tx_index = -1;
    int64_t total = 0;
    struct sim_err e1;
    int rc = mkt__sql_int(db, &total, &e1, "SELECT count(*) FROM mkt_tx", "");
    if (rc == SIM_ENOENT || (!rc && total == 0))
        return sim_errf(err, SIM_EINVAL, "the database holds no market ledger");
    if (rc)
        return sim_errf(err, rc, "the database holds no market ledger (%s)", e1.msg);

    struct verifier v = {.next_seq = 1};
    struct vblock *blk = NULL;
    size_t nb = 0;
    sqlite3_stmt *tst = NULL;
    uint8_t *leaves = NULL;
    size_t cap = 0;
    char reason[200];
    if ((rc = verify_blocks(db, rep, &blk, &nb, err)) || !rep->ok)
        goto out;
    if ((rc = mkt__prepare(db, TX_COLS, &tst, err)))
        goto out;

    /* Second pass: the transactions by seq. Block b's next one has index
     * k; past the last block every transaction is pending. */
    size_t b = 0;
    int64_t k = 0;
    while (rep->ok && sqlite3_step(tst) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(tst, TX_SEQ);
        int in_block = b < nb;
        int64_t h = in_block ? blk[b].height : -1;
        int bt = sqlite3_column_type(tst, TX_BLOCK), it = sqlite3_column_type(tst, TX_IDX);
        rep->txs++;
        if (seq != v.next_seq) {
            snprintf(reason, sizeof reason,
                     "sequence %lld where %lld was expected (a transaction is missing or "
                     "renumbered)",
                     (long long)seq, (long long)v.next_seq);
            fail(rep, h, seq, in_block ? (int)k : -1, reason);
            break;
        }
        v.next_seq++;
        if (in_block) {
            if (bt != SQLITE_INTEGER || it != SQLITE_INTEGER ||
                sqlite3_column_int64(tst, TX_BLOCK) != h ||
                sqlite3_column_int64(tst, TX_IDX) != k) {
                snprintf(
                    reason, sizeof reason,
                    "stored at block %s index %s, where the signed blocks put it at block "
                    "%lld index %lld",
                    bt == SQLITE_NULL ? "(none)" : (const char *)sqlite3_column_text(tst, TX_BLOCK),
                    it == SQLITE_NULL ? "(none)" : (const char *)sqlite3_column_text(tst, TX_IDX),
                    (long long)h, (long long)k);
                fail(rep, h, seq, (int)k, reason);
                break;
            }
            if (sqlite3_column_int64(tst, TX_T) > blk[b].t) {
                fail(rep, h, seq, (int)k, "transaction is later than its block");
                break;
            }
        } else {
            rep->pending++;
            if (bt != SQLITE_NULL || it != SQLITE_NULL) {
                fail(rep, -1, seq, -1,
                     "assigned to a block position, but the signed blocks hold it in none");
                break;
            }
        }
        if (in_block && (size_t)k == cap) {
            size_t nc = cap ? 2 * cap : 64;
            uint8_t *l = realloc(leaves, nc * 32);
            if (!l) {
                rc = sim_errf(err, SIM_ENOMEM, "out of memory");
                goto out;
            }
            leaves = l;
            cap = nc;
        }
        uint8_t hash[32];
        int bad = verify_tx(&v, tst, in_block ? leaves + 32 * k : hash, reason, sizeof reason);
        if (bad < 0) {
            rc = sim_errf(err, bad, "out of memory");
            goto out;
        }
        if (bad) {
            fail(rep, h, seq, in_block ? (int)k : -1, reason);
            break;
        }
        if (!in_block || ++k < blk[b].n_tx)
            continue;
        /* The block is complete: its root and its sealer. */
        uint8_t root[32];
        mkt_merkle_root(leaves, (size_t)k, root);
        if (memcmp(root, blk[b].merkle, 32)) {
            fail(rep, h, -1, -1, "Merkle root does not match the block's transactions");
            break;
        }
        if (memcmp(blk[b].signer, v.operator_addr, 20)) {
            fail(rep, h, -1, -1, "sealer is not the genesis operator");
            break;
        }
        b++;
        k = 0;
    }
    if (rep->ok && b < nb) {
        snprintf(reason, sizeof reason,
                 "the ledger holds %lld of the %lld transactions the block's header counts",
                 (long long)k, (long long)blk[b].n_tx);
        fail(rep, blk[b].height, -1, -1, reason);
    }
    /* Third pass: the market state is what the ledger makes it. */
    if (rep->ok) {
        struct mkt_replay_report rr;
        if ((rc = mkt_ledger_replay(db, &rr, err)))
            goto out;
        rep->state_rows = rr.rows;
        if (!rr.ok)
            fail(rep, -1, -1, -1, rr.reason);
        else
            rep->state_ok = 1;
    }
out:
    mkt__finish(tst);
    free(leaves);
    free(blk);
    free(v.p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Replay                                                              */
/* ------------------------------------------------------------------ */

/* One value of a row as text for a message. */
static void value_text(sqlite3_stmt *st, int col, char *out, size_t n)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        snprintf(out, n, "NULL");
        break;
    case SQLITE_INTEGER:
        snprintf(out, n, "%lld", (long long)sqlite3_column_int64(st, col));
        break;
    case SQLITE_FLOAT:
        snprintf(out, n, "%.17g", sqlite3_column_double(st, col));
        break;
    case SQLITE_TEXT:
        snprintf(out, n, "\"%.60s\"", (const char *)sqlite3_column_text(st, col));
        break;
    default:
        snprintf(out, n, "a %d-byte blob", sqlite3_column_bytes(st, col));
        break;
    }
}

static int same_value(sqlite3_stmt *a, sqlite3_stmt *b, int col)
{
    int t = sqlite3_column_type(a, col);
    if (t != sqlite3_column_type(b, col))
        return 0;
    switch (t) {
    case SQLITE_NULL:
        return 1;
    case SQLITE_INTEGER:
        return sqlite3_column_int64(a, col) == sqlite3_column_int64(b, col);
    case SQLITE_FLOAT:
        return sqlite3_column_double(a, col) == sqlite3_column_double(b, col);
    default: {
        int n = sqlite3_column_bytes(a, col);
        const void *pa = sqlite3_column_blob(a, col), *pb = sqlite3_column_blob(b, col);
        return n == sqlite3_column_bytes(b, col) && (n == 0 || !memcmp(pa, pb, (size_t)n));
    }
    }
}

/* A reason text, cut to fit (long keys and values are cut, not refused). */
static void reasonf(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reasonf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/*
 * Compare every column of every row of every market state table of db
 * with mem, where the ledger was replayed. The tables are all mkt_ tables
 * but the ledger itself and the refusal log (which nothing signs), so a
 * table added later is covered. On the first difference fill reason and
 * return 1; *rows counts the rows compared.
 */
static int compare_state(sqlite3 *db, sqlite3 *mem, int64_t *rows, char *reason, size_t rsize,
                         struct sim_err *err)
{
    sqlite3_stmt *tabs = NULL, *a = NULL, *b = NULL;
    int rc = mkt__stmt(mem, &tabs, err,
                       "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'mkt\\_%'"
                       " ESCAPE '\\' AND name NOT IN ('mkt_tx','mkt_blocks','mkt_refusals')"
                       " ORDER BY name",
                       "");
    if (rc)
        return rc;
    int differ = 0;
    enum { MAXCOL = 64 };
    while (!rc && !differ && sqlite3_step(tabs) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(tabs, 0);
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", t);
        if ((rc = mkt__prepare(mem, sql, &b, err)))
            break;
        int nc = sqlite3_column_count(b);
        /* A database written by an earlier flexbed lacks the tables and
         * columns added since. Its rows are compared on the columns it
         * has; for a column it lacks, the ledger's value must be the one
         * that column means "as before" (NULL or 0), and for a table it
         * lacks the ledger must make no rows. Dropping a column or a table
         * therefore hides nothing the ledger says. */
        int missing[MAXCOL] = {0}, have = 0, stored = 0;
        char cols[2048] = "", names[2048] = "", tsql[200];
        size_t len = 0;
        /* the database's own columns, once: ",a,b,c," */
        sqlite3_stmt *ti = NULL;
        snprintf(tsql, sizeof tsql,
                 "SELECT count(*), ',' || group_concat(name, ',') || ',' FROM pragma_table_info('%s')",
                 t);
        if (sqlite3_prepare_v2(db, tsql, -1, &ti, NULL) == SQLITE_OK &&
            sqlite3_step(ti) == SQLITE_ROW) {
            stored = sqlite3_column_int(ti, 0);
            const char *v = (const char *)sqlite3_column_text(ti, 1);
            snprintf(names, sizeof names, "%s", v ? v : "");
        }
        sqlite3_finalize(ti);
        for (int c = 0; c < nc && c < MAXCOL; c++) {
            const char *name = sqlite3_column_name(b, c);
            char probe[80];
            snprintf(probe, sizeof probe, ",%s,", name);
            int present = strstr(names, probe) != NULL;
            missing[c] = !present;
            have += present;
            len += (size_t)snprintf(cols + len, len < sizeof cols ? sizeof cols - len : 0,
                                    "%s%s%s%s", c ? ", " : "", present ? "\"" : "NULL",
                                    present ? name : "", present ? "\"" : "");
        }
        if (nc > MAXCOL || len >= sizeof cols) {
            rc = sim_errf(err, SIM_EINVAL, "state table %s: too many columns to compare", t);
            break;
        }
        if (stored == 0) {
            /* no such table: the ledger must make none of its rows */
            if (sqlite3_step(b) == SQLITE_ROW) {
                char key[80];
                value_text(b, 0, key, sizeof key);
                reasonf(reason, rsize,
                        "state table %s is missing from the database, and the ledger makes its "
                        "row %s=%s",
                        t, sqlite3_column_name(b, 0), key);
                differ = 1;
            }
            mkt__finish(b);
            b = NULL;
            continue;
        }
        if (stored != have) {
            reasonf(reason, rsize,
                    "state table %s has %d columns of which the market knows %d: a column was "
                    "added",
                    t, stored, have);
            differ = 1;
            mkt__finish(b);
            b = NULL;
            break;
        }
        char asql[2300];
        snprintf(asql, sizeof asql, "SELECT %s FROM \"%s\" ORDER BY 1", cols, t);
        if (sqlite3_prepare_v2(db, asql, -1, &a, NULL) != SQLITE_OK) {
            reasonf(reason, rsize, "state table %s cannot be read (%s)", t, sqlite3_errmsg(db));
            differ = 1;
            break;
        }
        while (!differ) {
            int ra = sqlite3_step(a), rb = sqlite3_step(b);
            if (ra != SQLITE_ROW && ra != SQLITE_DONE) {
                rc = sim_errf(err, SIM_EIO, "%s: %s", t, sqlite3_errmsg(db));
                break;
            }
            if (ra == SQLITE_DONE && rb == SQLITE_DONE)
                break;
            char key[80], va[80], vb[80];
            if (ra == SQLITE_ROW && rb == SQLITE_ROW) {
                (*rows)++;
                value_text(a, 0, key, sizeof key);
                if (!same_value(a, b, 0)) {
                    value_text(b, 0, vb, sizeof vb);
                    reasonf(reason, rsize,
                            "%s: row %s is stored where the ledger makes row %s (a row added, "
                            "removed or renumbered)",
                            t, key, vb);
                    differ = 1;
                    break;
                }
                for (int c = 1; c < nc; c++) {
                    if (missing[c]) {
                        int t2 = sqlite3_column_type(b, c);
                        if (t2 == SQLITE_NULL ||
                            (t2 == SQLITE_INTEGER && sqlite3_column_int64(b, c) == 0))
                            continue;
                        value_text(b, c, vb, sizeof vb);
                        reasonf(reason, rsize,
                                "%s row %s=%s: %s is not in the database, the ledger makes it %s",
                                t, sqlite3_column_name(b, 0), key, sqlite3_column_name(b, c), vb);
                        differ = 1;
                        break;
                    }
                    if (!same_value(a, b, c)) {
                        value_text(a, c, va, sizeof va);
                        value_text(b, c, vb, sizeof vb);
                        reasonf(reason, rsize,
                                "%s row %s=%s: %s is stored as %s, the ledger makes it %s", t,
                                sqlite3_column_name(b, 0), key, sqlite3_column_name(b, c), va, vb);
                        differ = 1;
                        break;
                    }
                }
            } else if (ra == SQLITE_ROW) {
                value_text(a, 0, key, sizeof key);
                reasonf(reason, rsize, "%s row %s=%s is stored, but no transaction makes it", t,
                        sqlite3_column_name(a, 0), key);
                differ = 1;
            } else {
                value_text(b, 0, key, sizeof key);
                reasonf(reason, rsize, "%s row %s=%s, which the ledger makes, is not stored", t,
                        sqlite3_column_name(b, 0), key);
                differ = 1;
            }
        }
        mkt__finish(a);
        mkt__finish(b);
        a = b = NULL;
    }
    mkt__finish(tabs);
    return rc ? rc : differ;
}

int mkt_ledger_replay(sqlite3 *db, struct mkt_replay_report *rep, struct sim_err *err)
{
    memset(rep, 0, sizeof *rep);
    sqlite3 *mem = NULL;
    mkt_engine *e = NULL;
    sqlite3_stmt *st = NULL, *cmp = NULL;
    int rc;
    if (sqlite3_open(":memory:", &mem) != SQLITE_OK) {
        rc = sim_errf(err, SIM_ENOMEM, "replay: cannot open an in-memory database");
        goto out;
    }
    if ((rc = mkt_engine_new(mem, &e, err)) ||
        (rc = mkt__stmt(db, &st, err, "SELECT seq, t_us, json, sig FROM mkt_tx ORDER BY seq", "")))
        goto out;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *json = (const char *)sqlite3_column_text(st, 2);
        if (sqlite3_column_bytes(st, 3) != MKT_SIG_LEN || !json) {
            snprintf(rep->reason, sizeof rep->reason, "transaction %lld: no signature or JSON",
                     (long long)seq);
            goto out;
        }
        struct sim_err e2;
        if (mkt_submit(e, json, sqlite3_column_blob(st, 3), sqlite3_column_int64(st, 1), NULL,
                       &e2)) {
            snprintf(rep->reason, sizeof rep->reason, "transaction %lld refused on replay: %.200s",
                     (long long)seq, e2.msg);
            goto out;
        }
        rep->txs++;
    }
    if (r != SQLITE_DONE) {
        rc = sim_errf(err, SIM_EIO, "replay: %s", sqlite3_errmsg(db));
        goto out;
    }

    /* Every column of every state table, the first difference named by
     * table, row and column; then, as a second view of the same, every
     * wallet and the money totals. */
    int d = compare_state(db, mem, &rep->rows, rep->reason, sizeof rep->reason, err);
    if (d < 0) {
        rc = d;
        goto out;
    }
    if (d)
        goto out;
    if ((rc = mkt__stmt(db, &cmp, err, "SELECT address, balance_ueur FROM mkt_participants", "")))
        goto out;
    while ((r = sqlite3_step(cmp)) == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(cmp, 0);
        int64_t want = sqlite3_column_int64(cmp, 1), got = 0;
        struct sim_err e2;
        rep->participants++;
        if (mkt__sql_int(mem, &got, &e2,
                         "SELECT balance_ueur FROM mkt_participants WHERE address=?", "s", a)) {
            snprintf(rep->reason, sizeof rep->reason, "wallet %s is not in the replayed ledger", a);
            goto out;
        }
        if (got != want) {
            snprintf(rep->reason, sizeof rep->reason,
                     "wallet %s: stored %lld ueur, replayed %lld ueur", a, (long long)want,
                     (long long)got);
            goto out;
        }
    }
    int64_t n_mem = 0, w1, e1, d1, w2, e2v, d2;
    if ((rc = mkt__sql_int(mem, &n_mem, err, "SELECT count(*) FROM mkt_participants", "")))
        goto out;
    if (n_mem != rep->participants) {
        snprintf(rep->reason, sizeof rep->reason, "replay has %lld participants, the database %lld",
                 (long long)n_mem, (long long)rep->participants);
        goto out;
    }
    mkt_engine tmp = {.db = db};
    if ((rc = mkt_money_totals(&tmp, &w1, &e1, &d1, err)) ||
        (rc = mkt_money_totals(e, &w2, &e2v, &d2, err)))
        goto out;
    if (w1 != w2 || e1 != e2v || d1 != d2) {
        snprintf(rep->reason, sizeof rep->reason,
                 "money totals differ: stored wallets/escrow/deposited %lld/%lld/%lld, "
                 "replayed %lld/%lld/%lld",
                 (long long)w1, (long long)e1, (long long)d1, (long long)w2, (long long)e2v,
                 (long long)d2);
        goto out;
    }
    rep->ok = 1;
out:
    mkt__finish(st);
    mkt__finish(cmp);
    mkt_engine_free(e);
    if (mem)
        sqlite3_close(mem);
    return rc;
}
