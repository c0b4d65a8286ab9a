/* log — see include/exportflows/base/log.h. */
#include "exportflows/base/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/clock.h"

/* A line longer than this is cut; log lines are for people and log collectors, and
 * a bounded buffer keeps logging allocation-free. */
#define LOG_LINE_MAX 4096

static enum log_format log_format_setting = LOG_FORMAT_TEXT;
static enum log_level log_threshold = LOG_INFO;

const char *const log_format_names[] = {
    [LOG_FORMAT_TEXT] = "text", [LOG_FORMAT_JSON] = "json", NULL,
};
const char *const log_level_names[] = {
    [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn", [LOG_ERROR] = "error",
    NULL,
};

/* A line being built in a capbuf over 'buf', which keeps one byte past the
 * capbuf's for the final '\n'; what passes the end is cut. */
struct line {
    char buf[LOG_LINE_MAX];
    struct capbuf text;
};

void
log_configure(enum log_format format, enum log_level threshold)
{
    log_format_setting = format;
    log_threshold = threshold;
}

bool
log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

static void
line_put(struct line *l, const char *s, size_t n)
{
    capbuf_append(&l->text, s, n);
}

static void
line_puts(struct line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

static void
line_putc(struct line *l, char c)
{
    line_put(l, &c, 1);
}

static bool
is_bare_word(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || *s == 0x7f) {
            return false;
        }
    }
    return true;
}

/* JSON number, true or false: written unquoted in JSON. */
static bool
is_json_literal(const char *s)
{
    const char *p = s;

    if (!strcmp(s, "true") || !strcmp(s, "false")) {
        return true;
    }
    if (*p == '-') {
        p++;
    }
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9')) {
        return false;
    }
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return false;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    return *p == '\0';
}

/* Whether 'c' needs an escape inside a quoted value. */
static bool
needs_escape(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20 || c == 0x7f;
}

/* The JSON escape of 'c', a character needs_escape() picked. */
static void
line_put_escape(struct line *l, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";

    if (c == '"' || c == '\\') {
        char esc[2] = { '\\', (char) c };

        line_put(l, esc, sizeof esc);
    } else if (c == '\n') {
        line_puts(l, "\\n");
    } else {
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };

        line_put(l, esc, sizeof esc);
    }
}

/* Writes 's' in double quotes with JSON escapes (also fine for logfmt values).
 * Runs of plain characters are copied at once: the webhook quotes a few values
 * on every review. */
static void
line_put_quoted(struct line *l, const char *s)
{
    line_putc(l, '"');
    while (*s) {
        size_t n = 0;

        while (s[n] && !needs_escape((unsigned char) s[n])) {
            n++;
        }
        line_put(l, s, n);
        s += n;
        if (*s) {
            line_put_escape(l, (unsigned char) *s++);
        }
    }
    line_putc(l, '"');
}

/* "YYYY-MM-DDTHH:MM:SS" of the second last formatted by this thread: most
 * lines of a busy thread fall in the same second as the one before, and
 * gmtime_r() plus strftime() cost more than the rest of a line. */
static _Thread_local time_t cached_second = -1;
static _Thread_local char cached_text[24];

static void
put_timestamp(struct line *l)
{
    struct timespec ts = clock_realtime_now();
    char frac[5] = { '.', '0', '0', '0', 'Z' };
    long ms;

    ms = ts.tv_nsec / 1000000;
    if (ts.tv_sec != cached_second) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        if (!strftime(cached_text, sizeof cached_text, "%Y-%m-%dT%H:%M:%S", &tm)) {
            cached_text[0] = '\0';
        }
        cached_second = ts.tv_sec;
    }
    line_puts(l, cached_text);
    frac[1] = (char) ('0' + ms / 100);
    frac[2] = (char) ('0' + ms / 10 % 10);
    frac[3] = (char) ('0' + ms % 10);
    line_put(l, frac, sizeof frac);
}

static void
format_text(struct line *l, enum log_level level, const char *msg, va_list ap)
{
    put_timestamp(l);
    line_putc(l, ' ');
    line_puts(l, log_level_names[level]);
    line_putc(l, ' ');
    line_puts(l, msg);
    for (const char *key; (key = va_arg(ap, const char *)) != NULL; ) {
        const char *value = va_arg(ap, const char *);

        if (!value) {
            value = "";
        }
        line_putc(l, ' ');
        line_puts(l, key);
        line_putc(l, '=');
        if (is_bare_word(value)) {
            line_puts(l, value);
        } else {
            line_put_quoted(l, value);
        }
    }
}

static void
format_json(struct line *l, enum log_level level, const char *msg, va_list ap)
{
    line_puts(l, "{\"time\":\"");
    put_timestamp(l);
    line_puts(l, "\",\"level\":\"");
    line_puts(l, log_level_names[level]);
    line_puts(l, "\",\"msg\":");
    line_put_quoted(l, msg);
    for (const char *key; (key = va_arg(ap, const char *)) != NULL; ) {
        const char *value = va_arg(ap, const char *);

        if (!value) {
            value = "";
        }
        line_putc(l, ',');
        line_put_quoted(l, key);
        line_putc(l, ':');
        if (is_json_literal(value)) {
            line_puts(l, value);
        } else {
            line_put_quoted(l, value);
        }
    }
    line_putc(l, '}');
}

void
log_event(enum log_level level, const char *msg, ...)
{
    struct line l;      /* not zeroed: 4 KiB of memset per line for nothing */
    va_list ap;
    ssize_t written;

    if (!log_enabled(level)) {
        return;
    }
    capbuf_init_fixed(&l.text, l.buf, sizeof l.buf - 1, CAPBUF_CUT);
    va_start(ap, msg);
    if (log_format_setting == LOG_FORMAT_JSON) {
        format_json(&l, level, msg, ap);
    } else {
        format_text(&l, level, msg, ap);
    }
    va_end(ap);
    l.buf[l.text.len] = '\n';     /* over the NUL, within 'buf' */
    /* One write per line so that threads never interleave within a line. */
    written = write(STDERR_FILENO, l.buf, l.text.len + 1);
    (void) written;
}
