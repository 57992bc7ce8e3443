/*
 * store.c: the SQLite result store a run writes as it goes.
 *
 * The schema (docs/results.md) is created here: meta, runs, signals,
 * samples, events, and the device journal that record and replay use.
 * Writes go through statements prepared once at open, in one transaction
 * that is opened lazily by the first write and committed every `batch`
 * rows, on res_flush, res_run_end and res_store_close. So an interrupted
 * run leaves every committed batch readable and consistent, and
 * the hot path (res_samples) is bind, step, reset: no allocation of ours.
 *
 * samples is a plain rowid table without an index while a run writes,
 * because appending to one B-tree is what makes a million rows per second
 * possible; the (signal_id, t_us) index readers want is built by
 * res_run_end (and, as insurance, by res_store_close).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define RES_DEFAULT_BATCH 50000

struct res_store {
    sqlite3 *db;
    int readonly;
    int batch;   /* commit after this many rows */
    int pending; /* rows written in the open transaction */
    sqlite3_stmt *begin, *commit;
    sqlite3_stmt *ins_sample, *ins_event, *ins_signal, *ins_run, *upd_run;
    sqlite3_stmt *ins_journal;
    /* Statistics of the current run's signals, ids acc_base .. acc_base +
     * nacc - 1 (signals of one run are added back to back); acc_off when
     * they were not, and then the report aggregates instead. */
    struct sig_acc {
        int64_t n, nv;
        double min, max, sum, comp; /* Neumaier-compensated sum */
    } * acc;
    int64_t acc_base;
    int nacc, acc_cap, acc_off;
    char path[]; /* as given to res_store_open */
};

/* The schema. Other modules (market, ledger) add their own tables through
 * res_store_db() with CREATE TABLE IF NOT EXISTS; nothing here assumes
 * these are the only tables. samples has no foreign key on purpose: the
 * parent lookup per row would cost a third of the write rate. */
static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE runs(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  scenario_name TEXT NOT NULL,\n"
    "  scenario_path TEXT,\n"
    "  scenario_text TEXT,\n"
    "  seed INTEGER NOT NULL,\n"
    "  flexbed_version TEXT NOT NULL,\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  sim_start_us INTEGER NOT NULL,\n"
    "  sim_end_us INTEGER NOT NULL,\n"
    "  step_us INTEGER NOT NULL,\n"
    "  sim_reached_us INTEGER,\n"
    "  utc_offset_s INTEGER NOT NULL DEFAULT 0,\n"
    "  status TEXT NOT NULL DEFAULT 'running'\n"
    "    CHECK (status IN ('running','completed','interrupted','failed')),\n"
    "  message TEXT,\n"
    "  variant TEXT NOT NULL DEFAULT 'main');\n"
    "CREATE TABLE signals(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  name TEXT NOT NULL,\n"
    "  unit TEXT NOT NULL,\n"
    "  component TEXT,\n"
    "  UNIQUE(run_id, name));\n"
    "CREATE TABLE samples(\n"
    "  signal_id INTEGER NOT NULL,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  value REAL);\n"
    "CREATE TABLE events(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  component TEXT,\n"
    "  kind TEXT NOT NULL,\n"
    "  severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 2),\n"
    "  value REAL,\n"
    "  message TEXT);\n"
    "CREATE INDEX events_run_t ON events(run_id, t_us);\n";

/* The device journal (record and replay, docs/hil.md). Created with IF NOT
 * EXISTS at every writable open, so a database written before journaling
 * existed gains it when a run is appended; the schema version stays 1 (a
 * new table is invisible to older readers). Clustered on (run_id, seq):
 * the order a replay reads it in. */
/* Per-signal statistics, accumulated while the samples are written and
 * stored at the run's end, so a report of millions of samples reads one
 * row per signal (older databases, and runs that never ended, are
 * aggregated over the samples instead). */
static const char stats_table_sql[] =
    "CREATE TABLE IF NOT EXISTS signal_stats(\n"
    "  signal_id INTEGER PRIMARY KEY REFERENCES signals(id) ON DELETE CASCADE,\n"
    "  samples INTEGER NOT NULL, vals INTEGER NOT NULL,\n"
    "  min REAL, mean REAL, max REAL)";

static const char journal_sql[] =
    "CREATE TABLE IF NOT EXISTS journal(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  component TEXT NOT NULL,\n"
    "  direction TEXT NOT NULL CHECK (direction IN ('in','out')),\n"
    "  channel TEXT NOT NULL,\n"
    "  value REAL,\n"
    "  text TEXT,\n"
    "  PRIMARY KEY (run_id, seq)) WITHOUT ROWID";

static const char index_sql[] =
    "CREATE INDEX IF NOT EXISTS samples_signal_t ON samples(signal_id, t_us, value)";

const char *res_status_name(enum res_status st)
{
    switch (st) {
    case RES_RUNNING:
        return "running";
    case RES_COMPLETED:
        return "completed";
    case RES_INTERRUPTED:
        return "interrupted";
    case RES_FAILED:
        return "failed";
    }
    return "unknown";
}

sqlite3 *res_store_db(res_store *s)
{
    return s ? s->db : NULL;
}

const char *res_store_path(const res_store *s)
{
    return s->path;
}

char *res_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void res_set_batch(res_store *s, int rows)
{
    if (s)
        s->batch = rows >= 1 ? rows : 1;
}

static int db_fail(res_store *s, int code, const char *what, struct sim_err *err)
{
    return sim_errf(err, code, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(res_store *s, const char *sql, const char *what, struct sim_err *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, SIM_EIO, what, err);
    return 0;
}

/* Wall clock as ISO 8601 UTC text: the only wall-clock value stored. */
static void wall_now(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The connection's own state is the truth about the transaction: modules
 * that share it (res_store_db) may have opened or committed one. A write
 * joins whatever transaction is open, and a commit with none open is a
 * no-op. */
static int tx_begin(res_store *s, struct sim_err *err)
{
    if (!sqlite3_get_autocommit(s->db))
        return 0;
    int rc = sqlite3_step(s->begin);
    sqlite3_reset(s->begin);
    if (rc != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "begin transaction", err);
    s->pending = 0;
    return 0;
}

static int tx_commit(res_store *s, struct sim_err *err)
{
    if (sqlite3_get_autocommit(s->db)) {
        s->pending = 0;
        return 0;
    }
    int rc = sqlite3_step(s->commit);
    sqlite3_reset(s->commit);
    if (rc != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "commit", err);
    s->pending = 0;
    return 0;
}

int res_flush(res_store *s, struct sim_err *err)
{
    if (!s || s->readonly)
        return 0;
    return tx_commit(s, err);
}

/* Delete path and its WAL companions (RES_OPEN_CREATE). */
static int remove_db_files(const char *path, struct sim_err *err)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char buf[PATH_MAX];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        if ((size_t)snprintf(buf, sizeof buf, "%s%s", path, suffix[i]) >= sizeof buf)
            return sim_errf(err, SIM_EINVAL, "%s: path too long", path);
        if (unlink(buf) != 0 && errno != ENOENT)
            return sim_errf(err, SIM_EIO, "%s: cannot replace: %s", buf, strerror(errno));
    }
    return 0;
}

/* A clear message when the directory that should hold path is missing. */
static int check_parent_dir(const char *path, struct sim_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    char dir[PATH_MAX];
    size_t n = (size_t)(slash - path);
    if (n == 0)
        return 0;
    if (n >= sizeof dir)
        return sim_errf(err, SIM_EINVAL, "%s: path too long", path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    struct stat st;
    if (stat(dir, &st) != 0)
        return sim_errf(err, SIM_EIO, "%s: directory %s does not exist", path, dir);
    if (!S_ISDIR(st.st_mode))
        return sim_errf(err, SIM_EIO, "%s: %s is not a directory", path, dir);
    return 0;
}

/* Is this a flexbed database? Distinguishes "not SQLite at all", "SQLite
 * but someone else's", "empty" (*empty = 1) and "too new". */
static int check_flexbed(res_store *s, int *empty, struct sim_err *err)
{
    sqlite3_stmt *st = NULL;
    *empty = 0;
    int rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int ext = sqlite3_errcode(s->db);
        sqlite3_finalize(st);
        if (ext == SQLITE_NOTADB)
            return sim_errf(err, SIM_EINVAL,
                            "%s: not a flexbed result database (not an SQLite file)", s->path);
        return db_fail(s, SIM_EIO, "cannot read", err);
    }
    int ntables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (ntables == 0) {
        *empty = 1;
        return 0;
    }
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT (SELECT value FROM meta WHERE key = 'application'),"
                            " (SELECT value FROM meta WHERE key = 'schema_version')",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return sim_errf(err, SIM_EINVAL,
                        "%s: not a flexbed result database (SQLite, but no meta table)", s->path);
    }
    rc = sqlite3_step(st);
    const char *app = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 1) : 0;
    if (!app || strcmp(app, "flexbed") != 0) {
        sqlite3_finalize(st);
        return sim_errf(err, SIM_EINVAL,
                        "%s: not a flexbed result database (meta.application is not 'flexbed')",
                        s->path);
    }
    sqlite3_finalize(st);
    if (version < 1 || version > RES_SCHEMA_VERSION)
        return sim_errf(err, SIM_EINVAL,
                        "%s: result schema version %d, this flexbed reads versions 1 to %d",
                        s->path, version, RES_SCHEMA_VERSION);
    return 0;
}

/* RES_OPEN_CREATE replaces a result database, but a mistyped --out must not
 * wipe a scenario file or someone's other database: an existing non-empty
 * file is replaced only when it is a flexbed result database. */
static int check_replaceable(const char *path, struct sim_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0; /* missing: nothing to replace */
    if (S_ISDIR(st.st_mode))
        return sim_errf(err, SIM_EINVAL, "%s: is a directory, not a result database", path);
    if (st.st_size == 0)
        return 0;
    res_store *old = NULL;
    struct sim_err e;
    int rc = res_store_open(path, RES_OPEN_READ, &old, &e);
    res_store_close(old);
    if (rc == SIM_EINVAL)
        return sim_errf(err, SIM_EINVAL, "%s; refusing to replace it", e.msg);
    if (rc)
        return sim_errf(err, rc, "%s", e.msg);
    return 0;
}

static int create_schema(res_store *s, struct sim_err *err)
{
    int rc = exec(s, "BEGIN", "create schema", err);
    if (rc)
        return rc;
    if ((rc = exec(s, schema_sql, "create schema", err)))
        goto fail;
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES ('application', 'flexbed'),"
             " ('schema_version', '%d'), ('created_by', 'flexbed %s')",
             RES_SCHEMA_VERSION, FLEXBED_VERSION);
    if ((rc = exec(s, sql, "create schema", err)))
        goto fail;
    return exec(s, "COMMIT", "create schema", err);
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int prepare(res_store *s, const char *sql, sqlite3_stmt **st, struct sim_err *err)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return db_fail(s, SIM_EIO, "prepare", err);
    return 0;
}

static int prepare_writes(res_store *s, struct sim_err *err)
{
    int rc;
    if ((rc = prepare(s, "BEGIN IMMEDIATE", &s->begin, err)) ||
        (rc = prepare(s, "COMMIT", &s->commit, err)) ||
        (rc = prepare(s, "INSERT INTO samples(signal_id, t_us, value) VALUES (?, ?, ?)",
                      &s->ins_sample, err)) ||
        (rc = prepare(s,
                      "INSERT INTO events(run_id, t_us, component, kind, severity, value, "
                      "message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      &s->ins_event, err)) ||
        (rc = prepare(s, "INSERT INTO signals(run_id, name, unit, component) VALUES (?, ?, ?, ?)",
                      &s->ins_signal, err)) ||
        (rc = prepare(s,
                      "INSERT INTO journal(run_id, seq, t_us, component, direction, channel, "
                      "value, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      &s->ins_journal, err)) ||
        (rc = prepare(s,
                      "INSERT INTO runs(scenario_name, scenario_path, scenario_text, seed, "
                      "flexbed_version, started_at, sim_start_us, sim_end_us, step_us, "
                      "utc_offset_s, variant, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                      "'running')",
                      &s->ins_run, err)) ||
        (rc = prepare(s,
                      "UPDATE runs SET status = ?, sim_reached_us = ?, finished_at = ?, "
                      "message = ? WHERE id = ?",
                      &s->upd_run, err)))
        return rc;
    return 0;
}

int res_store_open(const char *path, enum res_open_mode mode, res_store **out, struct sim_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return sim_errf(err, SIM_EINVAL, "result database: empty path");
    if (mode != RES_OPEN_READ && mode != RES_OPEN_CREATE && mode != RES_OPEN_APPEND)
        return sim_errf(err, SIM_EINVAL, "%s: bad open mode %d", path, (int)mode);
    int rc;
    struct stat st;
    if (mode == RES_OPEN_READ) {
        if (stat(path, &st) != 0)
            return sim_errf(err, SIM_EIO, "%s: cannot open result database: %s", path,
                            strerror(errno));
        if (S_ISDIR(st.st_mode))
            return sim_errf(err, SIM_EINVAL, "%s: is a directory, not a result database", path);
    } else {
        if ((rc = check_parent_dir(path, err)))
            return rc;
        if (mode == RES_OPEN_CREATE && (rc = check_replaceable(path, err)))
            return rc;
        if (mode == RES_OPEN_CREATE && (rc = remove_db_files(path, err)))
            return rc;
    }

    size_t len = strlen(path);
    res_store *s = calloc(1, sizeof *s + len + 1);
    if (!s)
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
    memcpy(s->path, path, len + 1);
    s->readonly = mode == RES_OPEN_READ;
    s->batch = RES_DEFAULT_BATCH;

    /* A reader opens read-write when it may (it never writes): as the
     * last connection it then checkpoints the WAL and removes the -wal and
     * -shm files on close instead of leaving them beside the database. A
     * file it may not write is opened read-only. */
    int flags = s->readonly ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (s->readonly && access(path, W_OK) != 0)
        flags = SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = s->db ? db_fail(s, SIM_EIO, "cannot open", err)
                   : sim_errf(err, SIM_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 0);
    /* Another process (a report during a run) may hold a lock briefly. */
    sqlite3_busy_timeout(s->db, 5000);

    int empty = 0;
    if ((rc = check_flexbed(s, &empty, err)))
        goto fail;
    if (s->readonly && empty) {
        rc = sim_errf(err, SIM_EINVAL, "%s: not a flexbed result database (empty file)", path);
        goto fail;
    }
    if (!s->readonly) {
        /* page_size only takes effect before the first table is written.
         * With `flexbed bench store` 16 KiB pages write as fast as the
         * default 4 KiB and build the samples index about 10% faster
         * (docs/results.md). */
        if (empty && (rc = exec(s, "PRAGMA page_size = 16384", "set page size", err)))
            goto fail;
        if ((rc = exec(s,
                       "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                       " PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;"
                       " PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384",
                       "configure", err)))
            goto fail;
        if (empty && (rc = create_schema(s, err)))
            goto fail;
        if ((rc = exec(s, journal_sql, "create the journal table", err)) ||
            (rc = exec(s, stats_table_sql, "create the signal_stats table", err)))
            goto fail;
        if ((rc = prepare_writes(s, err)))
            goto fail;
    } else {
        if ((rc = exec(s,
                       "PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;"
                       " PRAGMA temp_store = MEMORY",
                       "configure", err)))
            goto fail;
    }
    *out = s;
    return 0;
fail:
    res_store_close(s);
    return rc;
}

/*
 * A full disk must not leave a run marked "running" or "completed": a run
 * database keeps a 1 MB ballast file beside it (DB-reserve) while runs are
 * written; when the end of a run cannot be written for want of space, the
 * ballast is removed and the run marked failed with the reason.
 */
static void ballast_path(const res_store *s, char *out, size_t n)
{
    snprintf(out, n, "%s-reserve", s->path);
}

static void ballast_make(res_store *s)
{
    char p[PATH_MAX + 16];
    ballast_path(s, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return; /* there already, or no room: nothing to keep */
    int ok = posix_fallocate(fd, 0, 1 << 20) == 0;
    close(fd);
    if (!ok)
        unlink(p);
}

/* Remove the ballast; 1 if there was one to give back. */
static int ballast_free(res_store *s)
{
    char p[PATH_MAX + 16];
    ballast_path(s, p, sizeof p);
    return unlink(p) == 0;
}

void res_store_close(res_store *s)
{
    if (!s)
        return;
    if (!s->readonly && s->db) {
        tx_commit(s, NULL);
        /* A run that never reached res_run_end still gets its index. */
        if (s->begin)
            sqlite3_exec(s->db, index_sql, NULL, NULL, NULL);
        ballast_free(s);
    }
    free(s->acc);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->ins_sample);
    sqlite3_finalize(s->ins_event);
    sqlite3_finalize(s->ins_signal);
    sqlite3_finalize(s->ins_run);
    sqlite3_finalize(s->upd_run);
    sqlite3_finalize(s->ins_journal);
    sqlite3_close(s->db);
    free(s);
}

static int check_writable(res_store *s, const char *what, struct sim_err *err)
{
    if (!s)
        return sim_errf(err, SIM_EINVAL, "%s: no result store", what);
    if (s->readonly)
        return sim_errf(err, SIM_ESTATE, "%s: %s: database opened read-only", s->path, what);
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Step a bound insert/update and reset it; returns the sqlite code. */
static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int res_run_begin(res_store *s, const struct res_run_info *info, int64_t *run_id,
                  struct sim_err *err)
{
    int rc = check_writable(s, "run begin", err);
    if (rc)
        return rc;
    if (!info || !info->scenario_name)
        return sim_errf(err, SIM_EINVAL, "%s: run begin: no scenario name", s->path);
    ballast_make(s);
    s->nacc = 0;
    s->acc_off = 0;
    if ((rc = tx_begin(s, err)))
        return rc;
    char started[32];
    wall_now(started, sizeof started);
    sqlite3_stmt *st = s->ins_run;
    bind_text(st, 1, info->scenario_name);
    bind_text(st, 2, info->scenario_path);
    bind_text(st, 3, info->scenario_text);
    /* uint64 seeds above INT64_MAX are stored as their two's complement. */
    sqlite3_bind_int64(st, 4, (sqlite3_int64)info->seed);
    bind_text(st, 5, info->version ? info->version : FLEXBED_VERSION);
    bind_text(st, 6, started);
    sqlite3_bind_int64(st, 7, info->sim_start);
    sqlite3_bind_int64(st, 8, info->sim_end);
    sqlite3_bind_int64(st, 9, info->step);
    sqlite3_bind_int(st, 10, info->utc_offset_s);
    bind_text(st, 11, info->variant ? info->variant : "main");
    if (step_reset(st) != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "insert run", err);
    if (run_id)
        *run_id = sqlite3_last_insert_rowid(s->db);
    /* Committed at once: even a run killed before its first batch leaves
     * its runs row (status 'running') behind. */
    return tx_commit(s, err);
}

int res_signal_add(res_store *s, int64_t run_id, const char *name, const char *unit,
                   const char *component, int64_t *signal_id, struct sim_err *err)
{
    int rc = check_writable(s, "add signal", err);
    if (rc)
        return rc;
    if (!name || !*name)
        return sim_errf(err, SIM_EINVAL, "%s: add signal: empty name", s->path);
    if ((rc = tx_begin(s, err)))
        return rc;
    sqlite3_stmt *st = s->ins_signal;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, name);
    bind_text(st, 3, unit ? unit : "");
    bind_text(st, 4, component);
    rc = step_reset(st);
    if (rc == SQLITE_CONSTRAINT) {
        if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
            return sim_errf(err, SIM_ENOENT, "%s: signal %s: no run %lld", s->path, name,
                            (long long)run_id);
        return sim_errf(err, SIM_EEXIST, "%s: signal %s of run %lld: already recorded", s->path,
                        name, (long long)run_id);
    }
    if (rc != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "insert signal", err);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    if (signal_id)
        *signal_id = id;
    s->pending++;
    /* the accumulator, allocated here at set-up, never per sample */
    if (s->nacc == 0)
        s->acc_base = id;
    if (id != s->acc_base + s->nacc) {
        s->acc_off = 1;
    } else if (!s->acc_off) {
        if (s->nacc == s->acc_cap) {
            int nc = s->acc_cap ? 2 * s->acc_cap : 64;
            struct sig_acc *a = realloc(s->acc, (size_t)nc * sizeof *a);
            if (!a)
                return sim_errf(err, SIM_ENOMEM, "%s: out of memory", s->path);
            s->acc = a;
            s->acc_cap = nc;
        }
        s->acc[s->nacc++] = (struct sig_acc){.min = INFINITY, .max = -INFINITY};
    }
    return 0;
}

int res_samples(res_store *s, sim_time_us t, const int64_t *ids, const double *values, int n,
                struct sim_err *err)
{
    int rc = check_writable(s, "write samples", err);
    if (rc)
        return rc;
    if (n <= 0 || !ids || !values)
        return n == 0 ? 0 : sim_errf(err, SIM_EINVAL, "%s: write samples: bad arguments", s->path);
    if ((rc = tx_begin(s, err)))
        return rc;
    sqlite3_stmt *st = s->ins_sample;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_int64(st, 2, t);
        /* NaN cannot be stored as REAL: SQLite turns it into NULL. */
        sqlite3_bind_double(st, 3, values[i]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return db_fail(s, SIM_EIO, "insert sample", err);
        int64_t k = ids[i] - s->acc_base;
        if (k >= 0 && k < s->nacc) {
            struct sig_acc *a = &s->acc[k];
            double v = values[i];
            a->n++;
            if (!isnan(v)) {
                a->nv++;
                a->min = v < a->min ? v : a->min;
                a->max = v > a->max ? v : a->max;
                double t = a->sum + v; /* Neumaier */
                a->comp += fabs(a->sum) >= fabs(v) ? (a->sum - t) + v : (v - t) + a->sum;
                a->sum = t;
            }
        }
    }
    s->pending += n;
    /* Commit at an instant's boundary so a batch never splits an instant. */
    if (s->pending >= s->batch)
        return tx_commit(s, err);
    return 0;
}

int res_event(res_store *s, int64_t run_id, sim_time_us t, const char *component, const char *kind,
              int severity, double value, const char *message, struct sim_err *err)
{
    int rc = check_writable(s, "write event", err);
    if (rc)
        return rc;
    if (!kind || !*kind)
        return sim_errf(err, SIM_EINVAL, "%s: event without a kind", s->path);
    if (severity < 0 || severity > 2)
        return sim_errf(err, SIM_EINVAL, "%s: event %s: severity %d not in 0..2", s->path, kind,
                        severity);
    if ((rc = tx_begin(s, err)))
        return rc;
    sqlite3_stmt *st = s->ins_event;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, t);
    bind_text(st, 3, component);
    bind_text(st, 4, kind);
    sqlite3_bind_int(st, 5, severity);
    sqlite3_bind_double(st, 6, value);
    bind_text(st, 7, message);
    rc = step_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return sim_errf(err, SIM_ENOENT, "%s: event %s: no run %lld", s->path, kind,
                        (long long)run_id);
    if (rc != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "insert event", err);
    if (++s->pending >= s->batch)
        return tx_commit(s, err);
    return 0;
}

int res_journal(res_store *s, int64_t run_id, int64_t seq, sim_time_us t, const char *component,
                enum sim_journal_dir dir, const char *channel, double value, const char *text,
                struct sim_err *err)
{
    int rc = check_writable(s, "write journal", err);
    if (rc)
        return rc;
    if (!component || !*component || !channel || !*channel ||
        (dir != SIM_JOURNAL_IN && dir != SIM_JOURNAL_OUT))
        return sim_errf(err, SIM_EINVAL,
                        "%s: journal entry without a component, channel or "
                        "direction",
                        s->path);
    if ((rc = tx_begin(s, err)))
        return rc;
    sqlite3_stmt *st = s->ins_journal;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int64(st, 3, t);
    bind_text(st, 4, component);
    bind_text(st, 5, dir == SIM_JOURNAL_IN ? "in" : "out");
    bind_text(st, 6, channel);
    sqlite3_bind_double(st, 7, value); /* NaN is stored as NULL */
    bind_text(st, 8, text);
    rc = step_reset(st);
    if (rc == SQLITE_CONSTRAINT) {
        if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
            return sim_errf(err, SIM_ENOENT, "%s: journal: no run %lld", s->path,
                            (long long)run_id);
        return sim_errf(err, SIM_EEXIST, "%s: journal: entry %lld of run %lld already written",
                        s->path, (long long)seq, (long long)run_id);
    }
    if (rc != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "insert journal entry", err);
    if (++s->pending >= s->batch)
        return tx_commit(s, err);
    return 0;
}

/* The current run's signal statistics into signal_stats, in one
 * transaction (nothing when they could not be kept). */
static int write_stats(res_store *s, int64_t run_id, struct sim_err *err)
{
    if (s->acc_off || s->nacc == 0)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = exec(s, "BEGIN", "write signal statistics", err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT OR REPLACE INTO signal_stats(signal_id, samples, vals, min, mean,"
            " max) SELECT ?1, ?2, ?3, ?4, ?5, ?6 FROM signals WHERE id = ?1 AND"
            " run_id = ?7",
            -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(s, SIM_EIO, "write signal statistics", err);
    for (int k = 0; !rc && k < s->nacc; k++) {
        const struct sig_acc *a = &s->acc[k];
        sqlite3_bind_int64(st, 1, s->acc_base + k);
        sqlite3_bind_int64(st, 2, a->n);
        sqlite3_bind_int64(st, 3, a->nv);
        if (a->nv) {
            sqlite3_bind_double(st, 4, a->min);
            sqlite3_bind_double(st, 5, (a->sum + a->comp) / (double)a->nv);
            sqlite3_bind_double(st, 6, a->max);
        } else {
            sqlite3_bind_null(st, 4);
            sqlite3_bind_null(st, 5);
            sqlite3_bind_null(st, 6);
        }
        sqlite3_bind_int64(st, 7, run_id);
        if (step_reset(st) != SQLITE_DONE)
            rc = db_fail(s, SIM_EIO, "write signal statistics", err);
    }
    sqlite3_finalize(st);
    if (!rc)
        return exec(s, "COMMIT", "write signal statistics", err);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Mark the run's end; on failure the transaction is rolled back. */
static int mark_end(res_store *s, int64_t run_id, enum res_status st, sim_time_us reached,
                    const char *message, struct sim_err *err)
{
    int rc;
    if ((rc = tx_begin(s, err)))
        return rc;
    char finished[32];
    wall_now(finished, sizeof finished);
    sqlite3_stmt *u = s->upd_run;
    bind_text(u, 1, res_status_name(st));
    if (reached == SIM_TIME_NEVER)
        sqlite3_bind_null(u, 2);
    else
        sqlite3_bind_int64(u, 2, reached);
    bind_text(u, 3, finished);
    bind_text(u, 4, message);
    sqlite3_bind_int64(u, 5, run_id);
    if (step_reset(u) != SQLITE_DONE)
        rc = db_fail(s, SIM_EIO, "update run", err);
    else if (sqlite3_changes(s->db) != 1)
        rc = sim_errf(err, SIM_ENOENT, "%s: run end: no run %lld", s->path, (long long)run_id);
    else
        rc = tx_commit(s, err);
    if (rc && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->pending = 0;
    return rc;
}

int res_run_end(res_store *s, int64_t run_id, enum res_status st, sim_time_us reached,
                const char *message, struct sim_err *err)
{
    int rc = check_writable(s, "run end", err);
    if (rc)
        return rc;
    if ((int)st < RES_RUNNING || (int)st > RES_FAILED)
        return sim_errf(err, SIM_EINVAL, "%s: run end: bad status %d", s->path, (int)st);
    /* What is pending first, and a completed run's index before the run
     * is marked: when either cannot be written (a full disk), the run is
     * marked failed with the reason, not completed. */
    struct sim_err first = {{0}};
    int frc = tx_commit(s, &first);
    if (!frc)
        frc = write_stats(s, run_id, &first);
    if (!frc && st == RES_COMPLETED)
        frc = exec(s, index_sql, "build samples index", &first);
    if (frc) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        st = RES_FAILED;
        message = first.msg;
    }
    rc = mark_end(s, run_id, st, reached, message, err);
    if (rc && ballast_free(s)) {
        /* room again: say why the run failed */
        if (!frc)
            first = *err;
        frc = frc ? frc : rc;
        rc = mark_end(s, run_id, RES_FAILED, reached, first.msg, err);
    }
    if (rc)
        return rc;
    if (frc)
        return sim_errf(err, frc, "%s", first.msg);
    if (st != RES_COMPLETED) /* an interrupted or failed run still gets its index */
        return exec(s, index_sql, "build samples index", err);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading runs back (shared by report.c and plot.c)                   */
/* ------------------------------------------------------------------ */

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? strdup((const char *)v) : NULL;
}

void res_runs_free(struct res_run_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].scenario_name);
        free(rows[i].scenario_path);
        free(rows[i].version);
        free(rows[i].started_at);
        free(rows[i].finished_at);
        free(rows[i].status);
        free(rows[i].message);
        free(rows[i].variant);
    }
    free(rows);
}

int res_runs_load(res_store *s, struct res_run_row **rows, int *n, struct sim_err *err)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, scenario_name, scenario_path, flexbed_version, started_at,"
                           " finished_at, status, message, seed, sim_start_us, sim_end_us,"
                           " step_us, sim_reached_us, utc_offset_s, variant FROM runs ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, SIM_EIO, "read runs", err);
    struct res_run_row *v = NULL;
    int count = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            int ncap = cap ? cap * 2 : 8;
            struct res_run_row *nv = realloc(v, (size_t)ncap * sizeof *nv);
            if (!nv) {
                rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", s->path);
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        struct res_run_row *r = &v[count++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->scenario_name = col_dup(st, 1);
        r->scenario_path = col_dup(st, 2);
        r->version = col_dup(st, 3);
        r->started_at = col_dup(st, 4);
        r->finished_at = col_dup(st, 5);
        r->status = col_dup(st, 6);
        r->message = col_dup(st, 7);
        r->seed = (uint64_t)sqlite3_column_int64(st, 8);
        r->sim_start = sqlite3_column_int64(st, 9);
        r->sim_end = sqlite3_column_int64(st, 10);
        r->step = sqlite3_column_int64(st, 11);
        r->sim_reached = sqlite3_column_type(st, 12) == SQLITE_NULL ? SIM_TIME_NEVER
                                                                    : sqlite3_column_int64(st, 12);
        r->utc_offset_s = sqlite3_column_int(st, 13);
        r->variant = col_dup(st, 14);
        if (!r->scenario_name || !r->version || !r->started_at || !r->status || !r->variant) {
            rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", s->path);
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(s, SIM_EIO, "read runs", err);
        goto fail;
    }
    sqlite3_finalize(st);
    *rows = v;
    *n = count;
    return 0;
fail:
    sqlite3_finalize(st);
    res_runs_free(v, count);
    return rc;
}

const char *res_severity_name(int severity)
{
    switch (severity) {
    case 0:
        return "info";
    case 1:
        return "warning";
    case 2:
        return "alarm";
    }
    return "unknown";
}

void res_signals_free(struct res_signal_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].name);
        free(rows[i].unit);
        free(rows[i].component);
    }
    free(rows);
}

static double col_real_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int res_signals_load(res_store *s, int64_t run_id, int with_stats, struct res_signal_row **rows,
                     int *n, struct sim_err *err)
{
    *rows = NULL;
    *n = 0;
    /* With the (signal_id, t_us) index this visits each signal's samples
     * once; without it (a run killed before res_run_end, read-only) SQLite
     * builds a transient index for the join. */
    static const char stats_sql[] =
        "SELECT g.id, g.name, g.unit, g.component, count(x.signal_id), count(x.value),"
        " min(x.value), avg(x.value), max(x.value)"
        " FROM signals g LEFT JOIN samples x ON x.signal_id = g.id"
        " WHERE g.run_id = ?1 GROUP BY g.id ORDER BY g.id";
    /* Stored statistics where the run has them (signal_stats), else the
     * aggregate of that signal's samples. */
    static const char stored_sql[] =
        "SELECT g.id, g.name, g.unit, g.component, t.samples, t.vals, t.min, t.mean, t.max"
        " FROM signals g LEFT JOIN signal_stats t ON t.signal_id = g.id"
        " WHERE g.run_id = ?1 ORDER BY g.id";
    static const char one_sql[] = "SELECT count(*), count(value), min(value), avg(value),"
                                  " max(value) FROM samples WHERE signal_id = ?1";
    static const char plain_sql[] =
        "SELECT id, name, unit, component FROM signals WHERE run_id = ?1 ORDER BY id";
    sqlite3_stmt *st = NULL, *one = NULL;
    int stored = with_stats && sqlite3_prepare_v2(s->db, stored_sql, -1, &st, NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(s->db, one_sql, -1, &one, NULL) == SQLITE_OK;
    if (with_stats && !stored) {
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!st &&
        sqlite3_prepare_v2(s->db, with_stats ? stats_sql : plain_sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, SIM_EIO, "read signals", err);
    sqlite3_bind_int64(st, 1, run_id);
    struct res_signal_row *v = NULL;
    int count = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            int ncap = cap ? cap * 2 : 16;
            struct res_signal_row *nv = realloc(v, (size_t)ncap * sizeof *nv);
            if (!nv) {
                rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", s->path);
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        struct res_signal_row *r = &v[count++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->name = col_dup(st, 1);
        r->unit = col_dup(st, 2);
        r->component = col_dup(st, 3);
        r->min = r->mean = r->max = NAN;
        if (with_stats) {
            sqlite3_stmt *from = st;
            int col = 4;
            if (stored && sqlite3_column_type(st, 4) == SQLITE_NULL) {
                sqlite3_reset(one);
                sqlite3_bind_int64(one, 1, r->id);
                if (sqlite3_step(one) != SQLITE_ROW) {
                    rc = db_fail(s, SIM_EIO, "read samples", err);
                    goto fail;
                }
                from = one;
                col = 0;
            }
            r->samples = sqlite3_column_int64(from, col);
            r->values = sqlite3_column_int64(from, col + 1);
            r->min = col_real_or_nan(from, col + 2);
            r->mean = col_real_or_nan(from, col + 3);
            r->max = col_real_or_nan(from, col + 4);
        }
        if (!r->name || !r->unit || (!r->component && sqlite3_column_type(st, 3) != SQLITE_NULL)) {
            rc = sim_errf(err, SIM_ENOMEM, "%s: out of memory", s->path);
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(s, SIM_EIO, "read signals", err);
        goto fail;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(one);
    *rows = v;
    *n = count;
    return 0;
fail:
    sqlite3_finalize(st);
    sqlite3_finalize(one);
    res_signals_free(v, count);
    return rc;
}

void res_fmt_double(double v, char *buf, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* ------------------------------------------------------------------ */
/* Reading a run's journal back for a replay                           */
/* ------------------------------------------------------------------ */

static int has_table(res_store *s, const char *name)
{
    sqlite3_stmt *st = NULL;
    int yes = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        yes = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return yes;
}

int res_journal_load(res_store *s, int64_t run_id, sim_recording *rec, long *count,
                     struct sim_err *err)
{
    if (count)
        *count = 0;
    if (!s || !rec)
        return sim_errf(err, SIM_EINVAL, "journal load: no store or no recording");
    if (!has_table(s, "journal"))
        return 0; /* written before journaling: an empty journal */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT t_us, component, direction, channel, value, text FROM journal"
                           " WHERE run_id = ? ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, SIM_EIO, "read journal", err);
    sqlite3_bind_int64(st, 1, run_id);
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *comp = (const char *)sqlite3_column_text(st, 1);
        const char *dir = (const char *)sqlite3_column_text(st, 2);
        const char *chan = (const char *)sqlite3_column_text(st, 3);
        const char *text = (const char *)sqlite3_column_text(st, 5);
        if (!comp || !dir || !chan) {
            sqlite3_finalize(st);
            return sim_errf(err, SIM_EINVAL,
                            "%s: journal of run %lld: entry %ld has no "
                            "component, direction or channel",
                            s->path, (long long)run_id, n + 1);
        }
        int r = sim_recording_add(rec, sqlite3_column_int64(st, 0), comp,
                                  !strcmp(dir, "out") ? SIM_JOURNAL_OUT : SIM_JOURNAL_IN, chan,
                                  col_real_or_nan(st, 4), text);
        if (r) {
            sqlite3_finalize(st);
            return sim_errf(err, r, "%s: journal of run %lld: %s", s->path, (long long)run_id,
                            r == SIM_ENOMEM ? "out of memory" : "bad entry");
        }
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(s, SIM_EIO, "read journal", err);
    if (count)
        *count = n;
    return 0;
}

void res_recorded_run_clear(struct res_recorded_run *r)
{
    if (!r)
        return;
    free(r->scenario_path);
    free(r->scenario_text);
    free(r->variant);
    memset(r, 0, sizeof *r);
}

int res_recorded_run(res_store *s, struct res_recorded_run *out, struct sim_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    /* The first run that is not a counterfactual: 'main' for a run with a
     * market, 'market-off' with --no-market, 'replay' for a replay. */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, scenario_path, scenario_text, seed, variant, status"
                           " FROM runs WHERE variant <> 'counterfactual' ORDER BY id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, SIM_EIO, "read runs", err);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return db_fail(s, SIM_EIO, "read runs", err);
        return sim_errf(err, SIM_ENOENT, "%s: no recorded run to replay", s->path);
    }
    out->id = sqlite3_column_int64(st, 0);
    out->scenario_path = col_dup(st, 1);
    out->scenario_text = col_dup(st, 2);
    out->seed = (uint64_t)sqlite3_column_int64(st, 3);
    out->variant = col_dup(st, 4);
    const char *status = (const char *)sqlite3_column_text(st, 5);
    snprintf(out->status, sizeof out->status, "%s", status ? status : "");
    sqlite3_finalize(st);
    if (!out->variant) {
        res_recorded_run_clear(out);
        return sim_errf(err, SIM_ENOMEM, "%s: out of memory", s->path);
    }
    if (!out->scenario_text) {
        int64_t id = out->id;
        res_recorded_run_clear(out);
        return sim_errf(err, SIM_EINVAL, "%s: run %lld has no scenario text to replay", s->path,
                        (long long)id);
    }
    if (has_table(s, "journal")) {
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM journal WHERE run_id = ?", -1, &st,
                               NULL) != SQLITE_OK) {
            res_recorded_run_clear(out);
            return db_fail(s, SIM_EIO, "read journal", err);
        }
        sqlite3_bind_int64(st, 1, out->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            out->journal_rows = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return 0;
}
