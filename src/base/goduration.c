/* goduration — see include/exportflows/base/goduration.h.
 *
 * The value is accumulated as Go accumulates it, in an unsigned 64-bit total
 * with the same overflow checks at the same places, so the edge cases (a
 * fraction that rounds up to the limit, "-9223372036854775808ns") come out as
 * they do in Go. */
#include "exportflows/base/goduration.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define LIMIT (UINT64_C(1) << 63)

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Nanoseconds per unit, 0 for an unknown unit. */
static uint64_t
unit_ns(const char *unit, size_t len)
{
    static const struct { const char *name; uint64_t ns; } units[] = {
        { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 },
        { "ms", 1000000 }, { "s", 1000000000 }, { "m", UINT64_C(60000000000) },
        { "h", UINT64_C(3600000000000) },
    };

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == len && !memcmp(units[i].name, unit, len)) {
            return units[i].ns;
        }
    }
    return 0;
}

/* The digits at '*s' as an integer; -ERANGE past 2^63. */
static int
leading_int(const char **s, const char *end, uint64_t *ret)
{
    uint64_t x = 0;

    for (; *s < end && is_digit(**s); (*s)++) {
        if (x > LIMIT / 10) {
            return -ERANGE;
        }
        x = x * 10 + (uint64_t) (**s - '0');
        if (x > LIMIT) {
            return -ERANGE;
        }
    }
    *ret = x;
    return 0;
}

/* The digits after a point: their value and 10^(digits kept); digits past
 * what 63 bits hold are skipped, as they cannot change the result. */
static void
leading_fraction(const char **s, const char *end, uint64_t *ret, double *ret_scale)
{
    uint64_t x = 0;
    double scale = 1;
    bool overflow = false;

    for (; *s < end && is_digit(**s); (*s)++) {
        uint64_t y;

        if (overflow) {
            continue;
        }
        if (x > (LIMIT - 1) / 10) {
            overflow = true;
            continue;
        }
        y = x * 10 + (uint64_t) (**s - '0');
        if (y > LIMIT) {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10;
    }
    *ret = x;
    *ret_scale = scale;
}

/* One "<digits>[.<digits>]<unit>" at '*s', added to '*total'. */
static int
term(const char **s, const char *end, uint64_t *total)
{
    const char *start = *s;
    uint64_t v, f = 0, unit;
    double scale = 1;
    bool pre, post = false;
    int error;

    if (!(**s == '.' || is_digit(**s))) {
        return -EINVAL;
    }
    error = leading_int(s, end, &v);
    if (error) {
        return error;
    }
    pre = *s != start;
    if (*s < end && **s == '.') {
        start = ++*s;
        leading_fraction(s, end, &f, &scale);
        post = *s != start;
    }
    if (!pre && !post) {
        return -EINVAL;
    }
    for (start = *s; *s < end && **s != '.' && !is_digit(**s); (*s)++) {
    }
    unit = unit_ns(start, (size_t) (*s - start));
    if (!unit) {
        return -EINVAL;         /* missing or unknown unit */
    }
    if (v > LIMIT / unit) {
        return -ERANGE;
    }
    v *= unit;
    if (f > 0) {
        /* f < scale, so the product is below 'unit' (at most 3.6e12): exact
         * enough in a double, and Go computes it the same way. */
        v += (uint64_t) ((double) f * ((double) unit / scale));
        if (v > LIMIT) {
            return -ERANGE;
        }
    }
    *total += v;
    return *total > LIMIT ? -ERANGE : 0;
}

int
goduration_parse(const char *text, size_t len, int64_t *ret_ns)
{
    const char *s = text, *end = text + len;
    uint64_t total = 0;
    bool neg = false;

    if (s < end && (*s == '-' || *s == '+')) {
        neg = *s++ == '-';
    }
    if (end - s == 1 && *s == '0') {
        *ret_ns = 0;
        return 0;
    }
    if (s == end) {
        return -EINVAL;
    }
    while (s < end) {
        int error = term(&s, end, &total);

        if (error) {
            return error;
        }
    }
    if (neg) {
        /* -2^63 is Go's smallest Duration; two's complement gives it. */
        *ret_ns = total == LIMIT ? INT64_MIN : -(int64_t) total;
        return 0;
    }
    if (total > (uint64_t) INT64_MAX) {
        return -ERANGE;
    }
    *ret_ns = (int64_t) total;
    return 0;
}
