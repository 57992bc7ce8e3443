/*
 * time.c: ISO 8601 times and compact durations for scenario files.
 *
 * The kernel's clock is int64 microseconds since the Unix epoch (UTC).
 * Scenario and CSV files write times as local wall-clock times with an
 * explicit UTC offset ("2023-10-02T16:00:00+03:00"), and durations as a
 * number with a unit ("15min"). Both conversions are done here with plain
 * integer arithmetic on the proleptic Gregorian calendar: no mktime, timegm
 * or TZ environment, so results never depend on the machine's time zone and
 * two runs anywhere agree to the microsecond.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sim.h"

#define US_PER_DAY (INT64_C(86400) * SIM_US_PER_S)

/* ------------------------------------------------------------------ */
/* Calendar arithmetic                                                 */
/* ------------------------------------------------------------------ */

static int is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Floor division and its non-negative remainder (C's '/' truncates). */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a civil date. The year is counted from March so
 * that the leap day falls at the end of a "year"; a 400-year era holds
 * exactly 146097 days, which makes the count a few integer operations. */
static int64_t days_from_civil(long long y, int m, int d)
{
    y -= m <= 2; /* Jan and Feb belong to the previous March-year */
    const int64_t era = floor_div(y, 400);
    const int64_t yoe = y - era * 400;                         /* [0, 399] */
    const int64_t mp = (m + 9) % 12;                           /* March = 0 ... February = 11 */
    const int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* day of the March-year, [0, 365] */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* day of the era */
    return era * 146097 + doe - 719468; /* 719468 = days from 0000-03-01 to 1970-01-01 */
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, long long *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    const int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (long long)(yoe + era * 400 + (*m <= 2));
}

/* ------------------------------------------------------------------ */
/* ISO 8601 times                                                      */
/* ------------------------------------------------------------------ */

/* Read exactly `n` decimal digits at *p into *v and advance. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

int sim_time_parse(const char *s, sim_time_us *t, int *offset_s)
{
    if (!s || !t)
        return SIM_EINVAL;
    const char *p = s;
    int y, mo, d, h, mi, sec = 0, frac_us = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || *p++ != 'T' || digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
        return SIM_EINVAL;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &sec))
            return SIM_EINVAL;
        if (*p == '.') {
            p++;
            int nd = 0;
            while (*p >= '0' && *p <= '9') {
                if (nd == 6)
                    return SIM_EINVAL; /* finer than a microsecond */
                frac_us = frac_us * 10 + (*p++ - '0');
                nd++;
            }
            if (nd == 0)
                return SIM_EINVAL;
            for (; nd < 6; nd++)
                frac_us *= 10;
        }
    }
    int off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
            return SIM_EINVAL;
        if (oh > 23 || om > 59)
            return SIM_EINVAL;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return SIM_EINVAL; /* the offset is required */
    }
    if (*p != '\0')
        return SIM_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return SIM_EINVAL;

    int64_t days = days_from_civil(y, mo, d);
    int64_t local_s = days * 86400 + h * 3600 + mi * 60 + sec;
    *t = (local_s - off) * SIM_US_PER_S + frac_us;
    if (offset_s)
        *offset_s = off;
    return 0;
}

char *sim_time_format(sim_time_us t, int offset_s, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    /* Local years 0000-9999 are what the parser accepts; anything beyond
     * (and SIM_TIME_NEVER) has no ISO 8601 form here. */
    const int64_t limit = INT64_C(1) << 62; /* keeps t + offset from overflowing */
    if (t == SIM_TIME_NEVER || t > limit || t < -limit || offset_s <= -86400 || offset_s >= 86400) {
        snprintf(buf, n, "%s", t == SIM_TIME_NEVER ? "never" : "(time out of range)");
        return buf;
    }
    const int64_t local = t + (int64_t)offset_s * SIM_US_PER_S;
    const int64_t days = floor_div(local, US_PER_DAY);
    if (days < days_from_civil(0, 1, 1) || days > days_from_civil(9999, 12, 31)) {
        snprintf(buf, n, "(time out of range)");
        return buf;
    }
    int64_t rem = local - days * US_PER_DAY; /* [0, 1 day) */
    long long y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    const int h = (int)(rem / SIM_US_PER_H);
    rem %= SIM_US_PER_H;
    const int mi = (int)(rem / SIM_US_PER_MIN);
    rem %= SIM_US_PER_MIN;
    const int sec = (int)(rem / SIM_US_PER_S);
    int frac = (int)(rem % SIM_US_PER_S);

    /* Fraction: only when non-zero, without trailing zeros. */
    char fbuf[8] = "";
    if (frac) {
        int nd = 6;
        while (frac % 10 == 0) {
            frac /= 10;
            nd--;
        }
        snprintf(fbuf, sizeof fbuf, ".%0*d", nd, frac);
    }
    const int aoff = offset_s < 0 ? -offset_s : offset_s;
    snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", y, mo, d, h, mi, sec, fbuf,
             offset_s < 0 ? '-' : '+', aoff / 3600, aoff % 3600 / 60);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Durations                                                           */
/* ------------------------------------------------------------------ */

struct unit {
    const char *name;
    int64_t us;
};

/* Largest first: sim_duration_format picks the first that fits. */
static const struct unit units[] = {
    {"d", INT64_C(86400) * SIM_US_PER_S},
    {"h", SIM_US_PER_H},
    {"min", SIM_US_PER_MIN},
    {"s", SIM_US_PER_S},
    {"ms", INT64_C(1000)},
    {"us", INT64_C(1)},
};
#define NUNITS (sizeof units / sizeof units[0])

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

int sim_duration_parse(const char *s, sim_time_us *d)
{
    if (!s || !d)
        return SIM_EINVAL;
    const char *p = s;
    /* Integer part: at least one digit, no sign (negative is rejected). */
    if (*p < '0' || *p > '9')
        return SIM_EINVAL;
    int64_t ip = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (ip > (INT64_MAX - 9) / 10)
            return SIM_EINVAL;
        ip = ip * 10 + (*p - '0');
    }
    /* Fraction, kept as an exact decimal frac / 10^k. */
    int64_t frac = 0, pow10 = 1;
    if (*p == '.') {
        p++;
        const char *f0 = p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == f0)
            return SIM_EINVAL;
        const char *f1 = p;
        while (f1 > f0 && f1[-1] == '0') /* trailing zeros change nothing */
            f1--;
        /* Every unit divides 864 * 10^8 us, so a fraction with more than
         * 13 significant decimals can never be a whole number of us. */
        if (f1 - f0 > 13)
            return SIM_EINVAL;
        for (const char *q = f0; q < f1; q++) {
            frac = frac * 10 + (*q - '0');
            pow10 *= 10;
        }
    }
    const struct unit *u = NULL;
    for (size_t i = 0; i < NUNITS; i++)
        if (strcmp(p, units[i].name) == 0)
            u = &units[i];
    if (!u)
        return SIM_EINVAL; /* missing or unknown unit */
    if (ip > INT64_MAX / u->us)
        return SIM_EINVAL;
    int64_t total = ip * u->us;
    if (frac) {
        /* frac * us / 10^k without overflow: cancel the common factor. */
        const int64_t g = gcd64(u->us, pow10);
        const int64_t den = pow10 / g;
        if (frac % den != 0)
            return SIM_EINVAL;                         /* not an integer number of microseconds */
        const int64_t part = frac / den * (u->us / g); /* < u->us */
        if (total > INT64_MAX - part)
            return SIM_EINVAL;
        total += part;
    }
    *d = total;
    return 0;
}

char *sim_duration_format(sim_time_us d, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    if (d == SIM_TIME_NEVER) {
        snprintf(buf, n, "never");
        return buf;
    }
    if (d == 0) {
        snprintf(buf, n, "0s");
        return buf;
    }
    const char *sign = "";
    uint64_t a = (uint64_t)d;
    if (d < 0) {
        sign = "-";
        a = (uint64_t)0 - a;
    }
    /* The largest unit in which the value is at least 1 and needs at most
     * three decimals: 1500 ms -> "1.5s", 90 min -> "1.5h", 100 min -> "100min". */
    for (size_t i = 0; i < NUNITS; i++) {
        const uint64_t us = (uint64_t)units[i].us;
        const uint64_t rem = a % us;
        if (a < us || (rem * 1000) % us != 0)
            continue;
        const unsigned long long whole = a / us;
        unsigned milli = (unsigned)(rem * 1000 / us);
        if (milli == 0) {
            snprintf(buf, n, "%s%llu%s", sign, whole, units[i].name);
        } else {
            int nd = 3;
            while (milli % 10 == 0) {
                milli /= 10;
                nd--;
            }
            snprintf(buf, n, "%s%llu.%0*u%s", sign, whole, nd, milli, units[i].name);
        }
        return buf;
    }
    snprintf(buf, n, "%s%lluus", sign, (unsigned long long)a); /* not reached: us always fits */
    return buf;
}

/* ------------------------------------------------------------------ */
/* Local time                                                          */
/* ------------------------------------------------------------------ */

static int tz_push(struct sim_tz *tz, sim_time_us at, int off_s)
{
    if (tz->n == tz->cap) {
        int nc = tz->cap ? 2 * tz->cap : 8;
        sim_time_us *a = realloc(tz->at, (size_t)nc * sizeof *a);
        if (!a)
            return SIM_ENOMEM;
        tz->at = a;
        int *o = realloc(tz->off_s, (size_t)nc * sizeof *o);
        if (!o)
            return SIM_ENOMEM;
        tz->off_s = o;
        tz->cap = nc;
    }
    tz->at[tz->n] = at;
    tz->off_s[tz->n] = off_s;
    tz->n++;
    return 0;
}

int sim_tz_fixed(struct sim_tz *tz, int offset_s, struct sim_err *err)
{
    memset(tz, 0, sizeof *tz);
    if (tz_push(tz, INT64_MIN, offset_s))
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    return 0;
}

/* The C library's offset of the zone in TZ at t (seconds east of UTC). */
static int libc_offset(time_t t)
{
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int)tm.tm_gmtoff;
}

int sim_tz_load(struct sim_tz *tz, const char *name, sim_time_us from, sim_time_us to,
                struct sim_err *err)
{
    memset(tz, 0, sizeof *tz);
    /* An IANA name: letters, digits and "_+-/", no "..", not absolute. The
     * C library takes any string and silently falls back to UTC, so the
     * zone's file is looked for first. */
    size_t len = name ? strlen(name) : 0;
    int ok = len > 0 && len < 64 && name[0] != '/' && !strstr(name, "..");
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("_+-/", name[i]);
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", ok ? name : "");
    if (!ok || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return sim_errf(err, SIM_EINVAL,
                        "unknown time zone \"%.64s\" (expected an IANA name such as "
                        "\"Europe/Istanbul\" with a file in /usr/share/zoneinfo, which Debian's "
                        "tzdata package installs)",
                        name ? name : "");
    char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", name, 1);
    tzset();
    /* Tabulate the offsets from a day before `from` to a day after `to`,
     * every 15 minutes, each change bisected to the second. */
    const time_t step = 900;
    time_t a = (time_t)floor_div(from, SIM_US_PER_S) - 86400;
    time_t b = (time_t)floor_div(to, SIM_US_PER_S) + 86400;
    int prev = libc_offset(a), rc = tz_push(tz, INT64_MIN, prev);
    for (time_t t = a + step; !rc && t - step < b; t += step) {
        int o = libc_offset(t);
        if (o == prev)
            continue;
        time_t lo = t - step, hi = t;
        while (hi - lo > 1) {
            time_t mid = lo + (hi - lo) / 2;
            if (libc_offset(mid) == prev)
                lo = mid;
            else
                hi = mid;
        }
        rc = tz_push(tz, (sim_time_us)hi * SIM_US_PER_S, o);
        prev = o;
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    if (rc) {
        sim_tz_clear(tz);
        return sim_errf(err, SIM_ENOMEM, "out of memory");
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    return 0;
}

int sim_tz_copy(struct sim_tz *dst, const struct sim_tz *src, struct sim_err *err)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++)
        if (tz_push(dst, src->at[i], src->off_s[i])) {
            sim_tz_clear(dst);
            return sim_errf(err, SIM_ENOMEM, "out of memory");
        }
    memcpy(dst->name, src->name, sizeof dst->name);
    return 0;
}

void sim_tz_clear(struct sim_tz *tz)
{
    free(tz->at);
    free(tz->off_s);
    memset(tz, 0, sizeof *tz);
}

int sim_tz_offset(const struct sim_tz *tz, sim_time_us t)
{
    if (tz->n == 0)
        return 0;
    int lo = 0, hi = tz->n - 1; /* largest i with at[i] <= t; at[0] is INT64_MIN */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return tz->off_s[lo];
}

long long sim_tz_year(const struct sim_tz *tz, sim_time_us t)
{
    sim_time_us local = t + (sim_time_us)sim_tz_offset(tz, t) * SIM_US_PER_S;
    long long y;
    int m, d;
    civil_from_days(floor_div(local, 86400 * SIM_US_PER_S), &y, &m, &d);
    return y;
}

void sim_tz_minutes(const struct sim_tz *tz, sim_time_us t, long long year, double *min_of_day,
                    double *min_of_year)
{
    const sim_time_us day_us = 86400 * SIM_US_PER_S;
    sim_time_us local = t + (sim_time_us)sim_tz_offset(tz, t) * SIM_US_PER_S;
    sim_time_us day = floor_div(local, day_us);
    *min_of_day = (double)(local - day * day_us) / (double)SIM_US_PER_MIN;
    *min_of_year = (double)(local - days_from_civil(year, 1, 1) * day_us) / (double)SIM_US_PER_MIN;
}
