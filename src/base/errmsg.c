/* errmsg — see include/exportflows/base/errmsg.h. */
#include "exportflows/base/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
errmsg_set(struct errmsg *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

int
errmsg_prefix(struct errmsg *err, int code, const char *fmt, ...)
{
    if (err) {
        char text[ERRMSG_MAX];
        size_t n, rest;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        /* Append ": <old message>" by hand: the result is cut at ERRMSG_MAX. */
        n = strlen(text);
        if (n + 2 < sizeof text) {
            memcpy(text + n, ": ", 2);
            n += 2;
            rest = strnlen(err->text, sizeof err->text);
            if (rest > sizeof text - 1 - n) {
                rest = sizeof text - 1 - n;
            }
            memcpy(text + n, err->text, rest);
            n += rest;
        }
        text[n] = '\0';
        memcpy(err->text, text, n + 1);
    }
    return code;
}
