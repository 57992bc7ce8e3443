/*
 * cmd_ledger.c: `flexbed ledger verify DB` and `flexbed ledger replay DB`,
 * thin wrappers around mkt_ledger_verify and mkt_ledger_replay
 * (docs/market.md, "How to verify"). The database is opened read-only;
 * the verdict goes to stdout (text or JSON), the exit status says it:
 * 0 verified, 1 verification failed, 2 bad input (no such file, not a
 * database, no market ledger in it).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../market/market.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: flexbed ledger verify DB [--format text|json]\n"
          "       flexbed ledger replay DB [--format text|json]\n"
          "\n"
          "verify  re-check every transaction of the market ledger in DB (canonical\n"
          "        JSON, signature, low s, signer = from, role, nonce, hash, and the\n"
          "        sender, action, nonce and block position columns) and every\n"
          "        block (height, link to the previous block, time, Merkle root, header,\n"
          "        hash, operator signature); then replay the ledger and compare every\n"
          "        column of every market state table (wallets, offers, matches,\n"
          "        deliveries, settlements, ...) with DB's. Name the first block,\n"
          "        transaction or state row that does not verify, and why.\n"
          "replay  re-apply the ledger from genesis to an empty market and compare every\n"
          "        state table, every wallet and the money totals with DB's: the state is\n"
          "        a function of the ledger.\n"
          "\n"
          "  --format F   text (default) or json\n"
          "\n"
          "Exit status: 0 verified, 1 verification failed, 2 bad input (not a database,\n"
          "no ledger).\n",
          f);
}

static void print_json(cJSON *o)
{
    char *t = o ? cJSON_Print(o) : NULL;
    if (t)
        puts(t);
    cJSON_free(t);
    cJSON_Delete(o);
}

static void add_i64(cJSON *o, const char *name, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, t);
}

static int do_verify(sqlite3 *db, const char *path, int json)
{
    struct mkt_verify_report rep;
    struct sim_err err = {{0}};
    int rc = mkt_ledger_verify(db, &rep, &err);
    if (rc) {
        fprintf(stderr, "flexbed ledger verify: %s: %s\n", path, err.msg);
        return CLI_USAGE;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "database", path);
        cJSON_AddBoolToObject(o, "ok", rep.ok);
        add_i64(o, "blocks", rep.blocks);
        add_i64(o, "transactions", rep.txs);
        add_i64(o, "pending", rep.pending);
        add_i64(o, "state_rows", rep.state_rows);
        if (!rep.ok) {
            add_i64(o, "bad_height", rep.bad_height);
            add_i64(o, "bad_tx_seq", rep.bad_tx_seq);
            add_i64(o, "bad_tx_index", rep.bad_tx_index);
            cJSON_AddStringToObject(o, "reason", rep.reason);
        }
        print_json(o);
    } else if (rep.ok) {
        printf("ledger OK: %lld blocks and %lld transactions checked (%lld pending, not yet "
               "in a block); the market state (%lld rows) is what they make it\n",
               (long long)rep.blocks, (long long)rep.txs, (long long)rep.pending,
               (long long)rep.state_rows);
    } else {
        char where[128];
        if (rep.bad_height >= 0 && rep.bad_tx_seq >= 0)
            snprintf(where, sizeof where, "block %lld, transaction %lld (index %d in the block)",
                     (long long)rep.bad_height, (long long)rep.bad_tx_seq, rep.bad_tx_index);
        else if (rep.bad_height >= 0)
            snprintf(where, sizeof where, "block %lld", (long long)rep.bad_height);
        else if (rep.bad_tx_seq >= 0)
            snprintf(where, sizeof where, "pending transaction %lld", (long long)rep.bad_tx_seq);
        else
            snprintf(where, sizeof where, "the ledger");
        printf("ledger verification FAILED at %s: %s\n", where, rep.reason);
    }
    return rep.ok ? CLI_OK : CLI_FAIL;
}

static int do_replay(sqlite3 *db, const char *path, int json)
{
    /* mkt_ledger_replay of an empty or absent ledger would compare nothing. */
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM mkt_tx", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (n <= 0) {
        if (n < 0)
            fprintf(stderr, "flexbed ledger replay: %s: the database holds no market ledger (%s)\n",
                    path, sqlite3_errmsg(db));
        else
            fprintf(stderr, "flexbed ledger replay: %s: the database holds no market ledger\n",
                    path);
        return CLI_USAGE;
    }
    struct mkt_replay_report rep;
    struct sim_err err = {{0}};
    int rc = mkt_ledger_replay(db, &rep, &err);
    if (rc) {
        fprintf(stderr, "flexbed ledger replay: %s: %s\n", path, err.msg);
        return rc == SIM_ENOMEM ? CLI_FAIL : CLI_USAGE;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "database", path);
        cJSON_AddBoolToObject(o, "ok", rep.ok);
        add_i64(o, "transactions", rep.txs);
        add_i64(o, "participants", rep.participants);
        if (!rep.ok)
            cJSON_AddStringToObject(o, "reason", rep.reason);
        print_json(o);
    } else if (rep.ok) {
        printf("replay OK: %lld transactions replayed, %lld wallets and the escrow match\n",
               (long long)rep.txs, (long long)rep.participants);
    } else {
        printf("replay FAILED after %lld transactions: %s\n", (long long)rep.txs, rep.reason);
    }
    return rep.ok ? CLI_OK : CLI_FAIL;
}

int cmd_ledger(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "json"))
                json = 1;
            else if (!strcmp(optarg, "text"))
                json = 0;
            else {
                fprintf(stderr, "flexbed ledger: --format: expected text or json, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 2) {
        fputs(argc - optind < 2 ? "flexbed ledger: expected verify|replay and DB\n"
                                : "flexbed ledger: too many arguments\n",
              stderr);
        usage(stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[optind], *path = argv[optind + 1];
    int verify = !strcmp(sub, "verify");
    if (!verify && strcmp(sub, "replay")) {
        fprintf(stderr, "flexbed ledger: unknown subcommand \"%s\" (verify or replay)\n", sub);
        return CLI_USAGE;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "flexbed ledger %s: %s: %s\n", sub, path,
                db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return CLI_USAGE;
    }
    sqlite3_busy_timeout(db, 5000);
    int ec = verify ? do_verify(db, path, json) : do_replay(db, path, json);
    sqlite3_close(db);
    return ec;
}
