/* errmsg — the human message that goes with a failed call.
 *
 * Fallible library functions return 0 or a negative errno value; when they take a
 * 'struct errmsg *' they also leave one line there saying what went wrong, cause
 * first, lowercase, without a trailing period ("cannot connect to 'x': no such
 * file").  The struct is caller-owned and fixed-size, so reporting an error never
 * allocates.  A NULL 'struct errmsg *' is accepted everywhere and means "don't care". */
#ifndef EXPORTFLOWS_ERRMSG_H
#define EXPORTFLOWS_ERRMSG_H

#define ERRMSG_MAX 512

struct errmsg {
    char text[ERRMSG_MAX];
};

/* Formats the message into 'err' (when not NULL) and returns 'code', so that callers
 * can write "return errmsg_set(err, -EINVAL, "bad port '%s'", s);". */
int errmsg_set(struct errmsg *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "<prefix>: " in front of the message already in 'err' and returns 'code'. */
int errmsg_prefix(struct errmsg *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
