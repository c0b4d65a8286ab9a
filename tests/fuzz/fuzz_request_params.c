/* fuzz_request_params — the values of a webhook request the webhook parses
 * itself (libmicrohttpd parses the rest): the ?timeout= the API server adds
 * (admission_parse_timeout(), a Go duration) and the Content-Length header
 * (numparse_u64(), as the server reads it).
 *
 * Checks, besides the sanitizers: an accepted timeout is within
 * (0, ADMISSION_TIMEOUT_MAX_US]; a refusal leaves the result untouched; an
 * accepted number is within its bounds and prints back as the same digits. */
#include <errno.h>
#include <inttypes.h>

#include "exportflows/admission/admission.h"
#include "exportflows/base/numparse.h"
#include "fuzz.h"

static void
check_timeout(const char *text)
{
    uint64_t us = 42;
    int r = admission_parse_timeout(text, &us);

    if (r) {
        FUZZ_CHECK((r == -EINVAL || r == -ERANGE) && us == 42, "refused %d, wrote %" PRIu64,
                   r, us);
        return;
    }
    FUZZ_CHECK(us > 0 && us <= ADMISSION_TIMEOUT_MAX_US, "'%s' gave %" PRIu64 " us", text, us);
    (void) admission_deadline(us);
}

static void
check_number(const char *text, uint64_t min, uint64_t max)
{
    char again[32];
    uint64_t value = 42;

    if (numparse_u64(text, min, max, &value)) {
        FUZZ_CHECK(value == 42, "refusal wrote %" PRIu64, value);
        return;
    }
    FUZZ_CHECK(value >= min && value <= max, "'%s' gave %" PRIu64, text, value);
    snprintf(again, sizeof again, "%" PRIu64, value);
    FUZZ_CHECK(!strcmp(again, text), "'%s' read as %s", text, again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);

    check_timeout(text);
    check_number(text, 0, UINT64_MAX);
    check_number(text, 1, 65535);
    free(text);
    return 0;
}
