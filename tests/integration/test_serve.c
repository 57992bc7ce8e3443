/*
 * test_serve.c: `flexbed serve` as a client meets it. Forks the real
 * binary on an ephemeral loopback port with a fresh market database and an
 * operator key, then over plain sockets on 127.0.0.1:
 *
 *   - runs the paper's process through POST /api/tx with wall-clock
 *     windows a few seconds ahead: genesis, participants, deposit, assets
 *     (one signed with `flexbed keygen` / `flexbed sign`), two offers, a
 *     request, match, purchase, deliveries after the window, settlement;
 *   - checks the GET endpoints (offers, requests, matches, dispatch,
 *     balances, market totals: no micro-euro created or lost);
 *   - listens on the websocket channel (raw RFC 6455 handshake) and checks
 *     the match notification names the FSP;
 *   - sends bad input: malformed JSON, oversized body, unknown path, wrong
 *     method, bad signature, wrong role, unknown id, replayed nonce, each a
 *     4xx with a JSON error naming the field;
 *   - seals a block through POST /api/seal (operator only), verifies the
 *     ledger through the API and with `flexbed ledger verify`;
 *   - stops the server with SIGTERM (exit 0: under ASan this also means no
 *     leak), restarts it on the same database and carries on.
 *
 * Every wait is bounded; everything stays on 127.0.0.1 and in a temp dir.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "check.h"
#include "market/fixture.h"
#include "market/market.h"
#include "proc.h"

#define IO_TIMEOUT_MS 10000

static char tmp[128];
static char srvdir[160]; /* the server's stdout/stderr captures, apart from flexbed_run's */
static int port;

/* ------------------------------------------------------------------ */
/* A tiny loopback HTTP/1.1 client                                     */
/* ------------------------------------------------------------------ */

static int connect_local(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

struct resp {
    int status;
    char body[65536];
    cJSON *json; /* parsed body, or NULL */
};

/* One request on its own connection (Connection: close); the body of the
 * answer is read to EOF. Returns the status or -1. */
static int http(const char *method, const char *path, const char *body, size_t body_len,
                struct resp *r)
{
    cJSON_Delete(r->json);
    r->json = NULL;
    r->status = -1;
    r->body[0] = 0;
    int fd = connect_local(port);
    if (fd < 0)
        return -1;
    char hdr[512];
    int n =
        snprintf(hdr, sizeof hdr, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                 method, path, port);
    if (body)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "\r\n");
    static char raw[sizeof r->body + 4096];
    size_t got = 0;
    if (send_all(fd, hdr, (size_t)n) == 0 && (!body || send_all(fd, body, body_len) == 0)) {
        ssize_t k;
        while (got < sizeof raw - 1 && (k = recv(fd, raw + got, sizeof raw - 1 - got, 0)) > 0)
            got += (size_t)k;
    }
    close(fd);
    raw[got] = 0;
    if (sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    const char *b = strstr(raw, "\r\n\r\n");
    snprintf(r->body, sizeof r->body, "%s", b ? b + 4 : "");
    r->json = cJSON_Parse(r->body);
    return r->status;
}

static int get(const char *path, struct resp *r)
{
    return http("GET", path, NULL, 0, r);
}

static int post(const char *path, const char *body, struct resp *r)
{
    return http("POST", path, body, strlen(body), r);
}

static long long jint(const cJSON *o, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(x) ? (long long)x->valuedouble : -999999;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(x) ? x->valuestring : "";
}

/* ------------------------------------------------------------------ */
/* A raw websocket client (RFC 6455): handshake, unmasked server text  */
/* frames in.                                                          */
/* ------------------------------------------------------------------ */

static int ws_open(const char *subprotocol)
{
    int fd = connect_local(port);
    if (fd < 0)
        return -1;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     port, subprotocol);
    char resp[1024];
    size_t got = 0;
    if (send_all(fd, req, (size_t)n) == 0) {
        /* read the handshake answer byte by byte so no frame is swallowed */
        while (got < sizeof resp - 1 && recv(fd, resp + got, 1, 0) == 1) {
            got++;
            resp[got] = 0;
            if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
                break;
        }
    }
    resp[got] = 0;
    if (!strstr(resp, " 101 ") ||
        !strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) { /* RFC 6455's example accept key */
        close(fd);
        return -1;
    }
    return fd;
}

static int read_exact(int fd, unsigned char *b, size_t n, double deadline)
{
    size_t got = 0;
    while (got < n) {
        int left_ms = (int)((deadline - proc_now()) * 1000);
        if (left_ms <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left_ms) <= 0)
            return -1;
        ssize_t k = recv(fd, b + got, n - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Next text message within timeout_s into buf; 0 or -1. */
static int ws_read(int fd, char *buf, size_t cap, double timeout_s)
{
    double deadline = proc_now() + timeout_s;
    for (;;) {
        unsigned char h[2];
        if (read_exact(fd, h, 2, deadline))
            return -1;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            unsigned char e[2];
            if (read_exact(fd, e, 2, deadline))
                return -1;
            len = (uint64_t)e[0] << 8 | e[1];
        } else if (len == 127) {
            unsigned char e[8];
            if (read_exact(fd, e, 8, deadline))
                return -1;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | e[i];
        }
        if (h[1] & 0x80 || len >= cap)
            return -1; /* servers do not mask; we keep messages small */
        if (read_exact(fd, (unsigned char *)buf, (size_t)len, deadline))
            return -1;
        buf[len] = 0;
        if ((h[0] & 0x0f) == 1)
            return 0; /* text; skip control frames */
    }
}

/* Read notifications until one with "event" == ev (and, if fsp is given,
 * that fsp) arrives; returns it parsed, or NULL on timeout. */
static cJSON *ws_wait(int fd, const char *ev, const char *fsp, double timeout_s)
{
    double deadline = proc_now() + timeout_s;
    char buf[4096];
    while (proc_now() < deadline) {
        if (ws_read(fd, buf, sizeof buf, deadline - proc_now()))
            return NULL;
        cJSON *o = cJSON_Parse(buf);
        if (o && !strcmp(jstr(o, "event"), ev) && (!fsp || !strcmp(jstr(o, "fsp"), fsp)))
            return o;
        cJSON_Delete(o);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Signing and submitting                                              */
/* ------------------------------------------------------------------ */

struct party {
    struct mkt_key k;
    char addr[MKT_ADDR_STRLEN];
    long long nonce;
};

static void party_init(struct party *p, const char *label)
{
    struct sim_err err;
    uint8_t a[20];
    memset(p, 0, sizeof *p);
    mkt_key_derive(42, label, &p->k, &err);
    mkt_key_address(&p->k, a, &err);
    mkt_address_format(a, p->addr);
}

/* The POST body for action json signed by p with nonce (no nonce if < 0);
 * malloc'd. */
static char *signed_body(const struct party *p, const char *json, long long nonce)
{
    return fx_signed_body(&p->k, json, nonce);
}

/* Sign with p's next nonce and POST /api/tx; the nonce advances on 200. */
static int submit(struct party *p, const char *json, struct resp *r)
{
    char *body = signed_body(p, json, p->nonce);
    int st = body ? post("/api/tx", body, r) : -1;
    free(body);
    if (st == 200)
        p->nonce++;
    else
        fprintf(stderr, "  (POST %s -> %d %s)\n", json, st, r->body);
    return st;
}

static sim_time_us wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sim_time_us)ts.tv_sec * SIM_US_PER_S + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ */
/* The server process                                                  */
/* ------------------------------------------------------------------ */

static pid_t server_start(const char *db, const char *key)
{
    char *argv[] = {(char *)FLEXBED_BINARY, "serve",     "--http", "0", "--db", (char *)db,
                    "--operator-key",       (char *)key, NULL};
    char outp[256], buf[4096];
    snprintf(outp, sizeof outp, "%s/.stdout", srvdir);
    unlink(outp); /* not the previous run's "listening on" line */
    pid_t pid = proc_start(srvdir, argv);
    double t0 = proc_now();
    port = 0;
    while (pid > 0 && proc_now() - t0 < 20) {
        proc_read_head(outp, buf, sizeof buf);
        const char *p = strstr(buf, "listening on http://127.0.0.1:");
        if (p && sscanf(p, "listening on http://127.0.0.1:%d", &port) == 1)
            return pid;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return -1;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

static void server_stop(pid_t pid, const char *when)
{
    struct proc_result *r = calloc(1, sizeof *r);
    kill(pid, SIGTERM);
    proc_wait(srvdir, pid, 20, r);
    CHECK(r->exit_code == 0, "%s: serve exited %d after SIGTERM; stderr:\n%s", when, r->exit_code,
          r->errs);
    CHECK_STR_CONTAINS(r->out, "stopped after");
    free(r);
}

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Connection hygiene: pipelining, keep-alive, slow and huge clients   */
/* ------------------------------------------------------------------ */

/* Read answers from fd until `want` complete ones have come and the line
 * stays quiet for 300 ms, or `cap` bytes (a server loop), or the deadline.
 * Statuses go to status[] (at most 8). Returns the number of answers, and
 * *bytes the bytes read. */
static int read_answers(int fd, int want, int status[8], size_t cap, double timeout_s,
                        size_t *bytes)
{
    static char buf[1 << 20];
    size_t got = 0, parsed = 0;
    int n = 0;
    double t0 = proc_now(), quiet_since = proc_now();
    struct timeval tv = {0, 100 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < cap && got < sizeof buf - 1 && proc_now() - t0 < timeout_s) {
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (k == 0)
            break;
        if (k > 0) {
            got += (size_t)k;
            buf[got] = 0;
            quiet_since = proc_now();
        } else if (n >= want && proc_now() - quiet_since > 0.3) {
            break;
        }
        for (;;) { /* parse what is complete */
            const char *h = buf + parsed, *end = strstr(h, "\r\n\r\n");
            int st;
            if (!end || sscanf(h, "HTTP/1.%*d %d", &st) != 1)
                break;
            const char *cl = strstr(h, "content-length:"); /* lws writes it so */
            size_t len = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
            if ((size_t)(end + 4 - buf) + len > got)
                break;
            if (n < 8)
                status[n] = st;
            n++;
            parsed = (size_t)(end + 4 - buf) + len;
        }
    }
    *bytes = got;
    return n;
}

static void test_connections(struct party *intruder, const char *db)
{
    struct resp r = {0};
    int status[8] = {0};
    size_t bytes = 0;

    /* A POST with a body and two GETs behind it in one write: three
     * answers in order, each once, and nothing more. */
    int fd = connect_local(port);
    CHECK(fd >= 0, "connect");
    const char *body = "{\"tx\":\"{}\",\"sig\":\"0x00\"}";
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST /api/tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s"
                     "GET /api/market HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /api/participants HTTP/1.1\r\nHost: x\r\n\r\n",
                     strlen(body), body);
    CHECK_INT(send_all(fd, req, (size_t)n), 0);
    int k = read_answers(fd, 3, status, 512 * 1024, 5, &bytes);
    CHECK(k == 3, "pipelined: %d answers in %zu bytes, expected 3", k, bytes);
    CHECK(status[0] == 400 && status[1] == 200 && status[2] == 200, "pipelined: statuses %d %d %d",
          status[0], status[1], status[2]);
    CHECK(bytes < 64 * 1024, "pipelined: %zu bytes answered to three requests", bytes);
    close(fd);

    /* Several requests one after the other on one kept-alive connection. */
    fd = connect_local(port);
    for (int i = 0; i < 3; i++) {
        n = snprintf(req, sizeof req, "GET /api/market HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK_INT(send_all(fd, req, (size_t)n), 0);
        memset(status, 0, sizeof status);
        k = read_answers(fd, 1, status, 256 * 1024, 5, &bytes);
        CHECK(k == 1 && status[0] == 200, "keep-alive request %d: %d answers, status %d", i, k,
              status[0]);
    }
    close(fd);

    /* A client sending its request a byte a second does not hold up the
     * others. */
    int slow = connect_local(port);
    CHECK(slow >= 0, "connect");
    for (int i = 0; i < 3; i++) {
        CHECK_INT(send_all(slow, &"GET /api/market HTTP/1.1\r\n"[i], 1), 0);
        double t0 = proc_now();
        CHECK_INT(get("/api/market", &r), 200);
        CHECK(proc_now() - t0 < 2, "a request waited %.1f s behind a slow client", proc_now() - t0);
        sleep(1);
    }
    close(slow);

    /* Headers far larger than any request needs: refused, server fine. */
    fd = connect_local(port);
    static char huge[40000];
    n = snprintf(huge, sizeof huge, "GET /api/market HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(huge + n, 'a', 32000);
    n += 32000;
    n += snprintf(huge + n, sizeof huge - (size_t)n, "\r\n\r\n");
    send_all(fd, huge, (size_t)n); /* the server may close before all is sent */
    memset(status, 0, sizeof status);
    k = read_answers(fd, 1, status, 64 * 1024, 5, &bytes);
    CHECK(k == 0 || status[0] >= 400, "oversized headers answered %d", status[0]);
    close(fd);
    CHECK_INT(get("/api/market", &r), 200);

    /* A flood of refused transactions: all counted, the table bounded. */
    sqlite3 *h = NULL;
    long long rows0 = -1, rows1 = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(h, "SELECT count(*) FROM mkt_refusals", -1, &st, NULL);
        if (sqlite3_step(st) == SQLITE_ROW)
            rows0 = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    CHECK_INT(get("/api/market", &r), 200);
    long long counted0 = jint(r.json, "refusals");
    double t0 = proc_now();
    int flood = 400;
    for (int i = 0; i < flood; i++) {
        char *b = signed_body(intruder, "{\"action\":\"withdraw\",\"amount_ueur\":1}", i);
        post("/api/tx", b, &r);
        free(b);
    }
    double dt = proc_now() - t0;
    CHECK_INT(r.status, 403);
    if (h) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(h, "SELECT count(*) FROM mkt_refusals", -1, &st, NULL);
        if (sqlite3_step(st) == SQLITE_ROW)
            rows1 = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
    CHECK_INT(get("/api/market", &r), 200);
    CHECK_INT(jint(r.json, "refusals") - counted0, flood);
    long long bound = (long long)(MKT_REFUSAL_BURST + MKT_REFUSAL_RATE * (dt + 1));
    CHECK(rows1 - rows0 <= bound && rows1 - rows0 < flood,
          "%d refusals in %.1f s wrote %lld rows (bound %lld)", flood, dt, rows1 - rows0, bound);
    printf("connections: pipelined and kept-alive answered once each; %d refusals in %.2f s "
           "wrote %lld rows\n",
           flood, dt, rows1 - rows0);
    cJSON_Delete(r.json);
}

static void check_error(struct resp *r, int status, const char *field)
{
    CHECK(r->status == status, "expected %d, got %d: %s", status, r->status, r->body);
    CHECK(r->json && cJSON_IsString(cJSON_GetObjectItem(r->json, "error")),
          "no JSON error in \"%s\"", r->body);
    CHECK_STR_CONTAINS(jstr(r->json, "error"), field);
}

/*
 * kill -9 of `flexbed serve` under a concurrent load of signed
 * transactions (issue 10): two FSP clients, each its own process and
 * connection, submit asset_add actions as fast as they are answered and
 * note every nonce that got a 200; the server is killed outright while
 * they do. Every noted transaction is then in the ledger (a 200 means
 * stored: group commit answers only after the commit), none is there
 * twice, and `flexbed ledger verify` passes (signatures, links, the state
 * replayed and every column compared, money totals included).
 */
static void load_client(struct party *p, const char *log)
{
    FILE *f = fopen(log, "w");
    if (!f)
        _exit(1);
    static struct resp r;
    for (int i = 0; i < 100000; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"action\":\"asset_add\",\"type\":\"battery\",\"name\":\"b%d\","
                 "\"location\":\"bus-1\",\"p_min_w\":-1000,\"p_max_w\":1000,"
                 "\"soc_min_ppm\":0,\"soc_max_ppm\":1000000}",
                 i);
        char *body = signed_body(p, buf, p->nonce);
        int st = body ? post("/api/tx", body, &r) : -1;
        free(body);
        if (st != 200)
            break; /* the server is gone */
        fprintf(f, "%lld\n", p->nonce);
        fflush(f);
        p->nonce++;
    }
    fclose(f);
    _exit(0);
}

static void test_kill9(const char *opkey, struct party *op)
{
    char db[256];
    snprintf(db, sizeof db, "%s/killed.db", tmp);
    pid_t pid = server_start(db, opkey);
    CHECK(pid > 0, "server did not start");
    if (pid <= 0)
        return;
    static struct resp r;
    struct party a, b;
    party_init(&a, "load-a");
    party_init(&b, "load-b");
    op->nonce = 0;
    char buf[512];
    CHECK_INT(submit(op, "{\"action\":\"genesis\",\"name\":\"kill\",\"params\":{}}", &r), 200);
    struct party *fsp[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, sizeof buf,
                 "{\"action\":\"participant_add\",\"address\":\"%s\",\"role\":\"FSP\","
                 "\"name\":\"load %d\"}",
                 fsp[i]->addr, i);
        CHECK_INT(submit(op, buf, &r), 200);
    }
    char log[2][300];
    pid_t kid[2];
    for (int i = 0; i < 2; i++) {
        snprintf(log[i], sizeof log[i], "%s/load-%d.log", tmp, i);
        fflush(NULL);
        kid[i] = fork();
        if (kid[i] == 0)
            load_client(fsp[i], log[i]);
    }
    /* let them run, then kill the server where it happens to be */
    struct timespec ts = {1, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < 2; i++)
        waitpid(kid[i], NULL, 0);

    sqlite3 *h = NULL;
    CHECK_INT(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    long long answered = 0, missing = 0;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(log[i], "r");
        long long nonce;
        while (f && fscanf(f, "%lld", &nonce) == 1) {
            answered++;
            sqlite3_stmt *q = NULL;
            long long n = -1;
            if (sqlite3_prepare_v2(h, "SELECT count(*) FROM mkt_tx WHERE sender=? AND nonce=?", -1,
                                   &q, NULL) == SQLITE_OK) {
                sqlite3_bind_text(q, 1, fsp[i]->addr, -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 2, nonce);
                if (sqlite3_step(q) == SQLITE_ROW)
                    n = sqlite3_column_int64(q, 0);
            }
            sqlite3_finalize(q);
            if (n != 1) {
                missing++;
                CHECK(0, "load %d nonce %lld answered 200 but stored %lld times", i, nonce, n);
            }
        }
        if (f)
            fclose(f);
    }
    sqlite3_close(h);
    printf("kill -9 under load: %lld transactions answered 200, %lld of them missing\n", answered,
           missing);
    CHECK(answered > 10, "the clients got only %lld answers before the kill", answered);
    CHECK_INT(missing, 0);
    static struct proc_result pr;
    flexbed_run(tmp, 120, &pr, "ledger", "verify", db, NULL);
    CHECK(pr.exit_code == 0, "ledger verify after kill -9: exit %d: %s%s", pr.exit_code, pr.out,
          pr.errs);
    /* and the server starts again on it */
    pid = server_start(db, opkey);
    CHECK(pid > 0, "the server does not start again on a killed database");
    if (pid > 0)
        server_stop(pid, "after kill -9");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/flexbed_serve_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(srvdir, sizeof srvdir, "%s/server", tmp);
    mkdir(srvdir, 0700);
    char db[256], opkey[256], fspkey[256], buf[1024];
    snprintf(db, sizeof db, "%s/market.db", tmp);
    snprintf(opkey, sizeof opkey, "%s/operator.key", tmp);
    snprintf(fspkey, sizeof fspkey, "%s/fsp2.key", tmp);
    static struct resp r;
    static struct proc_result pr;
    struct sim_err err;

    struct party op, dso, fsp1, fsp2;
    party_init(&op, "operator");
    party_init(&dso, "dso");
    party_init(&fsp1, "fsp-battery");
    CHECK_INT(mkt_key_save(opkey, &op.k, &err), 0);

    /* fsp2 makes its own key with the command line. */
    flexbed_run(tmp, 30, &pr, "keygen", fspkey, NULL);
    CHECK_INT(pr.exit_code, 0);
    memset(&fsp2, 0, sizeof fsp2);
    sscanf(pr.out, "%42s", fsp2.addr);
    uint8_t a2[20];
    CHECK(mkt_address_parse(fsp2.addr, a2, &err) == 0, "keygen printed \"%s\"", pr.out);
    struct stat st;
    CHECK(stat(fspkey, &st) == 0 && (st.st_mode & 0777) == 0600, "key file mode %o",
          (unsigned)(st.st_mode & 0777));
    CHECK_INT(mkt_key_load(fspkey, &fsp2.k, &err), 0);
    flexbed_run(tmp, 30, &pr, "keygen", fspkey, NULL);
    CHECK(pr.exit_code == 2 || pr.exit_code == 1, "keygen over an existing file exited %d",
          pr.exit_code);

    pid_t pid = server_start(db, opkey);
    CHECK(pid > 0, "server did not start");
    if (pid <= 0) {
        rm_tree(tmp);
        return check_done("test_serve");
    }

    /* ---- before genesis ---- */
    CHECK_INT(get("/api/offers", &r), 200);
    CHECK_STR_CONTAINS(r.body, "\"offers\":[]");
    struct party intruder;
    party_init(&intruder, "intruder");
    char *b = signed_body(&intruder, "{\"action\":\"genesis\",\"name\":\"x\",\"params\":{}}", 0);
    CHECK_INT(post("/api/tx", b, &r), 403); /* the server holds another operator key */
    free(b);

    /* ---- set-up: genesis, participants, money ---- */
    CHECK_INT(submit(&op, "{\"action\":\"genesis\",\"name\":\"flexbed test\",\"params\":{}}", &r),
              200);
    CHECK_INT(jint(r.json, "seq"), 1);
    snprintf(
        buf, sizeof buf,
        "{\"action\":\"participant_add\",\"address\":\"%s\",\"role\":\"DSO\",\"name\":\"DSO\"}",
        dso.addr);
    CHECK_INT(submit(&op, buf, &r), 200);
    snprintf(
        buf, sizeof buf,
        "{\"action\":\"participant_add\",\"address\":\"%s\",\"role\":\"FSP\",\"name\":\"bat\"}",
        fsp1.addr);
    CHECK_INT(submit(&op, buf, &r), 200);
    snprintf(
        buf, sizeof buf,
        "{\"action\":\"participant_add\",\"address\":\"%s\",\"role\":\"FSP\",\"name\":\"v2g\"}",
        fsp2.addr);
    CHECK_INT(submit(&op, buf, &r), 200);
    snprintf(buf, sizeof buf,
             "{\"action\":\"deposit\",\"address\":\"%s\",\"amount_ueur\":10000000}", dso.addr);
    CHECK_INT(submit(&op, buf, &r), 200);
    CHECK_INT(get("/api/participants", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "participants")), 4);

    /* ---- bad input: each a 4xx naming the field ---- */
    CHECK_INT(post("/api/tx", "{\"tx\": \"x\", \"sig\": ", &r), 400);
    check_error(&r, 400, "malformed JSON");
    CHECK_INT(post("/api/tx", "{\"sig\":\"0x00\"}", &r), 400);
    check_error(&r, 400, "tx");
    CHECK_INT(post("/api/tx", "{\"tx\":\"{}\",\"sig\":\"0x1234\"}", &r), 400);
    check_error(&r, 400, "sig");
    {
        size_t n = 100 * 1024;
        char *big = malloc(n + 1);
        memset(big, ' ', n);
        big[n] = 0;
        big[0] = '{';
        big[n - 1] = '}';
        CHECK_INT(http("POST", "/api/tx", big, n, &r), 413);
        check_error(&r, 413, "body");
        free(big);
    }
    CHECK_INT(get("/api/nothing", &r), 404);
    check_error(&r, 404, "path");
    CHECK_INT(get("/api/tx", &r), 405);
    CHECK_INT(get("/api/offers?limit=0", &r), 400);
    check_error(&r, 400, "limit");
    CHECK_INT(get("/api/matches?request=x", &r), 400);
    check_error(&r, 400, "request");
    CHECK_INT(get("/api/balances/0x1234", &r), 400);
    CHECK_INT(get("/api/balances/0x0000000000000000000000000000000000000001", &r), 404);
    /* a signature by someone else than "from" */
    {
        char *body = signed_body(&fsp1, "{\"action\":\"withdraw\",\"amount_ueur\":1}", 0);
        cJSON *o = cJSON_Parse(body);
        cJSON *tx = cJSON_Parse(jstr(o, "tx"));
        cJSON_ReplaceItemInObject(tx, "from", cJSON_CreateString(dso.addr));
        char *t = cJSON_PrintUnformatted(tx), *canon = NULL;
        mkt_canonical_json(t, &canon, &err);
        cJSON_ReplaceItemInObject(o, "tx", cJSON_CreateString(canon));
        char *forged = cJSON_PrintUnformatted(o);
        CHECK_INT(post("/api/tx", forged, &r), 400);
        check_error(&r, 400, "signature");
        cJSON_free(forged);
        cJSON_free(t);
        free(canon);
        cJSON_Delete(tx);
        cJSON_Delete(o);
        free(body);
    }
    /* wrong role: an FSP may not post a request */
    CHECK_INT(submit(&fsp1,
                     "{\"action\":\"request_add\",\"location\":\"bus-7\",\"start_us\":1,"
                     "\"end_us\":2,\"p_w\":-1,\"max_price_ueur_per_kwh\":1}",
                     &r),
              403);
    check_error(&r, 403, "not allowed for the FSP role");
    /* unknown id */
    CHECK_INT(submit(&dso, "{\"action\":\"match\",\"request_id\":999}", &r), 404);
    check_error(&r, 404, "request_id");
    /* replayed nonce */
    b = signed_body(&op, "{\"action\":\"deposit\",\"address\":\"x\",\"amount_ueur\":1}", 0);
    CHECK_INT(post("/api/tx", b, &r), 400);
    check_error(&r, 400, "nonce");
    free(b);

    /* ---- assets: fsp2's signed by `flexbed sign` ---- */
    CHECK_INT(submit(&fsp1,
                     "{\"action\":\"asset_add\",\"type\":\"battery\",\"name\":\"battery\","
                     "\"location\":\"bus-7\",\"p_min_w\":-20000,\"p_max_w\":20000,"
                     "\"soc_min_ppm\":0,\"soc_max_ppm\":1000000}",
                     &r),
              200);
    long long asset1 = jint(r.json, "id");
    flexbed_run(tmp, 30, &pr, "sign", "--key", fspkey, "--nonce", "0",
                "{\"action\":\"asset_add\",\"type\":\"ev\",\"name\":\"V2G charger\","
                "\"location\":\"bus-7\",\"p_min_w\":-11000,\"p_max_w\":11000,"
                "\"soc_min_ppm\":200000,\"soc_max_ppm\":900000}",
                NULL);
    CHECK_INT(pr.exit_code, 0);
    CHECK_STR_CONTAINS(pr.out, "\"sig\":\"0x");
    CHECK_INT(post("/api/tx", pr.out, &r), 200);
    long long asset2 = jint(r.json, "id");
    /* a 200 means stored: another connection already sees both (group
     * commit answers only after the commit) */
    {
        sqlite3 *ro = NULL;
        sqlite3_stmt *q = NULL;
        long long n = -1;
        if (sqlite3_open_v2(db, &ro, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(ro, "SELECT count(*) FROM mkt_tx WHERE action='asset_add'", -1, &q,
                               NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(ro);
        CHECK(n == 2, "asset_add transactions visible to another connection: %lld", n);
    }
    CHECK(asset1 > 0 && asset2 > asset1, "asset ids %lld, %lld", asset1, asset2);
    fsp2.nonce = 1;
    /* `--format text` gives the canonical JSON and a signature that recovers fsp2 */
    flexbed_run(tmp, 30, &pr, "sign", "--key", fspkey, "--format", "text", "--nonce", "7",
                "{ \"b\": 1, \"action\": \"withdraw\" }", NULL);
    CHECK_INT(pr.exit_code, 0);
    {
        char line1[512] = "", line2[200] = "";
        sscanf(pr.out, "%511[^\n]\n%199s", line1, line2);
        CHECK_INT(strncmp(line1, "{\"action\":\"withdraw\",\"b\":1,\"from\":\"", 35), 0);
        CHECK_STR_CONTAINS(line1, "\"nonce\":7}");
        uint8_t sig[MKT_SIG_LEN], who[20];
        CHECK_INT(mkt_sig_parse(line2, sig, &err), 0);
        CHECK_INT(mkt_recover_signer(line1, strlen(line1), sig, who, &err), 0);
        CHECK_INT(memcmp(who, a2, 20), 0);
    }

    /* ---- the websocket listener ---- */
    int ws = ws_open("flexbed-notify");
    CHECK(ws >= 0, "websocket handshake failed");
    int ws_bad = ws_open("no-such-protocol");
    CHECK(ws_bad < 0, "a websocket without the flexbed-notify subprotocol was accepted");
    if (ws_bad >= 0)
        close(ws_bad);

    /* ---- the market process, windows on the wall clock ---- */
    sim_time_us t = wall_us();
    sim_time_us start = t + 2 * SIM_US_PER_S, end = t + 4 * SIM_US_PER_S;
    snprintf(buf, sizeof buf,
             "{\"action\":\"offer_add\",\"asset_id\":%lld,\"start_us\":%lld,\"end_us\":%lld,"
             "\"valid_until_us\":%lld,\"p_w\":-10000,\"price_ueur_per_kwh\":100000}",
             asset1, (long long)start, (long long)end, (long long)end);
    CHECK_INT(submit(&fsp1, buf, &r), 200);
    snprintf(buf, sizeof buf,
             "{\"action\":\"offer_add\",\"asset_id\":%lld,\"start_us\":%lld,\"end_us\":%lld,"
             "\"valid_until_us\":%lld,\"p_w\":-10000,\"price_ueur_per_kwh\":120000}",
             asset2, (long long)start, (long long)end, (long long)end);
    char *ob = signed_body(&fsp2, buf, fsp2.nonce);
    CHECK_INT(post("/api/tx", ob, &r), 200);
    free(ob);
    fsp2.nonce++;
    snprintf(buf, sizeof buf,
             "{\"action\":\"request_add\",\"location\":\"bus-7\",\"start_us\":%lld,"
             "\"end_us\":%lld,\"p_w\":-15000,\"max_price_ueur_per_kwh\":210000}",
             (long long)start, (long long)end);
    CHECK_INT(submit(&dso, buf, &r), 200);
    long long req = jint(r.json, "id");
    snprintf(buf, sizeof buf, "{\"action\":\"match\",\"request_id\":%lld}", req);
    CHECK_INT(submit(&dso, buf, &r), 200);
    CHECK_INT(jint(r.json, "n_matches"), 2);
    CHECK_INT(jint(r.json, "unmet_w"), 0);
    snprintf(buf, sizeof buf, "{\"action\":\"purchase\",\"request_id\":%lld}", req);
    CHECK_INT(submit(&dso, buf, &r), 200);
    long long escrow = jint(r.json, "amount_ueur");
    /* 10 kW x 2 s at 0.10 EUR/kWh + 5 kW x 2 s at 0.12 EUR/kWh */
    CHECK_INT(escrow, 556 + 333);
    CHECK(wall_us() < end, "the machine is too slow: purchase came after the window");

    if (ws >= 0) {
        cJSON *m = ws_wait(ws, "match", fsp1.addr, 10);
        CHECK(m != NULL, "no match notification for %s on the websocket", fsp1.addr);
        CHECK_INT(jint(m, "request"), req);
        CHECK_INT(jint(m, "p_w"), -10000);
        cJSON_Delete(m);
        m = ws_wait(ws, "match", fsp2.addr, 10);
        CHECK(m != NULL, "no match notification for %s", fsp2.addr);
        cJSON_Delete(m);
        m = ws_wait(ws, "dispatch", NULL, 10);
        CHECK(m != NULL, "no dispatch notification");
        cJSON_Delete(m);
    }

    snprintf(buf, sizeof buf, "/api/matches?request=%lld", req);
    CHECK_INT(get(buf, &r), 200);
    cJSON *ms = cJSON_GetObjectItem(r.json, "matches");
    CHECK_INT(cJSON_GetArraySize(ms), 2);
    long long m1 = jint(cJSON_GetArrayItem(ms, 0), "id"),
              m2 = jint(cJSON_GetArrayItem(ms, 1), "id");
    CHECK_STR_CONTAINS(jstr(cJSON_GetArrayItem(ms, 0), "fsp"), fsp1.addr);
    CHECK_STR_CONTAINS(jstr(cJSON_GetArrayItem(ms, 0), "state"), "purchased");
    /* every match of the market, paged: the same two, in id order */
    CHECK_INT(get("/api/matches?after=0&limit=1", &r), 200);
    ms = cJSON_GetObjectItem(r.json, "matches");
    CHECK(cJSON_GetArraySize(ms) == 1 && jint(cJSON_GetArrayItem(ms, 0), "id") == m1,
          "first page of /api/matches");
    snprintf(buf, sizeof buf, "/api/matches?after=%lld", m1);
    CHECK_INT(get(buf, &r), 200);
    ms = cJSON_GetObjectItem(r.json, "matches");
    CHECK(cJSON_GetArraySize(ms) == 1 && jint(cJSON_GetArrayItem(ms, 0), "id") == m2,
          "second page of /api/matches");
    CHECK_INT(get("/api/dispatch?after=0", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "dispatch")), 2);
    CHECK_INT(get("/api/offers", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "offers")), 2);
    CHECK_INT(get("/api/requests", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "requests")), 1);
    CHECK_INT(get("/api/assets?after=1", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "assets")), 1);

    /* ---- deliveries after the window, settlement ---- */
    while (wall_us() < end + 100000) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(buf, sizeof buf, "{\"action\":\"delivery\",\"match_id\":%lld,\"e_wh\":5}", m1);
    CHECK_INT(submit(&dso, buf, &r), 200);
    snprintf(buf, sizeof buf, "{\"action\":\"delivery\",\"match_id\":%lld,\"e_wh\":2}", m2);
    CHECK_INT(submit(&dso, buf, &r), 200);
    snprintf(buf, sizeof buf, "{\"action\":\"settle\",\"request_id\":%lld}", req);
    CHECK_INT(submit(&dso, buf, &r), 200);
    if (ws >= 0) {
        cJSON *m = ws_wait(ws, "settlement", fsp1.addr, 10);
        CHECK(m != NULL, "no settlement notification");
        CHECK_INT(jint(m, "payout_ueur"), 500); /* 5 Wh at 0.10 EUR/kWh */
        cJSON_Delete(m);
    }
    snprintf(buf, sizeof buf, "/api/balances/%s", fsp1.addr);
    CHECK_INT(get(buf, &r), 200);
    CHECK_INT(jint(r.json, "balance_ueur"), 500);
    snprintf(buf, sizeof buf, "/api/balances/%s", dso.addr);
    CHECK_INT(get(buf, &r), 200);
    long long dso_balance = jint(r.json, "balance_ueur");
    CHECK_INT(dso_balance, 10000000 - 500 - 240);
    CHECK_INT(get("/api/market", &r), 200);
    CHECK_INT(jint(r.json, "escrow_ueur"), 0);
    CHECK_INT(jint(r.json, "wallets_ueur") + jint(r.json, "escrow_ueur"),
              jint(r.json, "deposited_ueur"));
    CHECK_INT(get("/api/settlements", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "settlements")), 2);

    /* ---- sealing: operator only ---- */
    snprintf(buf, sizeof buf, "{\"action\":\"seal\",\"t_us\":%lld}", (long long)wall_us());
    b = signed_body(&dso, buf, -1);
    CHECK_INT(post("/api/seal", b, &r), 403);
    free(b);
    b = signed_body(&op, buf, -1);
    CHECK_INT(post("/api/seal", b, &r), 200);
    CHECK_INT(jint(r.json, "height"), 0);
    free(b);
    if (ws >= 0) {
        cJSON *m = ws_wait(ws, "block", NULL, 10);
        CHECK(m != NULL, "no block notification");
        cJSON_Delete(m);
    }
    CHECK_INT(get("/api/ledger", &r), 200);
    CHECK_INT(jint(r.json, "pending"), 0);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "blocks")), 1);
    CHECK_INT(get("/api/ledger/verify", &r), 200);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "ok")), "verify: %s", r.body);
    CHECK_INT(get("/api/ledger/tx?after=0&limit=3", &r), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "transactions")), 3);

    if (ws >= 0)
        close(ws);
    server_stop(pid, "first run");

    /* The database verifies and replays from the command line... */
    flexbed_run(tmp, 60, &pr, "ledger", "verify", db, NULL);
    CHECK_INT(pr.exit_code, 0);
    CHECK_STR_CONTAINS(pr.out, "ledger OK");
    flexbed_run(tmp, 60, &pr, "ledger", "replay", db, NULL);
    CHECK_INT(pr.exit_code, 0);

    /* ... and a restarted server carries on where it stopped. */
    pid = server_start(db, opkey);
    CHECK(pid > 0, "server did not restart");
    if (pid > 0) {
        snprintf(buf, sizeof buf, "/api/balances/%s", dso.addr);
        CHECK_INT(get(buf, &r), 200);
        CHECK_INT(jint(r.json, "balance_ueur"), dso_balance);
        CHECK_INT(submit(&dso, "{\"action\":\"withdraw\",\"amount_ueur\":1000}", &r), 200);
        CHECK_INT(get(buf, &r), 200);
        CHECK_INT(jint(r.json, "balance_ueur"), dso_balance - 1000);
        test_connections(&intruder, db);
        /* A second server on the busy port, or on an address it cannot
         * bind: it fails, and leaves no database of its own behind. */
        char other[300], portstr[16];
        snprintf(other, sizeof other, "%s/never-served.db", tmp);
        snprintf(portstr, sizeof portstr, "%d", port);
        flexbed_run(tmp, 30, &pr, "serve", "--http", portstr, "--db", other, NULL);
        CHECK(pr.exit_code != 0, "a second server on port %d exited 0", port);
        CHECK(!file_exists(other), "a server that never started left %s", other);
        flexbed_run(tmp, 30, &pr, "serve", "--http", "0", "--bind", "not-an-address", "--db", other,
                    NULL);
        CHECK_INT(pr.exit_code, 2);
        CHECK(!file_exists(other), "a bad --bind left %s", other);
        server_stop(pid, "second run");
    }

    test_kill9(opkey, &op);

    /* A wrong operator key is refused at start. */
    char badkey[256];
    snprintf(badkey, sizeof badkey, "%s/other.key", tmp);
    CHECK_INT(mkt_key_save(badkey, &intruder.k, &err), 0);
    flexbed_run(tmp, 30, &pr, "serve", "--http", "0", "--db", db, "--operator-key", badkey, NULL);
    CHECK_INT(pr.exit_code, 2);
    CHECK_STR_CONTAINS(pr.errs, "not the market's operator");

    cJSON_Delete(r.json);
    rm_tree(tmp);
    return check_done("test_serve");
}
