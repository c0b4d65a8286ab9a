/* jsonscan — see include/exportflows/admission/jsonscan.h.
 *
 * Two readers share one lexer: the scanner (jsonscan_fields()), which only
 * moves a cursor and remembers where the wanted members are, and the builder
 * (jsonscan_load()), which makes jansson values.  The lexer's string, number
 * and literal rules are written after jansson's own (load.c: lex_scan_string,
 * lex_scan_number, utf8.c), and test_jsonscan.c checks both readers against
 * jansson on many thousands of altered documents. */
#include "exportflows/admission/jsonscan.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/jsontext.h"

/* Decoded strings up to this size need no heap buffer. */
#define SMALL_STRING 256

struct cursor {
    const char *p, *end;
    unsigned depth;
};

/* The white space at the cursor, when there is some. */
static void
skip_space_run(struct cursor *c)
{
    const char *p = c->p;       /* a local, so the loop stays in registers */

    /* Indentation, 8 spaces per step. */
    while (c->end - p >= 8 && !memcmp(p, "        ", 8)) {
        p += 8;
    }
    while (p < c->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    c->p = p;
}

/* Inlined: most calls find a token at once (compact JSON, as Kubernetes
 * sends it, has no white space at all), and a call would cost more than the
 * test. */
static inline __attribute__((always_inline)) void
skip_space(struct cursor *c)
{
    if (c->p < c->end && (unsigned char) *c->p > ' ') {
        return;
    }
    skip_space_run(c);
}

/* The length of the valid UTF-8 sequence at 'p' (its first byte >= 0x80), 0
 * when invalid as jansson's utf8_check_first/utf8_check_full judge it. */
static size_t
utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    uint32_t cp;
    size_t n;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2, cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3, cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4, cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if ((size_t) (end - p) < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

/* The value of one hex digit, -1 when 'c' is none. */
static int
hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The 4 hex digits at 'p' (the "XXXX" of "\uXXXX"); -1 when malformed. */
static long
read_u4(const char *p, const char *end)
{
    long v = 0;

    if (end - p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);

        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* Checks the escape at 'p' (just after the backslash) and returns the bytes it
 * spans, 0 when jansson refuses it: unknown, short, a surrogate alone.  \u0000
 * is accepted here, as JSON_ALLOW_NUL makes jansson accept it in a value; a
 * key's is refused by the callers. */
static size_t
escape_length(const char *p, const char *end)
{
    long cp, low;

    if (p >= end) {
        return 0;
    }
    if (*p != 'u') {
        return *p && strchr("\"\\/bfnrt", *p) ? 1 : 0;
    }
    cp = read_u4(p + 1, end);
    if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
        return 0;
    }
    if (cp < 0xd800 || cp > 0xdbff) {
        return 5;
    }
    if (end - p < 7 || p[5] != '\\' || p[6] != 'u'
        || (low = read_u4(p + 7, end)) < 0xdc00 || low > 0xdfff) {
        return 0;
    }
    return 11;
}

/* Whether the checked string body [p, end) (no quotes) decodes to text that
 * holds a NUL byte: only "\u0000" makes one, a raw NUL being refused. */
static bool
body_has_nul(const char *p, const char *end)
{
    while ((p = memchr(p, '\\', (size_t) (end - p)))) {
        if (p[1] == 'u' && !memcmp(p + 2, "0000", 4)) {
            return true;
        }
        p += 2;     /* past the backslash and the letter: no escape holds another */
    }
    return false;
}

#if defined __BYTE_ORDER__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD_ONES UINT64_C(0x0101010101010101)
#define WORD_HIGHS UINT64_C(0x8080808080808080)

/* The high bit of each byte of 'x' that may end a run of plain string bytes:
 * '"', '\\', a control character or a byte >= 0x80.  The lowest flagged byte
 * is always a true one (a subtraction's borrow can only wrongly flag bytes
 * above a true one), which is all plain_run() uses. */
static uint64_t
word_specials(uint64_t x)
{
    uint64_t quote = x ^ (WORD_ONES * '"'), backslash = x ^ (WORD_ONES * '\\');

    return (((quote - WORD_ONES) & ~quote) | ((backslash - WORD_ONES) & ~backslash)
            | (x - WORD_ONES * 0x20) | x) & WORD_HIGHS;
}

/* Where the run of plain ASCII string bytes (not '"', '\\', a control
 * character or >= 0x80) starting at 'p' ends: 8 bytes per step, as a
 * memchr() for four kinds of byte would. */
static const unsigned char *
plain_run(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t x, specials;

        memcpy(&x, p, sizeof x);
        specials = word_specials(x);
        if (specials) {
            return p + __builtin_ctzll(specials) / 8;
        }
        p += 8;
    }
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        p++;
    }
    return p;
}
#else
static const unsigned char *
plain_run(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        p++;
    }
    return p;
}
#endif

/* Moves over the string at c->p (on its opening quote) and checks it.
 * '*escaped' tells whether it holds an escape.  0 or -EINVAL. */
static int
scan_string(struct cursor *c, bool *escaped)
{
    const unsigned char *p = (const unsigned char *) c->p + 1;
    const unsigned char *end = (const unsigned char *) c->end;

    *escaped = false;
    for (;;) {
        /* Plain ASCII is most of any document. */
        p = plain_run(p, end);
        if (p >= end || *p < 0x20) {
            return -EINVAL;
        }
        if (*p == '"') {
            break;
        }
        if (*p == '\\') {
            size_t n = escape_length((const char *) p + 1, c->end);

            if (!n) {
                return -EINVAL;
            }
            *escaped = true;
            p += 1 + n;
        } else {
            size_t n = utf8_sequence(p, end);

            if (!n) {
                return -EINVAL;
            }
            p += n;
        }
    }
    c->p = (const char *) p + 1;
    return 0;
}

/* Writes code point 'cp' (not a surrogate) as UTF-8; returns its length. */
static size_t
put_utf8(char *out, long cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes one byte or escape of a checked string body at '*in' (before 'end')
 * into 'out' (room for 4 bytes), moves '*in' past it and returns the bytes
 * written. */
static size_t
decode_unit(const char **in, const char *end, char *out)
{
    static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    const char *p = *in;
    long cp;

    if (*p != '\\') {
        *out = *p;
        *in = p + 1;
        return 1;
    }
    if (p[1] != 'u') {
        *out = decoded[strchr(plain, p[1]) - plain];
        *in = p + 2;
        return 1;
    }
    cp = read_u4(p + 2, end);
    p += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (read_u4(p + 2, end) - 0xdc00);
        p += 6;
    }
    *in = p;
    return put_utf8(out, cp);
}

/* Decodes the checked string body [in, end) (no quotes) into 'out', which has
 * room for end - in bytes (decoding never grows the text); returns the length. */
static size_t
decode_string(const char *in, const char *end, char *out)
{
    size_t n = 0;

    while (in < end) {
        n += decode_unit(&in, end, out + n);
    }
    return n;
}

/* The longest number text a real is decoded from on the stack; a longer real
 * (thousands of digits) is given up on where its value is needed. */
#define REAL_TEXT_MAX 128
/* An exponent's magnitude is counted up to this; past it only its sign
 * matters: no text is long enough for its digits to bring such a number back
 * into range. */
#define EXPONENT_MAX 100000000000000000LL

/* What scan_number() found. */
struct number {
    bool is_int;                    /* no fraction, no exponent */
    bool ambiguous;                 /* within a factor 10 of DBL_MAX: only
                                     * strtod() can tell whether it overflows */
};

/* Whether the integer digits [p, p + n) (no sign, no leading zero) are beyond
 * json_int_t, as strtoll() judges them: at most 18 digits always fit, 20 or
 * more never do, 19 are compared with the limit. */
static bool
integer_overflows(const char *p, size_t n, bool negative)
{
    if (n != 19) {
        return n > 19;
    }
    return memcmp(p, negative ? "9223372036854775808" : "9223372036854775807", 19) > 0;
}

/* The decimal exponent of a real's leading digit, from its integer digits
 * [digits, digits + n_int) and fraction digits [frac, frac + n_frac): e.g. 2
 * for 123.4, -3 for 0.0012.  '*zero' when every digit is 0. */
static long long
leading_exponent(const char *digits, size_t n_int, const char *frac, size_t n_frac,
                 bool *zero)
{
    *zero = false;
    if (digits[0] != '0') {
        return (long long) n_int - 1;
    }
    for (size_t i = 0; i < n_frac; i++) {
        if (frac[i] != '0') {
            return -(long long) i - 1;
        }
    }
    *zero = true;
    return 0;
}

/* Moves over the number at c->p, read as jansson's lexer reads it (an integer
 * when it has neither fraction nor exponent, else a real through strtod()),
 * and refuses what jansson refuses: integers beyond json_int_t, reals whose
 * strtod() overflows (underflow to 0 or a subnormal is accepted, as there).
 * 0, -EINVAL, or 0 with 'n->ambiguous' for a real whose overflow only
 * strtod() can decide (the caller decides). */
static int
scan_number(struct cursor *c, struct number *n)
{
    const char *p = c->p, *digits, *frac = NULL;
    size_t n_int, n_frac = 0;
    long long exponent = 0, lead;
    bool negative = false, zero;

    n->is_int = true;
    n->ambiguous = false;
    if (p < c->end && *p == '-') {
        negative = true;
        p++;
    }
    digits = p;
    while (p < c->end && *p >= '0' && *p <= '9') {
        p++;
    }
    n_int = (size_t) (p - digits);
    if (p == digits || (*digits == '0' && n_int > 1)) {
        return -EINVAL;
    }
    if (p < c->end && *p == '.') {
        frac = ++p;
        while (p < c->end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == frac) {
            return -EINVAL;
        }
        n_frac = (size_t) (p - frac);
        n->is_int = false;
    }
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        bool exp_negative = false;
        const char *exp_digits;

        p++;
        if (p < c->end && (*p == '+' || *p == '-')) {
            exp_negative = *p++ == '-';
        }
        exp_digits = p;
        while (p < c->end && *p >= '0' && *p <= '9') {
            if (exponent < EXPONENT_MAX) {
                exponent = exponent * 10 + (*p - '0');
            }
            p++;
        }
        if (p == exp_digits) {
            return -EINVAL;
        }
        exponent = exp_negative ? -exponent : exponent;
        n->is_int = false;
    }
    if (n->is_int) {
        if (integer_overflows(digits, n_int, negative)) {
            return -EINVAL;
        }
    } else {
        /* The value lies in [10^(lead + exponent), 10^(lead + exponent + 1)),
         * and DBL_MAX is 1.797...e308. */
        lead = leading_exponent(digits, n_int, frac, n_frac, &zero);
        if (!zero && lead + exponent >= 309) {
            return -EINVAL;
        }
        n->ambiguous = !zero && lead + exponent == 308;
    }
    c->p = p;
    return 0;
}

/* strtod() of the real [text, text + len) as jansson calls it (jansson turns
 * '.' into the locale's decimal point first, so this reads it in the "C"
 * locale alike).  0 and the value, -EINVAL when it overflows, -ENOTSUP when the
 * text is too long to copy or the locale's decimal point is not one byte. */
static int
real_value(const char *text, size_t len, double *ret)
{
    const char *point = localeconv()->decimal_point;
    char buf[REAL_TEXT_MAX + 1];
    double v;

    if (len > REAL_TEXT_MAX || !point || !point[0] || point[1]) {
        return -ENOTSUP;
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] = text[i] == '.' ? point[0] : text[i];
    }
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, NULL);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) {
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

/* Moves over the number at the cursor as scan_number() does, deciding an
 * ambiguous real with strtod().  0, -EINVAL, or -ENOTSUP. */
static int
scan_number_checked(struct cursor *c, struct number *n)
{
    const char *start = c->p;
    double v;
    int error = scan_number(c, n);

    if (error || !n->ambiguous) {
        return error;
    }
    return real_value(start, (size_t) (c->p - start), &v);
}

/* Matches the literal 'word' at c->p.  0 or -EINVAL. */
static int
scan_literal(struct cursor *c, const char *word, size_t n)
{
    if ((size_t) (c->end - c->p) < n || memcmp(c->p, word, n)) {
        return -EINVAL;
    }
    c->p += n;
    return 0;
}

static enum jsonscan_type
type_at(char first)
{
    switch (first) {
    case '{': return JSONSCAN_OBJECT;
    case '[': return JSONSCAN_ARRAY;
    case '"': return JSONSCAN_STRING;
    case 't': return JSONSCAN_TRUE;
    case 'f': return JSONSCAN_FALSE;
    case 'n': return JSONSCAN_NULL;
    default: return JSONSCAN_NUMBER;
    }
}

/* ---- the scanner ----------------------------------------------------------- */

/* A key as written (without its quotes); 'escaped' when it holds an escape,
 * so that it is compared decoded. */
struct key {
    const char *text;
    size_t len;
    bool escaped;
};

struct scan {
    struct cursor c;
    const char *const *const *paths;
    size_t n_paths;
    struct jsonscan_value *values;
    struct key keys[JSONSCAN_MAX_OPEN_KEYS];    /* of the objects open now */
    size_t n_keys;
};

static int scan_value(struct scan *s, uint32_t mask, unsigned level);

/* Whether the key [text, text + len) without escapes is the C string 'name'. */
static bool
key_is(const char *text, size_t len, const char *name)
{
    /* The first byte rules out most candidates without a call. */
    return len ? name[0] == text[0] && !strncmp(text, name, len) && name[len] == '\0'
               : name[0] == '\0';
}

/* The bytes of a checked string body, decoded one at a time. */
struct decoded {
    const char *in, *end;
    char unit[4];
    size_t n, i;
};

/* The next decoded byte, -1 at the end. */
static int
decoded_next(struct decoded *d)
{
    if (d->i == d->n) {
        if (d->in >= d->end) {
            return -1;
        }
        d->n = decode_unit(&d->in, d->end, d->unit);
        d->i = 0;
    }
    return (unsigned char) d->unit[d->i++];
}

/* Whether two keys, one of them at least with escapes, mean the same string. */
static bool
decoded_keys_equal(const struct key *a, const struct key *b)
{
    struct decoded da = { a->text, a->text + a->len, "", 0, 0 };
    struct decoded db = { b->text, b->text + b->len, "", 0, 0 };
    int ca, cb;

    do {
        ca = decoded_next(&da);
        cb = decoded_next(&db);
    } while (ca == cb && ca >= 0);
    return ca == cb;
}

/* Remembers the key of a member of the object whose keys start at 'first';
 * -EINVAL when it repeats one of them. */
static int
push_key(struct scan *s, size_t first, const struct key *key)
{
    if (s->n_keys - first >= JSONSCAN_MAX_OBJECT_KEYS || s->n_keys >= JSONSCAN_MAX_OPEN_KEYS) {
        return -ENOTSUP;
    }
    for (size_t i = first; i < s->n_keys; i++) {
        const struct key *k = &s->keys[i];
        bool escaped = k->escaped || key->escaped;

        /* Keys without escapes, nearly all of them, compare as written. */
        if ((k->len == key->len || escaped)
            && (escaped ? decoded_keys_equal(k, key)
                        : !memcmp(k->text, key->text, key->len))) {
            return -EINVAL;
        }
    }
    s->keys[s->n_keys++] = *key;
    return 0;
}

/* Whether 'key' is the path element 'name'. */
static bool
key_matches(const struct key *key, const char *name)
{
    struct jsonscan_value quoted;

    if (!key->escaped) {
        return key_is(key->text, key->len, name);
    }
    quoted = (struct jsonscan_value) { JSONSCAN_STRING, key->text - 1, key->len + 2 };
    return jsonscan_string_is(&quoted, name);
}

/* The paths of 'mask' whose key at 'level' is 'key'. */
static uint32_t
paths_through(const struct scan *s, uint32_t mask, unsigned level, const struct key *key)
{
    const char *last = NULL;
    uint32_t through = 0;
    bool match = false;

    /* Only the paths in 'mask': most keys are under a few paths or none.
     * Paths that share a key at this level usually follow each other in the
     * caller's table, with the same string: it is compared once. */
    for (uint32_t left = mask; left; left &= left - 1) {
        unsigned i = (unsigned) __builtin_ctz(left);
        const char *name = s->paths[i][level];

        if (name && name != last) {
            last = name;
            match = key_matches(key, name);
        }
        if (name && match) {
            through |= UINT32_C(1) << i;
        }
    }
    return through;
}

/* One "key": value.  Paths in 'mask' matched the keys above; a value they end
 * at is recorded, the others look inside it. */
static int
scan_member(struct scan *s, size_t first, uint32_t mask, unsigned level)
{
    struct key key = { s->c.p + 1, 0, false };
    const char *start;
    uint32_t through, ending = 0;
    int error;

    if (s->c.p >= s->c.end || *s->c.p != '"') {
        return -EINVAL;
    }
    if ((error = scan_string(&s->c, &key.escaped)) < 0) {
        return error;
    }
    key.len = (size_t) (s->c.p - 1 - key.text);
    /* jansson refuses a NUL in a key even with JSON_ALLOW_NUL. */
    if (key.escaped && body_has_nul(key.text, key.text + key.len)) {
        return -EINVAL;
    }
    if ((error = push_key(s, first, &key)) < 0) {
        return error;
    }
    skip_space(&s->c);
    if (s->c.p >= s->c.end || *s->c.p++ != ':') {
        return -EINVAL;
    }
    through = mask ? paths_through(s, mask, level, &key) : 0;
    for (uint32_t left = through; left; left &= left - 1) {
        unsigned i = (unsigned) __builtin_ctz(left);

        if (!s->paths[i][level + 1]) {
            ending |= UINT32_C(1) << i;
        }
    }
    skip_space(&s->c);
    start = s->c.p;
    if ((error = scan_value(s, through & ~ending, level + 1)) < 0) {
        return error;
    }
    for (uint32_t left = ending; left; left &= left - 1) {
        s->values[__builtin_ctz(left)] = (struct jsonscan_value) {
            type_at(*start), start, (size_t) (s->c.p - start) };
    }
    return 0;
}

/* The members or elements of a container, after its opening bracket. */
static int
scan_container(struct scan *s, char close, uint32_t mask, unsigned level)
{
    size_t first = s->n_keys;
    int error;

    skip_space(&s->c);
    if (s->c.p < s->c.end && *s->c.p == close) {
        s->c.p++;
        return 0;
    }
    for (;;) {
        skip_space(&s->c);
        error = close == '}' ? scan_member(s, first, mask, level) : scan_value(s, 0, level);
        if (error < 0) {
            return error;
        }
        skip_space(&s->c);
        if (s->c.p < s->c.end && *s->c.p == ',') {
            s->c.p++;
        } else if (s->c.p < s->c.end && *s->c.p == close) {
            s->c.p++;
            s->n_keys = first;
            return 0;
        } else {
            return -EINVAL;
        }
    }
}

/* Any value at the cursor (white space already skipped). */
static int
scan_value(struct scan *s, uint32_t mask, unsigned level)
{
    struct cursor *c = &s->c;
    struct number number;
    bool flag;
    int error;

    if (c->p >= c->end) {
        return -EINVAL;
    }
    switch (*c->p) {
    case '{':
    case '[':
        if (++c->depth > JSONSCAN_MAX_DEPTH) {
            return -ENOTSUP;
        }
        c->p++;
        error = scan_container(s, *(c->p - 1) == '{' ? '}' : ']',
                               *(c->p - 1) == '{' ? mask : 0, level);
        c->depth--;
        return error;
    case '"':
        return scan_string(c, &flag);
    case 't':
        return scan_literal(c, "true", 4);
    case 'f':
        return scan_literal(c, "false", 5);
    case 'n':
        return scan_literal(c, "null", 4);
    default:
        return *c->p == '-' || (*c->p >= '0' && *c->p <= '9') ? scan_number_checked(c, &number)
                                                                : -EINVAL;
    }
}

/* The paths of 'paths' that go through at least one key. */
static uint32_t
paths_below_root(const char *const *const *paths, size_t n_paths)
{
    uint32_t mask = 0;

    for (size_t i = 0; i < n_paths; i++) {
        if (paths[i][0]) {
            mask |= UINT32_C(1) << i;
        }
    }
    return mask;
}

int
jsonscan_fields(const char *text, size_t len, const char *const *const *paths,
                size_t n_paths, struct jsonscan_value *values)
{
    struct scan s;
    const char *start, *end;
    int error;

    for (size_t i = 0; i < n_paths; i++) {
        values[i] = (struct jsonscan_value) { JSONSCAN_ABSENT, NULL, 0 };
    }
    if (n_paths > JSONSCAN_MAX_PATHS) {
        return -E2BIG;
    }
    s.c = (struct cursor) { text, text + len, 0 };
    s.paths = paths;
    s.n_paths = n_paths;
    s.values = values;
    s.n_keys = 0;
    skip_space(&s.c);
    start = s.c.p;
    if (s.c.p >= s.c.end || (*s.c.p != '{' && *s.c.p != '[')) {
        return -EINVAL;
    }
    error = scan_value(&s, paths_below_root(paths, n_paths), 0);
    end = s.c.p;                /* the root's text: without the white space after it */
    skip_space(&s.c);
    if (!error && s.c.p != s.c.end) {
        error = -EINVAL;
    }
    for (size_t i = 0; i < n_paths; i++) {
        if (error) {
            values[i] = (struct jsonscan_value) { JSONSCAN_ABSENT, NULL, 0 };
        } else if (!paths[i][0]) {
            values[i] = (struct jsonscan_value) { type_at(*start), start,
                                                  (size_t) (end - start) };
        }
    }
    return error;
}

/* ---- walking a container found by the scanner ------------------------------ */

/* Moves over the value at the cursor, known valid: containers by bracket
 * depth, strings whole (a bracket inside one does not count), anything else
 * up to the next delimiter.  Stops at the end of the text whatever it holds. */
static void
skip_valid(struct cursor *c)
{
    unsigned depth = 0;
    bool escaped;

    do {
        if (c->p >= c->end) {
            return;
        }
        switch (*c->p) {
        case '"':
            if (scan_string(c, &escaped) < 0) {
                c->p = c->end;
            }
            break;
        case '{':
        case '[':
            depth++;
            c->p++;
            break;
        case '}':
        case ']':
            depth -= depth > 0;
            c->p++;
            break;
        default:
            if (depth) {
                c->p++;
                break;
            }
            while (c->p < c->end && !strchr(",]} \t\n\r", *c->p)) {
                c->p++;
            }
        }
    } while (depth);
}

int
jsonscan_iter_init(struct jsonscan_iter *it, const struct jsonscan_value *container)
{
    if ((container->type != JSONSCAN_OBJECT && container->type != JSONSCAN_ARRAY)
        || container->len < 2) {
        return -EINVAL;
    }
    /* Inside the brackets. */
    *it = (struct jsonscan_iter) { container->text + 1,
                                   container->text + container->len - 1,
                                   container->type == JSONSCAN_OBJECT };
    return 0;
}

bool
jsonscan_iter_next(struct jsonscan_iter *it, struct jsonscan_value *key,
                   struct jsonscan_value *value)
{
    struct cursor c = { it->p, it->end, 0 };
    const char *start;

    skip_space(&c);
    if (c.p < c.end && *c.p == ',') {
        c.p++;
        skip_space(&c);
    }
    if (c.p >= c.end) {
        return false;
    }
    if (it->object) {
        start = c.p;
        skip_valid(&c);
        if (key) {
            *key = (struct jsonscan_value) { JSONSCAN_STRING, start, (size_t) (c.p - start) };
        }
        skip_space(&c);
        c.p += c.p < c.end && *c.p == ':';
        skip_space(&c);
        if (c.p >= c.end) {
            return false;
        }
    }
    start = c.p;
    skip_valid(&c);
    *value = (struct jsonscan_value) { type_at(*start), start, (size_t) (c.p - start) };
    it->p = c.p;
    return true;
}

/* ---- decoded strings --------------------------------------------------------- */

int
jsonscan_string(const struct jsonscan_value *value, char *buf, size_t size,
                size_t *ret_len)
{
    size_t n;

    if (value->type != JSONSCAN_STRING) {
        return -EINVAL;
    }
    if (value->len - 2 >= size) {   /* decoding never makes the text longer */
        return -ENOSPC;
    }
    n = value->len - 2;
    if (memchr(value->text + 1, '\\', n)) {
        n = decode_string(value->text + 1, value->text + value->len - 1, buf);
    } else {
        memcpy(buf, value->text + 1, n);    /* most strings: nothing to decode */
    }
    buf[n] = '\0';
    *ret_len = n;
    return 0;
}

bool
jsonscan_string_has_nul(const struct jsonscan_value *value)
{
    return value->type == JSONSCAN_STRING
           && body_has_nul(value->text + 1, value->text + value->len - 1);
}

bool
jsonscan_string_is(const struct jsonscan_value *value, const char *s)
{
    const char *in, *end;
    size_t len;

    if (value->type != JSONSCAN_STRING) {
        return false;
    }
    in = value->text + 1;
    end = value->text + value->len - 1;
    len = strlen(s);
    if (!memchr(in, '\\', (size_t) (end - in))) {
        return (size_t) (end - in) == len && !memcmp(in, s, len);
    }
    while (in < end) {
        char unit[4];
        size_t n = decode_unit(&in, end, unit);

        if (n > len || memcmp(unit, s, n)) {
            return false;
        }
        s += n;
        len -= n;
    }
    return len == 0;
}

/* ---- the builder --------------------------------------------------------------- */

struct build {
    struct cursor c;
    int error;                      /* why the last step failed */
};

static json_t *build_value(struct build *b);

/* Fails the build with 'error'; always NULL, for 'return fail(...)'. */
static json_t *
fail(struct build *b, int error)
{
    b->error = error;
    return NULL;
}

/* Reads the string at the cursor and hands its decoded text to 'use' with
 * 'aux' (the text is only valid during the call).  0 or -errno. */
static int
build_string_text(struct build *b, int (*use)(void *aux, const char *text, size_t len),
                  void *aux)
{
    const char *start = b->c.p + 1;
    char small[SMALL_STRING] = "", *out = small;
    bool escaped;
    size_t n;
    int error;

    if ((error = scan_string(&b->c, &escaped)) < 0) {
        return -ENOTSUP;
    }
    n = (size_t) (b->c.p - 1 - start);
    if (!escaped) {
        return use(aux, start, n);
    }
    if (n > sizeof small) {
        out = calloc(1, n);     /* zeroed only to quiet gcc 12's uninitialized-read check */
        if (!out) {
            return -ENOMEM;
        }
    }
    n = decode_string(start, b->c.p - 1, out);
    error = use(aux, out, n);
    if (out != small) {
        free(out);
    }
    return error;
}

static int
use_as_string(void *aux, const char *text, size_t len)
{
    json_t **ret = aux;

    *ret = json_stringn_nocheck(text, len);
    return *ret ? 0 : -ENOMEM;
}

/* What use_as_key() needs: the object, and the builder to read the value. */
struct member {
    struct build *b;
    json_t *object;
};

/* Reads ': value' after the key 'text' and adds the member; a duplicate key
 * gives up (jansson refuses it and words the error). */
static int
use_as_key(void *aux, const char *text, size_t len)
{
    struct member *m = aux;
    struct build *b = m->b;
    json_t *value;

    skip_space(&b->c);
    /* jansson refuses a NUL in a key even with JSON_ALLOW_NUL. */
    if (b->c.p >= b->c.end || *b->c.p != ':' || memchr(text, '\0', len)
        || json_object_getn(m->object, text, len)) {
        return -ENOTSUP;
    }
    b->c.p++;
    value = build_value(b);
    if (!value) {
        return b->error;
    }
    return json_object_setn_new_nocheck(m->object, text, len, value) ? -ENOMEM : 0;
}

static json_t *
build_string(struct build *b)
{
    json_t *value = NULL;
    int error = build_string_text(b, use_as_string, &value);

    return error ? fail(b, error) : value;
}

/* A number as jansson's lexer makes it: an integer through strtoll()
 * (accumulated negatively, so that the most negative one fits), a real
 * through strtod(). */
static json_t *
build_number(struct build *b)
{
    const char *p = b->c.p;
    bool negative = *p == '-';
    struct number number;
    json_int_t v = 0;
    json_t *value;
    double real;

    if (scan_number(&b->c, &number) < 0) {
        return fail(b, -ENOTSUP);
    }
    if (number.is_int) {
        for (p += negative; p < b->c.p; p++) {
            v = v * 10 - (*p - '0');
        }
        value = json_integer(negative ? v : -v);
    } else {
        if (real_value(p, (size_t) (b->c.p - p), &real) < 0) {
            return fail(b, -ENOTSUP);
        }
        value = json_real(real);
    }
    return value ? value : fail(b, -ENOMEM);
}

/* Takes ownership of 'value' (NULL on ENOMEM) for a matched literal. */
static json_t *
build_literal(struct build *b, const char *word, size_t n, json_t *value)
{
    if (scan_literal(&b->c, word, n) < 0) {
        json_decref(value);
        return fail(b, -ENOTSUP);
    }
    return value ? value : fail(b, -ENOMEM);
}

/* Adds one element or member to 'container'. */
static int
build_item(struct build *b, json_t *container, bool object)
{
    struct member m = { b, container };
    json_t *value;

    if (object) {
        if (b->c.p >= b->c.end || *b->c.p != '"') {
            return -ENOTSUP;
        }
        return build_string_text(b, use_as_key, &m);
    }
    value = build_value(b);
    if (!value) {
        return b->error;
    }
    return json_array_append_new(container, value) ? -ENOMEM : 0;
}

/* The members or elements after the opening bracket.  Takes ownership of
 * 'container' (NULL on ENOMEM): returns it filled, or NULL having released it. */
static json_t *
build_container(struct build *b, json_t *container, char close)
{
    int error = container ? 0 : -ENOMEM;

    if (++b->c.depth > JSONSCAN_MAX_DEPTH) {
        error = -ENOTSUP;
    }
    b->c.p++;
    skip_space(&b->c);
    if (!error && b->c.p < b->c.end && *b->c.p == close) {
        b->c.p++;
        b->c.depth--;
        return container;
    }
    while (!error) {
        skip_space(&b->c);
        if ((error = build_item(b, container, close == '}')) < 0) {
            break;
        }
        skip_space(&b->c);
        if (b->c.p < b->c.end && *b->c.p == ',') {
            b->c.p++;
        } else if (b->c.p < b->c.end && *b->c.p == close) {
            b->c.p++;
            b->c.depth--;
            return container;
        } else {
            error = -ENOTSUP;
        }
    }
    b->c.depth--;
    json_decref(container);
    return fail(b, error);
}

static json_t *
build_value(struct build *b)
{
    json_t *value;

    skip_space(&b->c);
    if (b->c.p >= b->c.end) {
        return fail(b, -ENOTSUP);
    }
    switch (*b->c.p) {
    case '{': value = build_container(b, json_object(), '}'); break;
    case '[': value = build_container(b, json_array(), ']'); break;
    case '"': value = build_string(b); break;
    case 't': value = build_literal(b, "true", 4, json_true()); break;
    case 'f': value = build_literal(b, "false", 5, json_false()); break;
    case 'n': value = build_literal(b, "null", 4, json_null()); break;
    default: value = build_number(b); break;
    }
    return value;
}

int
jsonscan_load(const char *text, size_t len, json_t **ret)
{
    struct build b = { { text, text + len, 0 }, -ENOTSUP };
    json_t *value = build_value(&b);

    if (!value) {
        return b.error;
    }
    skip_space(&b.c);
    if (b.c.p != b.c.end) {
        json_decref(value);
        return -ENOTSUP;
    }
    *ret = value;
    return 0;
}

int
jsonscan_load_value(const struct jsonscan_value *value, json_t **ret)
{
    int error = jsonscan_load(value->text, value->len, ret);

    if (error == -ENOTSUP) {
        *ret = json_loadb(value->text, value->len, JSONTEXT_PARSE_FLAGS | JSON_DECODE_ANY,
                          NULL);
        error = *ret ? 0 : -ENOMEM;
    }
    return error;
}
