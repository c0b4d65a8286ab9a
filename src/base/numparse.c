/* numparse — see include/exportflows/base/numparse.h. */
#include "exportflows/base/numparse.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int
numparse_u64_n(const char *text, size_t len, uint64_t min, uint64_t max,
               uint64_t *ret)
{
    uint64_t value = 0;
    bool overflow = false;

    if (len == 0 || (len > 1 && text[0] == '0')) {
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned digit = (unsigned char) text[i] - '0';

        if (digit > 9) {
            return -EINVAL;
        }
        if (value > (UINT64_MAX - digit) / 10) {
            overflow = true;
        } else {
            value = value * 10 + digit;
        }
    }
    if (overflow || value < min || value > max) {
        return -ERANGE;
    }
    *ret = value;
    return 0;
}

int
numparse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *ret)
{
    return numparse_u64_n(text, strlen(text), min, max, ret);
}
