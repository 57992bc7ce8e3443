/*
 * cmd_keygen.c: `flexbed keygen PATH` and `flexbed sign --key PATH JSON`,
 * the two commands a market participant needs to talk to `flexbed serve`
 * with curl: make a key file (mode 0600, never overwritten) and sign an
 * action. Signing fills in "from" (the key's address) and, when given,
 * "nonce", puts the action in canonical form and signs it with EIP-191
 * personal_sign, so what is printed is exactly what POST /api/tx takes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../market/market.h"
#include "cli.h"

static void keygen_usage(FILE *f)
{
    fputs("usage: flexbed keygen PATH\n"
          "\n"
          "Write a new secp256k1 private key from the kernel's random source to PATH\n"
          "(hex, created with mode 0600; an existing file is never overwritten) and\n"
          "print its Ethereum-style address (EIP-55). Give the address to the market\n"
          "operator to be admitted as a participant; keep the file private.\n",
          f);
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            keygen_usage(stdout);
            return CLI_OK;
        default:
            keygen_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(argc - optind < 1 ? "flexbed keygen: missing PATH\n"
                                : "flexbed keygen: too many arguments\n",
              stderr);
        keygen_usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    struct mkt_key k;
    uint8_t addr[20];
    struct sim_err err = {{0}};
    int rc = mkt_key_generate(&k, &err);
    if (!rc)
        rc = mkt_key_address(&k, addr, &err);
    if (!rc)
        rc = mkt_key_save(path, &k, &err);
    memset(&k, 0, sizeof k);
    if (rc) {
        fprintf(stderr, "flexbed keygen: %s\n", err.msg);
        return rc == SIM_EIO ? CLI_FAIL : CLI_USAGE;
    }
    char a[MKT_ADDR_STRLEN];
    printf("%s\n", mkt_address_format(addr, a));
    return CLI_OK;
}

static void sign_usage(FILE *f)
{
    fputs("usage: flexbed sign --key PATH [--nonce N] [--format body|text] JSON\n"
          "\n"
          "Sign a market action (a JSON object, or - to read it from stdin) with the\n"
          "key in PATH. \"from\" is set to the key's address when absent, \"nonce\" to N\n"
          "when absent and --nonce is given (a participant's nonce is its count of\n"
          "accepted transactions: GET /api/participants shows it), and \"t_us\" to\n"
          "the current time for a \"seal\" request. The action is put in canonical\n"
          "form (sorted keys, no whitespace, integers only) and signed with EIP-191\n"
          "personal_sign.\n"
          "\n"
          "  --key PATH     key file written by `flexbed keygen` (mode 0600)\n"
          "  --nonce N      the sender's nonce, if the JSON has none\n"
          "  --format F     body (default): the request body for POST /api/tx,\n"
          "                 {\"tx\": \"<canonical JSON>\", \"sig\": \"0x...\"};\n"
          "                 text: the canonical JSON on one line, the signature on the next\n"
          "\n"
          "Example (docs/api.md):\n"
          "  flexbed sign --key dso.key --nonce 0 \\\n"
          "    '{\"action\":\"match\",\"request_id\":1}' |\n"
          "    curl -s -d @- http://127.0.0.1:8080/api/tx\n",
          f);
}

/* All of stdin, NUL-terminated (malloc'd), or NULL. */
static char *read_stdin(void)
{
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n - 1, stdin);
        n += r;
        if (r == 0)
            break;
        if (n + 1 == cap) {
            if (cap >= (64u << 20)) {
                free(b);
                return NULL;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb)
                free(b);
            b = nb;
            cap *= 2;
        }
    }
    if (b)
        b[n] = 0;
    return b;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"nonce", required_argument, NULL, 'n'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key_path = NULL;
    long long nonce = -1;
    int text = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:n:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'n': {
            char *end;
            errno = 0;
            nonce = strtoll(optarg, &end, 10);
            if (errno || !*optarg || *end || nonce < 0 || nonce > (1LL << 53)) {
                fprintf(stderr, "flexbed sign: --nonce: expected an integer >= 0, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        }
        case 'f':
            if (!strcmp(optarg, "text"))
                text = 1;
            else if (!strcmp(optarg, "body"))
                text = 0;
            else {
                fprintf(stderr, "flexbed sign: --format: expected body or text, got \"%s\"\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'h':
            sign_usage(stdout);
            return CLI_OK;
        default:
            sign_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (!key_path || argc - optind != 1) {
        fputs(!key_path ? "flexbed sign: --key PATH is required\n"
                        : "flexbed sign: expected one JSON argument (or - for stdin)\n",
              stderr);
        sign_usage(stderr);
        return CLI_USAGE;
    }
    struct sim_err err = {{0}};
    struct mkt_key k;
    int rc = mkt_key_load(key_path, &k, &err);
    if (rc) {
        fprintf(stderr, "flexbed sign: --key: %s\n", err.msg);
        return CLI_USAGE;
    }
    int ec = CLI_USAGE;
    char *input = NULL, *printed = NULL, *canon = NULL, *out = NULL;
    cJSON *root = NULL, *body = NULL;
    const char *src = argv[optind];
    if (!strcmp(src, "-")) {
        src = input = read_stdin();
        if (!input) {
            fputs("flexbed sign: cannot read the action from stdin\n", stderr);
            goto done;
        }
    }
    root = cJSON_Parse(src);
    if (!root || !cJSON_IsObject(root)) {
        fputs("flexbed sign: the action is not a JSON object\n", stderr);
        goto done;
    }
    uint8_t addr[20];
    char a[MKT_ADDR_STRLEN];
    if ((rc = mkt_key_address(&k, addr, &err))) {
        fprintf(stderr, "flexbed sign: %s\n", err.msg);
        goto done;
    }
    mkt_address_format(addr, a);
    if (!cJSON_GetObjectItemCaseSensitive(root, "from"))
        cJSON_AddStringToObject(root, "from", a);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "action");
    int is_seal = cJSON_IsString(act) && !strcmp(act->valuestring, "seal");
    if (is_seal && !cJSON_GetObjectItemCaseSensitive(root, "t_us")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char t[24];
        snprintf(t, sizeof t, "%lld",
                 (long long)ts.tv_sec * 1000000LL + (long long)(ts.tv_nsec / 1000));
        cJSON_AddRawToObject(root, "t_us", t);
    }
    if (!is_seal && !cJSON_GetObjectItemCaseSensitive(root, "nonce")) {
        if (nonce < 0) {
            fputs("flexbed sign: nonce: missing; give --nonce N (the sender's count of accepted "
                  "transactions, see GET /api/participants)\n",
                  stderr);
            goto done;
        }
        char t[24];
        snprintf(t, sizeof t, "%lld", nonce);
        cJSON_AddRawToObject(root, "nonce", t);
    }
    printed = cJSON_PrintUnformatted(root);
    if (!printed || (rc = mkt_canonical_json(printed, &canon, &err))) {
        fprintf(stderr, "flexbed sign: %s\n", printed ? err.msg : "out of memory");
        goto done;
    }
    uint8_t sig[MKT_SIG_LEN];
    char sigt[MKT_SIG_STRLEN];
    if ((rc = mkt_sign_message(&k, canon, strlen(canon), sig, &err))) {
        fprintf(stderr, "flexbed sign: %s\n", err.msg);
        ec = CLI_FAIL;
        goto done;
    }
    mkt_sig_format(sig, sigt);
    if (text) {
        printf("%s\n%s\n", canon, sigt);
    } else {
        body = cJSON_CreateObject();
        if (body) {
            cJSON_AddStringToObject(body, "tx", canon);
            cJSON_AddStringToObject(body, "sig", sigt);
        }
        out = body ? cJSON_PrintUnformatted(body) : NULL;
        if (!out) {
            fputs("flexbed sign: out of memory\n", stderr);
            ec = CLI_FAIL;
            goto done;
        }
        printf("%s\n", out);
    }
    ec = CLI_OK;
done:
    memset(&k, 0, sizeof k);
    cJSON_Delete(root);
    cJSON_Delete(body);
    cJSON_free(printed);
    cJSON_free(out);
    free(canon);
    free(input);
    return ec;
}
