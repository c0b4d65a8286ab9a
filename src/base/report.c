/* report — the one report callback shape.  See report.h. */
#include "exportflows/base/report.h"

void
report_send(report_fn *fn, void *aux, enum report_level level, int code,
            const char *message)
{
    if (fn) {
        const struct report r = { .level = level, .code = code, .message = message };

        fn(aux, &r);
    }
}
