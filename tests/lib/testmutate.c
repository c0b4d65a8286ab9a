/* testmutate — see testmutate.h. */
#include "testmutate.h"

#include <stdlib.h>
#include <string.h>

void
testmutate_each(const char *doc, size_t n, const char *bytes, size_t n_bytes,
                void (*check)(const char *text, size_t len))
{
    char *buf = malloc(n + 2);

    if (!buf) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, doc, i);
        memcpy(buf + i, doc + i + 1, n - i - 1);
        check(buf, n - 1);
        for (size_t m = 0; m < n_bytes; m++) {
            memcpy(buf, doc, n);
            buf[i] = bytes[m];
            check(buf, n);
            memcpy(buf, doc, i);
            buf[i] = bytes[m];
            memcpy(buf + i + 1, doc + i, n - i);
            check(buf, n + 1);
        }
    }
    free(buf);
}
