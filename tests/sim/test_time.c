/*
 * test_time.c: ISO 8601 times and durations (sim/time.c).
 *
 * Checks known instants against their Unix time, the calendar's edges (leap
 * days, month lengths, years 0000 and 9999), negative and fractional
 * offsets, the rejection of every malformed form, and that formatting then
 * parsing gives back the same instant for many times and offsets.
 */
#include <stdint.h>

#include "check.h"
#include "sim/sim.h"

static sim_time_us parse_ok(const char *s, int *off)
{
    sim_time_us t = -1;
    int o = 12345;
    int rc = sim_time_parse(s, &t, &o);
    CHECK(rc == 0, "\"%s\" should parse, rc %d", s, rc);
    if (off)
        *off = o;
    return t;
}

static void parse_bad(const char *s)
{
    sim_time_us t;
    CHECK(sim_time_parse(s, &t, NULL) == SIM_EINVAL, "\"%s\" should be rejected", s);
}

static void format_is(sim_time_us t, int off, const char *want)
{
    char buf[64];
    sim_time_format(t, off, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "format(%lld, %d) = \"%s\", expected \"%s\"", (long long)t, off,
          buf, want);
}

static void test_known_instants(void)
{
    int off;
    CHECK_INT(parse_ok("1970-01-01T00:00Z", &off), 0);
    CHECK_INT(off, 0);
    CHECK_INT(parse_ok("1970-01-01T00:00:00+00:00", NULL), 0);
    /* 2023-10-02T00:00Z is Unix 1696204800; 16:00 at +03:00 is 13:00Z. */
    CHECK_INT(parse_ok("2023-10-02T16:00:00+03:00", &off), (1696204800LL + 13 * 3600) * 1000000);
    CHECK_INT(off, 3 * 3600);
    CHECK_INT(parse_ok("2023-10-02T00:00:00Z", NULL), 1696204800LL * 1000000);
    CHECK_INT(parse_ok("2000-03-01T00:00:00Z", NULL), 951868800LL * 1000000);
    CHECK_INT(parse_ok("2000-02-29T00:00:00Z", NULL), (951868800LL - 86400) * 1000000);
    /* Negative offsets: 19:00 at -05:00 is midnight UTC the next day. */
    CHECK_INT(parse_ok("1969-12-31T19:00:00-05:00", &off), 0);
    CHECK_INT(off, -5 * 3600);
    CHECK_INT(parse_ok("2023-10-01T18:30:00-05:30", &off), (1696204800LL) * 1000000);
    CHECK_INT(off, -(5 * 3600 + 30 * 60));
    /* Before the epoch and fractions. */
    CHECK_INT(parse_ok("1969-12-31T23:59:59.5Z", NULL), -500000);
    CHECK_INT(parse_ok("1970-01-01T00:00:00.000001Z", NULL), 1);
    CHECK_INT(parse_ok("1970-01-01T00:00:01.123456+00:00", NULL), 1123456);
    CHECK_INT(parse_ok("1970-01-01T00:00:00.25Z", NULL), 250000);
    /* 2100 is not a leap year, 2400 is. */
    CHECK_INT(parse_ok("2100-03-01T00:00Z", NULL) - parse_ok("2100-02-28T00:00Z", NULL),
              86400LL * 1000000);
    CHECK_INT(parse_ok("2400-03-01T00:00Z", NULL) - parse_ok("2400-02-28T00:00Z", NULL),
              2 * 86400LL * 1000000);
    /* Calendar edges: 0000-01-01 is 719528 days before the epoch. */
    CHECK_INT(parse_ok("0000-01-01T00:00Z", NULL), -719528LL * 86400 * 1000000);
    CHECK_INT(parse_ok("9999-12-31T23:59:59Z", NULL), 253402300799LL * 1000000);
}

static void test_rejects(void)
{
    parse_bad("");
    parse_bad("2023-10-02T16:00:00");  /* no offset */
    parse_bad("2023-10-02 16:00:00Z"); /* space separator */
    parse_bad("2023-10-02t16:00:00Z"); /* lower-case t */
    parse_bad("2023-10-02");           /* no time */
    parse_bad("2023-10-02T16Z");       /* no minutes */
    parse_bad("2023-10-02T24:00:00Z"); /* hour 24 */
    parse_bad("2023-10-02T23:60:00Z");
    parse_bad("2023-10-02T23:59:60Z"); /* no leap seconds */
    parse_bad("2023-13-02T00:00Z");
    parse_bad("2023-00-02T00:00Z");
    parse_bad("2023-10-00T00:00Z");
    parse_bad("2023-04-31T00:00Z");            /* April has 30 days */
    parse_bad("2023-02-29T00:00Z");            /* 2023 is not a leap year */
    parse_bad("1900-02-29T00:00Z");            /* nor is 1900 */
    parse_bad("2023-10-02T16:00:00.Z");        /* dot without digits */
    parse_bad("2023-10-02T16:00:00.1234567Z"); /* finer than 1 us */
    parse_bad("2023-10-02T16:00:00+3:00");
    parse_bad("2023-10-02T16:00:00+03");
    parse_bad("2023-10-02T16:00:00+0300");
    parse_bad("2023-10-02T16:00:00+24:00");
    parse_bad("2023-10-02T16:00:00+03:60");
    parse_bad("2023-10-02T16:00:00Zjunk");
    parse_bad("2023-10-02T16:00:00+03:00 ");
    parse_bad("23-10-02T16:00:00Z");
    parse_bad("+2023-10-02T16:00:00Z");
    parse_bad("2023-1-02T16:00:00Z");
}

static void test_format(void)
{
    format_is(0, 0, "1970-01-01T00:00:00+00:00");
    format_is(0, -5 * 3600, "1969-12-31T19:00:00-05:00");
    format_is(0, -(3 * 3600 + 30 * 60), "1969-12-31T20:30:00-03:30");
    format_is((1696204800LL + 13 * 3600) * 1000000, 3 * 3600, "2023-10-02T16:00:00+03:00");
    format_is(-500000, 0, "1969-12-31T23:59:59.5+00:00");
    format_is(1, 0, "1970-01-01T00:00:00.000001+00:00");
    format_is(1123450, 3600, "1970-01-01T01:00:01.12345+01:00");
    format_is((951868800LL - 86400) * 1000000 + 3600 * 1000000LL, 0, "2000-02-29T01:00:00+00:00");
    format_is(SIM_TIME_NEVER, 0, "never");
    /* A small buffer is cut, never overflowed. */
    char small[8];
    sim_time_format(0, 0, small, sizeof small);
    CHECK(strcmp(small, "1970-01") == 0, "small buffer got \"%s\"", small);
}

/* Format then parse gives back the instant and the offset, across leap days,
 * the epoch and negative offsets. */
static void test_round_trips(void)
{
    static const int offsets[] = {0,         3 * 3600,   -5 * 3600,         -(9 * 3600 + 30 * 60),
                                  14 * 3600, -12 * 3600, 5 * 3600 + 45 * 60};
    const char *leap[] = {"2024-02-29T00:00:00+00:00", "2024-02-29T23:59:59.999999-03:00",
                          "2000-02-29T12:34:56.5+05:45", "1600-02-29T00:00:00-12:00",
                          "1969-12-31T23:59:59-01:00"};
    for (size_t i = 0; i < sizeof leap / sizeof leap[0]; i++) {
        int off;
        sim_time_us t = parse_ok(leap[i], &off);
        char buf[64];
        sim_time_format(t, off, buf, sizeof buf);
        CHECK(strcmp(buf, leap[i]) == 0, "round trip of \"%s\" gave \"%s\"", leap[i], buf);
    }
    /* A fixed pseudo-random walk over 1900..2200 with microsecond parts. */
    uint64_t x = 88172645463325252ULL;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const int64_t lo = -2208988800LL * 1000000, span = 9467280000LL * 1000000;
        sim_time_us t = lo + (sim_time_us)(x % (uint64_t)span);
        int off = offsets[i % (int)(sizeof offsets / sizeof offsets[0])];
        char buf[64];
        sim_time_format(t, off, buf, sizeof buf);
        sim_time_us back = 0;
        int off2 = 0;
        if (sim_time_parse(buf, &back, &off2) != 0 || back != t || off2 != off) {
            if (bad++ < 5)
                CHECK(0, "round trip of %lld at %d via \"%s\" gave %lld at %d", (long long)t, off,
                      buf, (long long)back, off2);
        }
    }
    CHECK_INT(bad, 0);
}

static sim_time_us dur_ok(const char *s)
{
    sim_time_us d = -1;
    int rc = sim_duration_parse(s, &d);
    CHECK(rc == 0, "duration \"%s\" should parse, rc %d", s, rc);
    return d;
}

static void dur_bad(const char *s)
{
    sim_time_us d;
    CHECK(sim_duration_parse(s, &d) == SIM_EINVAL, "duration \"%s\" should be rejected", s);
}

static void dur_format_is(sim_time_us d, const char *want)
{
    char buf[32];
    sim_duration_format(d, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "duration_format(%lld) = \"%s\", expected \"%s\"", (long long)d,
          buf, want);
}

static void test_durations(void)
{
    CHECK_INT(dur_ok("1s"), 1000000);
    CHECK_INT(dur_ok("15min"), 15 * 60 * 1000000LL);
    CHECK_INT(dur_ok("0.5h"), 1800LL * 1000000);
    CHECK_INT(dur_ok("1d"), 86400LL * 1000000);
    CHECK_INT(dur_ok("1.5d"), 36 * 3600LL * 1000000);
    CHECK_INT(dur_ok("250ms"), 250000);
    CHECK_INT(dur_ok("3us"), 3);
    CHECK_INT(dur_ok("1.5s"), 1500000);
    CHECK_INT(dur_ok("2.500s"), 2500000);
    CHECK_INT(dur_ok("0s"), 0);
    CHECK_INT(dur_ok("0.000001s"), 1);
    CHECK_INT(dur_ok("0.001ms"), 1);
    CHECK_INT(dur_ok("0.0000000125d"), 1080);
    CHECK_INT(dur_ok("106751991167us"), 106751991167LL);

    dur_bad("");
    dur_bad("-1s"); /* negative */
    dur_bad("+1s");
    dur_bad("1"); /* missing unit */
    dur_bad("s");
    dur_bad("1.5us"); /* not a whole microsecond */
    dur_bad("0.0000001s");
    dur_bad("1 s");
    dur_bad("1sec");
    dur_bad("1S");
    dur_bad("1e3s");
    dur_bad(".5h");
    dur_bad("5.h");
    dur_bad("1min30s");
    dur_bad("99999999999999999999s"); /* overflow */
    dur_bad("9999999999999d");        /* overflow after the unit */

    dur_format_is(0, "0s");
    dur_format_is(1, "1us");
    dur_format_is(1234, "1.234ms");
    dur_format_is(1234567, "1234.567ms");
    dur_format_is(999, "999us");
    dur_format_is(1500, "1.5ms");
    dur_format_is(1500000, "1.5s");
    dur_format_is(15 * 60 * 1000000LL, "15min");
    dur_format_is(3600LL * 1000000, "1h");
    dur_format_is(90 * 60 * 1000000LL, "1.5h");
    dur_format_is(100 * 60 * 1000000LL, "100min");
    dur_format_is(25 * 3600LL * 1000000, "25h");
    dur_format_is(86400LL * 1000000, "1d");
    dur_format_is(1000001, "1000.001ms");
    dur_format_is(-60 * 1000000LL, "-1min");

    /* Format then parse is the identity. */
    const sim_time_us samples[] = {0,
                                   1,
                                   999,
                                   1000,
                                   1234567,
                                   60000000,
                                   5400000000LL,
                                   86400000000LL,
                                   123456789012LL,
                                   7 * 86400000000LL};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[32];
        sim_duration_format(samples[i], buf, sizeof buf);
        sim_time_us back = -1;
        CHECK(sim_duration_parse(buf, &back) == 0 && back == samples[i],
              "duration %lld -> \"%s\" -> %lld", (long long)samples[i], buf, (long long)back);
    }
}

int main(void)
{
    test_known_instants();
    test_rejects();
    test_format();
    test_round_trips();
    test_durations();
    return check_done("test_time");
}
