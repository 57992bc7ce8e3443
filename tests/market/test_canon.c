/*
 * test_canon.c: the canonical JSON form transactions are signed in.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "market/market.h"

static void canon_is(const char *in, const char *want)
{
    struct sim_err err;
    char *out = NULL;
    int rc = mkt_canonical_json(in, &out, &err);
    CHECK(rc == 0 && out && !strcmp(out, want), "canon(%s) = %s (rc %d %s), expected %s", in,
          out ? out : "(null)", rc, rc ? err.msg : "", want);
    free(out);
}

static void canon_refused(const char *in, const char *why)
{
    struct sim_err err = {{0}};
    char *out = NULL;
    CHECK_INT(mkt_canonical_json(in, &out, &err), SIM_EINVAL);
    CHECK(out == NULL, "no output on refusal");
    CHECK_STR_CONTAINS(err.msg, why);
    free(out);
}

int main(void)
{
    canon_is(" { \"b\" : 1 , \"a\" : [ 2 , { \"d\":true, \"c\":null } ] } ",
             "{\"a\":[2,{\"c\":null,\"d\":true}],\"b\":1}");
    canon_is("{\"t\":1696251600000000,\"n\":-20000,\"z\":0}",
             "{\"n\":-20000,\"t\":1696251600000000,\"z\":0}");
    canon_is("{\"x\":9007199254740992}", "{\"x\":9007199254740992}");
    canon_is("{\"s\":\"a\\\"b\\\\c\\n\\u00e9\"}", "{\"s\":\"a\\\"b\\\\c\\n\xc3\xa9\"}");
    canon_is("{\"B\":1,\"a\":2,\"_\":3}", "{\"B\":1,\"_\":3,\"a\":2}"); /* byte order */
    canon_is("{\"x\":1.0e3}", "{\"x\":1000}");
    canon_is("{\"x\":-0}", "{\"x\":0}");
    canon_refused("{\"x\":0.5}", "integers");
    canon_refused("{\"x\":1e300}", "integers");
    canon_refused("{\"a\":1,\"a\":2}", "duplicate key");
    canon_refused("{\"a\":1", "malformed");
    canon_refused("{\"a\":1} x", "malformed");
    return check_done("test_canon");
}
